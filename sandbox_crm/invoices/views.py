"""Invoice pages: the list (filters for status, anomaly, due for payment; sort; pages) and one
invoice with its payments, reminders and the forms to record a payment, send a reminder and
resolve an anomaly. Each form calls one operation and redirects; a refusal is audited.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from sandbox_crm.clock import sandbox_today
from sandbox_crm.i18n import N_
from sandbox_crm.invoices.anomalies import balance, detect_anomaly, is_due, open_anomaly
from sandbox_crm.invoices.models import (
    AnomalyResolution,
    Invoice,
    InvoicePayment,
    PaymentReminder,
)
from sandbox_crm.invoices.operations import (
    ResolveInvoiceArgs,
    SendReminderArgs,
    record_payment,
    resolve_invoice,
    send_payment_reminder,
)
from sandbox_crm.models import Channel, Customer, SalesOrder
from sandbox_crm.web.core import (
    ListView,
    RecordPage,
    actor,
    bp,
    db,
    get_or_404,
    search_condition,
    search_text,
)
from sandbox_crm.web.forms import code_choices, limits
from sandbox_crm.web.i18n import L_

INVOICE_LIST = ListView(
    source="invoices",
    filters={"status": "status", "anomaly": "anomaly"},
    columns=[
        "invoice_id",
        "invoice_no",
        "issued_on",
        "due_on",
        "status",
        "amount_hkd",
        "balance_hkd",
        "anomaly",
        "resolution",
        "order_no",
        "customer_id",
        "customer_member_no",
        "customer_name",
    ],
    sortable=("invoice_no", "issued_on", "due_on", "status", "amount_hkd", "balance_hkd"),
    default_sort=("due_on", "asc"),
)
SEARCH_FIELDS = ("invoice_no", "order_no", "customer_member_no", "customer_name")

# The codes the invoice pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("Void"),
    N_("Amount mismatch"),
    N_("Duplicate"),
    N_("No order"),
    N_("Voided"),
    N_("Corrected"),
    N_("Linked"),
    N_("Reviewed"),
    N_("Counter"),
    N_("Card"),
    N_("Bank transfer"),
    N_("Cheque"),
)


class PaymentForm(FlaskForm):
    """Record a payment received."""

    amount_hkd = IntegerField(L_("Amount (HK$)"), validators=[Optional()])
    method = SelectField(
        L_("Method"),
        choices=code_choices(("counter", "card", "bank_transfer", "cheque")),
        validate_choice=False,
    )


class ReminderForm(FlaskForm):
    """Send a payment reminder."""

    channel = SelectField(L_("Channel"), choices=code_choices(Channel), validate_choice=False)
    message = TextAreaField(
        L_("Added text (optional)"), render_kw=limits(SendReminderArgs, "message")
    )


class ResolveForm(FlaskForm):
    """Resolve the invoice's anomaly."""

    resolution = SelectField(
        L_("Resolution"), choices=code_choices(AnomalyResolution), validate_choice=False
    )
    note = TextAreaField(L_("Reason"), render_kw=limits(ResolveInvoiceArgs, "note"))
    amount_hkd = IntegerField(
        L_("Corrected amount (HK$; default: the order's total)"), validators=[Optional()]
    )
    order_no = StringField(
        L_("Order no. (to link; optional)"), render_kw=limits(ResolveInvoiceArgs, "order_no")
    )


@bp.get("/invoices")
def invoices() -> str:
    """Invoices with filters (status, anomaly, due for payment, anomalies open), sort, pages."""
    due = request.args.get("due") == "1"
    anomalies = request.args.get("anomalies") == "1"
    extra: list[dict[str, Any]] = []
    if due:
        extra.append({"field": "due", "op": "eq", "value": True})
    if anomalies:
        extra.append({"field": "anomaly_open", "op": "eq", "value": True})
    q = search_text()
    if q:
        extra.append(search_condition(q, SEARCH_FIELDS))
    context = INVOICE_LIST.context(extra)
    return render_template("crm/invoices.html", q=q, due=due, anomalies=anomalies, **context)


def _invoice_context(invoice_id: int, **forms: Any) -> dict[str, Any]:
    session = db()
    invoice = get_or_404(Invoice, invoice_id, "invoice")
    context = {
        "invoice": invoice,
        "customer": session.get(Customer, invoice.customer_id),
        "order": session.get(SalesOrder, invoice.order_id) if invoice.order_id else None,
        "balance": balance(invoice),
        "due": is_due(invoice, sandbox_today(session)),
        "open_anomaly": open_anomaly(invoice),
        "found_now": detect_anomaly(session, invoice),
        "payments": session.scalars(
            select(InvoicePayment)
            .where(InvoicePayment.invoice_id == invoice.id)
            .order_by(InvoicePayment.id)
        ).all(),
        "reminders": session.scalars(
            select(PaymentReminder)
            .where(PaymentReminder.invoice_id == invoice.id)
            .order_by(PaymentReminder.id)
        ).all(),
        "payment_form": PaymentForm(),
        "reminder_form": ReminderForm(),
        "resolve_form": ResolveForm(),
    }
    context.update(forms)
    return context


INVOICE_PAGE = RecordPage(
    "crm/invoice.html", _invoice_context, "invoice", "crm.invoice", "invoice_id"
)


@bp.get("/invoices/<int:invoice_id>")
def invoice(invoice_id: int) -> str:
    """One invoice: amounts, order, anomaly, payments, reminders and what can be done."""
    return INVOICE_PAGE.render(invoice_id)


# A step of working an invoice: its operation, the form it posts (by name in the page), the message.
_STEPS: dict[str, tuple[str, Any, str, type[FlaskForm], str]] = {
    "payment": (
        "record_payment",
        record_payment,
        "payment_form",
        PaymentForm,
        N_("Payment recorded."),
    ),
    "remind": (
        "send_payment_reminder",
        send_payment_reminder,
        "reminder_form",
        ReminderForm,
        N_("Reminder sent."),
    ),
    "resolve": (
        "resolve_invoice",
        resolve_invoice,
        "resolve_form",
        ResolveForm,
        N_("Anomaly resolved."),
    ),
}


def _values(step: str, form: Any) -> dict[str, Any]:
    """The operation's arguments from the step's posted form."""
    if step == "payment":
        return {"amount_hkd": form.amount_hkd.data or 0, "method": form.method.data}
    if step == "remind":
        return {"channel": form.channel.data, "message": (form.message.data or "").strip()}
    return {
        "resolution": form.resolution.data,
        "note": (form.note.data or "").strip(),
        "amount_hkd": form.amount_hkd.data,
        "order_no": (form.order_no.data or "").strip() or None,
    }


@bp.post("/invoices/<int:invoice_id>/<any(payment, remind, resolve):invoice_step>")
def invoice_action(invoice_id: int, invoice_step: str) -> Response | tuple[str, int]:
    """One step of working an invoice, through its operation."""
    get_or_404(Invoice, invoice_id, "invoice")
    name, function, form_name, form_class, message = _STEPS[invoice_step]
    form = form_class()

    def run() -> Any:
        return function(db(), actor(), invoice_id=invoice_id, **_values(invoice_step, form))

    return INVOICE_PAGE.post_step(invoice_id, name, {form_name: form}, run, message)
