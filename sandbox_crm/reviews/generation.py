"""Generating reviews: about one customer in eight reviewed a product in the last year."""

from __future__ import annotations

import random
from datetime import timedelta

from sandbox_crm.generator import GenerationRun, derive_seed, moment
from sandbox_crm.models import Product
from sandbox_crm.reviews.models import ProductReview

_TITLES = {
    1: "Disappointed",
    2: "Not as described",
    3: "It is fine",
    4: "Good value",
    5: "Excellent, would buy again",
}


def reviews(run: GenerationRun) -> None:
    """Reviews of random products by random customers, posted in the last 365 days."""
    rng = random.Random(derive_seed(run.spec.seed, "reviews"))  # noqa: S311 - seeded test data
    products = [row["id"] for row in run.rows.get(Product, ())]
    customers = [member.row["id"] for member in run.members]
    rows = []
    for customer_id in customers:
        if not products or rng.randrange(8):
            continue
        rating = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
        day = run.today - timedelta(days=rng.randint(1, 365))
        rows.append(
            {
                "id": len(rows) + 1,
                "product_id": rng.choice(products),
                "customer_id": customer_id,
                "rating": rating,
                "title": _TITLES[rating],
                "body": "",
                "posted_at": moment(rng, day),
                "status": "published",
                "hidden_reason": "",
            }
        )
    run.rows[ProductReview] = rows
