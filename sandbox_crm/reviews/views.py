"""The review list: newest first, filtered by status, sortable."""

from __future__ import annotations

from flask import render_template

from sandbox_crm.web.core import bp, choice_filters, list_page

LIST_COLUMNS = ["review_id", "posted_at", "product", "rating", "title", "status", "customer_id"]


@bp.get("/reviews")
def reviews() -> str:
    """Product reviews with a status filter, sort and pagination."""
    filters, conditions = choice_filters("reviews", {"status": "status"})
    listing = list_page(
        "reviews",
        conditions,
        columns=LIST_COLUMNS,
        sortable=("posted_at", "rating", "status"),
        default_sort=("posted_at", "desc"),
        per_page=50,
    )
    return render_template(
        "crm/reviews.html", listing=listing, filters=filters, filtered=bool(conditions)
    )
