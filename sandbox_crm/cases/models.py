"""Service cases: what a customer asked for or complained about, and how it was worked."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text
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
    priority: Mapped[str] = mapped_column(String(16), default="")
    """Set by an automation rule: urgent, high, normal or low (empty until a rule sets it)."""
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    """When the first response is due, from the priority's response time."""
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("case_rule.id"))
    """The automation rule that last acted on the case."""


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
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("case_rule.id"))
    """The automation rule that took this step, when a rule (not a person) took it."""


class Priority(enum.StrEnum):
    """How fast a case needs its first response."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


RESPONSE_HOURS: dict[str, int] = {
    Priority.URGENT.value: 4,
    Priority.HIGH.value: 8,
    Priority.NORMAL.value: 24,
    Priority.LOW.value: 72,
}
"""Hours from opening within which a case of each priority needs its first response."""


class AgentTeam(enum.StrEnum):
    """The service teams a rule may route cases to."""

    SENIOR = "senior"
    GENERAL = "general"


class Acknowledgement(enum.StrEnum):
    """The acknowledgement texts a rule may send (see ``automation.ACKNOWLEDGEMENTS``)."""

    NONE = "none"
    REFERENCE_ONLY = "reference_only"
    WITH_CASE_DETAILS = "with_case_details"
    WITH_OFFER = "with_offer"


class ServiceAgent(SandboxBase):
    """A member of staff who takes service cases: their team and how many open cases at most."""

    __tablename__ = "service_agent"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), unique=True)
    team: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer)


class CaseRule(SandboxBase):
    """A service automation rule: which new or open cases it matches and what it does to them.

    Empty match lists match everything; active rules are tried in ``position`` order and the
    first that matches a case acts on it.
    """

    __tablename__ = "case_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    channels: Mapped[list[Any]] = mapped_column(default=list)
    tiers: Mapped[list[Any]] = mapped_column(default=list)
    regions: Mapped[list[Any]] = mapped_column(default=list)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    """Matches customers of this home branch only, when set."""
    assign_team: Mapped[str] = mapped_column(String(16), default="")
    assign_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    priority: Mapped[str] = mapped_column(String(16), default="")
    acknowledgement: Mapped[str] = mapped_column(String(24), default=Acknowledgement.NONE)
    escalate_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    """Escalate to this manager when the response time was missed."""
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CaseRuleRun(SandboxBase):
    """One application of the active rules to the open queue: when, by whom, what it did."""

    __tablename__ = "case_rule_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    steps_taken: Mapped[int] = mapped_column(Integer, default=0)
    steps_skipped: Mapped[int] = mapped_column(Integer, default=0)
