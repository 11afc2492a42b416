"""Mount the sandbox CRM under each attempt, opening only sandboxes the user may see."""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, abort, current_app, g, make_response, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import DatabaseError

from graders.runner import trainee_actor
from sandbox_crm import web as crm_web
from sandbox_crm.backends.upgrade import SandboxTooNew, UpgradeError
from sandbox_crm.i18n import N_
from sandbox_crm.store import SandboxNotFound
from sandbox_crm.web.core import CrmContext
from training_platform import sandboxes
from training_platform.attempts_service import can_work_on, visible_attempt
from training_platform.db import get_session
from training_platform.errors import render_error
from training_platform.templating import version_title

STACK_KEY = "crm_sandbox_stack"
SANDBOX_BROKEN = N_(
    "The sandbox CRM of this attempt cannot be opened: its data file is damaged. "
    "Nothing was changed. Tell your assessor or centre admin."
)
SANDBOX_TOO_NEW = N_(
    "The sandbox CRM of this attempt was made by a newer release of Practicum than the one "
    "running now, so it cannot be opened. Nothing was changed. Tell your centre admin."
)
SANDBOX_NOT_UPGRADED = N_(
    "The sandbox CRM of this attempt could not be brought up to date with this release of "
    "Practicum. Nothing was changed. Tell your centre admin."
)


def resolve_attempt(attempt_id: int) -> CrmContext:
    """The CRM context of an attempt the current user may see; 404 for any other id."""
    if not current_user.is_authenticated:
        abort(current_app.login_manager.unauthorized())
    attempt = visible_attempt(get_session(), current_user, attempt_id)
    if attempt is None:
        abort(404)
    read_only = not can_work_on(current_user, attempt)
    close_sandbox_session()
    stack = ExitStack()
    setattr(g, STACK_KEY, stack)
    try:
        session = stack.enter_context(
            sandboxes.get_store().session(attempt.sandbox_key, read_only=read_only)
        )
        actor_id = trainee_actor(session).id
    except SandboxNotFound:
        abort(404)  # deleted under the retention setting
    except DatabaseError:
        close_sandbox_session()
        abort(make_response(render_error(409, SANDBOX_BROKEN)))
    except UpgradeError as exc:
        close_sandbox_session()
        current_app.logger.error("sandbox %s not opened: %s", attempt.sandbox_key, exc)
        message = SANDBOX_TOO_NEW if isinstance(exc, SandboxTooNew) else SANDBOX_NOT_UPGRADED
        abort(make_response(render_error(409, message)))
    return CrmContext(
        session=session,
        actor_id=actor_id,
        read_only=read_only,
        attempt_label=gettext(
            "Attempt #%(number)d · %(title)s",
            number=attempt.id,
            title=version_title(attempt.scenario_version),
        ),
        back_url=url_for("attempts.show", attempt_id=attempt.id),
        user_label=current_user.display_name,
    )


def close_sandbox_session(exc: BaseException | None = None) -> None:
    """Close the request's sandbox session, if the CRM opened one."""
    stack: ExitStack | None = g.pop(STACK_KEY, None)
    if stack is None:
        return
    if exc is None:
        stack.close()
    else:
        stack.__exit__(type(exc), exc, exc.__traceback__)


def init_app(app: Flask) -> None:
    """Register the CRM blueprint with this platform's resolver and close sandboxes on teardown."""
    crm_web.register(app, resolve_attempt)
    app.teardown_appcontext(close_sandbox_session)
