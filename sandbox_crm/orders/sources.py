"""The orders report sources: orders with their customer, branch and totals; order lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    Branch,
    Customer,
    OrderLine,
    OrderStatus,
    Product,
    SalesChannel,
    SalesOrder,
    Sensitivity,
    Tier,
)
from sandbox_crm.sources import (
    QUALIFYING_ORDER_STATUSES,
    SOURCES,
    Field,
    QueryScope,
    Source,
    column_field,
    customer_fields,
    enum_values,
    index_fields,
    lookup_field,
)

P, S, INT = Sensitivity.PERSONAL, Sensitivity.SENSITIVE, Sensitivity.INTERNAL


def _order_branch(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(Branch.name)
        .where(Branch.id == SalesOrder.branch_id)
        .correlate(SalesOrder)
        .scalar_subquery()
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
    *customer_fields(SalesOrder, SalesOrder.customer_id),
    lookup_field(
        SalesOrder,
        Customer.id,
        SalesOrder.customer_id,
        "customer_tier",
        "Customer tier",
        "enum",
        INT,
        Customer.tier,
        choices=enum_values(Tier),
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


# --- order lines ------------------------------------------------------------------------------
#
# What was bought: one row per product on an order, with the product's category, so that sales
# and customers can be counted by category ("different customers" by category counts each
# customer once per category).


def _line_order(column: InstrumentedAttribute[Any]) -> Any:
    """Builder: ``column`` of the line's order (every line has one)."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(column)
            .where(SalesOrder.id == OrderLine.order_id)
            .correlate(OrderLine)
            .scalar_subquery()
        )

    return build


def _line_product(column: InstrumentedAttribute[Any]) -> Any:
    """Builder: ``column`` of the line's product (every line has one)."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(column)
            .where(Product.id == OrderLine.product_id)
            .correlate(OrderLine)
            .scalar_subquery()
        )

    return build


def _line_customer(column: InstrumentedAttribute[Any]) -> Any:
    """Builder: ``column`` of the customer who placed the line's order."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(column)
            .join(SalesOrder, SalesOrder.customer_id == Customer.id)
            .where(SalesOrder.id == OrderLine.order_id)
            .correlate(OrderLine)
            .scalar_subquery()
        )

    return build


def _line_is_sale(scope: QueryScope) -> ColumnElement[Any]:
    return exists().where(
        SalesOrder.id == OrderLine.order_id,
        SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES),
    )


SOURCES.add(
    "order_lines",
    Source(
        name="order_lines",
        label=N_("Order lines"),
        model=OrderLine,
        key_field="line_id",
        fields=index_fields(
            column_field("line_id", "Line ID", "int", INT, OrderLine.id),
            column_field("order_id", "Order ID", "int", INT, OrderLine.order_id),
            Field("order_no", "Order no.", "str", INT, _line_order(SalesOrder.order_no)),
            Field(
                "ordered_at",
                "Ordered at",
                "datetime",
                INT,
                _line_order(SalesOrder.ordered_at),
                nullable=False,
            ),
            Field(
                "status",
                "Status",
                "enum",
                INT,
                _line_order(SalesOrder.status),
                choices=enum_values(OrderStatus),
                nullable=False,
            ),
            Field(
                "is_sale",
                "Counts as a sale",
                "bool",
                INT,
                _line_is_sale,
                description=N_("Paid, shipped or completed (not pending, cancelled or refunded)."),
                nullable=False,
            ),
            Field(
                "channel",
                "Channel",
                "enum",
                INT,
                _line_order(SalesOrder.channel),
                choices=enum_values(SalesChannel),
                nullable=False,
            ),
            Field(
                "category",
                "Product category",
                "str",
                INT,
                _line_product(Product.category),
                nullable=False,
            ),
            Field("product", "Product", "str", INT, _line_product(Product.name), nullable=False),
            column_field("quantity", "Quantity", "int", INT, OrderLine.quantity),
            column_field(
                "line_total_hkd", "Line total (HK$)", "int", INT, OrderLine.line_total_hkd
            ),
            Field(
                "customer_id",
                "Customer ID",
                "int",
                INT,
                _line_order(SalesOrder.customer_id),
                nullable=False,
            ),
            Field(
                "customer_tier",
                "Customer tier",
                "enum",
                INT,
                _line_customer(Customer.tier),
                choices=enum_values(Tier),
            ),
            Field(
                "customer_district",
                "Customer district",
                "str",
                INT,
                _line_customer(Customer.district),
            ),
        ),
        default_columns=("order_no", "ordered_at", "category", "product", "line_total_hkd"),
    ),
)
