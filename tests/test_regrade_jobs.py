"""Regrading as a job, and publishing a scenario whose data variants are prepared by jobs.

A test that needs to see a job waiting turns the app's queue out of immediate mode; the job is
then run as a worker would (``jobs.run_job``).
"""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from html import unescape

import pytest
from huey.exceptions import RetryTask
from sqlalchemy import func, select

from graders import registry, runner
from graders.results import Outcome
from tests.platform_fixtures import ONE_QUESTION, decide_on_the_web
from training_platform import definitions_store, jobs, sandboxes
from training_platform.models import (
    Attempt,
    AttemptStatus,
    AuditEntry,
    Centre,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    Job,
    JobStatus,
    utcnow,
)


@pytest.fixture
def queued_jobs(sandbox_settings):
    """Jobs wait in the queue (no worker) until the test runs them."""
    huey = jobs.get_queue(sandbox_settings).huey
    huey.immediate = False
    yield sandbox_settings
    huey.immediate = True


@pytest.fixture
def columns_check_changed():
    """The graders changed: report.columns now fails every attempt (in an isolated registry)."""
    with registry.isolated() as (checks, _rules):
        entry = checks.get("report.columns")

        def always_fail(context, params):
            return Outcome.failed({"changed": True}, note="The columns are judged differently now.")

        checks._entries["report.columns"] = dataclasses.replace(entry, func=always_fail)
        yield


def _records(db_session, attempt_id: int) -> list[GradeRecord]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(GradeRecord).where(GradeRecord.attempt_id == attempt_id).order_by(GradeRecord.id)
        )
    )


def _regrade_jobs(db_session, attempt_id: int) -> list[Job]:
    db_session.expire_all()
    return list(
        db_session.scalars(select(Job).where(Job.kind == jobs.REGRADE, Job.target_id == attempt_id))
    )


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


# --- regrading one attempt ----------------------------------------------------------------------


def test_a_regrade_is_a_job_whose_result_is_kept_beside_the_old_and_flags_the_decision(
    client_as,
    assessor,
    trainee,
    graded_attempt,
    db_session,
    queued_jobs,
    columns_check_changed,
):
    browser = client_as(assessor)
    assert decide_on_the_web(browser, graded_attempt, "competent").status_code == 302
    before = _records(db_session, graded_attempt.id)
    assert len(before) == 1

    preview = _text(browser.get(f"/review/attempts/{graded_attempt.id}/regrade-preview"))
    assert "Regrade this attempt" in preview
    response = browser.post(f"/review/attempts/{graded_attempt.id}/regrade")
    assert response.status_code == 302
    page = _text(browser.get(response.headers["Location"]))
    assert "The regrade is queued" in page
    assert "Regrade queued" in page
    [job] = _regrade_jobs(db_session, graded_attempt.id)
    assert (job.status, job.requested_by_id) == (JobStatus.QUEUED, assessor.id)
    assert len(_records(db_session, graded_attempt.id)) == 1  # nothing graded in the request

    # Asking again while it waits is a message, not a second job.
    again = browser.post(f"/review/attempts/{graded_attempt.id}/regrade", follow_redirects=True)
    assert again.status_code == 200
    assert "A regrade of this attempt is already queued" in _text(again)
    assert len(_regrade_jobs(db_session, graded_attempt.id)) == 1

    jobs.run_job(queued_jobs, job.id)  # the worker
    jobs.run_job(queued_jobs, job.id)  # a stray second delivery changes nothing
    records = _records(db_session, graded_attempt.id)
    assert len(records) == 2
    old, new = records
    assert old.result == before[0].result and old.regraded_by_id is None
    assert new.regraded_by_id == assessor.id
    assert new.overall != old.overall
    assert new.flagged_decision_id is not None
    db_session.expire_all()
    assert db_session.get(Job, job.id).status == JobStatus.DONE
    attempt = db_session.get(Attempt, graded_attempt.id)
    assert attempt.status == AttemptStatus.DECIDED
    assert attempt.review.decision.value == "competent"  # never overwritten

    evidence = _text(browser.get(f"/review/attempts/{graded_attempt.id}"))
    assert 'id="regrade-flag"' in evidence and "Decision flagged for review." in evidence
    assert f'id="grade-{old.id}"' in evidence and f'id="grade-{new.id}"' in evidence
    assert f"Regrade by {assessor.display_name}" in evidence

    assert "Regraded: review the decision" in _text(browser.get("/review?state=all"))

    result = _text(client_as(trainee).get(f"/attempts/{graded_attempt.id}/result"))
    assert 'id="regrade-note"' in result
    assert "your assessor is reviewing the decision" in result

    actions = db_session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.target_id == graded_attempt.id, AuditEntry.actor_id == assessor.id)
        .order_by(AuditEntry.id)
    ).all()
    assert "attempt.regrade_queued" in actions and "attempt.regraded" in actions


def test_amending_the_decision_clears_the_regrade_flag(
    client_as, assessor, graded_attempt, db_session, columns_check_changed
):
    browser = client_as(assessor)
    decide_on_the_web(browser, graded_attempt, "competent")
    browser.post(f"/review/attempts/{graded_attempt.id}/regrade")  # runs at once here
    assert 'id="regrade-flag"' in _text(browser.get(f"/review/attempts/{graded_attempt.id}"))
    amended = browser.post(
        f"/review/attempts/{graded_attempt.id}/amendments",
        data={
            "decision": "not_yet_competent",
            "comment": "Regraded: the report's columns are wrong.",
            "reason": "The regrade found the columns wrong.",
            "version": "1",
        },
    )
    assert amended.status_code == 302
    evidence = _text(browser.get(f"/review/attempts/{graded_attempt.id}"))
    assert 'id="regrade-flag"' not in evidence
    assert 'id="grading"' in evidence  # the history stays
    assert "Regraded: review the decision" not in _text(browser.get("/review?state=all"))


def test_a_regrade_that_does_not_change_the_verdict_flags_nothing(
    client_as, centre_admin, graded_attempt, db_session
):
    # Centre admins may apply regrades too.
    response = client_as(centre_admin).post(f"/review/attempts/{graded_attempt.id}/regrade")
    assert response.status_code == 302
    old, new = _records(db_session, graded_attempt.id)
    assert new.overall == old.overall and new.flagged_decision_id is None
    assert new.regraded_by_id == centre_admin.id


def test_regrading_is_refused_with_a_message_for_bad_requests(
    client_as, assessor, foreign_assessor, trainee, started_attempt, db_session, queued_jobs
):
    # Another centre's attempt is not found; a trainee may not.
    url = f"/review/attempts/{started_attempt.id}/regrade"
    assert client_as(foreign_assessor).post(url).status_code == 404
    assert client_as(trainee).post(url).status_code == 403
    assert client_as(assessor).post("/review/attempts/999999/regrade").status_code == 404
    # Not graded yet: handed in, its grading still queued.
    started_attempt.status = AttemptStatus.SUBMITTED
    db_session.commit()
    response = client_as(assessor).post(url, follow_redirects=True)
    assert response.status_code == 200
    assert "has not been graded yet, so there is nothing to regrade" in _text(response)
    assert _regrade_jobs(db_session, started_attempt.id) == []


def test_a_failing_regrade_is_retried_then_shown_failed_on_the_jobs_page(
    client_as, assessor, graded_attempt, db_session, queued_jobs, monkeypatch
):
    queued_jobs.config["JOB_MAX_ATTEMPTS"] = 2
    browser = client_as(assessor)
    browser.post(f"/review/attempts/{graded_attempt.id}/regrade")
    [job] = _regrade_jobs(db_session, graded_attempt.id)

    def broken(**_kwargs):
        raise RuntimeError("grader bug")

    monkeypatch.setattr(runner, "grade_attempt", broken)
    with pytest.raises(RetryTask):  # the queue tries it again after the delay
        jobs.run_job(queued_jobs, job.id)
    db_session.refresh(job)
    assert (job.status, job.attempts, job.last_error) == (
        JobStatus.QUEUED,
        1,
        "RuntimeError: grader bug",
    )
    assert job.queued_at > utcnow()  # waits for its retry delay
    jobs.run_job(queued_jobs, job.id)
    db_session.refresh(job)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert len(_records(db_session, graded_attempt.id)) == 1
    page = _text(browser.get("/jobs"))
    assert "Regrading" in page and "RuntimeError: grader bug" in page
    refused = browser.post(f"/review/attempts/{graded_attempt.id}/regrade", follow_redirects=True)
    assert "tried and failed; retry it from the Jobs page" in _text(refused)

    monkeypatch.undo()
    assert browser.post(f"/jobs/{job.id}/retry").status_code == 302
    jobs.run_job(queued_jobs, job.id)
    db_session.refresh(job)
    assert job.status == JobStatus.DONE
    assert len(_records(db_session, graded_attempt.id)) == 2


# --- regrading a scenario version ---------------------------------------------------------------


def test_every_graded_attempt_of_a_version_is_regraded_after_confirming(
    client_as, assessor, graded_attempt, db_session, queued_jobs
):
    browser = client_as(assessor)
    url = f"/review/versions/{graded_attempt.scenario_version_id}/regrade"
    page = _text(browser.get(url))
    assert f'id="attempt-{graded_attempt.id}"' in page
    assert "I have checked the preview: regrade 1 attempt." in page

    unconfirmed = browser.post(url, follow_redirects=True)
    assert "Tick the box to confirm" in _text(unconfirmed)
    assert _regrade_jobs(db_session, graded_attempt.id) == []

    confirmed = browser.post(url, data={"confirm": "yes"}, follow_redirects=True)
    assert "1 regrade is queued." in _text(confirmed)
    [job] = _regrade_jobs(db_session, graded_attempt.id)
    assert job.status == JobStatus.QUEUED
    again = browser.post(url, data={"confirm": "yes"}, follow_redirects=True)
    assert "0 regrades are queued." in _text(again)
    assert len(_regrade_jobs(db_session, graded_attempt.id)) == 1
    jobs.run_job(queued_jobs, job.id)
    assert len(_records(db_session, graded_attempt.id)) == 2


def test_another_centres_scenario_version_cannot_be_regraded(
    client_as, assessor, graded_attempt, db_session
):
    other = Centre(slug="sha-tin-test", name="Sha Tin Test Centre")
    db_session.add(other)
    db_session.flush()
    source = graded_attempt.scenario_version
    theirs = DefinitionVersion(
        centre_id=other.id,
        kind=DefinitionKind.SCENARIO,
        key=source.key,
        version=1,
        content_hash=source.content_hash,
        filename=source.filename,
        source_text=source.source_text,
        title=source.title,
        unit_code=source.unit_code,
    )
    db_session.add(theirs)
    db_session.commit()
    browser = client_as(assessor)
    assert browser.get(f"/review/versions/{theirs.id}/regrade").status_code == 404
    assert browser.post(f"/review/versions/{theirs.id}/regrade").status_code == 404
    assert browser.get("/review/versions/999999/regrade").status_code == 404


# --- publishing without generating in the request -----------------------------------------------

UPLOADED = (
    """\
id: 999003L3-prepared
unit: 999003L3
title: Prepared in the background
crm:
  profile: retail
  seed: 9317
  customers: 60
  variants: 2
  today: 2026-03-16
  acting_as: {department: customer_service, title: CRM Officer}
"""
    + ONE_QUESTION
)


@pytest.fixture
def fresh_templates(queued_jobs, tmp_path):
    """An empty template cache and a pool of two variants, so that nothing is generated yet."""
    queued_jobs.config.update(TEMPLATE_CACHE_DIR=str(tmp_path / "templates"), SANDBOX_VARIANTS=2)
    queued_jobs.extensions.pop(sandboxes.EXTENSION_KEY, None)
    yield queued_jobs
    store = queued_jobs.extensions.pop(sandboxes.EXTENSION_KEY, None)
    if store is not None:
        store.dispose()


def _publish(client, text: str = UPLOADED):
    return client.post(
        "/authoring/upload",
        data={"file": (io.BytesIO(text.encode()), "prepared.yaml"), "kind": "auto"},
        content_type="multipart/form-data",
    )


def _uploaded(db_session) -> DefinitionVersion:
    db_session.expire_all()
    return db_session.scalars(
        select(DefinitionVersion).where(DefinitionVersion.key == "999003L3-prepared")
    ).one()


def _attempts(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(Attempt.id)))


def test_publishing_returns_before_the_templates_exist_and_starts_wait_for_them(
    client_as, centre_admin, trainee, published_definitions, db_session, fresh_templates
):
    admin = client_as(centre_admin)
    response = _publish(admin)
    assert response.status_code == 302
    version = _uploaded(db_session)
    assert (version.preparation, version.is_current) == ("preparing", True)
    template_jobs = jobs.template_jobs(db_session, version)
    assert [job.status for job in template_jobs] == [JobStatus.QUEUED, JobStatus.QUEUED]
    store = sandboxes.get_store(fresh_templates)
    scenario = definitions_store.load_scenario_model(version)
    scenario_keys = [runner.generation_spec(scenario, n).cache_key() for n in (0, 1)]
    assert not any(store.has_template(key) for key in scenario_keys)  # none built in the request

    history = _text(admin.get(response.headers["Location"]))
    assert "Being prepared" in history and 'id="preparation-1"' in history
    assert "It is being prepared" in history  # the flash

    learner = client_as(trainee)
    before = _attempts(db_session)
    refused = learner.post(f"/scenarios/{version.id}/start", follow_redirects=True)
    assert refused.status_code == 200
    assert "still being prepared" in _text(refused)
    assert _attempts(db_session) == before
    assert not any(store.has_template(key) for key in scenario_keys)  # nor by the start

    jobs.run_job(fresh_templates, template_jobs[0].id)
    assert _uploaded(db_session).preparation == "preparing"  # one variant still to come
    jobs.run_job(fresh_templates, template_jobs[1].id)
    assert _uploaded(db_session).preparation is None
    assert all(store.has_template(key) for key in scenario_keys)
    assert "Being prepared" not in _text(admin.get(response.headers["Location"]))

    started = learner.post(f"/scenarios/{version.id}/start")
    assert started.status_code == 302 and "/attempts/" in started.headers["Location"]
    assert _attempts(db_session) == before + 1


def test_a_generation_job_lost_with_its_worker_or_failing_is_run_again(
    client_as, centre_admin, published_definitions, db_session, fresh_templates, monkeypatch
):
    _publish(client_as(centre_admin))
    version = _uploaded(db_session)
    first, second = jobs.template_jobs(db_session, version)

    # The first job's worker was killed mid-way: its claim is older than the lease.
    first.status = JobStatus.RUNNING
    first.attempts = 1
    first.started_at = utcnow() - timedelta(hours=1)
    db_session.commit()
    with fresh_templates.app_context():
        assert jobs.requeue_stale(db_session) == 1
    jobs.run_job(fresh_templates, first.id)  # what the queue hands a worker
    db_session.refresh(first)
    assert (first.status, first.attempts) == (JobStatus.DONE, 2)

    # The second fails once (the disk was full, say), is queued again with its error, then done.
    store = sandboxes.get_store(fresh_templates)
    real = store.ensure_template

    def full_disk(spec):
        raise OSError("No space left on device")

    monkeypatch.setattr(store, "ensure_template", full_disk)
    with pytest.raises(RetryTask):
        jobs.run_job(fresh_templates, second.id)
    db_session.refresh(second)
    assert (second.status, second.last_error) == (
        JobStatus.QUEUED,
        "OSError: No space left on device",
    )
    assert _uploaded(db_session).preparation == "preparing"
    monkeypatch.setattr(store, "ensure_template", real)
    jobs.run_job(fresh_templates, second.id)
    db_session.refresh(second)
    assert second.status == JobStatus.DONE
    assert _uploaded(db_session).preparation is None


def test_a_version_whose_reference_solution_fails_is_refused_and_the_last_one_stays(
    client_as, centre_admin, published_definitions, db_session
):
    admin = client_as(centre_admin)
    assert _publish(admin).status_code == 302  # jobs run at once here
    good = _uploaded(db_session)
    assert good.preparation is None and good.is_current
    # A counterexample that says it fails the question, but answers it correctly: only running
    # it in the generated data shows that.
    broken = UPLOADED + (
        "counterexamples:\n"
        "  - name: answers it right after all\n"
        "    answers: {q1: a}\n"
        "    must_fail: [q1]\n"
    )
    response = _publish(admin, broken)
    assert response.status_code == 302
    page = _text(admin.get(response.headers["Location"]))
    assert "was refused" in page and "answers it right after all does not fail" in page
    db_session.expire_all()
    versions = db_session.scalars(
        select(DefinitionVersion)
        .where(DefinitionVersion.key == "999003L3-prepared")
        .order_by(DefinitionVersion.version)
    ).all()
    assert [(v.version, v.is_current, v.preparation) for v in versions] == [
        (1, True, None),
        (2, False, "refused"),
    ]


def test_the_regrade_pages_read_in_chinese(client_as, assessor, graded_attempt, db_session):
    assessor.language = "zh_Hant_HK"
    db_session.commit()
    browser = client_as(assessor)
    page = _text(browser.get(f"/review/versions/{graded_attempt.scenario_version_id}/regrade"))
    assert "重新評分一個情境版本" in page and "我已查看預覽：重新評分 1 個嘗試。" in page
    preview = _text(browser.get(f"/review/attempts/{graded_attempt.id}/regrade-preview"))
    assert "重新評分此嘗試" in preview
