"""Checks on a saved report the trainee submitted: its rows and its columns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from graders.checks.common import (
    LISTED,
    Condition,
    DeliverableRef,
    Params,
    column_names,
    condition_errors,
    key_labels,
    load_report,
    report_keys,
)
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.query import QueryError, select_keys
from sandbox_crm.sources import SOURCES, get_source


def _source_problem(report_source: str, expected: str | None, where: Condition) -> Outcome | None:
    """A failing outcome when the report is not built on the source the condition is for.

    With no expected source, the condition must be one that can be evaluated on the report's
    own source: a condition on customers' consent says nothing about a report of orders.
    """
    if expected is not None and expected != report_source:
        return Outcome.failed(
            {
                "reason": f"the report uses source {report_source!r}, not {expected!r}",
                "expected_source": expected,
                "found_source": report_source,
            }
        )
    problems = condition_errors(report_source, where) if report_source in SOURCES else []
    if report_source not in SOURCES or problems:
        return Outcome.failed(
            {
                "reason": f"the report uses source {report_source!r}, on which the expected "
                "condition cannot be evaluated",
                "problems": problems,
                "found_source": report_source,
            },
            note="The report is not built on the data this task is about.",
        )
    return None


def _check_source_and_condition(source: str | None, where: Condition) -> None:
    """Raise ValueError for an unknown source, or a condition that is not valid for it."""
    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    problems = condition_errors(source, where)
    if problems:
        raise ValueError("where: " + "; ".join(problems))


def _bad_filters(report_id: int, exc: QueryError) -> Outcome:
    return Outcome.failed(
        {"reason": f"the report's filters cannot be run: {exc}", "report_id": report_id},
        note="The report's filters could not be run.",
    )


# --- report.rows_match ------------------------------------------------------------------------


class ExpectedRows(Params):
    """Which rows the report must return, as a condition evaluated on the final sandbox."""

    source: str | None = None
    """The source the report must use (customers, orders); omit to use the report's own."""
    where: Condition = None
    """The rows the report must return, in the query language; omit for every row."""

    @model_validator(mode="before")
    @classmethod
    def _source_as_key(cls, data: Any) -> Any:
        """Also accept the design's form ``{customers: {where: ...}}``."""
        if isinstance(data, dict) and len(data) == 1:
            ((name, body),) = data.items()
            if name in SOURCES and isinstance(body, dict):
                return {"source": name, **body}
        return data

    @model_validator(mode="after")
    def _check_condition(self) -> ExpectedRows:
        """Reject unknown sources and conditions with unknown fields or bad values."""
        _check_source_and_condition(self.source, self.where)
        return self


class RowsMatchParams(Params):
    """Parameters of report.rows_match."""

    report: DeliverableRef
    """The deliverable holding the saved report."""
    expect: ExpectedRows
    """The rows the report must return."""


@check("report.rows_match", params=RowsMatchParams)
def rows_match(ctx: GradingContext, params: RowsMatchParams) -> Outcome:
    """The report's own filters select exactly the rows of the expected condition."""
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    wrong_source = _source_problem(report.source, params.expect.source, params.expect.where)
    if wrong_source is not None:
        return wrong_source
    expected = select_keys(ctx.final, report.source, params.expect.where, ctx.as_of)
    try:
        found = report_keys(ctx, report)
    except QueryError as exc:
        return _bad_filters(report.id, exc)
    missing, unexpected = expected - found, found - expected
    union = expected | found
    score = len(expected & found) / len(union) if union else 1.0
    evidence = {
        "report_id": report.id,
        "source": report.source,
        "as_of": ctx.as_of,
        "expected_count": len(expected),
        "found_count": len(found),
        "missing_count": len(missing),
        "unexpected_count": len(unexpected),
        "missing": key_labels(ctx.final, report.source, missing, ctx.as_of),
        "unexpected": key_labels(ctx.final, report.source, unexpected, ctx.as_of),
        "listed_at_most": LISTED,
    }
    return Outcome.judge(not missing and not unexpected, evidence, score)


# --- report.columns ---------------------------------------------------------------------------


def _all_fields() -> set[str]:
    return {name for source in SOURCES.values() for name in source.fields}


class ColumnsParams(Params):
    """Parameters of report.columns."""

    report: DeliverableRef
    """The deliverable holding the saved report."""
    required: list[str] = Field(default_factory=list)
    """Fields the report must show."""
    forbidden: list[str] = Field(default_factory=list)
    """Fields the report must not show."""
    forbid_sensitivity: list[Literal["personal", "sensitive"]] = Field(default_factory=list)
    """No column may have one of these sensitivities (e.g. sensitive: HKID, date of birth)."""

    @model_validator(mode="after")
    def _check_fields(self) -> ColumnsParams:
        """Require something to check, known fields, and no field both required and forbidden."""
        if not (self.required or self.forbidden or self.forbid_sensitivity):
            raise ValueError("give at least one of required, forbidden or forbid_sensitivity")
        known = _all_fields()
        unknown = [f for f in [*self.required, *self.forbidden] if f not in known]
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
        both = sorted(set(self.required) & set(self.forbidden))
        if both:
            raise ValueError(f"field(s) both required and forbidden: {', '.join(both)}")
        return self


@check("report.columns", params=ColumnsParams)
def columns(ctx: GradingContext, params: ColumnsParams) -> Outcome:
    """The report shows every required field, no forbidden field and no forbidden sensitivity."""
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    shown = column_names(report.columns)
    fields = get_source(report.source).fields if report.source in SOURCES else {}
    missing = [f for f in params.required if f not in shown]
    forbidden = [f for f in params.forbidden if f in shown]
    too_sensitive = [
        {"field": name, "sensitivity": fields[name].sensitivity.value}
        for name in shown
        if name in fields and fields[name].sensitivity.value in params.forbid_sensitivity
    ]
    total = len(params.required) + len(params.forbidden) + (1 if params.forbid_sensitivity else 0)
    met = (len(params.required) - len(missing)) + (len(params.forbidden) - len(forbidden))
    met += 1 if params.forbid_sensitivity and not too_sensitive else 0
    evidence = {
        "report_id": report.id,
        "columns": shown,
        "missing_required": missing,
        "forbidden_present": forbidden,
        "too_sensitive": too_sensitive,
    }
    ok = not (missing or forbidden or too_sensitive)
    return Outcome.judge(ok, evidence, met / total if total else 1.0)


# --- report.no_rows_where ---------------------------------------------------------------------


class NoRowsWhereParams(Params):
    """Parameters of report.no_rows_where."""

    report: DeliverableRef
    """The deliverable holding the saved report."""
    where: dict[str, Any]
    """Rows matching this condition must not be in the report (e.g. consent withdrawn)."""
    source: str | None = None
    """The source the condition is written for; omit to use the report's own."""

    @model_validator(mode="after")
    def _check_condition(self) -> NoRowsWhereParams:
        """Reject unknown sources and invalid conditions."""
        _check_source_and_condition(self.source, self.where)
        return self


@check("report.no_rows_where", params=NoRowsWhereParams)
def no_rows_where(ctx: GradingContext, params: NoRowsWhereParams) -> Outcome:
    """No row the report returns matches the given condition."""
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    wrong_source = _source_problem(report.source, params.source, params.where)
    if wrong_source is not None:
        return wrong_source
    try:
        rows = report_keys(ctx, report)
    except QueryError as exc:
        return _bad_filters(report.id, exc)
    offending = rows & select_keys(ctx.final, report.source, params.where, ctx.as_of)
    evidence = {
        "report_id": report.id,
        "report_rows": len(rows),
        "offending_count": len(offending),
        "offending": key_labels(ctx.final, report.source, offending, ctx.as_of),
        "listed_at_most": LISTED,
    }
    score = 1.0 - len(offending) / len(rows) if rows else 1.0
    return Outcome.judge(not offending, evidence, score)
