"""The customer fields whose visibility a role's permissions set, in the CRM and the e-shop.

The CRM's own protected fields (identity number, date of birth, spend) are the ones every
security set-up has; the online ones (the e-shop's ``cust_email`` and ``mobile_no``, and the
browsing data: sessions, product views, wish lists, abandoned carts) come with a set-up that
manages authorisation rights for the online side too.
"""

from __future__ import annotations

from sandbox_crm.i18n import N_

CRM_FIELDS = ("hkid", "date_of_birth", "spend_12m")
"""The protected fields of the CRM's customer record."""

ONLINE_FIELDS = ("cust_email", "mobile_no", "browsing")
"""The e-shop's protected fields: its e-mail and mobile, and customers' browsing data."""

ALL_FIELDS = CRM_FIELDS + ONLINE_FIELDS
"""Every field a role's permission may be set for, in the order pages show them."""

SENSITIVE_FIELDS = ("hkid", "date_of_birth")
"""Fields no marketing role may see in full and no bulk export may carry in full (SEC-01/02)."""

ACCESS_LEVELS = ("hidden", "masked", "full")
"""Access levels from least to most."""

SCOPES = ("own", "branch", "region", "all")
"""Record scopes from narrowest to widest."""

FIELD_LABELS = {
    "hkid": N_("HKID number"),
    "date_of_birth": N_("Date of birth"),
    "spend_12m": N_("12-month spend"),
    "cust_email": N_("E-shop e-mail (cust_email)"),
    "mobile_no": N_("E-shop mobile (mobile_no)"),
    "browsing": N_("Browsing data (sessions, views, carts)"),
}


def access_rank(access: str | None) -> int:
    """How much an access level shows: hidden 0, masked 1, full 2 (unknown counts as hidden)."""
    return ACCESS_LEVELS.index(access) if access in ACCESS_LEVELS else 0


def scope_rank(scope: str | None) -> int:
    """How wide a record scope is: own 0 ... all 3 (unknown counts as own)."""
    return SCOPES.index(scope) if scope in SCOPES else 0
