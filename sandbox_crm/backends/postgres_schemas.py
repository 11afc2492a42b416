"""The PostgreSQL sandbox backend: a schema per template and per sandbox, on one pooled engine.

A template is a schema holding the generated data of one ``GenerationSpec``. It is built by
generating the SQLite template file once (the same generator, so the same rows and ids as the
SQLite backend gives) in a scratch directory and loading its rows into the schema; the file is
then removed, so no sandbox state stays on the app server's disk. A sandbox is a schema made
from the metadata (its own id sequences) and filled with ``INSERT ... SELECT`` from its template
schema, all in one transaction: either the whole clone exists or none of it does.

A small registry table (schema ``sandbox_registry``) names each template and sandbox, its schema
(schema names are limited to 63 bytes, keys are up to 64 characters, so a schema is named by a
digest of its key) and when a sandbox was frozen. Inserting the registry row first makes racing
creates of one key meet on its primary key: one wins, the other gets ``SandboxExists``.

Sessions share one pooled engine; each transaction a session begins sets, for itself only, the
``search_path`` to the schema and, for read-only sessions, ``transaction_read_only``, so raw SQL
and the ORM both see the sandbox's tables unqualified, and nothing stays on a pooled connection.
Once frozen, a sandbox opens only read-only. Deleting is ``DROP SCHEMA ... CASCADE``.

Change tracking is the contract's: a PL/pgSQL trigger function per sandbox schema notes the key
of every row written (insert, update before and after, delete) in ``sandbox_change``; the
triggers are created after the clone's data is in, so cloning pays nothing for them.
``changed_keys`` compares the noted rows with the template's by one cross-schema query.

PostgreSQL has no FTS5: ``customer_search`` is never created here and the customer lists fall
back to their case-insensitive LIKE search, which finds the same customers.
"""

# Statements name schemas and tables, which come from the metadata or a digest of a key and
# are quoted; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    Integer,
    Table,
    cast,
    column,
    create_engine,
    event,
    or_,
    select,
)
from sqlalchemy import table as lightweight_table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, CreateTable

from sandbox_crm.areas import load_areas
from sandbox_crm.backends import (
    BACKEND_INFO_KEY,
    ChangedKeys,
    SandboxExists,
    SandboxFrozen,
    SandboxNotFound,
    TemplateNotFound,
)
from sandbox_crm.backends.change_log import CHANGE_LOG, tracked_tables
from sandbox_crm.backends.sqlite_files import (
    TEMPLATE_KEY_RE,
    SqliteFileBackend,
    validate_key,
)
from sandbox_crm.backends.upgrade import (
    VERSIONS_KEY,
    UpgradeContext,
    UpgradeReport,
    code_versions,
    parse_versions,
    pending_steps,
    run_upgrade,
)
from sandbox_crm.clock import clock_meta
from sandbox_crm.generator import GenerationSpec
from sandbox_crm.info import origin_meta
from sandbox_crm.models import SandboxBase

__all__ = ["REGISTRY_SCHEMA", "PostgresSchemaBackend"]

REGISTRY_SCHEMA = "sandbox_registry"
"""The schema of the registry table that names every template and sandbox schema."""
_REGISTRY = f"{REGISTRY_SCHEMA}.schemas"
_TEMPLATE, _SANDBOX, _SPARE = "template", "sandbox", "spare"
DEFAULT_SPARES = 2
"""Spare clones kept ready per template (topped up in the background after each start)."""
_SCHEMA_INFO_KEY = "pg_schema"
_READ_ONLY_INFO_KEY = "pg_read_only"
_LOG_INFO_KEY = "pg_change_log"
_LOAD_BATCH = 5_000


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema_name(kind: str, key: str) -> str:
    """The schema of a template or sandbox: a prefix and a digest of its key (63 bytes at most)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{'t' if kind == _TEMPLATE else 's'}_{digest}"


def _new_sandbox_schema() -> str:
    """A fresh schema name for a sandbox or spare clone (the registry maps keys to it)."""
    return f"s_{uuid.uuid4().hex}"


def _start_clock(connection: Any, schema: str, meta: dict[str, str]) -> None:
    """A clone's first rows: its clock and origin (noted in its change log, as in SQLite)."""
    connection.exec_driver_sql(
        f"INSERT INTO {_quote(schema)}.sandbox_meta (key, value) VALUES (%(k)s, %(v)s) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [{"k": k, "v": v} for k, v in meta.items()],
    )


def _tables() -> list[Table]:
    load_areas()
    return list(SandboxBase.metadata.sorted_tables)


def _create_tables(connection: Any, schema: str) -> None:
    """Create every sandbox table and index in ``schema`` (own sequences for serial keys)."""
    translated = connection.execution_options(schema_translate_map={None: schema})
    for table in _tables():
        translated.execute(CreateTable(table))
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            translated.execute(CreateIndex(index))


def _reset_sequences(connection: Any, schema: str) -> None:
    """Point each serial key's sequence past the largest id copied in."""
    for table in _tables():
        pks = list(table.primary_key.columns)
        if len(pks) != 1 or not isinstance(pks[0].type, Integer):
            continue
        qualified = f"{_quote(schema)}.{_quote(table.name)}"
        pk = _quote(pks[0].name)
        # Names come from the metadata and a digest, quoted; no user value is spliced in.
        connection.exec_driver_sql(
            f"SELECT setval(seq, COALESCE((SELECT max({pk}) FROM {qualified}), 0) + 1, false) "
            f"FROM pg_get_serial_sequence(%(t)s, %(c)s) AS seq WHERE seq IS NOT NULL",
            {"t": qualified, "c": pks[0].name},
        )


def _install_change_log(connection: Any, schema: str) -> None:
    """The change log, its trigger function and one row trigger per trackable table."""
    s = _quote(schema)
    connection.exec_driver_sql(
        f"CREATE TABLE {s}.{CHANGE_LOG} (tbl TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL)"
    )
    connection.exec_driver_sql(f"CREATE INDEX {CHANGE_LOG}_by_row ON {s}.{CHANGE_LOG} (tbl, key)")
    connection.exec_driver_sql(
        f"""CREATE FUNCTION {s}.note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO {s}.{CHANGE_LOG} VALUES (TG_TABLE_NAME, to_jsonb(OLD) ->> TG_ARGV[0],
                                        lower(TG_OP));
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO {s}.{CHANGE_LOG} VALUES (TG_TABLE_NAME, to_jsonb(NEW) ->> TG_ARGV[0],
                                        lower(TG_OP));
  END IF;
  RETURN NULL;
END $$"""
    )
    _install_triggers(connection, schema, _tables())


def _install_triggers(connection: Any, schema: str, tables: list[Table]) -> None:
    """One change-log trigger per trackable table (the log and its function exist)."""
    s = _quote(schema)
    for table in tracked_tables(tables):
        (pk,) = [c.name for c in table.primary_key.columns]
        connection.exec_driver_sql(
            f"CREATE TRIGGER {_quote(CHANGE_LOG + '_' + table.name)} "
            f"AFTER INSERT OR UPDATE OR DELETE ON {s}.{_quote(table.name)} "
            f"FOR EACH ROW EXECUTE FUNCTION {s}.note_change('{pk}')"
        )


def _recorded_versions(connection: Any, schema: str) -> dict[str, str] | None:
    """The area versions a sandbox or template schema records (None: made before records)."""
    value = connection.exec_driver_sql(
        f"SELECT value FROM {_quote(schema)}.sandbox_meta WHERE key = %(k)s",
        {"k": VERSIONS_KEY},
    ).scalar()
    return parse_versions(value)


class PostgresSchemaBackend:
    """Templates and per-attempt sandboxes as schemas of one PostgreSQL database."""

    def __init__(
        self,
        url: str,
        source_template_dir: Path | None = None,
        *,
        spares: int = DEFAULT_SPARES,
        **engine_options: Any,
    ) -> None:
        """Schemas in the database at ``url``.

        ``source_template_dir``: a folder where the SQLite template files that templates are
        loaded from are kept and reused (tests and scripts share one); by default each is
        generated in a scratch folder and removed once loaded. ``spares``: clones of each
        template kept ready, so that starting an attempt only claims one (0: clone on start).
        """
        self.url = url
        source = source_template_dir
        self.source_template_dir = None if source is None else Path(source)
        # For callers that validate uploads with a SQLite scratch store of their own.
        self.template_dir = self.source_template_dir or Path(tempfile.gettempdir())
        options = {"pool_size": 5, "max_overflow": 10, "pool_recycle": 1800} | engine_options
        self.engine: Engine = create_engine(url, **options)
        self.spares = spares
        self._ready = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._current: set[str] = set()
        """Schemas found at this code's schema (a schema's name is never reused)."""

    # -- registry --

    def _ensure_registry(self) -> None:
        if self._ready:
            return
        with self._lock, self.engine.begin() as connection:
            # Two processes starting at once: the advisory lock makes the second wait.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(724001)")
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {REGISTRY_SCHEMA}")
            connection.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {_REGISTRY} (kind TEXT NOT NULL, key TEXT NOT NULL, "
                "schema_name TEXT NOT NULL UNIQUE, template_key TEXT, "
                "created_at TIMESTAMP NOT NULL DEFAULT now(), frozen_at TIMESTAMP, "
                "PRIMARY KEY (kind, key))"
            )
            self._ready = True

    def _lookup(self, kind: str, key: str) -> tuple[str, datetime | None] | None:
        self._ensure_registry()
        with self.engine.connect() as connection:
            row = connection.exec_driver_sql(
                f"SELECT schema_name, frozen_at FROM {_REGISTRY} "
                "WHERE kind = %(k)s AND key = %(n)s",
                {"k": kind, "n": key},
            ).first()
        return None if row is None else (row[0], row[1])

    def _keys(self, kind: str) -> list[str]:
        self._ensure_registry()
        with self.engine.connect() as connection:
            return list(
                connection.exec_driver_sql(
                    f"SELECT key FROM {_REGISTRY} WHERE kind = %(k)s ORDER BY key", {"k": kind}
                ).scalars()
            )

    def _drop(self, kind: str, key: str) -> None:
        self._ensure_registry()
        with self.engine.begin() as connection:
            schema = connection.exec_driver_sql(
                f"DELETE FROM {_REGISTRY} WHERE kind = %(k)s AND key = %(n)s RETURNING schema_name",
                {"k": kind, "n": key},
            ).scalar()
            if schema is not None:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")

    # -- sessions --

    @contextmanager
    def _open(self, schema: str, read_only: bool) -> Iterator[Session]:
        session = Session(bind=self.engine)
        session.info[BACKEND_INFO_KEY] = self
        session.info[_SCHEMA_INFO_KEY] = schema
        session.info[_READ_ONLY_INFO_KEY] = read_only
        settings = {"s": _quote(schema), "r": "on" if read_only else "off"}

        @event.listens_for(session, "after_begin")
        def _settings(_session: Session, _transaction: Any, connection: Any) -> None:
            # Local to the transaction: nothing is left on the pooled connection afterwards.
            # Read-only may be turned on after the first query, never back off.
            connection.exec_driver_sql(
                "SELECT set_config('search_path', %(s)s, true), "
                "set_config('transaction_read_only', %(r)s, true)",
                settings,
            )

        with session:
            yield session

    # -- templates --

    def _validate_template_key(self, template_key: str) -> str:
        if not isinstance(template_key, str) or not TEMPLATE_KEY_RE.fullmatch(template_key):
            raise ValueError(f"invalid template key {template_key!r}: expected 64 hex digits")
        return template_key

    def ensure_template(self, spec: GenerationSpec) -> str:
        """The schema of the template for ``spec``, generated and loaded first if missing."""
        key = spec.cache_key()
        found = self._lookup(_TEMPLATE, key)
        if found is not None:
            return found[0]
        schema = _schema_name(_TEMPLATE, key)
        with self.engine.begin() as connection:
            # Another process may be building the same template: wait for it, then reuse.
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": "template:" + key}
            )
            exists = connection.exec_driver_sql(
                f"SELECT 1 FROM {_REGISTRY} WHERE kind = %(k)s AND key = %(n)s",
                {"k": _TEMPLATE, "n": key},
            ).first()
            if exists is None:
                self._build_template(connection, spec, schema)
                connection.exec_driver_sql(
                    f"INSERT INTO {_REGISTRY} (kind, key, schema_name) "
                    "VALUES (%(k)s, %(n)s, %(s)s)",
                    {"k": _TEMPLATE, "n": key, "s": schema},
                )
        if exists is None:
            self._top_up_later(key)
        return schema

    def _build_template(self, connection: Any, spec: GenerationSpec, schema: str) -> None:
        """Generate the SQLite template in a scratch directory and load its rows into ``schema``."""
        scratch = Path(tempfile.mkdtemp(prefix="practicum-pg-template-"))
        try:
            files = SqliteFileBackend(
                scratch / "sandboxes", self.source_template_dir or scratch / "templates"
            )
            try:
                with files.template_session(spec) as source:
                    connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
                    connection.exec_driver_sql(f"CREATE SCHEMA {_quote(schema)}")
                    _create_tables(connection, schema)
                    target = connection.execution_options(schema_translate_map={None: schema})
                    for table in _tables():
                        result = source.execute(select(table)).mappings()
                        while batch := result.fetchmany(_LOAD_BATCH):
                            target.execute(table.insert(), [dict(row) for row in batch])
                    _reset_sequences(connection, schema)
                    # This schema's tables only: a database-wide ANALYZE in one transaction
                    # takes a lock on every table of every sandbox and runs out of lock slots.
                    for table in _tables():
                        connection.exec_driver_sql(f"ANALYZE {_quote(schema)}.{_quote(table.name)}")
            finally:
                files.dispose()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    @contextmanager
    def template_session(self, spec: GenerationSpec) -> Iterator[Session]:
        """A read-only session on the (ensured) template for ``spec``."""
        schema = self.ensure_template(spec)
        with self._open(schema, read_only=True) as session:
            yield session

    def has_template(self, template_key: str) -> bool:
        """Whether the template with this key is loaded."""
        return self._lookup(_TEMPLATE, self._validate_template_key(template_key)) is not None

    @contextmanager
    def template_session_for_key(self, template_key: str) -> Iterator[Session]:
        """A read-only session on an existing template; TemplateNotFound if it is gone."""
        found = self._lookup(_TEMPLATE, self._validate_template_key(template_key))
        if found is None:
            raise TemplateNotFound(
                f"the sandbox template {template_key[:12]}… is not in the database; "
                "it is never generated again for grading"
            )
        self._bring_forward(found[0])
        with self._open(found[0], read_only=True) as session:
            yield session

    def template_keys(self) -> list[str]:
        """Keys of every template kept, sorted."""
        return self._keys(_TEMPLATE)

    def delete_template(self, template_key: str) -> None:
        """Drop one template schema and its spare clones; no error if it does not exist."""
        self._validate_template_key(template_key)
        with self.engine.connect() as connection:
            spares = connection.exec_driver_sql(
                f"SELECT key FROM {_REGISTRY} WHERE kind = %(k)s AND template_key = %(t)s",
                {"k": _SPARE, "t": template_key},
            ).scalars()
            for spare in list(spares):
                self._drop(_SPARE, spare)
        self._drop(_TEMPLATE, template_key)

    def purge_templates(self, keep: Collection[str], *, dry_run: bool = False) -> list[str]:
        """Delete every template whose key is not in ``keep``; return the keys (to be) deleted."""
        kept = set(keep)
        purged = [key for key in self.template_keys() if key not in kept]
        if not dry_run:
            for key in purged:
                self.delete_template(key)
        return purged

    # -- sandboxes --

    def create(
        self,
        key: str,
        spec: GenerationSpec,
        clock_mode: str = "real",
        *,
        variant: int | None = None,
    ) -> str:
        """Clone the template schema for ``spec`` into a new sandbox schema and start its clock.

        A spare clone of the template is claimed when one is ready (a registry update and the
        clock's rows); otherwise the clone is made now. Either way spares are then topped up
        in the background.
        """
        validate_key(key)
        if clock_mode not in ("real", "stepped"):
            raise ValueError(f"unknown clock mode {clock_mode!r}")
        if self.exists(key):
            raise SandboxExists(f"sandbox {key!r} already exists")
        template_key = spec.cache_key()
        template = self.ensure_template(spec)
        self._bring_forward(template)  # a template made before records were kept gets one
        meta = clock_meta(datetime.combine(spec.today, time(9, 0)), clock_mode)
        meta |= origin_meta(template_key, variant)
        try:
            with self.engine.begin() as connection:
                schema = connection.exec_driver_sql(
                    f"SELECT schema_name FROM {_REGISTRY} WHERE kind = %(k)s "
                    "AND template_key = %(t)s ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                    {"k": _SPARE, "t": template_key},
                ).scalar()
                if schema is not None:
                    connection.exec_driver_sql(
                        f"UPDATE {_REGISTRY} SET kind = %(k)s, key = %(n)s, created_at = now() "
                        "WHERE schema_name = %(s)s",
                        {"k": _SANDBOX, "n": key, "s": schema},
                    )
                else:
                    schema = _new_sandbox_schema()
                    connection.exec_driver_sql(
                        f"INSERT INTO {_REGISTRY} (kind, key, schema_name, template_key) "
                        "VALUES (%(k)s, %(n)s, %(s)s, %(t)s)",
                        {"k": _SANDBOX, "n": key, "s": schema, "t": template_key},
                    )
                    self._clone(connection, template, schema)
                _start_clock(connection, schema, meta)
        except IntegrityError:
            raise SandboxExists(f"sandbox {key!r} already exists") from None
        self._top_up_later(template_key)
        return schema

    def _clone(self, connection: Any, template: str, schema: str) -> None:
        """Fill a new schema from the template's, then add its change tracking."""
        connection.exec_driver_sql(f"CREATE SCHEMA {_quote(schema)}")
        _create_tables(connection, schema)
        for table in _tables():
            names = ", ".join(_quote(c.name) for c in table.columns)
            connection.exec_driver_sql(
                f"INSERT INTO {_quote(schema)}.{_quote(table.name)} ({names}) "
                f"SELECT {names} FROM {_quote(template)}.{_quote(table.name)}"
            )
        _reset_sequences(connection, schema)
        _install_change_log(connection, schema)

    # -- spare clones --

    def top_up_spares(self, template_key: str, target: int | None = None) -> int:
        """Make spare clones of a template until ``target`` are ready; return how many made.

        ``target`` None: the backend's ``spares``, made by whoever is not busy (a caller that
        finds another topping up the template returns at once). A given ``target`` (preparing a
        class) waits its turn instead, so two workers preparing at once never stop short. One
        spare per transaction, so a start can claim a spare while more are being made.
        """
        wanted = self.spares if target is None else max(0, target)
        lock = "pg_try_advisory_xact_lock" if target is None else "pg_advisory_xact_lock"
        self._ensure_registry()
        made = 0
        while True:
            with self.engine.begin() as connection:
                locked = connection.exec_driver_sql(
                    f"SELECT {lock}(hashtext(%(k)s))", {"k": "spares:" + template_key}
                ).scalar()
                if locked is False:
                    return made
                row = connection.exec_driver_sql(
                    f"SELECT schema_name, (SELECT count(*) FROM {_REGISTRY} WHERE kind = %(s)s "
                    f"AND template_key = %(t)s) FROM {_REGISTRY} "
                    "WHERE kind = %(k)s AND key = %(t)s",
                    {"s": _SPARE, "k": _TEMPLATE, "t": template_key},
                ).first()
                if row is None or row[1] >= wanted:
                    return made
                schema = _new_sandbox_schema()
                connection.exec_driver_sql(
                    f"INSERT INTO {_REGISTRY} (kind, key, schema_name, template_key) "
                    "VALUES (%(k)s, %(s)s, %(s)s, %(t)s)",
                    {"k": _SPARE, "s": schema, "t": template_key},
                )
                self._clone(connection, row[0], schema)
                # Planner statistics for the new tables, which a start made on the spot lacks
                # until autovacuum comes by; a spare has the time.
                for table in _tables():
                    connection.exec_driver_sql(f"ANALYZE {_quote(schema)}.{_quote(table.name)}")
            made += 1

    def spare_counts(self) -> dict[str, int]:
        """How many spare clones are ready, per template key (templates with none left out)."""
        self._ensure_registry()
        with self.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                f"SELECT template_key, count(*) FROM {_REGISTRY} WHERE kind = %(k)s "
                "GROUP BY template_key ORDER BY template_key",
                {"k": _SPARE},
            ).all()
        return {key: count for key, count in rows}

    def trim_spares(self, template_key: str, keep: int) -> int:
        """Drop a template's spare clones beyond ``keep`` (the newest go first); how many dropped.

        A spare being claimed by a start at that moment is skipped, never dropped under it;
        topping up and trimming one template take turns, so two purges never drop too many.
        """
        self._ensure_registry()
        dropped = 0
        while True:
            with self.engine.begin() as connection:
                connection.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": "spares:" + template_key}
                )
                count = connection.exec_driver_sql(
                    f"SELECT count(*) FROM {_REGISTRY} WHERE kind = %(k)s AND template_key = %(t)s",
                    {"k": _SPARE, "t": template_key},
                ).scalar()
                if count <= max(0, keep):
                    return dropped
                schema = connection.exec_driver_sql(
                    f"DELETE FROM {_REGISTRY} WHERE schema_name = (SELECT schema_name FROM "
                    f"{_REGISTRY} WHERE kind = %(k)s AND template_key = %(t)s "
                    "ORDER BY created_at DESC LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING schema_name",
                    {"k": _SPARE, "t": template_key},
                ).scalar()
                if schema is None:
                    return dropped  # every one left is being claimed right now
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
            dropped += 1

    def _top_up_later(self, template_key: str) -> None:
        if self.spares <= 0:
            return
        thread = threading.Thread(
            target=self._top_up_quietly, args=(template_key,), name="sandbox-spares", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _top_up_quietly(self, template_key: str) -> None:
        # A spare is only a head start: if making one fails, the next start clones instead.
        with suppress(Exception):
            self.top_up_spares(template_key)

    def exists(self, key: str) -> bool:
        """Whether a sandbox exists under ``key``."""
        return self._lookup(_SANDBOX, validate_key(key)) is not None

    def _existing(self, key: str) -> tuple[str, datetime | None]:
        found = self._lookup(_SANDBOX, validate_key(key))
        if found is None:
            raise SandboxNotFound(f"no sandbox {key!r}")
        return found

    def is_frozen(self, key: str) -> bool:
        """Whether the sandbox has been frozen (SandboxNotFound if there is none)."""
        return self._existing(key)[1] is not None

    @contextmanager
    def session(self, key: str, read_only: bool = False) -> Iterator[Session]:
        """A session on the sandbox ``key``; the caller commits. Frozen sandboxes: read-only."""
        schema, frozen_at = self._existing(key)
        if not read_only and frozen_at is not None:
            raise SandboxFrozen(f"sandbox {key!r} is frozen; open it read-only")
        self._bring_forward(schema)
        with self._open(schema, read_only) as session:
            yield session

    def freeze(self, key: str) -> None:
        """Record ``frozen_at`` in the sandbox and the registry (idempotent)."""
        schema, frozen_at = self._existing(key)
        if frozen_at is not None:
            return
        stamp = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        with self.engine.begin() as connection:
            connection.exec_driver_sql(
                f"INSERT INTO {_quote(schema)}.sandbox_meta (key, value) "
                "VALUES ('frozen_at', %(v)s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                {"v": stamp.isoformat()},
            )
            connection.exec_driver_sql(
                f"UPDATE {_REGISTRY} SET frozen_at = %(f)s WHERE kind = %(k)s AND key = %(n)s",
                {"f": stamp, "k": _SANDBOX, "n": key},
            )

    def delete(self, key: str) -> None:
        """Drop the sandbox's schema (frozen or not); no error if it does not exist."""
        self._drop(_SANDBOX, validate_key(key))

    def keys(self) -> list[str]:
        """Keys of every sandbox kept, sorted."""
        return self._keys(_SANDBOX)

    def purge(self, older_than: timedelta, *, dry_run: bool = False) -> list[str]:
        """Delete frozen sandboxes frozen longer ago than ``older_than``; return their keys."""
        self._ensure_registry()
        cutoff = datetime.now(UTC).replace(tzinfo=None) - older_than
        with self.engine.connect() as connection:
            purged = list(
                connection.exec_driver_sql(
                    f"SELECT key FROM {_REGISTRY} WHERE kind = %(k)s AND frozen_at < %(c)s "
                    "ORDER BY key",
                    {"k": _SANDBOX, "c": cutoff},
                ).scalars()
            )
        if not dry_run:
            for key in purged:
                self.delete(key)
        return purged

    # -- bringing a sandbox made by an earlier release forward --

    def _bring_forward(self, schema: str) -> None:
        """Upgrade the schema if its record is older than the code (checked once per process)."""
        if schema in self._current:
            return
        self.upgrade_schema(schema)
        self._current.add(schema)

    def upgrade_schema(self, schema: str, *, dry_run: bool = False) -> list[str]:
        """Bring one sandbox, spare or template schema to this code's; the steps run (or due).

        Empty when it is current. One transaction, under an advisory lock on the schema (the
        record is read again once it is held, so racing servers run the steps once); a frozen
        sandbox too, as the steps change no existing value. SandboxTooNew, changing nothing, if
        a newer release made it.
        """
        with self.engine.connect() as connection:
            recorded = _recorded_versions(connection, schema)
        if recorded == code_versions():
            return []
        due = [f"{area} {version}" for area, version, _ in pending_steps(recorded)] or ["record"]
        if dry_run:
            return due
        with self.engine.begin() as connection:
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext(%(k)s)), "
                "set_config('search_path', %(s)s, true)",
                {"k": "upgrade:" + schema, "s": _quote(schema)},
            )
            recorded = _recorded_versions(connection, schema)
            if recorded == code_versions():
                return []
            # Templates have no change log; sandboxes and spares have, with its function.
            tracked = connection.exec_driver_sql(
                "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = %(s)s AND p.proname = 'note_change'",
                {"s": schema},
            ).first()

            def install_tracking(tables: list[Table]) -> None:
                if tracked is not None:
                    _install_triggers(connection, schema, tables)

            def put_meta(values: dict[str, str]) -> None:
                connection.exec_driver_sql(
                    f"INSERT INTO {_quote(schema)}.sandbox_meta (key, value) "
                    "VALUES (%(k)s, %(v)s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [{"k": k, "v": v} for k, v in values.items()],
                )

            translated = connection.execution_options(schema_translate_map={None: schema})
            context = UpgradeContext(translated, install_tracking, schema=schema)
            return run_upgrade(context, recorded, put_meta)

    def upgrade_sandboxes(self, *, dry_run: bool = False) -> UpgradeReport:
        """Bring every sandbox (frozen ones too), spare clone and template to this code's."""
        self._ensure_registry()
        with self.engine.connect() as connection:
            found = connection.exec_driver_sql(
                f"SELECT kind, key, schema_name FROM {_REGISTRY} ORDER BY kind, key"
            ).all()
        report = UpgradeReport()
        for kind, key, schema in found:
            try:
                done = self.upgrade_schema(schema, dry_run=dry_run)
            except Exception as exc:  # noqa: BLE001 - one bad schema must not stop the rest
                report.failed.append((kind, key, str(exc)))
                continue
            report.count(kind, bool(done))
        return report

    # -- comparing with the template --

    def _change_log(self, session: Session, table: str) -> list[str]:
        """The logged keys (as text) of ``table``; a read-only session reads the log once."""
        schema = session.info[_SCHEMA_INFO_KEY]
        if session.info.get(_READ_ONLY_INFO_KEY):
            cached = session.info.get(_LOG_INFO_KEY)
            if cached is None:
                # Nothing writes to a read-only sandbox: one query answers every table.
                cached = {}
                for tbl, key in session.connection().exec_driver_sql(
                    f"SELECT DISTINCT tbl, key FROM {_quote(schema)}.{CHANGE_LOG}"
                ):
                    cached.setdefault(tbl, []).append(key)
                session.info[_LOG_INFO_KEY] = cached
            return cached.get(table, [])
        return list(
            session.connection()
            .exec_driver_sql(
                f"SELECT DISTINCT key FROM {_quote(schema)}.{CHANGE_LOG} WHERE tbl = %(t)s",
                {"t": table},
            )
            .scalars()
        )

    def tracked_keys(self, session: Session, table: str) -> list[Any] | None:
        """Keys of the rows of ``table`` written since the sandbox was cloned, sorted."""
        schema = session.info.get(_SCHEMA_INFO_KEY)
        if schema is None or not schema.startswith("s_"):
            return None
        return sorted(_typed(table, self._change_log(session, table)))

    def changed_keys(
        self, template: Session, final: Session, table: Table, columns: Sequence[str]
    ) -> ChangedKeys | None:
        """Keys added, deleted and differing: the logged rows joined across the two schemas."""
        pk = [c.name for c in table.primary_key.columns]
        old_schema = template.info.get(_SCHEMA_INFO_KEY)
        new_schema = final.info.get(_SCHEMA_INFO_KEY)
        if len(pk) != 1 or old_schema is None or new_schema in (None, old_schema):
            return None
        if template.info.get(BACKEND_INFO_KEY) is not self:
            return None
        if not self._change_log(final, table.name):
            return ChangedKeys([], [], set())  # nothing written: no query
        names = list(columns)
        log_table = lightweight_table(CHANGE_LOG, column("tbl"), column("key"), schema=new_schema)
        log = (
            select(log_table.c.key).where(log_table.c.tbl == table.name).distinct().subquery("log")
        )
        typed = table.c[pk[0]].type
        log_key = cast(log.c.key, typed)
        old = lightweight_table(
            table.name, *(column(n, table.c[n].type) for n in names), schema=old_schema
        ).alias("old")
        new = lightweight_table(
            table.name, *(column(n, table.c[n].type) for n in names), schema=new_schema
        ).alias("new")
        new_key, old_key = new.c[pk[0]], old.c[pk[0]]
        differs = or_(
            *(
                _comparable(new, n, table).is_distinct_from(_comparable(old, n, table))
                for n in names
            )
        )
        rows = (
            final.connection()
            .execute(
                select(new_key, old_key, differs).select_from(
                    log.outerjoin(new, new_key == log_key).outerjoin(old, old_key == log_key)
                )
            )
            .all()
        )
        added = sorted(n for n, o, _ in rows if n is not None and o is None)
        deleted = sorted(o for n, o, _ in rows if n is None and o is not None)
        differing = {n for n, o, d in rows if n is not None and o is not None and d}
        return ChangedKeys(added, deleted, differing)

    def settle(self) -> None:
        """Wait until the spare clones being made in the background are ready."""
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join()

    def dispose(self) -> None:
        """Wait for spare clones being made, then release the engine's connections."""
        self.settle()
        self.engine.dispose()


def _comparable(alias: Any, name: str, table: Table) -> Any:
    """A column as compared: JSON has no equality in PostgreSQL, so it is compared as JSONB."""
    if isinstance(table.c[name].type, JSON):
        return cast(alias.c[name], JSONB)
    return alias.c[name]


def _typed(table: str, keys: Any) -> list[Any]:
    """Logged keys (kept as text) back in the type of the table's key."""
    found = SandboxBase.metadata.tables.get(table)
    pks = [] if found is None else list(found.primary_key.columns)
    if len(pks) == 1 and isinstance(pks[0].type, Integer):
        return [int(k) for k in keys]
    return list(keys)
