"""How an e-shop account is compared with CRM customers: a score out of 100 and its reasons."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sandbox_crm.eshop.models import EshopAccount
from sandbox_crm.i18n import N_

CANDIDATE_SCORE = 30
"""A customer scoring at least this is proposed as a candidate match."""
MAX_CANDIDATES = 3

REASONS = {
    "same_email": (50, N_("same e-mail address")),
    "email_typo": (25, N_("e-mail address differs by one or two letters")),
    "same_mobile": (30, N_("same mobile number")),
    "same_name": (20, N_("same name")),
    "name_order": (10, N_("same name words in another order")),
    "same_district": (10, N_("same district")),
}

_NOT_DIGIT = re.compile(r"\D")


def digits(phone: str | None) -> str:
    """The eight local digits of a Hong Kong number written any way ("+852 9123 4567")."""
    number = _NOT_DIGIT.sub("", phone or "")
    return number[3:] if len(number) == 11 and number.startswith("852") else number


def crm_name(account: EshopAccount) -> str:
    """The account's name written the CRM's way: surname first."""
    return f"{account.last_name} {account.first_name}".strip()


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (short strings only)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class CustomerKeys:
    """What matching compares of a CRM customer."""

    customer_id: int
    name_en: str
    district: str
    emails: tuple[str, ...]
    mobiles: tuple[str, ...]


def reasons_for(account: EshopAccount, customer: CustomerKeys) -> list[str]:
    """The reason codes why ``customer`` may be the account's person."""
    found = []
    email = account.cust_email.strip().lower()
    emails = [e.strip().lower() for e in customer.emails]
    if email and email in emails:
        found.append("same_email")
    elif email and any(0 < _edits(email, e) <= 2 for e in emails):
        found.append("email_typo")
    if account.mobile_no and digits(account.mobile_no) in customer.mobiles:
        found.append("same_mobile")
    name = " ".join(crm_name(account).lower().split())
    crm = " ".join(customer.name_en.lower().split())
    if name == crm:
        found.append("same_name")
    elif sorted(name.split()) == sorted(crm.split()):
        found.append("name_order")
    if account.district and customer.district and account.district == customer.district:
        found.append("same_district")
    return found


def score(reasons: Iterable[str]) -> int:
    """The match score of these reasons, at most 100."""
    return min(100, sum(REASONS[r][0] for r in reasons))
