"""Building blocks shared by the built-in checks: parameter types and sandbox look-ups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.context import DELIVERABLE_PREFIX, GradingContext
from graders.results import Outcome, freeze, thaw
from sandbox_crm.models import Department, ReportDefinition, SandboxBase
from sandbox_crm.query import QueryError, select_keys, select_rows, validate_condition
from sandbox_crm.sources import SOURCES, get_source

__all__ = [
    "LISTED",
    "Condition",
    "DeliverableRef",
    "Params",
    "as_json",
    "column_names",
    "condition_errors",
    "department_codes",
    "entity_model",
    "key_labels",
    "load_report",
    "report_keys",
]

LISTED = 50
"""How many record ids or member numbers evidence lists at most (counts are always complete)."""


def _strip_prefix(value: Any) -> Any:
    return value.removeprefix(DELIVERABLE_PREFIX) if isinstance(value, str) else value


DeliverableRef = Annotated[
    str,
    BeforeValidator(_strip_prefix),
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"),
]
"""The id of one of the scenario's deliverables, as ``report`` or ``deliverable:report``."""

Condition = dict[str, Any] | None
"""A condition in the query language (see sandbox_crm.query); None or {} means every row."""


class Params(BaseModel):
    """Base of every check's parameter model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


def as_json(value: Any) -> Any:
    """A value as JSON would hold it (dates as ISO text, tuples as lists), for comparing."""
    return thaw(freeze(value))


def condition_errors(source: str | None, where: Condition) -> list[str]:
    """Problems with a condition, for a known source or (if None) for any source at all."""
    if source is not None:
        return validate_condition(source, where)
    problems: list[str] = []
    for name in SOURCES:
        found = validate_condition(name, where)
        if not found:
            return []
        problems = problems or [f"{p} (checked against source {name!r})" for p in found]
    return problems


def load_report(ctx: GradingContext, ref: str) -> ReportDefinition | Outcome:
    """The saved report submitted for a deliverable, or a failing Outcome saying what is wrong."""
    report_id = ctx.deliverable(ref)
    if report_id is None:
        return Outcome.failed(
            {"reason": f"no report was submitted for deliverable {ref!r}"},
            note="No report was submitted.",
        )
    report = ctx.final.get(ReportDefinition, report_id)
    if report is None:
        return Outcome.failed(
            {"reason": f"report {report_id} submitted for {ref!r} does not exist"},
            note="The submitted report could not be found.",
        )
    if report.is_deleted:
        return Outcome.failed(
            {
                "reason": f"report {report_id} submitted for {ref!r} was deleted",
                "report_id": report_id,
            },
            note="The submitted report was deleted.",
        )
    return report


def report_keys(ctx: GradingContext, report: ReportDefinition) -> set[int]:
    """Keys of the rows the report's own filters select in the final sandbox (QueryError if bad)."""
    return select_keys(ctx.final, report.source, report.filters, ctx.as_of)


def column_names(columns: Iterable[Any] | None) -> list[str]:
    """Field names of a report's or export's columns (names, or mappings with a ``field``)."""
    names: list[str] = []
    for column in columns or ():
        if isinstance(column, str):
            names.append(column)
        elif isinstance(column, dict) and isinstance(column.get("field"), str):
            names.append(column["field"])
    return names


_LABEL_FIELDS = ("member_no", "order_no")


def key_labels(session: Session, source_name: str, keys: Iterable[int], as_of: Any) -> list[Any]:
    """Readable labels (member or order numbers) of the first LISTED keys, sorted by key."""
    chosen = sorted(keys)[:LISTED]
    if not chosen:
        return []
    source = get_source(source_name)
    label = next((f for f in _LABEL_FIELDS if f in source.fields), None)
    if label is None:
        return chosen
    try:
        page = select_rows(
            session,
            source_name,
            where={"field": source.key_field, "op": "in", "value": chosen},
            columns=[label],
            as_of=as_of,
        )
    except QueryError:
        return chosen
    found = {row[source.key_field]: row[label] for row in page.rows}
    return [found.get(key, key) for key in chosen]


def department_codes(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Department code by id for the given ids."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Department.id, Department.code).where(Department.id.in_(wanted)))
    return {row.id: row.code for row in rows}


def entity_model(name: str) -> type[SandboxBase]:
    """The sandbox model whose table is called ``name`` (LookupError listing known tables)."""
    for mapper in SandboxBase.registry.mappers:
        if mapper.local_table is not None and getattr(mapper.local_table, "name", None) == name:
            return mapper.class_
    known = ", ".join(sorted(SandboxBase.metadata.tables))
    raise LookupError(f"unknown entity {name!r}; known: {known}")
