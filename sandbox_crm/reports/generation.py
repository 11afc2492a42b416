"""Generating the reports colleagues had saved and shared before the attempt."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sandbox_crm.generator import (
    AML_THRESHOLD_HKD,
    GenerationRun,
)
from sandbox_crm.models import (
    Profile,
    ReportDefinition,
    ReportShare,
)
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES


def reports(run: GenerationRun) -> None:
    rng = run.rng
    heads = {code: (ids[0] if ids else run.trainee_id) for code, ids in run.staff_by_dept.items()}
    qualifying = {"field": "status", "op": "in", "value": list(QUALIFYING_ORDER_STATUSES)}
    plans: list[tuple[str, str, str, list[str], Any, list[Any], str, str, list[tuple]]] = [
        (
            "Monthly sales by branch",
            "Sales of the last month per branch, for branch reviews.",
            "orders",
            ["branch", "order_no", "ordered_at", "status", "total_hkd"],
            {
                "all": [
                    qualifying,
                    {"field": "ordered_at", "op": "ge", "value": {"months_ago": 1}},
                ]
            },
            [["branch", "asc"], ["ordered_at", "asc"]],
            "Monthly branch sales review",
            "sales",
            [("sales", True), ("management", True)],
        ),
        (
            "New members this quarter",
            "Members who joined in the last three months.",
            "customers",
            ["member_no", "name_en", "tier", "district", "joined_on", "home_branch"],
            {"field": "joined_on", "op": "ge", "value": {"months_ago": 3}},
            [["joined_on", "desc"]],
            "Welcome programme planning",
            "marketing",
            [("marketing", False), ("store_operations", False)],
        ),
    ]
    if run.profile == Profile.JEWELLERY:
        plans.append(
            (
                "High-value orders (HK$120,000 and above)",
                "Orders at or above the AML threshold, for customer due diligence checks.",
                "orders",
                [
                    "order_no",
                    "ordered_at",
                    "customer_member_no",
                    "total_hkd",
                    "status",
                    "branch",
                ],
                {"field": "total_hkd", "op": "ge", "value": AML_THRESHOLD_HKD},
                [["ordered_at", "desc"]],
                "AML compliance review",
                "finance",
                [("finance", True), ("management", False)],
            )
        )
    else:
        plans.append(
            (
                "Gold and platinum members by branch",
                "VIP members per home branch, for store managers.",
                "customers",
                ["member_no", "name_en", "tier", "home_branch", "spend_12m"],
                {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
                [["home_branch", "asc"], ["spend_12m", "desc"]],
                "VIP service planning",
                "store_operations",
                [("store_operations", False), ("management", False)],
            )
        )
    count = rng.randint(2, 3)
    reports, shares = [], []
    for id_, plan in enumerate(plans[:count], start=1):
        name, description, source, columns, filters, sort, purpose, owner_dept, to = plan
        created = datetime.combine(
            run.today - timedelta(days=rng.randint(120, 700)), time(rng.randint(9, 17), 30)
        )
        updated = created + timedelta(days=rng.randint(0, 90))
        owner = heads[owner_dept]
        reports.append(
            {
                "id": id_,
                "name": name,
                "description": description,
                "source": source,
                "columns": columns,
                "filters": filters,
                "sort": sort,
                "purpose": purpose,
                "owner_id": owner,
                "created_at": created,
                "updated_at": updated,
                "is_deleted": False,
            }
        )
        for dept, can_export in to:
            shares.append(
                {
                    "id": len(shares) + 1,
                    "report_id": id_,
                    "department_id": run.dept_ids[dept],
                    "can_export": can_export,
                    "granted_by_id": owner,
                    "granted_at": created,
                }
            )
    run.rows[ReportDefinition] = reports
    run.rows[ReportShare] = shares
