"""Errors a user can act on: the one service error type, and how each door renders it.

Services raise ``ServiceError``; a view flashes it, shows it beside its form or as a 400 page, the
CLI prints it and exits 2, and a JSON API would send ``to_dict()``. Error pages for HTTP statuses
(404, CSRF, too large) are rendered in the site's layout here too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import click
from flask import Flask, current_app, flash, render_template
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from graders.definitions import DefinitionError
from sandbox_crm.i18n import N_
from sandbox_crm.operations import OperationError

# What went wrong, for a program: a door may map it to its own status (HTTP, exit code).
INVALID = "invalid"  # the input breaks a rule; the message says which
NOT_FOUND = "not_found"  # nothing this user may see by that id
NOT_ALLOWED = "not_allowed"  # this user's role may not do this
CONFLICT = "conflict"  # the record's state no longer allows it (submitted, decided)
TOO_LARGE = "too_large"  # an upload over the size limit
INVALID_DEFINITION = "invalid_definition"  # a unit or scenario file with problems

HTTP_STATUS = {NOT_FOUND: 404, NOT_ALLOWED: 403, TOO_LARGE: 413}


class ServiceError(Exception):
    """A refused request, with a message fit to show the user who made it.

    ``code`` says what kind of refusal it is (one of the constants above), ``field`` names the
    input at fault when there is one, and ``problems`` lists every problem when there are several
    (each shown on its own line); ``message`` sums them up.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        field: str | None = None,
        problems: Iterable[str] = (),
    ) -> None:
        self.code = code
        # Kept as given when text already (a marked Message keeps its template and values).
        self.problems = tuple(p if isinstance(p, str) else str(p) for p in problems)
        self.message = message or " ".join(self.problems)
        self.field = field
        super().__init__(self.message)

    @classmethod
    def invalid(cls, problems: str | Sequence[str], *, field: str | None = None) -> ServiceError:
        """An input refused for one or several reasons, each fit to show the user."""
        listed = (problems,) if isinstance(problems, str) else tuple(problems)
        return cls(INVALID, " ".join(listed), field=field, problems=listed)

    @classmethod
    def from_definition_error(cls, error: DefinitionError) -> ServiceError:
        """A unit or scenario file's problems (file, line, path and message each)."""
        return cls(
            INVALID_DEFINITION,
            N_("The definition has problems."),
            problems=[str(problem) for problem in error.problems],
        )

    @classmethod
    def from_operation_error(cls, error: OperationError) -> ServiceError:
        """A sandbox operation refused its input; nothing was changed."""
        return cls(INVALID, error.message, field=error.field)

    @property
    def messages(self) -> tuple[str, ...]:
        """Each problem on its own, or the message alone."""
        return self.problems or (self.message,)

    @property
    def http_status(self) -> int:
        """The HTTP status a page or an API answers with."""
        return HTTP_STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON API sends it."""
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "problems": list(self.messages),
        }


CSRF_MESSAGE = N_(
    "Your form expired or was not sent from this site. Reload the page and try again."
)
TOO_LARGE_MESSAGE = "The request is larger than the {limit} KiB limit."

MESSAGES = {
    400: (
        N_("Bad request"),
        N_("The request could not be understood. Check the form and try again."),
    ),
    403: (N_("Not allowed"), N_("Your account does not have access to this page.")),
    404: (
        N_("Page not found"),
        N_("There is no page at this address. It may have moved or been removed."),
    ),
    409: (N_("Cannot open"), N_("This cannot be opened in its current state.")),
    413: (N_("Too large"), N_("The request is larger than this site accepts.")),
    429: (
        N_("Too many attempts"),
        N_(
            "Too many failed sign-ins for this account or from this address. "
            "Wait a few minutes, then try again."
        ),
    ),
    500: (
        N_("Something went wrong"),
        N_("The server could not finish the request. Try again shortly."),
    ),
}


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    """The error page for an HTTP status, optionally with a specific message."""
    title, default_message = MESSAGES.get(
        code, (N_("Error"), N_("The request could not be completed."))
    )
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=gettext(title),
            message=gettext(message or default_message),
        ),
        code,
    )


def flash_service_error(error: ServiceError, prefix: str = "") -> None:
    """Show a refusal on the next page, after a redirect."""
    from training_platform.i18n import translated  # i18n imports the app's views' helpers

    flash(f"{prefix}{translated(error.message)}".strip(), "error")


def form_errors(error: ServiceError) -> list[str]:
    """A refusal's problems, one line each, to show beside the form that was sent."""
    return [gettext(message) for message in error.messages]


def service_error_page(error: ServiceError) -> tuple[str, int]:
    """A refusal no form can show: the error page with its message and status."""
    return render_error(error.http_status, error.message)


def exit_with(error: ServiceError) -> NoReturn:
    """The CLI's way: the message and each problem on stderr, exit status 2."""
    lines = [error.message, *(p for p in error.problems if p != error.message)]
    click.echo("\n".join(lines), err=True)
    sys.exit(2)


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
    app.register_error_handler(ServiceError, service_error_page)
    for code in MESSAGES:
        app.register_error_handler(code, handle_http_error)
