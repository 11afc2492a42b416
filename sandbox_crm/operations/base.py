"""What every operation shares: the error type, the ``@operation`` registry, look-up and edits.

An operation is a plain function ``(session, actor, ...)`` registered with ``@operation`` under
a stable name together with its pydantic ``Args`` model, the single declaration of its
arguments: their types, labels, lengths, whether text is required and the allowed choices.
Every door validates through that model once: a web view calling the decorated function,
``apply_operation`` for scripts and the JSON API. ``argument_error`` turns pydantic's errors into
the one ``OperationError`` wording the forms show. The function then gets the parsed values
(``Args.call_arguments``: references such as a member number resolved to ids) and applies only
the rules that need the data (an unknown department, a report already shared ...).
``practicum operations`` documents the same models.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic import Field as Arg
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.areas import area_modules
from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import Customer, Department, SandboxBase, StaffUser
from sandbox_crm.registry import Registry

__all__ = [
    "OPERATIONS",
    "Arg",
    "Args",
    "CustomerArgs",
    "InvalidArguments",
    "RecordArgs",
    "OperationError",
    "OperationSpec",
    "operation",
    "apply_changes",
    "argument_error",
    "check_department",
    "choices_of",
    "find_by_code",
    "parse_arguments",
    "get_customer",
    "get_department",
    "get_entity",
    "id_by_reference",
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


def get_entity(session: Session, model: type[M], entity_id: int, label: str) -> M:
    """The row of ``model`` with this id; OperationError naming ``label`` if there is none."""
    entity = session.get(model, entity_id)
    if entity is None:
        raise OperationError(
            Message(N_("There is no %(label)s with id %(id)s."), label=Message(label), id=entity_id)
        )
    return entity


def id_by_reference(
    session: Session,
    id_column: Any,
    reference_column: Any,
    reference: str,
    not_found: str,
    field: str | None = None,
) -> int:
    """The id of the row whose reference is ``reference``; OperationError(not_found) if none."""
    found = session.scalar(select(id_column).where(reference_column == reference))
    if found is None:
        raise OperationError(not_found, field)
    return found


def check_department(
    actor: StaffUser, departments: Collection[str], refusal: str, *, admins: bool = False
) -> None:
    """Refuse (``refusal``) a disabled account, or staff whose department is not in the list.

    With ``admins``, an administrator account passes whatever its department.
    """
    code = actor.department.code if actor.department is not None else ""
    if not actor.is_active or not ((admins and actor.is_admin) or code in departments):
        raise OperationError(refusal)


def get_customer(session: Session, customer_id: int) -> Customer:
    """The customer with this id (OperationError if there is none)."""
    return get_entity(session, Customer, customer_id, "customer")


def find_by_code(
    session: Session,
    model: type[M],
    code: Any,
    unknown: str,
    field: str | None,
    *,
    known_order: Any = None,
) -> M:
    """The row of ``model`` with this ``code``; OperationError listing the known codes otherwise.

    ``unknown`` is a marked message with ``%(code)r`` and ``%(known)s``; the known codes are
    listed by ``known_order`` (by code if it is None).
    """
    code_column: Any = model.code  # type: ignore[attr-defined]
    if isinstance(code, str):
        found = session.scalars(select(model).where(code_column == code)).first()
        if found is not None:
            return found
    order = code_column if known_order is None else known_order
    known = ", ".join(session.scalars(select(code_column).order_by(order)))
    raise OperationError(Message(unknown, code=code, known=known), field)


def get_department(session: Session, code: Any, field: str = "department") -> Department:
    """The department with this code; OperationError listing the known codes otherwise."""
    return find_by_code(
        session,
        Department,
        code,
        N_("Unknown department %(code)r; known departments: %(known)s."),
        field,
    )


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
    stamp: str = "updated_at",
) -> None:
    """Set the checked ``values`` that differ and record one event with their before and after.

    Stamps ``stamp`` (``updated_at``) with the time on entities that have it. Raises
    OperationError(``unchanged``), having changed nothing, when every value is already the
    current one.
    """
    changed = [name for name, value in values.items() if getattr(entity, name) != value]
    if not changed:
        raise OperationError(unchanged)
    before = snapshot(entity, changed)
    for name in changed:
        setattr(entity, name, values[name])
    if hasattr(entity, stamp):
        setattr(entity, stamp, sandbox_now(session))
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


# --- arguments and their errors ---------------------------------------------------------------


class Args(BaseModel):
    """Base of every operation's arguments: unknown arguments are errors, text is stripped.

    Each field declares what the operation accepts: its ``title`` is the label error messages
    use, ``min_length=1`` makes text required, ``max_length`` bounds it, and a ``Literal`` or an
    enum lists the choices. ``from_call`` maps a direct call's parameters onto the fields;
    ``call_arguments`` turns the parsed arguments into the function's keyword arguments
    (models whose arguments name an entity another way, a member number or a report name,
    resolve it there).
    """

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, str_strip_whitespace=True, use_enum_values=True
    )

    @classmethod
    def from_call(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The plain arguments for a direct call's parameters (the same names, by default)."""
        return params

    @classmethod
    def label(cls, name: str) -> str:
        """The label of field ``name`` in messages (its title, else its name)."""
        info = cls.model_fields.get(name)
        return info.title if info is not None and info.title else name

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The operation function's keyword arguments (every field, by name)."""
        return {name: getattr(self, name) for name in type(self).model_fields}


def choices_of(annotation: Any) -> tuple[str, ...]:
    """The allowed values of a Literal or enum annotation (optional or not); () for others."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return tuple(str(value) for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return tuple(c for part in typing.get_args(annotation) for c in choices_of(part))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(str(member.value) for member in annotation)
    return ()


# Errors about the value of a known argument: a person could make them in a form, so the
# operation refuses them (an OperationError, audited). Any other error (an unknown or missing
# argument, a list where a number belongs) is a mistake in the call itself (InvalidArguments).
_VALUE_ERRORS = {
    "string_too_short",
    "string_too_long",
    "literal_error",
    "enum",
    "value_error",
    "bool_parsing",
    "bool_type",
}


def _value_message(model: type[Args], name: str, error: Any) -> str:
    label = model.label(name)
    kind, value = error["type"], error.get("input")
    if kind == "string_too_short":
        return f"{label} is required."
    if kind == "string_too_long":
        length = len(value.strip()) if isinstance(value, str) else "too many"
        limit = (error.get("ctx") or {}).get("max_length")
        return f"{label} is too long ({length} characters; at most {limit})."
    if kind in ("literal_error", "enum"):
        if isinstance(value, enum.Enum):
            value = value.value
        allowed = ", ".join(choices_of(model.model_fields[name].annotation))
        return f"{label} must be one of {allowed}; got {value!r}."
    if kind in ("bool_parsing", "bool_type"):
        return f"{label} must be true or false; got {value!r}."
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _call_problem(model: type[Args], error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    known = ", ".join(model.model_fields)
    if error["type"] == "extra_forbidden":
        return f"unknown argument {location!r} (known arguments: {known})"
    if error["type"] == "missing":
        return f"missing argument {location!r}"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"argument {location!r}: {message}" if location else message


def argument_error(model: type[Args], exc: ValidationError) -> OperationError:
    """The one translation of an Args model's validation errors into an OperationError.

    If every error is about the value of a known argument, an OperationError names the first,
    in the words the CRM's forms show (``"Note is required."``, ``"Tier must be one of ..."``)
    with its field. Otherwise InvalidArguments lists every problem with the call.
    """
    errors = exc.errors()
    values = [
        e
        for e in errors
        if e["type"] in _VALUE_ERRORS and e.get("loc") and str(e["loc"][0]) in model.model_fields
    ]
    if errors and len(values) == len(errors):
        name = str(values[0]["loc"][0])
        return OperationError(_value_message(model, name, values[0]), name)
    problems = "; ".join(
        _value_message(model, str(e["loc"][0]), e).rstrip(".")
        if e in values
        else _call_problem(model, e)
        for e in errors
    )
    return InvalidArguments(f"{problems[:1].upper()}{problems[1:]}.")


def parse_arguments(model: type[Args], values: dict[str, Any]) -> Args:
    """``values`` validated by ``model``; the OperationError of ``argument_error`` if they fail."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise argument_error(model, exc) from None


class RecordArgs(Args):
    """Arguments naming one record by its id or, instead, by a reference (a number, a name).

    A subclass declares both fields and names them in ``id_field`` and ``reference_field``;
    exactly one of the two must be given (with ``blank_reference_given`` false, an empty
    reference counts as not given). Where a form may leave the reference empty, ``missing`` is
    the refusal (a marked message naming the reference field) for neither, and an id given
    beside a reference is the one used. A reference found by an exact match in one column is
    declared with ``lookup`` (the id and reference columns) and ``not_found`` (a marked
    message with ``%(reference)r``), naming ``not_found_field`` if set; any other look-up
    overrides ``resolve_reference``. The operation function gets the record as ``id_field``.
    """

    id_field: ClassVar[str]
    reference_field: ClassVar[str]
    blank_reference_given: ClassVar[bool] = True
    lookup: ClassVar[tuple[Any, Any] | None] = None
    not_found: ClassVar[str] = ""
    not_found_field: ClassVar[str | None] = None
    missing: ClassVar[str] = ""

    @model_validator(mode="after")
    def _one_record(self) -> RecordArgs:
        if self.missing:
            return self
        reference = getattr(self, self.reference_field)
        missing = reference is None if self.blank_reference_given else not reference
        if (getattr(self, self.id_field) is None) == missing:
            raise ValueError(f"give either {self.id_field} or {self.reference_field}")
        return self

    def resolve_reference(self, session: Session, actor: StaffUser) -> int:
        """The id of the record the reference names (OperationError if there is none)."""
        if self.lookup is None:
            raise NotImplementedError(f"{type(self).__name__} declares no lookup")
        reference = getattr(self, self.reference_field)
        id_column, reference_column = self.lookup
        return id_by_reference(
            session,
            id_column,
            reference_column,
            reference,
            Message(self.not_found, reference=reference),
            self.not_found_field,
        )

    def record_id(self, session: Session, actor: StaffUser) -> int:
        """The record's id: the one given, or the one its reference names."""
        given = getattr(self, self.id_field)
        if given is not None:
            return given
        if self.missing and not getattr(self, self.reference_field):
            raise OperationError(Message(self.missing), self.reference_field)
        return self.resolve_reference(session, actor)

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """Every other field by name, and the record as ``id_field``."""
        values = super().call_arguments(session, actor)
        values.pop(self.reference_field)
        values[self.id_field] = self.record_id(session, actor)
        return values


class CustomerArgs(RecordArgs):
    """Arguments naming one customer by id or member number."""

    id_field = "customer_id"
    reference_field = "member_no"

    customer_id: int | None = Arg(None, description="The customer's id.")
    member_no: str | None = Arg(None, description="The customer's member number (instead of id).")

    def resolve_reference(self, session: Session, actor: StaffUser) -> int:
        """The id of the customer with the member number given."""
        return id_by_reference(
            session,
            Customer.id,
            Customer.member_no,
            self.member_no,
            Message(
                N_("There is no customer with member number %(number)r."), number=self.member_no
            ),
        )


# --- the operation registry -------------------------------------------------------------------


@dataclass(frozen=True)
class OperationSpec:
    """One registered operation: its function, argument model, description and audit event.

    ``func`` is the function as written, called with parsed arguments only; the module-level
    name of an operation is ``call``, which validates a direct call through the model first.
    """

    name: str
    func: Callable[..., Any]
    args_model: type[Args]
    description: str
    event: str
    signature: inspect.Signature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signature", inspect.signature(self.func))

    def parse(self, values: dict[str, Any]) -> Args:
        """Plain arguments validated by the operation's model (OperationError otherwise)."""
        return parse_arguments(self.args_model, values)

    def invoke(self, session: Session, actor: StaffUser, args: Args) -> Any:
        """Run the operation with arguments already parsed by its model."""
        return self.func(session, actor, **args.call_arguments(session, actor))

    def call(self, session: Session, actor: StaffUser, *args: Any, **kwargs: Any) -> Any:
        """Run the operation as its function's signature is called, validating via the model."""
        bound = self.signature.bind(session, actor, *args, **kwargs)
        params: dict[str, Any] = {}
        for name, value in list(bound.arguments.items())[2:]:
            if self.signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                params.update(value)
            else:
                params[name] = value
        return self.invoke(session, actor, self.parse(self.args_model.from_call(params)))


OPERATIONS: Registry[OperationSpec] = Registry("operation", area_modules, autoload=True)
"""Every operation of the enabled CRM areas, in registration order (areas in their order)."""


def operation(
    name: str, *, args: type[Args], event: str, description: str | None = None
) -> Callable[[F], F]:
    """Register the decorated function as operation ``name`` with its argument model.

    The decorated name validates every call through ``args`` before the function runs.
    """
    if not (isinstance(args, type) and issubclass(args, Args)):
        raise TypeError(f"args of operation {name!r} must be an Args model class")

    def decorate(func: F) -> F:
        doc = (func.__doc__ or "").strip()
        text = description or (doc.splitlines()[0] if doc else name)
        spec = OPERATIONS.add(name, OperationSpec(name, func, args, text, event))

        @functools.wraps(func)
        def call(session: Session, actor: StaffUser, *positional: Any, **keyword: Any) -> Any:
            return spec.call(session, actor, *positional, **keyword)

        call.operation = spec  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate
