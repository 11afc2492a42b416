"""The company's written procedures for online collection and tracking, and the field catalogue.

These are the company's own rules, fixed for every sandbox: the CRM shows them to the trainee,
and the graders read the same values, so what a scenario expects is what the procedure says.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox_crm.i18n import N_


@dataclass(frozen=True)
class FieldSpec:
    """A field a form may collect: its label and how the collection procedure treats it."""

    label: str
    rule: str
    """``allowed`` (on the membership allow-list), ``justify`` (needs a recorded
    justification) or ``identifier`` (an identity card number, never for sign-ups)."""


FIELDS: dict[str, FieldSpec] = {
    "name_en": FieldSpec(N_("Name (English)"), "allowed"),
    "name_zh": FieldSpec(N_("Name (Chinese)"), "allowed"),
    "email": FieldSpec(N_("E-mail address"), "allowed"),
    "mobile": FieldSpec(N_("Mobile number"), "allowed"),
    "district": FieldSpec(N_("District"), "allowed"),
    "preferred_language": FieldSpec(N_("Preferred language"), "allowed"),
    "birth_month": FieldSpec(N_("Birth month"), "allowed"),
    "gender": FieldSpec(N_("Gender"), "allowed"),
    "address": FieldSpec(N_("Postal address"), "justify"),
    "date_of_birth": FieldSpec(N_("Full date of birth"), "justify"),
    "income": FieldSpec(N_("Monthly income"), "justify"),
    "family_status": FieldSpec(N_("Marital and family status"), "justify"),
    "occupation": FieldSpec(N_("Occupation"), "justify"),
    "hkid_partial": FieldSpec(N_("HKID number (first characters)"), "identifier"),
    "hkid": FieldSpec(N_("HKID number"), "identifier"),
}
"""Every field an online form can collect, by key."""

IDENTIFIER_FIELDS = frozenset(k for k, f in FIELDS.items() if f.rule == "identifier")
JUSTIFY_FIELDS = frozenset(k for k, f in FIELDS.items() if f.rule == "justify")
JUSTIFICATION_MIN_LENGTH = 10
"""A justification shorter than this (trimmed) records no reason."""

COLLECTION_REQUIREMENTS: tuple[str, ...] = (
    N_(
        "Collect only what the purpose of the form needs. A membership sign-up may ask for the"
        " fields on the allow-list (names, e-mail, mobile, district, preferred language, birth"
        " month, gender); any other field (a full date of birth, income, family status,"
        " occupation, a postal address) needs a written justification recorded on the field."
    ),
    N_(
        "Never ask for an identity card number, in full or in part, on a membership, loyalty,"
        " newsletter or event form. An HKID number is collected only where the law or a"
        " transaction that needs it (a purchase of HK$120,000 or more) requires it, at the"
        " counter, with the basis recorded against that transaction."
    ),
    N_(
        "Mark every field obligatory or voluntary. A field is obligatory only if the service"
        " cannot be provided without it; state what happens if an obligatory field is left"
        " blank."
    ),
    N_(
        "Every live form shows its Personal Information Collection Statement (PICS) on or before"
        " collection. The PICS states the purposes, the classes of persons the data may be"
        " transferred to, whether data go to others for direct marketing, which fields are"
        " obligatory and which voluntary, and the right to ask for access and correction with"
        " the post or address to write to."
    ),
    N_(
        "Whenever a form's fields or their obligatory or voluntary status change, publish a new"
        " PICS version for it before the change goes live, and record a review note of what"
        " changed and why."
    ),
    N_("Retire a form that is no longer used, with the reason; its sign-ups are kept."),
)
"""The company's internal collection requirements, in order."""


@dataclass(frozen=True)
class TrackingStandard:
    """What the tracking procedure says about one kind of tracking data."""

    label: str
    what: str
    retention_days: int
    consent_required: bool


TRACKING_STANDARD: dict[str, TrackingStandard] = {
    "session": TrackingStandard(
        N_("Sessions"),
        N_("Log-ins, pages visited and the device used, linked to the account."),
        90,
        False,
    ),
    "product_view": TrackingStandard(
        N_("Product views"),
        N_("Products a signed-in customer looked at, for recommendations."),
        180,
        False,
    ),
    "analytics_cookie": TrackingStandard(
        N_("Analytics cookies"),
        N_("Visit statistics from analytics cookies, set only after the visitor agrees."),
        395,
        True,
    ),
}
"""The company's standard procedure for tracking online activity, per kind of data."""

TRACKING_KINDS = tuple(TRACKING_STANDARD)
