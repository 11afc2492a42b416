"""The definition commands through the CLI runner: validate, attempt, schema, sync-definitions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from training_platform.models import DefinitionVersion

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_ID = "105077L3-marketing-vip-report"
SCENARIO_FILE = Path("scenarios/105077L3/marketing-vip-report.yaml")
EXAMPLE = ROOT / "docs/examples/vip-report-wrong-sharing.yaml"
FIXTURE = Path(__file__).parent / "fixtures" / "discrimination"
SILVER_LIST = Path("scenarios/999001L3/999001L3-silver-list.yaml")


@pytest.fixture
def definitions_copy(app, tmp_path):
    """A private copy of units/ and scenarios/ that the app reads its definitions from."""
    root = tmp_path / "definitions"
    shutil.copytree(ROOT / "units", root / "units")
    shutil.copytree(ROOT / "scenarios", root / "scenarios")
    app.config["DEFINITIONS_ROOT"] = str(root)
    return root


def test_validate_passes_on_the_shipped_definitions(runner):
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 0, result.output
    assert "PASS  105077L3-marketing-vip-report  reference solution" in result.output
    assert "counterexample:" in result.output
    assert "FAIL  " not in result.output
    assert "ok 2.4" in result.output  # the coverage matrix
    assert "PASS  105077L3-marketing-vip-report  alternative: " in result.output
    assert "PASS  105077L3-marketing-vip-report  rows: drop tier in [gold, platinum]" in (
        result.output
    )
    assert "FAIL" not in result.output
    assert "OK: definitions valid" in result.output


def test_validate_fails_with_file_and_line_on_an_unknown_pr(runner, definitions_copy):
    path = definitions_copy / SCENARIO_FILE
    text = path.read_text()
    path.write_text(text.replace('requirements: ["2.4"]', 'requirements: ["2.9"]', 1))
    line = next(n for n, row in enumerate(path.read_text().splitlines(), 1) if '["2.9"]' in row)
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1
    assert f'{SCENARIO_FILE}:{line} checks[3].requirements[0]: unknown PR "2.9"' in result.output


def one_variant(path: Path) -> None:
    """Shrink a copied scenario's pool to one variant, for tests about something else."""
    path.write_text(path.read_text().replace("  today: ", "  variants: 1\n  today: ", 1))


def only_this_scenario(root: Path, kept: Path) -> None:
    """Leave one scenario in a copied folder, for tests about that scenario's self-test alone."""
    for path in (root / "scenarios").rglob("*.yaml"):
        if path != root / kept:
            path.unlink()


def test_validate_fails_when_a_counterexample_passes(runner, definitions_copy):
    path = definitions_copy / SCENARIO_FILE
    only_this_scenario(definitions_copy, SCENARIO_FILE)
    one_variant(path)
    # This counterexample only over-shares; claiming it also fails "rows" is false.
    text = path.read_text().replace("must_fail: [sharing]", "must_fail: [sharing, rows]")
    path.write_text(text)
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1
    assert "FAIL  105077L3-marketing-vip-report  counterexample: shares the report" in result.output
    assert "rows did not fail (status: pass)" in result.output


def test_validate_fails_when_a_pr_is_left_unassessed(runner, definitions_copy):
    for path in (definitions_copy / "scenarios/105077L3").glob("*.yaml"):
        text = path.read_text().replace('requirements: ["2.5"]', 'requirements: ["2.1"]')
        path.write_text(text)
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1
    assert "PR 2.5: no check or item assesses this PR" in result.output
    assert "!! 2.5" in result.output


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of a file that contains ``text``."""
    return next(n for n, row in enumerate(path.read_text().splitlines(), 1) if text in row)


def test_validate_finds_an_unknown_deliverable_deep_in_a_checks_parameters(
    runner, definitions_copy
):
    path = definitions_copy / SCENARIO_FILE
    text = path.read_text()
    wrong = "{operation: report.share, deliverable: reprot}"
    path.write_text(text.replace("{operation: report.share, deliverable: report}", wrong))
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1
    expected = (
        f"{SCENARIO_FILE}:{line_of(path, wrong)} checks[5].params.steps[1].deliverable: "
        'no deliverable "reprot" in this scenario'
    )
    assert expected in result.output


def test_validate_reports_a_bad_plant_parameter_instead_of_crashing(runner, definitions_copy):
    path = definitions_copy / SCENARIO_FILE
    text = path.read_text().replace("params: {tiers: [gold", "params: {tier: [gold", 1)
    path.write_text(text)
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1, result.output
    line = line_of(path, "{tier: [gold")
    assert f"{SCENARIO_FILE}:{line} crm.plant[0].params: plant 'opted_out_in_segment'" in (
        result.output
    )
    assert "unknown parameter(s) ['tier']" in result.output


def test_validate_reports_a_sandbox_that_cannot_be_generated(runner, definitions_copy):
    path = definitions_copy / SCENARIO_FILE
    only_this_scenario(definitions_copy, SCENARIO_FILE)
    one_variant(path)
    path.write_text(
        path.read_text().replace(
            "{kind: hkid_in_notes, count: 4}", "{kind: hkid_in_notes, count: 900000}"
        )
    )
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1, result.output
    assert "FAIL  105077L3-marketing-vip-report  reference solution" in result.output
    assert "lower the count or enlarge the sandbox" in result.output


@pytest.fixture
def small_definitions(app, tmp_path):
    """The test suite's small unit and scenario (two variants of 80 customers), as a copy."""
    root = tmp_path / "small-definitions"
    shutil.copytree(FIXTURE, root)
    app.config["DEFINITIONS_ROOT"] = str(root)
    return root


def test_validate_runs_alternatives_and_prints_the_discrimination_report(runner, small_definitions):
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 0, result.output
    assert (
        "PASS  999001L3-silver-list  alternative: an equivalent filter on status  (2 variants)"
        in result.output
    )
    assert (
        "PASS  999001L3-silver-list  rows: drop status eq active ... caught in 2/2 variants"
        in result.output
    )
    # The deliverable named by its alias is graded, not the draft the steps marked first.
    assert "PASS  999001L3-silver-list  alternative: builds a wrong first draft" in result.output


def test_validate_names_an_unknown_operation_in_an_alternative_by_file_and_line(
    runner, small_definitions
):
    path = small_definitions / SILVER_LIST
    lines = path.read_text().splitlines(keepends=True)
    first = next(n for n, row in enumerate(lines) if "- name: an equivalent filter" in row)
    target = next(n for n in range(first, len(lines)) if "op: create_report" in lines[n])
    lines[target] = lines[target].replace("create_report", "make_report")
    path.write_text("".join(lines))
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1, result.output
    assert (
        f'{SILVER_LIST}:{target + 1} alternatives[0].steps[0].op: unknown operation "make_report"'
        in result.output
    )


def test_validate_fails_an_alternative_that_is_not_competent(runner, small_definitions):
    path = small_definitions / SILVER_LIST
    # Dropping the status filter is no longer an equivalent: the report lists closed members.
    text = path.read_text().replace(
        "              - {field: status, op: not_in, value: [inactive, closed]}\n", ""
    )
    path.write_text(text)
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1, result.output
    assert "FAIL  999001L3-silver-list  alternative: an equivalent filter on status" in (
        result.output
    )
    assert "variant 0: check rows fail" in result.output
    assert "variant 1: check rows fail" in result.output


def test_validate_fails_a_counterexample_that_passes(runner, small_definitions):
    path = small_definitions / SILVER_LIST
    text = path.read_text().replace(
        "          filters: {field: tier, op: eq, value: silver}",
        "          filters:\n"
        "            all: [{field: tier, op: eq, value: silver}, "
        "{field: status, op: eq, value: active}]",
    )
    path.write_text(text)
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1, result.output
    assert "FAIL  999001L3-silver-list  counterexample: forgets the status" in result.output
    assert "variant 0: rows did not fail (status: pass)" in result.output


def test_validate_fails_a_check_whose_criterion_changes_nothing(runner, small_definitions):
    path = small_definitions / SILVER_LIST
    text = path.read_text().replace(
        "            - {field: status, op: eq, value: active}\n    feedback",
        "            - {field: status, op: eq, value: active}\n"
        "            - {field: member_no, op: not_null}\n    feedback",
    )
    path.write_text(text)
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 1, result.output
    assert (
        "FAIL  999001L3-silver-list  rows: drop member_no not_null ... caught in 0/2 variants "
        "(rows that differ, per variant: 0, 0)" in result.output
    )
    assert "PASS  999001L3-silver-list  rows: drop tier eq silver" in result.output
    assert "1 perturbation(s) not caught in every variant" in result.output


def test_attempt_prints_the_graded_result_as_json(runner):
    result = runner.invoke(args=["attempt", SCENARIO_ID, "--steps", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    checks = {c["check_id"]: c["status"] for c in payload["checks"]}
    assert checks["sharing"] == "fail"  # the example also shares with Sales
    assert checks["rows"] == "pass" and checks["consent"] == "pass"
    requirements = {r["pr_id"]: r["status"] for r in payload["requirements"]}
    assert requirements["2.4"] == "not_demonstrated"
    assert requirements["2.1"] == "demonstrated"
    assert payload["verdict"] == "not_yet_competent"
    assert set(payload["deliverables"]) == {"report"}
    assert isinstance(payload["deliverables"]["report"], int)
    assert {r["rule_id"] for r in payload["pdpo"]} >= {"DM-01", "DM-06", "COL-07", "SEC-02"}


def test_attempt_reports_a_bad_step_and_exits_non_zero(runner, tmp_path):
    steps = tmp_path / "steps.yaml"
    steps.write_text("- op: share_report\n  args: {report_id: $missing, department: marketing}\n")
    result = runner.invoke(args=["attempt", SCENARIO_ID, "--steps", str(steps)])
    assert result.exit_code == 2
    assert "step 1 (share_report)" in result.output
    assert "$missing is not bound" in result.output


def test_attempt_rejects_a_malformed_steps_file(runner, tmp_path):
    steps = tmp_path / "steps.yaml"
    steps.write_text("steps:\n  - {operation: run_report}\n")
    result = runner.invoke(args=["attempt", SCENARIO_ID, "--steps", str(steps)])
    assert result.exit_code != 0
    assert "steps.yaml" in result.output and "op" in result.output


def test_attempt_names_the_known_scenarios_for_an_unknown_one(runner):
    result = runner.invoke(args=["attempt", "105077L3-nope", "--steps", str(EXAMPLE)])
    assert result.exit_code == 2
    known = result.output.split("Known scenarios: ")[1].strip().split(", ")
    assert SCENARIO_ID in known


def test_schema_writes_both_json_schemas(runner, tmp_path):
    result = runner.invoke(args=["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    scenario = json.loads((tmp_path / "scenario.schema.json").read_text())
    unit = json.loads((tmp_path / "unit.schema.json").read_text())
    assert "checks" in scenario["properties"]
    assert "performance_requirements" in unit["properties"]


def test_sync_definitions_publishes_once(runner, db_session):
    first = runner.invoke(args=["sync-definitions"])
    assert first.exit_code == 0, first.output
    count = db_session.scalar(select(func.count()).select_from(DefinitionVersion))
    files = [*(ROOT / "units").glob("*.yaml"), *(ROOT / "scenarios").glob("*/*.yaml")]
    assert count == len(files)  # one version of each file
    second = runner.invoke(args=["sync-definitions"])
    assert "0 new version(s)" in second.output
    assert db_session.scalar(select(func.count()).select_from(DefinitionVersion)) == count


def test_operations_page_is_in_step_with_the_code(runner):
    result = runner.invoke(args=["operations"])
    assert result.exit_code == 0
    assert "## `export_report`" in result.output
    documented = (ROOT / "docs/operations.md").read_text()
    assert result.output == documented, "run `practicum operations > docs/operations.md`"
