"""The trainee's door to an appeal: lodged from the result page of their decided assessment.

Assessors settle appeals from the review pages (training_platform.review).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user

from training_platform import appeal_service, i18n
from training_platform.db import get_session
from training_platform.errors import NOT_FOUND, ServiceError
from training_platform.models import Attempt, Role
from training_platform.security import role_required

bp = Blueprint("appeals", __name__)


@bp.post("/attempts/<int:attempt_id>/appeal")
@role_required(Role.TRAINEE)
def lodge(attempt_id: int):
    """Appeal the current decision on one's own assessment attempt, with a reason."""
    session = get_session()
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or attempt.trainee_id != current_user.id:
        abort(404)
    try:
        appeal_service.lodge_appeal(session, current_user, attempt, request.form.get("reason", ""))
    except ServiceError as error:
        session.rollback()
        if error.code == NOT_FOUND:
            abort(404)
        flash(i18n.translated(error.message), "error")
        return redirect(url_for("attempts.result", attempt_id=attempt_id, _anchor="appeal"))
    session.commit()
    flash(
        gettext("Your appeal has been lodged; another assessor will review the decision."),
        "success",
    )
    return redirect(url_for("attempts.result", attempt_id=attempt_id, _anchor="appeal"))
