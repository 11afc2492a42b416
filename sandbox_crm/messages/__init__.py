"""Direct marketing and service messages: campaigns and the messages sent."""

from __future__ import annotations

from sandbox_crm.areas import Area, Stage
from sandbox_crm.i18n import N_

GENERATION = "sandbox_crm.messages.generation"

AREA = Area(
    name="messages",
    label=N_("Messages"),
    modules=(
        "sandbox_crm.messages.models",
        "sandbox_crm.messages.generation",
        "sandbox_crm.messages.operations",
        "sandbox_crm.messages.deliverables",
    ),
    stages=(
        Stage(
            "messages.campaigns",
            f"{GENERATION}:campaigns",
            after=("customers.consent_rows",),
        ),
    ),
    detail_keys={"message_id": "message"},
)
