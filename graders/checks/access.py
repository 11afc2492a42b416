"""Checks on who may see a report: the departments it is shared with and their export right."""

from __future__ import annotations

from pydantic import Field, field_validator
from sqlalchemy import select

from graders.checks.common import DeliverableRef, Params, load_report
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
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
    return Outcome.judge(ok, evidence, len(right) / len(union) if union else 1.0)
