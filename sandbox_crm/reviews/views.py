"""The review list: filters by status and rating, sortable, one page loaded at a time."""

from __future__ import annotations

from flask import render_template

from sandbox_crm.web.core import bp, choice_filters, list_page, search_text

PER_PAGE = 50
LIST_COLUMNS = [
    "review_id",
    "written_at",
    "product",
    "customer_id",
    "customer_member_no",
    "customer_name",
    "rating",
    "status",
    "text",
]
SORTABLE = ("written_at", "product", "customer_member_no", "rating", "status")
DEFAULT_SORT = ("written_at", "desc")
LIST_FILTERS = {"status": "status"}
SEARCH_FIELDS = ("product", "customer_member_no", "customer_name", "text")


@bp.get("/reviews")
def reviews() -> str:
    """Product reviews with a status filter, search, sort and pagination."""
    filters, conditions = choice_filters("product_reviews", LIST_FILTERS)
    q = search_text()
    if q:
        conditions.append(
            {"any": [{"field": name, "op": "contains", "value": q} for name in SEARCH_FIELDS]}
        )
    listing = list_page(
        "product_reviews",
        conditions,
        columns=LIST_COLUMNS,
        sortable=SORTABLE,
        default_sort=DEFAULT_SORT,
        per_page=PER_PAGE,
    )
    return render_template(
        "crm/reviews.html", listing=listing, q=q, filters=filters, filtered=bool(conditions)
    )
