"""Every URL the app registers, for every role: signed-in only, and only for the right people.

The URLs come from the app's own URL map, so a new page is covered the day it is added: if its
blueprint has no rule below, the test fails and says so.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sandbox_crm.models import ContactPoint, ReportRun
from tests.platform_fixtures import SCENARIO_ID, UNIT_CODE
from training_platform.models import Attempt
from training_platform.sandboxes import get_store

# The language switcher works before signing in, as the sign-in page needs it.
PUBLIC = {
    "auth.login",
    "static",
    "crm.static",
    "health.healthz",
    "health.readyz",
    "i18n.choose_language",
}
TRAINEES = {"owner", "other_trainee", "foreign_trainee"}
SAME_CENTRE_STAFF = {"assessor", "centre_admin"}
ROLES = [
    "owner",
    "other_trainee",
    "assessor",
    "centre_admin",
    "foreign_trainee",
    "foreign_assessor",
]

ALLOWED = "allowed"
SIGNED_OUT = "signed out"


def expected(endpoint: str, method: str, role: str) -> str | int:
    """What a role should get from an endpoint: allowed, 403 or 404 (ids must not leak)."""
    area = endpoint.split(".")[0]
    post = method == "POST"
    if endpoint == "auth.logout":
        return SIGNED_OUT
    if endpoint == "auth.password":  # every user changes their own password
        return ALLOWED
    if area in ("home", "catalogue"):
        return ALLOWED
    if endpoint in ("attempts.index", "attempts.start"):
        return ALLOWED if role in TRAINEES else 403
    if area in ("attempts", "crm"):  # pages of one attempt: the owner's, read by their centre
        if role == "owner":
            return ALLOWED
        if role in SAME_CENTRE_STAFF:
            # The CRM refuses changes by redirecting with a read-only notice.
            return 403 if post and area == "attempts" else ALLOWED
        return 404
    if area == "review":
        if role in TRAINEES:
            return 403
        if endpoint == "review.queue":
            return ALLOWED
        if role == "foreign_assessor":
            return 404
        return 403 if post and role == "centre_admin" else ALLOWED
    if area == "authoring":
        return ALLOWED if role == "centre_admin" else 403
    raise AssertionError(f"no access rule for {endpoint}: add one to this test")


@pytest.fixture
def url_values(ids, practice_scenario, sandbox_settings, db_session):
    """A real value for every URL parameter the app uses."""
    sandbox_key = db_session.get(Attempt, ids.graded).sandbox_key
    with get_store(sandbox_settings).session(sandbox_key, read_only=True) as sandbox:
        contact = sandbox.scalar(
            select(func.min(ContactPoint.id)).where(ContactPoint.customer_id == ids.customer)
        )
        run = sandbox.scalar(select(func.max(ReportRun.id)))
    return {
        "attempt_id": ids.graded,
        "customer_id": ids.customer,
        "contact_id": contact,
        "report_id": ids.report,
        "run_id": run,
        "export_id": ids.export,
        "department_code": "marketing",
        "version_id": practice_scenario.id,
        "code": UNIT_CODE,
        "kind": "scenario",
        "key": SCENARIO_ID,
        "item_id": "w-proposal",
        "campaign_id": 1,
        "action": "screen",
    }


def protected_urls(app, values):
    """(endpoint, method, url) for every registered URL except the public ones."""
    urls = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
            if rule.endpoint in PUBLIC:
                continue
            url = rule.build({name: values[name] for name in rule.arguments})[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                urls.append((rule.endpoint, method, url))
    return urls


def test_every_url_sends_a_visitor_to_sign_in(app, client, url_values):
    urls = protected_urls(app, url_values)
    assert len(urls) > 40
    wrong = []
    for endpoint, method, url in urls:
        response = client.open(url, method=method)
        if endpoint == "auth.logout":
            continue  # signing out when not signed in just lands on the sign-in page
        if response.status_code != 302 or "/login" not in response.headers.get("Location", ""):
            wrong.append(f"{method} {url} ({endpoint}): {response.status_code}")
    assert not wrong, "reachable without signing in:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_the_access_rules_say(
    role, request, app, client_as, trainee, url_values
):
    user = trainee if role == "owner" else request.getfixturevalue(role)
    browser = client_as(user)
    wrong = []
    urls = protected_urls(app, url_values)
    # Read everything first, then try every change (a change may end the session or attempt).
    urls.sort(key=lambda u: (u[1] != "GET", u[0] == "auth.logout"))
    for endpoint, method, url in urls:
        want = expected(endpoint, method, role)
        response = browser.open(url, method=method)
        got = response.status_code
        location = response.headers.get("Location", "")
        if want == ALLOWED:
            ok = got not in (403, 404, 405) and got < 500 and "/login" not in location
        elif want == SIGNED_OUT:
            ok = got == 302 and location.startswith("/login")
        else:
            ok = got == want
        if not ok:
            wrong.append(f"{method} {url} ({endpoint}): expected {want}, got {got} {location}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


def test_the_regrade_preview_is_in_the_access_matrix(app, url_values):
    endpoints = {endpoint for endpoint, _method, _url in protected_urls(app, url_values)}
    assert "review.regrade_preview" in endpoints
    assert expected("review.regrade_preview", "GET", "assessor") == ALLOWED
    assert expected("review.regrade_preview", "GET", "foreign_assessor") == 404
    assert expected("review.regrade_preview", "GET", "owner") == 403
