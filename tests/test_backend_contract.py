"""The contract every sandbox backend keeps, run against each backend in BACKENDS.

A new backend (PostgreSQL, a schema per sandbox) adds a factory to BACKENDS; the tests only use
the ``SandboxBackend`` interface and the sessions it opens.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from sandbox_crm.backends import (
    ChangedKeys,
    SandboxBackend,
    SandboxExists,
    SandboxFrozen,
    SandboxNotFound,
    TemplateNotFound,
    backend_of,
    make_backend,
)
from sandbox_crm.backends.postgres_schemas import DEFAULT_SPARES, PostgresSchemaBackend
from sandbox_crm.backends.sqlite_files import SqliteFileBackend
from sandbox_crm.generator import GenerationSpec
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import ContactPoint, Customer, SandboxBase, StaffUser
from sandbox_crm.operations import apply_operation
from tests.test_postgres import postgres_url  # noqa: F401  (the throwaway cluster fixture)

_databases = itertools.count()


def _postgres_backend(root: Path, url: str, spares: int = 0) -> PostgresSchemaBackend:
    """A backend on a new, empty database of the throwaway cluster (no spares by default)."""
    name = f"contract_{next(_databases)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return PostgresSchemaBackend(url.rsplit("/", 1)[0] + "/" + name, spares=spares)


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], SandboxBackend]] = {
    "sqlite-files": lambda root, _: SqliteFileBackend(root / "sandboxes", root / "templates"),
    "postgres-schemas": lambda root, request: _postgres_backend(
        root, request.getfixturevalue("postgres_url")
    ),
}
MARKS = {"postgres-schemas": [pytest.mark.postgres]}


def spec(customers: int = 60) -> GenerationSpec:
    """A small sandbox spec."""
    return GenerationSpec(profile="retail", seed=99, customers=customers, today=date(2026, 3, 16))


@pytest.fixture(params=[pytest.param(name, marks=MARKS.get(name, [])) for name in sorted(BACKENDS)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxBackend]:
    """A fresh, empty backend of each kind."""
    made = BACKENDS[request.param](tmp_path, request)
    yield made
    made.dispose()


def test_it_implements_the_interface(backend):
    assert isinstance(backend, SandboxBackend)


def test_create_from_template_and_open_read_write(backend):
    backend.create("one", spec(), clock_mode="stepped")
    assert backend.exists("one") and backend.keys() == ["one"]
    assert backend.template_keys() == [spec().cache_key()]
    assert backend.has_template(spec().cache_key())
    with backend.session("one") as session:
        assert backend_of(session) is backend
        assert sandbox_info(session).clock_mode == "stepped"
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        customer_id = customer.id
        customer.notes = "changed"
        session.commit()
    with backend.session("one", read_only=True) as session:
        assert session.get(Customer, customer_id).notes == "changed"
    with backend.template_session_for_key(spec().cache_key()) as template:
        assert template.get(Customer, customer_id).notes != "changed"
    with pytest.raises(SandboxExists):
        backend.create("one", spec())


def test_a_clone_records_its_template_and_variant_but_the_template_does_not(backend):
    backend.create("one", spec(), variant=2)
    backend.create("two", spec())
    with backend.session("one", read_only=True) as session:
        info = sandbox_info(session)
        assert (info.template_key, info.variant) == (spec().cache_key(), 2)
    with backend.session("two", read_only=True) as session:
        info = sandbox_info(session)
        assert (info.template_key, info.variant) == (spec().cache_key(), None)
    with backend.template_session_for_key(spec().cache_key()) as template:
        info = sandbox_info(template)
        assert (info.template_key, info.variant) == (None, None)


def test_read_only_sessions_cannot_write(backend):
    backend.create("one", spec())
    with backend.session("one", read_only=True) as session:
        session.scalars(select(Customer)).first().notes = "x"
        with pytest.raises(DBAPIError):  # SQLite: a read-only file; PostgreSQL: read-only mode
            session.commit()


def test_freeze_refuses_read_write_and_is_idempotent(backend):
    backend.create("one", spec())
    assert not backend.is_frozen("one")
    backend.freeze("one")
    backend.freeze("one")
    assert backend.is_frozen("one")
    with pytest.raises(SandboxFrozen), backend.session("one"):
        pass
    with backend.session("one", read_only=True) as session:
        assert sandbox_info(session).frozen_at


def test_missing_sandboxes_and_templates(backend):
    with pytest.raises(SandboxNotFound):
        backend.is_frozen("nobody")
    with pytest.raises(SandboxNotFound), backend.session("nobody"):
        pass
    with pytest.raises(TemplateNotFound), backend.template_session_for_key("0" * 64):
        pass
    assert not backend.exists("nobody")
    backend.delete("nobody")  # no error


def test_changed_keys_against_the_template(backend):
    backend.create("one", spec())
    with backend.session("one") as session:
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        customer.notes = "changed"
        contact = session.scalars(select(ContactPoint).order_by(ContactPoint.id)).first()
        customer_id, contact_id = customer.id, contact.id
        session.delete(contact)
        session.commit()
    backend.freeze("one")
    expected = {
        "customer": ChangedKeys([], [], {customer_id}),
        "contact_point": ChangedKeys([], [contact_id], set()),
        "report_share": ChangedKeys([], [], set()),
    }
    with (
        backend.template_session(spec()) as template,
        backend.session("one", read_only=True) as final,
    ):
        for name, wanted in expected.items():
            table = SandboxBase.metadata.tables[name]
            found = backend.changed_keys(template, final, table, [c.name for c in table.columns])
            # A backend may leave a comparison to the caller (None), but never get it wrong.
            assert found in (None, wanted), name
            # Both compare where the data is, and never decline a single-column key.
            assert found == wanted, name


def test_delete_and_purge(backend):
    backend.create("kept", spec())
    backend.create("old", spec())
    backend.freeze("old")
    assert backend.purge(timedelta(days=-1), dry_run=True) == ["old"]
    assert backend.keys() == ["kept", "old"]
    assert backend.purge(timedelta(days=-1)) == ["old"]
    assert backend.keys() == ["kept"]
    backend.delete("kept")
    assert backend.keys() == []


def test_template_cache_purge_keeps_what_is_referred_to(backend):
    backend.ensure_template(spec())
    backend.ensure_template(spec(customers=61))
    kept = spec().cache_key()
    other = spec(customers=61).cache_key()
    assert backend.purge_templates({kept}, dry_run=True) == [other]
    assert backend.purge_templates({kept}) == [other]
    assert backend.template_keys() == [kept]
    backend.delete_template(kept)
    assert backend.template_keys() == []


# --- change tracking: what grading reads instead of comparing whole tables -------------------


def _compare_all(backend: SandboxBackend, key: str) -> dict[str, ChangedKeys | None]:
    """changed_keys for every table of the schema, the sandbox against its template."""
    with (
        backend.template_session(spec()) as template,
        backend.session(key, read_only=True) as final,
    ):
        return {
            name: backend.changed_keys(template, final, table, [c.name for c in table.columns])
            for name, table in SandboxBase.metadata.tables.items()
        }


def _tracked(backend: SandboxBackend, key: str) -> dict[str, set]:
    with backend.session(key, read_only=True) as final:
        found = {name: backend.tracked_keys(final, name) for name in SandboxBase.metadata.tables}
    assert all(keys is not None for keys in found.values()), "a new sandbox tracks changes"
    return {name: set(keys) for name, keys in found.items() if keys}


def test_a_fresh_clone_has_tracked_only_its_clock(backend):
    backend.create("one", spec())
    assert set(_tracked(backend, "one")) <= {"sandbox_meta"}
    for name, found in _compare_all(backend, "one").items():
        if name != "sandbox_meta":
            assert found in (None, ChangedKeys([], [], set())), name


def test_every_kind_of_write_is_tracked_and_compared_exactly(backend):
    backend.create("one", spec())
    with backend.session("one") as session:
        actor = session.get(StaffUser, sandbox_info(session).trainee_staff_id)
        first, second, third = session.scalars(select(Customer.id).order_by(Customer.id).limit(3))
        # Through operations: an update, and inserts (a report and its audit event).
        apply_operation(session, actor, "update_customer", {"customer_id": first, "notes": "x"})
        report = apply_operation(
            session,
            actor,
            "create_report",
            {"name": "Tracked", "source": "customers", "columns": ["member_no"], "filters": {}},
        )
        session.commit()
        report_id = report.id
        # Through raw SQL, as a plant or a repair script writes (no trainee can).
        contact = session.scalar(
            select(ContactPoint.id).where(ContactPoint.customer_id == third).limit(1)
        )
        raw = session.connection()
        raw.execute(text("UPDATE customer SET notes = 'planted' WHERE id = :id"), {"id": second})
        raw.execute(text("DELETE FROM contact_point WHERE id = :id"), {"id": contact})
        new_contact = raw.execute(
            text(
                "INSERT INTO contact_point (customer_id, kind, value, is_primary, is_invalid, "
                "opted_out) VALUES (:c, 'phone', '2345 6789', false, false, false) RETURNING id"
            ),
            {"c": third},
        ).scalar_one()
        # Changed and changed back: tracked, but not a difference.
        raw.execute(text("UPDATE customer SET tier = tier || '?' WHERE id = :id"), {"id": third})
        raw.execute(
            text("UPDATE customer SET tier = rtrim(tier, '?') WHERE id = :id"), {"id": third}
        )
        session.commit()
    tracked = _tracked(backend, "one")
    assert {first, second, third} <= tracked["customer"]
    assert {contact, new_contact} <= tracked["contact_point"]
    assert report_id in tracked["report_definition"]
    assert tracked["audit_event"]
    found = _compare_all(backend, "one")
    assert found["customer"] in (None, ChangedKeys([], [], {first, second}))
    assert found["contact_point"] in (None, ChangedKeys([new_contact], [contact], set()))
    assert found["report_definition"] in (None, ChangedKeys([report_id], [], set()))
    assert found["order_line"] in (None, ChangedKeys([], [], set()))


def test_every_table_of_the_schema_is_tracked(backend):
    """Tables come from the metadata: a new area's tables are tracked without edits."""
    backend.create("one", spec())
    written: dict[str, object] = {}
    with backend.session("one") as session:
        for table in SandboxBase.metadata.sorted_tables:
            if len(table.primary_key.columns) != 1:
                continue  # composite keys are not tracked (compared in full)
            (pk,) = table.primary_key.columns
            first = session.scalar(select(pk).order_by(pk).limit(1))
            if first is not None:
                session.execute(table.update().where(pk == first).values({pk.name: pk}))
                written[table.name] = first
        session.commit()
    assert {"customer", "consent_record", "order_line", "staff_user"} <= set(written)
    tracked = _tracked(backend, "one")
    for name, key in written.items():
        assert key in tracked.get(name, set()), name
    assert _tracked(backend, "one") == tracked  # reading it changes nothing
    for name, found in _compare_all(backend, "one").items():
        if name != "sandbox_meta":
            assert found in (None, ChangedKeys([], [], set())), name


def test_a_read_only_session_leaves_nothing_behind_for_the_next(backend):
    """Pooled connections: a read-only session's mode does not leak into later writes."""
    backend.create("one", spec())
    with backend.session("one") as session:
        session.scalars(select(Customer).order_by(Customer.id)).first().notes = "written"
        session.commit()
    with backend.session("one", read_only=True) as session:
        session.scalars(select(Customer)).first()
    backend.freeze("one")
    backend.create("two", spec())
    assert backend.is_frozen("one") and not backend.is_frozen("two")


@pytest.mark.postgres
def test_postgres_starts_by_claiming_a_spare_clone_and_makes_another(request, tmp_path):
    backend = _postgres_backend(tmp_path, request.getfixturevalue("postgres_url"), spares=1)
    try:
        backend.ensure_template(spec())
        backend.settle()  # waits for the spare being made in the background
        assert backend.top_up_spares(spec().cache_key()) == 0  # already one ready
        with backend.engine.connect() as connection:
            (spare,) = connection.exec_driver_sql(
                "SELECT schema_name FROM sandbox_registry.schemas WHERE kind = 'spare'"
            ).scalars()
        assert backend.create("one", spec(), clock_mode="stepped", variant=3) == spare
        with backend.session("one", read_only=True) as session:
            info = sandbox_info(session)
            assert (info.clock_mode, info.variant) == ("stepped", 3)
        assert set(_tracked(backend, "one")) == {"sandbox_meta"}
        backend.settle()
        with backend.engine.connect() as connection:
            spares = connection.exec_driver_sql(
                "SELECT schema_name FROM sandbox_registry.schemas WHERE kind = 'spare'"
            ).scalars()
            assert len([s for s in spares if s != spare]) == 1
        assert backend.keys() == ["one"]
        backend.delete_template(spec().cache_key())
        with backend.engine.connect() as connection:
            left = connection.exec_driver_sql(
                "SELECT count(*) FROM sandbox_registry.schemas WHERE kind <> 'sandbox'"
            ).scalar()
        assert left == 0
    finally:
        backend.dispose()


@pytest.mark.postgres
def test_postgres_keeps_the_configured_number_of_spares_ready(request, tmp_path):
    backend = _postgres_backend(tmp_path, request.getfixturevalue("postgres_url"), spares=3)

    def spares() -> int:
        with backend.engine.connect() as connection:
            return connection.exec_driver_sql(
                "SELECT count(*) FROM sandbox_registry.schemas WHERE kind = 'spare'"
            ).scalar()

    try:
        key = spec().cache_key()
        backend.ensure_template(spec())
        backend.settle()
        made = backend.top_up_spares(key)
        assert spares() == 3 and made <= 3
        assert backend.top_up_spares(key) == 0  # nothing missing
        backend.create("one", spec())
        backend.create("two", spec())
        backend.settle()  # the two claimed are made again in the background
        assert spares() == 3
    finally:
        backend.dispose()


def test_the_spare_count_reaches_the_postgres_backend():
    url = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # never connected to here
    made = [
        make_backend("postgres", sandbox_dir="", template_dir="", database_url=url, spares=n)
        for n in (7, None, -1)
    ]
    try:
        assert [backend.spares for backend in made] == [7, DEFAULT_SPARES, 0]
    finally:
        for backend in made:
            backend.dispose()
