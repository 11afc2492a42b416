"""Generating product reviews: some members review a product they could have bought."""

from __future__ import annotations

import random
from datetime import timedelta

from sandbox_crm.generator import GenerationRun, chance, day_between, derive_seed, moment
from sandbox_crm.models import Product
from sandbox_crm.reviews.models import ProductReview, ReviewStatus

_PHRASES = {
    1: "Disappointed: it broke within a week.",
    2: "Not as described; the colour is different.",
    3: "It does the job, nothing special.",
    4: "Good quality for the price.",
    5: "Excellent, would buy again.",
}
_REVIEW_DAYS = 365


def reviews(run: GenerationRun) -> None:
    """About one member in twelve reviews a product; most reviews are already moderated.

    The stage draws from its own random stream, so adding it left every other area's data as it
    was for the same spec.
    """
    rng = random.Random(derive_seed(run.spec.seed, "reviews"))  # noqa: S311 - seeded test data
    products = [row["id"] for row in run.rows.get(Product, ()) if row["is_active"]]
    first_day = run.today - timedelta(days=_REVIEW_DAYS)
    last_day = run.today - timedelta(days=1)
    moderators = run.staff_by_dept["customer_service"] or [run.trainee_id]
    rows = []
    for member in run.members:
        if not products or not chance(rng, 80) or member.row["joined_on"] > last_day:
            continue
        rating = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
        written = moment(rng, day_between(rng, max(first_day, member.row["joined_on"]), last_day))
        recent = (run.day0 - written).days < 14
        status = ReviewStatus.PENDING if recent else ReviewStatus.PUBLISHED
        if not recent and rating == 1 and chance(rng, 300):
            status = ReviewStatus.REJECTED
        rows.append(
            {
                "id": len(rows) + 1,
                "customer_id": member.row["id"],
                "product_id": rng.choice(products),
                "rating": rating,
                "text": _PHRASES[rating],
                "status": status.value,
                "written_at": written,
                "moderated_by_id": None if recent else rng.choice(moderators),
                "moderated_at": None if recent else written + timedelta(days=1),
            }
        )
    run.rows[ProductReview] = rows
