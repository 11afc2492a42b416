"""The one path for every change to a sandbox, and the registry scripted attempts use.

Every operation is a plain function ``(session, actor, ...)`` that validates its input (raising
``OperationError`` and changing nothing when it is bad), changes the data, appends one audit
event and flushes; the caller commits. Each CRM area's ``operations`` module registers its own
with ``@operation`` (see ``operations.base``) under a name, with its argument model; this
module looks them up by name (``from sandbox_crm.operations import share_report`` works for
every registered operation). Web views call the functions
directly; reference solutions, counterexamples and the JSON API name an operation and pass plain
arguments to ``apply_operation``, which checks them against that model first.

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
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.orm import Session

from sandbox_crm.areas import area_modules, call_entities
from sandbox_crm.audit import REFUSED_OPERATION, record_event
from sandbox_crm.models import AuditEvent, StaffUser
from sandbox_crm.operations.base import (
    OPERATIONS,
    InvalidArguments,
    OperationError,
    OperationSpec,
    operation,
)

__all__ = [
    "OPERATIONS",
    "REFUSED_OPERATION",
    "InvalidArguments",
    "OperationError",
    "OperationSpec",
    "apply_operation",
    "describe_operations",
    "entity_named",
    "operation",
    "record_refusal",
]


def __getattr__(name: str) -> Any:
    """An operation's function by its registered name (e.g. ``operations.share_report``)."""
    spec = OPERATIONS.find(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return spec.func


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
    spec = OPERATIONS.find(name)
    if spec is None:
        raise InvalidArguments(
            f"Unknown operation {name!r}; known operations: {', '.join(OPERATIONS.names())}."
        )
    if not isinstance(args, dict):
        raise InvalidArguments("Arguments must be a mapping of names to values.")
    try:
        parsed = spec.args_model.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(_argument_problem(spec, e) for e in exc.errors())
        raise InvalidArguments(f"{problems[0].upper()}{problems[1:]}.") from None
    return spec.invoke(session, actor, parsed)


def entity_named(args: Any) -> tuple[str, int] | None:
    """The entity a call's plain arguments name by id (report, contact point, customer), if any."""
    if not isinstance(args, dict):
        return None
    for key, entity_type in call_entities():
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
    spec = OPERATIONS.find(operation)
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


def operations_in_area_order() -> list[OperationSpec]:
    """Every operation, the enabled areas' in their order, each area's in declaration order."""
    position = {module: index for index, module in enumerate(area_modules())}
    specs = OPERATIONS.values()  # in registration order, which follows the import order
    return sorted(specs, key=lambda spec: position.get(spec.func.__module__, len(position)))


def describe_operations() -> list[dict[str, Any]]:
    """Every registered operation with its description, audit event and arguments, for docs."""
    described = []
    for spec in operations_in_area_order():
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
