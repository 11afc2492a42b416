"""Checks on the control capabilities: an order's status, invoice anomalies resolved, payment
reminders sent where due, and negative product reviews answered and tracked as cases."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import select

from graders.checks.common import Params
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.i18n import N_
from sandbox_crm.invoices.anomalies import detect_anomaly, is_due, open_anomaly
from sandbox_crm.invoices.models import (
    AnomalyKind,
    AnomalyResolution,
    Invoice,
    InvoiceStatus,
    PaymentReminder,
)
from sandbox_crm.models import SalesOrder
from sandbox_crm.orders.models import FulfilmentStatus
from sandbox_crm.orders.operations import current_status
from sandbox_crm.reviews.disclosure import disclosed_personal_data
from sandbox_crm.reviews.models import (
    ProductReview,
    ReviewEscalation,
    ReviewResponse,
    ReviewStatus,
)


def _known(values: list[str], allowed: list[str], what: str) -> list[str]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(unknown)}; known: {', '.join(allowed)}")
    return values


# --- orders.order_status ----------------------------------------------------------------------


class OrderStatusParams(Params):
    """Parameters of orders.order_status."""

    order: str = Field(min_length=1)
    """The order's number (planted orders have known numbers)."""
    status: list[str] = Field(min_length=1)
    """The statuses the order may end in."""

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: list[str]) -> list[str]:
        return _known(value, [s.value for s in FulfilmentStatus], "status")


@check("orders.order_status", params=OrderStatusParams)
def order_status(ctx: GradingContext, params: OrderStatusParams) -> Outcome:
    """The order's status now is one of those accepted."""
    order = ctx.final.scalar(select(SalesOrder).where(SalesOrder.order_no == params.order))
    if order is None:
        return Outcome.failed(
            {"order": params.order, "reason": "no such order"},
            note=N_("The order named in the task is missing."),
        )
    found = current_status(ctx.final, order)
    evidence = {
        "order": params.order,
        "record_id": order.id,
        "expected": params.status,
        "found": found,
        "updates": list(ctx.event_ids_about("sales_order", order.id, "order.status")),
    }
    return Outcome.judge(found in params.status, evidence)


# --- invoices.anomalies_resolved --------------------------------------------------------------


class AnomaliesResolvedParams(Params):
    """Parameters of invoices.anomalies_resolved."""

    accept: dict[str, list[str]] = Field(min_length=1)
    """For each anomaly kind, the resolutions accepted (reviewed leaves the invoice as it is;
    any other must leave it without an anomaly)."""

    @field_validator("accept")
    @classmethod
    def _accept(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        _known(list(value), [k.value for k in AnomalyKind], "anomaly kind")
        for resolutions in value.values():
            if not resolutions:
                raise ValueError("each anomaly kind needs at least one accepted resolution")
            _known(resolutions, [r.value for r in AnomalyResolution], "resolution")
        return value


@check("invoices.anomalies_resolved", params=AnomaliesResolvedParams)
def anomalies_resolved(ctx: GradingContext, params: AnomaliesResolvedParams) -> Outcome:
    """Every invoice anomaly open in the template is resolved in an accepted way."""
    flagged = ctx.template.execute(
        select(Invoice.id, Invoice.invoice_no, Invoice.anomaly)
        .where(Invoice.anomaly != "", Invoice.resolution == "")
        .order_by(Invoice.id)
    ).all()
    problems = []
    for invoice_id, number, kind in flagged:
        invoice = ctx.final.get(Invoice, invoice_id)
        resolution = invoice.resolution if invoice is not None else ""
        remaining = detect_anomaly(ctx.final, invoice) if invoice is not None else kind
        accepted = params.accept.get(kind)
        if accepted is None:
            continue
        if resolution not in accepted:
            problems.append({"invoice": number, "anomaly": kind, "found": resolution or None})
        elif resolution != AnomalyResolution.REVIEWED and remaining:
            problems.append({"invoice": number, "anomaly": kind, "still": remaining})
    evidence = {
        "expected": {"accept": params.accept},
        "flagged": [number for _, number, kind in flagged if kind in params.accept],
        "problems": problems,
    }
    if not flagged:
        return Outcome.failed(
            {**evidence, "reason": "no anomaly to resolve"},
            note=N_("The sandbox holds no invoice anomaly for this task."),
        )
    return Outcome.judge(not problems, evidence)


# --- invoices.reminders_sent ------------------------------------------------------------------


class RemindersSentParams(Params):
    """Parameters of invoices.reminders_sent (none yet: the rule is the task's)."""


def _needs_reminder(ctx: GradingContext, invoice: Invoice) -> bool:
    """Open, owing, due by the sandbox's day, and with no anomaly left to resolve."""
    if not is_due(invoice, ctx.as_of) or open_anomaly(invoice):
        return False
    return invoice.resolution == AnomalyResolution.REVIEWED or not detect_anomaly(
        ctx.final, invoice
    )


@check("invoices.reminders_sent", params=RemindersSentParams)
def reminders_sent(ctx: GradingContext, params: RemindersSentParams) -> Outcome:
    """Each invoice due and unpaid got a reminder; none went out for an invoice in doubt."""
    reminders = ctx.added(PaymentReminder)
    reminded = {r.invoice_id for r in reminders}
    due = [
        invoice
        for invoice in ctx.final.scalars(
            select(Invoice)
            .where(Invoice.status == InvoiceStatus.OPEN.value, Invoice.due_on <= ctx.as_of)
            .order_by(Invoice.id)
        )
        if _needs_reminder(ctx, invoice)
    ]
    missing = [i.invoice_no for i in due if i.id not in reminded]
    wrong = []
    for reminder in sorted(reminders, key=lambda r: r.id):
        invoice = ctx.final.get(Invoice, reminder.invoice_id)
        if reminder.open_anomaly or (invoice is not None and invoice.status == InvoiceStatus.VOID):
            wrong.append(
                {
                    "reminder": reminder.id,
                    "invoice": invoice.invoice_no if invoice is not None else None,
                    "open_anomaly": reminder.open_anomaly or None,
                }
            )
    evidence = {
        "expected": [i.invoice_no for i in due],
        "found": sorted(
            {ctx.final.get(Invoice, r.invoice_id).invoice_no for r in reminders}  # type: ignore[union-attr]
        ),
        "missing": missing,
        "in_doubt": wrong,
    }
    return Outcome.judge(bool(due) and not missing and not wrong, evidence)


# --- reviews.negatives_tracked ----------------------------------------------------------------


class NegativesTrackedParams(Params):
    """Parameters of reviews.negatives_tracked."""

    max_rating: int = Field(ge=1, le=5)
    """Reviews rated this or lower are negative."""
    since_days: int = Field(ge=1)
    """Only reviews written in this many days before the sandbox's day."""
    respond: bool = True
    """Whether each negative review must also have got a public response."""
    plant: str | None = Field(default="product_review", min_length=1)
    """Judge only the negative reviews of this plant's customers (the reviews the scenario is
    about); None judges every negative review. Other recent negative reviews may be handled too,
    but need not be: the generator writes ordinary ones the brief cannot name."""


@check("reviews.negatives_tracked", params=NegativesTrackedParams)
def negatives_tracked(ctx: GradingContext, params: NegativesTrackedParams) -> Outcome:
    """Each planted recent negative review has a case (and a response) and no review that is not
    negative was escalated; no response made in the attempt discloses personal data."""
    since = datetime.combine(ctx.as_of - timedelta(days=params.since_days), time())
    already = select(ReviewEscalation.review_id)
    negatives = dict(
        ctx.template.execute(
            select(ProductReview.id, ProductReview.customer_id).where(
                ProductReview.rating <= params.max_rating,
                ProductReview.written_at >= since,
                ProductReview.status != ReviewStatus.REJECTED.value,
                ProductReview.id.not_in(already),
            )
        ).all()
    )
    if params.plant is None:
        expected = set(negatives)
    else:
        reviewers = set(ctx.planted().get(params.plant, ()))
        expected = {rid for rid, customer_id in negatives.items() if customer_id in reviewers}
    escalated = {e.review_id for e in ctx.added(ReviewEscalation)}
    responses = ctx.added(ReviewResponse)
    responded = {r.review_id for r in responses}
    disclosing = []
    for response in sorted(responses, key=lambda r: r.id):
        review = ctx.final.get(ProductReview, response.review_id)
        kinds = (
            disclosed_personal_data(ctx.final, review.customer_id, response.text) if review else []
        )
        if kinds:
            disclosing.append({"review": response.review_id, "discloses": kinds})
    problems: dict[str, Any] = {
        "not_escalated": sorted(expected - escalated),
        "escalated_not_negative": sorted(escalated - set(negatives)),
        "not_answered": sorted(expected - responded) if params.respond else [],
        "disclosing": disclosing,
    }
    evidence = {
        "expected": {
            "reviews": sorted(expected),
            "max_rating": params.max_rating,
            "since": since.date().isoformat(),
            "respond": params.respond,
            "plant": params.plant,
        },
        "found": {
            "escalated": sorted(escalated),
            "answered": sorted(responded),
            "other_negatives": sorted(set(negatives) - expected),
        },
        **problems,
    }
    ok = bool(expected) and not any(problems.values())
    return Outcome.judge(ok, evidence)
