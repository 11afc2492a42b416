"""Planting online sales for a sales activity report: e-shop shoppers, sessions and orders.

Each planted e-shop account belongs to a CRM member who also buys in store (``linked``: the
account was linked to the member at an earlier import) or to a shopper the CRM does not know.
Around the quarter before the sandbox date it gets sessions, some followed within the hour by
an order, and orders just before the quarter, at its first days, at its last days and just
after it, so that a report of "last quarter" that is really the last three months, or the year,
gives other figures. A linked member also buys in store in the same month as online: counting
each system's customer numbers counts them twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopActivity,
    EshopImportEntry,
    EshopOrder,
    ReconStatus,
)
from sandbox_crm.models import (
    Customer,
    CustomerStatus,
    OrderLine,
    OrderStatus,
    Product,
    SalesChannel,
    SalesOrder,
)
from sandbox_crm.plants import PlantResult, PlantRun, plant


def _next_id(session: Session, model: Any) -> int:
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def last_quarter(today: date) -> tuple[date, date]:
    """The first and last day of the calendar quarter before the one ``today`` is in."""
    start_month = (today.month - 1) // 3 * 3 + 1
    this_quarter = date(today.year, start_month, 1)
    end = this_quarter - timedelta(days=1)
    start = date(end.year, (end.month - 1) // 3 * 3 + 1, 1)
    return start, end


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


@plant("online_sales", defaults={"linked": True})
def online_sales(session: Session, run: PlantRun) -> PlantResult:
    """E-shop shoppers with sessions and orders around last quarter (linked members or new)."""
    today = run.ctx.today
    start, end = last_quarter(today)
    linked = run.params["linked"]
    members: list[int] = []
    if linked:
        taken = set(run.taken) | set(
            session.scalars(
                select(EshopAccount.customer_id).where(EshopAccount.customer_id.isnot(None))
            )
        )
        candidates = [
            cid
            for cid, name in session.execute(
                select(Customer.id, Customer.name_en)
                .where(
                    Customer.status == CustomerStatus.ACTIVE.value,
                    Customer.home_branch_id.isnot(None),
                    Customer.joined_on < start,
                )
                .order_by(Customer.id)
            )
            if cid not in taken and len(name.split()) >= 2
        ]
        members = run.pick(candidates, "active members with a home branch")
    products = list(
        session.scalars(select(Product.id).where(Product.is_active.is_(True)).order_by(Product.id))
    )
    account_id = _next_id(session, EshopAccount)
    order_id = _next_id(session, EshopOrder)
    activity_id = _next_id(session, EshopActivity)
    crm_order_id = _next_id(session, SalesOrder)
    ids: list[int] = []
    details: dict[str, Any] = {"entity": "eshop_account"}
    for offset in range(run.count):
        customer_id = members[offset] if members else None
        if customer_id is not None:
            customer = session.get_one(Customer, customer_id)
            surname, *given = customer.name_en.split()
            first_name, last_name = " ".join(given), surname
            email = f"{first_name.split()[0].lower()}.{surname.lower()}{offset}@{run.ctx.domain}"
        else:
            person = run.fake.hk_person()
            surname, *given = person.name_en.split()
            first_name, last_name = " ".join(given) or surname, surname
            email = run.fake.hk_email(person)
        registered = _at(start - timedelta(days=run.rng.randint(120, 400)), 20)
        account = EshopAccount(
            id=account_id,
            account_no=f"ES{account_id:06d}",
            first_name=first_name,
            last_name=last_name,
            cust_email=email,
            mobile_no=None,
            district=None,
            status_code="A",
            preferred_channel="email",
            registered_at=registered,
            last_login_at=_at(today - timedelta(days=2), 21),
            recon_status=ReconStatus.LINKED.value if customer_id else ReconStatus.UNREVIEWED.value,
            customer_id=customer_id,
        )
        session.add(account)
        if customer_id is not None:
            session.add(
                EshopImportEntry(
                    account_id=account_id,
                    action=ReconStatus.LINKED.value,
                    customer_id=customer_id,
                    note="Same name, e-mail and mobile as the member.",
                    done_at=registered + timedelta(days=30),
                )
            )
        month = start.month + offset % 3
        in_quarter = date(start.year, month, run.rng.randint(8, 26))
        # Orders: just before the quarter, on its first days, inside it after a session, on its
        # last days, and just after it (a cancelled one too).
        # The first shopper's orders sit on the days either side of the quarter.
        before = 1 if offset == 0 else run.rng.randint(5, 20)
        after = 1 if offset == 0 else run.rng.randint(1, max(1, min(4, (today - end).days - 1)))
        orders = [
            (start - timedelta(days=before), "DL"),
            (start + timedelta(days=run.rng.randint(0, 3)), "DL"),
            (in_quarter, "DL"),
            (end - timedelta(days=run.rng.randint(0, 2)), "SH"),
            (end + timedelta(days=after), "PD"),
            (in_quarter + timedelta(days=1), "CX"),
        ]
        for n, (day, code) in enumerate(orders):
            placed = _at(day, 12 + n % 6, 40)
            session.add(
                EshopOrder(
                    id=order_id,
                    account_id=account_id,
                    order_ref=f"WEB{order_id:07d}",
                    status_code=code,
                    total_hkd=run.rng.randrange(280, 3600, 10),
                    placed_at=placed,
                )
            )
            order_id += 1
            # Each order follows a session that started 20 minutes before.
            session.add(
                EshopActivity(
                    id=activity_id,
                    account_id=account_id,
                    kind="session",
                    occurred_at=placed - timedelta(minutes=20),
                )
            )
            activity_id += 1
        # Sessions that led to no order, in the quarter and around it.
        for _ in range(run.rng.randint(3, 6)):
            day = start + timedelta(days=run.rng.randint(-20, (end - start).days + 3))
            session.add(
                EshopActivity(
                    id=activity_id,
                    account_id=account_id,
                    kind="session",
                    occurred_at=_at(min(day, today - timedelta(days=1)), 8, 5),
                )
            )
            activity_id += 1
        # Visits the evening before the quarter and the morning after it, and browsing that is
        # not a session.
        browsing = [
            ("session", _at(start - timedelta(days=1), 22, 10)),
            ("session", _at(end + timedelta(days=1), 7, 45)),
            ("product_view", _at(in_quarter, 9, 30)),
            ("cart_abandoned", _at(in_quarter - timedelta(days=3), 21, 15)),
        ]
        for kind, moment in browsing:
            session.add(
                EshopActivity(id=activity_id, account_id=account_id, kind=kind, occurred_at=moment)
            )
            activity_id += 1
        if customer_id is not None:
            customer = session.get_one(Customer, customer_id)
            total = run.rng.randrange(500, 6000, 10)
            # One product sold at the order's amount (a member price), as every order has lines.
            line = OrderLine(
                product_id=run.rng.choice(products),
                quantity=1,
                unit_price_hkd=total,
                line_total_hkd=total,
            )
            session.add(
                SalesOrder(
                    id=crm_order_id,
                    order_no=f"SO-{crm_order_id:07d}",
                    customer_id=customer_id,
                    branch_id=customer.home_branch_id,
                    channel=SalesChannel.STORE.value,
                    status=OrderStatus.COMPLETED.value,
                    ordered_at=_at(in_quarter + timedelta(days=2), 15),
                    total_hkd=total,
                    lines=[line],
                )
            )
            crm_order_id += 1
        ids.append(account_id)
        details[str(account_id)] = {"customer_id": customer_id}
        account_id += 1
    session.flush()
    return PlantResult(ids, details)
