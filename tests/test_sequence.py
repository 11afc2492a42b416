"""events.sequence with order constraints: steps that must happen, and the orders that count."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from graders.engine import validate_check_params
from graders.results import Status

if TYPE_CHECKING:
    from tests.graders_helpers import Attempt


ROOT = Path(__file__).resolve().parents[1]
SCENARIO_FILE = Path("scenarios/105077L3/marketing-vip-report.yaml")

# The VIP scenario's workflow: built, shared, run and exported; every export after a run.
WORKFLOW: dict[str, Any] = {
    "steps": [
        {"operation": "report.create", "deliverable": "report"},
        {"operation": "report.share", "deliverable": "report"},
        {"id": "run", "operation": "report.run", "deliverable": "report"},
        {"operation": "report.export", "deliverable": "report", "after": ["run"]},
    ]
}


def share(attempt: Attempt, report_id: int, department: str = "marketing") -> None:
    attempt.do("share_report", report_id=report_id, department=department, can_export=True)


def run(attempt: Attempt, report_id: int) -> None:
    attempt.do("run_report", report_id=report_id)


def test_the_careful_order_passes_run_and_check_before_sharing(attempt: Attempt) -> None:
    report = attempt.report()
    run(attempt, report.id)  # checked first: the careful thing to do
    share(attempt, report.id)
    attempt.export(report.id)
    outcome = attempt.check("events.sequence", WORKFLOW)
    assert outcome.status is Status.PASS, outcome.evidence
    assert outcome.score == 1.0
    assert outcome.note is None
    constraint = outcome.evidence["constraints"][0]
    assert constraint["step"] == "steps[3]" and constraint["after"] == "run"
    assert constraint["met"] is True and constraint["violating_event_ids"] == ()


def test_the_listed_order_passes_too(attempt: Attempt) -> None:
    report = attempt.report()
    share(attempt, report.id)
    run(attempt, report.id)
    attempt.export(report.id)
    assert attempt.check("events.sequence", WORKFLOW).status is Status.PASS


def test_repeated_steps_and_other_events_are_fine(attempt: Attempt) -> None:
    report = attempt.report()
    run(attempt, report.id)
    attempt.do("view_customer", customer_id=attempt.customer({}).id)
    run(attempt, report.id)
    share(attempt, report.id)
    share(attempt, report.id, "sales")
    attempt.export(report.id)
    attempt.export(report.id)
    outcome = attempt.check("events.sequence", WORKFLOW)
    assert outcome.status is Status.PASS
    steps = {s["step"]: s for s in outcome.evidence["steps"]}
    assert len(steps["run"]["event_ids"]) == 2
    assert len(steps["steps[3]"]["event_ids"]) == 2


def test_a_missing_step_fails_and_says_which_in_task_terms(attempt: Attempt) -> None:
    report = attempt.report()
    run(attempt, report.id)
    attempt.export(report.id)
    outcome = attempt.check("events.sequence", WORKFLOW)
    assert outcome.status is Status.FAIL
    assert outcome.score == pytest.approx(4 / 5)  # four steps and one constraint, one missed
    shared = outcome.evidence["steps"][1]
    assert shared["found"] is False and shared["event_ids"] == ()
    assert outcome.note_text() == "The report was never shared."


def test_a_step_on_another_report_does_not_count(attempt: Attempt) -> None:
    scratch = attempt.report(deliverable=None, name="Scratch")
    share(attempt, scratch.id)
    report = attempt.report()
    run(attempt, report.id)
    attempt.export(report.id)
    assert attempt.check("events.sequence", WORKFLOW).status is Status.FAIL


def test_exporting_before_any_run_violates_the_constraint(attempt: Attempt) -> None:
    report = attempt.report()
    share(attempt, report.id)
    export = attempt.export(report.id)
    run(attempt, report.id)
    outcome = attempt.check("events.sequence", WORKFLOW)
    assert outcome.status is Status.FAIL
    constraint = outcome.evidence["constraints"][0]
    assert constraint["met"] is False
    assert len(constraint["violating_event_ids"]) == 1
    assert constraint["violating_event_ids"][0] < constraint["first_after_event_id"]
    assert export.id  # the export happened; the note says what went wrong, not the data
    assert outcome.note_text() == "The report was exported before it was ever run."


def test_every_export_must_follow_a_run_so_a_later_rerun_does_not_excuse_an_early_export(
    attempt: Attempt,
) -> None:
    report = attempt.report()
    share(attempt, report.id)
    attempt.export(report.id)  # sent unchecked
    run(attempt, report.id)
    attempt.export(report.id)  # the careful export afterwards does not undo the first
    outcome = attempt.check("events.sequence", WORKFLOW)
    assert outcome.status is Status.FAIL
    constraint = outcome.evidence["constraints"][0]
    steps = {s["step"]: s for s in outcome.evidence["steps"]}
    assert constraint["violating_event_ids"] == (steps["steps[3]"]["event_ids"][0],)


def test_a_constraint_is_satisfied_once_the_earlier_step_is_repeated_in_time(
    attempt: Attempt,
) -> None:
    report = attempt.report()
    run(attempt, report.id)
    share(attempt, report.id)
    attempt.do("update_report", report_id=report.id, description="Checked and updated")
    run(attempt, report.id)
    attempt.export(report.id)
    assert attempt.check("events.sequence", WORKFLOW).status is Status.PASS


def test_an_export_with_no_run_at_all_fails_both_ways(attempt: Attempt) -> None:
    report = attempt.report()
    share(attempt, report.id)
    attempt.export(report.id)
    outcome = attempt.check("events.sequence", WORKFLOW)
    assert outcome.status is Status.FAIL
    assert outcome.evidence["constraints"][0]["first_after_event_id"] is None
    assert outcome.note_text() == (
        "The report was never run. The report was exported, but it was never run."
    )


def test_without_after_steps_may_come_in_any_order(attempt: Attempt) -> None:
    params = {
        "steps": [
            {"id": "export", "operation": "report.export", "deliverable": "report"},
            {"id": "create", "operation": "report.create", "deliverable": "report"},
            {"id": "run", "operation": "report.run", "deliverable": "report"},
        ]
    }
    report = attempt.report()
    attempt.export(report.id)
    run(attempt, report.id)
    outcome = attempt.check("events.sequence", params)
    assert outcome.status is Status.PASS
    assert outcome.evidence["mode"] == "constraints"
    assert outcome.evidence["constraints"] == ()


def test_an_optional_step_only_has_to_keep_its_order_when_it_happens(attempt: Attempt) -> None:
    params = {
        "steps": [
            {"id": "run", "operation": "report.run", "deliverable": "report"},
            {
                "operation": "report.export",
                "deliverable": "report",
                "required": False,
                "after": ["run"],
            },
        ]
    }
    report = attempt.report()
    run(attempt, report.id)
    outcome = attempt.check("events.sequence", params)
    assert outcome.status is Status.PASS
    assert outcome.evidence["constraints"][0]["met"] is None  # no export, nothing to order
    attempt.export(report.id)
    assert attempt.check("events.sequence", params).status is Status.PASS


def test_steps_without_a_deliverable_are_worded_in_general_terms(attempt: Attempt) -> None:
    customer = attempt.customer({})
    params = {
        "steps": [
            {"id": "looked", "operation": "customer.view"},
            {"operation": "message.send", "required": False, "after": ["looked"]},
        ]
    }
    outcome = attempt.check("events.sequence", params)
    assert outcome.note_text() == "No customer was opened."
    attempt.do(
        "send_message",
        customer_id=customer.id,
        channel="email",
        kind="service",
        subject="Your order",
        body="Your order is ready for collection.",
    )
    attempt.do("view_customer", customer_id=customer.id)
    outcome = attempt.check("events.sequence", params)
    assert outcome.status is Status.FAIL
    assert outcome.note_text() == "A message was sent before a customer was ever opened."


def test_an_author_can_name_what_a_step_is_about(attempt: Attempt) -> None:
    params = {
        "steps": [
            {"operation": "report.share", "deliverable": "report", "what": "the VIP list"},
        ]
    }
    attempt.report()
    outcome = attempt.check("events.sequence", params)
    assert outcome.note_text() == "The VIP list was never shared."


# --- parameters -------------------------------------------------------------------------------


def steps(*specs: dict[str, Any]) -> dict[str, Any]:
    return {"steps": list(specs)}


CREATE = {"id": "create", "operation": "report.create"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            steps(CREATE, {"operation": "report.run", "after": ["craete"]}),
            "steps[1].after[0]: unknown step id 'craete'; step ids: 'create'",
        ),
        (
            steps({"operation": "report.run", "after": ["create"]}),
            "steps[0].after[0]: unknown step id 'create'; step ids: none (give steps an id)",
        ),
        (
            steps(
                {"id": "run", "operation": "report.run", "after": ["export"]},
                {"id": "export", "operation": "report.export", "after": ["run"]},
            ),
            "steps[0].after: the after constraints go round in a circle: "
            "'run' -> 'export' -> 'run'",
        ),
        (
            steps({"id": "run", "operation": "report.run", "after": ["run"]}),
            "steps[0].after[0]: a step cannot come after itself ('run')",
        ),
        (
            steps(CREATE, {**CREATE, "operation": "report.run"}),
            "steps[1].id: step id 'create' is already used by steps[0]",
        ),
        (
            {**steps(CREATE, {"operation": "report.run", "after": ["create"]}), "ordered": True},
            "ordered: ordered: true is the older form; it cannot be combined with id, after",
        ),
        (steps({"id": "Run now", "operation": "report.run"}), "steps[0].id: String should match"),
        (
            steps(CREATE, {"operation": "report.run", "after": ["{x}"]}),
            "steps[1].after[0]: String should match",
        ),
    ],
)
def test_bad_order_constraints_are_named_with_their_path(
    params: dict[str, Any], expected: str
) -> None:
    problems = validate_check_params("events.sequence", params)
    assert any(p.startswith(expected) for p in problems), problems


def test_good_order_constraints_have_no_problems() -> None:
    assert validate_check_params("events.sequence", WORKFLOW, deliverables={"report"}) == []


def test_validate_names_the_file_and_line_of_an_unknown_step_id(app, runner, tmp_path) -> None:
    root = tmp_path / "definitions"
    shutil.copytree(ROOT / "units", root / "units")
    shutil.copytree(ROOT / "scenarios", root / "scenarios")
    app.config["DEFINITIONS_ROOT"] = str(root)
    path = root / SCENARIO_FILE
    path.write_text(path.read_text().replace("after: [run]", "after: [runs]"))
    result = runner.invoke(args=["validate", "--no-run"])
    assert result.exit_code == 1, result.output
    line = next(n for n, row in enumerate(path.read_text().splitlines(), 1) if "[runs]" in row)
    assert (
        f"{SCENARIO_FILE}:{line} checks[5].params.steps[3].after[0]: unknown step id 'runs'"
        in result.output
    )
