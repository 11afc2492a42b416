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
    Branch,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    Department,
    OrderLine,
    Product,
    Region,
    SalesOrder,
    StaffUser,
)
from sandbox_crm.plants import PlantResult, PlantRun, _notice_on, plant
from sandbox_crm.sales.management import open_load, period_sales
from sandbox_crm.sales.models import (
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    LeadChannel,
    Opportunity,
    OpportunityStage,
    Salesperson,
    SalesQuota,
    SalesRegion,
)

DM = ConsentPurpose.DIRECT_MARKETING.value

JEWELLERY_PLANTS = frozenset(
    {"engagement_ring_owner", "anniversary_soon", "sales_enquiry", "sales_region_case"}
)
"""These kinds need the jewellery profile: its catalogue (rings, bands) or its sales regions."""
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


# --- sales management --------------------------------------------------------------------------

_NEW_STAFF = (
    ("ivyho", "Ivy Ho Wing Yan", "Store Manager", "store_operations", "store"),
    ("kenlau", "Kenneth Lau Ka Chun", "Key Account Executive", "sales", "office"),
)


def _check_regions(params: dict) -> None:
    names = {r.value for r in Region}
    for key in ("unmanaged_region", "lagging_region"):
        if params[key] not in names:
            raise ValueError(f"{key} must be one of {', '.join(sorted(names))}")


def _new_staff(
    session: Session, run: PlantRun, spec: tuple[str, str, str, str, str], region: str
) -> StaffUser:
    username, name, title, department, kind = spec
    taken = set(session.scalars(select(StaffUser.username)))
    base, n = username, 1
    while username in taken:
        n += 1
        username = f"{base}{n}"
    branches = select(Branch.id).where(Branch.kind == kind).order_by(Branch.id)
    if kind == "store":
        branches = branches.where(Branch.region == region)
    staff = StaffUser(
        username=username,
        full_name=name,
        title=title,
        email=f"{username}@{run.ctx.domain}",
        department_id=session.scalar(select(Department.id).where(Department.code == department)),
        branch_id=session.scalar(branches),
        is_active=True,
    )
    session.add(staff)
    session.flush()
    return staff


def _customers_without_opportunities(session: Session, run: PlantRun) -> list[int]:
    ids = session.scalars(
        select(Customer.id)
        .where(
            Customer.status == CustomerStatus.ACTIVE.value,
            Customer.id.not_in(select(Opportunity.customer_id)),
        )
        .order_by(Customer.id)
    ).all()
    return [cid for cid in ids if cid not in run.taken]


@plant(
    "sales_region_case",
    defaults={"unmanaged_region": "New Territories", "lagging_region": "Kowloon"},
    check=_check_regions,
)
def sales_region_case(session: Session, run: PlantRun) -> PlantResult:
    """One region without a manager, a Store Manager there who may take the post and a
    head-office executive who may not, someone over capacity with room beside them in every
    region, and one region clearly furthest behind its quota this quarter."""
    if run.count != 1:
        raise ValueError("sales_region_case sets up the whole team: count must be 1")
    unmanaged, lagging = run.params["unmanaged_region"], run.params["lagging_region"]
    regions = session.scalars(select(SalesRegion).order_by(SalesRegion.id)).all()
    if not regions:
        raise ValueError("sales_region_case needs the sales regions (a jewellery sandbox)")
    candidate = _new_staff(session, run, _NEW_STAFF[0], unmanaged)
    decoy = _new_staff(session, run, _NEW_STAFF[1], unmanaged)
    session.add(Salesperson(staff_id=candidate.id, region=unmanaged, max_open_opportunities=8))
    session.add(Salesperson(staff_id=decoy.id, region=unmanaged, max_open_opportunities=6))
    session.flush()
    managing = {r.manager_id for r in regions if r.manager_id is not None}
    for sales_region in regions:
        if sales_region.name == unmanaged:
            sales_region.manager_id = None
        elif sales_region.manager_id is None:
            free = session.scalar(
                select(Salesperson.staff_id)
                .where(
                    Salesperson.region == sales_region.name,
                    Salesperson.staff_id.not_in(managing or {0}),
                )
                .order_by(Salesperson.staff_id)
            )
            sales_region.manager_id = free
            managing.add(free)
    customers = _customers_without_opportunities(session, run)
    opened = run.ctx.today - timedelta(days=3)

    def add(owner_id: int, stage: str) -> None:
        if not customers:
            raise ValueError("sales_region_case: no customer left for a planted opportunity")
        highest = session.scalar(select(func.max(Opportunity.id))) or 0
        when = run.moment(opened, opened)
        session.add(
            Opportunity(
                id=highest + 1,
                reference=f"OP-{highest + 1:06d}",
                customer_id=customers.pop(0),
                title="Anniversary gift",
                stage=stage,
                value_hkd=run.rng.randrange(15_000, 60_000, 100),
                products="Diamond earrings",
                owner_id=owner_id,
                expected_close=run.ctx.today + timedelta(days=30),
                source_channel=LeadChannel.STORE.value,
                lost_reason="Price above budget" if stage == OpportunityStage.LOST.value else "",
                suggestion="",
                used_data=[],
                created_at=when,
                updated_at=when,
            )
        )
        session.flush()

    for sales_region in regions:
        team = session.scalars(
            select(Salesperson)
            .where(Salesperson.region == sales_region.name)
            .order_by(Salesperson.staff_id)
        ).all()
        busiest = max(team, key=lambda p: (open_load(session, p.staff_id), -p.staff_id))
        add(busiest.staff_id, OpportunityStage.NEW.value)
        add(busiest.staff_id, OpportunityStage.PROPOSAL.value)
        if sales_region.name == lagging:
            # Closed deals beside the open pipeline: a pipeline report must leave them out.
            add(busiest.staff_id, OpportunityStage.WON.value)
            add(busiest.staff_id, OpportunityStage.LOST.value)
        busiest.max_open_opportunities = max(0, open_load(session, busiest.staff_id) - 2)
        room = sum(
            max(0, p.max_open_opportunities - open_load(session, p.staff_id))
            for p in team
            if p is not busiest
        )
        if room < 2:
            roomiest = next(p for p in team if p is not busiest)
            roomiest.max_open_opportunities += 2 - room
    session.flush()
    _make_lagging(session, run.ctx.today, lagging)
    return PlantResult(
        [candidate.id, decoy.id], {"unmanaged_region": unmanaged, "lagging_region": lagging}
    )


def _make_lagging(session: Session, today: date, lagging: str) -> None:
    """Raise the lagging region's quota this quarter until it is clearly the furthest behind."""
    period = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    quotas = {
        q.region: q
        for q in session.scalars(
            select(SalesQuota).where(SalesQuota.level == "region", SalesQuota.period == period)
        )
    }
    if lagging not in quotas:
        raise ValueError(f"sales_region_case: no {period} quota for {lagging}")
    attained = {
        region: period_sales(
            session, "region", region, None, None, q.period_start, min(q.period_end, today)
        )
        for region, q in quotas.items()
    }

    def pct(region: str) -> float:
        return attained[region] * 100 / quotas[region].target_hkd

    others = min(pct(r) for r in quotas if r != lagging)
    wanted = max(1.0, others * 0.7)
    if pct(lagging) > wanted:
        target = int(attained[lagging] * 100 / wanted)
        quotas[lagging].target_hkd = (target // 10_000 + 1) * 10_000
    session.flush()
