"""Direct marketing and service messages: campaigns and the messages sent."""

from __future__ import annotations

from sandbox_crm.areas import Area, Stage
from sandbox_crm.messages import generation

AREA = Area(
    name="messages",
    label="Messages",
    modules=(
        "sandbox_crm.messages.generation",
        "sandbox_crm.messages.operations",
        "sandbox_crm.messages.deliverables",
    ),
    stages=(Stage("messages.campaigns", generation.campaigns, after=("customers.consent_rows",)),),
    detail_keys={"message_id": "message"},
)
