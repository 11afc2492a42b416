"""Assessor review: the queue, the effective result, overrides, rubric scores and the decision.

The automatic result (the latest GradeRecord) is never modified. An assessor's overrides are
separate rows that keep the automatic status beside the new one and the reason; rubric scores are
rows too; ``results_service.effective_result`` applies both through the grading engine's roll-up.
The sandbox is only ever opened read-only here.

A decision is final: recording it sets the attempt to ``decided`` and from then on its overrides,
rubric scores and decision can no longer change. Overrides are append-only until then (a later
override of the same target supersedes the earlier one, which is kept), so the path to the
decision stays visible. Correcting a recorded decision is a matter for the centre (appeal), not
an edit of the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from graders.definitions import Scenario, WrittenItem
from graders.results import GradingResult, RequirementStatus, Status, Verdict
from sandbox_crm.audit import REFUSED_OPERATION
from sandbox_crm.i18n import N_
from sandbox_crm.models import AuditEvent, StaffUser
from sandbox_crm.store import SandboxNotFound, SandboxStore, TemplateNotFound
from training_platform.attempts_service import pinned_template_key
from training_platform.definitions_store import scenario_of
from training_platform.errors import CONFLICT, NOT_ALLOWED, NOT_FOUND, ServiceError
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Decision,
    DefinitionVersion,
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
    "SandboxGone",
    "TemplateGone",
    "Timeline",
    "TimelineEntry",
    "action_timeline",
    "can_change",
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

QUEUE_STATES = ("awaiting", "decided", "all")
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


def queue_query(
    centre_id: int, *, state: str = "awaiting", sort: str = "submitted", direction: str = "asc"
) -> Select:
    """Attempts of a centre's trainees awaiting a decision, decided, or both, sorted."""
    scenario = aliased(DefinitionVersion)
    statuses = {
        "awaiting": (AttemptStatus.GRADED,),
        "decided": (AttemptStatus.DECIDED,),
    }.get(state, REVIEWABLE)
    columns = {
        "submitted": (Attempt.submitted_at,),
        "trainee": (User.display_name, Attempt.submitted_at),
        "scenario": (scenario.title, scenario.version, Attempt.submitted_at),
    }.get(sort, (Attempt.submitted_at,))
    ordered = [c.desc() if direction == "desc" else c.asc() for c in columns]
    return (
        select(Attempt)
        .join(User, Attempt.trainee_id == User.id)
        .join(scenario, Attempt.scenario_version_id == scenario.id)
        .where(User.centre_id == centre_id, Attempt.status.in_(statuses))
        .order_by(*ordered, Attempt.id.desc() if direction == "desc" else Attempt.id.asc())
    )


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


def record_decision(
    session: Session, assessor: User, attempt: Attempt, decision: Decision | str, comment: str
) -> Review:
    """Record the unit decision on a graded attempt; the attempt becomes decided (final).

    Everything must be judged first (written answers scored, errored checks overridden). A
    decision that differs from the effective recommendation needs a comment giving the reason.
    """
    _require_changeable(assessor, attempt)
    try:
        chosen = Decision(decision)
    except ValueError:
        raise ServiceError.invalid(N_('Choose "competent" or "not yet competent".')) from None
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
    review.assessor_id = assessor.id
    review.decision = chosen
    review.comment = text
    review.decided_at = utcnow()
    attempt.status = AttemptStatus.DECIDED
    session.flush()
    return review


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
