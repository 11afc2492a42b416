"""Retention: delete frozen sandboxes past the retention period, and templates nothing needs.

Each centre may also set its own policy (``RetentionPolicy``): how many days after the decision
an attempt's frozen sandbox is kept, and how many days its evidence (the trainee's answers and
deliverables, and the sandbox) is kept. ``apply_retention_policies`` applies every centre's
policy; the grading record (GradeRecord) and the decision are always kept.

A template is kept while any attempt refers to it (grading and the evidence page read it, and
it is never generated again), and while it belongs to the pool of a current scenario version
(starting an attempt clones it). Everything else in the template cache may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders import runner
from sandbox_crm.i18n import N_
from sandbox_crm.store import SandboxStore
from training_platform import audit_service, definitions_store, sandboxes
from training_platform.attempts_service import pinned_template_key
from training_platform.errors import NOT_ALLOWED, ServiceError
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Centre,
    DefinitionKind,
    DefinitionVersion,
    RetentionPolicy,
    Review,
    Role,
    User,
    utcnow,
)

__all__ = [
    "MAX_POLICY_DAYS",
    "CentrePurge",
    "PurgeReport",
    "RetentionReport",
    "apply_retention_policies",
    "current_pool_keys",
    "get_policy",
    "purge_store",
    "referenced_template_keys",
    "set_policy",
]

MAX_POLICY_DAYS = 3650


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


# --- retention per centre ------------------------------------------------------------------------


@dataclass(frozen=True)
class CentrePurge:
    """What one centre's policy removed (or, in a dry run, would remove)."""

    centre_id: int
    centre_slug: str
    sandboxes: tuple[str, ...]
    evidence: tuple[int, ...]

    @property
    def empty(self) -> bool:
        """Whether nothing was due."""
        return not self.sandboxes and not self.evidence


@dataclass(frozen=True)
class RetentionReport:
    """What every centre's retention policy removed: sandbox keys and attempt ids per centre."""

    dry_run: bool
    centres: tuple[CentrePurge, ...]

    @property
    def sandbox_count(self) -> int:
        """Sandboxes deleted, over every centre."""
        return sum(len(c.sandboxes) for c in self.centres)

    @property
    def evidence_count(self) -> int:
        """Attempts whose evidence was removed, over every centre."""
        return sum(len(c.evidence) for c in self.centres)


def get_policy(session: Session, centre_id: int) -> RetentionPolicy | None:
    """The centre's retention policy, or None when it has not set one."""
    return session.scalars(
        select(RetentionPolicy).where(RetentionPolicy.centre_id == centre_id)
    ).first()


_DAYS_PROBLEMS = {
    "sandbox_days": N_(
        "Days to keep sandboxes must be a whole number from 1 to 3650, or blank to keep them."
    ),
    "evidence_days": N_(
        "Days to keep evidence must be a whole number from 1 to 3650, or blank to keep them."
    ),
}


def _days(value: str | int | None) -> int | None:
    """A number of days from a form field: None when blank (keep for ever); ValueError if bad."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    days = int(str(value).strip())
    if not 1 <= days <= MAX_POLICY_DAYS:
        raise ValueError(days)
    return days


def set_policy(
    session: Session,
    admin: User,
    *,
    sandbox_days: str | int | None,
    evidence_days: str | int | None,
) -> RetentionPolicy:
    """Set the admin's centre's retention policy (blank keeps for ever); audited."""
    if admin.role != Role.CENTRE_ADMIN:
        raise ServiceError(NOT_ALLOWED, N_("Only centre admins can change the retention policy."))
    problems: list[str] = []
    values: dict[str, int | None] = {}
    for name, raw in (("sandbox_days", sandbox_days), ("evidence_days", evidence_days)):
        try:
            values[name] = _days(raw)
        except ValueError:
            problems.append(_DAYS_PROBLEMS[name])
    if problems:
        raise ServiceError.invalid(problems)
    policy = get_policy(session, admin.centre_id)
    before = (
        {"sandbox_days": policy.sandbox_days, "evidence_days": policy.evidence_days}
        if policy is not None
        else {"sandbox_days": None, "evidence_days": None}
    )
    if policy is None:
        policy = RetentionPolicy(centre_id=admin.centre_id)
        session.add(policy)
    policy.sandbox_days = values["sandbox_days"]
    policy.evidence_days = values["evidence_days"]
    policy.updated_at = utcnow()
    policy.updated_by_id = admin.id
    session.flush()
    audit_service.record(
        session,
        centre_id=admin.centre_id,
        actor=admin,
        action="retention.policy_changed",
        target_type="centre",
        target_id=admin.centre_id,
        details={"from": before, "to": dict(values)},
    )
    return policy


def _decided_before(session: Session, centre_id: int, cutoff: datetime) -> list[Attempt]:
    """The centre's decided attempts whose decision is older than ``cutoff``."""
    return list(
        session.scalars(
            select(Attempt)
            .join(User, Attempt.trainee_id == User.id)
            .join(Review, Review.attempt_id == Attempt.id)
            .where(
                User.centre_id == centre_id,
                Attempt.status == AttemptStatus.DECIDED,
                Review.decided_at.is_not(None),
                Review.decided_at < cutoff,
            )
            .order_by(Attempt.id)
        )
    )


def _purge_centre(
    session: Session,
    store: SandboxStore,
    centre: Centre,
    policy: RetentionPolicy,
    now: datetime,
    dry_run: bool,
) -> CentrePurge:
    sandbox_keys: list[str] = []
    evidence_ids: list[int] = []
    if policy.evidence_days is not None:
        cutoff = now - timedelta(days=policy.evidence_days)
        for attempt in _decided_before(session, centre.id, cutoff):
            has_sandbox = store.exists(attempt.sandbox_key)
            if not (attempt.answers or attempt.deliverables or has_sandbox):
                continue
            evidence_ids.append(attempt.id)
            if has_sandbox:
                sandbox_keys.append(attempt.sandbox_key)
            if not dry_run:
                attempt.answers = {}
                attempt.deliverables = {}
                if has_sandbox:
                    store.delete(attempt.sandbox_key)
    if policy.sandbox_days is not None:
        cutoff = now - timedelta(days=policy.sandbox_days)
        for attempt in _decided_before(session, centre.id, cutoff):
            key = attempt.sandbox_key
            if key in sandbox_keys or not store.exists(key):
                continue
            sandbox_keys.append(key)
            if not dry_run:
                store.delete(key)
    return CentrePurge(centre.id, centre.slug, tuple(sandbox_keys), tuple(evidence_ids))


def apply_retention_policies(
    session: Session,
    store: SandboxStore,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    centre_id: int | None = None,
) -> RetentionReport:
    """Apply every centre's retention policy (or one centre's): delete what has expired.

    Keeps each attempt's grading records and decision; adds one "retention.purged" audit entry
    per centre that lost something. A dry run changes nothing and says what would go. The
    caller commits.
    """
    now = now or utcnow()
    results: list[CentrePurge] = []
    query = select(RetentionPolicy).order_by(RetentionPolicy.centre_id)
    if centre_id is not None:
        query = query.where(RetentionPolicy.centre_id == centre_id)
    policies = session.scalars(query)
    for policy in list(policies):
        purge = _purge_centre(session, store, policy.centre, policy, now, dry_run)
        results.append(purge)
        if dry_run or purge.empty:
            continue
        audit_service.record(
            session,
            centre_id=policy.centre_id,
            actor=None,
            action="retention.purged",
            target_type="centre",
            target_id=policy.centre_id,
            details={
                "sandboxes": len(purge.sandboxes),
                "evidence": len(purge.evidence),
                "sandbox_keys": list(purge.sandboxes),
                "attempt_ids": list(purge.evidence),
                "sandbox_days": policy.sandbox_days,
                "evidence_days": policy.evidence_days,
            },
        )
    session.flush()
    return RetentionReport(dry_run, tuple(results))
