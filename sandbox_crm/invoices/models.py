"""Invoices, the payments against them, the reminders sent and the anomalies found."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class InvoiceStatus(enum.StrEnum):
    """Where an invoice stands."""

    OPEN = "open"
    PAID = "paid"
    VOID = "void"


class AnomalyKind(enum.StrEnum):
    """What is wrong with an invoice."""

    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE = "duplicate"
    NO_ORDER = "no_order"


class AnomalyResolution(enum.StrEnum):
    """How an anomaly was dealt with."""

    VOIDED = "voided"
    CORRECTED = "corrected"
    LINKED = "linked"
    REVIEWED = "reviewed"


class Invoice(SandboxBase):
    """What a customer owes for an order (whole Hong Kong dollars), due on a date."""

    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_no: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"), index=True)
    amount_hkd: Mapped[int] = mapped_column(Integer)
    paid_hkd: Mapped[int] = mapped_column(Integer, default=0)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(8), default=InvoiceStatus.OPEN)
    anomaly: Mapped[str] = mapped_column(String(24), default="")
    """The anomaly found on the invoice ("" for none); kept once resolved, as its record."""
    resolution: Mapped[str] = mapped_column(String(16), default="")
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class InvoicePayment(SandboxBase):
    """A payment received against an invoice."""

    __tablename__ = "invoice_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_hkd: Mapped[int] = mapped_column(Integer)
    paid_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class PaymentReminder(SandboxBase):
    """A payment reminder sent for an invoice: the message, and the invoice as it was then."""

    __tablename__ = "payment_reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"))
    channel: Mapped[str] = mapped_column(String(16))
    balance_hkd: Mapped[int] = mapped_column(Integer)
    open_anomaly: Mapped[str] = mapped_column(String(24), default="")
    """The invoice's unresolved anomaly when the reminder was sent ("" for none)."""
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
