"""Preparing a class: spare sandboxes sized to the cohort, made before its trainees start.

On PostgreSQL a start claims a spare clone of its variant's template when one is ready, and
clones on the spot (a second or two) when none is. The backend keeps a few spares per template
(SANDBOX_SPARES); a class of a hundred starting within a minute uses them up at once. So before
a class starts a scenario, a preparation works out how many of the class will be given each data
variant, the way ``attempts_service.allocate_variant`` will give them (least used in the centre,
none a trainee has had until they have had every one), adds a small margin, and has that many
spares made on top of the default, one per transaction, by a job.

A preparation belongs to an assessment window (made by the periodic sweep in the hour before
the window opens, or with the window page's button) or is made by hand for a number of trainees
(``practicum prepare-class``). It holds its spares until the window closes, or for
CLASS_PREP_HOURS after a preparation by hand, fewer as its class starts (so a class that has
started holds nothing back from the next); the retention purge drops the spares beyond the
default and what live preparations still want. A preparation asks for at most two spares per
trainee, and all preparations together for at most PREPARED_SPARES_MAX.

On SQLite sandboxes a start copies a file, so there are no spares: preparing only makes sure
the templates of the scenario's variants exist.

Services flush and never commit; the job is queued by ``jobs.queue_class_preparation``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from graders import runner
from sandbox_crm.i18n import N_, Message
from sandbox_crm.store import SandboxStore
from training_platform import (
    attempts_service,
    audit_service,
    cohorts_service,
    definitions_store,
    sandboxes,
)
from training_platform.errors import CONFLICT, INVALID, ServiceError
from training_platform.models import (
    AssessmentWindow,
    Attempt,
    Centre,
    ClassPreparation,
    Cohort,
    DefinitionKind,
    DefinitionVersion,
    User,
    WindowAttempt,
    utcnow,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_TRAINEES = 500
DEFAULT_MAX_PREPARED_SPARES = 600
DEFAULT_PREP_HOURS = 12
LEAD_TIME = timedelta(hours=1)
"""How long before a window opens the sweep prepares its class."""
SPARES_PER_TRAINEE = 2
"""The most extra spares one preparation asks for, per trainee."""


# --- settings ---------------------------------------------------------------------------------


def _int_setting(app: Flask | None, name: str, default: int) -> int:
    value = (app or current_app).config.get(name)
    return default if value in (None, "") else max(1, int(value))


def max_trainees(app: Flask | None = None) -> int:
    """The largest class one preparation is made for (CLASS_PREP_MAX_TRAINEES)."""
    return _int_setting(app, "CLASS_PREP_MAX_TRAINEES", DEFAULT_MAX_TRAINEES)


def max_prepared_spares(app: Flask | None = None) -> int:
    """The most extra spares every preparation together may hold (PREPARED_SPARES_MAX)."""
    return _int_setting(app, "PREPARED_SPARES_MAX", DEFAULT_MAX_PREPARED_SPARES)


def hours_by_hand(app: Flask | None = None) -> int:
    """How long a preparation by hand holds its spares (CLASS_PREP_HOURS)."""
    return _int_setting(app, "CLASS_PREP_HOURS", DEFAULT_PREP_HOURS)


def makes_spares(store: SandboxStore) -> bool:
    """Whether the store keeps spare clones (PostgreSQL schemas) rather than copying files."""
    return callable(getattr(store, "top_up_spares", None))


# --- sizing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassPlan:
    """How many of a class each data variant is expected to be given, and the spares wanted."""

    trainees: int
    starts: dict[int, int]
    spares: dict[str, int]

    @property
    def total(self) -> int:
        """Extra spares wanted over every template."""
        return sum(self.spares.values())


def margin(starts: int) -> int:
    """Spares made beyond the expected starts of one variant: one in ten, at least one."""
    return math.ceil(starts / 10) if starts > 0 else 0


def _histories(session: Session, trainees: Sequence[User], scenario_key: str) -> dict[int, list]:
    """Each trainee's variants of the scenario (every version), oldest first, in one query."""
    had: dict[int, list[int]] = {trainee.id: [] for trainee in trainees}
    if not had:
        return had
    rows = session.execute(
        select(Attempt.trainee_id, Attempt.variant)
        .join(DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id)
        .where(
            Attempt.trainee_id.in_(list(had)),
            DefinitionVersion.kind == DefinitionKind.SCENARIO,
            DefinitionVersion.key == scenario_key,
        )
        .order_by(Attempt.started_at, Attempt.id)
    )
    for trainee_id, variant in rows:
        had[trainee_id].append(variant)
    return had


def expected_starts(
    session: Session,
    centre_id: int,
    scenario_key: str,
    pool: int,
    *,
    trainees: Sequence[User] = (),
    count: int = 0,
) -> dict[int, int]:
    """Variant -> how many of a class will start on it, allocated as starts allocate them.

    The named ``trainees`` with what they have had, or ``count`` trainees new to the scenario;
    each start counts towards the centre's use, as the real starts will.
    """
    use = Counter(attempts_service.centre_variant_use(session, centre_id, scenario_key))
    if trainees:
        had = _histories(session, trainees, scenario_key)
        people = [(had[t.id], f"{t.id}:{scenario_key}") for t in trainees]
    else:
        people = [([], f"class-{n}:{scenario_key}") for n in range(count)]
    starts: Counter[int] = Counter()
    for history, tie_break in people:
        variant = runner.pick_variant(pool, history, use, tie_break=tie_break)
        use[variant] += 1
        starts[variant] += 1
    return dict(sorted(starts.items()))


def plan_class(
    session: Session,
    centre_id: int,
    version: DefinitionVersion,
    *,
    trainees: Sequence[User] = (),
    count: int = 0,
) -> ClassPlan:
    """The spares a class needs per template: expected starts of each variant plus a margin."""
    scenario = definitions_store.load_scenario_model(version)
    pool = sandboxes.pool_size(scenario, sandboxes.variant_cap())
    starts = expected_starts(session, centre_id, version.key, pool, trainees=trainees, count=count)
    spares = {
        runner.generation_spec(scenario, variant).cache_key(): n + margin(n)
        for variant, n in starts.items()
        if n > 0
    }
    return ClassPlan(len(trainees) or count, starts, spares)


def variant_spares(
    version: DefinitionVersion, preparation: ClassPreparation
) -> list[tuple[int, int]]:
    """(variant counted from 1, extra spares) of a preparation, for the variants it prepared."""
    scenario = definitions_store.load_scenario_model(version)
    wanted = preparation.spares or {}
    found = []
    for variant in range(sandboxes.pool_size(scenario, sandboxes.variant_cap())):
        key = runner.generation_spec(scenario, variant).cache_key()
        if key in wanted:
            found.append((variant + 1, int(wanted[key])))
    return found


# --- what preparations hold -------------------------------------------------------------------


def _active(now: datetime):
    return and_(ClassPreparation.released_at.is_(None), ClassPreparation.expires_at > now)


def _starts_since(session: Session, preparation: ClassPreparation) -> int:
    """Attempts started at the preparation's scenario in its centre since it was sized."""
    return (
        session.scalar(
            select(func.count(Attempt.id))
            .join(User, Attempt.trainee_id == User.id)
            .join(DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id)
            .where(
                User.centre_id == preparation.centre_id,
                DefinitionVersion.kind == DefinitionKind.SCENARIO,
                DefinitionVersion.key == preparation.scenario_key,
                Attempt.started_at >= preparation.prepared_at,
            )
        )
        or 0
    )


def remaining_spares(session: Session, preparation: ClassPreparation) -> dict[str, int]:
    """Template key -> the extra spares a preparation still wants: less as its class starts.

    Each template's share shrinks with the part of the class that has started since it was
    sized, so a class that has started holds nothing back from the next one.
    """
    spares = {key: int(n) for key, n in (preparation.spares or {}).items()}
    if not spares or preparation.prepared_at is None or preparation.trainees <= 0:
        return spares
    left = preparation.trainees - _starts_since(session, preparation)
    if left <= 0:
        return {}
    return {key: math.ceil(n * left / preparation.trainees) for key, n in spares.items()}


def held_spares(
    session: Session, *, now: datetime | None = None, excluding: int | None = None
) -> dict[str, int]:
    """Template key -> extra spares still wanted by the preparations holding theirs."""
    stmt = select(ClassPreparation).where(_active(now or utcnow()))
    if excluding is not None:
        stmt = stmt.where(ClassPreparation.id != excluding)
    held: Counter[str] = Counter()
    for preparation in session.scalars(stmt):
        held.update(remaining_spares(session, preparation))
    return dict(held)


def _check_budget(session: Session, plan: ClassPlan, excluding: int | None) -> None:
    """Refuse a plan that would take the prepared spares past PREPARED_SPARES_MAX."""
    limit = max_prepared_spares()
    held = sum(held_spares(session, excluding=excluding).values())
    if held + plan.total > limit:
        raise ServiceError(
            CONFLICT,
            Message(
                N_(
                    "Preparing this class would keep %(wanted)d extra spare sandboxes ready, "
                    "and other classes hold %(held)d until their windows close: over the "
                    "platform's limit of %(limit)d (the PREPARED_SPARES_MAX setting). Prepare "
                    "fewer trainees, or wait for an earlier class to finish."
                ),
                wanted=plan.total,
                held=held,
                limit=limit,
            ),
        )


# --- asking for a preparation -----------------------------------------------------------------


def check_trainees(count: int) -> int:
    """The class size, or a refusal when it is not between 1 and CLASS_PREP_MAX_TRAINEES."""
    limit = max_trainees()
    if count < 1 or count > limit:
        raise ServiceError(
            INVALID,
            Message(
                N_("Give a number of trainees between 1 and %(limit)d."),
                limit=limit,
            ),
            field="trainees",
        )
    return count


def scenario_to_prepare(session: Session, centre_id: int, scenario_key: str) -> DefinitionVersion:
    """The current version of a scenario in the centre's catalogue, ready to start."""
    version = definitions_store.current_version(
        session, DefinitionKind.SCENARIO, scenario_key, centre_id
    )
    if version is None:
        raise ServiceError(
            INVALID,
            Message(
                N_('There is no published scenario "%(key)s" in this centre\'s catalogue.'),
                key=scenario_key,
            ),
            field="scenario",
        )
    if version.preparation == "refused":
        raise ServiceError(
            CONFLICT,
            N_("This scenario's current version was refused when it was published."),
        )
    return version


def window_trainees(session: Session, window: AssessmentWindow) -> list[User]:
    """The active trainees of a window's cohort who have not started in it yet, by id."""
    started = set(
        session.scalars(
            select(Attempt.trainee_id)
            .join(WindowAttempt, WindowAttempt.attempt_id == Attempt.id)
            .where(WindowAttempt.window_id == window.id)
        )
    )
    return sorted(
        (
            trainee
            for trainee in cohorts_service.cohort_trainees(session, window.cohort)
            if trainee.is_active and trainee.id not in started
        ),
        key=lambda trainee: trainee.id,
    )


def window_expiry(window: AssessmentWindow) -> datetime:
    """When a window's spares are no longer wanted: its close, or the latest extension's."""
    closes = [window.closes_at, *(e.closes_at for e in window.extensions if e.closes_at)]
    return max(closes)


def preparation_of_window(session: Session, window: AssessmentWindow) -> ClassPreparation | None:
    """The preparation of a window's class, if one was asked for."""
    return session.scalar(select(ClassPreparation).where(ClassPreparation.window_id == window.id))


def prepare_window(
    session: Session, actor: User | None, window: AssessmentWindow
) -> ClassPreparation:
    """Ask for the spares of a window's class: its cohort's trainees who have not started yet.

    Refuses an empty cohort, a class over CLASS_PREP_MAX_TRAINEES, a scenario no longer
    published, a closed window, or spares past PREPARED_SPARES_MAX.
    """
    if window.closes_at <= utcnow():
        raise ServiceError(CONFLICT, N_("This window has closed: there is no class to prepare."))
    centre_id = window.cohort.centre_id
    version = scenario_to_prepare(session, centre_id, window.scenario_key)
    trainees = window_trainees(session, window)
    if not trainees:
        raise ServiceError(
            CONFLICT,
            N_(
                "The cohort has no trainees left to start this assessment, so there is nothing "
                "to prepare."
            ),
        )
    check_trainees(len(trainees))
    found = preparation_of_window(session, window)
    if sandboxes.store_kind() == "postgres":
        plan = plan_class(session, centre_id, version, trainees=trainees)
        _check_budget(session, plan, found.id if found is not None else None)
    expires_at = window_expiry(window)
    if found is None:
        found = ClassPreparation(
            centre_id=centre_id,
            window_id=window.id,
            scenario_key=window.scenario_key,
            trainees=len(trainees),
            spares={},
            expires_at=expires_at,
        )
        session.add(found)
    found.scenario_key = window.scenario_key
    found.trainees = len(trainees)
    found.expires_at = expires_at
    found.released_at = None
    if actor is not None:
        found.requested_by_id = actor.id
    session.flush()
    audit_service.record(
        session,
        centre_id=centre_id,
        actor=actor,
        action="window.prepared",
        target_type="window",
        target_id=window.id,
        details={"scenario": window.scenario_key, "trainees": len(trainees)},
    )
    session.flush()
    return found


def prepare_by_hand(
    session: Session,
    centre: Centre,
    scenario_key: str,
    trainees: int,
    *,
    actor: User | None = None,
) -> ClassPreparation:
    """Ask for the spares of ``trainees`` new to a scenario in a centre, for CLASS_PREP_HOURS.

    Asking again for the same centre and scenario while the first still holds its spares
    resizes that preparation instead of adding a second.
    """
    check_trainees(trainees)
    version = scenario_to_prepare(session, centre.id, scenario_key)
    now = utcnow()
    found = session.scalar(
        select(ClassPreparation)
        .where(
            ClassPreparation.centre_id == centre.id,
            ClassPreparation.scenario_key == scenario_key,
            ClassPreparation.window_id.is_(None),
            _active(now),
        )
        .order_by(ClassPreparation.id.desc())
    )
    if sandboxes.store_kind() == "postgres":
        plan = plan_class(session, centre.id, version, count=trainees)
        _check_budget(session, plan, found.id if found is not None else None)
    expires_at = now + timedelta(hours=hours_by_hand())
    if found is None:
        found = ClassPreparation(
            centre_id=centre.id,
            scenario_key=scenario_key,
            trainees=trainees,
            spares={},
            expires_at=expires_at,
        )
        session.add(found)
    found.trainees = trainees
    found.expires_at = expires_at
    if actor is not None:
        found.requested_by_id = actor.id
    session.flush()
    return found


# --- the job ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparationRun:
    """What a preparation did: templates ensured, spares wanted and made (none on SQLite)."""

    templates: tuple[str, ...]
    spares: dict[str, int]
    made: int


def run_preparation(
    session: Session, preparation: ClassPreparation, store: SandboxStore
) -> PreparationRun:
    """Make the templates of the scenario's variants, then the spares the class needs.

    A window's class is counted again (who has started since it was asked for). Spares are
    topped up to the backend's default plus what every live preparation wants of a template,
    so running it twice makes nothing the second time. Over PREPARED_SPARES_MAX (other classes
    prepared meanwhile) it makes what the limit leaves.
    """
    centre_id = preparation.centre_id
    version = scenario_to_prepare(session, centre_id, preparation.scenario_key)
    scenario = definitions_store.load_scenario_model(version)
    pool = sandboxes.pregenerate_variants(store, scenario, cap=sandboxes.variant_cap())
    if not makes_spares(store):
        preparation.backend = "sqlite_files"
        preparation.spares = {}
        preparation.prepared_at = utcnow()
        session.flush()
        return PreparationRun(pool.keys, {}, 0)
    if preparation.window is not None:
        trainees = window_trainees(session, preparation.window)
        preparation.trainees = len(trainees)
        plan = plan_class(session, centre_id, version, trainees=trainees)
    else:
        plan = plan_class(session, centre_id, version, count=preparation.trainees)
    left = max_prepared_spares() - sum(held_spares(session, excluding=preparation.id).values())
    wanted: dict[str, int] = {}
    for key, n in plan.spares.items():
        take = max(0, min(n, left))
        left -= take
        if take:
            wanted[key] = take
    if sum(wanted.values()) < plan.total:
        logger.warning(
            "class preparation %s: %d spare(s) wanted, %d within PREPARED_SPARES_MAX",
            preparation.id,
            plan.total,
            sum(wanted.values()),
        )
    preparation.backend = "postgres"
    preparation.spares = wanted
    preparation.prepared_at = utcnow()
    session.flush()
    held = held_spares(session)
    made = 0
    for key in pool.keys:
        made += store.top_up_spares(key, target=store.spares + held.get(key, 0))
    return PreparationRun(pool.keys, wanted, made)


# --- the sweep and the purge ------------------------------------------------------------------


def windows_due(session: Session, now: datetime | None = None) -> list[AssessmentWindow]:
    """Windows opening within the hour (or open) of cohorts in use, with no preparation yet."""
    now = now or utcnow()
    prepared = select(ClassPreparation.window_id).where(ClassPreparation.window_id.is_not(None))
    return list(
        session.scalars(
            select(AssessmentWindow)
            .join(Cohort, Cohort.id == AssessmentWindow.cohort_id)
            .where(
                Cohort.archived.is_(False),
                AssessmentWindow.opens_at <= now + LEAD_TIME,
                AssessmentWindow.closes_at > now,
                AssessmentWindow.id.not_in(prepared),
            )
            .order_by(AssessmentWindow.opens_at, AssessmentWindow.id)
        )
    )


@dataclass(frozen=True)
class ReleasedSpares:
    """What the purge let go: preparations past their time, and the spares dropped."""

    preparations: int
    dropped: int


def release_spares(
    session: Session, store: SandboxStore, now: datetime | None = None
) -> ReleasedSpares:
    """Mark preparations past their time released and drop spares no live preparation wants.

    A window's preparation lasts until the window closes for its last trainee. Every template
    keeps the backend's default; flushes.
    """
    now = now or utcnow()
    holding = session.scalars(
        select(ClassPreparation).where(ClassPreparation.released_at.is_(None))
    ).all()
    expired = []
    for preparation in holding:
        if preparation.window is not None:
            # Closed early, or extended for a trainee, since it was prepared.
            preparation.expires_at = window_expiry(preparation.window)
        if preparation.expires_at <= now:
            preparation.released_at = now
            expired.append(preparation)
    session.flush()
    dropped = 0
    if makes_spares(store):
        held = held_spares(session, now=now)
        for key, count in store.spare_counts().items():
            keep = store.spares + held.get(key, 0)
            if count > keep:
                dropped += store.trim_spares(key, keep)
    return ReleasedSpares(len(expired), dropped)
