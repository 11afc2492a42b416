"""Data sources for reports, segments and grader queries: named, typed fields over the sandbox.

A source is a table seen as rows (customers, orders) with a fixed set of fields. A field is an
SQL expression, either a plain column or a computed value (a customer's primary email, spend in
the last 12 months, current direct-marketing consent per channel). Computed fields are correlated
scalar subqueries that use the indexes in ``models.py``, so a page of rows is cheap however large
the sandbox is.

Time-dependent fields are evaluated "as of" a date (``QueryScope.as_of``): the state at the end
of that day on the sandbox clock. Orders and consent records after that day are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Date, Integer, func, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.consent import current_status_expression
from sandbox_crm.hk_provider import DISTRICTS
from sandbox_crm.models import (
    Branch,
    Channel,
    ConsentPurpose,
    ConsentStatus,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerStatus,
    OrderStatus,
    Region,
    SalesChannel,
    SalesOrder,
    SandboxBase,
    Sensitivity,
    SourceSystem,
    Tier,
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
    "Source",
    "end_of_day",
    "get_source",
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
    """What computed fields depend on: the sandbox date the query is evaluated at."""

    as_of: date


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


def _column(
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


def _primary_contact(
    kind: ContactKind, column: InstrumentedAttribute[Any]
) -> Callable[[QueryScope], ColumnElement[Any]]:
    """Expression builder: ``column`` of the customer's primary contact point of ``kind``."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(column)
            .where(ContactPoint.customer_id == Customer.id, ContactPoint.kind == kind.value)
            .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
            .limit(1)
            .correlate(Customer)
            .scalar_subquery()
        )

    return build


def _dm_status(channel: Channel) -> Callable[[QueryScope], ColumnElement[Any]]:
    """Expression builder: current direct-marketing consent status on ``channel``."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return current_status_expression(
            Customer.id,
            ConsentPurpose.DIRECT_MARKETING.value,
            channel.value,
            before=end_of_day(scope.as_of),
        )

    return build


def _qualifying_orders(scope: QueryScope, *, windowed: bool) -> list[ColumnElement[bool]]:
    """Conditions selecting the current customer's purchases (in the 12-month window if asked)."""
    start, end = spend_window(scope.as_of)
    conditions = [
        SalesOrder.customer_id == Customer.id,
        SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES),
        SalesOrder.ordered_at < end,
    ]
    if windowed:
        conditions.append(SalesOrder.ordered_at >= start)
    return conditions


def _spend_12m(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(func.coalesce(func.sum(SalesOrder.total_hkd), 0, type_=Integer))
        .where(*_qualifying_orders(scope, windowed=True))
        .correlate(Customer)
        .scalar_subquery()
    )


def _orders_12m(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(func.count(SalesOrder.id))
        .where(*_qualifying_orders(scope, windowed=True))
        .correlate(Customer)
        .scalar_subquery()
    )


def _last_order_date(scope: QueryScope) -> ColumnElement[Any]:
    latest = (
        select(func.max(SalesOrder.ordered_at))
        .where(*_qualifying_orders(scope, windowed=False))
        .correlate(Customer)
        .scalar_subquery()
    )
    return func.date(latest, type_=Date)


def _home_branch(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(Branch.name)
        .where(Branch.id == Customer.home_branch_id)
        .correlate(Customer)
        .scalar_subquery()
    )


def _order_branch(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(Branch.name)
        .where(Branch.id == SalesOrder.branch_id)
        .correlate(SalesOrder)
        .scalar_subquery()
    )


def _order_customer(
    name: str,
    label: str,
    type_: FieldType,
    sensitivity: Sensitivity,
    column: InstrumentedAttribute[Any],
    *,
    choices: tuple[str, ...] = (),
) -> Field:
    """A field that is ``column`` of the order's customer (every order has one)."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(column)
            .where(Customer.id == SalesOrder.customer_id)
            .correlate(SalesOrder)
            .scalar_subquery()
        )

    return Field(
        name,
        label,
        type_,
        sensitivity,
        build,
        choices,
        nullable=bool(column.property.columns[0].nullable),
        lookup=Lookup(SalesOrder.customer_id, Customer.id, column),
    )


def _values(enum_type: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum_type)


def _index(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


P, S, INT = Sensitivity.PERSONAL, Sensitivity.SENSITIVE, Sensitivity.INTERNAL


# --- customers --------------------------------------------------------------------------------

_DM_CHANNEL_LABELS = {
    Channel.EMAIL: "email",
    Channel.SMS: "SMS",
    Channel.PHONE: "phone calls",
    Channel.POST: "post",
}

CUSTOMER_FIELDS = _index(
    _column("customer_id", "Customer ID", "int", INT, Customer.id),
    _column("member_no", "Member no.", "str", P, Customer.member_no),
    _column("name_en", "Name (English)", "str", P, Customer.name_en),
    _column("name_zh", "Name (Chinese)", "str", P, Customer.name_zh),
    _column("gender", "Gender", "enum", P, Customer.gender, choices=GENDERS),
    Field(
        "email",
        "Email",
        "str",
        P,
        _primary_contact(ContactKind.EMAIL, ContactPoint.value),
        description="The customer's primary email address (first email if none is primary).",
    ),
    Field(
        "email_invalid",
        "Email flagged invalid",
        "bool",
        INT,
        _primary_contact(ContactKind.EMAIL, ContactPoint.is_invalid),
        description="Whether that email address is flagged invalid; empty if there is no email.",
    ),
    Field(
        "mobile",
        "Mobile",
        "str",
        P,
        _primary_contact(ContactKind.MOBILE, ContactPoint.value),
        description="The customer's primary mobile number.",
    ),
    Field(
        "mobile_invalid",
        "Mobile flagged invalid",
        "bool",
        INT,
        _primary_contact(ContactKind.MOBILE, ContactPoint.is_invalid),
        description="Whether that mobile number is flagged invalid; empty if there is none.",
    ),
    Field(
        "address",
        "Address",
        "str",
        P,
        _primary_contact(ContactKind.ADDRESS, ContactPoint.value),
        description="The customer's primary postal address.",
    ),
    _column("district", "District", "enum", INT, Customer.district, choices=tuple(DISTRICTS)),
    _column("region", "Region", "enum", INT, Customer.region, choices=_values(Region)),
    _column("tier", "Tier", "enum", INT, Customer.tier, choices=_values(Tier)),
    _column("status", "Status", "enum", INT, Customer.status, choices=_values(CustomerStatus)),
    _column("joined_on", "Joined on", "date", INT, Customer.joined_on),
    _column("birth_month", "Birth month", "int", P, Customer.birth_month),
    _column("date_of_birth", "Date of birth", "date", S, Customer.date_of_birth),
    _column("hkid", "HKID number", "str", S, Customer.hkid),
    _column(
        "notes",
        "Notes",
        "str",
        P,
        Customer.notes,
        description="Free-text notes by staff (may contain personal data).",
    ),
    _column(
        "preferred_language",
        "Preferred language",
        "enum",
        INT,
        Customer.preferred_language,
        choices=PREFERRED_LANGUAGES,
    ),
    _column(
        "source_system",
        "Source system",
        "enum",
        INT,
        Customer.source_system,
        choices=_values(SourceSystem),
    ),
    Field("home_branch", "Home branch", "str", INT, _home_branch),
    Field(
        "spend_12m",
        "Spend, last 12 months (HK$)",
        "int",
        INT,
        _spend_12m,
        description="Total of paid, shipped and completed orders in the 365 days up to today.",
        nullable=False,
    ),
    Field(
        "orders_12m",
        "Orders, last 12 months",
        "int",
        INT,
        _orders_12m,
        description="Number of paid, shipped and completed orders in the 365 days up to today.",
        nullable=False,
    ),
    Field(
        "last_order_date",
        "Last order date",
        "date",
        INT,
        _last_order_date,
        description="Date of the latest paid, shipped or completed order.",
    ),
    *(
        Field(
            f"dm_{channel.value}",
            f"Direct marketing by {label}",
            "enum",
            INT,
            _dm_status(channel),
            choices=CONSENT_CHOICES,
            description=(
                f"Current direct-marketing consent for {label}: the latest consent record's "
                "status, or not_asked if there is none."
            ),
            nullable=False,
        )
        for channel, label in _DM_CHANNEL_LABELS.items()
    ),
)

# --- orders -----------------------------------------------------------------------------------

ORDER_FIELDS = _index(
    _column("order_id", "Order ID", "int", INT, SalesOrder.id),
    _column("order_no", "Order no.", "str", INT, SalesOrder.order_no),
    _column("ordered_at", "Ordered at", "datetime", INT, SalesOrder.ordered_at),
    _column("status", "Status", "enum", INT, SalesOrder.status, choices=_values(OrderStatus)),
    _column("channel", "Channel", "enum", INT, SalesOrder.channel, choices=_values(SalesChannel)),
    _column("total_hkd", "Total (HK$)", "int", INT, SalesOrder.total_hkd),
    Field("branch", "Branch", "str", INT, _order_branch),
    _column("customer_id", "Customer ID", "int", INT, SalesOrder.customer_id),
    _order_customer("customer_member_no", "Member no.", "str", P, Customer.member_no),
    _order_customer("customer_name", "Customer name", "str", P, Customer.name_en),
    _order_customer(
        "customer_tier", "Customer tier", "enum", INT, Customer.tier, choices=_values(Tier)
    ),
)

SOURCES: Registry[Source] = Registry("report source", ("sandbox_crm.sources",))
"""The sources reports read, by name."""

SOURCES.add(
    "customers",
    Source(
        name="customers",
        label="Customers",
        model=Customer,
        key_field="customer_id",
        fields=CUSTOMER_FIELDS,
        default_columns=("member_no", "name_en", "tier", "district", "joined_on"),
    ),
)
SOURCES.add(
    "orders",
    Source(
        name="orders",
        label="Orders",
        model=SalesOrder,
        key_field="order_id",
        fields=ORDER_FIELDS,
        default_columns=("order_no", "ordered_at", "customer_member_no", "status", "total_hkd"),
    ),
)


def get_source(name: str) -> Source:
    """The source called ``name``; QueryError naming the known sources otherwise."""
    source = SOURCES.find(name)
    if source is None:
        known = ", ".join(SOURCES.in_order())
        raise QueryError(f"unknown source {name!r}; known sources: {known}")
    return source
