"""Generating the product catalogue, the order history and AML identification."""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm.generator import (
    AML_THRESHOLD_HKD,
    GenerationRun,
    Rows,
    Weighted,
    below,
    chance,
    day_between,
    moment,
    reusable,
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


_EPOCH = datetime(1900, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


class _Drafts:
    """The order history as drafted, column by column, and the order in which it is written.

    Orders get their ids in time order (then by customer, then as drafted), so every draft is
    kept until the last is made; as columns of numbers that costs a few dozen bytes an order
    rather than a tuple of tuples. Lines are flat columns too; ``first_line[i]`` is where the
    lines of draft ``i`` start.
    """

    def __init__(self) -> None:
        self.moments = array("q")  # microseconds since _EPOCH
        self.customers = array("q")
        self.branches = array("q")
        self.staff = array("q")  # 0 for no member of staff
        self.channels: list[str] = []
        self.statuses: list[str] = []
        self.first_line = array("q", [0])
        self.products = array("q")
        self.quantities = array("q")
        self.prices = array("q")
        self.written = array("q")  # draft index of order id 1, 2, ...

    def add(
        self,
        when: datetime,
        customer_id: int,
        channel: str,
        branch: int,
        staff: int | None,
        status: str,
        lines: list[tuple[int, int, int]],
    ) -> None:
        self.moments.append((when - _EPOCH) // _MICROSECOND)
        self.customers.append(customer_id)
        self.branches.append(branch)
        self.staff.append(staff or 0)
        self.channels.append(channel)
        self.statuses.append(status)
        for product_id, quantity, price in lines:
            self.products.append(product_id)
            self.quantities.append(quantity)
            self.prices.append(price)
        self.first_line.append(len(self.products))

    def sort(self) -> None:
        """Fix the writing order: by time, then customer, then as drafted (a stable sort)."""
        customers = self.customers
        keys = [m * 10**8 + customers[i] for i, m in enumerate(self.moments)]
        order = sorted(range(len(keys)), key=keys.__getitem__)
        del keys
        self.written = array("q", order)

    def total(self, draft: int) -> int:
        """The order's total: its lines' quantity times price."""
        q, p = self.quantities, self.prices
        return sum(q[j] * p[j] for j in range(self.first_line[draft], self.first_line[draft + 1]))

    ORDER_COLUMNS = (
        "id",
        "order_no",
        "customer_id",
        "branch_id",
        "staff_id",
        "channel",
        "status",
        "ordered_at",
        "total_hkd",
    )
    LINE_COLUMNS = ("id", "order_id", "product_id", "quantity", "unit_price_hkd", "line_total_hkd")

    def order_rows(self) -> Iterator[tuple[Any, ...]]:
        """The orders in writing order, as values in ORDER_COLUMNS order."""
        for id_, draft in enumerate(self.written, 1):
            yield (
                id_,
                f"SO-{id_:07d}",
                self.customers[draft],
                self.branches[draft],
                self.staff[draft] or None,
                self.channels[draft],
                self.statuses[draft],
                _EPOCH + timedelta(microseconds=self.moments[draft]),
                self.total(draft),
            )

    def line_rows(self) -> Iterator[tuple[Any, ...]]:
        """The order lines, order by order, as values in LINE_COLUMNS order."""
        line_id = 0
        first, products, quantities, prices = (
            self.first_line,
            self.products,
            self.quantities,
            self.prices,
        )
        for order_id, draft in enumerate(self.written, 1):
            for j in range(first[draft], first[draft + 1]):
                quantity, price = quantities[j], prices[j]
                line_id += 1
                yield (line_id, order_id, products[j], quantity, price, quantity * price)


def orders(run: GenerationRun) -> None:
    rng = run.rng
    window_start = run.today - timedelta(days=_ORDER_HISTORY_DAYS)
    last_day = run.today - timedelta(days=1)
    jewellery = run.profile == Profile.JEWELLERY
    drafts = _Drafts()
    # The members' columns are read directly: a hundred thousand row views cost more than
    # the draws they feed.
    columns = run.members.columns
    inactive = CustomerStatus.INACTIVE.value
    inactive_last = run.today - timedelta(days=366)
    stores = run.stores
    recent_statuses = ("pending", "paid", "shipped", "completed")
    for customer_id, tier, joined_on, closed_on, status_, source, home_branch in zip(
        columns["id"],
        columns["tier"],
        columns["joined_on"],
        columns["closed_on"],
        columns["status"],
        columns["source_system"],
        columns["home_branch_id"],
        strict=True,
    ):
        count = _ORDER_COUNT[tier].pick(rng)
        if jewellery:
            count = (count * 3 + 2) // 5
        first = max(joined_on, window_start)
        last = closed_on or last_day
        if status_ == inactive:
            last = min(last, inactive_last)
        if count == 0 or first > last:
            continue
        products = run.product_pickers[tier]
        channels = _SALES_CHANNEL[source]
        for _ in range(count):
            when = moment(rng, day_between(rng, first, last))
            channel = channels.pick(rng)
            if channel == SalesChannel.ESHOP:
                branch, staff = run.warehouse_id, None
            else:
                branch = home_branch
                if branch is None or chance(rng, 200):
                    branch = stores[below(rng, len(stores))]["id"]
                pool = run.staff_by_branch.get(branch) or run.staff_by_dept["sales"]
                staff = pool[below(rng, len(pool))]
            lines = []
            for _ in range(_LINES_PICKER.pick(rng)):
                product = products.pick(rng)
                price = product["price_hkd"]
                if jewellery:
                    quantity = 2 if price < 10_000 and chance(rng, 70) else 1
                else:
                    quantity = _LINES_PICKER.pick(rng)
                if chance(rng, 150):  # member discount
                    price = price * 9 // 10
                lines.append((product["id"], quantity, price))
            if (run.day0 - when).days < 3:
                status = recent_statuses[below(rng, 4)]
            else:
                roll = below(rng, 100)
                status = "completed" if roll < 91 else "cancelled" if roll < 96 else "refunded"
            drafts.add(when, customer_id, channel, branch, staff, status, lines)
    drafts.sort()
    run.big_orders: dict[int, str] = {}
    for id_, draft in enumerate(drafts.written, 1):
        status = drafts.statuses[draft]
        if status in QUALIFYING_ORDER_STATUSES and drafts.total(draft) >= AML_THRESHOLD_HKD:
            run.big_orders.setdefault(drafts.customers[draft], f"SO-{id_:07d}")
    run.rows[SalesOrder] = Rows(_Drafts.ORDER_COLUMNS, drafts.order_rows, len(drafts.written))
    run.rows[OrderLine] = Rows(_Drafts.LINE_COLUMNS, drafts.line_rows, len(drafts.products))


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

    Runs once the jewellery area's seasonal orders are added.
    """
    if run.profile != Profile.JEWELLERY:
        return
    # Streamed: the orders are made afresh from their columns as the history is written.
    orders = run.rows[SalesOrder] = reusable(run.rows.get(SalesOrder, ()))
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
