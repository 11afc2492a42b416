"""Running a campaign: plan it, build its audience from a rule, screen, send, collect results.

Screening is separate from sending on purpose, as in the marketing tools the CRM imitates: a
send goes to the audience as it stands, so a member of staff who skips screening, or screens
before a customer opts out, reaches people who may not be marketed to. The PDPO graders judge
that (DM-06, DM-07); the CRM records what it knew at the send in the audit event.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import json_value, record_event, snapshot
from sandbox_crm.campaigns.models import (
    CampaignPlan,
    CampaignRecipient,
    RecipientStatus,
    Response,
    ScreenReason,
)
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.consent import consent_order, current_consent
from sandbox_crm.i18n import N_, Message
from sandbox_crm.messages.operations import add_message, contact_evidence, primary_contact_for
from sandbox_crm.models import (
    Campaign,
    Channel,
    ConsentMethod,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    MessageKind,
    SandboxMeta,
    StaffUser,
)
from sandbox_crm.models import Message as SentMessage
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    RecordArgs,
    check_department,
    get_entity,
    operation,
)
from sandbox_crm.query import select_keys, validate_condition
from sandbox_crm.sources import QueryError

__all__ = [
    "CAMPAIGN_DEPARTMENTS",
    "CONSENTING",
    "CampaignArgs",
    "CreateCampaignArgs",
    "SendCampaignArgs",
    "UpdateCampaignArgs",
    "build_audience",
    "confirmed_consent",
    "collect_campaign_results",
    "create_campaign",
    "screen_reason",
    "send_campaign",
    "screen_campaign",
    "update_campaign",
]

CAMPAIGN_DEPARTMENTS = frozenset({"marketing", "customer_service", "management"})
"""Departments whose staff may plan and send campaigns (the sandbox's permission rule)."""

CONSENTING = frozenset({ConsentStatus.GIVEN.value, ConsentStatus.NO_OBJECTION.value})

ORAL_CONFIRMATION_DAYS = 14
"""s35E(1)(b): an oral consent must be confirmed in writing within this many days."""

NAME_MAX_LENGTH = 160
TEXT_MAX_LENGTH = 2000
BODY_MAX_LENGTH = 10000
MAX_BUDGET_HKD = 100_000_000

_PLAN_FIELDS = ["budget_hkd", "consent_purpose", "audience_rule", "exclusions"]
_CAMPAIGN_FIELDS = ["name", "objective", "channel", "marketing_class", "status"]


class CampaignArgs(RecordArgs):
    """Arguments naming one campaign by id or by name."""

    id_field = "campaign_id"
    reference_field = "campaign_name"

    campaign_id: int | None = Arg(None, description="The campaign's id.")
    campaign_name: str | None = Arg(
        None, description="The campaign's name (instead of id; must name one campaign)."
    )

    def resolve_reference(self, session: Session, actor: StaffUser) -> int:
        """The id of the one campaign with the name given."""
        name = self.campaign_name
        named = session.scalars(select(Campaign.id).where(Campaign.name == name)).all()
        if len(named) != 1:
            raise OperationError(
                Message(
                    N_("There is no single campaign called %(name)r; give its id instead."),
                    name=name,
                )
            )
        return named[0]


class CreateCampaignArgs(Args):
    """Arguments of create_campaign."""

    name: str = Arg(
        title="Name", min_length=1, max_length=NAME_MAX_LENGTH, description="The campaign's name."
    )
    objective: str = Arg(
        "", title="Objective", max_length=TEXT_MAX_LENGTH, description="What it should achieve."
    )
    channel: Channel = Arg(title="Channel", description="email, sms, phone or post.")
    marketing_class: str = Arg(
        title="Marketing class",
        min_length=1,
        max_length=80,
        description="The class of goods or services marketed, as the notice names it.",
    )
    budget_hkd: int = Arg(0, title="Budget (HK$)", description="Whole Hong Kong dollars.")
    consent_purpose: ConsentPurpose = Arg(
        ConsentPurpose.DIRECT_MARKETING,
        title="Consent purpose",
        description="The consent purpose a recipient must have given.",
    )
    audience_rule: dict[str, Any] | None = Arg(
        None,
        title="Audience rule",
        description="A condition on the customers source, in the query language.",
    )
    exclusions: list[str] = Arg(
        default_factory=list,
        title="Exclusions",
        description="Member numbers left out of the audience whatever the rule says.",
    )


class UpdateCampaignArgs(CampaignArgs):
    """Arguments of update_campaign: only the fields given change."""

    name: str | None = Arg(
        None, title="Name", min_length=1, max_length=NAME_MAX_LENGTH, description="New name."
    )
    objective: str | None = Arg(
        None, title="Objective", max_length=TEXT_MAX_LENGTH, description="New objective."
    )
    channel: Channel | None = Arg(None, title="Channel", description="New channel.")
    marketing_class: str | None = Arg(
        None, title="Marketing class", min_length=1, max_length=80, description="New class."
    )
    budget_hkd: int | None = Arg(None, title="Budget (HK$)", description="New budget.")
    consent_purpose: ConsentPurpose | None = Arg(
        None, title="Consent purpose", description="New consent purpose."
    )
    audience_rule: dict[str, Any] | None = Arg(
        None, title="Audience rule", description="New audience rule (clears the audience)."
    )
    exclusions: list[str] | None = Arg(
        None, title="Exclusions", description="New list of excluded member numbers."
    )


class SendCampaignArgs(CampaignArgs):
    """Arguments of send_campaign."""

    subject: str = Arg("", title="Subject", max_length=200, description="Subject line.")
    body: str = Arg(
        title="Message",
        min_length=1,
        max_length=BODY_MAX_LENGTH,
        description="The text every recipient receives.",
    )
    has_opt_out_notice: bool = Arg(
        False,
        title="Opt-out notice",
        description="Whether the message tells the customer how to opt out, free.",
    )


# --- shared rules -----------------------------------------------------------------------------


def _check_permission(session: Session, actor: StaffUser) -> None:
    """Refuse staff whose department may not run campaigns (and disabled accounts)."""
    check_department(
        actor,
        CAMPAIGN_DEPARTMENTS,
        Message(
            N_(
                "Your account may not run campaigns: only Marketing, Customer Service and "
                "Management staff may plan or send them."
            )
        ),
    )


def _campaign(session: Session, campaign_id: int) -> tuple[Campaign, CampaignPlan]:
    campaign = get_entity(session, Campaign, campaign_id, "campaign")
    plan = session.get(CampaignPlan, campaign.id)
    if plan is None:
        # A campaign planned before the CRM kept plans: an empty one, added when it changes.
        plan = CampaignPlan(
            campaign_id=campaign.id,
            budget_hkd=0,
            consent_purpose=ConsentPurpose.DIRECT_MARKETING.value,
            audience_rule=None,
            exclusions=[],
        )
    return campaign, plan


def _draft(campaign: Campaign) -> None:
    if campaign.status != "draft":
        raise OperationError(
            Message(
                N_("Campaign %(name)r has already been sent; it can no longer change."),
                name=campaign.name,
            )
        )


def _draft_campaign(
    session: Session, actor: StaffUser, campaign_id: int, *, audience: bool = False
) -> tuple[Campaign, CampaignPlan]:
    """A draft campaign the actor may work on, and its plan (with its audience, if asked)."""
    _check_permission(session, actor)
    campaign, plan = _campaign(session, campaign_id)
    _draft(campaign)
    if audience:
        _audience_required(campaign, plan)
    return campaign, plan


def _recipients(session: Session, campaign: Campaign, *statuses: str) -> list[CampaignRecipient]:
    """The campaign's recipients in any of ``statuses``, in the order they were added."""
    return list(
        session.scalars(
            select(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.status.in_(statuses),
            )
            .order_by(CampaignRecipient.id)
        )
    )


def _record(
    session: Session,
    actor: StaffUser,
    event: str,
    campaign: Campaign,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    """Record ``event`` on the campaign; its details start with the campaign's id."""
    record_event(
        session,
        actor,
        event,
        "campaign",
        campaign.id,
        before=before,
        after=after,
        details={"campaign_id": campaign.id, **details},
    )


def _check_budget(budget: int | None) -> None:
    if budget is not None and not 0 <= budget <= MAX_BUDGET_HKD:
        raise OperationError(
            Message(
                N_("Budget must be between 0 and %(most)s Hong Kong dollars."), most=MAX_BUDGET_HKD
            ),
            "budget_hkd",
        )


def _check_rule(rule: dict[str, Any] | None) -> None:
    if rule is None:
        return
    problems = validate_condition("customers", rule)
    if problems:
        raise OperationError(
            Message(
                N_("The audience rule is not valid: %(problems)s"), problems="; ".join(problems)
            ),
            "audience_rule",
        )


def _check_exclusions(session: Session, numbers: list[str] | None) -> list[str]:
    if numbers is None:
        return []
    cleaned = sorted({n.strip() for n in numbers if n and n.strip()})
    known = set(session.scalars(select(Customer.member_no).where(Customer.member_no.in_(cleaned))))
    unknown = [n for n in cleaned if n not in known]
    if unknown:
        raise OperationError(
            Message(
                N_("There is no customer with member number %(numbers)s."),
                numbers=", ".join(unknown),
            ),
            "exclusions",
        )
    return cleaned


def _state(campaign: Campaign, plan: CampaignPlan) -> dict[str, Any]:
    return {**snapshot(campaign, _CAMPAIGN_FIELDS), **snapshot(plan, _PLAN_FIELDS)}


def confirmed_consent(records: Iterable[ConsentRecord]) -> bool:
    """Whether the consent in force among one channel's records may be relied on (s35E(1)(b)).

    The unbroken run of given / no-objection records since the last other one is relied on; it
    may be if one of them was given other than orally, or orally and confirmed in writing within
    ORAL_CONFIRMATION_DAYS.
    """
    run = []
    for record in sorted(records, key=consent_order, reverse=True):
        if record.status not in CONSENTING:
            break
        run.append(record)
    return any(_written_or_confirmed(record) for record in run)


def _written_or_confirmed(record: ConsentRecord) -> bool:
    if record.method != ConsentMethod.ORAL.value:
        return True
    confirmed = record.confirmed_in_writing_at
    if confirmed is None:
        return False
    return (confirmed.date() - record.captured_at.date()).days <= ORAL_CONFIRMATION_DAYS


def screen_reason(session: Session, customer: Customer, purpose: str, channel: str) -> str | None:
    """Why a customer may not receive a campaign on ``channel`` now, or None if they may.

    An opt-out on any channel counts until a later consent on this channel renews it (s35G).
    """
    if customer.status == CustomerStatus.CLOSED.value:
        return ScreenReason.CLOSED.value
    records = session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.customer_id == customer.id, ConsentRecord.purpose == purpose
        )
    ).all()
    here = current_consent([r for r in records if r.channel == channel])
    withdrawal = current_consent([r for r in records if r.status == ConsentStatus.WITHDRAWN])
    if withdrawal is not None and (
        here is None or consent_order(here) <= consent_order(withdrawal)
    ):
        return ScreenReason.WITHDRAWN.value
    if here is None or here.status not in CONSENTING:
        return ScreenReason.NO_CONSENT.value
    if not confirmed_consent(r for r in records if r.channel == channel):
        return ScreenReason.UNCONFIRMED_ORAL.value
    contact = primary_contact_for(session, customer.id, channel)
    if contact is None:
        return ScreenReason.NO_CONTACT.value
    if contact.opted_out:
        return ScreenReason.OPTED_OUT_CONTACT.value
    if contact.is_invalid:
        return ScreenReason.INVALID_CONTACT.value
    return None


# --- the operations ---------------------------------------------------------------------------


@operation(
    "create_campaign",
    args=CreateCampaignArgs,
    event="campaign.create",
    description="Plan a campaign: channel, class, budget, consent purpose and audience rule.",
)
def create_campaign(
    session: Session,
    actor: StaffUser,
    name: str,
    channel: str,
    marketing_class: str,
    objective: str = "",
    budget_hkd: int = 0,
    consent_purpose: str = ConsentPurpose.DIRECT_MARKETING.value,
    audience_rule: dict[str, Any] | None = None,
    exclusions: list[str] | None = None,
) -> Campaign:
    """Create a draft campaign and its plan; the audience is built separately."""
    _check_permission(session, actor)
    _check_budget(budget_hkd)
    _check_rule(audience_rule)
    excluded = _check_exclusions(session, exclusions)
    campaign = Campaign(
        name=name,
        objective=objective,
        channel=channel,
        marketing_class=marketing_class,
        status="draft",
        created_by_id=actor.id,
        created_at=sandbox_now(session),
    )
    session.add(campaign)
    session.flush()
    plan = CampaignPlan(
        campaign_id=campaign.id,
        budget_hkd=budget_hkd,
        consent_purpose=consent_purpose,
        audience_rule=audience_rule or None,
        exclusions=excluded,
    )
    session.add(plan)
    session.flush()
    _record(session, actor, "campaign.create", campaign, after=_state(campaign, plan))
    return campaign


@operation(
    "update_campaign",
    args=UpdateCampaignArgs,
    event="campaign.update",
    description="Change a draft campaign's plan; a new rule or channel clears its audience.",
)
def update_campaign(
    session: Session, actor: StaffUser, campaign_id: int, **changes: Any
) -> Campaign:
    """Change the fields given; changing whom it reaches means building the audience again."""
    campaign, plan = _draft_campaign(session, actor, campaign_id)
    values = {k: v for k, v in changes.items() if v is not None}
    _check_budget(values.get("budget_hkd"))
    _check_rule(values.get("audience_rule"))
    if "exclusions" in values:
        values["exclusions"] = _check_exclusions(session, values["exclusions"])
    before = _state(campaign, plan)
    if {**before, **{k: json_value(v) for k, v in values.items()}} == before:
        raise OperationError(
            Message(N_("Nothing to change: the values are the same as the current ones."))
        )
    session.add(plan)
    for key, value in values.items():
        setattr(campaign if key in _CAMPAIGN_FIELDS else plan, key, value)
    session.flush()
    after = _state(campaign, plan)
    reaches = ("channel", "consent_purpose", "audience_rule", "exclusions")
    cleared = any(before[k] != after[k] for k in reaches) and plan.audience_built_at is not None
    if cleared:
        session.execute(
            delete(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
        )
        plan.audience_built_at = None
        plan.screened_at = None
        session.flush()
    _record(
        session,
        actor,
        "campaign.update",
        campaign,
        before=before,
        after=after,
        audience_cleared=cleared,
    )
    return campaign


@operation(
    "build_audience",
    args=CampaignArgs,
    event="campaign.build_audience",
    description="Select the customers the campaign's audience rule matches today.",
)
def build_audience(session: Session, actor: StaffUser, campaign_id: int) -> Campaign:
    """Replace the audience with the customers the rule selects, less the exclusions."""
    campaign, plan = _draft_campaign(session, actor, campaign_id)
    if not plan.audience_rule:
        raise OperationError(
            Message(N_("Campaign %(name)r has no audience rule yet."), name=campaign.name),
            "audience_rule",
        )
    try:
        keys = sorted(select_keys(session, "customers", plan.audience_rule, sandbox_today(session)))
    except QueryError as exc:
        raise OperationError(str(exc), "audience_rule") from None
    excluded = set(plan.exclusions or [])
    members = dict(
        session.execute(select(Customer.id, Customer.member_no).where(Customer.id.in_(keys))).all()
    )
    session.execute(delete(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id))
    now = sandbox_now(session)
    counts: Counter[str] = Counter()
    for customer_id in keys:
        by_hand = members.get(customer_id) in excluded
        status = RecipientStatus.EXCLUDED if by_hand else RecipientStatus.SELECTED
        counts[status.value] += 1
        session.add(
            CampaignRecipient(
                campaign_id=campaign.id,
                customer_id=customer_id,
                status=status.value,
                reason=ScreenReason.EXCLUDED_BY_HAND.value if by_hand else "",
                added_at=now,
            )
        )
    before = snapshot(plan, ["audience_built_at", "screened_at"])
    plan.audience_built_at = now
    plan.screened_at = None
    session.flush()
    _record(
        session,
        actor,
        "campaign.build_audience",
        campaign,
        before=before,
        after=snapshot(plan, ["audience_built_at", "screened_at"]),
        counts=dict(sorted(counts.items())),
    )
    return campaign


def _audience_required(campaign: Campaign, plan: CampaignPlan) -> None:
    if plan.audience_built_at is None:
        raise OperationError(
            Message(N_("Build the audience of campaign %(name)r first."), name=campaign.name)
        )


@operation(
    "screen_campaign",
    args=CampaignArgs,
    event="campaign.screen",
    description="Screen the audience against consent, opt-outs and contact flags as they are now.",
)
def screen_campaign(session: Session, actor: StaffUser, campaign_id: int) -> Campaign:
    """Take out everyone who may not receive the campaign now; put back anyone who now may."""
    campaign, plan = _draft_campaign(session, actor, campaign_id, audience=True)
    recipients = _recipients(
        session, campaign, RecipientStatus.SELECTED.value, RecipientStatus.SCREENED_OUT.value
    )
    counts: Counter[str] = Counter()
    screened_out: list[int] = []
    for recipient in recipients:
        customer = session.get_one(Customer, recipient.customer_id)
        reason = screen_reason(session, customer, plan.consent_purpose, campaign.channel)
        recipient.status = (
            RecipientStatus.SCREENED_OUT.value if reason else RecipientStatus.SELECTED.value
        )
        recipient.reason = reason or ""
        counts[reason or "kept"] += 1
        if reason:
            screened_out.append(customer.id)
    before = snapshot(plan, ["screened_at"])
    plan.screened_at = sandbox_now(session)
    session.flush()
    _record(
        session,
        actor,
        "campaign.screen",
        campaign,
        before=before,
        after=snapshot(plan, ["screened_at"]),
        counts=dict(sorted(counts.items())),
        screened_out=screened_out,
    )
    return campaign


@operation(
    "send_campaign",
    args=SendCampaignArgs,
    event="campaign.send",
    description="Send the campaign's message to everyone left in its audience.",
)
def send_campaign(
    session: Session,
    actor: StaffUser,
    campaign_id: int,
    body: str,
    subject: str = "",
    has_opt_out_notice: bool = False,
) -> Campaign:
    """One promotional message per selected recipient, to their primary contact for the channel.

    The send does not screen: it reaches the audience as it stands (see the module's note).
    """
    campaign, plan = _draft_campaign(session, actor, campaign_id, audience=True)
    recipients = _recipients(session, campaign, RecipientStatus.SELECTED.value)
    if not recipients:
        raise OperationError(
            Message(N_("Nobody is left in the audience of campaign %(name)r."), name=campaign.name)
        )
    now = sandbox_now(session)
    sent: list[dict[str, Any]] = []
    for recipient in recipients:
        contact = primary_contact_for(session, recipient.customer_id, campaign.channel)
        if contact is None:
            recipient.status = RecipientStatus.SCREENED_OUT.value
            recipient.reason = ScreenReason.NO_CONTACT.value
            continue
        message = add_message(
            session,
            actor,
            contact,
            channel=campaign.channel,
            kind=MessageKind.PROMOTIONAL.value,
            subject=subject,
            body=body,
            has_opt_out_notice=has_opt_out_notice,
            campaign_id=campaign.id,
            sent_at=now,
        )
        recipient.status = RecipientStatus.SENT.value
        recipient.message_id = message.id
        sent.append(_sent_detail(session, message, contact, plan.consent_purpose))
    before = snapshot(campaign, ["status", "sent_at"])
    campaign.status = "sent"
    campaign.sent_at = now
    session.flush()
    _record(
        session,
        actor,
        "campaign.send",
        campaign,
        before=before,
        after=snapshot(campaign, ["status", "sent_at"]),
        channel=campaign.channel,
        marketing_class=campaign.marketing_class,
        subject=subject,
        has_opt_out_notice=has_opt_out_notice,
        audience_built_at=plan.audience_built_at,
        screened_at=plan.screened_at,
        messages=sent,
    )
    return campaign


def _sent_detail(
    session: Session, message: SentMessage, contact: ContactPoint, purpose: str
) -> dict[str, Any]:
    """What the CRM knew about one recipient at the send (the same evidence as send_message)."""
    return {
        "message_id": message.id,
        "customer_id": message.customer_id,
        **contact_evidence(session, contact, message.channel, purpose),
    }


# --- results ----------------------------------------------------------------------------------

_PURCHASES_HKD = (3280, 9800, 12800, 16800, 32800, 62800)


def _roll(seed: str, channel: str, customer_id: int) -> int:
    """A number in 0..999 fixed by the sandbox's seed, the channel and the customer."""
    digest = hashlib.sha256(f"{seed}:campaign:{channel}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 1000


def _response(roll: int) -> Response:
    if roll < 40:
        return Response.OPTED_OUT
    if roll < 160:
        return Response.PURCHASED
    if roll < 330:
        return Response.CLICKED
    if roll < 560:
        return Response.OPENED
    return Response.NONE


@operation(
    "collect_campaign_results",
    args=CampaignArgs,
    event="campaign.results",
    description="Collect a sent campaign's responses: opens, clicks, purchases and opt-outs.",
)
def collect_campaign_results(session: Session, actor: StaffUser, campaign_id: int) -> Campaign:
    """Record each recipient's response; an opt-out is entered in the consent log at once."""
    _check_permission(session, actor)
    campaign, plan = _campaign(session, campaign_id)
    if campaign.status == "draft":
        raise OperationError(
            Message(N_("Campaign %(name)r has not been sent yet."), name=campaign.name)
        )
    if campaign.status != "sent" or plan.results_at is not None:
        raise OperationError(
            Message(N_("The results of campaign %(name)r are already in."), name=campaign.name)
        )
    seed = session.get(SandboxMeta, "seed")
    now = sandbox_now(session)
    recipients = _recipients(session, campaign, RecipientStatus.SENT.value)
    counts: Counter[str] = Counter()
    opted_out: list[int] = []
    for recipient in recipients:
        roll = _roll(seed.value if seed else "0", campaign.channel, recipient.customer_id)
        response = _response(roll)
        counts[response.value] += 1
        recipient.response = response.value
        if response is Response.NONE:
            continue
        recipient.responded_at = now
        if response is Response.PURCHASED:
            recipient.converted_hkd = _PURCHASES_HKD[roll % len(_PURCHASES_HKD)]
        if response is Response.OPTED_OUT:
            opted_out.append(recipient.customer_id)
            _record_opt_out(session, actor, campaign, recipient.customer_id, plan, now)
    before = snapshot(campaign, ["status"])
    campaign.status = "completed"
    plan.results_at = now
    session.flush()
    _record(
        session,
        actor,
        "campaign.results",
        campaign,
        before=before,
        after=snapshot(campaign, ["status"]),
        counts=dict(sorted(counts.items())),
        opted_out=opted_out,
    )
    return campaign


def _record_opt_out(
    session: Session,
    actor: StaffUser,
    campaign: Campaign,
    customer_id: int,
    plan: CampaignPlan,
    when: datetime,
) -> None:
    """An unsubscribe from the campaign: a withdrawal in the log and the address flagged."""
    email = campaign.channel == Channel.EMAIL.value
    session.add(
        ConsentRecord(
            customer_id=customer_id,
            purpose=plan.consent_purpose,
            channel=campaign.channel,
            status=ConsentStatus.WITHDRAWN.value,
            method=(ConsentMethod.UNSUBSCRIBE_LINK if email else ConsentMethod.WRITTEN_FORM).value,
            captured_at=when,
            recorded_by_id=actor.id,
            note=f"Opted out in reply to campaign {campaign.name}",
        )
    )
    contact = primary_contact_for(session, customer_id, campaign.channel)
    if contact is not None:
        contact.opted_out = True
