"""Cohorts (classes), what they take, and their assessment windows with per-trainee extensions.

Windows decide when an assessment may be started. The rule, for a trainee starting an
assessment-mode scenario:

- if no cohort of the centre has a window for that scenario, nothing changes: the scenario's own
  attempt limit applies, as it always has;
- once any cohort of the centre has a window for it, the assessment is taken only in windows: the
  trainee must be in a (not archived) cohort with a window for it that is open now (their
  extension may close it later), with attempts left in that window.

A window's time limit gives each attempt started in it a due time. Past it the attempt takes no
further work (the CRM is read-only, answers are refused) but it can still be handed in as it is.

Services flush and never commit; every change is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from graders.definitions import Mode
from sandbox_crm.i18n import N_, Message
from training_platform import audit_service, definitions_store
from training_platform.errors import CONFLICT, INVALID, ServiceError
from training_platform.models import (
    AssessmentWindow,
    Attempt,
    Cohort,
    CohortMember,
    CohortOffering,
    DefinitionKind,
    Role,
    User,
    WindowAttempt,
    WindowExtension,
    utcnow,
)

# Hong Kong has kept UTC+8 without daylight saving since 1979.
HK_OFFSET = timedelta(hours=8)
MAX_NAME = 200
MAX_ATTEMPTS_LIMIT = 50
MAX_TIME_LIMIT_MINUTES = 24 * 60


def to_hk(value: datetime | None) -> datetime | None:
    """A stored UTC time as Hong Kong time."""
    return value + HK_OFFSET if value is not None else None


def from_hk(value: datetime) -> datetime:
    """A Hong Kong time (as typed into a form) as stored UTC."""
    return value - HK_OFFSET


def _audit(session: Session, actor: User | None, action: str, target: str, target_id: int, **d):
    centre_id = actor.centre_id if actor is not None else d.pop("centre_id")
    audit_service.record(
        session,
        centre_id=centre_id,
        actor=actor,
        action=action,
        target_type=target,
        target_id=target_id,
        details=d,
    )


# --- cohorts -----------------------------------------------------------------------------------


def list_cohorts(
    session: Session, centre_id: int, *, include_archived: bool = True
) -> list[Cohort]:
    """The centre's cohorts by name; archived ones last."""
    stmt = select(Cohort).where(Cohort.centre_id == centre_id)
    if not include_archived:
        stmt = stmt.where(Cohort.archived.is_(False))
    return list(session.scalars(stmt.order_by(Cohort.archived, Cohort.name)))


def centre_cohort(session: Session, centre_id: int, cohort_id: int) -> Cohort | None:
    """The cohort with this id if it belongs to the centre; None otherwise."""
    cohort = session.get(Cohort, cohort_id)
    if cohort is None or cohort.centre_id != centre_id:
        return None
    return cohort


def _clean_name(session: Session, centre_id: int, name: str, exclude: int | None = None) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise ServiceError(INVALID, N_("Enter a name of up to 200 characters."), field="name")
    clash = session.scalar(
        select(Cohort.id).where(
            Cohort.centre_id == centre_id,
            func.lower(Cohort.name) == name.lower(),
            Cohort.id != (exclude or 0),
        )
    )
    if clash is not None:
        raise ServiceError(INVALID, N_("Another cohort already has this name."), field="name")
    return name


def create_cohort(session: Session, actor: User, name: str) -> Cohort:
    """Add a cohort to the actor's centre; names are unique in a centre (ignoring case)."""
    name = _clean_name(session, actor.centre_id, name)
    cohort = Cohort(centre_id=actor.centre_id, name=name)
    session.add(cohort)
    session.flush()
    _audit(session, actor, "cohort.created", "cohort", cohort.id, name=name)
    session.flush()
    return cohort


def rename_cohort(session: Session, actor: User, cohort: Cohort, name: str) -> None:
    """Give a cohort a new name."""
    name = _clean_name(session, cohort.centre_id, name, exclude=cohort.id)
    if name == cohort.name:
        return
    changed = {"from": cohort.name, "to": name}
    _audit(session, actor, "cohort.renamed", "cohort", cohort.id, **changed)
    cohort.name = name
    session.flush()


def set_archived(session: Session, actor: User, cohort: Cohort, archived: bool) -> None:
    """Archive a cohort (kept with its records, closed to new work) or bring it back."""
    if cohort.archived == archived:
        return
    cohort.archived = archived
    action = "cohort.archived" if archived else "cohort.restored"
    _audit(session, actor, action, "cohort", cohort.id, name=cohort.name)
    session.flush()


def _require_open(cohort: Cohort) -> None:
    if cohort.archived:
        raise ServiceError(CONFLICT, N_("This cohort is archived. Restore it before changing it."))


def members(session: Session, cohort: Cohort) -> list[User]:
    """The cohort's people, assessors first, then trainees, by name."""
    return list(
        session.scalars(
            select(User)
            .join(CohortMember, CohortMember.user_id == User.id)
            .where(CohortMember.cohort_id == cohort.id)
            .order_by(User.role, User.display_name)
        )
    )


def add_member(session: Session, actor: User, cohort: Cohort, user: User) -> None:
    """Put a trainee or assessor of the cohort's centre into the cohort."""
    _require_open(cohort)
    if user.centre_id != cohort.centre_id or user.role == Role.CENTRE_ADMIN:
        raise ServiceError(
            INVALID, N_("Choose a trainee or assessor of your centre."), field="user"
        )
    exists = session.scalar(
        select(CohortMember.id).where(
            CohortMember.cohort_id == cohort.id, CohortMember.user_id == user.id
        )
    )
    if exists is not None:
        return
    session.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
    _audit(
        session,
        actor,
        "cohort.member_added",
        "cohort",
        cohort.id,
        cohort=cohort.name,
        email=user.email,
    )
    session.flush()


def remove_member(session: Session, actor: User, cohort: Cohort, user: User) -> None:
    """Take someone out of a cohort (their attempts and results stay)."""
    _require_open(cohort)
    member = session.scalars(
        select(CohortMember).where(
            CohortMember.cohort_id == cohort.id, CohortMember.user_id == user.id
        )
    ).one_or_none()
    if member is None:
        return
    session.delete(member)
    _audit(
        session,
        actor,
        "cohort.member_removed",
        "cohort",
        cohort.id,
        cohort=cohort.name,
        email=user.email,
    )
    session.flush()


def candidates(session: Session, cohort: Cohort) -> list[User]:
    """Active trainees and assessors of the centre not yet in the cohort."""
    inside = select(CohortMember.user_id).where(CohortMember.cohort_id == cohort.id)
    return list(
        session.scalars(
            select(User)
            .where(
                User.centre_id == cohort.centre_id,
                User.role.in_([Role.TRAINEE, Role.ASSESSOR]),
                User.is_active.is_(True),
                User.id.not_in(inside),
            )
            .order_by(User.role, User.display_name)
        )
    )


# --- what a cohort takes -----------------------------------------------------------------------


def offerings(session: Session, cohort: Cohort) -> list[CohortOffering]:
    """The units and scenarios the cohort takes, units first."""
    return list(
        session.scalars(
            select(CohortOffering)
            .where(CohortOffering.cohort_id == cohort.id)
            .order_by(CohortOffering.kind.desc(), CohortOffering.key)
        )
    )


def add_offering(session: Session, actor: User, cohort: Cohort, kind: str, key: str) -> None:
    """Add a unit or scenario of the centre's catalogue to what the cohort takes."""
    _require_open(cohort)
    try:
        kind = DefinitionKind(kind)
    except ValueError as exc:
        raise ServiceError(INVALID, N_("Choose a unit or a scenario."), field="key") from exc
    key = key.strip()
    version = definitions_store.current_version(session, kind, key, cohort.centre_id)
    if version is None:
        raise ServiceError(
            INVALID, N_("Choose a unit or scenario of your centre's catalogue."), field="key"
        )
    exists = session.scalar(
        select(CohortOffering.id).where(
            CohortOffering.cohort_id == cohort.id,
            CohortOffering.kind == kind,
            CohortOffering.key == key,
        )
    )
    if exists is not None:
        return
    session.add(CohortOffering(cohort_id=cohort.id, kind=kind, key=key))
    _audit(
        session,
        actor,
        "cohort.offering_added",
        "cohort",
        cohort.id,
        cohort=cohort.name,
        kind=kind.value,
        key=key,
    )
    session.flush()


def remove_offering(session: Session, actor: User, cohort: Cohort, offering_id: int) -> None:
    """Stop offering a unit or scenario to the cohort."""
    _require_open(cohort)
    offering = session.get(CohortOffering, offering_id)
    if offering is None or offering.cohort_id != cohort.id:
        raise ServiceError(INVALID, N_("That is not one of this cohort's units or scenarios."))
    session.delete(offering)
    _audit(
        session,
        actor,
        "cohort.offering_removed",
        "cohort",
        cohort.id,
        cohort=cohort.name,
        kind=offering.kind.value,
        key=offering.key,
    )
    session.flush()


# --- assessment windows ------------------------------------------------------------------------


def windows_of(session: Session, cohort: Cohort) -> list[AssessmentWindow]:
    """The cohort's windows, the soonest to open first."""
    return list(
        session.scalars(
            select(AssessmentWindow)
            .where(AssessmentWindow.cohort_id == cohort.id)
            .order_by(AssessmentWindow.opens_at, AssessmentWindow.id)
        )
    )


def centre_window(session: Session, centre_id: int, window_id: int) -> AssessmentWindow | None:
    """The window with this id if its cohort belongs to the centre; None otherwise."""
    window = session.get(AssessmentWindow, window_id)
    if window is None or window.cohort.centre_id != centre_id:
        return None
    return window


def assessment_scenarios(session: Session, centre_id: int) -> list[tuple[str, str]]:
    """(key, title) of the centre's current assessment-mode scenarios."""
    found = []
    for version in definitions_store.current_scenarios(session, centre_id):
        if definitions_store.load_scenario_model(version).mode == Mode.ASSESSMENT:
            found.append((version.key, version.title))
    return sorted(found, key=lambda pair: pair[1])


def _positive(value: int | None, upper: int, message: str, field: str) -> int | None:
    if value is None:
        return None
    if value < 1 or value > upper:
        raise ServiceError(INVALID, message, field=field)
    return value


def create_window(
    session: Session,
    actor: User,
    cohort: Cohort,
    *,
    scenario_key: str,
    opens_at: datetime,
    closes_at: datetime,
    max_attempts: int | None = None,
    time_limit_minutes: int | None = None,
) -> AssessmentWindow:
    """Open an assessment-mode scenario to a cohort between two times (UTC)."""
    _require_open(cohort)
    if scenario_key not in {key for key, _title in assessment_scenarios(session, cohort.centre_id)}:
        raise ServiceError(
            INVALID, N_("Choose an assessment-mode scenario of your centre."), field="scenario"
        )
    if closes_at <= opens_at:
        raise ServiceError(INVALID, N_("The window must close after it opens."), field="closes_at")
    max_attempts = _positive(
        max_attempts,
        MAX_ATTEMPTS_LIMIT,
        N_("Allow between 1 and 50 attempts, or leave it empty."),
        "max_attempts",
    )
    time_limit_minutes = _positive(
        time_limit_minutes,
        MAX_TIME_LIMIT_MINUTES,
        N_("Give a time limit between 1 and 1440 minutes, or leave it empty."),
        "time_limit_minutes",
    )
    window = AssessmentWindow(
        cohort_id=cohort.id,
        scenario_key=scenario_key,
        opens_at=opens_at,
        closes_at=closes_at,
        max_attempts=max_attempts,
        time_limit_minutes=time_limit_minutes,
        created_by_id=actor.id,
    )
    session.add(window)
    session.flush()
    _audit(
        session,
        actor,
        "window.created",
        "window",
        window.id,
        cohort=cohort.name,
        scenario=scenario_key,
        opens_at=opens_at.isoformat(),
        closes_at=closes_at.isoformat(),
        max_attempts=max_attempts,
        time_limit_minutes=time_limit_minutes,
    )
    session.flush()
    return window


def delete_window(session: Session, actor: User, window: AssessmentWindow) -> None:
    """Remove a window no attempt was started in."""
    used = session.scalar(
        select(func.count(WindowAttempt.id)).where(WindowAttempt.window_id == window.id)
    )
    if used:
        raise ServiceError(
            CONFLICT,
            N_("Attempts were started in this window, so it is kept. Close it by editing it."),
        )
    _audit(
        session,
        actor,
        "window.deleted",
        "window",
        window.id,
        cohort=window.cohort.name,
        scenario=window.scenario_key,
    )
    session.delete(window)
    session.flush()


def close_window_now(session: Session, actor: User, window: AssessmentWindow) -> None:
    """Close a window at once (attempts already started keep their time)."""
    now = utcnow()
    if window.closes_at <= now:
        return
    window.closes_at = max(now, window.opens_at + timedelta(seconds=1))
    _audit(
        session,
        actor,
        "window.closed",
        "window",
        window.id,
        cohort=window.cohort.name,
        scenario=window.scenario_key,
    )
    session.flush()


def extend_window(
    session: Session,
    actor: User,
    window: AssessmentWindow,
    trainee: User,
    *,
    closes_at: datetime | None,
    extra_attempts: int,
    reason: str,
) -> WindowExtension:
    """Give one trainee of the window's cohort a later close or more attempts, with a reason."""
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise ServiceError(
            INVALID,
            N_("Give the reason for the extension (up to 2,000 characters)."),
            field="reason",
        )
    in_cohort = session.scalar(
        select(CohortMember.id).where(
            CohortMember.cohort_id == window.cohort_id, CohortMember.user_id == trainee.id
        )
    )
    if trainee.role != Role.TRAINEE or in_cohort is None:
        raise ServiceError(INVALID, N_("Choose a trainee of this cohort."), field="trainee")
    if closes_at is not None and closes_at <= window.closes_at:
        raise ServiceError(
            INVALID, N_("An extended close must be later than the window's."), field="closes_at"
        )
    if extra_attempts < 0 or extra_attempts > MAX_ATTEMPTS_LIMIT:
        raise ServiceError(
            INVALID, N_("Give between 0 and 50 extra attempts."), field="extra_attempts"
        )
    if closes_at is None and extra_attempts == 0:
        raise ServiceError(
            INVALID, N_("An extension gives a later close, extra attempts, or both.")
        )
    extension = session.scalars(
        select(WindowExtension).where(
            WindowExtension.window_id == window.id, WindowExtension.trainee_id == trainee.id
        )
    ).one_or_none()
    if extension is None:
        extension = WindowExtension(window_id=window.id, trainee_id=trainee.id)
        session.add(extension)
    extension.closes_at = closes_at
    extension.extra_attempts = extra_attempts
    extension.reason = reason
    extension.created_by_id = actor.id
    extension.created_at = utcnow()
    session.flush()
    _audit(
        session,
        actor,
        "window.extended",
        "window",
        window.id,
        cohort=window.cohort.name,
        scenario=window.scenario_key,
        email=trainee.email,
        closes_at=closes_at.isoformat() if closes_at else None,
        extra_attempts=extra_attempts,
        reason=reason,
    )
    session.flush()
    return extension


# --- windows as a trainee meets them -----------------------------------------------------------


@dataclass(frozen=True)
class TraineeWindow:
    """A window as one trainee has it: their own close and attempt limit, and what is left."""

    window: AssessmentWindow
    closes_at: datetime
    limit: int | None
    used: int
    now: datetime

    @property
    def is_open(self) -> bool:
        """Whether an attempt may be started in it now (time only)."""
        return self.window.opens_at <= self.now < self.closes_at

    @property
    def attempts_left(self) -> int | None:
        """Attempts the trainee may still start in it; None when unlimited."""
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def upcoming(self) -> bool:
        """Whether it has not opened yet."""
        return self.now < self.window.opens_at


def _windows_for(
    session: Session, trainee: User, scenario_key: str, now: datetime
) -> list[TraineeWindow]:
    rows = session.scalars(
        select(AssessmentWindow)
        .join(Cohort, Cohort.id == AssessmentWindow.cohort_id)
        .join(CohortMember, CohortMember.cohort_id == Cohort.id)
        .where(
            CohortMember.user_id == trainee.id,
            Cohort.archived.is_(False),
            AssessmentWindow.scenario_key == scenario_key,
        )
        .order_by(AssessmentWindow.opens_at, AssessmentWindow.id)
    )
    found = []
    for window in rows:
        extension = next((e for e in window.extensions if e.trainee_id == trainee.id), None)
        closes_at = window.closes_at
        extra = 0
        if extension is not None:
            closes_at = max(closes_at, extension.closes_at or closes_at)
            extra = extension.extra_attempts
        used = (
            session.scalar(
                select(func.count(WindowAttempt.id))
                .join(Attempt, Attempt.id == WindowAttempt.attempt_id)
                .where(WindowAttempt.window_id == window.id, Attempt.trainee_id == trainee.id)
            )
            or 0
        )
        limit = window.max_attempts + extra if window.max_attempts is not None else None
        found.append(TraineeWindow(window, closes_at, limit, used, now))
    return found


def trainee_windows(
    session: Session, trainee: User, scenario_key: str, now: datetime | None = None
) -> list[TraineeWindow]:
    """The windows of a trainee's cohorts for a scenario, with their close and attempts left."""
    return _windows_for(session, trainee, scenario_key, now or utcnow())


def scenario_has_windows(session: Session, centre_id: int, scenario_key: str) -> bool:
    """Whether any cohort of the centre has a window for the scenario."""
    return (
        session.scalar(
            select(AssessmentWindow.id)
            .join(Cohort, Cohort.id == AssessmentWindow.cohort_id)
            .where(Cohort.centre_id == centre_id, AssessmentWindow.scenario_key == scenario_key)
            .limit(1)
        )
        is not None
    )


def window_for_start(
    session: Session, trainee: User, scenario_key: str, now: datetime | None = None
) -> TraineeWindow | None:
    """The window a new assessment attempt starts in; None when the scenario has no windows.

    Refuses (with the reason) a start outside every open window, or with no attempts left.
    """
    now = now or utcnow()
    if not scenario_has_windows(session, trainee.centre_id, scenario_key):
        return None
    windows = _windows_for(session, trainee, scenario_key, now)
    open_now = [w for w in windows if w.is_open]
    usable = [w for w in open_now if w.attempts_left is None or w.attempts_left > 0]
    if usable:
        return max(usable, key=lambda w: (w.attempts_left is None, w.attempts_left or 0))
    if open_now:
        raise ServiceError(
            CONFLICT, N_("You have used all the attempts allowed in this assessment window.")
        )
    upcoming = [w for w in windows if w.upcoming]
    if upcoming:
        raise ServiceError(
            CONFLICT,
            Message(
                N_("This assessment is not open yet. It opens on %(opens)s (Hong Kong time)."),
                opens=to_hk(upcoming[0].window.opens_at).strftime("%Y-%m-%d %H:%M"),
            ),
        )
    if windows:
        raise ServiceError(CONFLICT, N_("The assessment window for this scenario has closed."))
    raise ServiceError(
        CONFLICT,
        N_(
            "This assessment is taken in scheduled windows, and none of your cohorts has one. "
            "Ask your centre admin."
        ),
    )


def record_window_attempt(session: Session, attempt: Attempt, window: TraineeWindow) -> None:
    """Count an attempt in its window and give it the window's time limit."""
    minutes = window.window.time_limit_minutes
    due_at = attempt.started_at + timedelta(minutes=minutes) if minutes else None
    session.add(WindowAttempt(attempt_id=attempt.id, window_id=window.window.id, due_at=due_at))
    session.flush()


def attempt_due_at(attempt: Attempt) -> datetime | None:
    """When an attempt's time limit runs out; None when it has none."""
    session = object_session(attempt)
    if session is None or attempt.id is None:
        return None
    return session.scalar(
        select(WindowAttempt.due_at).where(WindowAttempt.attempt_id == attempt.id)
    )


def time_is_up(attempt: Attempt, now: datetime | None = None) -> bool:
    """Whether the attempt has a time limit that has run out."""
    due_at = attempt_due_at(attempt)
    return due_at is not None and (now or utcnow()) >= due_at


def window_progress(session: Session, window: AssessmentWindow) -> list[tuple[User, TraineeWindow]]:
    """Each trainee of the window's cohort with their close, attempts used and left."""
    trainees = [u for u in members(session, window.cohort) if u.role == Role.TRAINEE]
    rows = []
    for trainee in trainees:
        mine = [
            w
            for w in _windows_for(session, trainee, window.scenario_key, utcnow())
            if w.window.id == window.id
        ]
        if mine:
            rows.append((trainee, mine[0]))
    return rows


def cohort_trainees(session: Session, cohort: Cohort) -> Sequence[User]:
    """The trainees of a cohort, by name."""
    return [u for u in members(session, cohort) if u.role == Role.TRAINEE]
