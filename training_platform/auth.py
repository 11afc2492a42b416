"""Sign in, sign out and change your password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from training_platform.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AccountError,
    authenticate,
    change_password,
    end_sessions,
)
from training_platform.db import get_session
from training_platform.errors import ServiceError
from training_platform.models import normalise_email
from training_platform.security import is_safe_next, landing_url, limiter

bp = Blueprint("auth", __name__)

LOGIN_FAILED = lazy_gettext("Email or password is incorrect.")
PASSWORD_HINT = lazy_gettext(
    "At least %(count)d characters; not one of the most common passwords. "
    "A few unrelated words make a strong one.",
    count=MIN_PASSWORD_LENGTH,
)


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        lazy_gettext("Password"), validators=[DataRequired(), Length(max=1024)]
    )


class ChangePasswordForm(FlaskForm):
    """The current password and the new one, twice."""

    current = PasswordField(
        lazy_gettext("Current password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
    )
    new = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        description=PASSWORD_HINT,
    )
    repeated = PasswordField(
        lazy_gettext("New password again"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
    )


def _account_key() -> str:
    """Throttling key of a sign-in: the account it names."""
    return "account:" + normalise_email(request.form.get("email", ""))[:254]


def _address_key() -> str:
    """Throttling key of a sign-in: the address it comes from."""
    return "address:" + (get_remote_address() or "")


def _failed(response: Response) -> bool:
    """A sign-in that did not sign anyone in (a success redirects)."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-account",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    key_func=_address_key,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-address",
)
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
    """Sign out of every browser; a POST, so CSRF protection keeps other sites from doing it."""
    session = get_session()
    end_sessions(session, current_user)
    session.commit()
    logout_user()
    flash(gettext("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change your own password; every other browser signed in as you is signed out."""
    form = ChangePasswordForm()
    error = None
    if form.validate_on_submit():
        session = get_session()
        try:
            change_password(
                session, current_user, form.current.data, form.new.data, form.repeated.data
            )
        except AccountError as refused:
            session.rollback()
            error = gettext(str(refused))
        else:
            session.commit()
            login_user(current_user._get_current_object())  # this browser keeps going
            flash(
                gettext("Your password has been changed. Other browsers have been signed out."),
                "success",
            )
            return redirect(landing_url(current_user))
    return render_template("auth/password.html", form=form, error=error)


# --- forgotten passwords and invitations -------------------------------------------------------

RESET_SENT = lazy_gettext(
    "If an active account uses that address, a link to choose a new password is on its way. "
    "It works once, within an hour."
)


class ForgotPasswordForm(FlaskForm):
    """The e-mail address of the account."""

    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    """A new password, twice."""

    new = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        description=PASSWORD_HINT,
    )
    repeated = PasswordField(
        lazy_gettext("New password again"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    scope="reset-account",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    key_func=_address_key,
    methods=["POST"],
    scope="reset-address",
)
def forgot():
    """Ask for a reset link by e-mail; the answer is the same whether the address exists or not."""
    from training_platform import users, users_service

    form = ForgotPasswordForm()
    if form.validate_on_submit():
        session = get_session()
        user = users_service.account_for_reset(session, form.email.data or "")
        if user is not None:
            users_service.send_set_password_mail(
                user, users_service.RESET, users.set_password_url(user, users_service.RESET)
            )
        flash(str(RESET_SENT), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


def _set_password_page(token: str, purpose: str, template: str):
    """Choose a password through a link; it works once, then every session of the account ends."""
    from training_platform import users_service

    session = get_session()
    try:
        user = users_service.user_for_token(session, token, purpose)
    except ServiceError as refused:
        return render_template(template, form=None, error=gettext(refused.message)), 400
    form = NewPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            users_service.set_password_with_token(
                session, token, purpose, form.new.data or "", form.repeated.data or ""
            )
        except ServiceError as refused:
            session.rollback()
            error = gettext(refused.message)
        else:
            session.commit()
            if current_user.is_authenticated:
                logout_user()
            flash(gettext("Your password is set. Sign in with it."), "success")
            return redirect(url_for("auth.login"))
    return render_template(template, form=form, error=error, user=user), (400 if error else 200)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Choose a new password from a reset link."""
    return _set_password_page(token, "reset", "auth/reset.html")


@bp.route("/account/setup/<token>", methods=["GET", "POST"])
def setup(token: str):
    """Choose the first password of an account from an invitation link."""
    return _set_password_page(token, "invite", "auth/setup.html")
