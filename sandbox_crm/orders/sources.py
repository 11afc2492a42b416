"""The orders report source: orders with their customer, branch and totals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    Branch,
    Customer,
    OrderStatus,
    SalesChannel,
    SalesOrder,
    Sensitivity,
    Tier,
)
from sandbox_crm.sources import (
    SOURCES,
    Field,
    FieldType,
    Lookup,
    QueryScope,
    Source,
    column_field,
    enum_values,
    index_fields,
)

P, S, INT = Sensitivity.PERSONAL, Sensitivity.SENSITIVE, Sensitivity.INTERNAL


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


ORDER_FIELDS = index_fields(
    column_field("order_id", "Order ID", "int", INT, SalesOrder.id),
    column_field("order_no", "Order no.", "str", INT, SalesOrder.order_no),
    column_field("ordered_at", "Ordered at", "datetime", INT, SalesOrder.ordered_at),
    column_field(
        "status", "Status", "enum", INT, SalesOrder.status, choices=enum_values(OrderStatus)
    ),
    column_field(
        "channel", "Channel", "enum", INT, SalesOrder.channel, choices=enum_values(SalesChannel)
    ),
    column_field("total_hkd", "Total (HK$)", "int", INT, SalesOrder.total_hkd),
    Field("branch", "Branch", "str", INT, _order_branch),
    column_field("customer_id", "Customer ID", "int", INT, SalesOrder.customer_id),
    _order_customer("customer_member_no", "Member no.", "str", P, Customer.member_no),
    _order_customer("customer_name", "Customer name", "str", P, Customer.name_en),
    _order_customer(
        "customer_tier", "Customer tier", "enum", INT, Customer.tier, choices=enum_values(Tier)
    ),
)


SOURCES.add(
    "orders",
    Source(
        name="orders",
        label=N_("Orders"),
        model=SalesOrder,
        key_field="order_id",
        fields=ORDER_FIELDS,
        default_columns=("order_no", "ordered_at", "customer_member_no", "status", "total_hkd"),
    ),
)
