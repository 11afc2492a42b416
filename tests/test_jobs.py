"""Grading and other long work as jobs: one job per piece of work, claims, retries, the page.

Jobs run at once under TESTING (Huey's immediate mode); tests/test_job_worker.py runs a real
consumer in another process.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from graders import runner
from tests.platform_fixtures import apply_reference_solution
from training_platform import attempts_service, jobs
from training_platform.db import new_session
from training_platform.models import Attempt, AttemptStatus, GradeRecord, Job, JobStatus, utcnow
from training_platform.sandboxes import get_store


def _grades(db_session, attempt_id: int) -> int:
    return db_session.scalar(
        select(func.count(GradeRecord.id)).where(GradeRecord.attempt_id == attempt_id)
    )


def _submit(client, attempt, deliverables):
    return client.post(
        f"/attempts/{attempt.id}/submit",
        data={"deliverable-report": str(deliverables["report"]), "confirm": "yes"},
        follow_redirects=True,
    )


def _broken(**_kwargs):
    raise RuntimeError("grader bug")


@pytest.fixture
def broken_grader(monkeypatch):
    """Every grading raises until the test calls `monkeypatch.undo()`."""
    monkeypatch.setattr(runner, "grade_attempt", _broken)


# --- idempotent submit ------------------------------------------------------------------------


def test_a_double_submit_queues_one_job_and_answers_as_the_first(
    client_as, trainee, started_attempt, sandbox_settings, db_session
):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    client = client_as(trainee)
    first = _submit(client, started_attempt, deliverables)
    second = _submit(client, started_attempt, deliverables)
    for response in (first, second):
        assert response.request.path == f"/attempts/{started_attempt.id}/result"
        assert "Your attempt is submitted." in response.get_data(as_text=True)
        assert "Performance requirements" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(func.count(Job.id))) == 1
    assert _grades(db_session, started_attempt.id) == 1
    job = jobs.grading_job(db_session, started_attempt)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, None)


def test_an_attempt_left_submitted_without_a_job_gets_one_when_submitted_again(
    client_as, trainee, started_attempt, sandbox_settings, db_session
):
    # Handed in before grading was a job, and its grading cut off: it stayed "submitted".
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    started_attempt.status = AttemptStatus.SUBMITTED
    started_attempt.deliverables = deliverables
    get_store(sandbox_settings).freeze(started_attempt.sandbox_key)
    db_session.commit()
    response = _submit(client_as(trainee), started_attempt, deliverables)
    assert "Performance requirements" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Attempt, started_attempt.id).status == AttemptStatus.GRADED
    assert _grades(db_session, started_attempt.id) == 1


# --- claims, retries, lost workers ------------------------------------------------------------


def test_only_one_worker_claims_a_job(app, db_session, graded_attempt):
    job = jobs.queue_grading(db_session, graded_attempt)
    db_session.commit()
    other = new_session(app)
    try:
        assert jobs.claim(db_session, job.id, app=app) is not None
        assert jobs.claim(other, job.id, app=app) is None
    finally:
        other.close()
    db_session.refresh(job)
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)


def test_grading_twice_keeps_one_grade_record(sandbox_settings, db_session, started_attempt):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    with sandbox_settings.app_context():
        attempts_service.submit_attempt(db_session, started_attempt, deliverables)
        db_session.commit()
        # Two workers both read "submitted" and grade; only the first to write keeps a record.
        late = new_session(sandbox_settings)
        stale = late.get(Attempt, started_attempt.id)
        assert attempts_service.grade_submitted(db_session, started_attempt) is not None
        db_session.commit()
        assert attempts_service.grade_submitted(late, stale) is None
        late.commit()
        late.close()
    assert _grades(db_session, started_attempt.id) == 1


def test_a_failing_job_is_retried_then_marked_failed_and_the_centre_told(
    client_as, trainee, centre_admin, started_attempt, sandbox_settings, db_session, broken_grader
):
    sandbox_settings.config["JOB_MAX_ATTEMPTS"] = 2
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    client = client_as(trainee)
    html = _submit(client, started_attempt, deliverables).get_data(as_text=True)
    assert "Grading is queued." in html  # one try failed; the retry waits for its delay
    assert 'http-equiv="refresh"' in html
    job = jobs.grading_job(db_session, started_attempt)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)
    assert job.queued_at > utcnow()  # not before the retry delay

    jobs.run_job(sandbox_settings, job.id)  # the second and last try
    db_session.refresh(job)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert job.last_error == "RuntimeError: grader bug"
    html = client.get(f"/attempts/{started_attempt.id}/result").get_data(as_text=True)
    assert "Grading failed, and the centre has been told." in html
    assert 'http-equiv="refresh"' not in html  # nothing will change by itself
    outbox = sandbox_settings.extensions.get("practicum_outbox", [])
    assert [m["To"] for m in outbox] == [centre_admin.email]
    assert "grader bug" in outbox[0].get_content()
    # A failed job is not run again by a stray message.
    jobs.run_job(sandbox_settings, job.id)
    db_session.refresh(job)
    assert job.attempts == 2


def test_retry_delays_double(app):
    app.config["JOB_RETRY_DELAY"] = 2
    with app.app_context():
        assert [jobs.retry_delay(n) for n in (1, 2, 3)] == [2, 4, 8]
        assert jobs.retry_delay(30) == jobs.MAX_RETRY_DELAY


def test_a_claim_older_than_the_lease_is_queued_again_and_completes(
    sandbox_settings, db_session, started_attempt
):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    with sandbox_settings.app_context():
        attempts_service.submit_attempt(db_session, started_attempt, deliverables)
        job = jobs.queue_grading(db_session, started_attempt)
        # A worker claimed it and died: "running" since long before the lease.
        job.status = JobStatus.RUNNING
        job.attempts = 1
        job.started_at = utcnow() - timedelta(hours=1)
        db_session.commit()
        assert jobs.requeue_stale(db_session) == 1  # runs at once under TESTING
    db_session.expire_all()
    assert db_session.get(Job, job.id).status == JobStatus.DONE
    assert db_session.get(Job, job.id).attempts == 2
    assert _grades(db_session, started_attempt.id) == 1


def test_a_recent_claim_is_left_to_its_worker(app, db_session, graded_attempt):
    job = jobs.queue_grading(db_session, graded_attempt)
    job.status = JobStatus.RUNNING
    job.started_at = utcnow() - timedelta(seconds=5)
    db_session.commit()
    with app.app_context():
        assert jobs.requeue_stale(db_session) == 0
        assert jobs.requeue_stale(db_session, everything=True) == 0
    db_session.refresh(job)
    assert job.status == JobStatus.RUNNING


# --- the daily purge --------------------------------------------------------------------------


def _periodic_names(app, when: datetime) -> list[str]:
    return sorted(task.name for task in jobs.get_queue(app).huey.read_periodic(when))


def _another_attempt(app, db_session, trainee, scenario) -> Attempt:
    with app.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, scenario)
    db_session.commit()
    return attempt


def test_the_purge_is_scheduled_daily_and_deletes_old_frozen_sandboxes(
    sandbox_settings, db_session, graded_attempt, trainee, practice_scenario
):
    assert "practicum.daily_purge" in _periodic_names(sandbox_settings, datetime(2026, 1, 5, 3, 7))
    assert "practicum.daily_purge" not in _periodic_names(
        sandbox_settings, datetime(2026, 1, 5, 4, 7)
    )
    store = get_store(sandbox_settings)
    working = _another_attempt(sandbox_settings, db_session, trainee, practice_scenario)
    long_ago = time.time() - 400 * 86400
    for attempt in (graded_attempt, working):
        os.utime(store.path(attempt.sandbox_key), (long_ago, long_ago))
    huey = jobs.get_queue(sandbox_settings).huey
    for task in huey.read_periodic(datetime(2026, 1, 5, 3, 7)):
        huey.enqueue(task)  # run at once under TESTING
    assert not store.exists(graded_attempt.sandbox_key)
    assert store.exists(working.sandbox_key)  # in progress: never purged
    job = db_session.scalar(select(Job).where(Job.kind == jobs.PURGE))
    assert job.status == JobStatus.DONE
    # Two schedulers on the same day still make one purge.
    with sandbox_settings.app_context():
        assert jobs.queue_purge(db_session, utcnow().date()).id == job.id


# --- the jobs page ----------------------------------------------------------------------------


def test_the_jobs_page_lists_failed_jobs_first_and_retries_them(
    client_as,
    trainee,
    assessor,
    graded_attempt,
    practice_scenario,
    sandbox_settings,
    db_session,
    monkeypatch,
):
    done = jobs.queue_grading(db_session, graded_attempt)
    done.status = JobStatus.DONE
    db_session.commit()
    started_attempt = _another_attempt(sandbox_settings, db_session, trainee, practice_scenario)
    sandbox_settings.config["JOB_MAX_ATTEMPTS"] = 1
    monkeypatch.setattr(runner, "grade_attempt", _broken)
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    _submit(client_as(trainee), started_attempt, deliverables)
    failed = jobs.grading_job(db_session, started_attempt)
    assert failed.status == JobStatus.FAILED

    staff = client_as(assessor)
    html = staff.get("/jobs").get_data(as_text=True)
    assert html.index(f'id="job-{failed.id}"') < html.index(f'id="job-{done.id}"')
    assert "RuntimeError: grader bug" in html
    assert html.count(">Retry<") == 1  # only the failed one

    monkeypatch.undo()  # the grader is fixed
    response = staff.post(f"/jobs/{failed.id}/retry", follow_redirects=True)
    assert "The job is queued again." in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Job, failed.id).status == JobStatus.DONE
    assert db_session.get(Attempt, started_attempt.id).status == AttemptStatus.GRADED

    again = staff.post(f"/jobs/{failed.id}/retry", follow_redirects=True)
    assert "Only a failed job can be retried" in again.get_data(as_text=True)


def test_another_centres_job_cannot_be_retried(
    client_as, foreign_assessor, graded_attempt, db_session
):
    job = jobs.queue_grading(db_session, graded_attempt)
    job.status = JobStatus.FAILED
    db_session.commit()
    staff = client_as(foreign_assessor)
    assert staff.post(f"/jobs/{job.id}/retry").status_code == 404
    assert staff.post("/jobs/99999999999/retry").status_code == 404
    assert f'id="job-{job.id}"' not in staff.get("/jobs").get_data(as_text=True)
    db_session.refresh(job)
    assert job.status == JobStatus.FAILED
