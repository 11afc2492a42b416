"""The one path for every change to a sandbox, and the registry scripted attempts use.

Every operation is a plain function ``(session, actor, ...)`` that validates its input (raising
``OperationError`` and changing nothing when it is bad), changes the data, appends one audit
event and flushes; the caller commits. Web views call the functions directly; reference
solutions, counterexamples and the JSON API name an operation and pass plain arguments to
``apply_operation``, which checks them against the operation's argument model first.

In those arguments, departments are named by code, customers by ``customer_id`` or
``member_no``, reports by ``report_id`` or ``report_name``.

An operation that refuses its input (``OperationError``) is not silent: the caller rolls back
what it had started and appends a refused-action event with ``record_refusal``, in the browser
as in a scripted attempt, so the assessor sees the attempt as the trainee made it.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic import Field as Arg
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.audit import REFUSED_OPERATION, record_event
from sandbox_crm.models import (
    AuditEvent,
    Channel,
    ConsentMethod,
    ConsentPurpose,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerStatus,
    ExportDestination,
    MessageKind,
    StaffUser,
    Tier,
)
from sandbox_crm.operations.base import InvalidArguments, OperationError
from sandbox_crm.operations.customers import (
    add_customer_note,
    record_consent,
    update_contact_point,
    update_customer,
    view_customer,
)
from sandbox_crm.operations.messages import send_message
from sandbox_crm.operations.reports import (
    can_export_report,
    can_view_report,
    create_report,
    delete_report,
    export_report,
    reports_visible_to,
    run_report,
    share_report,
    unshare_report,
    update_report,
)
from sandbox_crm.sources import PREFERRED_LANGUAGES

__all__ = [
    "OPERATIONS",
    "REFUSED_OPERATION",
    "InvalidArguments",
    "OperationError",
    "OperationSpec",
    "add_customer_note",
    "apply_operation",
    "can_export_report",
    "can_view_report",
    "create_report",
    "delete_report",
    "describe_operations",
    "entity_named",
    "export_report",
    "record_consent",
    "record_refusal",
    "reports_visible_to",
    "run_report",
    "send_message",
    "share_report",
    "unshare_report",
    "update_contact_point",
    "update_customer",
    "update_report",
    "view_customer",
]


# --- argument models --------------------------------------------------------------------------


class Args(BaseModel):
    """Base of every operation's arguments: unknown arguments are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CustomerArgs(Args):
    """Arguments naming one customer by id or member number."""

    customer_id: int | None = Arg(None, description="The customer's id.")
    member_no: str | None = Arg(None, description="The customer's member number (instead of id).")

    @model_validator(mode="after")
    def _one_customer(self) -> CustomerArgs:
        if (self.customer_id is None) == (self.member_no is None):
            raise ValueError("give either customer_id or member_no")
        return self


class ReportArgs(Args):
    """Arguments naming one report by id or name."""

    report_id: int | None = Arg(None, description="The report's id.")
    report_name: str | None = Arg(
        None, description="The report's name (instead of id; must name one report you can open)."
    )

    @model_validator(mode="after")
    def _one_report(self) -> ReportArgs:
        if (self.report_id is None) == (self.report_name is None):
            raise ValueError("give either report_id or report_name")
        return self


def _department(description: str, default: Any = ...) -> Any:
    return Arg(
        default,
        description=description,
        validation_alias=AliasChoices("department", "department_code"),
    )


class ViewCustomerArgs(CustomerArgs):
    """Arguments of view_customer."""


class UpdateCustomerArgs(CustomerArgs):
    """Arguments of update_customer: give only the fields to change."""

    name_en: str | None = Arg(None, description="English name.")
    name_zh: str | None = Arg(None, description="Chinese name (empty to clear).")
    district: str | None = Arg(None, description="One of the 18 districts; the region follows.")
    tier: Tier | None = Arg(None, description="Loyalty tier.")
    preferred_language: str | None = Arg(
        None, description=f"Preferred language: {', '.join(PREFERRED_LANGUAGES)}."
    )
    status: CustomerStatus | None = Arg(None, description="Relationship status.")
    notes: str | None = Arg(None, description="Replaces the whole notes text.")

    def changes(self) -> dict[str, Any]:
        """The fields given, as a changes mapping."""
        ignored = {"customer_id", "member_no"}
        return {name: getattr(self, name) for name in self.model_fields_set - ignored}


class AddCustomerNoteArgs(CustomerArgs):
    """Arguments of add_customer_note."""

    text: str = Arg(description="The note; it is appended with the date and your username.")


class UpdateContactPointArgs(Args):
    """Arguments of update_contact_point."""

    contact_point_id: int | None = Arg(None, description="The contact point's id.")
    customer_id: int | None = Arg(None, description="Instead of the id: the customer's id ...")
    member_no: str | None = Arg(None, description="... or member number ...")
    kind: ContactKind | None = Arg(
        None, description="... and the kind of contact (its primary one)."
    )
    value: str | None = Arg(None, description="Corrected value.")
    is_invalid: bool | None = Arg(None, description="Flag the contact as invalid (or valid).")

    @model_validator(mode="after")
    def _one_contact(self) -> UpdateContactPointArgs:
        by_customer = self.customer_id is not None or self.member_no is not None
        if self.contact_point_id is not None and (by_customer or self.kind is not None):
            raise ValueError("give contact_point_id, or a customer and kind, not both")
        if self.contact_point_id is None:
            if self.kind is None or (self.customer_id is None) == (self.member_no is None):
                raise ValueError(
                    "give contact_point_id, or kind with either customer_id or member_no"
                )
        return self


class RecordConsentArgs(CustomerArgs):
    """Arguments of record_consent."""

    purpose: ConsentPurpose = Arg(description="What the consent is for.")
    channel: Channel = Arg(description="The channel it covers.")
    status: Literal["given", "no_objection", "withdrawn"] = Arg(description="The new status.")
    method: ConsentMethod = Arg(description="How it was captured.")
    note: str = Arg("", description="A note on the record.")
    notice_version: str | None = Arg(
        None, description="Collection notice (PICS) version; default: the one in effect today."
    )


class SendMessageArgs(CustomerArgs):
    """Arguments of send_message."""

    channel: Channel = Arg(description="email, sms, phone (a call) or post.")
    kind: MessageKind = Arg(description="promotional (direct marketing) or service.")
    subject: str = Arg("", description="Subject line.")
    body: str = Arg(description="The text sent, or what was said on a call.")
    has_opt_out_notice: bool = Arg(
        False, description="Whether the message tells the customer how to opt out, free."
    )
    campaign_id: int | None = Arg(None, description="The campaign it is sent for, if any.")


class CreateReportArgs(Args):
    """Arguments of create_report."""

    name: str = Arg(description="Report name (at most 160 characters).")
    source: str = Arg(description="Data source: customers or orders.")
    columns: list[str] = Arg(description="Field names shown, in order.")
    filters: dict[str, Any] | None = Arg(None, description="Condition in the query language.")
    sort: list[Any] = Arg(default_factory=list, description="[[field, asc|desc], ...]")
    description: str = Arg("", description="What the report shows.")
    purpose: str = Arg("", description="Why the report exists (the use of the data).")


class UpdateReportArgs(ReportArgs):
    """Arguments of update_report: give only the parts to change."""

    name: str | None = Arg(None, description="New name.")
    source: str | None = Arg(None, description="New data source.")
    columns: list[str] | None = Arg(None, description="New columns.")
    filters: dict[str, Any] | None = Arg(None, description="New filter condition ({} for none).")
    sort: list[Any] | None = Arg(None, description="New sort.")
    description: str | None = Arg(None, description="New description.")
    purpose: str | None = Arg(None, description="New purpose.")

    def changes(self) -> dict[str, Any]:
        """The parts given, as keyword arguments of update_report."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set - {"report_id", "report_name"}
        }


class DeleteReportArgs(ReportArgs):
    """Arguments of delete_report."""


class ShareReportArgs(ReportArgs):
    """Arguments of share_report."""

    department: str = _department("Code of the department to share with.")
    can_export: bool = Arg(False, description="Whether the department may export the report.")


class UnshareReportArgs(ReportArgs):
    """Arguments of unshare_report."""

    department: str = _department("Code of the department to withdraw access from.")


class RunReportArgs(ReportArgs):
    """Arguments of run_report."""


class ExportReportArgs(ReportArgs):
    """Arguments of export_report."""

    purpose: str = Arg("", description="Why the data is exported.")
    destination: ExportDestination = Arg(description="Where the file goes.")
    for_department: str | None = Arg(None, description="Code of the department it is for.")
    encrypted: bool = Arg(False, description="Whether the file is encrypted.")
    file_format: Literal["csv"] = Arg("csv", description="File format.")


# --- resolving references ---------------------------------------------------------------------


def _customer_id(session: Session, args: Any) -> int:
    if args.customer_id is not None:
        return args.customer_id
    found = session.scalars(select(Customer.id).where(Customer.member_no == args.member_no)).first()
    if found is None:
        raise OperationError(f"There is no customer with member number {args.member_no!r}.")
    return found


def _report_id(session: Session, actor: StaffUser, args: ReportArgs) -> int:
    if args.report_id is not None:
        return args.report_id
    named = [r for r in reports_visible_to(session, actor) if r.name == args.report_name]
    chosen = [r for r in named if r.owner_id == actor.id] or named
    if not chosen:
        raise OperationError(f"You have no report called {args.report_name!r}.")
    if len(chosen) > 1:
        raise OperationError(
            f"Several reports are called {args.report_name!r}; give report_id instead."
        )
    return chosen[0].id


def _contact_point_id(session: Session, args: UpdateContactPointArgs) -> int:
    if args.contact_point_id is not None:
        return args.contact_point_id
    customer_id = _customer_id(session, args)
    found = session.scalars(
        select(ContactPoint.id)
        .where(ContactPoint.customer_id == customer_id, ContactPoint.kind == args.kind)
        .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
        .limit(1)
    ).first()
    if found is None:
        raise OperationError(f"The customer has no {args.kind} contact.")
    return found


# --- the registry -----------------------------------------------------------------------------

Invoker = Callable[[Session, StaffUser, Any], Any]


@dataclass(frozen=True)
class OperationSpec:
    """One operation scripted attempts may name: its function, arguments and audit event."""

    name: str
    func: Callable[..., Any]
    args_model: type[Args]
    description: str
    event: str
    invoke: Invoker


OPERATIONS: dict[str, OperationSpec] = {}


def register(
    name: str, func: Callable[..., Any], args_model: type[Args], event: str, description: str
) -> Callable[[Invoker], Invoker]:
    """Register an invoker (resolves references, calls ``func``) under a unique name."""

    def decorate(invoke: Invoker) -> Invoker:
        if name in OPERATIONS:
            raise ValueError(f"operation {name!r} is already registered")
        OPERATIONS[name] = OperationSpec(name, func, args_model, description, event, invoke)
        return invoke

    return decorate


@register(
    "view_customer",
    view_customer,
    ViewCustomerArgs,
    "customer.view",
    "Open a customer's full record (an audited read).",
)
def _view_customer(session: Session, actor: StaffUser, args: ViewCustomerArgs) -> Any:
    return view_customer(session, actor, _customer_id(session, args))


@register(
    "update_customer",
    update_customer,
    UpdateCustomerArgs,
    "customer.update",
    "Edit a customer's names, district, tier, language, status or notes.",
)
def _update_customer(session: Session, actor: StaffUser, args: UpdateCustomerArgs) -> Any:
    return update_customer(session, actor, _customer_id(session, args), args.changes())


@register(
    "add_customer_note",
    add_customer_note,
    AddCustomerNoteArgs,
    "customer.add_note",
    "Append a dated, signed note to a customer's record.",
)
def _add_customer_note(session: Session, actor: StaffUser, args: AddCustomerNoteArgs) -> Any:
    return add_customer_note(session, actor, _customer_id(session, args), args.text)


@register(
    "update_contact_point",
    update_contact_point,
    UpdateContactPointArgs,
    "contact_point.update",
    "Correct a contact point or flag it invalid.",
)
def _update_contact_point(session: Session, actor: StaffUser, args: UpdateContactPointArgs) -> Any:
    return update_contact_point(
        session, actor, _contact_point_id(session, args), args.value, args.is_invalid
    )


@register(
    "record_consent",
    record_consent,
    RecordConsentArgs,
    "consent.record",
    "Record a customer's consent, no objection or withdrawal for a purpose and channel.",
)
def _record_consent(session: Session, actor: StaffUser, args: RecordConsentArgs) -> Any:
    return record_consent(
        session,
        actor,
        _customer_id(session, args),
        args.purpose,
        args.channel,
        args.status,
        args.method,
        note=args.note,
        notice_version=args.notice_version,
    )


@register(
    "send_message",
    send_message,
    SendMessageArgs,
    "message.send",
    "Send an email, SMS, letter or make a call to a customer.",
)
def _send_message(session: Session, actor: StaffUser, args: SendMessageArgs) -> Any:
    return send_message(
        session,
        actor,
        customer_id=_customer_id(session, args),
        channel=args.channel,
        kind=args.kind,
        subject=args.subject,
        body=args.body,
        has_opt_out_notice=args.has_opt_out_notice,
        campaign_id=args.campaign_id,
    )


@register(
    "create_report",
    create_report,
    CreateReportArgs,
    "report.create",
    "Save a new report: source, columns, filters and sort.",
)
def _create_report(session: Session, actor: StaffUser, args: CreateReportArgs) -> Any:
    return create_report(session, actor, **args.model_dump())


@register(
    "update_report", update_report, UpdateReportArgs, "report.update", "Change a report you own."
)
def _update_report(session: Session, actor: StaffUser, args: UpdateReportArgs) -> Any:
    return update_report(session, actor, _report_id(session, actor, args), **args.changes())


@register(
    "delete_report", delete_report, DeleteReportArgs, "report.delete", "Delete a report you own."
)
def _delete_report(session: Session, actor: StaffUser, args: DeleteReportArgs) -> Any:
    return delete_report(session, actor, _report_id(session, actor, args))


@register(
    "share_report",
    share_report,
    ShareReportArgs,
    "report.share",
    "Let a department view (and optionally export) a report you own.",
)
def _share_report(session: Session, actor: StaffUser, args: ShareReportArgs) -> Any:
    return share_report(
        session, actor, _report_id(session, actor, args), args.department, args.can_export
    )


@register(
    "unshare_report",
    unshare_report,
    UnshareReportArgs,
    "report.unshare",
    "Withdraw a department's access to a report you own.",
)
def _unshare_report(session: Session, actor: StaffUser, args: UnshareReportArgs) -> Any:
    return unshare_report(session, actor, _report_id(session, actor, args), args.department)


@register(
    "run_report",
    run_report,
    RunReportArgs,
    "report.run",
    "Run a report and keep a snapshot of its output.",
)
def _run_report(session: Session, actor: StaffUser, args: RunReportArgs) -> Any:
    return run_report(session, actor, _report_id(session, actor, args))


@register(
    "export_report",
    export_report,
    ExportReportArgs,
    "report.export",
    "Export a report to a file: purpose, destination, department, encryption.",
)
def _export_report(session: Session, actor: StaffUser, args: ExportReportArgs) -> Any:
    return export_report(
        session,
        actor,
        _report_id(session, actor, args),
        purpose=args.purpose,
        destination=args.destination,
        for_department=args.for_department,
        encrypted=args.encrypted,
        file_format=args.file_format,
    )


# --- applying and describing ------------------------------------------------------------------


def _argument_problem(spec: OperationSpec, error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    known = ", ".join(spec.args_model.model_fields)
    if error["type"] == "extra_forbidden":
        return f"unknown argument {location!r} (known arguments: {known})"
    if error["type"] == "missing":
        return f"missing argument {location!r}"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"argument {location!r}: {message}" if location else message


def apply_operation(session: Session, actor: StaffUser, name: str, args: dict[str, Any]) -> Any:
    """Check ``args`` against the operation's model, resolve references and run it.

    InvalidArguments (an OperationError) if the operation is unknown or the arguments do not fit
    its model; any other OperationError is the operation refusing, as it would in the CRM.
    """
    spec = OPERATIONS.get(name)
    if spec is None:
        raise InvalidArguments(
            f"Unknown operation {name!r}; known operations: {', '.join(sorted(OPERATIONS))}."
        )
    if not isinstance(args, dict):
        raise InvalidArguments("Arguments must be a mapping of names to values.")
    try:
        parsed = spec.args_model.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(_argument_problem(spec, e) for e in exc.errors())
        raise InvalidArguments(f"{problems[0].upper()}{problems[1:]}.") from None
    return spec.invoke(session, actor, parsed)


_ENTITY_ARGS = (
    ("report_id", "report"),
    ("contact_point_id", "contact_point"),
    ("customer_id", "customer"),
)


def entity_named(args: Any) -> tuple[str, int] | None:
    """The entity a call's plain arguments name by id (report, contact point, customer), if any."""
    if not isinstance(args, dict):
        return None
    for key, entity_type in _ENTITY_ARGS:
        value = args.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return entity_type, value
    return None


def record_refusal(
    session: Session,
    actor: StaffUser,
    operation: str,
    error: OperationError,
    entity: tuple[str, int | None] | None = None,
) -> AuditEvent:
    """Roll back what a refused operation had started and audit the refusal; never commits.

    ``operation`` is the operation's registered name (e.g. share_report); ``entity`` is what it
    was attempted on, if known. The event's operation is REFUSED_OPERATION, so nothing that
    reads the audit log takes it for the operation itself. The caller commits.
    """
    session.rollback()
    spec = OPERATIONS.get(operation)
    details: dict[str, Any] = {
        "operation": operation,
        "event": spec.event if spec is not None else None,
        "message": error.message,
    }
    if error.field:
        details["field"] = error.field
    entity_type, entity_id = entity if entity is not None else ("", None)
    return record_event(session, actor, REFUSED_OPERATION, entity_type, entity_id, details=details)


def _type_label(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None)]
        label = " | ".join(_type_label(a) for a in parts)
        return f"{label} (optional)" if len(parts) < len(typing.get_args(annotation)) else label
    if origin is not None:
        inner = ", ".join(_type_label(a) for a in typing.get_args(annotation))
        return f"{origin.__name__}[{inner}]"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(repr(member.value) for member in annotation)
    return getattr(annotation, "__name__", str(annotation))


def describe_operations() -> list[dict[str, Any]]:
    """Every registered operation with its description, audit event and arguments, for docs."""
    described = []
    for spec in OPERATIONS.values():
        args = []
        for arg_name, info in spec.args_model.model_fields.items():
            alias = info.validation_alias
            aliases = [a for a in getattr(alias, "choices", ()) if a != arg_name]
            args.append(
                {
                    "name": arg_name,
                    "type": _type_label(info.annotation),
                    "required": info.is_required(),
                    "default": None
                    if info.is_required()
                    else info.get_default(call_default_factory=True),
                    "description": info.description or "",
                    "aliases": aliases,
                }
            )
        described.append(
            {
                "name": spec.name,
                "description": spec.description,
                "event": spec.event,
                "args": args,
            }
        )
    return described
