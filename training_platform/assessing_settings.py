"""A centre's assessing settings: the moderation sample, the appeal period and lead assessors.

Lead assessors are named by the centre admin. A lead may allocate attempts (as the admin may),
amend any decision of the centre, and receives moderation disagreements referred to a lead.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sandbox_crm.i18n import N_
from training_platform import audit_service
from training_platform.errors import NOT_ALLOWED, ServiceError
from training_platform.models import AssessmentSettings, LeadAssessor, Role, User

__all__ = [
    "DEFAULT_APPEAL_DAYS",
    "DEFAULT_MODERATION_PERCENT",
    "assessors_of",
    "is_lead",
    "lead_assessors",
    "may_allocate",
    "save_settings",
    "settings_for",
]

DEFAULT_MODERATION_PERCENT = 10
DEFAULT_APPEAL_DAYS = 14
MAX_APPEAL_DAYS = 365


def settings_for(session: Session, centre_id: int) -> AssessmentSettings:
    """The centre's settings; the defaults (not stored) when it never changed them."""
    found = session.scalar(
        select(AssessmentSettings).where(AssessmentSettings.centre_id == centre_id)
    )
    return found or AssessmentSettings(
        centre_id=centre_id,
        moderation_percent=DEFAULT_MODERATION_PERCENT,
        appeal_days=DEFAULT_APPEAL_DAYS,
    )


def is_lead(session: Session, user: User) -> bool:
    """Whether the user is a lead assessor of their centre."""
    return user.role == Role.ASSESSOR and (
        session.scalar(
            select(LeadAssessor.id).where(
                LeadAssessor.user_id == user.id, LeadAssessor.centre_id == user.centre_id
            )
        )
        is not None
    )


def may_allocate(session: Session, user: User) -> bool:
    """Whether the user may allocate attempts to assessors: centre admins and lead assessors."""
    return user.role == Role.CENTRE_ADMIN or is_lead(session, user)


def assessors_of(session: Session, centre_id: int) -> list[User]:
    """The centre's active assessors, by name."""
    return list(
        session.scalars(
            select(User)
            .where(User.centre_id == centre_id, User.role == Role.ASSESSOR, User.is_active)
            .order_by(User.display_name, User.id)
        )
    )


def lead_assessors(session: Session, centre_id: int) -> list[User]:
    """The centre's lead assessors, by name."""
    return list(
        session.scalars(
            select(User)
            .join(LeadAssessor, LeadAssessor.user_id == User.id)
            .where(LeadAssessor.centre_id == centre_id, User.role == Role.ASSESSOR)
            .order_by(User.display_name, User.id)
        )
    )


def _whole_number(value: str | int | None, low: int, high: int, message: str) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or len(text) > 4 or not low <= int(text) <= high:
        raise ServiceError.invalid(message)
    return int(text)


def save_settings(
    session: Session,
    admin: User,
    *,
    moderation_percent: str | int | None,
    appeal_days: str | int | None,
    lead_ids: Iterable[str | int],
) -> AssessmentSettings:
    """Change the centre's moderation sample, appeal period and lead assessors (admins only)."""
    if admin.role != Role.CENTRE_ADMIN:
        raise ServiceError(NOT_ALLOWED, N_("Only centre admins can change these settings."))
    problems: list[str] = []
    try:
        percent = _whole_number(
            moderation_percent, 0, 100, N_("The moderation sample is a whole percent, 0 to 100.")
        )
    except ServiceError as error:
        problems += error.messages
    try:
        days = _whole_number(
            appeal_days, 1, MAX_APPEAL_DAYS, N_("The appeal period is 1 to 365 days.")
        )
    except ServiceError as error:
        problems += error.messages
    assessors = {a.id: a for a in assessors_of(session, admin.centre_id)}
    chosen: set[int] = set()
    for raw in lead_ids:
        text = str(raw).strip()
        if not text.isdigit() or len(text) > 9 or int(text) not in assessors:
            problems.append(N_("Choose lead assessors among the centre's assessors."))
            break
        chosen.add(int(text))
    if problems:
        raise ServiceError.invalid(problems)
    settings = settings_for(session, admin.centre_id)
    if settings.id is None:
        session.add(settings)
    before = {
        "moderation_percent": settings.moderation_percent,
        "appeal_days": settings.appeal_days,
    }
    settings.moderation_percent = percent
    settings.appeal_days = days
    previous = {u.id for u in lead_assessors(session, admin.centre_id)}
    session.execute(delete(LeadAssessor).where(LeadAssessor.centre_id == admin.centre_id))
    session.add_all(LeadAssessor(centre_id=admin.centre_id, user_id=uid) for uid in sorted(chosen))
    audit_service.record(
        session,
        centre_id=admin.centre_id,
        actor=admin,
        action="settings.assessing_changed",
        target_type="centre",
        target_id=admin.centre_id,
        details={
            "from": {**before, "leads": sorted(previous)},
            "to": {"moderation_percent": percent, "appeal_days": days, "leads": sorted(chosen)},
        },
    )
    session.flush()
    return settings
