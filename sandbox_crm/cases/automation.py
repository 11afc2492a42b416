"""Service workflow automation: rules that route, prioritise, acknowledge and escalate cases.

A supervisor keeps an ordered list of rules. Each rule matches new or open cases by kind,
channel, the customer's tier, region or home branch, and acts: it assigns the case to a named
agent or to the least-loaded member of a team who still has capacity, sets the priority (and so
the time the first response is due), sends a service acknowledgement on the case's channel, and
escalates the case to a manager when its response time was missed. The first active rule that
matches a case acts on it. Rules run when a case is opened and when the supervisor applies them
to the open queue; a preview lists what each would do without changing anything.

Every automatic step is a ``case_update`` naming the rule and an audit event like the manual
operation's, with the rule in its details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.cases.models import (
    OPEN_STATUSES,
    RESPONSE_HOURS,
    Acknowledgement,
    AgentTeam,
    CaseChannel,
    CaseKind,
    CaseRule,
    CaseRuleRun,
    CaseStatus,
    CaseUpdate,
    Priority,
    ServiceAgent,
    ServiceCase,
)
from sandbox_crm.cases.operations import CASE_FIELDS, log_case_step
from sandbox_crm.clock import sandbox_now, sandbox_peek
from sandbox_crm.company.models import Branch
from sandbox_crm.i18n import N_, Message
from sandbox_crm.messages.operations import add_message, contact_evidence
from sandbox_crm.models import ContactPoint, Customer, MessageKind, Region, StaffUser, Tier
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    RecordArgs,
    check_department,
    operation,
)

__all__ = [
    "ACKNOWLEDGEMENTS",
    "ACK_CHANNELS",
    "PlannedStep",
    "agent_loads",
    "apply_case_rules",
    "create_case_rule",
    "disable_case_rule",
    "enable_case_rule",
    "matches",
    "move_case_rule",
    "ordered_rules",
    "preview_case_rules",
    "run_rules_on_case",
    "update_case_rule",
]

RULE_DEPARTMENTS = frozenset({"customer_service", "management"})
"""Departments whose staff may configure and apply automation rules (supervisors)."""

ACK_CHANNELS: dict[str, str] = {
    CaseChannel.EMAIL.value: "email",
    CaseChannel.CHAT.value: "sms",
    CaseChannel.PHONE.value: "sms",
}
"""The message channel an acknowledgement goes out on, by the case's channel (a walk-in is
acknowledged at the counter and a review in its public response, so neither gets one)."""

ACK_CONTACT_KINDS: dict[str, str] = {"email": "email", "sms": "mobile"}
"""The kind of contact point an acknowledgement on each message channel goes to."""

ACKNOWLEDGEMENTS: dict[str, tuple[str, str]] = {
    Acknowledgement.REFERENCE_ONLY.value: (
        "Your case {reference}",
        "Thank you for contacting us. We have received your request (case {reference}) and "
        "will respond by {due}. This is a service message.",
    ),
    Acknowledgement.WITH_CASE_DETAILS.value: (
        "Your case {reference}: {subject}",
        "Thank you for contacting us. We have received your request (case {reference}) and "
        "will respond by {due}. You told us: {subject}. {details}",
    ),
    Acknowledgement.WITH_OFFER.value: (
        "Your case {reference}",
        "Thank you for contacting us. We have received your request (case {reference}) and "
        "will respond by {due}. While you wait, enjoy 10% off our new collection in store.",
    ),
}
"""The subject and body of each acknowledgement a rule may send (English, as sent)."""

NAME_MAX_LENGTH = 80
_RULE_FIELDS = [
    "name",
    "is_active",
    "position",
    "kinds",
    "channels",
    "tiers",
    "regions",
    "branch_id",
    "assign_team",
    "assign_to_id",
    "priority",
    "acknowledgement",
    "escalate_to_id",
]
_AUTO_FIELDS = [*CASE_FIELDS, "priority", "response_due_at", "rule_id"]


# --- arguments --------------------------------------------------------------------------------


class RuleArgs(RecordArgs):
    """Arguments naming one rule by id or by name."""

    id_field = "rule_id"
    reference_field = "rule"
    lookup = (CaseRule.id, CaseRule.name)
    not_found = N_("There is no automation rule called %(reference)r.")

    rule_id: int | None = Arg(None, description="The rule's id.")
    rule: str | None = Arg(None, description="The rule's name (instead of id).")


class _RuleFields(Args):
    """What a rule matches and does (shared by create and update)."""

    kinds: list[CaseKind] | None = Arg(None, title="Kinds", description="Case kinds (any).")
    channels: list[CaseChannel] | None = Arg(
        None, title="Channels", description="Case channels (any)."
    )
    tiers: list[Tier] | None = Arg(None, title="Tiers", description="Customer tiers (any).")
    regions: list[Region] | None = Arg(None, title="Regions", description="Customer regions (any).")
    branch: str | None = Arg(
        None, title="Home branch", max_length=16, description="A branch code (any)."
    )
    assign_team: AgentTeam | Literal[""] | None = Arg(
        None, title="Assign to team", description="senior or general: its least-loaded agent."
    )
    assign_to: str | None = Arg(
        None, title="Assign to", max_length=40, description="An agent's username."
    )
    priority: Priority | Literal[""] | None = Arg(
        None, title="Priority", description="urgent (4 h), high (8 h), normal (24 h), low (72 h)."
    )
    acknowledgement: Acknowledgement | None = Arg(
        None, title="Acknowledgement", description="The acknowledgement sent (none for none)."
    )
    escalate_to: str | None = Arg(
        None,
        title="Escalate to",
        max_length=40,
        description="A manager's username, when the response time is missed.",
    )


class CreateRuleArgs(_RuleFields):
    """Arguments of create_case_rule."""

    name: str = Arg(title="Name", min_length=1, max_length=NAME_MAX_LENGTH, description="Name.")
    position: int | None = Arg(
        None, title="Order", ge=1, description="Its place in the order (default: last)."
    )
    is_active: bool = Arg(True, title="Active", description="Whether it runs.")


class UpdateRuleArgs(RuleArgs, _RuleFields):
    """Arguments of update_case_rule: what is given replaces what the rule had."""

    name: str | None = Arg(
        None, title="Name", min_length=1, max_length=NAME_MAX_LENGTH, description="A new name."
    )


class MoveRuleArgs(RuleArgs):
    """Arguments of move_case_rule."""

    position: int = Arg(title="Order", ge=1, description="Its new place in the order (1 first).")


class ApplyRulesArgs(Args):
    """Arguments of apply_case_rules (none: it applies the active rules to the open queue)."""


# --- shared rules -----------------------------------------------------------------------------


def _check_supervisor(actor: StaffUser) -> None:
    check_department(
        actor,
        RULE_DEPARTMENTS,
        Message(
            N_(
                "Your account may not configure service automation: only Customer Service "
                "and Management staff may."
            )
        ),
    )


def ordered_rules(session: Session, *, active_only: bool = False) -> list[CaseRule]:
    """The rules in the order they are tried."""
    query = select(CaseRule).order_by(CaseRule.position, CaseRule.id)
    if active_only:
        query = query.where(CaseRule.is_active.is_(True))
    return list(session.scalars(query))


def _renumber(rules: list[CaseRule]) -> None:
    for number, rule in enumerate(rules, start=1):
        rule.position = number


def _place(session: Session, rule: CaseRule, position: int | None) -> None:
    others = [r for r in ordered_rules(session) if r.id != rule.id]
    at = len(others) if position is None else max(0, min(position - 1, len(others)))
    _renumber([*others[:at], rule, *others[at:]])


def _agent(session: Session, username: str, field_name: str) -> StaffUser:
    staff = session.scalar(select(StaffUser).where(StaffUser.username == username))
    agent = (
        session.scalar(select(ServiceAgent).where(ServiceAgent.staff_id == staff.id))
        if staff is not None
        else None
    )
    if staff is None or not staff.is_active or agent is None:
        raise OperationError(
            Message(N_("%(name)r is not an active service agent."), name=username), field_name
        )
    return staff


def _manager(session: Session, username: str, field_name: str) -> StaffUser:
    staff = session.scalar(select(StaffUser).where(StaffUser.username == username))
    code = staff.department.code if staff is not None and staff.department is not None else ""
    if staff is None or not staff.is_active or code not in RULE_DEPARTMENTS:
        raise OperationError(
            Message(
                N_("Escalate to an active member of Customer Service or Management, not %(name)r."),
                name=username,
            ),
            field_name,
        )
    return staff


def _set_fields(session: Session, rule: CaseRule, values: dict[str, Any]) -> None:
    """Copy the given (not None) match and action values onto the rule, resolving names.

    Everything is checked before anything is set, so that a refusal leaves the rule as it was.
    """
    if values.get("assign_team") and values.get("assign_to"):
        raise OperationError(
            Message(N_("A rule assigns either to a team or to one agent, not both.")),
            "assign_to",
        )
    changes: dict[str, Any] = {}
    for name in ("kinds", "channels", "tiers", "regions"):
        if values.get(name) is not None:
            changes[name] = sorted({str(v) for v in values[name]})
    code = values.get("branch")
    if code is not None:
        branch = session.scalar(select(Branch).where(Branch.code == code)) if code else None
        if code and branch is None:
            raise OperationError(
                Message(N_("There is no branch with code %(code)r."), code=code), "branch"
            )
        changes["branch_id"] = branch.id if branch is not None else None
    if values.get("assign_team") is not None:
        changes["assign_team"] = str(values["assign_team"])
        if changes["assign_team"]:
            changes["assign_to_id"] = None
    name = values.get("assign_to")
    if name is not None:
        changes["assign_to_id"] = _agent(session, name, "assign_to").id if name else None
        if name:
            changes["assign_team"] = ""
    for key in ("priority", "acknowledgement"):
        if values.get(key) is not None:
            changes[key] = str(values[key])
    name = values.get("escalate_to")
    if name is not None:
        changes["escalate_to_id"] = _manager(session, name, "escalate_to").id if name else None
    after = {key: changes.get(key, getattr(rule, key)) for key in _ACTIONS}
    acts = (
        after["assign_team"]
        or after["assign_to_id"]
        or after["priority"]
        or after["acknowledgement"] not in ("", Acknowledgement.NONE.value)
        or after["escalate_to_id"]
    )
    if not acts:
        raise OperationError(
            Message(
                N_("A rule must do something: assign, set a priority, acknowledge or escalate.")
            ),
            "priority",
        )
    for key, value in changes.items():
        setattr(rule, key, value)


_ACTIONS = ("assign_team", "assign_to_id", "priority", "acknowledgement", "escalate_to_id")


def _unique_name(session: Session, name: str, rule_id: int | None = None) -> None:
    taken = session.scalar(select(CaseRule.id).where(func.lower(CaseRule.name) == name.lower()))
    if taken is not None and taken != rule_id:
        raise OperationError(
            Message(N_("There is already a rule called %(name)r."), name=name), "name"
        )


def _audit_rule(
    session: Session, actor: StaffUser, rule: CaseRule, event: str, before: dict[str, Any]
) -> None:
    session.flush()
    record_event(
        session,
        actor,
        event,
        "case_rule",
        rule.id,
        before=before,
        after=snapshot(rule, _RULE_FIELDS),
        details={"rule_id": rule.id, "name": rule.name},
    )


# --- configuring rules ------------------------------------------------------------------------


@operation(
    "create_case_rule",
    args=CreateRuleArgs,
    event="case_rule.create",
    description="Add a service automation rule: the cases it matches and what it does.",
)
def create_case_rule(
    session: Session,
    actor: StaffUser,
    name: str,
    position: int | None = None,
    is_active: bool = True,
    **values: Any,
) -> CaseRule:
    """Create a rule at ``position`` in the order (last by default)."""
    _check_supervisor(actor)
    _unique_name(session, name)
    rule = CaseRule(
        name=name,
        is_active=is_active,
        position=0,
        kinds=[],
        channels=[],
        tiers=[],
        regions=[],
        assign_team="",
        priority="",
        acknowledgement=Acknowledgement.NONE.value,
    )
    _set_fields(session, rule, values)
    rule.created_at = sandbox_now(session)
    session.add(rule)
    session.flush()
    _place(session, rule, position)
    _audit_rule(session, actor, rule, "case_rule.create", {})
    return rule


@operation(
    "update_case_rule",
    args=UpdateRuleArgs,
    event="case_rule.update",
    description="Change what an automation rule matches or does (what is given replaces).",
)
def update_case_rule(
    session: Session, actor: StaffUser, rule_id: int, name: str | None = None, **values: Any
) -> CaseRule:
    """Update the rule's name, match and actions; an empty list or text clears that part."""
    _check_supervisor(actor)
    rule = _get_rule(session, rule_id)
    before = snapshot(rule, _RULE_FIELDS)
    if name is not None:
        _unique_name(session, name, rule.id)
    _set_fields(session, rule, values)
    if name is not None:
        rule.name = name
    if snapshot(rule, _RULE_FIELDS) == before:
        raise OperationError(Message(N_("Nothing to change: the rule is already so.")), "name")
    _audit_rule(session, actor, rule, "case_rule.update", before)
    return rule


def _get_rule(session: Session, rule_id: int) -> CaseRule:
    rule = session.get(CaseRule, rule_id)
    if rule is None:
        raise OperationError(Message(N_("There is no automation rule #%(id)s."), id=rule_id))
    return rule


def _set_active(session: Session, actor: StaffUser, rule_id: int, active: bool) -> CaseRule:
    _check_supervisor(actor)
    rule = _get_rule(session, rule_id)
    if rule.is_active == active:
        text = N_("The rule is already active.") if active else N_("The rule is already off.")
        raise OperationError(Message(text), "rule")
    before = snapshot(rule, _RULE_FIELDS)
    rule.is_active = active
    event = "case_rule.enable" if active else "case_rule.disable"
    _audit_rule(session, actor, rule, event, before)
    return rule


@operation(
    "enable_case_rule",
    args=RuleArgs,
    event="case_rule.enable",
    description="Switch an automation rule on.",
)
def enable_case_rule(session: Session, actor: StaffUser, rule_id: int) -> CaseRule:
    """Switch the rule on; it runs on new cases and when the rules are applied."""
    return _set_active(session, actor, rule_id, True)


@operation(
    "disable_case_rule",
    args=RuleArgs,
    event="case_rule.disable",
    description="Switch an automation rule off (it stays in the list).",
)
def disable_case_rule(session: Session, actor: StaffUser, rule_id: int) -> CaseRule:
    """Switch the rule off; what it already did to cases stays."""
    return _set_active(session, actor, rule_id, False)


@operation(
    "move_case_rule",
    args=MoveRuleArgs,
    event="case_rule.move",
    description="Move an automation rule to another place in the order (1 is tried first).",
)
def move_case_rule(session: Session, actor: StaffUser, rule_id: int, position: int) -> CaseRule:
    """Move the rule; the others keep their relative order."""
    _check_supervisor(actor)
    rule = _get_rule(session, rule_id)
    count = len(ordered_rules(session))
    if position > count:
        raise OperationError(
            Message(N_("There are only %(count)s rules."), count=count), "position"
        )
    if rule.position == position:
        raise OperationError(Message(N_("The rule is already at that place.")), "position")
    before = snapshot(rule, _RULE_FIELDS)
    _place(session, rule, position)
    _audit_rule(session, actor, rule, "case_rule.move", before)
    return rule


# --- matching and acting ----------------------------------------------------------------------


def matches(rule: CaseRule, case: ServiceCase, customer: Customer | None) -> bool:
    """Whether the rule's conditions all hold for the case (an empty condition holds)."""
    if rule.kinds and case.kind not in rule.kinds:
        return False
    if rule.channels and case.channel not in rule.channels:
        return False
    if customer is None:
        return not (rule.tiers or rule.regions or rule.branch_id)
    if rule.tiers and customer.tier not in rule.tiers:
        return False
    if rule.regions and customer.region not in rule.regions:
        return False
    return not (rule.branch_id and customer.home_branch_id != rule.branch_id)


def agent_loads(session: Session) -> dict[int, int]:
    """Open cases per staff member; an escalated case is its manager's oversight, not load."""
    worked = sorted(OPEN_STATUSES - {CaseStatus.ESCALATED.value})
    rows = session.execute(
        select(ServiceCase.assigned_to_id, func.count())
        .where(ServiceCase.status.in_(worked), ServiceCase.assigned_to_id.isnot(None))
        .group_by(ServiceCase.assigned_to_id)
    )
    return {staff_id: count for staff_id, count in rows}


@dataclass
class PlannedStep:
    """One thing a rule does (or would do) to a case, or why it could not."""

    case_id: int
    reference: str
    rule_id: int
    rule: str
    action: str
    detail: str = ""
    skipped: str = ""


@dataclass
class _Run:
    """The state of one pass of the rules: loads as they change, steps taken."""

    session: Session
    actor: StaffUser
    apply: bool
    now: datetime
    rules: list[CaseRule]
    loads: dict[int, int]
    agents: dict[int, ServiceAgent]
    steps: list[PlannedStep] = field(default_factory=list)

    def step(
        self, case: ServiceCase, rule: CaseRule, action: str, detail: str, skipped: str = ""
    ) -> None:
        self.steps.append(
            PlannedStep(case.id, case.reference, rule.id, rule.name, action, detail, skipped)
        )


def _new_run(session: Session, actor: StaffUser, apply: bool) -> _Run:
    agents = {a.staff_id: a for a in session.scalars(select(ServiceAgent))}
    active = {s.id for s in session.scalars(select(StaffUser).where(StaffUser.is_active.is_(True)))}
    return _Run(
        session=session,
        actor=actor,
        apply=apply,
        now=sandbox_now(session) if apply else sandbox_peek(session),
        rules=ordered_rules(session, active_only=True),
        loads=agent_loads(session),
        agents={k: v for k, v in agents.items() if k in active},
    )


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(StaffUser.id, StaffUser.full_name).where(StaffUser.id.in_(ids)))
    return {staff_id: name for staff_id, name in rows}


def _assign(run: _Run, case: ServiceCase, rule: CaseRule) -> None:
    if case.status == CaseStatus.ESCALATED.value:
        return
    if rule.assign_to_id is not None:
        targets = [rule.assign_to_id] if rule.assign_to_id in run.agents else []
        label = "agent"
    elif rule.assign_team:
        targets = sorted(s for s, a in run.agents.items() if a.team == rule.assign_team)
        label = f"team {rule.assign_team}"
    else:
        return
    if case.assigned_to_id in targets:
        return
    free = [s for s in targets if run.loads.get(s, 0) < run.agents[s].capacity]
    if not free:
        run.step(case, rule, "assign", label, skipped=N_("no agent with capacity"))
        return
    chosen = min(free, key=lambda s: (run.loads.get(s, 0), s))
    name = _names(run.session, {chosen}).get(chosen, "")
    if case.assigned_to_id is not None:
        run.loads[case.assigned_to_id] = run.loads.get(case.assigned_to_id, 1) - 1
    run.loads[chosen] = run.loads.get(chosen, 0) + 1
    run.step(case, rule, "assign", name)
    if run.apply:
        before = snapshot(case, _AUTO_FIELDS)
        case.assigned_to_id = chosen
        case.rule_id = rule.id
        _log(run, case, rule, "assign", "case.assign", before, name)


def _prioritise(run: _Run, case: ServiceCase, rule: CaseRule) -> None:
    if not rule.priority or case.priority == rule.priority:
        return
    due = case.opened_at + timedelta(hours=RESPONSE_HOURS[rule.priority])
    run.step(case, rule, "priority", rule.priority)
    if run.apply:
        before = snapshot(case, _AUTO_FIELDS)
        case.priority = rule.priority
        case.response_due_at = due
        case.rule_id = rule.id
        _log(run, case, rule, "priority", "case.priority", before, rule.priority)


def _acknowledged(session: Session, case: ServiceCase) -> bool:
    return (
        session.scalar(
            select(CaseUpdate.id)
            .where(CaseUpdate.case_id == case.id, CaseUpdate.action == "acknowledge")
            .limit(1)
        )
        is not None
    )


def _acknowledge(run: _Run, case: ServiceCase, rule: CaseRule) -> None:
    text = ACKNOWLEDGEMENTS.get(rule.acknowledgement)
    channel = ACK_CHANNELS.get(case.channel)
    if text is None or channel is None or _acknowledged(run.session, case):
        return
    contact = run.session.scalars(
        select(ContactPoint)
        .where(
            ContactPoint.customer_id == case.customer_id,
            ContactPoint.kind == ACK_CONTACT_KINDS[channel],
            ContactPoint.is_invalid.is_(False),
        )
        .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
        .limit(1)
    ).first()
    if contact is None:
        run.step(case, rule, "acknowledge", channel, skipped=N_("no valid contact on the channel"))
        return
    run.step(case, rule, "acknowledge", f"{channel}: {rule.acknowledgement}")
    if not run.apply:
        return
    due = case.response_due_at or case.due_at
    values = {
        "reference": case.reference,
        "due": due.strftime("%Y-%m-%d %H:%M"),
        "subject": case.subject,
        "details": case.details,
    }
    subject, body = (part.format(**values).strip() for part in text)
    evidence = contact_evidence(run.session, contact, channel)
    message = add_message(
        run.session,
        run.actor,
        contact,
        channel=channel,
        kind=MessageKind.SERVICE.value,
        subject=subject[:200],
        body=body,
        has_opt_out_notice=False,
    )
    record_event(
        run.session,
        run.actor,
        "message.send",
        "message",
        message.id,
        after=snapshot(message, ["customer_id", "channel", "kind", "to_address", "subject"]),
        details={
            "customer_id": case.customer_id,
            "case_id": case.id,
            "rule_id": rule.id,
            **evidence,
        },
    )
    before = snapshot(case, _AUTO_FIELDS)
    case.rule_id = rule.id
    _log(run, case, rule, "acknowledge", "case.acknowledge", before, f"message #{message.id}")


def _responded(session: Session, case: ServiceCase) -> bool:
    return (
        session.scalar(
            select(CaseUpdate.id)
            .where(CaseUpdate.case_id == case.id, CaseUpdate.action == "reply")
            .limit(1)
        )
        is not None
    )


def _escalate(run: _Run, case: ServiceCase, rule: CaseRule) -> None:
    if rule.escalate_to_id is None or case.status == CaseStatus.ESCALATED.value:
        return
    due = case.response_due_at
    if rule.priority and case.priority != rule.priority:
        due = case.opened_at + timedelta(hours=RESPONSE_HOURS[rule.priority])
    if due is None or due >= run.now or _responded(run.session, case):
        return
    manager = run.session.get(StaffUser, rule.escalate_to_id)
    if manager is None or not manager.is_active:
        run.step(case, rule, "escalate", "", skipped=N_("the manager's account is not active"))
        return
    if case.assigned_to_id is not None:
        run.loads[case.assigned_to_id] = run.loads.get(case.assigned_to_id, 1) - 1
    run.step(case, rule, "escalate", manager.full_name)
    if run.apply:
        before = snapshot(case, _AUTO_FIELDS)
        case.status = CaseStatus.ESCALATED.value
        case.escalated_at = run.now
        case.escalated_to_id = manager.id
        case.assigned_to_id = manager.id
        case.rule_id = rule.id
        _log(run, case, rule, "escalate", "case.escalate", before, "response time missed")


def _log(
    run: _Run,
    case: ServiceCase,
    rule: CaseRule,
    action: str,
    event: str,
    before: dict[str, Any],
    note: str,
) -> None:
    log_case_step(
        run.session,
        run.actor,
        case,
        action,
        event,
        before,
        note=f"{rule.name}: {note}" if note else rule.name,
        details={"rule_id": rule.id, "rule": rule.name, "automatic": True},
        rule_id=rule.id,
    )


def _act(run: _Run, case: ServiceCase) -> None:
    customer = run.session.get(Customer, case.customer_id)
    for rule in run.rules:
        if matches(rule, case, customer):
            _assign(run, case, rule)
            _prioritise(run, case, rule)
            _acknowledge(run, case, rule)
            _escalate(run, case, rule)
            return


def _queue(session: Session) -> list[ServiceCase]:
    return list(
        session.scalars(
            select(ServiceCase)
            .where(ServiceCase.status.in_(sorted(OPEN_STATUSES)))
            .order_by(ServiceCase.opened_at, ServiceCase.id)
        )
    )


def preview_case_rules(session: Session, actor: StaffUser) -> list[PlannedStep]:
    """What the active rules would do to the open queue now, changing nothing."""
    run = _new_run(session, actor, apply=False)
    for case in _queue(session):
        _act(run, case)
    return run.steps


def run_rules_on_case(session: Session, actor: StaffUser, case: ServiceCase) -> list[PlannedStep]:
    """Let the first matching active rule act on one (new) case."""
    run = _new_run(session, actor, apply=True)
    _act(run, case)
    return run.steps


@operation(
    "apply_case_rules",
    args=ApplyRulesArgs,
    event="case_rule.apply",
    description="Apply the active automation rules to every open case (preview them first).",
)
def apply_case_rules(session: Session, actor: StaffUser) -> CaseRuleRun:
    """Apply the active rules to the open queue, oldest case first; the run lists its steps."""
    _check_supervisor(actor)
    run = _new_run(session, actor, apply=True)
    if not run.rules:
        raise OperationError(Message(N_("No automation rule is active.")))
    for case in _queue(session):
        _act(run, case)
    record = CaseRuleRun(
        run_at=run.now,
        by_id=actor.id,
        steps_taken=len([s for s in run.steps if not s.skipped]),
        steps_skipped=len([s for s in run.steps if s.skipped]),
    )
    session.add(record)
    session.flush()
    record_event(
        session,
        actor,
        "case_rule.apply",
        "case_rule_run",
        record.id,
        after=snapshot(record, ["steps_taken", "steps_skipped"]),
        details={"rules": [r.id for r in run.rules], "rule_names": [r.name for r in run.rules]},
    )
    record.steps = run.steps  # type: ignore[attr-defined] - what the run did, for the caller
    return record
