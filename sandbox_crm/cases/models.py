"""Service cases: what a customer asked for or complained about, and how it was worked."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class CaseKind(enum.StrEnum):
    """What a case is about."""

    REPAIR = "repair"
    RESIZING = "resizing"
    COMPLAINT = "complaint"
    ENQUIRY = "enquiry"
    WARRANTY_CLAIM = "warranty_claim"
    DATA_ACCESS_REQUEST = "data_access_request"


class CaseChannel(enum.StrEnum):
    """How the case reached the company."""

    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    WALK_IN = "walk_in"
    REVIEW = "review"


class CaseStatus(enum.StrEnum):
    """Where a case stands."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Resolution(enum.StrEnum):
    """How a case ended."""

    REPAIRED = "repaired"
    RESIZED = "resized"
    REFUNDED = "refunded"
    EXCHANGED = "exchanged"
    ANSWERED = "answered"
    COPY_PROVIDED = "copy_provided"
    NO_DATA_HELD = "no_data_held"
    REFUSED_IN_WRITING = "refused_in_writing"
    NO_FAULT_FOUND = "no_fault_found"
    WITHDRAWN = "withdrawn"


SLA_DAYS: dict[str, int] = {
    CaseKind.REPAIR.value: 21,
    CaseKind.RESIZING.value: 10,
    CaseKind.COMPLAINT.value: 5,
    CaseKind.ENQUIRY.value: 2,
    CaseKind.WARRANTY_CLAIM.value: 14,
    CaseKind.DATA_ACCESS_REQUEST.value: 40,
}
"""Days from opening within which a case of each kind is due (an access request: s19(1))."""

OPEN_STATUSES = frozenset(
    {
        CaseStatus.OPEN.value,
        CaseStatus.IN_PROGRESS.value,
        CaseStatus.WAITING_ON_CUSTOMER.value,
        CaseStatus.ESCALATED.value,
    }
)


class ServiceCase(SandboxBase):
    """A customer's request or complaint, with its due date, owner, status and resolution."""

    __tablename__ = "service_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"))
    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24), default=CaseStatus.OPEN)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    identity_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str] = mapped_column(String(24), default="")
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    refusal_ground: Mapped[str] = mapped_column(String(32), default="")
    """The s20 ground of a data access request closed as refused in writing."""
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class CaseUpdate(SandboxBase):
    """One step in working a case: an assignment, a status change, a reply, a follow-up."""

    __tablename__ = "case_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("service_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    action: Mapped[str] = mapped_column(String(24))
    status_after: Mapped[str] = mapped_column(String(24))
    reply: Mapped[str] = mapped_column(String(48), default="")
    note: Mapped[str] = mapped_column(Text, default="")
