"""Checks on report exports: made for the right department, with a purpose, safely."""

from __future__ import annotations

from typing import Any

from graders.checks.common import DeliverableRef, Params, department_codes, load_report
from graders.context import GradingContext
from graders.pdpo.base import PURPOSE_MIN_LENGTH, holds_personal_data, purpose_problem
from graders.registry import check
from graders.results import Outcome, fill, listing, message
from sandbox_crm.i18n import N_
from sandbox_crm.models import APPROVED_EXPORT_DESTINATIONS, ReportExport


class ExportMadeParams(Params):
    """Parameters of export.made."""

    report: DeliverableRef
    """The deliverable holding the saved report that must be exported."""
    for_department: str | None = None
    """Department code the export must be made for; omit to accept any. Every export of this
    report must be made for it."""
    require_purpose: bool = True
    """Every export of personal data must record a purpose (at least 10 characters)."""
    approved_destination: bool = True
    """Every export of personal data must go to an approved internal destination."""
    encrypted: bool = True
    """Every exported file of personal data must be encrypted."""


def _problems(
    export: ReportExport, params: ExportMadeParams, department: str | None, own: bool
) -> list[dict[str, Any]]:
    """What is wrong with one export under the check's rules (the department: own report only),
    each as a marked message."""
    problems = []
    if own and params.for_department is not None and department != params.for_department:
        if department:
            problems.append(message(N_("made for %(department)s"), department=department))
        else:
            problems.append(message(N_("made for no department")))
    if params.require_purpose:
        purpose = (export.purpose or "").strip()
        if not purpose:
            problems.append(message(N_("no purpose recorded")))
        elif purpose_problem(purpose):
            problems.append(
                message(
                    N_("purpose %(purpose)s is too vague (under %(minimum)d characters)"),
                    purpose=repr(purpose),
                    minimum=PURPOSE_MIN_LENGTH,
                )
            )
    if params.approved_destination and export.destination not in APPROVED_EXPORT_DESTINATIONS:
        problems.append(
            message(
                N_("destination %(destination)s is not approved"), destination=export.destination
            )
        )
    if params.encrypted and not export.encrypted:
        problems.append(message(N_("not encrypted")))
    return problems


@check("export.made", params=ExportMadeParams)
def export_made(ctx: GradingContext, params: ExportMadeParams) -> Outcome:
    """The report was exported as required, and no export of personal data broke the rules.

    Every export made in the attempt is judged, not the best one: the check passes when at
    least one export of the report meets every condition and no export of personal data (of
    this report or any other) breaks the conditions the parameters state. The department
    applies to exports of this report; purpose, destination and encryption to every file of
    personal data. The evidence lists every export with what is wrong with it.
    """
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    exports = ctx.added(ReportExport)
    codes = department_codes(ctx.final, (e.for_department_id for e in exports))
    conditions = 1 + int(params.require_purpose) + int(params.approved_destination)
    conditions += int(params.encrypted)
    judged: list[dict[str, Any]] = []
    wrongs: dict[int, list[dict[str, Any]]] = {}
    best = 0.0
    for export in exports:
        own = export.report_id == report.id
        department = codes.get(export.for_department_id) if export.for_department_id else None
        wrong = _problems(export, params, department, own)
        problems = [fill(m["template"], m["values"]) for m in wrong]
        wrongs[export.id] = wrong
        if own:
            best = max(best, (conditions - len(problems)) / conditions)
        judged.append(
            {
                "export_id": export.id,
                "report_id": export.report_id,
                "of_this_report": own,
                "personal_data": holds_personal_data(export),
                "for_department": department,
                "destination": export.destination,
                "encrypted": bool(export.encrypted),
                "purpose": export.purpose,
                "row_count": export.row_count,
                "problems": problems,
            }
        )
    right = [e["export_id"] for e in judged if e["of_this_report"] and not e["problems"]]
    bad = [e for e in judged if e["problems"] and (e["personal_data"] or e["of_this_report"])]
    evidence = {
        "report_id": report.id,
        "exports": judged,
        "export_count": sum(1 for e in judged if e["of_this_report"]),
        "right_exports": right,
        "bad_exports": [e["export_id"] for e in bad],
        "for_department": params.for_department,
    }
    if not any(e["of_this_report"] for e in judged):
        return Outcome.failed(evidence, note=N_("The report was not exported."))
    if right and not bad:
        return Outcome.passed(evidence)
    note, values = None, {}
    if bad:
        listed = listing(
            [
                message(
                    N_("export #%(export)s: %(problems)s"),
                    export=e["export_id"],
                    problems=listing(wrongs[e["export_id"]], style="comma"),
                )
                for e in bad
            ],
            style="semicolon",
        )
        if len(bad) == 1:
            note = N_("1 export broke the rules for exported files (%(listed)s).")
        else:
            note = N_("%(count)d exports broke the rules for exported files (%(listed)s).")
        values = {"count": len(bad), "listed": listed}
    return Outcome.failed(evidence, score=0.5 if right else best, note=note, note_values=values)
