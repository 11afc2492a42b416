"""Bringing a sandbox made by an earlier release forward to the schema of this code.

A template records, at generation, the version of every enabled area and of the generator in
its ``sandbox_meta`` (``area_versions``, ``generator_version``); a clone inherits the rows. When
an area's tables change, the area bumps its ``version`` (new attempts get new templates, as the
version is part of the cache key) and declares, in ``Area.upgrades``, the step that brings a
sandbox from the version before to the new one. An attempt in progress keeps its sandbox, so a
backend opening one whose record is older than the code runs the missing steps, in area order
and version order, inside one transaction, and then records the code's versions
(``schema_upgraded_at`` and ``schema_upgraded_from`` say when, and from what).

Rules:

- A sandbox with no record was made before records were kept: every area counts as version 1.
  Steps only add what is missing (they look at the schema first), so one that was in fact newer
  is checked and left as it is. An area the record does not name did not exist when the sandbox
  was made: it counts as version 0, and its tables are created, empty.
- A recorded version newer than the code's (the release was rolled back) is refused with
  ``SandboxTooNew``: nothing is changed, the sandbox waits for the newer release.
- Steps are additive: create missing tables, add missing columns (nullable, or filled with the
  column's default), create missing indexes, and the change-tracking triggers of new tables. No
  existing value changes, so a frozen (submitted) sandbox is upgraded too: grading it with new
  code reads it through the new models, and its evidence is the same. The template a sandbox was
  cloned from is upgraded the same way when grading opens it, so the two compare as before.
- The generator's version is recorded, not upgraded: it says how the data was made, and a
  template made by an older generator is simply not reused for new attempts.

Most steps are one line: ``upgrades={"2": add_missing("service_case")}``. A step that must also
fill data is a function of an ``UpgradeContext`` (``context.session()`` for the ORM).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Table, inspect, literal
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable

__all__ = [
    "UPGRADED_AT_KEY",
    "UPGRADED_FROM_KEY",
    "VERSIONS_KEY",
    "SandboxTooNew",
    "UpgradeContext",
    "UpgradeError",
    "UpgradeReport",
    "UpgradeStep",
    "add_missing",
    "code_versions",
    "missing_steps",
    "parse_versions",
    "pending_steps",
    "run_upgrade",
    "versions_meta",
]

VERSIONS_KEY = "area_versions"
"""Meta key: JSON object of area name -> version the sandbox's schema and data are at."""
UPGRADED_AT_KEY = "schema_upgraded_at"
"""Meta key: when the sandbox was last brought forward (UTC, ISO format)."""
UPGRADED_FROM_KEY = "schema_upgraded_from"
"""Meta key: the versions recorded before that upgrade (JSON; ``null`` for no record)."""


class UpgradeError(RuntimeError):
    """A sandbox cannot be brought to this code's schema."""


class SandboxTooNew(UpgradeError):
    """The sandbox was made or upgraded by a newer release than this code."""


@dataclass
class UpgradeContext:
    """What an upgrade step works on: a connection inside the upgrade's transaction.

    ``install_tracking`` adds the change-log triggers of the given tables where the sandbox
    tracks changes (a template or an untracked sandbox: nothing).
    """

    connection: Connection
    install_tracking: Callable[[list[Table]], None]
    schema: str | None = None
    """The PostgreSQL schema the connection's unqualified names are translated to."""
    created: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)

    def _inspector(self) -> Any:
        return inspect(self.connection)

    def session(self) -> Session:
        """An ORM session on the upgrade's connection (flushes join its transaction)."""
        return Session(bind=self.connection, join_transaction_mode="create_savepoint")

    def add_missing(self, tables: Iterable[Table]) -> None:
        """Create the missing tables, columns and indexes among ``tables``; track new tables."""
        inspector = self._inspector()
        existing = set(inspector.get_table_names(schema=self.schema))
        new_tables = []
        for table in tables:
            if table.name not in existing:
                self.connection.execute(CreateTable(table))
                for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
                    self.connection.execute(CreateIndex(index))
                self.created.append(table.name)
                new_tables.append(table)
                continue
            present = {c["name"] for c in inspector.get_columns(table.name, schema=self.schema)}
            for column in table.columns:
                if column.name not in present:
                    self._add_column(table, column)
            for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
                self.connection.execute(CreateIndex(index, if_not_exists=True))
        if new_tables:
            self.install_tracking(new_tables)

    def _add_column(self, table: Table, column: Any) -> None:
        """ALTER TABLE ... ADD COLUMN, filled with the column's default when it may not be NULL."""
        dialect = self.connection.dialect
        preparer = dialect.identifier_preparer
        definition = str(CreateColumn(column).compile(dialect=dialect)).strip()
        fill = None
        if not column.nullable and column.server_default is None:
            fill = _default_literal(column, dialect)
            definition += f" DEFAULT {fill}"
        # Names come from the metadata and are quoted by the dialect.
        self.connection.exec_driver_sql(
            f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {definition}"
        )
        if fill is not None and dialect.name == "postgresql":
            # The model has no database default; the fill was for the existing rows only.
            self.connection.exec_driver_sql(
                f"ALTER TABLE {preparer.format_table(table)} "
                f"ALTER COLUMN {preparer.format_column(column)} DROP DEFAULT"
            )
        self.added_columns.append(f"{table.name}.{column.name}")


def _default_literal(column: Any, dialect: Any) -> str:
    """The SQL literal of a NOT NULL column's Python default, for the rows already there."""
    default = column.default
    if default is None or not (default.is_scalar or default.is_callable):
        raise UpgradeError(
            f"cannot add {column.table.name}.{column.name} to existing rows: it may not be "
            "NULL and has no default; the upgrade step must fill it"
        )
    value = default.arg(None) if default.is_callable else default.arg
    if isinstance(column.type, JSON):
        text = json.dumps(value)
        return "'" + text.replace("'", "''") + "'"
    compiled = literal(value, column.type).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


@dataclass
class UpgradeReport:
    """What ``upgrade_sandboxes`` found, per kind (sandbox, spare, template)."""

    upgraded: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, key, why) of each one that could not be upgraded (left unchanged)."""

    def count(self, kind: str, upgraded: bool) -> None:
        """Count one sandbox of ``kind`` as upgraded (or due, in a dry run) or as current."""
        counts = self.upgraded if upgraded else self.current
        counts[kind] = counts.get(kind, 0) + 1


UpgradeStep = Callable[[UpgradeContext], None]
"""A step from one version of an area to the next."""


def add_missing(*table_names: str) -> UpgradeStep:
    """A step that creates the named tables, or adds their missing columns and indexes."""

    def step(context: UpgradeContext) -> None:
        from sandbox_crm.models import SandboxBase

        missing = [name for name in table_names if name not in SandboxBase.metadata.tables]
        if missing:
            raise UpgradeError(f"upgrade step names unknown table(s): {', '.join(missing)}")
        context.add_missing(SandboxBase.metadata.tables[name] for name in table_names)

    step.__doc__ = f"Add what is missing of {', '.join(table_names)}."
    step.tables = table_names  # type: ignore[attr-defined]
    return step


def code_versions() -> dict[str, str]:
    """This code's version of every enabled area."""
    from sandbox_crm.areas import area_versions

    return area_versions()


def versions_meta() -> dict[str, str]:
    """The meta row recording this code's area versions (written by the generator)."""
    return {VERSIONS_KEY: json.dumps(code_versions(), sort_keys=True)}


def parse_versions(value: str | None) -> dict[str, str] | None:
    """The versions a meta value records; None for no (or an unreadable) record."""
    if not value:
        return None
    try:
        loaded = json.loads(value)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return {str(k): str(v) for k, v in loaded.items()}


def _number(area: str, version: str) -> int:
    try:
        return int(version)
    except ValueError:
        raise UpgradeError(
            f"area {area!r} has version {version!r}; versions are whole numbers"
        ) from None


def _step(run: UpgradeStep | str) -> UpgradeStep:
    if callable(run):
        return run
    module, _, attribute = run.partition(":")
    return getattr(importlib.import_module(module), attribute)


def missing_steps(area: Any) -> list[str]:
    """Versions past 1 an area has reached without declaring the step to them (or extra keys)."""
    top = _number(area.name, area.version)
    wanted = {str(version) for version in range(2, top + 1)}
    return sorted(wanted - set(area.upgrades)) + [
        f"{key} (no such version)" for key in sorted(set(area.upgrades) - wanted)
    ]


def pending_steps(
    recorded: Mapping[str, str] | None,
) -> list[tuple[str, int, UpgradeStep | None]]:
    """The steps that bring a sandbox recording ``recorded`` to this code, in order.

    Each is (area, version it reaches, step); version 1 of an area the record does not name
    has no step of its own (its tables are created). SandboxTooNew if any recorded version is
    newer than the code's, or names an area this code does not have.
    """
    from sandbox_crm.areas import enabled_areas

    areas = enabled_areas()
    before = {area.name: "1" for area in areas} if recorded is None else dict(recorded)
    unknown = sorted(set(before) - {area.name for area in areas})
    too_new = [
        f"{area.name} {before[area.name]} (this release: {area.version})"
        for area in areas
        if area.name in before
        and _number(area.name, before[area.name]) > _number(area.name, area.version)
    ]
    if unknown or too_new:
        details = too_new + [f"{name} (not in this release)" for name in unknown]
        raise SandboxTooNew(
            "the sandbox was made or upgraded by a newer release than this one: "
            + "; ".join(details)
            + ". It is left unchanged; run the newer release to use it."
        )
    steps: list[tuple[str, int, UpgradeStep | None]] = []
    for area in areas:
        start = _number(area.name, before.get(area.name, "0"))
        for version in range(start + 1, _number(area.name, area.version) + 1):
            run = area.upgrades.get(str(version))
            if run is None and version > 1:
                raise UpgradeError(f"area {area.name!r} declares no upgrade to version {version}")
            steps.append((area.name, version, None if run is None else _step(run)))
    return steps


def run_upgrade(
    context: UpgradeContext, recorded: Mapping[str, str] | None, meta: Any
) -> list[str]:
    """Run the pending steps on ``context`` and record the code's versions via ``meta``.

    ``meta(values)`` writes meta rows in the same transaction. Returns the steps run, as
    ``area version`` labels (empty: the sandbox was current, nothing was written).
    """
    from sandbox_crm.areas import load_areas
    from sandbox_crm.models import SandboxBase

    steps = pending_steps(recorded)
    if not steps and recorded is not None and recorded == code_versions():
        return []
    load_areas()
    if recorded is None or any(step is None for _, _, step in steps):
        # Areas newer than the record (or no record): their tables, empty.
        existing = set(context._inspector().get_table_names(schema=context.schema))
        context.add_missing(t for t in SandboxBase.metadata.sorted_tables if t.name not in existing)
    done = []
    for area, version, step in steps:
        if step is not None:
            step(context)
        done.append(f"{area} {version}")
    stamp = datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat()
    meta(
        versions_meta()
        | {
            UPGRADED_AT_KEY: stamp,
            UPGRADED_FROM_KEY: json.dumps(
                None if recorded is None else dict(recorded), sort_keys=True
            ),
        }
    )
    return done or ["record"]
