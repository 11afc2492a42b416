"""Working data subject requests: log, quote a fee, verify, compile, redact, extend, answer.

Every step is an operation with an audit event. The CRM records what was done, also a mistake a
competent officer would not make (a copy released before the identity was verified, a fee above
the direct cost, an answer dated after day 40): the DAR, DCR and ACC rules judge those. What the
CRM cannot do at all is refused with a message: answering a request twice, an extension after
day 40 or without reasons, an HKID number written into the identity evidence.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.hkid import find_hkids
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import ConsentRecord, ContactPoint, Customer, SalesOrder, StaffUser
from sandbox_crm.operations.base import (
    Arg,
    CustomerArgs,
    OperationError,
    RecordArgs,
    check_department,
    get_entity,
    operation,
)
from sandbox_crm.requests.models import (
    ACCESS_GROUNDS,
    CORRECTABLE_FIELDS,
    CORRECTION_GROUNDS,
    CorrectionNotice,
    DataDisclosure,
    DataItem,
    DataRequest,
    IdentityMethod,
    RefusalGround,
    RequestChannel,
    RequestCopyItem,
    RequestForm,
    RequestKind,
    RequestLogEntry,
    RequestOutcome,
    due_date,
)

__all__ = [
    "REQUEST_DEPARTMENTS",
    "REDACTED",
    "RequestArgs",
    "check_request_permission",
    "compile_access_copy",
    "correct_requested_data",
    "extend_data_request",
    "log_data_request",
    "log_refusal",
    "notify_correction_recipient",
    "quote_request_fee",
    "redact_access_copy",
    "refuse_data_request",
    "respond_to_request",
    "verify_requester_identity",
]

REQUEST_DEPARTMENTS = frozenset({"customer_service", "management"})
"""Departments whose staff handle data access and correction requests."""

REDACTED = "[redacted]"
"""What replaces another person's data in a copy."""

TEXT_MAX_LENGTH = 2000
LATEST_SEND_DAYS = 60
"""How far ahead a reply may be dated (a letter posted with a later post run)."""

_FIELDS = [
    "fee_hkd",
    "identity_verified_at",
    "copy_compiled_at",
    "extension_sent_on",
    "extended_to",
    "corrected_at",
    "refusal_ground",
    "outcome",
    "responded_on",
]


class RequestArgs(RecordArgs):
    """Arguments naming one request by id or by reference."""

    id_field = "request_id"
    reference_field = "reference"
    lookup = (DataRequest.id, DataRequest.reference)
    not_found = N_("There is no request with reference %(reference)r.")

    request_id: int | None = Arg(None, description="The request's id.")
    reference: str | None = Arg(None, description="The request's reference (instead of id).")


class LogRequestArgs(CustomerArgs):
    """Arguments of log_data_request."""

    kind: RequestKind = Arg(title="Kind", description="Access or correction.")
    requester_name: str = Arg(
        title="Requester", min_length=1, max_length=120, description="Who signed the request."
    )
    channel: RequestChannel = Arg(title="Channel", description="How the request reached us.")
    form_used: RequestForm = Arg(title="Form used", description="The form or letter used.")
    received_on: date = Arg(title="Received on", description="The day the request was received.")
    details: str = Arg(
        "", title="Details", max_length=TEXT_MAX_LENGTH, description="What is asked for."
    )
    correction_field: str = Arg(
        "", title="Field to correct", max_length=16, description="For a correction."
    )
    correction_value: str = Arg(
        "", title="Corrected value", max_length=300, description="For a correction."
    )


class QuoteFeeArgs(RequestArgs):
    """Arguments of quote_request_fee."""

    fee_hkd: int = Arg(title="Fee (HK$)", ge=0, le=100000, description="The fee quoted.")
    basis: str = Arg(
        "", title="Basis", max_length=200, description="What the fee covers (printing, postage)."
    )


class VerifyArgs(RequestArgs):
    """Arguments of verify_requester_identity."""

    method: IdentityMethod = Arg(title="Method", description="How the identity was verified.")
    evidence: str = Arg(
        title="Evidence seen",
        min_length=1,
        max_length=300,
        description="What was seen (never the document's number or a copy of it).",
    )


class CompileArgs(RequestArgs):
    """Arguments of compile_access_copy."""

    items: list[DataItem] = Arg(
        title="Data items", min_length=1, description="The kinds of the requester's data to copy."
    )


class RedactArgs(RequestArgs):
    """Arguments of redact_access_copy."""

    text: str = Arg(
        title="Text to redact",
        min_length=2,
        max_length=200,
        description="Another person's data as it appears in the copy.",
    )


class ExtendArgs(RequestArgs):
    """Arguments of extend_data_request."""

    reason: str = Arg(
        title="Reasons",
        min_length=10,
        max_length=TEXT_MAX_LENGTH,
        description="Why the request cannot be complied with in 40 days.",
    )
    comply_by: date = Arg(title="Will comply by", description="When the answer will be sent.")


class RefuseArgs(RequestArgs):
    """Arguments of refuse_data_request."""

    ground: RefusalGround = Arg(title="Ground", description="The s20 (or s24) ground relied on.")
    reason: str = Arg(
        title="Reasons", min_length=10, max_length=TEXT_MAX_LENGTH, description="Sent in writing."
    )
    channel: RequestChannel = Arg(title="Sent by", description="How the refusal is sent.")


class LogRefusalArgs(RequestArgs):
    """Arguments of log_refusal."""

    note: str = Arg(
        title="Log-book note", min_length=1, max_length=TEXT_MAX_LENGTH, description="The entry."
    )


class CorrectArgs(RequestArgs):
    """Arguments of correct_requested_data."""


class RespondArgs(RequestArgs):
    """Arguments of respond_to_request."""

    outcome: RequestOutcome = Arg(title="Outcome", description="What the reply gives.")
    channel: RequestChannel = Arg(title="Sent by", description="How the reply is sent.")
    sent_on: date | None = Arg(
        None, title="Sent on", description="The day the reply goes out (today if not given)."
    )


class NotifyArgs(RequestArgs):
    """Arguments of notify_correction_recipient."""

    disclosure_id: int = Arg(title="Disclosure", description="The disclosure to pass it on to.")
    channel: RequestChannel = Arg(title="Sent by", description="How the corrected copy is sent.")


# --- shared rules -----------------------------------------------------------------------------


def check_request_permission(actor: StaffUser) -> None:
    """Refuse staff outside the departments that handle data requests (and disabled accounts)."""
    check_department(
        actor,
        REQUEST_DEPARTMENTS,
        Message(
            N_(
                "Your account may not handle data access or correction requests: only "
                "Customer Service and Management staff may."
            )
        ),
    )


def next_reference(session: Session) -> str:
    """The next free request reference (DR- and six digits)."""
    number = (session.scalar(select(func.max(DataRequest.id))) or 0) + 1
    while session.scalar(select(DataRequest.id).where(DataRequest.reference == f"DR-{number:06d}")):
        number += 1
    return f"DR-{number:06d}"


def _open_request(session: Session, request_id: int) -> DataRequest:
    found = get_entity(session, DataRequest, request_id, "request")
    if not found.is_open:
        raise OperationError(
            Message(
                N_("Request %(reference)s has been answered; it can no longer change."),
                reference=found.reference,
            )
        )
    return found


def _of_kind(found: DataRequest, kind: RequestKind, what: str) -> None:
    if found.kind != kind.value:
        raise OperationError(
            Message(
                N_("Request %(reference)s is not a %(kind)s request: %(what)s."),
                reference=found.reference,
                kind=Message(kind.value),
                what=Message(what),
            )
        )


def _audit(
    session: Session,
    actor: StaffUser,
    found: DataRequest,
    event: str,
    before: dict[str, Any] | None,
    details: dict[str, Any] | None = None,
) -> None:
    session.flush()
    record_event(
        session,
        actor,
        event,
        "data_request",
        found.id,
        before=before,
        after=snapshot(found, _FIELDS),
        details={
            "request_id": found.id,
            "customer_id": found.customer_id,
            "kind": found.kind,
            **(details or {}),
        },
    )


def _copy_items(session: Session, customer: Customer, item: str) -> list[tuple[str, str]]:
    """(record, content) pairs of one kind of the customer's data, as the copy shows them."""
    if item == DataItem.PROFILE.value:
        text = (
            f"Name: {customer.name_en}; Chinese name: {customer.name_zh or '-'}; "
            f"Member no.: {customer.member_no}; District: {customer.district or '-'}; "
            f"Tier: {customer.tier}; Member since: {customer.joined_on.isoformat()}"
        )
        if customer.date_of_birth is not None:
            text += f"; Date of birth: {customer.date_of_birth.isoformat()}"
        return [(f"customer {customer.member_no}", text)]
    if item == DataItem.CONTACT_DETAILS.value:
        points = session.scalars(
            select(ContactPoint)
            .where(ContactPoint.customer_id == customer.id)
            .order_by(ContactPoint.id)
        )
        return [(f"contact point #{p.id}", f"{p.kind}: {p.value}") for p in points]
    if item == DataItem.CONSENTS.value:
        records = session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.customer_id == customer.id)
            .order_by(ConsentRecord.captured_at, ConsentRecord.id)
        )
        return [
            (
                f"consent #{r.id}",
                f"{r.purpose} by {r.channel}: {r.status} ({r.method}, "
                f"{r.captured_at.date().isoformat()})",
            )
            for r in records
        ]
    if item == DataItem.ORDERS.value:
        orders = session.scalars(
            select(SalesOrder)
            .where(SalesOrder.customer_id == customer.id)
            .order_by(SalesOrder.ordered_at, SalesOrder.id)
        )
        return [
            (
                f"order {o.order_no}",
                f"{o.ordered_at.date().isoformat()} {o.channel}, {o.status}, HK${o.total_hkd}",
            )
            for o in orders
        ]
    notes = (customer.notes or "").strip()
    return [(f"notes of {customer.member_no}", notes)] if notes else []


# --- the operations ---------------------------------------------------------------------------


@operation(
    "log_data_request",
    args=LogRequestArgs,
    event="request.log",
    description="Log a data access or correction request with the day it was received.",
)
def log_data_request(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    kind: str,
    requester_name: str,
    channel: str,
    form_used: str,
    received_on: date,
    details: str = "",
    correction_field: str = "",
    correction_value: str = "",
) -> DataRequest:
    """Log a request; day 40 is counted from the day after it was received."""
    check_request_permission(actor)
    customer = get_entity(session, Customer, customer_id, "customer")
    if received_on > sandbox_today(session):
        raise OperationError(
            Message(N_("A request cannot be received in the future.")), "received_on"
        )
    if kind == RequestKind.CORRECTION.value:
        if correction_field not in CORRECTABLE_FIELDS:
            raise OperationError(
                Message(
                    N_("Say which field to correct: one of %(fields)s."),
                    fields=", ".join(CORRECTABLE_FIELDS),
                ),
                "correction_field",
            )
        if not correction_value.strip():
            raise OperationError(
                Message(N_("Say what the data should read once corrected.")), "correction_value"
            )
    elif correction_field or correction_value:
        raise OperationError(
            Message(N_("Only a correction request names a field to correct.")), "correction_field"
        )
    found = DataRequest(
        reference=next_reference(session),
        kind=kind,
        customer_id=customer.id,
        requester_name=requester_name,
        channel=channel,
        form_used=form_used,
        received_on=received_on,
        due_on=due_date(received_on),
        details=details,
        correction_field=correction_field,
        correction_value=correction_value.strip(),
        logged_by_id=actor.id,
        logged_at=sandbox_now(session),
    )
    session.add(found)
    _audit(session, actor, found, "request.log", {}, {"reference": found.reference})
    return found


@operation(
    "quote_request_fee",
    args=QuoteFeeArgs,
    event="request.fee",
    description="Quote the fee for complying with a request (none for a correction).",
)
def quote_request_fee(
    session: Session, actor: StaffUser, request_id: int, fee_hkd: int, basis: str = ""
) -> DataRequest:
    """Record the fee quoted to the requester; DAR-05 judges whether it may be charged."""
    check_request_permission(actor)
    found = _open_request(session, request_id)
    before = snapshot(found, _FIELDS)
    found.fee_hkd = fee_hkd
    found.fee_basis = basis
    _audit(session, actor, found, "request.fee", before, {"fee_hkd": fee_hkd})
    return found


@operation(
    "verify_requester_identity",
    args=VerifyArgs,
    event="request.verify_identity",
    description="Record how the requester's identity was verified (before releasing data).",
)
def verify_requester_identity(
    session: Session, actor: StaffUser, request_id: int, method: str, evidence: str
) -> DataRequest:
    """Record the verification: how, and what was seen, never the document's number."""
    check_request_permission(actor)
    found = _open_request(session, request_id)
    if found.identity_verified_at is not None:
        raise OperationError(Message(N_("The requester's identity is already verified.")), "method")
    if find_hkids(evidence):
        raise OperationError(
            Message(
                N_(
                    "Record what you saw, not the identity card number: the CRM keeps no copy "
                    "of the document."
                )
            ),
            "evidence",
        )
    before = snapshot(found, _FIELDS)
    found.identity_verified_at = sandbox_now(session)
    found.identity_method = method
    found.identity_evidence = evidence
    _audit(session, actor, found, "request.verify_identity", before, {"method": method})
    return found


@operation(
    "compile_access_copy",
    args=CompileArgs,
    event="request.compile_copy",
    description="Compile the copy of the requester's data (replaces an earlier compilation).",
)
def compile_access_copy(
    session: Session, actor: StaffUser, request_id: int, items: list[str]
) -> DataRequest:
    """Copy the chosen kinds of the requester's own data into the request's stored copy."""
    check_request_permission(actor)
    found = _open_request(session, request_id)
    _of_kind(found, RequestKind.ACCESS, N_("only an access request gets a copy"))
    customer = session.get_one(Customer, found.customer_id)
    for old in session.scalars(
        select(RequestCopyItem).where(RequestCopyItem.request_id == found.id)
    ):
        session.delete(old)
    session.flush()
    chosen = [i.value for i in DataItem if i.value in set(items)]
    for item in chosen:
        for record, content in _copy_items(session, customer, item):
            session.add(
                RequestCopyItem(request_id=found.id, item=item, record=record, content=content)
            )
    before = snapshot(found, _FIELDS)
    found.copy_compiled_at = sandbox_now(session)
    _audit(session, actor, found, "request.compile_copy", before, {"items": chosen})
    return found


@operation(
    "redact_access_copy",
    args=RedactArgs,
    event="request.redact_copy",
    description="Redact another person's data from the compiled copy, wherever it appears.",
)
def redact_access_copy(
    session: Session, actor: StaffUser, request_id: int, text: str
) -> DataRequest:
    """Replace every occurrence of ``text`` (any case) in the copy with the redaction mark."""
    check_request_permission(actor)
    found = _open_request(session, request_id)
    items = list(
        session.scalars(
            select(RequestCopyItem)
            .where(RequestCopyItem.request_id == found.id)
            .order_by(RequestCopyItem.id)
        )
    )
    if not items:
        raise OperationError(Message(N_("Compile the copy before redacting it.")), "text")
    needle = text.strip().lower()
    changed = 0
    for item in items:
        content = item.content
        at = content.lower().find(needle)
        while at >= 0:
            content = content[:at] + REDACTED + content[at + len(needle) :]
            at = content.lower().find(needle, at + len(REDACTED))
            changed += 1
        if content != item.content:
            item.content = content
            item.redacted = True
    if not changed:
        raise OperationError(Message(N_("That text does not appear in the copy.")), "text")
    _audit(session, actor, found, "request.redact_copy", None, {"count": changed})
    return found


@operation(
    "extend_data_request",
    args=ExtendArgs,
    event="request.extend",
    description="Send the written notice that the request cannot be met in 40 days, with reasons.",
)
def extend_data_request(
    session: Session, actor: StaffUser, request_id: int, reason: str, comply_by: date
) -> DataRequest:
    """Send the s19(2) notice today; it must go out by day 40 and promise a later date."""
    check_request_permission(actor)
    found = _open_request(session, request_id)
    today = sandbox_today(session)
    if found.extension_sent_on is not None:
        raise OperationError(Message(N_("A notice has already been sent.")), "reason")
    if today > found.due_on:
        raise OperationError(
            Message(
                N_("Day 40 (%(due)s) has passed: the notice had to be sent by then."),
                due=found.due_on.isoformat(),
            ),
            "reason",
        )
    if comply_by <= found.due_on:
        raise OperationError(
            Message(N_("The request is still due by day 40; a notice is for a later date.")),
            "comply_by",
        )
    before = snapshot(found, _FIELDS)
    found.extension_sent_on = today
    found.extension_reason = reason
    found.extended_to = comply_by
    _audit(session, actor, found, "request.extend", before, {"comply_by": comply_by.isoformat()})
    return found


@operation(
    "refuse_data_request",
    args=RefuseArgs,
    event="request.refuse",
    description="Refuse a request in writing, citing the ground relied on.",
)
def refuse_data_request(
    session: Session, actor: StaffUser, request_id: int, ground: str, reason: str, channel: str
) -> DataRequest:
    """Send the written refusal today; the ground must be one the ordinance gives for the kind."""
    check_request_permission(actor)
    found = _open_request(session, request_id)
    grounds = ACCESS_GROUNDS if found.kind == RequestKind.ACCESS.value else CORRECTION_GROUNDS
    if ground not in grounds:
        raise OperationError(
            Message(
                N_("%(ground)s is not a ground for refusing a %(kind)s request."),
                ground=Message(ground),
                kind=Message(found.kind),
            ),
            "ground",
        )
    before = snapshot(found, _FIELDS)
    found.refusal_ground = ground
    found.refusal_reason = reason
    found.outcome = RequestOutcome.REFUSED.value
    found.response_channel = channel
    found.responded_on = sandbox_today(session)
    found.responded_at = sandbox_now(session)
    _audit(session, actor, found, "request.refuse", before, {"ground": ground})
    return found


@operation(
    "log_refusal",
    args=LogRefusalArgs,
    event="request.log_book",
    description="Enter a refused request in the log book kept for four years (s27).",
)
def log_refusal(session: Session, actor: StaffUser, request_id: int, note: str) -> DataRequest:
    """Add the log-book entry for a refused request."""
    check_request_permission(actor)
    found = get_entity(session, DataRequest, request_id, "request")
    if found.outcome != RequestOutcome.REFUSED.value:
        raise OperationError(
            Message(N_("Only a refused request is entered in the log book.")), "note"
        )
    session.add(
        RequestLogEntry(
            request_id=found.id,
            recorded_at=sandbox_now(session),
            recorded_by_id=actor.id,
            ground=found.refusal_ground,
            note=note,
        )
    )
    _audit(session, actor, found, "request.log_book", None, {"ground": found.refusal_ground})
    return found


def _correct(session: Session, found: DataRequest) -> None:
    customer = session.get_one(Customer, found.customer_id)
    if found.correction_field == "district":
        customer.district = found.correction_value
        return
    point = session.scalars(
        select(ContactPoint)
        .where(
            ContactPoint.customer_id == customer.id,
            ContactPoint.kind == found.correction_field,
        )
        .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
    ).first()
    if point is None:
        session.add(
            ContactPoint(
                customer_id=customer.id,
                kind=found.correction_field,
                value=found.correction_value,
                is_primary=True,
            )
        )
        return
    point.value = found.correction_value
    point.is_invalid = False


@operation(
    "correct_requested_data",
    args=CorrectArgs,
    event="request.correct",
    description="Make the correction a correction request asks for.",
)
def correct_requested_data(session: Session, actor: StaffUser, request_id: int) -> DataRequest:
    """Change the customer's data to what the request says, once."""
    check_request_permission(actor)
    found = _open_request(session, request_id)
    _of_kind(found, RequestKind.CORRECTION, N_("only a correction request changes the data"))
    if found.corrected_at is not None:
        raise OperationError(Message(N_("The data are already corrected.")))
    before = snapshot(found, _FIELDS)
    _correct(session, found)
    found.corrected_at = sandbox_now(session)
    _audit(
        session,
        actor,
        found,
        "request.correct",
        before,
        {"field": found.correction_field},
    )
    return found


@operation(
    "respond_to_request",
    args=RespondArgs,
    event="request.respond",
    description="Send the answer: the copy, 'no data held' or the corrected copy.",
)
def respond_to_request(
    session: Session,
    actor: StaffUser,
    request_id: int,
    outcome: str,
    channel: str,
    sent_on: date | None = None,
) -> DataRequest:
    """Send the answer on ``sent_on`` (today, or a later post run).

    A copy may be released whether or not the identity was verified: the CRM records what was
    done, DAR-04 judges it.
    """
    check_request_permission(actor)
    found = _open_request(session, request_id)
    today = sandbox_today(session)
    day = sent_on or today
    if day < today:
        raise OperationError(Message(N_("A reply cannot be sent in the past.")), "sent_on")
    if day > today + timedelta(days=LATEST_SEND_DAYS):
        raise OperationError(
            Message(N_("A reply can be dated at most %(days)d days ahead."), days=LATEST_SEND_DAYS),
            "sent_on",
        )
    access = found.kind == RequestKind.ACCESS.value
    if outcome == RequestOutcome.REFUSED.value:
        raise OperationError(
            Message(N_("Refuse a request with its ground, through the refusal form.")), "outcome"
        )
    if access and outcome == RequestOutcome.CORRECTED.value:
        raise OperationError(
            Message(N_("An access request is answered with a copy or 'no data held'.")), "outcome"
        )
    if not access and outcome != RequestOutcome.CORRECTED.value:
        raise OperationError(
            Message(N_("A correction request is answered with the corrected copy.")), "outcome"
        )
    if outcome == RequestOutcome.COPY_PROVIDED.value and found.copy_compiled_at is None:
        raise OperationError(Message(N_("Compile the copy before sending it.")), "outcome")
    if outcome == RequestOutcome.CORRECTED.value and found.corrected_at is None:
        raise OperationError(
            Message(N_("Correct the data before sending the corrected copy.")), "outcome"
        )
    before = snapshot(found, _FIELDS)
    found.outcome = outcome
    found.response_channel = channel
    found.responded_on = day
    found.responded_at = sandbox_now(session)
    _audit(
        session,
        actor,
        found,
        "request.respond",
        before,
        {"outcome": outcome, "sent_on": day.isoformat()},
    )
    return found


@operation(
    "notify_correction_recipient",
    args=NotifyArgs,
    event="request.notify_recipient",
    description="Send the corrected data to someone the data were disclosed to.",
)
def notify_correction_recipient(
    session: Session, actor: StaffUser, request_id: int, disclosure_id: int, channel: str
) -> DataRequest:
    """Send a recipient of the customer's data the correction (s23(1)(c))."""
    check_request_permission(actor)
    found = get_entity(session, DataRequest, request_id, "request")
    _of_kind(found, RequestKind.CORRECTION, N_("only a correction is passed on"))
    disclosure = get_entity(session, DataDisclosure, disclosure_id, "disclosure")
    if disclosure.customer_id != found.customer_id:
        raise OperationError(
            Message(N_("That disclosure is of another customer's data.")), "disclosure_id"
        )
    if found.corrected_at is None:
        raise OperationError(
            Message(N_("Correct the data before passing the correction on.")), "disclosure_id"
        )
    session.add(
        CorrectionNotice(
            request_id=found.id,
            disclosure_id=disclosure.id,
            channel=channel,
            sent_at=sandbox_now(session),
            sent_by_id=actor.id,
        )
    )
    _audit(
        session,
        actor,
        found,
        "request.notify_recipient",
        None,
        {"disclosure_id": disclosure.id, "recipient": disclosure.recipient},
    )
    return found
