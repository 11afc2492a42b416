"""Product reviews: what customers write about the products, staff moderation of it, the shop's
public responses, and negative reviews escalated to service cases."""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.i18n import N_

GENERATION = "sandbox_crm.reviews.generation"

AREA = Area(
    name="reviews",
    label=N_("Product reviews"),
    modules=(
        "sandbox_crm.reviews.models",
        "sandbox_crm.reviews.generation",
        "sandbox_crm.reviews.operations",
        "sandbox_crm.reviews.sources",
        "sandbox_crm.reviews.plants",
    ),
    views=("sandbox_crm.reviews.views",),
    has_templates=True,
    nav=(NavLink("crm.reviews", "Reviews", "note", active=("crm.review",)),),
    stages=(
        Stage(
            "reviews.reviews",
            f"{GENERATION}:reviews",
            after=("customers.customers", "orders.products"),
        ),
    ),
    record_pages={"product_review": ("crm.review", "review_id")},
    call_entities={"review_id": "product_review"},
)
