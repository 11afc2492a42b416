"""E-mail to trainees and assessors about decisions, allocations, moderation and appeals.

Each message is written in the recipient's language (``User.language``, else the site's
default) and sent after the change is committed, by the view that made it.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, url_for
from flask_babel import force_locale, gettext

from training_platform.mail import send_mail
from training_platform.models import (
    Allocation,
    Appeal,
    AppealStatus,
    Decision,
    DecisionSource,
    DecisionVersion,
    Moderation,
    User,
)

__all__ = [
    "notify_allocation",
    "notify_appeal_outcome",
    "notify_decision",
    "notify_disagreement",
]


def _locale(user: User) -> str:
    return user.language or current_app.config.get("BABEL_DEFAULT_LOCALE") or "en"


def _decision_words(decision: Decision) -> str:
    if decision == Decision.COMPETENT:
        return gettext("competent")
    return gettext("not yet competent")


def notify_decision(trainee: User, version: DecisionVersion) -> None:
    """Tell the trainee a decision was recorded or amended on their attempt."""
    link = url_for("attempts.result", attempt_id=version.attempt_id, _external=True)
    with force_locale(_locale(trainee)):
        decision = _decision_words(version.decision)
        if version.source == DecisionSource.DECISION:
            subject = gettext("Decision recorded on attempt #%(id)s", id=version.attempt_id)
            body = gettext(
                "Hello %(name)s,\n\nYour assessor has recorded the decision on attempt "
                "#%(id)s: %(decision)s.\n\nRead it with the feedback: %(link)s\n",
                name=trainee.display_name,
                id=version.attempt_id,
                decision=decision,
                link=link,
            )
        else:
            subject = gettext("Decision amended on attempt #%(id)s", id=version.attempt_id)
            body = gettext(
                "Hello %(name)s,\n\nThe decision on attempt #%(id)s has been changed. It is "
                "now: %(decision)s.\nReason: %(reason)s\n\nRead it with the feedback: %(link)s\n",
                name=trainee.display_name,
                id=version.attempt_id,
                decision=decision,
                reason=version.reason,
                link=link,
            )
    send_mail(trainee.email, subject, body)


def notify_allocation(allocation: Allocation) -> None:
    """Tell an assessor an attempt was allocated to them."""
    assessor = allocation.assessor
    link = url_for("review.attempt", attempt_id=allocation.attempt_id, _external=True)
    with force_locale(_locale(assessor)):
        subject = gettext("Attempt #%(id)s allocated to you", id=allocation.attempt_id)
        body = gettext(
            "Hello %(name)s,\n\nAttempt #%(id)s has been allocated to you for a decision.\n\n"
            "Open it: %(link)s\n",
            name=assessor.display_name,
            id=allocation.attempt_id,
            link=link,
        )
    send_mail(assessor.email, subject, body)


def notify_disagreement(moderation: Moderation, recipients: Iterable[User]) -> None:
    """Tell the deciding assessor (or the leads) a moderator disagreed with a decision."""
    link = url_for("review.attempt", attempt_id=moderation.attempt_id, _external=True)
    for user in recipients:
        with force_locale(_locale(user)):
            subject = gettext(
                "Moderation: disagreement on attempt #%(id)s", id=moderation.attempt_id
            )
            body = gettext(
                "Hello %(name)s,\n\nA second assessor disagreed with the decision on attempt "
                "#%(id)s.\nReason: %(reason)s\n\nThe decision may be amended with a reason: "
                "%(link)s\n",
                name=user.display_name,
                id=moderation.attempt_id,
                reason=moderation.comment,
                link=link,
            )
        send_mail(user.email, subject, body)


def notify_appeal_outcome(appeal: Appeal) -> None:
    """Tell the trainee the outcome of their appeal."""
    trainee = appeal.trainee
    link = url_for("attempts.result", attempt_id=appeal.attempt_id, _external=True)
    with force_locale(_locale(trainee)):
        subject = gettext("Outcome of your appeal on attempt #%(id)s", id=appeal.attempt_id)
        if appeal.status == AppealStatus.UPHELD:
            outcome = gettext("The decision was upheld.")
        else:
            outcome = gettext("The decision was changed.")
        body = gettext(
            "Hello %(name)s,\n\n%(outcome)s\nReason: %(reason)s\n\nRead it: %(link)s\n",
            name=trainee.display_name,
            outcome=outcome,
            reason=appeal.outcome_comment,
            link=link,
        )
    send_mail(trainee.email, subject, body)
