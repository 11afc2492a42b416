"""Practicum's web application: accounts, roles, and the pages of trainees, assessors, admins."""

from __future__ import annotations

import importlib
import os
import secrets
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

# Each module exposes a Flask blueprint named `bp`; add yours to the list to mount it.
BLUEPRINTS = [
    "training_platform.auth",
    "training_platform.home",
    "training_platform.catalogue",
    "training_platform.attempts",
    "training_platform.review",
    "training_platform.appeals",
    "training_platform.authoring",
    "training_platform.progress",
    "training_platform.retention",
    "training_platform.health",
    "training_platform.users",
    "training_platform.cohorts",
    "training_platform.audit_log",
    "training_platform.jobs_pages",
]

PACKAGE_DIR = Path(__file__).resolve().parent
MAX_UPLOAD_BYTES = 256 * 1024


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app; `test_config` overrides every other source of configuration."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("PRACTICUM_INSTANCE_PATH") or None,
    )
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)

    app.config.from_mapping(
        SECRET_KEY=os.environ.get("PRACTICUM_SECRET_KEY"),
        DATABASE_URL=os.environ.get("PRACTICUM_DATABASE_URL")
        or f"sqlite:///{instance / 'practicum.sqlite'}",
        # Several app servers and workers on SQLite sandboxes share one folder (scaled out).
        SANDBOX_DIR=os.environ.get("PRACTICUM_SANDBOX_DIR") or str(instance / "sandboxes"),
        # "sqlite_files" or "postgres"; empty: PostgreSQL schemas when the database is PostgreSQL.
        SANDBOX_BACKEND=os.environ.get("PRACTICUM_SANDBOX_BACKEND") or "",
        SANDBOX_DATABASE_URL=os.environ.get("PRACTICUM_SANDBOX_DATABASE_URL") or "",
        # PostgreSQL sandboxes: clones of each template kept ready for starts (empty: 2).
        SANDBOX_SPARES=_env_int("PRACTICUM_SANDBOX_SPARES"),
        # Class preparation (PostgreSQL spares for a cohort): the largest class, the most extra
        # spares all preparations hold, and hours a preparation by hand holds them (empty:
        # 500, 600, 12).
        CLASS_PREP_MAX_TRAINEES=_env_int("PRACTICUM_CLASS_PREP_MAX_TRAINEES"),
        PREPARED_SPARES_MAX=_env_int("PRACTICUM_PREPARED_SPARES_MAX"),
        CLASS_PREP_HOURS=_env_int("PRACTICUM_CLASS_PREP_HOURS"),
        TEMPLATE_CACHE_DIR=os.environ.get("PRACTICUM_TEMPLATE_CACHE_DIR")
        or str(instance / "sandbox_templates"),
        # Proxies in front that set X-Forwarded-For/-Proto (a load balancer): 0 trusts none.
        PROXY_COUNT=int(os.environ.get("PRACTICUM_PROXY_COUNT") or 0),
        DEFINITIONS_ROOT=os.environ.get("PRACTICUM_DEFINITIONS_ROOT") or str(PACKAGE_DIR.parent),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        WTF_CSRF_ENABLED=True,
        # None: Secure cookies unless testing or debugging (plain HTTP on loopback needs "0").
        COOKIE_SECURE=_env_flag("PRACTICUM_COOKIE_SECURE"),
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        RATELIMIT_STORAGE_URI=os.environ.get("PRACTICUM_RATELIMIT_STORAGE_URI") or "memory://",
        LOGIN_LIMIT_PER_ACCOUNT="5 per 10 minutes",
        LOGIN_LIMIT_PER_ADDRESS="50 per 10 minutes",
        MAX_ATTEMPTS_IN_PROGRESS=3,
        MAX_SCENARIO_CUSTOMERS=20_000,
        MAX_PLANT_COUNT=500,
        # Background jobs: Redis when an address is given, else a SQLite file by the database.
        JOB_QUEUE_URL=os.environ.get("PRACTICUM_REDIS_URL") or "",
        JOB_QUEUE_FILE=os.environ.get("PRACTICUM_JOB_QUEUE_FILE") or "",
        JOB_WORKERS=int(os.environ.get("PRACTICUM_JOB_WORKERS") or 2),
        JOB_LEASE_SECONDS=900,
        JOB_MAX_ATTEMPTS=4,
        JOB_RETRY_DELAY=2.0,
        PURGE_HOUR=3,
        MAIL_SERVER=os.environ.get("PRACTICUM_MAIL_SERVER") or "",
        MAIL_PORT=int(os.environ.get("PRACTICUM_MAIL_PORT") or 25),
        MAIL_USE_TLS=bool(_env_flag("PRACTICUM_MAIL_USE_TLS")),
        MAIL_USERNAME=os.environ.get("PRACTICUM_MAIL_USERNAME") or "",
        MAIL_PASSWORD=os.environ.get("PRACTICUM_MAIL_PASSWORD") or "",
        MAIL_SENDER=os.environ.get("PRACTICUM_MAIL_SENDER") or "practicum@localhost",
        # The site's address for links in mail sent outside a request (the CLI's invitations).
        BASE_URL=os.environ.get("PRACTICUM_BASE_URL") or "",
    )
    if test_config is None:
        # A deployment may keep settings in instance/config.py instead of the environment.
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    secure = app.config.get("COOKIE_SECURE")
    if secure is None:
        secure = not (app.config.get("TESTING") or app.debug)
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = bool(secure)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _stored_secret_key(instance / "secret_key")
    for key in ("SANDBOX_DIR", "TEMPLATE_CACHE_DIR"):
        Path(app.config[key]).mkdir(parents=True, exist_ok=True)
    if app.config["PROXY_COUNT"] > 0:
        # The client's address (login throttling per address) and scheme from the balancer.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from training_platform import (
        commands,
        db,
        errors,
        i18n,
        jobs,
        navigation,
        security,
        templating,
    )

    # Before any route is added: ids in URLs past a database integer are "not found".
    app.url_map.converters["int"] = BoundedIntConverter
    db.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    i18n.init_app(app)  # after templating: its date filter replaces the English-only one
    navigation.init_app(app)
    errors.init_app(app)
    commands.init_app(app)
    jobs.init_app(app)

    for module_name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module_name).bp)

    return app


class BoundedIntConverter(IntegerConverter):
    """The `int` URL converter, limited to what a 64-bit database integer holds."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _stored_secret_key(path: Path) -> str:
    """Read the instance's secret key, generating it on first start (readable by owner only)."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _env_int(name: str) -> int | None:
    """A whole-number environment variable; None if unset, a clear error if it is not one."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None


def _env_flag(name: str) -> bool | None:
    """An on/off environment variable ("1", "true", "yes" / "0", "false", "no"); None if unset."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    return value in {"1", "true", "yes", "on"}
