"""Sales automation: opportunities, cross-selling suggestions and follow-up tasks.

Opportunities (a wedding-set enquiry, say) move through new, qualified, proposal, won or lost;
cross-selling suggestions are computed from what customers own and show the data each one
uses and the purpose that data was collected for; follow-up tasks have a due date and an owner.
Customer data given for a purpose (a ring size for a repair, an anniversary on a warranty card)
is recorded with its source and purpose. Generated for the ``jewellery`` profile only.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.backends.upgrade import add_missing
from sandbox_crm.i18n import N_

AREA = Area(
    name="sales",
    label=N_("Sales automation"),
    version="2",
    # 2: sales regions, salespeople's capacity and quotas.
    upgrades={"2": add_missing("sales_region", "salesperson", "sales_quota")},
    modules=(
        "sandbox_crm.sales.models",
        "sandbox_crm.sales.generation",
        "sandbox_crm.sales.operations",
        "sandbox_crm.sales.management",
        "sandbox_crm.sales.sources",
        "sandbox_crm.sales.plants",
    ),
    views=("sandbox_crm.sales.views",),
    has_templates=True,
    nav=(
        NavLink("crm.opportunities", "Opportunities", "note", active=("crm.opportunit",)),
        NavLink("crm.cross_selling", "Cross-selling", "note", active=("crm.cross_selling",)),
        NavLink("crm.follow_ups", "Follow-ups", "note", active=("crm.follow_up",)),
        NavLink("crm.purpose_data", "Data by purpose", "note", active=("crm.purpose_data",)),
        NavLink(
            "crm.sales_regions", "Sales regions and quotas", "note", active=("crm.sales_region",)
        ),
        NavLink("crm.sales_team", "Team capacity", "note", active=("crm.sales_team",)),
    ),
    stages=(
        Stage(
            "sales.sales",
            "sandbox_crm.sales.generation:sales",
            after=("jewellery.seasonal_orders", "company.staff", "customers.customers"),
        ),
        Stage(
            "sales.management",
            "sandbox_crm.sales.generation:management",
            after=("sales.sales", "orders.status_history", "jewellery.branches"),
        ),
    ),
    record_pages={"opportunity": ("crm.opportunity", "opportunity_id")},
    call_entities={"opportunity_id": "opportunity", "task_id": "follow_up_task"},
    detail_keys={
        "opportunity_id": "opportunity",
        "task_id": "follow_up_task",
        "customer_data_item_id": "customer_data_item",
    },
)
