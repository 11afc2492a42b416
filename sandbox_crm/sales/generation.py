"""Generating the sales area for the jewellery profile: data items, opportunities, follow-ups.

Warranty cards and repair tickets give the shop anniversary dates and ring sizes, collected for
those purposes only; some members told a salesperson their ring size during an enquiry, or
gave their anniversary on the membership form for offers. Opportunities (a wedding set, an
anniversary gift ...) sit at every stage, with a follow-up task for most open ones, some of them
overdue. The stage draws from its own random stream, so no other area's data changes, and a
retail sandbox gets the tables empty.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sandbox_crm.generator import GenerationRun, Weighted, chance, derive_seed, moment, reusable
from sandbox_crm.models import Branch, OrderLine, Product, Profile, Region, SalesOrder, StaffUser
from sandbox_crm.sales.management import period_dates
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    FollowUpTask,
    LeadChannel,
    Opportunity,
    OpportunityStage,
    QuotaLevel,
    Salesperson,
    SalesQuota,
    SalesRegion,
    TaskStatus,
)
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES

_OPPORTUNITY_PER_THOUSAND = 60
_STAGES = Weighted(
    [
        (OpportunityStage.NEW.value, 20),
        (OpportunityStage.QUALIFIED.value, 20),
        (OpportunityStage.PROPOSAL.value, 15),
        (OpportunityStage.WON.value, 25),
        (OpportunityStage.LOST.value, 20),
    ]
)
_CHANNELS = Weighted(
    [
        (LeadChannel.STORE.value, 50),
        (LeadChannel.PHONE.value, 20),
        (LeadChannel.ESHOP.value, 15),
        (LeadChannel.EVENT.value, 10),
        (LeadChannel.REFERRAL.value, 5),
    ]
)
# (title, products of interest, value range in HK$)
_ENQUIRIES: tuple[tuple[str, str, int, int], ...] = (
    ("Wedding set enquiry", "Wedding bands, gold wedding bangles", 40_000, 180_000),
    ("Engagement ring enquiry", "Diamond solitaire ring", 16_000, 140_000),
    ("Anniversary gift", "Diamond earrings", 15_000, 60_000),
    ("Jade bangle for a mother's birthday", "Jadeite bangle", 20_000, 80_000),
    ("Watch upgrade", "Swiss automatic watch", 24_000, 140_000),
    ("Custom pendant design", "Custom piece", 8_000, 40_000),
    ("Pearl set for a graduation", "Akoya pearl set", 8_000, 30_000),
)
_LOST_REASONS = (
    "Bought elsewhere",
    "Price above budget",
    "Wedding postponed",
    "No reply after the proposal",
)
_FOLLOW_UPS = (
    "Call back with the quotation",
    "Send photos of the design",
    "Invite to view the pieces in the shop",
    "Confirm the ring size before ordering",
)
_RING_SIZES = tuple(str(n) for n in range(8, 23))


def _is_ring(product: dict[str, Any]) -> bool:
    return product["category"] == "Rings"


def sales(run: GenerationRun) -> None:
    """Customer data items from warranty cards, repairs and enquiries; opportunities; tasks."""
    if run.profile != Profile.JEWELLERY.value:
        return
    rng = random.Random(derive_seed(run.spec.seed, "sales"))  # noqa: S311 - seeded test data
    products = {p["id"]: p for p in run.rows.get(Product, ())}
    # The orders and lines are streamed (made afresh from their columns): only the completed
    # orders' customer and day are kept, not the rows.
    orders = run.rows[SalesOrder] = reusable(run.rows.get(SalesOrder, ()))
    lines = run.rows[OrderLine] = reusable(run.rows.get(OrderLine, ()))
    completed = {
        order["id"]: (order["customer_id"], order["ordered_at"].date())
        for order in orders
        if order["status"] == "completed"
    }
    ring_buyers: dict[int, date] = {}
    for line in lines:
        sold = completed.get(line["order_id"])
        product = products.get(line["product_id"])
        if sold is None or product is None:
            continue
        if _is_ring(product):
            ring_buyers.setdefault(*sold)
    del completed
    sellers = run.staff_by_dept.get("sales") or run.staff_by_dept["store_operations"]
    items: list[dict[str, Any]] = []

    def item(customer_id: int, kind: str, value: str, purpose: str, source: str, on: date) -> None:
        items.append(
            {
                "id": len(items) + 1,
                "customer_id": customer_id,
                "kind": kind,
                "value": value,
                "purpose": purpose,
                "source": source,
                "collected_on": on,
                "recorded_by_id": rng.choice(sellers),
                "opportunity_id": None,
            }
        )

    for customer_id, bought in sorted(ring_buyers.items()):
        if chance(rng, 350):
            married = date(bought.year - rng.randint(1, 20), rng.randint(1, 12), rng.randint(1, 28))
            item(
                customer_id,
                DataKind.ANNIVERSARY_DATE.value,
                married.isoformat(),
                DataPurpose.WARRANTY_REGISTRATION.value,
                DataSource.WARRANTY_CARD.value,
                bought,
            )
        if chance(rng, 200):
            repaired = min(bought + timedelta(days=rng.randint(30, 300)), run.today)
            item(
                customer_id,
                DataKind.RING_SIZE.value,
                rng.choice(_RING_SIZES),
                DataPurpose.REPAIR.value,
                DataSource.REPAIR_TICKET.value,
                repaired,
            )
    for member in run.members:
        row = member.row
        if row["status"] != "active":
            continue
        if chance(rng, 30):
            married = date(
                run.today.year - rng.randint(1, 25), rng.randint(1, 12), rng.randint(1, 28)
            )
            item(
                row["id"],
                DataKind.ANNIVERSARY_DATE.value,
                married.isoformat(),
                DataPurpose.MARKETING.value,
                DataSource.MEMBERSHIP_FORM.value,
                max(row["joined_on"], run.today - timedelta(days=500)),
            )
    opportunities: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for member in run.members:
        row = member.row
        if row["status"] != "active" or not chance(rng, _OPPORTUNITY_PER_THOUSAND):
            continue
        title, interest, low, high = rng.choice(_ENQUIRIES)
        stage = _STAGES.pick(rng)
        opened = run.today - timedelta(days=rng.randint(3, 200))
        opened = max(opened, row["joined_on"])
        created = moment(rng, opened)
        owner = rng.choice(sellers)
        closes = opened + timedelta(days=rng.randint(14, 120))
        oid = len(opportunities) + 1
        opportunities.append(
            {
                "id": oid,
                "reference": f"OP-{oid:06d}",
                "customer_id": row["id"],
                "title": title,
                "stage": stage,
                "value_hkd": rng.randrange(low, high, 100),
                "products": interest,
                "owner_id": owner,
                "expected_close": closes,
                "source_channel": _CHANNELS.pick(rng),
                "lost_reason": rng.choice(_LOST_REASONS) if stage == "lost" else "",
                "suggestion": "",
                "used_data": [],
                "created_at": created,
                "updated_at": created,
            }
        )
        if stage in OPEN_STAGES or chance(rng, 300):
            due = opened + timedelta(days=rng.randint(2, 45))
            done = stage not in OPEN_STAGES or (due < run.today and chance(rng, 500))
            tasks.append(
                {
                    "id": len(tasks) + 1,
                    "opportunity_id": oid,
                    "customer_id": row["id"],
                    "subject": rng.choice(_FOLLOW_UPS),
                    "due_on": due,
                    "owner_id": owner,
                    "status": TaskStatus.DONE.value if done else TaskStatus.OPEN.value,
                    "done_at": moment(rng, min(due, run.today - timedelta(days=1)))
                    if done
                    else None,
                    "created_at": created,
                }
            )
    run.rows[CustomerDataItem] = items
    run.rows[Opportunity] = opportunities
    run.rows[FollowUpTask] = tasks


def _quarter(day: date, back: int = 0) -> str:
    """The quarter ``back`` quarters before the one ``day`` is in, as "2026-Q4"."""
    index = day.year * 4 + (day.month - 1) // 3 - back
    return f"{index // 4}-Q{index % 4 + 1}"


def _round_target(amount: float) -> int:
    """A quota as a sales office writes it: to the nearest HK$10,000, at least HK$10,000."""
    return max(10_000, int(round(amount / 10_000)) * 10_000)


def management(run: GenerationRun) -> None:
    """Sales regions and managers (one region left without), salespeople with their capacity
    (some over it), and quarterly quotas for regions and shops from last year's orders."""
    if run.profile != Profile.JEWELLERY.value:
        return
    rng = random.Random(derive_seed(run.spec.seed, "sales.management"))  # noqa: S311
    regions = [r.value for r in Region]
    branches = list(run.rows.get(Branch, ()))
    region_of_branch = {b["id"]: b["region"] for b in branches}
    stores = [b for b in branches if b["kind"] == "store"]
    staff = list(run.rows.get(StaffUser, ()))
    by_id = {s["id"]: s for s in staff}
    sellers = list(run.staff_by_dept.get("sales", ()))
    area = [
        s["id"]
        for s in staff
        if s["id"] in run.staff_by_dept.get("store_operations", ())
        and s["branch_id"] in region_of_branch
        and any(b["id"] == s["branch_id"] for b in stores)
    ]
    managers_pool = [
        i for i in run.staff_by_dept.get("store_operations", ()) if i not in area
    ] + sellers[:1]
    # Head-office sales staff take a territory each in turn; shop staff sell in their shop's.
    territory: dict[int, str] = {}
    for n, staff_id in enumerate(sellers):
        territory[staff_id] = regions[n % len(regions)]
    for staff_id in area:
        territory[staff_id] = region_of_branch[by_id[staff_id]["branch_id"]]
    unmanaged = rng.choice(regions)
    manager_of: dict[str, int | None] = dict.fromkeys(regions)
    candidates = [r for r in regions if r != unmanaged]
    for region, staff_id in zip(candidates, managers_pool, strict=False):
        manager_of[region] = staff_id
        territory[staff_id] = region
    run.rows[SalesRegion] = [
        {"id": n, "name": region, "manager_id": manager_of[region]}
        for n, region in enumerate(regions, start=1)
    ]
    load: dict[int, int] = {}
    for opportunity in run.rows.get(Opportunity, ()):
        if opportunity["stage"] in OPEN_STAGES and opportunity["owner_id"] is not None:
            load[opportunity["owner_id"]] = load.get(opportunity["owner_id"], 0) + 1
    busiest = max(load.values(), default=0)
    base = max(3, busiest)
    capacity = {i: base + rng.randint(0, 3) for i in territory}
    # Some salespeople hold more than they can work: their region has the room to take it.
    over = 0
    for staff_id in sorted(territory, key=lambda i: (-load.get(i, 0), i)):
        mine = load.get(staff_id, 0)
        if mine < 2 or over >= 2:
            continue
        cut = rng.randint(1, min(3, mine - 1))
        room = sum(
            capacity[j] - load.get(j, 0)
            for j in territory
            if j != staff_id and territory[j] == territory[staff_id]
        )
        if room >= cut:
            capacity[staff_id] = mine - cut
            over += 1
    run.rows[Salesperson] = [
        {
            "id": n,
            "staff_id": staff_id,
            "region": territory[staff_id],
            "max_open_opportunities": capacity[staff_id],
        }
        for n, staff_id in enumerate(sorted(territory), start=1)
    ]
    # What each region and shop sold per quarter: the history quotas are set from.
    sold: dict[tuple[str, str | int], int] = {}
    orders = run.rows[SalesOrder] = reusable(run.rows.get(SalesOrder, ()))
    for order in orders:
        branch_id = order["branch_id"]
        if order["status"] not in QUALIFYING_ORDER_STATUSES or branch_id not in region_of_branch:
            continue
        quarter = _quarter(order["ordered_at"].date())
        for key in ((region_of_branch[branch_id], quarter), (branch_id, quarter)):
            sold[key] = sold.get(key, 0) + order["total_hkd"]
    director = (run.staff_by_dept.get("management") or sellers or [None])[0]
    quotas: list[dict[str, Any]] = []
    for back in range(4, -1, -1):
        period = _quarter(run.today, back)
        start, end = period_dates(period)
        year_before = _quarter(run.today, back + 4)
        targets: list[tuple[str, str, int | None]] = [(r, r, None) for r in regions]
        targets += [(b["region"], b["id"], b["id"]) for b in stores]
        for region, key, branch_id in targets:
            basis = sold.get((key, year_before)) or sold.get((key, period), 0)
            growth = 1.05 + rng.randint(0, 10) / 100
            quotas.append(
                {
                    "id": len(quotas) + 1,
                    "level": (QuotaLevel.REGION if branch_id is None else QuotaLevel.BRANCH).value,
                    "region": region,
                    "branch_id": branch_id,
                    "staff_id": None,
                    "period": period,
                    "period_start": start,
                    "period_end": end,
                    "target_hkd": _round_target(basis * growth),
                    "set_by_id": director,
                    "set_at": moment(rng, start - timedelta(days=rng.randint(5, 20))),
                }
            )
    run.rows[SalesQuota] = quotas
