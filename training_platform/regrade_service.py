"""Regrading: what grading an attempt again under today's graders would change, and doing it.

The preview grades the attempt's frozen sandbox again against the template it was cloned from
(its pinned key, never a regenerated one) and compares the new result with the latest stored
GradeRecord: the verdict, and every check, question, PDPO rule and PR whose status differs. It
stores nothing; automatic results are compared with automatic results.

Applying a regrade is a job (``training_platform.jobs.queue_regrade``): ``check_regrade`` says
whether an assessor or centre admin may ask for it (or the operator at the command line, whose
actor is None and who is named ``COMMAND_LINE`` in the audit log), and the job's
``apply_regrade`` adds a new GradeRecord beside the old ones. The assessor's decision is never
changed: when the automatic verdict moves under a recorded decision, the new record names that
decision version, which is then flagged for review until the decision is amended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders.results import GradingResult
from sandbox_crm.i18n import N_
from sandbox_crm.store import SandboxNotFound, SandboxStore, TemplateNotFound
from training_platform import audit_service, sandboxes
from training_platform.attempts_service import grade_pinned
from training_platform.errors import CONFLICT, NOT_ALLOWED, NOT_FOUND, ServiceError
from training_platform.models import (
    Attempt,
    AttemptStatus,
    DecisionVersion,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    Job,
    JobStatus,
    Role,
    User,
    utcnow,
)
from training_platform.results_service import latest_grade_record

__all__ = [
    "COMMAND_LINE",
    "REGRADE",
    "RegradePreview",
    "StatusChange",
    "apply_regrade",
    "check_regrade",
    "compare_results",
    "command_line_details",
    "decision_flag",
    "flagged_attempt_ids",
    "gradable_attempts",
    "grade_history",
    "pending_regrade",
    "preview_regrade",
    "regrade_key",
    "regrade_note",
    "regradable_attempts",
    "regrade_version_or_404",
]

REGRADE = "regrade"
# Who asked, in the audit log, when a regrade is asked for by `practicum regrade` (no person).
COMMAND_LINE = "command line"
REGRADERS = (Role.ASSESSOR, Role.CENTRE_ADMIN)
PENDING = (JobStatus.QUEUED, JobStatus.RUNNING)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChange:
    """One check, question, PDPO rule or PR whose status a regrade would change."""

    kind: str
    target_id: str
    title: str
    before: str | None
    after: str | None

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.target_id}: {self.before or 'absent'} -> {self.after or 'absent'}"
        )


@dataclass(frozen=True)
class RegradePreview:
    """The stored automatic result of an attempt beside what grading it again now gives."""

    attempt_id: int
    stored_verdict: str
    stored_grader_version: str
    new_verdict: str | None = None
    new_grader_version: str | None = None
    changes: tuple[StatusChange, ...] = ()
    problem: str = ""

    @property
    def verdict_changed(self) -> bool:
        """Whether the automatic verdict would differ."""
        return self.new_verdict is not None and self.new_verdict != self.stored_verdict

    @property
    def changed(self) -> bool:
        """Whether the verdict or any status would differ."""
        return self.verdict_changed or bool(self.changes)


def _statuses(result: GradingResult) -> list[tuple[str, str, str, str]]:
    """(kind, id, title, status) of everything in a result that has a status."""
    rows = [("check", c.check_id, c.check_type, str(c.status)) for c in result.checks]
    rows += [("question", i.item_id, i.kind, str(i.status)) for i in result.items]
    rows += [("PDPO rule", r.rule_id, r.title, str(r.status)) for r in result.pdpo]
    rows += [("requirement", r.pr_id, "", str(r.status)) for r in result.requirements]
    return rows


def compare_results(stored: GradingResult, new: GradingResult) -> tuple[StatusChange, ...]:
    """Every check, question, PDPO rule and PR whose status differs between two results."""
    before = {(kind, ident): (title, status) for kind, ident, title, status in _statuses(stored)}
    after = {(kind, ident): (title, status) for kind, ident, title, status in _statuses(new)}
    changes: list[StatusChange] = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, now = before.get(key), after.get(key)
        old_status = old[1] if old else None
        new_status = now[1] if now else None
        if old_status != new_status:
            title = (now or old or ("", ""))[0]
            changes.append(StatusChange(key[0], key[1], title, old_status, new_status))
    return tuple(changes)


def preview_regrade(
    session: Session, attempt: Attempt, *, store: SandboxStore | None = None
) -> RegradePreview:
    """Grade the attempt's frozen sandbox again and compare with its latest stored result.

    Stores nothing. ValueError if the attempt has no stored result yet; a sandbox or template
    that is gone gives a preview with ``problem`` set instead of a result.
    """
    record = latest_grade_record(session, attempt)
    if record is None:
        raise ValueError(f"attempt {attempt.id} has not been graded yet")
    stored = GradingResult.from_dict(record.result)
    base = RegradePreview(attempt.id, stored.verdict.value, record.grader_version)
    store = store if store is not None else sandboxes.get_store()
    try:
        new = grade_pinned(attempt, store=store)
    except TemplateNotFound:
        return _with_problem(
            base,
            "The template this attempt was cloned from is no longer on disk; it is not "
            "generated again, so the attempt cannot be regraded.",
        )
    except SandboxNotFound:
        return _with_problem(
            base, "The attempt's sandbox has been deleted under the retention setting."
        )
    except Exception as exc:
        logger.exception("regrade preview of attempt %s failed", attempt.id)
        return _with_problem(base, f"Grading raised an error: {type(exc).__name__}: {exc}")
    return RegradePreview(
        attempt.id,
        base.stored_verdict,
        base.stored_grader_version,
        new_verdict=new.verdict.value,
        new_grader_version=new.grader_version,
        changes=compare_results(stored, new),
    )


def _with_problem(preview: RegradePreview, problem: str) -> RegradePreview:
    return RegradePreview(
        preview.attempt_id, preview.stored_verdict, preview.stored_grader_version, problem=problem
    )


def gradable_attempts(
    session: Session,
    *,
    scenario_key: str | None = None,
    attempt_ids: Iterable[int] = (),
    centre_id: int | None = None,
) -> Sequence[Attempt]:
    """Attempts with a stored grading result, oldest first; optionally of one scenario (every
    version), some ids, or one centre's trainees."""
    query = (
        select(Attempt).where(Attempt.id.in_(select(GradeRecord.attempt_id))).order_by(Attempt.id)
    )
    if scenario_key is not None:
        query = query.join(
            DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id
        ).where(
            DefinitionVersion.kind == DefinitionKind.SCENARIO,
            DefinitionVersion.key == scenario_key,
        )
    ids = list(attempt_ids)
    if ids:
        query = query.where(Attempt.id.in_(ids))
    if centre_id is not None:
        query = query.join(User, Attempt.trainee_id == User.id).where(User.centre_id == centre_id)
    return list(session.scalars(query))


# --- applying a regrade (as a job) -------------------------------------------------------------


def regrade_key(attempt: Attempt, record: GradeRecord) -> str:
    """The job key of regrading an attempt whose latest result is ``record``.

    Asking again before that job has run finds the same job; once it has added a newer record,
    a later regrade is new work with a new key.
    """
    return f"{REGRADE}:attempt:{attempt.id}:after:{record.id}"


def record_id_of(key: str) -> int | None:
    """The GradeRecord id a regrade job's key says it replaces (None for another key)."""
    head, _, tail = key.rpartition(":after:")
    return int(tail) if head.startswith(f"{REGRADE}:attempt:") and tail.isdigit() else None


def pending_regrade(session: Session, attempt: Attempt) -> Job | None:
    """The attempt's regrade job that is queued or running, if there is one."""
    return session.scalar(
        select(Job)
        .where(
            Job.kind == REGRADE,
            Job.target_id == attempt.id,
            Job.status.in_(PENDING),
        )
        .order_by(Job.id.desc())
        .limit(1)
    )


def command_line_details(actor: User | None) -> dict[str, str]:
    """What an audit entry adds to name its actor when no person acted (the command line)."""
    return {"by": COMMAND_LINE} if actor is None else {}


def check_regrade(session: Session, actor: User | None, attempt: Attempt) -> GradeRecord:
    """The latest result of an attempt the actor may have regraded now; or a ServiceError.

    Assessors and centre admins of the trainee's centre only (another centre's attempt is not
    found); None is the platform's operator at the command line, who may ask for any centre's.
    The attempt must have been graded, and no regrade of it may be waiting already.
    """
    if actor is not None and actor.role not in REGRADERS:
        raise ServiceError(NOT_ALLOWED, N_("Only assessors and centre admins can regrade."))
    if actor is not None and attempt.trainee.centre_id != actor.centre_id:
        raise ServiceError(NOT_FOUND, N_("There is no such attempt to review."))
    record = latest_grade_record(session, attempt)
    if record is None or attempt.status not in (AttemptStatus.GRADED, AttemptStatus.DECIDED):
        raise ServiceError(
            CONFLICT,
            N_("This attempt has not been graded yet, so there is nothing to regrade."),
        )
    if pending_regrade(session, attempt) is not None:
        raise ServiceError(
            CONFLICT,
            N_("A regrade of this attempt is already queued; its result will appear here."),
        )
    failed = session.scalar(select(Job).where(Job.key == regrade_key(attempt, record)))
    if failed is not None:
        raise ServiceError(
            CONFLICT,
            N_(
                "A regrade of this attempt was tried and failed; retry it from the Jobs page "
                "once its error is fixed."
            ),
        )
    return record


def _current_decision(session: Session, attempt: Attempt) -> DecisionVersion | None:
    return session.scalar(
        select(DecisionVersion)
        .where(DecisionVersion.attempt_id == attempt.id)
        .order_by(DecisionVersion.version.desc())
        .limit(1)
    )


def apply_regrade(
    session: Session,
    attempt: Attempt,
    *,
    after_record_id: int | None,
    requested_by: User | None,
    store: SandboxStore | None = None,
) -> GradeRecord | None:
    """Grade the attempt again and keep the result as a new GradeRecord beside the old ones.

    None when the latest record is no longer ``after_record_id`` (an earlier try of the same job
    already regraded it). ``requested_by`` None is the command line. The decision is never
    changed: if the verdict differs from the record replaced and a decision is recorded, the new
    record flags that decision version for review.
    Grading errors propagate, so that the job is tried again. Flushes; the caller commits.
    """
    previous = latest_grade_record(session, attempt)
    if previous is None or (after_record_id is not None and previous.id != after_record_id):
        return None
    result = grade_pinned(attempt, store=store if store is not None else sandboxes.get_store())
    decision = _current_decision(session, attempt)
    changed = result.verdict.value != previous.overall
    record = GradeRecord(
        attempt=attempt,
        created_at=utcnow(),
        overall=result.verdict.value,
        result=result.to_dict(),
        grader_version=result.grader_version,
        regraded_by_id=requested_by.id if requested_by is not None else None,
        flagged_decision_id=decision.id if changed and decision is not None else None,
    )
    session.add(record)
    audit_service.record(
        session,
        centre_id=attempt.trainee.centre_id,
        actor=requested_by,
        action="attempt.regraded",
        target_type="attempt",
        target_id=attempt.id,
        details={
            "from": previous.overall,
            "to": record.overall,
            "grader_version": record.grader_version,
            "decision_flagged": record.flagged_decision_id is not None,
            **command_line_details(requested_by),
        },
    )
    session.flush()
    return record


def grade_history(session: Session, attempt: Attempt) -> list[GradeRecord]:
    """Every grading result of the attempt, oldest first (the first grading, then regrades)."""
    return list(
        session.scalars(
            select(GradeRecord).where(GradeRecord.attempt_id == attempt.id).order_by(GradeRecord.id)
        )
    )


def decision_flag(session: Session, attempt: Attempt) -> GradeRecord | None:
    """The regrade that puts the attempt's current decision in question, if any.

    A regrade that changed the verdict after a decision flags that decision version; amending
    the decision (a newer version) clears the flag, and so does a later regrade that does not
    change the verdict again.
    """
    latest = latest_grade_record(session, attempt)
    if latest is None or latest.flagged_decision_id is None:
        return None
    decision = _current_decision(session, attempt)
    if decision is None or decision.id != latest.flagged_decision_id:
        return None
    return latest


def flagged_attempt_ids(session: Session, latest: Iterable[GradeRecord]) -> set[int]:
    """Of these latest grade records, the attempts whose current decision a regrade flagged."""
    flagged = {r.attempt_id: r.flagged_decision_id for r in latest if r.flagged_decision_id}
    if not flagged:
        return set()
    current = dict(
        session.execute(
            select(DecisionVersion.attempt_id, func.max(DecisionVersion.id))
            .where(DecisionVersion.attempt_id.in_(list(flagged)))
            .group_by(DecisionVersion.attempt_id)
        ).all()
    )
    return {attempt_id for attempt_id, d in flagged.items() if current.get(attempt_id) == d}


def regrade_note(session: Session, attempt: Attempt) -> GradeRecord | None:
    """The latest result when it comes from a regrade (the trainee's page says so).

    A regrade names who asked for it, except one from the command line; either way it is not
    the attempt's first result, which is the grading at submission.
    """
    latest = latest_grade_record(session, attempt)
    if latest is None:
        return None
    if latest.regraded_by_id is None and not _has_earlier_record(session, latest):
        return None
    return latest


def _has_earlier_record(session: Session, record: GradeRecord) -> bool:
    return (
        session.scalar(
            select(GradeRecord.id)
            .where(GradeRecord.attempt_id == record.attempt_id, GradeRecord.id < record.id)
            .limit(1)
        )
        is not None
    )


def regrade_version_or_404(session: Session, actor: User, version_id: int) -> DefinitionVersion:
    """A scenario version the actor's centre sees; a not-found error otherwise."""
    version = session.get(DefinitionVersion, version_id)
    if (
        version is None
        or actor.role not in REGRADERS
        or version.kind != DefinitionKind.SCENARIO
        or version.centre_id not in (None, actor.centre_id)
    ):
        raise ServiceError(NOT_FOUND, N_("There is no such scenario version."))
    return version


def regradable_attempts(
    session: Session, actor: User, version: DefinitionVersion
) -> tuple[list[Attempt], list[Attempt]]:
    """The actor's centre's graded attempts at a scenario version: those a regrade may be
    queued for now, and those that already have one waiting."""
    attempts = session.scalars(
        select(Attempt)
        .join(User, Attempt.trainee_id == User.id)
        .where(
            Attempt.scenario_version_id == version.id,
            Attempt.status.in_((AttemptStatus.GRADED, AttemptStatus.DECIDED)),
            Attempt.id.in_(select(GradeRecord.attempt_id)),
            User.centre_id == actor.centre_id,
        )
        .order_by(Attempt.id)
    )
    pending_ids = set(
        session.scalars(select(Job.target_id).where(Job.kind == REGRADE, Job.status.in_(PENDING)))
    )
    ready: list[Attempt] = []
    waiting: list[Attempt] = []
    for attempt in attempts:
        (waiting if attempt.id in pending_ids else ready).append(attempt)
    return ready, waiting
