"""Plants for service scenarios: a case of a given kind, age and status, with a known reference.

``service_case`` opens a case for an active customer who bought from the shop (linked to their
latest completed order when ``linked_order`` is set), so that a scenario's brief can name it;
``tier`` picks a customer of that loyalty tier, ``assigned`` false leaves the case unassigned
(in the queue), and ``opted_out`` makes that customer one who withdrew direct-marketing consent
on every channel weeks ago, the situation in which a "quick sales pitch" on a service call
breaks s35G.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.cases.models import (
    SLA_DAYS,
    CaseChannel,
    CaseKind,
    CaseStatus,
    CaseUpdate,
    ServiceCase,
)
from sandbox_crm.models import (
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    SalesOrder,
    StaffUser,
    Tier,
)
from sandbox_crm.plants import PlantResult, PlantRun, _notice_on, plant

DM = ConsentPurpose.DIRECT_MARKETING.value
_CHANNELS = ("email", "sms", "phone", "post")


def _check(params: dict) -> None:
    reference = str(params["reference"])
    if not reference.startswith("CS-9") or len(reference) != 9:
        raise ValueError("reference must look like CS-9xxxxx (planted cases use the 900000s)")


@plant(
    "service_case",
    defaults={
        "reference": "CS-900001",
        "case_kind": "repair",
        "status": "in_progress",
        "channel": "walk_in",
        "days_open": 3,
        "subject": "",
        "details": "",
        "linked_order": True,
        "opted_out": False,
        "tier": "",
        "assigned": True,
    },
    choices={
        "tier": ("", *(t.value for t in Tier)),
        "case_kind": tuple(k.value for k in CaseKind),
        "status": ("open", "in_progress", "waiting_on_customer"),
        "channel": tuple(c.value for c in CaseChannel),
    },
    check=_check,
)
def service_case(session: Session, run: PlantRun) -> PlantResult:
    """A case with a known reference, opened ``days_open`` days ago (past its SLA if longer)."""
    p = run.params
    if run.count != 1:
        raise ValueError("service_case plants one case per reference: count must be 1")
    if session.scalar(select(ServiceCase.id).where(ServiceCase.reference == p["reference"])):
        raise ValueError(f"a case {p['reference']} is already planted")
    buyers = session.scalars(
        select(Customer.id)
        .where(
            Customer.status == CustomerStatus.ACTIVE.value,
            Customer.id.in_(select(SalesOrder.customer_id).where(SalesOrder.status == "completed")),
        )
        .order_by(Customer.id)
    ).all()
    # The customer can be reached on the case's channel: by email for an email case, on a
    # mobile for a chat, by phone otherwise.
    kinds = {"email": ("email",), "chat": ("mobile",)}.get(p["channel"], ("mobile", "phone"))
    phones = set(
        session.scalars(
            select(ContactPoint.customer_id).where(
                ContactPoint.kind.in_(kinds), ContactPoint.is_invalid.is_(False)
            )
        )
    )
    if p["tier"]:
        tiered = set(session.scalars(select(Customer.id).where(Customer.tier == p["tier"])))
        buyers = [cid for cid in buyers if cid in tiered]
    candidates = [cid for cid in buyers if cid not in run.taken and cid in phones]
    chosen = run.pick(candidates, "active customers with a completed order and a phone")
    handler = session.scalar(
        select(StaffUser.id)
        .where(StaffUser.is_active.is_(True), StaffUser.is_trainee.is_(False))
        .order_by(StaffUser.id)
    )
    cid = chosen[0]
    opened = run.day0 - timedelta(days=p["days_open"], hours=-10)
    order_id = None
    if p["linked_order"]:
        order_id = session.scalar(
            select(SalesOrder.id)
            .where(SalesOrder.customer_id == cid, SalesOrder.status == "completed")
            .order_by(SalesOrder.ordered_at.desc(), SalesOrder.id.desc())
            .limit(1)
        )
    highest = session.scalar(select(ServiceCase.id).order_by(ServiceCase.id.desc()).limit(1)) or 0
    case = ServiceCase(
        id=highest + 1,
        reference=p["reference"],
        customer_id=cid,
        order_id=order_id,
        kind=p["case_kind"],
        channel=p["channel"],
        subject=p["subject"] or p["case_kind"].replace("_", " ").capitalize(),
        details=p["details"],
        status=p["status"],
        assigned_to_id=(run.ctx.trainee_id or handler) if p["assigned"] else None,
        opened_at=opened,
        due_at=opened + timedelta(days=SLA_DAYS[p["case_kind"]]),
    )
    session.add(case)
    session.flush()
    session.add(
        CaseUpdate(
            case_id=case.id,
            at=opened,
            by_id=handler,
            action="open",
            status_after=CaseStatus.OPEN.value,
        )
    )
    if p["opted_out"]:
        when = run.moment(run.ctx.today - timedelta(days=60), run.ctx.today - timedelta(days=20))
        for channel in _CHANNELS:
            session.add(
                ConsentRecord(
                    customer_id=cid,
                    purpose=DM,
                    channel=channel,
                    status=ConsentStatus.WITHDRAWN.value,
                    method="written_form",
                    captured_at=when,
                    notice_id=_notice_on(session, when.date()),
                    note="",
                )
            )
        for point in session.scalars(select(ContactPoint).where(ContactPoint.customer_id == cid)):
            point.opted_out = True
    session.flush()
    return PlantResult(chosen, {"case_id": case.id, "reference": case.reference})
