"""Generating the jewellery chain's own records (the jewellery profile only).

Every stage draws from a stream of its own (``derive_seed(seed, "jewellery.<stage>")``), so the
other areas' data is the same as before for the same spec, and a retail sandbox is untouched.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm.generator import GenerationRun, Rows, Weighted, chance, derive_seed, moment
from sandbox_crm.jewellery.models import GoldPrice, MemberProfile, ProductDetail, ServiceOffering
from sandbox_crm.models import Branch, OrderLine, Product, Profile, SalesOrder

_HISTORY_DAYS = 548
_SEASONAL_YEARS = 2
_SEASONAL_PER_THOUSAND = 900
"""Chance, per active member and year, of a purchase at one of the seasons."""

_AGE_BANDS = Weighted(list(zip(data.AGE_BANDS, (8, 30, 26, 18, 12, 6), strict=True)))
_BRIDAL_PER_THOUSAND = {"18-24": 90, "25-34": 260, "35-44": 60}


def _rng(run: GenerationRun, stage: str) -> random.Random:
    return random.Random(derive_seed(run.spec.seed, f"jewellery.{stage}"))  # noqa: S311 - seeded test data


def _is_jewellery(run: GenerationRun) -> bool:
    return run.profile == Profile.JEWELLERY.value


def catalogue(run: GenerationRun) -> None:
    """Gold prices for the history, each product's details, and the counter services."""
    if not _is_jewellery(run):
        return
    rng = _rng(run, "catalogue")
    prices, price = [], data.GOLD_PRICE_START_HKD_PER_TAEL
    first = run.today - timedelta(days=_HISTORY_DAYS)
    for offset in range(_HISTORY_DAYS + 1):
        price = max(15_000, price + rng.randint(-260, 300))
        prices.append(
            {
                "day": first + timedelta(days=offset),
                "hkd_per_tael": price,
                "hkd_per_gram": round(price / data.GRAMS_PER_TAEL),
            }
        )
    run.rows[GoldPrice] = prices
    run.rows[ProductDetail] = [_detail(rng, row) for row in run.rows.get(Product, ())]
    run.rows[ServiceOffering] = [
        {
            "id": index,
            "code": code,
            "name": name,
            "kind": kind,
            "price_hkd": price_hkd,
            "identity_check": identity,
        }
        for index, (code, name, kind, price_hkd, identity) in enumerate(
            data.JEWELLERY_SERVICES, start=1
        )
    ]


_TAELS = re.compile(r"(\d+(?:\.\d+)?) taels?")


def _detail(rng: random.Random, product: dict[str, Any]) -> dict[str, Any]:
    """Metal, weight, stone and certificate of one product, from its name and category."""
    name, category = product["name"], product["category"]
    metal = next(
        (m for m in ("999.9 Gold", "18K", "24K", "Platinum", "Titanium", "Steel") if m in name),
        "",
    )
    taels = _TAELS.search(name)
    weight = round(float(taels.group(1)) * data.GRAMS_PER_TAEL) if taels else rng.randint(2, 40)
    stone = next(
        (
            s.lower()
            for s in ("Diamond", "Ruby", "Sapphire", "Emerald", "Jadeite", "Jade", "Pearl")
            if s in name
        ),
        "",
    )
    lab = number = ""
    if stone == "diamond" and product["price_hkd"] >= 10_000:
        lab, number = "GIA", str(rng.randint(1_000_000_000, 9_999_999_999))
    elif stone in ("jadeite", "ruby", "sapphire", "emerald") and product["price_hkd"] >= 20_000:
        lab, number = "HKJSL", f"J{rng.randint(100_000, 999_999)}"
    return {
        "product_id": product["id"],
        "metal": metal or ("Gold" if category == "Gold" else ""),
        "weight_grams": weight if category != "Watches" else None,
        "priced_by_weight": category == "Gold",
        "stone": stone,
        "certificate_lab": lab,
        "certificate_no": number,
    }


def remote_branches(run: GenerationRun) -> None:
    """Shops in Macau and at the Lo Wu border: remote, reaching the CRM from allow-listed IPs."""
    if not _is_jewellery(run):
        return
    rows = list(run.rows[Branch])
    for code, name, district, region, allow in data.JEWELLERY_REMOTE_BRANCHES:
        rows.append(
            {
                "id": len(rows) + 1,
                "code": code,
                "name": name,
                "kind": "store",
                "district": district,
                "region": region,
                "is_remote": True,
                "ip_allow_list": allow,
            }
        )
    run.rows[Branch] = rows


def member_profiles(run: GenerationRun) -> None:
    """Most members gave an age band; some, mostly 25 to 44, said they are planning a wedding."""
    if not _is_jewellery(run):
        return
    count = len(run.members)

    def profiles() -> Iterator[tuple[Any, ...]]:
        rng = _rng(run, "profiles")  # made when written: each pass draws the same stream
        for customer_id in range(1, count + 1):
            band = _AGE_BANDS.pick(rng) if chance(rng, 800) else None
            bridal = chance(rng, _BRIDAL_PER_THOUSAND.get(band or "", 20))
            yield (customer_id, band, bridal)

    run.rows[MemberProfile] = Rows(("customer_id", "age_band", "bridal_interest"), profiles, count)


def seasonal_orders(run: GenerationRun) -> None:
    """Purchases at the jewellery seasons: new-year gold, Valentine's, Mother's Day, weddings.

    Added after the base history (their ids follow it), for most active members each
    year, so that the season months clearly outsell the others.
    """
    if not _is_jewellery(run):
        return
    rng = _rng(run, "seasons")
    orders, lines = run.rows.get(SalesOrder, ()), run.rows.get(OrderLine, ())
    if not isinstance(orders, Rows) or not isinstance(lines, Rows):
        orders = Rows(ORDER_COLUMNS, _as_tuples(list(orders), ORDER_COLUMNS))
        lines = Rows(LINE_COLUMNS, _as_tuples(list(lines), LINE_COLUMNS))
    by_category: dict[str, list[dict[str, Any]]] = {}
    for product in run.rows.get(Product, ()):
        if product["is_active"] and product["price_hkd"] < data.AML_THRESHOLD_HKD:
            by_category.setdefault(product["category"], []).append(product)
    first_order, first_line = orders.count() + 1, lines.count() + 1
    last_day = run.today - timedelta(days=1)
    drafts = []
    for member in run.members:
        row = member.row
        if row["status"] != "active":
            continue
        for years_ago in range(_SEASONAL_YEARS):
            if not chance(rng, _SEASONAL_PER_THOUSAND):
                continue
            month, (first, last), categories, _label = rng.choice(data.JEWELLERY_SEASONS)
            day = date(run.today.year - years_ago, month, rng.randint(first, last))
            if day > last_day:
                day = date(day.year - 1, month, day.day)
            if day < row["joined_on"] or day < run.today - timedelta(days=_HISTORY_DAYS):
                continue
            pool = [p for c in categories for p in by_category.get(c, ())]
            if not pool:
                continue
            product = rng.choice(pool)
            branch = row["home_branch_id"] or rng.choice(run.stores)["id"]
            staff = rng.choice(run.staff_by_branch.get(branch) or run.staff_by_dept["sales"])
            drafts.append(
                (moment(rng, day), row["id"], branch, staff, product["id"], product["price_hkd"])
            )
    drafts.sort(key=lambda d: (d[0], d[1]))

    def seasonal_orders() -> Iterator[tuple[Any, ...]]:
        for order_id, (when, customer_id, branch, staff, _, price) in enumerate(
            drafts, first_order
        ):
            order_no = f"SO-{order_id:07d}"
            yield (
                order_id,
                order_no,
                customer_id,
                branch,
                staff,
                "store",
                "completed",
                when,
                price,
            )

    def seasonal_lines() -> Iterator[tuple[Any, ...]]:
        for offset, (_, _, _, _, product_id, price) in enumerate(drafts):
            yield (first_line + offset, first_order + offset, product_id, 1, price, price)

    base_orders, base_lines = orders, lines
    run.rows[SalesOrder] = Rows(
        ORDER_COLUMNS,
        lambda: itertools.chain(base_orders.tuples(), seasonal_orders()),
        base_orders.count() + len(drafts),
    )
    run.rows[OrderLine] = Rows(
        LINE_COLUMNS,
        lambda: itertools.chain(base_lines.tuples(), seasonal_lines()),
        base_lines.count() + len(drafts),
    )


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


def _as_tuples(
    rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> Callable[[], Iterator[tuple[Any, ...]]]:
    return lambda: (tuple(row[c] for c in columns) for row in rows)
