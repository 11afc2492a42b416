"""The cases and activities areas: generation, operations, checks, PDPO rules and pages."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.results import Status
from sandbox_crm.activities.models import Activity, Handoff
from sandbox_crm.cases.models import CaseUpdate, ServiceCase
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import AuditEvent, Department, SandboxBase, StaffUser
from sandbox_crm.operations import REFUSED_OPERATION, OperationError, apply_operation
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 10, 12)
REPAIR, COMPLAINT, ACCESS = "CS-900101", "CS-900102", "CS-900103"


def service_spec(profile: str = "jewellery", customers: int = 120) -> GenerationSpec:
    """A small sandbox with the three cases of the service-day scenario planted."""
    plants = (
        PlantSpec.of("service_case", 1, reference=REPAIR, case_kind="repair", days_open=26),
        PlantSpec.of(
            "service_case",
            1,
            reference=COMPLAINT,
            case_kind="complaint",
            status="open",
            channel="phone",
            days_open=1,
            opted_out=True,
        ),
        PlantSpec.of(
            "service_case",
            1,
            reference=ACCESS,
            case_kind="data_access_request",
            status="open",
            channel="phone",
            days_open=2,
            linked_order=False,
        ),
    )
    return GenerationSpec(
        profile=profile,
        seed=4207,
        customers=customers,
        today=TODAY,
        acting_department="customer_service",
        plants=plants if profile == "jewellery" else (),
    )


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return service_spec()


def _case(session: Session, reference: str) -> ServiceCase:
    return session.scalars(select(ServiceCase).where(ServiceCase.reference == reference)).one()


def _staff_of(session: Session, department: str) -> StaffUser:
    return session.scalars(
        select(StaffUser)
        .join(Department, Department.id == StaffUser.department_id)
        .where(Department.code == department, StaffUser.is_active, StaffUser.is_trainee.is_(False))
        .order_by(StaffUser.id)
    ).first()


# --- generation -------------------------------------------------------------------------------


def test_generation_is_deterministic_and_gives_a_retail_sandbox_no_cases():
    spec = service_spec(customers=100)
    first, second = generated(spec), generated(spec)
    retail = generated(service_spec("retail", customers=100))
    try:
        for model in (ServiceCase, CaseUpdate, Activity):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
            assert table_rows(retail, model) == []
        cases = first.scalars(select(ServiceCase)).all()
        day0 = first.scalar(select(ServiceCase.opened_at).order_by(ServiceCase.opened_at.desc()))
        assert day0 is not None
        overdue = [c for c in cases if c.closed_at is None and c.due_at.date() < TODAY]
        assert overdue, "some open cases are past their SLA"
        assert {c.reference for c in overdue} >= {REPAIR}
        open_access = [c for c in cases if c.kind == "data_access_request" and c.closed_at is None]
        assert all((TODAY - c.opened_at.date()).days <= 40 for c in open_access)
    finally:
        for session in (first, second, retail):
            session.close()


def test_the_complaint_plant_is_a_customer_who_opted_out_of_marketing(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    complaint = _case(sandbox_session, COMPLAINT)
    assert complaint.order_id is not None and complaint.status == "open"
    checked = apply_operation(
        sandbox_session, sandbox_actor, "check_opt_out", {"case_reference": COMPLAINT}
    )
    assert checked.id == complaint.customer_id and checked.result == "withdrawn"
    repair = _case(sandbox_session, REPAIR)
    assert repair.due_at.date() < TODAY


# --- operations -------------------------------------------------------------------------------


def _do(session: Session, actor: StaffUser, op: str, **args: Any) -> Any:
    entity = apply_operation(session, actor, op, args)
    session.commit()
    return entity


def test_a_case_is_opened_replied_to_escalated_followed_up_and_closed(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, me = sandbox_session, sandbox_actor
    repair = _case(session, REPAIR)
    member = session.get(ServiceCase, repair.id).customer_id
    opened = _do(
        session,
        me,
        "open_case",
        customer_id=member,
        kind="resizing",
        channel="walk_in",
        subject="Resize a ring",
    )
    assert opened.reference.startswith("CS-") and opened.status == "open"
    assert (opened.due_at - opened.opened_at).days == 10
    _do(session, me, "reply_to_case", case_id=opened.id, reply="acknowledge_and_investigate")
    assert opened.status == "in_progress"
    manager = _staff_of(session, "customer_service")
    _do(
        session,
        me,
        "escalate_case",
        case_id=opened.id,
        username=manager.username,
        reason="Needs a manager",
    )
    assert opened.status == "escalated" and opened.assigned_to_id == manager.id
    _do(session, me, "follow_up_case", case_id=opened.id, follow_up_on=TODAY + timedelta(days=2))
    _do(session, me, "close_case", case_id=opened.id, resolution="resized", note="Done")
    assert opened.status == "closed" and opened.closed_at is not None
    actions = session.scalars(
        select(CaseUpdate.action).where(CaseUpdate.case_id == opened.id).order_by(CaseUpdate.id)
    ).all()
    assert actions == ["open", "reply", "escalate", "follow_up", "close"]
    with pytest.raises(OperationError, match="can no longer change"):
        _do(session, me, "set_case_status", case_id=opened.id, status="open")


def test_staff_outside_service_are_refused_and_a_refusal_changes_nothing(
    sandbox_session: Session,
):
    marketer = _staff_of(sandbox_session, "marketing")
    finance = _staff_of(sandbox_session, "finance")
    with pytest.raises(OperationError, match="may not work service cases"):
        apply_operation(
            sandbox_session, marketer, "set_case_status", {"reference": REPAIR, "status": "open"}
        )
    with pytest.raises(OperationError, match="may not hand off"):
        apply_operation(
            sandbox_session,
            finance,
            "create_handoff",
            {
                "department": "sales",
                "purpose": "sales_follow_up",
                "subject": "x",
                "case_reference": REPAIR,
            },
        )
    assert _case(sandbox_session, REPAIR).status == "in_progress"


def test_a_marketing_call_records_what_the_opt_out_check_says(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    call = _do(
        sandbox_session,
        sandbox_actor,
        "log_activity",
        case_reference=COMPLAINT,
        kind="call_outbound",
        purpose="marketing",
        summary="New jade collection",
        outcome="not_interested",
    )
    assert call.opt_out_screen == "withdrawn"
    service = _do(
        sandbox_session,
        sandbox_actor,
        "log_activity",
        case_reference=COMPLAINT,
        kind="call_outbound",
        summary="About the complaint",
        outcome="follow_up_needed",
    )
    assert service.opt_out_screen == "" and service.case_id == call.case_id
    with pytest.raises(OperationError, match="outbound call or an e-mail"):
        _do(
            sandbox_session,
            sandbox_actor,
            "log_activity",
            case_reference=COMPLAINT,
            kind="visit",
            purpose="marketing",
            summary="x",
            outcome="interested",
        )


def test_a_handoff_records_the_fields_and_values_it_shares(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    handoff = _do(
        sandbox_session,
        sandbox_actor,
        "create_handoff",
        department="sales",
        purpose="exchange_or_refund",
        subject="Exchange",
        case_reference=COMPLAINT,
        fields=["name", "phone", "order_no"],
    )
    assert handoff.shared_fields == ["name", "phone", "order_no"]
    assert set(handoff.shared_values) == {"name", "phone", "order_no"}
    assert handoff.shared_values["order_no"].startswith("SO-")
    with pytest.raises(OperationError, match="may be for"):
        _do(
            sandbox_session,
            sandbox_actor,
            "create_handoff",
            department="planning",
            purpose="exchange_or_refund",
            subject="x",
            case_reference=COMPLAINT,
        )


# --- checks -----------------------------------------------------------------------------------


def _work_access_request(attempt: Attempt, *, verify: bool) -> None:
    if verify:
        attempt.do("verify_identity", reference=ACCESS, method="registered_contact_confirmed")
    attempt.do("reply_to_case", reference=ACCESS, reply="explain_access_and_identity_protection")
    attempt.do("close_case", reference=ACCESS, resolution="copy_provided", note="Sent")


ACCESS_STATE = {
    "case": ACCESS,
    "status": ["closed"],
    "resolution": ["copy_provided"],
    "replies": ["explain_access_and_identity_protection"],
    "identity_verified": True,
}


@pytest.mark.parametrize("verify", [True, False])
def test_case_state_needs_every_step_asked(attempt: Attempt, verify: bool):
    _work_access_request(attempt, verify=verify)
    outcome = attempt.check("cases.case_state", ACCESS_STATE)
    assert outcome.status is (Status.PASS if verify else Status.FAIL)
    assert ("identity" in outcome.evidence["problems"]) is not verify


def test_case_state_fails_a_case_left_alone(attempt: Attempt):
    outcome = attempt.check("cases.case_state", ACCESS_STATE)
    assert outcome.status is Status.FAIL
    assert {"status", "reply", "resolution"} <= set(outcome.evidence["problems"])


@pytest.mark.parametrize(
    ("reply", "status"),
    [("apologise_with_confirmed_date", Status.PASS), ("promise_ready_tomorrow", Status.FAIL)],
)
def test_honest_replies_fail_a_misleading_promise(attempt: Attempt, reply: str, status: Status):
    attempt.do("reply_to_case", reference=REPAIR, reply=reply)
    assert attempt.check("cases.honest_replies", {"cases": [REPAIR]}).status is status


def test_honest_replies_fail_a_case_without_a_reply(attempt: Attempt):
    attempt.do("reply_to_case", reference=REPAIR, reply="apologise_with_confirmed_date")
    outcome = attempt.check("cases.honest_replies", {"cases": [REPAIR, COMPLAINT]})
    assert outcome.status is Status.FAIL and list(outcome.evidence["unanswered"]) == [COMPLAINT]


HANDOFF = {"case": COMPLAINT, "departments": ["sales"], "required_fields": ["name", "phone"]}


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        (["name", "phone", "order_no"], Status.PASS),
        (["name"], Status.FAIL),
        (["name", "phone", "order_no", "hkid"], Status.FAIL),
    ],
)
def test_handoff_made_needs_the_needed_fields_and_no_more(
    attempt: Attempt, fields: list[str], status: Status
):
    attempt.do(
        "create_handoff",
        department="sales",
        purpose="exchange_or_refund",
        subject="Exchange",
        case_reference=COMPLAINT,
        fields=fields,
    )
    assert attempt.check("activities.handoff_made", HANDOFF).status is status


# --- PDPO rules -------------------------------------------------------------------------------


def _marketing_call(attempt: Attempt, reference: str) -> None:
    attempt.do(
        "log_activity",
        case_reference=reference,
        kind="call_outbound",
        purpose="marketing",
        summary="Autumn collection",
        outcome="not_interested",
    )


def test_dm_06_and_dm_07_a_marketing_call_to_a_customer_who_opted_out(attempt: Attempt):
    _marketing_call(attempt, COMPLAINT)
    for rule_id in ("DM-06", "DM-07"):
        result = attempt.rule(rule_id)
        assert result.status is Status.FAIL, rule_id
        assert "contact #" in result.findings[0].message


def _customer_who_may_be_called(attempt: Attempt) -> str:
    """A case reference of a customer the call script says is clear for a phone call."""
    for case in attempt.session.scalars(select(ServiceCase).order_by(ServiceCase.id)):
        checked = apply_operation(
            attempt.session, attempt.actor, "check_opt_out", {"case_reference": case.reference}
        )
        attempt.session.rollback()
        if checked.result == "clear":
            return case.reference
    pytest.fail("no customer with a case may be called for marketing")


def test_dm_07_a_marketing_call_after_the_opt_out_check_passes(attempt: Attempt):
    reference = _customer_who_may_be_called(attempt)
    attempt.do("check_opt_out", case_reference=reference)
    _marketing_call(attempt, reference)
    for rule_id in ("DM-01", "DM-06", "DM-07"):
        assert attempt.rule(rule_id).status is Status.PASS, rule_id


def test_dm_07_a_marketing_call_without_the_check_fails_even_when_it_was_allowed(
    attempt: Attempt,
):
    reference = _customer_who_may_be_called(attempt)
    _marketing_call(attempt, reference)
    assert attempt.rule("DM-06").status is Status.PASS
    assert attempt.rule("DM-07").status is Status.FAIL


def test_a_service_call_to_a_customer_who_opted_out_is_not_marketing(attempt: Attempt):
    attempt.do(
        "log_activity",
        case_reference=COMPLAINT,
        kind="call_outbound",
        summary="About the complaint",
        outcome="follow_up_needed",
    )
    for rule_id in ("DM-01", "DM-06", "DM-07"):
        assert attempt.rule(rule_id).status is Status.PASS, rule_id


@pytest.mark.parametrize(
    ("fields", "status"),
    [(["case_reference", "product"], Status.PASS), (["case_reference", "name"], Status.FAIL)],
)
def test_use_01_judges_what_a_handoff_shares(attempt: Attempt, fields: list[str], status):
    assert attempt.rule("USE-01").status is Status.NOT_APPLICABLE
    attempt.do(
        "create_handoff",
        department="planning",
        purpose="workshop_capacity",
        subject="Overdue repair",
        case_reference=REPAIR,
        fields=fields,
    )
    result = attempt.rule("USE-01")
    assert result.status is status
    if status is Status.FAIL:
        assert "name" in result.findings[0].message


@pytest.mark.parametrize(("verify", "status"), [(True, Status.PASS), (False, Status.FAIL)])
def test_dar_04_a_copy_released_only_after_verifying_identity(
    attempt: Attempt, verify: bool, status: Status
):
    _work_access_request(attempt, verify=verify)
    assert attempt.rule("DAR-04").status is status


def test_dar_01_an_access_request_open_past_day_40(attempt: Attempt):
    assert attempt.rule("DAR-01").status is Status.PASS
    access = _case(attempt.session, ACCESS)
    access.opened_at -= timedelta(days=45)
    attempt.session.commit()
    result = attempt.rule("DAR-01")
    assert result.status is Status.FAIL and ACCESS in result.findings[0].message
    _work_access_request(attempt, verify=True)
    assert attempt.rule("DAR-01").status is Status.FAIL  # completed, but late


def _refuse_access_request(attempt: Attempt, **ground: str) -> None:
    attempt.do("reply_to_case", reference=ACCESS, reply="explain_access_and_identity_protection")
    attempt.do(
        "close_case",
        reference=ACCESS,
        resolution="refused_in_writing",
        note="Refused in writing: the caller could not prove she is the member",
        **ground,
    )


def test_refusing_an_access_request_case_needs_an_s20_ground(attempt: Attempt):
    for ground in ({}, {"ground": "not_satisfied_inaccurate"}):
        with pytest.raises(OperationError, match="s20 ground"):
            _refuse_access_request(attempt, **ground)
    with pytest.raises(OperationError, match="only when refusing"):
        attempt.do(
            "close_case",
            reference=REPAIR,
            resolution="repaired",
            note="Done",
            ground="identity_not_verified",
        )
    assert _case(attempt.session, ACCESS).status != "closed"


def test_dar_03_judges_a_case_refusal_on_its_recorded_ground(attempt: Attempt):
    assert attempt.rule("DAR-03").status is Status.NOT_APPLICABLE
    _refuse_access_request(attempt, ground="identity_not_verified")
    assert _case(attempt.session, ACCESS).refusal_ground == "identity_not_verified"
    assert attempt.rule("DAR-03").status is Status.PASS


def test_dar_03_fails_a_case_refusal_without_its_ground_or_after_day_40(attempt: Attempt):
    access = _case(attempt.session, ACCESS)
    access.opened_at -= timedelta(days=45)
    attempt.session.commit()
    _refuse_access_request(attempt, ground="identity_not_verified")
    result = attempt.rule("DAR-03")
    assert result.status is Status.FAIL and "after day 40" in result.findings[0].message
    access = _case(attempt.session, ACCESS)
    access.refusal_ground = ""  # a refusal recorded before the ground was asked for
    attempt.session.commit()
    messages = [f.message for f in attempt.rule("DAR-03").findings]
    assert any("cites no ground" in m for m in messages)
    assert any("log book" in m for m in messages)


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_case_pages_list_filter_and_work_a_case_without_javascript(client: FlaskClient, db):
    listing = client.get(f"{BASE}/cases?status=in_progress")
    assert listing.status_code == 200 and REPAIR in listing.get_data(as_text=True)
    # The filter form sends what the list reads: a select named after its query argument.
    assert '<select name="status">' in listing.get_data(as_text=True)
    activities = client.get(f"{BASE}/activities").get_data(as_text=True)
    assert '<select name="kind">' in activities and '<select name="purpose">' in activities
    overdue = client.get(f"{BASE}/cases?overdue=1").get_data(as_text=True)
    assert REPAIR in overdue and COMPLAINT not in overdue
    case_id = _case(db(), REPAIR).id
    page = client.get(f"{BASE}/cases/{case_id}")
    assert page.status_code == 200 and "Reply to the customer" in page.get_data(as_text=True)
    replied = client.post(
        f"{BASE}/cases/{case_id}/reply", data={"reply": "apologise_with_confirmed_date"}
    )
    assert replied.status_code == 302
    status = client.post(
        f"{BASE}/cases/{case_id}/status", data={"status": "waiting_on_customer", "note": ""}
    )
    assert status.status_code == 302
    assert _case(db(), REPAIR).status == "waiting_on_customer"
    new = client.post(
        f"{BASE}/cases/new",
        data={
            "member_no": "",
            "kind": "repair",
            "channel": "walk_in",
            "subject": "Loose clasp",
        },
    )
    assert new.status_code == 400 and "member" in new.get_data(as_text=True).lower()


def test_case_pages_show_clear_errors_audit_refusals_and_404(client: FlaskClient, db):
    case_id = _case(db(), COMPLAINT).id
    refused = client.post(
        f"{BASE}/cases/{case_id}/close", data={"resolution": "copy_provided", "note": "x"}
    )
    assert refused.status_code == 400
    assert "Only a data access request" in refused.get_data(as_text=True)
    event = db().scalars(select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)).one()
    assert event.entity_type == "service_case" and event.entity_id == case_id
    assert client.get(f"{BASE}/cases/999999").status_code == 404
    assert client.post(f"{BASE}/cases/999999/reply").status_code == 404


def test_the_case_page_refuses_an_access_request_with_its_ground(client: FlaskClient, db):
    case_id = _case(db(), ACCESS).id
    assert "Refusal ground" in client.get(f"{BASE}/cases/{case_id}").get_data(as_text=True)
    refusal = {"resolution": "refused_in_writing", "note": "Identity not proven"}
    without = client.post(f"{BASE}/cases/{case_id}/close", data=refusal)
    assert without.status_code == 400 and "s20 ground" in without.get_data(as_text=True)
    done = client.post(
        f"{BASE}/cases/{case_id}/close", data={**refusal, "ground": "identity_not_verified"}
    )
    assert done.status_code == 302
    assert _case(db(), ACCESS).refusal_ground == "identity_not_verified"


def test_activity_and_handoff_pages_check_the_opt_out_list_log_and_hand_off(
    client: FlaskClient, db
):
    customer_id = _case(db(), COMPLAINT).customer_id
    member = db().scalar(
        select(SandboxBase.metadata.tables["customer"].c.member_no).where(
            SandboxBase.metadata.tables["customer"].c.id == customer_id
        )
    )
    form = client.get(f"{BASE}/activities/new?member_no={member}&case_reference={COMPLAINT}")
    assert form.status_code == 200
    checked = client.post(
        f"{BASE}/activities/check", data={"member_no": member, "channel": "phone"}
    )
    assert checked.status_code == 200
    assert "Do not market to this customer" in checked.get_data(as_text=True)
    logged = client.post(
        f"{BASE}/activities/new",
        data={
            "member_no": member,
            "kind": "call_outbound",
            "purpose": "service",
            "summary": "Offered a re-test",
            "outcome": "follow_up_needed",
            "case_reference": COMPLAINT,
        },
    )
    assert logged.status_code == 302
    assert COMPLAINT in client.get(f"{BASE}/activities").get_data(as_text=True)
    handed = client.post(
        f"{BASE}/handoffs/new",
        data={
            "department": "sales",
            "purpose": "exchange_or_refund",
            "kind": "task",
            "subject": "Arrange the exchange",
            "case_reference": COMPLAINT,
            "fields": ["name", "phone", "order_no"],
        },
    )
    assert handed.status_code == 302
    saved = db().scalars(select(Handoff)).one()
    assert saved.shared_fields == ["name", "phone", "order_no"]
    listing = client.get(f"{BASE}/handoffs?department=sales").get_data(as_text=True)
    assert "Arrange the exchange" in listing
    wrong = client.post(
        f"{BASE}/handoffs/new",
        data={
            "department": "planning",
            "purpose": "exchange_or_refund",
            "kind": "task",
            "subject": "x",
            "case_reference": COMPLAINT,
        },
    )
    assert wrong.status_code == 400 and re.search("may be for", wrong.get_data(as_text=True))
