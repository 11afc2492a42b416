"""The jewellery profile and the campaigns area: generation, operations, source, checks, pages."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders.results import Status
from sandbox_crm.areas import ENABLED_AREAS, ordered_stages
from sandbox_crm.campaigns.models import CampaignPlan, CampaignRecipient
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.jewellery.models import GoldPrice, MemberProfile, ProductDetail, ServiceOffering
from sandbox_crm.models import (
    AuditEvent,
    Branch,
    Campaign,
    ConsentRecord,
    Department,
    Message,
    OrderLine,
    Product,
    SalesOrder,
    SandboxMeta,
    StaffUser,
)
from sandbox_crm.operations import REFUSED_OPERATION, OperationError, apply_operation
from sandbox_crm.query import select_rows
from sandbox_crm.sources import SOURCES
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 9, 14)
BRIDAL = {
    "all": [
        {"field": "bridal_interest", "op": "eq", "value": True},
        {"field": "status", "op": "eq", "value": "active"},
    ]
}
JEWELLERY_TABLES = (GoldPrice, ProductDetail, ServiceOffering, MemberProfile, CampaignPlan)


def jewellery_spec(customers: int = 200, **changes: object) -> GenerationSpec:
    """A small jewellery sandbox with the bridal plants of the wedding-season scenario."""
    fields: dict[str, object] = {
        "profile": "jewellery",
        "seed": 4207,
        "customers": customers,
        "today": TODAY,
        "acting_department": "marketing",
        "plants": (
            PlantSpec.of("bridal_opted_out", 1),
            PlantSpec.of("bridal_other_channel_only", 1),
            PlantSpec.of("bridal_draft_campaign", 1),
        ),
    }
    fields.update(changes)
    return GenerationSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return jewellery_spec()


def _plants(session: Session) -> dict[str, list[int]]:
    return json.loads(session.get(SandboxMeta, "plants").value)


# --- generation -------------------------------------------------------------------------------


def test_the_areas_are_enabled_and_their_stages_follow_what_they_read():
    assert {"jewellery", "campaigns"} <= set(ENABLED_AREAS)
    names = [stage.name for stage in ordered_stages()]
    assert names.index("jewellery.seasonal_orders") > names.index("orders.aml_identification")
    assert names.index("campaigns.history") > names.index("messages.campaigns")


def test_jewellery_generation_is_deterministic_and_leaves_a_retail_sandbox_alone():
    spec = jewellery_spec(customers=120, plants=())
    first, second = generated(spec), generated(spec)
    retail = generated(GenerationSpec("retail", 4207, 120, TODAY))
    try:
        for model in (*JEWELLERY_TABLES, Branch, SalesOrder, OrderLine, CampaignRecipient):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
        for model in (*JEWELLERY_TABLES, CampaignRecipient):
            assert not table_rows(retail, model), model.__name__
        other_seed = generated(jewellery_spec(customers=120, plants=(), seed=4208))
        assert table_rows(other_seed, MemberProfile) != table_rows(first, MemberProfile)
        other_seed.close()
    finally:
        for session in (first, second, retail):
            session.close()


def test_the_jewellery_chain_sells_by_weight_with_certificates_and_has_remote_shops():
    session = generated(jewellery_spec(customers=120, plants=()))
    try:
        remote = {b.code: b for b in session.scalars(select(Branch).where(Branch.is_remote))}
        assert {"MAC", "LWU"} <= set(remote)
        assert remote["MAC"].region == "Macau" and remote["MAC"].ip_allow_list
        details = {d.product_id: d for d in session.scalars(select(ProductDetail)).all()}
        for product in session.scalars(select(Product)):
            detail = details[product.id]
            assert detail.priced_by_weight == (product.category == "Gold")
            if detail.certificate_lab == "GIA":
                assert detail.stone == "diamond" and re.fullmatch(r"\d{10}", detail.certificate_no)
            if re.search(r"(?<![\d.])5 taels", product.name):
                assert detail.weight_grams == 187
        assert any(d.certificate_lab == "GIA" for d in details.values())
        prices = session.scalars(select(GoldPrice.hkd_per_tael)).all()
        assert len(prices) > 365 and min(prices) > 0
        services = {s.kind: s for s in session.scalars(select(ServiceOffering))}
        assert {"repair", "resizing", "cleaning", "valuation", "engraving", "warranty"} <= set(
            services
        )
        assert services["valuation"].identity_check and not services["repair"].identity_check
        months = [o.ordered_at.month for o in session.scalars(select(SalesOrder))]
        in_season = sum(m in (1, 2, 4, 5, 10, 12) for m in months)
        assert in_season / len(months) > 0.6  # six season months hold most of the sales
        bands = session.scalars(select(MemberProfile.age_band)).all()
        assert None in bands and "25-34" in bands
    finally:
        session.close()


def test_generated_recipients_fit_every_field_of_their_source():
    session = generated(jewellery_spec(customers=120, plants=()))
    try:
        source = SOURCES["campaign_recipients"]
        page = select_rows(session, source.name, columns=list(source.fields), as_of=TODAY)
        assert page.total == len(page.rows) > 0
        for name, field in source.fields.items():
            if field.type == "enum":
                found = {row[name] for row in page.rows} - {None}
                assert found <= set(field.choices), (name, found - set(field.choices))
    finally:
        session.close()


def test_bridal_plants_put_members_the_campaign_must_not_reach_in_the_segment(
    sandbox_session: Session,
):
    planted = _plants(sandbox_session)
    draft = sandbox_session.scalars(select(Campaign).where(Campaign.status == "draft")).one()
    audience = set(
        sandbox_session.scalars(
            select(CampaignRecipient.customer_id).where(CampaignRecipient.campaign_id == draft.id)
        )
    )
    late = planted["bridal_draft_campaign"]
    assert set(late) <= audience and set(planted["bridal_opted_out"]) <= audience
    plan = sandbox_session.get(CampaignPlan, draft.id)
    withdrawn_at = sandbox_session.scalars(
        select(ConsentRecord.captured_at).where(
            ConsentRecord.customer_id == late[0], ConsentRecord.status == "withdrawn"
        )
    ).all()
    assert max(withdrawn_at) > plan.audience_built_at


# --- operations -------------------------------------------------------------------------------


def _do(session: Session, actor: StaffUser, operation: str, **args: object) -> object:
    return apply_operation(session, actor, operation, dict(args))


def _recipients(session: Session, campaign_id: int) -> dict[int, CampaignRecipient]:
    return {
        r.customer_id: r
        for r in session.scalars(
            select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
        )
    }


def test_a_campaign_planned_built_screened_sent_and_its_results_collected(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, actor = sandbox_session, sandbox_actor
    planted = _plants(session)
    planned = _do(
        session,
        actor,
        "create_campaign",
        name="Bridal weekend",
        channel="email",
        marketing_class="jewellery and watch offers",
        budget_hkd=5000,
        audience_rule=BRIDAL,
    )
    _do(session, actor, "build_audience", campaign_id=planned.id)
    built = _recipients(session, planned.id)
    assert set(planted["bridal_opted_out"]) <= set(built)
    _do(session, actor, "screen_campaign", campaign_name="Bridal weekend")
    screened = _recipients(session, planned.id)
    assert screened[planted["bridal_opted_out"][0]].reason == "withdrawn"
    assert screened[planted["bridal_other_channel_only"][0]].reason == "no_consent"
    kept = {c for c, r in screened.items() if r.status == "selected"}
    assert kept
    _do(
        session,
        actor,
        "send_campaign",
        campaign_id=planned.id,
        subject="Bridal weekend",
        body="Our bridal collection. Unsubscribe free at any time.",
        has_opt_out_notice=True,
    )
    sent_to = set(
        session.scalars(select(Message.customer_id).where(Message.campaign_id == planned.id))
    )
    assert sent_to == kept
    _do(session, actor, "collect_campaign_results", campaign_id=planned.id)
    results = _recipients(session, planned.id)
    answered = [r for r in results.values() if r.status == "sent" and r.response != "none"]
    assert answered and all(r.responded_at is not None for r in answered)
    for recipient in results.values():
        if recipient.response == "opted_out":
            latest = session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.customer_id == recipient.customer_id)
                .order_by(ConsentRecord.id.desc())
            ).first()
            assert (latest.status, latest.channel) == ("withdrawn", "email")
    assert session.get(Campaign, planned.id).status == "completed"
    operations = session.scalars(
        select(AuditEvent.operation).where(
            AuditEvent.entity_type == "campaign", AuditEvent.entity_id == planned.id
        )
    ).all()
    assert operations == [
        "campaign.create",
        "campaign.build_audience",
        "campaign.screen",
        "campaign.send",
        "campaign.results",
    ]


def test_a_send_reaches_the_audience_as_it_stands_when_it_was_not_screened(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    late = _plants(sandbox_session)["bridal_draft_campaign"]
    draft = sandbox_session.scalars(select(Campaign).where(Campaign.status == "draft")).one()
    _do(
        sandbox_session,
        sandbox_actor,
        "send_campaign",
        campaign_id=draft.id,
        body="Our bridal collection.",
    )
    reached = set(
        sandbox_session.scalars(select(Message.customer_id).where(Message.campaign_id == draft.id))
    )
    assert set(late) <= reached
    event = sandbox_session.scalars(
        select(AuditEvent).where(AuditEvent.operation == "campaign.send")
    ).one()
    evidence = {m["customer_id"]: m for m in event.details["messages"]}
    assert evidence[late[0]]["dm_consent"] == "withdrawn"
    assert evidence[late[0]]["contact_opted_out"] is True


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        ("send_campaign", {"campaign_name": "Nothing yet", "body": "x"}, "no single campaign"),
        (
            "collect_campaign_results",
            {"campaign_name": "Autumn Bridal Collection"},
            "not been sent",
        ),
        (
            "create_campaign",
            {
                "name": "Bad rule",
                "channel": "email",
                "marketing_class": "x",
                "audience_rule": {"field": "shoe_size", "op": "eq", "value": 7},
            },
            "audience rule is not valid",
        ),
        (
            "update_campaign",
            {"campaign_name": "Autumn Bridal Collection", "budget_hkd": -1},
            "Budget must be between",
        ),
    ],
)
def test_operations_refuse_what_the_data_rules_out(
    sandbox_session: Session, sandbox_actor: StaffUser, name: str, args: dict, fragment: str
):
    with pytest.raises(OperationError) as caught:
        apply_operation(sandbox_session, sandbox_actor, name, args)
    assert fragment in caught.value.message


def test_a_sent_campaign_can_no_longer_change_and_staff_of_other_departments_are_refused(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session = sandbox_session
    draft = session.scalars(select(Campaign).where(Campaign.status == "draft")).one()
    _do(session, sandbox_actor, "screen_campaign", campaign_id=draft.id)
    _do(session, sandbox_actor, "send_campaign", campaign_id=draft.id, body="Bridal pieces.")
    with pytest.raises(OperationError, match="already been sent"):
        _do(session, sandbox_actor, "update_campaign", campaign_id=draft.id, budget_hkd=100)
    sales = session.scalars(
        select(StaffUser)
        .join(Department, Department.id == StaffUser.department_id)
        .where(Department.code == "sales", StaffUser.is_active)
    ).first()
    with pytest.raises(OperationError, match="may not run campaigns"):
        _do(session, sales, "collect_campaign_results", campaign_id=draft.id)


# --- checks -----------------------------------------------------------------------------------

EXPECT = {
    "all": [
        *BRIDAL["all"],
        {"field": "dm_email", "op": "in", "value": ["given", "no_objection"]},
        {"field": "email", "op": "not_null"},
        {"field": "email_invalid", "op": "ne", "value": True},
    ]
}
EITHER_WAY = {
    "any": [
        {"field": f"dm_{c}", "op": "eq", "value": "withdrawn"} for c in ("sms", "phone", "post")
    ]
}


def _finish_draft(attempt: Attempt, *, screen: bool) -> int:
    draft = attempt.session.scalars(select(Campaign).where(Campaign.status == "draft")).one()
    attempt.do(
        "update_campaign",
        "campaign",
        campaign_id=draft.id,
        marketing_class="jewellery and watch offers",
    )
    if screen:
        attempt.do("screen_campaign", campaign_id=draft.id)
    attempt.do("send_campaign", campaign_id=draft.id, body="Bridal pieces. Unsubscribe free.")
    attempt.do("collect_campaign_results", campaign_id=draft.id)
    return draft.id


@pytest.mark.parametrize("screen", [True, False])
def test_recipients_match_passes_only_a_screened_send(attempt: Attempt, screen: bool):
    _finish_draft(attempt, screen=screen)
    outcome = attempt.check(
        "campaign.recipients_match",
        {"campaign": "campaign", "expect": EXPECT, "either_way": EITHER_WAY},
    )
    assert outcome.status is (Status.PASS if screen else Status.FAIL)
    if not screen:
        assert outcome.evidence["unexpected_count"] >= 3
        assert "should not have" in outcome.note


def test_recipients_match_fails_a_campaign_not_sent(attempt: Attempt):
    draft = attempt.session.scalars(select(Campaign).where(Campaign.status == "draft")).one()
    attempt.deliverables["campaign"] = draft.id
    outcome = attempt.check("campaign.recipients_match", {"campaign": "campaign", "expect": EXPECT})
    assert outcome.status is Status.FAIL and outcome.note == "The campaign was not sent."


@pytest.mark.parametrize(
    ("responses", "status"),
    [(["opened", "clicked", "purchased"], Status.PASS), (["opened"], Status.FAIL)],
)
def test_responses_report_lists_exactly_the_responders(
    attempt: Attempt, responses: list[str], status: Status
):
    _finish_draft(attempt, screen=True)
    attempt.do(
        "create_report",
        "report",
        name="Responders",
        source="campaign_recipients",
        columns=["district", "age_band", "tier"],
        filters={
            "all": [
                {"field": "campaign", "op": "eq", "value": "Autumn Bridal Collection"},
                {"field": "response", "op": "in", "value": responses},
            ]
        },
    )
    outcome = attempt.check(
        "campaign.responses_report",
        {
            "report": "report",
            "campaign": "campaign",
            "responses": ["opened", "clicked", "purchased"],
        },
    )
    assert outcome.status is status


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_campaign_pages_plan_build_screen_and_send_without_javascript(client: FlaskClient, db):
    listing = client.get(f"{BASE}/campaigns")
    assert listing.status_code == 200 and "Autumn Bridal Collection" in listing.text
    created = client.post(
        f"{BASE}/campaigns/new",
        data={
            "name": "Bridal open day",
            "channel": "email",
            "marketing_class": "jewellery and watch offers",
            "budget_hkd": "3000",
            "audience_rule": json.dumps(BRIDAL),
            "exclusions": "",
        },
    )
    assert created.status_code == 302
    campaign_url = created.headers["Location"]
    campaign_id = int(campaign_url.rstrip("/").rsplit("/", 1)[1])
    for action in ("build", "screen"):
        assert client.post(f"{BASE}/campaigns/{campaign_id}/{action}").status_code == 302
    page = client.get(f"{BASE}/campaigns/{campaign_id}")
    assert page.status_code == 200 and "Screened out" in page.text
    sent = client.post(
        f"{BASE}/campaigns/{campaign_id}/send",
        data={
            "subject": "Open day",
            "body": "Come and see. Unsubscribe free.",
            "has_opt_out_notice": "y",
        },
    )
    assert sent.status_code == 302
    collected = client.post(f"{BASE}/campaigns/{campaign_id}/results", follow_redirects=True)
    assert collected.status_code == 200 and "Results" in collected.text
    assert "Purchases (HK$)" in collected.text
    session = db()
    assert session.get(Campaign, campaign_id).status == "completed"
    assert session.scalar(
        select(func.count()).select_from(Message).where(Message.campaign_id == campaign_id)
    )


def test_campaign_pages_show_clear_errors_and_audit_refusals(client: FlaskClient, db):
    bad_json = client.post(
        f"{BASE}/campaigns/new",
        data={"name": "X", "channel": "email", "marketing_class": "y", "audience_rule": "{tier"},
    )
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.text
    draft_id = db().scalars(select(Campaign.id).where(Campaign.status == "draft")).one()
    early = client.post(f"{BASE}/campaigns/{draft_id}/results")
    assert early.status_code == 400 and "has not been sent yet" in early.text
    refusal = (
        db().scalars(select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)).one()
    )
    assert refusal.details["operation"] == "collect_campaign_results"
    assert (refusal.entity_type, refusal.entity_id) == ("campaign", draft_id)
    assert client.get(f"{BASE}/campaigns/999999").status_code == 404
    assert client.post(f"{BASE}/campaigns/999999/screen").status_code == 404
