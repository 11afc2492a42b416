"""Planting the e-shop and data-quality defects into a generated sandbox.

The e-shop exists only in sandboxes whose scenario plants it (``eshop_accounts``), so every
other sandbox keeps its data. Each planted account is an exact copy of a CRM customer in the
e-shop's formats, a near duplicate (a typo in the e-mail, the name fields swapped, the same
name and district under another e-mail) or a new customer, with its own online behaviour and
newsletter consents. The hidden ground truth, per account, is in the plant's details.
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.catalogue_data import CHANNEL_CONTACT_KINDS
from sandbox_crm.consent import latest_per_customer
from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopActivity,
    EshopConsent,
    EshopOrder,
    QualityIssue,
)
from sandbox_crm.eshop.operations import data_quality_findings, usable_contact
from sandbox_crm.hk_provider import DISTRICTS, format_phone_display
from sandbox_crm.models import (
    CollectionNotice,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    Product,
)
from sandbox_crm.plants import PlantResult, PlantRun, malform_email, plant

MATCHES = ("exact", "near", "new")
VARIATIONS = ("typo", "swapped", "other_email")
ACTIVITY_KINDS = ("session", "product_view", "wishlist", "cart_abandoned")
ORDER_CODES = ("PD", "SH", "DL", "DL", "DL", "CX", "RF")


def _check(params: dict[str, Any]) -> None:
    if params["match"] != "near" and params["variation"] != "typo":
        raise ValueError("variation applies to near matches only")
    if params["match"] == "new" and params["unsubscribed"]:
        raise ValueError("unsubscribed applies to accounts that match a customer")


def _check_profile(params: dict[str, Any]) -> None:
    if params["defect"] == "malformed_email" and params["reach"] == "email":
        raise ValueError("a customer whose e-mail is malformed cannot be reached by e-mail")


def _next_id(session: Session, model: Any) -> int:
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def _typo(rng: random.Random, email: str) -> str:
    """The address with one letter of its local part changed."""
    local, _, domain = email.partition("@")
    at = rng.randrange(len(local))
    letters = [c for c in string.ascii_lowercase if c != local[at]]
    return f"{local[:at]}{rng.choice(letters)}{local[at + 1 :]}@{domain}"


def _primary(session: Session, customer_id: int, kind: str) -> ContactPoint | None:
    return session.scalars(
        select(ContactPoint)
        .where(ContactPoint.customer_id == customer_id, ContactPoint.kind == kind)
        .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
    ).first()


def _candidates(session: Session, run: PlantRun) -> list[int]:
    """Active customers with a three-word name, an e-mail and a mobile, not planted already."""
    with_email = {
        p.customer_id
        for p in session.scalars(
            select(ContactPoint).where(
                ContactPoint.kind == "email", ContactPoint.is_invalid.is_(False)
            )
        )
    }
    with_mobile = {
        p.customer_id
        for p in session.scalars(
            select(ContactPoint).where(
                ContactPoint.kind == "mobile", ContactPoint.is_invalid.is_(False)
            )
        )
    }
    taken = set(run.taken) | set(
        session.scalars(
            select(EshopAccount.customer_id).where(EshopAccount.customer_id.isnot(None))
        )
    )
    ids = []
    for cid, name in session.execute(
        select(Customer.id, Customer.name_en)
        .where(Customer.status == CustomerStatus.ACTIVE.value)
        .order_by(Customer.id)
    ):
        if len(name.split()) == 3 and cid in with_email and cid in with_mobile and cid not in taken:
            ids.append(cid)
    return ids


def _behaviour(session: Session, run: PlantRun, account: EshopAccount, first: datetime) -> None:
    """Sessions, product views, wish lists, abandoned carts and orders since ``first``."""
    products = list(session.scalars(select(Product.id).where(Product.is_active.is_(True))))
    last = run.ctx.today - timedelta(days=1)
    for _ in range(run.rng.randint(3, 8)):
        kind = run.rng.choice(ACTIVITY_KINDS)
        session.add(
            EshopActivity(
                account_id=account.id,
                kind=kind,
                product_id=None if kind == "session" or not products else run.rng.choice(products),
                occurred_at=run.moment(first.date(), last),
            )
        )
    order_id = _next_id(session, EshopOrder)
    for offset in range(run.rng.randint(0, 3)):
        session.add(
            EshopOrder(
                id=order_id + offset,
                account_id=account.id,
                order_ref=f"WEB{order_id + offset:07d}",
                status_code=run.rng.choice(ORDER_CODES),
                total_hkd=run.rng.randrange(180, 4800, 10),
                placed_at=run.moment(first.date(), last),
            )
        )
    session.flush()


@plant(
    "eshop_accounts",
    defaults={"match": "exact", "variation": "typo", "unsubscribed": False},
    choices={"match": MATCHES, "variation": VARIATIONS},
    check=_check,
)
def eshop_accounts(session: Session, run: PlantRun) -> PlantResult:
    """E-shop accounts: copies, near copies of CRM customers or new customers, with behaviour."""
    match, variation = run.params["match"], run.params["variation"]
    picked = [] if match == "new" else run.pick(_candidates(session, run), "customers to copy")
    next_id = _next_id(session, EshopAccount)
    last_day = run.ctx.today - timedelta(days=2)
    ids: list[int] = []
    details: dict[str, Any] = {"entity": "eshop_account"}
    email_dm = latest_per_customer(session, ConsentPurpose.DIRECT_MARKETING.value, "email")
    crm_names = {n.lower() for n in session.scalars(select(Customer.name_en))}
    for offset in range(run.count):
        account_id = next_id + offset
        customer_id = picked[offset] if picked else None
        district: str | None
        if customer_id is not None:
            customer = session.get_one(Customer, customer_id)
            surname, *given = customer.name_en.split()
            first_name, last_name = " ".join(given), surname
            email_point = _primary(session, customer_id, "email")
            mobile_point = _primary(session, customer_id, "mobile")
            email = email_point.value if email_point else ""
            mobile = mobile_point.value if mobile_point else None
            district = customer.district
            registered = run.moment(customer.joined_on + timedelta(days=1), last_day)
            if match == "near" and variation == "typo":
                email = _typo(run.rng, email)
            elif match == "near" and variation == "swapped":
                first_name, last_name = surname, " ".join(given)
                email = run.fake.hk_email(run.fake.hk_person())
            elif match == "near":
                email, mobile = run.fake.hk_email(run.fake.hk_person()), None
        else:
            person = run.fake.hk_person()
            while person.name_en.lower() in crm_names or len(person.name_en.split()) != 3:
                person = run.fake.hk_person()
            surname, *given = person.name_en.split()
            first_name, last_name = " ".join(given), surname
            email = run.fake.hk_email(person)
            mobile = run.fake.hk_mobile_number()
            district = run.rng.choice(sorted(DISTRICTS)) if run.rng.random() < 0.7 else None
            registered = run.moment(run.ctx.today - timedelta(days=400), last_day)
        account = EshopAccount(
            id=account_id,
            account_no=f"ES{account_id:06d}",
            first_name=first_name,
            last_name=last_name,
            cust_email=email,
            mobile_no=format_phone_display(mobile) if mobile else None,
            district=district,
            status_code="A",
            preferred_channel=run.rng.choice(("email", "sms", None)),
            registered_at=registered,
            last_login_at=run.moment(registered.date(), last_day),
        )
        session.add(account)
        session.flush()
        session.add(
            EshopConsent(
                account_id=account_id,
                channel="email",
                status=ConsentStatus.GIVEN.value,
                method="newsletter_signup",
                captured_at=registered,
            )
        )
        if run.params["unsubscribed"]:
            crm_record = email_dm.get(customer_id) if customer_id else None
            after = max(registered, crm_record.captured_at if crm_record else registered)
            session.add(
                EshopConsent(
                    account_id=account_id,
                    channel="email",
                    status=ConsentStatus.WITHDRAWN.value,
                    method="unsubscribe_link",
                    captured_at=run.moment(
                        after.date() + timedelta(days=1), run.ctx.today - timedelta(days=1)
                    ),
                )
            )
        _behaviour(session, run, account, registered)
        ids.append(account_id)
        details[str(account_id)] = {
            "match": match,
            "variation": variation if match == "near" else None,
            "customer_id": customer_id,
        }
    return PlantResult(ids, details)


@plant(
    "incomplete_profile",
    defaults={"defect": "missing_district", "reach": "email"},
    choices={
        "defect": ("missing_district", "malformed_email"),
        "reach": ("email", "sms", "opted_out"),
    },
    check=_check_profile,
)
def incomplete_profile(session: Session, run: PlantRun) -> PlantResult:
    """Customers with a detail missing or malformed, reachable by one consented channel or none.

    ``defect``: the district was never recorded, or the e-mail address was captured wrongly.
    ``reach``: the channel the customer agreed to most recently (with any channel that reaches
    the same contact point; every other channel was withdrawn before it), or ``opted_out`` when
    every channel is withdrawn. Contact points are flagged opted out as the consents say.
    """
    candidates = [
        cid
        for cid in _candidates(session, run)
        if session.get_one(Customer, cid).district
        and usable_contact(session, cid, "email") is not None
        and usable_contact(session, cid, "sms") is not None
    ]
    chosen = run.pick(candidates, "customers with a district, an e-mail and a mobile")
    reach = run.params["reach"]
    notice = session.scalar(select(CollectionNotice.id).order_by(CollectionNotice.id.desc()))
    for cid in chosen:
        customer = session.get_one(Customer, cid)
        if run.params["defect"] == "missing_district":
            customer.district = ""
        else:
            point = usable_contact(session, cid, "email")
            if point is not None:
                point.value = malform_email(run.rng, point.value)
        latest = session.scalar(
            select(func.max(ConsentRecord.captured_at)).where(ConsentRecord.customer_id == cid)
        )
        first = (latest or run.day0 - timedelta(days=200)).date() + timedelta(days=1)
        withdrawn_at = run.moment(first, run.ctx.today - timedelta(days=3))
        given_at = withdrawn_at + timedelta(days=1)
        reached = set(CHANNEL_CONTACT_KINDS.get(reach, ()))
        statuses = {
            channel: "given" if reached & set(kinds) else "withdrawn"
            for channel, kinds in CHANNEL_CONTACT_KINDS.items()
        }
        for channel, status in statuses.items():
            session.add(
                ConsentRecord(
                    customer_id=cid,
                    purpose=ConsentPurpose.DIRECT_MARKETING.value,
                    channel=channel,
                    status=status,
                    method="online_form" if status == "given" else "unsubscribe_link",
                    captured_at=given_at if status == "given" else withdrawn_at,
                    notice_id=notice,
                    recorded_by_id=None,
                    note="",
                )
            )
        for point in session.scalars(select(ContactPoint).where(ContactPoint.customer_id == cid)):
            point.opted_out = any(
                statuses[channel] == "withdrawn"
                for channel, kinds in CHANNEL_CONTACT_KINDS.items()
                if point.kind in kinds
            )
    return PlantResult(chosen)


@plant("quality_backlog")
def quality_backlog(session: Session, run: PlantRun) -> PlantResult:
    """Issues the data-quality rules raised a week ago and nobody has worked yet."""
    findings = data_quality_findings(session)
    if len(findings) < run.count:
        raise ValueError(
            f"plant {run.kind!r}: needs {run.count} findings but the rules find only"
            f" {len(findings)}; lower the count"
        )
    raised_at = run.day0 - timedelta(days=7)
    next_id = _next_id(session, QualityIssue)
    ids = []
    for offset, (customer_id, rule, detail) in enumerate(findings[: run.count]):
        session.add(
            QualityIssue(
                id=next_id + offset,
                customer_id=customer_id,
                rule=rule,
                detail=detail,
                raised_at=raised_at,
            )
        )
        ids.append(next_id + offset)
    return PlantResult(ids, {"entity": "quality_issue"})
