"""`practicum pregenerate`, `purge` and `regrade`: sandbox templates and regrading."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

import click
from flask import Flask
from sqlalchemy import inspect, or_, select

from graders.results import GradingResult
from training_platform import (
    class_prep_service,
    definitions_store,
    jobs,
    regrade_service,
    sandboxes,
)
from training_platform.db import get_engine, get_session
from training_platform.errors import ServiceError
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Centre,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    Job,
    JobStatus,
)
from training_platform.results_service import latest_grade_record
from training_platform.retention_service import apply_retention_policies, purge_store

REGRADE_POLL_SECONDS = 1.0
GRADED = (AttemptStatus.GRADED, AttemptStatus.DECIDED)


def _require_tables() -> None:
    if not inspect(get_engine()).has_table(DefinitionVersion.__tablename__):
        raise click.ClickException("The database has no tables yet: run `practicum db upgrade`.")


def _current_scenario_rows(scenario_id: str | None) -> list[DefinitionVersion]:
    """Current scenario versions (built in and every centre's), optionally of one id."""
    query = select(DefinitionVersion).where(
        DefinitionVersion.kind == DefinitionKind.SCENARIO, DefinitionVersion.is_current.is_(True)
    )
    rows = list(get_session().scalars(query.order_by(DefinitionVersion.key, DefinitionVersion.id)))
    if scenario_id is None:
        return rows
    chosen = [row for row in rows if row.key == scenario_id]
    if not chosen:
        known = ", ".join(sorted({row.key for row in rows})) or "none is published"
        click.echo(f'No published scenario "{scenario_id}". Known scenarios: {known}', err=True)
        sys.exit(2)
    return chosen


def _owner(row: DefinitionVersion) -> str:
    return row.centre.slug if row.centre is not None else "built in"


# --- regrade --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _QueuedRegrade:
    """A regrade the command queued: the attempt, the result it replaces, and its job."""

    attempt_id: int
    before_id: int
    job_id: int


def _refuse(problems: Sequence[str]) -> NoReturn:
    """Bad input: every problem on stderr, exit status 2, nothing changed."""
    get_session().rollback()
    click.echo("\n".join([*problems, "Nothing was changed."]), err=True)
    sys.exit(2)


def _regrade_centre(slug: str | None) -> Centre | None:
    """The centre named by --centre (None for every centre); an unknown slug is refused."""
    if slug is None:
        return None
    session = get_session()
    centre = session.scalar(select(Centre).where(Centre.slug == slug))
    if centre is None:
        known = ", ".join(session.scalars(select(Centre.slug).order_by(Centre.slug))) or "none"
        _refuse([f'There is no centre "{slug}". Known centres: {known}.'])
    return centre


def _scenario_problems(scenario_id: str | None, centre: Centre | None) -> list[str]:
    """A refusal when no version of the scenario (built in, or the centre's) was ever published."""
    if scenario_id is None:
        return []
    query = select(DefinitionVersion.key).where(DefinitionVersion.kind == DefinitionKind.SCENARIO)
    if centre is not None:
        query = query.where(
            or_(DefinitionVersion.centre_id.is_(None), DefinitionVersion.centre_id == centre.id)
        )
    keys = set(get_session().scalars(query))
    if scenario_id in keys:
        return []
    where = f" for centre {centre.slug}" if centre is not None else ""
    known = ", ".join(sorted(keys)) or "none is published"
    return [f'There is no scenario "{scenario_id}"{where}. Known scenarios: {known}.']


def _attempt_problems(
    attempt_ids: Sequence[int], scenario_id: str | None, centre: Centre | None, *, apply: bool
) -> list[str]:
    """Why each attempt named with --attempt cannot be previewed (or, applying, regraded)."""
    session = get_session()
    problems: list[str] = []
    for number in dict.fromkeys(attempt_ids):
        attempt = session.get(Attempt, number)
        if attempt is None:
            problems.append(f"There is no attempt #{number}.")
        elif centre is not None and attempt.trainee.centre_id != centre.id:
            problems.append(
                f"Attempt #{number} belongs to centre {attempt.trainee.centre.slug}, "
                f"not {centre.slug}."
            )
        elif scenario_id is not None and attempt.scenario_version.key != scenario_id:
            problems.append(
                f"Attempt #{number} is at scenario {attempt.scenario_version.key}, "
                f"not {scenario_id}."
            )
        elif attempt.status not in GRADED or latest_grade_record(session, attempt) is None:
            problems.append(
                f"Attempt #{number} has not been graded yet, so there is nothing to regrade."
            )
        elif apply:
            try:
                regrade_service.check_regrade(session, None, attempt)
            except ServiceError as exc:
                problems.append(f"Attempt #{number}: {exc.message}")
    return problems


def _label(attempt: Attempt) -> str:
    return f"attempt #{attempt.id} ({attempt.trainee.email}, {attempt.scenario_version.key})"


def _outcome(
    label: str,
    before: str,
    after: str,
    changes: Sequence[regrade_service.StatusChange],
) -> str:
    """One attempt's line: the verdict before and after, and every status that moved."""
    if before == after and not changes:
        return f"{label}: unchanged (verdict {before})"
    verdict = f"verdict {before} -> {after}" if before != after else f"verdict stays {before}"
    return "; ".join([f"{label}: {verdict}", *(str(change) for change in changes)])


def _preview(attempts: Sequence[Attempt]) -> None:
    """Grade each attempt again and print what would change; store nothing."""
    session = get_session()
    changed = verdicts = problems = 0
    for attempt in attempts:
        result = regrade_service.preview_regrade(session, attempt)
        if result.problem:
            problems += 1
            click.echo(f"{_label(attempt)}: cannot be graded: {result.problem}")
            continue
        changed += result.changed
        verdicts += result.verdict_changed
        click.echo(
            _outcome(
                _label(attempt), result.stored_verdict, result.new_verdict or "", result.changes
            )
        )
    session.rollback()
    click.echo(
        f"Previewed {len(attempts)} graded attempt(s): {changed} would change "
        f"({verdicts} verdict(s)), {len(attempts) - changed - problems} unchanged, "
        f"{problems} could not be graded. Nothing was stored."
    )


def _queue(attempts: Sequence[Attempt], *, yes: bool) -> tuple[list[_QueuedRegrade], int]:
    """Queue a regrade job of every attempt that may have one now, once confirmed; commits.

    The others (a regrade already waiting, or tried and failed) are listed as skipped, as the
    scenario version's regrade page leaves them out. Returns what was queued and the skips.
    """
    session = get_session()
    ready: list[Attempt] = []
    skipped = 0
    for attempt in attempts:
        try:
            regrade_service.check_regrade(session, None, attempt)
        except ServiceError as exc:
            skipped += 1
            click.echo(f"{_label(attempt)}: skipped: {exc.message}")
        else:
            ready.append(attempt)
    if not ready:
        return [], skipped
    if not yes and not click.confirm(
        f"Regrade {len(ready)} attempt(s)? Each keeps its earlier results; a decision stays "
        "as it is and is flagged for review where the verdict changes.",
        default=False,
    ):
        session.rollback()
        click.echo("Nothing was queued.")
        sys.exit(1)
    queued: list[_QueuedRegrade] = []
    for attempt in ready:
        before = latest_grade_record(session, attempt)
        job = jobs.queue_regrade(session, None, attempt)
        queued.append(_QueuedRegrade(attempt.id, before.id, job.id))
    session.commit()
    jobs.dispatch([session.get(Job, item.job_id) for item in queued])
    return queued, skipped


def _still_waiting(job_ids: Sequence[int]) -> list[int]:
    """Those of the jobs that are queued or running (read in chunks of ids)."""
    session = get_session()
    waiting: list[int] = []
    for start in range(0, len(job_ids), 500):
        waiting += session.scalars(
            select(Job.id).where(
                Job.id.in_(job_ids[start : start + 500]),
                Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
        )
    session.rollback()
    return sorted(waiting)


def _wait(queued: Sequence[_QueuedRegrade], timeout: int) -> None:
    """Until every job is done or failed; a ClickException after ``timeout`` seconds."""
    job_ids = [item.job_id for item in queued]
    deadline = time.monotonic() + timeout
    while True:
        waiting = _still_waiting(job_ids)
        if not waiting:
            return
        if time.monotonic() > deadline:
            listed = ", ".join(f"#{job_id}" for job_id in waiting)
            raise click.ClickException(
                f"Job(s) {listed} still waiting after {timeout} s: is `practicum worker` "
                "running? Their results are stored when a worker runs them; see the Jobs page."
            )
        time.sleep(REGRADE_POLL_SECONDS)


def _report(queued: Sequence[_QueuedRegrade], skipped: int) -> None:
    """Each regraded attempt's verdict before and after, then a summary; exit 1 on a failure."""
    session = get_session()
    changed = verdicts = flagged = failed = 0
    for item in queued:
        attempt = session.get(Attempt, item.attempt_id)
        job = session.get(Job, item.job_id)
        if job.status == JobStatus.FAILED:
            failed += 1
            click.echo(f"{_label(attempt)}: the regrade failed (job #{job.id}): {job.last_error}")
            continue
        before = session.get(GradeRecord, item.before_id)
        after = latest_grade_record(session, attempt) or before
        changes = regrade_service.compare_results(
            GradingResult.from_dict(before.result), GradingResult.from_dict(after.result)
        )
        line = _outcome(_label(attempt), before.overall, after.overall, changes)
        changed += before.overall != after.overall or bool(changes)
        verdicts += before.overall != after.overall
        if after.flagged_decision_id is not None:
            flagged += 1
            line += "; the decision is flagged for review"
        click.echo(line)
    session.rollback()
    click.echo(
        f"Regraded {len(queued) - failed} attempt(s): {changed} changed ({verdicts} verdict(s), "
        f"{flagged} decision(s) flagged for review), {len(queued) - failed - changed} "
        f"unchanged; {failed} failed, {skipped} skipped."
    )
    if failed:
        click.echo(
            "A failed regrade keeps the earlier result; retry it from the Jobs page once its "
            "error is fixed.",
            err=True,
        )
        sys.exit(1)


def register(app: Flask) -> None:
    """Add the sandbox commands to the app's CLI."""

    @app.cli.command("pregenerate")
    @click.argument("scenario_id", required=False)
    def pregenerate_command(scenario_id: str | None) -> None:
        """Generate the data variants of published scenarios now, so that starts only clone.

        Every current scenario version (built in and every centre's), or only SCENARIO_ID.
        """
        _require_tables()
        store, cap = sandboxes.get_store(), sandboxes.variant_cap()
        total = 0
        for row in _current_scenario_rows(scenario_id):
            scenario = definitions_store.load_scenario_model(row)
            pool = sandboxes.pregenerate_variants(store, scenario, cap=cap)
            total += len(pool.generated)
            click.echo(
                f"{row.key} v{row.version} ({_owner(row)}): {len(pool.keys)} variant(s) ready, "
                f"{len(pool.generated)} generated now"
            )
        click.echo(f"{total} template(s) generated.")

    @app.cli.command("purge")
    @click.option(
        "--older-than",
        "days",
        type=click.IntRange(min=0),
        default=None,
        help="Delete frozen sandboxes older than this many days "
        "(default: the SANDBOX_RETENTION_DAYS setting).",
    )
    @click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
    def purge_command(days: int | None, dry_run: bool) -> None:
        """Delete frozen sandboxes past retention and templates that no attempt refers to.

        First each centre's retention policy: sandboxes and evidence (answers, deliverables)
        of attempts decided longer ago than the centre keeps them; grading records and
        decisions stay. Then the platform-wide limit. Templates of the current scenarios'
        pools are kept, as is every template an attempt was cloned from, so grading and
        regrading always find their baseline.
        """
        _require_tables()
        session = get_session()
        verb = "would delete" if dry_run else "deleted"
        retention = apply_retention_policies(session, sandboxes.get_store(), dry_run=dry_run)
        for centre in retention.centres:
            for key in centre.sandboxes:
                click.echo(f"{verb} sandbox {key} (centre {centre.centre_slug} policy)")
            for attempt_id in centre.evidence:
                click.echo(
                    f"{'would remove' if dry_run else 'removed'} the evidence of attempt "
                    f"#{attempt_id} (centre {centre.centre_slug} policy)"
                )
        if dry_run:
            session.rollback()
        else:
            session.commit()
        click.echo(
            f"{'Dry run: ' if dry_run else ''}centre policies: {retention.sandbox_count} "
            f"sandbox(es) and the evidence of {retention.evidence_count} attempt(s) "
            f"{'would go' if dry_run else 'removed'}; grading records and decisions kept."
        )
        days = sandboxes.retention_days() if days is None else days
        report = purge_store(
            session,
            sandboxes.get_store(),
            older_than=timedelta(days=days),
            cap=sandboxes.variant_cap(),
            dry_run=dry_run,
        )
        if not dry_run:
            released = class_prep_service.release_spares(session, sandboxes.get_store())
            session.commit()
            click.echo(
                f"{released.preparations} class preparation(s) over; "
                f"{released.dropped} spare sandbox(es) no class needs dropped."
            )
        for key in report.sandboxes:
            click.echo(f"{verb} sandbox {key}")
        for key in report.templates:
            click.echo(f"{verb} template {key}")
        click.echo(
            f"{'Dry run: ' if dry_run else ''}{len(report.sandboxes)} frozen sandbox(es) older "
            f"than {days} day(s) and {len(report.templates)} unreferenced template(s) {verb}; "
            f"{report.templates_kept} template(s) kept."
        )

    @app.cli.command("regrade")
    @click.option("--scenario", "scenario_id", default=None, help="Only attempts at this scenario.")
    @click.option(
        "--attempt", "attempt_ids", type=int, multiple=True, help="Only this attempt (repeatable)."
    )
    @click.option("--centre", "centre_slug", default=None, help="Only this centre's attempts.")
    @click.option(
        "--apply",
        "apply",
        is_flag=True,
        help="Regrade for real: queue the regrade jobs and store the new results.",
    )
    @click.option(
        "--preview",
        is_flag=True,
        help="Grade again and compare, storing nothing (the default without --apply).",
    )
    @click.option("--yes", is_flag=True, help="With --apply: do not ask for confirmation.")
    @click.option(
        "--wait/--no-wait",
        default=True,
        help="With --apply: wait for the jobs and print their results (default), or only "
        "queue them and print their ids.",
    )
    @click.option(
        "--timeout", type=click.IntRange(min=1), default=1800, help="Seconds to wait at most."
    )
    def regrade_command(
        scenario_id: str | None,
        attempt_ids: tuple[int, ...],
        centre_slug: str | None,
        apply: bool,
        preview: bool,
        yes: bool,
        wait: bool,
        timeout: int,
    ) -> None:
        """Grade graded attempts again under the current graders: preview, or --apply.

        Without --apply, grades each chosen attempt again and prints what would change,
        storing nothing. With --apply, queues the same regrade jobs as the assessors' pages
        (after a confirmation, unless --yes): each stores a new result beside the old ones, a
        decision is never changed but flagged for review where the verdict moves, and the audit
        log names the command line as who asked. Attempts at every scenario of every centre
        unless --scenario, --attempt or --centre narrow it.
        """
        if apply and preview:
            raise click.UsageError("--apply and --preview exclude each other: choose one.")
        if not apply and (yes or not wait):
            raise click.UsageError("--yes and --no-wait go with --apply.")
        _require_tables()
        session = get_session()
        centre = _regrade_centre(centre_slug)
        problems = _scenario_problems(scenario_id, centre)
        problems += _attempt_problems(attempt_ids, scenario_id, centre, apply=apply)
        if problems:
            _refuse(problems)
        attempts = [
            attempt
            for attempt in regrade_service.gradable_attempts(
                session,
                scenario_key=scenario_id,
                attempt_ids=attempt_ids,
                centre_id=centre.id if centre is not None else None,
            )
            if attempt.status in GRADED
        ]
        if not apply:
            _preview(attempts)
            return
        queued, skipped = _queue(attempts, yes=yes)
        if not queued:
            click.echo(
                f"Nothing was queued: the {skipped} matching attempt(s) were skipped."
                if skipped
                else "Nothing to regrade: no graded attempt matches."
            )
            return
        if not wait:
            for item in queued:
                attempt = session.get(Attempt, item.attempt_id)
                click.echo(f"{_label(attempt)}: regrade queued as job #{item.job_id}")
            click.echo(
                f"Queued {len(queued)} regrade job(s); {skipped} skipped. A worker "
                "(`practicum worker`) stores the results; the Jobs page shows how they went."
            )
            return
        click.echo(
            f"Waiting for {len(queued)} regrade job(s), which a worker (`practicum worker`) "
            "runs; stopping the wait does not stop the jobs."
        )
        _wait(queued, timeout)
        _report(queued, skipped)
