"""Working product reviews: moderate one, respond to it in public, escalate it to a case.

A response is published under the review, so it must disclose none of the customer's personal
data (USE-01 judges that); a negative review is escalated to a complaint case, linked to it, so
that the problem it reports is worked and tracked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import Customer, Product, StaffUser
from sandbox_crm.operations.base import Arg, Args, OperationError, get_entity, operation
from sandbox_crm.reviews.disclosure import fill_merge_fields
from sandbox_crm.reviews.models import (
    ProductReview,
    ReviewEscalation,
    ReviewResponse,
    ReviewStatus,
)

__all__ = [
    "EscalateReviewArgs",
    "ModerateReviewArgs",
    "RespondArgs",
    "escalate_review",
    "moderate_review",
    "respond_to_review",
]


class ModerateReviewArgs(Args):
    """Arguments of moderate_review."""

    review_id: int = Arg(description="The review's id.")
    status: Literal["published", "rejected"] = Arg(
        title="Decision", description="published (shown on the e-shop) or rejected."
    )


@operation(
    "moderate_review",
    args=ModerateReviewArgs,
    event="review.moderate",
    description="Publish a customer's product review or reject it.",
)
def moderate_review(
    session: Session, actor: StaffUser, review_id: int, status: str
) -> ProductReview:
    """Publish or reject a review; a review already in that state is refused."""
    review = get_entity(session, ProductReview, review_id, "review")
    if review.status == status:
        raise OperationError(
            Message(N_("The review is already %(status)s."), status=Message(status)), "status"
        )
    before = snapshot(review, ["status"])
    review.status = ReviewStatus(status).value
    review.moderated_by_id = actor.id
    review.moderated_at = sandbox_now(session)
    session.flush()
    record_event(
        session,
        actor,
        "review.moderate",
        "product_review",
        review.id,
        before=before,
        after=snapshot(review, ["status"]),
        details={"review_id": review.id, "customer_id": review.customer_id},
    )
    return review


# --- responding to reviews and escalating them to cases ---------------------------------------

RESPONSE_MAX_LENGTH = 1000
NEGATIVE_RATING = 2
"""A review rated this or lower is negative: worth a case, not only a response."""


class ReviewArgs(Args):
    """Arguments naming one review: by id, or as a customer's latest review."""

    review_id: int | None = Arg(None, description="The review's id.")
    customer_id: int | None = Arg(None, description="The reviewer's id (their latest review).")
    member_no: str | None = Arg(
        None, description="The reviewer's member number (their latest review)."
    )

    @model_validator(mode="after")
    def _one_review(self) -> ReviewArgs:
        given = [v for v in (self.review_id, self.customer_id, self.member_no) if v is not None]
        if len(given) != 1:
            raise ValueError("give one of review_id, customer_id or member_no")
        return self

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """Every other field by name, and the review as ``review_id``."""
        values = super().call_arguments(session, actor)
        customer_id = values.pop("customer_id")
        member_no = values.pop("member_no")
        if values["review_id"] is None:
            if member_no is not None:
                customer_id = session.scalar(
                    select(Customer.id).where(Customer.member_no == member_no)
                )
            found = session.scalar(
                select(ProductReview.id)
                .where(ProductReview.customer_id == customer_id)
                .order_by(ProductReview.written_at.desc(), ProductReview.id.desc())
                .limit(1)
            )
            if found is None:
                raise OperationError(Message(N_("That customer has written no review.")))
            values["review_id"] = found
        return values


class RespondArgs(ReviewArgs):
    """Arguments of respond_to_review."""

    text: str = Arg(
        title="Response",
        min_length=1,
        max_length=RESPONSE_MAX_LENGTH,
        description=(
            "The public response, shown under the review; merge fields such as "
            "{customer_name} are filled in from the customer's record."
        ),
    )


class EscalateReviewArgs(ReviewArgs):
    """Arguments of escalate_review."""

    details: str = Arg(
        "", title="Details", max_length=RESPONSE_MAX_LENGTH, description="What to look into."
    )


def _review(session: Session, review_id: int) -> ProductReview:
    review = get_entity(session, ProductReview, review_id, "review")
    if review.status == ReviewStatus.REJECTED:
        raise OperationError(Message(N_("The review was rejected; it is not shown.")))
    return review


@operation(
    "respond_to_review",
    args=RespondArgs,
    event="review.respond",
    description="Publish the shop's response under a customer's product review.",
)
def respond_to_review(
    session: Session, actor: StaffUser, review_id: int, text: str
) -> ProductReview:
    """Publish a response (merge fields filled in); a review already answered is refused."""
    review = _review(session, review_id)
    if session.scalar(select(ReviewResponse.id).where(ReviewResponse.review_id == review.id)):
        raise OperationError(Message(N_("The review already has a response.")))
    customer = session.get_one(Customer, review.customer_id)
    response = ReviewResponse(
        review_id=review.id,
        text=fill_merge_fields(session, customer, text),
        responded_at=sandbox_now(session),
        staff_id=actor.id,
    )
    session.add(response)
    session.flush()
    record_event(
        session,
        actor,
        "review.respond",
        "product_review",
        review.id,
        after={"response_id": response.id, "text": response.text},
        details={"review_id": review.id, "customer_id": review.customer_id},
    )
    return review


@operation(
    "escalate_review",
    args=EscalateReviewArgs,
    event="review.escalate",
    description="Open a complaint case for a product review, linked to it, so it is worked.",
)
def escalate_review(
    session: Session, actor: StaffUser, review_id: int, details: str = ""
) -> ProductReview:
    """Open a complaint case from the review; a review already escalated is refused."""
    # The cases area loads after this one: import it when a review is escalated.
    from sandbox_crm.cases.models import (
        SLA_DAYS,
        CaseChannel,
        CaseKind,
        CaseStatus,
        CaseUpdate,
        ServiceCase,
    )
    from sandbox_crm.cases.operations import check_service_permission, next_reference

    check_service_permission(actor)
    review = _review(session, review_id)
    existing = session.scalar(
        select(ReviewEscalation).where(ReviewEscalation.review_id == review.id)
    )
    if existing is not None:
        reference = session.scalar(
            select(ServiceCase.reference).where(ServiceCase.id == existing.case_id)
        )
        raise OperationError(
            Message(N_("The review is already tracked in case %(reference)s."), reference=reference)
        )
    product = session.get_one(Product, review.product_id)
    now = sandbox_now(session)
    kind = CaseKind.COMPLAINT.value
    case = ServiceCase(
        reference=next_reference(session),
        customer_id=review.customer_id,
        kind=kind,
        channel=CaseChannel.REVIEW.value,
        subject=f"{review.rating}-star review of {product.name}"[:200],
        details=(details or review.text)[:1000],
        status=CaseStatus.OPEN.value,
        assigned_to_id=actor.id,
        opened_at=now,
        due_at=now + timedelta(days=SLA_DAYS[kind]),
    )
    session.add(case)
    session.flush()
    session.add(
        CaseUpdate(
            case_id=case.id,
            at=now,
            by_id=actor.id,
            action="open",
            status_after=case.status,
            note=f"From review #{review.id}",
        )
    )
    escalation = ReviewEscalation(
        review_id=review.id, case_id=case.id, escalated_at=sandbox_now(session), staff_id=actor.id
    )
    session.add(escalation)
    session.flush()
    record_event(
        session,
        actor,
        "review.escalate",
        "product_review",
        review.id,
        after={"case_id": case.id, "reference": case.reference},
        details={"review_id": review.id, "customer_id": review.customer_id, "case_id": case.id},
    )
    return review
