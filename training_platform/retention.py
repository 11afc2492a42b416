"""The centre's retention settings: how long sandboxes and evidence are kept after a decision.

Centre admins only. The policy is applied by `practicum purge` (and any scheduled purge) through
``retention_service.apply_retention_policies``; this page also shows what it would remove now.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from sandbox_crm.i18n import N_
from training_platform import retention_service, sandboxes
from training_platform.db import get_session
from training_platform.errors import ServiceError, form_errors
from training_platform.models import Role
from training_platform.navigation import add_nav_item
from training_platform.security import role_required

bp = Blueprint("retention", __name__, url_prefix="/settings/retention")
add_nav_item(
    bp,
    "retention.settings",
    N_("Retention"),
    roles=(Role.CENTRE_ADMIN,),
    section=N_("Centre"),
    order=80,
)


def _page(values: dict[str, str], errors: list[str], status: int = 200):
    session = get_session()
    policy = retention_service.get_policy(session, current_user.centre_id)
    preview = retention_service.apply_retention_policies(
        session, sandboxes.get_store(), dry_run=True, centre_id=current_user.centre_id
    )
    return (
        render_template(
            "retention/settings.html",
            policy=policy,
            values=values,
            errors=errors,
            preview=preview,
            max_days=retention_service.MAX_POLICY_DAYS,
            platform_days=sandboxes.retention_days(),
        ),
        status,
    )


@bp.get("")
@role_required(Role.CENTRE_ADMIN)
def settings():
    """The retention policy form, and what the policy would remove now."""
    policy = retention_service.get_policy(get_session(), current_user.centre_id)
    values = {
        "sandbox_days": str(policy.sandbox_days or "") if policy else "",
        "evidence_days": str(policy.evidence_days or "") if policy else "",
    }
    return _page(values, [])


@bp.post("")
@role_required(Role.CENTRE_ADMIN)
def save():
    """Save the centre's retention policy."""
    session = get_session()
    values = {
        "sandbox_days": request.form.get("sandbox_days", "")[:12],
        "evidence_days": request.form.get("evidence_days", "")[:12],
    }
    try:
        retention_service.set_policy(session, current_user, **values)
    except ServiceError as error:
        session.rollback()
        return _page(values, form_errors(error), 400)
    session.commit()
    flash(gettext("Retention policy saved."), "success")
    return redirect(url_for("retention.settings"))
