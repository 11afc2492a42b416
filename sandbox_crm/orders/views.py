"""The order list: filters by status, channel and date, sortable, one page loaded at a time."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import render_template, request
from sqlalchemy import or_

from sandbox_crm.customers.facts import has_search_index, matching_customers, phrase_match
from sandbox_crm.models import SalesOrder
from sandbox_crm.web.core import bp, choice_filters, db, list_page, search_text

PER_PAGE = 50
LIST_COLUMNS = [
    "order_no",
    "ordered_at",
    "customer_id",
    "customer_member_no",
    "customer_name",
    "channel",
    "branch",
    "status",
    "total_hkd",
]
SORTABLE = ("order_no", "ordered_at", "customer_member_no", "channel", "status", "total_hkd")
DEFAULT_SORT = ("ordered_at", "desc")
# GET filters of the list: query argument -> source field (choices come from the source).
LIST_FILTERS = {"status": "status", "channel": "channel"}
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
    filters, conditions = choice_filters("orders", LIST_FILTERS)
    date_from, date_to = _date_arg("from"), _date_arg("to")
    if date_from:
        conditions.append({"field": "ordered_at", "op": "ge", "value": date_from.isoformat()})
    if date_to:
        conditions.append({"field": "ordered_at", "op": "le", "value": date_to.isoformat()})
    q = search_text()
    restrict = _search_restriction(q) if q else None
    if q and restrict is None:
        conditions.append(
            {"any": [{"field": name, "op": "contains", "value": q} for name in SEARCH_FIELDS]}
        )
    listing = list_page(
        "orders",
        conditions,
        columns=LIST_COLUMNS,
        sortable=SORTABLE,
        default_sort=DEFAULT_SORT,
        per_page=PER_PAGE,
        restrict=restrict,
    )
    return render_template(
        "crm/orders.html",
        listing=listing,
        q=q,
        filters=filters,
        date_from=date_from.isoformat() if date_from else "",
        date_to=date_to.isoformat() if date_to else "",
        filtered=bool(conditions) or restrict is not None,
    )
