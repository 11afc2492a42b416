"""Checks on the e-shop import and the data-quality review.

The expectations come from what the trainee cannot alter: the planted accounts' ground truth
(which are true duplicates, which only look alike, which are new) and the template's consents
and contact points.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from graders.checks.common import Params, judged_problems
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.consent import current_consent_status
from sandbox_crm.eshop.matching import digits
from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopConsent,
    ProfileUpdateRequest,
    QualityIssue,
    ReconStatus,
)
from sandbox_crm.eshop.operations import usable_contact
from sandbox_crm.i18n import N_
from sandbox_crm.models import ConsentPurpose, ConsentRecord, ContactPoint, Customer
from sandbox_crm.plants import looks_like_email

DECIDED = (ReconStatus.MERGED, ReconStatus.LINKED, ReconStatus.CREATED)
CONSENTING = ("given", "no_objection")
CHANNELS = ("email", "sms", "post")


class ReconciledParams(Params):
    """Parameters of eshop.reconciled: the import statuses accepted for each kind of account."""

    exact: list[ReconStatus] = [ReconStatus.MERGED, ReconStatus.LINKED]
    """A true duplicate of a CRM customer: joined to that customer."""
    near: list[ReconStatus] = [ReconStatus.REVIEW]
    """An account that only resembles a customer (a typo, a swapped name, another e-mail)."""
    new: list[ReconStatus] = [ReconStatus.CREATED]
    """An account that matches nobody."""


def _planted_accounts(ctx: GradingContext) -> dict[int, dict[str, Any]]:
    details = ctx.template_info().plant_details.get("eshop_accounts") or {}
    return {int(k): dict(v) for k, v in details.items() if k.isdigit() and isinstance(v, dict)}


@check("eshop.reconciled", params=ReconciledParams)
def reconciled(ctx: GradingContext, params: ReconciledParams) -> Outcome:
    """Each planted e-shop account ended as its kind requires, joined to the right customer."""
    truth = _planted_accounts(ctx)
    if not truth:
        return Outcome.failed({"reason": "the sandbox has no planted e-shop accounts"})
    accepted = {"exact": params.exact, "near": params.near, "new": params.new}
    wrong: list[dict[str, Any]] = []
    for account_id, fact in sorted(truth.items()):
        account = ctx.final.get(EshopAccount, account_id)
        if account is None:
            continue
        status = account.recon_status
        ok = status in [s.value for s in accepted[fact["match"]]]
        if ok and fact["match"] == "exact":
            ok = account.customer_id == fact["customer_id"]
        if not ok:
            wrong.append(
                {
                    "account": account.account_no,
                    "kind": fact["match"],
                    "expected": [s.value for s in accepted[fact["match"]]],
                    "found": status,
                    "customer_id": account.customer_id,
                }
            )
    evidence = {"accounts": len(truth), "wrong_count": len(wrong), "wrong": wrong[:20]}
    if not wrong:
        return Outcome.passed(evidence)
    kinds = {w["kind"] for w in wrong}
    if "near" in kinds:
        note = N_(
            "An account that only resembles a customer was not left for review: a typo, a"
            " swapped name or another e-mail address is not proof of the same person."
        )
    elif "exact" in kinds:
        note = N_("A true duplicate of a CRM customer was not joined to that customer.")
    else:
        note = N_("An e-shop customer who is not in the CRM was not added to it.")
    score = 1 - len(wrong) / len(truth)
    return Outcome.failed(evidence, score=score, note=note)


class ConsentsKeptParams(Params):
    """Parameters of eshop.consents_kept (none)."""


@check("eshop.consents_kept", params=ConsentsKeptParams)
def consents_kept(ctx: GradingContext, params: ConsentsKeptParams) -> Outcome:
    """Every consent record of each imported account is in its customer's consent log."""
    decided = list(
        ctx.final.scalars(
            select(EshopAccount)
            .where(EshopAccount.recon_status.in_([s.value for s in DECIDED]))
            .order_by(EshopAccount.id)
        )
    )
    if not decided:
        return Outcome.failed(
            {"decided": 0}, note=N_("No e-shop account was imported into the CRM.")
        )
    missing = []
    for account in decided:
        log = {
            (r.channel, r.status, r.captured_at)
            for r in ctx.final.scalars(
                select(ConsentRecord).where(
                    ConsentRecord.customer_id == account.customer_id,
                    ConsentRecord.purpose == ConsentPurpose.DIRECT_MARKETING.value,
                )
            )
        }
        for consent in ctx.final.scalars(
            select(EshopConsent).where(EshopConsent.account_id == account.id)
        ):
            if (consent.channel, consent.status, consent.captured_at) not in log:
                missing.append(
                    {
                        "account": account.account_no,
                        "channel": consent.channel,
                        "status": consent.status,
                        "captured_at": consent.captured_at.isoformat(),
                    }
                )
    evidence = {"decided": len(decided), "missing_count": len(missing), "missing": missing[:20]}
    if not missing:
        return Outcome.passed(evidence)
    withdrawn = any(m["status"] == "withdrawn" for m in missing)
    note = (
        N_("An unsubscribe given on the e-shop was lost in the import.")
        if withdrawn
        else N_("Consent records given on the e-shop were lost in the import.")
    )
    return Outcome.failed(evidence, note=note)


class UpdateRequestsParams(Params):
    """Parameters of quality.update_requests."""

    rules: list[str] = ["missing_district", "malformed_email", "malformed_phone"]
    """The issues whose details only the customer can supply."""
    plants: list[str] = []
    """If given, only the customers these plant kinds affected are judged (each must have an
    issue raised); otherwise every customer with an issue of ``rules``."""


def acceptable_channels(ctx: GradingContext, customer_id: int) -> list[str]:
    """Channels the customer agreed to, with a usable contact not opted out (template state)."""
    found = []
    for channel in CHANNELS:
        status = current_consent_status(
            ctx.template, customer_id, ConsentPurpose.DIRECT_MARKETING.value, channel
        )
        point = usable_contact(ctx.template, customer_id, channel)
        if status in CONSENTING and point is not None and not point.opted_out:
            found.append(channel)
    return found


def _by_customer(issues: Iterable[QualityIssue]) -> dict[int, list[QualityIssue]]:
    grouped: dict[int, list[QualityIssue]] = {}
    for issue in issues:
        grouped.setdefault(issue.customer_id, []).append(issue)
    return grouped


@check("quality.update_requests", params=UpdateRequestsParams)
def update_requests(ctx: GradingContext, params: UpdateRequestsParams) -> Outcome:
    """Customers with missing or malformed details were asked by a channel they agreed to;
    those with no such channel were not contacted and their issues closed as such."""
    issues = list(
        ctx.final.scalars(
            select(QualityIssue)
            .where(QualityIssue.rule.in_(params.rules))
            .order_by(QualityIssue.id)
        )
    )
    planted = {cid for kind in params.plants for cid in ctx.planted().get(kind, ())}
    if planted:
        issues = [i for i in issues if i.customer_id in planted]
    if not issues:
        return Outcome.failed(
            {"issues": 0}, note=N_("The data-quality rules were not run, or raised nothing.")
        )
    problems: list[dict[str, Any]] = [
        {"customer_id": cid, "problem": "not_raised"}
        for cid in sorted(planted - {i.customer_id for i in issues})
    ]
    for customer_id, own in sorted(_by_customer(issues).items()):
        channels = acceptable_channels(ctx, customer_id)
        sent = [
            r.channel
            for r in ctx.final.scalars(
                select(ProfileUpdateRequest).where(
                    ProfileUpdateRequest.issue_id.in_([i.id for i in own])
                )
            )
        ]
        member = ctx.final.get(Customer, customer_id)
        label = member.member_no if member is not None else customer_id
        bad = [c for c in sent if c not in channels]
        if bad:
            problems.append(
                {"member": label, "problem": "contacted_without_consent", "channels": bad}
            )
        elif channels and not sent:
            problems.append({"member": label, "problem": "not_asked", "channels": channels})
        elif not channels and any(
            i.status != "closed" or i.resolution != "no_consented_channel" for i in own
        ):
            problems.append({"member": label, "problem": "not_closed_as_unreachable"})
    evidence = {"customers": len(_by_customer(issues)), "problems": problems[:20]}
    return judged_problems(
        evidence,
        problems,
        {
            "not_raised": N_("The data-quality rules were not run on every customer they concern."),
            "contacted_without_consent": N_(
                "A customer was asked by a channel they had not agreed to or had opted out of."
            ),
            "not_asked": N_(
                "A customer who can be asked by a channel they agreed to was not asked."
            ),
        },
        otherwise=N_(
            "An issue of a customer who cannot be contacted was not closed with that resolution."
        ),
    )


def _malformed(kind: str, value: str) -> bool:
    if kind == "email":
        return not looks_like_email(value.lower())
    if kind == "mobile":
        number = digits(value)
        return not (len(number) == 8 and number[0] in "4569")
    return False


_RULE_KIND = {"email": "email", "mobile": "phone", "phone": "phone", "address": "address"}


def invented_details(ctx: GradingContext) -> list[dict[str, Any]]:
    """Details staff filled in themselves: a district that was missing at the start, or a
    contact value malformed at the start rewritten while the data-quality queue asked for the
    customer to supply it (a correction the customer gave, outside the queue, is not judged)."""
    found: list[dict[str, Any]] = []
    for event in ctx.events_of("customer.update"):
        if not event.after or "district" not in event.after:
            continue
        before = ctx.template.get(Customer, event.entity_id)
        if before is not None and not before.district:
            found.append(
                {"event_id": event.id, "customer_id": event.entity_id, "field": "district"}
            )
    queued = {
        (customer_id, rule)
        for customer_id, rule in ctx.final.execute(
            select(QualityIssue.customer_id, QualityIssue.rule).where(
                QualityIssue.rule.in_(("malformed_email", "malformed_phone"))
            )
        )
    }
    for event in ctx.events_of("contact_point.update"):
        if not event.after or "value" not in event.after:
            continue
        point = ctx.template.get(ContactPoint, event.entity_id)
        if (
            point is None
            or (point.customer_id, f"malformed_{_RULE_KIND[point.kind]}") not in queued
        ):
            continue
        if _malformed(point.kind, point.value):
            found.append(
                {"event_id": event.id, "customer_id": point.customer_id, "field": point.kind}
            )
    return found


class NothingInventedParams(Params):
    """Parameters of quality.nothing_invented (none)."""


@check("quality.nothing_invented", params=NothingInventedParams)
def nothing_invented(ctx: GradingContext, params: NothingInventedParams) -> Outcome:
    """No missing district filled in and no malformed contact detail rewritten by staff."""
    found = invented_details(ctx)
    evidence = {"invented_count": len(found), "invented": found[:20]}
    if not found:
        return Outcome.passed(evidence)
    return Outcome.failed(
        evidence,
        note=N_(
            "A missing or malformed detail was filled in by guesswork: only the customer can"
            " supply it."
        ),
    )
