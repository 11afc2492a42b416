"""The contract every sandbox backend keeps, run against each backend in BACKENDS.

A new backend (PostgreSQL, a schema per sandbox) adds a factory to BACKENDS; the tests only use
the ``SandboxBackend`` interface and the sessions it opens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from sandbox_crm.backends import (
    ChangedKeys,
    SandboxBackend,
    SandboxExists,
    SandboxFrozen,
    SandboxNotFound,
    TemplateNotFound,
    backend_of,
)
from sandbox_crm.backends.sqlite_files import SqliteFileBackend
from sandbox_crm.generator import GenerationSpec
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import ContactPoint, Customer, SandboxBase

BACKENDS: dict[str, Callable[[Path], SandboxBackend]] = {
    "sqlite-files": lambda root: SqliteFileBackend(root / "sandboxes", root / "templates"),
}


def spec(customers: int = 60) -> GenerationSpec:
    """A small sandbox spec."""
    return GenerationSpec(profile="retail", seed=99, customers=customers, today=date(2026, 3, 16))


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxBackend]:
    """A fresh, empty backend of each kind."""
    made = BACKENDS[request.param](tmp_path)
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
        with pytest.raises(OperationalError):
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
            if isinstance(backend, SqliteFileBackend):  # compares inside SQLite, never declines
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
