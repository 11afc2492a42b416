"""Checks on one record of the final sandbox, found by the values of some of its columns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field, model_validator
from sqlalchemy import Column, select

from graders.checks.common import Params, as_json, entity_model
from graders.context import DELIVERABLE_PREFIX, GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.i18n import N_
from sandbox_crm.models import SandboxBase


def _coerce(column: Column[Any], value: Any) -> Any:
    """Turn a YAML value into what the column compares with (ISO text for dates)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if isinstance(value, str) and kind is datetime:
        return datetime.fromisoformat(value)
    if isinstance(value, str) and kind is date:
        return date.fromisoformat(value)
    return value


class FieldEqualsParams(Params):
    """Parameters of record.field_equals."""

    entity: str
    """The sandbox table, e.g. customer, contact_point, consent_record, report_definition."""
    match: dict[str, Any] = Field(min_length=1)
    """Column values that pick out exactly one record; "deliverable:<id>" stands for its id."""
    field: str
    """The column to compare."""
    value: Any
    """The value the column must hold."""

    @model_validator(mode="after")
    def _check_columns(self) -> FieldEqualsParams:
        """Reject unknown tables and columns."""
        try:
            model: type[SandboxBase] = entity_model(self.entity)
        except LookupError as exc:
            raise ValueError(str(exc)) from None
        columns = model.__table__.columns  # type: ignore[attr-defined]
        unknown = [c for c in [*self.match, self.field] if c not in columns]
        if unknown:
            known = ", ".join(c.name for c in columns)
            raise ValueError(f"unknown column(s) {', '.join(map(repr, unknown))}; known: {known}")
        return self


@check("record.field_equals", params=FieldEqualsParams)
def field_equals(ctx: GradingContext, params: FieldEqualsParams) -> Outcome:
    """Exactly one record matches, and its field holds the expected value."""
    model = entity_model(params.entity)
    table = model.__table__  # type: ignore[attr-defined]
    conditions = []
    resolved: dict[str, Any] = {}
    for name, value in params.match.items():
        if isinstance(value, str) and value.startswith(DELIVERABLE_PREFIX):
            value = ctx.deliverable(value)
            if value is None:
                return Outcome.failed(
                    {"reason": f"no entity was submitted for {params.match[name]!r}"},
                    note=N_("A required deliverable was not submitted."),
                )
        resolved[name] = value
        column = table.c[name]
        conditions.append(column.is_(None) if value is None else column == _coerce(column, value))
    rows = ctx.final.execute(select(table).where(*conditions).limit(2)).mappings().all()
    evidence: dict[str, Any] = {"entity": params.entity, "match": as_json(resolved)}
    if len(rows) != 1:
        reason = "no record matches" if not rows else "more than one record matches"
        return Outcome.failed({**evidence, "reason": reason, "matched": len(rows)})
    row = rows[0]
    found = as_json(row[params.field])
    expected = as_json(params.value)
    key = row.get("id")
    evidence.update({"record_id": key, "field": params.field, "expected": expected, "found": found})
    return Outcome.judge(found == expected, evidence)
