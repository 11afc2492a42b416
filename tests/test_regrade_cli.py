"""`practicum regrade`: a preview by default, and with --apply the same regrade jobs as the web.

Under TESTING the jobs run at once when queued; a test that needs one waiting turns the app's
queue out of immediate mode and runs it as a worker would (``jobs.run_job``).
"""

from __future__ import annotations

import dataclasses
from html import unescape

import pytest
from sqlalchemy import func, select

from graders import registry
from graders.results import GradingResult, Outcome
from tests.platform_fixtures import (
    SCENARIO_ID,
    apply_reference_solution,
    copy_attempt,
    decide_on_the_web,
    reference_answers,
)
from training_platform import attempts_service, jobs, regrade_service
from training_platform.commands import sandboxes as sandbox_commands
from training_platform.models import (
    Attempt,
    AttemptStatus,
    AuditEntry,
    GradeRecord,
    Job,
    JobStatus,
)

APPLY = ["regrade", "--apply", "--yes"]


@pytest.fixture
def columns_check_changed():
    """The graders changed: report.columns now fails every attempt (in an isolated registry)."""
    with registry.isolated() as (checks, _rules):
        entry = checks.get("report.columns")

        def always_fail(context, params):
            return Outcome.failed({"changed": True}, note="The columns are judged differently now.")

        checks._entries["report.columns"] = dataclasses.replace(entry, func=always_fail)
        yield


@pytest.fixture
def queued_jobs(sandbox_settings):
    """Jobs wait in the queue (no worker) until the test runs them."""
    huey = jobs.get_queue(sandbox_settings).huey
    huey.immediate = False
    yield sandbox_settings
    huey.immediate = True


@pytest.fixture
def twin_attempt(sandbox_settings, db_session, other_trainee, practice_scenario) -> Attempt:
    """Another trainee of the same centre, handing in the same reference solution, graded."""
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, other_trainee, practice_scenario)
    db_session.commit()
    deliverables = apply_reference_solution(sandbox_settings, attempt)
    with sandbox_settings.app_context():
        attempts_service.save_answers(db_session, attempt, reference_answers(attempt))
        attempts_service.submit_attempt(db_session, attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()
    return attempt


def _records(db_session, attempt_id: int) -> list[GradeRecord]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(GradeRecord).where(GradeRecord.attempt_id == attempt_id).order_by(GradeRecord.id)
        )
    )


def _count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model)) or 0


def _audit(db_session, attempt_id: int) -> list[AuditEntry]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "attempt", AuditEntry.target_id == attempt_id)
            .order_by(AuditEntry.id)
        )
    )


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


# --- preview --------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [[], ["--preview"]], ids=["default", "preview-alias"])
def test_a_preview_is_the_default_and_stores_nothing(
    runner, db_session, graded_attempt, columns_check_changed, flag
):
    result = runner.invoke(args=["regrade", *flag, "--scenario", SCENARIO_ID])
    assert result.exit_code == 0, result.output
    assert f"attempt #{graded_attempt.id}" in result.output
    assert "check columns: pass -> fail" in result.output
    assert "Previewed 1 graded attempt(s): 1 would change" in result.output
    assert "Nothing was stored." in result.output
    assert len(_records(db_session, graded_attempt.id)) == 1
    assert _count(db_session, Job) == _count(db_session, AuditEntry) == 0


def test_an_attempt_that_would_not_change_is_reported_unchanged(runner, graded_attempt):
    result = runner.invoke(args=["regrade", "--attempt", str(graded_attempt.id)])
    assert result.exit_code == 0, result.output
    verdict = graded_attempt.grades[-1].overall
    assert f"attempt #{graded_attempt.id} " in result.output
    assert f"unchanged (verdict {verdict})" in result.output
    assert "1 graded attempt(s): 0 would change (0 verdict(s)), 1 unchanged" in result.output


def test_a_preview_says_which_attempt_cannot_be_graded(
    runner, db_session, graded_attempt, other_trainee
):
    gone = copy_attempt(db_session, graded_attempt, other_trainee)  # it has no sandbox
    result = runner.invoke(args=["regrade", "--attempt", str(gone.id)])
    assert result.exit_code == 0, result.output
    assert f"attempt #{gone.id}" in result.output and "cannot be graded" in result.output
    assert "1 could not be graded" in result.output


# --- applying -------------------------------------------------------------------------------


def test_applying_stores_what_the_web_stores_and_names_the_command_line(
    runner,
    client_as,
    assessor,
    db_session,
    graded_attempt,
    twin_attempt,
    columns_check_changed,
):
    browser = client_as(assessor)
    for attempt in (graded_attempt, twin_attempt):
        assert decide_on_the_web(browser, attempt, "competent").status_code == 302
    assert browser.post(f"/review/attempts/{graded_attempt.id}/regrade").status_code == 302

    result = runner.invoke(args=[*APPLY, "--attempt", str(twin_attempt.id)])
    assert result.exit_code == 0, result.output

    web_old, web_new = _records(db_session, graded_attempt.id)
    cli_old, cli_new = _records(db_session, twin_attempt.id)
    assert cli_old.overall == web_old.overall and cli_new.overall == web_new.overall
    assert cli_new.overall != cli_old.overall
    assert (
        regrade_service.compare_results(
            GradingResult.from_dict(web_new.result), GradingResult.from_dict(cli_new.result)
        )
        == ()
    )
    assert web_new.flagged_decision_id is not None and cli_new.flagged_decision_id is not None
    assert (web_new.regraded_by_id, cli_new.regraded_by_id) == (assessor.id, None)
    db_session.expire_all()
    assert db_session.get(Attempt, twin_attempt.id).review.decision.value == "competent"
    [job] = db_session.scalars(select(Job).where(Job.target_id == twin_attempt.id)).all()
    assert (job.kind, job.status, job.requested_by_id) == (jobs.REGRADE, JobStatus.DONE, None)

    line = f"attempt #{twin_attempt.id} ({twin_attempt.trainee.email}, {SCENARIO_ID})"
    assert f"{line}: verdict {cli_old.overall} -> {cli_new.overall}" in result.output
    assert "check columns: pass -> fail" in result.output
    assert "; the decision is flagged for review\n" in result.output
    assert (
        "Regraded 1 attempt(s): 1 changed (1 verdict(s), 1 decision(s) flagged for review), "
        "0 unchanged; 0 failed, 0 skipped." in result.output
    )

    # The audit trail: the web names the assessor, the command line names itself.
    web_audit = [
        (e.action, e.actor_id)
        for e in _audit(db_session, graded_attempt.id)
        if "regrade" in e.action
    ]
    assert web_audit == [
        ("attempt.regrade_queued", assessor.id),
        ("attempt.regraded", assessor.id),
    ]
    cli_audit = [e for e in _audit(db_session, twin_attempt.id) if "regrade" in e.action]
    assert [(e.action, e.actor_id, e.details["by"]) for e in cli_audit] == [
        ("attempt.regrade_queued", None, "command line"),
        ("attempt.regraded", None, "command line"),
    ]
    assert cli_audit[1].details["from"] == cli_old.overall
    assert cli_audit[1].details["to"] == cli_new.overall


def test_the_pages_tell_of_a_regrade_from_the_command_line(
    runner, client_as, assessor, centre_admin, trainee, db_session, graded_attempt
):
    result = runner.invoke(args=[*APPLY, "--attempt", str(graded_attempt.id)])
    assert result.exit_code == 0, result.output
    old, new = _records(db_session, graded_attempt.id)
    evidence = _text(client_as(assessor).get(f"/review/attempts/{graded_attempt.id}"))
    assert f'id="grade-{new.id}"' in evidence
    assert "Regrade from the command line" in evidence and "Grading at submission" in evidence
    page = _text(client_as(trainee).get(f"/attempts/{graded_attempt.id}/result"))
    assert 'id="regrade-note"' in page
    audit = _text(client_as(centre_admin).get("/centre/audit"))
    assert "Command line" in audit and "attempt.regraded" in audit

    assessor.language = "zh_Hant_HK"
    db_session.commit()
    chinese = _text(client_as(assessor).get(f"/review/attempts/{graded_attempt.id}"))
    assert "經命令列重新評分" in chinese


def test_a_regrade_that_changes_nothing_is_stored_and_reported_unchanged(
    runner, db_session, graded_attempt
):
    result = runner.invoke(args=[*APPLY, "--scenario", SCENARIO_ID])
    assert result.exit_code == 0, result.output
    old, new = _records(db_session, graded_attempt.id)
    assert new.overall == old.overall and new.flagged_decision_id is None
    assert f"attempt #{graded_attempt.id}" in result.output
    assert f"unchanged (verdict {old.overall})" in result.output
    assert "Regraded 1 attempt(s): 0 changed (0 verdict(s)" in result.output
    assert "1 unchanged; 0 failed, 0 skipped." in result.output


def test_applying_asks_first_and_a_no_changes_nothing(runner, db_session, graded_attempt):
    args = ["regrade", "--apply", "--attempt", str(graded_attempt.id)]
    declined = runner.invoke(args=args, input="n\n")
    assert declined.exit_code == 1
    assert "Regrade 1 attempt(s)?" in declined.output and "Nothing was queued." in declined.output
    assert len(_records(db_session, graded_attempt.id)) == 1
    assert _count(db_session, Job) == _count(db_session, AuditEntry) == 0

    confirmed = runner.invoke(args=args, input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert len(_records(db_session, graded_attempt.id)) == 2


def test_no_wait_queues_the_jobs_for_a_worker_and_prints_their_ids(
    runner, db_session, graded_attempt, queued_jobs
):
    result = runner.invoke(args=[*APPLY, "--no-wait", "--attempt", str(graded_attempt.id)])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    [job] = db_session.scalars(select(Job).where(Job.kind == jobs.REGRADE)).all()
    assert job.status == JobStatus.QUEUED
    assert f"regrade queued as job #{job.id}" in result.output
    assert "Queued 1 regrade job(s); 0 skipped." in result.output
    assert len(_records(db_session, graded_attempt.id)) == 1  # not graded by the command

    # While it waits, naming the attempt again is refused; choosing by scenario skips it.
    again = runner.invoke(args=[*APPLY, "--no-wait", "--attempt", str(graded_attempt.id)])
    assert again.exit_code == 2
    assert "A regrade of this attempt is already queued" in again.output
    by_scenario = runner.invoke(args=[*APPLY, "--no-wait", "--scenario", SCENARIO_ID])
    assert by_scenario.exit_code == 0, by_scenario.output
    assert "skipped: A regrade of this attempt is already queued" in by_scenario.output
    assert "Nothing was queued: the 1 matching attempt(s) were skipped." in by_scenario.output
    assert _count(db_session, Job) == 1

    jobs.run_job(queued_jobs, job.id)  # the worker
    old, new = _records(db_session, graded_attempt.id)
    assert new.regraded_by_id is None and new.overall == old.overall


def test_waiting_without_a_worker_gives_up_after_the_timeout(
    runner, db_session, graded_attempt, queued_jobs, monkeypatch
):
    monkeypatch.setattr(sandbox_commands, "REGRADE_POLL_SECONDS", 0.05)
    result = runner.invoke(args=[*APPLY, "--timeout", "1", "--attempt", str(graded_attempt.id)])
    assert result.exit_code == 1
    job_id = db_session.scalar(select(Job.id).where(Job.kind == jobs.REGRADE))
    assert f"Job(s) #{job_id} still waiting after 1 s" in result.output
    assert "practicum worker" in result.output


def test_a_regrade_that_fails_is_reported_and_the_centre_told(
    runner, sandbox_settings, db_session, graded_attempt, other_trainee, centre_admin
):
    sandbox_settings.config["JOB_MAX_ATTEMPTS"] = 1
    gone = copy_attempt(db_session, graded_attempt, other_trainee)  # it has no sandbox
    result = runner.invoke(args=[*APPLY, "--scenario", SCENARIO_ID])
    assert result.exit_code == 1
    assert f"attempt #{gone.id}" in result.output and "the regrade failed" in result.output
    assert "SandboxNotFound" in result.output
    assert "Regraded 1 attempt(s):" in result.output and "1 failed, 0 skipped." in result.output
    assert "retry it from the Jobs page" in result.output
    assert len(_records(db_session, gone.id)) == 1
    assert len(_records(db_session, graded_attempt.id)) == 2
    outbox = sandbox_settings.extensions.get("practicum_outbox", [])
    assert [message["To"] for message in outbox] == [centre_admin.email]


# --- refusals -------------------------------------------------------------------------------


@pytest.fixture
def submitted_attempt(db_session, graded_attempt, other_trainee) -> Attempt:
    """An attempt handed in whose grading has not run yet."""
    return copy_attempt(db_session, graded_attempt, other_trainee, AttemptStatus.SUBMITTED)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "no-such-scenario"], 'There is no scenario "no-such-scenario"'),
        (["--attempt", "999999"], "There is no attempt #999999."),
        (["--centre", "no-such-centre"], 'There is no centre "no-such-centre"'),
        (["--centre", "elsewhere", "--attempt", "{graded}"], "belongs to centre"),
        (["--attempt", "{submitted}"], "has not been graded yet, so there is nothing to regrade"),
        (["--preview"], "--apply and --preview exclude each other"),
    ],
    ids=[
        "unknown-scenario",
        "unknown-attempt",
        "unknown-centre",
        "another-centre",
        "not-graded",
        "apply-and-preview",
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    runner, db_session, graded_attempt, submitted_attempt, foreign_centre, args, message
):
    filled = [a.format(graded=graded_attempt.id, submitted=submitted_attempt.id) for a in args]
    result = runner.invoke(args=[*APPLY, *filled])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(_records(db_session, graded_attempt.id)) == 1
    assert _count(db_session, Job) == _count(db_session, AuditEntry) == 0


def test_an_attempt_at_another_scenario_than_named_is_refused(
    runner, db_session, graded_attempt, assessment_scenario
):
    result = runner.invoke(
        args=[*APPLY, "--scenario", assessment_scenario.key, "--attempt", str(graded_attempt.id)]
    )
    assert result.exit_code == 2
    assert f"is at scenario {SCENARIO_ID}, not {assessment_scenario.key}" in result.output
    assert _count(db_session, Job) == 0


@pytest.mark.parametrize("flag", ["--yes", "--no-wait"])
def test_apply_only_options_without_apply_are_refused(runner, graded_attempt, flag):
    result = runner.invoke(args=["regrade", flag])
    assert result.exit_code == 2
    assert "go with --apply" in result.output


def test_a_centre_narrows_the_choice_to_its_own_attempts(
    runner, graded_attempt, foreign_centre, centre
):
    elsewhere = runner.invoke(args=["regrade", "--centre", foreign_centre.slug])
    assert elsewhere.exit_code == 0, elsewhere.output
    assert "Previewed 0 graded attempt(s)" in elsewhere.output
    ours = runner.invoke(args=["regrade", "--centre", centre.slug])
    assert "Previewed 1 graded attempt(s)" in ours.output
