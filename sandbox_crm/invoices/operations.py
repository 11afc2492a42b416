"""Working invoices: record a payment, send a payment reminder, resolve an anomaly.

A payment reminder is a service message (like one ``send_message`` sends), so the PDPO rules
on messages judge what rides with it: promotional wording to a customer who opted out of direct
marketing is a DM-08 breach. It is refused for an invoice that is not due, paid or void, and on a
channel the customer cannot be reached on.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.customers.operations import current_consent_status
from sandbox_crm.i18n import N_
from sandbox_crm.i18n import Message as Text
from sandbox_crm.invoices.anomalies import balance, is_due, open_anomaly, refresh_anomalies
from sandbox_crm.invoices.models import (
    AnomalyResolution,
    Invoice,
    InvoicePayment,
    InvoiceStatus,
    PaymentReminder,
)
from sandbox_crm.messages.operations import add_message, primary_contact_for
from sandbox_crm.models import (
    Channel,
    ConsentPurpose,
    MessageKind,
    SalesOrder,
    StaffUser,
)
from sandbox_crm.operations.base import (
    Arg,
    OperationError,
    RecordArgs,
    get_entity,
    id_by_reference,
    operation,
)

__all__ = [
    "InvoiceArgs",
    "RecordPaymentArgs",
    "ResolveInvoiceArgs",
    "SendReminderArgs",
    "record_payment",
    "reminder_text",
    "resolve_invoice",
    "send_payment_reminder",
]

NOTE_MAX_LENGTH = 500
_FIELDS = ["status", "amount_hkd", "paid_hkd", "order_id", "anomaly", "resolution"]


class InvoiceArgs(RecordArgs):
    """Arguments naming one invoice by id or by number."""

    id_field = "invoice_id"
    reference_field = "invoice_no"
    missing = N_("Invoice no. is required.")

    invoice_id: int | None = Arg(None, description="The invoice's id.")
    invoice_no: str | None = Arg(
        None,
        title="Invoice no.",
        max_length=16,
        description="The invoice's number (instead of id).",
    )

    def resolve_reference(self, session: Session, actor: StaffUser) -> int:
        """The id of the invoice with the number given."""
        number = self.invoice_no
        return id_by_reference(
            session,
            Invoice.id,
            Invoice.invoice_no,
            number,
            Text(N_("There is no invoice %(number)r."), number=number),
            "invoice_no",
        )


class RecordPaymentArgs(InvoiceArgs):
    """Arguments of record_payment."""

    amount_hkd: int = Arg(title="Amount (HK$)", gt=0, description="What the customer paid.")
    method: Literal["counter", "card", "bank_transfer", "cheque"] = Arg(
        "counter", title="Method", description="How it was paid."
    )


class SendReminderArgs(InvoiceArgs):
    """Arguments of send_payment_reminder."""

    channel: Channel = Arg(title="Channel", description="email, sms, phone (a call) or post.")
    message: str = Arg(
        "",
        title="Added text",
        max_length=NOTE_MAX_LENGTH,
        description="Anything added to the standard reminder (it goes to the customer).",
    )


class ResolveInvoiceArgs(InvoiceArgs):
    """Arguments of resolve_invoice."""

    resolution: AnomalyResolution = Arg(
        title="Resolution",
        description="voided, corrected (a new amount), linked (to its order) or reviewed.",
    )
    note: str = Arg(
        title="Reason", min_length=1, max_length=NOTE_MAX_LENGTH, description="Why, for the record."
    )
    amount_hkd: int | None = Arg(
        None,
        title="Corrected amount (HK$)",
        gt=0,
        description="The amount, when corrected (default: the order's total).",
    )
    order_no: str | None = Arg(
        None,
        title="Order no.",
        max_length=24,
        description="The order, when linked (default: the customer's one matching order).",
    )


def _invoice(session: Session, invoice_id: int) -> Invoice:
    return get_entity(session, Invoice, invoice_id, "invoice")


def _event(
    session: Session,
    actor: StaffUser,
    operation_event: str,
    invoice: Invoice,
    before: dict[str, Any],
    **details: Any,
) -> None:
    record_event(
        session,
        actor,
        operation_event,
        "invoice",
        invoice.id,
        before=before,
        after=snapshot(invoice, _FIELDS),
        details={"invoice_id": invoice.id, "customer_id": invoice.customer_id, **details},
    )


def _refuse_unless_open(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.OPEN:
        raise OperationError(
            Text(
                N_("Invoice %(number)s is %(status)s."),
                number=invoice.invoice_no,
                status=Text(invoice.status),
            )
        )


@operation(
    "record_payment",
    args=RecordPaymentArgs,
    event="invoice.payment",
    description="Record a payment received against an invoice.",
)
def record_payment(
    session: Session, actor: StaffUser, invoice_id: int, amount_hkd: int, method: str = "counter"
) -> Invoice:
    """Record the payment; an invoice settled in full becomes paid. Overpaying is refused."""
    invoice = _invoice(session, invoice_id)
    _refuse_unless_open(invoice)
    owed = balance(invoice)
    if amount_hkd > owed:
        raise OperationError(
            Text(
                N_("Invoice %(number)s has HK$%(owed)s to pay; HK$%(amount)s is more than that."),
                number=invoice.invoice_no,
                owed=f"{owed:,}",
                amount=f"{amount_hkd:,}",
            ),
            "amount_hkd",
        )
    before = snapshot(invoice, _FIELDS)
    session.add(
        InvoicePayment(
            invoice_id=invoice.id,
            amount_hkd=amount_hkd,
            paid_on=sandbox_today(session),
            method=method,
            recorded_by_id=actor.id,
        )
    )
    invoice.paid_hkd += amount_hkd
    if balance(invoice) == 0:
        invoice.status = InvoiceStatus.PAID.value
    session.flush()
    _event(session, actor, "invoice.payment", invoice, before, amount_hkd=amount_hkd)
    return invoice


def reminder_text(invoice: Invoice, owed: int) -> tuple[str, str]:
    """The subject and body of the standard payment reminder."""
    subject = f"Payment reminder: invoice {invoice.invoice_no}"
    body = (
        f"Our records show HK${owed:,} outstanding on invoice {invoice.invoice_no}, due on "
        f"{invoice.due_on.isoformat()}. If you have already paid, please ignore this reminder; "
        "otherwise please settle it at any of our shops or by bank transfer."
    )
    return subject, body


@operation(
    "send_payment_reminder",
    args=SendReminderArgs,
    event="invoice.remind",
    description="Send the customer a payment reminder for a due or overdue unpaid invoice.",
)
def send_payment_reminder(
    session: Session, actor: StaffUser, invoice_id: int, channel: str, message: str = ""
) -> Invoice:
    """Send the standard reminder (and any added text) as a service message."""
    invoice = _invoice(session, invoice_id)
    _refuse_unless_open(invoice)
    today = sandbox_today(session)
    if not is_due(invoice, today):
        raise OperationError(
            Text(
                N_("Invoice %(number)s is not due until %(due)s: no reminder is needed yet."),
                number=invoice.invoice_no,
                due=invoice.due_on.isoformat(),
            )
        )
    contact = primary_contact_for(session, invoice.customer_id, channel)
    if contact is None or contact.is_invalid:
        raise OperationError(
            Text(
                N_("The customer cannot be reached by %(channel)s: choose another channel."),
                channel=Text(channel),
            ),
            "channel",
        )
    owed = balance(invoice)
    subject, body = reminder_text(invoice, owed)
    if message:
        body = f"{body}\n\n{message}"
    now = sandbox_now(session)
    # A service message like one sent with send_message; the one audit event is the reminder's.
    sent = add_message(
        session,
        actor,
        contact,
        channel=channel,
        kind=MessageKind.SERVICE.value,
        subject=subject,
        body=body,
        has_opt_out_notice=False,
        sent_at=now,
    )
    reminder = PaymentReminder(
        invoice_id=invoice.id,
        message_id=sent.id,
        channel=channel,
        balance_hkd=owed,
        open_anomaly=open_anomaly(invoice),
        sent_at=now,
        staff_id=actor.id,
    )
    session.add(reminder)
    session.flush()
    consent = current_consent_status(
        session, invoice.customer_id, ConsentPurpose.DIRECT_MARKETING.value, channel
    )
    record_event(
        session,
        actor,
        "invoice.remind",
        "invoice",
        invoice.id,
        after={
            "reminder_id": reminder.id,
            "channel": channel,
            "to_address": contact.value,
            "balance_hkd": owed,
            "open_anomaly": reminder.open_anomaly,
            "body": body,
        },
        details={
            "invoice_id": invoice.id,
            "customer_id": invoice.customer_id,
            "message_id": sent.id,
            "contact_point_id": contact.id,
            "contact_opted_out": contact.opted_out,
            "dm_consent": consent,
        },
    )
    return invoice


def _order_to_link(session: Session, invoice: Invoice, order_no: str | None) -> SalesOrder:
    """The order named, or the customer's one order of the invoice's amount with no invoice."""
    if order_no:
        order = session.scalar(select(SalesOrder).where(SalesOrder.order_no == order_no))
        if order is None or order.customer_id != invoice.customer_id:
            raise OperationError(
                Text(N_("The customer has no order %(number)r."), number=order_no), "order_no"
            )
        return order
    invoiced = select(Invoice.order_id).where(
        Invoice.order_id.is_not(None), Invoice.status != InvoiceStatus.VOID.value
    )
    matches = session.scalars(
        select(SalesOrder)
        .where(
            SalesOrder.customer_id == invoice.customer_id,
            SalesOrder.total_hkd == invoice.amount_hkd,
            SalesOrder.status != "cancelled",
            SalesOrder.id.not_in(invoiced),
        )
        .order_by(SalesOrder.id)
        .limit(2)
    ).all()
    if len(matches) != 1:
        raise OperationError(
            Text(
                N_(
                    "No single order of this customer matches the invoice's amount and has no "
                    "invoice: give the order no."
                )
            ),
            "order_no",
        )
    return matches[0]


@operation(
    "resolve_invoice",
    args=ResolveInvoiceArgs,
    event="invoice.resolve",
    description="Resolve an invoice's anomaly: void it, correct it, link it or mark it reviewed.",
)
def resolve_invoice(
    session: Session,
    actor: StaffUser,
    invoice_id: int,
    resolution: str,
    note: str,
    amount_hkd: int | None = None,
    order_no: str | None = None,
) -> Invoice:
    """Resolve the invoice's open anomaly; an invoice with none to resolve is refused."""
    invoice = _invoice(session, invoice_id)
    if not open_anomaly(invoice):
        raise OperationError(
            Text(N_("Invoice %(number)s has no anomaly to resolve."), number=invoice.invoice_no)
        )
    before = snapshot(invoice, _FIELDS)
    related: list[Invoice] = []
    if resolution == AnomalyResolution.VOIDED:
        if invoice.paid_hkd:
            raise OperationError(
                Text(
                    N_("Invoice %(number)s has payments against it: correct it instead."),
                    number=invoice.invoice_no,
                ),
                "resolution",
            )
        invoice.status = InvoiceStatus.VOID.value
    elif resolution == AnomalyResolution.CORRECTED:
        if amount_hkd is None and invoice.order_id is not None:
            amount_hkd = session.get_one(SalesOrder, invoice.order_id).total_hkd
        if amount_hkd is None:
            raise OperationError(Text(N_("Corrected amount is required.")), "amount_hkd")
        if amount_hkd < invoice.paid_hkd:
            raise OperationError(
                Text(N_("The corrected amount is less than what was already paid.")),
                "amount_hkd",
            )
        invoice.amount_hkd = amount_hkd
        if balance(invoice) == 0 and invoice.status == InvoiceStatus.OPEN:
            invoice.status = InvoiceStatus.PAID.value
    elif resolution == AnomalyResolution.LINKED:
        order = _order_to_link(session, invoice, order_no)
        invoice.order_id = order.id
        related = [invoice]
    invoice.resolution = AnomalyResolution(resolution).value
    invoice.resolution_note = note
    invoice.resolved_by_id = actor.id
    invoice.resolved_at = sandbox_now(session)
    session.flush()
    refresh_anomalies(session, related)
    session.flush()
    _event(session, actor, "invoice.resolve", invoice, before, resolution=resolution)
    return invoice
