"""Sign in and sign out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from training_platform.accounts import authenticate
from training_platform.db import get_session
from training_platform.security import is_safe_next, landing_url

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Email or password is incorrect."


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; on success go to `next` (if on this site) or the role's page."""
    next_url = request.values.get("next")
    if not is_safe_next(next_url):
        next_url = None
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_url or landing_url(current_user))

    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(get_session(), form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(next_url or landing_url(user))
        error = LOGIN_FAILED
    return render_template("auth/login.html", form=form, error=error, next_url=next_url)


@bp.post("/logout")
@login_required
def logout():
    """Sign out; a POST, so CSRF protection keeps other sites from doing it."""
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
