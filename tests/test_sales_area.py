"""The sales area: generation, suggestions, operations, checks, PDPO rules and pages."""

from __future__ import annotations

import json
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from graders.results import Status
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import (
    AuditEvent,
    Customer,
    Department,
    Message,
    SandboxMeta,
    StaffUser,
)
from sandbox_crm.operations import REFUSED_OPERATION, OperationError, apply_operation
from sandbox_crm.sales.models import (
    CrossSellBatch,
    CustomerDataItem,
    FollowUpTask,
    Opportunity,
)
from sandbox_crm.sales.suggestions import suggestions
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 10, 5)
ENQUIRY = "OP-900001"


def sales_spec(profile: str = "jewellery", customers: int = 120) -> GenerationSpec:
    """A small sandbox with ring owners (one opted out), anniversaries and an enquiry planted."""
    plants = (
        PlantSpec.of("engagement_ring_owner", 1),
        PlantSpec.of("engagement_ring_owner", 1, email_consent="withdrawn"),
        PlantSpec.of("engagement_ring_owner", 1, ring_size_from_repair=True),
        PlantSpec.of("anniversary_soon", 1),
        PlantSpec.of("anniversary_soon", 1, collected_for="marketing"),
        PlantSpec.of("sales_enquiry", 1, reference=ENQUIRY),
    )
    return GenerationSpec(
        profile=profile,
        seed=4207,
        customers=customers,
        today=TODAY,
        acting_department="sales",
        plants=plants if profile == "jewellery" else (),
    )


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return sales_spec()


def _planted(attempt: Attempt, kind: str) -> list[int]:
    return json.loads(attempt.session.get(SandboxMeta, "plants").value)[kind]


# --- generation and suggestions ---------------------------------------------------------------


def test_generation_is_deterministic_and_gives_a_retail_sandbox_no_sales_rows():
    spec = sales_spec(customers=100)
    first, second = generated(spec), generated(spec)
    retail = generated(sales_spec("retail", customers=100))
    try:
        for model in (Opportunity, FollowUpTask, CustomerDataItem):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
            assert table_rows(retail, model) == []
        tasks = first.scalars(select(FollowUpTask)).all()
        assert any(t.status == "open" and t.due_on < TODAY for t in tasks), "some are overdue"
        purposes = {i.purpose for i in first.scalars(select(CustomerDataItem))}
        assert {"warranty_registration", "repair", "marketing"} <= purposes
    finally:
        for session in (first, second, retail):
            session.close()


def test_suggestions_show_the_data_they_use_and_its_purpose(attempt: Attempt):
    owners = _planted(attempt, "engagement_ring_owner")
    found = suggestions(attempt.session, TODAY, rule="wedding_bands")
    by_customer = {s.customer_id: s for s in found}
    assert set(owners) <= set(by_customer)
    assert all(u.kind == "order" and u.within_purpose for u in by_customer[owners[0]].used)
    warranty, marketing = _planted(attempt, "anniversary_soon")
    gifts = {s.customer_id: s for s in suggestions(attempt.session, TODAY, rule="anniversary_gift")}
    assert not gifts[warranty].within_purpose
    assert gifts[warranty].used[0].purpose == "warranty_registration"
    assert gifts[marketing].within_purpose


# --- operations -------------------------------------------------------------------------------


def test_an_opportunity_records_the_data_it_uses_and_moves_through_its_stages(attempt: Attempt):
    owner = _planted(attempt, "engagement_ring_owner")[2]
    opportunity = attempt.do(
        "create_opportunity",
        customer_id=owner,
        title="Wedding bands",
        suggestion="wedding_bands",
        used_data=["ring_size"],
    )
    kinds = {(u["kind"], u["purpose"]) for u in opportunity.used_data}
    assert ("order", "sales_record") in kinds and ("ring_size", "repair") in kinds
    task = attempt.do(
        "add_follow_up", opportunity_id=opportunity.id, subject="Call", due_on="2026-10-09"
    )
    attempt.do("complete_follow_up", task_id=task.id)
    with pytest.raises(OperationError, match="already done"):
        apply_operation(attempt.session, attempt.actor, "complete_follow_up", {"task_id": task.id})
    attempt.session.rollback()
    with pytest.raises(OperationError, match="why the opportunity was lost"):
        apply_operation(
            attempt.session,
            attempt.actor,
            "update_opportunity",
            {"opportunity_id": opportunity.id, "stage": "lost"},
        )
    attempt.session.rollback()
    attempt.do(
        "update_opportunity", opportunity_id=opportunity.id, stage="lost", lost_reason="Eloped"
    )
    assert attempt.session.get(Opportunity, opportunity.id).lost_reason == "Eloped"


def test_staff_outside_sales_are_refused_and_nothing_changes(attempt: Attempt):
    it = attempt.session.scalars(
        select(StaffUser).join(Department).where(Department.code == "it")
    ).first()
    before = attempt.session.scalar(select(Opportunity.id).order_by(Opportunity.id.desc()))
    with pytest.raises(OperationError, match="may not work sales opportunities"):
        apply_operation(
            attempt.session,
            it,
            "create_opportunities",
            {"suggestion": "wedding_bands", "title": "Wedding bands"},
        )
    attempt.session.rollback()
    assert attempt.session.scalar(select(Opportunity.id).order_by(Opportunity.id.desc())) == before


def test_bulk_opportunities_skip_customers_already_worked_and_offers_skip_the_opted_out(
    attempt: Attempt,
):
    first = attempt.do(
        "create_opportunities",
        suggestion="wedding_bands",
        title="Wedding bands",
        follow_up_subject="Call",
        follow_up_due="2026-10-10",
    )
    again = attempt.do("create_opportunities", suggestion="wedding_bands", title="Bands")
    assert first.opportunity_ids and again.opportunity_ids == []
    tasks = attempt.session.scalars(
        select(FollowUpTask).where(FollowUpTask.opportunity_id.in_(first.opportunity_ids))
    ).all()
    assert len(tasks) == len(first.opportunity_ids)
    batch = attempt.do(
        "send_offers",
        suggestion="wedding_bands",
        channel="email",
        body="Wedding bands. Unsubscribe free of charge.",
        has_opt_out_notice=True,
        screen_opt_outs=True,
    )
    opted_out = _planted(attempt, "engagement_ring_owner")[1]
    reached = set(
        attempt.session.scalars(
            select(Message.customer_id).where(Message.id.in_(batch.message_ids))
        )
    )
    assert _planted(attempt, "engagement_ring_owner")[0] in reached
    assert opted_out not in reached
    assert any(s["screen"] == "withdrawn" for s in batch.skipped)
    assert attempt.session.get(CrossSellBatch, batch.id).screened


def test_recording_new_information_checks_its_form(attempt: Attempt):
    customer = _planted(attempt, "sales_enquiry")[0]
    args = {"customer_id": customer, "purpose": "sales_enquiry", "source": "customer_told_staff"}
    item = attempt.do("record_customer_data", kind="ring_size", value="14.50", **args)
    assert item.value == "14.5" and item.collected_on == TODAY
    for kind, value in (("ring_size", "huge"), ("wedding_date", "12/12/2026")):
        with pytest.raises(OperationError):
            apply_operation(
                attempt.session,
                attempt.actor,
                "record_customer_data",
                {**args, "kind": kind, "value": value},
            )
        attempt.session.rollback()


# --- checks and PDPO rules --------------------------------------------------------------------


def _offer_all(attempt: Attempt, screen: bool) -> None:
    attempt.do(
        "send_offers",
        suggestion="wedding_bands",
        channel="email",
        body="Wedding bands. Unsubscribe free of charge.",
        has_opt_out_notice=True,
        screen_opt_outs=screen,
    )


@pytest.mark.parametrize(("data_used", "status"), [("within", "pass"), ("any", "fail")])
def test_use_01_and_the_check_judge_the_purpose_of_the_data_used(
    attempt: Attempt, data_used: str, status: str
):
    assert attempt.rule("USE-01").status is Status.NOT_APPLICABLE
    attempt.do(
        "create_opportunities", suggestion="anniversary_gift", data_used=data_used, title="Gift"
    )
    result = attempt.rule("USE-01")
    outcome = attempt.check(
        "sales.opportunities_for", {"suggestion": "anniversary_gift", "data_used": "within"}
    )
    assert result.status is Status(status)
    assert outcome.status is Status(status)
    if status == "fail":
        assert "warranty registration" in result.findings[0].message


def test_opportunities_check_wants_every_covered_customer_and_their_follow_up(attempt: Attempt):
    params = {"suggestion": "wedding_bands", "follow_up_days": 14}
    assert attempt.check("sales.opportunities_for", params).status is Status.FAIL
    attempt.do("create_opportunities", suggestion="wedding_bands", title="Bands")
    assert attempt.check("sales.opportunities_for", params).status is Status.FAIL  # no calls
    for opportunity_id in attempt.session.scalars(
        select(Opportunity.id).where(Opportunity.suggestion == "wedding_bands")
    ):
        attempt.do(
            "add_follow_up", opportunity_id=opportunity_id, subject="Call", due_on="2026-10-12"
        )
    assert attempt.check("sales.opportunities_for", params).status is Status.PASS


@pytest.mark.parametrize(("screen", "status"), [(True, Status.PASS), (False, Status.FAIL)])
def test_offers_are_judged_by_the_dm_rules_and_the_offers_check(
    attempt: Attempt, screen: bool, status: Status
):
    attempt.do("create_opportunities", suggestion="wedding_bands", title="Bands")
    _offer_all(attempt, screen)
    for rule_id in ("DM-06", "DM-07"):
        assert attempt.rule(rule_id).status is status, rule_id
    params = {"suggestion": "wedding_bands", "channel": "email"}
    assert attempt.check("sales.offers_sent", params).status is status


def test_a_single_offer_after_the_call_scripts_check_is_screened(attempt: Attempt):
    owner = _planted(attempt, "engagement_ring_owner")[0]
    opportunity = attempt.do(
        "create_opportunity", customer_id=owner, title="Bands", suggestion="wedding_bands"
    )
    offer = {
        "opportunity_id": opportunity.id,
        "channel": "email",
        "body": "Wedding bands. Unsubscribe free of charge.",
        "has_opt_out_notice": True,
    }
    attempt.do("send_offer", **offer)
    assert attempt.rule("DM-07").status is Status.FAIL
    attempt.rebase()
    attempt.do("check_opt_out", customer_id=owner, channel="email")
    attempt.do("send_offer", **offer)
    assert attempt.rule("DM-07").status is Status.PASS
    assert attempt.rule("DM-01").status is Status.PASS


@pytest.mark.parametrize(
    ("purpose", "source", "status"),
    [
        ("sales_enquiry", "customer_told_staff", Status.PASS),
        ("marketing", "customer_told_staff", Status.FAIL),
        ("sales_enquiry", "repair_ticket", Status.FAIL),
    ],
)
def test_data_recorded_wants_the_value_its_source_and_its_purpose(
    attempt: Attempt, purpose: str, source: str, status: Status
):
    customer = _planted(attempt, "sales_enquiry")[0]
    params = {
        "opportunity": ENQUIRY,
        "expect": {"ring_size": "14.5", "wedding_date": "2026-12-12"},
        "purposes": ["sales_enquiry"],
        "sources": ["customer_told_staff"],
    }
    attempt.do(
        "record_customer_data",
        customer_id=customer,
        kind="ring_size",
        value="14.5",
        purpose=purpose,
        source=source,
    )
    assert attempt.check("sales.data_recorded", params).status is Status.FAIL  # no date yet
    attempt.do(
        "record_customer_data",
        customer_id=customer,
        kind="wedding_date",
        value="2026-12-12",
        purpose=purpose,
        source=source,
    )
    assert attempt.check("sales.data_recorded", params).status is status


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_sales_pages_list_filter_and_page_without_javascript(client: FlaskClient):
    for path in (
        "/opportunities",
        "/opportunities?stage=won&channel=store",
        "/opportunities?page=999",
        "/opportunities/new?member_no=M00000001&suggestion=wedding_bands",
        "/cross-selling",
        "/cross-selling?rule=anniversary_gift&purpose=outside",
        "/cross-selling?rule=nonsense&page=abc",
        "/follow-ups?status=open&overdue=yes",
        "/purpose-data?purpose=repair",
        "/purpose-data/new",
    ):
        response = client.get(f"{BASE}{path}")
        assert response.status_code == 200, path
        assert "<script" not in response.get_data(as_text=True), path
    outside = client.get(f"{BASE}/cross-selling?rule=anniversary_gift&purpose=outside")
    assert "Warranty registration" in outside.get_data(as_text=True)
    assert client.get(f"{BASE}/opportunities/999999").status_code == 404
    assert client.post(f"{BASE}/opportunities/999999/offer").status_code == 404
    assert client.post(f"{BASE}/follow-ups/999999/done").status_code == 404


def test_opportunity_pages_open_work_and_refuse_clearly(client: FlaskClient, db):
    session = db()
    enquiry = session.scalars(select(Opportunity).where(Opportunity.reference == ENQUIRY)).one()
    member_no = session.get(Customer, enquiry.customer_id).member_no
    session.close()
    opened = client.post(
        f"{BASE}/opportunities/new",
        data={
            "member_no": member_no,
            "title": "Matching earrings",
            "value_hkd": "8800",
            "stage": "new",
            "source_channel": "store",
            "suggestion": "",
            "used_data": "",
        },
    )
    assert opened.status_code == 302
    bad = client.post(
        f"{BASE}/opportunities/new",
        data={"member_no": member_no, "title": "X", "stage": "new", "used_data": "one, two"},
    )
    assert bad.status_code == 400 and "ids separated by commas" in bad.get_data(as_text=True)
    page = client.get(f"{BASE}/opportunities/{enquiry.id}").get_data(as_text=True)
    assert ENQUIRY in page and "Repair ticket" in page
    moved = client.post(f"{BASE}/opportunities/{enquiry.id}/stage", data={"stage": "lost"})
    assert moved.status_code == 400 and "why the opportunity was lost" in moved.get_data(
        as_text=True
    )
    assert (
        client.post(
            f"{BASE}/opportunities/{enquiry.id}/stage", data={"stage": "proposal"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"{BASE}/opportunities/{enquiry.id}/follow_up",
            data={"subject": "Fit the bands", "due_on": "2026-10-09"},
        ).status_code
        == 302
    )
    refused = client.post(
        f"{BASE}/opportunities/{enquiry.id}/offer",
        data={"channel": "fax", "body": "Offer"},
    )
    assert refused.status_code == 400
    recorded = client.post(
        f"{BASE}/purpose-data/new",
        data={
            "member_no": member_no,
            "kind": "wedding_date",
            "value": "2026-12-12",
            "purpose": "sales_enquiry",
            "source": "customer_told_staff",
            "opportunity_id": str(enquiry.id),
        },
    )
    assert recorded.status_code == 302
    task = db().scalars(select(FollowUpTask).where(FollowUpTask.opportunity_id == enquiry.id)).one()
    assert client.post(f"{BASE}/follow-ups/{task.id}/done").status_code == 302
    again = client.post(f"{BASE}/follow-ups/{task.id}/done")
    assert again.status_code == 400 and "already done" in again.get_data(as_text=True)
    check = db()
    assert check.get(Opportunity, enquiry.id).stage == "proposal"
    assert (
        check.scalars(select(CustomerDataItem).where(CustomerDataItem.opportunity_id == enquiry.id))
        .one()
        .value
        == "2026-12-12"
    )
    refusals = check.scalars(
        select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)
    ).all()
    assert len(refusals) >= 3


def test_the_cross_selling_page_opens_opportunities_and_sends_offers_in_bulk(
    client: FlaskClient, db
):
    no_rule = client.post(f"{BASE}/cross-selling/open", data={"title": "Bands"})
    assert no_rule.status_code == 400 and "Choose a rule first" in no_rule.get_data(as_text=True)
    form = client.get(f"{BASE}/cross-selling?rule=wedding_bands").get_data(as_text=True)
    assert "Open opportunities" in form and "Send offers" in form
    opened = client.post(
        f"{BASE}/cross-selling/open?rule=wedding_bands&purpose=within",
        data={"title": "Wedding bands", "follow_up_subject": "Call", "follow_up_due": "2026-10-12"},
    )
    assert opened.status_code == 302
    past = client.post(
        f"{BASE}/cross-selling/open?rule=anniversary_gift",
        data={"title": "Gift", "follow_up_subject": "Call", "follow_up_due": "2026-01-01"},
    )
    assert past.status_code == 400 and "cannot be in the past" in past.get_data(as_text=True)
    sent = client.post(
        f"{BASE}/cross-selling/offers?rule=wedding_bands",
        data={
            "channel": "email",
            "body": "Wedding bands. Unsubscribe free of charge.",
            "has_opt_out_notice": "y",
            "screen_opt_outs": "y",
        },
    )
    assert sent.status_code == 302
    session = db()
    batches = session.scalars(select(CrossSellBatch).order_by(CrossSellBatch.id)).all()
    assert [b.action for b in batches] == ["open_opportunities", "send_offers"]
    assert batches[0].data_used == "within" and batches[1].screened
    assert batches[1].message_ids and batches[1].skipped
