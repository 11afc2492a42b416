"""Checks on a saved report the trainee submitted: its rows, its columns, or its summary.

The report's own rows are what its filters return in the final sandbox. The rows it should
return are computed on the template (the sandbox as the attempt found it), so that changing the
data cannot make a wrong report look right; ``legitimate_changes`` names the parts of the final
state a task may change on purpose (the fields it asks to set, the customers who asked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, model_validator

from graders.checks.common import (
    LISTED,
    Condition,
    DeliverableRef,
    LegitimateChanges,
    Params,
    column_names,
    condition_errors,
    condition_labels,
    criteria,
    field_label,
    judged,
    key_labels,
    load_report,
    report_keys,
    trusted_keys,
)
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome, Status, counted, listing, message, sentences
from sandbox_crm.i18n import N_
from sandbox_crm.models import Sensitivity
from sandbox_crm.query import QueryError, select_keys
from sandbox_crm.reports.aggregation import (
    MAX_GROUP_FIELDS,
    MEASURES,
    aggregation_problems,
    is_summary,
    parse_group,
    parse_measure,
    revealed_fields,
    summarise,
)
from sandbox_crm.sources import SOURCES, Source, get_source


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
            note=N_("The report is not built on the data this task is about."),
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
        note=N_("The report's filters could not be run."),
    )


_NOUNS = {
    "customers": (N_("%(count)d member"), N_("%(count)d members")),
    "orders": (N_("%(count)d order"), N_("%(count)d orders")),
}


def _count(source: str, count: int) -> dict[str, Any]:
    """``1 member``, ``3 members`` (``rows`` for a source without a noun), as a message."""
    one, many = _NOUNS.get(source, (N_("%(count)d row"), N_("%(count)d rows")))
    return counted(count, one, many)


_CHUNK = 10_000
"""Keys per query when a condition is restricted to given rows (SQLite binds at most 32,766)."""


def _within(where: Any, key_field: str, keys: set[int]) -> dict[str, Any]:
    """``where`` restricted to the given keys."""
    return {"all": [where or {}, {"field": key_field, "op": "in", "value": sorted(keys)}]}


def _matching_among(
    source: str, where: Any, keys: set[int], truth: Callable[[Any], set[int]]
) -> set[int]:
    """The keys among ``keys`` that match ``where`` where ``truth`` judges it.

    The restriction goes into the SQL, a chunk of keys at a time, so that only those rows are
    looked up by key and evaluated, instead of every row matching the condition being selected
    and then intersected.
    """
    key_field = get_source(source).key_field
    ordered = sorted(keys)
    found: set[int] = set()
    for start in range(0, len(ordered), _CHUNK):
        found |= truth(_within(where, key_field, set(ordered[start : start + _CHUNK])))
    return found


def _report_rows(ctx: GradingContext, report: Any) -> set[int]:
    """The report's own rows in the final sandbox, selected once per grading run."""
    return set(ctx.memo(("report_keys", report.id), lambda: frozenset(report_keys(ctx, report))))


def _unexplained_by(
    ctx: GradingContext,
    source: str,
    parts: list[Any],
    keys: set[int],
    truth: Any,
) -> tuple[list[tuple[list[str], int]], set[int]]:
    """For each part of a condition, how many of ``keys`` fail it, by the part's field labels.

    ``truth(condition)`` gives the keys matching a condition where the part is judged. Returns
    the labelled counts (parts with the same labels merged) and the keys no part accounts for.
    """
    by_labels: dict[tuple[str, ...], set[int]] = {}
    explained: set[int] = set()
    for part in parts:
        failing = keys - _matching_among(source, part, keys, truth)
        if failing:
            labels = tuple(condition_labels(source, part)) or (N_("the request"),)
            by_labels.setdefault(labels, set()).update(failing)
            explained |= failing
    counted = [(list(labels), len(found)) for labels, found in by_labels.items()]
    return counted, keys - explained


# --- report.rows_match ------------------------------------------------------------------------


class ExpectedRows(Params):
    """Which rows the report must return, as a condition on the sandbox as the attempt found it."""

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
    """The rows the report must return, judged on the template (see legitimate_changes)."""
    either_way: Condition = None
    """Rows matching this condition on the template may be present or absent: a judgement the
    task leaves to the trainee (e.g. members whose email address is flagged invalid)."""
    legitimate_changes: LegitimateChanges | None = None
    """What the task may change on purpose: these fields and rows are judged as they are in the
    final sandbox; omit when the task changes nothing the expectation depends on."""

    @model_validator(mode="after")
    def _check_either_way(self) -> RowsMatchParams:
        """Reject an either_way condition that does not fit the expected source."""
        if self.either_way is not None:
            problems = condition_errors(self.expect.source, self.either_way)
            if problems:
                raise ValueError("either_way: " + "; ".join(problems))
        return self


def _rows_note(
    ctx: GradingContext,
    params: RowsMatchParams,
    report: Any,
    missing: set[int],
    unexpected: set[int],
) -> tuple[str | None, dict[str, Any]]:
    """What kind of rows are wrong and which criterion explains them, without naming any row."""
    source = report.source
    parts: list[dict[str, Any]] = []
    if unexpected:

        def truth(condition: Any) -> set[int]:
            return trusted_keys(ctx, source, condition, params.legitimate_changes)

        criteria_ = criteria(params.expect.where)
        by_labels, unexplained = _unexplained_by(ctx, source, criteria_, unexpected, truth)
        for labels, count in by_labels:
            parts.append(
                message(
                    N_(
                        "The list includes %(rows)s that the request leaves out: they do not"
                        " meet its criterion on %(labels)s."
                    ),
                    rows=_count(source, count),
                    labels=listing(labels, quoted=True),
                )
            )
        if unexplained:
            parts.append(
                message(
                    N_("The list includes %(rows)s that should not be there."),
                    rows=_count(source, len(unexplained)),
                )
            )
    if missing:

        def own(condition: Any) -> set[int]:
            return select_keys(ctx.final, source, condition, ctx.as_of)

        by_labels, _ = _unexplained_by(ctx, source, criteria(report.filters), missing, own)
        causes = sorted({label for labels, _ in by_labels for label in labels})
        if len(missing) == 1:
            template = N_(
                "%(rows)s that meet every criterion of the request is missing from the list."
            )
        else:
            template = N_(
                "%(rows)s that meet every criterion of the request are missing from the list."
            )
        parts.append(message(template, rows=_count(source, len(missing))))
        if causes:
            parts.append(
                message(
                    N_("The report's own filter on %(labels)s leaves them out."),
                    labels=listing(causes, quoted=True),
                )
            )
    return sentences(*parts)


@check("report.rows_match", params=RowsMatchParams)
def rows_match(ctx: GradingContext, params: RowsMatchParams) -> Outcome:
    """The report's own filters select exactly the expected rows, judged on trustworthy state."""
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    conditions = {"all": [params.expect.where or {}, params.either_way or {}]}
    wrong_source = _source_problem(report.source, params.expect.source, conditions)
    if wrong_source is not None:
        return wrong_source
    changes = params.legitimate_changes
    expected = trusted_keys(ctx, report.source, params.expect.where, changes)
    open_rows: set[int] = set()
    if params.either_way is not None:
        open_rows = trusted_keys(ctx, report.source, params.either_way, changes)
    try:
        found = _report_rows(ctx, report)
    except QueryError as exc:
        return _bad_filters(report.id, exc)
    either_way_found = found & open_rows
    expected, found = expected - open_rows, found - open_rows
    missing, unexpected = expected - found, found - expected
    union = expected | found
    score = len(expected & found) / len(union) if union else 1.0
    evidence = {
        "report_id": report.id,
        "source": report.source,
        "as_of": ctx.as_of,
        "judged_on": "template" if changes is None else "template with legitimate changes",
        "expected_count": len(expected),
        "found_count": len(found),
        "missing_count": len(missing),
        "unexpected_count": len(unexpected),
        "missing": key_labels(ctx.template, report.source, missing, ctx.as_of),
        "unexpected": key_labels(ctx.final, report.source, unexpected, ctx.as_of),
        "either_way_count": len(open_rows),
        "either_way_included": len(either_way_found),
        "listed_at_most": LISTED,
    }
    ok = not missing and not unexpected
    note = None if ok else _rows_note(ctx, params, report, missing, unexpected)
    return judged(ok, evidence, score, note)


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


def _columns_note(
    source: str, missing: list[str], unwanted: list[str]
) -> tuple[str | None, dict[str, Any]]:
    """Which requested columns are missing and which columns should not be there."""
    fields = get_source(source).fields if source in SOURCES else {}
    parts = []
    if missing:
        labels = [field_label(source, name) for name in missing]
        parts.append(
            message(
                N_("The report lacks requested column(s): %(labels)s."),
                labels=listing(labels, quoted=True),
            )
        )
    personal = [
        n for n in unwanted if n in fields and fields[n].sensitivity != Sensitivity.INTERNAL
    ]
    other = [n for n in unwanted if n not in personal]
    if personal:
        labels = [field_label(source, name) for name in personal]
        parts.append(
            message(
                N_(
                    "The report shows column(s) that carry personal data the request did not"
                    " ask for: %(labels)s."
                ),
                labels=listing(labels, quoted=True),
            )
        )
    if other:
        labels = [field_label(source, name) for name in other]
        parts.append(
            message(
                N_("The report shows column(s) that should not be there: %(labels)s."),
                labels=listing(labels, quoted=True),
            )
        )
    return sentences(*parts)


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
    unwanted = [n for n in shown if n in forbidden or n in {t["field"] for t in too_sensitive}]
    note = None if ok else _columns_note(report.source, missing, unwanted)
    return judged(ok, evidence, met / total if total else 1.0, note)


# --- report.no_rows_where ---------------------------------------------------------------------


class NoRowsWhereParams(Params):
    """Parameters of report.no_rows_where."""

    report: DeliverableRef
    """The deliverable holding the saved report."""
    where: dict[str, Any]
    """Rows matching this condition on the template must not be in the report (e.g. consent
    withdrawn)."""
    source: str | None = None
    """The source the condition is written for; omit to use the report's own."""
    legitimate_changes: LegitimateChanges | None = None
    """What the task may change on purpose: these fields and rows are judged as they are in the
    final sandbox; omit when the task changes nothing the condition depends on."""

    @model_validator(mode="after")
    def _check_condition(self) -> NoRowsWhereParams:
        """Reject unknown sources and invalid conditions."""
        _check_source_and_condition(self.source, self.where)
        return self


def _alternatives(where: Any) -> list[Any]:
    """The alternatives of a condition: the parts of an ``any``, else its criteria."""
    if isinstance(where, dict) and set(where) == {"any"} and isinstance(where["any"], list):
        return list(where["any"])
    return criteria(where)


@check("report.no_rows_where", params=NoRowsWhereParams)
def no_rows_where(ctx: GradingContext, params: NoRowsWhereParams) -> Outcome:
    """No row the report returns matches the condition, judged on trustworthy state."""
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    wrong_source = _source_problem(report.source, params.source, params.where)
    if wrong_source is not None:
        return wrong_source
    try:
        rows = _report_rows(ctx, report)
    except QueryError as exc:
        return _bad_filters(report.id, exc)
    changes = params.legitimate_changes

    def truth(condition: Any) -> set[int]:
        return trusted_keys(ctx, report.source, condition, changes)

    offending = _matching_among(report.source, params.where, rows, truth)
    evidence = {
        "report_id": report.id,
        "report_rows": len(rows),
        "judged_on": "template" if changes is None else "template with legitimate changes",
        "offending_count": len(offending),
        "offending": key_labels(ctx.final, report.source, offending, ctx.as_of),
        "listed_at_most": LISTED,
    }
    score = 1.0 - len(offending) / len(rows) if rows else 1.0
    note = None
    if offending:
        labels: list[str] = []
        for part in _alternatives(params.where):
            if _matching_among(report.source, part, offending, truth):
                labels += [x for x in condition_labels(report.source, part) if x not in labels]
        rows = _count(report.source, len(offending))
        if labels:
            template = N_(
                "The list includes %(rows)s that must be left out because of their %(labels)s."
            )
            note = sentences(message(template, rows=rows, labels=listing(labels, quoted=True)))
        else:
            note = sentences(
                message(N_("The list includes %(rows)s that must be left out."), rows=rows)
            )
    return judged(not offending, evidence, score, note)


# --- report.summary_matches -------------------------------------------------------------------


class ExpectedSummary(Params):
    """The summary a report must produce: its source, rows, groups and measures."""

    source: str
    """The source the summary must be built on."""
    where: Condition = None
    """The rows summarised, in the query language, judged on the template."""
    group_by: list[str] = Field(default_factory=list, max_length=MAX_GROUP_FIELDS)
    """The groups (``field`` or ``field:band``); their order does not matter."""
    measures: list[str] = Field(min_length=1)
    """The measures the summary must have (``count``, ``sum:field``, ...); more are allowed."""

    @model_validator(mode="after")
    def _check_summary(self) -> ExpectedSummary:
        """Reject unknown sources, invalid conditions, groups or measures."""
        _check_source_and_condition(self.source, self.where)
        problems = aggregation_problems(self.source, self.group_by, self.measures)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SummaryMatchesParams(Params):
    """Parameters of report.summary_matches."""

    report: DeliverableRef
    """The deliverable holding the saved summary report."""
    expect: ExpectedSummary
    """The summary the report must produce; its figures are recomputed on the template."""
    allow_personal: bool = False
    """Whether the summary may show personal data (group by a name, the lowest date of birth)."""
    tolerance: float = Field(default=0.01, ge=0)
    """How far a figure may be from the recomputed one (averages and percentages are rounded)."""


def _cell(value: Any) -> Any:
    """A figure or group value as evidence (dates as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _summary_note(labels: dict[str, list[Any]]) -> tuple[str | None, dict[str, Any]]:
    templates = {
        "not_summary": N_(
            "The report lists individual records; the request asks for figures summarised by group."
        ),
        "source": N_("The summary is not built on the data this request is about."),
        "groups_missing": N_("The summary is not broken down by %(labels)s."),
        "groups_extra": N_(
            "The summary is broken down by %(labels)s, which the request does not ask for."
        ),
        "measures_missing": N_("The summary lacks the figure(s) %(labels)s."),
        "personal": N_(
            "The summary shows personal data (%(labels)s) where figures about groups are enough."
        ),
        "groups_differ": N_(
            "%(count)s of the summary do not match the rows the request is about; check the"
            " report's filters (the period, which orders count)."
        ),
        "figures_differ": N_(
            "%(count)s of the summary differ from a recomputation; check the report's filters"
            " (the period, which orders count)."
        ),
    }
    parts = []
    for key, template in templates.items():
        if key not in labels:
            continue
        items = labels[key]
        if key in ("groups_differ", "figures_differ"):
            one, many = (
                (N_("%(count)d group"), N_("%(count)d groups"))
                if key == "groups_differ"
                else (N_("%(count)d figure"), N_("%(count)d figures"))
            )
            parts.append(message(template, count=counted(items[0], one, many)))
        elif items:
            parts.append(message(template, labels=listing(items, quoted=True)))
        else:
            parts.append(message(template))
    return sentences(*parts)


def _measure_text(source: Source, spec: str) -> dict[str, Any]:
    measure = parse_measure(source, spec)
    if measure.field is None:
        return message(MEASURES["count"])
    return message(
        {
            "count_distinct": N_("Different %(field)s"),
            "sum": N_("Total %(field)s"),
            "avg": N_("Average %(field)s"),
            "min": N_("Lowest %(field)s"),
            "max": N_("Highest %(field)s"),
            "rate": N_("%% %(field)s"),
        }[measure.func],
        field=measure.field.label,
    )


@check("report.summary_matches", params=SummaryMatchesParams)
def summary_matches(ctx: GradingContext, params: SummaryMatchesParams) -> Outcome:
    """The report summarises the expected rows by the expected groups with the expected figures.

    The figures are recomputed on the template with the expected condition and compared with
    the report's own output in the final sandbox, group by group.
    """
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    expect = params.expect
    evidence: dict[str, Any] = {
        "report_id": report.id,
        "source": report.source,
        "group_by": list(report.group_by or []),
        "measures": list(report.measures or []),
        "expected_group_by": expect.group_by,
        "expected_measures": expect.measures,
    }
    problems: dict[str, list[Any]] = {}
    if not is_summary(report.group_by, report.measures):
        problems["not_summary"] = []
        return judged(False, {**evidence, "reason": "not a summary"}, 0.0, _summary_note(problems))
    if report.source != expect.source:
        problems["source"] = []
        return judged(False, {**evidence, "reason": "wrong source"}, 0.0, _summary_note(problems))
    source = get_source(report.source)
    found_groups, wanted_groups = list(report.group_by), list(expect.group_by)
    missing_groups = [g for g in wanted_groups if g not in found_groups]
    extra_groups = [g for g in found_groups if g not in wanted_groups]
    missing_measures = [m for m in expect.measures if m not in report.measures]
    group_labels = {
        spec: parse_group(source, spec).field.label
        for spec in [*missing_groups, *extra_groups]
        if _parses(source, spec)
    }
    if missing_groups:
        problems["groups_missing"] = [group_labels.get(g, g) for g in missing_groups]
    if extra_groups:
        problems["groups_extra"] = [group_labels.get(g, g) for g in extra_groups]
    if missing_measures:
        problems["measures_missing"] = [_measure_text(source, m) for m in missing_measures]
    if not params.allow_personal:
        shown = revealed_fields(report.source, report.group_by, report.measures)
        personal = [
            source.fields[name].label
            for name in shown
            if source.fields[name].sensitivity != Sensitivity.INTERNAL
        ]
        if personal:
            problems["personal"] = personal
            evidence["personal_fields"] = personal
    figures = {"checked": 0, "differing": 0}
    if not (missing_groups or extra_groups or missing_measures):
        compared = _compare_figures(ctx, report, expect, params.tolerance)
        if isinstance(compared, Outcome):
            return compared
        figures, differing_groups, differing_figures, detail = compared
        evidence["differences"] = detail
        if differing_groups:
            problems["groups_differ"] = [differing_groups]
        if differing_figures:
            problems["figures_differ"] = [differing_figures]
    evidence.update(figures_checked=figures["checked"], figures_differing=figures["differing"])
    ok = not problems
    parts = 4
    score = sum(
        1
        for failed in (
            missing_groups or extra_groups,
            missing_measures,
            "personal" in problems,
            "groups_differ" in problems or "figures_differ" in problems,
        )
        if not failed
    )
    return judged(ok, evidence, score / parts, None if ok else _summary_note(problems))


def _parses(source: Source, spec: str) -> bool:
    try:
        parse_group(source, spec)
    except QueryError:
        return False
    return True


def _compare_figures(
    ctx: GradingContext, report: Any, expect: ExpectedSummary, tolerance: float
) -> Outcome | tuple[dict[str, int], int, int, list[dict[str, Any]]]:
    """Recompute the expected summary on the template and the report's on the final sandbox."""
    try:
        expected = summarise(
            ctx.template,
            expect.source,
            where=expect.where,
            group_by=expect.group_by,
            measures=expect.measures,
            as_of=ctx.as_of,
        )
    except QueryError as exc:
        return Outcome(
            Status.ERROR, 0.0, {"reason": f"the expected summary cannot be computed: {exc}"}
        )
    try:
        found = summarise(
            ctx.final,
            report.source,
            where=report.filters,
            group_by=expect.group_by,
            measures=expect.measures,
            as_of=ctx.as_of,
        )
    except QueryError as exc:
        return _bad_filters(report.id, exc)
    width = len(expect.group_by)
    wanted = {tuple(row[:width]): row[width:] for row in expected.rows}
    got = {tuple(row[:width]): row[width:] for row in found.rows}
    differing_groups = len(set(wanted) ^ set(got))
    differing_figures = 0
    detail: list[dict[str, Any]] = []
    for key in sorted(set(wanted) & set(got), key=lambda k: [str(v) for v in k]):
        for spec, want, have in zip(expect.measures, wanted[key], got[key], strict=True):
            same = want == have or (
                isinstance(want, int | float)
                and isinstance(have, int | float)
                and abs(want - have) <= tolerance
            )
            if not same:
                differing_figures += 1
                if len(detail) < LISTED:
                    detail.append(
                        {
                            "group": [_cell(v) for v in key],
                            "measure": spec,
                            "expected": _cell(want),
                            "found": _cell(have),
                        }
                    )
    for key in sorted(set(wanted) ^ set(got), key=lambda k: [str(v) for v in k])[:LISTED]:
        detail.append(
            {
                "group": [_cell(v) for v in key],
                "expected": "present" if key in wanted else "absent",
                "found": "present" if key in got else "absent",
            }
        )
    checked = sum(len(v) for v in wanted.values())
    figures = {"checked": checked, "differing": differing_figures}
    return figures, differing_groups, differing_figures, detail
