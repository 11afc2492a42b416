"""The data subject requests area: the planted request, each operation (done and refused), the
deadline view and the request page, the DAR, DCR and ACC rules on it, and its determinism."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from graders.results import Status
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import AuditEvent, Customer
from sandbox_crm.operations import REFUSED_OPERATION, OperationError
from sandbox_crm.requests.models import (
    CorrectionNotice,
    DataDisclosure,
    DataRequest,
    RequestCopyItem,
)
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE, SANDBOX_KEY

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
    first, second = generated(spec), generated(spec)
    without = generated(requests_spec(plants=()))
    try:
        for model in (DataRequest, DataDisclosure):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
            assert not table_rows(without, model), model.__name__
        assert table_rows(first, Customer) == table_rows(second, Customer)
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
    spouse = attempt.session.get_one(Customer, details["other_customer_id"])
    assert spouse.name_en == SPOUSE and len(spouse.consents) == 4
    with pytest.raises(ValueError, match="DR-9"):
        PlantSpec.of("data_request", 1, reference="X-1")


# --- operations -------------------------------------------------------------------------------


def test_a_competent_release_verifies_compiles_redacts_and_answers_in_time(attempt: Attempt):
    _released(attempt)
    found = _request(attempt, ACCESS)
    assert found.outcome == "copy_provided" and found.responded_on == TODAY
    copy = attempt.session.scalars(
        select(RequestCopyItem).where(RequestCopyItem.request_id == found.id)
    ).all()
    assert {item.item for item in copy} >= {"profile", "contact_details", "notes"}
    text = "\n".join(item.content for item in copy)
    assert SPOUSE not in text and "6123 4567" not in text and "[redacted]" in text
    events = attempt.session.scalars(
        select(AuditEvent.operation).where(AuditEvent.entity_id == found.id)
    ).all()
    assert "request.redact_copy" in events and "request.respond" in events
    for rule_id in ("DAR-01", "DAR-02", "DAR-04", "DAR-05"):
        assert attempt.rule(rule_id).status is Status.PASS, rule_id
    with pytest.raises(OperationError, match="has been answered"):
        attempt.do("quote_request_fee", reference=ACCESS, fee_hkd=0)


def test_logging_a_request_counts_day_40_from_receipt_and_checks_what_it_asks(attempt: Attempt):
    member = attempt.session.scalars(select(Customer.member_no).order_by(Customer.id)).first()
    args = {
        "member_no": member,
        "requester_name": "The customer",
        "channel": "post",
        "form_used": "pcpd_form",
    }
    made = attempt.do("log_data_request", kind="access", received_on=TODAY, **args)
    assert made.due_on == TODAY + timedelta(days=40) and made.reference.startswith("DR-")
    with pytest.raises(OperationError, match="in the future"):
        attempt.do("log_data_request", kind="access", received_on=TODAY + timedelta(days=1), **args)
    with pytest.raises(OperationError, match="which field to correct"):
        attempt.do("log_data_request", kind="correction", received_on=TODAY, **args)
    with pytest.raises(OperationError, match="Kind must be one of"):
        attempt.do("log_data_request", kind="erase", received_on=TODAY, **args)


def test_refusals_of_the_request_operations_change_nothing(attempt: Attempt):
    with pytest.raises(OperationError, match="not the identity card number"):
        attempt.do(
            "verify_requester_identity",
            reference=ACCESS,
            method="identity_document_seen",
            evidence="Card A123456(3) seen",
        )
    with pytest.raises(OperationError, match="Compile the copy"):
        attempt.do("redact_access_copy", reference=ACCESS, text=SPOUSE)
    with pytest.raises(OperationError, match="Compile the copy"):
        attempt.do("respond_to_request", reference=ACCESS, outcome="copy_provided", channel="post")
    attempt.do("compile_access_copy", reference=ACCESS, items=["profile"])
    with pytest.raises(OperationError, match="does not appear"):
        attempt.do("redact_access_copy", reference=ACCESS, text="nobody at all")
    with pytest.raises(OperationError, match="not a ground"):
        attempt.do(
            "refuse_data_request",
            reference=ACCESS,
            ground="not_satisfied_inaccurate",
            reason="We think the data are right",
            channel="post",
        )
    with pytest.raises(OperationError, match="still due by day 40"):
        attempt.do(
            "extend_data_request",
            reference=ACCESS,
            reason="The archive is off site this month",
            comply_by=TODAY + timedelta(days=2),
        )
    with pytest.raises(OperationError, match="no request with reference"):
        attempt.do("quote_request_fee", reference="DR-999999", fee_hkd=0)
    with pytest.raises(OperationError, match="not a correction request"):
        attempt.do("correct_requested_data", reference=ACCESS)
    found = _request(attempt, ACCESS)
    assert found.identity_verified_at is None and found.outcome == ""


def test_staff_outside_customer_service_are_refused_and_the_refusal_is_audited(
    sandbox_store, sandbox_spec
):
    from sandbox_crm.models import Department, StaffUser
    from sandbox_crm.operations import apply_operation, record_refusal

    sandbox_store.create(SANDBOX_KEY, sandbox_spec, clock_mode="stepped")
    with sandbox_store.session(SANDBOX_KEY) as session:
        trainee = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()
        trainee.department_id = session.scalars(
            select(Department.id).where(Department.code == "marketing")
        ).one()
        session.commit()
        args = {"reference": ACCESS, "fee_hkd": 0}
        with pytest.raises(OperationError, match="may not handle data access") as refusal:
            apply_operation(session, trainee, "quote_request_fee", args)
        record_refusal(session, trainee, "quote_request_fee", refusal.value, ("data_request", 1))
        session.commit()
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)
        ).one()
        assert refused.details["operation"] == "quote_request_fee"


# --- the rules --------------------------------------------------------------------------------


def test_dar_04_fails_a_copy_with_the_spouse_in_it_or_released_before_verifying(attempt: Attempt):
    attempt.do("compile_access_copy", reference=ACCESS, items=ALL_ITEMS)
    attempt.do("respond_to_request", reference=ACCESS, outcome="copy_provided", channel="email")
    result = attempt.rule("DAR-04")
    assert result.status is Status.FAIL
    messages = " ".join(f.message for f in result.findings)
    assert "without first verifying" in messages and "another person's data" in messages


def test_dar_04_fails_a_copy_with_only_the_name_redacted(attempt: Attempt):
    attempt.do(
        "verify_requester_identity",
        reference=ACCESS,
        method="registered_contact_confirmed",
        evidence="Called back on the registered mobile; security answers matched",
    )
    attempt.do("compile_access_copy", reference=ACCESS, items=ALL_ITEMS)
    attempt.do("redact_access_copy", reference=ACCESS, text=SPOUSE)
    attempt.do("respond_to_request", reference=ACCESS, outcome="copy_provided", channel="email")
    result = attempt.rule("DAR-04")
    assert result.status is Status.FAIL and len(result.findings) == 1


@pytest.mark.parametrize(("fee", "status"), [(50, Status.PASS), (500, Status.FAIL)])
def test_dar_05_an_access_fee_above_the_direct_cost(attempt: Attempt, fee: int, status: Status):
    attempt.do("quote_request_fee", reference=ACCESS, fee_hkd=fee, basis="Handling")
    assert attempt.rule("DAR-05").status is status


def test_dar_05_any_fee_for_a_correction(attempt: Attempt):
    attempt.do("quote_request_fee", reference=CORRECTION, fee_hkd=10, basis="Postage")
    result = attempt.rule("DAR-05")
    assert result.status is Status.FAIL and "a correction is free" in result.findings[0].message


def test_dar_01_and_02_an_answer_dated_after_day_40_without_a_notice(attempt: Attempt):
    assert attempt.rule("DAR-01").status is Status.PASS
    _released(attempt, sent_on=TODAY + timedelta(days=10))
    for rule_id in ("DAR-01", "DAR-02"):
        assert attempt.rule(rule_id).status is Status.FAIL, rule_id


def test_dar_01_and_02_pass_a_written_notice_sent_by_day_40(attempt: Attempt):
    attempt.do(
        "extend_data_request",
        reference=ACCESS,
        reason="Part of the record is in the branch archive and is being retrieved",
        comply_by=TODAY + timedelta(days=14),
    )
    _released(attempt, sent_on=TODAY + timedelta(days=10))
    for rule_id in ("DAR-01", "DAR-02"):
        assert attempt.rule(rule_id).status is Status.PASS, rule_id


def test_dar_02_an_open_request_past_day_40(attempt: Attempt):
    found = _request(attempt, ACCESS)
    found.received_on -= timedelta(days=10)
    found.due_on -= timedelta(days=10)
    attempt.session.commit()
    result = attempt.rule("DAR-02")
    assert result.status is Status.FAIL and ACCESS in result.findings[0].message


@pytest.mark.parametrize(("logged", "status"), [(True, Status.PASS), (False, Status.FAIL)])
def test_dar_03_a_refusal_needs_its_log_book_entry(attempt: Attempt, logged: bool, status):
    assert attempt.rule("DAR-03").status is Status.NOT_APPLICABLE
    attempt.do(
        "refuse_data_request",
        reference=ACCESS,
        ground="identity_not_verified",
        reason="The requester could not prove that she is the member",
        channel="post",
    )
    if logged:
        attempt.do("log_refusal", reference=ACCESS, note="Identity not proven at the counter")
    assert attempt.rule("DAR-03").status is status


def _corrected(attempt: Attempt) -> DataRequest:
    attempt.do(
        "verify_requester_identity",
        reference=CORRECTION,
        method="member_details_matched",
        evidence="Member number, date of joining and mobile matched",
    )
    attempt.do("correct_requested_data", reference=CORRECTION)
    attempt.do("respond_to_request", reference=CORRECTION, outcome="corrected", channel="email")
    return _request(attempt, CORRECTION)


def test_a_correction_changes_the_data_and_dcr_01_passes(attempt: Attempt):
    assert attempt.rule("DCR-01").status is Status.PASS
    found = _corrected(attempt)
    assert attempt.session.get_one(Customer, found.customer_id).district == "Sai Kung"
    assert attempt.rule("DCR-01").status is Status.PASS


def test_dcr_01_fails_a_correction_request_left_past_day_40(attempt: Attempt):
    found = _request(attempt, CORRECTION)
    found.received_on -= timedelta(days=40)
    found.due_on -= timedelta(days=40)
    attempt.session.commit()
    assert attempt.rule("DCR-01").status is Status.FAIL


def test_acc_02_recipients_of_the_last_12_months_are_sent_the_correction(attempt: Attempt):
    assert attempt.rule("ACC-02").status is Status.NOT_APPLICABLE
    found = _corrected(attempt)
    disclosures = attempt.session.scalars(
        select(DataDisclosure)
        .where(DataDisclosure.customer_id == found.customer_id)
        .order_by(DataDisclosure.id)
    ).all()
    recent, old = disclosures[:2], disclosures[2]
    assert (TODAY - old.disclosed_on).days > 365
    attempt.do(
        "notify_correction_recipient",
        reference=CORRECTION,
        disclosure_id=recent[0].id,
        channel="email",
    )
    result = attempt.rule("ACC-02")
    assert result.status is Status.FAIL and recent[1].recipient in result.findings[0].message
    attempt.do(
        "notify_correction_recipient",
        reference=CORRECTION,
        disclosure_id=recent[1].id,
        channel="post",
    )
    assert attempt.rule("ACC-02").status is Status.PASS
    assert len(attempt.session.scalars(select(CorrectionNotice)).all()) == 2


def _all_disclosures_told(attempt: Attempt, found: DataRequest) -> None:
    """Pass the correction on to every disclosure, so that only exports and hand-offs count."""
    for disclosure in attempt.session.scalars(
        select(DataDisclosure).where(DataDisclosure.customer_id == found.customer_id)
    ).all():
        attempt.do(
            "notify_correction_recipient",
            reference=CORRECTION,
            disclosure_id=disclosure.id,
            channel="email",
        )


def _district_report(attempt: Attempt, *columns: str) -> int:
    """A report of the correction's customer with the given columns."""
    member = attempt.session.get_one(Customer, _request(attempt, CORRECTION).customer_id)
    where = {"all": [{"field": "member_no", "op": "eq", "value": member.member_no}]}
    report = attempt.report(None, name="Member by district", columns=list(columns), filters=where)
    return report.id


def test_acc_02_counts_an_export_of_the_item_and_passes_once_the_department_has_it_again(
    attempt: Attempt,
):
    report_id = _district_report(attempt, "member_no", "district")
    export = attempt.export(report_id, for_department="marketing")
    found = _corrected(attempt)
    _all_disclosures_told(attempt, found)
    result = attempt.rule("ACC-02")
    assert result.status is Status.FAIL
    assert f"export #{export.id}" in result.findings[0].message
    attempt.export(report_id, for_department="marketing")
    assert attempt.rule("ACC-02").status is Status.PASS


def test_acc_02_leaves_out_an_export_without_the_item_and_notes_one_with_no_recipient(
    attempt: Attempt,
):
    attempt.export(_district_report(attempt, "member_no", "tier"), for_department="marketing")
    attempt.export(_district_report(attempt, "member_no", "district"), for_department=None)
    _all_disclosures_told(attempt, _corrected(attempt))
    result = attempt.rule("ACC-02")
    assert result.status is Status.PASS
    assert "no recorded recipient not judged" in result.reason


@pytest.mark.parametrize(
    ("fields", "status"), [(["member_no", "district"], Status.FAIL), (["member_no"], Status.PASS)]
)
def test_acc_02_counts_a_handoff_that_carried_the_corrected_item(
    attempt: Attempt, fields: list[str], status: Status
):
    member = attempt.session.get_one(Customer, _request(attempt, CORRECTION).customer_id)
    handoff = {
        "department": "sales",
        "purpose": "sales_follow_up",
        "subject": "Follow up the member's order",
        "member_no": member.member_no,
    }
    attempt.do("create_handoff", **handoff, fields=fields)
    _all_disclosures_told(attempt, _corrected(attempt))
    result = attempt.rule("ACC-02")
    assert result.status is status
    if status is Status.FAIL:
        assert "sales department (hand-off" in result.findings[0].message
        attempt.do("create_handoff", **handoff, fields=["member_no", "district"])
        assert attempt.rule("ACC-02").status is Status.PASS


def test_a_correction_cannot_be_passed_on_before_it_is_made(attempt: Attempt):
    disclosure = attempt.session.scalars(select(DataDisclosure)).first()
    with pytest.raises(OperationError, match="Correct the data before"):
        attempt.do(
            "notify_correction_recipient",
            reference=CORRECTION,
            disclosure_id=disclosure.id,
            channel="email",
        )
    with pytest.raises(OperationError, match="corrected copy"):
        attempt.do(
            "respond_to_request", reference=CORRECTION, outcome="no_data_held", channel="post"
        )
    customer = attempt.session.get_one(Customer, _request(attempt, CORRECTION).customer_id)
    assert customer.district != "Sai Kung"


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_the_deadline_view_shows_days_left_and_overdue_requests(client: FlaskClient, db):
    listing = client.get(f"{BASE}/requests")
    assert listing.status_code == 200
    assert ACCESS in listing.text and CORRECTION in listing.text
    session = db()
    found = session.scalars(select(DataRequest).where(DataRequest.reference == ACCESS)).one()
    found.received_on -= timedelta(days=10)
    found.due_on -= timedelta(days=10)
    session.commit()
    overdue = client.get(f"{BASE}/requests?overdue=1")
    assert ACCESS in overdue.text and CORRECTION not in overdue.text
    only = client.get(f"{BASE}/requests?kind=correction&page=2")
    assert only.status_code == 200 and CORRECTION in only.text and ACCESS not in only.text


def test_the_request_page_works_a_release_without_javascript(client: FlaskClient, db):
    request_id = db().scalars(select(DataRequest.id).where(DataRequest.reference == ACCESS)).one()
    url = f"{BASE}/requests/{request_id}"
    page = client.get(url)
    assert page.status_code == 200 and "4 days left" in page.text
    verify = {"method": "identity_document_seen", "evidence": "Identity card seen, no copy kept"}
    assert client.post(f"{url}/verify", data=verify).status_code == 302
    assert client.post(f"{url}/compile", data={"items": ALL_ITEMS}).status_code == 302
    assert SPOUSE in client.get(url).text
    assert client.post(f"{url}/redact", data={"text": SPOUSE}).status_code == 302
    assert client.post(f"{url}/redact", data={"text": "6123 4567"}).status_code == 302
    assert client.post(f"{url}/fee", data={"fee_hkd": "", "basis": "x"}).status_code == 400
    sent = client.post(f"{url}/respond", data={"outcome": "copy_provided", "channel": "post"})
    assert sent.status_code == 302
    again = client.post(f"{url}/respond", data={"outcome": "copy_provided", "channel": "post"})
    assert again.status_code == 400 and "has been answered" in again.text
    session = db()
    found = session.get_one(DataRequest, request_id)
    assert found.outcome == "copy_provided" and found.identity_verified_at is not None
    refusals = session.scalars(
        select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)
    ).all()
    assert refusals[-1].details["operation"] == "respond_to_request"
    assert SPOUSE not in client.get(url).text
    assert client.get(f"{BASE}/requests/999999").status_code == 404
    assert client.post(f"{BASE}/requests/999999/respond").status_code == 404


def test_a_request_is_logged_and_corrected_through_the_forms(client: FlaskClient, db):
    member = db().scalars(select(Customer.member_no).order_by(Customer.id)).first()
    assert client.get(f"{BASE}/requests/new?member_no={member}").status_code == 200
    form = {
        "member_no": member,
        "kind": "correction",
        "requester_name": "The member",
        "channel": "email",
        "form_used": "email_text",
        "received_on": TODAY.isoformat(),
        "correction_field": "district",
        "correction_value": "Tai Po",
    }
    logged = client.post(f"{BASE}/requests/new", data=form)
    assert logged.status_code == 302, logged.text[logged.text.find("alert") :][:400]
    refused = client.post(f"{BASE}/requests/new", data={**form, "correction_value": ""})
    assert refused.status_code == 400 and "should read once corrected" in refused.text
    made = db().scalars(select(DataRequest).where(DataRequest.correction_value == "Tai Po")).one()
    assert made.due_on == TODAY + timedelta(days=40)
    assert client.post(f"{BASE}/requests/{made.id}/correct").status_code == 302
    assert db().get_one(Customer, made.customer_id).district == "Tai Po"


# --- the check --------------------------------------------------------------------------------

COPY_ITEMS = ["profile", "contact_details", "orders", "notes"]


def _judge(attempt: Attempt, *aspects: str) -> Status:
    params = {"reference": ACCESS, "require": list(aspects), "items": COPY_ITEMS}
    return attempt.check("requests.access_request", params).status


def test_the_check_passes_a_competent_release_on_every_aspect(attempt: Attempt):
    assert _judge(attempt, "deadline") is Status.FAIL
    assert _judge(attempt, "identity") is Status.FAIL
    assert _judge(attempt, "copy") is Status.FAIL
    _released(attempt)
    for aspect in ("deadline", "identity", "copy", "fee"):
        assert _judge(attempt, aspect) is Status.PASS, aspect


def test_the_check_fails_a_late_answer_a_spouse_in_the_copy_and_a_handling_fee(attempt: Attempt):
    attempt.do("quote_request_fee", reference=ACCESS, fee_hkd=500, basis="Handling fee")
    attempt.do("compile_access_copy", reference=ACCESS, items=COPY_ITEMS)
    attempt.do(
        "respond_to_request",
        reference=ACCESS,
        outcome="copy_provided",
        channel="post",
        sent_on=TODAY + timedelta(days=15),
    )
    for aspect in ("deadline", "identity", "copy", "fee"):
        assert _judge(attempt, aspect) is Status.FAIL, aspect
    outcome = attempt.check("requests.access_request", {"reference": ACCESS, "require": ["copy"]})
    assert outcome.evidence["found"]["other_customers_in_copy"]


def test_the_check_accepts_a_notice_by_day_40_and_names_a_missing_request(attempt: Attempt):
    attempt.do(
        "extend_data_request",
        reference=ACCESS,
        reason="Archived purchase records are being retrieved from storage",
        comply_by=TODAY + timedelta(days=14),
    )
    assert _judge(attempt, "deadline") is Status.PASS
    missing = attempt.check(
        "requests.access_request", {"reference": "DR-999999", "require": ["deadline"]}
    )
    assert missing.status is Status.FAIL


def test_notice_refusal_log_book_and_passing_on_through_the_forms(client: FlaskClient, db):
    session = db()
    ids = dict(session.execute(select(DataRequest.reference, DataRequest.id)).all())
    access, correction = f"{BASE}/requests/{ids[ACCESS]}", f"{BASE}/requests/{ids[CORRECTION]}"
    late = {"reason": "Archive records are being retrieved", "comply_by": "2026-11-18"}
    assert client.post(f"{access}/extend", data=late).status_code == 400
    notice = {**late, "comply_by": "2026-12-04"}
    assert client.post(f"{access}/extend", data=notice).status_code == 302
    refusal = {"ground": "repeated_request", "reason": "Same request answered last month"}
    assert client.post(f"{access}/refuse", data={**refusal, "channel": "post"}).status_code == 302
    assert (
        client.post(f"{access}/log_book", data={"note": "Repeat of DR-000107"}).status_code == 302
    )
    assert client.post(f"{correction}/correct").status_code == 302
    page = client.get(correction)
    assert "Swift Courier Ltd" in page.text and "Pass the correction on" in page.text
    disclosure = db().scalars(select(DataDisclosure.id).order_by(DataDisclosure.id)).first()
    sent = client.post(
        f"{correction}/notify", data={"disclosure_id": disclosure, "channel": "email"}
    )
    assert sent.status_code == 302
    session = db()
    assert session.get_one(DataRequest, ids[ACCESS]).extended_to == date(2026, 12, 4)
    assert session.scalars(select(CorrectionNotice.disclosure_id)).all() == [disclosure]


def test_a_page_refuses_staff_outside_customer_service_and_audits_it(client: FlaskClient, db):
    from sandbox_crm.models import Department, StaffUser

    session = db()
    trainee = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()
    trainee.department_id = session.scalars(
        select(Department.id).where(Department.code == "marketing")
    ).one()
    session.commit()
    request_id = session.scalars(
        select(DataRequest.id).where(DataRequest.reference == ACCESS)
    ).one()
    answer = {"outcome": "no_data_held", "channel": "post"}
    refused = client.post(f"{BASE}/requests/{request_id}/respond", data=answer)
    assert refused.status_code == 400 and "may not handle data access" in refused.text
    event = db().scalars(select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)).one()
    assert event.entity_type == "data_request" and event.entity_id == request_id


def test_dar_04_does_not_take_a_member_named_inside_the_requesters_name_for_another(
    attempt: Attempt,
):
    found = _request(attempt, ACCESS)
    requester = attempt.session.get_one(Customer, found.customer_id)
    other = attempt.session.scalars(
        select(Customer).where(Customer.id != requester.id).order_by(Customer.id)
    ).first()
    other.name_en = " ".join(requester.name_en.split()[-2:])
    attempt.session.commit()
    attempt.rebase()
    _released(attempt)
    assert attempt.rule("DAR-04").status is Status.PASS
