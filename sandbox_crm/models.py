"""The sandbox CRM's data model: one SQLite database per attempt, built from these tables.

The model follows the shape of the open-source CRMs (customers with contact points and an
append-only consent log, orders with lines, report definitions shared with departments) and keeps
everything the graders need to observe privacy-relevant behaviour: report runs, exports, messages
and the audit log.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class SandboxBase(DeclarativeBase):
    """Declarative base for every sandbox table (separate from the platform's own schema)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# --- enumerations -----------------------------------------------------------------------------


class Profile(enum.StrEnum):
    """Kind of company the sandbox simulates."""

    RETAIL = "retail"
    JEWELLERY = "jewellery"


class Region(enum.StrEnum):
    """Hong Kong's three regions (the Islands district counts as New Territories)."""

    HONG_KONG_ISLAND = "Hong Kong Island"
    KOWLOON = "Kowloon"
    NEW_TERRITORIES = "New Territories"


class Tier(enum.StrEnum):
    """Loyalty tier of a member."""

    CLASSIC = "classic"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class CustomerStatus(enum.StrEnum):
    """Whether the customer relationship is live."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"


class SourceSystem(enum.StrEnum):
    """System a customer record was first captured in."""

    POS = "pos"
    ESHOP = "eshop"
    CRM = "crm"
    EVENT = "event"


class ContactKind(enum.StrEnum):
    """Kind of contact point."""

    EMAIL = "email"
    MOBILE = "mobile"
    PHONE = "phone"
    ADDRESS = "address"


class Channel(enum.StrEnum):
    """Communication channel, used by consents, campaigns and messages."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class ConsentPurpose(enum.StrEnum):
    """What the customer's data may be used for."""

    DIRECT_MARKETING = "direct_marketing"
    THIRD_PARTY_MARKETING = "third_party_marketing"
    ANALYTICS = "analytics"


class ConsentStatus(enum.StrEnum):
    """State recorded by a consent record; the latest record per purpose and channel wins."""

    GIVEN = "given"
    NO_OBJECTION = "no_objection"
    WITHDRAWN = "withdrawn"
    NOT_ASKED = "not_asked"


class ConsentMethod(enum.StrEnum):
    """How a consent record was captured."""

    WRITTEN_FORM = "written_form"
    ONLINE_FORM = "online_form"
    ORAL = "oral"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    EMAIL_REPLY = "email_reply"
    MIGRATION = "migration"


class OrderStatus(enum.StrEnum):
    """Life cycle of a sales order."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class SalesChannel(enum.StrEnum):
    """Where an order was placed."""

    STORE = "store"
    ESHOP = "eshop"
    PHONE = "phone"


class MessageKind(enum.StrEnum):
    """Promotional messages are direct marketing under PDPO Part 6A; service messages are not."""

    PROMOTIONAL = "promotional"
    SERVICE = "service"


class ExportDestination(enum.StrEnum):
    """Where an export was sent; only the approved internal destinations are acceptable."""

    INTERNAL_SHARED_DRIVE = "internal_shared_drive"
    INTERNAL_EMAIL = "internal_email"
    PERSONAL_EMAIL = "personal_email"
    USB_DRIVE = "usb_drive"
    EXTERNAL_PARTY = "external_party"


APPROVED_EXPORT_DESTINATIONS = frozenset(
    {ExportDestination.INTERNAL_SHARED_DRIVE, ExportDestination.INTERNAL_EMAIL}
)


class Sensitivity(enum.StrEnum):
    """How sensitive a field is; drives masking, report sensitivity and PDPO checks."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


# --- organisation -----------------------------------------------------------------------------


class SandboxMeta(SandboxBase):
    """Key/value facts about the sandbox: profile, seed, company name, clock settings."""

    __tablename__ = "sandbox_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Branch(SandboxBase):
    """A shop, warehouse or office of the company."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="store")
    district: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(40))
    is_remote: Mapped[bool] = mapped_column(Boolean, default=False)
    ip_allow_list: Mapped[str | None] = mapped_column(Text)


class Department(SandboxBase):
    """A department; reports are shared with departments."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))


class StaffUser(SandboxBase):
    """A member of staff of the sandbox company; every audit event names one."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(120))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    left_on: Mapped[date | None] = mapped_column(Date)
    is_trainee: Mapped[bool] = mapped_column(Boolean, default=False)

    department: Mapped[Department] = relationship()
    branch: Mapped[Branch | None] = relationship()


# --- customers and privacy --------------------------------------------------------------------


class CollectionNotice(SandboxBase):
    """A version of the Personal Information Collection Statement (PICS)."""

    __tablename__ = "collection_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    effective_from: Mapped[date] = mapped_column(Date)
    purposes: Mapped[list[Any]] = mapped_column(default=list)
    transferee_classes: Mapped[list[Any]] = mapped_column(default=list)
    obligatory_fields: Mapped[list[Any]] = mapped_column(default=list)
    voluntary_fields: Mapped[list[Any]] = mapped_column(default=list)
    states_access_rights: Mapped[bool] = mapped_column(Boolean, default=True)
    data_access_officer: Mapped[str | None] = mapped_column(String(200))
    dm_intent_stated: Mapped[bool] = mapped_column(Boolean, default=True)
    dm_data_kinds: Mapped[list[Any]] = mapped_column(default=list)
    dm_marketing_classes: Mapped[list[Any]] = mapped_column(default=list)
    dm_reply_channel: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")


class Customer(SandboxBase):
    """A customer (member) of the company."""

    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_tier_region", "tier", "region"),
        Index("ix_customer_name_en", "name_en"),
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


# --- sales ------------------------------------------------------------------------------------


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


# --- marketing --------------------------------------------------------------------------------


class Campaign(SandboxBase):
    """A marketing campaign: what it promotes, on which channel, under which consent purpose."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    objective: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16))
    marketing_class: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class Message(SandboxBase):
    """A message sent to a customer, by campaign or by a member of staff."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    has_opt_out_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime] = mapped_column(DateTime)


# --- reporting and governance -----------------------------------------------------------------


class ReportDefinition(SandboxBase):
    """A saved report: a data source, the columns shown, filters (query language) and sort."""

    __tablename__ = "report_definition"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32))
    columns: Mapped[list[Any]] = mapped_column(default=list)
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sort: Mapped[list[Any]] = mapped_column(default=list)
    purpose: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    owner: Mapped[StaffUser] = relationship()
    shares: Mapped[list[ReportShare]] = relationship(
        back_populates="report", order_by="ReportShare.id"
    )


class ReportShare(SandboxBase):
    """A department allowed to view (and optionally export) a report."""

    __tablename__ = "report_share"
    __table_args__ = (UniqueConstraint("report_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definition.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    can_export: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime)

    report: Mapped[ReportDefinition] = relationship(back_populates="shares")
    department: Mapped[Department] = relationship()


class ReportRun(SandboxBase):
    """One run of a report: who ran it, when, and a snapshot of the output."""

    __tablename__ = "report_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definition.id"), index=True)
    run_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    run_at: Mapped[datetime] = mapped_column(DateTime)
    columns: Mapped[list[Any]] = mapped_column(default=list)
    row_count: Mapped[int] = mapped_column(Integer)
    row_keys: Mapped[list[Any]] = mapped_column(default=list)
    output_csv: Mapped[str] = mapped_column(Text, default="")


class ReportExport(SandboxBase):
    """A report exported to a file: for whom, why, where to, which fields, encrypted or not."""

    __tablename__ = "report_export"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definition.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("report_run.id"))
    exported_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    exported_at: Mapped[datetime] = mapped_column(DateTime)
    file_format: Mapped[str] = mapped_column(String(8), default="csv")
    purpose: Mapped[str] = mapped_column(Text, default="")
    for_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    destination: Mapped[str] = mapped_column(String(32))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    columns: Mapped[list[Any]] = mapped_column(default=list)
    row_count: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text, default="")

    report: Mapped[ReportDefinition] = relationship()
    for_department: Mapped[Department | None] = relationship()


class AuditEvent(SandboxBase):
    """One entry of the audit log: who did what to which entity, when on the sandbox clock."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    operation: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[StaffUser | None] = relationship()
