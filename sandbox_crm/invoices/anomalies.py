"""Finding what is wrong with an invoice, from the invoice and its order alone."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.invoices.models import AnomalyKind, Invoice, InvoiceStatus
from sandbox_crm.models import SalesOrder

__all__ = ["balance", "detect_anomaly", "is_due", "open_anomaly", "refresh_anomalies"]


def detect_anomaly(session: Session, invoice: Invoice) -> str:
    """The anomaly the invoice has now ("" for none; a void invoice has none)."""
    if invoice.status == InvoiceStatus.VOID:
        return ""
    if invoice.order_id is None:
        return AnomalyKind.NO_ORDER.value
    earlier = session.scalar(
        select(Invoice.id)
        .where(
            Invoice.order_id == invoice.order_id,
            Invoice.id < invoice.id,
            Invoice.status != InvoiceStatus.VOID.value,
        )
        .limit(1)
    )
    if earlier is not None:
        return AnomalyKind.DUPLICATE.value
    total = session.scalar(select(SalesOrder.total_hkd).where(SalesOrder.id == invoice.order_id))
    if total != invoice.amount_hkd:
        return AnomalyKind.AMOUNT_MISMATCH.value
    return ""


def open_anomaly(invoice: Invoice) -> str:
    """The invoice's flagged anomaly if it is not resolved yet ("" otherwise)."""
    return "" if invoice.resolution else invoice.anomaly


def refresh_anomalies(session: Session, invoices: list[Invoice]) -> None:
    """Flag a newly found anomaly on each invoice (one already flagged and open is kept)."""
    for invoice in invoices:
        found = detect_anomaly(session, invoice)
        if found and found != open_anomaly(invoice):
            invoice.anomaly = found
            invoice.resolution = ""
            invoice.resolution_note = ""
            invoice.resolved_by_id = None
            invoice.resolved_at = None


def balance(invoice: Invoice) -> int:
    """What is still owed on the invoice (0 for a void or settled one)."""
    if invoice.status == InvoiceStatus.VOID:
        return 0
    return max(0, invoice.amount_hkd - invoice.paid_hkd)


def is_due(invoice: Invoice, today: date) -> bool:
    """Whether a reminder may be sent: open, something owed, and due today or earlier."""
    return invoice.status == InvoiceStatus.OPEN and balance(invoice) > 0 and invoice.due_on <= today
