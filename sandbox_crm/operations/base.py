"""What every operation shares: the error type, look-up and validation helpers, edits."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.models import Customer, Department, SandboxBase, StaffUser

__all__ = [
    "InvalidArguments",
    "OperationError",
    "apply_changes",
    "check_bool",
    "check_choice",
    "check_text",
    "get_customer",
    "get_department",
    "get_entity",
]

M = TypeVar("M", bound=SandboxBase)


class OperationError(ValueError):
    """Bad input for an operation; the message is shown to the user and nothing was changed."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidArguments(OperationError):
    """A call that names no operation or gives it arguments its model rejects.

    Raised by ``apply_operation`` before the operation runs: a mistake in a script or an API
    request, not something a person could do through the CRM's forms, so it is not audited as a
    refused action.
    """


def _check_id(value: Any, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise OperationError(f"{label} id must be a whole number, not {value!r}")
    return value


def get_entity(session: Session, model: type[M], entity_id: Any, label: str) -> M:
    """The row of ``model`` with this id; OperationError naming ``label`` if there is none."""
    entity = session.get(model, _check_id(entity_id, label))
    if entity is None:
        raise OperationError(f"There is no {label} with id {entity_id}.")
    return entity


def get_customer(session: Session, customer_id: Any) -> Customer:
    """The customer with this id (OperationError if there is none)."""
    return get_entity(session, Customer, customer_id, "customer")


def get_department(session: Session, code: Any, field: str = "department") -> Department:
    """The department with this code; OperationError listing the known codes otherwise."""
    if isinstance(code, str):
        department = session.scalars(select(Department).where(Department.code == code)).first()
        if department is not None:
            return department
    known = ", ".join(session.scalars(select(Department.code).order_by(Department.code)))
    raise OperationError(f"Unknown department {code!r}; known departments: {known}.", field)


def check_text(
    value: Any, label: str, *, max_length: int, required: bool = False, field: str | None = None
) -> str:
    """A text value, stripped; OperationError if it is not text, too long or missing."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise OperationError(f"{label} must be text.", field)
    value = value.strip()
    if required and not value:
        raise OperationError(f"{label} is required.", field)
    if len(value) > max_length:
        raise OperationError(
            f"{label} is too long ({len(value)} characters; at most {max_length}).", field
        )
    return value


def check_choice(
    value: Any, choices: type[enum.Enum] | tuple[str, ...], label: str, field: str | None = None
) -> str:
    """One of the allowed values (an enum's values or a tuple); OperationError listing them."""
    allowed = (
        tuple(str(member.value) for member in choices)
        if isinstance(choices, type)
        else tuple(choices)
    )
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str) or value not in allowed:
        raise OperationError(f"{label} must be one of {', '.join(allowed)}; got {value!r}.", field)
    return value


def check_bool(value: Any, label: str, field: str | None = None) -> bool:
    """A true/false value (OperationError otherwise)."""
    if not isinstance(value, bool):
        raise OperationError(f"{label} must be true or false; got {value!r}.", field)
    return value


def apply_changes(
    session: Session,
    actor: StaffUser,
    entity: Any,
    values: dict[str, Any],
    *,
    operation: str,
    entity_type: str,
    details: dict[str, Any],
    unchanged: str = "Nothing to change: the values are the same as the current ones.",
) -> None:
    """Set the checked ``values`` that differ and record one event with their before and after.

    Stamps ``updated_at`` on entities that have one. Raises OperationError(``unchanged``), having
    changed nothing, when every value is already the current one.
    """
    changed = [name for name, value in values.items() if getattr(entity, name) != value]
    if not changed:
        raise OperationError(unchanged)
    before = snapshot(entity, changed)
    for name in changed:
        setattr(entity, name, values[name])
    if hasattr(entity, "updated_at"):
        entity.updated_at = sandbox_now(session)
    record_event(
        session,
        actor,
        operation,
        entity_type,
        entity.id,
        before=before,
        after=snapshot(entity, changed),
        details=details,
    )
