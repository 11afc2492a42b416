"""Assessor review: the queue, the effective result, overrides, rubric scores and the decision.

The automatic result (the latest GradeRecord) is never modified. An assessor's overrides are
separate rows that keep the automatic status beside the new one and the reason; rubric scores are
rows too; ``results_service.effective_result`` applies both through the grading engine's roll-up.
The sandbox is only ever opened read-only here.

Recording a decision sets the attempt to ``decided``; from then on its overrides and rubric
scores can no longer change. Overrides are append-only until then (a later override of the same
target supersedes the earlier one, which is kept), so the path to the decision stays visible.

A decision is kept in versions (``DecisionVersion``): the first decision is version 1, and an
amendment (with its reason) or an appeal's changed outcome adds the next one; ``Review.decision``
and ``decided_at`` always hold the current version, for every reader that only needs that. The
deciding and amending forms carry the version they were based on: a form based on a version that
is no longer current is refused ("the decision changed while you were reviewing") and changes
nothing (optimistic locking; the unique (attempt, version) pair also stops two concurrent
writers). The assessor who made the current decision, or a lead assessor, may amend it; while an
appeal is open, only the appeal's outcome may.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased

from graders.definitions import Mode, Scenario, WrittenItem
from graders.results import GradingResult, RequirementStatus, Status, Verdict
from sandbox_crm.audit import REFUSED_OPERATION
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import AuditEvent, StaffUser
from sandbox_crm.store import SandboxNotFound, SandboxStore, TemplateNotFound
from training_platform import assessing_settings, audit_service, moderation_service
from training_platform.attempts_service import pinned_template_key
from training_platform.definitions_store import load_scenario_model, scenario_of
from training_platform.errors import CONFLICT, NOT_ALLOWED, NOT_FOUND, ServiceError
from training_platform.models import (
    Allocation,
    Appeal,
    AppealStatus,
    Attempt,
    AttemptStatus,
    CohortMember,
    Decision,
    DecisionSource,
    DecisionVersion,
    DefinitionKind,
    DefinitionVersion,
    Moderation,
    ModerationStatus,
    OverrideTarget,
    Review,
    Role,
    RubricScore,
    User,
    VerdictOverride,
    utcnow,
)
from training_platform.results_service import automatic_result, effective_result, target_key

__all__ = [
    "MIN_REASON_CHARS",
    "OVERRIDE_STATUSES",
    "QUEUE_SORTS",
    "QUEUE_STATES",
    "FieldChange",
    "OverrideRequest",
    "QueueFilters",
    "SandboxGone",
    "TemplateGone",
    "Timeline",
    "TimelineEntry",
    "action_timeline",
    "allocate_attempt",
    "amend_decision",
    "assessment_scenario_ids",
    "can_amend",
    "can_change",
    "current_version_number",
    "decision_versions",
    "is_assessment",
    "parse_queue_filters",
    "queue_query",
    "record_decision",
    "record_overrides",
    "reviewable_attempt",
    "score_rubric",
    "short_text",
]

MIN_REASON_CHARS = 10
MAX_TEXT_CHARS = 4000

REVIEWABLE = (AttemptStatus.GRADED, AttemptStatus.DECIDED)

OVERRIDE_STATUSES: dict[OverrideTarget, tuple[str, ...]] = {
    OverrideTarget.CHECK: (Status.PASS.value, Status.FAIL.value, Status.NOT_APPLICABLE.value),
    OverrideTarget.ITEM: (Status.PASS.value, Status.FAIL.value),
    OverrideTarget.PDPO: (Status.PASS.value, Status.FAIL.value, Status.NOT_APPLICABLE.value),
    OverrideTarget.REQUIREMENT: (
        RequirementStatus.DEMONSTRATED.value,
        RequirementStatus.NOT_DEMONSTRATED.value,
    ),
}
"""The statuses an assessor may set, per kind of target."""

QUEUE_STATES = ("awaiting", "decided", "amended", "moderation", "appealed", "all")
QUEUE_SORTS = ("submitted", "trainee", "scenario")

_TARGET_WORDS = {
    OverrideTarget.CHECK: "check",
    OverrideTarget.ITEM: "question",
    OverrideTarget.PDPO: "PDPO rule",
    OverrideTarget.REQUIREMENT: "performance requirement",
}


# --- finding attempts --------------------------------------------------------------------------


def _same_centre(user: User, attempt: Attempt) -> bool:
    return attempt.trainee.centre_id == user.centre_id


def reviewable_attempt(session: Session, user: User, attempt_id: int) -> Attempt:
    """A graded or decided attempt of a trainee in the user's centre; or a not-found error."""
    attempt = session.get(Attempt, attempt_id)
    if (
        attempt is None
        or user.role not in (Role.ASSESSOR, Role.CENTRE_ADMIN)
        or not _same_centre(user, attempt)
        or attempt.status not in REVIEWABLE
    ):
        raise ServiceError(NOT_FOUND, N_("There is no such attempt to review."))
    return attempt


def is_assessment(attempt: Attempt) -> bool:
    """Whether the attempt is at an assessment-mode scenario (practice attempts are never due)."""
    return scenario_of(attempt).mode == Mode.ASSESSMENT


def assessment_scenario_ids(session: Session, centre_id: int) -> set[int]:
    """Ids of the scenario versions in assessment mode that the centre's trainees attempted."""
    version_ids = session.scalars(
        select(Attempt.scenario_version_id)
        .join(User, Attempt.trainee_id == User.id)
        .where(User.centre_id == centre_id)
        .distinct()
    ).all()
    found: set[int] = set()
    for version in session.scalars(
        select(DefinitionVersion).where(
            DefinitionVersion.id.in_(version_ids),
            DefinitionVersion.kind == DefinitionKind.SCENARIO,
        )
    ):
        if load_scenario_model(version).mode == Mode.ASSESSMENT:
            found.add(version.id)
    return found


QUEUE_MODES = ("practice", "assessment")


@dataclass(frozen=True)
class QueueFilters:
    """What the review queue is narrowed to; every field is optional but ``state``."""

    state: str = "awaiting"
    cohort_id: int | None = None
    unit: str = ""
    scenario: str = ""
    trainee: str = ""
    mode: str = ""
    # An assessor's id, "me" (resolved by the view to the user's id) or "none" (unallocated).
    allocated: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "submitted"
    direction: str = "asc"


def _date_arg(value: str, label: str, problems: list[str]) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(Message(N_("%(label)s is not a date (use YYYY-MM-DD)."), label=label))
        return None


def parse_queue_filters(args: Mapping[str, str], user_id: int) -> tuple[QueueFilters, list[str]]:
    """The queue's filters from a GET form; unknown values are dropped with a message each."""
    problems: list[str] = []
    state = args.get("state", "awaiting")
    state = state if state in QUEUE_STATES else "awaiting"
    sort = args.get("sort", "submitted")
    sort = sort if sort in QUEUE_SORTS else "submitted"
    cohort_text = (args.get("cohort") or "").strip()
    cohort_id = int(cohort_text) if cohort_text.isdigit() and len(cohort_text) < 10 else None
    mode = args.get("mode", "")
    allocated = (args.get("allocated") or "").strip()
    if allocated == "me":
        allocated = str(user_id)
    if allocated not in ("", "none") and not (allocated.isdigit() and len(allocated) < 10):
        allocated = ""
    date_from = _date_arg(args.get("from", ""), N_("The start date"), problems)
    date_to = _date_arg(args.get("to", ""), N_("The end date"), problems)
    if date_from and date_to and date_from > date_to:
        problems.append(N_("The start date is after the end date; both were left out."))
        date_from = date_to = None
    return (
        QueueFilters(
            state=state,
            cohort_id=cohort_id,
            unit=(args.get("unit") or "").strip()[:32],
            scenario=(args.get("scenario") or "").strip()[:128],
            trainee=(args.get("q") or "").strip()[:200],
            mode=mode if mode in QUEUE_MODES else "",
            allocated=allocated,
            date_from=date_from,
            date_to=date_to,
            sort=sort,
            direction="desc" if args.get("dir") == "desc" else "asc",
        ),
        problems,
    )


def _state_condition(state: str, assessment_ids: set[int]) -> Any:
    if state == "awaiting":
        return (Attempt.status == AttemptStatus.GRADED) & Attempt.scenario_version_id.in_(
            assessment_ids
        )
    if state == "decided":
        return Attempt.status == AttemptStatus.DECIDED
    if state == "amended":
        return exists().where(DecisionVersion.attempt_id == Attempt.id, DecisionVersion.version > 1)
    if state == "moderation":
        return exists().where(
            Moderation.attempt_id == Attempt.id,
            or_(
                Moderation.status == ModerationStatus.PENDING,
                (Moderation.status == ModerationStatus.DISAGREED)
                & Moderation.resolved_at.is_(None),
            ),
        )
    if state == "appealed":
        return exists().where(Appeal.attempt_id == Attempt.id, Appeal.status == AppealStatus.OPEN)
    return Attempt.status.in_(REVIEWABLE)


def queue_query(
    centre_id: int,
    *,
    state: str = "awaiting",
    sort: str = "submitted",
    direction: str = "asc",
    filters: QueueFilters | None = None,
    assessment_ids: set[int] | None = None,
) -> Select:
    """Graded and decided attempts of a centre's trainees, filtered and sorted.

    ``assessment_ids`` (from ``assessment_scenario_ids``) tells assessments from practice:
    practice attempts are never "awaiting" a decision.
    """
    filters = filters or QueueFilters(state=state, sort=sort, direction=direction)
    assessment_ids = assessment_ids if assessment_ids is not None else set()
    scenario = aliased(DefinitionVersion)
    unit = aliased(DefinitionVersion)
    columns = {
        "submitted": (Attempt.submitted_at,),
        "trainee": (User.display_name, Attempt.submitted_at),
        "scenario": (scenario.title, scenario.version, Attempt.submitted_at),
    }.get(filters.sort, (Attempt.submitted_at,))
    descending = filters.direction == "desc"
    ordered = [c.desc() if descending else c.asc() for c in columns]
    stmt = (
        select(Attempt)
        .join(User, Attempt.trainee_id == User.id)
        .join(scenario, Attempt.scenario_version_id == scenario.id)
        .join(unit, Attempt.unit_version_id == unit.id)
        .where(
            User.centre_id == centre_id,
            Attempt.status.in_(REVIEWABLE),
            _state_condition(filters.state, assessment_ids),
        )
    )
    if filters.cohort_id is not None:
        stmt = stmt.where(
            exists().where(
                CohortMember.user_id == Attempt.trainee_id,
                CohortMember.cohort_id == filters.cohort_id,
            )
        )
    if filters.unit:
        stmt = stmt.where(unit.unit_code == filters.unit)
    if filters.scenario:
        stmt = stmt.where(scenario.key == filters.scenario)
    if filters.trainee:
        pattern = "%" + filters.trainee.replace("\\", "").replace("%", "").replace("_", " ") + "%"
        pattern = pattern.replace(" ", "%")
        stmt = stmt.where(or_(User.display_name.ilike(pattern), User.email.ilike(pattern)))
    if filters.mode == "assessment":
        stmt = stmt.where(Attempt.scenario_version_id.in_(assessment_ids))
    elif filters.mode == "practice":
        stmt = stmt.where(Attempt.scenario_version_id.not_in(assessment_ids))
    if filters.allocated == "none":
        stmt = stmt.where(~exists().where(Allocation.attempt_id == Attempt.id))
    elif filters.allocated:
        stmt = stmt.where(
            exists().where(
                Allocation.attempt_id == Attempt.id,
                Allocation.assessor_id == int(filters.allocated),
            )
        )
    if filters.date_from is not None:
        stmt = stmt.where(Attempt.submitted_at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to, time.min) + timedelta(days=1)
        stmt = stmt.where(Attempt.submitted_at < end)
    return stmt.order_by(*ordered, Attempt.id.desc() if descending else Attempt.id.asc())


def allocations_of(session: Session, attempt_ids: Sequence[int]) -> dict[int, Allocation]:
    """The allocation of each of these attempts that has one, by attempt id."""
    if not attempt_ids:
        return {}
    rows = session.scalars(select(Allocation).where(Allocation.attempt_id.in_(attempt_ids)))
    return {row.attempt_id: row for row in rows}


def allocate_attempt(
    session: Session, actor: User, attempt: Attempt, assessor_id: int | str | None
) -> Allocation:
    """Allocate an undecided assessment attempt to an assessor of the centre (admins, leads)."""
    if not _same_centre(actor, attempt) or attempt.status not in REVIEWABLE:
        raise ServiceError(NOT_FOUND, N_("There is no such attempt to review."))
    if not assessing_settings.may_allocate(session, actor):
        raise ServiceError(
            NOT_ALLOWED, N_("Only centre admins and lead assessors can allocate attempts.")
        )
    if not is_assessment(attempt):
        raise ServiceError.invalid(N_("Practice attempts are not allocated: they never wait."))
    if attempt.status != AttemptStatus.GRADED:
        raise ServiceError(CONFLICT, N_("This attempt has already been decided."))
    text = str(assessor_id or "").strip()
    assessor = session.get(User, int(text)) if text.isdigit() and len(text) < 10 else None
    if (
        assessor is None
        or assessor.role != Role.ASSESSOR
        or assessor.centre_id != actor.centre_id
        or not assessor.is_active
    ):
        raise ServiceError.invalid(N_("Choose an assessor of your centre."), field="assessor")
    allocation = session.scalar(select(Allocation).where(Allocation.attempt_id == attempt.id))
    if allocation is not None and allocation.assessor_id == assessor.id:
        raise ServiceError.invalid(N_("The attempt is already allocated to this assessor."))
    previous = allocation.assessor_id if allocation is not None else None
    if allocation is None:
        allocation = Allocation(attempt_id=attempt.id)
        session.add(allocation)
    allocation.assessor_id = assessor.id
    allocation.allocated_by_id = actor.id
    allocation.allocated_at = utcnow()
    allocation.assessor = assessor
    audit_service.record(
        session,
        centre_id=actor.centre_id,
        actor=actor,
        action="review.allocated",
        target_type="attempt",
        target_id=attempt.id,
        details={"assessor_id": assessor.id, "previous_assessor_id": previous},
    )
    session.flush()
    return allocation


# --- changing the review -----------------------------------------------------------------------


def can_change(user: User, attempt: Attempt) -> bool:
    """Whether this user may still override, score or decide on this attempt."""
    return (
        user.role == Role.ASSESSOR
        and _same_centre(user, attempt)
        and attempt.status == AttemptStatus.GRADED
    )


def _require_changeable(assessor: User, attempt: Attempt) -> None:
    if not _same_centre(assessor, attempt) or attempt.status not in REVIEWABLE:
        raise ServiceError(NOT_FOUND, N_("There is no such attempt to review."))
    if assessor.role != Role.ASSESSOR:
        raise ServiceError(NOT_ALLOWED, N_("Only assessors can review attempts."))
    if attempt.status == AttemptStatus.DECIDED:
        raise ServiceError(
            CONFLICT,
            "This attempt has already been decided; the decision and the review that led to it "
            "can no longer be changed.",
        )


def _review_for(session: Session, assessor: User, attempt: Attempt) -> Review:
    review = attempt.review
    if review is None:
        review = Review(attempt=attempt, assessor_id=assessor.id, decision=None, comment="")
        session.add(review)
        session.flush()
    return review


def _clean_text(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").strip()


@dataclass(frozen=True)
class OverrideRequest:
    """An assessor's request to set one target ("check:rows") to a status, with a reason."""

    target: str
    status: str
    reason: str

    @property
    def kind(self) -> str:
        """The target kind ("check", "item", "pdpo" or "requirement")."""
        return self.target.partition(":")[0]

    @property
    def target_id(self) -> str:
        """The target's id within its kind ("rows", "DM-06", "2.1")."""
        return self.target.partition(":")[2]


def _automatic_status(result: GradingResult, kind: OverrideTarget, target_id: str) -> str | None:
    found: Any
    if kind == OverrideTarget.CHECK:
        found = result.check(target_id)
    elif kind == OverrideTarget.ITEM:
        found = result.item(target_id)
    elif kind == OverrideTarget.PDPO:
        found = result.rule(target_id)
    else:
        found = result.requirement(target_id)
    return None if found is None else str(found.status)


def _current_status(effective: GradingResult, kind: OverrideTarget, target_id: str) -> str | None:
    """The status in force now: the latest override, else the (rubric-scored) result's own."""
    applied = effective.overridden.get(target_key(kind, target_id))
    if applied is not None:
        return applied.status
    return _automatic_status(effective, kind, target_id)


def record_overrides(
    session: Session, assessor: User, attempt: Attempt, requests: Sequence[OverrideRequest]
) -> list[VerdictOverride]:
    """Override automatic statuses, each with a reason; all are recorded or none is."""
    _require_changeable(assessor, attempt)
    if not requests:
        raise ServiceError.invalid(N_("Choose something to override."))
    automatic = automatic_result(session, attempt)
    effective = effective_result(session, attempt)
    problems: list[str] = []
    accepted: list[tuple[OverrideTarget, str, str, str, str]] = []
    for request in requests:
        try:
            kind = OverrideTarget(request.kind)
        except ValueError:
            problems.append(f'"{request.target}" is not a check, question, PDPO rule or PR.')
            continue
        words = _TARGET_WORDS[kind]
        target_id = request.target_id
        auto_status = _automatic_status(automatic, kind, target_id)
        if auto_status is None:
            problems.append(f'There is no {words} "{target_id}" in this attempt\'s result.')
            continue
        allowed = OVERRIDE_STATUSES[kind]
        status = (request.status or "").strip()
        if status not in allowed:
            problems.append(
                f'"{status}" is not a status for a {words}; choose one of: {", ".join(allowed)}.'
            )
            continue
        if status == _current_status(effective, kind, target_id):
            problems.append(f'The {words} "{target_id}" is already "{status}".')
            continue
        reason = _clean_text(request.reason)
        if len(reason) < MIN_REASON_CHARS:
            problems.append(
                f'Give the reason for overriding the {words} "{target_id}" '
                f"(at least {MIN_REASON_CHARS} characters)."
            )
            continue
        if len(reason) > MAX_TEXT_CHARS:
            problems.append(f"Keep the reason under {MAX_TEXT_CHARS:,} characters.")
            continue
        accepted.append((kind, target_id, auto_status, status, reason))
    if problems:
        raise ServiceError.invalid(problems)
    review = _review_for(session, assessor, attempt)
    now = utcnow()
    rows = [
        VerdictOverride(
            review=review,
            target_kind=kind,
            target_id=target_id,
            automatic_status=auto_status,
            status=status,
            reason=reason,
            created_at=now,
            created_by_id=assessor.id,
        )
        for kind, target_id, auto_status, status, reason in accepted
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _written_item(scenario: Scenario, item_id: str) -> WrittenItem:
    item = scenario.item(item_id)
    if not isinstance(item, WrittenItem):
        raise ServiceError.invalid(
            f'There is no written question "{item_id}" with a rubric to score.'
        )
    return item


def score_rubric(
    session: Session,
    assessor: User,
    attempt: Attempt,
    item_id: str,
    points: Mapping[str, int | str | None],
    comments: Mapping[str, str] | None = None,
) -> list[RubricScore]:
    """Score every rubric criterion of a written item (0..its points); rescoring replaces."""
    _require_changeable(assessor, attempt)
    item = _written_item(scenario_of(attempt), item_id)
    comments = comments or {}
    known = {criterion.id for criterion in item.rubric}
    problems = [
        f'The rubric of "{item_id}" has no criterion "{unknown}".'
        for unknown in sorted(set(points) - known)
    ]
    chosen: dict[str, int] = {}
    for criterion in item.rubric:
        raw = points.get(criterion.id)
        text = str(raw).strip() if raw is not None else ""
        if text == "":
            problems.append(f'Score the criterion "{criterion.id}" (0 to {criterion.points}).')
            continue
        try:
            value = int(text)
        except ValueError:
            problems.append(f'Points for "{criterion.id}" must be a whole number.')
            continue
        if not 0 <= value <= criterion.points:
            problems.append(
                f'Points for "{criterion.id}" must be between 0 and {criterion.points}; '
                f"got {value}."
            )
            continue
        if len(_clean_text(comments.get(criterion.id))) > MAX_TEXT_CHARS:
            problems.append(f"Keep the comment under {MAX_TEXT_CHARS:,} characters.")
            continue
        chosen[criterion.id] = value
    if problems:
        raise ServiceError.invalid(problems)
    review = _review_for(session, assessor, attempt)
    existing = {(s.item_id, s.criterion_id): s for s in review.rubric_scores}
    rows: list[RubricScore] = []
    for criterion in item.rubric:
        row = existing.get((item_id, criterion.id))
        if row is None:
            row = RubricScore(review=review, item_id=item_id, criterion_id=criterion.id)
            session.add(row)
        row.points = chosen[criterion.id]
        row.comment = _clean_text(comments.get(criterion.id))
        rows.append(row)
    session.flush()
    return rows


def _pending_words(result: GradingResult) -> list[str]:
    pending = [
        f'score the written question "{i.item_id}"'
        for i in result.items
        if i.status == Status.NEEDS_REVIEW and f"item:{i.item_id}" not in result.overridden
    ]
    pending += [
        f'decide the check "{c.check_id}", which could not run'
        for c in result.checks
        if c.status == Status.ERROR and f"check:{c.check_id}" not in result.overridden
    ]
    return pending


STALE_DECISION = N_(
    "The decision changed while you were reviewing: another assessor recorded the decision "
    "shown below. Nothing was changed; read it, then decide whether to amend it."
)


BUSY_DECISION = N_(
    "Another decision on this attempt was being saved at the same moment. Nothing was changed; "
    "reload the page to see the current decision, then decide again if you still need to."
)


def _hold_attempt(session: Session, attempt: Attempt) -> None:
    """Take the write lock on the attempt before its decision version is read.

    Two assessors deciding at the same instant are then served one after the other: the second
    reads the version the first one added and is told the decision changed. PostgreSQL locks the
    attempt's row (SELECT ... FOR UPDATE); SQLite's transaction starts with a write, which takes
    the database's write lock (waiting for another writer up to the busy timeout). A lock that
    cannot be had is a clear refusal, never "database is locked".
    """
    dialect = session.get_bind().dialect.name
    try:
        if dialect == "postgresql":
            session.execute(select(Attempt.id).where(Attempt.id == attempt.id).with_for_update())
            session.refresh(attempt)
        elif dialect == "sqlite":
            session.execute(
                update(Attempt)
                .where(Attempt.id == attempt.id)
                .values(status=Attempt.status)
                .execution_options(synchronize_session=False)
            )
    except OperationalError as error:
        if "locked" not in str(error).lower():
            raise
        raise ServiceError(CONFLICT, BUSY_DECISION, field="version") from None


def decision_versions(session: Session, attempt: Attempt) -> list[DecisionVersion]:
    """Every version of the attempt's decision, oldest first."""
    return list(
        session.scalars(
            select(DecisionVersion)
            .where(DecisionVersion.attempt_id == attempt.id)
            .order_by(DecisionVersion.version)
        )
    )


def current_version_number(session: Session, attempt: Attempt) -> int:
    """The number of the attempt's current decision version (0 while undecided)."""
    return (
        session.scalar(
            select(func.max(DecisionVersion.version)).where(
                DecisionVersion.attempt_id == attempt.id
            )
        )
        or 0
    )


def _version_number(based_on: int | str | None) -> int | None:
    """The version a form was based on; None when the form did not say."""
    if based_on is None or based_on == "":
        return None
    text = str(based_on).strip()
    if not text.isdigit() or len(text) > 9:
        raise ServiceError.invalid(N_("The form was damaged; reload the page and try again."))
    return int(text)


def _check_version(session: Session, attempt: Attempt, based_on: int | None) -> int:
    current = current_version_number(session, attempt)
    if based_on is not None and based_on != current:
        raise ServiceError(CONFLICT, STALE_DECISION, field="version")
    return current


def _add_version(
    session: Session,
    attempt: Attempt,
    number: int,
    actor: User,
    decision: Decision,
    comment: str,
    reason: str,
    source: DecisionSource,
) -> DecisionVersion:
    """Add the next version; a concurrent writer of the same number makes this one stale."""
    version = DecisionVersion(
        attempt_id=attempt.id,
        version=number,
        decision=decision,
        comment=comment,
        reason=reason,
        source=source,
        decided_by_id=actor.id,
        decided_at=utcnow(),
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError:
        # The session must be rolled back now; the caller's refusal path does that.
        raise ServiceError(CONFLICT, STALE_DECISION, field="version") from None
    version.decided_by = actor
    return version


def _parse_decision(decision: Decision | str) -> Decision:
    try:
        return Decision(decision)
    except ValueError:
        raise ServiceError.invalid(N_('Choose "competent" or "not yet competent".')) from None


def _decisions_in_unit(session: Session, assessor: User, unit_code: str) -> int:
    """How many first decisions on assessment attempts the assessor has made in the unit."""
    unit = aliased(DefinitionVersion)
    return (
        session.scalar(
            select(func.count(DecisionVersion.id))
            .join(Attempt, DecisionVersion.attempt_id == Attempt.id)
            .join(unit, Attempt.unit_version_id == unit.id)
            .where(
                DecisionVersion.decided_by_id == assessor.id,
                DecisionVersion.version == 1,
                unit.unit_code == unit_code,
                Attempt.scenario_version_id.in_(
                    assessment_scenario_ids(session, assessor.centre_id)
                ),
            )
        )
        or 0
    )


def record_decision(
    session: Session,
    assessor: User,
    attempt: Attempt,
    decision: Decision | str,
    comment: str,
    *,
    based_on: int | str | None = None,
) -> Review:
    """Record the unit decision on a graded attempt; the attempt becomes decided.

    Everything must be judged first (written answers scored, errored checks overridden). A
    decision that differs from the effective recommendation needs a comment giving the reason.
    ``based_on`` is the decision version the assessor's form showed (0: none); when another
    decision was recorded since, nothing changes and the assessor is told. A decision is
    recorded as version 1, audited, and may be sampled for internal verification.
    """
    number = _version_number(based_on)
    if _same_centre(assessor, attempt):
        _hold_attempt(session, attempt)
    if number is not None and _same_centre(assessor, attempt):
        _check_version(session, attempt, number)
    _require_changeable(assessor, attempt)
    chosen = _parse_decision(decision)
    text = _clean_text(comment)
    if len(text) > MAX_TEXT_CHARS:
        raise ServiceError.invalid(f"Keep the comment under {MAX_TEXT_CHARS:,} characters.")
    effective = effective_result(session, attempt)
    if effective.verdict == Verdict.PENDING_REVIEW:
        pending = _pending_words(effective) or ["complete the review of every requirement"]
        raise ServiceError.invalid(f"Before deciding, {'; '.join(pending)}.")
    if chosen.value != effective.verdict.value and len(text) < MIN_REASON_CHARS:
        raise ServiceError.invalid(
            f"Your decision differs from the recommendation "
            f'("{effective.verdict.value.replace("_", " ")}"): give the reason in the comment '
            f"(at least {MIN_REASON_CHARS} characters)."
        )
    review = _review_for(session, assessor, attempt)
    current = _check_version(session, attempt, number)
    version = _add_version(
        session, attempt, current + 1, assessor, chosen, text, "", DecisionSource.DECISION
    )
    review.assessor_id = assessor.id
    review.decision = chosen
    review.comment = text
    review.decided_at = version.decided_at
    attempt.status = AttemptStatus.DECIDED
    audit_service.record(
        session,
        centre_id=assessor.centre_id,
        actor=assessor,
        action="review.decided",
        target_type="attempt",
        target_id=attempt.id,
        details={"decision": chosen.value, "version": version.version},
    )
    if is_assessment(attempt):
        automatic = automatic_result(session, attempt)
        # Borderline: the decision goes against the recommendation after review, or against
        # the automatic verdict when grading gave one (not "pending review").
        decisive = automatic.verdict.value in {d.value for d in Decision}
        borderline = chosen.value != effective.verdict.value or (
            decisive and chosen.value != automatic.verdict.value
        )
        unit_code = attempt.unit_version.unit_code
        moderation_service.select_for_moderation(
            session,
            version,
            unit_code=unit_code,
            centre_id=assessor.centre_id,
            position=_decisions_in_unit(session, assessor, unit_code),
            borderline=borderline,
            overridden=bool(review.overrides),
        )
    session.flush()
    return review


def open_appeal_of(session: Session, attempt: Attempt) -> Appeal | None:
    """The attempt's open appeal, if there is one."""
    return session.scalar(
        select(Appeal).where(Appeal.attempt_id == attempt.id, Appeal.status == AppealStatus.OPEN)
    )


def can_amend(session: Session, user: User, attempt: Attempt) -> bool:
    """Whether this user may amend the attempt's current decision now (no appeal open)."""
    if (
        user.role != Role.ASSESSOR
        or not _same_centre(user, attempt)
        or attempt.status != AttemptStatus.DECIDED
        or attempt.review is None
    ):
        return False
    if open_appeal_of(session, attempt) is not None:
        return False
    return attempt.review.assessor_id == user.id or assessing_settings.is_lead(session, user)


def amend_decision(
    session: Session,
    actor: User,
    attempt: Attempt,
    decision: Decision | str,
    comment: str,
    reason: str,
    *,
    based_on: int | str | None,
    appeal: Appeal | None = None,
) -> DecisionVersion:
    """Amend a recorded decision with a reason, keeping every earlier version.

    Only the assessor of the current decision or a lead assessor may, and not while an appeal
    is open (unless ``appeal`` is that appeal, whose reviewer changes the decision). The form's
    ``based_on`` version must still be the current one.
    """
    if not _same_centre(actor, attempt) or attempt.status not in REVIEWABLE:
        raise ServiceError(NOT_FOUND, N_("There is no such attempt to review."))
    if actor.role != Role.ASSESSOR:
        raise ServiceError(NOT_ALLOWED, N_("Only assessors can review attempts."))
    _hold_attempt(session, attempt)
    review = attempt.review
    if attempt.status != AttemptStatus.DECIDED or review is None or review.decision is None:
        raise ServiceError(CONFLICT, N_("There is no decision to amend yet."))
    number = _version_number(based_on)
    if number is None:
        raise ServiceError.invalid(N_("The form was damaged; reload the page and try again."))
    current = _check_version(session, attempt, number)
    open_appeal = open_appeal_of(session, attempt)
    if appeal is None:
        if open_appeal is not None:
            raise ServiceError(
                CONFLICT,
                N_(
                    "The trainee has appealed this decision: it changes only through the "
                    "appeal's outcome."
                ),
            )
        if review.assessor_id != actor.id and not assessing_settings.is_lead(session, actor):
            raise ServiceError(
                NOT_ALLOWED,
                N_("Only the assessor who made the decision or a lead assessor can amend it."),
            )
    elif open_appeal is None or open_appeal.id != appeal.id:
        raise ServiceError(CONFLICT, N_("This appeal has already been closed."))
    chosen = _parse_decision(decision)
    text = _clean_text(comment)
    why = _clean_text(reason)
    problems: list[str] = []
    if len(text) > MAX_TEXT_CHARS or len(why) > MAX_TEXT_CHARS:
        problems.append(N_("Keep each text under 4,000 characters."))
    if len(why) < MIN_REASON_CHARS:
        problems.append(N_("Give the reason for the amendment (at least 10 characters)."))
    if chosen == review.decision and text == review.comment:
        problems.append(N_("Change the decision or its comment to amend it."))
    if problems:
        raise ServiceError.invalid(problems)
    source = DecisionSource.APPEAL if appeal is not None else DecisionSource.AMENDMENT
    version = _add_version(session, attempt, current + 1, actor, chosen, text, why, source)
    previous = review.decision
    review.assessor_id = actor.id
    review.decision = chosen
    review.comment = text
    review.decided_at = version.decided_at
    moderation_service.resolve_disagreements(session, attempt, version.decided_at)
    audit_service.record(
        session,
        centre_id=actor.centre_id,
        actor=actor,
        action="review.amended",
        target_type="attempt",
        target_id=attempt.id,
        details={
            "from": previous.value,
            "to": chosen.value,
            "version": version.version,
            "reason": why,
            "appeal_id": appeal.id if appeal is not None else None,
        },
    )
    session.flush()
    return version


# --- the trainee's actions ---------------------------------------------------------------------

MAX_TIMELINE_EVENTS = 2000
TEXT_PREVIEW = 160
_VALUE_CHARS = 80


def _text(value: Any) -> str:
    """A field's value in the timeline."""
    return short_text(value, _VALUE_CHARS)


class SandboxGone(LookupError):
    """The attempt's sandbox no longer exists (deleted by the retention policy)."""


class TemplateGone(SandboxGone):
    """The template the attempt's sandbox was cloned from is no longer on disk."""


@dataclass(frozen=True)
class FieldChange:
    """One field an event changed, as short text before and after."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class TimelineEntry:
    """One audit event of the attempt, as the assessor reads it."""

    event_id: int
    occurred_at: Any
    username: str
    operation: str
    entity_type: str
    entity_id: int | None
    changes: tuple[FieldChange, ...]
    details: tuple[tuple[str, str], ...]

    @property
    def refused(self) -> bool:
        """Whether this is an action the CRM refused (nothing was changed)."""
        return self.operation == REFUSED_OPERATION

    def detail(self, key: str) -> str:
        """One detail's text, or "" if the event has none by that name."""
        return next((text for k, text in self.details if k == key), "")


@dataclass(frozen=True)
class Timeline:
    """The attempt's audit events in order, and how many there are in all."""

    entries: tuple[TimelineEntry, ...]
    total: int

    @property
    def truncated(self) -> bool:
        """Whether some events were left out."""
        return self.total > len(self.entries)


def short_text(value: Any, limit: int = TEXT_PREVIEW) -> str:
    """A value as one line of text for the evidence page, shortened with an ellipsis."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k}: {short_text(v, 40)}" for k, v in value.items()) or "—"
    elif isinstance(value, list | tuple):
        text = ", ".join(short_text(v, 40) for v in value) or "none"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[FieldChange, ...]:
    """The fields whose value differs between an event's before and after images.

    For a record created (no before image) the empty fields are left out.
    """
    created = before is None
    before = before or {}
    after = after or {}
    keys = [k for k in before if k not in after] + list(after)
    return tuple(
        FieldChange(key, _text(before.get(key)), _text(after.get(key)))
        for key in keys
        if (key not in before or key not in after or before[key] != after[key])
        and not (created and after.get(key) in (None, "", [], {}))
    )


def _template_last_event(store: SandboxStore, attempt: Attempt) -> int:
    """The id of the last audit event of the untouched template the sandbox was cloned from."""
    try:
        with store.template_session_for_key(pinned_template_key(attempt)) as template:
            return template.scalar(select(func.max(AuditEvent.id))) or 0
    except TemplateNotFound as exc:
        raise TemplateGone(str(exc)) from exc


def action_timeline(
    store: SandboxStore, attempt: Attempt, limit: int = MAX_TIMELINE_EVENTS
) -> Timeline:
    """The attempt's own audit events (after the template's), read from the frozen sandbox."""
    if not store.exists(attempt.sandbox_key):
        raise SandboxGone(attempt.sandbox_key)
    after_id = _template_last_event(store, attempt)
    try:
        with store.session(attempt.sandbox_key, read_only=True) as sandbox:
            condition = AuditEvent.id > after_id
            total = sandbox.scalar(select(func.count(AuditEvent.id)).where(condition)) or 0
            rows = sandbox.execute(
                select(AuditEvent, StaffUser.username)
                .outerjoin(StaffUser, AuditEvent.actor_id == StaffUser.id)
                .where(condition)
                .order_by(AuditEvent.id)
                .limit(limit)
            ).all()
            entries = tuple(
                TimelineEntry(
                    event_id=event.id,
                    occurred_at=event.occurred_at,
                    username=username or "system",
                    operation=event.operation,
                    entity_type=event.entity_type,
                    entity_id=event.entity_id,
                    changes=field_changes(event.before, event.after),
                    details=tuple((str(k), _text(v)) for k, v in (event.details or {}).items()),
                )
                for event, username in rows
            )
    except SandboxNotFound as exc:
        raise SandboxGone(attempt.sandbox_key) from exc
    return Timeline(entries, total)
