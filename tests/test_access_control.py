"""Who may open which attempt page, result, CRM page and form: every role against every URL.

Unknown ids and ids that are not yours look the same (404), so ids reveal nothing; staff of the
trainee's centre may read (the CRM read-only) but not change anything; strangers sign in first.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sandbox_crm.models import ReportRun
from tests.platform_fixtures import Ids, apply_reference_solution, decide_on_the_web
from training_platform import attempts_service, jobs
from training_platform.models import (
    Allocation,
    Appeal,
    AppealStatus,
    AssessmentSettings,
    Attempt,
    AttemptStatus,
    Cohort,
    CohortMember,
    DecisionVersion,
    JobStatus,
    Moderation,
    ModerationStatus,
)
from training_platform.sandboxes import get_store

ROLES = [
    "anonymous",
    "owner",
    "other_trainee",
    "assessor",
    "centre_admin",
    "foreign_trainee",
    "foreign_assessor",
]


def _client(role: str, request, client, client_as, trainee):
    if role == "anonymous":
        return client
    user = trainee if role == "owner" else request.getfixturevalue(role)
    return client_as(user)


def _wrong_answers(browser, role: str, urls) -> list[str]:
    """The protected URLs that did not answer ``role`` as their row of the table expects.

    Each row is (label, method, url, form data, expected answer by role); an answer is a status,
    "login" (a redirect to sign in) or 302 (a redirect elsewhere).
    """
    wrong = []
    for label, method, url, data, expected_by_role in urls:
        expected = expected_by_role[role]
        response = browser.open(url, method=method, data=data)
        location = response.headers.get("Location", "")
        if expected == "login":
            ok = response.status_code == 302 and "/login" in location
        elif expected == 302:
            ok = response.status_code == 302 and "/login" not in location
        else:
            ok = response.status_code == expected
        if not ok:
            wrong.append(f"{label} {method} {url}: got {response.status_code} {location}")
    return wrong


def _runs(sandbox_settings, db_session, attempt_id: int) -> int:
    key = db_session.get(Attempt, attempt_id).sandbox_key
    with get_store(sandbox_settings).session(key, read_only=True) as sandbox:
        return sandbox.scalar(select(func.count(ReportRun.id)))


# What each role gets: 200 page, 302 redirect (not to sign-in), 403, 404, or "login".
READ = {
    "anonymous": "login",
    "owner": 200,
    "other_trainee": 404,
    "assessor": 200,
    "centre_admin": 200,
    "foreign_trainee": 404,
    "foreign_assessor": 404,
}
CHANGE = {**READ, "owner": 302, "assessor": 403, "centre_admin": 403}
CRM_CHANGE = {**READ, "owner": 302, "assessor": 302, "centre_admin": 302}
PUBLIC = {role: 200 for role in ROLES}
OWN_ACCOUNT = {**PUBLIC, "anonymous": "login"}
# The jobs page: staff see their own centre's (another centre's job is 404); trainees are 403.
STAFF = {
    **READ,
    "owner": 403,
    "other_trainee": 403,
    "foreign_trainee": 403,
    "foreign_assessor": 200,
}
# Retrying a job that has not failed is refused with a message (a redirect back to the list).
STAFF_CHANGE = {**STAFF, "assessor": 302, "centre_admin": 302, "foreign_assessor": 404}
# Regrading: the centre's assessors and admins; another centre's attempt is not found.
REGRADE = STAFF_CHANGE
# A built-in scenario version's regrade page: every centre's staff, for their own attempts.
REGRADE_VERSION = STAFF


@pytest.fixture
def job_id(db_session, ids) -> int:
    """The grading job of the graded attempt (done)."""
    attempt = db_session.get(Attempt, ids.graded)
    job = jobs.queue_grading(db_session, attempt)
    job.status = JobStatus.DONE
    db_session.commit()
    return job.id


def _urls(ids: Ids, job_id: int, version_id: int) -> list[tuple[str, str, str, dict, dict]]:
    """(label, method, url, form data, expected outcome per role)."""
    crm = f"/attempts/{ids.graded}/crm"
    return [
        ("health", "GET", "/healthz", {}, PUBLIC),
        ("readiness", "GET", "/readyz", {}, PUBLIC),
        ("change password page", "GET", "/account/password", {}, OWN_ACCOUNT),
        ("attempt page", "GET", f"/attempts/{ids.graded}", {}, READ),
        ("result page", "GET", f"/attempts/{ids.graded}/result", {}, READ),
        ("CRM home", "GET", f"{crm}/", {}, READ),
        ("CRM customer list", "GET", f"{crm}/customers", {}, READ),
        ("CRM customer record", "GET", f"{crm}/customers/{ids.customer}", {}, READ),
        (
            "CRM customer record viewed as a role",
            "GET",
            f"{crm}/customers/{ids.customer}?as_role=marketing",
            {},
            READ,
        ),
        ("CRM report list", "GET", f"{crm}/reports", {}, READ),
        ("CRM report page", "GET", f"{crm}/reports/{ids.report}", {}, READ),
        ("CRM export download", "GET", f"{crm}/exports/{ids.export}/download", {}, READ),
        ("CRM campaign list", "GET", f"{crm}/campaigns", {}, READ),
        ("CRM campaign page", "GET", f"{crm}/campaigns/1", {}, READ),
        ("CRM campaign form", "GET", f"{crm}/campaigns/new", {}, READ),
        ("CRM case list", "GET", f"{crm}/cases", {}, READ),
        ("CRM order page", "GET", f"{crm}/orders/1", {}, READ),
        ("CRM invoice list", "GET", f"{crm}/invoices", {}, READ),
        ("CRM review page", "GET", f"{crm}/reviews/1", {}, READ),
        ("CRM case form", "GET", f"{crm}/cases/new", {}, READ),
        ("CRM automation rules", "GET", f"{crm}/cases/rules", {}, READ),
        ("CRM automation rule form", "GET", f"{crm}/cases/rules/new", {}, READ),
        ("CRM automation preview", "GET", f"{crm}/cases/rules/preview", {}, READ),
        ("CRM activity list", "GET", f"{crm}/activities", {}, READ),
        ("CRM activity form", "GET", f"{crm}/activities/new", {}, READ),
        ("CRM hand-off list", "GET", f"{crm}/handoffs", {}, READ),
        ("CRM hand-off form", "GET", f"{crm}/handoffs/new", {}, READ),
        ("CRM staff accounts", "GET", f"{crm}/security", {}, READ),
        ("CRM staff account", "GET", f"{crm}/security/accounts/1", {}, READ),
        ("CRM field permissions", "GET", f"{crm}/security/permissions", {}, READ),
        ("CRM branch access", "GET", f"{crm}/security/branches", {}, READ),
        ("CRM backups", "GET", f"{crm}/security/backups", {}, READ),
        ("CRM access requests", "GET", f"{crm}/security/requests", {}, READ),
        ("CRM misuse flags", "GET", f"{crm}/security/misuse", {}, READ),
        ("CRM e-shop accounts", "GET", f"{crm}/eshop", {}, READ),
        ("CRM e-shop account", "GET", f"{crm}/eshop/1", {}, READ),
        ("CRM e-shop accounts viewed as a role", "GET", f"{crm}/eshop?as_role=marketing", {}, READ),
        (
            "CRM e-shop account viewed as a role",
            "GET",
            f"{crm}/eshop/1?as_role=marketing",
            {},
            READ,
        ),
        ("CRM data-quality queue", "GET", f"{crm}/quality", {}, READ),
        ("CRM data-quality issue", "GET", f"{crm}/quality/1", {}, READ),
        ("CRM sign-up forms", "GET", f"{crm}/forms", {}, READ),
        ("CRM sign-up form", "GET", f"{crm}/forms/1", {}, READ),
        ("CRM tracking", "GET", f"{crm}/tracking", {}, READ),
        ("CRM opportunity list", "GET", f"{crm}/opportunities", {}, READ),
        ("CRM opportunity form", "GET", f"{crm}/opportunities/new", {}, READ),
        ("CRM cross-selling suggestions", "GET", f"{crm}/cross-selling", {}, READ),
        ("CRM follow-up tasks", "GET", f"{crm}/follow-ups", {}, READ),
        ("CRM data by purpose", "GET", f"{crm}/purpose-data", {}, READ),
        ("CRM data by purpose form", "GET", f"{crm}/purpose-data/new", {}, READ),
        ("CRM sales regions and quotas", "GET", f"{crm}/sales-regions", {}, READ),
        ("CRM team capacity", "GET", f"{crm}/sales-team", {}, READ),
        ("CRM data requests", "GET", f"{crm}/requests", {}, READ),
        ("CRM data request form", "GET", f"{crm}/requests/new", {}, READ),
        (
            "answers POST",
            "POST",
            f"/attempts/{ids.working}/answers",
            {"answer-q-consent": "b"},
            CHANGE,
        ),
        ("submit POST", "POST", f"/attempts/{ids.working}/submit", {}, CHANGE),
        ("jobs page", "GET", "/jobs", {}, STAFF),
        ("job retry POST", "POST", f"/jobs/{job_id}/retry", {}, STAFF_CHANGE),
        ("regrade POST", "POST", f"/review/attempts/{ids.graded}/regrade", {}, REGRADE),
        (
            "version regrade page",
            "GET",
            f"/review/versions/{version_id}/regrade",
            {},
            REGRADE_VERSION,
        ),
        (
            "version regrade POST",
            "POST",
            f"/review/versions/{version_id}/regrade",
            {"confirm": "yes"},
            {**REGRADE_VERSION, "assessor": 302, "centre_admin": 302, "foreign_assessor": 302},
        ),
        ("retry POST", "POST", f"/attempts/{ids.graded}/retry", {}, {**CHANGE, "owner": 302}),
        (
            "CRM run report POST",
            "POST",
            f"/attempts/{ids.working}/crm/reports/{ids.report}/runs",
            {},
            CRM_CHANGE,
        ),
        (
            "CRM plan campaign POST",
            "POST",
            f"/attempts/{ids.working}/crm/campaigns/new",
            {"name": "Spring", "channel": "email", "marketing_class": "offers"},
            CRM_CHANGE,
        ),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_right_answer_from_every_protected_url(
    role, request, client, client_as, trainee, ids, job_id, sandbox_settings, db_session
):
    browser = _client(role, request, client, client_as, trainee)
    runs_before = _runs(sandbox_settings, db_session, ids.working)
    version_id = db_session.get(Attempt, ids.graded).scenario_version_id
    wrong = _wrong_answers(browser, role, _urls(ids, job_id, version_id))
    assert not wrong, f"{role}: expected {', '.join(wrong)}"

    db_session.expire_all()
    working = db_session.get(Attempt, ids.working)
    assert working.status == AttemptStatus.IN_PROGRESS  # submit without a deliverable is refused
    runs_after = _runs(sandbox_settings, db_session, ids.working)
    assert runs_after == runs_before + (1 if role == "owner" else 0)
    if role != "owner":
        assert working.answers == {}


def test_a_trainee_cannot_reach_anothers_records_through_their_own_attempt(
    client_as, other_trainee, practice_scenario, ids, sandbox_settings, db_session
):
    with sandbox_settings.app_context():
        theirs = attempts_service.start_attempt(db_session, other_trainee, practice_scenario)
    db_session.commit()
    client = client_as(other_trainee)
    own_crm = f"/attempts/{theirs.id}/crm"
    assert client.get(f"{own_crm}/").status_code == 200
    # The same ids in their own sandbox: no such report or export was ever made there.
    assert client.get(f"{own_crm}/reports/{ids.report}").status_code == 404
    assert client.get(f"{own_crm}/exports/{ids.export}/download").status_code == 404
    assert client.get(f"{own_crm}/campaigns/999999").status_code == 404
    assert client.get(f"{own_crm}/cases/999999").status_code == 404
    assert client.post(f"{own_crm}/cases/999999/close").status_code == 404
    assert client.get(f"{own_crm}/cases/rules/999999").status_code == 404
    assert client.post(f"{own_crm}/cases/rules/999999/enable").status_code == 404
    assert client.get(f"{own_crm}/security/accounts/999999").status_code == 404
    assert client.post(f"{own_crm}/security/branches/999999").status_code == 404
    assert client.get(f"{own_crm}/security/roles/999999").status_code == 404
    assert client.post(f"{own_crm}/security/roles/999999").status_code == 404
    assert client.get(f"{own_crm}/security/requests/999999").status_code == 404
    assert client.post(f"{own_crm}/security/requests/999999/close").status_code == 404
    assert client.get(f"{own_crm}/security/misuse/999999").status_code == 404
    assert client.post(f"{own_crm}/security/misuse/999999").status_code == 404
    assert client.get(f"{own_crm}/eshop/999999").status_code == 404
    assert client.get(f"{own_crm}/eshop/999999?as_role=marketing").status_code == 404
    assert client.get(f"{own_crm}/quality/999999").status_code == 404
    assert client.get(f"{own_crm}/forms/999999").status_code == 404
    assert client.post(f"{own_crm}/forms/999999/note").status_code == 404
    assert client.get(f"{own_crm}/opportunities/999999").status_code == 404
    assert client.post(f"{own_crm}/opportunities/999999/stage").status_code == 404
    assert client.post(f"{own_crm}/follow-ups/999999/done").status_code == 404
    assert client.get(f"{own_crm}/requests/999999").status_code == 404
    assert client.post(f"{own_crm}/requests/999999/respond").status_code == 404
    assert client.get(f"{own_crm}/orders/999999").status_code == 404
    assert client.post(f"{own_crm}/orders/999999/status").status_code == 404
    assert client.get(f"{own_crm}/invoices/999999").status_code == 404
    assert client.post(f"{own_crm}/invoices/999999/remind").status_code == 404
    assert client.get(f"{own_crm}/reviews/999999").status_code == 404
    assert client.post(f"{own_crm}/reviews/999999/respond").status_code == 404
    response = client.post(
        f"/attempts/{theirs.id}/submit",
        data={"deliverable-report": str(ids.report), "confirm": "yes"},
        follow_redirects=True,
    )
    assert "not one of your own saved reports" in response.get_data(as_text=True)


def test_unknown_attempts_look_like_forbidden_ones(client_as, trainee, ids):
    client = client_as(trainee)
    for url in ("/attempts/99999", "/attempts/99999/result", "/attempts/99999/crm/"):
        assert client.get(url).status_code == 404


def test_only_trainees_have_an_attempt_list_and_start_attempts(
    client_as, assessor, centre_admin, practice_scenario
):
    for user in (assessor, centre_admin):
        client = client_as(user)
        assert client.get("/attempts").status_code == 403
        assert client.post(f"/scenarios/{practice_scenario.id}/start").status_code == 403


def test_posts_without_a_csrf_token_are_refused(
    client_as, trainee, started_attempt, practice_scenario, db_session, sandbox_settings
):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    browser = client_as(trainee)
    browser.application.config["WTF_CSRF_ENABLED"] = True
    base = f"/attempts/{started_attempt.id}"
    posts = {
        f"/scenarios/{practice_scenario.id}/start": {},
        f"{base}/answers": {"answer-q-consent": "b"},
        f"{base}/submit": {"deliverable-report": str(deliverables["report"]), "confirm": "yes"},
        f"{base}/retry": {},
    }
    for url, data in posts.items():
        assert browser.post(url, data=data).status_code == 400, url
    page = browser.get(base).get_data(as_text=True)
    assert 'name="csrf_token" value="' in page
    db_session.expire_all()
    attempt = db_session.get(Attempt, started_attempt.id)
    assert attempt.answers == {} and attempt.status == AttemptStatus.IN_PROGRESS
    assert len(db_session.scalars(select(Attempt)).all()) == 1


# --- what the centre gets out: progress, statistics, exports, retention -----------------------

STAFF_ONLY = {
    "anonymous": "login",
    "owner": 403,
    "other_trainee": 403,
    "assessor": 200,
    "centre_admin": 200,
    "foreign_trainee": 403,
    "foreign_assessor": 200,  # their own centre's page
}
STAFF_OF_THE_CENTRE = {**STAFF_ONLY, "foreign_assessor": 404}
ONE_TRAINEES = {**READ}  # the trainee's own, read by the centre's staff
ADMIN_ONLY = {**STAFF_ONLY, "assessor": 403, "foreign_assessor": 403}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_right_answer_from_the_centres_outputs(
    role, request, client, client_as, trainee, ids, db_session
):
    cohort = Cohort(centre_id=trainee.centre_id, name="Outputs cohort")
    db_session.add(cohort)
    db_session.flush()
    db_session.add(CohortMember(cohort_id=cohort.id, user_id=trainee.id))
    db_session.commit()
    browser = _client(role, request, client, client_as, trainee)
    evidence = f"/progress/attempts/{ids.graded}"
    urls = [
        ("dashboard", f"/progress/trainees/{trainee.id}", ONE_TRAINEES),
        ("record PDF", f"/progress/trainees/{trainee.id}/record.pdf", ONE_TRAINEES),
        ("cohorts", "/progress/cohorts", STAFF_ONLY),
        ("cohort matrix", f"/progress/cohorts/{cohort.id}", STAFF_OF_THE_CENTRE),
        ("statistics", "/progress/statistics", STAFF_ONLY),
        ("gradebook form", "/progress/gradebook", STAFF_ONLY),
        ("gradebook CSV", "/progress/gradebook/export", STAFF_ONLY),
        ("cohort gradebook", f"/progress/gradebook/export?cohort={cohort.id}", STAFF_OF_THE_CENTRE),
        ("evidence PDF", f"{evidence}/evidence.pdf", STAFF_OF_THE_CENTRE),
        ("evidence zip", f"{evidence}/evidence.zip", STAFF_OF_THE_CENTRE),
        (
            "unknown evidence",
            "/progress/attempts/99999/evidence.pdf",
            {**STAFF_OF_THE_CENTRE, "assessor": 404, "centre_admin": 404},
        ),
        ("retention settings", "/settings/retention", ADMIN_ONLY),
    ]
    wrong = _wrong_answers(browser, role, [(label, "GET", url, None, e) for label, url, e in urls])
    assert not wrong, f"{role}: expected otherwise for {', '.join(wrong)}"
    changed = browser.post("/settings/retention", data={"sandbox_days": "30"})
    if role == "centre_admin":
        assert changed.status_code == 302
    elif role == "anonymous":
        assert "/login" in changed.headers.get("Location", "")
    else:
        assert changed.status_code == 403


# --- the centre admin's pages: people, cohorts, windows, audit log ------------------------------

ADMIN_ROLES = [*ROLES, "foreign_admin"]
# Admin pages: only the centre's admins; other roles 403; an admin of another centre gets
# the lists of their own centre (200) and 404 for every id of this one.
ADMIN_LIST = {
    "anonymous": "login",
    "owner": 403,
    "other_trainee": 403,
    "assessor": 403,
    "centre_admin": 200,
    "foreign_trainee": 403,
    "foreign_assessor": 403,
    "foreign_admin": 200,
}
ADMIN_RECORD = {**ADMIN_LIST, "foreign_admin": 404}
ADMIN_CHANGE = {**ADMIN_RECORD, "centre_admin": 302}
ADMIN_CREATE = {**ADMIN_LIST, "centre_admin": 302, "foreign_admin": 302}
ANYONE = {role: 200 for role in ADMIN_ROLES}
BAD_LINK = {role: 400 for role in ADMIN_ROLES}


@pytest.fixture
def foreign_admin(make_user, foreign_centre):
    """A centre admin of another centre."""
    from training_platform.models import Role

    return make_user(Role.CENTRE_ADMIN, centre=foreign_centre)


def _admin_urls(trainee_id: int, cohort_id: int, window_id: int) -> list[tuple]:
    cohort = f"/centre/cohorts/{cohort_id}"
    window = f"/centre/windows/{window_id}"
    person = f"/centre/users/{trainee_id}"
    return [
        ("people", "GET", "/centre/users", {}, ADMIN_LIST),
        ("add person page", "GET", "/centre/users/new", {}, ADMIN_LIST),
        ("import page", "GET", "/centre/users/import", {}, ADMIN_LIST),
        ("import example", "GET", "/centre/users/import/example.csv", {}, ADMIN_LIST),
        ("person", "GET", person, {}, ADMIN_RECORD),
        ("person role POST", "POST", f"{person}/role", {"role": "trainee"}, ADMIN_CHANGE),
        (
            "person cohorts POST",
            "POST",
            f"{person}/cohorts",
            {"cohorts": str(cohort_id)},
            ADMIN_CHANGE,
        ),
        ("person reset POST", "POST", f"{person}/password-reset", {}, ADMIN_CHANGE),
        ("person reactivate POST", "POST", f"{person}/reactivate", {}, ADMIN_CHANGE),
        ("cohorts", "GET", "/centre/cohorts", {}, ADMIN_LIST),
        ("cohort create POST", "POST", "/centre/cohorts", {"name": "New one"}, ADMIN_CREATE),
        ("cohort", "GET", cohort, {}, ADMIN_RECORD),
        ("cohort rename POST", "POST", f"{cohort}/rename", {"name": "Spring"}, ADMIN_CHANGE),
        (
            "cohort members POST",
            "POST",
            f"{cohort}/members",
            {"user": str(trainee_id)},
            ADMIN_CHANGE,
        ),
        (
            "cohort member remove POST",
            "POST",
            f"{cohort}/members/{trainee_id}/remove",
            {},
            ADMIN_CHANGE,
        ),
        (
            "cohort offering POST",
            "POST",
            f"{cohort}/offerings",
            {"item": "unit:none"},
            ADMIN_CHANGE,
        ),
        (
            "cohort offering remove POST",
            "POST",
            f"{cohort}/offerings/99999/remove",
            {},
            ADMIN_CHANGE,
        ),
        ("cohort window POST", "POST", f"{cohort}/windows", {"scenario": "none"}, ADMIN_CHANGE),
        ("cohort archive POST", "POST", f"{cohort}/archive", {"restore": "1"}, ADMIN_CHANGE),
        ("window", "GET", window, {}, ADMIN_RECORD),
        ("window extension POST", "POST", f"{window}/extensions", {"reason": ""}, ADMIN_CHANGE),
        ("window close POST", "POST", f"{window}/close", {}, ADMIN_CHANGE),
        ("window prepare POST", "POST", f"{window}/prepare", {}, ADMIN_CHANGE),
        ("window delete POST", "POST", f"{window}/delete", {}, ADMIN_CHANGE),
        ("audit log", "GET", "/centre/audit", {}, ADMIN_LIST),
        ("forgotten password", "GET", "/password/forgot", {}, ANYONE),
        ("reset link", "GET", "/password/reset/forged", {}, BAD_LINK),
        ("invitation link", "GET", "/account/setup/forged", {}, BAD_LINK),
    ]


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_every_role_gets_the_right_answer_from_every_centre_admin_url(
    role, request, client, client_as, trainee, db_session, centre
):
    from datetime import timedelta

    from training_platform.models import AssessmentWindow, Cohort, User, utcnow

    cohort = Cohort(centre_id=centre.id, name="Spring")
    db_session.add(cohort)
    db_session.flush()
    window = AssessmentWindow(
        cohort_id=cohort.id,
        scenario_key="any-assessment",
        opens_at=utcnow() + timedelta(days=1),
        closes_at=utcnow() + timedelta(days=2),
    )
    db_session.add(window)
    db_session.commit()
    browser = _client(role, request, client, client_as, trainee)
    wrong = _wrong_answers(browser, role, _admin_urls(trainee.id, cohort.id, window.id))
    assert not wrong, f"{role}: expected {', '.join(wrong)}"
    db_session.expire_all()
    assert db_session.get(User, trainee.id).is_active
    if role != "centre_admin":
        assert db_session.get(AssessmentWindow, window.id) is not None


# --- assessing at scale: allocation, amendments, moderation, appeals, settings, trainees -------

STAFF_READ = {
    "anonymous": "login",
    "owner": 403,
    "other_trainee": 403,
    "assessor": 200,
    "centre_admin": 200,
    "foreign_trainee": 403,
    "foreign_assessor": 200,  # their own centre's page, without this centre's records
}
STAFF_RECORD = {**STAFF_READ, "foreign_assessor": 404}
# POSTs that every role is refused (the deciding assessor may not moderate or settle an appeal
# on their own decision; centre admins do not moderate, amend or settle).
ASSESSOR_POST = {**STAFF_RECORD, "assessor": 403, "centre_admin": 403}


@pytest.fixture
def assessing_ids(client_as, assessor, trainee, graded_assessment, db_session):
    """A decided assessment (by `assessor`) with its moderation pending and an open appeal."""
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    client_as(trainee).post(
        f"/attempts/{graded_assessment.id}/appeal",
        data={"reason": "I checked consent for everyone."},
    )
    db_session.expire_all()
    moderation = db_session.scalars(select(Moderation)).one()
    appeal = db_session.scalars(select(Appeal)).one()
    return graded_assessment.id, moderation.id, appeal.id


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_right_answer_from_every_assessing_url(
    role, request, client, client_as, trainee, assessor, assessing_ids, db_session
):
    attempt_id, moderation_id, appeal_id = assessing_ids
    browser = _client(role, request, client, client_as, trainee)
    base = f"/review/attempts/{attempt_id}"
    urls = [
        ("moderation list", "GET", "/review/moderation", {}, STAFF_READ),
        ("appeal list", "GET", "/review/appeals", {}, STAFF_READ),
        ("settings page", "GET", "/review/settings", {}, STAFF_READ),
        ("trainee page", "GET", f"/review/trainees/{trainee.id}", {}, STAFF_RECORD),
        ("decided evidence", "GET", base, {}, STAFF_RECORD),
        (
            "allocation POST",
            "POST",
            f"{base}/allocation",
            {"assessor": str(assessor.id)},
            {**STAFF_RECORD, "assessor": 403, "centre_admin": 400},  # decided: nothing to allocate
        ),
        (
            "amendment POST",
            "POST",
            f"{base}/amendments",
            {"decision": "not_yet_competent", "reason": "x" * 20, "version": "1"},
            {**STAFF_RECORD, "assessor": 400, "centre_admin": 403},  # appeal open
        ),
        (
            "moderation POST",
            "POST",
            f"/review/moderation/{moderation_id}",
            {"outcome": "agreed"},
            ASSESSOR_POST,
        ),
        (
            "appeal outcome POST",
            "POST",
            f"/review/appeals/{appeal_id}",
            {"outcome": "upheld", "comment": "x" * 20, "version": "1"},
            ASSESSOR_POST,
        ),
        (
            "appeal POST",
            "POST",
            f"/attempts/{attempt_id}/appeal",
            {"reason": "Another reason to appeal."},
            {
                **READ,
                "owner": 302,  # refused with a message: the appeal is already open
                "assessor": 403,
                "centre_admin": 403,
                "foreign_assessor": 403,
            },
        ),
        (
            "settings POST",
            "POST",
            "/review/settings",
            {"moderation_percent": "x", "appeal_days": "14"},
            {**STAFF_READ, "assessor": 403, "centre_admin": 400, "foreign_assessor": 403},
        ),
    ]
    wrong = _wrong_answers(browser, role, urls)
    assert not wrong, f"{role}: expected {', '.join(wrong)}"

    db_session.expire_all()
    assert db_session.scalars(select(Moderation)).one().status == ModerationStatus.PENDING
    assert db_session.scalars(select(Appeal)).one().status == AppealStatus.OPEN
    assert len(db_session.scalars(select(DecisionVersion)).all()) == 1
    assert db_session.scalars(select(Allocation)).first() is None
    assert db_session.scalars(select(AssessmentSettings)).first() is None
