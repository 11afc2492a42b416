"""Generating the activity log for the jewellery profile: the contact that opened each case.

Each generated case was opened by a call, a visit, a chat or an e-mail, logged by the member of
staff who took it. The stage draws from its own random stream, so no other area's data changes.
"""

from __future__ import annotations

import random

from sandbox_crm.activities.models import Activity, ActivityKind, ActivityPurpose, Outcome
from sandbox_crm.cases.models import ServiceCase
from sandbox_crm.generator import GenerationRun, derive_seed
from sandbox_crm.models import Profile

_KIND_OF_CHANNEL = {
    "phone": ActivityKind.CALL_INBOUND.value,
    "email": ActivityKind.EMAIL.value,
    "chat": ActivityKind.CHAT.value,
    "walk_in": ActivityKind.VISIT.value,
}


def activities(run: GenerationRun) -> None:
    """One logged contact per generated case that came in by phone, e-mail, chat or in person."""
    if run.profile != Profile.JEWELLERY.value:
        return
    rng = random.Random(derive_seed(run.spec.seed, "activities"))  # noqa: S311 - seeded test data
    cases = list(run.rows.get(ServiceCase, ()))
    run.rows[ServiceCase] = cases
    rows = []
    for case in cases:
        kind = _KIND_OF_CHANNEL.get(case["channel"])
        if kind is None:
            continue
        closed = case["closed_at"] is not None
        rows.append(
            {
                "id": len(rows) + 1,
                "customer_id": case["customer_id"],
                "case_id": case["id"],
                "kind": kind,
                "purpose": ActivityPurpose.SERVICE.value,
                "at": case["opened_at"],
                "by_id": case["assigned_to_id"],
                "summary": case["subject"],
                "outcome": (
                    Outcome.RESOLVED.value
                    if closed and rng.random() < 0.3
                    else Outcome.FOLLOW_UP_NEEDED.value
                ),
                "next_step": "" if closed else "Update the customer when the work is done.",
                "next_step_on": None,
                "opt_out_screen": "",
            }
        )
    run.rows[Activity] = rows
