"""The e-shop as a second system, its import into the CRM, and data-quality review.

The e-shop keeps its own customer accounts (``cust_email``, ``mobile_no`` with +852, English
names only, order status codes) and online behaviour. It is generated only when a scenario
plants it (the ``eshop`` plant), so other sandboxes keep their data. A sync proposes CRM
matches with a score and reasons; the trainee merges, links, creates or leaves each account
for review, and every decision is written to the import log. Data-quality rules raise issues
into a review queue; missing details are asked of the customer by a channel they consented to.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink
from sandbox_crm.i18n import N_

AREA = Area(
    name="eshop",
    label=N_("E-shop and data quality"),
    modules=(
        "sandbox_crm.eshop.models",
        "sandbox_crm.eshop.plants",
        "sandbox_crm.eshop.operations",
        "sandbox_crm.eshop.sources",
    ),
    views=("sandbox_crm.eshop.views",),
    has_templates=True,
    nav=(
        NavLink("crm.eshop_accounts", "E-shop import", "note", active=("crm.eshop",)),
        NavLink("crm.quality_issues", "Data quality", "note", active=("crm.quality",)),
    ),
    record_pages={
        "eshop_account": ("crm.eshop_account", "account_id"),
        "quality_issue": ("crm.quality_issue", "issue_id"),
    },
    call_entities={"account_id": "eshop_account", "issue_id": "quality_issue"},
)
