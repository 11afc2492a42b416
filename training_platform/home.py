"""The start page: sends each role to its main page."""

from __future__ import annotations

from flask import Blueprint, redirect
from flask_login import current_user, login_required

from sandbox_crm.i18n import N_
from training_platform.navigation import add_nav_item
from training_platform.security import landing_url

bp = Blueprint("home", __name__)
add_nav_item(bp, "home.index", N_("Home"), section=N_("Overview"), order=0)


@bp.route("/")
@login_required
def index():
    """Redirect to the role's landing page (catalogue, review queue or authoring)."""
    return redirect(landing_url(current_user))
