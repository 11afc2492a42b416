"""Change tracking inside a SQLite sandbox: which rows of which tables were written since the clone.

Every table of the sandbox schema (derived from ``SandboxBase.metadata``, so a new area's tables
are tracked without edits) gets three triggers, AFTER INSERT, UPDATE and DELETE, that note the
written row's primary key in ``sandbox_change`` (table, key, kind of write; one row per write,
an update noting the key before and after). Each trigger is one short INSERT with no conflict
to meet, whatever conflict policy the statement that fired it carries, and short to parse: every
connection to a sandbox parses them when it first reads the schema. The
triggers live in the template, installed after generation, so generation itself is not slowed
and the template's log stays empty; a template is read-only, so they fire only in clones. They
fire for every write whatever made it: operations through the ORM, raw SQL (a plant, a repair
script), cascades of a foreign key, and the rows an ``INSERT OR REPLACE`` removes (the sandbox
connections turn on ``recursive_triggers`` for that).

The log is a superset of the rows that differ from the template: a row changed and changed
back, or inserted and deleted, is noted but compares equal. Comparing a sandbox with its
template therefore reads only the noted rows, and stays exact.

Tables with a composite primary key are not tracked (none exists today); their comparison falls
back to a full one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table

__all__ = [
    "CHANGE_LOG",
    "has_change_log",
    "install_change_log",
    "tracked_keys",
    "tracked_tables",
]

CHANGE_LOG = "sandbox_change"
"""The table the triggers write to: one row per row written since the clone (repeats kept)."""

_OPS = (
    ("insert", "INSERT", ("NEW",)),
    ("update", "UPDATE", ("OLD", "NEW")),
    ("delete", "DELETE", ("OLD",)),
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def tracked_tables(tables: Iterable[Table]) -> list[Table]:
    """The tables whose writes can be logged: those with a single-column primary key."""
    return [t for t in tables if len(t.primary_key.columns) == 1]


def _trigger_sql(table: Table) -> list[str]:
    """CREATE TRIGGER statements noting each written row of ``table`` in the change log."""
    (pk,) = [c.name for c in table.primary_key.columns]
    name = _literal(table.name)
    statements = []
    for op, event, rows in _OPS:
        values = ", ".join(f"({name}, {row}.{_quote(pk)}, {_literal(op)})" for row in rows)
        trigger = _quote(f"{CHANGE_LOG}_{table.name}_{op}")
        # Names come from the metadata, quoted; no value from a user is spliced in.
        head = f"CREATE TRIGGER IF NOT EXISTS {trigger} AFTER {event} ON {_quote(table.name)}"
        statements.append(f"{head} BEGIN INSERT INTO {CHANGE_LOG} VALUES {values}; END")  # noqa: S608
    return statements


def install_change_log(dbapi_connection: Any, tables: Iterable[Table]) -> None:
    """Create the change log and the triggers on every trackable table (idempotent).

    Runs on a DB-API (sqlite3) connection, inside the caller's transaction if one is open.
    """
    cursor = dbapi_connection.cursor()
    try:
        columns = "tbl TEXT NOT NULL, key NOT NULL, op TEXT NOT NULL"
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {CHANGE_LOG} ({columns})")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {CHANGE_LOG}_by_row ON {CHANGE_LOG} (tbl, key)")
        for table in tracked_tables(tables):
            for statement in _trigger_sql(table):
                cursor.execute(statement)
    finally:
        cursor.close()


def has_change_log(dbapi_connection: Any) -> bool:
    """Whether the database has the change log (sandboxes cloned before it existed do not)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (CHANGE_LOG,)
        )
        return cursor.fetchone() is not None
    finally:
        cursor.close()


def tracked_keys(dbapi_connection: Any, table: str) -> list[Any]:
    """Keys of the rows of ``table`` written since the clone, sorted (the log must exist)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            "SELECT DISTINCT key FROM sandbox_change WHERE tbl = ? ORDER BY key", (table,)
        )
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()
