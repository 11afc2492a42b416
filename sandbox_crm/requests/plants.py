"""Planting data subject requests: an access or correction request of a known reference and age.

``data_request`` logs a request from an active customer who has bought from the company,
received ``days_ago`` days before the sandbox's today. ``other_name`` (with ``other_mobile``)
mixes a second person into the requester's record: the spouse becomes a member too, and a note
on the requester's record names them and their mobile, so that a copy of the notes holds another
person's data unless it is redacted. ``disclosures`` and ``old_disclosures`` record to whom the
requester's data were given in the last 12 months and before, for a correction to be passed on.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.hk_provider import member_number
from sandbox_crm.models import (
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    SalesOrder,
    Tier,
)
from sandbox_crm.plants import PlantResult, PlantRun, _notice_on, plant
from sandbox_crm.requests.models import (
    CORRECTABLE_FIELDS,
    DataDisclosure,
    DataRequest,
    RequestChannel,
    RequestForm,
    RequestKind,
    due_date,
)

RECIPIENTS = (
    ("Swift Courier Ltd", "delivery of online orders", "name, mobile, address"),
    ("Harbour Insurance Co Ltd", "insurance of jewellery purchases", "name, mobile, e-mail"),
    ("Kowloon Repair Workshop", "collection of repaired items", "name, mobile"),
)
"""Outside recipients of customers' data, with why and what they received."""


def _check(params: dict) -> None:
    reference = str(params["reference"])
    if not reference.startswith("DR-9") or len(reference) != 9:
        raise ValueError("reference must look like DR-9xxxxx (planted requests use the 900000s)")
    if not 0 <= int(params["days_ago"]) <= 60:
        raise ValueError("days_ago must be between 0 and 60")
    mobile = str(params["other_mobile"])
    if params["other_name"] and not (len(mobile) == 8 and mobile.isdigit()):
        raise ValueError("other_mobile must be an 8-digit number")
    correction = params["request_kind"] == RequestKind.CORRECTION.value
    if correction and params["correction_field"] not in CORRECTABLE_FIELDS:
        raise ValueError(f"correction_field must be one of {', '.join(CORRECTABLE_FIELDS)}")
    if correction and not str(params["correction_value"]).strip():
        raise ValueError("a correction request needs its correction_value")
    if int(params["disclosures"]) + int(params["old_disclosures"]) > len(RECIPIENTS):
        raise ValueError(f"at most {len(RECIPIENTS)} disclosures in all")


def _spouse(session: Session, run: PlantRun, requester: Customer) -> Customer:
    """The second person: a member too, with the planted name and mobile."""
    new_id = (session.scalar(select(func.max(Customer.id))) or 0) + 1
    joined = run.moment(requester.joined_on, run.ctx.today - timedelta(days=30))
    spouse = Customer(
        id=new_id,
        member_no=member_number(new_id),
        name_en=run.params["other_name"],
        district=requester.district,
        region=requester.region,
        tier=Tier.CLASSIC.value,
        status=CustomerStatus.ACTIVE.value,
        preferred_language=requester.preferred_language,
        joined_on=joined.date(),
        home_branch_id=requester.home_branch_id,
        collection_notice_id=_notice_on(session, joined.date()),
        notes="",
        created_at=joined,
        updated_at=joined,
    )
    session.add(spouse)
    session.flush()
    session.add(ContactPoint(customer_id=new_id, kind="mobile", value=run.params["other_mobile"]))
    for channel in ("email", "sms", "phone", "post"):
        session.add(
            ConsentRecord(
                customer_id=new_id,
                purpose=ConsentPurpose.DIRECT_MARKETING.value,
                channel=channel,
                status=ConsentStatus.NOT_ASKED.value,
                method="written_form",
                captured_at=joined,
                notice_id=spouse.collection_notice_id,
                recorded_by_id=None,
                note="",
            )
        )
    return spouse


@plant(
    "data_request",
    defaults={
        "reference": "DR-900001",
        "request_kind": "access",
        "days_ago": 10,
        "channel": "email",
        "form_used": "pcpd_form",
        "details": "",
        "other_name": "",
        "other_mobile": "",
        "correction_field": "",
        "correction_value": "",
        "disclosures": 0,
        "old_disclosures": 0,
    },
    choices={
        "request_kind": tuple(k.value for k in RequestKind),
        "channel": tuple(c.value for c in RequestChannel),
        "form_used": tuple(f.value for f in RequestForm),
    },
    check=_check,
)
def data_request(session: Session, run: PlantRun) -> PlantResult:
    """A request with a known reference received ``days_ago`` days ago, not yet worked."""
    p = run.params
    if run.count != 1:
        raise ValueError("data_request plants one request per reference: count must be 1")
    if session.scalar(select(DataRequest.id).where(DataRequest.reference == p["reference"])):
        raise ValueError(f"a request {p['reference']} is already planted")
    buyers = set(session.scalars(select(SalesOrder.customer_id)))
    mobiles = set(
        session.scalars(select(ContactPoint.customer_id).where(ContactPoint.kind == "mobile"))
    )
    candidates = [
        cid
        for cid in session.scalars(
            select(Customer.id)
            .where(Customer.status == CustomerStatus.ACTIVE.value)
            .order_by(Customer.id)
        )
        if cid in buyers and cid in mobiles and cid not in run.taken
    ]
    cid = run.pick(candidates, "active customers who bought and have a mobile")[0]
    requester = session.get_one(Customer, cid)
    received = run.ctx.today - timedelta(days=p["days_ago"])
    details: dict = {"entity": "data_request", "reference": p["reference"], "customer_id": cid}
    if p["other_name"]:
        spouse = _spouse(session, run, requester)
        when = run.moment(received - timedelta(days=200), received - timedelta(days=20))
        mobile = f"{p['other_mobile'][:4]} {p['other_mobile'][4:]}"
        line = (
            f"{when.date().isoformat()}: joint purchase with spouse {p['other_name']} "
            f"(mobile {mobile}), who collects the pieces and pays by his own card."
        )
        requester.notes = f"{requester.notes}\n{line}" if requester.notes else line
        details["other_customer_id"] = spouse.id
    for index in range(int(p["disclosures"]) + int(p["old_disclosures"])):
        recipient, purpose, items = RECIPIENTS[index]
        if index < int(p["disclosures"]):
            day = run.moment(received - timedelta(days=300), received - timedelta(days=5))
        else:
            day = run.moment(received - timedelta(days=600), received - timedelta(days=420))
        session.add(
            DataDisclosure(
                customer_id=cid,
                recipient=recipient,
                purpose=purpose,
                data_items=items,
                disclosed_on=day.date(),
            )
        )
    highest = session.scalar(select(func.max(DataRequest.id))) or 0
    found = DataRequest(
        id=highest + 1,
        reference=p["reference"],
        kind=p["request_kind"],
        customer_id=cid,
        requester_name=requester.name_en,
        channel=p["channel"],
        form_used=p["form_used"],
        received_on=received,
        due_on=due_date(received),
        details=p["details"],
        correction_field=p["correction_field"],
        correction_value=str(p["correction_value"]).strip(),
        logged_by_id=None,
        logged_at=run.moment(received, received),
    )
    session.add(found)
    session.flush()
    return PlantResult([found.id], details)
