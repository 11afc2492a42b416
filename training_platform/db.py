"""Database wiring: the declarative base, one engine per app, a session per app context."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

# Stable constraint names, so that Alembic migrations can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EXTENSION_KEY = "practicum_db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class PlatformBase(DeclarativeBase):
    """Base class of the platform's own tables (not the sandbox CRM's)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


SQLITE_BUSY_TIMEOUT_S = 30
"""How long a SQLite write waits for another request's write to finish before failing."""


def _configure_sqlite(dbapi_connection, _connection_record) -> None:
    """Per connection: enforce foreign keys; use the write-ahead log, so that pages being read
    never block a request that writes (a file database only)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    if cursor.execute("PRAGMA database_list").fetchone()[2]:
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def build_engine(url: str, **kwargs) -> Engine:
    """Create an engine for a database URL; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def get_engine(app: Flask | None = None) -> Engine:
    """Return the engine of an app (the current app by default)."""
    app = app or current_app
    return app.extensions[EXTENSION_KEY]["engine"]


def new_session(app: Flask | None = None) -> Session:
    """Open a new session on an app's engine; the caller closes it."""
    app = app or current_app
    return app.extensions[EXTENSION_KEY]["sessionmaker"]()


def get_session() -> Session:
    """Return the session of the current app context, opening it on first use."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close the app context's session, if one was opened (rolling back anything uncommitted)."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Create the app's engine and close the per-context session on teardown."""
    url = app.config["DATABASE_URL"]
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    engine = build_engine(url)
    app.extensions[EXTENSION_KEY] = {
        "engine": engine,
        "sessionmaker": sessionmaker(bind=engine),
    }
    app.teardown_appcontext(close_session)


def _sqlite_file(url: str) -> Path | None:
    """The file of a file-backed SQLite URL, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def alembic_config(url: str):
    """An Alembic configuration for this package's migrations, built in code (no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats "%" as interpolation; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(app: Flask, revision: str = "head") -> None:
    """Apply the platform's Alembic migrations to the app's database."""
    from alembic import command

    url = app.config["DATABASE_URL"]
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    # A separate engine without the foreign-key pragma: SQLite batch migrations recreate
    # tables, which must not cascade or fail on references while they run.
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
