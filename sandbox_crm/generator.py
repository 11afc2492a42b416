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
import functools
import gc
import hashlib
import itertools
import json
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import faker
from sqlalchemy import Boolean, Column, Connection, Date, DateTime, Table, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

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
    "Rows",
    "derive_seed",
    "generate",
    "reusable",
]

# Bump whenever the generated data or the schema (tables, indexes) changes for an unchanged spec:
# cached templates are keyed by it, so old templates are never reused for new code.
GENERATOR_VERSION = "4"

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


def below(rng: random.Random, n: int) -> int:
    """A whole number in ``[0, n)``: the very draw ``rng.randrange(n)`` makes, without its overhead.

    ``randrange``, ``randint`` and ``choice`` all come down to this rejection sampling over
    ``getrandbits``; the helpers below call it directly, so the stream and the data are
    unchanged while the hot loops pay a third of the cost.
    """
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


class Weighted:
    """Items with integer weights, drawn by bisecting cumulative weights."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        self.cumulative = tuple(itertools.accumulate(w for _, w in pairs))
        self._total = self.cumulative[-1]
        self._bits = self._total.bit_length()

    def pick(self, rng: random.Random) -> Any:
        # below(rng, total), inline: this is the generator's hottest call.
        total, bits = self._total, self._bits
        r = rng.getrandbits(bits)
        while r >= total:
            r = rng.getrandbits(bits)
        return self.items[bisect.bisect_right(self.cumulative, r)]


def chance(rng: random.Random, per_thousand: int) -> bool:
    """True ``per_thousand`` times in a thousand (the draw of ``rng.randrange(1000)``)."""
    r = rng.getrandbits(10)
    while r >= 1000:
        r = rng.getrandbits(10)
    return r < per_thousand


def moment(rng: random.Random, day: date, first_hour: int = 10, last_hour: int = 21) -> datetime:
    """A time of day on ``day`` within opening hours, to the second."""
    hour = first_hour + below(rng, last_hour - first_hour + 1)
    return datetime(day.year, day.month, day.day, hour, below(rng, 60), below(rng, 60))


def day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=below(rng, max(0, (last - first).days) + 1))


def _company_domain(company: str) -> str:
    skip = {"ltd", "co", "limited", "&", "and"}
    words = [w.strip(".,").lower() for w in company.split()]
    words = ["".join(ch for ch in w if ch.isascii() and ch.isalnum()) for w in words]
    kept = [w for w in words if w and w not in skip][:2]
    return "".join(kept) + ".com.hk"


class Rows(Iterable[dict[str, Any]]):
    """A big table's rows, made afresh from compact data each time they are iterated.

    ``make`` gives the rows as tuples of values in ``columns`` order, which the insert writes
    as they are; iterating gives them as dicts, for a stage that reads another's rows
    (``list(run.rows[Model])``). None is kept in between.
    """

    def __init__(
        self,
        columns: Sequence[str],
        make: Callable[[], Iterator[tuple[Any, ...]]],
        count: int | None = None,
    ) -> None:
        self.columns = tuple(columns)
        self._make = make
        self._count = count

    def tuples(self) -> Iterator[tuple[Any, ...]]:
        """The rows as tuples of values, in ``columns`` order."""
        return self._make()

    def count(self) -> int:
        """How many rows there are (given when made, or counted by making them once)."""
        if self._count is None:
            self._count = sum(1 for _ in self._make())
        return self._count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self.columns
        return (dict(zip(names, values, strict=True)) for values in self._make())


def reusable(rows: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Rows that can be read more than once: ``Rows`` and lists as they are, others as a list.

    A stage that reads another's rows streams them from a ``Rows`` (made afresh each time)
    rather than holding them; a one-shot iterator has to be kept, or it is gone once read.
    """
    if isinstance(rows, Rows | list | tuple):
        return rows
    return list(rows)


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
        # The Hong Kong provider itself: the same draws as through ``fake``, without the
        # proxy's attribute look-ups on every call.
        self.hk = self.fake.hk_person.__self__
        self.rng = random.Random(derive_seed(spec.seed, "generator"))  # noqa: S311 - seeded test data, not security
        self.today = spec.today
        self.day0 = datetime.combine(spec.today, time())
        self.profile = spec.profile
        self.company = spec.company or self.rng.choice(data.COMPANY_NAMES[self.profile])
        self.domain = _company_domain(self.company)
        self.rows: dict[type[SandboxBase], Iterable[dict[str, Any]]] = {}
        self.members: Sequence[Any] = []
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
            made = by_table.pop(table.name, ())
            if isinstance(made, Rows):
                tuples = made.tuples()
                while batch := list(itertools.islice(tuples, _BATCH)):
                    _write(connection, table, made.columns, list(zip(*batch, strict=True)))
                continue
            rows = iter(made)
            while batch := list(itertools.islice(rows, _BATCH)):
                _insert_chunk(connection, table, batch)


_PROBE_MOMENT = datetime(2026, 3, 16, 9, 5, 7, 1234)


def _iso_moment(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


@functools.cache
def _fast_processor(column: Column, dialect: Dialect) -> tuple[Callable[[Any], Any] | None, type]:
    """A cheaper bind processor for ``column`` that stores exactly what its own one would.

    SQLite's date and time processors format through a dict of fields, and Boolean's checks
    and converts every value; ``isoformat`` gives the same text, and the driver stores a bool
    as the same integer. Each shortcut is taken only if it agrees with the real processor on a
    probe value, and only for values of that exact type (others go through the real one).
    Returns (processor or None, the type the shortcut is for).
    """
    proc = column.type._cached_bind_processor(dialect)
    if proc is None:
        return None, object
    if isinstance(column.type, Boolean) and proc(True) == 1 and proc(False) == 0:
        return None, bool
    if isinstance(column.type, DateTime) and proc(_PROBE_MOMENT) == _iso_moment(_PROBE_MOMENT):
        return _iso_moment, datetime
    probe_day = _PROBE_MOMENT.date()
    if isinstance(column.type, Date) and proc(probe_day) == probe_day.isoformat():
        return date.isoformat, date
    return proc, object


def _processed(values: list[Any], column: Column, dialect: Dialect) -> list[Any]:
    """One column of a chunk, as the driver should store it."""
    fast, kind = _fast_processor(column, dialect)
    proc = column.type._cached_bind_processor(dialect)
    if proc is None or (fast is None and all(type(v) is kind or v is None for v in values)):
        return values
    if fast is None or kind is object:
        return [proc(v) for v in values]
    return [fast(v) if type(v) is kind else None if v is None else proc(v) for v in values]


def _insert_chunk(connection: Connection, table: Table, batch: list[dict[str, Any]]) -> None:
    """Insert one chunk of row dicts (all with the same keys) into ``table``."""
    names = list(batch[0])
    _write(connection, table, names, [[row[name] for row in batch] for name in names])


def _write(
    connection: Connection, table: Table, names: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """Insert one chunk given column by column (``values[i]`` holds column ``names[i]``).

    The values are converted column by column (what an ORM or Core insert would store) and
    written with one DB-API ``executemany``, without compiling parameters per row.
    """
    count = len(values[0]) if values else 0
    missing = [c for c in table.columns if c.name not in names]
    if any(c.default is not None and not c.default.is_scalar for c in missing):
        # A default computed per row: let Core do it.
        rows = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
        connection.execute(insert(table), rows)
        return
    dialect = connection.dialect
    defaults = [(c.name, c.default.arg) for c in missing if c.default is not None]
    columns = [table.c[n] for n in names] + [table.c[n] for n, _ in defaults]
    own = [_processed(list(v), table.c[n], dialect) for n, v in zip(names, values, strict=True)]
    for name, value in defaults:
        proc = table.c[name].type._cached_bind_processor(dialect)
        own.append([value if proc is None else proc(value)] * count)
    rows = list(zip(*own, strict=True))
    quoted = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    marks = ", ".join("?" for _ in columns)
    name = dialect.identifier_preparer.format_table(table)
    connection.exec_driver_sql(f"INSERT INTO {name} ({quoted}) VALUES ({marks})", rows)  # noqa: S608


def _create_indexes(session: Session) -> None:
    """Create the indexes the schema was made without (after the bulk load), in a fixed order."""
    connection = session.connection()
    for table in SandboxBase.metadata.sorted_tables:
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            connection.execute(CreateIndex(index, if_not_exists=True))


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
    collecting = gc.isenabled()
    # Generation makes millions of small objects and no reference cycles worth collecting:
    # the cyclic collector would only walk them again and again (a tenth of the time).
    gc.disable()
    try:
        builder.build()
        builder.insert(session)
    finally:
        if collecting:
            gc.enable()
    builder.members = []  # the bulk load is in; plants and read models work on the database
    _create_indexes(session)
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
            # The schema it was made with (sandbox_crm.backends.upgrade brings it forward).
            "area_versions": json.dumps(area_versions(), sort_keys=True),
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
