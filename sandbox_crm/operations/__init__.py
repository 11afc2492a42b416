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
import importlib
import types
import typing
from typing import Any, Literal

from sqlalchemy.orm import Session

from sandbox_crm.areas import area_modules, call_entities
from sandbox_crm.audit import REFUSED_OPERATION, record_event
from sandbox_crm.models import AuditEvent, StaffUser
from sandbox_crm.operations.base import (
    OPERATIONS,
    InvalidArguments,
    OperationError,
    OperationSpec,
    choices_of,
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
    # The decorated name in the area's module: it validates a direct call through the model.
    return getattr(importlib.import_module(spec.func.__module__), spec.func.__name__)


# --- applying and describing ------------------------------------------------------------------


def apply_operation(session: Session, actor: StaffUser, name: str, args: dict[str, Any]) -> Any:
    """Check ``args`` against the operation's model, resolve references and run it.

    InvalidArguments (an OperationError) if the operation is unknown or the call does not fit
    its model (an unknown or missing argument, a wrong type); any other OperationError is the
    operation refusing, as it would in the CRM (a value the model or the data rules out).
    """
    spec = OPERATIONS.find(name)
    if spec is None:
        raise InvalidArguments(
            f"Unknown operation {name!r}; known operations: {', '.join(OPERATIONS.names())}."
        )
    if not isinstance(args, dict):
        raise InvalidArguments("Arguments must be a mapping of names to values.")
    return spec.invoke(session, actor, spec.parse(args))


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


def _length(info: Any) -> tuple[int | None, int | None]:
    """The (min_length, max_length) a field declares, None where it declares none."""
    low = high = None
    for constraint in info.metadata:
        low = getattr(constraint, "min_length", low)
        high = getattr(constraint, "max_length", high)
    return low, high


def _length_label(low: int | None, high: int | None) -> str:
    if high is not None:
        return f"{low or 0} to {high} characters" if low else f"at most {high} characters"
    return "not empty" if low else ""


def operations_in_area_order() -> list[OperationSpec]:
    """Every operation, the enabled areas' in their order, each area's in declaration order."""
    position = {module: index for index, module in enumerate(area_modules())}
    specs = OPERATIONS.values()  # in registration order, which follows the import order
    return sorted(specs, key=lambda spec: position.get(spec.func.__module__, len(position)))


def describe_operations() -> list[dict[str, Any]]:
    """Every registered operation with its description, audit event and arguments, for docs.

    Each argument comes with its label, type, length limits and choices, read from the model.
    """
    described = []
    for spec in operations_in_area_order():
        args = []
        for arg_name, info in spec.args_model.model_fields.items():
            alias = info.validation_alias
            aliases = [a for a in getattr(alias, "choices", ()) if a != arg_name]
            low, high = _length(info)
            parts = (_type_label(info.annotation), _length_label(low, high))
            kind = ", ".join(part for part in parts if part)
            args.append(
                {
                    "name": arg_name,
                    "label": spec.args_model.label(arg_name),
                    "type": kind,
                    "min_length": low,
                    "max_length": high,
                    "choices": list(choices_of(info.annotation)),
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
