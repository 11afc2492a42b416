"""Grading reads only the rows a sandbox tracked as written, and gets the same answers as before.

The backend contract (tests/test_backend_contract.py) covers what is tracked; these tests cover
what grading makes of it: table differences identical to comparing whole tables, collateral
changes still caught (also those made behind the operations' back), and sandboxes cloned from a
template older than change tracking. Also: report checks that evaluate their conditions on the
report's rows only, and the generator's finishing pass of each area.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, text

from graders.results import Status
from sandbox_crm.backends import sqlite_files
from sandbox_crm.backends.change_log import CHANGE_LOG
from sandbox_crm.generator import GenerationSpec
from sandbox_crm.models import ContactPoint, SandboxBase
from sandbox_crm.store import SandboxStore
from tests.graders_helpers import VIP_WHERE, Attempt
from tests.sandbox_fixtures import small_spec

TABLES = ["customer", "contact_point", "consent_record", "message"]


def _changes(attempt: Attempt) -> dict[str, int]:
    """A mix of writes: operations that insert, update and delete, and raw SQL ones."""
    report = attempt.report()
    attempt.do("share_report", report_id=report.id, department="finance")
    attempt.do("run_report", report_id=report.id)
    attempt.do("unshare_report", report_id=report.id, department="finance")
    customer = attempt.customer(VIP_WHERE)
    attempt.do("update_customer", customer_id=customer.id, tier="silver", notes="")
    planted = attempt.customer(VIP_WHERE, index=1)
    contact = attempt.session.scalar(
        select(ContactPoint.id).where(ContactPoint.customer_id == planted.id).limit(1)
    )
    raw = attempt.session.connection()
    raw.execute(text("UPDATE customer SET notes = notes || '!' WHERE id = :id"), {"id": planted.id})
    raw.execute(text("DELETE FROM contact_point WHERE id = :id"), {"id": contact})
    attempt.session.commit()
    return {"customer": customer.id, "planted": planted.id, "contact": contact}


def test_differences_from_the_log_equal_whole_table_comparisons(
    attempt: Attempt, monkeypatch: pytest.MonkeyPatch
) -> None:
    _changes(attempt)
    tables = list(SandboxBase.metadata.tables)
    from_log = {t: attempt.context().diff(t) for t in tables}
    monkeypatch.setattr(SandboxStore, "tracked_keys", lambda *args: None)
    whole_tables = {t: attempt.context().diff(t) for t in tables}
    monkeypatch.setattr("graders.context._differing_keys", lambda *args: None)
    in_python = {t: attempt.context().diff(t) for t in tables}
    assert from_log == whole_tables == in_python
    assert not from_log["report_share"].added  # shared and unshared: no difference left
    assert from_log["report_run"].added and from_log["report_definition"].added


def test_a_collateral_change_behind_the_operations_back_is_caught(attempt: Attempt) -> None:
    changed = _changes(attempt)
    outcome = attempt.check("state.no_collateral_change", {"tables": TABLES})
    assert outcome.status is Status.FAIL
    customers = outcome.evidence["changes"]["customer"]
    assert {c["id"] for c in customers["changed"]} == {changed["customer"], changed["planted"]}
    assert list(outcome.evidence["changes"]["contact_point"]["deleted"]) == [changed["contact"]]
    allowed = {"tables": TABLES, "allow_operations": ["customer.update"]}
    outcome = attempt.check("state.no_collateral_change", allowed)
    assert outcome.status is Status.FAIL  # the raw writes name no operation
    assert [c["id"] for c in outcome.evidence["changes"]["customer"]["changed"]] == [
        changed["planted"]
    ]


def test_a_reporting_task_that_changes_nothing_still_passes(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("run_report", report_id=report.id)
    outcome = attempt.check("state.no_collateral_change", {"tables": TABLES})
    assert outcome.status is Status.PASS


def _untracked_template(store: SandboxStore, spec: GenerationSpec) -> None:
    """Make the cached template look like one built before change tracking existed."""
    path = store.ensure_template(spec)
    path.chmod(0o644)
    connection = sqlite3.connect(path)
    names = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
        (f"{CHANGE_LOG}%",),
    ).fetchall()
    for (name,) in names:
        connection.execute(f'DROP TRIGGER "{name}"')
    connection.execute(f"DROP TABLE {CHANGE_LOG}")
    connection.commit()
    connection.close()
    path.chmod(0o444)


@pytest.mark.parametrize("in_memory_up_to", [0, 64 * 1024 * 1024], ids=["file", "memory"])
def test_a_clone_of_an_older_template_is_tracked_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory_up_to: int
) -> None:
    """Whether the clone is copied from the file or taken from the template in memory."""
    monkeypatch.setattr(sqlite_files, "_IMAGED_TEMPLATE_BYTES", in_memory_up_to)
    store = SandboxStore(tmp_path / "sandboxes", tmp_path / "templates")
    spec = small_spec(customers=60, plants=())
    _untracked_template(store, spec)
    with store.template_session(spec) as template:
        assert store.tracked_keys(template, "customer") is None
    store.create("old", spec)
    with store.session("old") as session:
        session.execute(text("UPDATE customer SET notes = 'x' WHERE id = 2"))
        session.commit()
    with store.session("old", read_only=True) as session:
        assert store.tracked_keys(session, "customer") == [2]
    store.dispose()


# --- report checks: conditions evaluated on the report's rows only ---------------------------

WITHDRAWN = {"field": "dm_email", "op": "in", "value": ["withdrawn", "not_asked"]}


@pytest.mark.parametrize("chunk", [3, 10_000])
def test_report_conditions_restricted_to_its_rows_in_chunks(
    attempt: Attempt, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr("graders.checks.report._CHUNK", chunk)
    attempt.report(filters=VIP_WHERE)  # every VIP, whatever they agreed to
    expected = set(attempt.customer_ids({"all": [VIP_WHERE, WITHDRAWN]}))
    assert expected, "the sandbox has VIPs who withdrew or were never asked"
    params = {"report": "report", "where": WITHDRAWN}
    outcome = attempt.check("report.no_rows_where", params)
    assert outcome.status is Status.FAIL
    assert outcome.evidence["offending_count"] == len(expected)
    assert outcome.evidence["report_rows"] == len(attempt.customer_ids(VIP_WHERE))
    rows = {"report": "report", "expect": {"source": "customers", "where": VIP_WHERE}}
    assert attempt.check("report.rows_match", rows).status is Status.PASS


def test_a_report_without_offending_rows_passes(attempt: Attempt) -> None:
    consenting = {"field": "dm_email", "op": "in", "value": ["given", "no_objection"]}
    attempt.report(filters={"all": [VIP_WHERE, consenting]})
    outcome = attempt.check("report.no_rows_where", {"report": "report", "where": WITHDRAWN})
    assert outcome.status is Status.PASS
    assert outcome.evidence["offending_count"] == 0


# --- generation: the areas' finishing pass ----------------------------------------------------


def test_generation_ends_with_each_areas_finish_on_the_complete_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sandbox_crm.generator as generator

    seen: list[tuple[int, int]] = []

    def finish(session, today) -> None:
        customers = session.execute(text("SELECT count(*) FROM customer")).scalar_one()
        withdrawn = session.execute(
            text("SELECT count(*) FROM consent_record WHERE status = 'withdrawn'")
        ).scalar_one()
        seen.append((customers, withdrawn))

    monkeypatch.setattr(generator, "finish_steps", lambda: [finish])
    spec = small_spec(customers=60, seed=77)
    store = SandboxStore(tmp_path / "sandboxes", tmp_path / "templates")
    path = store.ensure_template(spec)
    store.dispose()
    connection = sqlite3.connect(path)
    withdrawn = connection.execute(
        "SELECT count(*) FROM consent_record WHERE status = 'withdrawn'"
    ).fetchone()[0]
    connection.close()
    assert seen == [(60, withdrawn)]  # once, with every row written, the plants' too


# --- the VIP scenario: the same grading with and without the change log ----------------------


def test_vip_scenario_runs_grade_the_same_from_the_log_and_from_whole_tables(
    sandbox_template_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graders.definitions import load_definitions
    from graders.registry import load_builtin
    from graders.runner import run_scripted_attempt
    from graders.validation import _self_test_runs

    load_builtin()
    definitions = load_definitions(Path(__file__).resolve().parents[1])
    scenario = definitions.scenarios["105077L3-marketing-vip-report"].model
    unit = definitions.units[scenario.unit].model
    store = SandboxStore(tmp_path / "sandboxes", sandbox_template_dir)

    # The reference, and the counterexamples that change data (messages sent, consents
    # recorded): the ones whose grading reads the most differences.
    runs = [
        run
        for run in _self_test_runs(scenario)
        if run.kind == "reference"
        or {"send_message", "record_consent"} & {step.op for step in run.steps}
    ]

    def grade_all(prefix: str) -> list[tuple]:
        results = []
        for n, run in enumerate(runs):
            outcome = run_scripted_attempt(
                store,
                f"{prefix}-{n}",
                scenario=scenario,
                unit=unit,
                steps=run.steps,
                answers=run.answers,
                deliverables=dict(run.deliverables) or None,
            )
            result = outcome.result
            results.append((run.name, result.verdict, result.checks, result.pdpo))
        return results

    from_log = grade_all("log")
    monkeypatch.setattr(SandboxStore, "tracked_keys", lambda *args: None)
    whole_tables = grade_all("whole")
    store.dispose()
    assert from_log == whole_tables
    assert [kind for kind, *_ in from_log[:1]] == ["reference solution"]
    assert len(from_log) >= 3
