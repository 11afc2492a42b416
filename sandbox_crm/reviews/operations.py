"""Moderating product reviews: publish one or reject it."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import StaffUser
from sandbox_crm.operations.base import Arg, Args, OperationError, get_entity, operation
from sandbox_crm.reviews.models import ProductReview, ReviewStatus

__all__ = ["ModerateReviewArgs", "moderate_review"]


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
