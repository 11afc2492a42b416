"""Internal verification: a sample of decisions checked by a second assessor.

When a decision on an assessment attempt is recorded it is selected for moderation if it is
borderline (the decision goes against the recommendation after review, or against the automatic
verdict when grading gave one, e.g. because overrides changed the outcome), if any automatic
status was overridden on the way, or if it falls in the centre's sample. The
sample is deterministic: with p percent, an assessor's n-th decision in a unit is selected when
ceil(n * p / 100) > ceil((n - 1) * p / 100), so their first decision in each unit is checked and
then one in every 100 / p after it; at 0 percent only borderline and overridden ones are.

Any assessor of the centre other than the one who decided may moderate. A disagreement, with
its reason, goes back to the deciding assessor (who may amend) or to the lead assessors; an
amendment of the decision marks it resolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.i18n import N_
from training_platform import assessing_settings, audit_service
from training_platform.errors import CONFLICT, NOT_ALLOWED, NOT_FOUND, ServiceError
from training_platform.models import (
    Attempt,
    DecisionVersion,
    Moderation,
    ModerationStatus,
    Role,
    User,
    utcnow,
)

__all__ = [
    "REFERRALS",
    "AgreementRow",
    "agreement_rates",
    "can_moderate",
    "in_sample",
    "moderation_for",
    "moderations_of",
    "pending_moderations",
    "record_moderation",
    "resolve_disagreements",
    "select_for_moderation",
]

MIN_REASON_CHARS = 10
REFERRALS = ("assessor", "lead")


def in_sample(position: int, percent: int) -> bool:
    """Whether an assessor's `position`-th decision in a unit (1-based) is in a p% sample."""
    if percent <= 0 or position < 1:
        return False
    return math.ceil(position * percent / 100) > math.ceil((position - 1) * percent / 100)


def select_for_moderation(
    session: Session,
    version: DecisionVersion,
    *,
    unit_code: str,
    centre_id: int,
    position: int,
    borderline: bool,
    overridden: bool,
) -> Moderation | None:
    """Send a just-recorded decision to moderation when it is borderline, overridden or sampled.

    `position` is how many assessment decisions its assessor has made in the unit, this one
    included.
    """
    if borderline:
        basis = "borderline"
    elif overridden:
        basis = "overridden"
    elif in_sample(
        position, assessing_settings.settings_for(session, centre_id).moderation_percent
    ):
        basis = "sample"
    else:
        return None
    moderation = Moderation(
        attempt_id=version.attempt_id,
        decision_version_id=version.id,
        decided_by_id=version.decided_by_id,
        unit_code=unit_code,
        basis=basis,
        status=ModerationStatus.PENDING,
        comment="",
        selected_at=utcnow(),
    )
    session.add(moderation)
    session.flush()
    return moderation


def resolve_disagreements(session: Session, attempt: Attempt, when: datetime) -> None:
    """Mark the attempt's unresolved disagreements resolved: its decision was amended."""
    for moderation in session.scalars(
        select(Moderation).where(
            Moderation.attempt_id == attempt.id,
            Moderation.status == ModerationStatus.DISAGREED,
            Moderation.resolved_at.is_(None),
        )
    ):
        moderation.resolved_at = when


def moderations_of(session: Session, attempt: Attempt) -> list[Moderation]:
    """The attempt's moderations, oldest first."""
    return list(
        session.scalars(
            select(Moderation).where(Moderation.attempt_id == attempt.id).order_by(Moderation.id)
        )
    )


def _centre_query(centre_id: int):
    return (
        select(Moderation)
        .join(User, Moderation.decided_by_id == User.id)
        .where(User.centre_id == centre_id)
    )


def pending_moderations(session: Session, centre_id: int) -> list[Moderation]:
    """Moderations of the centre waiting for a second assessor, oldest first."""
    return list(
        session.scalars(
            _centre_query(centre_id)
            .where(Moderation.status == ModerationStatus.PENDING)
            .order_by(Moderation.selected_at, Moderation.id)
        )
    )


def moderation_for(session: Session, user: User, moderation_id: int) -> Moderation:
    """A moderation of the user's centre (staff only); or a not-found error."""
    moderation = session.get(Moderation, moderation_id)
    if (
        moderation is None
        or user.role not in (Role.ASSESSOR, Role.CENTRE_ADMIN)
        or moderation.decided_by.centre_id != user.centre_id
    ):
        raise ServiceError(NOT_FOUND, N_("There is no such moderation."))
    return moderation


def can_moderate(user: User, moderation: Moderation) -> bool:
    """Whether this user may record the outcome: another assessor of the centre, still pending."""
    return (
        user.role == Role.ASSESSOR
        and user.centre_id == moderation.decided_by.centre_id
        and user.id != moderation.decided_by_id
        and moderation.status == ModerationStatus.PENDING
    )


def record_moderation(
    session: Session,
    moderator: User,
    moderation: Moderation,
    outcome: str,
    comment: str,
    referred_to: str = "assessor",
) -> Moderation:
    """Agree or disagree with a sampled decision; a disagreement needs a reason and a referral."""
    if moderator.role != Role.ASSESSOR:
        raise ServiceError(NOT_ALLOWED, N_("Only assessors can moderate decisions."))
    if moderator.centre_id != moderation.decided_by.centre_id:
        raise ServiceError(NOT_FOUND, N_("There is no such moderation."))
    if moderator.id == moderation.decided_by_id:
        raise ServiceError(
            NOT_ALLOWED, N_("A decision is moderated by another assessor, not by its own.")
        )
    if moderation.status != ModerationStatus.PENDING:
        raise ServiceError(CONFLICT, N_("This decision has already been moderated."))
    text = (comment or "").replace("\r\n", "\n").strip()
    problems: list[str] = []
    if outcome not in (ModerationStatus.AGREED.value, ModerationStatus.DISAGREED.value):
        problems.append(N_('Choose "agree" or "disagree".'))
    elif outcome == ModerationStatus.DISAGREED.value:
        if len(text) < MIN_REASON_CHARS:
            problems.append(N_("Give the reason for disagreeing (at least 10 characters)."))
        if referred_to not in REFERRALS:
            problems.append(N_("Choose who the disagreement goes to."))
    if len(text) > 4000:
        problems.append(N_("Keep each text under 4,000 characters."))
    if problems:
        raise ServiceError.invalid(problems)
    status = ModerationStatus(outcome)
    moderation.status = status
    moderation.moderator_id = moderator.id
    moderation.moderator = moderator
    moderation.comment = text
    moderation.referred_to = referred_to if status == ModerationStatus.DISAGREED else None
    moderation.moderated_at = utcnow()
    audit_service.record(
        session,
        centre_id=moderator.centre_id,
        actor=moderator,
        action=f"moderation.{status.value}",
        target_type="attempt",
        target_id=moderation.attempt_id,
        details={
            "moderation_id": moderation.id,
            "decided_by_id": moderation.decided_by_id,
            "referred_to": moderation.referred_to,
            "comment": text,
        },
    )
    session.flush()
    return moderation


@dataclass(frozen=True)
class AgreementRow:
    """How often a second assessor agreed with one assessor's decisions (in one unit or all)."""

    assessor: User
    unit_code: str | None
    moderated: int
    agreed: int
    pending: int

    @property
    def disagreed(self) -> int:
        """Moderated decisions the second assessor disagreed with."""
        return self.moderated - self.agreed

    @property
    def rate(self) -> float | None:
        """Agreed / moderated, or None when nothing was moderated yet."""
        return self.agreed / self.moderated if self.moderated else None


def agreement_rates(
    session: Session, centre_id: int
) -> tuple[list[AgreementRow], list[AgreementRow]]:
    """Agreement per assessor, and per assessor and unit, over the centre's moderations."""
    totals: dict[tuple[int, str | None], list[int]] = {}
    users: dict[int, User] = {}
    for moderation in session.scalars(_centre_query(centre_id)):
        users[moderation.decided_by_id] = moderation.decided_by
        for key in (
            (moderation.decided_by_id, None),
            (moderation.decided_by_id, moderation.unit_code),
        ):
            counts = totals.setdefault(key, [0, 0, 0])
            if moderation.status == ModerationStatus.PENDING:
                counts[2] += 1
            else:
                counts[0] += 1
                counts[1] += moderation.status == ModerationStatus.AGREED
    rows = [
        AgreementRow(users[uid], unit, moderated, agreed, pending)
        for (uid, unit), (moderated, agreed, pending) in totals.items()
    ]
    rows.sort(key=lambda r: (r.assessor.display_name, r.assessor.id, r.unit_code or ""))
    return [r for r in rows if r.unit_code is None], [r for r in rows if r.unit_code is not None]
