"""Error pages in the site's layout, with messages a user can act on."""

from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

CSRF_MESSAGE = "Your form expired or was not sent from this site. Reload the page and try again."
TOO_LARGE_MESSAGE = "The request is larger than the {limit} KiB limit."

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Check the form and try again."),
    403: ("Not allowed", "Your account does not have access to this page."),
    404: ("Page not found", "There is no page at this address. It may have moved or been removed."),
    409: ("Cannot open", "This cannot be opened in its current state."),
    413: ("Too large", "The request is larger than this site accepts."),
    429: (
        "Too many attempts",
        "Too many failed sign-ins for this account or from this address. "
        "Wait a few minutes, then try again.",
    ),
    500: ("Something went wrong", "The server could not finish the request. Try again shortly."),
}


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    """The error page for an HTTP status, optionally with a specific message."""
    title, default_message = MESSAGES.get(code, ("Error", "The request could not be completed."))
    return (
        render_template(
            "errors/error.html", code=code, title=title, message=message or default_message
        ),
        code,
    )


def handle_csrf_error(_error: CSRFError) -> tuple[str, int]:
    """A POST without a valid CSRF token."""
    return render_error(400, CSRF_MESSAGE)


def handle_http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    """Known HTTP errors get the layout; anything else passes through unchanged."""
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit:  # the limit in force, which a deployment may have changed
            return render_error(413, TOO_LARGE_MESSAGE.format(limit=limit // 1024))
    if error.code in MESSAGES:
        return render_error(error.code)
    return error


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    for code in MESSAGES:
        app.register_error_handler(code, handle_http_error)
