"""The data subject requests area: the planted request, each operation (done and refused), the
deadline view and the request page, the DAR, DCR and ACC rules on it, and its determinism."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from sandbox_crm.generator import GenerationSpec, PlantSpec, generate
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import Customer, SandboxBase
from sandbox_crm.requests.models import (
    DataDisclosure,
    DataRequest,
)
from tests.graders_helpers import Attempt

TODAY = date(2026, 11, 16)
ACCESS = "DR-900001"
CORRECTION = "DR-900002"
SPOUSE, SPOUSE_MOBILE = "Lam Chi Keung", "61234567"
REQUEST_PLANTS = (
    PlantSpec.of(
        "data_request",
        1,
        reference=ACCESS,
        days_ago=36,
        other_name=SPOUSE,
        other_mobile=SPOUSE_MOBILE,
    ),
    PlantSpec.of(
        "data_request",
        1,
        reference=CORRECTION,
        request_kind="correction",
        days_ago=5,
        correction_field="district",
        correction_value="Sai Kung",
        disclosures=2,
        old_disclosures=1,
    ),
)
ALL_ITEMS = ["profile", "contact_details", "consents", "orders", "notes"]


def requests_spec(**changes: object) -> GenerationSpec:
    """A small retail sandbox with an access request near day 40 and a correction request."""
    fields: dict[str, object] = {
        "profile": "retail",
        "seed": 1072,
        "customers": 80,
        "today": TODAY,
        "plants": REQUEST_PLANTS,
    }
    fields.update(changes)
    return GenerationSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return requests_spec()


def _generated(spec: GenerationSpec) -> Session:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SandboxBase.metadata.create_all(engine)
    session = Session(engine)
    generate(session, spec)
    return session


def _rows(session: Session, model: type[SandboxBase]) -> list[tuple]:
    table = model.__table__
    return [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key))]


def _request(attempt: Attempt, reference: str) -> DataRequest:
    return attempt.session.scalars(
        select(DataRequest).where(DataRequest.reference == reference)
    ).one()


def _released(attempt: Attempt, **respond: object) -> None:
    """Verify, compile, redact the spouse and send the copy, as a competent officer would."""
    attempt.do(
        "verify_requester_identity",
        reference=ACCESS,
        method="identity_document_seen",
        evidence="HKID card sighted at the counter, name and photo match; no copy kept",
    )
    attempt.do("compile_access_copy", reference=ACCESS, items=ALL_ITEMS)
    attempt.do("redact_access_copy", reference=ACCESS, text=SPOUSE)
    attempt.do("redact_access_copy", reference=ACCESS, text="6123 4567")
    attempt.do(
        "respond_to_request", reference=ACCESS, outcome="copy_provided", channel="post", **respond
    )


# --- generation -------------------------------------------------------------------------------


def test_requests_are_deterministic_and_leave_other_sandboxes_as_they_were():
    spec = requests_spec()
    first, second = _generated(spec), _generated(spec)
    without = _generated(requests_spec(plants=()))
    try:
        for model in (DataRequest, DataDisclosure):
            made = _rows(first, model)
            assert made and made == _rows(second, model), model.__name__
            assert not _rows(without, model), model.__name__
        assert _rows(first, Customer) == _rows(second, Customer)
    finally:
        for session in (first, second, without):
            session.close()


def test_the_planted_access_request_is_36_days_old_with_the_spouse_in_the_notes(attempt: Attempt):
    found = _request(attempt, ACCESS)
    assert found.received_on == TODAY - timedelta(days=36)
    assert found.due_on == TODAY + timedelta(days=4)
    customer = attempt.session.get_one(Customer, found.customer_id)
    assert SPOUSE in customer.notes and "6123 4567" in customer.notes
    details = sandbox_info(attempt.session).plant_details["data_request"]
    assert details["entity"] == "data_request"
    with pytest.raises(ValueError, match="DR-9"):
        PlantSpec.of("data_request", 1, reference="X-1")
