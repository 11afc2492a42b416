"""Generating past campaigns' plans, audiences and responses (the jewellery profile only).

The past campaigns and their messages are the messages area's; this stage adds, for each, the
plan it was run under and one sent recipient per message with the response that came back, so
that the report builder has results to analyse. It draws from its own random stream and reads
the messages already made, so no other table changes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm.campaigns.models import CampaignPlan, CampaignRecipient, RecipientStatus, Response
from sandbox_crm.generator import GenerationRun, Rows, Weighted, derive_seed
from sandbox_crm.models import Campaign, Message, Profile

_RESPONSES = Weighted(
    [
        (Response.NONE.value, 440),
        (Response.OPENED.value, 260),
        (Response.CLICKED.value, 170),
        (Response.PURCHASED.value, 130),
    ]
)
_PURCHASES_HKD = (3280, 9800, 12800, 16800, 32800, 62800)


def history(run: GenerationRun) -> None:
    """Each past campaign's plan and its recipients' responses.

    Opt-outs in reply to past campaigns are already in the consent log the customers area made,
    so no past recipient is given that response here.
    """
    if run.profile != Profile.JEWELLERY.value:
        return
    rng = random.Random(derive_seed(run.spec.seed, "campaigns.history"))  # noqa: S311 - seeded test data
    campaigns = list(run.rows.get(Campaign, ()))
    messages = run.rows.get(Message, ())
    if not isinstance(messages, Rows):
        messages = list(messages)  # a one-pass iterable: keep it for the insert too
        run.rows[Message] = messages
    tiers = {plan[0]: plan[4] for plan in data.CAMPAIGNS[run.profile]}
    plans = []
    for campaign in campaigns:
        sent = campaign["sent_at"]
        wanted = tiers.get(campaign["name"], ())
        rule: dict[str, Any] = {"field": "status", "op": "eq", "value": "active"}
        if wanted:
            rule = {"all": [rule, {"field": "tier", "op": "in", "value": list(wanted)}]}
        plans.append(
            {
                "campaign_id": campaign["id"],
                "budget_hkd": rng.choice((5000, 8000, 12000, 20000)),
                "consent_purpose": "direct_marketing",
                "audience_rule": rule,
                "exclusions": [],
                "audience_built_at": sent - timedelta(days=1),
                "screened_at": sent - timedelta(hours=1),
                "results_at": sent + timedelta(days=14),
            }
        )
    run.rows[CampaignPlan] = plans
    # One recipient per message, made when written: each pass replays the stream from here.
    state = rng.getstate()

    def recipients() -> Iterator[tuple[Any, ...]]:
        replay = random.Random()  # noqa: S311 - seeded test data, not security
        replay.setstate(state)
        number = 0
        for message in messages:
            if message["campaign_id"] is None:
                continue
            response = _RESPONSES.pick(replay)
            answered = response != Response.NONE.value
            number += 1
            yield (
                number,
                message["campaign_id"],
                message["customer_id"],
                RecipientStatus.SENT.value,
                "",
                message["id"],
                message["sent_at"] - timedelta(days=1),
                response,
                message["sent_at"] + timedelta(hours=replay.randint(1, 240)) if answered else None,
                replay.choice(_PURCHASES_HKD) if response == Response.PURCHASED.value else 0,
                "",
            )

    run.rows[CampaignRecipient] = Rows(_RECIPIENT_COLUMNS, recipients)


_RECIPIENT_COLUMNS = (
    "id",
    "campaign_id",
    "customer_id",
    "status",
    "reason",
    "message_id",
    "added_at",
    "response",
    "responded_at",
    "converted_hkd",
    "note",
)
