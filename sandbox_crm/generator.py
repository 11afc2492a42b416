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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from operator import itemgetter
from typing import Any

import faker
from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.orm import Session

from sandbox_crm import catalogue_data as data
from sandbox_crm import plants as plant_registry
from sandbox_crm.areas import (
    area_versions,
    finish_steps,
    load_areas,
    ordered_stages,
)
from sandbox_crm.hk_provider import make_faker
from sandbox_crm.models import (
    Profile,
    SandboxBase,
    SandboxMeta,
)

__all__ = [
    "AML_THRESHOLD_HKD",
    "CHANNEL_CONTACT_KINDS",
    "GENERATOR_VERSION",
    "GenerationSpec",
    "GenerationRun",
    "GenerationSummary",
    "PlantSpec",
    "derive_seed",
    "generate",
]

# Bump whenever the generated data or the schema (tables, indexes) changes for an unchanged spec:
# cached templates are keyed by it, so old templates are never reused for new code.
GENERATOR_VERSION = "3"

# Dealers in precious metals and stones must identify customers at or above this amount.
AML_THRESHOLD_HKD = data.AML_THRESHOLD_HKD

# Which contact points each direct-marketing channel reaches (see catalogue_data).
CHANNEL_CONTACT_KINDS = data.CHANNEL_CONTACT_KINDS

YEARS_OF_MEMBERS = 6
_BATCH = 5_000


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
        """sha256 of the canonical spec, the generator and area versions and the Faker version."""
        payload = {
            "spec": self.canonical(),
            "generator_version": GENERATOR_VERSION,
            # Enabling an area, or changing what one generates, means new templates too.
            "areas": area_versions(),
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


class Weighted:
    """Items with integer weights, drawn by bisecting cumulative weights."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        self.cumulative = tuple(itertools.accumulate(w for _, w in pairs))

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cumulative, rng.randrange(self.cumulative[-1]))]


def chance(rng: random.Random, per_thousand: int) -> bool:
    return rng.randrange(1000) < per_thousand


def moment(rng: random.Random, day: date, first_hour: int = 10, last_hour: int = 21) -> datetime:
    """A time of day on ``day`` within opening hours, to the second."""
    clock = time(rng.randint(first_hour, last_hour), rng.randrange(60), rng.randrange(60))
    return datetime.combine(day, clock)


def day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _company_domain(company: str) -> str:
    skip = {"ltd", "co", "limited", "&", "and"}
    words = [w.strip(".,").lower() for w in company.split()]
    words = ["".join(ch for ch in w if ch.isascii() and ch.isalnum()) for w in words]
    kept = [w for w in words if w and w not in skip][:2]
    return "".join(kept) + ".com.hk"


# --- the generation run -----------------------------------------------------------------------


class GenerationRun:
    """One generation of a sandbox: the spec, the shared random streams and the rows made.

    The enabled areas' stages (``sandbox_crm.areas``) run in their declared order; each puts
    its tables' rows in ``rows`` (model -> rows, a generator for big tables) and may leave facts
    on the run for later stages (the members, the staff by department ...). ``insert`` writes
    every table in dependency order.
    """

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
        self.members: list[Any] = []
        self.ids = {name: itertools.count(1) for name in ("contact", "message")}
        self.trainee_id = 0

    def build(self) -> None:
        """Run every enabled area's generation stages, in their declared order."""
        for stage in ordered_stages():
            stage.function()(self)

    def insert(self, session: Session) -> None:
        """Insert the rows made, table by table in dependency order, in bounded chunks.

        Big tables are generators: rows are built one chunk at a time, converted to tuples with
        the columns' own bind processors (what an ORM or Core insert would store) and written
        with one DB-API ``executemany`` per chunk, without compiling parameters per row.
        """
        by_table = {model.__table__.name: rows for model, rows in self.rows.items()}
        self.rows = {}  # each table's rows are released once written
        connection = session.connection()
        for table in SandboxBase.metadata.sorted_tables:
            rows = iter(by_table.pop(table.name, ()))
            while batch := list(itertools.islice(rows, _BATCH)):
                _insert_chunk(connection, table, batch)


def _insert_chunk(connection: Connection, table: Table, batch: list[dict[str, Any]]) -> None:
    """Insert one chunk of row dicts (all with the same keys) into ``table``."""
    names = list(batch[0])
    missing = [c for c in table.columns if c.name not in batch[0]]
    if any(c.default is not None and not c.default.is_scalar for c in missing):
        connection.execute(insert(table), batch)  # a default computed per row: let Core do it
        return
    dialect = connection.dialect
    defaults = [(c.name, c.default.arg) for c in missing if c.default is not None]
    columns = [table.c[n] for n in names] + [table.c[n] for n, _ in defaults]
    processors = [c.type._cached_bind_processor(dialect) for c in columns]
    fixed = tuple(
        value if proc is None else proc(value)
        for (_, value), proc in zip(defaults, processors[len(names) :], strict=True)
    )
    own = processors[: len(names)]
    if any(own):
        pairs = list(zip(names, own, strict=True))
        values = [
            tuple(row[n] if p is None else p(row[n]) for n, p in pairs) + fixed for row in batch
        ]
    else:
        getter = itemgetter(*names)
        values = [(getter(row) if len(names) > 1 else (getter(row),)) + fixed for row in batch]
    quoted = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    marks = ", ".join("?" for _ in columns)
    name = dialect.identifier_preparer.format_table(table)
    connection.exec_driver_sql(f"INSERT INTO {name} ({quoted}) VALUES ({marks})", values)  # noqa: S608


def _put_meta(session: Session, values: Mapping[str, str]) -> None:
    session.execute(
        insert(SandboxMeta.__table__), [{"key": k, "value": v} for k, v in values.items()]
    )


def generate(session: Session, spec: GenerationSpec) -> GenerationSummary:
    """Fill an empty sandbox (tables already created) from ``spec``; flushes, never commits."""
    if session.scalar(select(func.count()).select_from(SandboxMeta)):
        raise ValueError("generate() needs an empty sandbox; this one already has data")
    load_areas()
    builder = GenerationRun(spec)
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
    for finish in finish_steps():
        finish(session, spec.today)
    session.flush()
    counts = {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in SandboxBase.metadata.sorted_tables
    }
    return GenerationSummary(counts=counts, plants={k: tuple(v.ids) for k, v in planted.items()})
