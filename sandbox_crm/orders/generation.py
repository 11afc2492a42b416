"""Generating the product catalogue, the order history and AML identification."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm.generator import (
    AML_THRESHOLD_HKD,
    GenerationRun,
    Weighted,
    chance,
    day_between,
    moment,
)
from sandbox_crm.models import (
    CustomerStatus,
    OrderLine,
    Product,
    Profile,
    SalesChannel,
    SalesOrder,
    SourceSystem,
    Tier,
)
from sandbox_crm.orders.models import OrderStatusChange
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES

_ORDER_HISTORY_DAYS = 548  # about 18 months


# Orders in the 18-month window by tier (a customer-specific frequency; VIPs buy more often).
_ORDER_COUNT = {
    Tier.CLASSIC.value: Weighted([(0, 38), (1, 30), (2, 17), (3, 10), (4, 5)]),
    Tier.SILVER.value: Weighted([(0, 15), (1, 20), (2, 22), (3, 18), (4, 12), (5, 8), (6, 5)]),
    Tier.GOLD.value: Weighted(
        [(n, w) for n, w in zip(range(1, 11), (8, 10, 12, 14, 14, 12, 10, 8, 7, 5), strict=True)]
    ),
    Tier.PLATINUM.value: Weighted([(n, 1) for n in range(3, 17)]),
}


_LINES_PICKER = Weighted([(1, 55), (2, 28), (3, 12), (4, 5)])


# Price-band preference by tier: low, mid, high, top (top includes >= HK$120,000 jewellery).
_BAND_WEIGHTS = {
    Tier.CLASSIC.value: (700, 270, 28, 2),
    Tier.SILVER.value: (600, 330, 62, 8),
    Tier.GOLD.value: (450, 400, 120, 30),
    Tier.PLATINUM.value: (300, 420, 200, 80),
}


_BAND_LIMITS = {"retail": (150, 400, 1000), "jewellery": (10_000, 50_000, AML_THRESHOLD_HKD)}


_SALES_CHANNEL = {
    SourceSystem.POS.value: Weighted([("store", 90), ("phone", 5), ("eshop", 5)]),
    SourceSystem.ESHOP.value: Weighted([("eshop", 85), ("store", 15)]),
    SourceSystem.CRM.value: Weighted([("store", 60), ("phone", 30), ("eshop", 10)]),
    SourceSystem.EVENT.value: Weighted([("store", 80), ("eshop", 20)]),
}


def products(run: GenerationRun) -> None:
    rng = run.rng
    rows = []
    for category, (code, lines) in data.PRODUCTS_BY_PROFILE[run.profile].items():
        for n, line in enumerate(lines, start=1):
            rows.append(
                {
                    "id": len(rows) + 1,
                    "sku": f"{code}-{n:03d}",
                    "name": line.name,
                    "category": category,
                    "price_hkd": line.price_hkd,
                    "is_active": not chance(rng, 40),
                }
            )
    run.rows[Product] = rows
    limits = _BAND_LIMITS[run.profile]
    bands: list[list[dict[str, Any]]] = [[], [], [], []]
    for row in rows:
        bands[bisect.bisect_right(limits, row["price_hkd"] - 1)].append(row)
    run.product_pickers = {
        tier: Weighted(
            [
                (p, weight)
                for band, w in zip(bands, weights, strict=True)
                for p in band
                for weight in [w * 1000 // max(1, len(band))]
            ]
        )
        for tier, weights in _BAND_WEIGHTS.items()
    }


def orders(run: GenerationRun) -> None:
    rng = run.rng
    window_start = run.today - timedelta(days=_ORDER_HISTORY_DAYS)
    last_day = run.today - timedelta(days=1)
    jewellery = run.profile == Profile.JEWELLERY
    drafts = []
    for member in run.members:
        row = member.row
        count = _ORDER_COUNT[row["tier"]].pick(rng)
        if jewellery:
            count = (count * 3 + 2) // 5
        first = max(row["joined_on"], window_start)
        last = row["closed_on"] or last_day
        if row["status"] == CustomerStatus.INACTIVE:
            last = min(last, run.today - timedelta(days=366))
        if count == 0 or first > last:
            continue
        for _ in range(count):
            when = moment(rng, day_between(rng, first, last))
            channel = _SALES_CHANNEL[row["source_system"]].pick(rng)
            if channel == SalesChannel.ESHOP:
                branch, staff = run.warehouse_id, None
            else:
                branch = row["home_branch_id"]
                if branch is None or chance(rng, 200):
                    branch = rng.choice(run.stores)["id"]
                pool = run.staff_by_branch.get(branch) or run.staff_by_dept["sales"]
                staff = rng.choice(pool)
            lines = []
            for _ in range(_LINES_PICKER.pick(rng)):
                product = run.product_pickers[row["tier"]].pick(rng)
                price = product["price_hkd"]
                if jewellery:
                    quantity = 2 if price < 10_000 and chance(rng, 70) else 1
                else:
                    quantity = _LINES_PICKER.pick(rng)
                if chance(rng, 150):  # member discount
                    price = price * 9 // 10
                lines.append((product["id"], quantity, price))
            if (run.day0 - when).days < 3:
                status = rng.choice(("pending", "paid", "shipped", "completed"))
            else:
                roll = rng.randrange(100)
                status = "completed" if roll < 91 else "cancelled" if roll < 96 else "refunded"
            drafts.append((when, row["id"], channel, branch, staff, status, lines))
    drafts.sort(key=lambda d: (d[0], d[1]))
    run.big_orders: dict[int, str] = {}
    for id_, (_, cid, _, _, _, status, lines) in enumerate(drafts, 1):
        total = sum(quantity * price for _, quantity, price in lines)
        if total >= AML_THRESHOLD_HKD and status in QUALIFYING_ORDER_STATUSES:
            run.big_orders.setdefault(cid, f"SO-{id_:07d}")
    run.rows[SalesOrder] = _order_rows(drafts)
    run.rows[OrderLine] = _order_line_rows(drafts)


def _order_rows(drafts: list[tuple]) -> Iterator[dict[str, Any]]:
    for id_, (when, cid, channel, branch, staff, status, lines) in enumerate(drafts, 1):
        yield {
            "id": id_,
            "order_no": f"SO-{id_:07d}",
            "customer_id": cid,
            "branch_id": branch,
            "staff_id": staff,
            "channel": channel,
            "status": status,
            "ordered_at": when,
            "total_hkd": sum(quantity * price for _, quantity, price in lines),
        }


def _order_line_rows(drafts: list[tuple]) -> Iterator[dict[str, Any]]:
    line_ids = itertools.count(1)
    for order_id, (*_, lines) in enumerate(drafts, 1):
        for product_id, quantity, price in lines:
            yield {
                "id": next(line_ids),
                "order_id": order_id,
                "product_id": product_id,
                "quantity": quantity,
                "unit_price_hkd": price,
                "line_total_hkd": quantity * price,
            }


def aml_identification(run: GenerationRun) -> None:
    """Jewellery: customers identified for a >= HK$120,000 purchase keep the HKID on file."""
    if run.profile != Profile.JEWELLERY:
        return
    for cid in sorted(run.big_orders):
        if chance(run.rng, 850):
            row = run.members[cid - 1].row
            row["hkid"] = run.fake.hkid()
            row["hkid_basis"] = f"AML CDD for order {run.big_orders[cid]}"


# Days from payment to the next steps of a jewellery order (no random draws: the history is
# derived from the order alone, so every other area's data stays as it was for the same spec).
_WORKSHOP_EVERY = 4  # one order in four (by id) goes through the workshop first
_WORKSHOP_DAYS = 6
_READY_DAYS = 1
_COLLECT_DAYS = 2
_REFUND_DAYS = 9


def _history(
    order_id: int, when: datetime, channel: str, status: str
) -> list[tuple[str, datetime]]:
    """The fulfilment steps an order went through to reach its sales status."""
    steps = [("placed", when)]
    if status == "pending":
        return steps
    if status == "cancelled":
        return [*steps, ("cancelled", when + timedelta(hours=20))]
    paid = when + timedelta(minutes=15)
    steps.append(("paid", paid))
    if status == "paid":
        return steps
    ready = paid + timedelta(days=_READY_DAYS)
    if order_id % _WORKSHOP_EVERY == 0:
        steps.append(("in_workshop", paid + timedelta(hours=2)))
        ready = paid + timedelta(days=_WORKSHOP_DAYS)
    if channel == SalesChannel.ESHOP:
        done = ("delivered", ready + timedelta(days=_COLLECT_DAYS))
    else:
        steps.append(("ready_for_collection", ready))
        done = ("collected", ready + timedelta(days=_COLLECT_DAYS))
    if status == "shipped":
        return steps
    steps.append(done)
    if status == "refunded":
        steps.append(("refunded", done[1] + timedelta(days=_REFUND_DAYS)))
    return steps


def status_history(run: GenerationRun) -> None:
    """Jewellery: each order's status history, ending no later than the sandbox's start.

    Runs once the jewellery area's seasonal orders are added, when the orders are a list.
    """
    if run.profile != Profile.JEWELLERY:
        return
    orders = list(run.rows.get(SalesOrder, ()))
    run.rows[SalesOrder] = orders
    now = run.day0

    def rows() -> Iterator[dict[str, Any]]:
        ids = itertools.count(1)
        for order in orders:
            when = order["ordered_at"]
            latest = when
            for step, at in _history(order["id"], when, order["channel"], order["status"]):
                latest = max(latest, min(at, now - timedelta(minutes=1)))
                yield {
                    "id": next(ids),
                    "order_id": order["id"],
                    "status": step,
                    "changed_at": latest,
                    "staff_id": order["staff_id"],
                    "note": "",
                }

    run.rows[OrderStatusChange] = rows()
