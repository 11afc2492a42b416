"""Customers, their contact points and the append-only consent log."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sandbox_crm.models import CustomerStatus, SandboxBase, SourceSystem, Tier

if TYPE_CHECKING:
    from sandbox_crm.company.models import Branch, CollectionNotice
    from sandbox_crm.orders.models import SalesOrder


class Customer(SandboxBase):
    """A customer (member) of the company."""

    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_tier_region", "tier", "region"),
        Index("ix_customer_name_en", "name_en"),
        # The home page counts active members per tier, and lists filter on status and tier:
        # this index answers both without reading the rows.
        Index("ix_customer_status_tier", "status", "tier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_no: Mapped[str] = mapped_column(String(20), unique=True)
    source_system: Mapped[str] = mapped_column(String(16), default=SourceSystem.POS)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(40))
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_month: Mapped[int | None] = mapped_column(Integer)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    hkid: Mapped[str | None] = mapped_column(String(16))
    hkid_basis: Mapped[str | None] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(40), index=True)
    region: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(16), default=Tier.CLASSIC)
    status: Mapped[str] = mapped_column(String(16), default=CustomerStatus.ACTIVE)
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    joined_on: Mapped[date] = mapped_column(Date, index=True)
    closed_on: Mapped[date | None] = mapped_column(Date)
    home_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    collection_notice_id: Mapped[int | None] = mapped_column(ForeignKey("collection_notice.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    contact_points: Mapped[list[ContactPoint]] = relationship(
        back_populates="customer", order_by="ContactPoint.id"
    )
    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="customer", order_by="ConsentRecord.id"
    )
    orders: Mapped[list[SalesOrder]] = relationship(
        back_populates="customer", order_by="SalesOrder.ordered_at.desc()"
    )
    home_branch: Mapped[Branch | None] = relationship()
    collection_notice: Mapped[CollectionNotice | None] = relationship()


class ContactPoint(SandboxBase):
    """An email address, phone number or postal address of a customer."""

    __tablename__ = "contact_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(300))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    is_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="contact_points")


# A customer's primary contact of a kind, in the order the sources pick it (primary first, then
# oldest): one index seek, no sort, for each row of a customer list.
Index(
    "ix_contact_point_primary",
    ContactPoint.customer_id,
    ContactPoint.kind,
    ContactPoint.is_primary.desc(),
    ContactPoint.id,
)


class ConsentRecord(SandboxBase):
    """One entry of the append-only consent log: purpose x channel, status, when and how."""

    __tablename__ = "consent_record"
    # The current status per purpose and channel is the latest record captured up to a date:
    # this index finds it by a backward seek and holds the status itself (no table read).
    __table_args__ = (
        Index(
            "ix_consent_record_current",
            "customer_id",
            "purpose",
            "channel",
            "captured_at",
            "id",
            "status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(24))
    captured_at: Mapped[datetime] = mapped_column(DateTime)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("collection_notice.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    confirmed_in_writing_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer] = relationship(back_populates="consents")
    notice: Mapped[CollectionNotice | None] = relationship()


class CustomerFacts(SandboxBase):
    """The customer's computed report fields as of one sandbox date (a read model).

    One row per customer, rewritten in the same transaction as any change to the customer's
    contact points, consent log or orders, and for every customer when the sandbox date moves
    (``sandbox_crm.customers.facts``). Lists filter and sort on these indexed columns instead of
    computing the values per customer. Kept apart from ``customer`` so that a consent or an
    order never shows as a change to the customer's own row.
    """

    __tablename__ = "customer_facts"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(String(300))
    email_invalid: Mapped[bool | None] = mapped_column(Boolean)
    mobile: Mapped[str | None] = mapped_column(String(300))
    mobile_invalid: Mapped[bool | None] = mapped_column(Boolean)
    address: Mapped[str | None] = mapped_column(String(300))
    dm_email: Mapped[str] = mapped_column(String(16), index=True)
    dm_sms: Mapped[str] = mapped_column(String(16), index=True)
    dm_phone: Mapped[str] = mapped_column(String(16), index=True)
    dm_post: Mapped[str] = mapped_column(String(16), index=True)
    spend_12m: Mapped[int] = mapped_column(Integer, index=True)
    orders_12m: Mapped[int] = mapped_column(Integer, index=True)
    last_order_date: Mapped[date | None] = mapped_column(Date, index=True)


# Lists sort by spend largest first and break ties on the customer, smallest first: walking the
# plain index backwards gives the ties largest first, so SQLite sorted each run of equal spend
# in a temporary B-tree (and all the zeros on a page far down). This index is that order.
Index(
    "ix_customer_facts_spend_12m_desc",
    CustomerFacts.spend_12m.desc(),
    CustomerFacts.customer_id,
)
