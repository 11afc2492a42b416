"""Scaffolding the area test modules share: a generated sandbox in memory, a table's rows, and
the ``client`` and ``db`` fixtures of an area's pages.

An area module takes the page fixtures with ``client, db = area_page_fixtures()``: they use the
module's own ``sandbox_spec``, and the names stay local to the modules that ask for them (the
platform's tests have a ``client`` of their own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from sandbox_crm.generator import GenerationSpec, generate
from sandbox_crm.models import SandboxBase
from sandbox_crm.store import SandboxStore
from tests.test_crm_web import SANDBOX_KEY, _make_app


def generated(spec: GenerationSpec) -> Session:
    """A session on an in-memory sandbox generated from ``spec``."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SandboxBase.metadata.create_all(engine)
    session = Session(engine)
    generate(session, spec)
    return session


def table_rows(session: Session, model: type[SandboxBase]) -> list[tuple]:
    """Every row of the model's table, in primary-key order, to compare two sandboxes."""
    table = model.__table__
    return [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key))]


def area_page_fixtures() -> tuple[Any, Any]:
    """The ``client`` (the CRM's pages on a fresh sandbox) and ``db`` fixtures of an area."""

    @pytest.fixture
    def client(sandbox_store: SandboxStore, sandbox_spec: GenerationSpec) -> FlaskClient:
        sandbox_store.create(SANDBOX_KEY, sandbox_spec, clock_mode="stepped")
        return _make_app(sandbox_store).test_client()

    @pytest.fixture
    def db(sandbox_store: SandboxStore) -> Iterator[Callable[[], Session]]:
        """Open a fresh session on the sandbox to check what the requests committed."""
        stack = ExitStack()

        def open_session() -> Session:
            return stack.enter_context(sandbox_store.session(SANDBOX_KEY))

        yield open_session
        stack.close()

    return client, db
