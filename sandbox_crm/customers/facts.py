"""The customer read model and name search index, kept in step with the data they summarise.

``customer_facts`` holds each customer's computed report fields (primary contact points, current
direct-marketing consent per channel, 12-month spend and order count, last order date) as of one
sandbox date, stored in the meta key ``customer_facts_as_of``. The values are computed by the
very expressions the customers source uses without a read model, so the two cannot drift apart
by definition; what keeps them in step is *when* they are recomputed:

- at the end of generation, for every customer in one INSERT ... SELECT (``finish``);
- after every flush that adds, changes or deletes a customer, contact point, consent record or
  order, for the customers concerned, in the same transaction (a session event, so that every
  operation, plant and test fixture is covered without each calling a helper);
- when the sandbox date is no longer the stored one (the clock moved on, so the 12-month
  window did too): on the next such flush, or when a list page asks for it
  (``ensure_current``), for the customers with an order or consent record between the two
  windows' edges; everyone else's values are the same on both dates (``_moved_customers``).

A query for any other date than the stored one simply computes the fields (``sources``), so a
frozen sandbox read on a later day is still right, only slower.

``customer_search`` is an SQLite FTS5 table with the trigram tokeniser (substring matches in
English and Chinese, ignoring case) over names, member number, primary e-mail and mobile; its
rowid is the customer id. It exists only on SQLite; elsewhere search falls back to LIKE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    column,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, DropIndex
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.customers.models import ConsentRecord, ContactPoint, Customer, CustomerFacts
from sandbox_crm.customers.sources import CUSTOMER_FIELDS, facts_date
from sandbox_crm.customers.sources import FACTS_META_KEY as META_KEY
from sandbox_crm.models import SandboxMeta
from sandbox_crm.sources import QueryScope, spend_window

__all__ = [
    "FACT_FIELDS",
    "META_KEY",
    "SEARCH_TABLE",
    "ensure_current",
    "facts_date",
    "finish",
    "has_search_index",
    "matching_customers",
    "phrase_match",
    "refresh_facts",
    "search_match",
]

SEARCH_TABLE = "customer_search"
SEARCH_COLUMNS = ("name_en", "name_zh", "member_no", "email", "mobile")

FACT_FIELDS: tuple[str, ...] = (
    "email",
    "email_invalid",
    "mobile",
    "mobile_invalid",
    "address",
    "dm_email",
    "dm_sms",
    "dm_phone",
    "dm_post",
    "spend_12m",
    "orders_12m",
    "last_order_date",
)
"""The customers source's computed fields that the read model stores (same names)."""

_CHUNK = 500


def _put_date(connection: Session | Connection, as_of: date) -> None:
    value = as_of.isoformat()
    table = SandboxMeta.__table__
    result = connection.execute(update(table).where(table.c.key == META_KEY).values(value=value))
    if not result.rowcount:
        connection.execute(insert(table).values(key=META_KEY, value=value))


def _computed_select(as_of: date) -> Any:
    """SELECT customer id and every stored field, computed as the source computes them."""
    scope = QueryScope(as_of)
    columns = [CUSTOMER_FIELDS[name].expr(scope).label(name) for name in FACT_FIELDS]
    return select(Customer.id.label("customer_id"), *columns).select_from(Customer)


def _moved_customers(connection: Session | Connection, old: date, new: date) -> set[int]:
    """Customers whose computed values may differ between dates ``old`` and ``new``.

    Contact points carry no date; a consent value changes only through a record captured
    between the two days' ends; spend, order count and last order only through an order
    between the two windows' starts or between their ends. Everyone else's values are the same
    on both dates.
    """
    from sandbox_crm.orders.models import SalesOrder

    (old_start, old_end), (new_start, new_end) = spend_window(old), spend_window(new)
    starts, ends = sorted((old_start, new_start)), sorted((old_end, new_end))
    ordered = SalesOrder.ordered_at
    orders = select(SalesOrder.customer_id).where(
        or_(ordered.between(*starts), ordered.between(*ends))
    )
    consents = select(ConsentRecord.customer_id).where(ConsentRecord.captured_at.between(*ends))
    return set(connection.execute(orders.union(consents)).scalars())


def _is_sqlite(connection: Session | Connection) -> bool:
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    return bind.dialect.name == "sqlite"


def has_search_index(connection: Session | Connection) -> bool:
    """Whether this sandbox has the FTS5 name search table."""
    if not _is_sqlite(connection):
        return False
    found = connection.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": SEARCH_TABLE},
    ).first()
    return found is not None


SEARCH = table(SEARCH_TABLE, column("rowid"), *(column(name) for name in SEARCH_COLUMNS))
"""The FTS5 table as SQLAlchemy sees it (it is created by ``finish``, not by the metadata)."""


def _refresh_search(connection: Session | Connection, ids: list[int] | None) -> None:
    facts = CustomerFacts.__table__
    rows = select(
        Customer.id,
        Customer.name_en,
        func.coalesce(Customer.name_zh, ""),
        Customer.member_no,
        func.coalesce(facts.c.email, ""),
        func.coalesce(facts.c.mobile, ""),
    ).select_from(Customer.__table__.join(facts, facts.c.customer_id == Customer.id))
    names = ["rowid", *SEARCH_COLUMNS]
    if ids is None:
        connection.execute(delete(SEARCH))
        connection.execute(insert(SEARCH).from_select(names, rows))
        return
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        connection.execute(delete(SEARCH).where(SEARCH.c.rowid.in_(chunk)))
        connection.execute(insert(SEARCH).from_select(names, rows.where(Customer.id.in_(chunk))))


def refresh_facts(
    connection: Session | Connection, as_of: date, customer_ids: Iterable[int] | None = None
) -> None:
    """Recompute the read model (and search index) as of ``as_of``: every customer or some.

    On a new date, the customers whose values depend on the day are recomputed too, so the
    whole table then holds ``as_of``'s values.
    """
    table = CustomerFacts.__table__
    stored = facts_date(connection)
    ids = None if customer_ids is None else set(customer_ids)
    if stored is not None and stored != as_of:
        # The date moved: bring along everyone whose values may depend on the day.
        ids = (ids or set()) | _moved_customers(connection, stored, as_of)
    ids = None if ids is None else sorted(ids)
    computed = _computed_select(as_of)
    if ids is None:
        # Filling the whole table: build its indexes once at the end rather than row by row
        # (in name order, so that the same data gives the same file).
        indexes = sorted(table.indexes, key=lambda index: str(index.name))
        connection.execute(delete(table))
        for index in indexes:
            connection.execute(DropIndex(index))
        connection.execute(insert(table).from_select(["customer_id", *FACT_FIELDS], computed))
        for index in indexes:
            connection.execute(CreateIndex(index))
    else:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            connection.execute(delete(table).where(table.c.customer_id.in_(chunk)))
            connection.execute(
                insert(table).from_select(
                    ["customer_id", *FACT_FIELDS], computed.where(Customer.id.in_(chunk))
                )
            )
    _put_date(connection, as_of)
    if has_search_index(connection):
        _refresh_search(connection, ids)


CREATE_SEARCH = (
    "CREATE VIRTUAL TABLE customer_search "
    "USING fts5(name_en, name_zh, member_no, email, mobile, tokenize='trigram')"
)


def _create_search_index(session: Session) -> None:
    session.execute(text(CREATE_SEARCH))


def finish(session: Session, today: date) -> None:
    """End of generation: create the search index and fill both for every customer."""
    session.flush()
    if _is_sqlite(session) and not has_search_index(session):
        _create_search_index(session)
    refresh_facts(session, today)


def _sandbox_today(session: Session) -> date | None:
    from sandbox_crm.clock import sandbox_today

    try:
        return sandbox_today(session)
    except RuntimeError:
        return None


def ensure_current(session: Session) -> bool:
    """Recompute every customer's facts if the sandbox date has moved; True if it did."""
    stored = facts_date(session)
    today = _sandbox_today(session) if stored is not None else None
    if stored is None or today is None or today == stored:
        return False
    refresh_facts(session, today, ())
    return True


# --- keeping in step with every change ----------------------------------------------------------

_OWNED = (ContactPoint, ConsentRecord)


def _customer_ids(objects: Iterable[Any]) -> set[int]:
    """Customers whose facts or search entry the flushed objects may change."""
    from sandbox_crm.orders.models import SalesOrder

    ids: set[int] = set()
    for obj in objects:
        if isinstance(obj, Customer):
            if obj.id is not None:
                ids.add(obj.id)
        elif isinstance(obj, (*_OWNED, SalesOrder)):
            history = inspect(obj).attrs.customer_id.history
            ids.update(v for v in (*history.added, *history.unchanged, *history.deleted) if v)
            if obj.customer_id is not None:
                ids.add(obj.customer_id)
    return ids


_PENDING = "customer_facts.pending"


@event.listens_for(Session, "after_flush")
def _note_changed_customers(session: Session, _flush_context: Any) -> None:
    """Remember the customers this flush changed (the lists are gone after it)."""
    ids = _customer_ids([*session.new, *session.dirty, *session.deleted])
    if ids:
        session.info.setdefault(_PENDING, set()).update(ids)


@event.listens_for(Session, "after_flush_postexec")
def _refresh_changed_customers(session: Session, _flush_context: Any) -> None:
    """Bring the changed customers' facts up to date in the flush's own transaction."""
    ids = session.info.pop(_PENDING, None)
    if not ids:
        return
    connection = session.connection()
    stored = facts_date(connection)
    if stored is None:
        return
    today = _sandbox_today(session) or stored
    existing = set(
        connection.execute(select(Customer.id).where(Customer.id.in_(sorted(ids)))).scalars()
    )
    refresh_facts(connection, today, existing)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, CustomerFacts):
            session.expire(obj)


@event.listens_for(Session, "after_soft_rollback")
def _forget_changed_customers(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def matching_customers(match: str, key: Any = None) -> ColumnElement[bool]:
    """SQL: the customer is among the search index's matches for ``match`` (see search_match).

    ``key`` is the column holding the customer id (default: the customer's own id).
    """
    found = select(SEARCH.c.rowid).where(text("customer_search MATCH :match"))
    return (Customer.id if key is None else key).in_(found.params(match=match))


def _quoted(text: str) -> str:
    """``text`` as one FTS5 string (NULs dropped: the index's query parser stops at one)."""
    return '"' + text.replace("\x00", "").replace('"', '""') + '"'


def phrase_match(query: str, columns: Sequence[str]) -> str | None:
    """An FTS5 MATCH for ``query`` as a substring of any of ``columns``; None if too short."""
    q = query.strip()
    if len(q) < 3:
        return None
    unknown = set(columns) - set(SEARCH_COLUMNS)
    if unknown:
        raise ValueError(f"not in the search index: {', '.join(sorted(unknown))}")
    return f"{{{' '.join(columns)}}} : {_quoted(q)}"


def search_match(query: str, *, member_no_only: bool = False) -> str | None:
    """An FTS5 MATCH expression for ``query`` as the customer list searches, or None.

    Trigrams need at least three characters; shorter text returns None (search with LIKE).
    Text with a space cannot be in an e-mail address or member number; digits also search the
    mobile number (stored as 8 digits).
    """
    q = query.strip()
    if len(q) < 3:
        return None
    phrase = _quoted(q)
    if member_no_only:
        return f"member_no : {phrase}"
    columns = "name_en name_zh" if " " in q else "name_en name_zh member_no email"
    parts = [f"{{{columns}}} : {phrase}"]
    digits = "".join(q.split()).replace("-", "").replace("(", "").replace(")", "")
    digits = digits.removeprefix("+852")
    if digits.isdigit() and len(digits) >= 3:
        parts.append(f'mobile : "{digits}"')
    return " OR ".join(parts)
