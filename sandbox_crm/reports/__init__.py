"""Reports: saved definitions, shares with departments, runs and exports."""

from __future__ import annotations

from sandbox_crm.areas import Area, Stage
from sandbox_crm.reports import generation

AREA = Area(
    name="reports",
    label="Reports",
    modules=("sandbox_crm.reports.generation", "sandbox_crm.reports.deliverables"),
    stages=(Stage("reports.reports", generation.reports, after=("messages.campaigns",)),),
    entity_names={"report": "report_definition"},
    detail_keys={
        "report_id": "report_definition",
        "run_id": "report_run",
        "export_id": "report_export",
        "share_id": "report_share",
    },
    record_pages={
        "report": ("crm.report", "report_id"),
        "report_definition": ("crm.report", "report_id"),
    },
)
