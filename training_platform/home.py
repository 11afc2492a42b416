"""The start page: sends each role to its main page, or welcomes them until that page exists."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask_login import current_user, login_required

from training_platform.navigation import add_nav_item
from training_platform.security import FALLBACK_ENDPOINT, landing_endpoint, landing_url

bp = Blueprint("home", __name__)
add_nav_item(bp, "home.index", "Home", section="Overview", order=0)


@bp.route("/")
@login_required
def index():
    """Redirect to the role's landing page when it is registered; otherwise show a welcome."""
    if landing_endpoint(current_user) != FALLBACK_ENDPOINT:
        return redirect(landing_url(current_user))
    return render_template("home/index.html")
