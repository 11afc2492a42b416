"""Reports: saved definitions, shares with departments, runs and exports."""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.backends.upgrade import add_missing
from sandbox_crm.i18n import N_

GENERATION = "sandbox_crm.reports.generation"

AREA = Area(
    name="reports",
    label=N_("Reports"),
    # 2: report_run_page, a run's output stored a page at a time.
    # 3: summaries (report_definition.group_by and measures, report_export.summary).
    version="3",
    upgrades={
        # A run stored before its pages were kept is read from its CSV.
        "2": add_missing("report_run_page"),
        # Existing reports list rows (no groups, no measures); existing exports are not summaries.
        "3": add_missing("report_definition", "report_export"),
    },
    modules=(
        "sandbox_crm.reports.models",
        "sandbox_crm.reports.generation",
        "sandbox_crm.reports.operations",
        "sandbox_crm.reports.deliverables",
        "sandbox_crm.reports.plants",
    ),
    views=("sandbox_crm.reports.views",),
    has_templates=True,
    nav=(NavLink("crm.reports", "Reports", "chart", active=("crm.report", "crm.export_download")),),
    stages=(
        Stage(
            "reports.reports",
            f"{GENERATION}:reports",
            after=("messages.campaigns",),
        ),
    ),
    entity_names={"report": "report_definition"},
    call_entities={"report_id": "report"},
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
