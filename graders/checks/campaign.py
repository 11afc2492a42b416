"""Checks on a campaign the trainee submitted: whom it reached, and a report of its responses.

Whom a campaign should reach is computed on the template (the sandbox as the attempt found it)
through the customers source, so that changing customers' consent cannot make a wrong audience
look right.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator
from sqlalchemy import select

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
from sandbox_crm.campaigns.models import CampaignPlan, CampaignRecipient, Response
from sandbox_crm.campaigns.operations import confirmed_consent
from sandbox_crm.i18n import N_
from sandbox_crm.models import Campaign, ConsentPurpose, ConsentRecord, Message, MessageKind
from sandbox_crm.query import QueryError

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
