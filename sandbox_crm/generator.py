"""Deterministic generation of a sandbox CRM: a Hong Kong retailer or jewellery chain.

``generate(session, spec)`` fills an empty sandbox database (its tables already created) from a
``GenerationSpec``. The same spec gives byte-identical data on every machine with the same
library versions: every draw comes from one seeded Faker instance (names, contact details,
HKIDs) or one seeded ``random.Random`` (all other choices); nothing reads the wall clock,
iterates a set or uses ``hash()``; primary keys are assigned here, not by the database.

Generation writes no audit events: the audit log records only what happens during an attempt.
The hidden ground truth of planted situations is stored in the meta key ``plants``.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import faker
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from sandbox_crm import catalogue_data as data
from sandbox_crm import plants as plant_registry
from sandbox_crm.hk_provider import DISTRICTS, REGIONS, HKPerson, make_faker, member_number
from sandbox_crm.models import (
    Branch,
    Campaign,
    Channel,
    CollectionNotice,
    ConsentMethod,
    ConsentPurpose,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerStatus,
    Department,
    Message,
    MessageKind,
    OrderLine,
    Product,
    Profile,
    ReportDefinition,
    ReportShare,
    SalesChannel,
    SalesOrder,
    SandboxBase,
    SandboxMeta,
    SourceSystem,
    StaffUser,
    Tier,
)
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES

__all__ = [
    "AML_THRESHOLD_HKD",
    "CHANNEL_CONTACT_KINDS",
    "GENERATOR_VERSION",
    "GenerationSpec",
    "GenerationSummary",
    "PlantSpec",
    "derive_seed",
    "generate",
]

# Bump whenever the generated data or the schema (tables, indexes) changes for an unchanged spec:
# cached templates are keyed by it, so old templates are never reused for new code.
GENERATOR_VERSION = "2"

# Dealers in precious metals and stones must identify customers at or above this amount.
AML_THRESHOLD_HKD = data.AML_THRESHOLD_HKD

# Which contact points each direct-marketing channel reaches (see catalogue_data).
CHANNEL_CONTACT_KINDS = data.CHANNEL_CONTACT_KINDS

_CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
_DM = ConsentPurpose.DIRECT_MARKETING.value
_ACTIVE_CONSENT = ("given", "no_objection")
_YEARS_OF_MEMBERS = 6
_ORDER_HISTORY_DAYS = 548  # about 18 months
_BATCH = 20_000


def derive_seed(seed: int, label: str) -> int:
    """A 64-bit seed for one purpose, derived from the spec's seed (independent streams)."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _freeze(value: Any) -> Any:
    """Make a JSON-like parameter value hashable (lists become tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    return value


def _thaw(value: Any) -> Any:
    """The JSON form of a frozen parameter value (tuples become lists)."""
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class PlantSpec:
    """A situation to plant after the base generation: its kind, how many, and parameters."""

    kind: str
    count: int
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.params, Mapping):
            pairs = tuple(self.params.items())
        else:
            pairs = tuple(tuple(p) for p in self.params)
        object.__setattr__(self, "params", tuple(sorted((str(k), _freeze(v)) for k, v in pairs)))
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 0:
            raise ValueError(f"plant {self.kind!r}: count must be a whole number >= 0")
        plant_registry.validate_plant(self.kind, self.param_dict())

    @classmethod
    def of(cls, kind: str, count: int, **params: Any) -> PlantSpec:
        """Build a PlantSpec from keyword parameters."""
        return cls(kind, count, tuple(params.items()))

    def param_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (lists rather than tuples)."""
        return {k: _thaw(v) for k, v in self.params}


@dataclass(frozen=True)
class GenerationSpec:
    """Everything that determines a generated sandbox; equal specs give identical data."""

    profile: str
    seed: int
    customers: int
    today: date
    company: str | None = None
    acting_department: str = "customer_service"
    acting_title: str = "CRM Officer"
    plants: tuple[PlantSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "plants", tuple(self.plants))
        if self.profile not in tuple(p.value for p in Profile):
            raise ValueError(f"unknown profile {self.profile!r}; known: retail, jewellery")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError("seed must be a whole number")
        if not isinstance(self.customers, int) or self.customers < 1:
            raise ValueError("customers must be a whole number >= 1")
        if self.customers >= 10**8:
            raise ValueError("customers must be below 100,000,000")
        if not isinstance(self.today, date) or isinstance(self.today, datetime):
            raise ValueError("today must be a date")
        codes = tuple(code for code, _ in data.DEPARTMENTS)
        if self.acting_department not in codes:
            raise ValueError(
                f"unknown department {self.acting_department!r}; known: {', '.join(codes)}"
            )

    def canonical(self) -> dict[str, Any]:
        """The spec as plain JSON-ready data (the input of ``cache_key``)."""
        return {
            "profile": self.profile,
            "seed": self.seed,
            "customers": self.customers,
            "today": self.today.isoformat(),
            "company": self.company,
            "acting_department": self.acting_department,
            "acting_title": self.acting_title,
            "plants": [
                {"kind": p.kind, "count": p.count, "params": p.param_dict()} for p in self.plants
            ],
        }

    def cache_key(self) -> str:
        """sha256 of the canonical spec, the generator version and the Faker version."""
        payload = {
            "spec": self.canonical(),
            "generator_version": GENERATOR_VERSION,
            # Faker's own data can change between releases; a new release means new templates.
            "faker_version": faker.VERSION,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class GenerationSummary:
    """Row counts per table after generation, and the planted ground truth (kind -> ids)."""

    counts: Mapping[str, int]
    plants: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


# --- small deterministic helpers --------------------------------------------------------------


class _Weighted:
    """Items with integer weights, drawn by bisecting cumulative weights."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        self.cumulative = tuple(itertools.accumulate(w for _, w in pairs))

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cumulative, rng.randrange(self.cumulative[-1]))]


def _chance(rng: random.Random, per_thousand: int) -> bool:
    return rng.randrange(1000) < per_thousand


def _moment(rng: random.Random, day: date, first_hour: int = 10, last_hour: int = 21) -> datetime:
    """A time of day on ``day`` within opening hours, to the second."""
    clock = time(rng.randint(first_hour, last_hour), rng.randrange(60), rng.randrange(60))
    return datetime.combine(day, clock)


def _day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _username(person: HKPerson) -> str:
    initials = "".join(part[0] for part in person.given_en.split())
    return (initials + person.surname_en).lower().replace(" ", "")


def _company_domain(company: str) -> str:
    skip = {"ltd", "co", "limited", "&", "and"}
    words = [w.strip(".,").lower() for w in company.split()]
    words = ["".join(ch for ch in w if ch.isascii() and ch.isalnum()) for w in words]
    kept = [w for w in words if w and w not in skip][:2]
    return "".join(kept) + ".com.hk"


_TIER_PICKER = _Weighted(
    [
        (Tier.CLASSIC.value, 55),
        (Tier.SILVER.value, 25),
        (Tier.GOLD.value, 14),
        (Tier.PLATINUM.value, 6),
    ]
)
_SOURCE_PICKER = _Weighted(
    [
        (SourceSystem.POS.value, 45),
        (SourceSystem.ESHOP.value, 30),
        (SourceSystem.CRM.value, 15),
        (SourceSystem.EVENT.value, 10),
    ]
)
_STATUS_PICKER = _Weighted(
    [
        (CustomerStatus.ACTIVE.value, 880),
        (CustomerStatus.INACTIVE.value, 80),
        (CustomerStatus.CLOSED.value, 40),
    ]
)
# Orders in the 18-month window by tier (a customer-specific frequency; VIPs buy more often).
_ORDER_COUNT = {
    Tier.CLASSIC.value: _Weighted([(0, 38), (1, 30), (2, 17), (3, 10), (4, 5)]),
    Tier.SILVER.value: _Weighted([(0, 15), (1, 20), (2, 22), (3, 18), (4, 12), (5, 8), (6, 5)]),
    Tier.GOLD.value: _Weighted(
        [(n, w) for n, w in zip(range(1, 11), (8, 10, 12, 14, 14, 12, 10, 8, 7, 5), strict=True)]
    ),
    Tier.PLATINUM.value: _Weighted([(n, 1) for n in range(3, 17)]),
}
_LINES_PICKER = _Weighted([(1, 55), (2, 28), (3, 12), (4, 5)])
# Price-band preference by tier: low, mid, high, top (top includes >= HK$120,000 jewellery).
_BAND_WEIGHTS = {
    Tier.CLASSIC.value: (700, 270, 28, 2),
    Tier.SILVER.value: (600, 330, 62, 8),
    Tier.GOLD.value: (450, 400, 120, 30),
    Tier.PLATINUM.value: (300, 420, 200, 80),
}
_BAND_LIMITS = {"retail": (150, 400, 1000), "jewellery": (10_000, 50_000, AML_THRESHOLD_HKD)}
_SALES_CHANNEL = {
    SourceSystem.POS.value: _Weighted([("store", 90), ("phone", 5), ("eshop", 5)]),
    SourceSystem.ESHOP.value: _Weighted([("eshop", 85), ("store", 15)]),
    SourceSystem.CRM.value: _Weighted([("store", 60), ("phone", 30), ("eshop", 10)]),
    SourceSystem.EVENT.value: _Weighted([("store", 80), ("eshop", 20)]),
}
_SIGNUP_METHOD = {
    SourceSystem.POS.value: _Weighted([("written_form", 60), ("oral", 40)]),
    SourceSystem.ESHOP.value: _Weighted([("online_form", 1)]),
    SourceSystem.CRM.value: _Weighted([("oral", 70), ("written_form", 30)]),
    SourceSystem.EVENT.value: _Weighted([("written_form", 1)]),
}
# Per thousand, for a customer who has the channel's contact point: (given, no objection).
_CONSENT_RATES = {"email": (520, 100), "sms": (480, 100), "phone": (450, 110), "post": (470, 100)}


# --- the builder ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Contact:
    id: int
    kind: str
    value: str
    usable: bool  # well-formed and not flagged invalid


@dataclass(slots=True)
class _Member:
    """Generation-time facts about a customer that later steps need."""

    row: dict[str, Any]
    contacts: dict[str, _Contact] = field(default_factory=dict)
    # channel -> [(captured_at, status, method, confirmed_in_writing_at)], in time order
    consent: dict[str, list[tuple[datetime, str, str, datetime | None]]] = field(
        default_factory=dict
    )

    def reach(self, channel: str) -> _Contact | None:
        """The contact point a channel would use (first in order of preference), if any."""
        for kind in CHANNEL_CONTACT_KINDS[channel]:
            if kind in self.contacts:
                return self.contacts[kind]
        return None


class _Builder:
    """Builds every row of the base sandbox in memory, then inserts them in bulk."""

    def __init__(self, spec: GenerationSpec) -> None:
        self.spec = spec
        self.fake = make_faker(spec.seed)
        self.rng = random.Random(derive_seed(spec.seed, "generator"))  # noqa: S311 - seeded test data, not security
        self.today = spec.today
        self.day0 = datetime.combine(spec.today, time())
        self.profile = spec.profile
        self.company = spec.company or self.rng.choice(data.COMPANY_NAMES[self.profile])
        self.domain = _company_domain(self.company)
        self.rows: dict[type[SandboxBase], Iterable[dict[str, Any]]] = {}
        self.members: list[_Member] = []
        self.contact_rows: list[dict[str, Any]] = []
        self.ids = {name: itertools.count(1) for name in ("contact", "message")}

    # -- organisation --

    def build(self) -> None:
        self.branches()
        self.departments()
        self.staff()
        self.notices()
        self.products()
        self.customers()
        self.orders()
        self.aml_identification()
        self.consent_rows()
        self.campaigns()
        self.reports()

    def branches(self) -> None:
        rng = self.rng
        picked: list[data.Site] = []
        by_region = {
            r: [s for s in data.STORE_SITES if DISTRICTS[s.district] == r] for r in REGIONS
        }
        for region in REGIONS:
            sites = by_region[region]
            if any(s.outlying for s in sites):
                # One store far from the city: it connects remotely through an allow-list.
                picked.append(rng.choice([s for s in sites if s.outlying]))
                picked.append(rng.choice([s for s in sites if not s.outlying]))
            else:
                picked.extend(rng.sample(sites, 2))
        rest = [s for s in data.STORE_SITES if s not in picked]
        picked.extend(rng.sample(rest, rng.randint(0, 4)))
        picked.sort(key=data.STORE_SITES.index)
        noun = "Shop" if self.profile == Profile.JEWELLERY else "Store"
        rows: list[dict[str, Any]] = []
        remote_done = False
        for index, site in enumerate(picked, start=1):
            remote = site.outlying and not remote_done
            remote_done = remote_done or remote
            allow = f"{data.IP_RANGES[0]}.{8 * index}/29"
            if remote:
                allow += f", {data.IP_RANGES[1]}.{rng.randint(2, 250)}/32"
            rows.append(
                self._branch(index, site.code, f"{site.place} {noun}", "store", site, remote, allow)
            )
        warehouse = data.WAREHOUSE_SITE
        rows.append(
            self._branch(
                len(rows) + 1,
                warehouse.code,
                f"{warehouse.place} Warehouse",
                "warehouse",
                warehouse,
                True,
                f"{data.IP_RANGES[1]}.{rng.randint(2, 250)}/32",
            )
        )
        office = data.HEAD_OFFICE_SITES[self.profile]
        rows.append(
            self._branch(
                len(rows) + 1,
                office.code,
                f"{office.place} Head Office",
                "office",
                office,
                False,
                f"{data.IP_RANGES[2]}.0/26",
            )
        )
        self.rows[Branch] = rows
        self.stores = [r for r in rows if r["kind"] == "store"]
        self.warehouse_id = rows[-2]["id"]
        self.office_id = rows[-1]["id"]

    @staticmethod
    def _branch(
        id_: int, code: str, name: str, kind: str, site: data.Site, remote: bool, allow: str
    ) -> dict[str, Any]:
        return {
            "id": id_,
            "code": code,
            "name": name,
            "kind": kind,
            "district": site.district,
            "region": DISTRICTS[site.district],
            "is_remote": remote,
            "ip_allow_list": allow,
        }

    def departments(self) -> None:
        self.dept_ids = {code: i for i, (code, _) in enumerate(data.DEPARTMENTS, start=1)}
        self.rows[Department] = [
            {"id": i, "code": code, "name": name}
            for i, (code, name) in enumerate(data.DEPARTMENTS, start=1)
        ]

    def staff(self) -> None:
        rng, fake = self.rng, self.fake
        rows: list[dict[str, Any]] = []
        used: set[str] = set()

        def add(person: HKPerson, dept: str, title: str, branch_id: int | None) -> dict[str, Any]:
            base = _username(person)
            name, n = base, 1
            while name in used:
                n += 1
                name = f"{base}{n}"
            used.add(name)
            row = {
                "id": len(rows) + 1,
                "username": name,
                "full_name": person.name_en,
                "title": title,
                "email": f"{name}@{self.domain}",
                "department_id": self.dept_ids[dept],
                "branch_id": branch_id,
                "is_active": True,
                "is_admin": False,
                "mfa_enabled": False,
                "left_on": None,
                "is_trainee": False,
            }
            rows.append(row)
            return row

        store_ids = [s["id"] for s in self.stores]
        store_cursor = 0
        for dept, count, titles in data.STAFF_PLAN:
            extra = 0 if dept == "management" else rng.randint(0, 1)
            for i in range(count + extra):
                title = titles[0] if i == 0 else rng.choice(titles[1:] or titles)
                branch_id: int | None = self.office_id
                if dept == "store_operations" and i > 0:
                    branch_id = store_ids[store_cursor % len(store_ids)]
                    store_cursor += 1
                elif dept == "it" and i == count + extra - 1:
                    branch_id = self.warehouse_id
                row = add(fake.hk_person(), dept, title, branch_id)
                if (dept == "it" and i < 2) or (dept == "management" and i == 0):
                    row["is_admin"] = True
                    row["mfa_enabled"] = True
                elif dept in ("it", "finance") or row["branch_id"] in (self.warehouse_id,):
                    row["mfa_enabled"] = _chance(rng, 500)
        # One or two people have left; their accounts were disabled on their last day.
        candidates = [
            r
            for r in rows
            if not r["is_admin"]
            and not r["title"].endswith("Manager")
            and r["title"] not in ("Managing Director", "Operations Director", "Area Manager")
        ]
        for row in rng.sample(candidates, rng.randint(1, 2)):
            row["is_active"] = False
            row["left_on"] = self.today - timedelta(days=rng.randint(20, 400))
        trainee = add(
            fake.hk_person(), self.spec.acting_department, self.spec.acting_title, self.office_id
        )
        trainee["is_trainee"] = True
        self.trainee_id = trainee["id"]
        self.rows[StaffUser] = rows

        def active(dept: str) -> list[int]:
            return [
                r["id"]
                for r in rows
                if r["department_id"] == self.dept_ids[dept]
                and r["is_active"]
                and not r["is_trainee"]
            ]

        self.staff_by_dept = {code: active(code) for code, _ in data.DEPARTMENTS}
        self.staff_by_branch: dict[int, list[int]] = {}
        for r in rows:
            if r["branch_id"] is not None and r["is_active"] and not r["is_trainee"]:
                self.staff_by_branch.setdefault(r["branch_id"], []).append(r["id"])
        self.frontline = (
            self.staff_by_dept["store_operations"] + self.staff_by_dept["customer_service"]
        )

    def notices(self) -> None:
        rng = self.rng
        first_join = self.today - timedelta(days=365 * _YEARS_OF_MEMBERS)
        starts = [first_join - timedelta(days=rng.randint(30, 200))]
        if rng.randint(2, 3) == 3:
            starts.append(self.today - timedelta(days=rng.randint(900, 1300)))
            starts.append(self.today - timedelta(days=rng.randint(200, 500)))
        else:
            starts.append(self.today - timedelta(days=rng.randint(400, 1100)))
        classes = list(data.MARKETING_CLASSES[self.profile])
        office = data.HEAD_OFFICE_SITES[self.profile]
        officer = f"Data Protection Officer, {self.company}, {office.place} (dpo@{self.domain})"
        reply = (
            f"tick the box on the form, reply to any message, or email optout@{self.domain};"
            " free of charge"
        )
        rows = []
        for index, start in enumerate(starts, start=1):
            purposes = list(data.NOTICE_PURPOSES[: 3 if index == 1 else 4])
            transferees = list(data.NOTICE_TRANSFEREES)
            if index > 1:
                transferees.append(
                    "business partners for their own marketing, only with your written consent"
                )
            text = (
                f"{self.company} collects your personal data for: {'; '.join(purposes)}. "
                f"Name and mobile number are obligatory; other fields are voluntary. Your data "
                f"may be transferred to: {'; '.join(transferees)}. We intend to use your name, "
                f"email, mobile number and address for direct marketing of "
                f"{' and '.join(classes)}, and may not do so without your consent. You may "
                f"request access to and correction of your data from the {officer}."
            )
            rows.append(
                {
                    "id": index,
                    "version": f"PICS-{start.year}-{index:02d}",
                    "effective_from": start,
                    "purposes": purposes,
                    "transferee_classes": transferees,
                    "obligatory_fields": list(data.OBLIGATORY_FIELDS),
                    "voluntary_fields": list(data.VOLUNTARY_FIELDS),
                    "states_access_rights": True,
                    "data_access_officer": officer,
                    "dm_intent_stated": True,
                    "dm_data_kinds": list(data.DM_DATA_KINDS),
                    "dm_marketing_classes": classes,
                    "dm_reply_channel": reply,
                    "text": text,
                }
            )
        self.rows[CollectionNotice] = rows
        self.notice_starts = [r["effective_from"] for r in rows]

    def notice_at(self, day: date) -> int:
        """Id of the collection notice in force on ``day``."""
        return bisect.bisect_right(self.notice_starts, day)

    def products(self) -> None:
        rng = self.rng
        rows = []
        for category, (code, lines) in data.PRODUCTS_BY_PROFILE[self.profile].items():
            for n, line in enumerate(lines, start=1):
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "sku": f"{code}-{n:03d}",
                        "name": line.name,
                        "category": category,
                        "price_hkd": line.price_hkd,
                        "is_active": not _chance(rng, 40),
                    }
                )
        self.rows[Product] = rows
        limits = _BAND_LIMITS[self.profile]
        bands: list[list[dict[str, Any]]] = [[], [], [], []]
        for row in rows:
            bands[bisect.bisect_right(limits, row["price_hkd"] - 1)].append(row)
        self.product_pickers = {
            tier: _Weighted(
                [
                    (p, weight)
                    for band, w in zip(bands, weights, strict=True)
                    for p in band
                    for weight in [w * 1000 // max(1, len(band))]
                ]
            )
            for tier, weights in _BAND_WEIGHTS.items()
        }

    # -- customers --

    def customers(self) -> None:
        rng, fake = self.rng, self.fake
        first_join = self.today - timedelta(days=365 * _YEARS_OF_MEMBERS)
        last_day = self.today - timedelta(days=1)
        stores_by_region: dict[str, list[int]] = {}
        for s in self.stores:
            stores_by_region.setdefault(s["region"], []).append(s["id"])
        store_ids = [s["id"] for s in self.stores]
        for seq in range(1, self.spec.customers + 1):
            person = fake.hk_person()
            district = fake.hk_district()
            region = DISTRICTS[district]
            source = _SOURCE_PICKER.pick(rng)
            tier = _TIER_PICKER.pick(rng)
            joined = _day_between(rng, first_join, last_day)
            created = _moment(rng, joined, 9, 21)
            status = _STATUS_PICKER.pick(rng)
            closed_on = None
            if status == CustomerStatus.CLOSED and (last_day - joined).days > 30:
                closed_on = _day_between(rng, joined + timedelta(days=30), last_day)
            elif status == CustomerStatus.CLOSED:
                status = CustomerStatus.ACTIVE.value
            if source == SourceSystem.ESHOP and _chance(rng, 500):
                home_branch = None
            elif _chance(rng, 750) and region in stores_by_region:
                home_branch = rng.choice(stores_by_region[region])
            else:
                home_branch = rng.choice(store_ids)
            updated_day = _day_between(rng, joined, closed_on or last_day)
            updated = max(created, _moment(rng, updated_day, 9, 21))
            row = {
                "id": seq,
                "member_no": member_number(seq),
                "source_system": source,
                "name_en": person.name_en,
                "name_zh": person.name_zh,
                "gender": person.gender,
                "birth_month": rng.randint(1, 12) if _chance(rng, 850) else None,
                "date_of_birth": None,
                "hkid": None,
                "hkid_basis": None,
                "district": district,
                "region": region,
                "tier": tier,
                "status": status,
                "preferred_language": "zh" if _chance(rng, 600) else "en",
                "joined_on": joined,
                "closed_on": closed_on,
                "home_branch_id": home_branch,
                "collection_notice_id": self.notice_at(joined),
                "notes": rng.choice(data.CUSTOMER_NOTES) if _chance(rng, 40) else "",
                "created_at": created,
                "updated_at": updated,
            }
            member = _Member(row)
            self.contacts(member, person, district, source)
            self.joining_consents(member, source, created, joined)
            self.members.append(member)
        self.rows[Customer] = [m.row for m in self.members]
        self.rows[ContactPoint] = self.contact_rows

    def contacts(self, member: _Member, person: HKPerson, district: str, source: str) -> None:
        rng, fake = self.rng, self.fake
        rows = self.contact_rows

        def add(kind: str, value: str, malformed: bool, flagged: bool) -> None:
            contact = _Contact(next(self.ids["contact"]), kind, value, not (malformed or flagged))
            member.contacts[kind] = contact
            rows.append(
                {
                    "id": contact.id,
                    "customer_id": member.row["id"],
                    "kind": kind,
                    "value": value,
                    "is_primary": True,
                    "is_invalid": flagged,
                    "opted_out": False,
                }
            )

        if source == SourceSystem.ESHOP or _chance(rng, 900):
            email = fake.hk_email(person)
            if _chance(rng, 30):
                # Malformed; about half were caught and flagged, the rest are waiting to be found.
                add("email", plant_registry.malform_email(rng, email), True, _chance(rng, 500))
            else:
                add("email", email, False, _chance(rng, 10))  # bounced
        if _chance(rng, 940):
            mobile = fake.hk_mobile_number()
            if _chance(rng, 15):
                bad = mobile[:7] if _chance(rng, 500) else mobile + str(rng.randrange(10))
                add("mobile", bad, True, _chance(rng, 500))
            else:
                add("mobile", mobile, False, _chance(rng, 5))
        if _chance(rng, 180):
            add("phone", fake.hk_landline_number(), False, False)
        if source != SourceSystem.ESHOP and _chance(rng, 700) or _chance(rng, 450):
            add("address", fake.hk_address(district), False, _chance(rng, 5))

    def joining_consents(self, member: _Member, source: str, created: datetime, day: date) -> None:
        rng = self.rng
        method = _SIGNUP_METHOD[source].pick(rng)
        confirmed = None
        if method == ConsentMethod.ORAL:
            roll = rng.randrange(100)
            if roll < 90:
                confirmed = created + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6))
            elif roll < 94:
                confirmed = created + timedelta(days=rng.randint(15, 30))
            if confirmed is not None and confirmed >= self.day0:
                confirmed = None
        for channel in _CHANNELS:
            status = "not_asked"
            if member.reach(channel) is not None:
                given, no_objection = _CONSENT_RATES[channel]
                roll = rng.randrange(1000)
                if roll < given:
                    status = "given"
                elif roll < given + no_objection:
                    status = "no_objection"
            member.consent[channel] = [
                (created, status, method, confirmed if status in _ACTIVE_CONSENT else None)
            ]
        # Only notices after the first name partners' marketing as a class of transferee.
        if self.notice_at(day) > 1 and "email" in member.contacts and _chance(rng, 30):
            member.consent["third_party:email"] = [(created, "given", "written_form", None)]

    def later_consents(self) -> None:
        """Preference changes after joining: some opt in later, some withdraw (opt out)."""
        rng = self.rng
        last_day = self.today - timedelta(days=1)
        for member in self.members:
            row = member.row
            end = row["closed_on"] or last_day
            start = row["joined_on"] + timedelta(days=7)
            if start >= end:
                continue
            if _chance(rng, 60):
                channel = rng.choice(_CHANNELS)
                history = member.consent[channel]
                if history[-1][1] == "not_asked" and member.reach(channel) is not None:
                    when = _moment(rng, _day_between(rng, start, end), 8, 23)
                    history.append((when, "given", "online_form", None))
            if _chance(rng, 80):
                active = [c for c in _CHANNELS if member.consent[c][-1][1] in _ACTIVE_CONSENT]
                if not active:
                    continue
                latest = max(member.consent[c][-1][0] for c in active).date()
                first = max(start, latest + timedelta(days=7))
                if first >= end:
                    continue
                when = _moment(rng, _day_between(rng, first, end), 8, 23)
                if "email" in active and _chance(rng, 550):
                    withdrawn, method = ["email"], "unsubscribe_link"
                else:
                    withdrawn, method = active, "written_form"
                for channel in withdrawn:
                    member.consent[channel].append((when, "withdrawn", method, None))
                    for kind in CHANNEL_CONTACT_KINDS[channel]:
                        if kind in member.contacts:
                            self._contact_row(member.contacts[kind])["opted_out"] = True
                row["updated_at"] = max(row["updated_at"], when)

    def _contact_row(self, contact: _Contact) -> dict[str, Any]:
        row = self.contact_rows[contact.id - 1]
        assert row["id"] == contact.id  # noqa: S101 - ids are assigned densely from 1
        return row

    def consent_rows(self) -> None:
        self.later_consents()
        entries = []
        for member in self.members:
            cid = member.row["id"]
            for position, (key, history) in enumerate(member.consent.items()):
                purpose, channel = _DM, key
                if key.startswith("third_party:"):
                    purpose, channel = ConsentPurpose.THIRD_PARTY_MARKETING.value, key[12:]
                for captured, status, method, confirmed in history:
                    entries.append(
                        (captured, cid, position, purpose, channel, status, method, confirmed)
                    )
        # The log is append-only: ids follow the time of capture.
        entries.sort(key=lambda e: (e[0], e[1], e[2]))
        self.rows[ConsentRecord] = self._consent_rows(entries)

    def _consent_rows(self, entries: list[tuple]) -> Iterator[dict[str, Any]]:
        frontline = self.frontline or [self.trainee_id]
        for id_, (captured, cid, _, purpose, channel, status, method, confirmed) in enumerate(
            entries, start=1
        ):
            staff = None
            source = self.members[cid - 1].row["source_system"]
            if method in ("written_form", "oral") and source != SourceSystem.ESHOP:
                staff = frontline[(cid + captured.day) % len(frontline)]
            yield {
                "id": id_,
                "customer_id": cid,
                "purpose": purpose,
                "channel": channel,
                "status": status,
                "method": method,
                "captured_at": captured,
                "notice_id": self.notice_at(captured.date()),
                "recorded_by_id": staff,
                "confirmed_in_writing_at": confirmed,
                "note": "",
            }

    # -- sales --

    def orders(self) -> None:
        rng = self.rng
        window_start = self.today - timedelta(days=_ORDER_HISTORY_DAYS)
        last_day = self.today - timedelta(days=1)
        jewellery = self.profile == Profile.JEWELLERY
        drafts = []
        for member in self.members:
            row = member.row
            count = _ORDER_COUNT[row["tier"]].pick(rng)
            if jewellery:
                count = (count * 3 + 2) // 5
            first = max(row["joined_on"], window_start)
            last = row["closed_on"] or last_day
            if row["status"] == CustomerStatus.INACTIVE:
                last = min(last, self.today - timedelta(days=366))
            if count == 0 or first > last:
                continue
            for _ in range(count):
                when = _moment(rng, _day_between(rng, first, last))
                channel = _SALES_CHANNEL[row["source_system"]].pick(rng)
                if channel == SalesChannel.ESHOP:
                    branch, staff = self.warehouse_id, None
                else:
                    branch = row["home_branch_id"]
                    if branch is None or _chance(rng, 200):
                        branch = rng.choice(self.stores)["id"]
                    pool = self.staff_by_branch.get(branch) or self.staff_by_dept["sales"]
                    staff = rng.choice(pool)
                lines = []
                for _ in range(_LINES_PICKER.pick(rng)):
                    product = self.product_pickers[row["tier"]].pick(rng)
                    price = product["price_hkd"]
                    if jewellery:
                        quantity = 2 if price < 10_000 and _chance(rng, 70) else 1
                    else:
                        quantity = _LINES_PICKER.pick(rng)
                    if _chance(rng, 150):  # member discount
                        price = price * 9 // 10
                    lines.append((product["id"], quantity, price))
                if (self.day0 - when).days < 3:
                    status = rng.choice(("pending", "paid", "shipped", "completed"))
                else:
                    roll = rng.randrange(100)
                    status = "completed" if roll < 91 else "cancelled" if roll < 96 else "refunded"
                drafts.append((when, row["id"], channel, branch, staff, status, lines))
        drafts.sort(key=lambda d: (d[0], d[1]))
        self.big_orders: dict[int, str] = {}
        for id_, (_, cid, _, _, _, status, lines) in enumerate(drafts, 1):
            total = sum(quantity * price for _, quantity, price in lines)
            if total >= AML_THRESHOLD_HKD and status in QUALIFYING_ORDER_STATUSES:
                self.big_orders.setdefault(cid, f"SO-{id_:07d}")
        self.rows[SalesOrder] = self._order_rows(drafts)
        self.rows[OrderLine] = self._order_line_rows(drafts)

    @staticmethod
    def _order_rows(drafts: list[tuple]) -> Iterator[dict[str, Any]]:
        for id_, (when, cid, channel, branch, staff, status, lines) in enumerate(drafts, 1):
            yield {
                "id": id_,
                "order_no": f"SO-{id_:07d}",
                "customer_id": cid,
                "branch_id": branch,
                "staff_id": staff,
                "channel": channel,
                "status": status,
                "ordered_at": when,
                "total_hkd": sum(quantity * price for _, quantity, price in lines),
            }

    @staticmethod
    def _order_line_rows(drafts: list[tuple]) -> Iterator[dict[str, Any]]:
        line_ids = itertools.count(1)
        for order_id, (*_, lines) in enumerate(drafts, 1):
            for product_id, quantity, price in lines:
                yield {
                    "id": next(line_ids),
                    "order_id": order_id,
                    "product_id": product_id,
                    "quantity": quantity,
                    "unit_price_hkd": price,
                    "line_total_hkd": quantity * price,
                }

    def aml_identification(self) -> None:
        """Jewellery: customers identified for a >= HK$120,000 purchase keep the HKID on file."""
        if self.profile != Profile.JEWELLERY:
            return
        for cid in sorted(self.big_orders):
            if _chance(self.rng, 850):
                row = self.members[cid - 1].row
                row["hkid"] = self.fake.hkid()
                row["hkid_basis"] = f"AML CDD for order {self.big_orders[cid]}"

    # -- marketing and reporting --

    def consent_active(self, member: _Member, channel: str, at: datetime) -> bool:
        """Whether direct-marketing consent on ``channel`` was in effect at ``at``."""
        status, method, confirmed = "not_asked", "", None
        for captured, s, m, c in member.consent[channel]:
            if captured > at:
                break
            status, method, confirmed = s, m, c
        if status not in _ACTIVE_CONSENT:
            return False
        if method == ConsentMethod.ORAL:
            return confirmed is not None and confirmed <= at
        return True

    def opted_out_at(self, member: _Member, kind: str, at: datetime) -> bool:
        """Whether a contact point of ``kind`` was opted out at ``at`` (any reaching channel)."""
        for channel, kinds in CHANNEL_CONTACT_KINDS.items():
            if kind not in kinds:
                continue
            status = "not_asked"
            for captured, s, _, _ in member.consent[channel]:
                if captured > at:
                    break
                status = s
            if status == "withdrawn":
                return True
        return False

    def campaigns(self) -> None:
        rng = self.rng
        plans = data.CAMPAIGNS[self.profile]
        chosen = sorted(rng.sample(range(len(plans)), rng.randint(3, min(5, len(plans)))))
        classes = data.MARKETING_CLASSES[self.profile]
        marketers = self.staff_by_dept["marketing"] or [self.trainee_id]
        campaigns, audiences = [], []
        for campaign_id, index in enumerate(chosen, start=1):
            name, objective, channel, class_index, tiers, months = plans[index]
            sent = datetime.combine(
                self.today - timedelta(days=30 * months + rng.randint(0, 20)), time(10, 0)
            )
            campaigns.append(
                {
                    "id": campaign_id,
                    "name": name,
                    "objective": objective,
                    "channel": channel,
                    "marketing_class": classes[class_index],
                    "status": "completed",
                    "created_by_id": rng.choice(marketers),
                    "created_at": sent
                    - timedelta(days=rng.randint(7, 21), hours=rng.randint(0, 5)),
                    "sent_at": sent,
                }
            )
            audiences.append((campaign_id, name, channel, tiers, sent))
        self.rows[Campaign] = campaigns
        self.rows[Message] = self._message_rows(audiences)

    def _message_rows(self, audiences: list[tuple]) -> Iterator[dict[str, Any]]:
        """Each campaign went to the customers who could lawfully receive it when it was sent."""
        for campaign_id, name, channel, tiers, sent in audiences:
            for member in self.members:
                row = member.row
                contact = member.reach(channel)
                if (
                    contact is None
                    or not contact.usable
                    or self.opted_out_at(member, contact.kind, sent)
                    or row["created_at"] >= sent
                    or (tiers and row["tier"] not in tiers)
                    or (row["closed_on"] is not None and row["closed_on"] <= sent.date())
                    or not self.consent_active(member, channel, sent)
                ):
                    continue
                yield self._message(campaign_id, name, channel, contact, row, sent)

    def _message(
        self,
        campaign_id: int,
        name: str,
        channel: str,
        contact: _Contact,
        row: dict[str, Any],
        sent: datetime,
    ) -> dict[str, Any]:
        if channel == Channel.EMAIL:
            subject = f"{name} | {self.company}"
            body = (
                f"Dear {row['name_en']}, discover {name} at {self.company.rstrip('.')}. To stop "
                f"receiving promotions, click Unsubscribe or email optout@{self.domain} "
                "(free of charge)."
            )
        else:
            subject = ""
            body = (
                f"[{self.company.split()[0]}] {name}: members' offers in store now. "
                "Reply STOP to opt out (free)."
            )
        return {
            "id": next(self.ids["message"]),
            "customer_id": row["id"],
            "campaign_id": campaign_id,
            "staff_id": None,
            "channel": channel,
            "kind": MessageKind.PROMOTIONAL.value,
            "to_address": contact.value,
            "subject": subject,
            "body": body,
            "has_opt_out_notice": True,
            "sent_at": sent,
        }

    def reports(self) -> None:
        rng = self.rng
        heads = {
            code: (ids[0] if ids else self.trainee_id) for code, ids in self.staff_by_dept.items()
        }
        qualifying = {"field": "status", "op": "in", "value": list(QUALIFYING_ORDER_STATUSES)}
        plans: list[tuple[str, str, str, list[str], Any, list[Any], str, str, list[tuple]]] = [
            (
                "Monthly sales by branch",
                "Sales of the last month per branch, for branch reviews.",
                "orders",
                ["branch", "order_no", "ordered_at", "status", "total_hkd"],
                {
                    "all": [
                        qualifying,
                        {"field": "ordered_at", "op": "ge", "value": {"months_ago": 1}},
                    ]
                },
                [["branch", "asc"], ["ordered_at", "asc"]],
                "Monthly branch sales review",
                "sales",
                [("sales", True), ("management", True)],
            ),
            (
                "New members this quarter",
                "Members who joined in the last three months.",
                "customers",
                ["member_no", "name_en", "tier", "district", "joined_on", "home_branch"],
                {"field": "joined_on", "op": "ge", "value": {"months_ago": 3}},
                [["joined_on", "desc"]],
                "Welcome programme planning",
                "marketing",
                [("marketing", False), ("store_operations", False)],
            ),
        ]
        if self.profile == Profile.JEWELLERY:
            plans.append(
                (
                    "High-value orders (HK$120,000 and above)",
                    "Orders at or above the AML threshold, for customer due diligence checks.",
                    "orders",
                    [
                        "order_no",
                        "ordered_at",
                        "customer_member_no",
                        "total_hkd",
                        "status",
                        "branch",
                    ],
                    {"field": "total_hkd", "op": "ge", "value": AML_THRESHOLD_HKD},
                    [["ordered_at", "desc"]],
                    "AML compliance review",
                    "finance",
                    [("finance", True), ("management", False)],
                )
            )
        else:
            plans.append(
                (
                    "Gold and platinum members by branch",
                    "VIP members per home branch, for store managers.",
                    "customers",
                    ["member_no", "name_en", "tier", "home_branch", "spend_12m"],
                    {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
                    [["home_branch", "asc"], ["spend_12m", "desc"]],
                    "VIP service planning",
                    "store_operations",
                    [("store_operations", False), ("management", False)],
                )
            )
        count = rng.randint(2, 3)
        reports, shares = [], []
        for id_, plan in enumerate(plans[:count], start=1):
            name, description, source, columns, filters, sort, purpose, owner_dept, to = plan
            created = datetime.combine(
                self.today - timedelta(days=rng.randint(120, 700)), time(rng.randint(9, 17), 30)
            )
            updated = created + timedelta(days=rng.randint(0, 90))
            owner = heads[owner_dept]
            reports.append(
                {
                    "id": id_,
                    "name": name,
                    "description": description,
                    "source": source,
                    "columns": columns,
                    "filters": filters,
                    "sort": sort,
                    "purpose": purpose,
                    "owner_id": owner,
                    "created_at": created,
                    "updated_at": updated,
                    "is_deleted": False,
                }
            )
            for dept, can_export in to:
                shares.append(
                    {
                        "id": len(shares) + 1,
                        "report_id": id_,
                        "department_id": self.dept_ids[dept],
                        "can_export": can_export,
                        "granted_by_id": owner,
                        "granted_at": created,
                    }
                )
        self.rows[ReportDefinition] = reports
        self.rows[ReportShare] = shares

    # -- writing --

    def insert(self, session: Session) -> None:
        for table in SandboxBase.metadata.sorted_tables:
            model = _MODELS_BY_TABLE.get(table.name)
            rows = iter(self.rows.get(model, ())) if model is not None else iter(())
            # Big tables are generators: rows are built one batch at a time to save memory.
            while batch := list(itertools.islice(rows, _BATCH)):
                session.execute(insert(table), batch)


_MODELS_BY_TABLE: dict[str, type[SandboxBase]] = {
    m.__tablename__: m
    for m in (
        Branch,
        Department,
        StaffUser,
        CollectionNotice,
        Customer,
        ContactPoint,
        ConsentRecord,
        Product,
        SalesOrder,
        OrderLine,
        Campaign,
        Message,
        ReportDefinition,
        ReportShare,
    )
}


def _put_meta(session: Session, values: Mapping[str, str]) -> None:
    session.execute(
        insert(SandboxMeta.__table__), [{"key": k, "value": v} for k, v in values.items()]
    )


def generate(session: Session, spec: GenerationSpec) -> GenerationSummary:
    """Fill an empty sandbox (tables already created) from ``spec``; flushes, never commits."""
    if session.scalar(select(func.count()).select_from(SandboxMeta)):
        raise ValueError("generate() needs an empty sandbox; this one already has data")
    builder = _Builder(spec)
    builder.build()
    builder.insert(session)
    planted = plant_registry.apply_plants(
        session,
        plant_registry.PlantContext(
            seed=spec.seed,
            today=spec.today,
            profile=spec.profile,
            trainee_id=builder.trainee_id,
            domain=builder.domain,
        ),
        [(p.kind, p.count, p.param_dict()) for p in spec.plants],
    )
    _put_meta(
        session,
        {
            "profile": spec.profile,
            "seed": str(spec.seed),
            "company": builder.company,
            "today": spec.today.isoformat(),
            "generator_version": GENERATOR_VERSION,
            "trainee_staff_id": str(builder.trainee_id),
            "customers": str(spec.customers),
            "plants": json.dumps({k: v.ids for k, v in planted.items()}, sort_keys=True),
            "plant_details": json.dumps({k: v.details for k, v in planted.items()}, sort_keys=True),
        },
    )
    session.flush()
    counts = {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in SandboxBase.metadata.sorted_tables
    }
    return GenerationSummary(counts=counts, plants={k: tuple(v.ids) for k, v in planted.items()})
