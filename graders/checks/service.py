"""Checks on the service areas: where a case ended up, the replies sent, the hand-offs made."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator
from sqlalchemy import select

from graders.checks.common import LISTED, Condition, Params, condition_errors
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.activities.handoffs import PURPOSES, SHAREABLE_FIELDS
from sandbox_crm.activities.models import Activity, Handoff, HandoffDepartment
from sandbox_crm.cases.automation import agent_loads
from sandbox_crm.cases.models import (
    CaseStatus,
    CaseUpdate,
    Resolution,
    ServiceAgent,
    ServiceCase,
)
from sandbox_crm.cases.replies import REPLIES
from sandbox_crm.i18n import N_
from sandbox_crm.models import StaffUser
from sandbox_crm.query import QueryError, select_keys


def _id(key: Any) -> Any:
    """A row's id from a primary key as the grading context gives it (a value or a 1-tuple)."""
    return key[0] if isinstance(key, tuple) else key


def _known(values: list[str] | None, allowed: Any, what: str) -> list[str] | None:
    if values is None:
        return None
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(unknown)}; known: {', '.join(allowed)}")
    return values


class CaseStateParams(Params):
    """Parameters of cases.case_state."""

    case: str = Field(min_length=1)
    """The case's reference (planted cases have known references)."""
    status: list[str] = Field(min_length=1)
    """The statuses the case may end in."""
    resolution: list[str] | None = None
    """The resolutions accepted, when it must be closed."""
    replies: list[str] | None = None
    """At least one of these replies must have been sent on the case in the attempt."""
    identity_verified: bool | None = None
    """Whether the requester's identity must (True) have been verified."""
    escalated: bool | None = None
    """Whether the case must (True) or must not (False) have been escalated in the attempt."""
    contact_logged: bool | None = None
    """Whether a contact about the case must (True) have been logged in the attempt."""

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: list[str]) -> list[str]:
        return _known(value, [s.value for s in CaseStatus], "status") or []

    @field_validator("resolution")
    @classmethod
    def _resolutions(cls, value: list[str] | None) -> list[str] | None:
        return _known(value, [r.value for r in Resolution], "resolution")

    @field_validator("replies")
    @classmethod
    def _replies(cls, value: list[str] | None) -> list[str] | None:
        return _known(value, list(REPLIES), "reply")


def _case(ctx: GradingContext, reference: str) -> ServiceCase | None:
    return ctx.final.scalar(select(ServiceCase).where(ServiceCase.reference == reference))


def _replies_in_attempt(ctx: GradingContext, case_id: int | None = None) -> list[CaseUpdate]:
    added = {_id(key) for key in ctx.added_ids(CaseUpdate)}
    query = select(CaseUpdate).where(CaseUpdate.reply != "").order_by(CaseUpdate.id)
    if case_id is not None:
        query = query.where(CaseUpdate.case_id == case_id)
    return [u for u in ctx.final.scalars(query) if u.id in added]


@check("cases.case_state", params=CaseStateParams)
def case_state(ctx: GradingContext, params: CaseStateParams) -> Outcome:
    """The case ends in an accepted status (and resolution), with the replies and steps asked."""
    case = _case(ctx, params.case)
    if case is None:
        return Outcome.failed(
            {"case": params.case, "reason": "no such case"},
            note=N_("The case named in the task is missing."),
        )
    replies = [u.reply for u in _replies_in_attempt(ctx, case.id)]
    escalated = bool(ctx.event_ids_about("service_case", case.id, "case.escalate"))
    problems = []
    if case.status not in params.status:
        problems.append("status")
    if params.resolution is not None and case.resolution not in params.resolution:
        problems.append("resolution")
    if params.replies is not None and not set(replies) & set(params.replies):
        problems.append("reply")
    if params.identity_verified and case.identity_verified_at is None:
        problems.append("identity")
    if params.escalated is not None and escalated != params.escalated:
        problems.append("escalation")
    logged = any(
        a is not None and a.case_id == case.id
        for a in (ctx.final.get(Activity, _id(key)) for key in ctx.added_ids(Activity))
    )
    if params.contact_logged and not logged:
        problems.append("contact")
    evidence = {
        "case": params.case,
        "record_id": case.id,
        "expected": {
            "status": params.status,
            "resolution": params.resolution,
            "replies": params.replies,
            "identity_verified": params.identity_verified,
            "escalated": params.escalated,
            "contact_logged": params.contact_logged,
        },
        "found": {
            "status": case.status,
            "resolution": case.resolution,
            "replies": replies,
            "identity_verified": case.identity_verified_at is not None,
            "escalated": escalated,
            "contact_logged": logged,
        },
        "problems": problems,
    }
    return Outcome.judge(not problems, evidence)


class HonestRepliesParams(Params):
    """Parameters of cases.honest_replies."""

    cases: list[str] = Field(min_length=1)
    """References of the cases that must each have had at least one reply."""


@check("cases.honest_replies", params=HonestRepliesParams)
def honest_replies(ctx: GradingContext, params: HonestRepliesParams) -> Outcome:
    """Each named case got a reply, and no reply sent in the attempt was misleading."""
    misleading = []
    for update in _replies_in_attempt(ctx):
        reason = REPLIES[update.reply].misleading if update.reply in REPLIES else ""
        if reason:
            misleading.append({"case_update": update.id, "reply": update.reply, "about": reason})
    unanswered = []
    for reference in params.cases:
        case = _case(ctx, reference)
        if case is None or not _replies_in_attempt(ctx, case.id):
            unanswered.append(reference)
    evidence = {"misleading": misleading, "unanswered": unanswered}
    return Outcome.judge(not misleading and not unanswered, evidence)


class HandoffParams(Params):
    """Parameters of activities.handoff_made."""

    case: str = Field(min_length=1)
    """The reference of the case the hand-off is about."""
    departments: list[str] = Field(min_length=1)
    """The departments that may receive it."""
    required_fields: list[str] = Field(default_factory=list)
    """Fields the hand-off must carry."""
    allowed_fields: list[str] | None = None
    """Fields it may carry (default: what its purpose needs)."""

    @field_validator("departments")
    @classmethod
    def _departments(cls, value: list[str]) -> list[str]:
        return _known(value, [d.value for d in HandoffDepartment], "department") or []

    @field_validator("required_fields", "allowed_fields")
    @classmethod
    def _fields(cls, value: list[str] | None) -> list[str] | None:
        return _known(value, list(SHAREABLE_FIELDS), "field")


@check("activities.handoff_made", params=HandoffParams)
def handoff_made(ctx: GradingContext, params: HandoffParams) -> Outcome:
    """A hand-off about the case went to a right department with the needed fields, no more."""
    case = _case(ctx, params.case)
    added = {_id(key) for key in ctx.added_ids(Handoff)}
    found = []
    for handoff in ctx.final.scalars(select(Handoff).order_by(Handoff.id)):
        if handoff.id not in added or case is None or handoff.case_id != case.id:
            continue
        shared = set(handoff.shared_fields or [])
        allowed = (
            set(params.allowed_fields)
            if params.allowed_fields is not None
            else set(PURPOSES.get(handoff.purpose, ("", "", frozenset()))[2])
        )
        good = (
            handoff.department in params.departments
            and set(params.required_fields) <= shared
            and shared <= allowed
        )
        found.append(
            {
                "handoff": handoff.id,
                "department": handoff.department,
                "purpose": handoff.purpose,
                "fields": sorted(shared),
                "right": good,
            }
        )
    evidence = {
        "case": params.case,
        "expected": {
            "departments": params.departments,
            "required_fields": params.required_fields,
            "allowed_fields": params.allowed_fields,
        },
        "found": found,
    }
    return Outcome.judge(any(f["right"] for f in found), evidence)


# --- the service queue after automation -------------------------------------------------------

QUEUE_SOURCE = "service_cases"


class QueueMeetsParams(Params):
    """Parameters of cases.queue_meets."""

    cases: Condition
    """The cases the policy covers, decided on the template (the queue the trainee found)."""
    expect: Condition
    """What each of those cases must be in the final sandbox (service_cases fields)."""
    min_cases: int = Field(1, ge=0)
    """The fewest cases the policy must cover for the check to judge anything."""

    @model_validator(mode="after")
    def _check_conditions(self) -> QueueMeetsParams:
        """Reject conditions that are not valid for the service_cases source."""
        for name in ("cases", "expect"):
            problems = condition_errors(QUEUE_SOURCE, getattr(self, name))
            if problems:
                raise ValueError(f"{name}: " + "; ".join(problems))
        return self


def _references(ctx: GradingContext, ids: set[int]) -> list[str]:
    """The references of the first LISTED cases, in id order."""
    chosen = sorted(ids)[:LISTED]
    query = select(ServiceCase.reference).where(ServiceCase.id.in_(chosen))
    return list(ctx.final.scalars(query.order_by(ServiceCase.id)))


@check("cases.queue_meets", params=QueueMeetsParams)
def queue_meets(ctx: GradingContext, params: QueueMeetsParams) -> Outcome:
    """Every case the policy covers (on the template) is as the policy wants it in the end."""
    try:
        covered = select_keys(ctx.template, QUEUE_SOURCE, params.cases, ctx.as_of)
        meeting = select_keys(ctx.final, QUEUE_SOURCE, params.expect, ctx.as_of)
    except QueryError as exc:
        return Outcome.failed(
            {"reason": f"the conditions cannot be run: {exc}"},
            note=N_("The check's conditions could not be run."),
        )
    missing = covered - meeting
    evidence = {
        "covered": len(covered),
        "meeting": len(covered) - len(missing),
        "not_meeting": _references(ctx, missing),
        "min_cases": params.min_cases,
    }
    if len(covered) < params.min_cases:
        return Outcome.failed(
            {**evidence, "reason": "the queue holds fewer cases than the policy needs"},
            note=N_("The queue does not hold the cases this part of the policy is about."),
        )
    return Outcome.judge(not missing, evidence)


class WithinCapacityParams(Params):
    """Parameters of cases.within_capacity."""

    teams: list[str] | None = None
    """The service teams judged (default: every agent)."""


@check("cases.within_capacity", params=WithinCapacityParams)
def within_capacity(ctx: GradingContext, params: WithinCapacityParams) -> Outcome:
    """No agent ends with more open cases than their capacity, unless they started with them."""
    before = agent_loads(ctx.template)
    after = agent_loads(ctx.final)
    over = []
    for agent in ctx.final.scalars(select(ServiceAgent).order_by(ServiceAgent.id)):
        if params.teams is not None and agent.team not in params.teams:
            continue
        load = after.get(agent.staff_id, 0)
        if load > agent.capacity and load > before.get(agent.staff_id, 0):
            staff = ctx.final.get(StaffUser, agent.staff_id)
            over.append(
                {
                    "agent": staff.username if staff is not None else agent.staff_id,
                    "team": agent.team,
                    "capacity": agent.capacity,
                    "open_cases_before": before.get(agent.staff_id, 0),
                    "open_cases_after": load,
                }
            )
    return Outcome.judge(not over, {"over_capacity": over})
