"""Service workflow automation: rules, their matching, preview and apply, and their pages."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.results import Status
from sandbox_crm.cases.automation import agent_loads, matches, preview_case_rules
from sandbox_crm.cases.models import (
    OPEN_STATUSES,
    CaseRule,
    CaseUpdate,
    ServiceAgent,
    ServiceCase,
)
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import AuditEvent, Customer, Department, Message, StaffUser
from sandbox_crm.operations import OperationError, apply_operation
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 10, 12)
VIP, ENQUIRY = "CS-900201", "CS-900202"


def automation_spec(customers: int = 150) -> GenerationSpec:
    """A small jewellery sandbox with an unassigned VIP complaint and an email enquiry."""
    return GenerationSpec(
        profile="jewellery",
        seed=5120,
        customers=customers,
        today=TODAY,
        acting_department="customer_service",
        plants=(
            PlantSpec.of(
                "service_case",
                1,
                reference=VIP,
                case_kind="complaint",
                status="open",
                channel="email",
                days_open=1,
                tier="platinum",
                assigned=False,
                details="Customer showed ID A123456(3) at the counter.",
            ),
            PlantSpec.of(
                "service_case",
                1,
                reference=ENQUIRY,
                case_kind="enquiry",
                status="open",
                channel="email",
                days_open=1,
                tier="classic",
                assigned=False,
                opted_out=True,
                details="Asked about a ring; read out her ID card number D288754(2) to prove it.",
            ),
        ),
    )


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return automation_spec()


def _case(session: Session, reference: str) -> ServiceCase:
    return session.scalars(select(ServiceCase).where(ServiceCase.reference == reference)).one()


def _do(session: Session, actor: StaffUser, op: str, **args: Any) -> Any:
    result = apply_operation(session, actor, op, args)
    session.commit()
    return result


def _staff_of(session: Session, department: str) -> StaffUser:
    return session.scalars(
        select(StaffUser)
        .join(Department, Department.id == StaffUser.department_id)
        .where(Department.code == department, StaffUser.is_active, StaffUser.is_trainee.is_(False))
        .order_by(StaffUser.id)
    ).first()


def _senior_first(session: Session, me: StaffUser) -> None:
    """The fix the scenario asks for: VIP complaints first, the desk acknowledging safely."""
    _do(session, me, "move_case_rule", rule="VIP complaints", position=1)
    _do(session, me, "update_case_rule", rule="Service desk", acknowledgement="reference_only")
    _do(session, me, "enable_case_rule", rule="VIP complaints")
    _do(session, me, "enable_case_rule", rule="Service desk")


# --- generation -------------------------------------------------------------------------------


def test_generation_gives_an_open_queue_agents_and_two_rules_in_the_wrong_order():
    spec = automation_spec(customers=120)
    first, second = generated(spec), generated(spec)
    try:
        for model in (ServiceAgent, CaseRule, ServiceCase):
            assert table_rows(first, model) == table_rows(second, model), model.__name__
        queue = first.scalars(
            select(ServiceCase).where(ServiceCase.status.in_(sorted(OPEN_STATUSES)))
        ).all()
        assert any(c.assigned_to_id is None for c in queue), "some cases wait unassigned"
        assert any(c.due_at.date() < TODAY for c in queue), "some are past their SLA"
        rules = first.scalars(select(CaseRule).order_by(CaseRule.position)).all()
        assert [r.name for r in rules] == ["Service desk", "VIP complaints"]
        assert rules[0].kinds == [] and rules[0].acknowledgement == "with_case_details"
        assert not any(r.is_active for r in rules), "switched off pending a review"
        agents = first.scalars(select(ServiceAgent)).all()
        loads = agent_loads(first)
        assert {a.team for a in agents} == {"senior", "general"}
        assert any(loads.get(a.staff_id, 0) >= a.capacity for a in agents), "one agent is full"
    finally:
        first.close()
        second.close()


# --- matching ---------------------------------------------------------------------------------


def _rule(**match: Any) -> CaseRule:
    values = {"kinds": [], "channels": [], "tiers": [], "regions": [], "branch_id": None}
    return CaseRule(name="r", position=1, **{**values, **match})


def _a_case(kind: str = "complaint", channel: str = "email") -> ServiceCase:
    return ServiceCase(kind=kind, channel=channel, customer_id=1)


@pytest.mark.parametrize(
    ("match", "case", "tier", "region", "branch", "expected"),
    [
        ({}, ("enquiry", "chat"), "classic", "Kowloon", 1, True),
        ({"kinds": ["complaint"]}, ("complaint", "email"), "classic", "Kowloon", 1, True),
        ({"kinds": ["complaint"]}, ("enquiry", "email"), "classic", "Kowloon", 1, False),
        ({"channels": ["chat", "email"]}, ("repair", "chat"), "classic", "Kowloon", 1, True),
        ({"channels": ["chat", "email"]}, ("repair", "phone"), "classic", "Kowloon", 1, False),
        ({"tiers": ["gold", "platinum"]}, ("repair", "phone"), "gold", "Kowloon", 1, True),
        ({"tiers": ["gold", "platinum"]}, ("repair", "phone"), "silver", "Kowloon", 1, False),
        ({"regions": ["Kowloon"]}, ("repair", "phone"), "gold", "Kowloon", 1, True),
        ({"regions": ["Kowloon"]}, ("repair", "phone"), "gold", "New Territories", 1, False),
        ({"branch_id": 2}, ("repair", "phone"), "gold", "Kowloon", 2, True),
        ({"branch_id": 2}, ("repair", "phone"), "gold", "Kowloon", 1, False),
        (
            {"kinds": ["complaint"], "tiers": ["platinum"]},
            ("complaint", "email"),
            "gold",
            "Kowloon",
            1,
            False,
        ),
    ],
)
def test_a_rule_matches_a_case_only_when_every_condition_holds(
    match, case, tier, region, branch, expected
):
    customer = Customer(tier=tier, region=region, home_branch_id=branch)
    assert matches(_rule(**match), _a_case(*case), customer) is expected


# --- configuring rules ------------------------------------------------------------------------


def test_a_supervisor_creates_updates_switches_and_reorders_rules(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, me = sandbox_session, sandbox_actor
    rule = _do(
        session,
        me,
        "create_case_rule",
        name="Online enquiries",
        position=1,
        kinds=["enquiry"],
        channels=["email", "chat"],
        priority="high",
        acknowledgement="reference_only",
    )
    names = [r.name for r in session.scalars(select(CaseRule).order_by(CaseRule.position))]
    assert names == ["Online enquiries", "Service desk", "VIP complaints"]
    _do(session, me, "update_case_rule", rule_id=rule.id, assign_team="general")
    assert rule.assign_team == "general" and rule.kinds == ["enquiry"]
    _do(session, me, "disable_case_rule", rule="Online enquiries")
    assert rule.is_active is False
    _do(session, me, "enable_case_rule", rule_id=rule.id)
    assert rule.is_active is True
    _do(session, me, "move_case_rule", rule_id=rule.id, position=3)
    names = [r.name for r in session.scalars(select(CaseRule).order_by(CaseRule.position))]
    assert names == ["Service desk", "VIP complaints", "Online enquiries"]
    events = session.scalars(
        select(AuditEvent.operation).where(AuditEvent.entity_type == "case_rule")
    ).all()
    assert events == [
        "case_rule.create",
        "case_rule.update",
        "case_rule.disable",
        "case_rule.enable",
        "case_rule.move",
    ]


@pytest.mark.parametrize(
    ("op", "args", "message"),
    [
        ("create_case_rule", {"name": "service desk", "priority": "low"}, "already a rule"),
        ("create_case_rule", {"name": "Idle", "kinds": ["repair"]}, "must do something"),
        (
            "create_case_rule",
            {"name": "Both", "assign_team": "senior", "assign_to": "nobody"},
            "either to a team",
        ),
        ("create_case_rule", {"name": "Ghost", "assign_to": "nobody"}, "not an active service"),
        ("create_case_rule", {"name": "Far", "branch": "XX99", "priority": "low"}, "no branch"),
        ("create_case_rule", {"name": "Odd", "kinds": ["gossip"], "priority": "low"}, "Kinds"),
        ("update_case_rule", {"rule": "Service desk", "priority": "normal"}, "Nothing to change"),
        ("update_case_rule", {"rule": "Nope", "priority": "low"}, "no automation rule"),
        (
            "update_case_rule",
            {"rule": "Service desk", "kinds": ["repair"], "assign_to": "nobody"},
            "not an active service",
        ),
        ("disable_case_rule", {"rule": "Service desk"}, "already off"),
        ("move_case_rule", {"rule": "Service desk", "position": 1}, "already at that place"),
        ("move_case_rule", {"rule": "Service desk", "position": 9}, "only 2 rules"),
    ],
)
def test_rule_changes_that_make_no_sense_are_refused_and_change_nothing(
    sandbox_session: Session, sandbox_actor: StaffUser, op: str, args: dict, message: str
):
    before = table_rows(sandbox_session, CaseRule)
    with pytest.raises(OperationError, match=message):
        apply_operation(sandbox_session, sandbox_actor, op, args)
    assert table_rows(sandbox_session, CaseRule) == before


def test_staff_outside_customer_service_and_management_cannot_configure_or_apply_rules(
    sandbox_session: Session,
):
    sales = _staff_of(sandbox_session, "sales")
    for op, args in (
        ("create_case_rule", {"name": "Mine", "priority": "low"}),
        ("apply_case_rules", {}),
    ):
        with pytest.raises(OperationError, match="may not configure service automation"):
            apply_operation(sandbox_session, sales, op, args)


# --- preview and apply ------------------------------------------------------------------------


def test_the_preview_changes_nothing_and_applying_does_what_it_listed(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, me = sandbox_session, sandbox_actor
    _senior_first(session, me)
    cases_before = table_rows(session, ServiceCase)
    loads_before = agent_loads(session)
    preview = preview_case_rules(session, me)
    assert table_rows(session, ServiceCase) == cases_before
    taken = _do(session, me, "apply_case_rules").steps
    as_listed = [(s.reference, s.action, s.skipped) for s in preview]
    assert [(s.reference, s.action, s.skipped) for s in taken] == as_listed
    vip = _case(session, VIP)
    seniors = set(
        session.scalars(select(ServiceAgent.staff_id).where(ServiceAgent.team == "senior"))
    )
    rule = session.scalars(select(CaseRule).where(CaseRule.name == "VIP complaints")).one()
    assert vip.rule_id == rule.id and vip.priority == "urgent"
    assert (vip.response_due_at - vip.opened_at).total_seconds() == 4 * 3600
    # Opened yesterday with four hours to respond and no reply: escalated to the manager.
    assert vip.status == "escalated" and vip.escalated_to_id == rule.escalate_to_id
    steps = session.scalars(
        select(CaseUpdate).where(CaseUpdate.case_id == vip.id, CaseUpdate.rule_id == rule.id)
    ).all()
    assert [u.action for u in steps] == ["assign", "priority", "acknowledge", "escalate"]
    assert steps[0].by_id == me.id and "VIP complaints" in steps[0].note
    assignment = session.scalars(
        select(AuditEvent).where(
            AuditEvent.operation == "case.assign", AuditEvent.entity_id == vip.id
        )
    ).one()
    assert assignment.details["rule"] == "VIP complaints" and assignment.details["automatic"]
    first_assignee = assignment.after["assigned_to_id"]
    assert first_assignee in seniors
    # Nobody was given a case beyond their capacity.
    for agent in session.scalars(select(ServiceAgent)):
        given = [s for s in taken if s.action == "assign" and not s.skipped]
        name = session.get(StaffUser, agent.staff_id).full_name
        room = max(agent.capacity - loads_before.get(agent.staff_id, 0), 0)
        assert len([s for s in given if s.detail == name]) <= room, name
    # The acknowledgement is a service message carrying the reference, not the case's text.
    acks = session.scalars(select(Message).where(Message.customer_id == vip.customer_id)).all()
    ack = acks[-1]
    assert ack.kind == "service" and ack.channel == "email" and VIP in ack.body
    assert "A123456" not in ack.body and "off" not in ack.body
    # Applying again finds nothing left to do.
    assert [s for s in _do(session, me, "apply_case_rules").steps if not s.skipped] == []


def test_a_team_at_capacity_gets_no_more_cases(sandbox_session: Session, sandbox_actor: StaffUser):
    session, me = sandbox_session, sandbox_actor
    _do(session, me, "enable_case_rule", rule="Service desk")
    for agent in session.scalars(select(ServiceAgent).where(ServiceAgent.team == "general")):
        agent.capacity = agent_loads(session).get(agent.staff_id, 0)
    session.commit()
    before = agent_loads(session)
    steps = _do(session, me, "apply_case_rules").steps
    skipped = [s for s in steps if s.action == "assign" and s.skipped]
    assert skipped and all(s.skipped == "no agent with capacity" for s in skipped)
    general = session.scalars(select(ServiceAgent).where(ServiceAgent.team == "general")).all()
    after = agent_loads(session)
    assert all(after.get(a.staff_id, 0) <= before.get(a.staff_id, 0) for a in general)


def test_the_desk_rule_as_found_copies_the_case_text_into_the_acknowledgement(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, me = sandbox_session, sandbox_actor
    with pytest.raises(OperationError, match="No automation rule is active"):
        apply_operation(session, me, "apply_case_rules", {})
    _do(session, me, "enable_case_rule", rule="Service desk")
    _do(session, me, "enable_case_rule", rule="VIP complaints")
    _do(session, me, "apply_case_rules")
    vip = _case(session, VIP)
    desk = session.scalars(select(CaseRule).where(CaseRule.name == "Service desk")).one()
    assert vip.rule_id == desk.id and vip.priority == "normal"
    body = session.scalars(select(Message.body).where(Message.customer_id == vip.customer_id))
    assert any("A123456(3)" in text for text in body)


def test_opening_a_case_runs_the_first_matching_rule(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, me = sandbox_session, sandbox_actor
    _senior_first(session, me)
    customer_id = _case(session, ENQUIRY).customer_id
    opened = _do(
        session,
        me,
        "open_case",
        customer_id=customer_id,
        kind="enquiry",
        channel="email",
        subject="Opening hours",
    )
    desk = session.scalars(select(CaseRule).where(CaseRule.name == "Service desk")).one()
    assert opened.rule_id == desk.id and opened.priority == "normal"
    actions = session.scalars(
        select(CaseUpdate.action).where(CaseUpdate.case_id == opened.id).order_by(CaseUpdate.id)
    ).all()
    assert actions[0] == "open" and "acknowledge" in actions
    _do(session, me, "disable_case_rule", rule="Service desk")
    plain = _do(
        session,
        me,
        "open_case",
        customer_id=customer_id,
        kind="enquiry",
        channel="email",
        subject="Gold price",
    )
    assert plain.rule_id is None and plain.assigned_to_id == me.id


# --- checks and PDPO rules -------------------------------------------------------------------

VIP_COMPLAINTS = {
    "all": [
        {"field": "kind", "op": "eq", "value": "complaint"},
        {"field": "customer_tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "status", "op": "in", "value": ["open", "in_progress", "waiting_on_customer"]},
    ]
}
ROUTED = {
    "all": [
        {"field": "priority", "op": "eq", "value": "urgent"},
        {"field": "assigned_team", "op": "eq", "value": "senior"},
    ]
}


def test_queue_meets_passes_once_the_fixed_rules_are_applied(attempt: Attempt):
    params = {"cases": VIP_COMPLAINTS, "expect": ROUTED}
    assert attempt.check("cases.queue_meets", params).status is Status.FAIL
    _senior_first(attempt.session, attempt.actor)
    attempt.do("apply_case_rules")
    assert attempt.check("cases.queue_meets", params).status is Status.PASS


def test_queue_meets_fails_when_the_desk_rule_catches_the_vip_complaints(attempt: Attempt):
    attempt.do("enable_case_rule", rule="Service desk")
    attempt.do("enable_case_rule", rule="VIP complaints")
    attempt.do("apply_case_rules")
    outcome = attempt.check("cases.queue_meets", {"cases": VIP_COMPLAINTS, "expect": ROUTED})
    assert outcome.status is Status.FAIL and VIP in str(outcome.evidence["not_meeting"])


def test_queue_meets_fails_when_the_queue_has_too_few_cases_to_judge(attempt: Attempt):
    nothing = {"field": "reference", "op": "eq", "value": "CS-000000"}
    outcome = attempt.check("cases.queue_meets", {"cases": nothing, "expect": ROUTED})
    assert outcome.status is Status.FAIL
    assert (
        attempt.check(
            "cases.queue_meets", {"cases": nothing, "expect": ROUTED, "min_cases": 0}
        ).status
        is Status.PASS
    )


def test_queue_meets_refuses_a_condition_on_an_unknown_field():
    from graders.checks.service import QueueMeetsParams

    with pytest.raises(ValueError, match="expect"):
        QueueMeetsParams(cases=VIP_COMPLAINTS, expect={"field": "mood", "op": "eq", "value": 1})


def test_within_capacity_passes_after_the_rules_and_fails_after_overloading_an_agent(
    attempt: Attempt,
):
    _senior_first(attempt.session, attempt.actor)
    attempt.do("apply_case_rules")
    assert attempt.check("cases.within_capacity", {}).status is Status.PASS
    agent = attempt.session.scalars(select(ServiceAgent).order_by(ServiceAgent.id)).first()
    username = attempt.session.get(StaffUser, agent.staff_id).username
    others = attempt.session.scalars(
        select(ServiceCase)
        .where(ServiceCase.status.in_(["open", "in_progress"]))
        .where(
            (ServiceCase.assigned_to_id != agent.staff_id) | ServiceCase.assigned_to_id.is_(None)
        )
    ).all()
    room = agent.capacity - agent_loads(attempt.session).get(agent.staff_id, 0)
    for case in others[: room + 1]:
        attempt.do("assign_case", case_id=case.id, username=username)
    outcome = attempt.check("cases.within_capacity", {})
    assert outcome.status is Status.FAIL
    assert outcome.evidence["over_capacity"][0]["agent"] == username
    other_team = "general" if agent.team == "senior" else "senior"
    assert attempt.check("cases.within_capacity", {"teams": [other_team]}).status is Status.PASS


def test_the_desk_acknowledgement_as_found_leaks_an_hkid_and_one_with_an_offer_markets(
    attempt: Attempt,
):
    _senior_first(attempt.session, attempt.actor)
    attempt.do("apply_case_rules")
    assert attempt.rule("COL-07").status is Status.PASS
    assert attempt.rule("DM-08").status is Status.PASS
    attempt.rebase()
    attempt.do("update_case_rule", rule="Service desk", acknowledgement="with_case_details")
    attempt.do(
        "open_case",
        customer_id=_case(attempt.session, ENQUIRY).customer_id,
        kind="enquiry",
        channel="email",
        subject="Ring size",
        details="Her ID card is D288754(2).",
    )
    assert attempt.rule("COL-07").status is Status.FAIL
    attempt.do("update_case_rule", rule="Service desk", acknowledgement="with_offer")
    attempt.do(
        "open_case",
        customer_id=_case(attempt.session, ENQUIRY).customer_id,
        kind="enquiry",
        channel="email",
        subject="Opening hours",
    )
    assert attempt.rule("DM-08").status is Status.FAIL


# --- pages ------------------------------------------------------------------------------------

client, db = area_page_fixtures()


def test_rule_pages_list_create_edit_switch_move_preview_and_apply(client: FlaskClient, db):
    listing = client.get(f"{BASE}/cases/rules")
    text = listing.get_data(as_text=True)
    assert listing.status_code == 200 and "Service desk" in text and "VIP complaints" in text
    assert "Agents and their capacity" in text
    form = client.get(f"{BASE}/cases/rules/new")
    assert form.status_code == 200 and 'name="kinds"' in form.get_data(as_text=True)
    created = client.post(
        f"{BASE}/cases/rules/new",
        data={
            "name": "Online enquiries",
            "is_active": "y",
            "position": "1",
            "kinds": ["enquiry"],
            "channels": ["email", "chat"],
            "assign": "team:general",
            "priority": "high",
            "acknowledgement": "reference_only",
        },
    )
    assert created.status_code == 302
    rule = db().scalars(select(CaseRule).where(CaseRule.name == "Online enquiries")).one()
    assert rule.position == 1 and rule.assign_team == "general"
    edit = client.get(f"{BASE}/cases/rules/{rule.id}")
    assert edit.status_code == 200 and "Online enquiries" in edit.get_data(as_text=True)
    changed = client.post(
        f"{BASE}/cases/rules/{rule.id}",
        data={
            "name": "Online enquiries",
            "kinds": ["enquiry"],
            "channels": ["email"],
            "assign": "team:general",
            "priority": "high",
            "acknowledgement": "reference_only",
        },
    )
    assert changed.status_code == 302
    assert db().get(CaseRule, rule.id).channels == ["email"]
    assert client.post(f"{BASE}/cases/rules/{rule.id}/disable").status_code == 302
    assert db().get(CaseRule, rule.id).is_active is False
    desk = db().scalars(select(CaseRule).where(CaseRule.name == "Service desk")).one()
    assert client.post(f"{BASE}/cases/rules/{desk.id}/enable").status_code == 302
    assert (
        client.post(f"{BASE}/cases/rules/{rule.id}/move", data={"position": "3"}).status_code == 302
    )
    assert db().get(CaseRule, rule.id).position == 3
    preview = client.get(f"{BASE}/cases/rules/preview")
    assert preview.status_code == 200 and VIP in preview.get_data(as_text=True)
    assert _case(db(), VIP).rule_id is None
    assert client.post(f"{BASE}/cases/rules/apply").status_code == 302
    vip = _case(db(), VIP)
    assert vip.rule_id is not None
    page = client.get(f"{BASE}/cases/{vip.id}").get_data(as_text=True)
    assert "Automation rule" in page and "rule: Service desk" in page


def test_rule_pages_show_clear_errors_and_404(client: FlaskClient, db):
    idle = client.post(
        f"{BASE}/cases/rules/new",
        data={"name": "Idle", "kinds": ["repair"], "acknowledgement": "none"},
    )
    assert idle.status_code == 400 and "must do something" in idle.get_data(as_text=True)
    desk = db().scalars(select(CaseRule).where(CaseRule.name == "Service desk")).one()
    moved = client.post(f"{BASE}/cases/rules/{desk.id}/move", data={"position": "first"})
    assert moved.status_code == 400 and "whole number" in moved.get_data(as_text=True)
    again = client.post(f"{BASE}/cases/rules/{desk.id}/disable")
    assert again.status_code == 400 and "already off" in again.get_data(as_text=True)
    assert client.get(f"{BASE}/cases/rules/999999").status_code == 404
    assert client.post(f"{BASE}/cases/rules/999999/disable").status_code == 404
