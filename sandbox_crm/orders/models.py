"""The product catalogue, sales orders and their lines."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sandbox_crm.models import SandboxBase

if TYPE_CHECKING:
    from sandbox_crm.company.models import Branch
    from sandbox_crm.customers.models import Customer


class Product(SandboxBase):
    """A product line item the company sells (prices in whole Hong Kong dollars)."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    category: Mapped[str] = mapped_column(String(40))
    price_hkd: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class SalesOrder(SandboxBase):
    """A customer's order (amounts in whole Hong Kong dollars)."""

    __tablename__ = "sales_order"
    # Spend, order counts and the last order date per customer read only this index.
    __table_args__ = (
        Index("ix_sales_order_customer_date", "customer_id", "ordered_at", "status", "total_hkd"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    ordered_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    total_hkd: Mapped[int] = mapped_column(Integer)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.id")
    branch: Mapped[Branch | None] = relationship()


class OrderLine(SandboxBase):
    """One product on an order."""

    __tablename__ = "order_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_hkd: Mapped[int] = mapped_column(Integer)
    line_total_hkd: Mapped[int] = mapped_column(Integer)

    order: Mapped[SalesOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


class FulfilmentStatus(enum.StrEnum):
    """Where a jewellery order stands, from the counter to the customer's hands."""

    PLACED = "placed"
    PAID = "paid"
    IN_WORKSHOP = "in_workshop"
    READY_FOR_COLLECTION = "ready_for_collection"
    COLLECTED = "collected"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    "placed": ("paid", "cancelled"),
    "paid": ("in_workshop", "ready_for_collection", "delivered", "refunded"),
    "in_workshop": ("ready_for_collection", "delivered", "refunded"),
    "ready_for_collection": ("collected", "in_workshop", "refunded"),
    "collected": ("refunded",),
    "delivered": ("refunded",),
    "cancelled": (),
    "refunded": (),
}
"""The statuses an order may move to from each status."""

ORDER_STATUS_OF: dict[str, str] = {
    "placed": "pending",
    "paid": "paid",
    "in_workshop": "paid",
    "ready_for_collection": "paid",
    "collected": "completed",
    "delivered": "completed",
    "cancelled": "cancelled",
    "refunded": "refunded",
}
"""The order's sales status (what spend and reports count) for each fulfilment status."""


class OrderStatusChange(SandboxBase):
    """One step in an order's status history: the status it entered, when and by whom."""

    __tablename__ = "order_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    changed_at: Mapped[datetime] = mapped_column(DateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    note: Mapped[str] = mapped_column(Text, default="")
