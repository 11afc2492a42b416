"""Collaborative and telephone service: the activity log and hand-offs to other departments.

The log holds calls (inbound, outbound), chats, e-mails and visits with their outcome and next
step, linked to a customer and optionally a case. A marketing call goes through the call
script's opt-out check. Hand-offs are tasks and notes to Sales, Marketing, Promotion, Planning
and Human Resources that record which customer fields they share. Generated for the
``jewellery`` profile only.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.i18n import N_

AREA = Area(
    name="activities",
    label=N_("Activities and hand-offs"),
    modules=(
        "sandbox_crm.activities.models",
        "sandbox_crm.activities.generation",
        "sandbox_crm.activities.operations",
        "sandbox_crm.activities.sources",
    ),
    views=("sandbox_crm.activities.views",),
    has_templates=True,
    nav=(
        NavLink("crm.activities", "Activities", "note", active=("crm.activit",)),
        NavLink("crm.handoffs", "Hand-offs", "note", active=("crm.handoff",)),
    ),
    stages=(
        Stage(
            "activities.activities",
            "sandbox_crm.activities.generation:activities",
            after=("cases.cases",),
        ),
    ),
)
