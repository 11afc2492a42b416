"""Generating service cases for the jewellery profile: a year of repairs, resizings, complaints.

Most cases are closed; the recent ones are still being worked and some of those are past their
SLA. The stage draws from its own random stream, so no other area's data changes.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sandbox_crm.cases.models import (
    SLA_DAYS,
    CaseChannel,
    CaseKind,
    CaseStatus,
    CaseUpdate,
    Resolution,
    ServiceCase,
)
from sandbox_crm.generator import GenerationRun, Weighted, chance, day_between, derive_seed, moment
from sandbox_crm.models import Profile

_KINDS = Weighted(
    [
        (CaseKind.REPAIR.value, 300),
        (CaseKind.RESIZING.value, 220),
        (CaseKind.ENQUIRY.value, 250),
        (CaseKind.COMPLAINT.value, 120),
        (CaseKind.WARRANTY_CLAIM.value, 100),
        (CaseKind.DATA_ACCESS_REQUEST.value, 10),
    ]
)
_CHANNELS = Weighted(
    [
        (CaseChannel.WALK_IN.value, 400),
        (CaseChannel.PHONE.value, 250),
        (CaseChannel.EMAIL.value, 180),
        (CaseChannel.CHAT.value, 140),
        (CaseChannel.REVIEW.value, 30),
    ]
)
_SUBJECTS = {
    CaseKind.REPAIR.value: ("Broken necklace clasp", "Loose prong on ring", "Watch stopped"),
    CaseKind.RESIZING.value: (
        "Resize wedding band",
        "Shorten bracelet",
        "Enlarge ring by two sizes",
    ),
    CaseKind.ENQUIRY.value: ("Gold price today", "Certificate copy", "Opening hours at the border"),
    CaseKind.COMPLAINT.value: (
        "Scratched box on delivery",
        "Long queue at the counter",
        "Pearl colour",
    ),
    CaseKind.WARRANTY_CLAIM.value: ("Watch runs slow", "Plating worn on pendant"),
    CaseKind.DATA_ACCESS_REQUEST.value: ("Copy of my personal data",),
}
_RESOLUTIONS = {
    CaseKind.REPAIR.value: Resolution.REPAIRED.value,
    CaseKind.RESIZING.value: Resolution.RESIZED.value,
    CaseKind.ENQUIRY.value: Resolution.ANSWERED.value,
    CaseKind.COMPLAINT.value: Resolution.EXCHANGED.value,
    CaseKind.WARRANTY_CLAIM.value: Resolution.REPAIRED.value,
    CaseKind.DATA_ACCESS_REQUEST.value: Resolution.COPY_PROVIDED.value,
}
_OPEN = (
    CaseStatus.OPEN.value,
    CaseStatus.IN_PROGRESS.value,
    CaseStatus.IN_PROGRESS.value,
    CaseStatus.WAITING_ON_CUSTOMER.value,
)
_CASE_DAYS = 365


def cases(run: GenerationRun) -> None:
    """About one jewellery member in eight has had a case in the past year."""
    if run.profile != Profile.JEWELLERY.value:
        return
    rng = random.Random(derive_seed(run.spec.seed, "cases"))  # noqa: S311 - seeded test data
    handlers = run.staff_by_dept["customer_service"] or [run.trainee_id]
    first_day = run.today - timedelta(days=_CASE_DAYS)
    last_day = run.today - timedelta(days=1)
    rows: list[dict] = []
    updates: list[dict] = []
    for member in run.members:
        if not chance(rng, 125) or member.row["joined_on"] > last_day:
            continue
        kind = _KINDS.pick(rng)
        opened = moment(rng, day_between(rng, max(first_day, member.row["joined_on"]), last_day))
        due = opened + timedelta(days=SLA_DAYS[kind])
        age = (run.day0 - opened).days
        # An access request still open is within its 40 days: the template holds no breach of
        # s19(1) that a trainee would be blamed for.
        window = (
            SLA_DAYS[kind] if kind == CaseKind.DATA_ACCESS_REQUEST.value else SLA_DAYS[kind] * 2
        )
        still_open = age < window and chance(rng, 450)
        handler = rng.choice(handlers)
        row = {
            "id": len(rows) + 1,
            "reference": f"CS-{len(rows) + 1:06d}",
            "customer_id": member.row["id"],
            "order_id": None,
            "kind": kind,
            "channel": _CHANNELS.pick(rng),
            "subject": rng.choice(_SUBJECTS[kind]),
            "details": "",
            "status": rng.choice(_OPEN) if still_open else CaseStatus.CLOSED.value,
            "assigned_to_id": handler,
            "opened_at": opened,
            "due_at": due,
            "escalated_at": None,
            "escalated_to_id": None,
            "identity_verified_at": (
                opened + timedelta(days=1)
                if kind == CaseKind.DATA_ACCESS_REQUEST.value and not still_open
                else None
            ),
            "follow_up_on": None,
            "resolution": "" if still_open else _RESOLUTIONS[kind],
            "resolution_note": "" if still_open else "Done as agreed with the customer.",
            "resolved_at": None,
            "closed_at": None,
        }
        if not still_open:
            closed = min(opened + timedelta(days=rng.randint(0, SLA_DAYS[kind])), run.day0)
            row["resolved_at"] = row["closed_at"] = closed
        rows.append(row)
        updates.append(_update(len(updates) + 1, row, opened, "open", CaseStatus.OPEN.value))
        if row["closed_at"] is not None:
            updates.append(
                _update(len(updates) + 1, row, row["closed_at"], "close", CaseStatus.CLOSED.value)
            )
    run.rows[ServiceCase] = rows
    run.rows[CaseUpdate] = updates


def _update(number: int, case: dict, at: object, action: str, status: str) -> dict:
    return {
        "id": number,
        "case_id": case["id"],
        "at": at,
        "by_id": case["assigned_to_id"],
        "action": action,
        "status_after": status,
        "reply": "",
        "note": "",
    }
