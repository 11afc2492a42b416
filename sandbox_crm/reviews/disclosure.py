"""What of a customer's personal data a text discloses, for public review responses.

A response to a review is published beside it: the reviewer's name, member number, phone
number, e-mail or address, or any identity card number, in it discloses personal data for a
purpose the customer was never told of (DPP3). Staff may use merge fields in a response; they
are filled in from the customer's record, which is how such data most often slips in.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.hkid import find_hkids
from sandbox_crm.models import ContactPoint, Customer, SalesOrder

__all__ = ["MERGE_FIELDS", "disclosed_personal_data", "fill_merge_fields"]

MERGE_FIELDS = ("customer_name", "member_no", "phone", "email", "order_no")
"""The merge fields a response may use, written {customer_name} and so on."""

_SEPARATORS = re.compile(r"[\s\-()]")
_MIN_NAME = 2


def _contact(session: Session, customer_id: int, kinds: tuple[str, ...]) -> str:
    value = session.scalar(
        select(ContactPoint.value)
        .where(ContactPoint.customer_id == customer_id, ContactPoint.kind.in_(kinds))
        .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
        .limit(1)
    )
    return value or ""


def fill_merge_fields(session: Session, customer: Customer, text: str) -> str:
    """The text with each {merge_field} replaced by the customer's value."""
    latest_order = session.scalar(
        select(SalesOrder.order_no)
        .where(SalesOrder.customer_id == customer.id)
        .order_by(SalesOrder.ordered_at.desc(), SalesOrder.id.desc())
        .limit(1)
    )
    values = {
        "customer_name": customer.name_en,
        "member_no": customer.member_no,
        "phone": _contact(session, customer.id, ("mobile", "phone")),
        "email": _contact(session, customer.id, ("email",)),
        "order_no": latest_order or "",
    }
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def disclosed_personal_data(session: Session, customer_id: int, text: str) -> list[str]:
    """The kinds of the customer's personal data found in ``text`` (empty when none)."""
    customer = session.get(Customer, customer_id)
    if customer is None or not text:
        return []
    lowered = text.lower()
    compact = _SEPARATORS.sub("", text).lower()
    found = []
    if customer.name_en and customer.name_en.lower() in lowered:
        found.append("name")
    elif customer.name_zh and len(customer.name_zh) >= _MIN_NAME and customer.name_zh in text:
        found.append("name")
    if customer.member_no and customer.member_no.lower() in lowered:
        found.append("member_no")
    points = session.execute(
        select(ContactPoint.kind, ContactPoint.value).where(ContactPoint.customer_id == customer_id)
    ).all()
    for kind, value in points:
        if not value:
            continue
        if kind in ("mobile", "phone"):
            hit = _SEPARATORS.sub("", value).lower() in compact
            label = "phone"
        else:
            hit = value.lower() in lowered
            label = "email" if kind == "email" else "address"
        if hit and label not in found:
            found.append(label)
    if find_hkids(text):
        found.append("hkid")
    return found
