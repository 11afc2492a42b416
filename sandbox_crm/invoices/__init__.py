"""Invoices: what customers owe for their orders, payments, reminders and anomalies to track.

An invoice is issued for an order and is due on a date; payments settle it. Staff send a
payment reminder (a service message) only for an invoice that is due or overdue and unpaid, by
a channel the customer can be reached on. Anomalies (an amount that differs from the order's, a
second invoice for the same order, an invoice for no order) are flagged and each is resolved:
voided, corrected, linked to its order or marked reviewed with a reason. Generated for the
``jewellery`` profile only.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.i18n import N_

AREA = Area(
    name="invoices",
    label=N_("Invoices"),
    modules=(
        "sandbox_crm.invoices.models",
        "sandbox_crm.invoices.generation",
        "sandbox_crm.invoices.operations",
        "sandbox_crm.invoices.sources",
        "sandbox_crm.invoices.plants",
    ),
    views=("sandbox_crm.invoices.views",),
    has_templates=True,
    nav=(NavLink("crm.invoices", "Invoices", "note", active=("crm.invoice",)),),
    stages=(
        Stage(
            "invoices.invoices",
            "sandbox_crm.invoices.generation:invoices",
            after=("orders.status_history",),
        ),
    ),
    record_pages={"invoice": ("crm.invoice", "invoice_id")},
    call_entities={"invoice_id": "invoice"},
)
