"""Plants for cross-selling scenarios: ring owners, upcoming anniversaries and an enquiry.

``engagement_ring_owner`` gives active members with an email address an engagement ring (and no
wedding bands), with a set direct-marketing status by email and, optionally, a ring size known
only from a repair ticket. ``anniversary_soon`` records a wedding anniversary in the coming weeks,
collected either on a warranty card (for the warranty only) or on the membership form for offers.
``sales_enquiry`` opens a wedding-set enquiry with a known reference for the brief to name.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.models import (
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    OrderLine,
    Product,
    SalesOrder,
    StaffUser,
)
from sandbox_crm.plants import PlantResult, PlantRun, _notice_on, plant
from sandbox_crm.sales.models import (
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    LeadChannel,
    Opportunity,
    OpportunityStage,
)

DM = ConsentPurpose.DIRECT_MARKETING.value

JEWELLERY_PLANTS = frozenset({"engagement_ring_owner", "anniversary_soon", "sales_enquiry"})
"""These kinds need the jewellery catalogue (engagement rings, eternity bands)."""
_CHANNELS = ("email", "sms", "phone", "post")


def _candidates(session: Session, run: PlantRun) -> list[int]:
    """Active customers with a usable email, no rings, watches, pearls or data items yet."""
    owners = (
        select(SalesOrder.customer_id)
        .join(OrderLine, OrderLine.order_id == SalesOrder.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Product.category.in_(("Rings", "Watches", "Pearls")) | Product.name.contains("Pearl")
        )
    )
    emails = select(ContactPoint.customer_id).where(
        ContactPoint.kind == "email",
        ContactPoint.is_invalid.is_(False),
        ContactPoint.opted_out.is_(False),
    )
    recent = select(ConsentRecord.customer_id).where(
        ConsentRecord.captured_at >= run.day0 - timedelta(days=3)
    )
    ids = session.scalars(
        select(Customer.id)
        .where(
            Customer.status == CustomerStatus.ACTIVE.value,
            Customer.id.in_(emails),
            Customer.id.not_in(owners),
            Customer.id.not_in(recent),
            Customer.id.not_in(select(CustomerDataItem.customer_id)),
            Customer.id.not_in(select(Opportunity.customer_id)),
        )
        .order_by(Customer.id)
    ).all()
    return [cid for cid in ids if cid not in run.taken]


def _set_email_consent(session: Session, run: PlantRun, customer_id: int, status: str) -> None:
    """Make ``status`` the customer's current direct-marketing status by email (all channels
    when withdrawn, with the contact points flagged opted out)."""
    when = run.moment(run.ctx.today - timedelta(days=2), run.ctx.today - timedelta(days=1))
    channels = _CHANNELS if status == ConsentStatus.WITHDRAWN.value else ("email",)
    for channel in channels:
        session.add(
            ConsentRecord(
                customer_id=customer_id,
                purpose=DM,
                channel=channel,
                status=status,
                method="online_form",
                captured_at=when,
                notice_id=_notice_on(session, when.date()),
                note="",
            )
        )
    if status == ConsentStatus.WITHDRAWN.value:
        for point in session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id == customer_id)
        ):
            point.opted_out = True


def _add_order(
    session: Session, run: PlantRun, customer_id: int, product: Product, day: date
) -> int:
    order_id = (session.scalar(select(func.max(SalesOrder.id))) or 0) + 1
    staff = session.scalar(
        select(StaffUser.id).where(StaffUser.is_trainee.is_(False)).order_by(StaffUser.id)
    )
    session.add(
        SalesOrder(
            id=order_id,
            order_no=f"SO-{order_id:07d}",
            customer_id=customer_id,
            branch_id=None,
            staff_id=staff,
            channel="store",
            status="completed",
            ordered_at=run.moment(day, day),
            total_hkd=product.price_hkd,
        )
    )
    session.flush()
    session.add(
        OrderLine(
            order_id=order_id,
            product_id=product.id,
            quantity=1,
            unit_price_hkd=product.price_hkd,
            line_total_hkd=product.price_hkd,
        )
    )
    return order_id


def _product(session: Session, like: str) -> Product:
    product = session.scalars(
        select(Product)
        .where(Product.name.contains(like), Product.price_hkd < 120_000)
        .order_by(Product.price_hkd, Product.id)
        .limit(1)
    ).first()
    if product is None:
        raise ValueError(f"the catalogue has no product like {like!r}: use the jewellery profile")
    return product


def _data_item(
    session: Session, customer_id: int, kind: str, value: str, purpose: str, source: str, on: date
) -> None:
    session.add(
        CustomerDataItem(
            customer_id=customer_id,
            kind=kind,
            value=value,
            purpose=purpose,
            source=source,
            collected_on=on,
            recorded_by_id=None,
            opportunity_id=None,
        )
    )


@plant(
    "engagement_ring_owner",
    defaults={"email_consent": "given", "ring_size_from_repair": False},
    choices={"email_consent": ("given", "no_objection", "withdrawn", "not_asked")},
)
def engagement_ring_owner(session: Session, run: PlantRun) -> PlantResult:
    """Members who bought an engagement ring months ago, with a set email marketing status."""
    chosen = run.pick(_candidates(session, run), "active members with an email and no rings")
    ring = _product(session, "Solitaire Ring")
    for cid in chosen:
        bought = run.ctx.today - timedelta(days=run.rng.randint(60, 300))
        _add_order(session, run, cid, ring, bought)
        _set_email_consent(session, run, cid, run.params["email_consent"])
        if run.params["ring_size_from_repair"]:
            _data_item(
                session,
                cid,
                DataKind.RING_SIZE.value,
                str(run.rng.randint(9, 18)),
                DataPurpose.REPAIR.value,
                DataSource.REPAIR_TICKET.value,
                bought + timedelta(days=30),
            )
    return PlantResult(chosen)


@plant(
    "anniversary_soon",
    defaults={"collected_for": "warranty_registration", "within_days": 40},
    choices={"collected_for": ("warranty_registration", "marketing")},
)
def anniversary_soon(session: Session, run: PlantRun) -> PlantResult:
    """Members whose wedding anniversary falls within the coming weeks, and how it was collected."""
    if not 5 <= run.params["within_days"] <= 55:
        raise ValueError("anniversary_soon: within_days must be between 5 and 55")
    chosen = run.pick(_candidates(session, run), "active members with an email and no rings")
    warranty = run.params["collected_for"] == DataPurpose.WARRANTY_REGISTRATION.value
    for cid in chosen:
        upcoming = run.ctx.today + timedelta(days=run.rng.randint(5, run.params["within_days"]))
        years = run.rng.randint(2, 15)
        married = date(upcoming.year - years, upcoming.month, min(upcoming.day, 28))
        on = run.ctx.today - timedelta(days=run.rng.randint(90, 400))
        if warranty:
            _add_order(session, run, cid, _product(session, "Eternity Band"), on)
        _data_item(
            session,
            cid,
            DataKind.ANNIVERSARY_DATE.value,
            married.isoformat(),
            run.params["collected_for"],
            DataSource.WARRANTY_CARD.value if warranty else DataSource.MEMBERSHIP_FORM.value,
            on,
        )
        _set_email_consent(session, run, cid, ConsentStatus.GIVEN.value)
    return PlantResult(chosen)


def _check_reference(params: dict) -> None:
    reference = str(params["reference"])
    if not reference.startswith("OP-9") or len(reference) != 9:
        raise ValueError("reference must look like OP-9xxxxx (planted enquiries use the 900000s)")


@plant(
    "sales_enquiry",
    defaults={"reference": "OP-900001", "title": "Wedding set enquiry", "old_ring_size": True},
    check=_check_reference,
)
def sales_enquiry(session: Session, run: PlantRun) -> PlantResult:
    """An open wedding-set enquiry owned by the trainee; the customer's old ring size is known
    only from a repair ticket."""
    if run.count != 1:
        raise ValueError("sales_enquiry plants one enquiry per reference: count must be 1")
    reference = run.params["reference"]
    if session.scalar(select(Opportunity.id).where(Opportunity.reference == reference)):
        raise ValueError(f"an opportunity {reference} is already planted")
    chosen = run.pick(_candidates(session, run), "active members with an email and no rings")
    cid = chosen[0]
    opened = run.moment(run.ctx.today - timedelta(days=10), run.ctx.today - timedelta(days=4))
    highest = session.scalar(select(func.max(Opportunity.id))) or 0
    session.add(
        Opportunity(
            id=highest + 1,
            reference=reference,
            customer_id=cid,
            title=run.params["title"],
            stage=OpportunityStage.QUALIFIED.value,
            value_hkd=68_000,
            products="Wedding bands, 999.9 gold wedding bangles",
            owner_id=run.ctx.trainee_id or None,
            expected_close=run.ctx.today + timedelta(days=45),
            source_channel=LeadChannel.STORE.value,
            lost_reason="",
            suggestion="",
            used_data=[],
            created_at=opened,
            updated_at=opened,
        )
    )
    if run.params["old_ring_size"]:
        _data_item(
            session,
            cid,
            DataKind.RING_SIZE.value,
            str(run.rng.randint(9, 18)),
            DataPurpose.REPAIR.value,
            DataSource.REPAIR_TICKET.value,
            run.ctx.today - timedelta(days=run.rng.randint(200, 500)),
        )
    session.flush()
    return PlantResult(chosen, {"reference": reference})
