"""Sign-in plumbing: the login manager, CSRF protection, sign-in throttling, security headers,
and role checks for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from training_platform.db import get_session
from training_platform.models import Role, User

login_manager = LoginManager()
login_manager.login_view = "auth.login"

csrf = CSRFProtect()

# Only failed sign-ins count against these limits (see auth.login); in-memory storage by
# default, or RATELIMIT_STORAGE_URI (e.g. redis://...) so that several servers share counts.
limiter = Limiter(key_func=get_remote_address)

# The pages load scripts and styles from this site only and may not be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

# Where each role lands after signing in, if that page exists yet.
LANDING_ENDPOINTS = {
    Role.TRAINEE: "catalogue.index",
    Role.ASSESSOR: "review.queue",
    Role.CENTRE_ADMIN: "authoring.index",
}
HOME_ENDPOINT = "home.index"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's hook: the signed-in user for the "<id>.<session version>" in the cookie.

    A cookie from before a sign-out or password change carries an old version and is refused.
    """
    number, _, version = user_id.partition(".")
    digits = user_id.isascii() and number.isdigit() and version.isdigit()
    if not digits or max(len(number), len(version)) > 18:
        return None
    user = get_session().get(User, int(number))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


@login_manager.unauthorized_handler
def redirect_to_login():
    """Send a visitor to the sign-in page, remembering the page they asked for."""
    home = url_for(HOME_ENDPOINT)
    if request.path == home:
        return redirect(url_for("auth.login"))
    flash(gettext("Please sign in to continue."), "info")
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def init_app(app: Flask) -> None:
    """Attach the login manager, CSRF protection of every POST, throttling and headers."""
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    """Every response: a content security policy, no framing, no sniffing, a referrer policy."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def role_required(*roles: Role | str) -> Callable:
    """Let only signed-in users with one of these roles in; others get 403, strangers the login."""
    allowed = {Role(role) for role in roles}

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def landing_url(user: User) -> str:
    """URL of the page a user starts from: their role's main page."""
    return url_for(LANDING_ENDPOINTS[user.role])


def is_safe_next(target: str | None) -> bool:
    """Accept only a path on this site ("/..."), never another host or scheme."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(char) < 32 for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
