"""The invoices report source: each invoice with its order, customer, balance and anomaly."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.invoices.models import AnomalyKind, AnomalyResolution, Invoice, InvoiceStatus
from sandbox_crm.models import Customer, SalesOrder, Sensitivity
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

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


def _of_the_invoice(
    table_key: InstrumentedAttribute[Any],
    foreign_key: InstrumentedAttribute[Any],
    name: str,
    label: str,
    type_: FieldType,
    sensitivity: Sensitivity,
    column: InstrumentedAttribute[Any],
) -> Field:
    """A field that is ``column`` of the one row ``foreign_key`` points at."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return select(column).where(table_key == foreign_key).correlate(Invoice).scalar_subquery()

    lookup = Lookup(foreign_key, table_key, column)
    return Field(name, label, type_, sensitivity, build, nullable=True, lookup=lookup)


def _balance(scope: QueryScope) -> ColumnElement[Any]:
    return Invoice.amount_hkd - Invoice.paid_hkd


def _overdue(scope: QueryScope) -> ColumnElement[Any]:
    """Open, something still owed, and due on or before the query's day."""
    return and_(
        Invoice.status == InvoiceStatus.OPEN.value,
        Invoice.amount_hkd > Invoice.paid_hkd,
        Invoice.due_on <= scope.as_of,
    )


def _anomaly_open(scope: QueryScope) -> ColumnElement[Any]:
    return and_(Invoice.anomaly != "", Invoice.resolution == "")


INVOICE_FIELDS = index_fields(
    column_field("invoice_id", "Invoice ID", "int", INT, Invoice.id),
    column_field("invoice_no", "Invoice no.", "str", INT, Invoice.invoice_no),
    column_field("issued_on", "Issued", "date", INT, Invoice.issued_on),
    column_field("due_on", "Due", "date", INT, Invoice.due_on),
    column_field(
        "status", "Status", "enum", INT, Invoice.status, choices=enum_values(InvoiceStatus)
    ),
    column_field("amount_hkd", "Amount (HK$)", "int", INT, Invoice.amount_hkd),
    column_field("paid_hkd", "Paid (HK$)", "int", INT, Invoice.paid_hkd),
    Field("balance_hkd", "Balance (HK$)", "int", INT, _balance, nullable=False),
    Field(
        "due",
        "Due for payment",
        "bool",
        INT,
        _overdue,
        description="Open, not fully paid, and due on or before the day of the query.",
        nullable=False,
    ),
    column_field(
        "anomaly",
        "Anomaly",
        "enum",
        INT,
        Invoice.anomaly,
        choices=("", *enum_values(AnomalyKind)),
    ),
    Field(
        "anomaly_open",
        "Anomaly to resolve",
        "bool",
        INT,
        _anomaly_open,
        description="An anomaly was found and is not resolved yet.",
        nullable=False,
    ),
    column_field(
        "resolution",
        "Resolution",
        "enum",
        INT,
        Invoice.resolution,
        choices=("", *enum_values(AnomalyResolution)),
    ),
    _of_the_invoice(
        SalesOrder.id, Invoice.order_id, "order_no", "Order no.", "str", INT, SalesOrder.order_no
    ),
    _of_the_invoice(
        SalesOrder.id,
        Invoice.order_id,
        "order_total_hkd",
        N_("Order total (HK$)"),
        "int",
        INT,
        SalesOrder.total_hkd,
    ),
    column_field("customer_id", "Customer ID", "int", INT, Invoice.customer_id),
    _of_the_invoice(
        Customer.id,
        Invoice.customer_id,
        "customer_member_no",
        "Member no.",
        "str",
        P,
        Customer.member_no,
    ),
    _of_the_invoice(
        Customer.id,
        Invoice.customer_id,
        "customer_name",
        "Customer name",
        "str",
        P,
        Customer.name_en,
    ),
)

SOURCES.add(
    "invoices",
    Source(
        name="invoices",
        label=N_("Invoices"),
        model=Invoice,
        key_field="invoice_id",
        fields=INVOICE_FIELDS,
        default_columns=("invoice_no", "due_on", "status", "balance_hkd", "customer_member_no"),
    ),
)
