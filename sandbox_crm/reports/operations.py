"""Operations on saved reports: define, share with departments, run and export.

Access: only a report's owner may change, share or delete it; the owner and members of a
department it is shared with may run it; the owner and members of a department it is shared
with for export may export it. Exports are recorded as the trainee made them: a missing purpose,
an unapproved destination or an unencrypted file are kept (the PDPO graders judge them), only
malformed input is refused.

Field permissions: a run keeps, and an export's file holds, what the role that made it may see
(masked values masked, hidden columns left out); a report that filters, sorts or groups by a
field that role does not see in full is refused. The reasons are in ``sandbox_crm.web.masking``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import (
    APPROVED_EXPORT_DESTINATIONS,
    AuditEvent,
    ExportDestination,
    ReportDefinition,
    ReportExport,
    ReportRun,
    ReportRunPage,
    ReportShare,
    StaffUser,
)
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    RecordArgs,
    apply_changes,
    get_department,
    get_entity,
    operation,
)
from sandbox_crm.query import (
    QueryError,
    RowPage,
    normalize_sort,
    select_rows,
    validate_columns,
    validate_condition,
    validate_sort,
)
from sandbox_crm.reports.aggregation import (
    MAX_GROUPS,
    SummaryTable,
    TooManyGroups,
    aggregation_problems,
    is_summary,
    revealed_fields,
    sort_problems,
    summarise,
)
from sandbox_crm.reports.files import (
    HEADER_STYLES,
    cell_text,
    render_summary_csv,
    render_table_csv,
)
from sandbox_crm.reports.models import RUN_PAGE_ROWS
from sandbox_crm.sources import SOURCES

if TYPE_CHECKING:
    from sandbox_crm.web.masking import FieldView

__all__ = [
    "EXPORT_FORMATS",
    "REPORT_FIELDS",
    "can_export_report",
    "can_view_report",
    "create_report",
    "delete_report",
    "export_report",
    "render_csv",
    "reports_visible_to",
    "run_report",
    "share_report",
    "stored_field_access",
    "unshare_report",
    "update_report",
]

REPORT_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "purpose",
    "source",
    "columns",
    "filters",
    "sort",
    "group_by",
    "measures",
)
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx")
TEXT_MAX_LENGTH = 2000
NAME_MAX_LENGTH = 160


# --- arguments --------------------------------------------------------------------------------


class ReportArgs(RecordArgs):
    """Arguments naming one report by id or name."""

    id_field = "report_id"
    reference_field = "report_name"

    report_id: int | None = Arg(None, description="The report's id.")
    report_name: str | None = Arg(
        None, description="The report's name (instead of id; must name one report you can open)."
    )

    def resolve_reference(self, session: Session, actor: StaffUser) -> int:
        """The id of the report with the name given, among the reports the actor can open."""
        named = [r for r in reports_visible_to(session, actor) if r.name == self.report_name]
        chosen = [r for r in named if r.owner_id == actor.id] or named
        if not chosen:
            raise OperationError(
                Message(N_("You have no report called %(name)r."), name=self.report_name)
            )
        if len(chosen) > 1:
            raise OperationError(
                f"Several reports are called {self.report_name!r}; give report_id instead."
            )
        return chosen[0].id


def _department(description: str, default: Any = ...) -> Any:
    return Arg(
        default,
        title="Department",
        description=description,
        validation_alias=AliasChoices("department", "department_code"),
    )


class CreateReportArgs(Args):
    """Arguments of create_report."""

    name: str = Arg(
        title="Report name", min_length=1, max_length=NAME_MAX_LENGTH, description="Report name."
    )
    source: str = Arg(title="Source", description="Data source: customers or orders.")
    columns: list[str] = Arg(
        default_factory=list,
        title="Columns",
        description="Field names shown, in order (a summary shows its groups and measures).",
    )
    filters: dict[str, Any] | None = Arg(
        None, title="Filters", description="Condition in the query language."
    )
    sort: list[Any] = Arg(
        default_factory=list, title="Sort", description="[[field, asc|desc], ...]"
    )
    description: str = Arg(
        "", title="Description", max_length=TEXT_MAX_LENGTH, description="What the report shows."
    )
    purpose: str = Arg(
        "",
        title="Purpose",
        max_length=TEXT_MAX_LENGTH,
        description="Why the report exists (the use of the data).",
    )
    group_by: list[str] = Arg(
        default_factory=list,
        title="Group by",
        description="Summarise by up to two fields, e.g. channel, ordered_at:quarter.",
    )
    measures: list[str] = Arg(
        default_factory=list,
        title="Measures",
        description="Measures per group, e.g. count, sum:total_hkd, count_distinct:customer_id.",
    )


class UpdateReportArgs(ReportArgs):
    """Arguments of update_report: give only the parts to change."""

    name: str | None = Arg(
        None, title="Report name", min_length=1, max_length=NAME_MAX_LENGTH, description="New name."
    )
    source: str | None = Arg(None, title="Source", description="New data source.")
    columns: list[str] | None = Arg(None, title="Columns", description="New columns.")
    filters: dict[str, Any] | None = Arg(
        None, title="Filters", description="New filter condition ({} for none)."
    )
    sort: list[Any] | None = Arg(None, title="Sort", description="New sort.")
    description: str | None = Arg(
        None, title="Description", max_length=TEXT_MAX_LENGTH, description="New description."
    )
    purpose: str | None = Arg(
        None, title="Purpose", max_length=TEXT_MAX_LENGTH, description="New purpose."
    )
    group_by: list[str] | None = Arg(
        None, title="Group by", description="New groups ([] to list rows instead)."
    )
    measures: list[str] | None = Arg(
        None, title="Measures", description="New measures ([] to list rows instead)."
    )

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The report, and only the parts given (None leaves a part as it is, but filters)."""
        changes = {
            name: getattr(self, name)
            for name in self.model_fields_set - {"report_id", "report_name"}
            if getattr(self, name) is not None or name == "filters"
        }
        return {"report_id": self.record_id(session, actor), **changes}


class DeleteReportArgs(ReportArgs):
    """Arguments of delete_report."""


class ShareReportArgs(ReportArgs):
    """Arguments of share_report."""

    department: str = _department("Code of the department to share with.")
    can_export: bool = Arg(
        False,
        title="Export permission",
        description="Whether the department may export the report.",
    )

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The report, and the department as ``department_code``."""
        values = super().call_arguments(session, actor)
        values["department_code"] = values.pop("department")
        return values


class UnshareReportArgs(ReportArgs):
    """Arguments of unshare_report."""

    department: str = _department("Code of the department to withdraw access from.")

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The report, and the department as ``department_code``."""
        values = super().call_arguments(session, actor)
        values["department_code"] = values.pop("department")
        return values


class RunReportArgs(ReportArgs):
    """Arguments of run_report."""


class ExportReportArgs(ReportArgs):
    """Arguments of export_report."""

    purpose: str = Arg(
        "", title="Purpose", max_length=TEXT_MAX_LENGTH, description="Why the data is exported."
    )
    destination: ExportDestination = Arg(title="Destination", description="Where the file goes.")
    for_department: str | None = Arg(
        None, title="Department", description="Code of the department it is for."
    )
    encrypted: bool = Arg(False, title="Encrypted", description="Whether the file is encrypted.")
    file_format: Literal[EXPORT_FORMATS] = Arg(  # type: ignore[valid-type]
        "csv", title="File format", description="File format (csv or xlsx)."
    )
    headers: Literal[HEADER_STYLES] = Arg(  # type: ignore[valid-type]
        "labels",
        title="Column headers",
        description="Column headers: the fields' labels, or their codes.",
    )


# --- access -----------------------------------------------------------------------------------


def _share_for(report: ReportDefinition, actor: StaffUser) -> ReportShare | None:
    return next((s for s in report.shares if s.department_id == actor.department_id), None)


def can_view_report(session: Session, actor: StaffUser, report: ReportDefinition) -> bool:
    """Whether the actor may open and run the report (owner, or shared with their department)."""
    if report.is_deleted:
        return False
    return report.owner_id == actor.id or _share_for(report, actor) is not None


def can_export_report(session: Session, actor: StaffUser, report: ReportDefinition) -> bool:
    """Whether the actor may export the report (owner, or shared with export rights)."""
    if report.is_deleted:
        return False
    if report.owner_id == actor.id:
        return True
    share = _share_for(report, actor)
    return share is not None and share.can_export


def _get_report(session: Session, report_id: int) -> ReportDefinition:
    report = get_entity(session, ReportDefinition, report_id, "report")
    if report.is_deleted:
        raise OperationError(Message(N_("Report %(name)r has been deleted."), name=report.name))
    return report


_OWNER_ONLY = {
    "change": N_("Only the report's owner (%(owner)s) may change it."),
    "delete": N_("Only the report's owner (%(owner)s) may delete it."),
    "share": N_("Only the report's owner (%(owner)s) may share it."),
    "unshare": N_("Only the report's owner (%(owner)s) may unshare it."),
}


def _owned_report(
    session: Session, actor: StaffUser, report_id: int, doing: str
) -> ReportDefinition:
    report = _get_report(session, report_id)
    if report.owner_id != actor.id:
        raise OperationError(Message(_OWNER_ONLY[doing], owner=report.owner.username))
    return report


# --- field permissions ------------------------------------------------------------------------


def _fields_seen(session: Session, actor: StaffUser) -> FieldView:
    """How the actor's role sees the protected customer fields (the CRM's one presenter)."""
    # Imported here: the web package imports every area's views, which import this module.
    from sandbox_crm.web.masking import field_view

    return field_view(session, actor)


def _refuse_unseen(view: FieldView, values: dict[str, Any]) -> None:
    """OperationError if a report's filters, sort or summary would reveal a field the role
    does not see in full (a filter on a masked HKID would tell whose it is)."""
    from sandbox_crm.web.masking import query_problems

    group_by, measures = values.get("group_by") or [], values.get("measures") or []
    summary = is_summary(group_by, measures)
    try:
        revealed = revealed_fields(values["source"], group_by, measures) if summary else []
    except QueryError:
        revealed = []  # a summary that no longer fits is refused when it runs
    parts = (
        ("filters", query_problems(view, values.get("filters"))),
        ("sort", query_problems(view, None, [] if summary else values.get("sort") or [])),
        ("group_by", query_problems(view, None, (), revealed)),
    )
    for part, problems in parts:
        if problems:
            raise OperationError(problems[0], part)


def _refuse_unseen_report(view: FieldView, report: ReportDefinition) -> None:
    """``_refuse_unseen`` for a saved report, about to be run or exported by the view's role."""
    _refuse_unseen(view, {name: getattr(report, name) for name in REPORT_FIELDS})


def _field_details(view: FieldView, columns: Sequence[str]) -> dict[str, Any]:
    """What a run's or export's event records of the field permissions it was made with."""
    access = view.access_of(columns)
    if not access:
        return {}
    return {"field_access": access, "hidden_fields": view.hidden_columns(columns)}


def _visible_rows(
    view: FieldView, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns the role sees and the rows as it sees them (OperationError if it sees none
    of the report's columns)."""
    shown = view.visible_columns(columns)
    if not shown:
        raise OperationError(N_("Your role may not see any of this report's columns."), "columns")
    masked = [name for name in shown if not view.sees_in_full(name)]
    if shown == list(columns) and not masked:
        return shown, list(rows)
    # Only the masked columns change: each row keeps the others' values as they are.
    kept = [name for name in shown if name not in masked]
    stored = view.stored
    return shown, [
        {
            **{name: row.get(name) for name in kept},
            **{name: stored(name, row.get(name)) for name in masked},
        }
        for row in rows
    ]


# --- definitions ------------------------------------------------------------------------------


def _clean_definition(values: dict[str, Any]) -> dict[str, Any]:
    """Check a complete definition against the sources; OperationError naming the bad part.

    The texts were checked by the arguments' model; this checks what depends on the source.
    """
    source = values["source"]
    if source not in SOURCES:
        raise OperationError(
            f"Unknown source {source!r}; known sources: {', '.join(SOURCES)}.", "source"
        )
    group_by, measures = values.get("group_by") or [], values.get("measures") or []
    if is_summary(group_by, measures):
        return _clean_summary(values, list(group_by), list(measures))
    columns = values["columns"]
    if isinstance(columns, str) or not isinstance(columns, Sequence) or not columns:
        raise OperationError(N_("Choose at least one column."), "columns")
    problems = validate_columns(source, list(columns))
    if problems:
        raise OperationError(
            Message(N_("Columns: %(problems)s."), problems="; ".join(problems)), "columns"
        )
    if len(set(columns)) != len(columns):
        raise OperationError(N_("Columns: a column is listed twice."), "columns")
    filters = values["filters"] or None
    problems = validate_condition(source, filters)
    if problems:
        raise OperationError(
            Message(N_("Filters: %(problems)s."), problems="; ".join(problems)), "filters"
        )
    problems = validate_sort(source, values["sort"])
    if problems:
        raise OperationError(
            Message(N_("Sort: %(problems)s."), problems="; ".join(problems)), "sort"
        )
    sort = [[name, direction] for name, direction in normalize_sort(values["sort"])]
    return {
        "name": values["name"],
        "description": values["description"],
        "purpose": values["purpose"],
        "source": source,
        "columns": list(columns),
        "filters": filters,
        "sort": sort,
        "group_by": [],
        "measures": [],
    }


def _clean_summary(
    values: dict[str, Any], group_by: list[str], measures: list[str]
) -> dict[str, Any]:
    """Check a summary's groups, measures, filters and sort; its columns are its output's."""
    source = values["source"]
    if not all(isinstance(spec, str) for spec in [*group_by, *measures]):
        raise OperationError(N_("Groups and measures are given as text."), "group_by")
    problems = aggregation_problems(source, group_by, measures)
    if problems:
        raise OperationError(
            Message(N_("Summary: %(problems)s."), problems="; ".join(problems)), "group_by"
        )
    filters = values["filters"] or None
    problems = validate_condition(source, filters)
    if problems:
        raise OperationError(
            Message(N_("Filters: %(problems)s."), problems="; ".join(problems)), "filters"
        )
    sort = values["sort"] or []
    problems = sort_problems(group_by, measures, sort)
    if problems:
        raise OperationError(
            Message(N_("Sort: %(problems)s."), problems="; ".join(problems)), "sort"
        )
    return {
        "name": values["name"],
        "description": values["description"],
        "purpose": values["purpose"],
        "source": source,
        "columns": [*group_by, *measures],
        "filters": filters,
        "sort": [[item, "asc"] if isinstance(item, str) else list(item) for item in sort],
        "group_by": group_by,
        "measures": measures,
    }


@operation(
    "create_report",
    args=CreateReportArgs,
    event="report.create",
    description="Save a new report: source, columns, filters and sort.",
)
def create_report(
    session: Session,
    actor: StaffUser,
    *,
    name: str,
    source: str,
    columns: Sequence[str],
    filters: dict[str, Any] | None = None,
    sort: Any = (),
    description: str = "",
    purpose: str = "",
    group_by: Sequence[str] = (),
    measures: Sequence[str] = (),
) -> ReportDefinition:
    """Save a new report definition owned by the actor (a list of rows, or a summary)."""
    values = _clean_definition(
        {
            "name": name,
            "description": description,
            "purpose": purpose,
            "source": source,
            "columns": columns,
            "filters": filters,
            "sort": sort,
            "group_by": list(group_by),
            "measures": list(measures),
        }
    )
    _refuse_unseen(_fields_seen(session, actor), values)
    now = sandbox_now(session)
    report = ReportDefinition(**values, owner_id=actor.id, created_at=now, updated_at=now)
    session.add(report)
    session.flush()
    record_event(
        session,
        actor,
        "report.create",
        "report",
        report.id,
        after=snapshot(report, list(REPORT_FIELDS)),
        details={"report_id": report.id},
    )
    return report


@operation(
    "update_report",
    args=UpdateReportArgs,
    event="report.update",
    description="Change a report you own.",
)
def update_report(
    session: Session, actor: StaffUser, report_id: int, **changes: Any
) -> ReportDefinition:
    """Change a report's name, description, purpose, source, columns, filters or sort."""
    report = _owned_report(session, actor, report_id, "change")
    if not changes:
        raise OperationError(N_("Give at least one part of the report to change."))
    current = {name: getattr(report, name) for name in REPORT_FIELDS}
    if changes.get("group_by") == [] and changes.get("measures") == [] and "columns" not in changes:
        current["columns"] = []  # a summary turned back into a list needs its columns chosen
    values = _clean_definition({**current, **changes})
    _refuse_unseen(_fields_seen(session, actor), values)
    apply_changes(
        session,
        actor,
        report,
        values,
        operation="report.update",
        entity_type="report",
        details={"report_id": report.id},
        unchanged="Nothing to change: the report is already defined this way.",
    )
    return report


@operation(
    "delete_report",
    args=DeleteReportArgs,
    event="report.delete",
    description="Delete a report you own.",
)
def delete_report(session: Session, actor: StaffUser, report_id: int) -> ReportDefinition:
    """Delete a report (kept as evidence, hidden from everyone)."""
    report = _owned_report(session, actor, report_id, "delete")
    report.is_deleted = True
    report.updated_at = sandbox_now(session)
    record_event(
        session,
        actor,
        "report.delete",
        "report",
        report.id,
        before={"is_deleted": False},
        after={"is_deleted": True},
        details={"report_id": report.id},
    )
    return report


# --- sharing ----------------------------------------------------------------------------------


@operation(
    "share_report",
    args=ShareReportArgs,
    event="report.share",
    description="Let a department view (and optionally export) a report you own.",
)
def share_report(
    session: Session,
    actor: StaffUser,
    report_id: int,
    department_code: str,
    can_export: bool = False,
) -> ReportShare:
    """Let a department view the report (and export it if ``can_export``); owner only."""
    report = _owned_report(session, actor, report_id, "share")
    department = get_department(session, department_code)
    share = next((s for s in report.shares if s.department_id == department.id), None)
    if share is not None and share.can_export == can_export:
        if can_export:
            template = N_("The report is already shared with %(department)s (view and export).")
        else:
            template = N_("The report is already shared with %(department)s (view only).")
        raise OperationError(Message(template, department=Message(department.name)))
    before = None if share is None else {"can_export": share.can_export}
    if share is None:
        share = ReportShare(
            report=report,
            department_id=department.id,
            can_export=can_export,
            granted_by_id=actor.id,
            granted_at=sandbox_now(session),
        )
        session.add(share)
    else:
        share.can_export = can_export
        share.granted_by_id = actor.id
        share.granted_at = sandbox_now(session)
    session.flush()
    record_event(
        session,
        actor,
        "report.share",
        "report",
        report.id,
        before=before,
        after={"department": department.code, "can_export": can_export},
        details={
            "report_id": report.id,
            "share_id": share.id,
            "department": department.code,
            "department_id": department.id,
        },
    )
    return share


@operation(
    "unshare_report",
    args=UnshareReportArgs,
    event="report.unshare",
    description="Withdraw a department's access to a report you own.",
)
def unshare_report(
    session: Session, actor: StaffUser, report_id: int, department_code: str
) -> ReportDefinition:
    """Withdraw a department's access to the report; owner only."""
    report = _owned_report(session, actor, report_id, "unshare")
    department = get_department(session, department_code)
    share = next((s for s in report.shares if s.department_id == department.id), None)
    if share is None:
        raise OperationError(
            Message(
                N_("The report is not shared with %(department)s."),
                department=Message(department.name),
            )
        )
    before = {"department": department.code, "can_export": share.can_export}
    share_id = share.id
    report.shares.remove(share)
    session.delete(share)
    session.flush()
    record_event(
        session,
        actor,
        "report.unshare",
        "report",
        report.id,
        before=before,
        after=None,
        details={
            "report_id": report.id,
            "share_id": share_id,
            "department": department.code,
            "department_id": department.id,
        },
    )
    return report


# --- running and exporting --------------------------------------------------------------------


def _csv_value(value: Any, for_spreadsheet: bool) -> str:
    return cell_text(value, for_spreadsheet=for_spreadsheet)


def _stored_cells(rows: Iterable[Sequence[Any]]) -> list[list[str]]:
    """Rows of values as a run's stored output keeps them: text as it is (the common case,
    tested first and inline: a whole-table run has hundreds of thousands), others as text."""
    return [
        [v if type(v) is str else cell_text(v, for_spreadsheet=False) for v in values]
        for values in rows
    ]


def render_csv(
    columns: Sequence[str], rows: Sequence[dict[str, Any]], *, for_spreadsheet: bool = False
) -> str:
    """CSV text: a header of field names, then one line per row.

    ``for_spreadsheet`` (files people download) quotes text that a spreadsheet would read as a
    formula; a run's stored output keeps the values as they are.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row.get(name), for_spreadsheet) for name in columns])
    return buffer.getvalue()


def _store_pages(session: Session, run_id: int, cells: list[list[str]]) -> None:
    """Keep the run's output a page at a time (the cells as its CSV has them), for its view."""
    pages = [
        {"run_id": run_id, "page": n // RUN_PAGE_ROWS + 1, "rows": cells[n : n + RUN_PAGE_ROWS]}
        for n in range(0, len(cells), RUN_PAGE_ROWS)
    ]
    if pages:
        session.execute(insert(ReportRunPage.__table__), pages)


def _execute(session: Session, report: ReportDefinition) -> RowPage:
    """Every row of the report as of the sandbox date (OperationError if it no longer fits)."""
    try:
        return select_rows(
            session,
            report.source,
            where=report.filters,
            columns=list(report.columns),
            sort=report.sort,
            as_of=sandbox_today(session),
        )
    except QueryError as exc:
        raise OperationError(
            Message(N_("The report cannot run: %(problem)s"), problem=str(exc))
        ) from None


def execute_summary(session: Session, report: ReportDefinition) -> SummaryTable:
    """A summary report's groups and measures as of the sandbox date (OperationError if not)."""
    try:
        return summarise(
            session,
            report.source,
            where=report.filters,
            group_by=list(report.group_by),
            measures=list(report.measures),
            sort=report.sort,
            as_of=sandbox_today(session),
        )
    except TooManyGroups as exc:
        raise OperationError(
            Message(
                N_(
                    "The summary makes %(count)d groups; at most %(most)d can be shown. Group by"
                    " fewer or broader fields (a month, quarter or band instead of a value)."
                ),
                count=exc.count,
                most=MAX_GROUPS,
            )
        ) from None
    except QueryError as exc:
        raise OperationError(
            Message(N_("The report cannot run: %(problem)s"), problem=str(exc))
        ) from None


def _run_summary(session: Session, actor: StaffUser, report: ReportDefinition) -> ReportRun:
    """Run a summary report: its groups are the stored rows; no customer's key is kept."""
    table = execute_summary(session, report)
    cells = _stored_cells(table.rows)
    return _save_run(
        session,
        actor,
        report,
        table.columns,
        cells,
        row_count=len(table.rows),
        row_keys=[],
        summary=True,
        rows_summarised=table.source_rows,
    )


def _save_run(
    session: Session,
    actor: StaffUser,
    report: ReportDefinition,
    columns: list[str],
    cells: list[list[Any]],
    *,
    row_count: int,
    row_keys: list[Any],
    **details: Any,
) -> ReportRun:
    """Store a run's output (as CSV and in pages) and record the run event with ``details``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(cells)
    run = ReportRun(
        report_id=report.id,
        run_by_id=actor.id,
        run_at=sandbox_now(session),
        columns=columns,
        row_count=row_count,
        row_keys=row_keys,
        output_csv=buffer.getvalue(),
    )
    session.add(run)
    session.flush()
    _store_pages(session, run.id, cells)
    record_event(
        session,
        actor,
        "report.run",
        "report",
        report.id,
        after={"run_id": run.id, "row_count": run.row_count, "columns": run.columns},
        details={"report_id": report.id, "run_id": run.id, "row_count": run.row_count, **details},
    )
    return run


@operation(
    "run_report",
    args=RunReportArgs,
    event="report.run",
    description=(
        "Run a report and keep a snapshot of its output as your role sees it (masked fields"
        " masked, hidden ones left out)."
    ),
)
def run_report(session: Session, actor: StaffUser, report_id: int) -> ReportRun:
    """Run a report and keep a snapshot of its output (an audited read)."""
    report = _get_report(session, report_id)
    if not can_view_report(session, actor, report):
        raise OperationError(N_("You do not have access to this report."))
    view = _fields_seen(session, actor)
    _refuse_unseen_report(view, report)
    if is_summary(report.group_by, report.measures):
        return _run_summary(session, actor, report)
    page = _execute(session, report)
    columns, rows = _visible_rows(view, page.columns, page.rows)
    cells = _stored_cells([row.get(name) for name in columns] for row in rows)
    return _save_run(
        session,
        actor,
        report,
        columns,
        cells,
        row_count=page.total,
        row_keys=[row[page.key] for row in page.rows],
        **_field_details(view, page.columns),
    )


@operation(
    "export_report",
    args=ExportReportArgs,
    event="report.export",
    description=(
        "Export a report to a file, its fields as your role sees them: purpose, destination,"
        " department, encryption."
    ),
)
def export_report(
    session: Session,
    actor: StaffUser,
    report_id: int,
    *,
    purpose: str = "",
    destination: str,
    for_department: str | None = None,
    encrypted: bool = False,
    file_format: str = "csv",
    headers: str = "labels",
) -> ReportExport:
    """Export the report's output to a file, recording destination, purpose and encryption.

    The file (CSV or XLSX) is in people's terms: the fields' labels as headers (or their codes
    with ``headers="codes"``) and choice values as words. In CSV, text that would start a
    formula is quoted; XLSX cells hold it as text.
    """
    report = _get_report(session, report_id)
    if not can_export_report(session, actor, report):
        raise OperationError(N_("You may not export this report."))
    department = (
        get_department(session, for_department, "for_department")
        if for_department is not None
        else None
    )
    view = _fields_seen(session, actor)
    _refuse_unseen_report(view, report)
    spreadsheet = file_format == "csv"
    summary = is_summary(report.group_by, report.measures)
    row_keys: list[Any] = []
    field_details: dict[str, Any] = {}
    if summary:
        # A summary's file shows its groups and measures and no customer's key; its columns are
        # the fields whose values the file shows, so that the rules on personal data judge what
        # it discloses (see ``revealed_fields``).
        table = execute_summary(session, report)
        columns = revealed_fields(report.source, report.group_by, report.measures)
        row_count = len(table.rows)
        content = render_summary_csv(table, headers=headers, for_spreadsheet=spreadsheet)
    else:
        page = _execute(session, report)
        # The file holds what the exporting role may see: that is what leaves the CRM.
        columns, rows = _visible_rows(view, page.columns, page.rows)
        row_count = page.total
        row_keys = [row[page.key] for row in page.rows]
        field_details = _field_details(view, page.columns)
        content = render_table_csv(
            SOURCES.find(report.source),
            columns,
            rows,
            headers=headers,
            for_spreadsheet=spreadsheet,
        )
    export = ReportExport(
        report_id=report.id,
        exported_by_id=actor.id,
        exported_at=sandbox_now(session),
        file_format=file_format,
        purpose=purpose,
        for_department_id=department.id if department is not None else None,
        destination=destination,
        encrypted=encrypted,
        columns=columns,
        row_count=row_count,
        content=content,
        summary=summary,
    )
    session.add(export)
    session.flush()
    after = snapshot(
        export,
        ["purpose", "destination", "encrypted", "file_format", "columns", "row_count"],
    )
    after.update(headers=headers)
    if summary:
        after.update(summary=True, measures=list(report.measures))
    department_code = department.code if department else None
    after.update(export_id=export.id, for_department=department_code)
    details = {
        "report_id": report.id,
        "export_id": export.id,
        "for_department": department_code,
        "destination_approved": destination in APPROVED_EXPORT_DESTINATIONS,
        "row_keys": row_keys,
        **field_details,
    }
    if summary:
        details["summary"] = True
    record_event(session, actor, "report.export", "report", report.id, after=after, details=details)
    return export


def stored_field_access(
    session: Session, report_id: int, event: Literal["report.run", "report.export"], row_id: int
) -> dict[str, str]:
    """The access each protected column had for the role that made a run or an export (from its
    event); empty for one made before it was recorded, or with no protected column."""
    key = "run_id" if event == "report.run" else "export_id"
    found = session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.operation == event,
            AuditEvent.entity_type == "report",
            AuditEvent.entity_id == report_id,
        )
    )
    for details in found:
        if isinstance(details, dict) and details.get(key) == row_id:
            access = details.get("field_access")
            return dict(access) if isinstance(access, dict) else {}
    return {}


def reports_visible_to(session: Session, actor: StaffUser) -> list[ReportDefinition]:
    """The reports the actor may open (own or shared with their department), last changed first."""
    shared = select(ReportShare.report_id).where(ReportShare.department_id == actor.department_id)
    return list(
        session.scalars(
            select(ReportDefinition)
            .where(
                ReportDefinition.is_deleted.is_(False),
                (ReportDefinition.owner_id == actor.id) | ReportDefinition.id.in_(shared),
            )
            .order_by(ReportDefinition.updated_at.desc(), ReportDefinition.id.desc())
        )
    )
