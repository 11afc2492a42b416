"""Helpers that every template can use: query-string links, status badges, role names."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, has_request_context, request
from flask_babel import gettext

from graders.definitions import localised
from sandbox_crm.i18n import N_

# Badge colour for each status word that checks, findings and attempts use.
BADGE_TONES = {
    "pass": "pass",
    "passed": "pass",
    "competent": "pass",
    "demonstrated": "pass",
    "graded": "pass",
    "decided": "pass",
    "fail": "fail",
    "failed": "fail",
    "critical": "fail",
    "not_yet_competent": "fail",
    "not_demonstrated": "fail",
    "error": "warn",
    "warn": "warn",
    "warning": "warn",
    "major": "warn",
    "submitted": "warn",
    "in_progress": "info",
    "info": "info",
    "minor": "info",
}


def url_with_args(**changes: Any) -> str:
    """The current path and query string with some arguments replaced (None removes one)."""
    args = request.args.copy()
    for key, value in changes.items():
        args.pop(key, None)
        if value is not None:
            args[key] = str(value)
    query = urlencode(list(args.items(multi=True)))
    return f"{request.path}?{query}" if query else request.path


def badge_tone(status: Any) -> str:
    """CSS tone (pass, fail, warn, info) for a status value."""
    return BADGE_TONES.get(str(status).strip().lower().replace(" ", "_"), "info")


# The status words pages show through `humanise`, marked so that they are translated.
STATUS_WORDS = (
    N_("Pass"),
    N_("Passed"),
    N_("Competent"),
    N_("Demonstrated"),
    N_("Graded"),
    N_("Decided"),
    N_("Fail"),
    N_("Failed"),
    N_("Critical"),
    N_("Not yet competent"),
    N_("Not demonstrated"),
    N_("Error"),
    N_("Warn"),
    N_("Warning"),
    N_("Major"),
    N_("High"),
    N_("Submitted"),
    N_("In progress"),
    N_("Info"),
    N_("Minor"),
    N_("Low"),
    N_("Medium"),
    N_("Needs review"),
    N_("Pending review"),
    N_("Not applicable"),
    N_("Practice"),
    N_("Assessment"),
    N_("Single choice"),
    N_("Multiple choice"),
    N_("Written"),
    N_("Report"),
    N_("Complied"),
    N_("Breached"),
)


def humanise(value: Any) -> str:
    """`not_yet_competent` -> `Not yet competent`, in the reader's language when translated."""
    text = str(value).replace("_", " ").strip()
    text = text[:1].upper() + text[1:]
    return gettext(text) if has_request_context() and text else text


def format_datetime(value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """A timestamp for people (UTC as stored); empty for None."""
    return value.strftime(fmt) if value else ""


def version_title(version: Any) -> str:
    """A stored unit or scenario version's title in the reader's language.

    The title column keeps the English (or first declared) title; the stored definition holds
    every language the author gave, so the title is read from it. A version that cannot be read
    shows the stored title.
    """
    from training_platform.definitions_store import load_model
    from training_platform.i18n import current_language

    try:
        model = load_model(version)
    except Exception:  # noqa: BLE001 - a damaged stored version still lists with its title
        return version.title
    return localised(model.title, current_language()) or version.title


def check_message_for(check: Any, scenario: Any = None, language: str | None = None) -> str:
    """A check's message as the trainee reads it: its note and the scenario's feedback, in
    ``language`` (the feedback as stored when no scenario is given)."""
    from training_platform.results_service import check_message

    spec = next((c for c in getattr(scenario, "checks", ()) if c.id == check.check_id), None)
    return check_message(check, spec.feedback if spec is not None else None, language)


def init_app(app: Flask) -> None:
    """Register the helpers as Jinja globals and filters."""
    from training_platform.results_service import (
        note_in_language,
        reasons_in_language,
        rule_reason,
    )

    app.jinja_env.globals.update(url_with_args=url_with_args, badge_tone=badge_tone)
    app.jinja_env.filters.update(humanise=humanise, datetime=format_datetime)
    app.jinja_env.filters["localised"] = localised
    app.jinja_env.filters["version_title"] = version_title
    app.jinja_env.filters["check_message"] = check_message_for
    app.jinja_env.filters["in_language"] = note_in_language
    app.jinja_env.filters["reasons_in_language"] = reasons_in_language
    app.jinja_env.filters["rule_reason"] = rule_reason
    app.jinja_env.filters["finding_message"] = lambda finding: (
        note_in_language(finding.template, finding.values) if finding.template else finding.message
    )
