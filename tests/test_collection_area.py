"""The online collection area: planted sign-up forms and tracking data, their operations, the
COL rules and checks they make observable, and their pages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from graders.results import Status
from sandbox_crm.clock import sandbox_now
from sandbox_crm.collection.models import (
    FormField,
    PicsVersion,
    Signup,
    SignupForm,
    TrackingRecord,
    TrackingSetting,
)
from sandbox_crm.collection.procedures import TRACKING_STANDARD
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import (
    AuditEvent,
    ConsentRecord,
    ContactPoint,
    Customer,
    Department,
    StaffUser,
)
from sandbox_crm.operations import REFUSED_OPERATION, OperationError, apply_operation
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 11, 16)
PLANTS = (
    PlantSpec.of("signup_forms", 1, excessive=True, access_contact=False, signups=6),  # 0
    PlantSpec.of("signup_forms", 1, form_kind="newsletter", signups=3),  # 1
    PlantSpec.of("tracking_data", 24, retention="too_long", cookies="always"),
)
CONTACT = "Data Protection Officer, privacy@company.hk"
EXCESS = ("hkid_partial", "date_of_birth", "income", "family_status")


def collection_spec(**changes: object) -> GenerationSpec:
    """A small retail sandbox with the sign-up forms and tracking plants."""
    fields: dict[str, object] = {
        "profile": "retail",
        "seed": 1072,
        "customers": 80,
        "today": TODAY,
        "plants": PLANTS,
    }
    fields.update(changes)
    return GenerationSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return collection_spec()


def _form(attempt: Attempt, index: int = 0) -> int:
    return sandbox_info(attempt.session).plants["signup_forms"][index]


def _fields(attempt: Attempt, form_id: int) -> dict[str, str]:
    rows = attempt.session.scalars(select(FormField).where(FormField.form_id == form_id))
    return {r.field: r.obligation for r in rows}


def _fix_form(attempt: Attempt, *, publish: bool = True, contact: str = CONTACT) -> int:
    form = _form(attempt)
    for field in EXCESS:
        attempt.do("remove_form_field", form_id=form, field=field)
    if publish:
        attempt.do("publish_pics", form_id=form, access_contact=contact)
    return form


def _fix_tracking(attempt: Attempt, *, purge: bool = True) -> None:
    for kind, standard in TRACKING_STANDARD.items():
        attempt.do(
            "set_tracking_setting",
            kind=kind,
            retention_days=standard.retention_days,
            consent_required=standard.consent_required,
        )
    if purge:
        attempt.do("purge_tracking_data")


# --- generation -------------------------------------------------------------------------------


def test_forms_and_tracking_are_deterministic_and_leave_the_rest_of_the_sandbox_as_it_was():
    first, second = generated(collection_spec()), generated(collection_spec())
    without = generated(collection_spec(plants=()))
    try:
        for model in (SignupForm, FormField, PicsVersion, Signup, TrackingSetting, TrackingRecord):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
            assert not table_rows(without, model), model.__name__
        for model in (Customer, ContactPoint, ConsentRecord):
            assert table_rows(first, model) == table_rows(without, model), model.__name__
    finally:
        for session in (first, second, without):
            session.close()


def test_the_planted_membership_form_asks_too_much_under_a_notice_shown_before_each_signup(
    attempt: Attempt,
):
    form = attempt.session.get_one(SignupForm, _form(attempt))
    fields = _fields(attempt, form.id)
    assert fields["hkid_partial"] == fields["date_of_birth"] == "obligatory"
    assert fields["mobile"] == "obligatory" and fields["income"] == "voluntary"
    pics = attempt.session.scalars(select(PicsVersion).where(PicsVersion.form_id == form.id)).one()
    assert pics.access_contact == "" and set(pics.obligatory_fields) >= {"hkid_partial"}
    signups = attempt.session.scalars(select(Signup).where(Signup.form_id == form.id)).all()
    assert len(signups) == 6
    assert all(s.pics_id == pics.id and s.submitted_at > pics.published_at for s in signups)
    settings = {s.kind: s for s in attempt.session.scalars(select(TrackingSetting))}
    assert (
        settings["product_view"].retention_days > TRACKING_STANDARD["product_view"].retention_days
    )
    assert not settings["analytics_cookie"].consent_required


# --- operations -------------------------------------------------------------------------------


def test_publishing_states_the_fields_as_the_form_has_them_now(attempt: Attempt):
    form = _form(attempt)
    attempt.do("change_form_field", form_id=form, field="date_of_birth", obligation="voluntary")
    attempt.do("remove_form_field", form_id=form, field="hkid_partial")
    pics = attempt.do("publish_pics", form_id=form, access_contact=CONTACT)
    assert pics.version.endswith("-v2") and pics.access_contact == CONTACT
    assert "hkid_partial" not in pics.obligatory_fields + pics.voluntary_fields
    assert "date_of_birth" in pics.voluntary_fields
    assert pics.purposes and pics.transferee_classes  # kept from the version before


def test_a_retired_form_cannot_be_changed_but_can_be_noted(attempt: Attempt):
    form = _form(attempt, 1)
    attempt.do("retire_form", form_id=form, reason="Replaced by the app")
    with pytest.raises(OperationError, match="retired"):
        attempt.do(
            "add_form_field", form_id=form, field="mobile", obligation="voluntary", purpose="x"
        )
    attempt.session.rollback()
    note = attempt.do("add_form_review_note", form_id=form, text="Retired after the review")
    assert note.form_id == form


def test_the_purge_removes_only_what_is_older_than_each_setting(attempt: Attempt):
    now = sandbox_now(attempt.session)
    attempt.session.commit()
    attempt.do("set_tracking_setting", kind="product_view", retention_days=180)
    before = attempt.session.scalars(select(TrackingRecord)).all()
    kept = {
        r.id
        for r in before
        if r.kind != "product_view" or r.occurred_at >= now - timedelta(days=180)
    }
    purge = attempt.do("purge_tracking_data")
    after = {r.id for r in attempt.session.scalars(select(TrackingRecord))}
    assert purge.removed == len(before) - len(after) > 0
    assert after == kept


OPERATION_ARGS = {
    "add_form_field": {"field": "gender", "obligation": "voluntary", "purpose": "Offers"},
    "remove_form_field": {"field": "income"},
    "change_form_field": {"field": "income", "justification": "Needed for nothing"},
    "publish_pics": {"access_contact": CONTACT},
    "retire_form": {"reason": "Old"},
    "add_form_review_note": {"text": "Reviewed"},
    "set_tracking_setting": {"kind": "session", "retention_days": 30},
    "purge_tracking_data": {},
}


@pytest.mark.parametrize("name", sorted(OPERATION_ARGS))
def test_staff_outside_the_collecting_departments_are_refused(attempt: Attempt, name: str):
    session = attempt.session
    sales = session.scalars(select(Department).where(Department.code == "sales")).one()
    seller = session.scalars(
        select(StaffUser).where(StaffUser.department_id == sales.id, StaffUser.is_admin.is_(False))
    ).first()
    args = dict(OPERATION_ARGS[name])
    if name not in ("set_tracking_setting", "purge_tracking_data"):
        args["form_id"] = _form(attempt)
    with pytest.raises(OperationError, match="may not change sign-up forms"):
        apply_operation(session, seller, name, args)
    session.rollback()
    apply_operation(session, attempt.actor, name, args)  # the trainee's marketing role may


# --- PDPO rules -------------------------------------------------------------------------------


def test_col_01_fails_a_field_collected_before_the_notice_mentions_it(attempt: Attempt):
    assert attempt.rule("COL-01").status is Status.PASS
    form = _form(attempt)
    attempt.do("add_form_field", form_id=form, field="gender", obligation="voluntary", purpose="x")
    outcome = attempt.rule("COL-01")
    assert outcome.status is Status.FAIL and "gender" in outcome.findings[0].message
    attempt.do("publish_pics", form_id=form)
    assert attempt.rule("COL-01").status is Status.PASS


def test_col_02_fails_a_notice_without_the_access_contact_or_with_stale_fields(attempt: Attempt):
    assert attempt.rule("COL-02").status is Status.FAIL  # planted without the contact
    form = _fix_form(attempt)
    assert attempt.rule("COL-02").status is Status.PASS
    attempt.do("change_form_field", form_id=form, field="email", obligation="obligatory")
    assert attempt.rule("COL-02").status is Status.FAIL
    attempt.do("publish_pics", form_id=form)
    assert attempt.rule("COL-02").status is Status.PASS
    attempt.do("publish_pics", form_id=form, access_contact="")
    assert attempt.rule("COL-02").status is Status.FAIL


def test_col_03_fails_unjustified_fields_outside_the_allow_list(attempt: Attempt):
    form = _form(attempt)
    attempt.do("remove_form_field", form_id=form, field="hkid_partial")
    assert attempt.rule("COL-03").status is Status.FAIL
    for field in ("income", "family_status"):
        attempt.do("remove_form_field", form_id=form, field=field)
    attempt.do(
        "change_form_field",
        form_id=form,
        field="date_of_birth",
        obligation="voluntary",
        justification="The birthday gift is sent for the day itself",
    )
    assert attempt.rule("COL-03").status is Status.PASS


@pytest.mark.parametrize(
    ("fix", "col_04", "col_05"),
    [
        ("none", Status.FAIL, Status.FAIL),
        ("voluntary", Status.FAIL, Status.FAIL),
        ("justified", Status.FAIL, Status.PASS),
        ("removed", Status.PASS, Status.PASS),
    ],
)
def test_col_04_and_col_05_judge_an_hkid_asked_for_on_a_form(attempt, fix, col_04, col_05):
    form = _form(attempt)
    if fix == "voluntary":
        attempt.do("change_form_field", form_id=form, field="hkid_partial", obligation="voluntary")
    elif fix == "justified":
        attempt.do(
            "change_form_field",
            form_id=form,
            field="hkid_partial",
            justification="To verify the member's identity",
        )
    elif fix == "removed":
        attempt.do("remove_form_field", form_id=form, field="hkid_partial")
    assert attempt.rule("COL-04").status is col_04
    assert attempt.rule("COL-05").status is col_05


def test_a_retired_form_collects_nothing_to_judge(attempt: Attempt):
    attempt.do("retire_form", form_id=_form(attempt), reason="Replaced")
    for rule_id in ("COL-02", "COL-03", "COL-04", "COL-05"):
        assert attempt.rule(rule_id).status is Status.PASS, rule_id


# --- checks -----------------------------------------------------------------------------------

FIELDS_PARAMS = {
    "forbidden": ["hkid_partial", "hkid"],
    "not_obligatory": ["date_of_birth", "income", "family_status"],
    "needed": ["name_en", "mobile"],
}


@pytest.mark.parametrize(
    ("mistake", "status"),
    [(None, Status.PASS), ("voluntary_hkid", Status.FAIL), ("drop", Status.FAIL)],
)
def test_form_fields_passes_only_what_membership_needs(attempt, mistake, status):
    form = _form(attempt)
    for field in EXCESS:
        if field == "hkid_partial" and mistake == "voluntary_hkid":
            attempt.do("change_form_field", form_id=form, field=field, obligation="voluntary")
        else:
            attempt.do("remove_form_field", form_id=form, field=field)
    if mistake == "drop":
        attempt.do("remove_form_field", form_id=form, field="mobile")
    outcome = attempt.check("collection.form_fields", FIELDS_PARAMS)
    assert outcome.status is status


@pytest.mark.parametrize(
    ("publish", "contact", "status"),
    [(True, CONTACT, Status.PASS), (False, CONTACT, Status.FAIL), (True, "", Status.FAIL)],
)
def test_notice_current_needs_a_new_complete_notice(attempt, publish, contact, status):
    _fix_form(attempt, publish=publish, contact=contact)
    outcome = attempt.check("collection.notice_current", {})
    assert outcome.status is status


@pytest.mark.parametrize(("purge", "status"), [(True, Status.PASS), (False, Status.FAIL)])
def test_tracking_follows_procedure_once_the_settings_are_applied(attempt, purge, status):
    assert attempt.check("tracking.follows_procedure", {}).status is Status.FAIL
    _fix_tracking(attempt, purge=purge)
    assert attempt.check("tracking.follows_procedure", {}).status is status


def test_tracking_fails_analytics_cookies_without_consent(attempt: Attempt):
    _fix_tracking(attempt)
    attempt.do("set_tracking_setting", kind="analytics_cookie", consent_required=False)
    attempt.do("purge_tracking_data")
    outcome = attempt.check("tracking.follows_procedure", {})
    assert outcome.status is Status.FAIL and "consent" in outcome.note


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_the_form_pages_change_a_form_and_publish_its_notice_without_javascript(client, db):
    listing = client.get(f"{BASE}/forms?kind=membership")
    assert listing.status_code == 200 and "MEM-" in listing.text
    assert "Never collected" in listing.text  # the written requirements
    form = sandbox_info(db()).plants["signup_forms"][0]
    page = client.get(f"{BASE}/forms/{form}")
    assert page.status_code == 200 and "hkid_partial" in page.text
    assert (
        client.post(f"{BASE}/forms/{form}/remove", data={"field": "hkid_partial"}).status_code
        == 302
    )
    published = client.post(f"{BASE}/forms/{form}/publish", data={"access_contact": CONTACT})
    assert published.status_code == 302
    justified = {"field": "income", "obligation": "", "justification": "For the wealth club"}
    assert client.post(f"{BASE}/forms/{form}/change", data=justified).status_code == 302
    voluntary = {"field": "income", "obligation": "voluntary", "justification": ""}
    assert client.post(f"{BASE}/forms/{form}/change", data=voluntary).status_code == 400  # same
    again = client.post(f"{BASE}/forms/{form}/remove", data={"field": "hkid_partial"})
    assert again.status_code == 400 and "does not collect" in again.text
    empty = client.post(f"{BASE}/forms/{form}/note", data={"text": ""})
    assert empty.status_code == 400 and "Note is required" in empty.text
    session = db()
    assert "hkid_partial" not in {
        f.field for f in session.scalars(select(FormField).where(FormField.form_id == form))
    }
    refusals = session.scalars(
        select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)
    ).all()
    assert [r.details["operation"] for r in refusals] == [
        "change_form_field",
        "remove_form_field",
        "add_form_review_note",
    ]
    assert refusals[0].entity_type == "signup_form" and refusals[0].entity_id == form
    income = session.scalars(
        select(FormField).where(FormField.form_id == form, FormField.field == "income")
    ).one()
    assert income.justification == "For the wealth club"  # an empty box keeps it
    assert client.get(f"{BASE}/forms/{form}").text.count("-v2") >= 1
    assert client.get(f"{BASE}/forms/999999").status_code == 404


def test_the_tracking_page_changes_a_setting_and_purges_without_javascript(client, db):
    page = client.get(f"{BASE}/tracking")
    assert page.status_code == 200 and "Standard procedure" in page.text
    saved = client.post(f"{BASE}/tracking/product_view", data={"retention_days": "180"})
    assert saved.status_code == 302
    bad = client.post(f"{BASE}/tracking/session", data={"retention_days": "0"})
    assert bad.status_code == 400 and "Days kept" in bad.text
    assert client.post(f"{BASE}/tracking/purge").status_code == 302
    session = db()
    setting = session.scalars(
        select(TrackingSetting).where(TrackingSetting.kind == "product_view")
    ).one()
    assert setting.retention_days == 180 and not setting.consent_required
    assert session.scalars(select(AuditEvent).where(AuditEvent.operation == "tracking.purge")).one()
