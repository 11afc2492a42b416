"""How CRM values look on the page: labels, badge tones, money, dates and masked identifiers."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sandbox_crm.i18n import N_
from sandbox_crm.models import ExportDestination
from sandbox_crm.web.i18n import current_locale, translate

# Badge tone per value, by kind of value; the CSS has one class per tone.
TONES: dict[str, dict[str, str]] = {
    "tier": {"classic": "slate", "silver": "silver", "gold": "gold", "platinum": "platinum"},
    "consent": {
        "given": "green",
        "no_objection": "teal",
        "withdrawn": "red",
        "not_asked": "grey",
    },
    "sensitivity": {
        "public": "grey",
        "internal": "blue",
        "personal": "amber",
        "sensitive": "red",
    },
    "kind": {"promotional": "amber", "service": "blue"},
    "status": {
        "active": "green",
        "inactive": "grey",
        "closed": "red",
        "pending": "amber",
        "paid": "blue",
        "shipped": "teal",
        "completed": "green",
        "cancelled": "grey",
        "refunded": "red",
    },
}

LABELS: dict[str, str] = {
    "no_objection": N_("No objection"),
    "not_asked": N_("Not asked"),
    "direct_marketing": N_("Direct marketing"),
    "third_party_marketing": N_("Third-party marketing"),
    "eshop": N_("e-Shop"),
    "pos": N_("POS"),
    "crm": N_("CRM"),
    "sms": N_("SMS"),
    "written_form": N_("Written form"),
    "online_form": N_("Online form"),
    "unsubscribe_link": N_("Unsubscribe link"),
    "email_reply": N_("Email reply"),
    "en": N_("English"),
    "zh": N_("Chinese"),
}

DESTINATION_LABELS: dict[str, str] = {
    ExportDestination.INTERNAL_SHARED_DRIVE: N_("Internal shared drive (approved)"),
    ExportDestination.INTERNAL_EMAIL: N_("Internal email to a colleague (approved)"),
    ExportDestination.PERSONAL_EMAIL: N_("My personal email"),
    ExportDestination.USB_DRIVE: N_("USB drive"),
    ExportDestination.EXTERNAL_PARTY: N_("External party (outside the company)"),
}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_HKID_PARTS = re.compile(r"^\s*([A-Za-z]{1,2})\s*(\d{0,6})")


def label(value: Any) -> str:
    """A stored code as people read it: ``no_objection`` -> ``No objection``."""
    if value is None or value == "":
        return ""
    text = str(value)
    if text in LABELS:
        return translate(LABELS[text])
    if text in DESTINATION_LABELS:
        return translate(DESTINATION_LABELS[text])
    text = text.replace("_", " ")
    return translate(text[:1].upper() + text[1:])


def tone(kind: str, value: Any) -> str:
    """The badge tone (CSS class suffix) for a value of a kind: tier, consent, sensitivity."""
    return TONES.get(kind, {}).get(str(value or "").lower(), "grey")


def money(value: Any) -> str:
    """Whole Hong Kong dollars: ``HK$12,345``; empty for None."""
    if value is None or value == "":
        return ""
    try:
        return f"HK${float(value):,.0f}"
    except (TypeError, ValueError):
        return str(value)


def day(value: date | datetime | str | None) -> str:
    """A date as ``16 Mar 2026``; strings in ISO form are parsed, others shown as they are."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if current_locale() != "en":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def moment(value: datetime | str | None) -> str:
    """A timestamp as ``16 Mar 2026 14:05``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return day(value)
    return f"{day(value)} {value:%H:%M}"


def mask_hkid(value: str | None) -> str:
    """An HKID with its last digits and check character hidden: ``A123456(3)`` -> ``A123***(*)``."""
    if not value:
        return ""
    match = _HKID_PARTS.match(value)
    if match is None:
        return "*" * min(len(value), 10)
    prefix, digits = match.group(1).upper(), match.group(2)
    return f"{prefix}{digits[:3]}***(*)"


def mask_dob(value: date | str | None) -> str:
    """A date of birth with day and year hidden, keeping the month (used for birthday offers)."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return "**/**/****"
    return f"**/{value.month:02d}/****"


def cell(value: Any, field_type: str = "") -> str:
    """A value in a report or list cell, formatted by the field's type."""
    if value is None:
        return ""
    if isinstance(value, bool) or field_type == "bool":
        return translate("Yes") if value in (True, "True", "true", "1", 1) else translate("No")
    if field_type == "money":
        return money(value)
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, date) or field_type == "date":
        return day(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def output_cell(value: str, field: Any) -> str:
    """A value from a run's CSV output, formatted by its field's type (as text otherwise)."""
    if field is None or value == "":
        return value
    if field.type == "int":
        try:
            return f"{int(value):,}"
        except ValueError:
            return value
    if field.type == "enum":
        return label(value)
    if field.type == "bool":
        return {"true": translate("Yes"), "false": translate("No")}.get(value, value)
    if field.type == "date":
        return day(value)
    if field.type == "datetime":
        return moment(value)
    return value


def helpers() -> dict[str, Any]:
    """The functions the CRM's templates use."""
    return {
        "label": label,
        "tone": tone,
        "money": money,
        "day": day,
        "moment": moment,
        "mask_hkid": mask_hkid,
        "mask_dob": mask_dob,
        "cell": cell,
        "output_cell": output_cell,
    }
