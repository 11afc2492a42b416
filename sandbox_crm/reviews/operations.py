"""Moderating reviews: hiding one from the e-shop, with a reason."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sandbox_crm.models import StaffUser
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    apply_changes,
    get_entity,
    operation,
)
from sandbox_crm.reviews.models import ProductReview


class HideReviewArgs(Args):
    """Arguments of hide_review."""

    review_id: int = Arg(description="The review's id.")
    reason: str = Arg(description="Why it is hidden (shown to other staff).")


@operation("hide_review", args=HideReviewArgs, event="review.hide")
def hide_review(session: Session, actor: StaffUser, review_id: int, reason: str) -> ProductReview:
    """Hide a published review from the e-shop, giving a reason."""
    review = get_entity(session, ProductReview, review_id, "review")
    reason = reason.strip()
    if not reason:
        raise OperationError("Give a reason for hiding the review.", "reason")
    apply_changes(
        session,
        actor,
        review,
        {"status": "hidden", "hidden_reason": reason},
        operation="review.hide",
        entity_type="product_review",
        details={"review_id": review.id, "customer_id": review.customer_id},
        unchanged="The review is already hidden for that reason.",
    )
    return review
