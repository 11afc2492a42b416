"""Plants for control scenarios: a customer's review of a product they bought, of a given rating
and age, so that a scenario can ask for negative reviews to be answered and tracked."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.models import Customer, CustomerStatus, OrderLine, SalesOrder
from sandbox_crm.plants import PlantResult, PlantRun, plant
from sandbox_crm.reviews.models import ProductReview, ReviewStatus


@plant(
    "product_review",
    defaults={"rating": 1, "days_ago": 3, "text": "", "status": "published"},
    choices={"rating": (1, 2, 3, 4, 5), "status": ("pending", "published")},
)
def product_review(session: Session, run: PlantRun) -> PlantResult:
    """``count`` customers each review a product from their latest completed order."""
    p = run.params
    reviewers = select(ProductReview.customer_id)
    latest = (
        select(SalesOrder.customer_id, func.max(SalesOrder.id).label("order_id"))
        .where(SalesOrder.status == "completed")
        .group_by(SalesOrder.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(latest.c.customer_id, latest.c.order_id)
        .join(Customer, Customer.id == latest.c.customer_id)
        .where(Customer.status == CustomerStatus.ACTIVE.value, Customer.id.not_in(reviewers))
        .order_by(latest.c.customer_id)
    ).all()
    orders = {cid: oid for cid, oid in rows if cid not in run.taken}
    chosen = run.pick(sorted(orders), "active customers with a completed order and no review")
    written = run.day0 - timedelta(days=p["days_ago"], hours=-14)
    highest = session.scalar(select(func.max(ProductReview.id))) or 0
    for offset, cid in enumerate(chosen, 1):
        product_id = session.scalar(
            select(OrderLine.product_id)
            .where(OrderLine.order_id == orders[cid])
            .order_by(OrderLine.id)
            .limit(1)
        )
        session.add(
            ProductReview(
                id=highest + offset,
                customer_id=cid,
                product_id=product_id,
                rating=p["rating"],
                text=p["text"] or f"{p['rating']} stars.",
                status=ReviewStatus(p["status"]).value,
                written_at=written,
                moderated_at=written + timedelta(hours=2) if p["status"] == "published" else None,
            )
        )
    session.flush()
    return PlantResult(chosen)
