"""Unit outcomes per trainee: what each unit's latest assessment decision says.

A trainee is competent in a unit when the latest decision on their assessment attempts in that
unit says competent and no appeal against it is pending. Practice attempts never count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from training_platform import review_service
from training_platform.models import (
    Appeal,
    AppealStatus,
    Attempt,
    AttemptStatus,
    Decision,
    Review,
    User,
)

__all__ = ["UnitOutcome", "unit_outcomes"]


@dataclass(frozen=True)
class UnitOutcome:
    """One unit's outcome for a trainee, from its latest assessment decision."""

    unit_code: str
    unit_title: str
    # The decision on the latest decided assessment attempt in the unit (its current version).
    decision: Decision
    decided_at: datetime
    # The attempt that decision is on: the evidence (review page /review/attempts/<id>).
    attempt_id: int
    # Whether an appeal against that decision is open.
    appeal_pending: bool

    @property
    def competent(self) -> bool:
        """Competent: the latest decision says so and no appeal is pending."""
        return self.decision == Decision.COMPETENT and not self.appeal_pending


def unit_outcomes(session: Session, trainee: User) -> list[UnitOutcome]:
    """Per unit the trainee was assessed in, its outcome (sorted by unit code)."""
    assessment_ids = review_service.assessment_scenario_ids(session, trainee.centre_id)
    rows = session.execute(
        select(Attempt, Review)
        .join(Review, Review.attempt_id == Attempt.id)
        .where(
            Attempt.trainee_id == trainee.id,
            Attempt.status == AttemptStatus.DECIDED,
            Attempt.scenario_version_id.in_(assessment_ids),
            Review.decision.is_not(None),
            Review.decided_at.is_not(None),
        )
        .order_by(Attempt.submitted_at, Attempt.id)
    ).all()
    latest: dict[str, tuple[Attempt, Review]] = {}
    for attempt, review in rows:
        latest[attempt.unit_version.unit_code] = (attempt, review)
    open_attempts = set(
        session.scalars(
            select(Appeal.attempt_id).where(
                Appeal.trainee_id == trainee.id, Appeal.status == AppealStatus.OPEN
            )
        )
    )
    outcomes = []
    for code, (attempt, review) in sorted(latest.items()):
        assert review.decision is not None and review.decided_at is not None  # noqa: S101
        outcomes.append(
            UnitOutcome(
                unit_code=code,
                unit_title=attempt.unit_version.title,
                decision=review.decision,
                decided_at=review.decided_at,
                attempt_id=attempt.id,
                appeal_pending=attempt.id in open_attempts,
            )
        )
    return outcomes
