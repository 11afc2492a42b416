"""Order pages: the list (filters by status, channel and date, sortable, a page at a time) and
one order with its real-time status, its status history and the form to move it on."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from werkzeug.wrappers import Response
from wtforms import SelectField, TextAreaField

from sandbox_crm.customers.facts import has_search_index, matching_customers, phrase_match
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, OrderLine, Product, SalesOrder, StaffUser
from sandbox_crm.orders.models import NEXT_STATUSES, FulfilmentStatus, OrderStatusChange
from sandbox_crm.orders.operations import (
    UpdateOrderStatusArgs,
    current_status,
    update_order_status,
)
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
from sandbox_crm.web.forms import limits, options
from sandbox_crm.web.i18n import L_, lazy_call
from sandbox_crm.web.presentation import label

ORDER_LIST = ListView(
    source="orders",
    filters={"status": "status", "channel": "channel"},
    columns=[
        "order_id",
        "order_no",
        "ordered_at",
        "customer_id",
        "customer_member_no",
        "customer_name",
        "channel",
        "branch",
        "status",
        "total_hkd",
    ],
    sortable=("order_no", "ordered_at", "customer_member_no", "channel", "status", "total_hkd"),
    default_sort=("ordered_at", "desc"),
)
SEARCH_FIELDS = ("order_no", "customer_member_no", "customer_name")


def _date_arg(name: str) -> date | None:
    """A YYYY-MM-DD query argument, or None if missing or malformed."""
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _search_restriction(q: str) -> Any:
    """The search as SQL: the order number contains ``q``, or the customer's name or member
    number does (looked up in the customers' search index). None without an index or with
    text too short for it: the list then searches with the condition."""
    match = phrase_match(q, ("name_en", "member_no"))
    if match is None or not has_search_index(db()):
        return None
    return or_(
        SalesOrder.order_no.icontains(q, autoescape=True),
        matching_customers(match, SalesOrder.customer_id),
    )


@bp.get("/orders")
def orders() -> str:
    """Orders with filters (status, channel, date range, search), sort and pagination."""
    extra: list[dict[str, Any]] = []
    date_from, date_to = _date_arg("from"), _date_arg("to")
    if date_from:
        extra.append({"field": "ordered_at", "op": "ge", "value": date_from.isoformat()})
    if date_to:
        extra.append({"field": "ordered_at", "op": "le", "value": date_to.isoformat()})
    q = search_text()
    restrict = _search_restriction(q) if q else None
    if q and restrict is None:
        extra.append(search_condition(q, SEARCH_FIELDS))
    return render_template(
        "crm/orders.html",
        q=q,
        date_from=date_from.isoformat() if date_from else "",
        date_to=date_to.isoformat() if date_to else "",
        **ORDER_LIST.context(extra, restrict),
    )


# The fulfilment statuses the order page shows through ``label``, marked for translation.
STATUS_LABELS = (
    N_("Placed"),
    N_("Paid"),
    N_("In workshop"),
    N_("Ready for collection"),
    N_("Collected"),
    N_("Delivered"),
    N_("Cancelled"),
    N_("Refunded"),
)


class OrderStatusForm(FlaskForm):
    """Move the order to its next status."""

    status = SelectField(
        L_("New status"),
        choices=options((s.value, lazy_call(label, s.value)) for s in FulfilmentStatus),
        validate_choice=False,
    )
    note = TextAreaField(L_("Note"), render_kw=limits(UpdateOrderStatusArgs, "note"))


def _order_context(order_id: int, **forms: Any) -> dict[str, Any]:
    session = db()
    order = get_or_404(SalesOrder, order_id, "order")
    history = session.execute(
        select(OrderStatusChange, StaffUser.full_name)
        .outerjoin(StaffUser, StaffUser.id == OrderStatusChange.staff_id)
        .where(OrderStatusChange.order_id == order.id)
        .order_by(OrderStatusChange.changed_at, OrderStatusChange.id)
    ).all()
    now = current_status(session, order)
    lines = session.execute(
        select(OrderLine, Product.name)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.id)
    ).all()
    context = {
        "order": order,
        "customer": session.get(Customer, order.customer_id),
        "status": now,
        "next_statuses": NEXT_STATUSES.get(now, ()),
        "history": history,
        "lines": lines,
        "status_form": OrderStatusForm(),
    }
    context.update(forms)
    return context


ORDER_PAGE = RecordPage("crm/order.html", _order_context, "sales_order", "crm.order", "order_id")


@bp.get("/orders/<int:order_id>")
def order(order_id: int) -> str:
    """One order: its lines, its status now and the history of how it got there."""
    return ORDER_PAGE.render(order_id)


@bp.post("/orders/<int:order_id>/status")
def order_status(order_id: int) -> Response | tuple[str, int]:
    """Move the order to another status through update_order_status."""
    get_or_404(SalesOrder, order_id, "order")
    form = OrderStatusForm()

    def run() -> Any:
        return update_order_status(
            db(), actor(), order_id=order_id, status=form.status.data, note=form.note.data or ""
        )

    message = N_("Order status updated.")
    return ORDER_PAGE.post_step(
        order_id, "update_order_status", {"status_form": form}, run, message
    )
