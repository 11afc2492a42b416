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
from sandbox_crm.models import OrderLine, Product, Profile, SalesOrder
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
    TaskStatus,
)

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
