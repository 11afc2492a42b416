"""The SQLite-file sandbox backend: cached templates, one cloned file per attempt, freezing, purge.

Generating with Faker is slow, so each distinct ``GenerationSpec`` is generated once into a
template file named by ``spec.cache_key()``; starting an attempt copies that file. A submitted
attempt's sandbox is frozen (meta ``frozen_at``, file mode 0444) and kept as evidence until the
retention period has passed.

Grading opens a template by its key (``template_session_for_key``) and never generates one: the
key an attempt recorded names the exact data it started from, whatever the generator or Faker
version is now. Templates are deleted only by ``purge_templates``, which keeps every key it is
told is still referred to.

Starting an attempt is the template's bytes plus a handful of inserts (the clock and the
origin), written with no fsync under a temporary name and linked into place only when complete;
a clone lost to a crash before the kernel wrote it out is simply made again from its template
(the attempt has not started until the link exists). The inserts are where the time went: any
connection to a copy first parses the whole schema (tables, indexes and the change-log triggers,
about 1.2 ms at today's size, more than half of a plain copy of a 2,000-customer template). So a
template of up to 32 MB is loaded once per process into an in-memory database whose schema stays
parsed; a clone inserts its rows there, takes the bytes, and puts the rows back as they were for
the next one. The bytes are written in one call, which is also quicker than sendfile's page-by-
page copy. A larger template is copied and its rows inserted on a raw connection with no
journal, as the copy dwarfs the parse. The engine of each file is cached per process and pools
its connections, so the pragmas run once per connection, not once per session.

Every template carries change tracking (``sandbox_crm.backends.change_log``): triggers note each
row written in a clone. Comparing a sandbox with its template (``changed_keys``) reads only the
noted rows, attaching the template file to the sandbox's connection when there are any, so the
cost follows what the trainee changed, not the size of the tables.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import re
import sqlite3
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, column, create_engine, event, or_, select
from sqlalchemy import table as lightweight_table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DatabaseError, DBAPIError, DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool, QueuePool
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.util import LRUCache

from sandbox_crm.areas import load_areas
from sandbox_crm.backends import (
    BACKEND_INFO_KEY,
    ChangedKeys,
    SandboxExists,
    SandboxFrozen,
    SandboxNotFound,
    TemplateNotFound,
)
from sandbox_crm.backends.change_log import (
    CHANGE_LOG,
    has_change_log,
    install_change_log,
    tracked_keys,
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
from sandbox_crm.generator import GenerationSpec, generate
from sandbox_crm.info import origin_meta
from sandbox_crm.models import SandboxBase, SandboxMeta

__all__ = [
    "ATTACHED_TEMPLATE",
    "TEMPLATE_KEY_RE",
    "SandboxExists",
    "SandboxFrozen",
    "SandboxNotFound",
    "SqliteFileBackend",
    "TemplateNotFound",
    "create_schema",
    "validate_key",
]

KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TEMPLATE_KEY_RE = re.compile(r"[0-9a-f]{64}")
"""A template key: the sha256 hex digest that ``GenerationSpec.cache_key`` returns."""
_SUFFIX = ".sqlite"
_ENGINE_CACHE_SIZE = 32
_READ_ONLY_MODE = 0o444
_IMAGED_TEMPLATE_BYTES = 32 * 1024 * 1024
"""The largest template kept in memory for cloning; a larger one's copy is long beside the
fixed cost of a clone, and keeping it would weigh on the process's memory."""
_IMAGED_TOTAL_BYTES = 64 * 1024 * 1024
"""The most bytes of templates kept in memory at once (the least recently cloned go first)."""

ATTACHED_TEMPLATE = "grading_template"
"""Schema name under which the template file is attached to the sandbox's connection."""


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid sandbox key (letters, digits, _ and -, 1-64 chars)."""
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ValueError(f"invalid sandbox key {key!r}: use 1-64 letters, digits, _ or -")
    return key


_BUILD_PRAGMAS = (
    "journal_mode = OFF",
    "synchronous = OFF",
    "locking_mode = EXCLUSIVE",
    "foreign_keys = OFF",
    "cache_size = -8192",
)
"""Pragmas of the connection that writes a template (written once, then only copied)."""

_ANALYSIS_ROWS = 2000


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # Rows an INSERT OR REPLACE removes fire the delete triggers too (change tracking).
    cursor.execute("PRAGMA recursive_triggers = ON")
    cursor.close()


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + ("?mode=ro" if read_only else "")
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


_COMPILED_STATEMENTS: LRUCache[Any, Any] = LRUCache(2000)
"""Compiled SQL shared by every sandbox and template engine of the process."""


@cache
def _shared_dialect() -> Dialect:
    """The SQLite dialect every sandbox engine uses, initialised once on an in-memory database."""
    prototype = create_engine("sqlite://")
    with prototype.connect():
        pass  # the first connection initialises the dialect (version, isolation level)
    prototype.dispose()
    return prototype.dialect


def _make_engine(path: Path, read_only: bool) -> Engine:
    """An engine on one SQLite file; read-only engines open it with ``mode=ro``.

    The engine keeps a few connections open, so a session costs no connect, pragmas or schema
    parsing. This process disposes of an engine before it freezes, replaces or deletes its file;
    a pooled connection whose file another process replaced is opened again on checkout.
    """
    engine = create_engine(
        "sqlite://",
        creator=lambda: _connect(path, read_only),
        poolclass=QueuePool,
        pool_size=2,
        max_overflow=8,
    )
    # Every sandbox and template has the same schema on the same SQLite, so their engines
    # compile the same SQL: they share one dialect and one cache of compiled statements, and a
    # sandbox's first pages reuse what was compiled for earlier ones instead of compiling anew.
    engine.dialect = _shared_dialect()
    engine.update_execution_options(compiled_cache=_COMPILED_STATEMENTS)
    event.listen(engine, "connect", _on_connect)

    @event.listens_for(engine, "connect")
    def _remember_file(_dbapi_connection: Any, record: Any) -> None:
        record.info["inode"] = _inode(path)

    @event.listens_for(engine, "checkout")
    def _same_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("inode") != _inode(path):
            raise DisconnectionError("the sandbox file was replaced")

    return engine


def create_schema(conn: Connection, *, indexes: bool = True) -> None:
    """Create every sandbox table and index in a fixed order (so template files are identical).

    ``metadata.create_all`` emits a table's indexes in set order, which varies with the hash
    seed; the data would be the same but the file bytes would not. With ``indexes=False`` only
    the tables are made: ``generate`` then builds the indexes once the bulk load is in, each in
    one sorted pass instead of row by row.
    """
    for table in SandboxBase.metadata.sorted_tables:
        conn.execute(CreateTable(table))
        if indexes:
            for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
                conn.execute(CreateIndex(index))


class SqliteFileBackend:
    """Templates in ``template_dir`` and per-attempt sandboxes in ``sandbox_dir``, one file each."""

    def __init__(self, sandbox_dir: Path, template_dir: Path) -> None:
        self.sandbox_dir = Path(sandbox_dir)
        self.template_dir = Path(template_dir)
        self._engines: OrderedDict[tuple[Path, bool], Engine] = OrderedDict()
        self._images: OrderedDict[Path, _TemplateImage] = OrderedDict()
        self._lock = threading.Lock()
        self._current: dict[Path, tuple[int, bytes]] = {}
        """Files found at this code's schema: path -> (inode, SQLite schema cookie) then."""

    # -- engines --

    def _engine(self, path: Path, read_only: bool) -> Engine:
        key = (path, read_only)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = self._engines[key] = _make_engine(path, read_only)
                while len(self._engines) > _ENGINE_CACHE_SIZE:
                    _, old = self._engines.popitem(last=False)
                    old.dispose()
            else:
                self._engines.move_to_end(key)
            return engine

    def _forget(self, path: Path) -> None:
        with self._lock:
            for read_only in (False, True):
                engine = self._engines.pop((path, read_only), None)
                if engine is not None:
                    engine.dispose()

    def _open(self, path: Path, read_only: bool) -> Session:
        session = Session(bind=self._engine(path, read_only))
        session.info[BACKEND_INFO_KEY] = self
        return session

    # -- templates --

    def template_path(self, spec: GenerationSpec) -> Path:
        """Where the template for ``spec`` lives (whether or not it exists yet)."""
        return self.template_dir / f"{spec.cache_key()}{_SUFFIX}"

    def ensure_template(self, spec: GenerationSpec) -> Path:
        """The template file for ``spec``, generating it first if it does not exist."""
        path = self.template_path(spec)
        if path.exists():
            return path
        self.template_dir.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_suffix(".lock")
        with open(lock_path, "w") as lock:
            # Another process may be generating the same template: wait for it, then reuse.
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not path.exists():
                    self._build_template(spec, path)
            except BaseException:
                # A refused generation (e.g. a plant asking for more records than exist) leaves
                # no template behind, so its lock file goes too.
                lock_path.unlink(missing_ok=True)
                raise
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return path

    def _build_template(self, spec: GenerationSpec, path: Path) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            engine = _make_engine(tmp, read_only=False)
            try:
                with engine.connect() as conn:
                    # A half-written temp file is thrown away, so durability is not needed;
                    # nobody else opens it while it is written. The generator assigns every
                    # key itself (the tests check the references), so the bulk load skips the
                    # per-row foreign key look-ups.
                    for pragma in _BUILD_PRAGMAS:
                        conn.exec_driver_sql(f"PRAGMA {pragma}")
                    create_schema(conn, indexes=False)
                    with Session(bind=conn) as session:
                        generate(session, spec)
                        session.commit()
                    conn.commit()
                    # Statistics for the query planner, copied into every clone; from a sample
                    # of each index (as PRAGMA optimize takes), not a full pass over each.
                    conn.exec_driver_sql(f"PRAGMA analysis_limit = {_ANALYSIS_ROWS}")
                    conn.exec_driver_sql("ANALYZE")
                    conn.commit()
                    # Installed after the data, so that generation pays nothing for it.
                    load_areas()
                    install_change_log(
                        conn.connection.driver_connection, SandboxBase.metadata.sorted_tables
                    )
                    conn.commit()
                    # No VACUUM: the tables were written in key order and their indexes built
                    # once after them, so the file has next to no free pages (under 1%) and
                    # rewriting it whole would cost more than the copy of every clone saves.
            finally:
                engine.dispose()
            tmp.chmod(_READ_ONLY_MODE)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextmanager
    def template_session(self, spec: GenerationSpec) -> Iterator[Session]:
        """A read-only session on the (ensured) template for ``spec``."""
        path = self.ensure_template(spec)
        with self._open(path, read_only=True) as session:
            yield session

    def template_path_for_key(self, template_key: str) -> Path:
        """Where the template with this key lives (whether or not it exists)."""
        if not isinstance(template_key, str) or not TEMPLATE_KEY_RE.fullmatch(template_key):
            raise ValueError(f"invalid template key {template_key!r}: expected 64 hex digits")
        return self.template_dir / f"{template_key}{_SUFFIX}"

    def has_template(self, template_key: str) -> bool:
        """Whether the template with this key is on disk."""
        return self.template_path_for_key(template_key).exists()

    @contextmanager
    def template_session_for_key(self, template_key: str) -> Iterator[Session]:
        """A read-only session on an existing template; TemplateNotFound if it is gone."""
        path = self.template_path_for_key(template_key)
        if not path.exists():
            raise TemplateNotFound(
                f"the sandbox template {template_key[:12]}… is not in {self.template_dir}; "
                "it is never generated again for grading"
            )
        self._bring_forward(path)
        with self._open(path, read_only=True) as session:
            yield session

    def template_keys(self) -> list[str]:
        """Keys of every template file in the cache, sorted."""
        if not self.template_dir.exists():
            return []
        return sorted(
            p.name[: -len(_SUFFIX)]
            for p in self.template_dir.glob(f"*{_SUFFIX}")
            if TEMPLATE_KEY_RE.fullmatch(p.name[: -len(_SUFFIX)])
        )

    def delete_template(self, template_key: str) -> None:
        """Delete one template file (and its lock file); no error if it does not exist."""
        path = self.template_path_for_key(template_key)
        self._forget(path)
        with self._lock:
            self._images.pop(path, None)
        for leftover in (path, path.with_suffix(".lock")):
            with suppress(FileNotFoundError):
                leftover.unlink()

    def purge_templates(self, keep: Collection[str], *, dry_run: bool = False) -> list[str]:
        """Delete every template whose key is not in ``keep``; returns the keys deleted (or, with
        ``dry_run``, that would be)."""
        kept = set(keep)
        purged = [key for key in self.template_keys() if key not in kept]
        if not dry_run:
            for key in purged:
                self.delete_template(key)
        return purged

    # -- sandboxes --

    def path(self, key: str) -> Path:
        """The file of the sandbox ``key`` (whether or not it exists)."""
        return self.sandbox_dir / f"{validate_key(key)}{_SUFFIX}"

    def exists(self, key: str) -> bool:
        """Whether a sandbox exists under ``key``."""
        return self.path(key).exists()

    def is_frozen(self, key: str) -> bool:
        """Whether the sandbox ``key`` has been frozen (its file is read-only)."""
        return not self._existing(key).stat().st_mode & 0o222

    def _existing(self, key: str) -> Path:
        path = self.path(key)
        if not path.exists():
            raise SandboxNotFound(f"no sandbox {key!r}")
        return path

    def create(
        self,
        key: str,
        spec: GenerationSpec,
        clock_mode: str = "real",
        *,
        variant: int | None = None,
    ) -> Path:
        """Clone the template for ``spec`` into a new sandbox ``key`` and start its clock.

        The clone (never the template) records its template key and data ``variant``.
        """
        path = self.path(key)
        if clock_mode not in ("real", "stepped"):
            raise ValueError(f"unknown clock mode {clock_mode!r}")
        if path.exists():
            raise SandboxExists(f"sandbox {key!r} already exists")
        template_key = spec.cache_key()
        template = self.template_dir / f"{template_key}{_SUFFIX}"
        if not template.exists():
            template = self.ensure_template(spec)
        # A template made before records were kept gets one first, so its clones have it too.
        self._bring_forward(template)
        found = os.stat(template)
        if not self.sandbox_dir.is_dir():
            self.sandbox_dir.mkdir(parents=True, exist_ok=True)
        meta = clock_meta(datetime.combine(spec.today, time(9, 0)), clock_mode)
        meta |= origin_meta(template_key, variant)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.sandbox_dir)
        tmp = Path(tmp_name)
        try:
            self._write_clone(template, found, meta, fd, tmp)
            try:
                _publish(tmp, path)
            except FileExistsError:
                raise SandboxExists(f"sandbox {key!r} already exists") from None
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def _write_clone(
        self, template: Path, found: os.stat_result, meta: dict[str, str], fd: int, dest: Path
    ) -> None:
        """Fill the empty file ``fd`` (at ``dest``) with the template and ``meta``; closes it."""
        data = None
        try:
            image = self._image(template, found)
            data = image.clone(meta) if image is not None else None
            if data is not None:
                _write_all(fd, data)
            else:
                _copy_into(fd, template)
        finally:
            os.close(fd)
        if data is None:
            _start_clone(dest, meta)

    def _image(self, template: Path, found: os.stat_result) -> _TemplateImage | None:
        """The template in memory (loaded on its first clone), or None for a large template."""
        if not 0 < found.st_size <= _IMAGED_TEMPLATE_BYTES:
            return None
        identity = (found.st_ino, found.st_size, found.st_mtime_ns)
        with self._lock:
            image = self._images.get(template)
            if image is not None and image.usable(identity):
                self._images.move_to_end(template)
                return image
        image = _TemplateImage.load(template, identity)
        if image is None:
            return None  # replaced since the stat: copy the file as it is now
        with self._lock:
            self._images[template] = image
            self._images.move_to_end(template)
            while sum(i.identity[1] for i in self._images.values()) > _IMAGED_TOTAL_BYTES:
                self._images.popitem(last=False)  # closed once no clone uses it
        return image

    @contextmanager
    def session(self, key: str, read_only: bool = False) -> Iterator[Session]:
        """A session on the sandbox ``key``; the caller commits. Frozen sandboxes: read-only."""
        path = self._existing(key)
        if not read_only and self.is_frozen(key):
            raise SandboxFrozen(f"sandbox {key!r} is frozen; open it read-only")
        self._bring_forward(path)
        with self._open(path, read_only) as session:
            yield session

    def freeze(self, key: str) -> None:
        """Record ``frozen_at`` in the sandbox and make its file read-only (idempotent)."""
        path = self._existing(key)
        if self.is_frozen(key):
            return
        with self.session(key) as session:
            stamp = datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat()
            session.merge(SandboxMeta(key="frozen_at", value=stamp))
            session.commit()
        self._forget(path)
        path.chmod(_READ_ONLY_MODE)

    def delete(self, key: str) -> None:
        """Delete the sandbox ``key`` (frozen or not); no error if it does not exist."""
        path = self.path(key)
        self._forget(path)
        for leftover in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            with suppress(FileNotFoundError):
                leftover.unlink()

    def keys(self) -> list[str]:
        """Keys of all sandboxes in the store, sorted."""
        if not self.sandbox_dir.exists():
            return []
        return sorted(
            p.name[: -len(_SUFFIX)]
            for p in self.sandbox_dir.glob(f"*{_SUFFIX}")
            if KEY_RE.fullmatch(p.name[: -len(_SUFFIX)])
        )

    def purge(self, older_than: timedelta, *, dry_run: bool = False) -> list[str]:
        """Delete frozen sandboxes whose file was last modified before now - ``older_than``.

        Returns their keys; ``dry_run`` only lists them.
        """
        cutoff = datetime.now(UTC).timestamp() - older_than.total_seconds()
        purged = []
        for key in self.keys():
            path = self.path(key)
            if self.is_frozen(key) and path.stat().st_mtime < cutoff:
                if not dry_run:
                    self.delete(key)
                purged.append(key)
        return purged

    # -- bringing a sandbox made by an earlier release forward --

    def _bring_forward(self, path: Path) -> None:
        """Upgrade the file's schema if its record is older than the code (once per process).

        A file found current is remembered with its inode and schema cookie, so later opens
        cost a stat and a read of 4 bytes; a replaced file or a changed schema is looked at again.
        """
        mark = _schema_mark(path)
        if mark is None or self._current.get(path) == mark:
            return
        self.upgrade_file(path)
        mark = _schema_mark(path)
        if mark is not None:
            self._current[path] = mark

    def upgrade_file(self, path: Path, *, dry_run: bool = False) -> list[str]:
        """Bring one sandbox or template file to this code's schema; the steps run (or due).

        Empty when it is current. A writable file is upgraded in place in one transaction; a
        read-only one (frozen, or a template) is upgraded in a copy that then replaces it, with
        the same mode and modification time (retention counts from it), so it is never
        writable under its name. SandboxTooNew, changing nothing, if a newer release made it.
        """
        recorded = _recorded_versions(path)
        if recorded == code_versions():
            return []
        due = [f"{area} {version}" for area, version, _ in pending_steps(recorded)] or ["record"]
        if dry_run:
            return due
        found = path.stat()
        if found.st_mode & 0o222:
            return _upgrade_in_place(path, is_template=path.parent == self.template_dir)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            _copy_into(fd, path)
            os.close(fd)
            fd = -1
            done = _upgrade_in_place(tmp, is_template=path.parent == self.template_dir)
            tmp.chmod(stat.S_IMODE(found.st_mode))
            os.utime(tmp, ns=(found.st_atime_ns, found.st_mtime_ns))
            if done:
                os.replace(tmp, path)
            return done
        finally:
            if fd >= 0:
                os.close(fd)
            tmp.unlink(missing_ok=True)

    def upgrade_sandboxes(self, *, dry_run: bool = False) -> UpgradeReport:
        """Bring every sandbox (frozen ones too) and template to this code's schema."""
        report = UpgradeReport()
        for kind, paths in (
            ("sandbox", [self.path(key) for key in self.keys()]),
            ("template", [self.template_path_for_key(key) for key in self.template_keys()]),
        ):
            for path in paths:
                try:
                    done = self.upgrade_file(path, dry_run=dry_run)
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the rest
                    report.failed.append((kind, path.stem, str(exc)))
                    continue
                report.count(kind, bool(done))
        return report

    # -- comparing with the template --

    def tracked_keys(self, session: Session, table: str) -> list[Any] | None:
        """Keys of the rows of ``table`` written since the sandbox was cloned, sorted.

        A superset of the rows that differ from the template (a row changed and changed back
        is listed). None when the sandbox has no change log (cloned before it existed).
        """
        if session.get_bind().dialect.name != "sqlite":
            return None
        raw = session.connection().connection.driver_connection
        if not has_change_log(raw):
            return None
        return tracked_keys(raw, table)

    def changed_keys(
        self, template: Session, final: Session, table: Table, columns: Sequence[str]
    ) -> ChangedKeys | None:
        """Keys added, deleted and differing, computed inside SQLite with the template attached.

        With the change log, only the rows written since the clone are compared, and a table
        nobody wrote to costs one indexed look-up. Without it, a large table with a handful of
        changes still costs one indexed pass in C instead of loading both tables into Python.
        None when that is not possible (not two SQLite files, a composite key, or the
        connection refuses to attach).
        """
        pk = [c.name for c in table.primary_key.columns]
        if len(pk) != 1:
            return None
        template_file = _sqlite_file(template)
        if template_file is None or _sqlite_file(final) in (None, template_file):
            return None
        candidates = self.tracked_keys(final, table.name)
        if candidates == []:
            return ChangedKeys([], [], set())
        connection = final.connection()
        try:
            connection.exec_driver_sql(
                f"ATTACH DATABASE ? AS {ATTACHED_TEMPLATE}", (template_file,)
            )
        except DBAPIError:
            return None
        try:
            if candidates is None:
                found = _compare_whole_tables(connection, table, pk[0], list(columns))
            else:
                found = _compare_logged_rows(connection, table, pk[0], list(columns))
        finally:
            connection.exec_driver_sql(f"DETACH DATABASE {ATTACHED_TEMPLATE}")
        return found

    def dispose(self) -> None:
        """Close every cached engine (for shutdown and tests)."""
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
            self._images.clear()


@dataclass(eq=False)
class _TemplateImage:
    """A template loaded into an in-memory database, that clones are taken from.

    ``identity`` is the file's (inode, size, mtime) when it was read; the connection keeps the
    schema parsed, so a clone's rows cost an insert, not a parse of every table and trigger.
    """

    identity: tuple[int, int, int]
    connection: sqlite3.Connection
    pid: int = field(default_factory=os.getpid)
    spoilt: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, template: Path, identity: tuple[int, int, int]) -> _TemplateImage | None:
        """Read the template into memory; None if the file is no longer the one identified."""
        connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        with open(template, "rb") as file:
            if os.fstat(file.fileno()).st_ino != identity[0]:
                connection.close()
                return None
            # SQLite copies the bytes in; read through a mapping, they are copied only once.
            with mmap.mmap(file.fileno(), identity[1], prot=mmap.PROT_READ) as mapping:
                connection.deserialize(mapping)
        if not has_change_log(connection):
            # A template made before change tracking: its clones get the triggers from here.
            load_areas()
            install_change_log(connection, SandboxBase.metadata.sorted_tables)
        return cls(identity, connection)

    def usable(self, identity: tuple[int, int, int]) -> bool:
        """Whether this image is of the file as identified, and may be used by this process."""
        # A connection must not cross a fork; a child process loads its own.
        return self.identity == identity and self.pid == os.getpid() and not self.spoilt

    def clone(self, meta: dict[str, str]) -> bytes | None:
        """The template's bytes with ``meta`` written as a clone's first rows, change log and all.

        The rows are put back as they were afterwards, so each clone starts from the template;
        None if that failed for an earlier clone (the caller copies the file instead).
        """
        upsert = (
            "INSERT INTO sandbox_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        with self.lock:
            if self.spoilt:
                return None
            connection = self.connection
            marks = ", ".join("?" * len(meta))
            before = dict(
                connection.execute(
                    f"SELECT key, value FROM sandbox_meta WHERE key IN ({marks})",  # noqa: S608
                    list(meta),
                ).fetchall()
            )
            (last_change,) = connection.execute(
                f"SELECT coalesce(max(rowid), 0) FROM {CHANGE_LOG}"  # noqa: S608
            ).fetchone()
            connection.execute("BEGIN")
            try:
                connection.executemany(upsert, list(meta.items()))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            self.spoilt = True  # until the rows are back
            image = connection.serialize()
            connection.execute("BEGIN")
            connection.executemany(upsert, list(before.items()))
            connection.executemany(
                "DELETE FROM sandbox_meta WHERE key = ?", [(k,) for k in meta if k not in before]
            )
            connection.execute(f"DELETE FROM {CHANGE_LOG} WHERE rowid > ?", (last_change,))  # noqa: S608
            connection.execute("COMMIT")
            self.spoilt = False
            return image


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (one call, unless the kernel takes less)."""
    with memoryview(data) as view:
        written = 0
        while written < len(view):
            written += os.write(fd, view[written:])


def _copy_into(fd: int, template: Path) -> None:
    """Copy the template into the new, empty file ``fd`` in the kernel (sendfile).

    Written through the descriptor the temporary file was made with: opening the file again to
    copy would truncate it, and ext4 starts writing a file truncated and rewritten to disk when
    it is closed (its guard for replace-by-truncate), which at 100,000 customers cost a clone
    more than half again the time of the copy itself.
    """
    with open(template, "rb") as source:
        size = os.fstat(source.fileno()).st_size
        offset = 0
        while offset < size:
            sent = os.sendfile(fd, source.fileno(), offset, min(size - offset, 1 << 30))
            if sent == 0:
                break
            offset += sent


def _publish(tmp: Path, path: Path) -> None:
    """Give the finished clone its name; FileExistsError if the name is taken.

    link() fails if the name exists, so two racing creates cannot both succeed (a rename would
    silently replace the other's sandbox).
    """
    os.link(tmp, path)


def _compare_whole_tables(
    connection: Connection, table: Table, pk: str, names: list[str]
) -> ChangedKeys:
    """Compare every row of a table with the attached template's (no change log)."""
    # Both tables have the same name, so each gets an alias for the joins.
    old = table_clause(table.name, names).alias("old")
    new = table.alias("new")
    new_key, old_key = new.c[pk], old.c[pk]
    added = connection.execute(
        select(new_key).select_from(new.outerjoin(old, old_key == new_key)).where(old_key.is_(None))
    ).scalars()
    deleted = connection.execute(
        select(old_key).select_from(old.outerjoin(new, new_key == old_key)).where(new_key.is_(None))
    ).scalars()
    # Rows keep their key in the copy, so a join on the key finds every changed row in one
    # indexed pass; IS NOT compares NULLs as values.
    changed = select(new_key).select_from(new.join(old, old_key == new_key))
    changed = changed.where(or_(*(new.c[n].is_distinct_from(old.c[n]) for n in names)))
    differing = set(connection.execute(changed).scalars())
    return ChangedKeys(sorted(added), sorted(deleted), differing)


def _compare_logged_rows(
    connection: Connection, table: Table, pk: str, names: list[str]
) -> ChangedKeys:
    """Compare only the rows the change log lists with the attached template's."""
    log_table = lightweight_table(CHANGE_LOG, column("tbl"), column("key"))
    log = select(log_table.c.key).where(log_table.c.tbl == table.name).distinct().subquery("log")
    old = table_clause(table.name, names).alias("old")
    new = table.alias("new")
    new_key, old_key = new.c[pk], old.c[pk]
    differs = or_(*(new.c[n].is_distinct_from(old.c[n]) for n in names))
    rows = connection.execute(
        select(new_key, old_key, differs).select_from(
            log.outerjoin(new, new_key == log.c.key).outerjoin(old, old_key == log.c.key)
        )
    ).all()
    added = sorted(n for n, o, _ in rows if n is not None and o is None)
    deleted = sorted(o for n, o, _ in rows if n is None and o is not None)
    differing = {n for n, o, d in rows if n is not None and o is not None and d}
    return ChangedKeys(added, deleted, differing)


def _start_clone(path: Path, meta: dict[str, str]) -> None:
    """Write a fresh copy's first rows (clock and origin) on one raw connection, no fsync.

    The copy is still under its temporary name: if the machine stops now it is thrown away,
    so neither a journal nor a flush to disk is needed. A template made before change tracking
    existed gets its triggers here, before the first write.
    """
    # Transactions below are explicit; a plain path needs no URI parsing or resolving.
    connection = sqlite3.connect(os.fspath(path), isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("BEGIN")
        if not has_change_log(connection):
            load_areas()
            install_change_log(connection, SandboxBase.metadata.sorted_tables)
        connection.executemany(
            "INSERT INTO sandbox_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(meta.items()),
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


def _schema_mark(path: Path) -> tuple[int, bytes] | None:
    """The file's inode and SQLite schema cookie (header bytes 40-43); None if it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return os.fstat(fd).st_ino, os.pread(fd, 4, 40)
    finally:
        os.close(fd)


def _recorded_versions(path: Path) -> dict[str, str] | None:
    """The area versions a sandbox or template file records (None: made before records).

    A damaged file raises SQLAlchemy's DatabaseError, as opening it with a session would.
    """
    query = "SELECT value FROM sandbox_meta WHERE key = ?"
    connection = _connect(path, read_only=True)
    try:
        row = connection.execute(query, (VERSIONS_KEY,)).fetchone()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(query, (VERSIONS_KEY,), exc) from exc
    finally:
        connection.close()
    return parse_versions(row[0] if row else None)


def _upgrade_in_place(path: Path, *, is_template: bool) -> list[str]:
    """Run the pending upgrade steps on the file in one write transaction; the steps run.

    The record is read again once the write lock is held, so two processes upgrading the same
    file at once run the steps once. A template's change log stays empty.
    """

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(os.fspath(path), isolation_level=None)
        connection.execute("PRAGMA foreign_keys = OFF")
        return connection

    # pysqlite begins no transaction before DDL: begin one explicitly, holding the write lock.
    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with engine.begin() as connection:
            raw = connection.connection.driver_connection
            value = connection.exec_driver_sql(
                "SELECT value FROM sandbox_meta WHERE key = ?", (VERSIONS_KEY,)
            ).scalar()
            recorded = parse_versions(value)
            if recorded == code_versions():
                return []
            tracked = has_change_log(raw)

            def install_tracking(tables: list[Table]) -> None:
                if tracked:
                    install_change_log(raw, tables)

            def put_meta(values: dict[str, str]) -> None:
                connection.exec_driver_sql(
                    "INSERT INTO sandbox_meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    list(values.items()),
                )

            context = UpgradeContext(connection, install_tracking)
            done = run_upgrade(context, recorded, put_meta)
            if is_template and tracked:
                connection.exec_driver_sql(f"DELETE FROM {CHANGE_LOG}")  # noqa: S608
            return done
    finally:
        engine.dispose()


def table_clause(name: str, names: Sequence[str]) -> Any:
    """The template's copy of a table, as attached for ``changed_keys``."""
    return lightweight_table(name, *(column(n) for n in names), schema=ATTACHED_TEMPLATE)


def _sqlite_file(session: Session) -> str | None:
    """The file of a session's SQLite database, or None (another database, or in memory)."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    rows = session.connection().exec_driver_sql("PRAGMA database_list").all()
    return next((row[2] for row in rows if row[1] == "main" and row[2]), None)
