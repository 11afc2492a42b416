"""Reports a trainee may hand in: a saved report definition, or one export of a report."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.deliverables import deliverable_kind
from sandbox_crm.models import ReportDefinition, ReportExport


@deliverable_kind(
    "saved_report",
    entity_type="report_definition",
    plural="saved reports",
    describe=lambda report: report.name,
)
def own_reports(session: Session, staff_id: int) -> Sequence[ReportDefinition]:
    """The staff member's own reports that are not deleted, newest first."""
    return session.scalars(
        select(ReportDefinition)
        .where(ReportDefinition.owner_id == staff_id, ReportDefinition.is_deleted.is_(False))
        .order_by(ReportDefinition.id.desc())
    ).all()


@deliverable_kind(
    "export",
    entity_type="report_export",
    plural="exports",
    describe=lambda e: f"Export #{e.id} of {e.report.name} ({e.exported_at:%d %b %Y %H:%M})",
)
def own_exports(session: Session, staff_id: int) -> Sequence[ReportExport]:
    """The exports the staff member made, newest first."""
    return session.scalars(
        select(ReportExport)
        .where(ReportExport.exported_by_id == staff_id)
        .order_by(ReportExport.id.desc())
    ).all()
