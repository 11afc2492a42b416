"""`practicum prepare-class`: spare sandboxes for a class before it starts a scenario."""

from __future__ import annotations

import time

import click
from flask import Flask
from sqlalchemy import select

from training_platform import class_prep_service, jobs, sandboxes
from training_platform.db import get_session
from training_platform.errors import INVALID, ServiceError, exit_with
from training_platform.models import Centre, ClassPreparation, Job, JobStatus

WAIT_POLL_SECONDS = 1.0


def _centre(slug: str | None) -> Centre:
    """The centre named by ``slug``, or the only one when there is one."""
    session = get_session()
    if slug:
        centre = session.scalar(select(Centre).where(Centre.slug == slug))
        if centre is None:
            exit_with(ServiceError(INVALID, f'There is no centre "{slug}".'))
        return centre
    centres = list(session.scalars(select(Centre).order_by(Centre.slug).limit(2)))
    if len(centres) != 1:
        exit_with(
            ServiceError(
                INVALID,
                "Name the centre whose trainees will start the scenario: --centre SLUG.",
            )
        )
    return centres[0]


def describe(preparation: ClassPreparation) -> str:
    """One line on what a finished preparation left ready."""
    if preparation.backend == "sqlite_files":
        return (
            "SQLite sandboxes: a start copies a template file, so no spare sandboxes are made; "
            "the templates of the scenario's data variants are ready."
        )
    spares = sum(preparation.spares.values())
    return (
        f"{spares} extra spare sandbox(es) over {len(preparation.spares)} data variant(s) "
        f"for {preparation.trainees} trainee(s), on top of each template's default, "
        f"held until {preparation.expires_at:%Y-%m-%d %H:%M} UTC."
    )


def register(app: Flask) -> None:
    """Add the class preparation command to the app's CLI."""

    @app.cli.command("prepare-class")
    @click.option("--scenario", "scenario_id", required=True, help="The scenario's id.")
    @click.option("--trainees", type=int, required=True, help="How many trainees will start it.")
    @click.option("--centre", "centre_slug", default=None, help="The trainees' centre (slug).")
    @click.option(
        "--wait/--no-wait",
        default=True,
        help="Wait until the job has made the sandboxes (default), or only queue it.",
    )
    @click.option(
        "--timeout", type=click.IntRange(min=1), default=1800, help="Seconds to wait at most."
    )
    def prepare_class_command(
        scenario_id: str, trainees: int, centre_slug: str | None, wait: bool, timeout: int
    ) -> None:
        """Make spare sandboxes for a class about to start a scenario (a background job).

        Sized to how the class's data variants will be allocated, plus a small margin, on top
        of each template's default spares; held for CLASS_PREP_HOURS, then the retention purge
        drops them. On SQLite sandboxes it only makes sure the templates exist.
        """
        session = get_session()
        centre = _centre(centre_slug)
        try:
            preparation = class_prep_service.prepare_by_hand(session, centre, scenario_id, trainees)
            job = jobs.queue_class_preparation(session, preparation)
        except ServiceError as exc:
            session.rollback()
            exit_with(exc)
        session.commit()
        job_id, preparation_id = job.id, preparation.id
        jobs.dispatch(job)
        click.echo(
            f"Preparing {scenario_id} for {trainees} trainee(s) of {centre.slug} "
            f"({sandboxes.store_kind()} sandboxes): job #{job_id}."
        )
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while True:
            session.expire_all()
            job = session.get(Job, job_id)
            if job.status in (JobStatus.DONE, JobStatus.FAILED):
                break
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"Job #{job_id} is still {job.status.value} after {timeout} s; "
                    "see the Jobs page."
                )
            session.rollback()
            time.sleep(WAIT_POLL_SECONDS)
        if job.status == JobStatus.FAILED:
            raise click.ClickException(f"The preparation failed: {job.last_error}")
        click.echo(describe(session.get(ClassPreparation, preparation_id)))
