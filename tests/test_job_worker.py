"""A real job consumer in another process: submit, kill the worker mid-grading, a new one finishes.

The app here queues to a SQLite queue file instead of running jobs at once, and the worker runs
as `python tests/job_worker.py CONFIG [SLOW_SECONDS]` (the `practicum worker` code, with
grading made slow so that it can be killed while it runs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.platform_fixtures import FIXTURE_ROOT, apply_reference_solution
from training_platform import create_app
from training_platform.db import get_engine
from training_platform.models import Attempt, AttemptStatus, GradeRecord, Job, JobStatus

REPO = Path(__file__).resolve().parent.parent
WORKER_SCRIPT = Path(__file__).resolve().parent / "job_worker.py"
LEASE_SECONDS = 1.0
WAIT_SECONDS = 60


@pytest.fixture
def app(tmp_path: Path, migrated_database: Path, sandbox_template_cache: Path) -> Iterator[Flask]:
    """The app with a real queue: a SQLite queue file that worker processes read."""
    database_file = tmp_path / "practicum.sqlite"
    shutil.copyfile(migrated_database, database_file)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": f"sqlite:///{database_file}",
        "SANDBOX_DIR": str(tmp_path / "sandboxes"),
        "TEMPLATE_CACHE_DIR": str(sandbox_template_cache),
        "DEFINITIONS_ROOT": str(FIXTURE_ROOT),
        "SANDBOX_VARIANTS": 1,
        "SANDBOX_CLOCK_MODE": "stepped",
        "WTF_CSRF_ENABLED": False,
        "JOBS_IMMEDIATE": False,
        "JOB_QUEUE_FILE": str(tmp_path / "jobs.sqlite3"),
        "JOB_LEASE_SECONDS": LEASE_SECONDS,
        "JOB_POLL_SECONDS": 0.1,
    }
    (tmp_path / "worker-config.json").write_text(json.dumps(config))
    app = create_app(config)
    yield app
    get_engine(app).dispose()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Factory: start a worker process (optionally grading slowly); all are stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(slow_seconds: float = 0.0) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        process = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, str(WORKER_SCRIPT), str(tmp_path / "worker-config.json")]
            + [str(slow_seconds)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(condition: Callable[[], bool], what: str, worker_log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}; worker log:\n{worker_log.read_text()[-3000:]}")


def test_a_worker_killed_mid_grading_loses_nothing_and_a_new_one_finishes(
    app, client_as, trainee, started_attempt, db_session, start_worker, tmp_path
):
    deliverables = apply_reference_solution(app, started_attempt)
    response = client_as(trainee).post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(deliverables["report"]), "confirm": "yes"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Grading is queued." in html and 'http-equiv="refresh"' in html

    def job() -> Job:
        db_session.expire_all()
        return db_session.scalar(select(Job).where(Job.target_id == started_attempt.id))

    def grades() -> int:
        return db_session.scalar(
            select(func.count(GradeRecord.id)).where(GradeRecord.attempt_id == started_attempt.id)
        )

    doomed = start_worker(slow_seconds=60)
    _wait_for(lambda: job().status == JobStatus.RUNNING, "the claim", tmp_path / "worker-0.log")
    time.sleep(0.6)  # well into grading
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    assert (job().status, job().attempts, grades()) == (JobStatus.RUNNING, 1, 0)
    assert db_session.get(Attempt, started_attempt.id).status == AttemptStatus.SUBMITTED
    running = client_as(trainee).get(f"/attempts/{started_attempt.id}/result")
    assert "Grading is running." in running.get_data(as_text=True)

    time.sleep(LEASE_SECONDS + 0.2)  # the dead worker's claim is now older than the lease
    start_worker()
    _wait_for(lambda: job().status == JobStatus.DONE, "the regrade", tmp_path / "worker-1.log")
    assert (job().attempts, grades()) == (2, 1)
    assert db_session.get(Attempt, started_attempt.id).status == AttemptStatus.GRADED
    result = client_as(trainee).get(f"/attempts/{started_attempt.id}/result")
    assert "Performance requirements" in result.get_data(as_text=True)


def test_a_worker_stopped_at_once_gives_its_running_job_back(
    app, client_as, trainee, started_attempt, db_session, start_worker, tmp_path
):
    deliverables = apply_reference_solution(app, started_attempt)
    client_as(trainee).post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(deliverables["report"]), "confirm": "yes"},
    )

    def job() -> Job:
        db_session.expire_all()
        return db_session.scalar(select(Job).where(Job.target_id == started_attempt.id))

    worker = start_worker(slow_seconds=60)
    _wait_for(lambda: job().status == JobStatus.RUNNING, "the claim", tmp_path / "worker-0.log")
    worker.send_signal(signal.SIGINT)  # stop now (SIGTERM would let the job finish)
    worker.wait(timeout=20)
    # Queued again at once, for the next worker, without waiting for the lease.
    assert (job().status, job().attempts) == (JobStatus.QUEUED, 1)
    assert db_session.get(Attempt, started_attempt.id).status == AttemptStatus.SUBMITTED
