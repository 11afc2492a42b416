"""Checks on who may see a report: the departments it is shared with and their export right."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import select

from graders.checks.common import DeliverableRef, Params, judged, load_report
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome, counted, listing, message, sentences
from sandbox_crm.i18n import N_
from sandbox_crm.models import Department, ReportShare


class SharedOnlyWithParams(Params):
    """Parameters of access.report_shared_only_with."""

    report: DeliverableRef
    """The deliverable holding the saved report."""
    departments: list[str] = Field(default_factory=list)
    """Department codes the report must be shared with, and no others (empty: with nobody)."""
    export_allowed: bool | None = None
    """If true or false, every share must allow export (or not); omit to ignore export rights."""

    @field_validator("departments")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        """Reject a department listed twice."""
        repeated = sorted({d for d in value if value.count(d) > 1})
        if repeated:
            raise ValueError(f"department(s) listed twice: {', '.join(repeated)}")
        return value


@check("access.report_shared_only_with", params=SharedOnlyWithParams)
def report_shared_only_with(ctx: GradingContext, params: SharedOnlyWithParams) -> Outcome:
    """The report's shares are exactly the given departments (with the given export right)."""
    report = load_report(ctx, params.report)
    if isinstance(report, Outcome):
        return report
    rows = ctx.final.execute(
        select(Department.code, ReportShare.can_export)
        .join(Department, Department.id == ReportShare.department_id)
        .where(ReportShare.report_id == report.id)
        .order_by(Department.code)
    ).all()
    shares = {row.code: bool(row.can_export) for row in rows}
    expected = set(params.departments)
    known = set(ctx.final.scalars(select(Department.code)))
    extra = sorted(set(shares) - expected)
    missing = sorted(expected - set(shares))
    wrong_export = (
        sorted(code for code, can in shares.items() if can != params.export_allowed)
        if params.export_allowed is not None
        else []
    )
    union = expected | set(shares)
    right = [c for c in expected & set(shares) if c not in wrong_export]
    evidence = {
        "report_id": report.id,
        "expected": sorted(expected),
        "shared_with": [{"department": c, "can_export": can} for c, can in shares.items()],
        "extra": extra,
        "missing": missing,
        "wrong_export_right": wrong_export,
        "export_allowed": params.export_allowed,
        "unknown_departments": sorted(expected - known),
    }
    ok = not (extra or missing or wrong_export)
    note = None if ok else _sharing_note(ctx, extra, missing, wrong_export, params.export_allowed)
    return judged(ok, evidence, len(right) / len(union) if union else 1.0, note)


def _sharing_note(
    ctx: GradingContext,
    extra: list[str],
    missing: list[str],
    wrong_export: list[str],
    export_allowed: bool | None,
) -> tuple[str | None, dict[str, Any]]:
    """What is wrong with the shares: departments too many (named: the trainee chose them),
    departments missing (counted) and export rights."""
    names = dict(ctx.final.execute(select(Department.code, Department.name)).all())
    parts = []
    if extra:
        parts.append(
            message(
                N_("The report is shared with department(s) that do not need it: %(departments)s."),
                departments=listing([names.get(c, c) for c in extra], style="comma"),
            )
        )
    if missing:
        parts.append(
            counted(
                len(missing),
                N_("1 department that needs the report cannot open it."),
                N_("%(count)d departments that need the report cannot open it."),
            )
        )
    wrong_export = [code for code in wrong_export if code not in extra]
    if wrong_export:
        if export_allowed:
            template = N_(
                "The export right is not as the task needs: %(departments)s should be able to"
                " export it."
            )
        else:
            template = N_(
                "The export right is not as the task needs: %(departments)s should not export it."
            )
        listed = listing([names.get(c, c) for c in wrong_export], style="comma")
        parts.append(message(template, departments=listed))
    return sentences(*parts)
