"""A customer's review of a product, and its moderation."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sandbox_crm.models import SandboxBase

if TYPE_CHECKING:
    from sandbox_crm.customers.models import Customer
    from sandbox_crm.orders.models import Product


class ReviewStatus(enum.StrEnum):
    """Where a review stands in moderation."""

    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"


class ProductReview(SandboxBase):
    """What a customer wrote about a product (1 to 5 stars) and whether it is shown."""

    __tablename__ = "product_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.PENDING)
    written_at: Mapped[datetime] = mapped_column(DateTime)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer] = relationship()
    product: Mapped[Product] = relationship()


class ReviewResponse(SandboxBase):
    """The shop's public response to a review, shown under it on the e-shop."""

    __tablename__ = "review_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("product_review.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    responded_at: Mapped[datetime] = mapped_column(DateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class ReviewEscalation(SandboxBase):
    """A review escalated to a service case, so that the problem it reports is worked."""

    __tablename__ = "review_escalation"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("product_review.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("service_case.id"))
    escalated_at: Mapped[datetime] = mapped_column(DateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
