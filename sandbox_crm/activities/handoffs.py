"""What each department needs to receive for each purpose of a hand-off (data minimisation).

A hand-off names a purpose; the purpose says which customer fields the receiving department
needs. Fields shared beyond that are over-sharing, which USE-01 reports: the data goes to a
department that has no use for it.
"""

from __future__ import annotations

from sandbox_crm.i18n import N_

SHAREABLE_FIELDS: dict[str, str] = {
    "member_no": N_("Member no."),
    "name": N_("Name"),
    "phone": N_("Phone"),
    "email": N_("E-mail"),
    "address": N_("Address"),
    "district": N_("District"),
    "tier": N_("Tier"),
    "date_of_birth": N_("Date of birth"),
    "hkid": N_("Identity card number"),
    "order_no": N_("Order no."),
    "product": N_("Product"),
    "case_reference": N_("Case reference"),
    "case_details": N_("Case details"),
    "purchase_history": N_("Purchase history"),
}
"""The customer and case fields a hand-off can carry, with their labels."""

PURPOSES: dict[str, tuple[str, str, frozenset[str]]] = {
    "exchange_or_refund": (
        "sales",
        N_("Arrange an exchange or refund with the customer"),
        frozenset(
            {"member_no", "name", "phone", "order_no", "product", "case_reference", "case_details"}
        ),
    ),
    "sales_follow_up": (
        "sales",
        N_("Follow up an order with the customer"),
        frozenset({"member_no", "name", "phone", "order_no", "product", "case_reference"}),
    ),
    "complaint_trend": (
        "marketing",
        N_("Report a complaint trend about a product or its description"),
        frozenset({"product", "case_reference", "case_details"}),
    ),
    "promotion_wording": (
        "promotion",
        N_("Correct the wording of a promotion or product tag"),
        frozenset({"product", "case_reference", "case_details"}),
    ),
    "workshop_capacity": (
        "planning",
        N_("Plan workshop capacity for repairs past their SLA"),
        frozenset({"product", "case_reference", "case_details", "order_no"}),
    ),
    "staff_training": (
        "human_resources",
        N_("Arrange training for staff after a service problem"),
        frozenset({"case_reference", "case_details"}),
    ),
}
"""purpose -> (department, description, the fields that department needs for it)."""


def purposes_of(department: str) -> list[str]:
    """The purposes a hand-off to ``department`` may state."""
    return [code for code, (dept, _, _) in PURPOSES.items() if dept == department]


def over_shared(purpose: str, fields: list[str]) -> list[str]:
    """The shared fields the purpose does not need, in the order given."""
    needed = PURPOSES[purpose][2] if purpose in PURPOSES else frozenset()
    return [f for f in fields if f not in needed]
