"""Pytest fixtures for tests that need a generated sandbox CRM.

The root conftest registers this module as a plugin for the whole suite.
A test that needs different data overrides ``sandbox_spec``. Templates are cached for the whole
test run, so each test gets a fresh clone of identical data in milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import StaffUser
from sandbox_crm.store import SandboxStore

SANDBOX_TODAY = date(2026, 3, 16)
SANDBOX_KEY = "test-sandbox"


def small_spec(**changes: object) -> GenerationSpec:
    """The small retail spec the fixtures use, with any field replaced."""
    fields: dict[str, object] = {
        "profile": "retail",
        "seed": 4207,
        "customers": 150,
        "today": SANDBOX_TODAY,
        "plants": (PlantSpec.of("opted_out_in_segment", 3),),
    }
    fields.update(changes)
    return GenerationSpec(**fields)  # type: ignore[arg-type]


def shared_temp_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder for the whole run: shared by every pytest-xdist worker, made once."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.mktemp(name)
    # Each worker's base folder sits in the run's own folder; the shared one goes beside them.
    folder = tmp_path_factory.getbasetemp().parent / name
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def sandbox_template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One template cache for the whole test run (templates are built under a file lock)."""
    return shared_temp_dir(tmp_path_factory, "sandbox-templates")


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    """A small retail sandbox: 150 customers, three opted out in the gold/platinum segment."""
    return small_spec()


@pytest.fixture
def sandbox_store(tmp_path: Path, sandbox_template_dir: Path) -> Iterator[SandboxStore]:
    """A sandbox store with sandboxes in this test's tmp_path and the shared template cache."""
    store = SandboxStore(tmp_path / "sandboxes", sandbox_template_dir)
    yield store
    store.dispose()


@pytest.fixture
def sandbox_session(sandbox_store: SandboxStore, sandbox_spec: GenerationSpec) -> Iterator[Session]:
    """A session on a fresh copy of the generated sandbox, its clock started in stepped mode."""
    sandbox_store.create(SANDBOX_KEY, sandbox_spec, clock_mode="stepped")
    with sandbox_store.session(SANDBOX_KEY) as session:
        yield session


@pytest.fixture
def sandbox_actor(sandbox_session: Session) -> StaffUser:
    """The trainee's own staff user in the sandbox."""
    return sandbox_session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()
