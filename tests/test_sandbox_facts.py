"""Typed sandbox facts and the one rule for a customer's current consent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from sandbox_crm.consent import (
    current_consent,
    current_consent_status,
    current_status_expression,
    latest_consents,
    latest_per_customer,
)
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import ConsentRecord, Customer, SandboxBase, SandboxMeta, StaffUser

SANDBOX_TODAY = date(2026, 3, 16)  # the sandbox fixtures' date


def test_sandbox_info_reads_the_generated_facts(sandbox_session):
    info = sandbox_info(sandbox_session)
    trainee = sandbox_session.scalars(select(StaffUser).where(StaffUser.is_trainee)).one()
    assert info.today == SANDBOX_TODAY
    assert info.trainee_staff_id == trainee.id
    assert info.company and info.profile == "retail" and info.seed == 4207
    assert info.customers == 150
    assert info.clock_mode == "stepped" and info.clock_date == SANDBOX_TODAY
    assert len(info.plants["opted_out_in_segment"]) == 3
    assert info.planted_customers() == set(info.plants["opted_out_in_segment"])


def test_sandbox_info_of_an_empty_or_damaged_meta_table():
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SandboxBase.metadata.create_all(engine)
    with Session(engine) as session:
        assert sandbox_info(session).today is None
        session.add_all(
            [
                SandboxMeta(key="plants", value="{not json"),
                SandboxMeta(key="trainee_staff_id", value="seven"),
                SandboxMeta(key="today", value="2026-03-16"),
            ]
        )
        session.flush()
        info = sandbox_info(session)
        assert info.plants == {} and info.trainee_staff_id is None
        assert info.today == date(2026, 3, 16)
    engine.dispose()


# --- the current consent ----------------------------------------------------------------------


@pytest.fixture
def session() -> Iterator[Session]:
    """An empty in-memory sandbox with two customers."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SandboxBase.metadata.create_all(engine)
    with Session(engine) as session:
        for no in (1, 2):
            session.add(
                Customer(
                    id=no,
                    member_no=f"M0000000{no}",
                    name_en=f"Customer {no}",
                    district="Sha Tin",
                    region="New Territories",
                    tier="classic",
                    joined_on=date(2021, 4, 1),
                    notes="",
                    created_at=datetime(2021, 4, 1),
                    updated_at=datetime(2021, 4, 1),
                )
            )
        session.flush()
        yield session
    engine.dispose()


def consent(session: Session, id_: int, status: str, at: datetime, channel: str = "email"):
    """Add a direct-marketing consent record of customer 1 with a chosen id."""
    record = ConsentRecord(
        id=id_,
        customer_id=1,
        purpose="direct_marketing",
        channel=channel,
        status=status,
        method="written_form",
        captured_at=at,
    )
    session.add(record)
    session.flush()
    return record


def sql_status(session: Session, before: datetime | None = None) -> str:
    expression = current_status_expression(Customer.id, "direct_marketing", "email", before=before)
    return session.scalar(select(expression).where(Customer.id == 1))


def test_no_record_means_not_asked(session):
    assert current_consent_status(session, 1, "direct_marketing", "email") == "not_asked"
    assert sql_status(session) == "not_asked"
    assert current_consent([]) is None


def test_the_latest_captured_record_is_in_force_whatever_its_id(session):
    consent(session, 5, "given", datetime(2025, 1, 1))
    consent(session, 3, "withdrawn", datetime(2025, 6, 1))
    records = session.scalars(select(ConsentRecord)).all()
    assert current_consent(records).status == "withdrawn"
    assert current_consent_status(session, 1, "direct_marketing", "email") == "withdrawn"
    assert sql_status(session) == "withdrawn"
    assert latest_per_customer(session, "direct_marketing", "email")[1].id == 3


def test_at_the_same_moment_the_record_entered_last_wins(session):
    moment = datetime(2025, 1, 1, 12, 0)
    consent(session, 7, "withdrawn", moment)
    consent(session, 8, "given", moment)
    records = session.scalars(select(ConsentRecord)).all()
    assert current_consent(records).id == 8
    assert sql_status(session) == "given"
    assert latest_consents(records)[("direct_marketing", "email")].id == 8


def test_other_channels_and_later_records_do_not_count(session):
    consent(session, 1, "given", datetime(2025, 1, 1))
    consent(session, 2, "withdrawn", datetime(2025, 6, 1), channel="sms")
    consent(session, 3, "withdrawn", datetime(2026, 1, 1))
    assert sql_status(session, before=datetime(2025, 12, 31)) == "given"
    assert sql_status(session) == "withdrawn"
    assert current_consent_status(session, 1, "direct_marketing", "sms") == "withdrawn"
    assert current_consent_status(session, 2, "direct_marketing", "email") == "not_asked"
