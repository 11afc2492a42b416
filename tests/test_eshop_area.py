"""The e-shop area: its planted accounts, the import, the data-quality queue, their checks, the
PDPO findings they make observable, and their pages."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.results import Status
from sandbox_crm.consent import current_consent_status
from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopActivity,
    EshopConsent,
    EshopImportEntry,
    EshopMatch,
    ProfileUpdateRequest,
    QualityIssue,
)
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import (
    AuditEvent,
    ConsentRecord,
    ContactPoint,
    Customer,
)
from sandbox_crm.operations import REFUSED_OPERATION, OperationError
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 10, 5)
ESHOP_PLANTS = (
    PlantSpec.of("eshop_accounts", 2),  # 0, 1: true duplicates
    PlantSpec.of("eshop_accounts", 1, unsubscribed=True),  # 2: unsubscribed on the e-shop
    PlantSpec.of("eshop_accounts", 1, match="near"),  # 3: e-mail one letter off
    PlantSpec.of("eshop_accounts", 1, match="near", variation="swapped"),  # 4
    PlantSpec.of("eshop_accounts", 1, match="new"),  # 5
)
QUALITY_PLANTS = (
    PlantSpec.of("incomplete_profile", 1),  # 0: district missing, reachable by e-mail
    PlantSpec.of("incomplete_profile", 1, reach="opted_out"),  # 1: withdrawn everywhere
    PlantSpec.of("incomplete_profile", 1, defect="malformed_email", reach="sms"),  # 2
)


def eshop_spec(**changes: object) -> GenerationSpec:
    """A small retail sandbox with the e-shop and data-quality plants."""
    fields: dict[str, object] = {
        "profile": "retail",
        "seed": 1071,
        "customers": 120,
        "today": TODAY,
        "plants": ESHOP_PLANTS + QUALITY_PLANTS,
    }
    fields.update(changes)
    return GenerationSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return eshop_spec()


def _planted(session: Session, kind: str) -> list[int]:
    return list(sandbox_info(session).plants[kind])


# --- generation -------------------------------------------------------------------------------


def test_the_eshop_is_deterministic_and_leaves_the_rest_of_the_sandbox_as_it_was():
    with_shop = eshop_spec(plants=ESHOP_PLANTS)
    first, second = generated(with_shop), generated(with_shop)
    without = generated(eshop_spec(plants=()))
    try:
        for model in (EshopAccount, EshopConsent, EshopActivity):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
            assert not table_rows(without, model), model.__name__
        for model in (Customer, ContactPoint, ConsentRecord):
            assert table_rows(first, model) == table_rows(without, model), model.__name__
    finally:
        for session in (first, second, without):
            session.close()


def test_planted_accounts_are_in_the_eshops_own_formats(attempt: Attempt):
    session = attempt.session
    exact, near = (
        session.get_one(EshopAccount, i) for i in _planted(session, "eshop_accounts")[:4:3]
    )
    customer = session.get_one(
        Customer,
        sandbox_info(session).plant_details["eshop_accounts"][str(exact.id)]["customer_id"],
    )
    assert exact.mobile_no.startswith("+852 ")
    assert f"{exact.last_name} {exact.first_name}" == customer.name_en
    assert near.cust_email != exact.cust_email
    with pytest.raises(ValueError, match="variation applies to near matches only"):
        PlantSpec.of("eshop_accounts", 1, variation="swapped")
    with pytest.raises(ValueError, match="cannot be reached by e-mail"):
        PlantSpec.of("incomplete_profile", 1, defect="malformed_email", reach="email")


# --- the import -------------------------------------------------------------------------------


def _sync(attempt: Attempt) -> dict[int, list[EshopMatch]]:
    attempt.do("run_eshop_sync")
    found: dict[int, list[EshopMatch]] = {}
    for match in attempt.session.scalars(select(EshopMatch).order_by(EshopMatch.score.desc())):
        found.setdefault(match.account_id, []).append(match)
    return found


def test_the_sync_scores_candidates_and_gives_its_reasons(attempt: Attempt):
    accounts = _planted(attempt.session, "eshop_accounts")
    found = _sync(attempt)
    best = {account: matches[0] for account, matches in found.items()}
    assert best[accounts[0]].score == 100
    assert "email_typo" in best[accounts[3]].reasons and best[accounts[3]].score < 100
    assert "name_order" in best[accounts[4]].reasons
    assert accounts[5] not in found


def test_a_merge_keeps_every_consent_and_an_eshop_unsubscribe_stays_in_force(attempt: Attempt):
    unsubscribed = _planted(attempt.session, "eshop_accounts")[2]
    _sync(attempt)
    account = attempt.do("merge_eshop_account", account_id=unsubscribed)
    session = attempt.session
    assert account.recon_status == "merged"
    assert (
        current_consent_status(session, account.customer_id, "direct_marketing", "email")
        == "withdrawn"
    )
    entry = session.scalars(
        select(EshopImportEntry).where(EshopImportEntry.account_id == unsubscribed)
    ).one()
    assert entry.action == "merged" and entry.consents_copied == 2


def test_a_merge_of_the_crm_records_only_drops_the_eshop_unsubscribe(attempt: Attempt):
    unsubscribed = _planted(attempt.session, "eshop_accounts")[2]
    _sync(attempt)
    account = attempt.do("merge_eshop_account", account_id=unsubscribed, consents="crm_only")
    status = current_consent_status(
        attempt.session, account.customer_id, "direct_marketing", "email"
    )
    assert status != "withdrawn"


def test_create_and_review_record_the_decision_and_refusals_change_nothing(attempt: Attempt):
    accounts = _planted(attempt.session, "eshop_accounts")
    with pytest.raises(OperationError, match="run the sync first"):
        attempt.do("merge_eshop_account", account_id=accounts[0])
    _sync(attempt)
    created = attempt.do("create_customer_from_eshop", account_id=accounts[5])
    customer = attempt.session.get_one(Customer, created.customer_id)
    assert customer.source_system == "eshop" and customer.collection_notice_id is not None
    with pytest.raises(OperationError, match="already created"):
        attempt.do("create_customer_from_eshop", account_id=accounts[5])
    with pytest.raises(OperationError, match="Reason is required"):
        attempt.do("leave_eshop_account_for_review", account_id=accounts[3], reason=" ")
    with pytest.raises(OperationError, match="not a candidate"):
        attempt.do("link_eshop_account", account_id=accounts[3], customer_id=customer.id)
    assert (
        attempt.do(
            "leave_eshop_account_for_review", account_id=accounts[3], reason="Typo"
        ).recon_status
        == "review"
    )


# --- data quality -----------------------------------------------------------------------------


def test_the_rules_raise_issues_once_and_requests_go_only_to_well_formed_contacts(attempt: Attempt):
    district, _, malformed = _planted(attempt.session, "incomplete_profile")
    scan = attempt.do("run_quality_rules")
    rules = {(i.customer_id, i.rule) for i in attempt.session.scalars(select(QualityIssue))}
    assert scan.raised == len(rules)
    assert (district, "missing_district") in rules and (malformed, "malformed_email") in rules
    assert attempt.do("run_quality_rules").raised == 0
    with pytest.raises(OperationError, match="no valid contact point for email"):
        attempt.do(
            "request_profile_update", customer_id=malformed, rule="malformed_email", channel="email"
        )
    issue = attempt.do(
        "request_profile_update", customer_id=malformed, rule="malformed_email", channel="sms"
    )
    assert issue.status == "requested"
    request = attempt.session.scalars(select(ProfileUpdateRequest)).one()
    assert request.channel == "sms"


def test_an_issue_closed_as_unreachable_is_not_raised_again(attempt: Attempt):
    unreachable = _planted(attempt.session, "incomplete_profile")[1]
    attempt.do("run_quality_rules")
    with pytest.raises(OperationError, match="Reason is required"):
        attempt.do(
            "close_quality_issue",
            customer_id=unreachable,
            rule="missing_district",
            resolution="no_consented_channel",
            reason="",
        )
    attempt.do(
        "close_quality_issue",
        customer_id=unreachable,
        rule="missing_district",
        resolution="no_consented_channel",
        reason="Opted out everywhere",
    )
    attempt.do("run_quality_rules")
    issues = attempt.session.scalars(
        select(QualityIssue).where(QualityIssue.customer_id == unreachable)
    ).all()
    assert [i.status for i in issues if i.rule == "missing_district"] == ["closed"]


# --- checks and PDPO rules --------------------------------------------------------------------


def _import(attempt: Attempt, *, near: str, consents: str = "all") -> None:
    accounts = _planted(attempt.session, "eshop_accounts")
    _sync(attempt)
    for account in accounts[:3]:
        attempt.do("merge_eshop_account", account_id=account, consents=consents)
    for account in accounts[3:5]:
        if near == "review":
            attempt.do("leave_eshop_account_for_review", account_id=account, reason="Uncertain")
        else:
            attempt.do("merge_eshop_account", account_id=account)
    attempt.do("create_customer_from_eshop", account_id=accounts[5])


@pytest.mark.parametrize(("near", "status"), [("review", Status.PASS), ("merge", Status.FAIL)])
def test_reconciled_and_acc_01_pass_only_when_uncertain_accounts_are_left(attempt, near, status):
    _import(attempt, near=near)
    outcome = attempt.check("eshop.reconciled", {})
    assert outcome.status is status
    assert attempt.rule("ACC-01").status is status
    if status is Status.FAIL:
        assert "left for review" in outcome.note


@pytest.mark.parametrize(("consents", "status"), [("all", Status.PASS), ("crm_only", Status.FAIL)])
def test_consents_kept_and_dm_06_fail_when_an_eshop_unsubscribe_is_dropped(
    attempt, consents, status
):
    _import(attempt, near="review", consents=consents)
    assert attempt.check("eshop.consents_kept", {}).status is status
    assert attempt.rule("DM-06").status is status


def _work_queue(attempt: Attempt, unreachable_channel: str | None) -> None:
    reachable, unreachable, malformed = _planted(attempt.session, "incomplete_profile")
    attempt.do("run_quality_rules")
    attempt.do(
        "request_profile_update", customer_id=reachable, rule="missing_district", channel="email"
    )
    attempt.do(
        "request_profile_update", customer_id=malformed, rule="malformed_email", channel="sms"
    )
    if unreachable_channel is None:
        attempt.do(
            "close_quality_issue",
            customer_id=unreachable,
            rule="missing_district",
            resolution="no_consented_channel",
            reason="Opted out of every channel",
        )
    else:
        attempt.do(
            "request_profile_update",
            customer_id=unreachable,
            rule="missing_district",
            channel=unreachable_channel,
        )


@pytest.mark.parametrize(("channel", "status"), [(None, Status.PASS), ("email", Status.FAIL)])
def test_update_requests_and_dm_06_fail_a_request_to_an_opted_out_customer(
    attempt, channel, status
):
    _work_queue(attempt, channel)
    params = {"rules": ["missing_district", "malformed_email"], "plants": ["incomplete_profile"]}
    outcome = attempt.check("quality.update_requests", params)
    assert outcome.status is status
    assert attempt.rule("DM-06").status is status


def test_update_requests_fail_when_the_rules_were_never_run(attempt: Attempt):
    outcome = attempt.check("quality.update_requests", {"plants": ["incomplete_profile"]})
    assert outcome.status is Status.FAIL and "not run" in outcome.note


@pytest.mark.parametrize("invent", [False, True])
def test_nothing_invented_and_acc_01_fail_a_district_filled_in_by_staff(attempt, invent):
    _work_queue(attempt, None)
    if invent:
        reachable = _planted(attempt.session, "incomplete_profile")[0]
        attempt.do("update_customer", customer_id=reachable, district="Sha Tin")
    expected = Status.FAIL if invent else Status.PASS
    assert attempt.check("quality.nothing_invented", {}).status is expected
    assert attempt.rule("ACC-01").status is expected


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_the_import_pages_sync_and_decide_without_javascript(client: FlaskClient, db):
    listing = client.get(f"{BASE}/eshop")
    assert listing.status_code == 200 and "cust_email" in listing.text
    assert client.post(f"{BASE}/eshop/sync").status_code == 302
    session = db()
    accounts = _planted(session, "eshop_accounts")
    page = client.get(f"{BASE}/eshop/{accounts[0]}")
    assert page.status_code == 200 and "same e-mail address" in page.text
    merged = client.post(f"{BASE}/eshop/{accounts[0]}/merge", data={"consents": "all"})
    assert merged.status_code == 302
    empty = client.post(f"{BASE}/eshop/{accounts[3]}/review", data={"reason": ""})
    assert empty.status_code == 400 and "Reason is required" in empty.text
    session = db()
    assert session.get_one(EshopAccount, accounts[0]).recon_status == "merged"
    refusal = session.scalars(
        select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)
    ).one()
    assert refusal.details["operation"] == "leave_eshop_account_for_review"
    assert client.get(f"{BASE}/eshop/999999").status_code == 404
    assert client.get(f"{BASE}/eshop?recon_status=merged").status_code == 200


def test_the_quality_pages_raise_ask_and_close_without_javascript(client: FlaskClient, db):
    assert client.post(f"{BASE}/quality/scan").status_code == 302
    queue = client.get(f"{BASE}/quality?rule=missing_district")
    assert queue.status_code == 200 and "District missing" in queue.text
    session = db()
    reachable, unreachable, _ = _planted(session, "incomplete_profile")
    issue = session.scalars(
        select(QualityIssue).where(QualityIssue.customer_id == reachable)
    ).first()
    other = session.scalars(
        select(QualityIssue).where(QualityIssue.customer_id == unreachable)
    ).first()
    page = client.get(f"{BASE}/quality/{issue.id}")
    assert page.status_code == 200 and "Direct-marketing consent" in page.text
    assert (
        client.post(f"{BASE}/quality/{issue.id}/request", data={"channel": "email"}).status_code
        == 302
    )
    closed = client.post(
        f"{BASE}/quality/{other.id}/close",
        data={"resolution": "no_consented_channel", "reason": "Opted out"},
    )
    assert closed.status_code == 302
    bad = client.post(
        f"{BASE}/quality/{other.id}/close", data={"resolution": "corrected", "reason": "x"}
    )
    assert bad.status_code == 400 and "already closed" in bad.text
    session = db()
    assert session.get_one(QualityIssue, other.id).resolution == "no_consented_channel"
    assert session.get_one(QualityIssue, issue.id).status == "requested"
    assert client.get(f"{BASE}/quality/999999").status_code == 404
