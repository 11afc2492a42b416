"""Appeals: a trainee contests a decision on an assessment; another assessor settles it.

A trainee may appeal the current version of a decision within the centre's appeal period
(``AssessmentSettings.appeal_days`` after that version was recorded), once per version (a
second appeal against the same decision is refused; an amended decision may be appealed
again). While an appeal is open the decision cannot be amended except by the appeal. An
assessor other than the one whose decision is appealed upholds it or changes it; a change is an
amendment whose reason is the appeal's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sandbox_crm.i18n import N_
from training_platform import assessing_settings, audit_service, review_service
from training_platform.errors import CONFLICT, NOT_ALLOWED, NOT_FOUND, ServiceError
from training_platform.models import (
    Appeal,
    AppealStatus,
    Attempt,
    AttemptStatus,
    DecisionVersion,
    Role,
    User,
    utcnow,
)

__all__ = [
    "AppealPanel",
    "appeal_for",
    "appeal_panel",
    "appeals_of",
    "can_review",
    "decide_appeal",
    "lodge_appeal",
    "open_appeals",
]

MIN_REASON_CHARS = 10
OUTCOMES = (AppealStatus.UPHELD.value, AppealStatus.CHANGED.value)


@dataclass(frozen=True)
class AppealPanel:
    """What the trainee's result page says about the decision's versions and an appeal."""

    current: DecisionVersion | None
    versions: tuple[DecisionVersion, ...]
    appeal: Appeal | None
    deadline: datetime | None
    can_appeal: bool
    # Whether the attempt is an assessment (only assessments are appealed).
    assessment: bool
    # Why the trainee cannot appeal now ("" when they can, or when nothing was decided).
    refusal: str

    @property
    def amended(self) -> bool:
        """Whether the decision changed after it was first recorded."""
        return len(self.versions) > 1


def _current(session: Session, attempt: Attempt) -> DecisionVersion | None:
    versions = review_service.decision_versions(session, attempt)
    return versions[-1] if versions else None


def _deadline(session: Session, attempt: Attempt, version: DecisionVersion) -> datetime:
    days = assessing_settings.settings_for(session, attempt.trainee.centre_id).appeal_days
    return version.decided_at + timedelta(days=days)


def _refusal(
    session: Session, attempt: Attempt, version: DecisionVersion | None, now: datetime
) -> str:
    """Why the trainee may not appeal now; "" when they may."""
    if attempt.status != AttemptStatus.DECIDED or version is None:
        return N_("There is no decision to appeal yet.")
    if not review_service.is_assessment(attempt):
        return N_("Practice attempts are not appealed: start another attempt instead.")
    existing = session.scalar(select(Appeal).where(Appeal.decision_version_id == version.id))
    if existing is not None:
        if existing.status == AppealStatus.OPEN:
            return N_("Your appeal against this decision is open; you will be told the outcome.")
        return N_("This decision has already been appealed; the outcome is final.")
    if now > _deadline(session, attempt, version):
        return N_("The period for appealing this decision has ended.")
    return ""


def appeal_panel(session: Session, attempt: Attempt, now: datetime | None = None) -> AppealPanel:
    """The decision's versions and the appeal state, for the trainee's result page."""
    versions = tuple(review_service.decision_versions(session, attempt))
    current = versions[-1] if versions else None
    appeal = session.scalar(
        select(Appeal).where(Appeal.attempt_id == attempt.id).order_by(Appeal.id.desc()).limit(1)
    )
    refusal = _refusal(session, attempt, current, now or utcnow())
    return AppealPanel(
        current=current,
        versions=versions,
        appeal=appeal,
        deadline=_deadline(session, attempt, current) if current is not None else None,
        can_appeal=current is not None and refusal == "",
        assessment=review_service.is_assessment(attempt),
        refusal=refusal if current is not None else "",
    )


def lodge_appeal(
    session: Session, trainee: User, attempt: Attempt, reason: str, now: datetime | None = None
) -> Appeal:
    """The trainee appeals the current decision on their assessment, with a reason."""
    if attempt.trainee_id != trainee.id:
        raise ServiceError(NOT_FOUND, N_("There is no such attempt."))
    version = _current(session, attempt)
    refusal = _refusal(session, attempt, version, now or utcnow())
    if refusal:
        raise ServiceError(CONFLICT, refusal)
    text = (reason or "").replace("\r\n", "\n").strip()
    if len(text) < MIN_REASON_CHARS:
        raise ServiceError.invalid(
            N_("Say why you appeal (at least 10 characters)."), field="reason"
        )
    if len(text) > 4000:
        raise ServiceError.invalid(N_("Keep each text under 4,000 characters."), field="reason")
    assert version is not None  # noqa: S101 - _refusal said there is one
    appeal = Appeal(
        attempt_id=attempt.id,
        decision_version_id=version.id,
        trainee_id=trainee.id,
        reason=text,
        status=AppealStatus.OPEN,
        outcome_comment="",
        lodged_at=utcnow(),
    )
    session.add(appeal)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent appeal on the same version won; the caller rolls back.
        raise ServiceError(
            CONFLICT, N_("This decision has already been appealed; the outcome is final.")
        ) from None
    audit_service.record(
        session,
        centre_id=trainee.centre_id,
        actor=trainee,
        action="appeal.lodged",
        target_type="attempt",
        target_id=attempt.id,
        details={"appeal_id": appeal.id, "version": version.version},
    )
    return appeal


def appeal_for(session: Session, user: User, appeal_id: int) -> Appeal:
    """An appeal of the user's centre (staff only); or a not-found error."""
    appeal = session.get(Appeal, appeal_id)
    if (
        appeal is None
        or user.role not in (Role.ASSESSOR, Role.CENTRE_ADMIN)
        or appeal.trainee.centre_id != user.centre_id
    ):
        raise ServiceError(NOT_FOUND, N_("There is no such appeal."))
    return appeal


def appeals_of(session: Session, attempt: Attempt) -> list[Appeal]:
    """The attempt's appeals, oldest first."""
    return list(
        session.scalars(select(Appeal).where(Appeal.attempt_id == attempt.id).order_by(Appeal.id))
    )


def open_appeals(session: Session, centre_id: int) -> list[Appeal]:
    """The centre's open appeals, oldest first."""
    return list(
        session.scalars(
            select(Appeal)
            .join(User, Appeal.trainee_id == User.id)
            .where(User.centre_id == centre_id, Appeal.status == AppealStatus.OPEN)
            .order_by(Appeal.lodged_at, Appeal.id)
        )
    )


def can_review(user: User, appeal: Appeal) -> bool:
    """Whether this user may settle the appeal: an assessor other than the appealed decider."""
    return (
        user.role == Role.ASSESSOR
        and user.centre_id == appeal.trainee.centre_id
        and user.id != appeal.decision_version.decided_by_id
        and appeal.status == AppealStatus.OPEN
    )


def decide_appeal(
    session: Session,
    reviewer: User,
    appeal: Appeal,
    outcome: str,
    comment: str,
    *,
    decision: str | None = None,
    based_on: int | str | None = None,
) -> Appeal:
    """Uphold the appealed decision, or change it (an amendment with the appeal as reason)."""
    if reviewer.role != Role.ASSESSOR:
        raise ServiceError(NOT_ALLOWED, N_("Only assessors can settle appeals."))
    if reviewer.centre_id != appeal.trainee.centre_id:
        raise ServiceError(NOT_FOUND, N_("There is no such appeal."))
    if reviewer.id == appeal.decision_version.decided_by_id:
        raise ServiceError(
            NOT_ALLOWED,
            N_("An appeal is settled by another assessor, not by the one whose decision it is."),
        )
    if appeal.status != AppealStatus.OPEN:
        raise ServiceError(CONFLICT, N_("This appeal has already been closed."))
    text = (comment or "").replace("\r\n", "\n").strip()
    problems: list[str] = []
    if outcome not in OUTCOMES:
        problems.append(N_('Choose "uphold" or "change the decision".'))
    if len(text) < MIN_REASON_CHARS:
        problems.append(N_("Give the outcome's reason for the trainee (at least 10 characters)."))
    if outcome == AppealStatus.CHANGED.value and decision == appeal.decision_version.decision.value:
        problems.append(N_("Changing the decision needs the other decision."))
    if problems:
        raise ServiceError.invalid(problems)
    attempt = appeal.attempt
    if outcome == AppealStatus.CHANGED.value:
        review = attempt.review
        review_service.amend_decision(
            session,
            reviewer,
            attempt,
            decision or "",
            review.comment if review is not None else "",
            text,
            based_on=based_on,
            appeal=appeal,
        )
    else:
        current = review_service.current_version_number(session, attempt)
        number = str(based_on or "").strip()
        if number and number.isdigit() and int(number) != current:
            raise ServiceError(CONFLICT, review_service.STALE_DECISION, field="version")
    appeal.status = AppealStatus(outcome)
    appeal.reviewer_id = reviewer.id
    appeal.reviewer = reviewer
    appeal.outcome_comment = text
    appeal.closed_at = utcnow()
    audit_service.record(
        session,
        centre_id=reviewer.centre_id,
        actor=reviewer,
        action=f"appeal.{appeal.status.value}",
        target_type="attempt",
        target_id=attempt.id,
        details={"appeal_id": appeal.id, "comment": text},
    )
    session.flush()
    return appeal
