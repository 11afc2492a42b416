"""Running a campaign as a business problem: lapsed buyers, the contact policy, the budget and
the next step the results call for (the plant, the customers field and the checks of 107189L5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from graders.results import Status
from sandbox_crm.campaigns.models import CampaignRecipient
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import Message, SandboxMeta
from sandbox_crm.plants import validate_plant
from sandbox_crm.query import select_rows
from tests.graders_helpers import Attempt
from tests.sandbox_fixtures import SANDBOX_TODAY, small_spec

SEGMENT: list[dict[str, Any]] = [
    {"field": "orders_12m", "op": "ge", "value": 2},
    {"field": "last_order_date", "op": "le", "value": {"days_ago": 90}},
]
CAPPED = {"all": [*SEGMENT, {"field": "promotions_30d", "op": "lt", "value": 3}]}
PLANTS = (
    PlantSpec.of("lapsed_buyer", 1, promotions_30d=3),
    PlantSpec.of("lapsed_buyer", 1, last_order_days_ago=90, consent="no_objection"),
    PlantSpec.of("lapsed_buyer", 1, orders=1, contact="invalid"),
    PlantSpec.of("lapsed_buyer", 1, consent="withdrawn", status="inactive"),
    PlantSpec.of("lapsed_buyer", 1, consent="not_asked", contact="missing"),
)
CLASS = "household goods and lifestyle products offers"


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    """A small retail sandbox with lapsed repeat buyers on the edges of a win-back segment."""
    return small_spec(customers=160, acting_department="marketing", plants=PLANTS)


def _planted(attempt: Attempt) -> list[int]:
    return json.loads(attempt.session.get(SandboxMeta, "plants").value)["lapsed_buyer"]


def _facts(attempt: Attempt, customer_ids: list[int]) -> list[dict[str, Any]]:
    columns = ["orders_12m", "last_order_date", "dm_sms", "mobile", "mobile_invalid"]
    columns += ["promotions_30d", "status"]
    page = select_rows(
        attempt.session,
        "customers",
        where={"field": "customer_id", "op": "in", "value": customer_ids},
        columns=["customer_id", *columns],
        as_of=SANDBOX_TODAY,
    )
    found = {row["customer_id"]: row for row in page.rows}
    return [found[c] for c in customer_ids]


def _pilot(
    attempt: Attempt,
    rule: Any = CAPPED,
    budget: int | Callable[[int], int] = 0,
    collect: bool = True,
) -> int:
    """Plan, build, screen and send an SMS pilot to the rule's customers; collect its results.

    A callable ``budget`` is given the size of the screened audience and sets the budget."""
    pilot = attempt.do(
        "create_campaign",
        "pilot",
        name="Win-back pilot",
        channel="sms",
        marketing_class=CLASS,
        budget_hkd=budget if isinstance(budget, int) else 0,
        audience_rule=rule,
    )
    attempt.do("build_audience", campaign_id=pilot.id)
    attempt.do("screen_campaign", campaign_id=pilot.id)
    if callable(budget):
        selected = attempt.session.scalars(
            select(CampaignRecipient.id).where(
                CampaignRecipient.campaign_id == pilot.id, CampaignRecipient.status == "selected"
            )
        ).all()
        attempt.do("update_campaign", campaign_id=pilot.id, budget_hkd=budget(len(selected)))
    attempt.do(
        "send_campaign",
        campaign_id=pilot.id,
        body="We miss you: 15% off this month. Reply STOP to opt out free.",
        has_opt_out_notice=True,
    )
    if collect:
        attempt.do("collect_campaign_results", campaign_id=pilot.id)
    return pilot.id


# --- the plant and the field ------------------------------------------------------------------


def test_lapsed_buyers_have_exactly_the_planted_history_consent_and_contact(attempt: Attempt):
    capped, edge, one_order, withdrawn, never_asked = _facts(attempt, _planted(attempt))
    day = SANDBOX_TODAY - timedelta(days=120)
    assert capped == {
        **capped,
        "orders_12m": 2,
        "last_order_date": day,
        "dm_sms": "given",
        "mobile_invalid": False,
        "promotions_30d": 3,
        "status": "active",
    }
    assert edge["last_order_date"] == SANDBOX_TODAY - timedelta(days=90)
    assert (edge["dm_sms"], edge["promotions_30d"]) == ("no_objection", 0)
    assert (one_order["orders_12m"], one_order["mobile_invalid"]) == (1, True)
    assert (withdrawn["dm_sms"], withdrawn["status"]) == ("withdrawn", "inactive")
    assert (never_asked["dm_sms"], never_asked["mobile"]) == ("not_asked", None)


def test_a_lapsed_buyer_plant_refuses_a_last_order_outside_the_year():
    with pytest.raises(ValueError, match="last_order_days_ago"):
        validate_plant("lapsed_buyer", {"last_order_days_ago": 400})
    with pytest.raises(ValueError, match="consent"):
        validate_plant("lapsed_buyer", {"consent": "maybe"})


def test_promotions_30d_counts_promotions_in_the_30_days_up_to_today(attempt: Attempt):
    customer_id = _planted(attempt)[1]
    for days_ago, kind in ((29, "promotional"), (30, "promotional"), (2, "service")):
        attempt.session.add(
            Message(
                customer_id=customer_id,
                channel="sms",
                kind=kind,
                to_address="91234567",
                body="Offer",
                sent_at=datetime.combine(SANDBOX_TODAY - timedelta(days=days_ago), time(12)),
            )
        )
    attempt.session.commit()
    assert _facts(attempt, [customer_id])[0]["promotions_30d"] == 1
    attempt.do(
        "send_message",
        customer_id=customer_id,
        channel="sms",
        kind="promotional",
        body="Weekend offer. Reply STOP to opt out free.",
        has_opt_out_notice=True,
    )
    assert _facts(attempt, [customer_id])[0]["promotions_30d"] == 2


# --- the checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "status"), [(CAPPED, Status.PASS), ({"all": SEGMENT}, Status.FAIL)]
)
def test_contact_frequency_fails_a_pilot_that_ignores_the_contact_policy(
    attempt: Attempt, rule: Any, status: Status
):
    _pilot(attempt, rule)
    outcome = attempt.check(
        "campaign.contact_frequency", {"campaign": "pilot", "max_promotions": 3, "days": 30}
    )
    assert outcome.status is status
    if status is Status.FAIL:
        assert outcome.evidence["over_contacted_count"] == 1
        assert outcome.evidence["over_contacted"][0]["earlier_promotions"] == 3


@pytest.mark.parametrize(
    ("budget", "note"),
    [
        (lambda sent: -(-sent * 5 // 2), None),  # HK$2.50 a message, rounded up
        (lambda sent: sent * 2, "does not cover"),
        (lambda sent: 301, "over the limit"),
    ],
)
def test_budget_matches_wants_the_cost_of_what_was_sent_within_the_cap(
    attempt: Attempt, budget: Callable[[int], int], note: str | None
):
    _pilot(attempt, budget=budget, collect=False)
    outcome = attempt.check(
        "campaign.budget_matches", {"campaign": "pilot", "per_contact_hkd": 2.5, "max_hkd": 300}
    )
    assert outcome.status is (Status.PASS if note is None else Status.FAIL), outcome.evidence
    assert outcome.evidence["messages_sent"] > 0
    if note:
        assert note in outcome.note


def test_budget_matches_with_a_tolerance_refuses_a_budget_well_over_the_cost(attempt: Attempt):
    _pilot(attempt, budget=250, collect=False)
    params = {"campaign": "pilot", "per_contact_hkd": 2.5}
    assert attempt.check("campaign.budget_matches", params).status is Status.PASS
    tight = attempt.check("campaign.budget_matches", {**params, "tolerance_hkd": 10})
    assert tight.status is Status.FAIL and "more than its messages cost" in tight.note


EMAIL_RETARGET = {"channel": "email", "where": {"all": SEGMENT}}
SMS_SECOND_WAVE = {
    "channel": "sms",
    "where": {
        "all": [
            {"field": "orders_12m", "op": "ge", "value": 2},
            {"field": "last_order_date", "op": "le", "value": {"days_ago": 60}},
            {"field": "last_order_date", "op": "gt", "value": {"days_ago": 90}},
        ]
    },
}


def _follow_up(attempt: Attempt, target: float, **changes: Any) -> Any:
    params = {
        "campaign": "pilot",
        "follow_up": "next",
        "responses": ["purchased"],
        "target_percent": target,
        "if_met": SMS_SECOND_WAVE,
        "if_missed": EMAIL_RETARGET,
        "either_way": {"field": "dm_email", "op": "eq", "value": "withdrawn"},
        **changes,
    }
    return attempt.check("campaign.follow_up_matches", params)


def _next(attempt: Attempt, channel: str, rule: Any) -> int:
    return attempt.do(
        "create_campaign",
        "next",
        name=f"Next wave by {channel}",
        channel=channel,
        marketing_class=CLASS,
        audience_rule=rule,
    ).id


def test_follow_up_matches_the_decision_the_measured_rate_calls_for(attempt: Attempt):
    _pilot(attempt)
    _next(attempt, "email", {"all": SEGMENT})
    missed = _follow_up(attempt, 99)
    assert missed.status is Status.PASS, missed.evidence
    rate = missed.evidence["rate_percent"]
    met = _follow_up(attempt, 0.1)
    assert met.status is Status.FAIL and rate >= 0.1
    assert "does not follow from the result" in met.note
    assert _follow_up(attempt, rate + 0.5, margin_percent=1).status is Status.PASS


def test_follow_up_matches_ignores_only_the_rows_a_decision_leaves_open(attempt: Attempt):
    _pilot(attempt)
    consenting = {"field": "dm_email", "op": "in", "value": ["given", "no_objection"]}
    _next(attempt, "email", {"all": [*SEGMENT, consenting]})
    assert _follow_up(attempt, 99).status is Status.FAIL
    open_rows = {**EMAIL_RETARGET, "either_way": {"not": consenting}}
    assert _follow_up(attempt, 99, if_missed=open_rows).status is Status.PASS


def test_follow_up_matches_fails_a_wrong_audience_a_sent_wave_and_uncollected_results(
    attempt: Attempt,
):
    _pilot(attempt, collect=False)
    _next(attempt, "email", CAPPED)
    uncollected = _follow_up(attempt, 99)
    assert uncollected.status is Status.FAIL and "not collected" in uncollected.note
    attempt.do("collect_campaign_results", campaign_id=attempt.deliverables["pilot"])
    wrong_rule = _follow_up(attempt, 99)
    assert wrong_rule.status is Status.FAIL and "not what the decision" in wrong_rule.note
    next_id = _next(attempt, "email", {"all": SEGMENT})
    attempt.do("build_audience", campaign_id=next_id)
    attempt.do("screen_campaign", campaign_id=next_id)
    attempt.do("send_campaign", campaign_id=next_id, body="Offer. Unsubscribe free.")
    sent = _follow_up(attempt, 99)
    assert sent.status is Status.FAIL and "was sent" in sent.note


# --- the unit page ----------------------------------------------------------------------------


def test_the_unit_page_lists_the_campaign_scenario_with_the_prs_it_assesses(
    client_as, trainee, shipped_definitions
):
    html = client_as(trainee).get("/units/107189L5").get_data(as_text=True)
    assert "Win back lapsed repeat buyers with the campaign module" in html
    for pr in ("1.1.2", "1.2.2", "2.1.2", "3.1"):
        assert f'href="#pr-{pr}"' in html
