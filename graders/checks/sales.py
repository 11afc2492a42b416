"""Checks on the sales area: opportunities opened from a suggestion, offers, data recorded.

Expectations come from the template (what the trainee found on opening the CRM): the
cross-selling suggestions it gives, the purpose each piece of data was collected for, and
whether each customer could be sent an offer on a channel as consent and opt-outs stood.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import select

from graders.checks.common import (
    LISTED,
    Condition,
    Params,
    condition_errors,
    judged,
    judged_problems,
)
from graders.context import GradingContext
from graders.pdpo.sales import offers_sent
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.campaigns.operations import screen_reason
from sandbox_crm.i18n import N_
from sandbox_crm.models import Channel, ConsentPurpose, Customer, Message, Region
from sandbox_crm.query import select_rows
from sandbox_crm.sales.management import period_dates, quota_from_history
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    FollowUpTask,
    Opportunity,
    Salesperson,
    SalesQuota,
    SalesRegion,
    TaskStatus,
)
from sandbox_crm.sales.suggestions import RULES, suggestions


def _id(key: Any) -> Any:
    return key[0] if isinstance(key, tuple) else key


def _rule(value: str) -> str:
    if value not in RULES:
        raise ValueError(f"unknown suggestion {value!r}; known: {', '.join(RULES)}")
    return value


def _members(ctx: GradingContext, ids: set[int]) -> list[str]:
    chosen = sorted(ids)[:LISTED]
    if not chosen:
        return []
    rows = ctx.final.execute(select(Customer.id, Customer.member_no).where(Customer.id.in_(chosen)))
    numbers = {customer_id: member_no for customer_id, member_no in rows}
    return [numbers.get(i, str(i)) for i in chosen]


def _expected(ctx: GradingContext, rule: str, data_used: str) -> set[int]:
    """Customers the template suggests ``rule`` for (only on data within purpose, if asked)."""
    found = suggestions(ctx.template, ctx.as_of, rule=rule)
    return {s.customer_id for s in found if data_used == "any" or s.within_purpose}


def _opened(ctx: GradingContext, rule: str) -> list[Opportunity]:
    added = [ctx.final.get(Opportunity, _id(key)) for key in ctx.added_ids(Opportunity)]
    return sorted((o for o in added if o is not None and o.suggestion == rule), key=lambda o: o.id)


class OpportunitiesParams(Params):
    """Parameters of sales.opportunities_for."""

    suggestion: str
    """The cross-selling rule the opportunities come from."""
    data_used: Literal["within", "any"] = "within"
    """Expect only the suggestions whose data was collected for selling (within), or all."""
    follow_up_days: int | None = Field(None, ge=1, le=90)
    """If set, each opportunity needs an open follow-up task due within this many days."""

    @field_validator("suggestion")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        return _rule(value)


@check("sales.opportunities_for", params=OpportunitiesParams)
def opportunities_for(ctx: GradingContext, params: OpportunitiesParams) -> Outcome:
    """Opportunities from a suggestion were opened for exactly the customers it should cover."""
    expected = _expected(ctx, params.suggestion, params.data_used)
    opened = _opened(ctx, params.suggestion)
    found = {o.customer_id for o in opened}
    missing, unexpected = expected - found, found - expected
    without_task: set[int] = set()
    if params.follow_up_days is not None:
        last = ctx.as_of + timedelta(days=params.follow_up_days)
        for opportunity in opened:
            tasks = ctx.final.scalars(
                select(FollowUpTask).where(FollowUpTask.opportunity_id == opportunity.id)
            ).all()
            if not any(
                t.status == TaskStatus.OPEN.value and ctx.as_of <= t.due_on <= last for t in tasks
            ):
                without_task.add(opportunity.customer_id)
    evidence: dict[str, Any] = {
        "suggestion": params.suggestion,
        "expected_count": len(expected),
        "found_count": len(found),
        "missing": _members(ctx, missing),
        "unexpected": _members(ctx, unexpected),
        "without_follow_up": _members(ctx, without_task),
    }
    note = None
    if not found:
        note = N_("No opportunity was opened from the suggestions the task is about.")
    elif unexpected:
        note = N_(
            "Opportunities were opened for customers the task does not cover: check what "
            "each suggestion is based on."
        )
    elif missing:
        note = N_("Some customers the task covers have no opportunity.")
    elif without_task:
        note = N_("Some opportunities have no open follow-up task due when the task asks.")
    union = expected | found
    score = len(expected & found) / len(union) if union else 1.0
    ok = bool(found) and not missing and not unexpected and not without_task
    return judged(ok, evidence, score, (note, {}) if note else None)


class OffersParams(Params):
    """Parameters of sales.offers_sent."""

    suggestion: str
    """The rule whose opportunities the offers are for."""
    channel: Channel
    """The channel the offers go out on."""
    data_used: Literal["within", "any"] = "within"
    """Which suggestions' customers the offer is for (as in sales.opportunities_for)."""

    @field_validator("suggestion")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        return _rule(value)


@check("sales.offers_sent", params=OffersParams)
def offers_match(ctx: GradingContext, params: OffersParams) -> Outcome:
    """Offers went to exactly those covered customers who may be marketed to on the channel."""
    channel = str(params.channel)
    covered = _expected(ctx, params.suggestion, params.data_used)
    expected = set()
    for customer in ctx.template.scalars(select(Customer).where(Customer.id.in_(covered))):
        purpose = ConsentPurpose.DIRECT_MARKETING.value
        if screen_reason(ctx.template, customer, purpose, channel) is None:
            expected.add(customer.id)
    rule_opportunities = {o.id for o in _opened(ctx, params.suggestion)}
    channels = dict(ctx.final.execute(select(Message.id, Message.channel)).all())
    found = {
        offer.get("customer_id")
        for _, offer in offers_sent(ctx)
        if offer.get("opportunity_id") in rule_opportunities
        and channels.get(offer.get("message_id")) == channel
    }
    missing, unexpected = expected - found, found - expected
    evidence: dict[str, Any] = {
        "suggestion": params.suggestion,
        "channel": channel,
        "expected_count": len(expected),
        "found_count": len(found),
        "missing": _members(ctx, missing),
        "unexpected": _members(ctx, unexpected),
    }
    note = None
    if not found:
        note = N_("No offer was sent from the opportunities.")
    elif unexpected:
        note = N_(
            "Offers reached customers who may not be sent them on that channel: check consent "
            "and the opt-out list at the send."
        )
    elif missing:
        note = N_("Some customers who may receive the offer did not get it.")
    union = expected | found
    score = len(expected & found) / len(union) if union else 1.0
    return judged(
        bool(found) and not missing and not unexpected,
        evidence,
        score,
        (note, {}) if note else None,
    )


class DataRecordedParams(Params):
    """Parameters of sales.data_recorded."""

    opportunity: str = Field(min_length=1)
    """The reference of the opportunity whose customer gave the information."""
    expect: dict[DataKind, str] = Field(min_length=1)
    """Each kind of information and its value, as the customer gave it."""
    purposes: list[DataPurpose] = Field(min_length=1)
    """The purposes it may be recorded as collected for."""
    sources: list[DataSource] | None = None
    """The sources accepted (any, if not given)."""


def _same(kind: str, left: str, right: str) -> bool:
    if kind == DataKind.RING_SIZE.value:
        try:
            return float(left) == float(right)
        except ValueError:
            return False
    if kind in (DataKind.WEDDING_DATE, DataKind.ANNIVERSARY_DATE, DataKind.BIRTHDAY):
        try:
            return date.fromisoformat(left) == date.fromisoformat(right)
        except ValueError:
            return False
    return " ".join(left.split()).casefold() == " ".join(right.split()).casefold()


@check("sales.data_recorded", params=DataRecordedParams)
def data_recorded(ctx: GradingContext, params: DataRecordedParams) -> Outcome:
    """The customer's new information is recorded, each with its source and its purpose."""
    opportunity = ctx.final.scalar(
        select(Opportunity).where(Opportunity.reference == params.opportunity)
    )
    if opportunity is None:
        return Outcome.failed(
            {"opportunity": params.opportunity, "reason": "no such opportunity"},
            note=N_("The opportunity named in the task is missing."),
        )
    added = [ctx.final.get(CustomerDataItem, _id(key)) for key in ctx.added_ids(CustomerDataItem)]
    items = [i for i in added if i is not None and i.customer_id == opportunity.customer_id]
    purposes = {str(p) for p in params.purposes}
    sources = {str(s) for s in params.sources} if params.sources is not None else None
    problems: dict[str, str] = {}
    for kind, value in params.expect.items():
        same = [i for i in items if i.kind == str(kind) and _same(i.kind, i.value, value)]
        if not same:
            problems[str(kind)] = "missing or wrong value"
        elif not any(i.purpose in purposes for i in same):
            problems[str(kind)] = "wrong purpose"
        elif sources is not None and not any(i.source in sources for i in same):
            problems[str(kind)] = "wrong source"
    evidence = {
        "opportunity": params.opportunity,
        "recorded": [
            {"kind": i.kind, "value": i.value, "purpose": i.purpose, "source": i.source}
            for i in items
        ],
        "problems": problems,
    }
    note = None
    if any(p == "missing or wrong value" for p in problems.values()):
        note = N_("Some information the customer gave is not recorded, or not as given.")
    elif problems:
        note = N_("Information is recorded without the right purpose or source.")
    return judged(not problems, evidence, None, (note, {}) if note else None)


# --- sales management: quotas, capacity, regional managers ------------------------------------


def _period(value: str) -> str:
    try:
        period_dates(value)
    except ValueError:
        raise ValueError(f'{value!r} is not a quarter ("2027-Q1") or a month ("2027-01")') from None
    return value


class QuotasSetParams(Params):
    """Parameters of sales.quotas_set."""

    period: str
    """The period the region quotas are for ("2027-Q1")."""
    base_period: str
    """The period whose sales each region's quota is based on ("2026-Q1")."""
    growth_percent: float = Field(ge=-90, le=500)
    """The growth on the base period's sales."""
    round_up_to_hkd: int = Field(1, ge=1, le=1_000_000)
    """The quota is rounded up to a multiple of this."""

    @field_validator("period", "base_period")
    @classmethod
    def _known_period(cls, value: str) -> str:
        return _period(value)


@check("sales.quotas_set", params=QuotasSetParams)
def quotas_set(ctx: GradingContext, params: QuotasSetParams) -> Outcome:
    """Every region's quota for the period is its base period's sales plus growth, rounded up."""
    base = select_rows(
        ctx.template,
        "sales_quotas",
        where={
            "all": [
                {"field": "level", "op": "eq", "value": "region"},
                {"field": "period", "op": "eq", "value": params.base_period},
            ]
        },
        columns=["region", "attained_hkd"],
        as_of=ctx.as_of,
    ).rows
    expected = {
        row["region"]: quota_from_history(
            row["attained_hkd"], params.growth_percent, params.round_up_to_hkd
        )
        for row in base
    }
    found = {
        q.region: q.target_hkd
        for q in ctx.final.scalars(
            select(SalesQuota).where(
                SalesQuota.level == "region", SalesQuota.period == params.period
            )
        )
    }
    regions = sorted(set(expected) | set(found))
    evidence: dict[str, Any] = {
        "period": params.period,
        "base_period": params.base_period,
        "quotas": [
            {"region": r, "expected_hkd": expected.get(r), "found_hkd": found.get(r)}
            for r in regions
        ],
    }
    if not expected:
        evidence["reason"] = f"the template has no region quotas for {params.base_period}"
        return judged(False, evidence, 0.0, (N_("The quotas cannot be judged."), {}))
    right = [r for r in expected if found.get(r) == expected[r]]
    note = None
    if not found:
        note = N_("No region has a quota for the period the task asks about.")
    elif len(right) < len(expected):
        note = N_(
            "Some regions' quotas are not what the brief's base period, growth and rounding give."
        )
    return judged(not note, evidence, len(right) / len(expected), (note, {}) if note else None)


class WithinCapacityParams(Params):
    """Parameters of sales.within_capacity (none: the capacities are the template's)."""


@check("sales.within_capacity", params=WithinCapacityParams)
def within_capacity(ctx: GradingContext, params: WithinCapacityParams) -> Outcome:
    """Every salesperson works no more open opportunities than the capacity they were given,
    every open opportunity is still open, and none left its region."""
    template_people = {p.staff_id: p for p in ctx.template.scalars(select(Salesperson))}
    final_people = {p.staff_id: p for p in ctx.final.scalars(select(Salesperson))}
    region_then = {i: p.region for i, p in template_people.items()}
    problems: list[dict[str, Any]] = []
    was_open = {
        o.id: o
        for o in ctx.template.scalars(select(Opportunity).where(Opportunity.stage.in_(OPEN_STAGES)))
    }
    now_open = {
        o.id: o
        for o in ctx.final.scalars(select(Opportunity).where(Opportunity.stage.in_(OPEN_STAGES)))
    }
    for opportunity_id, before in sorted(was_open.items()):
        after = now_open.get(opportunity_id)
        if after is None:
            problems.append({"problem": "closed", "reference": before.reference})
            continue
        then, now = region_then.get(before.owner_id), region_then.get(after.owner_id)
        if after.owner_id != before.owner_id and then is not None and now != then:
            problems.append(
                {
                    "problem": "other_region",
                    "reference": before.reference,
                    "from_region": then,
                    "to_region": now,
                }
            )
    for staff_id, person in sorted(final_people.items()):
        allowed = person.max_open_opportunities
        before = template_people.get(staff_id)
        if before is not None and allowed > before.max_open_opportunities:
            problems.append({"problem": "capacity_raised", "staff_id": staff_id})
            allowed = before.max_open_opportunities
        load = sum(1 for o in now_open.values() if o.owner_id == staff_id)
        if load > allowed:
            problems.append(
                {"problem": "over", "staff_id": staff_id, "load": load, "capacity": allowed}
            )
    evidence = {"problems": problems[:LISTED], "problem_count": len(problems)}
    return judged_problems(
        evidence,
        problems,
        {
            "other_region": N_(
                "An opportunity went to someone in another region: its customer's data went "
                "with it."
            ),
            "closed": N_("Open opportunities were closed instead of being reassigned."),
            "capacity_raised": N_(
                "A capacity was raised instead of the load being shared in the region."
            ),
        },
        otherwise=N_("Someone still works more open opportunities than their capacity."),
    )


class RegionManagerParams(Params):
    """Parameters of sales.region_manager."""

    region: Region
    """The region whose manager is judged."""
    allowed: Condition = None
    """Who may be appointed, as a condition on the sales_team source (within the region)."""

    @field_validator("allowed")
    @classmethod
    def _known_fields(cls, value: Condition) -> Condition:
        problems = condition_errors("sales_team", value)
        if problems:
            raise ValueError("allowed: " + "; ".join(problems))
        return value


@check("sales.region_manager", params=RegionManagerParams)
def region_manager(ctx: GradingContext, params: RegionManagerParams) -> Outcome:
    """The region has a manager the brief allows, and no other region's manager changed."""
    region = str(params.region)
    conditions: list[Any] = [{"field": "region", "op": "eq", "value": region}]
    if params.allowed:
        conditions.append(params.allowed)
    allowed = {
        row["staff_id"]
        for row in select_rows(
            ctx.template,
            "sales_team",
            where={"all": conditions},
            columns=["staff_id"],
            as_of=ctx.as_of,
        ).rows
    }
    before = {r.name: r.manager_id for r in ctx.template.scalars(select(SalesRegion))}
    after = {r.name: r.manager_id for r in ctx.final.scalars(select(SalesRegion))}
    manager = after.get(region)
    changed = sorted(n for n in before if n != region and after.get(n) != before[n])
    evidence: dict[str, Any] = {
        "region": region,
        "manager_staff_id": manager,
        "allowed_staff_ids": sorted(allowed)[:LISTED],
        "other_regions_changed": changed,
    }
    note = None
    if manager is None:
        note = N_("The region still has no manager.")
    elif manager not in allowed:
        note = N_("The region's new manager is not someone the brief allows.")
    elif changed:
        note = N_("Another region's manager was changed.")
    return judged(not note, evidence, None, (note, {}) if note else None)
