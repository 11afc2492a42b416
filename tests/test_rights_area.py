"""Authorisation rights: the planted set-up for either profile, a role's rights, a department's
access request, staff-misuse flags, their checks, SEC-01/02/04 and the pages."""

from __future__ import annotations

import json
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.pdpo.security import Sec04Settings, sec_04
from graders.results import Status
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import AuditEvent, Department, SandboxMeta, StaffUser
from sandbox_crm.operations import REFUSED_OPERATION, OperationError, apply_operation
from sandbox_crm.security.models import (
    AccessRequest,
    AccessRequestItem,
    FieldPermission,
    MisuseFlag,
    RoleRights,
    SecurityRole,
    StaffAccess,
    StaffActivity,
)
from sandbox_crm.security.rights import role_rights
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 11, 16)
PLANTS = (
    PlantSpec.of("access_rights", 3),
    PlantSpec.of("department_access_request", 1),
    PlantSpec.of("staff_misuse", 1, pattern="sent_outside"),
    PlantSpec.of("staff_misuse", 1, pattern="legitimate"),
)
RIGHTS_TABLES = (
    SecurityRole,
    StaffAccess,
    FieldPermission,
    RoleRights,
    AccessRequest,
    AccessRequestItem,
    StaffActivity,
    MisuseFlag,
)


def rights_spec(profile: str = "retail", **changes: object) -> GenerationSpec:
    """A small sandbox worked by an IT officer, with the rights plants."""
    fields: dict[str, object] = {
        "profile": profile,
        "seed": 10718,
        "customers": 60,
        "today": TODAY,
        "acting_department": "it",
        "acting_title": "CRM Administrator",
        "plants": PLANTS,
    }
    fields.update(changes)
    return GenerationSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return rights_spec()


def _planted(session: Session, kind: str) -> list[int]:
    return json.loads(session.get(SandboxMeta, "plants").value)[kind]


def _details(session: Session, kind: str) -> dict:
    return json.loads(session.get(SandboxMeta, "plant_details").value)[kind]


def _role(session: Session, code: str) -> SecurityRole:
    return session.scalars(select(SecurityRole).where(SecurityRole.code == code)).one()


def _item(session: Session, name: str) -> int:
    return _details(session, "department_access_request")["items"][name]


# --- generation -------------------------------------------------------------------------------


def test_the_plants_are_deterministic_and_give_retail_a_rights_set_up():
    first, second = generated(rights_spec()), generated(rights_spec())
    try:
        for model in (*RIGHTS_TABLES, StaffUser):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
        team = _planted(first, "access_rights")
        assert len(team) == 3
        assert not first.scalars(select(StaffAccess).where(StaffAccess.staff_id.in_(team))).all()
        new = role_rights(first, _role(first, "online_marketing"))
        assert set(new.values()) <= {"hidden", "own", False}
        marketing = role_rights(first, _role(first, "marketing"))
        assert marketing["hkid"] == "hidden" and marketing["cust_email"] == "full"
        every_account = set(first.scalars(select(StaffUser.id))) - set(team)
        assert every_account <= set(first.scalars(select(StaffAccess.staff_id)))
        items = _details(first, "department_access_request")["items"]
        assert {"hkid", "cust_email", "browsing", "scope", "bulk_export"} <= set(items)
        truth = _details(first, "staff_misuse")
        assert sorted(v for k, v in truth.items() if k != "entity") == [
            "legitimate",
            "sent_outside",
        ]
        sent = first.scalars(select(StaffActivity).where(StaffActivity.action == "send")).one()
        assert "@" in sent.destination and not sent.destination.endswith(".example")
    finally:
        first.close()
        second.close()


def test_jewellery_keeps_its_generated_set_up_and_gains_the_online_fields():
    session = generated(rights_spec("jewellery", customers=80))
    try:
        marketing = role_rights(session, _role(session, "marketing"))
        # The generated over-broad access stays for a review to find.
        assert marketing["hkid"] == "full" and marketing["browsing"] == "full"
        assert session.scalars(select(MisuseFlag)).all()
    finally:
        session.close()


# --- operations -------------------------------------------------------------------------------


def test_set_role_rights_changes_several_rights_in_one_audited_event(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session = sandbox_session
    apply_operation(
        session,
        sandbox_actor,
        "set_role_rights",
        {"role": "online_marketing", "cust_email": "full", "mobile_no": "masked", "scope": "all"},
    )
    rights = role_rights(session, _role(session, "online_marketing"))
    assert (rights["cust_email"], rights["mobile_no"], rights["scope"]) == ("full", "masked", "all")
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.operation == "security.set_role_rights"
    assert event.after == {"cust_email": "full", "mobile_no": "masked", "scope": "all"}
    assert event.before == {"cust_email": "hidden", "mobile_no": "hidden", "scope": "own"}
    with pytest.raises(OperationError, match="nothing to change"):
        apply_operation(
            session, sandbox_actor, "set_role_rights", {"role": "online_marketing", "scope": "all"}
        )
    with pytest.raises(OperationError, match="Unknown role"):
        apply_operation(session, sandbox_actor, "set_role_rights", {"role": "ceo", "hkid": "full"})
    with pytest.raises(OperationError, match="must be one of"):
        apply_operation(
            session, sandbox_actor, "set_role_rights", {"role": "marketing", "hkid": "some"}
        )


def test_an_access_request_is_decided_item_by_item_and_answered(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, actor = sandbox_session, sandbox_actor
    request_id = _planted(session, "department_access_request")[0]

    def decide(item: str, decision: str, **more: object) -> None:
        args = {"request_id": request_id, "item": item, "decision": decision, **more}
        apply_operation(session, actor, "decide_access_request_item", args)

    decide("cust_email", "granted")
    decide("date_of_birth", "partly", grant="masked", reason="Birth month is enough")
    with pytest.raises(OperationError, match="Give a reason"):
        decide("hkid", "refused")
    with pytest.raises(OperationError, match="only be granted or refused"):
        decide("bulk_export", "partly", reason="Some")
    with pytest.raises(OperationError, match="narrower"):
        decide("scope", "partly", grant="masked", reason="x")
    with pytest.raises(OperationError, match="still undecided"):
        apply_operation(
            session, actor, "close_access_request", {"request_id": request_id, "reply": "Done"}
        )
    decide("hkid", "refused", reason="Marketing never needs identity numbers")
    rights = role_rights(session, _role(session, "online_marketing"))
    assert (rights["cust_email"], rights["date_of_birth"], rights["hkid"]) == (
        "full",
        "masked",
        "hidden",
    )
    # Granted, then refused on reflection: the grant is taken back.
    decide("mobile_no", "granted")
    decide("mobile_no", "refused", reason="Customer service makes the calls")
    assert role_rights(session, _role(session, "online_marketing"))["mobile_no"] == "hidden"
    for item in ("spend_12m", "browsing", "scope"):
        decide(item, "granted")
    decide("bulk_export", "refused", reason="Work inside the CRM")
    answered = apply_operation(
        session, actor, "close_access_request", {"request_id": request_id, "reply": "See items"}
    )
    assert answered.status == "answered" and answered.decided_by_id == actor.id
    with pytest.raises(OperationError, match="already answered"):
        decide("bulk_export", "granted")


def test_misuse_flags_are_escalated_or_dismissed_once_escalated_final(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, actor = sandbox_session, sandbox_actor
    flag = _planted(session, "staff_misuse")[0]
    args = {"flag_id": flag, "decision": "dismissed", "note": "Looked normal"}
    apply_operation(session, actor, "review_misuse_flag", args)
    args.update(decision="escalated", note="Sent to a personal mailbox")
    escalated = apply_operation(session, actor, "review_misuse_flag", args)
    assert escalated.status == "escalated" and escalated.reviewed_by_id == actor.id
    with pytest.raises(OperationError, match="already escalated"):
        apply_operation(session, actor, "review_misuse_flag", args)
    with pytest.raises(OperationError, match="Note"):
        apply_operation(
            session,
            actor,
            "review_misuse_flag",
            {"flag_id": flag, "decision": "dismissed", "note": ""},
        )


def _marketer(session: Session) -> StaffUser:
    marketing = session.scalar(select(Department.id).where(Department.code == "marketing"))
    return session.scalars(
        select(StaffUser).where(
            StaffUser.department_id == marketing,
            StaffUser.is_admin.is_(False),
            StaffUser.is_active.is_(True),
        )
    ).first()


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("set_role_rights", {"role": "online_marketing", "hkid": "full"}),
        ("decide_access_request_item", {"request_id": 1, "item": "hkid", "decision": "granted"}),
        ("close_access_request", {"request_id": 1, "reply": "Yes"}),
        ("review_misuse_flag", {"flag_id": 1, "decision": "dismissed", "note": "Fine"}),
    ],
)
def test_staff_outside_it_and_management_are_refused(sandbox_session: Session, name, args):
    with pytest.raises(OperationError, match="may not change security settings"):
        apply_operation(sandbox_session, _marketer(sandbox_session), name, args)


# --- checks and rules -------------------------------------------------------------------------


def _answer_well(attempt: Attempt, **changes: str) -> None:
    """Answer the request as a competent administrator would, with some items changed."""
    decisions = {
        "hkid": ("refused", None),
        "date_of_birth": ("partly", "masked"),
        "spend_12m": ("granted", None),
        "cust_email": ("granted", None),
        "mobile_no": ("partly", "masked"),
        "browsing": ("granted", None),
        "scope": ("granted", None),
        "bulk_export": ("refused", None),
    }
    for item, (decision, grant) in decisions.items():
        decision = changes.get(item, decision)
        attempt.do(
            "decide_access_request_item",
            request_id=_planted(attempt.session, "department_access_request")[0],
            item=item,
            decision=decision,
            grant=grant if decision == "partly" else None,
            reason="" if decision == "granted" else "Not needed for the team's work",
        )
    request_id = _planted(attempt.session, "department_access_request")[0]
    attempt.do("close_access_request", request_id=request_id, reply="Granted in part")


ANSWER_PARAMS = {"not_granted": ["hkid", "bulk_export"], "granted": ["cust_email", "browsing"]}


def test_access_request_check_fails_a_request_left_unanswered(attempt: Attempt):
    assert attempt.check("security.access_request_answered", ANSWER_PARAMS).status is Status.FAIL


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, Status.PASS),
        ({"hkid": "granted"}, Status.FAIL),
        ({"bulk_export": "granted"}, Status.FAIL),
        ({"cust_email": "refused"}, Status.FAIL),
    ],
)
def test_access_request_check_passes_a_partial_grant_only(attempt: Attempt, changes, status):
    _answer_well(attempt, **changes)
    assert attempt.check("security.access_request_answered", ANSWER_PARAMS).status is status


@pytest.mark.parametrize(
    ("export", "scope", "status"),
    [(False, "all", Status.PASS), (True, "all", Status.FAIL), (False, "region", Status.FAIL)],
)
def test_role_rights_check(attempt: Attempt, export, scope, status):
    attempt.do("set_role_rights", role="online_marketing", scope=scope, bulk_export=export)
    params = {"role": "online_marketing", "scopes": ["all"], "bulk_export": False}
    assert attempt.check("security.role_rights", params).status is status


def test_field_access_check_judges_the_online_fields(attempt: Attempt):
    params = {"roles": ["online_marketing"], "fields": ["cust_email"], "allowed": ["full"]}
    attempt.do("set_role_rights", role="online_marketing", cust_email="masked")
    assert attempt.check("security.field_access", params).status is Status.FAIL
    attempt.do("set_role_rights", role="online_marketing", cust_email="full")
    assert attempt.check("security.field_access", params).status is Status.PASS


def test_role_members_check_wants_every_team_member_in_the_role(attempt: Attempt):
    params = {"role": "online_marketing", "scopes": ["all"]}
    team = _planted(attempt.session, "access_rights")
    for staff_id in team[:-1]:
        attempt.do("set_staff_access", staff_id=staff_id, role="online_marketing", scope="all")
    assert attempt.check("security.role_members", params).status is Status.FAIL
    attempt.do("set_staff_access", staff_id=team[-1], role="admin", scope="all")
    assert attempt.check("security.role_members", params).status is Status.FAIL
    attempt.do("set_staff_access", staff_id=team[-1], role="online_marketing", scope="all")
    assert attempt.check("security.role_members", params).status is Status.PASS


def _flags(attempt: Attempt) -> dict[str, int]:
    truth = _details(attempt.template, "staff_misuse")
    return {v: int(k) for k, v in truth.items() if k != "entity"}


def test_misuse_flags_check_wants_misuse_escalated_and_legitimate_work_dismissed(
    attempt: Attempt,
):
    flags = _flags(attempt)
    attempt.do(
        "review_misuse_flag", flag_id=flags["legitimate"], decision="dismissed", note="Approved"
    )
    assert attempt.check("security.misuse_flags_reviewed", {}).status is Status.FAIL
    attempt.do(
        "review_misuse_flag", flag_id=flags["sent_outside"], decision="escalated", note="Gmail"
    )
    assert attempt.check("security.misuse_flags_reviewed", {}).status is Status.PASS


def test_sec_01_fails_the_online_marketing_role_given_hkid_and_a_store_role_given_export(
    attempt: Attempt,
):
    attempt.do("set_role_rights", role="online_marketing", date_of_birth="masked")
    assert attempt.rule("SEC-01").status is Status.PASS
    attempt.do("set_role_rights", role="online_marketing", hkid="full")
    result = attempt.rule("SEC-01")
    assert result.status is Status.FAIL and "online_marketing" in _findings(result)
    attempt.rebase()
    attempt.do("set_role_rights", role="store", bulk_export=True)
    result = attempt.rule("SEC-01")
    assert result.status is Status.FAIL and "bulk-export" in _findings(result)


def test_sec_02_fails_a_role_that_may_export_identity_numbers_in_full(attempt: Attempt):
    attempt.do("set_role_rights", role="online_marketing", bulk_export=True, hkid="masked")
    assert attempt.rule("SEC-02").status is Status.PASS
    attempt.do("set_role_rights", role="online_marketing", date_of_birth="full")
    result = attempt.rule("SEC-02")
    assert result.status is Status.FAIL and "cannot be minimised" in _findings(result)


def _sec_04_under_review(attempt: Attempt) -> object:
    return sec_04(attempt.context(), Sec04Settings(review_misuse_flags=True))


def _findings(result: object) -> str:
    return " ".join(f.message for f in result.findings)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "sandbox_spec",
    [rights_spec(), rights_spec("jewellery", customers=80)],
    ids=["retail", "jewellery"],
)
def test_sec_04_fails_dismissed_misuse_and_passes_it_escalated(attempt: Attempt):
    flags = _flags(attempt)
    assert attempt.rule("SEC-04").status is Status.PASS
    attempt.do(
        "review_misuse_flag", flag_id=flags["legitimate"], decision="dismissed", note="Approved"
    )
    assert attempt.rule("SEC-04").status is Status.PASS
    # A scenario that makes the trainee responsible for the flags: misuse left open is found.
    assert _sec_04_under_review(attempt).status is Status.FAIL
    assert attempt.rule("SEC-04").status is Status.PASS
    attempt.do(
        "review_misuse_flag", flag_id=flags["sent_outside"], decision="dismissed", note="Fine"
    )
    result = attempt.rule("SEC-04")
    assert result.status is Status.FAIL and "dismissed" in _findings(result)
    attempt.do(
        "review_misuse_flag", flag_id=flags["sent_outside"], decision="escalated", note="Gmail"
    )
    assert attempt.rule("SEC-04").status is Status.PASS
    assert not _sec_04_under_review(attempt).breaches


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def _form(role: dict[str, object]) -> dict[str, object]:
    data = {k: v for k, v in role.items() if k != "bulk_export"}
    if role["bulk_export"]:
        data["bulk_export"] = "y"
    return data


def test_a_role_is_set_on_one_page_without_javascript(client: FlaskClient, db):
    role_id = _role(db(), "online_marketing").id
    listing = client.get(f"{BASE}/security/permissions")
    assert listing.status_code == 200 and f"/security/roles/{role_id}" in listing.text
    assert "E-shop e-mail (cust_email)" in listing.text
    page = client.get(f"{BASE}/security/roles/{role_id}")
    assert page.status_code == 200 and "Browsing data" in page.text
    rights = role_rights(db(), _role(db(), "online_marketing"))
    rights.update(cust_email="full", date_of_birth="masked", browsing="full", scope="all")
    saved = client.post(f"{BASE}/security/roles/{role_id}", data=_form(rights))
    assert saved.status_code == 302
    after = role_rights(db(), _role(db(), "online_marketing"))
    assert (after["cust_email"], after["date_of_birth"], after["scope"]) == (
        "full",
        "masked",
        "all",
    )
    again = client.post(f"{BASE}/security/roles/{role_id}", data=_form(rights))
    assert again.status_code == 400 and "nothing to change" in again.text
    bad = client.post(f"{BASE}/security/roles/{role_id}", data={**_form(rights), "hkid": "x"})
    assert bad.status_code == 400 and "must be one of" in bad.text
    assert client.get(f"{BASE}/security/roles/999999").status_code == 404


def test_a_refusal_on_the_role_page_is_shown_and_audited(client: FlaskClient, db):
    session = db()
    trainee = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()
    trainee.department_id = session.scalar(
        select(Department.id).where(Department.code == "marketing")
    )
    session.commit()
    role_id = _role(db(), "online_marketing").id
    rights = role_rights(db(), _role(db(), "online_marketing"))
    refused = client.post(
        f"{BASE}/security/roles/{role_id}", data=_form({**rights, "hkid": "full"})
    )
    assert refused.status_code == 400 and "may not change security settings" in refused.text
    event = db().scalars(select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)).one()
    assert event.details["operation"] == "set_role_rights"
    assert (event.entity_type, event.entity_id) == ("security_role", role_id)
    assert role_rights(db(), _role(db(), "online_marketing"))["hkid"] == "hidden"


def test_an_access_request_is_answered_through_its_page(client: FlaskClient, db):
    request_id = _planted(db(), "department_access_request")[0]
    listing = client.get(f"{BASE}/security/requests")
    assert listing.status_code == 200 and f"/security/requests/{request_id}" in listing.text
    page = client.get(f"{BASE}/security/requests/{request_id}")
    assert page.status_code == 200 and "including HKID numbers" in page.text
    hkid = _item(db(), "hkid")
    url = f"{BASE}/security/requests/{request_id}/items/{hkid}"
    no_reason = client.post(url, data={f"item{hkid}-decision": "refused"})
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    refused = client.post(
        url, data={f"item{hkid}-decision": "refused", f"item{hkid}-reason": "Not needed"}
    )
    assert refused.status_code == 302
    dob = _item(db(), "date_of_birth")
    partly = client.post(
        f"{BASE}/security/requests/{request_id}/items/{dob}",
        data={
            f"item{dob}-decision": "partly",
            f"item{dob}-grant": "masked",
            f"item{dob}-reason": "Birth month only",
        },
    )
    assert partly.status_code == 302
    early = client.post(f"{BASE}/security/requests/{request_id}/close", data={"reply": "Done"})
    assert early.status_code == 400 and "still undecided" in early.text
    items = db().scalars(select(AccessRequestItem).order_by(AccessRequestItem.id)).all()
    assert {i.item: i.decision for i in items}["date_of_birth"] == "partly"
    assert role_rights(db(), _role(db(), "online_marketing"))["date_of_birth"] == "masked"
    other = client.post(f"{BASE}/security/requests/999999/items/{hkid}", data={})
    assert other.status_code == 404
    assert client.get(f"{BASE}/security/requests/999999").status_code == 404


def test_a_misuse_flag_is_reviewed_through_its_page(client: FlaskClient, db):
    truth = _details(db(), "staff_misuse")
    flag = next(int(k) for k, v in truth.items() if v == "sent_outside")
    listing = client.get(f"{BASE}/security/misuse")
    assert listing.status_code == 200 and f"/security/misuse/{flag}" in listing.text
    page = client.get(f"{BASE}/security/misuse/{flag}")
    assert page.status_code == 200 and "Sent by e-mail" in page.text
    empty = client.post(f"{BASE}/security/misuse/{flag}", data={"decision": "escalated"})
    assert empty.status_code == 400
    escalated = client.post(
        f"{BASE}/security/misuse/{flag}",
        data={"decision": "escalated", "note": "Customer list sent to a personal mailbox"},
    )
    assert escalated.status_code == 302
    assert db().get(MisuseFlag, flag).status == "escalated"
    assert client.get(f"{BASE}/security/misuse/999999").status_code == 404
