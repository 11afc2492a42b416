"""Generating invoices: one per recent jewellery order, paid unless the order is still pending.

No random draws: the invoices are derived from the orders, so every other area's data stays as
it was for the same spec. Anomalies and overdue invoices come from the scenarios' plants.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sandbox_crm.generator import GenerationRun
from sandbox_crm.invoices.models import Invoice, InvoicePayment, InvoiceStatus
from sandbox_crm.models import Profile

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
    drafts = getattr(run, "order_drafts", [])
    first_day = run.today - timedelta(days=INVOICE_DAYS)
    chosen = [
        (order_id, draft)
        for order_id, draft in enumerate(drafts, 1)
        if draft[0].date() >= first_day and draft[5] != "cancelled"
    ]

    def invoice_rows() -> Iterator[dict[str, Any]]:
        for number, (order_id, (when, cid, _, _, _, status, lines)) in enumerate(chosen, 1):
            total = sum(quantity * price for _, quantity, price in lines)
            paid = status != "pending"
            yield {
                "id": number,
                "invoice_no": invoice_number(number),
                "customer_id": cid,
                "order_id": order_id,
                "amount_hkd": total,
                "paid_hkd": total if paid else 0,
                "issued_on": when.date(),
                "due_on": when.date() + timedelta(days=PAYMENT_TERMS_DAYS),
                "status": (InvoiceStatus.PAID if paid else InvoiceStatus.OPEN).value,
                "anomaly": "",
                "resolution": "",
                "resolution_note": "",
                "resolved_by_id": None,
                "resolved_at": None,
            }

    def payment_rows() -> Iterator[dict[str, Any]]:
        ids = itertools.count(1)
        for number, (_, (when, _, channel, _, staff, status, lines)) in enumerate(chosen, 1):
            if status == "pending":
                continue
            yield {
                "id": next(ids),
                "invoice_id": number,
                "amount_hkd": sum(quantity * price for _, quantity, price in lines),
                "paid_on": when.date(),
                "method": "card" if channel == "eshop" else "counter",
                "recorded_by_id": staff,
            }

    run.rows[Invoice] = invoice_rows()
    run.rows[InvoicePayment] = payment_rows()
