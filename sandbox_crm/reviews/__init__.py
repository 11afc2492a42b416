"""Product reviews: what customers wrote about the products they bought, and moderation."""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage

AREA = Area(
    name="reviews",
    label="Product reviews",
    modules=(
        "sandbox_crm.reviews.models",
        "sandbox_crm.reviews.generation",
        "sandbox_crm.reviews.sources",
        "sandbox_crm.reviews.operations",
    ),
    views=("sandbox_crm.reviews.views",),
    has_templates=True,
    nav=(NavLink("crm.reviews", "Reviews", "chart", active=("crm.review",)),),
    # Last, with its own random stream: the other areas' data stay as they were.
    stages=(
        Stage(
            "reviews.reviews", "sandbox_crm.reviews.generation:reviews", after=("reports.reports",)
        ),
    ),
    detail_keys={"review_id": "product_review"},
)
