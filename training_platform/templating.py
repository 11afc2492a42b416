"""Helpers that every template can use: query-string links, status badges, role names."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, request

from graders.definitions import localised

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


def humanise(value: Any) -> str:
    """`not_yet_competent` -> `Not yet competent`."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def format_datetime(value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """A timestamp for people (UTC as stored); empty for None."""
    return value.strftime(fmt) if value else ""


def init_app(app: Flask) -> None:
    """Register the helpers as Jinja globals and filters."""
    app.jinja_env.globals.update(url_with_args=url_with_args, badge_tone=badge_tone)
    app.jinja_env.filters.update(humanise=humanise, datetime=format_datetime)
    app.jinja_env.filters["localised"] = localised
