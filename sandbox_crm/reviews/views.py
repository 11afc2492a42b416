"""Review pages: the list (filters by status, sortable, a page at a time) and one review with the
shop's public response and the case that tracks it."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from werkzeug.wrappers import Response
from wtforms import TextAreaField

from sandbox_crm.cases.models import ServiceCase
from sandbox_crm.clock import sandbox_today
from sandbox_crm.customers.facts import has_search_index, matching_customers, phrase_match
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, Product
from sandbox_crm.query import compile_condition
from sandbox_crm.reviews.disclosure import MERGE_FIELDS
from sandbox_crm.reviews.models import ProductReview, ReviewEscalation, ReviewResponse
from sandbox_crm.reviews.operations import (
    EscalateReviewArgs,
    RespondArgs,
    escalate_review,
    respond_to_review,
)
from sandbox_crm.sources import QueryScope, get_source
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
from sandbox_crm.web.forms import limits
from sandbox_crm.web.i18n import L_

REVIEW_LIST = ListView(
    source="product_reviews",
    filters={"status": "status"},
    columns=[
        "review_id",
        "written_at",
        "product",
        "customer_id",
        "customer_member_no",
        "customer_name",
        "rating",
        "status",
        "text",
    ],
    sortable=("written_at", "product", "customer_member_no", "rating", "status"),
    default_sort=("written_at", "desc"),
)
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
    q = search_text()
    restrict = _search_restriction(q) if q else None
    extra = [search_condition(q, SEARCH_FIELDS)] if q and restrict is None else []
    return render_template("crm/reviews.html", q=q, **REVIEW_LIST.context(extra, restrict))


class RespondForm(FlaskForm):
    """The shop's public response to the review."""

    text = TextAreaField(L_("Response"), render_kw=limits(RespondArgs, "text"))


class EscalateForm(FlaskForm):
    """Open a complaint case for the review."""

    details = TextAreaField(
        L_("What to look into (optional)"), render_kw=limits(EscalateReviewArgs, "details")
    )


def _review_context(review_id: int, **forms: Any) -> dict[str, Any]:
    session = db()
    review = get_or_404(ProductReview, review_id, "review")
    escalation = session.scalar(
        select(ReviewEscalation).where(ReviewEscalation.review_id == review.id)
    )
    context = {
        "review": review,
        "customer": session.get(Customer, review.customer_id),
        "product": session.get(Product, review.product_id),
        "responses": session.scalars(
            select(ReviewResponse)
            .where(ReviewResponse.review_id == review.id)
            .order_by(ReviewResponse.id)
        ).all(),
        "case": session.get(ServiceCase, escalation.case_id) if escalation else None,
        "merge_fields": MERGE_FIELDS,
        "respond_form": RespondForm(),
        "escalate_form": EscalateForm(),
    }
    context.update(forms)
    return context


REVIEW_PAGE = RecordPage(
    "crm/review.html", _review_context, "product_review", "crm.review", "review_id"
)


@bp.get("/reviews/<int:review_id>")
def review(review_id: int) -> str:
    """One review: what the customer wrote, the shop's response and the case tracking it."""
    return REVIEW_PAGE.render(review_id)


@bp.post("/reviews/<int:review_id>/<any(respond, escalate):review_step>")
def review_action(review_id: int, review_step: str) -> Response | tuple[str, int]:
    """Respond to the review or escalate it to a case, through its operation."""
    get_or_404(ProductReview, review_id, "review")
    if review_step == "respond":
        form: FlaskForm = RespondForm()
        name, function, message = "respond_to_review", respond_to_review, N_("Response published.")
        values = {"text": (form.text.data or "").strip()}
        forms = {"respond_form": form}
    else:
        form = EscalateForm()
        name, function, message = "escalate_review", escalate_review, N_("Case opened.")
        values = {"details": (form.details.data or "").strip()}
        forms = {"escalate_form": form}

    def run() -> Any:
        return function(db(), actor(), review_id=review_id, **values)

    return REVIEW_PAGE.post_step(review_id, name, forms, run, message)
