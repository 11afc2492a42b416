"""Building blocks shared by the built-in checks: parameter types and sandbox look-ups."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.context import DELIVERABLE_PREFIX, GradingContext
from graders.results import Outcome, Status, freeze, thaw
from sandbox_crm.i18n import N_
from sandbox_crm.models import Department, ReportDefinition, SandboxBase
from sandbox_crm.plants import known_plant_kinds
from sandbox_crm.query import QueryError, select_keys, select_rows, validate_condition
from sandbox_crm.sources import SOURCES, get_source

__all__ = [
    "LISTED",
    "Condition",
    "DeliverableRef",
    "LegitimateChanges",
    "NamedRows",
    "Params",
    "as_json",
    "column_names",
    "condition_errors",
    "condition_labels",
    "criteria",
    "department_codes",
    "entity_model",
    "field_label",
    "judged",
    "key_labels",
    "load_report",
    "named_keys",
    "report_keys",
    "trusted_keys",
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


# --- trustworthy state ------------------------------------------------------------------------
#
# The trainee can change anything in the final sandbox: recording consents nobody gave would
# make a consent condition true there. So "the right answer" is computed on the template, and
# only the changes a scenario declares legitimate (``LegitimateChanges``) are read from final.


def _all_field_names() -> set[str]:
    return {name for source in SOURCES.values() for name in source.fields}


class NamedRows(Params):
    """Rows a scenario names, decided on the template: planted customers, a condition, or both."""

    plants: list[str] = Field(default_factory=list)
    """Plant kinds (as in crm.plant): the rows of the customers each of these plants affected."""
    where: Condition = None
    """Rows matching this condition on the template (the attempt's start); omit for none."""

    @model_validator(mode="after")
    def _check_names(self) -> NamedRows:
        """Reject unknown plant kinds and invalid conditions."""
        known = known_plant_kinds()
        unknown = [kind for kind in self.plants if kind not in known]
        if unknown:
            raise ValueError(
                f"unknown plant kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
            )
        if self.where is not None:
            problems = condition_errors(None, self.where)
            if problems:
                raise ValueError("where: " + "; ".join(problems))
        return self

    def is_empty(self) -> bool:
        """True when no row is named."""
        return not self.plants and self.where is None


class LegitimateChanges(Params):
    """Changes the task legitimately asks for: these parts are read from the final sandbox.

    Everything else an expectation depends on is read from the template, so that changing data
    (recording a consent nobody gave, say) cannot make a wrong deliverable look right.
    """

    fields: list[str] = Field(default_factory=list)
    """Fields whose final value counts, for every row (e.g. a flag the task asks to set)."""
    rows: NamedRows | None = None
    """Rows whose whole final state counts (e.g. the customers who asked for a change)."""

    @model_validator(mode="after")
    def _check_fields(self) -> LegitimateChanges:
        """Reject unknown fields."""
        known = _all_field_names()
        unknown = [f for f in self.fields if f not in known]
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
        return self


_NO_ROWS: dict[str, Any] = {"any": []}


def _keys_condition(key_field: str, keys: Iterable[int]) -> dict[str, Any]:
    """A condition selecting exactly these keys."""
    chosen = sorted(keys)
    return {"field": key_field, "op": "in", "value": chosen} if chosen else _NO_ROWS


def _with_final_fields(ctx: GradingContext, source_name: str, where: Any, fields: set[str]) -> Any:
    """The condition with each comparison on one of ``fields`` replaced by the keys it selects
    in the final sandbox, so that the rest can be evaluated on the template."""
    if not fields or not isinstance(where, dict) or not where:
        return where
    if "field" in where:
        if where.get("field") not in fields:
            return where
        keys = select_keys(ctx.final, source_name, where, ctx.as_of)
        return _keys_condition(get_source(source_name).key_field, keys)
    if "not" in where:
        return {"not": _with_final_fields(ctx, source_name, where["not"], fields)}
    (kind, items), *_ = where.items()
    if isinstance(items, list | tuple):
        return {kind: [_with_final_fields(ctx, source_name, i, fields) for i in items]}
    return where


def named_keys(ctx: GradingContext, source_name: str, rows: NamedRows) -> set[int]:
    """Keys of the rows a scenario names, decided on the template (QueryError if impossible)."""
    source = get_source(source_name)
    keys: set[int] = set()
    if rows.plants:
        planted = ctx.planted()
        customers = {cid for kind in rows.plants for cid in planted.get(kind, ())}
        if source.key_field == "customer_id":
            keys |= customers
        else:
            condition = _keys_condition("customer_id", customers)
            keys |= select_keys(ctx.template, source_name, condition, ctx.as_of)
    if rows.where is not None:
        keys |= select_keys(ctx.template, source_name, rows.where, ctx.as_of)
    return keys


def trusted_keys(
    ctx: GradingContext,
    source_name: str,
    where: Any,
    changes: LegitimateChanges | None = None,
) -> set[int]:
    """Keys of the rows matching a condition on trustworthy state (QueryError if it cannot run).

    That is the template, except that the fields and rows ``changes`` names are taken as they
    are in the final sandbox.
    """
    if changes is None:
        return select_keys(ctx.template, source_name, where, ctx.as_of)
    condition = _with_final_fields(ctx, source_name, where, set(changes.fields))
    keys = select_keys(ctx.template, source_name, condition, ctx.as_of)
    if changes.rows is not None and not changes.rows.is_empty():
        own = named_keys(ctx, source_name, changes.rows)
        keys = (keys - own) | (select_keys(ctx.final, source_name, where, ctx.as_of) & own)
    return keys


# --- trainee-safe notes -----------------------------------------------------------------------


def criteria(where: Any) -> list[Any]:
    """The top-level criteria of a condition: the parts of an ``all``, else the whole of it."""
    if isinstance(where, dict) and set(where) == {"all"} and isinstance(where["all"], list):
        return list(where["all"])
    return [] if not where else [where]


def _fields_in(where: Any) -> Iterator[str]:
    if isinstance(where, dict):
        if isinstance(where.get("field"), str):
            yield where["field"]
            return
        for value in where.values():
            yield from _fields_in(value)
    elif isinstance(where, list | tuple):
        for item in where:
            yield from _fields_in(item)


def field_label(source_name: str, name: str) -> str:
    """The label the CRM shows for a field (the name itself if the field is unknown)."""
    source = SOURCES.find(source_name)
    found = source.fields.get(name) if source is not None else None
    return found.label if found is not None else name


def condition_labels(source_name: str, where: Any) -> list[str]:
    """Labels of the fields a condition compares, in order, each once (no values: safe to show)."""
    labels: list[str] = []
    for name in _fields_in(where):
        label = field_label(source_name, name)
        if label not in labels:
            labels.append(label)
    return labels


def judged(
    ok: bool,
    evidence: dict[str, Any],
    score: float | None = None,
    note: tuple[str | None, Mapping[str, Any]] | None = None,
) -> Outcome:
    """Pass if ``ok``, else fail with a trainee-safe note saying what kind of thing is wrong.

    ``note`` is a marked template and its values, as ``graders.results.sentences`` gives them.
    """
    if ok:
        return Outcome.judge(True, evidence, score)
    template, values = note or (None, {})
    return Outcome(Status.FAIL, 0.0 if score is None else score, evidence, template, values)


def judged_problems(
    evidence: dict[str, Any],
    problems: list[dict[str, Any]],
    notes: Mapping[str, str],
    *,
    otherwise: str,
) -> Outcome:
    """Pass without problems; else fail, noting the first kind in ``notes`` that is among them.

    Each problem has a ``problem`` kind; ``notes`` maps kinds to marked notes, most telling
    first, and ``otherwise`` is the note when none of those kinds is found.
    """
    if not problems:
        return Outcome.passed(evidence)
    kinds = {p["problem"] for p in problems}
    return Outcome.failed(
        evidence, note=next((n for k, n in notes.items() if k in kinds), otherwise)
    )


def load_report(ctx: GradingContext, ref: str) -> ReportDefinition | Outcome:
    """The saved report submitted for a deliverable, or a failing Outcome saying what is wrong."""
    report_id = ctx.deliverable(ref)
    if report_id is None:
        return Outcome.failed(
            {"reason": f"no report was submitted for deliverable {ref!r}"},
            note=N_("No report was submitted."),
        )
    report = ctx.final.get(ReportDefinition, report_id)
    if report is None:
        return Outcome.failed(
            {"reason": f"report {report_id} submitted for {ref!r} does not exist"},
            note=N_("The submitted report could not be found."),
        )
    if report.is_deleted:
        return Outcome.failed(
            {
                "reason": f"report {report_id} submitted for {ref!r} was deleted",
                "report_id": report_id,
            },
            note=N_("The submitted report was deleted."),
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
