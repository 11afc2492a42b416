"""Background jobs: grading and regrading, preparing a published scenario, the retention purge.

The queue is Huey: a SQLite file beside the database on one machine (no extra server), Redis
when JOB_QUEUE_URL is a redis:// address. `practicum worker` runs its consumer. Under TESTING
jobs run at once in the request that queues them (Huey's immediate mode, JOBS_IMMEDIATE).

Every job also has a row in the platform's ``job`` table, which is what makes it safe:

- its ``key`` names the work ("grade:attempt:42"), so queueing the same work twice (a double
  submit) finds the existing row instead of adding a second job;
- a worker claims the row by moving it to "running" in one conditional UPDATE, which only one
  worker wins; a "running" claim older than JOB_LEASE_SECONDS is taken to be lost with its
  worker, and the periodic sweep (and every worker start) queues it again;
- a failure is kept on the row (attempts, last error) and retried with a growing delay, up to
  JOB_MAX_ATTEMPTS; then the row is "failed", the centre's admins are mailed, and the jobs page
  offers to retry it.

Preparing a class (``queue_class_preparation``) makes the spare sandboxes a cohort will start
on before its window opens; the sweep queues it for windows opening within the hour, once per
window (see ``class_prep_service``), and the purge drops the spares no class wants any longer.

Publishing a scenario from an upload queues one job per data variant (``queue_templates``):
each generates its variant's template and runs the reference solution and counterexamples in
it; the last to finish makes the version ready, and a run that misbehaves refuses the version.

To add background work: queue its row with ``queue_job`` in the caller's transaction, commit,
then ``dispatch`` it; add its handler to ``HANDLERS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey, TaskWrapper
from huey.exceptions import RetryTask
from huey.signals import SIGNAL_INTERRUPTED
from sqlalchemy import and_, case, make_url, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from graders import runner
from sandbox_crm.i18n import N_
from training_platform import (
    attempts_service,
    authoring_service,
    class_prep_service,
    definitions_store,
    regrade_service,
    sandboxes,
)
from training_platform.audit_service import record as audit_record
from training_platform.db import new_session
from training_platform.errors import CONFLICT, ServiceError
from training_platform.models import (
    Attempt,
    AttemptStatus,
    ClassPreparation,
    DefinitionVersion,
    Job,
    JobStatus,
    Role,
    User,
    utcnow,
)

__all__ = [
    "GRADE",
    "PREGENERATE",
    "PREPARE_CLASS",
    "PURGE",
    "REGRADE",
    "TEMPLATE",
    "dispatch",
    "grading_job",
    "jobs_for_centre",
    "queue_class_preparation",
    "queue_grading",
    "queue_job",
    "queue_pregeneration",
    "queue_purge",
    "queue_regrade",
    "queue_templates",
    "requeue_stale",
    "retry_job",
    "run_worker",
    "template_jobs",
]

logger = logging.getLogger(__name__)

EXTENSION_KEY = "practicum_jobs"
GRADE = "grade"
PREGENERATE = "pregenerate"
PREPARE_CLASS = "prepare_class"
PURGE = "purge"
REGRADE = regrade_service.REGRADE
TEMPLATE = "template"

DEFAULT_LEASE_SECONDS = 900
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_RETRY_DELAY = 2.0
MAX_RETRY_DELAY = 300.0
DEFAULT_POLL_SECONDS = 0.25
DEFAULT_PURGE_HOUR = 3
DEFAULT_SHUTDOWN_SECONDS = 30.0
MAX_ERROR_CHARS = 2_000

KIND_LABELS = {
    GRADE: N_("Grading"),
    PREGENERATE: N_("Generating data variants"),
    PREPARE_CLASS: N_("Preparing sandboxes for a class"),
    PURGE: N_("Retention purge"),
    REGRADE: N_("Regrading"),
    TEMPLATE: N_("Preparing a data variant"),
}


# --- settings ---------------------------------------------------------------------------------


def _setting(app: Flask, name: str, default: float) -> float:
    value = app.config.get(name)
    return default if value in (None, "") else float(value)


def lease_seconds(app: Flask | None = None) -> float:
    """How long a running job may go without finishing before it counts as lost (seconds)."""
    return _setting(app or current_app, "JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)


def max_attempts(app: Flask | None = None) -> int:
    """How many times a job is started before it is marked failed."""
    return max(1, int(_setting(app or current_app, "JOB_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)))


def retry_delay(attempts: int, app: Flask | None = None) -> float:
    """Seconds before the next try after ``attempts`` tries: doubling from JOB_RETRY_DELAY."""
    base = _setting(app or current_app, "JOB_RETRY_DELAY", DEFAULT_RETRY_DELAY)
    return min(MAX_RETRY_DELAY, base * 2 ** max(0, attempts - 1))


# --- the queue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobQueue:
    """An app's Huey instance and its tasks."""

    huey: Huey
    run: TaskWrapper


def _build_huey(app: Flask) -> Huey:
    immediate = bool(app.config.get("JOBS_IMMEDIATE", app.testing))
    url = str(app.config.get("JOB_QUEUE_URL") or "")
    name = str(app.config.get("JOB_QUEUE_NAME") or "practicum")
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, immediate=immediate, results=False)
    if url:
        raise ValueError(f"JOB_QUEUE_URL must be a redis:// address, not {url!r}")
    filename = app.config.get("JOB_QUEUE_FILE") or str(_beside_database(app) / "jobs.sqlite3")
    return SqliteHuey(name, filename=filename, immediate=immediate, results=False)


def _beside_database(app: Flask) -> Path:
    """The folder of the SQLite database file, or the instance folder for another database."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent
    return Path(app.instance_path)


def init_app(app: Flask) -> None:
    """Create the app's job queue and register the jobs and the periodic sweep and purge."""
    huey = _build_huey(app)

    @huey.task(name="practicum.run_job")
    def run_job_task(job_id: int) -> None:
        run_job(app, job_id)

    @huey.periodic_task(crontab(minute="*"), name="practicum.sweep")
    def sweep_task() -> None:
        with app.app_context():
            session = new_session(app)
            try:
                requeue_stale(session)
                dispatch(queue_window_preparations(session))
            finally:
                session.close()

    hour = int(app.config.get("PURGE_HOUR", DEFAULT_PURGE_HOUR))

    @huey.periodic_task(crontab(minute="7", hour=str(hour)), name="practicum.daily_purge")
    def purge_task() -> None:
        with app.app_context():
            session = new_session(app)
            try:
                job = queue_purge(session, utcnow().date())
                session.commit()
                dispatch(job)
            finally:
                session.close()

    @huey.signal(SIGNAL_INTERRUPTED)
    def give_back(_signal: str, task: object, *_args: object) -> None:
        # The worker is stopping in the middle of this job: queue it again for the next one.
        if getattr(task, "name", "") == "practicum.run_job":
            release(app, *getattr(task, "args", ()))

    app.extensions[EXTENSION_KEY] = JobQueue(huey, run_job_task)


def get_queue(app: Flask | None = None) -> JobQueue:
    """The app's job queue."""
    return (app or current_app).extensions[EXTENSION_KEY]


# --- queueing ---------------------------------------------------------------------------------


def queue_job(
    session: Session,
    kind: str,
    key: str,
    *,
    target_id: int | None = None,
    centre_id: int | None = None,
) -> Job:
    """The job row for this work, added as queued unless a row with its key exists.

    Flushes; the caller commits and then calls ``dispatch``. An existing row is returned as it
    is (done, failed or pending): the same work is never queued twice.
    """
    existing = session.scalar(select(Job).where(Job.key == key))
    if existing is not None:
        return existing
    job = Job(key=key, kind=kind, target_id=target_id, centre_id=centre_id)
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # Another request added it between the SELECT and the INSERT.
        found = session.scalar(select(Job).where(Job.key == key))
        if found is None:
            raise
        return found
    return job


def queue_grading(session: Session, attempt: Attempt) -> Job:
    """The grading job of a submitted attempt (one per attempt, whatever the submits)."""
    return queue_job(
        session,
        GRADE,
        f"grade:attempt:{attempt.id}",
        target_id=attempt.id,
        centre_id=attempt.trainee.centre_id,
    )


def queue_pregeneration(session: Session, version: DefinitionVersion) -> Job:
    """The job generating the templates of a scenario version's variant pool."""
    return queue_job(
        session,
        PREGENERATE,
        f"pregenerate:version:{version.id}",
        target_id=version.id,
        centre_id=version.centre_id,
    )


def queue_regrade(session: Session, actor: User | None, attempt: Attempt) -> Job:
    """Queue the regrade of one graded attempt, after ``regrade_service.check_regrade``.

    Raises its ServiceError (another centre's attempt, not graded yet, a regrade already
    queued); records in the audit log who asked (``actor`` None: the command line).
    """
    record = regrade_service.check_regrade(session, actor, attempt)
    job = queue_job(
        session,
        REGRADE,
        regrade_service.regrade_key(attempt, record),
        target_id=attempt.id,
        centre_id=attempt.trainee.centre_id,
    )
    job.requested_by_id = actor.id if actor is not None else None
    audit_record(
        session,
        centre_id=attempt.trainee.centre_id,
        actor=actor,
        action="attempt.regrade_queued",
        target_type="attempt",
        target_id=attempt.id,
        details={
            "grade_record": record.id,
            "verdict": record.overall,
            **regrade_service.command_line_details(actor),
        },
    )
    session.flush()
    return job


def template_key(version: DefinitionVersion, variant: int) -> str:
    """The job key of preparing one data variant of a scenario version."""
    return f"{TEMPLATE}:version:{version.id}:variant:{variant}"


def queue_templates(session: Session, version: DefinitionVersion) -> list[Job]:
    """One job per data variant of a published scenario version: its template and self-tests."""
    scenario = definitions_store.load_scenario_model(version)
    return [
        queue_job(
            session,
            TEMPLATE,
            template_key(version, variant),
            target_id=version.id,
            centre_id=version.centre_id,
        )
        for variant in range(sandboxes.pool_size(scenario, sandboxes.variant_cap()))
    ]


def template_jobs(session: Session, version: DefinitionVersion) -> list[Job]:
    """The jobs preparing a scenario version's data variants, by variant."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.kind == TEMPLATE, Job.target_id == version.id)
            .order_by(Job.id)
            .execution_options(populate_existing=True)  # other workers' changes, not ours
        )
    )


def class_preparation_key(preparation: ClassPreparation) -> str:
    """The job key of a class preparation: one per window, or per preparation by hand."""
    if preparation.window_id is not None:
        return f"{PREPARE_CLASS}:window:{preparation.window_id}"
    return f"{PREPARE_CLASS}:class:{preparation.id}"


def queue_class_preparation(session: Session, preparation: ClassPreparation) -> Job:
    """The job making a class's spare sandboxes; a finished one is queued again (resized).

    Queued or running already: left as it is. Flushes; the caller commits, then dispatches.
    """
    job = queue_job(
        session,
        PREPARE_CLASS,
        class_preparation_key(preparation),
        target_id=preparation.id,
        centre_id=preparation.centre_id,
    )
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        job.status = JobStatus.QUEUED
        job.attempts = 0
        job.last_error = None
        job.queued_at = utcnow()
        job.finished_at = None
    job.target_id = preparation.id
    session.flush()
    return job


def class_preparation_job(session: Session, preparation: ClassPreparation) -> Job | None:
    """The job of a class preparation, if it was queued."""
    return session.scalar(select(Job).where(Job.key == class_preparation_key(preparation)))


def queue_window_preparations(session: Session) -> list[Job]:
    """Queue the preparation of every window opening within the hour not prepared yet. Commits.

    A window whose class cannot be prepared (no trainees, no published scenario, over the
    limit) is skipped with a log line, and tried again at the next sweep.
    """
    queued = []
    for window in class_prep_service.windows_due(session):
        try:
            with session.begin_nested():
                preparation = class_prep_service.prepare_window(session, None, window)
                queued.append(queue_class_preparation(session, preparation))
        except ServiceError as exc:
            logger.info("window %s not prepared: %s", window.id, exc.message)
        except IntegrityError:
            logger.info("window %s is being prepared by another worker's sweep", window.id)
    session.commit()
    return queued


def queue_purge(session: Session, day: date) -> Job:
    """The retention purge of one day (two workers' schedulers still make one purge)."""
    return queue_job(session, PURGE, f"purge:{day.isoformat()}")


def dispatch(jobs: Job | Iterable[Job], app: Flask | None = None) -> None:
    """Hand committed job rows to the queue's workers (at once under JOBS_IMMEDIATE)."""
    queue = get_queue(app)
    for job in [jobs] if isinstance(jobs, Job) else jobs:
        if job.status == JobStatus.QUEUED:
            queue.run(job.id)


def grading_job(session: Session, attempt: Attempt) -> Job | None:
    """The grading job of an attempt, if it has one."""
    return session.scalar(select(Job).where(Job.key == f"grade:attempt:{attempt.id}"))


def retry_job(session: Session, user: User, job: Job) -> Job:
    """Queue a failed job of the user's centre again, with a fresh count of tries."""
    if user.role not in (Role.ASSESSOR, Role.CENTRE_ADMIN) or job.centre_id != user.centre_id:
        raise ServiceError(CONFLICT, N_("This job cannot be retried from here."))
    if job.status != JobStatus.FAILED:
        raise ServiceError(CONFLICT, N_("Only a failed job can be retried; this one is not."))
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.queued_at = utcnow()
    job.finished_at = None
    session.flush()
    return job


def requeue_stale(session: Session, *, app: Flask | None = None, everything: bool = False) -> int:
    """Queue again the jobs whose worker was lost: running past the lease, or queued as long.

    ``everything`` (at a worker's start) also takes every queued job, however recent. Commits.
    Returns how many jobs were handed to the queue.
    """
    app = app or current_app
    cutoff = utcnow() - timedelta(seconds=lease_seconds(app))
    queued = Job.status == JobStatus.QUEUED
    if not everything:
        queued = and_(queued, Job.queued_at < cutoff)
    lost = and_(Job.status == JobStatus.RUNNING, Job.started_at < cutoff)
    ids = list(session.scalars(select(Job.id).where(or_(queued, lost)).order_by(Job.id)))
    if ids:
        # Claims of lost jobs go back to queued, so that exactly one worker claims them again.
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), lost)
            .values(status=JobStatus.QUEUED, queued_at=utcnow())
        )
    session.commit()
    run = get_queue(app).run
    for job_id in ids:
        run(job_id)
    if ids:
        logger.info("queued %d waiting or lost job(s) again", len(ids))
    return len(ids)


def jobs_for_centre(session: Session, centre_id: int, *, limit: int = 200) -> list[Job]:
    """The centre's jobs: failed first, then running, queued and done, newest first."""
    order = case(
        (Job.status == JobStatus.FAILED, 0),
        (Job.status == JobStatus.RUNNING, 1),
        (Job.status == JobStatus.QUEUED, 2),
        else_=3,
    )
    return list(
        session.scalars(
            select(Job)
            .where(Job.centre_id == centre_id)
            .order_by(order, Job.queued_at.desc(), Job.id.desc())
            .limit(limit)
        )
    )


# --- running ----------------------------------------------------------------------------------


def _grade(session: Session, job: Job) -> None:
    attempt = session.get(Attempt, job.target_id)
    if attempt is None or attempt.status != AttemptStatus.SUBMITTED:
        return  # deleted, or graded already (by an earlier try that was thought lost)
    attempts_service.grade_submitted(session, attempt, store=sandboxes.get_store())


def _pregenerate(session: Session, job: Job) -> None:
    version = session.get(DefinitionVersion, job.target_id)
    if version is None:
        return
    scenario = definitions_store.load_scenario_model(version)
    pool = sandboxes.pregenerate_variants(
        sandboxes.get_store(), scenario, cap=sandboxes.variant_cap()
    )
    if pool.generated:
        logger.info("generated %d data variant(s) of %s", len(pool.generated), scenario.id)


def _prepare_class(session: Session, job: Job) -> None:
    preparation = session.get(ClassPreparation, job.target_id)
    if preparation is None:
        return  # its window was removed
    try:
        run = class_prep_service.run_preparation(session, preparation, sandboxes.get_store())
    except ServiceError as exc:
        raise RuntimeError(str(exc.message)) from exc
    logger.info(
        "class preparation %s: %d template(s) ready, %d spare(s) made",
        preparation.id,
        len(run.templates),
        run.made,
    )


def _purge(session: Session, job: Job) -> None:
    from training_platform.retention_service import apply_retention_policies, purge_store

    # Each centre's own policy first (it keeps grading records and decisions), then the
    # platform-wide limit, as `practicum purge` does.
    retention = apply_retention_policies(session, sandboxes.get_store())
    logger.info(
        "purge: centre policies removed %d sandbox(es) and the evidence of %d attempt(s)",
        retention.sandbox_count,
        retention.evidence_count,
    )
    report = purge_store(
        session,
        sandboxes.get_store(),
        older_than=timedelta(days=sandboxes.retention_days()),
        cap=sandboxes.variant_cap(),
    )
    logger.info(
        "purge: %d sandbox(es) and %d template(s) deleted",
        len(report.sandboxes),
        len(report.templates),
    )
    released = class_prep_service.release_spares(session, sandboxes.get_store())
    logger.info(
        "purge: %d class preparation(s) over, %d spare sandbox(es) dropped",
        released.preparations,
        released.dropped,
    )


def _regrade(session: Session, job: Job) -> None:
    attempt = session.get(Attempt, job.target_id)
    if attempt is None:
        return
    requested_by = session.get(User, job.requested_by_id) if job.requested_by_id else None
    regrade_service.apply_regrade(
        session,
        attempt,
        after_record_id=regrade_service.record_id_of(job.key),
        requested_by=requested_by,
    )


def _template(session: Session, job: Job) -> None:
    version = session.get(DefinitionVersion, job.target_id)
    if version is None:
        return
    variant = int(job.key.rpartition(":")[2])
    scenario = definitions_store.load_scenario_model(version)
    store = sandboxes.get_store()
    try:
        store.ensure_template(runner.generation_spec(scenario, variant))
    except ValueError as exc:  # a plant the sandbox cannot hold: trying again cannot help
        problems = [f"{version.filename}: data variant {variant + 1}: {exc}"]
    else:
        problems = []
    if not authoring_service.is_preparing(version):
        return  # ready already (prepared again after a purge), or refused by another variant
    if not problems:
        problems = authoring_service.variant_problems(version, variant, store.template_dir)
    # Lock the version's row, so that of the last two variants to finish one sees both done.
    version = session.scalar(
        select(DefinitionVersion)
        .where(DefinitionVersion.id == version.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if problems:
        authoring_service.refuse_version(session, version, problems)
    elif authoring_service.is_preparing(version):
        session.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.DONE))
        others = [
            other
            for other in template_jobs(session, version)
            if other.id != job.id and other.status != JobStatus.DONE
        ]
        if not others:
            authoring_service.mark_ready(version)
    session.flush()


HANDLERS: dict[str, Callable[[Session, Job], None]] = {
    GRADE: _grade,
    PREGENERATE: _pregenerate,
    PREPARE_CLASS: _prepare_class,
    PURGE: _purge,
    REGRADE: _regrade,
    TEMPLATE: _template,
}


def claim(session: Session, job_id: int, *, app: Flask | None = None) -> Job | None:
    """Mark a job running for this worker if it is queued (or its claim is lost); else None.

    One conditional UPDATE: of two workers given the same job, only one changes the row.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=lease_seconds(app))
    claimed = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                Job.status == JobStatus.QUEUED,
                and_(Job.status == JobStatus.RUNNING, Job.started_at < cutoff),
            ),
        )
        .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, started_at=now)
    )
    if claimed.rowcount != 1:
        session.rollback()
        return None
    session.commit()
    return session.get(Job, job_id, populate_existing=True)


def release(app: Flask, job_id: int) -> None:
    """Put a running job back in the queue's table as queued (its worker is stopping)."""
    session = new_session(app)
    try:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
            .values(status=JobStatus.QUEUED, queued_at=utcnow())
        )
        session.commit()
    except Exception:
        logger.exception("could not give job %s back to the queue", job_id)
    finally:
        session.close()


def _error_text(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, attempts_service.GradingFailed) else exc
    cause = cause or exc
    return f"{type(cause).__name__}: {cause}"[:MAX_ERROR_CHARS]


def run_job(app: Flask, job_id: int) -> None:
    """Claim a job, run its handler and record how it went; raise RetryTask to try again."""
    with app.app_context():
        session = new_session(app)
        try:
            job = claim(session, job_id, app=app)
            if job is None:
                return  # done, failed, or being run by another worker
            try:
                HANDLERS[job.kind](session, job)
            except Exception as exc:
                session.rollback()
                logger.exception("job %s (%s) failed", job_id, job.key)
                delay = _record_failure(app, session, job_id, _error_text(exc))
                if delay is not None:
                    raise RetryTask(delay=delay) from exc
                return
            job = session.get(Job, job_id, populate_existing=True)
            job.status = JobStatus.DONE
            job.finished_at = utcnow()
            session.commit()
        finally:
            session.close()


def _record_failure(app: Flask, session: Session, job_id: int, error: str) -> float | None:
    """Keep the error; queue the job again after a delay, or mark it failed. The delay or None."""
    job = session.get(Job, job_id, populate_existing=True)
    job.last_error = error
    if job.attempts < max_attempts(app):
        job.status = JobStatus.QUEUED
        delay = retry_delay(job.attempts, app)
        job.queued_at = utcnow() + timedelta(seconds=delay)
        session.commit()
        return delay
    job.status = JobStatus.FAILED
    job.finished_at = utcnow()
    session.commit()
    _tell_centre(session, job)
    return None


def _tell_centre(session: Session, job: Job) -> None:
    """Mail the centre's admins that a job failed for good (logged when no mail server is set)."""
    if job.centre_id is None:
        return
    from training_platform.mail import send_mail

    admins = session.scalars(
        select(User.email).where(User.centre_id == job.centre_id, User.role == Role.CENTRE_ADMIN)
    )
    subject = f"Practicum: a background job failed ({job.key})"
    body = (
        f"The job {job.key} failed {job.attempts} time(s) and will not be tried again by itself.\n"
        f"Last error: {job.last_error}\n\nRetry it from the Jobs page once the cause is fixed."
    )
    for email in admins:
        try:
            send_mail(email, subject, body)
        except OSError:
            logger.exception("could not mail %s about job %s", email, job.key)


# --- the worker -------------------------------------------------------------------------------


def pending_pregeneration(session: Session) -> list[Job]:
    """Queue generation of every current scenario version's pool (skipped where done)."""
    rows = session.scalars(
        select(DefinitionVersion).where(
            DefinitionVersion.kind == "scenario", DefinitionVersion.is_current.is_(True)
        )
    )
    return [queue_pregeneration(session, row) for row in rows]


def run_worker(app: Flask, *, workers: int | None = None) -> None:
    """Run the queue's consumer until it is stopped (SIGINT or SIGTERM).

    First queues again what is waiting or was lost with a worker, and the generation of the
    current scenarios' templates when PREGENERATE_VARIANTS is on. SIGTERM lets the running
    jobs finish (up to JOB_SHUTDOWN_SECONDS); SIGINT stops at once. Either way a job cut off is
    put back as queued for the next worker.
    """
    queue = get_queue(app)
    if queue.huey.immediate:
        raise RuntimeError("JOBS_IMMEDIATE is on: jobs run in the request, there is no worker.")
    with app.app_context():
        session = new_session(app)
        try:
            if sandboxes.pregeneration_enabled(app):
                pending_pregeneration(session)
                session.commit()
            requeue_stale(session, app=app, everything=True)
        finally:
            session.close()
    count = workers or int(app.config.get("JOB_WORKERS") or 2)
    poll = _setting(app, "JOB_POLL_SECONDS", DEFAULT_POLL_SECONDS)
    consumer = queue.huey.create_consumer(
        workers=count,
        worker_type="thread",
        periodic=True,
        initial_delay=min(0.05, poll),
        max_delay=poll,
        check_worker_health=True,
        # SIGTERM (what start.sh and service managers send) lets running jobs finish first.
        graceful_signal="TERM",
        shutdown_timeout=_setting(app, "JOB_SHUTDOWN_SECONDS", DEFAULT_SHUTDOWN_SECONDS),
    )
    consumer.run()
