"""The sales-management case: its plant, quotas from history, rebalancing, and the checks."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from graders.results import Status
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import SandboxMeta, StaffUser
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.query import select_rows
from sandbox_crm.sales.management import open_load, quota_from_history
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    Opportunity,
    Salesperson,
    SalesQuota,
    SalesRegion,
)
from tests.graders_helpers import Attempt

TODAY = date(2026, 11, 20)
REGIONS = ("Hong Kong Island", "Kowloon", "New Territories")
QUOTAS = {"period": "2027-Q1", "base_period": "2026-Q1", "growth_percent": 8}
ALLOWED = {
    "region": "New Territories",
    "allowed": {
        "all": [
            {"field": "title", "op": "eq", "value": "Store Manager"},
            {"field": "over_capacity", "op": "eq", "value": False},
        ]
    },
}


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return GenerationSpec(
        profile="jewellery",
        seed=10719,
        customers=250,
        today=TODAY,
        acting_department="sales",
        plants=(
            PlantSpec.of(
                "sales_region_case",
                1,
                unmanaged_region="New Territories",
                lagging_region="Kowloon",
            ),
        ),
    )


def _planted(attempt: Attempt) -> list[int]:
    return json.loads(attempt.session.get(SandboxMeta, "plants").value)["sales_region_case"]


def test_quota_from_history_adds_the_growth_and_rounds_up():
    assert quota_from_history(1_234_567, 8, 10_000) == 1_340_000
    assert quota_from_history(1_000_000, 8, 10_000) == 1_080_000
    assert quota_from_history(1_000_001, 0, 1) == 1_000_001
    assert quota_from_history(999_999, -10, 1000) == 900_000


def test_the_plant_leaves_one_region_unmanaged_people_over_capacity_and_kowloon_behind(
    attempt: Attempt,
):
    session = attempt.session
    candidate, decoy = _planted(attempt)
    assert (
        session.scalar(select(SalesRegion.manager_id).where(SalesRegion.name == "New Territories"))
        is None
    )
    assert session.get(StaffUser, candidate).title == "Store Manager"
    over = {
        p.region
        for p in session.scalars(select(Salesperson))
        if open_load(session, p.staff_id) > p.max_open_opportunities
    }
    assert over == set(REGIONS)
    rows = select_rows(
        session,
        "sales_quotas",
        where={
            "all": [
                {"field": "level", "op": "eq", "value": "region"},
                {"field": "period", "op": "eq", "value": "2026-Q4"},
            ]
        },
        columns=["region", "attainment_pct"],
        as_of=TODAY,
    ).rows
    behind = min(rows, key=lambda r: r["attainment_pct"])
    assert behind["region"] == "Kowloon"


def test_quotas_check_passes_for_the_base_quarter_and_fails_for_another(attempt: Attempt):
    params = {**QUOTAS, "round_up_to_hkd": 10_000}
    assert attempt.check("sales.quotas_set", params).status is Status.FAIL  # none set yet
    for region in REGIONS:
        attempt.do(
            "set_sales_quota",
            level="region",
            region=region,
            period="2027-Q1",
            from_period="2026-Q3",
            growth_percent=8,
            round_up_to_hkd=10_000,
        )
    assert attempt.check("sales.quotas_set", params).status is Status.FAIL
    for region in REGIONS:
        attempt.do(
            "set_sales_quota",
            level="region",
            region=region,
            period="2027-Q1",
            from_period="2026-Q1",
            growth_percent=8,
            round_up_to_hkd=10_000,
        )
    assert attempt.check("sales.quotas_set", params).status is Status.PASS
    assert attempt.check("sales.quotas_set", {**params, "round_up_to_hkd": 1}).status is (
        Status.FAIL
    )
    target = attempt.session.scalars(
        select(SalesQuota.target_hkd).where(SalesQuota.period == "2027-Q1")
    ).first()
    assert target % 10_000 == 0


def test_a_quota_from_history_needs_a_finished_period_and_one_way_to_set_it(attempt: Attempt):
    base = {"level": "region", "region": "Kowloon", "period": "2027-Q1"}
    for extra, words in (
        ({"from_period": "2026-Q4"}, "period that is over"),
        ({"from_period": "2026-Q1", "target_hkd": 100_000}, "not both"),
        ({}, "not both"),
    ):
        with pytest.raises(OperationError, match=words):
            apply_operation(attempt.session, attempt.actor, "set_sales_quota", {**base, **extra})
        attempt.session.rollback()


def test_rebalancing_brings_a_region_within_capacity_and_the_check_judges_it(attempt: Attempt):
    assert attempt.check("sales.within_capacity", {}).status is Status.FAIL
    for region in REGIONS:
        attempt.do("rebalance_region", region=region)
    assert attempt.check("sales.within_capacity", {}).status is Status.PASS
    with pytest.raises(OperationError, match="Nobody in Kowloon is over capacity"):
        apply_operation(attempt.session, attempt.actor, "rebalance_region", {"region": "Kowloon"})
    attempt.session.rollback()


def test_the_capacity_check_fails_a_raised_capacity_and_a_closed_opportunity(attempt: Attempt):
    session = attempt.session
    over = next(
        p
        for p in session.scalars(select(Salesperson).order_by(Salesperson.id))
        if open_load(session, p.staff_id) > p.max_open_opportunities
    )
    load = open_load(session, over.staff_id)
    username = session.get(StaffUser, over.staff_id).username
    attempt.do("set_sales_capacity", username=username, max_open_opportunities=load)
    outcome = attempt.check("sales.within_capacity", {})
    assert outcome.status is Status.FAIL
    assert any(p["problem"] == "capacity_raised" for p in outcome.evidence["problems"])
    opportunity = session.scalars(
        select(Opportunity).where(
            Opportunity.owner_id == over.staff_id, Opportunity.stage.in_(OPEN_STAGES)
        )
    ).first()
    attempt.do(
        "update_opportunity", opportunity_id=opportunity.id, stage="lost", lost_reason="Tidy-up"
    )
    problems = attempt.check("sales.within_capacity", {}).evidence["problems"]
    assert any(p["problem"] == "closed" for p in problems)


def test_the_manager_check_wants_an_allowed_manager_for_the_region(attempt: Attempt):
    candidate, decoy = _planted(attempt)
    assert attempt.check("sales.region_manager", ALLOWED).status is Status.FAIL  # none yet
    attempt.do("assign_region_manager", region="New Territories", staff_id=decoy)
    assert attempt.check("sales.region_manager", ALLOWED).status is Status.FAIL
    attempt.do("assign_region_manager", region="New Territories", staff_id=candidate)
    assert attempt.check("sales.region_manager", ALLOWED).status is Status.PASS
    kowloon = attempt.session.scalars(
        select(SalesRegion).where(SalesRegion.name == "Kowloon")
    ).one()
    kowloon.manager_id = None
    attempt.session.flush()
    outcome = attempt.check("sales.region_manager", ALLOWED)
    assert outcome.status is Status.FAIL
    assert list(outcome.evidence["other_regions_changed"]) == ["Kowloon"]


def test_check_parameters_are_validated():
    from graders.checks.sales import QuotasSetParams, RegionManagerParams

    with pytest.raises(ValueError, match="not a quarter"):
        QuotasSetParams(period="2027-Q7", base_period="2026-Q1", growth_percent=8)
    with pytest.raises(ValueError, match="allowed"):
        RegionManagerParams(region="Kowloon", allowed={"field": "nonsense", "op": "eq", "value": 1})
