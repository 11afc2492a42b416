"""Working service cases: open one, assign it, change its status, escalate, reply, close.

Every step is an operation with an audit event and a ``case_update`` row, so that the case's
history shows who did what and when. Staff outside the service-facing departments are refused.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.cases.models import (
    OPEN_STATUSES,
    SLA_DAYS,
    CaseChannel,
    CaseKind,
    CaseStatus,
    CaseUpdate,
    Resolution,
    ServiceCase,
)
from sandbox_crm.cases.replies import REPLIES
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import SalesOrder, StaffUser
from sandbox_crm.operations.base import (
    Arg,
    CustomerArgs,
    OperationError,
    RecordArgs,
    check_department,
    get_entity,
    operation,
)
from sandbox_crm.requests.models import ACCESS_GROUNDS, RefusalGround

__all__ = [
    "SERVICE_DEPARTMENTS",
    "CaseArgs",
    "OpenCaseArgs",
    "assign_case",
    "check_service_permission",
    "close_case",
    "escalate_case",
    "follow_up_case",
    "log_case_step",
    "next_reference",
    "open_case",
    "reply_to_case",
    "set_case_status",
    "verify_identity",
]

SERVICE_DEPARTMENTS = frozenset({"customer_service", "store_operations", "sales", "management"})
"""Departments whose staff may work service cases (the sandbox's permission rule)."""

CASE_FIELDS = [
    "status",
    "assigned_to_id",
    "escalated_to_id",
    "identity_verified_at",
    "resolution",
    "follow_up_on",
]
NOTE_MAX_LENGTH = 2000

ReplyCode = Literal[
    "acknowledge_and_investigate",
    "apologise_with_confirmed_date",
    "promise_ready_tomorrow",
    "offer_independent_retest",
    "assure_stone_as_described",
    "promise_lowest_price",
    "explain_access_and_identity_protection",
    "ask_for_id_copy_by_email",
    "request_more_information",
]
assert set(ReplyCode.__args__) == set(REPLIES)  # noqa: S101 - one list of replies


class CaseArgs(RecordArgs):
    """Arguments naming one case by id or by reference."""

    id_field = "case_id"
    reference_field = "reference"
    lookup = (ServiceCase.id, ServiceCase.reference)
    not_found = N_("There is no case with reference %(reference)r.")

    case_id: int | None = Arg(None, description="The case's id.")
    reference: str | None = Arg(None, description="The case's reference (instead of id).")


class OpenCaseArgs(CustomerArgs):
    """Arguments of open_case."""

    kind: CaseKind = Arg(title="Kind", description="What the case is about.")
    channel: CaseChannel = Arg(title="Channel", description="How the request reached us.")
    subject: str = Arg(title="Subject", min_length=1, max_length=200, description="One line.")
    details: str = Arg(
        "", title="Details", max_length=NOTE_MAX_LENGTH, description="What was asked."
    )
    order_no: str | None = Arg(
        None, title="Order no.", max_length=24, description="The order it concerns."
    )


class AssignCaseArgs(CaseArgs):
    """Arguments of assign_case."""

    username: str = Arg(
        title="Staff member", min_length=1, max_length=40, description="Their username."
    )


class SetCaseStatusArgs(CaseArgs):
    """Arguments of set_case_status."""

    status: Literal["open", "in_progress", "waiting_on_customer", "resolved"] = Arg(
        title="Status", description="open, in_progress, waiting_on_customer or resolved."
    )
    note: str = Arg("", title="Note", max_length=NOTE_MAX_LENGTH, description="Why.")


class EscalateCaseArgs(CaseArgs):
    """Arguments of escalate_case."""

    username: str = Arg(
        title="Escalate to", min_length=1, max_length=40, description="A manager's username."
    )
    reason: str = Arg(title="Reason", min_length=1, max_length=NOTE_MAX_LENGTH, description="Why.")


class ReplyArgs(CaseArgs):
    """Arguments of reply_to_case."""

    reply: ReplyCode = Arg(title="Reply", description="The statement sent to the customer.")
    note: str = Arg("", title="Note", max_length=NOTE_MAX_LENGTH, description="Internal note.")


class FollowUpArgs(CaseArgs):
    """Arguments of follow_up_case."""

    follow_up_on: date = Arg(title="Follow up on", description="The day to contact the customer.")
    note: str = Arg("", title="Note", max_length=NOTE_MAX_LENGTH, description="What to do.")


class VerifyIdentityArgs(CaseArgs):
    """Arguments of verify_identity."""

    method: Literal["identity_document_seen", "registered_contact_confirmed"] = Arg(
        title="Method",
        description="identity_document_seen (in person) or registered_contact_confirmed.",
    )


class CloseCaseArgs(CaseArgs):
    """Arguments of close_case."""

    resolution: Resolution = Arg(title="Resolution", description="How the case ended.")
    note: str = Arg(
        title="Resolution note",
        min_length=1,
        max_length=NOTE_MAX_LENGTH,
        description="What was done.",
    )
    ground: RefusalGround | None = Arg(
        None,
        title="Refusal ground",
        description="The s20 ground, when a data access request is refused in writing.",
    )


# --- shared rules -----------------------------------------------------------------------------


def check_service_permission(actor: StaffUser) -> None:
    """Refuse staff whose department does not work service cases (and disabled accounts)."""
    check_department(
        actor,
        SERVICE_DEPARTMENTS,
        Message(
            N_(
                "Your account may not work service cases: only Customer Service, Store "
                "Operations, Sales and Management staff may."
            )
        ),
    )


def next_reference(session: Session) -> str:
    """The next free case reference (CS- and six digits)."""
    highest = session.scalar(select(func.max(ServiceCase.id))) or 0
    number = highest + 1
    while session.scalar(select(ServiceCase.id).where(ServiceCase.reference == f"CS-{number:06d}")):
        number += 1
    return f"CS-{number:06d}"


def _open_case(session: Session, case_id: int) -> ServiceCase:
    case = get_entity(session, ServiceCase, case_id, "case")
    if case.status not in OPEN_STATUSES:
        raise OperationError(
            Message(
                N_("Case %(reference)s is %(status)s; it can no longer change."),
                reference=case.reference,
                status=Message(case.status),
            )
        )
    return case


def _staff(session: Session, username: str, field: str) -> StaffUser:
    staff = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if staff is None or not staff.is_active:
        raise OperationError(
            Message(N_("There is no active staff member with username %(name)r."), name=username),
            field,
        )
    return staff


def log_case_step(
    session: Session,
    actor: StaffUser,
    case: ServiceCase,
    action: str,
    operation_event: str,
    before: dict[str, Any],
    *,
    reply: str = "",
    note: str = "",
    details: dict[str, Any] | None = None,
    rule_id: int | None = None,
) -> None:
    session.add(
        CaseUpdate(
            case_id=case.id,
            at=sandbox_now(session),
            by_id=actor.id,
            action=action,
            status_after=case.status,
            reply=reply,
            note=note,
            rule_id=rule_id,
        )
    )
    session.flush()
    record_event(
        session,
        actor,
        operation_event,
        "service_case",
        case.id,
        before=before,
        after=snapshot(case, CASE_FIELDS),
        details={
            "case_id": case.id,
            "customer_id": case.customer_id,
            "kind": case.kind,
            **(details or {}),
        },
    )


# --- the operations ---------------------------------------------------------------------------


@operation(
    "open_case",
    args=OpenCaseArgs,
    event="case.open",
    description="Open a service case for a customer; it is due within its kind's SLA.",
)
def open_case(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    kind: str,
    channel: str,
    subject: str,
    details: str = "",
    order_no: str | None = None,
) -> ServiceCase:
    """Open a case assigned to the member of staff who took it."""
    check_service_permission(actor)
    order_id = None
    if order_no:
        order = session.scalar(select(SalesOrder).where(SalesOrder.order_no == order_no))
        if order is None or order.customer_id != customer_id:
            raise OperationError(
                Message(N_("The customer has no order %(number)r."), number=order_no), "order_no"
            )
        order_id = order.id
    now = sandbox_now(session)
    case = ServiceCase(
        reference=next_reference(session),
        customer_id=customer_id,
        order_id=order_id,
        kind=CaseKind(kind).value,
        channel=CaseChannel(channel).value,
        subject=subject,
        details=details,
        status=CaseStatus.OPEN.value,
        assigned_to_id=actor.id,
        opened_at=now,
        due_at=now + timedelta(days=SLA_DAYS[kind]),
    )
    session.add(case)
    session.flush()
    log_case_step(
        session, actor, case, "open", "case.open", {}, details={"reference": case.reference}
    )
    from sandbox_crm.cases.automation import run_rules_on_case

    run_rules_on_case(session, actor, case)
    return case


@operation(
    "assign_case",
    args=AssignCaseArgs,
    event="case.assign",
    description="Give an open case to a member of staff.",
)
def assign_case(session: Session, actor: StaffUser, case_id: int, username: str) -> ServiceCase:
    """Assign the case; assigning it to whoever has it already is refused."""
    check_service_permission(actor)
    case = _open_case(session, case_id)
    staff = _staff(session, username, "username")
    code = staff.department.code if staff.department is not None else ""
    if code not in SERVICE_DEPARTMENTS:
        raise OperationError(
            Message(N_("%(name)s does not work service cases."), name=staff.full_name),
            "username",
        )
    if case.assigned_to_id == staff.id:
        raise OperationError(
            Message(N_("The case is already assigned to %(name)s."), name=staff.full_name),
            "username",
        )
    before = snapshot(case, CASE_FIELDS)
    case.assigned_to_id = staff.id
    log_case_step(session, actor, case, "assign", "case.assign", before)
    return case


@operation(
    "set_case_status",
    args=SetCaseStatusArgs,
    event="case.status",
    description="Move an open case to another status (closing it is close_case).",
)
def set_case_status(
    session: Session, actor: StaffUser, case_id: int, status: str, note: str = ""
) -> ServiceCase:
    """Change the status; the same status again is refused."""
    check_service_permission(actor)
    case = _open_case(session, case_id)
    if case.status == status:
        raise OperationError(
            Message(N_("The case is already %(status)s."), status=Message(status)), "status"
        )
    before = snapshot(case, CASE_FIELDS)
    case.status = CaseStatus(status).value
    case.resolved_at = sandbox_now(session) if status == CaseStatus.RESOLVED.value else None
    log_case_step(session, actor, case, "status", "case.status", before, note=note)
    return case


@operation(
    "escalate_case",
    args=EscalateCaseArgs,
    event="case.escalate",
    description="Escalate an open case to a manager, with the reason.",
)
def escalate_case(
    session: Session, actor: StaffUser, case_id: int, username: str, reason: str
) -> ServiceCase:
    """Escalate the case to a manager in Customer Service or Management."""
    check_service_permission(actor)
    case = _open_case(session, case_id)
    staff = _staff(session, username, "username")
    code = staff.department.code if staff.department is not None else ""
    if code not in {"customer_service", "management"} or staff.id == actor.id:
        raise OperationError(
            Message(
                N_("Escalate to another member of Customer Service or Management, not %(name)s."),
                name=staff.full_name,
            ),
            "username",
        )
    before = snapshot(case, CASE_FIELDS)
    case.status = CaseStatus.ESCALATED.value
    case.escalated_at = sandbox_now(session)
    case.escalated_to_id = staff.id
    case.assigned_to_id = staff.id
    log_case_step(session, actor, case, "escalate", "case.escalate", before, note=reason)
    return case


@operation(
    "reply_to_case",
    args=ReplyArgs,
    event="case.reply",
    description="Send the customer one of the CRM's replies about their case.",
)
def reply_to_case(
    session: Session, actor: StaffUser, case_id: int, reply: str, note: str = ""
) -> ServiceCase:
    """Record the reply sent; a case in progress stays so, an open one moves to in progress."""
    check_service_permission(actor)
    case = _open_case(session, case_id)
    before = snapshot(case, CASE_FIELDS)
    if case.status == CaseStatus.OPEN.value:
        case.status = CaseStatus.IN_PROGRESS.value
    log_case_step(
        session,
        actor,
        case,
        "reply",
        "case.reply",
        before,
        reply=reply,
        note=note,
        details={"reply": reply},
    )
    return case


@operation(
    "follow_up_case",
    args=FollowUpArgs,
    event="case.follow_up",
    description="Set the day to follow a case up with the customer.",
)
def follow_up_case(
    session: Session, actor: StaffUser, case_id: int, follow_up_on: date, note: str = ""
) -> ServiceCase:
    """Set the follow-up day; a day in the past is refused."""
    check_service_permission(actor)
    case = _open_case(session, case_id)
    if follow_up_on < sandbox_today(session):
        raise OperationError(
            Message(N_("The follow-up day cannot be in the past.")), "follow_up_on"
        )
    before = snapshot(case, CASE_FIELDS)
    case.follow_up_on = follow_up_on
    log_case_step(session, actor, case, "follow_up", "case.follow_up", before, note=note)
    return case


@operation(
    "verify_identity",
    args=VerifyIdentityArgs,
    event="case.verify_identity",
    description="Record that the requester's identity was verified (before releasing data).",
)
def verify_identity(session: Session, actor: StaffUser, case_id: int, method: str) -> ServiceCase:
    """Record the verification; the CRM keeps how, never a copy of the document."""
    check_service_permission(actor)
    case = _open_case(session, case_id)
    if case.identity_verified_at is not None:
        raise OperationError(Message(N_("The requester's identity is already verified.")), "method")
    before = snapshot(case, CASE_FIELDS)
    case.identity_verified_at = sandbox_now(session)
    log_case_step(
        session,
        actor,
        case,
        "verify_identity",
        "case.verify_identity",
        before,
        note=method,
        details={"method": method},
    )
    return case


@operation(
    "close_case",
    args=CloseCaseArgs,
    event="case.close",
    description="Close a case with its resolution.",
)
def close_case(
    session: Session,
    actor: StaffUser,
    case_id: int,
    resolution: str,
    note: str,
    ground: str | None = None,
) -> ServiceCase:
    """Close the case with its resolution.

    A copy of an access request's data may be recorded as provided whether or not the
    requester's identity was verified: the CRM records what was done, DAR-04 judges it. A
    refusal of an access request records the s20 ground relied on (s21, s27), for DAR-03.
    """
    check_service_permission(actor)
    case = _open_case(session, case_id)
    access = case.kind == CaseKind.DATA_ACCESS_REQUEST.value
    if resolution == Resolution.COPY_PROVIDED.value and not access:
        raise OperationError(
            Message(N_("Only a data access request is resolved by providing a copy of the data.")),
            "resolution",
        )
    refusal = access and resolution == Resolution.REFUSED_IN_WRITING.value
    if refusal and ground not in ACCESS_GROUNDS:
        raise OperationError(
            Message(N_("Refusing a data access request needs the s20 ground relied on.")),
            "ground",
        )
    if ground and not refusal:
        raise OperationError(
            Message(N_("A ground is given only when refusing a data access request.")), "ground"
        )
    before = snapshot(case, CASE_FIELDS)
    now: datetime = sandbox_now(session)
    case.status = CaseStatus.CLOSED.value
    case.resolution = Resolution(resolution).value
    case.resolution_note = note
    case.refusal_ground = ground or ""
    case.resolved_at = case.resolved_at or now
    case.closed_at = now
    details = {"resolution": resolution, **({"ground": ground} if ground else {})}
    log_case_step(session, actor, case, "close", "case.close", before, note=note, details=details)
    return case
