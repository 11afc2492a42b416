"""Who may open which attempt page, result, CRM page and form: every role against every URL.

Unknown ids and ids that are not yours look the same (404), so ids reveal nothing; staff of the
trainee's centre may read (the CRM read-only) but not change anything; strangers sign in first.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sandbox_crm.models import ReportRun
from tests.platform_fixtures import Ids, apply_reference_solution
from training_platform import attempts_service
from training_platform.models import Attempt, AttemptStatus
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


def _urls(ids: Ids) -> list[tuple[str, str, str, dict, dict]]:
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
        ("CRM report list", "GET", f"{crm}/reports", {}, READ),
        ("CRM report page", "GET", f"{crm}/reports/{ids.report}", {}, READ),
        ("CRM export download", "GET", f"{crm}/exports/{ids.export}/download", {}, READ),
        ("CRM campaign list", "GET", f"{crm}/campaigns", {}, READ),
        ("CRM campaign page", "GET", f"{crm}/campaigns/1", {}, READ),
        ("CRM campaign form", "GET", f"{crm}/campaigns/new", {}, READ),
        (
            "answers POST",
            "POST",
            f"/attempts/{ids.working}/answers",
            {"answer-q-consent": "b"},
            CHANGE,
        ),
        ("submit POST", "POST", f"/attempts/{ids.working}/submit", {}, CHANGE),
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
    role, request, client, client_as, trainee, ids, sandbox_settings, db_session
):
    browser = _client(role, request, client, client_as, trainee)
    runs_before = _runs(sandbox_settings, db_session, ids.working)
    wrong = []
    for label, method, url, data, expected_by_role in _urls(ids):
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
