"""The grading engine: roll-up to PRs and a verdict, overrides, errors, determinism, results as
JSON, and the registries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel, model_validator
from sqlalchemy import select

from graders.context import GradingContext
from graders.definitions import load_scenario, load_unit
from graders.definitions.models import Scenario, Step, Unit
from graders.engine import ERROR_MESSAGE, GRADER_VERSION, grade_attempt, grade_item, roll_up
from graders.pdpo.base import Breach, RuleOutcome, judged
from graders.registry import (
    CHECKS,
    PDPO_RULES,
    DuplicateNameError,
    Registry,
    UnknownNameError,
    check,
    isolated,
    load_builtin,
    rule,
)
from graders.results import (
    CheckResult,
    Finding,
    GradingResult,
    ItemResult,
    Outcome,
    RequirementStatus,
    RuleResult,
    Severity,
    Status,
    Verdict,
)
from graders.runner import run_scripted_attempt
from sandbox_crm.models import Customer
from sandbox_crm.store import SandboxStore
from tests.test_pdpo import send

if TYPE_CHECKING:
    from tests.graders_helpers import Attempt


ScenarioFactory = Callable[..., Scenario]

VIP_CONSENTING: dict[str, Any] = {
    "all": [
        {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "status", "op": "eq", "value": "active"},
        {"field": "dm_email", "op": "in", "value": ["given", "no_objection"]},
    ]
}


def fb(name: str) -> dict[str, str]:
    return {"pass": f"{name}: well done.", "fail": f"{name}: not yet."}


CHECKS_SPEC = [
    {
        "id": "rows",
        "check": "report.rows_match",
        "requirements": ["2.1"],
        "params": {"report": "report", "expect": {"where": VIP_CONSENTING}},
        "feedback": fb("rows"),
    },
    {
        "id": "columns",
        "check": "report.columns",
        "requirements": ["2.2"],
        "params": {"report": "report", "forbid_sensitivity": ["sensitive"]},
        "feedback": fb("columns"),
    },
]
ITEMS_SPEC = [
    {
        "id": "q1",
        "kind": "single_choice",
        "requirements": ["1.1"],
        "prompt": "Why keep a CRM?",
        "options": [{"id": "a", "text": "To know customers"}, {"id": "b", "text": "To sell lists"}],
        "answer": "a",
        "feedback": fb("q1"),
    },
    {
        "id": "q2",
        "kind": "multiple_choice",
        "requirements": ["1.1"],
        "prompt": "Which are personal data?",
        "options": [
            {"id": "a", "text": "Name"},
            {"id": "b", "text": "Mobile"},
            {"id": "c", "text": "Tier"},
        ],
        "answers": ["a", "b"],
        "feedback": fb("q2"),
    },
]
WRITTEN = {
    "id": "w1",
    "kind": "written",
    "requirements": ["2.2"],
    "prompt": "Propose an activity.",
    "rubric": [
        {"id": "data", "text": "Uses the data", "points": 2},
        {"id": "privacy", "text": "Keeps to consent", "points": 2},
    ],
}
RIGHT_ANSWERS = {"q1": "a", "q2": ["b", "a"]}


# --- hand-made results for roll-up tests ----------------------------------------------------


def check_result(check_id: str, status: str, *prs: str) -> CheckResult:
    return CheckResult(check_id, "report.rows_match", Status(status), 1.0, "", {}, prs)


def item_result(item_id: str, status: str, *prs: str, kind: str = "single_choice") -> ItemResult:
    return ItemResult(item_id, kind, Status(status), 0.0, 4.0, None, "", prs)


def rule_result(rule_id: str, severity: str, status: str = "fail") -> RuleResult:
    findings = (
        (Finding(rule_id, "Title", "s35G", Severity(severity), f"{rule_id} happened", (1,), ()),)
        if status == "fail"
        else ()
    )
    return RuleResult(rule_id, "Title", "s35G", Severity(severity), Status(status), "why", findings)


@pytest.fixture
def written_scenario(scenario_factory: ScenarioFactory) -> Scenario:
    return scenario_factory(checks=CHECKS_SPEC, items=[*ITEMS_SPEC, WRITTEN])


def roll(unit: Unit, scenario: Scenario, checks=(), items=(), pdpo=(), **kwargs) -> GradingResult:
    return roll_up(unit, scenario, list(checks), list(items), list(pdpo), **kwargs)


PASSING_CHECKS = [check_result("rows", "pass", "2.1"), check_result("columns", "pass", "2.2")]
PASSING_ITEMS = [item_result("q1", "pass", "1.1"), item_result("q2", "pass", "1.1")]


def test_all_passing_is_competent(unit: Unit, scenario_factory: ScenarioFactory) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    result = roll(
        unit,
        scenario,
        PASSING_CHECKS,
        PASSING_ITEMS,
        [rule_result("COL-01", "medium", "not_applicable")],
    )
    assert result.verdict is Verdict.COMPETENT
    assert [(r.pr_id, r.status) for r in result.requirements] == [
        ("1.1", RequirementStatus.DEMONSTRATED),
        ("2.1", RequirementStatus.DEMONSTRATED),
        ("2.2", RequirementStatus.DEMONSTRATED),
    ]
    assert result.requirement("1.1").item_ids == ("q1", "q2")
    assert result.reasons and "demonstrated" in result.reasons[-1]


def test_a_failing_check_leaves_its_pr_not_demonstrated(
    unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    checks = [check_result("rows", "fail", "2.1"), check_result("columns", "pass", "2.2")]
    result = roll(unit, scenario, checks, PASSING_ITEMS)
    assert result.verdict is Verdict.NOT_YET_COMPETENT
    assert result.requirement("2.1").status is RequirementStatus.NOT_DEMONSTRATED
    assert result.requirement("2.2").status is RequirementStatus.DEMONSTRATED
    assert "PR 2.1 not demonstrated: check rows failed." in result.reasons


def test_a_critical_pdpo_finding_trumps_everything(
    unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    result = roll(unit, scenario, PASSING_CHECKS, PASSING_ITEMS, [rule_result("DM-06", "critical")])
    assert all(r.status is RequirementStatus.DEMONSTRATED for r in result.requirements)
    assert result.verdict is Verdict.NOT_YET_COMPETENT
    assert result.reasons[0].startswith("Critical PDPO breach DM-06 (s35G")
    assert "DM-06 happened" in result.reasons[0]


def test_a_critical_finding_trumps_pending_review(written_scenario: Scenario, unit: Unit) -> None:
    items = [*PASSING_ITEMS, item_result("w1", "needs_review", "2.2", kind="written")]
    result = roll(unit, written_scenario, PASSING_CHECKS, items, [rule_result("DM-01", "critical")])
    assert result.verdict is Verdict.NOT_YET_COMPETENT


@pytest.mark.parametrize("severity", ["medium", "low"])
def test_a_medium_or_low_finding_is_reported_but_does_not_decide(
    unit: Unit, scenario_factory: ScenarioFactory, severity: str
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    result = roll(unit, scenario, PASSING_CHECKS, PASSING_ITEMS, [rule_result("COL-03", severity)])
    assert result.verdict is Verdict.COMPETENT
    assert all(not r.rule_ids for r in result.requirements)
    assert any(f"COL-03 ({severity})" in reason for reason in result.reasons)


def with_breach_prs(scenario: Scenario, *prs: str) -> Scenario:
    """The scenario with PDPO breaches mapped to these PRs (its pdpo.requirements)."""
    data = scenario.model_dump(by_alias=True)
    data["pdpo"] = {"requirements": list(prs)}
    return Scenario.model_validate(data)


def test_a_high_finding_blocks_an_automatic_competent(
    unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    result = roll(unit, scenario, PASSING_CHECKS, PASSING_ITEMS, [rule_result("SEC-02", "high")])
    # No PR is mapped to breaches: every PR stands, but an assessor must decide.
    assert all(r.status is RequirementStatus.DEMONSTRATED for r in result.requirements)
    assert result.verdict is Verdict.PENDING_REVIEW
    assert result.reasons[0] == "High PDPO finding SEC-02 (s35G, Title): SEC-02 happened"
    assert any("an assessor must decide" in reason for reason in result.reasons)


def test_a_high_finding_fails_the_prs_the_scenario_maps_breaches_to(
    unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = with_breach_prs(scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC), "2.2")
    pdpo = [
        rule_result("SEC-02", "high"),
        rule_result("SEC-01", "high"),
        rule_result("ACC-01", "low"),
        rule_result("COL-01", "medium", "pass"),
    ]
    result = roll(unit, scenario, PASSING_CHECKS, PASSING_ITEMS, pdpo)
    assert result.verdict is Verdict.NOT_YET_COMPETENT
    mapped = result.requirement("2.2")
    assert mapped.status is RequirementStatus.NOT_DEMONSTRATED
    assert mapped.rule_ids == ("SEC-02", "SEC-01")
    assert mapped.check_ids == ("columns",)
    assert result.requirement("2.1").status is RequirementStatus.DEMONSTRATED
    assert result.requirement("2.1").rule_ids == ()
    assert "PR 2.2 not demonstrated: pdpo SEC-02, pdpo SEC-01 failed." in result.reasons
    assert "Medium and low PDPO findings for the assessor: ACC-01 (low)." in result.reasons


def test_a_pr_named_only_for_breaches_is_rolled_up_too(
    unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = with_breach_prs(scenario_factory(checks=CHECKS_SPEC[:1]), "105077L3/2.2")
    clean = roll(unit, scenario, PASSING_CHECKS[:1])
    assert clean.requirement("2.2").status is RequirementStatus.DEMONSTRATED
    assert clean.verdict is Verdict.COMPETENT
    breached = roll(unit, scenario, PASSING_CHECKS[:1], pdpo=[rule_result("DM-06", "critical")])
    assert breached.requirement("2.2").status is RequirementStatus.NOT_DEMONSTRATED
    assert breached.requirement("2.2").rule_ids == ("DM-06",)
    assert breached.verdict is Verdict.NOT_YET_COMPETENT


@pytest.mark.parametrize("status", ["pass", "not_applicable"])
def test_overriding_the_high_rule_lifts_it(
    unit: Unit, scenario_factory: ScenarioFactory, status: str
) -> None:
    scenario = with_breach_prs(scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC), "2.2")
    override = {"pdpo:SEC-02": {"status": status, "reason": "The file was the trainee's own."}}
    pdpo = [rule_result("SEC-02", "high")]
    result = roll(unit, scenario, PASSING_CHECKS, PASSING_ITEMS, pdpo, overrides=override)
    assert result.verdict is Verdict.COMPETENT
    assert result.requirement("2.2").status is RequirementStatus.DEMONSTRATED
    assert result.requirement("2.2").rule_ids == ()
    assert result.rule("SEC-02").status is Status.FAIL  # the automatic result is kept


def test_a_high_finding_and_the_mapped_pr_round_trip_through_json(
    unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = with_breach_prs(scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC), "2.2")
    result = roll(unit, scenario, PASSING_CHECKS, PASSING_ITEMS, [rule_result("SEC-02", "high")])
    again = GradingResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    stored_before = result.to_dict()
    for requirement in stored_before["requirements"]:
        del requirement["rule_ids"]  # a result stored before PRs named rules still loads
    assert GradingResult.from_dict(stored_before).requirement("2.2").rule_ids == ()


def test_a_written_item_keeps_its_pr_pending_review(written_scenario: Scenario, unit: Unit) -> None:
    items = [*PASSING_ITEMS, item_result("w1", "needs_review", "2.2", kind="written")]
    result = roll(unit, written_scenario, PASSING_CHECKS, items)
    assert result.requirement("2.2").status is RequirementStatus.PENDING_REVIEW
    assert result.requirement("2.1").status is RequirementStatus.DEMONSTRATED
    assert result.verdict is Verdict.PENDING_REVIEW
    assert "PR 2.2 awaits review: item w1 needs an assessor." in result.reasons


def test_a_failed_check_outweighs_a_pending_item(written_scenario: Scenario, unit: Unit) -> None:
    items = [*PASSING_ITEMS, item_result("w1", "needs_review", "2.2", kind="written")]
    checks = [check_result("rows", "pass", "2.1"), check_result("columns", "fail", "2.2")]
    result = roll(unit, written_scenario, checks, items)
    assert result.requirement("2.2").status is RequirementStatus.NOT_DEMONSTRATED
    assert result.verdict is Verdict.NOT_YET_COMPETENT


@pytest.mark.parametrize(
    ("scores", "status", "verdict"),
    [
        ({"data": 2, "privacy": 1}, Status.PASS, Verdict.COMPETENT),
        ({"data": 1, "privacy": 0}, Status.FAIL, Verdict.NOT_YET_COMPETENT),
        ({"data": 2}, Status.NEEDS_REVIEW, Verdict.PENDING_REVIEW),
    ],
)
def test_rubric_scores_grade_the_written_item(
    written_scenario: Scenario,
    unit: Unit,
    scores: dict[str, int],
    status: Status,
    verdict: Verdict,
) -> None:
    items = [*PASSING_ITEMS, item_result("w1", "needs_review", "2.2", kind="written")]
    result = roll(unit, written_scenario, PASSING_CHECKS, items, rubric_scores={"w1": scores})
    written = result.item("w1")
    assert (written.status, written.score, written.max_score) == (status, sum(scores.values()), 4)
    assert result.verdict is verdict


@pytest.mark.parametrize("scores", [{"w1": {"style": 1}}, {"w1": {"data": 3}}, {"w9": {"data": 1}}])
def test_bad_rubric_scores_are_refused(
    written_scenario: Scenario, unit: Unit, scores: dict[str, Any]
) -> None:
    items = [*PASSING_ITEMS, item_result("w1", "needs_review", "2.2", kind="written")]
    with pytest.raises(ValueError):
        roll(unit, written_scenario, PASSING_CHECKS, items, rubric_scores=scores)


def test_a_check_in_error_needs_review(unit: Unit, scenario_factory: ScenarioFactory) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    checks = [check_result("rows", "error", "2.1"), check_result("columns", "pass", "2.2")]
    result = roll(unit, scenario, checks, PASSING_ITEMS)
    assert result.requirement("2.1").status is RequirementStatus.PENDING_REVIEW
    assert result.verdict is Verdict.PENDING_REVIEW


def test_a_rule_in_error_needs_review(unit: Unit, scenario_factory: ScenarioFactory) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    result = roll(
        unit, scenario, PASSING_CHECKS, PASSING_ITEMS, [rule_result("DM-06", "critical", "error")]
    )
    assert result.verdict is Verdict.PENDING_REVIEW
    assert any("DM-06 could not be evaluated" in r for r in result.reasons)


# --- overrides ------------------------------------------------------------------------------


def test_overrides_apply_and_the_automatic_result_is_kept(
    unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    checks = [check_result("rows", "fail", "2.1"), check_result("columns", "pass", "2.2")]
    pdpo = [rule_result("DM-06", "critical")]
    automatic = roll(unit, scenario, checks, PASSING_ITEMS, pdpo)
    assert automatic.verdict is Verdict.NOT_YET_COMPETENT
    overrides = {
        "check:rows": {"status": "pass", "reason": "Rows differ only by a same-day refund."},
        "pdpo:DM-06": "not_applicable",
    }
    result = roll(unit, scenario, checks, PASSING_ITEMS, pdpo, overrides=overrides)
    assert result.verdict is Verdict.COMPETENT
    assert result.check("rows").status is Status.FAIL  # the automatic result stays
    assert result.rule("DM-06").status is Status.FAIL
    assert result.overridden["check:rows"].automatic == "fail"
    assert result.overridden["check:rows"].status == "pass"
    assert result.overridden["check:rows"].reason.startswith("Rows differ")
    assert result.overridden["pdpo:DM-06"].automatic == "fail"
    assert any("override of check:rows: fail -> pass" in r for r in result.reasons)


def test_item_and_pr_overrides(written_scenario: Scenario, unit: Unit) -> None:
    items = [item_result("q1", "fail", "1.1"), item_result("q2", "pass", "1.1")]
    items.append(item_result("w1", "needs_review", "2.2", kind="written"))
    result = roll(unit, written_scenario, PASSING_CHECKS, items, overrides={"item:q1": "pass"})
    assert result.requirement("1.1").status is RequirementStatus.DEMONSTRATED
    assert result.verdict is Verdict.PENDING_REVIEW
    result = roll(
        unit,
        written_scenario,
        PASSING_CHECKS,
        items,
        overrides={"item:q1": "pass", "pr:2.2": "demonstrated"},
    )
    assert result.verdict is Verdict.COMPETENT
    assert result.overridden["pr:2.2"].automatic == "pending_review"
    assert result.requirement("2.2").status is RequirementStatus.DEMONSTRATED


@pytest.mark.parametrize(
    "overrides",
    [
        {"check:nope": "pass"},
        {"check:rows": "demonstrated"},
        {"item:q1": "needs_review"},
        {"rows": "pass"},
    ],
)
def test_bad_overrides_are_refused(
    unit: Unit, scenario_factory: ScenarioFactory, overrides: dict[str, str]
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    with pytest.raises(ValueError):
        roll(unit, scenario, PASSING_CHECKS, PASSING_ITEMS, overrides=overrides)


# --- grading a real attempt -----------------------------------------------------------------


def do_the_task(attempt: Attempt) -> None:
    attempt.report()


def grade(attempt: Attempt, scenario: Scenario, unit: Unit, **kwargs: Any) -> GradingResult:
    attempt.session.commit()
    inputs: dict[str, Any] = {
        "scenario": scenario,
        "unit": unit,
        "template": attempt.template,
        "final": attempt.session,
        "deliverables": attempt.deliverables,
        "answers": RIGHT_ANSWERS,
        "trainee_staff_id": attempt.actor.id,
    }
    inputs.update(kwargs)
    return grade_attempt(**inputs)


def test_grading_a_good_attempt(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    do_the_task(attempt)
    result = grade(attempt, scenario, unit)
    assert result.verdict is Verdict.COMPETENT, result.reasons
    assert [c.status for c in result.checks] == [Status.PASS, Status.PASS]
    assert result.check("rows").message == "rows: well done."
    assert result.item("q2").answer == ("b", "a")
    assert {r.rule_id for r in result.pdpo} == {r.rule_id for _, r in PDPO_RULES.items()}
    assert result.grader_version == GRADER_VERSION
    assert (result.scenario_id, result.unit_code) == (scenario.id, unit.code)


def test_grading_wrong_answers_and_a_missing_report(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    result = grade(attempt, scenario, unit, answers={"q1": "b", "q2": ["a"]})
    assert result.check("rows").message == "No report was submitted. rows: not yet."
    assert result.item("q1").status is Status.FAIL
    assert result.item("q1").message == "q1: not yet."
    assert result.item("q2").status is Status.FAIL
    assert result.verdict is Verdict.NOT_YET_COMPETENT


def test_a_written_answer_awaits_review(
    attempt: Attempt, unit: Unit, written_scenario: Scenario
) -> None:
    do_the_task(attempt)
    answers = {**RIGHT_ANSWERS, "w1": "A styling evening for Platinum members in Sha Tin."}
    result = grade(attempt, written_scenario, unit, answers=answers)
    written = result.item("w1")
    assert (written.status, written.max_score) == (Status.NEEDS_REVIEW, 4.0)
    assert result.verdict is Verdict.PENDING_REVIEW
    scored = grade(
        attempt,
        written_scenario,
        unit,
        answers=answers,
        rubric_scores={"w1": {"data": 2, "privacy": 2}},
    )
    assert scored.verdict is Verdict.COMPETENT


def test_a_critical_breach_in_the_attempt_decides_the_verdict(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    do_the_task(attempt)
    opted_out = attempt.customer({"field": "dm_email", "op": "eq", "value": "withdrawn"})
    send(attempt, opted_out.id)  # a promotional email with its opt-out notice
    result = grade(attempt, scenario, unit)
    assert all(c.status is Status.PASS for c in result.checks)
    assert result.rule("DM-06").status is Status.FAIL
    assert result.verdict is Verdict.NOT_YET_COMPETENT


def test_grading_is_repeatable(attempt: Attempt, unit: Unit, written_scenario: Scenario) -> None:
    do_the_task(attempt)
    customer = attempt.customer({"field": "dm_email", "op": "eq", "value": "withdrawn"})
    attempt.do("add_customer_note", customer_id=customer.id, text="Called about A123456(3)")
    first = grade(attempt, written_scenario, unit)
    second = grade(attempt, written_scenario, unit)
    assert first.to_dict() == second.to_dict()
    assert first == second


def test_results_round_trip_through_json(
    attempt: Attempt, unit: Unit, written_scenario: Scenario
) -> None:
    do_the_task(attempt)
    customer = attempt.customer({"field": "dm_email", "op": "eq", "value": "withdrawn"})
    attempt.do("add_customer_note", customer_id=customer.id, text="Called about A123456(3)")
    result = grade(
        attempt,
        written_scenario,
        unit,
        overrides={"pdpo:COL-07": {"status": "pass", "reason": "Test data"}},
    )
    assert result.rule("COL-07").findings, "the round trip should carry findings"
    text = json.dumps(result.to_dict(), sort_keys=True)
    again = GradingResult.from_dict(json.loads(text))
    assert again == result
    assert json.dumps(again.to_dict(), sort_keys=True) == text


def test_grading_does_not_change_the_sandboxes(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    scenario = scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC)
    do_the_task(attempt)
    before = attempt.context().diff("customer")
    grade(attempt, scenario, unit)
    assert attempt.context().diff("customer") == before
    assert not attempt.session.dirty and not attempt.session.new


# --- errors inside checks and rules ---------------------------------------------------------


class NoParams(BaseModel):
    pass


def test_an_exception_in_a_check_becomes_status_error(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory, isolated_registry: None
) -> None:
    @check("test.explodes", params=NoParams)
    def explodes(ctx: GradingContext, params: NoParams) -> Outcome:
        """Always raises."""
        raise ZeroDivisionError("boom")

    spec = {"id": "boom", "check": "test.explodes", "requirements": ["2.1"], "feedback": fb("boom")}
    scenario = scenario_factory(checks=[spec, *CHECKS_SPEC], items=ITEMS_SPEC)
    do_the_task(attempt)
    result = grade(attempt, scenario, unit)
    boom = result.check("boom")
    assert boom.status is Status.ERROR
    assert boom.message == ERROR_MESSAGE
    assert boom.evidence["error"] == "ZeroDivisionError: boom"
    assert "test_engine.py" in boom.evidence["where"]
    assert result.check("rows").status is Status.PASS  # the others were still graded
    assert result.verdict is Verdict.PENDING_REVIEW


def test_a_check_that_writes_is_stopped(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory, isolated_registry: None
) -> None:
    @check("test.writes", params=NoParams)
    def writes(ctx: GradingContext, params: NoParams) -> Outcome:
        """Tries to change the attempt's sandbox."""
        customer = ctx.final.scalars(select(Customer).limit(1)).one()
        customer.tier = "platinum" if customer.tier != "platinum" else "gold"
        ctx.final.flush()
        return Outcome.passed()

    spec = {"id": "w", "check": "test.writes", "requirements": ["2.1"], "feedback": fb("w")}
    result = grade(attempt, scenario_factory(checks=[spec]), unit)
    assert result.check("w").status is Status.ERROR
    assert "read-only" in result.check("w").evidence["error"]


def test_unknown_check_type_and_bad_params_are_errors_not_crashes(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory
) -> None:
    specs = [
        {"id": "ghost", "check": "report.ghost", "requirements": ["2.1"], "feedback": fb("g")},
        {
            "id": "typo",
            "check": "report.columns",
            "requirements": ["2.2"],
            "params": {"report": "report", "requird": ["member_no"]},
            "feedback": fb("t"),
        },
    ]
    result = grade(attempt, scenario_factory(checks=specs), unit)
    assert result.check("ghost").status is Status.ERROR
    assert "unknown check type 'report.ghost'" in result.check("ghost").evidence["error"]
    assert result.check("typo").status is Status.ERROR
    assert "requird: unknown parameter" in result.check("typo").evidence["problems"]


class Fussy(BaseModel):
    """Parameters whose validator has a bug: it raises TypeError, not ValueError."""

    @model_validator(mode="after")
    def _explode(self) -> Fussy:
        raise TypeError("unhashable type: 'dict'")


def test_parameters_whose_validator_raises_are_an_error_not_a_crash(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory, isolated_registry: None
) -> None:
    check("test.fussy", params=Fussy)(lambda ctx, params: Outcome.passed())
    spec = {"id": "odd", "check": "test.fussy", "requirements": ["2.1"], "feedback": fb("odd")}
    do_the_task(attempt)
    result = grade(attempt, scenario_factory(checks=[spec, *CHECKS_SPEC]), unit)
    odd = result.check("odd")
    assert odd.status is Status.ERROR
    assert odd.evidence["error"] == "invalid parameters"
    assert "TypeError: unhashable type" in odd.evidence["problems"][0]
    assert result.check("rows").status is Status.PASS


def test_an_exception_in_a_rule_becomes_status_error(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory, isolated_registry: None
) -> None:
    @rule("ZZ-01", title="Broken", basis="none", severity="critical")
    def broken(ctx: GradingContext) -> RuleOutcome:
        """Always raises."""
        raise RuntimeError("rule bug")

    do_the_task(attempt)
    result = grade(attempt, scenario_factory(checks=CHECKS_SPEC, items=ITEMS_SPEC), unit)
    broken_result = result.rule("ZZ-01")
    assert broken_result.status is Status.ERROR
    assert "RuntimeError: rule bug" in broken_result.reason
    assert result.rule("DM-06").status is Status.PASS
    assert result.verdict is Verdict.PENDING_REVIEW


def test_a_rule_reports_breaches_as_findings_with_its_metadata(
    attempt: Attempt, unit: Unit, scenario_factory: ScenarioFactory, isolated_registry: None
) -> None:
    @rule("ZZ-02", title="Always", basis="s99", severity="low")
    def always(ctx: GradingContext) -> RuleOutcome:
        """Always finds one breach."""
        return judged([Breach("found it", (3,), (("customer", 7),))], scope="the test")

    result = grade(attempt, scenario_factory(checks=CHECKS_SPEC), unit)
    (finding,) = result.rule("ZZ-02").findings
    assert (finding.rule_id, finding.basis, finding.severity) == ("ZZ-02", "s99", Severity.LOW)
    assert (finding.event_ids, finding.records) == ((3,), (("customer", 7),))
    assert result.rule("ZZ-02").reason == "1 finding in the test."


# --- results --------------------------------------------------------------------------------


def test_evidence_is_frozen_and_json_safe() -> None:
    outcome = Outcome.passed({"ids": [3, 1], "nested": {"when": date(2026, 3, 16)}})
    assert isinstance(outcome.evidence, MappingProxyType)
    assert outcome.evidence["ids"] == (3, 1)
    assert outcome.evidence["nested"]["when"] == "2026-03-16"
    with pytest.raises(TypeError):
        outcome.evidence["ids"] = ()  # type: ignore[index]
    with pytest.raises(TypeError):
        Outcome.passed({"bad": object()})
    with pytest.raises(ValueError):
        Outcome(Status.PASS, 1.5)


# --- the registries -------------------------------------------------------------------------


def test_registering_a_name_twice_is_an_error() -> None:
    registry: Registry[int] = Registry("number")
    registry.add("one.x", 1)
    with pytest.raises(DuplicateNameError, match="'one.x' is already registered"):
        registry.add("one.x", 2)
    assert registry.get("one.x") == 1


def test_a_builtin_check_name_cannot_be_reused(isolated_registry: None) -> None:
    with pytest.raises(DuplicateNameError):

        @check("report.rows_match", params=NoParams)
        def impostor(ctx: GradingContext, params: NoParams) -> Outcome:
            """Never registered."""
            return Outcome.passed()

    with pytest.raises(DuplicateNameError):

        @rule("DM-06", title="Impostor", basis="s35G", severity="critical")
        def impostor_rule(ctx: GradingContext) -> RuleOutcome:
            """Never registered."""
            return judged([], scope="nothing")


def test_unknown_names_list_the_known_ones() -> None:
    load_builtin()
    with pytest.raises(UnknownNameError) as info:
        CHECKS.get("report.rows")
    assert "report.rows_match" in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: check("Report.Rows", params=NoParams),
        lambda: check("rows", params=NoParams),
        lambda: check("report.rows", params=dict),  # type: ignore[arg-type]
        lambda: rule("DM6", title="t", basis="b", severity="critical"),
        lambda: rule("DM-99", title="t", basis="b", severity="grave"),
    ],
)
def test_bad_registrations_are_refused(make: Callable[[], Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        make()


def test_isolated_registries_are_restored() -> None:
    load_builtin()
    checks_before, rules_before = CHECKS.names(), PDPO_RULES.names()
    with isolated(empty=True):
        assert CHECKS.names() == [] and PDPO_RULES.names() == []

        @check("test.temporary", params=NoParams)
        def temporary(ctx: GradingContext, params: NoParams) -> Outcome:
            """Registered for this block only."""
            return Outcome.passed()

        assert "test.temporary" in CHECKS
    assert CHECKS.names() == checks_before
    assert PDPO_RULES.names() == rules_before
    with isolated():
        assert CHECKS.names() == checks_before
    assert "test.temporary" not in CHECKS


# --- comparing template and final -----------------------------------------------------------


def test_table_diff_in_sqlite_and_in_python_agree(
    attempt: Attempt, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = attempt.report()
    attempt.do("share_report", report_id=report.id, department="finance")
    attempt.rebase()
    attempt.do("share_report", report_id=report.id, department="marketing")  # an added row
    attempt.do("unshare_report", report_id=report.id, department="finance")  # a deleted row
    customer = attempt.customer({"field": "tier", "op": "eq", "value": "gold"})
    attempt.do("update_customer", customer_id=customer.id, tier="silver", notes="")
    tables = ["report_share", "customer", "report_definition", "contact_point"]
    in_sqlite = {t: attempt.context().diff(t) for t in tables}
    monkeypatch.setattr("graders.context._differing_keys", lambda *args: None)
    in_python = {t: attempt.context().diff(t) for t in tables}
    assert in_sqlite == in_python
    share = in_sqlite["report_share"]
    assert len(share.added) == 1 and len(share.deleted) == 1 and not share.changed
    assert in_sqlite["customer"].changed == (customer.id,)
    assert set(in_sqlite["customer"].changed_columns[customer.id]) >= {"tier", "updated_at"}
    assert attempt.context().diff("customer", ["hkid"]).changed == ()
    assert in_sqlite["contact_point"].is_empty()


# --- items ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "q1", "q2", "message"),
    [
        ({"q1": "a", "q2": ["b", "a"]}, Status.PASS, Status.PASS, "q1: well done."),
        ({"q1": "b", "q2": ["a", "b", "c"]}, Status.FAIL, Status.FAIL, "q1: not yet."),
        ({"q1": ["a"], "q2": ["a", "a", "b"]}, Status.FAIL, Status.FAIL, "No answer was given."),
        ({}, Status.FAIL, Status.FAIL, "No answer was given."),
    ],
)
def test_choice_items_are_graded_exactly(
    unit: Unit,
    written_scenario: Scenario,
    answers: dict[str, Any],
    q1: Status,
    q2: Status,
    message: str,
) -> None:
    graded = (grade_item(item, answers, unit) for item in written_scenario.items)
    items = {i.item_id: i for i in graded}
    assert (items["q1"].status, items["q2"].status) == (q1, q2)
    assert items["q1"].max_score == items["q2"].max_score == 1.0
    assert items["q1"].message == message
    if not answers:
        assert items["w1"].status is Status.FAIL  # a blank written answer cannot be scored


# --- the VIP report scenario: a second, leaking export decides the verdict --------------------

REPO = Path(__file__).resolve().parents[1]
VIP_SCENARIO = REPO / "scenarios" / "105077L3" / "marketing-vip-report.yaml"

WHOLE_TABLE_EXPORT = [
    {
        "op": "create_report",
        "as": "everyone",
        "args": {
            "name": "All customers",
            "source": "customers",
            "columns": ["member_no", "name_en", "email", "mobile", "hkid", "date_of_birth"],
        },
    },
    {
        "op": "export_report",
        "args": {
            "report_id": "$everyone",
            "purpose": "Customer list for Marketing's spring campaigns",
            "destination": "internal_shared_drive",
            "for_department": "marketing",
            "encrypted": True,
        },
    },
]


def test_a_whole_table_export_beside_the_right_one_is_not_competent(
    sandbox_store: SandboxStore,
) -> None:
    vip = load_scenario(VIP_SCENARIO).model
    # A small sandbox, with as few planted situations as it can hold.
    plants = [p.model_copy(update={"count": min(p.count, 2)}) for p in vip.crm.plant]
    crm = vip.crm.model_copy(update={"customers": 200, "plant": plants})
    vip = vip.model_copy(update={"crm": crm})
    vip_unit = load_unit(REPO / "units" / "105077L3.yaml").model
    full_marks = {"w-activity": {c.id: c.points for c in vip.item("w-activity").rubric}}

    def graded(key: str, extra: list[dict[str, Any]]) -> GradingResult:
        steps = [*vip.reference_solution, *(Step.model_validate(s) for s in extra)]
        run = run_scripted_attempt(
            sandbox_store,
            key,
            scenario=vip,
            unit=vip_unit,
            steps=steps,
            answers=vip.reference_answers,
        )
        result = run.result
        # As an assessor who scored the written answer in full would see it.
        return roll_up(
            vip_unit, vip, result.checks, result.items, result.pdpo, rubric_scores=full_marks
        )

    assert graded("careful", []).verdict is Verdict.COMPETENT
    result = graded("leaky", WHOLE_TABLE_EXPORT)
    assert result.verdict is Verdict.NOT_YET_COMPETENT
    assert result.rule("SEC-01").status is Status.FAIL
    assert result.rule("SEC-02").status is Status.FAIL
    # The file itself went the approved way; what it holds is the rulebook's to judge.
    for pr in ("3.1", "3.2"):
        assert {"SEC-01", "SEC-02"} <= set(result.requirement(pr).rule_ids)
        assert result.requirement(pr).status is RequirementStatus.NOT_DEMONSTRATED
    assert any(reason.startswith("High PDPO finding SEC-01") for reason in result.reasons)
