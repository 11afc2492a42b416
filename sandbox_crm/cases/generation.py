"""Generating service cases for the jewellery profile: a year of repairs, resizings, complaints.

Most cases are closed; the recent ones are still being worked and some of those are past their
SLA. The stage draws from its own random stream, so no other area's data changes.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sandbox_crm.cases.models import (
    SLA_DAYS,
    Acknowledgement,
    AgentTeam,
    CaseChannel,
    CaseKind,
    CaseRule,
    CaseStatus,
    CaseUpdate,
    Priority,
    Resolution,
    ServiceAgent,
    ServiceCase,
)
from sandbox_crm.generator import GenerationRun, Weighted, chance, day_between, derive_seed, moment
from sandbox_crm.models import Profile, StaffUser, Tier

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
    _queue(run, rows, updates)
    run.rows[ServiceCase] = rows
    run.rows[CaseUpdate] = updates
    _agents_and_rules(run, rows)


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


_WORKED = (
    CaseStatus.OPEN.value,
    CaseStatus.IN_PROGRESS.value,
    CaseStatus.WAITING_ON_CUSTOMER.value,
)
_SENIOR_TITLES = ("Customer Service Manager", "Senior CRM Officer")
_QUEUE_KINDS = Weighted(
    [
        (CaseKind.ENQUIRY.value, 400),
        (CaseKind.COMPLAINT.value, 250),
        (CaseKind.REPAIR.value, 150),
        (CaseKind.RESIZING.value, 100),
        (CaseKind.WARRANTY_CLAIM.value, 100),
    ]
)
_QUEUE_STATUSES = (CaseStatus.OPEN.value, CaseStatus.OPEN.value, CaseStatus.IN_PROGRESS.value)


def _queue(run: GenerationRun, rows: list[dict], updates: list[dict]) -> None:
    """This week's open queue: recent cases, about a third unassigned, some past their SLA.

    Drawn from a stream of its own, after the year's cases, so that those do not change.
    """
    rng = random.Random(derive_seed(run.spec.seed, "cases.queue"))  # noqa: S311 - seeded data
    handlers = run.staff_by_dept["customer_service"] or [run.trainee_id]
    last_day = run.today - timedelta(days=1)
    for member in run.members:
        if not chance(rng, 60) or member.row["joined_on"] > last_day - timedelta(days=8):
            continue
        kind = _QUEUE_KINDS.pick(rng)
        opened = moment(rng, run.today - timedelta(days=rng.randint(1, 8)), 9, 20)
        status = rng.choice(_QUEUE_STATUSES)
        handler = None if chance(rng, 350) else rng.choice(handlers)
        if handler is None:
            status = CaseStatus.OPEN.value
        number = len(rows) + 1
        row = {
            "id": number,
            "reference": f"CS-{number:06d}",
            "customer_id": member.row["id"],
            "order_id": None,
            "kind": kind,
            "channel": _CHANNELS.pick(rng),
            "subject": rng.choice(_SUBJECTS[kind]),
            "details": "",
            "status": status,
            "assigned_to_id": handler,
            "opened_at": opened,
            "due_at": opened + timedelta(days=SLA_DAYS[kind]),
            "escalated_at": None,
            "escalated_to_id": None,
            "identity_verified_at": None,
            "follow_up_on": None,
            "resolution": "",
            "resolution_note": "",
            "resolved_at": None,
            "closed_at": None,
        }
        rows.append(row)
        updates.append(_update(len(updates) + 1, row, opened, "open", CaseStatus.OPEN.value))
        if status == CaseStatus.IN_PROGRESS.value:
            replied = opened + timedelta(hours=rng.randint(2, 30))
            reply = _update(len(updates) + 1, row, replied, "reply", status)
            reply["reply"] = "acknowledge_and_investigate"
            updates.append(reply)


def _agents_and_rules(run: GenerationRun, rows: list[dict]) -> None:
    """Customer Service's agents with their capacity, and the two rules set up last year.

    One agent is already at capacity. The rules were switched off pending a review, and with
    reason: they are in the wrong order (the broad desk rule comes first and so would catch the
    VIP complaints the second was written for), and the desk rule acknowledges with the case's
    own text. With no rule active, opening a case works as it always did.
    """
    rng = random.Random(derive_seed(run.spec.seed, "cases.agents"))  # noqa: S311 - seeded data
    staff = {r["id"]: r for r in run.rows[StaffUser]}
    handlers = sorted(run.staff_by_dept["customer_service"])
    if not handlers:
        return
    loads: dict[int, int] = {}
    for row in rows:
        if row["status"] in _WORKED and row["assigned_to_id"] is not None:
            loads[row["assigned_to_id"]] = loads.get(row["assigned_to_id"], 0) + 1
    seniors = [h for h in handlers if staff[h]["title"] in _SENIOR_TITLES] or handlers[:1]
    full = rng.choice([h for h in handlers if h not in seniors] or handlers)
    agents = []
    for staff_id in handlers:
        load = loads.get(staff_id, 0)
        agents.append(
            {
                "id": len(agents) + 1,
                "staff_id": staff_id,
                "team": AgentTeam.SENIOR.value if staff_id in seniors else AgentTeam.GENERAL.value,
                "capacity": max(load, 1) if staff_id == full else load + rng.randint(2, 4),
            }
        )
    run.rows[ServiceAgent] = agents
    manager = next(
        (h for h in handlers if staff[h]["title"] == "Customer Service Manager"), seniors[0]
    )
    created = run.day0 - timedelta(days=200)
    base = {"regions": [], "branch_id": None, "assign_to_id": None, "is_active": False}
    run.rows[CaseRule] = [
        {
            **base,
            "id": 1,
            "name": "Service desk",
            "position": 1,
            "kinds": [],
            "channels": [],
            "tiers": [],
            "assign_team": AgentTeam.GENERAL.value,
            "priority": Priority.NORMAL.value,
            "acknowledgement": Acknowledgement.WITH_CASE_DETAILS.value,
            "escalate_to_id": None,
            "created_at": created,
        },
        {
            **base,
            "id": 2,
            "name": "VIP complaints",
            "position": 2,
            "kinds": [CaseKind.COMPLAINT.value],
            "channels": [],
            "tiers": [Tier.GOLD.value, Tier.PLATINUM.value],
            "assign_team": AgentTeam.SENIOR.value,
            "priority": Priority.URGENT.value,
            "acknowledgement": Acknowledgement.REFERENCE_ONLY.value,
            "escalate_to_id": manager,
            "created_at": created + timedelta(days=1),
        },
    ]
