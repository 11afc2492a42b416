"""Planted situations: realistic defects injected into a generated sandbox for a scenario.

Each kind is a function registered with ``@plant("kind", defaults=...)``; registering a kind
twice is an error. The kinds below are the built-in ones, in this order; an area may add more.
A plant runs after the base generation with its own seeded random stream (from the spec's seed
and the kind), changes the data through the session, and returns the ids it affected: customer
ids, except ``dormant_admin`` which returns staff user ids. The generator stores them in the
meta key ``plants`` (kind -> ids) as hidden ground truth for graders, and any extra facts in
``plant_details`` (kind -> dict).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from sandbox_crm.areas import area_modules
from sandbox_crm.catalogue_data import AML_THRESHOLD_HKD, CHANNEL_CONTACT_KINDS
from sandbox_crm.consent import CURRENT_FIRST, latest_per_customer
from sandbox_crm.hk_provider import REGIONS, make_faker, member_number
from sandbox_crm.models import (
    Channel,
    CollectionNotice,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerStatus,
    Message,
    OrderLine,
    OrderStatus,
    Product,
    SalesOrder,
    SourceSystem,
    StaffUser,
    Tier,
)
from sandbox_crm.registry import Registry
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES, spend_window

__all__ = [
    "PLANTS",
    "PlantContext",
    "PlantResult",
    "apply_plants",
    "known_plant_kinds",
    "looks_like_email",
    "malform_email",
    "plant",
    "validate_plant",
]

_EMAIL_RE = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")


@dataclass(frozen=True)
class PlantContext:
    """What a plant needs besides the session: the spec's seed, the sandbox date and company."""

    seed: int
    today: date
    profile: str
    trainee_id: int
    domain: str


@dataclass
class PlantResult:
    """Ids a plant affected, and extra ground truth (e.g. duplicate -> original)."""

    ids: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


PlantFunc = Callable[[Session, "PlantRun"], PlantResult]


@dataclass(frozen=True)
class _Entry:
    kind: str
    func: PlantFunc
    defaults: Mapping[str, Any]
    choices: Mapping[str, tuple[Any, ...]]
    doc: str
    check: Callable[[Mapping[str, Any]], None] | None = None


PLANTS: Registry[_Entry] = Registry(
    "plant kind", lambda: ("sandbox_crm.plants", *area_modules()), autoload=True
)
"""The plant kinds: those below, and any an enabled area's module registers."""


def plant(
    kind: str,
    *,
    defaults: Mapping[str, Any] | None = None,
    choices: Mapping[str, tuple[Any, ...]] | None = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
) -> Callable[[PlantFunc], PlantFunc]:
    """Register a plant function under ``kind``; a kind registered twice is an error.

    ``check`` receives the parameters (defaults filled in) and raises ValueError for values that
    the defaults' types and ``choices`` cannot describe.
    """

    def register(func: PlantFunc) -> PlantFunc:
        doc = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        PLANTS.add(kind, _Entry(kind, func, dict(defaults or {}), dict(choices or {}), doc, check))
        return func

    return register


def known_plant_kinds() -> tuple[str, ...]:
    """The registered plant kinds, in registration order."""
    return tuple(PLANTS.in_order())


def _entry(kind: str) -> _Entry:
    entry = PLANTS.find(kind)
    if entry is None:
        known = ", ".join(known_plant_kinds())
        raise ValueError(f"unknown plant kind {kind!r}; known kinds: {known}")
    return entry


def validate_plant(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check a plant's kind and parameters; return the parameters with defaults filled in."""
    entry = _entry(kind)
    unknown = sorted(set(params) - set(entry.defaults))
    if unknown:
        allowed = ", ".join(entry.defaults) or "none"
        raise ValueError(f"plant {kind!r}: unknown parameter(s) {unknown}; allowed: {allowed}")
    merged = {**entry.defaults, **params}
    for name, value in merged.items():
        default = entry.defaults[name]
        allowed_values = entry.choices.get(name)
        if isinstance(default, list):
            if not isinstance(value, list | tuple) or not value:
                raise ValueError(f"plant {kind!r}: {name} must be a non-empty list")
            values = list(value)
        else:
            values = [value]
        for item in values:
            if allowed_values is not None and item not in allowed_values:
                shown = ", ".join(str(v) for v in allowed_values)
                raise ValueError(f"plant {kind!r}: {name}={item!r} is not one of: {shown}")
            if isinstance(default, int) and not isinstance(default, bool):
                if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                    raise ValueError(f"plant {kind!r}: {name} must be a whole number >= 0")
            if isinstance(default, bool) and not isinstance(item, bool):
                raise ValueError(f"plant {kind!r}: {name} must be true or false")
        merged[name] = list(values) if isinstance(default, list) else value
    if entry.check is not None:
        try:
            entry.check(merged)
        except ValueError as exc:
            raise ValueError(f"plant {kind!r}: {exc}") from None
    return merged


@dataclass
class PlantRun:
    """One application of a plant: its context, count, parameters and seeded random streams."""

    ctx: PlantContext
    kind: str
    count: int
    params: dict[str, Any]
    index: int
    taken: frozenset[int] = frozenset()
    """Customers that earlier plants of the same sandbox already changed."""

    def __post_init__(self) -> None:
        label = f"{self.ctx.seed}:plant:{self.kind}:{self.index}"
        seed = int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big")
        self.rng = random.Random(seed)  # noqa: S311 - seeded test data, not security
        self.fake = make_faker(seed)

    @property
    def day0(self) -> datetime:
        """Midnight at the start of the sandbox's today: everything planted happens before it."""
        return datetime.combine(self.ctx.today, time())

    def pick(self, candidates: Sequence[int], what: str) -> list[int]:
        """``count`` of the candidate ids (sorted); ValueError if there are too few."""
        if len(candidates) < self.count:
            raise ValueError(
                f"plant {self.kind!r}: needs {self.count} {what} but the sandbox has only "
                f"{len(candidates)}; lower the count or enlarge the sandbox"
            )
        return sorted(self.rng.sample(list(candidates), self.count))

    def moment(self, first: date, last: date) -> datetime:
        """A time during opening hours on a day between first and last (inclusive)."""
        span = max(0, (last - first).days)
        day = first + timedelta(days=self.rng.randint(0, span))
        clock = time(self.rng.randint(10, 21), self.rng.randrange(60), self.rng.randrange(60))
        return datetime.combine(day, clock)


def apply_plants(
    session: Session, ctx: PlantContext, plants: Sequence[tuple[str, int, Mapping[str, Any]]]
) -> dict[str, PlantResult]:
    """Apply the plants in order; returns kind -> result (repeated kinds are merged).

    A kind's ids are sorted within each plant and follow the order of the plants, so that
    ``$plant:KIND:N`` in a scenario's steps names the same planted situation in every variant.
    """
    results: dict[str, PlantResult] = {}
    taken: set[int] = set()
    for index, (kind, count, params) in enumerate(plants):
        entry = _entry(kind)
        run = PlantRun(ctx, kind, count, validate_plant(kind, params), index, frozenset(taken))
        result = entry.func(session, run) if count else PlantResult()
        session.flush()
        if result.details.get("entity", "customer") == "customer":
            taken.update(result.ids)
        merged = results.setdefault(kind, PlantResult())
        merged.ids.extend(result.ids)
        merged.details.update(result.details)
    return results


# --- helpers shared with the generator --------------------------------------------------------


def looks_like_email(value: str) -> bool:
    """Whether a value is a well-formed email address (a plain syntactic check)."""
    return bool(_EMAIL_RE.fullmatch(value))


def malform_email(rng: random.Random, email: str) -> str:
    """A realistic typing or capture error in an email address, e.g. "chan.km@gmail"."""
    local, _, domain = email.partition("@")
    host = domain.split(".")[0]
    return rng.choice(
        (
            f"{local}@{host}",  # chan.km@gmail
            f"{local}@@{domain}",
            f"{local}{domain}",  # the @ was lost
            f"{local} @{domain}",
            f"{local}@{domain}.",
            f"{local}@{domain.replace('.', ' ', 1)}",
        )
    )


def _notice_on(session: Session, day: date) -> int | None:
    return session.scalar(
        select(CollectionNotice.id)
        .where(CollectionNotice.effective_from <= day)
        .order_by(CollectionNotice.effective_from.desc(), CollectionNotice.id.desc())
        .limit(1)
    )


def _latest_dm(session: Session, channel: str, among: Any = None) -> dict[int, ConsentRecord]:
    """Each customer's current direct-marketing consent record on ``channel``.

    ``among`` (a select of customer ids) reads only those customers' records.
    """
    if among is None:
        return latest_per_customer(session, ConsentPurpose.DIRECT_MARKETING.value, channel)
    records = session.scalars(
        select(ConsentRecord)
        .where(
            ConsentRecord.customer_id.in_(among),
            ConsentRecord.purpose == ConsentPurpose.DIRECT_MARKETING.value,
            ConsentRecord.channel == channel,
        )
        .order_by(ConsentRecord.customer_id, ConsentRecord.captured_at, ConsentRecord.id)
    )
    return {record.customer_id: record for record in records}


def _usable_contacts(session: Session, kind: str, among: Any = None) -> dict[int, ContactPoint]:
    """Primary contact points of ``kind`` that are not flagged invalid or opted out.

    ``among`` (a select of customer ids) reads only those customers' contact points.
    """
    stmt = select(ContactPoint).where(
        ContactPoint.kind == kind,
        ContactPoint.is_primary.is_(True),
        ContactPoint.is_invalid.is_(False),
        ContactPoint.opted_out.is_(False),
    )
    if among is not None:
        stmt = stmt.where(ContactPoint.customer_id.in_(among))
    points = session.scalars(stmt.order_by(ContactPoint.id))
    return {p.customer_id: p for p in points}


def _usable_contact(kind: str) -> Any:
    """SQL: the value of the customer's usable primary contact point of ``kind`` (last by id)."""
    return (
        select(ContactPoint.value)
        .where(
            ContactPoint.customer_id == Customer.id,
            ContactPoint.kind == kind,
            ContactPoint.is_primary.is_(True),
            ContactPoint.is_invalid.is_(False),
            ContactPoint.opted_out.is_(False),
        )
        .order_by(ContactPoint.id.desc())
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )


def _record_in_force(channel: str) -> Any:
    """SQL: the id of the customer's direct-marketing consent record in force on ``channel``."""
    return (
        select(ConsentRecord.id)
        .where(
            ConsentRecord.customer_id == Customer.id,
            ConsentRecord.purpose == ConsentPurpose.DIRECT_MARKETING.value,
            ConsentRecord.channel == channel,
        )
        .order_by(*CURRENT_FIRST)
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )


# --- the plants -------------------------------------------------------------------------------

_TIERS = tuple(t.value for t in Tier)
_CHANNELS = tuple(c.value for c in Channel)


@plant(
    "opted_out_in_segment",
    defaults={
        "tiers": ["gold", "platinum"],
        "region": None,
        "channel": "email",
        "spend_days": 365,
        "min_spend_hkd": 1,
    },
    choices={"tiers": _TIERS, "region": (None, *REGIONS), "channel": _CHANNELS},
)
def opted_out_in_segment(session: Session, run: PlantRun) -> PlantResult:
    """Recent spenders in a tier/region segment who have just opted out on one channel."""
    p, today = run.params, run.ctx.today
    channel = p["channel"]
    since = datetime.combine(today - timedelta(days=p["spend_days"] - 1), time())
    spend = (
        select(SalesOrder.customer_id, func.sum(SalesOrder.total_hkd).label("spend"))
        .where(
            SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES),
            SalesOrder.ordered_at >= since,
            SalesOrder.ordered_at < run.day0,
        )
        .group_by(SalesOrder.customer_id)
        .subquery()
    )
    query = (
        select(Customer.id)
        .join(spend, spend.c.customer_id == Customer.id)
        .where(
            Customer.status == CustomerStatus.ACTIVE.value,
            Customer.tier.in_(p["tiers"]),
            spend.c.spend >= p["min_spend_hkd"],
        )
        .order_by(Customer.id)
    )
    if p["region"] is not None:
        query = query.where(Customer.region == p["region"])
    kinds = CHANNEL_CONTACT_KINDS[channel]
    # Each member's usable contact point and consent record in force, looked up through their
    # indexes in the same pass over the segment.
    members = query.add_columns(
        _usable_contact(kinds[0]).label("contact"), _record_in_force(channel).label("record_id")
    ).subquery()
    rows = session.connection().execute(
        select(
            members.c.id,
            members.c.contact,
            ConsentRecord.status,
            ConsentRecord.method,
            ConsentRecord.captured_at,
            ConsentRecord.confirmed_in_writing_at,
        )
        .select_from(members)
        .join(ConsentRecord, ConsentRecord.id == members.c.record_id)
        .order_by(members.c.id)
    )
    cutoff = run.day0 - timedelta(days=3)
    latest: dict[int, datetime] = {}
    candidates = []
    for cid, contact, status, record_method, captured_at, confirmed in rows:
        latest[cid] = captured_at
        if contact is None or status != ConsentStatus.GIVEN:
            continue
        if record_method == "oral" and confirmed is None:
            continue
        if captured_at < cutoff:
            candidates.append(cid)
    chosen = run.pick(candidates, f"{'/'.join(p['tiers'])} customers with {channel} consent")
    method = "unsubscribe_link" if channel == Channel.EMAIL else "written_form"
    for cid in chosen:
        last = latest[cid].date() + timedelta(days=1)
        first = max(last, today - timedelta(days=45))
        when = run.moment(first, today - timedelta(days=1))
        session.add(
            ConsentRecord(
                customer_id=cid,
                purpose=ConsentPurpose.DIRECT_MARKETING.value,
                channel=channel,
                status=ConsentStatus.WITHDRAWN.value,
                method=method,
                captured_at=when,
                notice_id=_notice_on(session, when.date()),
                recorded_by_id=None,
                confirmed_in_writing_at=None,
                note="",
            )
        )
        for point in session.scalars(
            select(ContactPoint).where(
                ContactPoint.customer_id == cid, ContactPoint.kind.in_(kinds)
            )
        ):
            point.opted_out = True
        customer = session.get_one(Customer, cid)
        customer.updated_at = max(customer.updated_at, when)
    return PlantResult(chosen, {"channel": channel})


_HKID_NOTES = (
    "Customer showed HKID {hkid} for warranty claim.",
    "Verified identity with HKID card {hkid} before changing the mobile number.",
    "Gift redemption: HKID {hkid} checked at counter.",
    "Repair collected; ID shown {hkid}.",
    "Customer asked us to note HKID {hkid} for future reference.",
)


@plant("hkid_in_notes")
def hkid_in_notes(session: Session, run: PlantRun) -> PlantResult:
    """A valid HKID number typed into the free-text notes."""
    candidates = (
        session.connection()
        .execute(select(Customer.id).where(Customer.hkid.is_(None)).order_by(Customer.id))
        .scalars()
        .all()
    )
    chosen = run.pick(candidates, "customers")
    for cid in chosen:
        customer = session.get_one(Customer, cid)
        note = run.rng.choice(_HKID_NOTES).format(hkid=run.fake.hkid())
        customer.notes = f"{customer.notes} {note}".strip()
        when = run.moment(customer.joined_on, run.ctx.today - timedelta(days=1))
        customer.updated_at = max(customer.updated_at, when)
    return PlantResult(chosen)


@plant("hkid_on_member", defaults={"form": "mixed"}, choices={"form": ("mixed", "full", "partial")})
def hkid_on_member(session: Session, run: PlantRun) -> PlantResult:
    """A full or partial HKID stored on a membership-only customer, with no recorded basis."""
    big_buyers = select(SalesOrder.customer_id).where(SalesOrder.total_hkd >= AML_THRESHOLD_HKD)
    candidates = list(
        session.scalars(
            select(Customer.id)
            .where(Customer.hkid.is_(None), Customer.id.not_in(big_buyers))
            .order_by(Customer.id)
        )
    )
    chosen = run.pick(candidates, "membership-only customers")
    forms: dict[str, str] = {}
    for cid in chosen:
        form = run.params["form"]
        if form == "mixed":
            form = run.rng.choice(("full", "partial"))
        hkid = run.fake.hkid()
        if form == "partial":
            # The letters and the first digits, as membership forms used to ask for.
            letters = len(hkid) - len(hkid.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            hkid = hkid[: letters + 3]
        customer = session.get_one(Customer, cid)
        customer.hkid = hkid
        customer.hkid_basis = None
        forms[str(cid)] = form
    return PlantResult(chosen, {"form": forms})


@plant("invalid_email", defaults={"flagged": False})
def invalid_email(session: Session, run: PlantRun) -> PlantResult:
    """Malformed email addresses; unflagged by default (waiting to be found)."""
    points = _usable_contacts(session, "email")
    # Not addresses that past campaigns reached: the error was made when the data was captured.
    emailed = set(session.scalars(select(Message.customer_id).where(Message.channel == "email")))
    candidates = [
        cid for cid, p in points.items() if looks_like_email(p.value) and cid not in emailed
    ]
    chosen = run.pick(candidates, "customers with a valid email")
    for cid in chosen:
        point = points[cid]
        point.value = malform_email(run.rng, point.value)
        point.is_invalid = bool(run.params["flagged"])
    return PlantResult(chosen)


def _name_variant(rng: random.Random, name: str) -> str:
    parts = name.split()
    return rng.choice(
        (
            name,
            name.upper(),
            " ".join(parts[1:]) if len(parts) > 3 else name.upper(),  # English name left out
            "  ".join(parts),
        )
    )


@plant("duplicate_customer")
def duplicate_customer(session: Session, run: PlantRun) -> PlantResult:
    """A second record for an existing customer: same name and mobile, new member number."""
    mobiles = _usable_contacts(session, "mobile")
    candidates = list(
        session.scalars(
            select(Customer.id)
            .where(Customer.status == CustomerStatus.ACTIVE.value)
            .order_by(Customer.id)
        )
    )
    candidates = [cid for cid in candidates if cid in mobiles]
    originals = run.pick(candidates, "active customers with a mobile number")
    next_id = (session.scalar(select(func.max(Customer.id))) or 0) + 1
    last_day = run.ctx.today - timedelta(days=1)
    created_ids, pairs = [], {}
    for offset, oid in enumerate(originals):
        original = session.get_one(Customer, oid)
        new_id = next_id + offset
        first = min(original.joined_on + timedelta(days=30), last_day)
        created = run.moment(first, last_day)
        source = (
            SourceSystem.ESHOP.value
            if original.source_system != SourceSystem.ESHOP
            else SourceSystem.POS.value
        )
        duplicate = Customer(
            id=new_id,
            member_no=member_number(new_id),
            source_system=source,
            name_en=_name_variant(run.rng, original.name_en),
            name_zh=original.name_zh,
            gender=original.gender,
            birth_month=original.birth_month,
            district=original.district,
            region=original.region,
            tier=Tier.CLASSIC.value,
            status=CustomerStatus.ACTIVE.value,
            preferred_language=original.preferred_language,
            joined_on=created.date(),
            home_branch_id=original.home_branch_id,
            collection_notice_id=_notice_on(session, created.date()),
            notes="",
            created_at=created,
            updated_at=created,
        )
        session.add(duplicate)
        session.flush()
        session.add(
            ContactPoint(
                customer_id=new_id,
                kind="mobile",
                value=mobiles[oid].value,
                is_primary=True,
                is_invalid=False,
                opted_out=False,
            )
        )
        with_email = run.rng.random() < 0.7
        if with_email:
            session.add(
                ContactPoint(
                    customer_id=new_id,
                    kind="email",
                    value=run.fake.hk_email(run.fake.hk_person()),
                    is_primary=True,
                    is_invalid=False,
                    opted_out=False,
                )
            )
        for channel in _CHANNELS:
            status = "given" if channel == "email" and with_email else "not_asked"
            session.add(
                ConsentRecord(
                    customer_id=new_id,
                    purpose=ConsentPurpose.DIRECT_MARKETING.value,
                    channel=channel,
                    status=status,
                    method="online_form",
                    captured_at=created,
                    notice_id=duplicate.collection_notice_id,
                    recorded_by_id=None,
                    note="",
                )
            )
        created_ids.append(new_id)
        pairs[str(new_id)] = oid
    return PlantResult(created_ids, {"original_of": pairs})


@plant("dormant_admin")
def dormant_admin(session: Session, run: PlantRun) -> PlantResult:
    """A staff member who left but whose account is still active and has admin rights."""
    staff = list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.is_trainee.is_(False), StaffUser.is_admin.is_(False))
            .order_by(StaffUser.id)
        )
    )
    by_id = {s.id: s for s in staff}
    chosen = run.pick(list(by_id), "staff users who are not admins")
    for sid in chosen:
        user = by_id[sid]
        user.is_admin = True
        user.is_active = True
        user.mfa_enabled = False
        user.left_on = run.ctx.today - timedelta(days=run.rng.randint(30, 300))
    return PlantResult(chosen, {"entity": "staff_user"})


def _top_up_order(
    run: PlantRun,
    products: Sequence[tuple[int, int]],
    like: SalesOrder,
    order_id: int,
    missing: int,
) -> tuple[SalesOrder, int]:
    """A completed order of one to three products towards ``missing`` HK$; returns what is left.

    The last line of the last order is sold at a member price below its list price, so that
    the orders add up to the amount exactly.
    """
    order = SalesOrder(
        id=order_id,
        order_no=f"SO-{order_id:07d}",
        branch_id=like.branch_id,
        staff_id=like.staff_id,
        channel=like.channel,
        status=OrderStatus.COMPLETED.value,
        total_hkd=0,
    )
    for _ in range(run.rng.randint(1, 3)):
        affordable = [p for p in products if p[0] < missing]
        if affordable:
            price, product_id = run.rng.choice(affordable)
        else:
            _list_price, product_id = next(p for p in products if p[0] >= missing)
            price = missing
        order.lines.append(
            OrderLine(product_id=product_id, quantity=1, unit_price_hkd=price, line_total_hkd=price)
        )
        order.total_hkd += price
        missing -= price
        if not missing:
            break
    return order, missing


@dataclass(frozen=True)
class _ProfileFacts:
    """What choosing members with a profile needs, for the members of one segment only.

    ``contacts``: customer -> value of their usable primary contact point of the kind (the
    last by id); ``latest``: customer -> (status, method, confirmed in writing) of the consent
    record in force on the channel; ``orders``: customer -> (number of orders, the last order's
    time, qualifying spend in the 12-month window); ``joined``: customer -> the day they joined,
    for the segment's customers in id order.
    """

    contacts: dict[int, str]
    latest: dict[int, tuple[str, str, datetime | None]]
    orders: dict[int, tuple[int, datetime, int]]
    joined: dict[int, date]


def _profile_facts(
    session: Session,
    tier: str,
    kind: str,
    channel: str,
    consent: str,
    window: tuple[datetime, datetime],
) -> _ProfileFacts:
    """Read the facts of the tier's active members in one pass, in customer id order.

    One grouped query over the members' orders, with the usable contact point and the consent
    record in force looked up per member through their indexes. Members without an order, a
    usable contact point or the consent asked for cannot fit, so they are left out here; the
    rest of the profile is checked on what this returns.
    """
    start, end = window
    qualifying = and_(
        SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES),
        SalesOrder.ordered_at >= start,
        SalesOrder.ordered_at < end,
    )
    contact = _usable_contact(kind)
    record = _record_in_force(channel)
    members = (
        select(
            Customer.id.label("customer_id"),
            Customer.joined_on.label("joined_on"),
            func.count().label("orders"),
            func.max(SalesOrder.ordered_at).label("last_order"),
            func.coalesce(func.sum(case((qualifying, SalesOrder.total_hkd), else_=0)), 0).label(
                "spent"
            ),
            contact.label("contact"),
            record.label("record_id"),
        )
        .join(SalesOrder, SalesOrder.customer_id == Customer.id)
        .where(Customer.status == CustomerStatus.ACTIVE.value, Customer.tier == tier)
        .group_by(Customer.id)
        .subquery()
    )
    status = func.coalesce(ConsentRecord.status, ConsentStatus.NOT_ASKED.value)
    rows = session.connection().execute(
        select(
            members.c.customer_id,
            members.c.joined_on,
            members.c.orders,
            members.c.last_order,
            members.c.spent,
            members.c.contact,
            ConsentRecord.status,
            ConsentRecord.method,
            ConsentRecord.confirmed_in_writing_at,
        )
        .select_from(members)
        .outerjoin(ConsentRecord, ConsentRecord.id == members.c.record_id)
        .where(members.c.contact.is_not(None), status == consent)
        .order_by(members.c.customer_id)
    )
    facts = _ProfileFacts({}, {}, {}, {})
    for cid, joined_on, count, last, spent, value, status_, method, confirmed in rows:
        facts.contacts[cid] = value
        if status_ is not None:
            facts.latest[cid] = (status_, method, confirmed)
        facts.orders[cid] = (count, last, spent)
        facts.joined[cid] = joined_on
    return facts


def _check_profile(params: Mapping[str, Any]) -> None:
    """spend_hkd is a whole number or [low, high]; an inactive customer has no recent spend."""
    spend = params["spend_hkd"]
    if spend is None:
        return
    pair = spend if isinstance(spend, list | tuple) else [spend, spend]
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError("spend_hkd is a whole number of HK$ or [low, high]")
    if not 0 <= pair[0] <= pair[1]:
        raise ValueError("spend_hkd needs 0 <= low <= high")


@plant(
    "customer_profile",
    defaults={
        "tiers": list(_TIERS),
        "status": "active",
        "spend_hkd": None,
        "channel": "email",
        "consent": "given",
    },
    choices={
        "tiers": _TIERS,
        "status": (CustomerStatus.ACTIVE.value, CustomerStatus.CLOSED.value),
        "channel": _CHANNELS,
        "consent": (
            ConsentStatus.GIVEN.value,
            ConsentStatus.NO_OBJECTION.value,
            ConsentStatus.NOT_ASKED.value,
        ),
    },
    check=_check_profile,
)
def customer_profile(session: Session, run: PlantRun) -> PlantResult:
    """Members with an exact profile (tier, status, 12-month spend, consent): a segment's edges.

    Each instance takes the next tier of ``tiers`` in turn and is an active member of that tier
    with a usable contact on ``channel`` and that ``consent`` to direct marketing on it. With
    ``spend_hkd`` (HK$, or [low, high] for a random amount), one more purchase brings the
    member's spend over the last 12 months to exactly that; ``status: closed`` then closes the
    membership after the last purchase. Customers changed by earlier plants are left alone.
    """
    p, today = run.params, run.ctx.today
    spend = p["spend_hkd"]
    low, high = (spend if isinstance(spend, list | tuple) else [spend, spend]) if spend else (0, 0)
    start, end = spend_window(today)
    closing = p["status"] == CustomerStatus.CLOSED.value
    products = sorted(
        (price, pid)
        for pid, price in session.execute(
            select(Product.id, Product.price_hkd).where(Product.is_active.is_(True))
        )
    )
    kind = CHANNEL_CONTACT_KINDS[p["channel"]][0]

    def fits(facts: _ProfileFacts, cid: int, joined_on: date) -> bool:
        if cid in run.taken or cid not in facts.contacts or not facts.orders.get(cid):
            return False
        if joined_on > today - timedelta(days=60):
            return False
        if kind == "email" and not looks_like_email(facts.contacts[cid]):
            return False
        record = facts.latest.get(cid)
        status = record[0] if record is not None else ConsentStatus.NOT_ASKED.value
        if status != p["consent"]:
            return False
        if record is not None and record[1] == "oral" and not record[2]:
            return False
        if closing and facts.orders[cid][1] >= run.day0 - timedelta(days=20):
            return False
        if spend is None:
            return True
        missing = low - facts.orders[cid][2]
        return missing == 0 or missing >= 300

    tiers = p["tiers"]
    wanted = {tier: len(range(i, run.count, len(tiers))) for i, tier in enumerate(tiers)}
    chosen: list[int] = []
    for tier, count in wanted.items():
        if not count:
            continue
        facts = _profile_facts(session, tier, kind, p["channel"], p["consent"], (start, end))
        candidates = [cid for cid, joined_on in facts.joined.items() if fits(facts, cid, joined_on)]
        if len(candidates) < count:
            raise ValueError(
                f"plant {run.kind!r}: needs {count} {tier} members with this profile but the "
                f"sandbox has only {len(candidates)}; lower the count or enlarge the sandbox"
            )
        chosen += run.rng.sample(candidates, count)
    orders: dict[int, list[SalesOrder]] = {cid: [] for cid in chosen}
    for order in session.scalars(
        select(SalesOrder)
        .where(SalesOrder.customer_id.in_(chosen))
        .order_by(SalesOrder.ordered_at, SalesOrder.id)
    ):
        orders[order.customer_id].append(order)

    def spent(cid: int) -> int:
        return sum(
            o.total_hkd
            for o in orders.get(cid, [])
            if o.status in QUALIFYING_ORDER_STATUSES and start <= o.ordered_at < end
        )

    chosen.sort()
    next_id = (session.scalar(select(func.max(SalesOrder.id))) or 0) + 1
    for cid in chosen:
        customer = session.get_one(Customer, cid)
        history = orders[cid]
        last_day = today - timedelta(days=21 if closing else 4)
        if spend is not None:
            target = run.rng.randint(low, high)
            missing = target - spent(cid)
            first = max(customer.joined_on, start.date(), today - timedelta(days=300))
            while missing > 0:
                when = run.moment(min(first, last_day), last_day)
                order, missing = _top_up_order(run, products, history[-1], next_id, missing)
                order.customer_id, order.ordered_at = cid, when
                session.add(order)
                history.append(order)
                next_id += 1
            history.sort(key=lambda o: o.ordered_at)
        if closing:
            last_order = max(o.ordered_at for o in history).date()
            closed = run.moment(last_order + timedelta(days=1), today - timedelta(days=1))
            customer.status = CustomerStatus.CLOSED.value
            customer.closed_on = closed.date()
            customer.updated_at = max(customer.updated_at, closed)
    return PlantResult(chosen)
