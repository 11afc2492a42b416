"""The centre admin's page of the audit log: what admins and assessors did, and when."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from sandbox_crm.i18n import N_
from training_platform.cohorts_service import HK_OFFSET
from training_platform.db import get_session
from training_platform.models import AuditEntry, Role, User
from training_platform.navigation import add_nav_item
from training_platform.pagination import paginate
from training_platform.security import role_required

bp = Blueprint("audit_log", __name__, url_prefix="/centre/audit")
add_nav_item(
    bp, "audit_log.index", N_("Audit log"), (Role.CENTRE_ADMIN,), section=N_("Centre"), order=69
)

# Every action's name as the page shows it; an action missing here is shown by its dotted name.
ACTION_LABELS = {
    "user.created": N_("Person added"),
    "user.imported": N_("People imported"),
    "user.role_changed": N_("Role changed"),
    "user.deactivated": N_("Account deactivated"),
    "user.reactivated": N_("Account reactivated"),
    "user.password_reset_sent": N_("Password reset sent"),
    "cohort.created": N_("Cohort created"),
    "cohort.renamed": N_("Cohort renamed"),
    "cohort.archived": N_("Cohort archived"),
    "cohort.restored": N_("Cohort restored"),
    "cohort.member_added": N_("Added to cohort"),
    "cohort.member_removed": N_("Removed from cohort"),
    "cohort.offering_added": N_("Unit or scenario added to cohort"),
    "cohort.offering_removed": N_("Unit or scenario removed from cohort"),
    "window.created": N_("Assessment window opened"),
    "window.closed": N_("Assessment window closed"),
    "window.deleted": N_("Assessment window removed"),
    "window.extended": N_("Extension given"),
    "review.decided": N_("Decision recorded"),
    "review.amended": N_("Decision amended"),
}


def action_label(action: str) -> str:
    """An action's translated name (its dotted name when it has none)."""
    label = ACTION_LABELS.get(action)
    return gettext(label) if label else action


def _day(text: str) -> datetime | None:
    """A date typed as YYYY-MM-DD (a Hong Kong day), as the UTC time it starts; None if not one."""
    try:
        return datetime.strptime(text.strip()[:10], "%Y-%m-%d") - HK_OFFSET
    except ValueError:
        return None


@bp.get("")
@role_required(Role.CENTRE_ADMIN)
def index():
    """The centre's audit entries, newest first, filtered by action, actor and date."""
    session = get_session()
    centre_id = current_user.centre_id
    action = request.args.get("action", "")[:64]
    actor_arg = request.args.get("actor", "")
    actor_id = int(actor_arg) if actor_arg.isdigit() and len(actor_arg) < 18 else None
    since = _day(request.args.get("from", ""))
    until = _day(request.args.get("to", ""))
    stmt = select(AuditEntry).where(AuditEntry.centre_id == centre_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.created_at < until + timedelta(days=1))
    stmt = stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    page = paginate(session, stmt, request.args.get("page", 1, type=int) or 1, per_page=50)
    actors = session.scalars(
        select(User)
        .where(User.centre_id == centre_id, User.role != Role.TRAINEE)
        .order_by(User.display_name)
    ).all()
    return render_template(
        "centre/audit.html",
        page=page,
        actions=sorted(ACTION_LABELS, key=action_label),
        action_label=action_label,
        actors=actors,
        filters={
            "action": action,
            "actor": actor_id,
            "from": request.args.get("from", "")[:10] if since else "",
            "to": request.args.get("to", "")[:10] if until else "",
        },
    )
