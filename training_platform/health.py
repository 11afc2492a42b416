"""Health and readiness endpoints for a process supervisor or load balancer (JSON, no login)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from training_platform.db import alembic_config, get_engine

bp = Blueprint("health", __name__)


@cache
def _migration_heads(url: str) -> frozenset[str]:
    """The head revisions of the platform's migrations (read once per process)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def _database_check() -> tuple[bool, str]:
    """Whether the database answers and its schema is at the migrations' head."""
    from alembic.runtime.migration import MigrationContext

    url = current_app.config["DATABASE_URL"]
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        return False, f"database unreachable: {type(error).__name__}"
    if current != _migration_heads(url):
        found = ", ".join(sorted(current)) or "none"
        return False, f"migrations not at head (at {found}): run `practicum db upgrade`"
    return True, "reachable, migrations at head"


def _folder_check(folder: str) -> tuple[bool, str]:
    """Whether a file can be created (and removed) in this folder."""
    try:
        with tempfile.NamedTemporaryFile(dir=Path(folder), prefix=".ready-"):
            pass
    except OSError as error:
        return False, f"not writable: {error.strerror or type(error).__name__}"
    return True, "writable"


@bp.get("/healthz")
def healthz():
    """The process is up and answering."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready for traffic: database reachable at the migrations' head, sandbox folders writable."""
    checks = {"database": _database_check()}
    for key, name in (("SANDBOX_DIR", "sandboxes"), ("TEMPLATE_CACHE_DIR", "sandbox_templates")):
        checks[name] = _folder_check(current_app.config[key])
    ready = all(ok for ok, _ in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()},
    }
    return jsonify(body), 200 if ready else 503
