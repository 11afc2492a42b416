"""Plants for campaign scenarios, among the members interested in bridal jewellery.

``bridal_opted_out`` and ``bridal_other_channel_only`` put customers in a bridal segment whom a
campaign by email must not reach; ``bridal_draft_campaign`` leaves the trainee's own draft
campaign with an audience built days ago and never screened, some of whose members opted out
after it was built.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
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
)
from sandbox_crm.plants import (
    PlantResult,
    PlantRun,
    _latest_dm,
    _notice_on,
    _usable_contacts,
    plant,
)

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
