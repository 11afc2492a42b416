"""The activity log (calls, chats, e-mails, visits) and internal hand-offs to other departments."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class ActivityKind(enum.StrEnum):
    """How staff and customer were in touch."""

    CALL_INBOUND = "call_inbound"
    CALL_OUTBOUND = "call_outbound"
    CHAT = "chat"
    EMAIL = "email"
    VISIT = "visit"


class ActivityPurpose(enum.StrEnum):
    """Why: a service contact, or direct marketing (Part 6A applies)."""

    SERVICE = "service"
    MARKETING = "marketing"


class Outcome(enum.StrEnum):
    """What came of the contact."""

    RESOLVED = "resolved"
    FOLLOW_UP_NEEDED = "follow_up_needed"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"


class HandoffDepartment(enum.StrEnum):
    """The departments a hand-off can go to."""

    SALES = "sales"
    MARKETING = "marketing"
    PROMOTION = "promotion"
    PLANNING = "planning"
    HUMAN_RESOURCES = "human_resources"


class Activity(SandboxBase):
    """One contact with a customer, its outcome and next step, optionally about a case.

    ``opt_out_screen`` is what the call script's check of the opt-out list said when a marketing
    call was logged ("clear", or why the customer may not be called); empty for service contacts.
    """

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("service_case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16), default=ActivityPurpose.SERVICE)
    at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    summary: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(24))
    next_step: Mapped[str] = mapped_column(String(200), default="")
    next_step_on: Mapped[date | None] = mapped_column(Date)
    opt_out_screen: Mapped[str] = mapped_column(String(24), default="")


class Handoff(SandboxBase):
    """A task or note to another department, with the customer fields it shares and why."""

    __tablename__ = "handoff"

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(8), default="task")
    purpose: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("service_case.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    shared_fields: Mapped[list[Any]] = mapped_column(default=list)
    shared_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="open")
