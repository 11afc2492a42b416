"""The invoices report source: each invoice with its order, customer, balance and anomaly."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.invoices.models import AnomalyKind, AnomalyResolution, Invoice, InvoiceStatus
from sandbox_crm.models import SalesOrder, Sensitivity
from sandbox_crm.sources import (
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

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


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
    lookup_field(
        Invoice,
        SalesOrder.id,
        Invoice.order_id,
        "order_no",
        "Order no.",
        "str",
        INT,
        SalesOrder.order_no,
        nullable=True,
    ),
    lookup_field(
        Invoice,
        SalesOrder.id,
        Invoice.order_id,
        "order_total_hkd",
        N_("Order total (HK$)"),
        "int",
        INT,
        SalesOrder.total_hkd,
        nullable=True,
    ),
    *customer_fields(Invoice, Invoice.customer_id, nullable=True),
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
