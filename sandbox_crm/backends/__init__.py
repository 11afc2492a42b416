"""Where sandboxes live: the interface every sandbox backend offers, and its errors.

A backend keeps generated templates (one per ``GenerationSpec``, named by its cache key) and
per-attempt sandboxes cloned from them (named by a sandbox key). The grading engine and the
platform use only this interface: create from a template, open read-write or read-only, freeze,
ask whether frozen, compare with the template, delete, and the template cache. Sessions a
backend opens carry it in ``session.info[BACKEND_INFO_KEY]``, so code that holds two sessions
(the grading context) can ask the backend to compare them where the data is.

Grading must cost in proportion to what the trainee changed, not to the size of the sandbox. So
a backend tracks changes: from the moment a sandbox is created, every row written in any table of
the sandbox schema (whatever wrote it: an operation, raw SQL, a cascade) is noted, and
``tracked_keys`` lists them per table. The list may hold more than what differs (a row changed
and changed back) but never less; ``changed_keys`` then compares only those rows and is exact.
The tables are derived from ``SandboxBase.metadata``, so a new area's tables are tracked without
edits. A starting clone must be cheap: the template's data copied as such (a file copy, a
``CREATE DATABASE ... TEMPLATE``), plus the few rows that start its clock, without forcing it to
durable storage (a lost clone is made again from its template).

Two backends implement it: ``SqliteFileBackend`` (one SQLite file per sandbox, the default)
and ``PostgresSchemaBackend`` (a schema per sandbox, for a platform on PostgreSQL, so that
several app servers share sandboxes without shared storage); ``make_backend`` picks one, and
``tests/test_backend_contract.py`` runs the same tests on both.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy import Table
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from sandbox_crm.generator import GenerationSpec

__all__ = [
    "BACKEND_INFO_KEY",
    "ChangedKeys",
    "SandboxBackend",
    "SandboxExists",
    "SandboxFrozen",
    "SandboxNotFound",
    "TemplateNotFound",
    "backend_kind",
    "backend_of",
    "make_backend",
]

BACKEND_KINDS = ("sqlite_files", "postgres")
"""Values of the SANDBOX_BACKEND setting."""

BACKEND_INFO_KEY = "sandbox_backend"
"""Key in ``Session.info`` under which a backend leaves itself on the sessions it opens."""


class SandboxNotFound(LookupError):
    """No sandbox exists under the key."""


class SandboxExists(FileExistsError):
    """A sandbox already exists under the key."""


class SandboxFrozen(PermissionError):
    """The sandbox was frozen on submission; it can only be opened read-only."""


class TemplateNotFound(LookupError):
    """No template exists under the key (it is never generated when opened by key)."""


@dataclass(frozen=True)
class ChangedKeys:
    """Primary keys of one table's rows added, deleted, or differing in some compared column."""

    added: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    differing: set[Any] = field(default_factory=set)


@runtime_checkable
class SandboxBackend(Protocol):
    """The operations the engine and the platform need from wherever sandboxes are kept."""

    # -- templates --

    def ensure_template(self, spec: GenerationSpec) -> Any:
        """Generate the template for ``spec`` unless it exists (safe against a racing caller)."""
        ...

    def has_template(self, template_key: str) -> bool:
        """Whether the template with this key exists."""
        ...

    def template_session(self, spec: GenerationSpec) -> AbstractContextManager[Session]:
        """A read-only session on the (ensured) template for ``spec``."""
        ...

    def template_session_for_key(self, template_key: str) -> AbstractContextManager[Session]:
        """A read-only session on an existing template; TemplateNotFound if it is gone."""
        ...

    def template_keys(self) -> list[str]:
        """Keys of every template kept, sorted."""
        ...

    def delete_template(self, template_key: str) -> None:
        """Delete one template; no error if it does not exist."""
        ...

    def purge_templates(self, keep: Collection[str], *, dry_run: bool = False) -> list[str]:
        """Delete every template whose key is not in ``keep``; return the keys (to be) deleted."""
        ...

    # -- sandboxes --

    def create(
        self,
        key: str,
        spec: GenerationSpec,
        clock_mode: str = "real",
        *,
        variant: int | None = None,
    ) -> Any:
        """Clone the template for ``spec`` into a new sandbox ``key`` and start its clock.

        The clone records the template's key and the data ``variant`` it was made for
        (``SandboxInfo.template_key`` and ``variant``); the template is not changed.
        """
        ...

    def exists(self, key: str) -> bool:
        """Whether a sandbox exists under ``key``."""
        ...

    def session(self, key: str, read_only: bool = False) -> AbstractContextManager[Session]:
        """A session on the sandbox; SandboxFrozen for read-write on a frozen one."""
        ...

    def freeze(self, key: str) -> None:
        """Record ``frozen_at`` and refuse read-write sessions from now on (idempotent)."""
        ...

    def is_frozen(self, key: str) -> bool:
        """Whether the sandbox has been frozen (SandboxNotFound if there is none)."""
        ...

    def delete(self, key: str) -> None:
        """Delete the sandbox (frozen or not); no error if it does not exist."""
        ...

    def keys(self) -> list[str]:
        """Keys of every sandbox kept, sorted."""
        ...

    def purge(self, older_than: timedelta, *, dry_run: bool = False) -> list[str]:
        """Delete frozen sandboxes last changed longer ago than ``older_than``; return keys."""
        ...

    def tracked_keys(self, session: Session, table: str) -> list[Any] | None:
        """Keys of the rows of ``table`` written since the sandbox was created, sorted.

        Never misses a row that differs from the template; may list rows that do not. None when
        the sandbox does not track changes (the caller then compares whole tables).
        """
        ...

    def changed_keys(
        self, template: Session, final: Session, table: Table, columns: Sequence[str]
    ) -> ChangedKeys | None:
        """Compare one table of a sandbox with its template where the data is kept.

        ``columns`` include the primary key. Exact: the same answer as comparing every row,
        at a cost that follows the tracked changes. None when the backend cannot (for example
        a composite key); the caller then compares the rows itself.
        """
        ...

    def dispose(self) -> None:
        """Release connections (for shutdown and tests)."""
        ...


def backend_of(session: Session) -> SandboxBackend | None:
    """The backend that opened ``session``, or None for a session made some other way."""
    return session.info.get(BACKEND_INFO_KEY)


def backend_kind(setting: str | None, database_url: str) -> str:
    """Which backend to use: the explicit setting, else PostgreSQL when the database is."""
    if setting:
        if setting not in BACKEND_KINDS:
            raise ValueError(
                f"unknown sandbox backend {setting!r}: use one of {', '.join(BACKEND_KINDS)}"
            )
        return setting
    return "postgres" if database_url.startswith("postgresql") else "sqlite_files"


def make_backend(
    kind: str,
    *,
    sandbox_dir: str,
    template_dir: str,
    database_url: str = "",
    spares: int | None = None,
) -> SandboxBackend:
    """The backend of ``kind``: SQLite files in the two folders, or schemas at ``database_url``.

    ``spares``: for PostgreSQL, the clones of each template kept ready for starts (None: the
    backend's default).
    """
    if kind == "postgres":
        from sandbox_crm.backends.postgres_schemas import DEFAULT_SPARES, PostgresSchemaBackend

        if not database_url.startswith("postgresql"):
            raise ValueError("the postgres sandbox backend needs a postgresql:// database URL")
        return PostgresSchemaBackend(
            database_url, spares=DEFAULT_SPARES if spares is None else max(0, spares)
        )
    from sandbox_crm.backends.sqlite_files import SqliteFileBackend

    return SqliteFileBackend(sandbox_dir, template_dir)
