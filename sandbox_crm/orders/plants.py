"""Plants for control scenarios: a custom order in the workshop, with a known order number."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.models import (
    Branch,
    ContactPoint,
    Customer,
    CustomerStatus,
    OrderLine,
    Product,
    SalesOrder,
    StaffUser,
)
from sandbox_crm.orders.models import OrderStatusChange
from sandbox_crm.plants import PlantResult, PlantRun, plant


def _check(params: dict) -> None:
    number = str(params["order_no"])
    if not number.startswith("SO-9") or len(number) != 10:
        raise ValueError("order_no must look like SO-9xxxxxx (planted orders use the 9000000s)")


def active_reachable_customers(session: Session, taken: frozenset[int]) -> list[int]:
    """Active customers with a valid phone or email, not changed by an earlier plant."""
    reachable = select(ContactPoint.customer_id).where(ContactPoint.is_invalid.is_(False))
    return [
        cid
        for cid in session.scalars(
            select(Customer.id)
            .where(Customer.status == CustomerStatus.ACTIVE.value, Customer.id.in_(reachable))
            .order_by(Customer.id)
        )
        if cid not in taken
    ]


@plant(
    "order_in_workshop",
    defaults={"order_no": "SO-9000001", "days_in_workshop": 8, "category": "Rings"},
    check=_check,
)
def order_in_workshop(session: Session, run: PlantRun) -> PlantResult:
    """A paid custom order that went to the workshop ``days_in_workshop`` days ago."""
    p = run.params
    if run.count != 1:
        raise ValueError("order_in_workshop plants one order per number: count must be 1")
    if session.scalar(select(SalesOrder.id).where(SalesOrder.order_no == p["order_no"])):
        raise ValueError(f"an order {p['order_no']} is already planted")
    product = session.scalar(
        select(Product)
        .where(Product.category == p["category"], Product.is_active.is_(True))
        .order_by(Product.id)
        .limit(1)
    )
    if product is None:
        raise ValueError(f"the sandbox sells no active product in category {p['category']!r}")
    chosen = run.pick(active_reachable_customers(session, run.taken), "reachable customers")
    customer = session.get_one(Customer, chosen[0])
    branch_id = customer.home_branch_id or session.scalar(
        select(Branch.id).where(Branch.kind == "store").order_by(Branch.id).limit(1)
    )
    staff_id = session.scalar(
        select(StaffUser.id)
        .where(StaffUser.is_active.is_(True), StaffUser.is_trainee.is_(False))
        .order_by(StaffUser.id)
        .limit(1)
    )
    placed = run.day0 - timedelta(days=p["days_in_workshop"] + 1, hours=-11)
    highest = session.scalar(select(func.max(SalesOrder.id))) or 0
    order = SalesOrder(
        id=highest + 1,
        order_no=p["order_no"],
        customer_id=customer.id,
        branch_id=branch_id,
        staff_id=staff_id,
        channel="store",
        status="paid",
        ordered_at=placed,
        total_hkd=product.price_hkd,
    )
    session.add(order)
    session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            product_id=product.id,
            quantity=1,
            unit_price_hkd=product.price_hkd,
            line_total_hkd=product.price_hkd,
        )
    )
    steps = (
        ("placed", placed, ""),
        ("paid", placed + timedelta(minutes=20), ""),
        ("in_workshop", placed + timedelta(days=1), "Made to the customer's size and engraving."),
    )
    for status, at, note in steps:
        session.add(
            OrderStatusChange(
                order_id=order.id, status=status, changed_at=at, staff_id=staff_id, note=note
            )
        )
    session.flush()
    return PlantResult(chosen, {"order_id": order.id, "order_no": order.order_no})
