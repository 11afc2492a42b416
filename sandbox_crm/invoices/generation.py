"""Generating invoices: one per recent jewellery order, paid unless the order is still pending.

No random draws: the invoices are derived from the orders, so every other area's data stays as
it was for the same spec. Anomalies and overdue invoices come from the scenarios' plants.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sandbox_crm.generator import GenerationRun, reusable
from sandbox_crm.invoices.models import Invoice, InvoicePayment, InvoiceStatus
from sandbox_crm.models import Profile, SalesOrder

INVOICE_DAYS = 120
"""Orders placed in this many days before the sandbox's today have an invoice."""
PAYMENT_TERMS_DAYS = 14


def invoice_number(number: int) -> str:
    """An invoice number as the CRM writes it (INV- and six digits)."""
    return f"INV-{number:06d}"


def invoices(run: GenerationRun) -> None:
    """Jewellery: an invoice per order of the last INVOICE_DAYS days that was not cancelled."""
    if run.profile != Profile.JEWELLERY:
        return
    orders = run.rows[SalesOrder] = reusable(run.rows.get(SalesOrder, ()))
    first_day = run.today - timedelta(days=INVOICE_DAYS)
    # The orders are streamed (made afresh from their columns); only the recent ones are kept.
    chosen = [
        order
        for order in orders
        if order["ordered_at"].date() >= first_day and order["status"] != "cancelled"
    ]

    def invoice_rows() -> Iterator[dict[str, Any]]:
        for number, order in enumerate(chosen, 1):
            paid = order["status"] != "pending"
            issued = order["ordered_at"].date()
            yield {
                "id": number,
                "invoice_no": invoice_number(number),
                "customer_id": order["customer_id"],
                "order_id": order["id"],
                "amount_hkd": order["total_hkd"],
                "paid_hkd": order["total_hkd"] if paid else 0,
                "issued_on": issued,
                "due_on": issued + timedelta(days=PAYMENT_TERMS_DAYS),
                "status": (InvoiceStatus.PAID if paid else InvoiceStatus.OPEN).value,
                "anomaly": "",
                "resolution": "",
                "resolution_note": "",
                "resolved_by_id": None,
                "resolved_at": None,
            }

    def payment_rows() -> Iterator[dict[str, Any]]:
        ids = itertools.count(1)
        for number, order in enumerate(chosen, 1):
            if order["status"] == "pending":
                continue
            yield {
                "id": next(ids),
                "invoice_id": number,
                "amount_hkd": order["total_hkd"],
                "paid_on": order["ordered_at"].date(),
                "method": "card" if order["channel"] == "eshop" else "counter",
                "recorded_by_id": order["staff_id"],
            }

    run.rows[Invoice] = invoice_rows()
    run.rows[InvoicePayment] = payment_rows()
