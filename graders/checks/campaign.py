"""Checks on a campaign the trainee submitted: whom it reached, what it cost, how often it
contacted people, a report of its responses and the next step its results call for.

Whom a campaign should reach is computed on the template (the sandbox as the attempt found it)
through the customers source, so that changing customers' consent cannot make a wrong audience
look right.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from pydantic import Field, model_validator
from sqlalchemy import func, select

from graders.checks.common import (
    LISTED,
    Condition,
    DeliverableRef,
    Params,
    condition_errors,
    judged,
    key_labels,
    load_report,
    report_keys,
    trusted_keys,
)
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.campaigns.models import (
    CampaignPlan,
    CampaignRecipient,
    RecipientStatus,
    Response,
)
from sandbox_crm.campaigns.operations import confirmed_consent
from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    Campaign,
    Channel,
    ConsentPurpose,
    ConsentRecord,
    Customer,
    Message,
    MessageKind,
)
from sandbox_crm.query import QueryError, select_keys

CUSTOMERS = "customers"
RECIPIENTS = "campaign_recipients"


def _campaign(ctx: GradingContext, ref: str) -> Campaign | Outcome:
    """The campaign submitted for a deliverable, or a failing Outcome saying what is wrong."""
    campaign_id = ctx.deliverable(ref)
    campaign = ctx.final.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        return Outcome.failed(
            {"reason": f"no campaign was submitted for deliverable {ref!r}"},
            note=N_("No campaign was submitted."),
        )
    return campaign


class RecipientsMatchParams(Params):
    """Parameters of campaign.recipients_match."""

    campaign: DeliverableRef
    """The deliverable holding the campaign."""
    expect: Condition = None
    """The customers the campaign must reach, on the customers source, judged on the template."""
    either_way: Condition = None
    """Customers who may be reached or not: a judgement the task leaves to the trainee."""
    unconfirmed_oral_either_way: bool = True
    """Customers whose consent on the campaign's channel was given orally and not confirmed in
    writing in time may be reached or not: screening leaves them out, and DM-04 judges a send
    that reaches them (the query language cannot see when a consent was confirmed)."""

    @model_validator(mode="after")
    def _check_conditions(self) -> RecipientsMatchParams:
        """Reject conditions that do not fit the customers source."""
        for name in ("expect", "either_way"):
            problems = condition_errors(CUSTOMERS, getattr(self, name))
            if problems:
                raise ValueError(f"{name}: " + "; ".join(problems))
        return self


@check("campaign.recipients_match", params=RecipientsMatchParams)
def recipients_match(ctx: GradingContext, params: RecipientsMatchParams) -> Outcome:
    """The campaign's promotional messages went to exactly the customers expected."""
    campaign = _campaign(ctx, params.campaign)
    if isinstance(campaign, Outcome):
        return campaign
    found = set(
        ctx.final.scalars(
            select(Message.customer_id).where(
                Message.campaign_id == campaign.id,
                Message.kind == MessageKind.PROMOTIONAL.value,
            )
        )
    )
    expected = trusted_keys(ctx, CUSTOMERS, params.expect)
    open_rows = trusted_keys(ctx, CUSTOMERS, params.either_way) if params.either_way else set()
    if params.unconfirmed_oral_either_way:
        open_rows |= _unconfirmed(ctx, campaign, expected)
    expected, reached = expected - open_rows, found - open_rows
    missing, unexpected = expected - reached, reached - expected
    union = expected | reached
    evidence: dict[str, Any] = {
        "campaign_id": campaign.id,
        "sent": bool(found),
        "expected_count": len(expected),
        "found_count": len(reached),
        "missing_count": len(missing),
        "unexpected_count": len(unexpected),
        "missing": key_labels(ctx.template, CUSTOMERS, missing, ctx.as_of),
        "unexpected": key_labels(ctx.final, CUSTOMERS, unexpected, ctx.as_of),
        "either_way_count": len(open_rows),
        "listed_at_most": LISTED,
    }
    note = None
    if not found:
        note = N_("The campaign was not sent.")
    elif unexpected:
        note = N_(
            "The campaign reached customers it should not have: compare its audience and "
            "screening with each part of the request."
        )
    elif missing:
        note = N_("Customers the request covers did not receive the campaign.")
    score = len(expected & reached) / len(union) if union else 1.0
    ok = bool(found) and not missing and not unexpected
    return judged(ok, evidence, score, (note, {}) if note else None)


def _unconfirmed(ctx: GradingContext, campaign: Campaign, customers: set[int]) -> set[int]:
    """Those of ``customers`` whose consent on the campaign's channel cannot be relied on, in
    the template, for want of a timely written confirmation of an oral consent."""
    plan = ctx.final.get(CampaignPlan, campaign.id)
    purpose = plan.consent_purpose if plan is not None else ConsentPurpose.DIRECT_MARKETING.value
    records: dict[int, list[ConsentRecord]] = {c: [] for c in customers}
    for record in ctx.template.scalars(
        select(ConsentRecord).where(
            ConsentRecord.customer_id.in_(customers),
            ConsentRecord.purpose == purpose,
            ConsentRecord.channel == campaign.channel,
        )
    ):
        records[record.customer_id].append(record)
    return {c for c, found in records.items() if found and not confirmed_consent(found)}


class ResponsesReportParams(Params):
    """Parameters of campaign.responses_report."""

    report: DeliverableRef
    """The deliverable holding the saved report."""
    campaign: DeliverableRef
    """The deliverable holding the campaign the report analyses."""
    responses: list[str]
    """The responses whose recipients the report must list (e.g. opened, clicked, purchased)."""

    @model_validator(mode="after")
    def _check_responses(self) -> ResponsesReportParams:
        """Reject responses the CRM does not record."""
        known = {r.value for r in Response}
        unknown = sorted(set(self.responses) - known)
        if unknown or not self.responses:
            raise ValueError(f"responses must be some of {', '.join(sorted(known))}")
        return self


@check("campaign.responses_report", params=ResponsesReportParams)
def responses_report(ctx: GradingContext, params: ResponsesReportParams) -> Outcome:
    """The saved report lists exactly the campaign's recipients who gave one of the responses."""
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    campaign = _campaign(ctx, params.campaign)
    if isinstance(campaign, Outcome):
        return campaign
    if report.source != RECIPIENTS:
        return Outcome.failed(
            {"reason": f"the report uses source {report.source!r}, not {RECIPIENTS!r}"},
            note=N_("The report is not built on the campaign's recipients."),
        )
    recipient = CampaignRecipient
    expected = set(
        ctx.final.scalars(
            select(recipient.id).where(
                recipient.campaign_id == campaign.id, recipient.response.in_(params.responses)
            )
        )
    )
    try:
        found = report_keys(ctx, report)
    except QueryError as exc:
        return Outcome.failed({"reason": str(exc)}, note=N_("The report's filters do not run."))
    missing, unexpected = expected - found, found - expected
    evidence = {
        "report_id": report.id,
        "campaign_id": campaign.id,
        "expected_count": len(expected),
        "found_count": len(found),
        "missing_count": len(missing),
        "unexpected_count": len(unexpected),
    }
    note = None
    if unexpected:
        note = N_("The report lists recipients who did not respond, or another campaign's.")
    elif missing:
        note = N_("Recipients who responded to the campaign are missing from the report.")
    if not expected:
        note = N_("The campaign has no responses to analyse yet.")
    ok = bool(expected) and not missing and not unexpected
    return judged(ok, evidence, None, (note, {}) if note else None)


def _promotional(campaign: Campaign) -> Any:
    """Conditions selecting the campaign's promotional messages."""
    return (Message.campaign_id == campaign.id, Message.kind == MessageKind.PROMOTIONAL.value)


# --- the budget -------------------------------------------------------------------------------


class BudgetMatchesParams(Params):
    """Parameters of campaign.budget_matches."""

    campaign: DeliverableRef
    """The deliverable holding the campaign."""
    per_contact_hkd: float = Field(gt=0, le=10_000)
    """What one message costs (HK$): the budget covers this times the messages sent."""
    tolerance_hkd: int | None = Field(None, ge=0)
    """How far above that cost the budget may be (HK$); omit for no such limit."""
    max_hkd: int | None = Field(None, ge=0)
    """The most the campaign may be given (HK$), whatever it sends; omit for no cap."""


@check("campaign.budget_matches", params=BudgetMatchesParams)
def budget_matches(ctx: GradingContext, params: BudgetMatchesParams) -> Outcome:
    """The campaign's budget covers the messages it sent at the cost per contact, within the
    cap and the tolerance."""
    campaign = _campaign(ctx, params.campaign)
    if isinstance(campaign, Outcome):
        return campaign
    sent = ctx.final.scalar(select(func.count(Message.id)).where(*_promotional(campaign))) or 0
    plan = ctx.final.get(CampaignPlan, campaign.id)
    budget = plan.budget_hkd if plan is not None else 0
    cost = math.ceil(round(params.per_contact_hkd * sent, 6))
    limits = [
        limit
        for limit in (
            None if params.tolerance_hkd is None else cost + params.tolerance_hkd,
            params.max_hkd,
        )
        if limit is not None
    ]
    most = min(limits) if limits else None
    evidence = {
        "campaign_id": campaign.id,
        "messages_sent": sent,
        "budget_hkd": budget,
        "cost_hkd": cost,
        "allowed_up_to_hkd": most,
    }
    note = None
    if not sent:
        note = N_("The campaign was not sent.")
    elif budget < cost:
        note = N_("The campaign's budget does not cover the messages it sent.")
    elif params.max_hkd is not None and budget > params.max_hkd:
        note = N_("The campaign's budget is over the limit it was given.")
    elif most is not None and budget > most:
        note = N_("The campaign's budget is more than its messages cost.")
    return judged(note is None, evidence, None, (note, {}) if note else None)


# --- contact frequency ------------------------------------------------------------------------


class ContactFrequencyParams(Params):
    """Parameters of campaign.contact_frequency."""

    campaign: DeliverableRef
    """The deliverable holding the campaign."""
    max_promotions: int = Field(ge=1, le=100)
    """A customer who already had this many promotional messages in the window is not sent
    another one."""
    days: int = Field(30, ge=1, le=366)
    """The window: the days up to the campaign's send."""


@check("campaign.contact_frequency", params=ContactFrequencyParams)
def contact_frequency(ctx: GradingContext, params: ContactFrequencyParams) -> Outcome:
    """No one the campaign reached had already had the maximum of promotions in the window."""
    campaign = _campaign(ctx, params.campaign)
    if isinstance(campaign, Outcome):
        return campaign
    sent = ctx.final.execute(
        select(Message.customer_id, Message.sent_at).where(*_promotional(campaign))
    ).all()
    if not sent:
        return Outcome.failed({"campaign_id": campaign.id}, note=N_("The campaign was not sent."))
    earlier: dict[int, int] = {}
    for customer_id, sent_at in sent:
        earlier[customer_id] = (
            ctx.final.scalar(
                select(func.count(Message.id)).where(
                    Message.customer_id == customer_id,
                    Message.kind == MessageKind.PROMOTIONAL.value,
                    Message.sent_at >= sent_at - timedelta(days=params.days),
                    Message.sent_at < sent_at,
                    (Message.campaign_id != campaign.id) | Message.campaign_id.is_(None),
                )
            )
            or 0
        )
    over = sorted(c for c, n in earlier.items() if n >= params.max_promotions)
    numbers = dict(
        ctx.final.execute(
            select(Customer.id, Customer.member_no).where(Customer.id.in_(over))
        ).all()
    )
    evidence = {
        "campaign_id": campaign.id,
        "recipients": len(earlier),
        "over_contacted_count": len(over),
        "over_contacted": [
            {"member_no": numbers.get(c, c), "earlier_promotions": earlier[c]}
            for c in over[:LISTED]
        ],
        "max_promotions": params.max_promotions,
        "days": params.days,
        "listed_at_most": LISTED,
    }
    note = N_(
        "The campaign reached customers who had already received as many promotions recently "
        "as the contact policy allows."
    )
    return judged(not over, evidence, None, (note, {}))


# --- the next step ----------------------------------------------------------------------------


class NextCampaign(Params):
    """What the next campaign looks like for one decision: its channel and whom it targets."""

    channel: Channel | None = None
    """The channel it uses; omit to accept any."""
    where: Condition = None
    """The customers its audience rule must select, on the customers source (on the template)."""
    either_way: Condition = None
    """Customers its rule may select or not, for this decision (e.g. those that screening on
    its channel will remove)."""

    @model_validator(mode="after")
    def _check_where(self) -> NextCampaign:
        """Reject conditions that do not fit the customers source."""
        for name in ("where", "either_way"):
            problems = condition_errors(CUSTOMERS, getattr(self, name))
            if problems:
                raise ValueError(f"{name}: " + "; ".join(problems))
        return self


class FollowUpParams(Params):
    """Parameters of campaign.follow_up_matches."""

    campaign: DeliverableRef
    """The deliverable holding the campaign whose results are judged (the pilot)."""
    follow_up: DeliverableRef
    """The deliverable holding the next campaign, planned and left as a draft."""
    responses: list[str]
    """The responses that count as a success (e.g. purchased)."""
    target_percent: float = Field(gt=0, le=100)
    """The objective: successes per hundred messages sent."""
    margin_percent: float = Field(0, ge=0, le=100)
    """Within this many points of the target either decision is accepted (a judgement call)."""
    if_met: NextCampaign
    """The next campaign when the rate reaches the target."""
    if_missed: NextCampaign
    """The next campaign when it does not."""
    either_way: Condition = None
    """Customers the next campaign's rule may select or not whatever the decision."""

    @model_validator(mode="after")
    def _check_params(self) -> FollowUpParams:
        """Reject unknown responses and conditions that do not fit the customers source."""
        known = {r.value for r in Response}
        if not self.responses or set(self.responses) - known:
            raise ValueError(f"responses must be some of {', '.join(sorted(known))}")
        problems = condition_errors(CUSTOMERS, self.either_way)
        if problems:
            raise ValueError("either_way: " + "; ".join(problems))
        return self


@check("campaign.follow_up_matches", params=FollowUpParams)
def follow_up_matches(ctx: GradingContext, params: FollowUpParams) -> Outcome:
    """The next campaign planned is the one the pilot's result against its target calls for."""
    pilot = _campaign(ctx, params.campaign)
    if isinstance(pilot, Outcome):
        return pilot
    plan = ctx.final.get(CampaignPlan, pilot.id)
    if plan is None or plan.results_at is None:
        return Outcome.failed(
            {"campaign_id": pilot.id, "reason": "the campaign's results were not collected"},
            note=N_("The campaign's results were not collected, so they cannot be judged."),
        )
    recipients = ctx.final.execute(
        select(CampaignRecipient.response).where(
            CampaignRecipient.campaign_id == pilot.id,
            CampaignRecipient.status == RecipientStatus.SENT.value,
        )
    ).all()
    sent = len(recipients)
    hits = sum(1 for (response,) in recipients if response in params.responses)
    rate = 100 * hits / sent if sent else 0.0
    met = rate >= params.target_percent
    close = abs(rate - params.target_percent) < params.margin_percent
    accepted = {"met": params.if_met, "missed": params.if_missed}
    if not close:
        accepted = {"met" if met else "missed": accepted["met" if met else "missed"]}
    evidence: dict[str, Any] = {
        "campaign_id": pilot.id,
        "sent": sent,
        "successes": hits,
        "rate_percent": round(rate, 2),
        "target_percent": params.target_percent,
        "decisions_accepted": sorted(accepted),
    }
    follow_id = ctx.deliverable(params.follow_up)
    follow = ctx.final.get(Campaign, follow_id) if follow_id is not None else None
    if follow is None or follow.id == pilot.id:
        return Outcome.failed(evidence, note=N_("No next campaign was submitted."))
    evidence["follow_up_id"] = follow.id
    if follow.status != "draft":
        return Outcome.failed(
            evidence, note=N_("The next campaign was sent; it was to be planned only.")
        )
    rule = ctx.final.get(CampaignPlan, follow.id)
    if rule is None or not rule.audience_rule:
        return Outcome.failed(evidence, note=N_("The next campaign has no audience rule."))
    try:
        found = select_keys(ctx.template, CUSTOMERS, rule.audience_rule, ctx.as_of)
        open_rows = trusted_keys(ctx, CUSTOMERS, params.either_way) if params.either_way else set()
        matches = {}
        for decision, expected in (("met", params.if_met), ("missed", params.if_missed)):
            ignored = open_rows
            if expected.either_way:
                ignored = ignored | trusted_keys(ctx, CUSTOMERS, expected.either_way)
            rows = trusted_keys(ctx, CUSTOMERS, expected.where) - ignored
            same_rows = rows == found - ignored
            same_channel = expected.channel is None or follow.channel == expected.channel
            matches[decision] = same_rows and same_channel
    except QueryError as exc:
        return Outcome.failed(
            {**evidence, "reason": str(exc)},
            note=N_("The next campaign's audience rule does not run."),
        )
    evidence["follow_up_matches"] = sorted(d for d, ok in matches.items() if ok)
    if any(matches[d] for d in accepted):
        return Outcome.passed(evidence)
    if any(matches.values()):
        note = N_("The next campaign does not follow from the result measured against the target.")
    else:
        note = N_("The next campaign's channel or audience is not what the decision calls for.")
    return Outcome.failed(evidence, note=note)
