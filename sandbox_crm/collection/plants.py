"""Planting the online sign-up forms and the tracking data into a generated sandbox.

Forms, notices, sign-ups and tracking exist only in sandboxes whose scenario plants them
(``signup_forms``, ``tracking_data``), so every other sandbox keeps its data. A form is planted
as it should be or, for membership, asking too much (a partial HKID, a full date of birth,
income and family status, none of them justified), with a notice that names the access and
correction contact or leaves it out. Tracking settings follow the written procedure or keep
data longer and set analytics cookies without consent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.collection.models import (
    FormConsentOption,
    FormField,
    FormKind,
    Obligation,
    PicsVersion,
    Signup,
    SignupForm,
    TrackingRecord,
    TrackingSetting,
)
from sandbox_crm.collection.procedures import TRACKING_STANDARD
from sandbox_crm.models import Customer, CustomerStatus
from sandbox_crm.plants import PlantResult, PlantRun, plant

OBL, VOL = Obligation.OBLIGATORY.value, Obligation.VOLUNTARY.value

# kind -> (code prefix, name, purpose, fields as (key, obligation, purpose, justification))
FORMS: dict[str, tuple[str, str, str, tuple[tuple[str, str, str, str], ...]]] = {
    "membership": (
        "MEM",
        "Membership sign-up",
        "Join the membership programme: points, member prices and birthday offers.",
        (
            ("name_en", OBL, "To address the member and identify the account", ""),
            ("mobile", OBL, "To log in and identify the member at the counter", ""),
            ("email", VOL, "To send the e-receipt and account notices", ""),
            ("district", VOL, "To suggest the nearest shop", ""),
            ("birth_month", VOL, "To send the birthday-month offer", ""),
            ("preferred_language", VOL, "To write in the member's language", ""),
        ),
    ),
    "newsletter": (
        "NEWS",
        "Newsletter sign-up",
        "Receive the monthly newsletter by e-mail.",
        (
            ("email", OBL, "To send the newsletter", ""),
            ("name_en", VOL, "To address the reader", ""),
            ("preferred_language", VOL, "To send the newsletter in the reader's language", ""),
        ),
    ),
    "eshop_account": (
        "SHOP",
        "E-shop account",
        "Open an account to order online and follow deliveries.",
        (
            ("name_en", OBL, "To address the customer and the parcel", ""),
            ("email", OBL, "To log in and confirm orders", ""),
            ("mobile", OBL, "For the courier to call on delivery", ""),
            ("address", OBL, "To deliver online orders", "Online orders are delivered to it"),
            ("district", VOL, "To show delivery times", ""),
        ),
    ),
    "event": (
        "EVT",
        "Event registration",
        "Register for an in-store event or workshop.",
        (
            ("name_en", OBL, "To put the guest on the list", ""),
            ("mobile", OBL, "To remind the guest the day before", ""),
            ("email", VOL, "To send the confirmation", ""),
        ),
    ),
}

EXCESSIVE: tuple[tuple[str, str, str, str], ...] = (
    ("hkid_partial", OBL, "To verify the member's identity", ""),
    ("date_of_birth", OBL, "To send birthday offers", ""),
    ("income", VOL, "To understand our members better", ""),
    ("family_status", VOL, "To understand our members better", ""),
)
"""What the membership form asks beyond its purpose when planted ``excessive``."""

PURPOSES = (
    "Administering the membership or account and its rewards",
    "Sending service messages about the membership, orders and events",
    "Direct marketing of our own products and offers, if you agree",
)
TRANSFEREES = (
    "Our service providers (IT, delivery, SMS and e-mail) under contract",
    "Our affiliated companies in Hong Kong, for administering the membership",
)


def _next_id(session: Session, model: Any) -> int:
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def _check_forms(params: dict[str, Any]) -> None:
    if params["excessive"] and params["form_kind"] != "membership":
        raise ValueError("excessive applies to membership forms only")


@plant(
    "signup_forms",
    defaults={"form_kind": "membership", "excessive": False, "access_contact": True, "signups": 12},
    choices={"form_kind": tuple(k.value for k in FormKind)},
    check=_check_forms,
)
def signup_forms(session: Session, run: PlantRun) -> PlantResult:
    """Live sign-up forms with their fields, a PICS version, consent boxes and sign-ups."""
    kind = run.params["form_kind"]
    prefix, name, purpose, fields = FORMS[kind]
    if run.params["excessive"]:
        fields = fields + EXCESSIVE
    published = run.moment(run.ctx.today - timedelta(days=500), run.ctx.today - timedelta(days=420))
    members = list(
        session.scalars(
            select(Customer.id)
            .where(Customer.status == CustomerStatus.ACTIVE.value)
            .order_by(Customer.id)
        )
    )
    form_id = _next_id(session, SignupForm)
    pics_id = _next_id(session, PicsVersion)
    contact = (
        f"Data Protection Officer, by e-mail to privacy@{run.ctx.domain} or by post to our"
        " head office"
        if run.params["access_contact"]
        else ""
    )
    ids: list[int] = []
    for offset in range(run.count):
        fid = form_id + offset
        session.add(
            SignupForm(
                id=fid,
                code=f"{prefix}-{fid:03d}",
                name=name,
                kind=kind,
                purpose=purpose,
                fields_changed_at=published - timedelta(days=1),
            )
        )
        session.flush()
        for key, obligation, field_purpose, justification in fields:
            session.add(
                FormField(
                    form_id=fid,
                    field=key,
                    obligation=obligation,
                    purpose=field_purpose,
                    justification=justification,
                )
            )
        for channel in ("email", "sms"):
            session.add(
                FormConsentOption(
                    form_id=fid, purpose="direct_marketing", channel=channel, pre_ticked=False
                )
            )
        pid = pics_id + offset
        session.add(
            PicsVersion(
                id=pid,
                form_id=fid,
                version=f"{prefix}-{fid:03d}-v1",
                published_at=published,
                purposes=list(PURPOSES),
                transferee_classes=list(TRANSFEREES),
                transfers_for_marketing=False,
                access_rights_stated=bool(contact),
                access_contact=contact,
                obligatory_fields=[f[0] for f in fields if f[1] == OBL],
                voluntary_fields=[f[0] for f in fields if f[1] == VOL],
                published_by_id=None,
            )
        )
        session.flush()
        if members:
            chosen = sorted(run.rng.sample(members, min(run.params["signups"], len(members))))
            for customer_id in chosen:
                given = [
                    key
                    for key, obligation, _, _ in fields
                    if obligation == OBL or run.rng.random() < 0.5
                ]
                session.add(
                    Signup(
                        form_id=fid,
                        pics_id=pid,
                        customer_id=customer_id,
                        submitted_at=run.moment(
                            published.date() + timedelta(days=1),
                            run.ctx.today - timedelta(days=1),
                        ),
                        fields_given=given,
                    )
                )
        ids.append(fid)
    return PlantResult(ids, {"entity": "signup_form"})


# Settings kept too long when planted ``retention: too_long``: twice the procedure or more.
TOO_LONG = {"session": 365, "product_view": 730, "analytics_cookie": 790}


@plant(
    "tracking_data",
    defaults={"retention": "standard", "cookies": "consent"},
    choices={"retention": ("standard", "too_long"), "cookies": ("consent", "always")},
)
def tracking_data(session: Session, run: PlantRun) -> PlantResult:
    """Tracking settings, and ``count`` logged records taken in turn by each kind of data.

    With the standard settings every record is within its retention; kept ``too_long``, the
    records spread over as long as the settings keep them (up to two years).
    """
    too_long = run.params["retention"] == "too_long"
    members = list(session.scalars(select(Customer.id).order_by(Customer.id)))
    if session.scalar(select(func.count()).select_from(TrackingSetting)) == 0:
        changed = run.day0 - timedelta(days=800)
        for kind, standard in TRACKING_STANDARD.items():
            consent = standard.consent_required
            if kind == "analytics_cookie" and run.params["cookies"] == "always":
                consent = False
            session.add(
                TrackingSetting(
                    kind=kind,
                    retention_days=TOO_LONG[kind] if too_long else standard.retention_days,
                    consent_required=consent,
                    changed_at=changed,
                )
            )
        session.flush()
    retention = {s.kind: s.retention_days for s in session.scalars(select(TrackingSetting))}
    record_id = _next_id(session, TrackingRecord)
    kinds = list(TRACKING_STANDARD)
    ids = []
    for offset in range(run.count):
        kind = kinds[offset % len(kinds)]
        span = min(retention[kind], 760)
        customer = run.rng.choice(members) if members and kind != "analytics_cookie" else None
        session.add(
            TrackingRecord(
                id=record_id + offset,
                kind=kind,
                customer_id=customer,
                visitor=f"v{run.rng.randrange(16**8):08x}",
                page=run.rng.choice(("/", "/products", "/offers", "/account", "/stores")),
                occurred_at=run.moment(
                    run.ctx.today - timedelta(days=span - 1), run.ctx.today - timedelta(days=1)
                ),
            )
        )
        ids.append(record_id + offset)
    session.flush()
    return PlantResult(ids, {"entity": "tracking_record"})
