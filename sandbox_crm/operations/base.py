"""What every operation shares: the error type, the ``@operation`` registry, look-up and edits.

An operation is a plain function ``(session, actor, ...)`` registered with ``@operation`` under
a stable name together with its pydantic ``Args`` model, the single declaration of the arguments
a script or an API request may give it. ``apply_operation`` validates plain arguments against
that model and calls the function with ``Args.call_arguments`` (references such as a member
number resolved to ids); ``practicum operations`` documents the same models.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as Arg
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.areas import area_modules
from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.models import Customer, Department, SandboxBase, StaffUser
from sandbox_crm.registry import Registry

__all__ = [
    "OPERATIONS",
    "Arg",
    "Args",
    "CustomerArgs",
    "InvalidArguments",
    "OperationError",
    "OperationSpec",
    "operation",
    "apply_changes",
    "check_bool",
    "check_choice",
    "check_text",
    "get_customer",
    "get_department",
    "get_entity",
]

M = TypeVar("M", bound=SandboxBase)
F = TypeVar("F", bound=Callable[..., Any])


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


# --- the operation registry -------------------------------------------------------------------


class Args(BaseModel):
    """Base of every operation's arguments: unknown arguments are errors.

    ``call_arguments`` turns the parsed arguments into the operation function's keyword
    arguments; models whose arguments name an entity another way (a member number, a report
    name) resolve it there.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The operation function's keyword arguments (every field, by name)."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class CustomerArgs(Args):
    """Arguments naming one customer by id or member number."""

    customer_id: int | None = Arg(None, description="The customer's id.")
    member_no: str | None = Arg(None, description="The customer's member number (instead of id).")

    @model_validator(mode="after")
    def _one_customer(self) -> CustomerArgs:
        if (self.customer_id is None) == (self.member_no is None):
            raise ValueError("give either customer_id or member_no")
        return self

    def resolve_customer_id(self, session: Session) -> int:
        """The customer's id, looked up by member number if that was given."""
        if self.customer_id is not None:
            return self.customer_id
        found = session.scalars(
            select(Customer.id).where(Customer.member_no == self.member_no)
        ).first()
        if found is None:
            raise OperationError(f"There is no customer with member number {self.member_no!r}.")
        return found

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """Every other field by name, and the customer as ``customer_id``."""
        values = super().call_arguments(session, actor)
        values.pop("member_no")
        values["customer_id"] = self.resolve_customer_id(session)
        return values


@dataclass(frozen=True)
class OperationSpec:
    """One registered operation: its function, argument model, description and audit event."""

    name: str
    func: Callable[..., Any]
    args_model: type[Args]
    description: str
    event: str

    def invoke(self, session: Session, actor: StaffUser, args: Args) -> Any:
        """Run the operation with arguments already parsed by its model."""
        return self.func(session, actor, **args.call_arguments(session, actor))


OPERATIONS: Registry[OperationSpec] = Registry("operation", area_modules, autoload=True)
"""Every operation of the enabled CRM areas, in registration order (areas in their order)."""


def operation(
    name: str, *, args: type[Args], event: str, description: str | None = None
) -> Callable[[F], F]:
    """Register the decorated function as operation ``name`` with its argument model."""
    if not (isinstance(args, type) and issubclass(args, Args)):
        raise TypeError(f"args of operation {name!r} must be an Args model class")

    def decorate(func: F) -> F:
        doc = (func.__doc__ or "").strip()
        text = description or (doc.splitlines()[0] if doc else name)
        OPERATIONS.add(name, OperationSpec(name, func, args, text, event))
        return func

    return decorate
