"""The customers report source: a customer's details, contacts, consents and spend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Date, Integer, func, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.consent import current_status_expression
from sandbox_crm.hk_provider import DISTRICTS
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import (
    Branch,
    Channel,
    ConsentPurpose,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerStatus,
    Region,
    SalesOrder,
    Sensitivity,
    SourceSystem,
    Tier,
)
from sandbox_crm.sources import (
    CONSENT_CHOICES,
    GENDERS,
    PREFERRED_LANGUAGES,
    QUALIFYING_ORDER_STATUSES,
    SOURCES,
    Field,
    QueryScope,
    Source,
    column_field,
    end_of_day,
    enum_values,
    index_fields,
    spend_window,
)

P, S, INT = Sensitivity.PERSONAL, Sensitivity.SENSITIVE, Sensitivity.INTERNAL


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


# --- customers --------------------------------------------------------------------------------

_DM_CHANNEL_LABELS = {
    Channel.EMAIL: N_("email"),
    Channel.SMS: N_("SMS"),
    Channel.PHONE: N_("phone calls"),
    Channel.POST: N_("post"),
}
_DM_DESCRIPTION = N_(
    "Current direct-marketing consent for %(channel)s: the latest consent record's status, or"
    " not_asked if there is none."
)
# The labels the direct-marketing fields are given below, marked so that pages translate them.
_DM_FIELD_LABELS = (
    N_("Direct marketing by email"),
    N_("Direct marketing by SMS"),
    N_("Direct marketing by phone calls"),
    N_("Direct marketing by post"),
)

CUSTOMER_FIELDS = index_fields(
    column_field("customer_id", "Customer ID", "int", INT, Customer.id),
    column_field("member_no", "Member no.", "str", P, Customer.member_no),
    column_field("name_en", "Name (English)", "str", P, Customer.name_en),
    column_field("name_zh", "Name (Chinese)", "str", P, Customer.name_zh),
    column_field("gender", "Gender", "enum", P, Customer.gender, choices=GENDERS),
    Field(
        "email",
        "Email",
        "str",
        P,
        _primary_contact(ContactKind.EMAIL, ContactPoint.value),
        description=N_("The customer's primary email address (first email if none is primary)."),
    ),
    Field(
        "email_invalid",
        "Email flagged invalid",
        "bool",
        INT,
        _primary_contact(ContactKind.EMAIL, ContactPoint.is_invalid),
        description=N_(
            "Whether that email address is flagged invalid; empty if there is no email."
        ),
    ),
    Field(
        "mobile",
        "Mobile",
        "str",
        P,
        _primary_contact(ContactKind.MOBILE, ContactPoint.value),
        description=N_("The customer's primary mobile number."),
    ),
    Field(
        "mobile_invalid",
        "Mobile flagged invalid",
        "bool",
        INT,
        _primary_contact(ContactKind.MOBILE, ContactPoint.is_invalid),
        description=N_("Whether that mobile number is flagged invalid; empty if there is none."),
    ),
    Field(
        "address",
        "Address",
        "str",
        P,
        _primary_contact(ContactKind.ADDRESS, ContactPoint.value),
        description=N_("The customer's primary postal address."),
    ),
    column_field("district", "District", "enum", INT, Customer.district, choices=tuple(DISTRICTS)),
    column_field("region", "Region", "enum", INT, Customer.region, choices=enum_values(Region)),
    column_field("tier", "Tier", "enum", INT, Customer.tier, choices=enum_values(Tier)),
    column_field(
        "status", "Status", "enum", INT, Customer.status, choices=enum_values(CustomerStatus)
    ),
    column_field("joined_on", "Joined on", "date", INT, Customer.joined_on),
    column_field("birth_month", "Birth month", "int", P, Customer.birth_month),
    column_field("date_of_birth", "Date of birth", "date", S, Customer.date_of_birth),
    column_field("hkid", "HKID number", "str", S, Customer.hkid),
    column_field(
        "notes",
        "Notes",
        "str",
        P,
        Customer.notes,
        description=N_("Free-text notes by staff (may contain personal data)."),
    ),
    column_field(
        "preferred_language",
        "Preferred language",
        "enum",
        INT,
        Customer.preferred_language,
        choices=PREFERRED_LANGUAGES,
    ),
    column_field(
        "source_system",
        "Source system",
        "enum",
        INT,
        Customer.source_system,
        choices=enum_values(SourceSystem),
    ),
    Field("home_branch", "Home branch", "str", INT, _home_branch),
    Field(
        "spend_12m",
        "Spend, last 12 months (HK$)",
        "int",
        INT,
        _spend_12m,
        description=N_("Total of paid, shipped and completed orders in the 365 days up to today."),
        nullable=False,
    ),
    Field(
        "orders_12m",
        "Orders, last 12 months",
        "int",
        INT,
        _orders_12m,
        description=N_("Number of paid, shipped and completed orders in the 365 days up to today."),
        nullable=False,
    ),
    Field(
        "last_order_date",
        "Last order date",
        "date",
        INT,
        _last_order_date,
        description=N_("Date of the latest paid, shipped or completed order."),
    ),
    *(
        Field(
            f"dm_{channel.value}",
            f"Direct marketing by {label}",
            "enum",
            INT,
            _dm_status(channel),
            choices=CONSENT_CHOICES,
            description=Message(_DM_DESCRIPTION, channel=Message(label)),
            nullable=False,
        )
        for channel, label in _DM_CHANNEL_LABELS.items()
    ),
)

# --- orders -----------------------------------------------------------------------------------


SOURCES.add(
    "customers",
    Source(
        name="customers",
        label=N_("Customers"),
        model=Customer,
        key_field="customer_id",
        fields=CUSTOMER_FIELDS,
        default_columns=("member_no", "name_en", "tier", "district", "joined_on"),
    ),
)
