"""Regrade preview: what grading an attempt again under today's graders would change.

The attempt's frozen sandbox is graded again against the template it was cloned from (its
pinned key, never a regenerated one) and the new result is compared with the latest stored
GradeRecord: the verdict, and every check, question, PDPO rule and PR whose status differs.
Nothing is stored; the assessor's decision and overrides are not involved (automatic results are
compared with automatic results).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.results import GradingResult
from sandbox_crm.store import SandboxNotFound, SandboxStore, TemplateNotFound
from training_platform import sandboxes
from training_platform.attempts_service import grade_pinned
from training_platform.models import (
    Attempt,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    User,
)
from training_platform.results_service import latest_grade_record

__all__ = [
    "RegradePreview",
    "StatusChange",
    "compare_results",
    "gradable_attempts",
    "preview_regrade",
]

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
