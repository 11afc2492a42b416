"""Scripted attempts behave like people: refused steps, deliverable aliases, pre-scored answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from graders.definitions import Scenario, Step, Unit, load_definitions
from graders.results import Status, Verdict
from graders.runner import ScriptedRun, ScriptError, StepError, run_scripted_attempt
from sandbox_crm.audit import REFUSED_OPERATION
from sandbox_crm.models import AuditEvent, ReportShare
from sandbox_crm.store import SandboxStore

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_ID = "105077L3-marketing-vip-report"
FULL_MARKS = {"w-activity": {"uses-data": 2, "activity": 2, "privacy": 1}}


@pytest.fixture(scope="module")
def definitions() -> tuple[Scenario, Unit]:
    """The shipped VIP scenario on a smaller sandbox (fast to generate), and its unit."""
    loaded = load_definitions(ROOT)
    scenario = loaded.scenarios[SCENARIO_ID].model
    # A smaller sandbox holds fewer of each planted situation (two, as in test_engine).
    plants = [p.model_copy(update={"count": min(p.count, 2)}) for p in scenario.crm.plant]
    crm = scenario.crm.model_copy(update={"customers": 400, "plant": plants})
    return scenario.model_copy(update={"crm": crm}), loaded.units[scenario.unit].model


@pytest.fixture
def store(tmp_path: Path, sandbox_template_dir: Path) -> Iterator[SandboxStore]:
    """A store whose templates are shared by the whole test run."""
    store = SandboxStore(tmp_path / "sandboxes", sandbox_template_dir)
    yield store
    store.dispose()


def reference(scenario: Scenario) -> list[dict[str, Any]]:
    """The scenario's reference solution as plain steps a test can edit."""
    return [s.model_dump(by_alias=True, exclude_none=True) for s in scenario.reference_solution]


def run(
    store: SandboxStore,
    definitions: tuple[Scenario, Unit],
    steps: list[dict[str, Any]],
    **options: Any,
) -> ScriptedRun:
    scenario, unit = definitions
    return run_scripted_attempt(
        store,
        "scripted",
        scenario=scenario,
        unit=unit,
        steps=[Step.model_validate(s) for s in steps],
        answers=scenario.reference_answers,
        **options,
    )


def statuses(result: Any) -> dict[str, str]:
    checks = {f"check:{c.check_id}": c.status.value for c in result.checks}
    return checks | {f"pdpo:{r.rule_id}": r.status.value for r in result.pdpo}


def test_a_refused_step_is_audited_and_the_attempt_goes_on_to_be_graded(store, definitions):
    steps = reference(definitions[0])
    steps.insert(2, steps[1])  # shares with Marketing twice: the CRM refuses the second
    outcome = run(store, definitions, steps)
    [refused] = outcome.refused
    assert (refused.index, refused.op) == (2, "share_report")
    assert "already shared with Marketing" in refused.message
    with store.session("scripted", read_only=True) as sandbox:
        event = sandbox.get(AuditEvent, refused.event_id)
        assert event.operation == REFUSED_OPERATION
        assert (event.entity_type, event.entity_id) == ("report", outcome.deliverables["report"])
        assert event.details["operation"] == "share_report"
        assert event.details["event"] == "report.share"
        assert event.details["message"] == refused.message
        mine = select(ReportShare).where(ReportShare.report_id == event.entity_id)
        assert len(sandbox.scalars(mine).all()) == 1
        # Later steps ran: the run and the export come after the refused event.
        later = sandbox.scalars(select(AuditEvent.operation).where(AuditEvent.id > event.id))
        assert list(later) == ["report.run", "report.export"]
    # Graded like the reference solution: a refused mis-click changes no check and no rule.
    assert all(c.status is Status.PASS for c in outcome.result.checks), statuses(outcome.result)
    assert outcome.result.verdict is Verdict.PENDING_REVIEW  # the written answer awaits scoring


def test_a_refused_step_does_not_count_as_the_operation(store, definitions):
    steps = reference(definitions[0])
    steps[1]["args"]["department"] = "marketting"  # refused: no such department
    outcome = run(store, definitions, steps)
    assert [r.op for r in outcome.refused] == ["share_report"]
    assert "Unknown department 'marketting'" in outcome.refused[0].message
    workflow = outcome.result.check("workflow")
    sharing = outcome.result.check("sharing")
    assert workflow.status is Status.FAIL and sharing.status is Status.FAIL
    assert workflow.message.startswith("The report was never shared.")


def test_checks_and_rules_read_the_same_attempt_with_or_without_refusals(store, definitions):
    plain = run(store, definitions, reference(definitions[0]))
    store.delete("scripted")
    steps = reference(definitions[0])
    steps[2:2] = [
        {"op": "unshare_report", "args": {"report_id": "$report", "department": "sales"}},
        {"op": "view_customer", "args": {"member_no": "NO-SUCH-MEMBER"}},
        {"op": "delete_report", "args": {"report_name": "No such report"}},
        {"op": "update_report", "args": {"report_id": "$report", "columns": ["hkid_no"]}},
    ]
    refusing = run(store, definitions, steps)
    assert [r.op for r in refusing.refused] == [
        "unshare_report",
        "view_customer",
        "delete_report",
        "update_report",
    ]
    assert statuses(refusing.result) == statuses(plain.result)


def test_an_unresolved_reference_is_still_a_script_error(store, definitions):
    steps = reference(definitions[0])
    steps[0]["args"]["columns"] = ["member_no", "no_such_field"]  # create_report is refused
    with pytest.raises(StepError) as caught:
        run(store, definitions, steps)
    assert caught.value.index == 1 and caught.value.op == "share_report"
    assert "$report is not bound" in str(caught.value)
    assert "step 1, which would have bound it, was refused" in str(caught.value)


def test_an_argument_the_operation_does_not_take_is_a_script_error(store, definitions):
    steps = reference(definitions[0])
    steps[2]["args"]["when"] = "now"
    with pytest.raises(StepError, match="Unknown argument 'when'"):
        run(store, definitions, steps)


def test_deliverables_can_be_named_by_an_as_alias(store, definitions):
    steps = reference(definitions[0])
    del steps[0]["deliverable"]
    outcome = run(store, definitions, steps, deliverables={"report": "report"})
    assert outcome.result.check("rows").status is Status.PASS
    store.delete("scripted")
    outcome = run(store, definitions, steps, deliverables={"report": "$report"})
    assert outcome.result.check("columns").status is Status.PASS


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ({"report": "reprot"}, "deliverables: report: unknown alias 'reprot'; give a record id"),
        ({"reprot": "report"}, "'reprot' is not a deliverable of this scenario"),
    ],
)
def test_an_unknown_alias_or_deliverable_is_a_clear_error(store, definitions, chosen, message):
    with pytest.raises(ScriptError, match=message.replace("(", r"\(")):
        run(store, definitions, reference(definitions[0]), deliverables=chosen)


def test_scores_let_a_scripted_competent_attempt_reach_competent(store, definitions):
    outcome = run(store, definitions, reference(definitions[0]), rubric_scores=FULL_MARKS)
    assert outcome.result.item("w-activity").status is Status.PASS
    assert outcome.result.item("w-activity").score == 5
    assert outcome.result.verdict is Verdict.COMPETENT


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"w-actvity": {"activity": 1}}, "'w-actvity' is not an item of this scenario"),
        ({"q-pdpo": {"activity": 1}}, "'q-pdpo' is not a written item"),
        ({"w-activity": {"style": 1}}, "unknown rubric criterion 'style'"),
        ({"w-activity": {"privacy": 3}}, "scores.w-activity.privacy: give 0 to 1 points, not 3"),
        ({"w-activity": {"privacy": "full"}}, "give 0 to 1 points, not 'full'"),
    ],
)
def test_bad_scores_are_refused_with_a_message(store, definitions, scores, message):
    with pytest.raises(ScriptError, match=message):
        run(store, definitions, reference(definitions[0]), rubric_scores=scores)


# --- practicum attempt ------------------------------------------------------------------------


def steps_file(tmp_path: Path, definitions: tuple[Scenario, Unit], **extra: Any) -> Path:
    scenario = definitions[0]
    steps = reference(scenario)
    del steps[0]["deliverable"]
    steps.insert(2, steps[1])
    data = {
        "steps": steps,
        "answers": dict(scenario.reference_answers),
        "deliverables": {"report": "report"},
        "scores": FULL_MARKS,
        **extra,
    }
    path = tmp_path / "steps.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_attempt_command_lists_refused_steps_and_takes_aliases_and_scores(runner):
    # The documented example: checked before sharing, shared twice, named by alias, pre-scored.
    path = ROOT / "docs/examples/vip-report-careful-with-a-misclick.yaml"
    result = runner.invoke(args=["attempt", SCENARIO_ID, "--steps", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{SCENARIO_ID}: competent" in result.output
    assert "Refused steps (1), audited; the attempt went on:" in result.output
    assert "  step 4 (share_report): The report is already shared with Marketing" in (result.output)
    as_json = runner.invoke(args=["attempt", SCENARIO_ID, "--steps", str(path), "--json"])
    payload = json.loads(as_json.output)
    [refused] = payload["refused_steps"]
    assert (refused["step"], refused["op"]) == (4, "share_report")
    assert isinstance(refused["event_id"], int)
    assert isinstance(payload["deliverables"]["report"], int)
    assert payload["verdict"] == "competent"


def test_attempt_command_refuses_bad_scores_with_a_message(runner, tmp_path, definitions):
    path = steps_file(tmp_path, definitions, scores={"w-activity": {"privacy": 9}})
    result = runner.invoke(args=["attempt", SCENARIO_ID, "--steps", str(path)])
    assert result.exit_code == 2
    assert "scores.w-activity.privacy: give 0 to 1 points, not 9" in result.output
