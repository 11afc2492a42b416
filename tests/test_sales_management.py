"""Sales management: regions and managers, quotas with attainment, capacity and reassignment."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.generator import GenerationSpec
from sandbox_crm.models import Branch, Department, SalesOrder, StaffUser
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.query import select_rows
from sandbox_crm.sales.management import open_load
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    FollowUpTask,
    Opportunity,
    Salesperson,
    SalesQuota,
    SalesRegion,
)
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES
from tests.area_fixtures import area_page_fixtures
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 10, 5)


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return GenerationSpec(
        profile="jewellery",
        seed=4207,
        customers=300,
        today=TODAY,
        acting_department="sales",
    )


def _refused(attempt: Attempt, op: str, match: str, actor: StaffUser | None = None, **args):
    with pytest.raises(OperationError, match=match):
        apply_operation(attempt.session, actor or attempt.actor, op, args)
    attempt.session.rollback()


def _staff(session: Session, staff_id: int) -> StaffUser:
    staff = session.get(StaffUser, staff_id)
    assert staff is not None
    return staff


def _team(session: Session) -> list[dict]:
    return [
        dict(row)
        for row in select_rows(
            session,
            "sales_team",
            columns=["username", "region", "max_open_opportunities", "open_opportunities"],
            as_of=TODAY,
        ).rows
    ]


# --- generation and attainment ----------------------------------------------------------------


def test_generation_gives_regions_one_unmanaged_salespeople_over_capacity_and_quotas(
    attempt: Attempt,
):
    session = attempt.session
    regions = session.scalars(select(SalesRegion)).all()
    assert {r.name for r in regions} == {"Hong Kong Island", "Kowloon", "New Territories"}
    assert sum(r.manager_id is None for r in regions) == 1
    team = _team(session)
    assert any(p["open_opportunities"] > p["max_open_opportunities"] for p in team)
    assert {p["region"] for p in team} == {r.name for r in regions}
    periods = set(session.scalars(select(SalesQuota.period)))
    assert {"2025-Q4", "2026-Q4"} <= periods


def _quota_rows(session: Session, where: dict) -> list[dict]:
    return [
        dict(row)
        for row in select_rows(
            session,
            "sales_quotas",
            where=where,
            columns=["region", "period", "target_hkd", "attained_hkd", "attainment_pct"],
            as_of=TODAY,
        ).rows
    ]


def test_attainment_counts_the_regions_qualifying_orders_in_the_period(attempt: Attempt):
    session = attempt.session
    where = {
        "all": [
            {"field": "level", "op": "eq", "value": "region"},
            {"field": "period", "op": "eq", "value": "2026-Q2"},
            {"field": "region", "op": "eq", "value": "Kowloon"},
        ]
    }
    (row,) = _quota_rows(session, where)
    kowloon = select(Branch.id).where(Branch.region == "Kowloon")
    orders = session.scalars(
        select(SalesOrder).where(
            SalesOrder.branch_id.in_(kowloon),
            SalesOrder.ordered_at >= "2026-04-01",
            SalesOrder.ordered_at < "2026-07-01",
        )
    ).all()
    expected = sum(o.total_hkd for o in orders if o.status in QUALIFYING_ORDER_STATUSES)
    assert row["attained_hkd"] == expected > 0
    assert row["attainment_pct"] == expected * 100 // row["target_hkd"]
    # An order cancelled no longer counts; one outside the region never did.
    counted = next(o for o in orders if o.status in QUALIFYING_ORDER_STATUSES)
    counted.status = "cancelled"
    session.flush()
    (after,) = _quota_rows(session, where)
    assert after["attained_hkd"] == expected - counted.total_hkd


# --- operations -------------------------------------------------------------------------------


def test_setting_quotas_for_a_region_a_shop_and_a_salesperson(attempt: Attempt):
    session = attempt.session
    quota = attempt.do(
        "set_sales_quota", level="region", region="Kowloon", period="2027-Q1", target_hkd=1_500_000
    )
    assert (quota.period_start, quota.period_end) == (date(2027, 1, 1), date(2027, 3, 31))
    again = attempt.do(
        "set_sales_quota", level="region", region="Kowloon", period="2027-Q1", target_hkd=1_600_000
    )
    assert again.id == quota.id and again.target_hkd == 1_600_000
    shop = session.scalars(select(Branch).where(Branch.kind == "store")).first()
    assert shop is not None
    made = attempt.do(
        "set_sales_quota",
        level="branch",
        branch_code=shop.code,
        period="2026-11",
        target_hkd=90_000,
    )
    assert made.region == shop.region
    person = session.scalars(select(Salesperson)).first()
    assert person is not None
    username = _staff(session, person.staff_id).username
    attempt.do(
        "set_sales_quota", level="salesperson", username=username, period="2026-12", target_hkd=5000
    )
    _refused(
        attempt, "set_sales_quota", "is over", level="region", region="Kowloon",
        period="2026-Q2", target_hkd=100_000,
    )  # fmt: skip
    _refused(
        attempt, "set_sales_quota", "as a quarter", level="region", region="Kowloon",
        period="2027-Q5", target_hkd=100_000,
    )  # fmt: skip
    _refused(
        attempt, "set_sales_quota", "no shop", level="branch", branch_code="NOPE",
        period="2027-Q1", target_hkd=100_000,
    )  # fmt: skip
    _refused(
        attempt, "set_sales_quota", "already set", level="region", region="Kowloon",
        period="2027-Q1", target_hkd=1_600_000,
    )  # fmt: skip


def _shop_staff_not_managing(session: Session) -> StaffUser:
    managers = set(session.scalars(select(SalesRegion.manager_id)))
    for staff in session.scalars(
        select(StaffUser).join(Department).where(Department.code == "store_operations")
    ):
        if staff.id not in managers and staff.is_active and staff.branch_id is not None:
            person = session.scalar(select(Salesperson).where(Salesperson.staff_id == staff.id))
            if person is not None:
                return staff
    raise AssertionError("no shop salesperson")


def test_only_the_sales_office_or_the_regions_manager_sets_quotas_and_capacity(attempt: Attempt):
    session = attempt.session
    shop_staff = _shop_staff_not_managing(session)
    _refused(
        attempt, "set_sales_quota", "sales office", actor=shop_staff, level="region",
        region="Kowloon", period="2027-Q1", target_hkd=100_000,
    )  # fmt: skip
    _refused(
        attempt, "set_sales_capacity", "region's manager", actor=shop_staff,
        username=shop_staff.username, max_open_opportunities=20,
    )  # fmt: skip
    region = session.scalars(select(SalesRegion).where(SalesRegion.manager_id.is_not(None))).first()
    manager = _staff(session, region.manager_id)
    person = session.scalars(select(Salesperson).where(Salesperson.region == region.name)).first()
    done = apply_operation(
        session,
        manager,
        "set_sales_capacity",
        {
            "username": _staff(session, person.staff_id).username,
            "max_open_opportunities": open_load(session, person.staff_id) + 4,
        },
    )
    assert done.max_open_opportunities == open_load(session, person.staff_id) + 4


def test_capacity_cannot_go_below_the_open_opportunities_already_worked(attempt: Attempt):
    session = attempt.session
    busy = max(_team(session), key=lambda p: p["open_opportunities"])
    assert busy["open_opportunities"] > 0
    _refused(
        attempt, "set_sales_capacity", "reassign some", username=busy["username"],
        max_open_opportunities=busy["open_opportunities"] - 1,
    )  # fmt: skip
    person = attempt.do(
        "set_sales_capacity",
        username=busy["username"],
        max_open_opportunities=busy["open_opportunities"],
    )
    assert person.max_open_opportunities == busy["open_opportunities"]


def test_a_region_manager_works_in_the_region_and_manages_only_it(attempt: Attempt):
    session = attempt.session
    region = session.scalars(select(SalesRegion).where(SalesRegion.manager_id.is_(None))).one()
    managed = session.scalars(select(SalesRegion).where(SalesRegion.manager_id.is_not(None))).all()
    outsider = session.scalars(
        select(Salesperson).where(
            Salesperson.region != region.name,
            Salesperson.staff_id.not_in([r.manager_id for r in managed]),
        )
    ).first()
    _refused(
        attempt, "assign_region_manager", "does not work in", region=region.name,
        username=_staff(session, outsider.staff_id).username,
    )  # fmt: skip
    # A manager transferred into the region still manages their old one.
    transferred = session.scalar(
        select(Salesperson).where(Salesperson.staff_id == managed[0].manager_id)
    )
    transferred.region = region.name
    session.flush()
    _refused(
        attempt, "assign_region_manager", "already manages", region=region.name,
        username=_staff(session, managed[0].manager_id).username,
    )  # fmt: skip
    insider = session.scalars(select(Salesperson).where(Salesperson.region == region.name)).first()
    attempt.do(
        "assign_region_manager",
        region=region.name,
        username=_staff(session, insider.staff_id).username,
    )
    assert session.get(SalesRegion, region.id).manager_id == insider.staff_id
    shop_staff = _shop_staff_not_managing(session)
    _refused(
        attempt, "assign_region_manager", "sales office", actor=shop_staff,
        region=region.name, username=shop_staff.username,
    )  # fmt: skip


def _over_capacity(session: Session) -> Salesperson:
    for person in session.scalars(select(Salesperson).order_by(Salesperson.id)):
        if open_load(session, person.staff_id) > person.max_open_opportunities:
            return person
    raise AssertionError("nobody over capacity")


def test_reassignment_stays_in_the_region_and_within_capacity(attempt: Attempt):
    session = attempt.session
    busy = _over_capacity(session)
    opportunity = session.scalars(
        select(Opportunity)
        .where(Opportunity.owner_id == busy.staff_id, Opportunity.stage.in_(OPEN_STAGES))
        .order_by(Opportunity.id)
    ).first()
    colleagues = session.scalars(
        select(Salesperson).where(
            Salesperson.region == busy.region, Salesperson.staff_id != busy.staff_id
        )
    ).all()
    roomy = next(p for p in colleagues if open_load(session, p.staff_id) < p.max_open_opportunities)
    elsewhere = session.scalars(
        select(Salesperson).where(Salesperson.region != busy.region)
    ).first()
    _refused(
        attempt, "reassign_opportunity", "only the manager", opportunity_id=opportunity.id,
        username=_staff(session, elsewhere.staff_id).username,
    )  # fmt: skip
    full_username = _staff(session, roomy.staff_id).username
    attempt.do(
        "set_sales_capacity",
        username=full_username,
        max_open_opportunities=open_load(session, roomy.staff_id),
    )
    _refused(
        attempt, "reassign_opportunity", "of a capacity of", opportunity_id=opportunity.id,
        username=full_username,
    )  # fmt: skip
    attempt.do(
        "set_sales_capacity",
        username=full_username,
        max_open_opportunities=open_load(session, roomy.staff_id) + 1,
    )
    moved = attempt.do(
        "reassign_opportunity", reference=opportunity.reference, username=full_username
    )
    assert moved.owner_id == roomy.staff_id
    open_tasks = session.scalars(
        select(FollowUpTask).where(
            FollowUpTask.opportunity_id == opportunity.id, FollowUpTask.status == "open"
        )
    ).all()
    assert all(t.owner_id == roomy.staff_id for t in open_tasks)
    _refused(
        attempt, "reassign_opportunity", "already theirs", opportunity_id=opportunity.id,
        username=full_username,
    )  # fmt: skip


def test_the_receiving_regions_manager_may_take_an_opportunity_across(attempt: Attempt):
    session = attempt.session
    region = session.scalars(select(SalesRegion).where(SalesRegion.manager_id.is_not(None))).first()
    manager = _staff(session, region.manager_id)
    opportunity = session.scalars(
        select(Opportunity)
        .join(Salesperson, Salesperson.staff_id == Opportunity.owner_id)
        .where(Salesperson.region != region.name, Opportunity.stage.in_(OPEN_STAGES))
    ).first()
    receiver = session.scalars(
        select(Salesperson).where(
            Salesperson.region == region.name, Salesperson.staff_id != manager.id
        )
    ).first()
    receiver.max_open_opportunities = open_load(session, receiver.staff_id) + 1
    arguments = {
        "opportunity_id": opportunity.id,
        "username": _staff(session, receiver.staff_id).username,
    }
    _refused(attempt, "reassign_opportunity", "only the manager", **arguments)
    receiver.max_open_opportunities = open_load(session, receiver.staff_id) + 1
    moved = apply_operation(session, manager, "reassign_opportunity", arguments)
    assert moved.owner_id == receiver.staff_id


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_regions_and_team_pages_show_attainment_and_load_without_javascript(client: FlaskClient):
    for path in (
        "/sales-regions",
        "/sales-regions?period=2026-Q2&level=branch",
        "/sales-regions?period=nonsense&level=nonsense",
        "/sales-team",
        "/sales-team?region=Kowloon",
        "/sales-team?region=Mars",
        "/opportunities",
    ):
        response = client.get(f"{BASE}{path}")
        assert response.status_code == 200, path
        assert "<script" not in response.get_data(as_text=True), path
    assert "No manager" in client.get(f"{BASE}/sales-regions").get_data(as_text=True)
    assert "Over capacity by" in client.get(f"{BASE}/sales-team").get_data(as_text=True)


def test_the_management_forms_work_and_refuse_clearly(client: FlaskClient, db):
    set_quota = client.post(
        f"{BASE}/sales-regions/quota",
        data={"level": "region", "region": "Kowloon", "period": "2027-Q3", "target_hkd": "800000"},
    )
    assert set_quota.status_code == 302
    past = client.post(
        f"{BASE}/sales-regions/quota",
        data={"level": "region", "region": "Kowloon", "period": "2025-Q1", "target_hkd": "800000"},
    )
    assert past.status_code == 400 and "is over" in past.get_data(as_text=True)
    no_amount = client.post(
        f"{BASE}/sales-regions/quota", data={"level": "region", "period": "2027-Q1"}
    )
    assert no_amount.status_code == 400
    session = db()
    unmanaged = session.scalars(select(SalesRegion).where(SalesRegion.manager_id.is_(None))).one()
    insider = session.scalars(
        select(Salesperson).where(Salesperson.region == unmanaged.name)
    ).first()
    username = session.get(StaffUser, insider.staff_id).username
    busy = _over_capacity(session)
    opportunity = session.scalars(
        select(Opportunity).where(
            Opportunity.owner_id == busy.staff_id, Opportunity.stage.in_(OPEN_STAGES)
        )
    ).first()
    session.close()
    appointed = client.post(
        f"{BASE}/sales-regions/manager", data={"region": unmanaged.name, "username": username}
    )
    assert appointed.status_code == 302
    capacity = client.post(
        f"{BASE}/sales-team/capacity", data={"username": "nobody", "max_open_opportunities": "5"}
    )
    assert capacity.status_code == 400 and "no active staff member" in capacity.get_data(
        as_text=True
    )
    reassigned = client.post(
        f"{BASE}/sales-team/reassign",
        data={"reference": opportunity.reference, "username": "nobody"},
    )
    assert reassigned.status_code == 400
    unknown = client.post(
        f"{BASE}/sales-team/reassign", data={"reference": "OP-999999", "username": username}
    )
    assert unknown.status_code == 400 and "no opportunity" in unknown.get_data(as_text=True)
    assert db().get(SalesRegion, unmanaged.id).manager_id == insider.staff_id


def test_a_region_without_room_is_not_rebalanced_and_nothing_moves(attempt: Attempt):
    session = attempt.session
    busy = _over_capacity(session)
    for person in session.scalars(select(Salesperson).where(Salesperson.region == busy.region)):
        if person.staff_id != busy.staff_id:
            person.max_open_opportunities = open_load(session, person.staff_id)
    session.flush()
    before = open_load(session, busy.staff_id)
    _refused(attempt, "rebalance_region", "has room for 0", region=busy.region)
    assert open_load(session, busy.staff_id) == before
    shop_staff = _shop_staff_not_managing(session)
    _refused(attempt, "rebalance_region", "rebalances", actor=shop_staff, region=busy.region)


def test_the_team_page_rebalances_and_the_quota_form_bases_a_quota_on_history(
    client: FlaskClient, db
):
    session = db()
    busy = _over_capacity(session)
    region = busy.region
    session.close()
    assert client.post(f"{BASE}/sales-team/rebalance", data={"region": region}).status_code == 302
    again = client.post(f"{BASE}/sales-team/rebalance", data={"region": region})
    assert again.status_code == 400 and "over capacity" in again.get_data(as_text=True)
    based = client.post(
        f"{BASE}/sales-regions/quota",
        data={
            "level": "region",
            "region": "Kowloon",
            "period": "2027-Q1",
            "from_period": "2026-Q1",
            "growth_percent": "8",
            "round_up_to_hkd": "10000",
        },
    )
    assert based.status_code == 302
    quota = db().scalars(select(SalesQuota).where(SalesQuota.period == "2027-Q1")).one()
    assert quota.target_hkd % 10_000 == 0 and quota.target_hkd > 0
