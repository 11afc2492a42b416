"""The order list: filters by status, channel and date, sortable, one page loaded at a time."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import render_template, request

from sandbox_crm.sources import get_source
from sandbox_crm.web.core import bp, page_of_rows, sort_from_request

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


def _date_arg(name: str) -> date | None:
    """A YYYY-MM-DD query argument, or None if missing or malformed."""
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/orders")
def orders() -> str:
    """Orders with filters (status, channel, date range, search), sort and pagination."""
    source = get_source("orders")
    conditions: list[dict[str, Any]] = []
    selected: dict[str, str] = {}
    for arg in ("status", "channel"):
        value = request.args.get(arg, "")
        if value in source.fields[arg].choices:
            selected[arg] = value
            conditions.append({"field": arg, "op": "eq", "value": value})
    date_from, date_to = _date_arg("from"), _date_arg("to")
    if date_from:
        conditions.append({"field": "ordered_at", "op": "ge", "value": date_from.isoformat()})
    if date_to:
        conditions.append({"field": "ordered_at", "op": "le", "value": date_to.isoformat()})
    q = request.args.get("q", "").strip()[:100]
    if q:
        conditions.append(
            {
                "any": [
                    {"field": name, "op": "contains", "value": q}
                    for name in ("order_no", "customer_member_no", "customer_name")
                ]
            }
        )
    sort_field, sort_dir = sort_from_request(SORTABLE, DEFAULT_SORT)
    page, pager = page_of_rows(
        "orders",
        where={"all": conditions} if conditions else None,
        columns=LIST_COLUMNS,
        sort=[(sort_field, sort_dir)],
        per_page=PER_PAGE,
    )
    return render_template(
        "crm/orders.html",
        rows=page.rows,
        pager=pager,
        q=q,
        statuses=source.fields["status"].choices,
        channels=source.fields["channel"].choices,
        selected=selected,
        date_from=date_from.isoformat() if date_from else "",
        date_to=date_to.isoformat() if date_to else "",
        filtered=bool(conditions),
        sort_field=sort_field,
        sort_dir=sort_dir,
        fields=source.fields,
    )
