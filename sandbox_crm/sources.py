"""Data sources for reports, segments and grader queries: named, typed fields over the sandbox.

A source is a table seen as rows (customers, orders) with a fixed set of fields. A field is an
SQL expression, either a plain column or a computed value (a customer's primary email, spend in
the last 12 months, current direct-marketing consent per channel). Computed fields are correlated
scalar subqueries that use the indexes in ``models.py``, so a page of rows is cheap however large
the sandbox is.

Time-dependent fields are evaluated "as of" a date (``QueryScope.as_of``): the state at the end
of that day on the sandbox clock. Orders and consent records after that day are ignored.

A source may keep its computed fields in a read model (``ReadModel``): a table with one row per
entity holding each computed value as of one date, kept in step by the sandbox and indexed. A
query on that date reads the stored columns (joined on the key) instead of the correlated
subqueries; a query on any other date computes them as before, so results never depend on
which path ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.areas import area_modules
from sandbox_crm.models import (
    ConsentStatus,
    Customer,
    OrderStatus,
    SandboxBase,
    Sensitivity,
)
from sandbox_crm.registry import Registry

__all__ = [
    "FIELD_TYPES",
    "GENDERS",
    "PREFERRED_LANGUAGES",
    "QUALIFYING_ORDER_STATUSES",
    "SOURCES",
    "Field",
    "FieldType",
    "Lookup",
    "QueryError",
    "QueryScope",
    "ReadModel",
    "Source",
    "column_field",
    "customer_fields",
    "end_of_day",
    "enum_values",
    "index_fields",
    "get_source",
    "lookup_field",
    "spend_window",
]

FieldType = Literal["str", "int", "date", "datetime", "bool", "enum"]
FIELD_TYPES: tuple[str, ...] = ("str", "int", "date", "datetime", "bool", "enum")

GENDERS: tuple[str, ...] = ("F", "M")
PREFERRED_LANGUAGES: tuple[str, ...] = ("en", "zh")

# Orders that count as purchases for spend, order counts and recency.
QUALIFYING_ORDER_STATUSES: tuple[str, ...] = (
    OrderStatus.PAID.value,
    OrderStatus.SHIPPED.value,
    OrderStatus.COMPLETED.value,
)

CONSENT_CHOICES: tuple[str, ...] = tuple(s.value for s in ConsentStatus)


class QueryError(ValueError):
    """A condition, column or sort that does not fit the source; ``path`` locates the problem."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path


@dataclass(frozen=True)
class QueryScope:
    """What computed fields depend on: the sandbox date the query is evaluated at.

    ``stored`` is set by the query runner when the source's read model holds the values for
    ``as_of``: fields then read its columns instead of computing them.
    """

    as_of: date
    stored: bool = False


@dataclass(frozen=True)
class ReadModel:
    """A table of a source's computed fields, one row per entity, valid for one date.

    ``key`` is the table's column equal to the source's key; ``valid_on(session)`` tells the
    date its values are as of (None when the sandbox has no read model, e.g. an old template).
    """

    model: type[SandboxBase]
    key: InstrumentedAttribute[Any]
    valid_on: Callable[[Any], date | None]


@dataclass(frozen=True)
class Lookup:
    """Where a field's value lives when it is a column of the one row a foreign key points at.

    The foreign key must be NOT NULL and enforced, so that every row has exactly one such row:
    then "the field matches" is the same as "the foreign key is among the keys whose column
    matches", which the query compiler uses to read the other table once instead of once per
    row.
    """

    foreign_key: InstrumentedAttribute[Any]
    target_key: InstrumentedAttribute[Any]
    column: InstrumentedAttribute[Any]


@dataclass(frozen=True)
class Field:
    """One typed, labelled field of a source, with its SQL expression."""

    name: str
    label: str
    type: FieldType
    sensitivity: Sensitivity
    expr: Callable[[QueryScope], ColumnElement[Any]]
    choices: tuple[str, ...] = ()
    description: str = ""
    nullable: bool = True
    lookup: Lookup | None = None


@dataclass(frozen=True)
class Source:
    """A queryable set of rows (one per entity of ``model``) and its fields."""

    name: str
    label: str
    model: type[SandboxBase]
    key_field: str
    fields: Mapping[str, Field]
    default_columns: tuple[str, ...] = ()
    read_model: ReadModel | None = None

    def field(self, name: str) -> Field:
        """The field called ``name``; QueryError naming the known fields otherwise."""
        try:
            return self.fields[name]
        except (KeyError, TypeError):
            known = ", ".join(self.fields)
            raise QueryError(
                f"unknown field {name!r} for source {self.name!r}; known fields: {known}"
            ) from None


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (exclusive upper bound for "up to and including day")."""
    return datetime.combine(day + timedelta(days=1), time())


def spend_window(as_of: date) -> tuple[datetime, datetime]:
    """The 12-month spend window: [start, end) covering the 365 days up to and including as_of."""
    return datetime.combine(as_of - timedelta(days=364), time()), end_of_day(as_of)


# --- building blocks --------------------------------------------------------------------------


def column_field(
    name: str,
    label: str,
    type_: FieldType,
    sensitivity: Sensitivity,
    attr: InstrumentedAttribute[Any],
    *,
    choices: tuple[str, ...] = (),
    description: str = "",
) -> Field:
    """A field that is a plain column; nullability comes from the column."""
    nullable = bool(attr.property.columns[0].nullable)
    return Field(
        name, label, type_, sensitivity, lambda scope: attr, choices, description, nullable
    )


def lookup_field(
    model: type[Any],
    table_key: InstrumentedAttribute[Any],
    foreign_key: InstrumentedAttribute[Any],
    name: str,
    label: str,
    type_: FieldType,
    sensitivity: Sensitivity,
    column: InstrumentedAttribute[Any],
    *,
    choices: tuple[str, ...] = (),
    nullable: bool | None = None,
) -> Field:
    """A field that is ``column`` of the one row ``foreign_key`` (of ``model``) points at.

    ``nullable`` None takes the nullability of ``column``.
    """

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return select(column).where(table_key == foreign_key).correlate(model).scalar_subquery()

    if nullable is None:
        nullable = bool(column.property.columns[0].nullable)
    lookup = Lookup(foreign_key, table_key, column)
    return Field(name, label, type_, sensitivity, build, choices, nullable=nullable, lookup=lookup)


def customer_fields(
    model: type[Any], customer_key: InstrumentedAttribute[Any], *, nullable: bool | None = None
) -> list[Field]:
    """The customer ID, member no. and name fields of rows that each belong to one customer."""

    def of_customer(name: str, label: str, column: InstrumentedAttribute[Any]) -> Field:
        return lookup_field(
            model, Customer.id, customer_key, name, label, "str", P, column, nullable=nullable
        )

    return [
        column_field("customer_id", "Customer ID", "int", INT, customer_key),
        of_customer("customer_member_no", "Member no.", Customer.member_no),
        of_customer("customer_name", "Customer name", Customer.name_en),
    ]


def enum_values(enum_type: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum_type)


def index_fields(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


P, S, INT = Sensitivity.PERSONAL, Sensitivity.SENSITIVE, Sensitivity.INTERNAL


SOURCES: Registry[Source] = Registry("report source", area_modules, autoload=True)
"""The sources reports read, by name: each CRM area's ``sources`` module adds its own."""


def get_source(name: str) -> Source:
    """The source called ``name``; QueryError naming the known sources otherwise."""
    source = SOURCES.find(name)
    if source is None:
        known = ", ".join(SOURCES.names())
        raise QueryError(f"unknown source {name!r}; known sources: {known}")
    return source
