"""Report pages: the list, the builder, the definition with its shares, runs and exports."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Response, make_response, render_template, request
from sqlalchemy import func, select
from wtforms import SelectField

from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    Department,
    ReportDefinition,
    ReportExport,
    ReportRun,
    ReportRunPage,
    StaffUser,
)
from sandbox_crm.operations import OperationError
from sandbox_crm.query import describe_condition, operators_for, validate_condition
from sandbox_crm.reports.aggregation import (
    BAND_TYPES,
    MEASURES,
    MeasureSpec,
    group_label,
    is_summary,
    measure_label,
    parse_group,
    parse_measure,
)
from sandbox_crm.reports.charts import Chart, bar_chart, heat_table
from sandbox_crm.reports.files import render_xlsx
from sandbox_crm.reports.models import RUN_PAGE_ROWS
from sandbox_crm.reports.operations import (
    can_export_report,
    can_view_report,
    create_report,
    delete_report,
    export_report,
    reports_visible_to,
    run_report,
    share_report,
    stored_field_access,
    unshare_report,
    update_report,
)
from sandbox_crm.sources import SOURCES, QueryError, Source, get_source
from sandbox_crm.web.core import (
    CrmNotFound,
    Pager,
    actor,
    bp,
    db,
    done,
    failed,
    get_or_404,
    refused,
)
from sandbox_crm.web.filter_rows import (
    OPERATOR_LABELS,
    FilterRow,
    build_condition,
    rows_from_condition,
)
from sandbox_crm.web.forms import (
    FILTER_ROWS,
    ConfirmForm,
    ExportForm,
    ReportForm,
    ShareForm,
    options,
)
from sandbox_crm.web.i18n import L_, translate, translate_plural
from sandbox_crm.web.i18n import translated as crm_translated
from sandbox_crm.web.masking import PREVIEW_ARG, preview_roles, request_field_view
from sandbox_crm.web.presentation import label, output_cell

RUN_PER_PAGE = RUN_PAGE_ROWS
RECENT = 10
# Topic headings of the builder's column list, per source (presentation only).
FIELD_GROUPS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "customers": (
        (
            N_("Identity"),
            (
                "customer_id",
                "member_no",
                "name_en",
                "name_zh",
                "gender",
                "birth_month",
                "date_of_birth",
                "hkid",
            ),
        ),
        (N_("Contact details"), ("email", "email_invalid", "mobile", "mobile_invalid", "address")),
        (
            N_("Membership"),
            (
                "tier",
                "status",
                "joined_on",
                "district",
                "region",
                "home_branch",
                "preferred_language",
                "source_system",
                "notes",
            ),
        ),
        (N_("Purchases"), ("spend_12m", "orders_12m", "last_order_date")),
        (N_("Direct-marketing consent"), ("dm_email", "dm_sms", "dm_phone", "dm_post")),
    ),
    "orders": (
        (
            N_("Order"),
            ("order_id", "order_no", "ordered_at", "status", "channel", "total_hkd", "branch"),
        ),
        (N_("Customer"), ("customer_id", "customer_member_no", "customer_name", "customer_tier")),
    ),
}


# --- helpers ----------------------------------------------------------------------------------


def _visible_report(report_id: int) -> ReportDefinition:
    """The report if the actor may open it; the CRM's 404 page otherwise."""
    report = get_or_404(ReportDefinition, report_id, "report")
    if not can_view_report(db(), actor(), report):
        raise CrmNotFound("report you have access to")
    return report


def _departments() -> list[Department]:
    return list(db().scalars(select(Department).order_by(Department.name)))


def _field_groups(source: Source) -> list[tuple[str, list[Any]]]:
    """The source's fields under topic headings; fields not placed here go under "Other"."""
    placed = FIELD_GROUPS.get(source.name, ())
    groups: list[tuple[str, list[Any]]] = []
    seen: set[str] = set()
    for title, names in placed:
        fields = [source.fields[name] for name in names if name in source.fields]
        seen.update(f.name for f in fields)
        if fields:
            groups.append((translate(title), fields))
    rest = [field for name, field in source.fields.items() if name not in seen]
    if rest:
        groups.append((translate("Other"), rest))
    return groups


def _describe(report: ReportDefinition) -> str:
    """The report's rows in words: "Customers where ..." or "All customers"."""
    source = SOURCES.find(report.source)
    name = crm_translated(source.label) if source else report.source
    if not report.filters:
        return translate("All %(source)s", source=name if source is None else name.lower())
    if validate_condition(report.source, report.filters):
        return translate("%(source)s (the saved filter no longer fits this source)", source=name)
    condition = crm_translated(describe_condition(report.source, report.filters))
    return translate("%(source)s where %(condition)s", source=name, condition=condition)


def _describe_summary(report: ReportDefinition) -> str:
    """A summary's groups and measures in words ("" for a list of rows)."""
    source = SOURCES.find(report.source)
    if source is None or not is_summary(report.group_by, report.measures):
        return ""
    try:
        groups = [crm_translated(group_label(parse_group(source, g))) for g in report.group_by]
        measures = [
            crm_translated(measure_label(parse_measure(source, m))) for m in report.measures
        ]
    except QueryError:
        return translate("(the saved summary no longer fits this source)")
    if not groups:
        return translate("Totals: %(measures)s", measures=", ".join(measures))
    return translate(
        "%(measures)s by %(groups)s", measures=", ".join(measures), groups=" × ".join(groups)
    )


def _describe_sort(report: ReportDefinition) -> str:
    source = SOURCES.find(report.source)
    parts = []
    for name, direction in report.sort or []:
        field = source.fields.get(name) if source else None
        text = crm_translated(field.label) if field else name
        if direction == "desc":
            parts.append(translate("%(field)s (descending)", field=text))
        else:
            parts.append(translate("%(field)s (ascending)", field=text))
    text = parts[0] if parts else ""
    for part in parts[1:]:
        text = translate("%(sorted)s, then %(field)s", sorted=text, field=part)
    return text


# --- list -------------------------------------------------------------------------------------


@bp.get("/reports")
def reports() -> str:
    """Reports I own or that are shared with my department."""
    session = db()
    me = actor()
    visible = reports_visible_to(session, me)
    last_runs = dict(
        session.execute(
            select(ReportRun.report_id, func.max(ReportRun.run_at))
            .where(ReportRun.report_id.in_([r.id for r in visible]))
            .group_by(ReportRun.report_id)
        ).all()
    )
    return render_template(
        "crm/reports.html",
        reports=visible,
        last_runs=last_runs,
        sources=SOURCES,
        me=me,
    )


# --- builder ----------------------------------------------------------------------------------

SUMMARY_GROUPS = 2
SUMMARY_MEASURES = 3


class SummaryReportForm(ReportForm):
    """The report builder, with the optional summary: up to two groups and three measures."""

    group_1 = SelectField(L_("Group by"), validate_choice=False)
    group_2 = SelectField(L_("Then by (a two-way table)"), validate_choice=False)
    measure_1 = SelectField(L_("Measure 1"), validate_choice=False)
    measure_field_1 = SelectField(L_("Field of measure 1"), validate_choice=False)
    measure_2 = SelectField(L_("Measure 2"), validate_choice=False)
    measure_field_2 = SelectField(L_("Field of measure 2"), validate_choice=False)
    measure_3 = SelectField(L_("Measure 3"), validate_choice=False)
    measure_field_3 = SelectField(L_("Field of measure 3"), validate_choice=False)

    def summary(self) -> tuple[list[str], list[str]]:
        """The groups and measure specs chosen (both empty for a list of rows)."""
        groups = [g for g in (self.group_1.data, self.group_2.data) if g]
        measures = []
        for n in range(1, SUMMARY_MEASURES + 1):
            func_ = getattr(self, f"measure_{n}").data or ""
            name = getattr(self, f"measure_field_{n}").data or ""
            if func_:
                measures.append(func_ if func_ == "count" else f"{func_}:{name}")
        return groups, measures


def _group_choices(source: Source) -> list[tuple[str, str]]:
    """Every group a source offers: its fields, and dates and amounts by band."""
    choices = []
    for name, field in source.fields.items():
        bands = [band for band, types in BAND_TYPES.items() if field.type in types]
        if field.type not in ("date", "datetime"):
            choices.append((name, translate(field.label)))
        for band in bands:
            spec = f"{name}:{band}"
            choices.append((spec, crm_translated(group_label(parse_group(source, spec)))))
    return choices


def _prepare_summary(form: SummaryReportForm, source: Source) -> None:
    """Fill the summary part's choices for a source."""
    groups = [("", translate("— none —")), *_group_choices(source)]
    form.group_1.choices = options(groups)
    form.group_2.choices = options(groups)
    funcs = [("", translate("— none —"))]
    funcs += [(func_, translate(text)) for func_, text in MEASURES.items()]
    fields = [("", translate("— no field (count) —"))]
    fields += [(name, translate(field.label)) for name, field in source.fields.items()]
    for n in range(1, SUMMARY_MEASURES + 1):
        getattr(form, f"measure_{n}").choices = options(funcs)
        getattr(form, f"measure_field_{n}").choices = options(fields)


def _fill_summary(form: SummaryReportForm, report: ReportDefinition) -> None:
    """Put a saved summary's groups and measures into the builder."""
    for n, spec in enumerate(report.group_by or [], start=1):
        if n <= SUMMARY_GROUPS:
            getattr(form, f"group_{n}").data = spec
    for n, spec in enumerate(report.measures or [], start=1):
        if n <= SUMMARY_MEASURES:
            func_, _, name = str(spec).partition(":")
            getattr(form, f"measure_{n}").data = func_
            getattr(form, f"measure_field_{n}").data = name


def _prepare_builder(form: ReportForm, source: Source) -> None:
    """Fill the builder's choices for a source."""
    field_choices = [(name, translate(field.label)) for name, field in source.fields.items()]
    operators = [(op, translate(text)) for op, text in OPERATOR_LABELS.items()]
    form.columns.choices = options(field_choices)
    form.sort_field.choices = options([("", translate("— no sorting —")), *field_choices])
    while len(form.filters) < FILTER_ROWS:
        form.filters.append_entry()
    for entry in form.filters:
        entry.form.field.choices = options([("", translate("— choose a field —")), *field_choices])
        entry.form.op.choices = options(operators)


def _fill_from_report(form: ReportForm, report: ReportDefinition) -> str | None:
    """Put a saved report into the builder; a note if its filter cannot be shown as rows."""
    form.name.data = report.name
    form.description.data = report.description
    form.purpose.data = report.purpose
    form.columns.data = list(report.columns)
    if report.sort:
        form.sort_field.data, form.sort_dir.data = report.sort[0]
    found = rows_from_condition(report.filters)
    if found is None:
        return _describe(report)
    match, rows = found
    form.match.data = match
    for index, row in enumerate(rows):
        if index >= len(form.filters):
            form.filters.append_entry()
        entry = form.filters[index].form
        entry.field.data, entry.op.data, entry.value.data = row.field, row.op, row.value
    return None


def _builder_source(report: ReportDefinition | None) -> Source:
    """The source being edited: ``?source=`` (GET), the posted one, or the report's own."""
    if request.method == "POST":
        name = request.form.get("source", "")
    else:
        name = request.args.get("source", "")
    if name not in SOURCES:
        name = report.source if report is not None else "customers"
    return get_source(name)


def _builder_page(
    form: ReportForm,
    source: Source,
    report: ReportDefinition | None,
    *,
    row_errors: dict[int, str] | None = None,
    advanced: str | None = None,
) -> dict[str, Any]:
    return {
        "form": form,
        "source": source,
        "sources": SOURCES,
        "report": report,
        "groups": _field_groups(source),
        "row_errors": row_errors or {},
        "advanced": advanced,
        "operators": {op: translate(text) for op, text in OPERATOR_LABELS.items()},
        "ops_by_type": {
            kind: [translate(OPERATOR_LABELS[op]) for op in operators_for(field)]
            for kind, field in {f.type: f for f in source.fields.values()}.items()
        },
    }


def _save_report(report: ReportDefinition | None) -> Response | str | tuple[str, int]:
    """The builder for a new (``report`` None) or existing report: show it, or save it."""
    source = _builder_source(report)
    form = SummaryReportForm()
    advanced = None
    if request.method == "GET":
        form.source.data = source.name
        if report is not None and source.name == report.source:
            advanced = _fill_from_report(form, report)
            _fill_summary(form, report)
        elif report is not None:
            form.name.data, form.description.data = report.name, report.description
            form.purpose.data = report.purpose
            form.columns.data = list(source.default_columns)
        else:
            form.columns.data = list(source.default_columns)
    _prepare_builder(form, source)
    _prepare_summary(form, source)
    template = "crm/report_edit.html"
    if request.method == "GET":
        return render_template(template, **_builder_page(form, source, report, advanced=advanced))

    page = _builder_page(form, source, report)
    if not form.validate_on_submit():
        return failed(template, **page)
    rows = [
        FilterRow(e.form.field.data or "", e.form.op.data or "eq", e.form.value.data or "")
        for e in form.filters
    ]
    condition, row_errors = build_condition(source, form.match.data or "all", rows)
    if row_errors:
        general = row_errors.pop(-1, None)
        page["row_errors"] = row_errors
        return failed(template, general or "Check the highlighted filters.", **page)
    group_by, measures = form.summary()
    summary = is_summary(group_by, measures)
    values = {
        "name": form.name.data or "",
        "description": form.description.data or "",
        "purpose": form.purpose.data or "",
        "source": source.name,
        "columns": (
            [] if summary else [name for name in source.fields if name in (form.columns.data or [])]
        ),
        "filters": condition,
        # A summary comes in its groups' order; the sort applies to lists of rows.
        "sort": (
            [[form.sort_field.data, form.sort_dir.data]]
            if form.sort_field.data and not summary
            else []
        ),
        "group_by": group_by,
        "measures": measures,
    }
    try:
        if report is None:
            saved = create_report(db(), actor(), **values)
        else:
            saved = update_report(db(), actor(), report.id, **values)
    except OperationError as exc:
        operation = "create_report" if report is None else "update_report"
        entity = ("report", report.id) if report is not None else None
        message = exc.message
        field = getattr(form, exc.field, None) if exc.field in ("name", "columns") else None
        if exc.field == "group_by":
            field = form.group_1
        if field is not None:
            field.errors = [*field.errors, crm_translated(exc.message)]
            message = translate("Check the highlighted fields.")
        return refused(operation, exc, template, message, entity=entity, **page)
    if report is None:
        message = translate("Report “%(name)s” created.", name=saved.name)
    else:
        message = translate("Report “%(name)s” saved.", name=saved.name)
    return done(message, "crm.report", report_id=saved.id)


@bp.route("/reports/new", methods=["GET", "POST"])
def report_new() -> Response | str | tuple[str, int]:
    """The report builder for a new report (create_report)."""
    return _save_report(None)


@bp.route("/reports/<int:report_id>/edit", methods=["GET", "POST"])
def report_edit(report_id: int) -> Response | str | tuple[str, int]:
    """The report builder for a saved report (update_report)."""
    return _save_report(_visible_report(report_id))


# --- detail, sharing, running, exporting ------------------------------------------------------


def _report_page(
    report: ReportDefinition,
    *,
    share_form: ShareForm | None = None,
    export_form: ExportForm | None = None,
    share_error: str | None = None,
    export_error: str | None = None,
) -> dict[str, Any]:
    session = db()
    me = actor()
    departments = _departments()
    share_form = share_form or ShareForm()
    share_form.department.choices = options((d.code, d.name) for d in departments)
    export_form = export_form or ExportForm()
    export_form.for_department.choices = options(
        [
            ("", translate("— not for another department —")),
            *((d.code, d.name) for d in departments),
        ]
    )
    source = SOURCES.find(report.source)
    runs = session.scalars(
        select(ReportRun)
        .where(ReportRun.report_id == report.id, ReportRun.run_by_id == me.id)
        .order_by(ReportRun.id.desc())
        .limit(RECENT)
    ).all()
    exports = session.scalars(
        select(ReportExport)
        .where(ReportExport.report_id == report.id, ReportExport.exported_by_id == me.id)
        .order_by(ReportExport.id.desc())
        .limit(RECENT)
    ).all()
    return {
        "report": report,
        "source": source,
        "fields": source.fields if source else {},
        "description": _describe(report),
        "summary_text": _describe_summary(report),
        "sort_text": _describe_sort(report),
        "is_owner": report.owner_id == me.id,
        "may_export": can_export_report(session, me, report),
        "share_form": share_form,
        "export_form": export_form,
        "share_error": share_error,
        "export_error": export_error,
        "confirm": ConfirmForm(),
        "runs": runs,
        "exports": exports,
        "view": request_field_view(),
    }


@bp.get("/reports/<int:report_id>")
def report(report_id: int) -> str:
    """A report's definition in words, its shares, my runs and my exports."""
    return render_template("crm/report.html", **_report_page(_visible_report(report_id)))


@bp.post("/reports/<int:report_id>/delete")
def report_delete(report_id: int) -> Response | tuple[str, int]:
    """Delete a report (delete_report)."""
    report = _visible_report(report_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return failed("crm/report.html", **_report_page(report))
    try:
        delete_report(db(), actor(), report_id)
    except OperationError as exc:
        return refused(
            "delete_report",
            exc,
            "crm/report.html",
            exc.message,
            entity=("report", report_id),
            **_report_page(report),
        )
    return done(translate("Report “%(name)s” deleted.", name=report.name), "crm.reports")


@bp.post("/reports/<int:report_id>/shares")
def report_share(report_id: int) -> Response | tuple[str, int]:
    """Share a report with a department (share_report)."""
    report = _visible_report(report_id)
    form = ShareForm()
    if not form.validate_on_submit():
        return failed("crm/report.html", **_report_page(report, share_form=form))
    department = form.department.data
    try:
        share = share_report(db(), actor(), report_id, department, bool(form.can_export.data))
        name = share.department.name
    except OperationError as exc:
        return refused(
            "share_report",
            exc,
            "crm/report.html",
            entity=("report", report_id),
            **_report_page(report, share_form=form, share_error=exc.message),
        )
    return done(
        translate("Report shared with %(name)s.", name=name), "crm.report", report_id=report_id
    )


@bp.post("/reports/<int:report_id>/shares/<department_code>/remove")
def report_unshare(report_id: int, department_code: str) -> Response | tuple[str, int]:
    """Stop sharing a report with a department (unshare_report)."""
    report = _visible_report(report_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return failed("crm/report.html", **_report_page(report))
    try:
        unshare_report(db(), actor(), report_id, department_code)
    except OperationError as exc:
        return refused(
            "unshare_report",
            exc,
            "crm/report.html",
            entity=("report", report_id),
            **_report_page(report, share_error=exc.message),
        )
    return done(translate("Sharing removed."), "crm.report", report_id=report_id)


@bp.post("/reports/<int:report_id>/runs")
def report_run_new(report_id: int) -> Response | tuple[str, int]:
    """Run a report (run_report) and show that run."""
    report = _visible_report(report_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return failed("crm/report.html", **_report_page(report))
    try:
        run = run_report(db(), actor(), report_id)
    except OperationError as exc:
        return refused(
            "run_report",
            exc,
            "crm/report.html",
            exc.message,
            entity=("report", report_id),
            **_report_page(report),
        )
    run_id, count = run.id, run.row_count
    return done(
        translate_plural("Report run: %(num)d row.", "Report run: %(num)d rows.", count),
        "crm.report_run",
        report_id=report_id,
        run_id=run_id,
    )


def _run_output_page(run: ReportRun) -> tuple[list[str], list[list[Any]], Pager]:
    """The header and one page of a run's output, read from its stored page.

    A run stored before pages were kept (none for a non-empty output) is read from its CSV.
    """
    session = db()
    total = run.row_count
    pager = Pager(Pager.requested_page(), RUN_PER_PAGE, total)
    if pager.page > pager.pages:
        pager = Pager(pager.pages, RUN_PER_PAGE, total)
    stored = session.get(ReportRunPage, (run.id, pager.page))
    rows = [list(cells) for cells in stored.rows] if stored is not None else []
    if rows or total == 0:
        return list(run.columns), rows, pager
    records = list(csv.reader(io.StringIO(run.output_csv)))
    header, body = (records[0], records[1:]) if records else (list(run.columns), [])
    pager = Pager(min(pager.page, max(1, -(-len(body) // RUN_PER_PAGE))), RUN_PER_PAGE, len(body))
    return header, body[pager.offset : pager.offset + pager.per_page], pager


@bp.get("/reports/<int:report_id>/runs/<int:run_id>")
def report_run(report_id: int, run_id: int) -> str:
    """The stored output of one of my runs, a page at a time."""
    report = get_or_404(ReportDefinition, report_id, "report")
    run = db().get(ReportRun, run_id)
    if run is None or run.report_id != report.id or run.run_by_id != actor().id:
        raise CrmNotFound("report run")
    header, rows, pager = _run_output_page(run)
    source = SOURCES.find(report.source)
    fields = source.fields if source else {}
    summary = _run_summary(source, run) if source is not None else None
    view = request_field_view()
    hidden: list[str] = []
    if summary is None:
        # The run keeps what its runner could see; shown now, it is capped by what the viewer's
        # role (or the role previewed) may see.
        made_with = stored_field_access(db(), report.id, "report.run", run.id)
        shown, rows = view.cap_cells(header, rows, made_with)
        hidden = [name for name, access in made_with.items() if access == "hidden"]
        hidden += [name for name in header if name not in shown]
        header = shown
    return render_template(
        "crm/report_run.html",
        report=report,
        run=run,
        run_by=db().get(StaffUser, run.run_by_id),
        columns=(summary["columns"] if summary else [(name, fields.get(name)) for name in header]),
        rows=rows,
        pager=pager,
        summary=summary,
        hidden=[crm_translated(fields[name].label) if name in fields else name for name in hidden],
        view=view,
        roles=preview_roles(db()),
        preview_arg=PREVIEW_ARG,
    )


class _Heading:
    """A summary column as the run page's table reads a field: a label and a type."""

    def __init__(self, label: str, type_: str) -> None:
        self.label, self.type = label, type_


def _measure_spec(source: Source, spec: str) -> MeasureSpec | None:
    if spec in source.fields:
        return None
    try:
        return parse_measure(source, spec)
    except QueryError:
        return None


def _run_summary(source: Source, run: ReportRun) -> dict[str, Any] | None:
    """A summary run's headings and its chart (None for a run of a list of rows)."""
    columns = list(run.columns)
    measures = [_measure_spec(source, spec) for spec in columns]
    if not any(measures):
        return None
    width = next(i for i, m in enumerate(measures) if m is not None)
    headings: list[tuple[str, Any]] = []
    for spec, measure in zip(columns, measures, strict=True):
        if measure is None:
            try:
                group = parse_group(source, spec)
            except QueryError:
                headings.append((spec, None))
                continue
            kind = group.field.type if not group.band else "str"
            headings.append((spec, _Heading(group_label(group), kind)))
        else:
            kind = "int" if measure.func in ("count", "count_distinct", "sum") else "str"
            if measure.func in ("min", "max") and measure.field is not None:
                kind = measure.field.type
            headings.append((spec, _Heading(measure_label(measure), kind)))
    records = list(csv.reader(io.StringIO(run.output_csv)))[1:]
    chosen = request.args.get("measure", type=int) or width
    if not width <= chosen < len(columns):
        chosen = width
    title = crm_translated(headings[chosen][1].label)
    none_label = translate("(none)")
    chart: Chart | None = None
    # Group values as the table shows them ("Store", "Gold"), not their codes.
    records = [
        [output_cell(value, headings[i][1]) if i < width else value for i, value in enumerate(r)]
        for r in records
    ]
    if width == 1:
        chart = bar_chart(
            title, [r[0] for r in records], [r[chosen] for r in records], none_label=none_label
        )
    elif width == 2:
        chart = heat_table(
            title,
            records,
            chosen,
            row_heading=crm_translated(headings[0][1].label) if headings[0][1] else columns[0],
            none_label=none_label,
        )
    choices = [
        (index, crm_translated(heading.label))
        for index, (_spec, heading) in enumerate(headings)
        if index >= width and heading is not None
    ]
    return {"columns": headings, "chart": chart, "measure": chosen, "choices": choices}


@bp.post("/reports/<int:report_id>/exports")
def report_export(report_id: int) -> Response | tuple[str, int]:
    """Export a report to a CSV or XLSX file (export_report), then offer it for download."""
    report = _visible_report(report_id)
    form = ExportForm()
    if not form.validate_on_submit():
        return failed("crm/report.html", **_report_page(report, export_form=form))
    try:
        export = export_report(
            db(),
            actor(),
            report_id,
            purpose=form.purpose.data or "",
            destination=form.destination.data,
            for_department=form.for_department.data or None,
            encrypted=bool(form.encrypted.data),
            file_format=form.file_format.data or "csv",
            headers=form.headers.data or "labels",
        )
    except OperationError as exc:
        return refused(
            "export_report",
            exc,
            "crm/report.html",
            entity=("report", report_id),
            **_report_page(report, export_form=form, export_error=exc.message),
        )
    count = export.row_count
    return done(
        translate_plural(
            "Exported %(num)d row to %(destination)s. Download the file from “My exports”.",
            "Exported %(num)d rows to %(destination)s. Download the file from “My exports”.",
            count,
            destination=label(export.destination),
        ),
        "crm.report",
        report_id=report_id,
    )


def _filename(export: ReportExport) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", export.report.name.lower()).strip("-") or "report"
    return f"{slug[:60]}-{export.exported_at:%Y%m%d-%H%M}.{export.file_format}"


def _capped_file(export: ReportExport) -> tuple[list[str], str]:
    """An export's stored file as the downloading role may see it now.

    The file holds what its exporter's role could see when it was made; a role that has since
    lost access to a field gets it masked, or its column left out, on download too.
    """
    view = request_field_view()
    columns = list(export.columns)
    made_with = stored_field_access(db(), export.report_id, "report.export", export.id)
    if all(view.level(name) == made_with.get(name, "full") for name in columns):
        return columns, export.content
    records = list(csv.reader(io.StringIO(export.content)))
    if not records or len(records[0]) != len(columns):
        return columns, export.content
    keep = [i for i, name in enumerate(columns) if view.sees(name)]
    shown, body = view.cap_cells(columns, records[1:], made_with)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([records[0][i] for i in keep])
    writer.writerows(body)
    return shown, buffer.getvalue()


UTF8_BOM = "\ufeff"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/exports/<int:export_id>/download")
def export_download(export_id: int) -> Response:
    """The stored file of one of my exports, as CSV or as an Excel workbook.

    A CSV file starts with a UTF-8 byte order mark: without it, Excel reads a CSV in the
    system's legacy code page and garbles the Chinese names. XLSX is Unicode by nature.
    """
    export = db().get(ReportExport, export_id)
    if export is None or export.exported_by_id != actor().id:
        raise CrmNotFound("export")
    columns, content = list(export.columns), export.content
    if not export.summary:
        columns, content = _capped_file(export)
    if export.file_format == "xlsx":
        source = SOURCES.find(export.report.source)
        response = make_response(render_xlsx(source, columns, content, summary=export.summary))
        response.headers["Content-Type"] = XLSX_TYPE
    else:
        response = make_response(UTF8_BOM + content)
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(export)}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
