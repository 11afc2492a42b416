"""Retention: delete frozen sandboxes past the retention period, and templates nothing needs.

A template is kept while any attempt refers to it (grading and the evidence page read it, and
it is never generated again), and while it belongs to the pool of a current scenario version
(starting an attempt clones it). Everything else in the template cache may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders import runner
from sandbox_crm.store import SandboxStore
from training_platform import definitions_store, sandboxes
from training_platform.attempts_service import pinned_template_key
from training_platform.models import Attempt, DefinitionKind, DefinitionVersion

__all__ = ["PurgeReport", "current_pool_keys", "purge_store", "referenced_template_keys"]


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted (or, in a dry run, would delete), and how many templates it kept."""

    sandboxes: tuple[str, ...]
    templates: tuple[str, ...]
    templates_kept: int


def referenced_template_keys(session: Session) -> set[str]:
    """The template keys of every attempt, whatever its status."""
    keys = set(
        session.scalars(
            select(Attempt.template_key).where(Attempt.template_key.is_not(None)).distinct()
        )
    )
    # Attempts from before keys were recorded are graded on the key their variant gives now.
    for attempt in session.scalars(select(Attempt).where(Attempt.template_key.is_(None))):
        keys.add(pinned_template_key(attempt))
    return keys


def current_pool_keys(session: Session, cap: int | None = None) -> set[str]:
    """The template keys of the pools of every current scenario version (any centre)."""
    keys: set[str] = set()
    rows = session.scalars(
        select(DefinitionVersion).where(
            DefinitionVersion.kind == DefinitionKind.SCENARIO,
            DefinitionVersion.is_current.is_(True),
        )
    )
    for row in rows:
        scenario = definitions_store.load_scenario_model(row)
        for variant in range(sandboxes.pool_size(scenario, cap)):
            keys.add(runner.generation_spec(scenario, variant).cache_key())
    return keys


def purge_store(
    session: Session,
    store: SandboxStore,
    *,
    older_than: timedelta,
    cap: int | None = None,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete frozen sandboxes older than ``older_than`` and templates no attempt refers to.

    Templates of the current scenarios' pools are kept too. Reads the database, changes only
    files.
    """
    purged_sandboxes = store.purge(older_than, dry_run=dry_run)
    keep = referenced_template_keys(session) | current_pool_keys(session, cap)
    purged_templates = store.purge_templates(keep, dry_run=dry_run)
    kept = len([key for key in store.template_keys() if key in keep])
    return PurgeReport(tuple(purged_sandboxes), tuple(purged_templates), kept)
