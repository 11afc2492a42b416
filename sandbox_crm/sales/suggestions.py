"""Cross-selling suggestions computed from what customers own, and the data each one uses.

A suggestion names the customer, the rule that found them, the reason in plain words and the
data it used: the orders (purchase records, kept for sales) and any customer data item, each
with the purpose it was collected for. Data collected for another purpose (an anniversary date
from a warranty card, a ring size from a repair ticket) is shown as outside the purpose, so the
page tells staff which suggestions they may act on (DPP3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, CustomerStatus, OrderLine, Product, SalesOrder
from sandbox_crm.sales.models import CROSS_SELLING_PURPOSES, CustomerDataItem, DataKind

__all__ = [
    "ORDER_PURPOSE",
    "RULES",
    "Rule",
    "Suggestion",
    "UsedData",
    "suggestions",
    "within_purpose",
]

ORDER_PURPOSE = "sales_record"
"""The purpose purchase records are kept for: selling to and serving the customer."""

ANNIVERSARY_WINDOW_DAYS = 60
"""How far ahead an anniversary makes a customer a candidate for an anniversary gift."""

_SOLD = ("completed", "paid", "shipped")


def within_purpose(purpose: str) -> bool:
    """Whether data collected for ``purpose`` may be used for a cross-selling offer."""
    return purpose == ORDER_PURPOSE or purpose in CROSS_SELLING_PURPOSES


@dataclass(frozen=True)
class Rule:
    """A cross-selling rule: what the customer owns and what it suggests."""

    code: str
    label: str
    suggests: str


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule(
            "wedding_bands",
            N_("Owns an engagement ring but no wedding bands"),
            N_("Wedding bands"),
        ),
        Rule("watch_servicing", N_("Owns a watch bought over a year ago"), N_("Watch servicing")),
        Rule("pearl_earrings", N_("Owns pearls but no pearl earrings"), N_("Matching earrings")),
        Rule(
            "anniversary_gift",
            N_("Wedding anniversary within the next 60 days"),
            N_("Anniversary gift"),
        ),
    )
}
"""The rules, by code, in the order the page lists them."""


@dataclass(frozen=True)
class UsedData:
    """One record a suggestion is based on, and the purpose its data was collected for."""

    kind: str
    """``order`` or a customer data kind (``anniversary_date`` ...)."""
    id: int
    label: str
    purpose: str

    @property
    def within_purpose(self) -> bool:
        """Whether this data may be used for cross-selling."""
        return within_purpose(self.purpose)

    def as_dict(self) -> dict[str, Any]:
        """The record as stored on an opportunity."""
        return {"kind": self.kind, "id": self.id, "label": self.label, "purpose": self.purpose}


@dataclass(frozen=True)
class Suggestion:
    """A customer a rule suggests an offer for, why, and the data it used."""

    customer_id: int
    member_no: str
    name: str
    rule: str
    reason: str
    used: tuple[UsedData, ...]

    @property
    def within_purpose(self) -> bool:
        """Whether every piece of data the suggestion used may be used for cross-selling."""
        return all(u.within_purpose for u in self.used)


def _is_engagement_ring(name: str, category: str) -> bool:
    return category == "Rings" and ("Solitaire" in name or "Three-stone" in name)


def _is_pearl_earrings(name: str, category: str) -> bool:
    return "Pearl" in name and (category == "Earrings" or "Earrings" in name)


def _is_pearls(name: str, category: str) -> bool:
    return (category == "Pearls" or "Pearl" in name) and not _is_pearl_earrings(name, category)


def _owned(
    session: Session, customer_ids: Iterable[int] | None
) -> dict[int, list[tuple[int, str, date, str, str]]]:
    """Each active customer's relevant purchases: (order id, order no., day, product, category)."""
    query = (
        select(
            SalesOrder.customer_id,
            SalesOrder.id,
            SalesOrder.order_no,
            SalesOrder.ordered_at,
            Product.name,
            Product.category,
        )
        .join(OrderLine, OrderLine.order_id == SalesOrder.id)
        .join(Product, Product.id == OrderLine.product_id)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(
            SalesOrder.status.in_(_SOLD),
            Customer.status == CustomerStatus.ACTIVE.value,
            or_(
                Product.category.in_(("Rings", "Watches", "Pearls")),
                Product.name.contains("Pearl"),
            ),
        )
        .order_by(SalesOrder.customer_id, SalesOrder.ordered_at, SalesOrder.id)
    )
    if customer_ids is not None:
        query = query.where(SalesOrder.customer_id.in_(list(customer_ids)))
    owned: dict[int, list[tuple[int, str, date, str, str]]] = {}
    for customer_id, order_id, order_no, at, name, category in session.execute(query):
        owned.setdefault(customer_id, []).append((order_id, order_no, at.date(), name, category))
    return owned


def _next_anniversary(value: str, as_of: date) -> date | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    for year in (as_of.year, as_of.year + 1):
        try:
            candidate = day.replace(year=year)
        except ValueError:  # 29 February
            candidate = date(year, 3, 1)
        if candidate >= as_of:
            return candidate
    return None


def _order_rules(
    purchases: list[tuple[int, str, date, str, str]], as_of: date
) -> Iterable[tuple[str, str, list[tuple[int, str]]]]:
    """(rule, reason, orders used) for each order-based rule that applies to one customer."""
    rings = [p for p in purchases if _is_engagement_ring(p[3], p[4])]
    bands = [p for p in purchases if "Wedding Band" in p[3]]
    if rings and not bands:
        yield "wedding_bands", rings[-1][3], [(p[0], p[1]) for p in rings]
    year_ago = as_of - timedelta(days=365)
    watches = [p for p in purchases if p[4] == "Watches" and p[2] <= year_ago]
    if watches:
        yield "watch_servicing", watches[0][3], [(p[0], p[1]) for p in watches]
    pearls = [p for p in purchases if _is_pearls(p[3], p[4])]
    earrings = [p for p in purchases if _is_pearl_earrings(p[3], p[4])]
    if pearls and not earrings:
        yield "pearl_earrings", pearls[-1][3], [(p[0], p[1]) for p in pearls]


def suggestions(
    session: Session,
    as_of: date,
    *,
    rule: str | None = None,
    customer_ids: Iterable[int] | None = None,
) -> list[Suggestion]:
    """Every suggestion (of ``rule``, for ``customer_ids`` if given), by customer then rule."""
    ids = None if customer_ids is None else sorted(set(customer_ids))
    found: dict[tuple[int, str], tuple[str, list[UsedData]]] = {}
    if rule is None or rule != "anniversary_gift":
        for customer_id, purchases in _owned(session, ids).items():
            for code, reason, orders in _order_rules(purchases, as_of):
                if rule is None or code == rule:
                    used = [UsedData("order", oid, no, ORDER_PURPOSE) for oid, no in orders]
                    found[(customer_id, code)] = (reason, used)
    if rule is None or rule == "anniversary_gift":
        query = (
            select(CustomerDataItem)
            .join(Customer, Customer.id == CustomerDataItem.customer_id)
            .where(
                CustomerDataItem.kind.in_((DataKind.ANNIVERSARY_DATE, DataKind.WEDDING_DATE)),
                Customer.status == CustomerStatus.ACTIVE.value,
            )
            .order_by(CustomerDataItem.id)
        )
        if ids is not None:
            query = query.where(CustomerDataItem.customer_id.in_(ids))
        last = as_of + timedelta(days=ANNIVERSARY_WINDOW_DAYS)
        for item in session.scalars(query):
            upcoming = _next_anniversary(item.value, as_of)
            if upcoming is None or upcoming > last or date.fromisoformat(item.value) >= as_of:
                continue
            key = (item.customer_id, "anniversary_gift")
            used = UsedData(item.kind, item.id, item.value, item.purpose)
            reason, items = found.setdefault(key, (upcoming.isoformat(), []))
            items.append(used)
    if not found:
        return []
    people = {
        cid: (member_no, name)
        for cid, member_no, name in session.execute(
            select(Customer.id, Customer.member_no, Customer.name_en).where(
                Customer.id.in_({cid for cid, _ in found})
            )
        )
    }
    order = list(RULES)
    return [
        Suggestion(cid, *people[cid], code, reason, tuple(used))
        for (cid, code), (reason, used) in sorted(
            found.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]))
        )
    ]
