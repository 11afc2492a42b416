"""What a check or rule may look at: the untouched template, the attempt's final sandbox, the
attempt's audit events, the deliverables and answers, and the scenario.

The trainee can change anything in ``final``, so "the right answer" a deliverable is compared
with is computed on ``template`` (plus the changes the task legitimately asks for, see
``graders.checks.common.LegitimateChanges``); ``final`` is read for what the trainee produced.

Both sessions are read-only during grading (``read_only`` makes any flush an error). "The
attempt" is everything in ``final`` that is not in ``template``: audit events with a higher id
than the template's last one, and rows added or changed relative to the template (``diff``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import Table, event, func, select
from sqlalchemy.orm import Session

from graders.definitions.models import Scenario
from graders.results import freeze
from sandbox_crm.areas import evidence_detail_keys, evidence_entity_names
from sandbox_crm.backends import ChangedKeys, backend_of
from sandbox_crm.info import SandboxInfo, sandbox_info
from sandbox_crm.models import AuditEvent, SandboxBase

__all__ = [
    "DELIVERABLE_PREFIX",
    "EventRecord",
    "GradingContext",
    "TableDiff",
    "entity_aliases",
    "read_only",
]

DELIVERABLE_PREFIX = "deliverable:"
"""Scenarios may write a deliverable reference as ``deliverable:report`` or just ``report``."""

T = TypeVar("T")
Key = Any  # a primary-key value (a tuple when the key has several columns)


@dataclass(frozen=True)
class EventRecord:
    """A frozen copy of one audit event (JSON columns as read-only mappings)."""

    id: int
    occurred_at: datetime
    actor_id: int | None
    operation: str
    entity_type: str
    entity_id: int | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    details: Mapping[str, Any] | None

    @classmethod
    def of(cls, row: AuditEvent) -> EventRecord:
        """Copy an AuditEvent row."""
        return cls(
            id=row.id,
            occurred_at=row.occurred_at,
            actor_id=row.actor_id,
            operation=row.operation,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            before=freeze(row.before) if row.before is not None else None,
            after=freeze(row.after) if row.after is not None else None,
            details=freeze(row.details) if row.details is not None else None,
        )

    def detail(self, key: str, default: Any = None) -> Any:
        """Return ``details[key]``, falling back to ``after[key]``, else ``default``."""
        for source in (self.details, self.after):
            if source is not None and key in source:
                return source[key]
        return default


@dataclass(frozen=True)
class TableDiff:
    """Rows of one table added, changed or deleted in final relative to template (by key)."""

    table: str
    added: tuple[Key, ...]
    changed: tuple[Key, ...]
    deleted: tuple[Key, ...]
    changed_columns: Mapping[Key, tuple[str, ...]]

    @property
    def touched(self) -> tuple[Key, ...]:
        """Keys added or changed, sorted."""
        return tuple(sorted({*self.added, *self.changed}))

    def is_empty(self) -> bool:
        """True when final and template hold the same rows."""
        return not (self.added or self.changed or self.deleted)


@dataclass(frozen=True)
class GradingContext:
    """Everything a check or PDPO rule may read; build it with ``GradingContext.build``."""

    template: Session
    final: Session
    events: tuple[EventRecord, ...]
    deliverables: Mapping[str, int]
    answers: Mapping[str, Any]
    scenario: Scenario | None
    as_of: date
    trainee_staff_id: int
    template_last_event_id: int = 0
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        *,
        template: Session,
        final: Session,
        deliverables: Mapping[str, int] | None = None,
        answers: Mapping[str, Any] | None = None,
        scenario: Scenario | None = None,
        trainee_staff_id: int,
        as_of: date | None = None,
    ) -> GradingContext:
        """Read the attempt's events from ``final`` and freeze the inputs into a context."""
        last_template = template.scalar(select(func.max(AuditEvent.id))) or 0
        rows = final.scalars(
            select(AuditEvent).where(AuditEvent.id > last_template).order_by(AuditEvent.id)
        )
        events = tuple(EventRecord.of(row) for row in rows)
        return cls(
            template=template,
            final=final,
            events=events,
            deliverables=MappingProxyType(
                {str(k): int(v) for k, v in (deliverables or {}).items() if v is not None}
            ),
            answers=MappingProxyType(dict(answers or {})),
            scenario=scenario,
            as_of=as_of or _sandbox_date(final, events),
            trainee_staff_id=trainee_staff_id,
            template_last_event_id=last_template,
        )

    # --- inputs --------------------------------------------------------------------------

    def deliverable(self, deliverable_id: str) -> int | None:
        """Return the entity id the trainee submitted for a deliverable, or None."""
        return self.deliverables.get(deliverable_id.removeprefix(DELIVERABLE_PREFIX))

    def info(self) -> SandboxInfo:
        """The final sandbox's facts (company, date, trainee, clock, ...)."""
        return self.memo("info", lambda: sandbox_info(self.final))

    def template_info(self) -> SandboxInfo:
        """The template's facts: what the sandbox was generated with, planted situations too."""
        return self.memo("template_info", lambda: sandbox_info(self.template))

    def planted(self) -> Mapping[str, tuple[int, ...]]:
        """The template's planted situations: plant kind -> the customer ids it affected.

        Read from the template, so that nothing the trainee does can change who was planted.
        """
        return self.template_info().plants

    # --- audit events --------------------------------------------------------------------

    def events_of(self, *operations: str) -> tuple[EventRecord, ...]:
        """Return the attempt's events with one of these operation names, in order."""
        wanted = set(operations)
        return tuple(e for e in self.events if e.operation in wanted)

    def events_for(self, entity_type: str, entity_id: int | None) -> tuple[EventRecord, ...]:
        """Return the attempt's events whose entity is exactly (entity_type, entity_id)."""
        return tuple(
            e for e in self.events if e.entity_type == entity_type and e.entity_id == entity_id
        )

    def events_about(
        self, table: str, row_id: int | None, *operations: str
    ) -> tuple[EventRecord, ...]:
        """The attempt's events about a row of ``table``: as their entity or by id in details.

        Optionally only events with one of ``operations``. A report run, for example, is about
        its report (the entity) and about its report_run row (``run_id`` in the details).
        """
        index = self.memo("events_by_row", self._index_events)
        found = index.get((table, row_id), ())
        if operations:
            found = tuple(e for e in found if e.operation in operations)
        return found

    def event_ids_about(self, table: str, row_id: int | None, *operations: str) -> tuple[int, ...]:
        """Ids of the attempt's events about a row of ``table``."""
        return tuple(e.id for e in self.events_about(table, row_id, *operations))

    def _index_events(self) -> dict[tuple[str, Any], tuple[EventRecord, ...]]:
        tables = _entity_tables()
        index: dict[tuple[str, Any], list[EventRecord]] = {}
        for e in self.events:
            rows = set(_detail_rows(e.details))
            table = tables.get(e.entity_type)
            if table is not None:
                rows.add((table, e.entity_id))
            for row in rows:
                index.setdefault(row, []).append(e)
        return {k: tuple(v) for k, v in index.items()}

    # --- state differences ---------------------------------------------------------------

    def diff(self, table: str | Table, columns: Iterable[str] | None = None) -> TableDiff:
        """Compare one table's rows in template and final by primary key (cached).

        With ``columns``, only changes to those columns count as changed rows; the table is
        still compared once, whatever columns later callers ask about.
        """
        tbl = _table(table)
        full = self.memo(("diff", tbl.name), lambda: _diff_table(self, tbl, None))
        if columns is None:
            return full
        wanted = set(columns)
        changed = tuple(k for k in full.changed if wanted & set(full.changed_columns[k]))
        return TableDiff(
            full.table,
            full.added,
            changed,
            full.deleted,
            MappingProxyType({k: full.changed_columns[k] for k in changed}),
        )

    def added_ids(self, model: type[SandboxBase]) -> tuple[Key, ...]:
        """Keys of the rows of ``model``'s table that are in final but not in template."""
        return self.diff(model.__table__, ("id",)).added  # type: ignore[arg-type]

    def added(self, model: type[SandboxBase]) -> list[Any]:
        """ORM rows of ``model`` added in the attempt, ordered by id."""
        ids = self.added_ids(model)
        if not ids:
            return []
        column = model.__table__.c.id  # type: ignore[attr-defined]
        return list(self.final.scalars(select(model).where(column.in_(ids)).order_by(column)))

    def touched(self, model: type[SandboxBase], columns: Iterable[str]) -> list[Any]:
        """ORM rows of ``model`` added in the attempt or with one of ``columns`` changed."""
        keys = self.diff(model.__table__, ("id", *columns)).touched  # type: ignore[arg-type]
        if not keys:
            return []
        column = model.__table__.c.id  # type: ignore[attr-defined]
        return list(self.final.scalars(select(model).where(column.in_(keys)).order_by(column)))

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """Compute a value derived from the sandboxes once per grading run (e.g. a consent log)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


ENTITY_NAMES: Mapping[str, str] = evidence_entity_names()
"""Audit entity types that are not a table's or class's own name, and their table (per area)."""

DETAIL_KEYS: Mapping[str, str] = evidence_detail_keys()
"""Keys in an event's details that name a row of a table by its id (at any depth)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _entity_tables() -> dict[str, str]:
    tables: dict[str, str] = {}
    for mapper in SandboxBase.registry.mappers:
        table = getattr(mapper.local_table, "name", None)
        if table is not None:
            tables[table] = table
            tables[_snake(mapper.class_.__name__)] = table
    return tables | dict(ENTITY_NAMES)


def entity_aliases(table: str) -> frozenset[str]:
    """Entity types an audit event may give rows of a table (table, class and known aliases)."""
    return frozenset(name for name, t in _entity_tables().items() if t == table)


def _detail_rows(value: Any) -> Iterator[tuple[str, Any]]:
    """(table, id) for every id named in an event's details (see DETAIL_KEYS)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            table = DETAIL_KEYS.get(key)
            if table is not None and isinstance(item, int) and not isinstance(item, bool):
                yield table, item
            else:
                yield from _detail_rows(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _detail_rows(item)


def _table(table: str | Table) -> Table:
    if isinstance(table, Table):
        return table
    try:
        return SandboxBase.metadata.tables[table]
    except KeyError:
        known = ", ".join(sorted(SandboxBase.metadata.tables))
        raise LookupError(f"unknown sandbox table {table!r}; known: {known}") from None


_CHUNK = 500


def _diff_table(ctx: GradingContext, tbl: Table, columns: tuple[str, ...] | None) -> TableDiff:
    pk = [c.name for c in tbl.primary_key.columns]
    names = list(columns) if columns is not None else [c.name for c in tbl.columns]
    for name in reversed(pk):
        if name not in names:
            names.insert(0, name)
    found = _differing_keys(ctx, tbl, names)
    if found is None:  # no fast path: compare every row in Python
        before, after = _rows(ctx.template, tbl, pk, names), _rows(ctx.final, tbl, pk, names)
        added = sorted(k for k in after if k not in before)
        deleted = sorted(k for k in before if k not in after)
    else:
        added, deleted, differing = found.added, found.deleted, found.differing
        candidates = sorted(differing - set(added))
        before = _rows(ctx.template, tbl, pk, names, candidates)
        after = _rows(ctx.final, tbl, pk, names, candidates)
    changed_columns: dict[Key, tuple[str, ...]] = {}
    for key, row in after.items():
        old = before.get(key)
        if old is None or old == row:
            continue
        changed_columns[key] = tuple(n for n in names if old[n] != row[n])
    changed = sorted(changed_columns)
    return TableDiff(
        tbl.name,
        tuple(added),
        tuple(changed),
        tuple(deleted),
        MappingProxyType({k: changed_columns[k] for k in changed}),
    )


def _rows(
    session: Session,
    tbl: Table,
    pk: list[str],
    names: list[str],
    keys: list[Key] | None = None,
) -> dict[Key, dict[str, Any]]:
    """Rows of a table by key (only ``keys`` if given), each as a dict of ``names``."""
    stmt = select(*(tbl.c[n] for n in names))
    if keys is None:
        batches = [stmt]
    else:
        column = tbl.c[pk[0]]
        batches = [
            stmt.where(column.in_(keys[i : i + _CHUNK])) for i in range(0, len(keys), _CHUNK)
        ]
    out: dict[Key, dict[str, Any]] = {}
    for batch in batches:
        for row in session.execute(batch).mappings():
            key = row[pk[0]] if len(pk) == 1 else tuple(row[n] for n in pk)
            out[key] = dict(row)
    return out


def _differing_keys(ctx: GradingContext, tbl: Table, names: list[str]) -> ChangedKeys | None:
    """Ask the backend that opened the final sandbox to compare the table where the data is.

    None when the sessions were not opened by a backend or the backend cannot; the caller then
    compares the rows in Python.
    """
    backend = backend_of(ctx.final)
    if backend is None:
        return None
    return backend.changed_keys(ctx.template, ctx.final, tbl, names)


def _sandbox_date(final: Session, events: tuple[EventRecord, ...]) -> date:
    """The sandbox's date at grading, read from stored facts only so that regrading agrees.

    The latest of: the clock's anchor, the ``today`` meta value and the last attempt event.
    The live clock is not read: in real mode it follows wall time, in stepped mode it advances.
    """
    info = sandbox_info(final)
    candidates = [day for day in (info.clock_date, info.today) if day is not None]
    if events:
        candidates.append(events[-1].occurred_at.date())
    if not candidates:
        raise RuntimeError("the sandbox has no clock: set meta 'today' or start its clock")
    return max(candidates)


def _refuse_flush(session: Session, flush_context: Any, instances: Any) -> None:
    raise RuntimeError("grading must not change a sandbox: the session is read-only")


@contextmanager
def read_only(*sessions: Session) -> Iterator[None]:
    """Make any flush of these sessions raise while grading runs."""
    distinct = list({id(s): s for s in sessions}.values())
    for session in distinct:
        event.listen(session, "before_flush", _refuse_flush)
    try:
        yield
    finally:
        for session in distinct:
            event.remove(session, "before_flush", _refuse_flush)
