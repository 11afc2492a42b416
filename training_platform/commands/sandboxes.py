"""`practicum pregenerate`, `purge` and `regrade --preview`: sandbox templates and regrading."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from flask import Flask
from sqlalchemy import inspect, select

from training_platform import class_prep_service, definitions_store, regrade_service, sandboxes
from training_platform.db import get_engine, get_session
from training_platform.models import DefinitionKind, DefinitionVersion
from training_platform.retention_service import apply_retention_policies, purge_store


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
    @click.option(
        "--preview",
        is_flag=True,
        help="Grade again and compare with the stored results, storing nothing (required).",
    )
    @click.option("--scenario", "scenario_id", default=None, help="Only attempts at this scenario.")
    @click.option(
        "--attempt", "attempt_ids", type=int, multiple=True, help="Only this attempt (repeatable)."
    )
    def regrade_command(preview: bool, scenario_id: str | None, attempt_ids: tuple[int]) -> None:
        """Show which graded attempts the current graders would judge differently.

        One line per attempt whose verdict or any status would change (or that cannot be
        graded), then a summary.
        """
        if not preview:
            raise click.UsageError(
                "Only a preview is available: add --preview (regrading for real and storing the "
                "results is not offered from the command line)."
            )
        _require_tables()
        session = get_session()
        attempts = regrade_service.gradable_attempts(
            session, scenario_key=scenario_id, attempt_ids=attempt_ids
        )
        missing = sorted(set(attempt_ids) - {a.id for a in attempts})
        if missing:
            click.echo(
                "No graded attempt " + ", ".join(f"#{n}" for n in missing) + "; skipped.", err=True
            )
        changed = verdicts = problems = 0
        for attempt in attempts:
            result = regrade_service.preview_regrade(session, attempt)
            label = (
                f"attempt #{attempt.id} ({attempt.trainee.email}, {attempt.scenario_version.key})"
            )
            if result.problem:
                problems += 1
                click.echo(f"{label}: cannot be graded: {result.problem}")
                continue
            if not result.changed:
                continue
            changed += 1
            verdicts += result.verdict_changed
            verdict = (
                f"verdict {result.stored_verdict} -> {result.new_verdict}"
                if result.verdict_changed
                else f"verdict stays {result.stored_verdict}"
            )
            click.echo(f"{label}: {verdict}; " + "; ".join(str(c) for c in result.changes))
        click.echo(
            f"Previewed {len(attempts)} graded attempt(s): {changed} would change "
            f"({verdicts} verdict(s)), {len(attempts) - changed - problems} unchanged, "
            f"{problems} could not be graded. Nothing was stored."
        )
