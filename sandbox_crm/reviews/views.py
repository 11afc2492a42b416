"""The review list: filters by status and rating, sortable, one page loaded at a time."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import or_

from sandbox_crm.clock import sandbox_today
from sandbox_crm.customers.facts import has_search_index, matching_customers, phrase_match
from sandbox_crm.query import compile_condition
from sandbox_crm.reviews.models import ProductReview
from sandbox_crm.sources import QueryScope, get_source
from sandbox_crm.web.core import bp, choice_filters, db, list_page, search_text

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


def _search_restriction(q: str) -> Any:
    """The search as SQL: the product or the review text contains ``q``, or the customer's
    name or member number does (looked up in the customers' search index). None without an
    index or with text too short for it: the list then searches with the condition."""
    match = phrase_match(q, ("name_en", "member_no"))
    if match is None or not has_search_index(db()):
        return None
    own = [{"field": name, "op": "contains", "value": q} for name in ("product", "text")]
    scope = QueryScope(sandbox_today(db()))
    return or_(
        compile_condition(get_source("product_reviews"), {"any": own}, scope),
        matching_customers(match, ProductReview.customer_id),
    )


@bp.get("/reviews")
def reviews() -> str:
    """Product reviews with a status filter, search, sort and pagination."""
    filters, conditions = choice_filters("product_reviews", LIST_FILTERS)
    q = search_text()
    restrict = _search_restriction(q) if q else None
    if q and restrict is None:
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
        restrict=restrict,
    )
    filtered = bool(conditions) or restrict is not None
    return render_template(
        "crm/reviews.html", listing=listing, q=q, filters=filters, filtered=filtered
    )
