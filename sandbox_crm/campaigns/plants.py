"""Plants for campaign scenarios: bridal members, and repeat buyers who stopped buying.

``bridal_opted_out`` and ``bridal_other_channel_only`` put customers in a bridal segment whom a
campaign by email must not reach; ``bridal_draft_campaign`` leaves the trainee's own draft
campaign with an audience built days ago and never screened, some of whose members opted out
after it was built. ``lapsed_buyer`` makes customers with an exact buying history, consent,
contact point and number of recent promotions: the edges of a re-engagement segment.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sandbox_crm.campaigns.models import CampaignPlan, CampaignRecipient
from sandbox_crm.campaigns.operations import CONSENTING
from sandbox_crm.jewellery.models import MemberProfile
from sandbox_crm.models import (
    Campaign,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    Department,
    Message,
    MessageKind,
    Product,
    SalesOrder,
    StaffUser,
)
from sandbox_crm.plants import (
    PlantResult,
    PlantRun,
    _latest_dm,
    _notice_on,
    _top_up_order,
    _usable_contacts,
    looks_like_email,
    plant,
)
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES, spend_window

DM = ConsentPurpose.DIRECT_MARKETING.value

JEWELLERY_PLANTS = frozenset(
    {"bridal_opted_out", "bridal_other_channel_only", "bridal_draft_campaign", "bridal_member"}
)
"""These kinds need members' bridal interest, which only the jewellery profile generates."""
BRIDAL_RULE = {
    "all": [
        {"field": "bridal_interest", "op": "eq", "value": True},
        {"field": "status", "op": "eq", "value": "active"},
    ]
}


def _bridal_with_email_consent(session: Session, run: PlantRun) -> list[int]:
    """Active bridal-interest members with a usable email and written email marketing consent."""
    bridal = session.scalars(
        select(Customer.id)
        .join(MemberProfile, MemberProfile.customer_id == Customer.id)
        .where(
            MemberProfile.bridal_interest.is_(True),
            Customer.status == CustomerStatus.ACTIVE.value,
        )
        .order_by(Customer.id)
    ).all()
    latest = _latest_dm(session, "email")
    emails = _usable_contacts(session, "email")
    return [
        cid
        for cid in bridal
        if cid not in run.taken
        and cid in emails
        and cid in latest
        and latest[cid].status in CONSENTING
        and latest[cid].method != "oral"
        and latest[cid].captured_at < run.day0 - timedelta(days=60)
    ]


def _withdraw(session: Session, run: PlantRun, cid: int, first: int, last: int) -> None:
    """Withdraw email marketing consent between ``first`` and ``last`` days ago."""
    when = run.moment(run.ctx.today - timedelta(days=first), run.ctx.today - timedelta(days=last))
    session.add(
        ConsentRecord(
            customer_id=cid,
            purpose=DM,
            channel="email",
            status=ConsentStatus.WITHDRAWN.value,
            method="unsubscribe_link",
            captured_at=when,
            notice_id=_notice_on(session, when.date()),
            note="",
        )
    )
    for point in session.scalars(
        select(ContactPoint).where(ContactPoint.customer_id == cid, ContactPoint.kind == "email")
    ):
        point.opted_out = True


@plant("bridal_opted_out")
def bridal_opted_out(session: Session, run: PlantRun) -> PlantResult:
    """Bridal-interest members who unsubscribed from email marketing some weeks ago."""
    chosen = run.pick(_bridal_with_email_consent(session, run), "bridal members with email consent")
    for cid in chosen:
        _withdraw(session, run, cid, 45, 10)
    return PlantResult(chosen)


@plant("bridal_other_channel_only")
def bridal_other_channel_only(session: Session, run: PlantRun) -> PlantResult:
    """Bridal-interest members who agreed to marketing by SMS only, never by email."""
    chosen = run.pick(_bridal_with_email_consent(session, run), "bridal members with email consent")
    for cid in chosen:
        records = session.scalars(
            select(ConsentRecord).where(
                ConsentRecord.customer_id == cid,
                ConsentRecord.purpose == DM,
                ConsentRecord.channel.in_(("email", "sms")),
            )
        ).all()
        joined = min(r.captured_at for r in records)
        session.execute(
            delete(ConsentRecord).where(
                ConsentRecord.customer_id == cid,
                ConsentRecord.purpose == DM,
                ConsentRecord.channel.in_(("email", "sms")),
            )
        )
        session.add(
            ConsentRecord(
                customer_id=cid,
                purpose=DM,
                channel="sms",
                status=ConsentStatus.GIVEN.value,
                method="written_form",
                captured_at=joined,
                notice_id=_notice_on(session, joined.date()),
                note="",
            )
        )
    return PlantResult(chosen)


@plant(
    "bridal_draft_campaign",
    defaults={"name": "Autumn Bridal Collection", "built_days_ago": 4},
)
def bridal_draft_campaign(session: Session, run: PlantRun) -> PlantResult:
    """The trainee's own draft bridal campaign, its audience built days ago and not screened;
    ``count`` of its members unsubscribed from email marketing after it was built."""
    p = run.params
    built = run.moment(
        run.ctx.today - timedelta(days=p["built_days_ago"]),
        run.ctx.today - timedelta(days=p["built_days_ago"]),
    )
    late = run.pick(_bridal_with_email_consent(session, run), "bridal members with email consent")
    campaign = Campaign(
        name=p["name"],
        objective="",
        channel="email",
        marketing_class="",
        status="draft",
        created_by_id=run.ctx.trainee_id,
        created_at=built - timedelta(hours=2),
    )
    session.add(campaign)
    session.flush()
    session.add(
        CampaignPlan(
            campaign_id=campaign.id,
            budget_hkd=0,
            consent_purpose=DM,
            audience_rule=BRIDAL_RULE,
            exclusions=[],
            audience_built_at=built,
        )
    )
    audience = session.scalars(
        select(Customer.id)
        .join(MemberProfile, MemberProfile.customer_id == Customer.id)
        .where(
            MemberProfile.bridal_interest.is_(True),
            Customer.status == CustomerStatus.ACTIVE.value,
        )
        .order_by(Customer.id)
    ).all()
    for cid in audience:
        session.add(
            CampaignRecipient(
                campaign_id=campaign.id, customer_id=cid, status="selected", added_at=built
            )
        )
    for cid in late:
        _withdraw(session, run, cid, p["built_days_ago"] - 1, 1)
    return PlantResult(late, {"campaign_id": campaign.id})


def _plain_members_with_email_consent(session: Session, run: PlantRun) -> list[int]:
    """Active members not interested in bridal pieces, with a usable email and email consent."""
    plain = session.scalars(
        select(Customer.id)
        .join(MemberProfile, MemberProfile.customer_id == Customer.id)
        .where(
            MemberProfile.bridal_interest.is_(False),
            Customer.status == CustomerStatus.ACTIVE.value,
        )
        .order_by(Customer.id)
    ).all()
    latest = _latest_dm(session, "email")
    emails = _usable_contacts(session, "email")
    return [
        cid
        for cid in plain
        if cid not in run.taken
        and cid in emails
        and cid in latest
        and latest[cid].status == ConsentStatus.GIVEN.value
        and latest[cid].method != "oral"
    ]


@plant(
    "bridal_member",
    defaults={
        "status": "active",
        "email_consent": "given",
        "email_invalid": False,
        "no_email": False,
    },
    choices={
        "status": tuple(s.value for s in CustomerStatus),
        "email_consent": ("given", "no_objection"),
    },
)
def bridal_member(session: Session, run: PlantRun) -> PlantResult:
    """Members who become interested in bridal pieces, on an edge of a bridal email segment:
    not active, consent by no objection, an email flagged invalid, or no email at all."""
    p = run.params
    chosen = run.pick(_plain_members_with_email_consent(session, run), "members with email consent")
    for cid in chosen:
        session.get_one(MemberProfile, cid).bridal_interest = True
        customer = session.get_one(Customer, cid)
        if p["status"] != CustomerStatus.ACTIVE.value:
            customer.status = p["status"]
            if p["status"] == CustomerStatus.CLOSED.value:
                customer.closed_on = run.ctx.today - timedelta(days=30)
        if p["email_consent"] == ConsentStatus.NO_OBJECTION.value:
            records = session.scalars(
                select(ConsentRecord).where(
                    ConsentRecord.customer_id == cid,
                    ConsentRecord.purpose == DM,
                    ConsentRecord.channel == "email",
                )
            ).all()
            for record in records:
                record.status = ConsentStatus.NO_OBJECTION.value
        points = session.scalars(
            select(ContactPoint).where(
                ContactPoint.customer_id == cid, ContactPoint.kind == "email"
            )
        ).all()
        for point in points:
            if p["no_email"]:
                session.delete(point)
            elif p["email_invalid"]:
                point.is_invalid = True
    return PlantResult(chosen)


# --- repeat buyers who stopped buying -----------------------------------------------------------

_CHANNEL_KIND = {"email": "email", "sms": "mobile", "phone": "phone", "post": "address"}
_PROMOTION_TEXT = (
    "Members' weekend: extra 10% off storewide this Saturday and Sunday.",
    "New season arrivals are in store: show this message for a free gift with purchase.",
    "Double points on household essentials this week only.",
)


def _check_lapsed(params: dict) -> None:
    """The last order falls inside the 12-month window, and orders need a last order."""
    if not 0 < params["last_order_days_ago"] < 365:
        raise ValueError("last_order_days_ago is between 1 and 364")
    if params["orders"] < 1:
        raise ValueError("orders is at least 1")
    if not 0 <= params["promotions_30d"] <= 10:
        raise ValueError("promotions_30d is between 0 and 10")


def _lapsed_candidates(session: Session, run: PlantRun, kind: str, last_day: date) -> list[int]:
    """Active customers who joined before the 12-month window, have fewer purchases in it than
    the plant gives and none from ``last_day`` on, a usable contact point of ``kind`` and no
    withdrawal of marketing consent on any channel."""
    start, end = spend_window(run.ctx.today)
    qualifying = SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES)
    in_window = dict(
        session.execute(
            select(SalesOrder.customer_id, func.count())
            .where(qualifying, SalesOrder.ordered_at >= start, SalesOrder.ordered_at < end)
            .group_by(SalesOrder.customer_id)
        ).all()
    )
    late = set(
        session.scalars(
            select(SalesOrder.customer_id).where(
                qualifying, SalesOrder.ordered_at >= datetime.combine(last_day, time())
            )
        )
    )
    withdrawn = set(
        session.scalars(
            select(ConsentRecord.customer_id).where(
                ConsentRecord.purpose == DM, ConsentRecord.status == ConsentStatus.WITHDRAWN.value
            )
        )
    )
    contacts = _usable_contacts(session, kind)
    active = session.scalars(
        select(Customer.id)
        .where(
            Customer.status == CustomerStatus.ACTIVE.value,
            Customer.joined_on < start.date() - timedelta(days=30),
        )
        .order_by(Customer.id)
    )
    return [
        cid
        for cid in active
        if in_window.get(cid, 0) < run.params["orders"]
        and cid not in late
        and cid not in withdrawn
        and cid not in run.taken
        and cid in contacts
        and (kind != "email" or looks_like_email(contacts[cid].value))
    ]


def _marketing_staff(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(StaffUser.id)
            .join(Department, Department.id == StaffUser.department_id)
            .where(
                Department.code == "marketing",
                StaffUser.is_active.is_(True),
                StaffUser.is_trainee.is_(False),
            )
            .order_by(StaffUser.id)
        )
    )


@plant(
    "lapsed_buyer",
    defaults={
        "orders": 2,
        "last_order_days_ago": 120,
        "channel": "sms",
        "consent": "given",
        "contact": "usable",
        "promotions_30d": 0,
        "status": "active",
    },
    choices={
        "channel": ("email", "sms", "phone", "post"),
        "consent": ("given", "no_objection", "not_asked", "withdrawn"),
        "contact": ("usable", "invalid", "missing"),
        "status": tuple(s.value for s in CustomerStatus),
    },
    check=_check_lapsed,
)
def lapsed_buyer(session: Session, run: PlantRun) -> PlantResult:
    """Customers with an exact recent history: orders in the last 12 months, the last one
    ``last_order_days_ago`` days ago; marketing consent, contact and promotions received.

    Each is an active customer who last bought before the 12-month window and has written
    consent to marketing on ``channel`` with a usable contact point for it; the plant gives
    them ``orders`` completed orders in the window, the last exactly ``last_order_days_ago``
    days ago, then: ``consent`` (no_objection rewrites their consent on the channel, not_asked
    removes it, withdrawn adds an unsubscribe some weeks ago and flags the contact),
    ``contact`` (flagged invalid or removed), ``promotions_30d`` promotional messages on the
    channel from Marketing staff in the last 30 days, and ``status``.
    """
    p, today = run.params, run.ctx.today
    channel, kind = p["channel"], _CHANNEL_KIND[p["channel"]]
    last_day = today - timedelta(days=p["last_order_days_ago"])
    chosen = run.pick(
        _lapsed_candidates(session, run, kind, last_day), f"customers with a usable {kind}"
    )
    start, end = spend_window(today)
    products = sorted(
        (price, pid)
        for pid, price in session.execute(
            select(Product.id, Product.price_hkd).where(Product.is_active.is_(True))
        )
    )
    staff = _marketing_staff(session)
    next_id = (session.scalar(select(func.max(SalesOrder.id))) or 0) + 1
    like = session.scalars(select(SalesOrder).order_by(SalesOrder.id).limit(1)).one()
    for cid in chosen:
        customer = session.get_one(Customer, cid)
        bought = session.scalar(
            select(func.count()).where(
                SalesOrder.customer_id == cid,
                SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES),
                SalesOrder.ordered_at >= start,
                SalesOrder.ordered_at < end,
            )
        )
        days = [last_day]
        first = start.date() + timedelta(days=1)
        days += [
            run.moment(first, last_day - timedelta(days=1)).date()
            for _ in range(p["orders"] - 1 - (bought or 0))
        ]
        for day in sorted(days):
            when = datetime.combine(day, time(run.rng.randint(11, 20), run.rng.randrange(60)))
            amount = run.rng.randrange(600, 4000, 10)
            order, _left = _top_up_order(run, products, like, next_id, amount)
            order.customer_id, order.ordered_at = cid, when
            session.add(order)
            next_id += 1
        _lapsed_consent(session, run, cid, channel, kind)
        points = session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id == cid, ContactPoint.kind == kind)
        ).all()
        if p["contact"] == "missing":
            for point in points:
                session.delete(point)
        elif p["contact"] == "invalid":
            for point in points:
                point.is_invalid = True
        primary = next((pt for pt in points if pt.is_primary), points[0] if points else None)
        for n in range(p["promotions_30d"]):
            sent = run.moment(today - timedelta(days=28), today - timedelta(days=1))
            session.add(
                Message(
                    customer_id=cid,
                    campaign_id=None,
                    staff_id=run.rng.choice(staff) if staff else None,
                    channel=channel,
                    kind=MessageKind.PROMOTIONAL.value,
                    to_address=primary.value if primary is not None else "",
                    subject="Members' offer",
                    body=f"{_PROMOTION_TEXT[n % len(_PROMOTION_TEXT)]} "
                    "Reply STOP to opt out, free of charge.",
                    has_opt_out_notice=True,
                    sent_at=sent,
                )
            )
        if p["status"] != CustomerStatus.ACTIVE.value:
            customer.status = p["status"]
            if p["status"] == CustomerStatus.CLOSED.value:
                customer.closed_on = today - timedelta(days=run.rng.randint(5, 20))
        customer.updated_at = max(customer.updated_at, run.day0 - timedelta(hours=12))
    return PlantResult(chosen, {"channel": channel})


def _lapsed_consent(session: Session, run: PlantRun, cid: int, channel: str, kind: str) -> None:
    """Give the customer the consent on ``channel`` that the plant's ``consent`` asks for.

    The record made when they joined is kept, as said then or rewritten to given, no objection
    or not asked (an oral one confirmed in writing in time); later records on the channel are
    removed. A withdrawal is then added some weeks ago.
    """
    wanted = run.params["consent"]
    records = session.scalars(
        select(ConsentRecord)
        .where(
            ConsentRecord.customer_id == cid,
            ConsentRecord.purpose == DM,
            ConsentRecord.channel == channel,
        )
        .order_by(ConsentRecord.captured_at, ConsentRecord.id)
    ).all()
    customer = session.get_one(Customer, cid)
    if records:
        joining, later = records[0], records[1:]
    else:
        joining, later = (
            ConsentRecord(
                customer_id=cid,
                purpose=DM,
                channel=channel,
                method="written_form",
                captured_at=customer.created_at,
                notice_id=customer.collection_notice_id,
                note="",
            ),
            [],
        )
        session.add(joining)
    for record in later:
        session.delete(record)
    base = ConsentStatus.GIVEN.value if wanted == ConsentStatus.WITHDRAWN.value else wanted
    joining.status = base
    if base == ConsentStatus.NOT_ASKED.value:
        joining.confirmed_in_writing_at = None
    elif joining.method == "oral":
        joining.confirmed_in_writing_at = joining.captured_at + timedelta(days=3)
    if wanted == ConsentStatus.WITHDRAWN.value:
        when = run.moment(run.ctx.today - timedelta(days=40), run.ctx.today - timedelta(days=10))
        session.add(
            ConsentRecord(
                customer_id=cid,
                purpose=DM,
                channel=channel,
                status=ConsentStatus.WITHDRAWN.value,
                method="unsubscribe_link" if channel == "email" else "written_form",
                captured_at=when,
                notice_id=_notice_on(session, when.date()),
                note="",
            )
        )
        for point in session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id == cid, ContactPoint.kind == kind)
        ):
            point.opted_out = True
