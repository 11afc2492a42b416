"""Marketing automation: campaign plans, rule-based audiences, screening, sends and results.

A campaign is the ``campaign`` row of the messages area; this area adds its plan (budget, the
consent purpose it needs, the audience rule in the query language, exclusions), the audience
built from the rule, the screening of that audience against consent and opt-outs at send time,
the send itself (one promotional message per recipient) and the responses that come back.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.i18n import N_

AREA = Area(
    name="campaigns",
    label=N_("Campaigns"),
    modules=(
        "sandbox_crm.campaigns.models",
        "sandbox_crm.campaigns.generation",
        "sandbox_crm.campaigns.operations",
        "sandbox_crm.campaigns.sources",
        "sandbox_crm.campaigns.plants",
    ),
    views=("sandbox_crm.campaigns.views",),
    has_templates=True,
    nav=(NavLink("crm.campaigns", "Campaigns", "note", active=("crm.campaign",)),),
    stages=(
        Stage(
            "campaigns.history",
            "sandbox_crm.campaigns.generation:history",
            after=("messages.campaigns",),
        ),
    ),
    record_pages={"campaign": ("crm.campaign", "campaign_id")},
    call_entities={"campaign_id": "campaign"},
)
