"""Every URL the app registers, for every role: signed-in only, and only for the right people.

The URLs come from the app's own URL map, so a new page is covered the day it is added: if its
blueprint has no rule below, the test fails and says so.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sandbox_crm.models import ContactPoint, ReportRun
from tests.platform_fixtures import SCENARIO_ID, UNIT_CODE
from training_platform import jobs
from training_platform.models import Attempt, CohortMember
from training_platform.sandboxes import get_store

# The language switcher works before signing in, as the sign-in page needs it.
PUBLIC = {
    "auth.login",
    "static",
    "crm.static",
    "health.healthz",
    "health.readyz",
    "i18n.choose_language",
    # Forgotten passwords and set-password links are for people who cannot sign in.
    "auth.forgot",
    "auth.reset",
    "auth.setup",
}
CENTRE_ADMIN_AREAS = ("users", "cohorts", "audit_log")
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


EMPTY_RECORD_PAGES = frozenset(
    {
        # Areas of the jewellery profile only: service cases, opportunities, invoices.
        "crm.case",
        "crm.case_action",
        "crm.case_rule_edit",
        "crm.case_rule_action",
        "crm.opportunity",
        "crm.opportunity_action",
        "crm.follow_up_done",
        "crm.invoice",
        "crm.invoice_action",
        # Data requests, roles, access requests and misuse flags exist only where a scenario
        # plants them.
        "crm.data_request",
        "crm.data_request_action",
        "crm.security_role",
        "crm.security_role_set",
        "crm.security_request",
        "crm.security_request_item",
        "crm.security_request_close",
        "crm.security_misuse_flag",
        "crm.security_misuse_review",
    }
)
"""Pages of one record that the attempt's retail sandbox holds none of."""


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
    if endpoint in EMPTY_RECORD_PAGES and (role == "owner" or role in SAME_CENTRE_STAFF):
        # Record 1 is not found in the attempt's retail sandbox. A change may be turned away
        # earlier, once the attempt is read-only.
        return ALLOWED if post else 404
    if area in ("attempts", "crm"):  # pages of one attempt: the owner's, read by their centre
        if role == "owner":
            return ALLOWED
        if role in SAME_CENTRE_STAFF:
            # The CRM refuses changes by redirecting with a read-only notice.
            return 403 if post and area == "attempts" else ALLOWED
        return 404
    if area == "appeals":  # a trainee appeals a decision on their own attempt
        if role == "owner":
            return ALLOWED
        return 403 if role not in TRAINEES else 404
    if area == "review":
        if role in TRAINEES:
            return 403
        if endpoint in ("review.queue", "review.moderation", "review.appeals"):
            return ALLOWED  # each centre's own lists
        if endpoint == "review.settings":
            return 403 if post and role != "centre_admin" else ALLOWED
        if endpoint in ("review.moderate", "review.settle_appeal"):
            # Assessors only; the ids below name no moderation or appeal of any centre.
            return 403 if role == "centre_admin" else 404
        if endpoint in ("review.regrade_version", "review.regrade_version_apply"):
            return ALLOWED  # a built-in version: each centre regrades its own attempts at it
        if role == "foreign_assessor":
            return 404
        if endpoint == "review.regrade":  # assessors and centre admins apply regrades
            return ALLOWED
        if endpoint == "review.allocate":  # centre admins and lead assessors allocate
            return ALLOWED if role == "centre_admin" else 403
        if role == "foreign_assessor":
            return 404
        return 403 if post and role == "centre_admin" else ALLOWED
    if area == "authoring" or area in CENTRE_ADMIN_AREAS:
        return ALLOWED if role == "centre_admin" else 403
    if area == "progress":
        if endpoint == "progress.mine":  # a trainee's own dashboard; staff are sent on
            return ALLOWED
        if endpoint in ("progress.trainee", "progress.record"):  # the owner's, read by staff
            if role == "owner" or role in SAME_CENTRE_STAFF:
                return ALLOWED
            return 404
        if role in TRAINEES:
            return 403
        if role == "foreign_assessor" and endpoint in (
            "progress.cohort",
            "progress.evidence_pdf",
            "progress.evidence_zip",
        ):
            return 404
        return ALLOWED
    if area == "retention":
        return ALLOWED if role == "centre_admin" else 403
    if area == "jobs":  # the centre's own jobs; another centre's job is not found
        if role in TRAINEES:
            return 403
        return 404 if post and role == "foreign_assessor" else ALLOWED
    raise AssertionError(f"no access rule for {endpoint}: add one to this test")


@pytest.fixture
def cohort_window(ids, trainee, db_session):
    """A cohort of the trainee's centre with a window its graded attempt was started in."""
    from datetime import timedelta

    from training_platform.models import AssessmentWindow, Cohort, WindowAttempt, utcnow

    cohort = Cohort(centre_id=trainee.centre_id, name="Spring")
    db_session.add(cohort)
    db_session.flush()
    window = AssessmentWindow(
        cohort_id=cohort.id,
        scenario_key=SCENARIO_ID,
        opens_at=utcnow() - timedelta(days=1),
        closes_at=utcnow() + timedelta(days=1),
    )
    db_session.add(window)
    db_session.flush()
    # An attempt counted in the window keeps it from being removed during the test.
    db_session.add(WindowAttempt(attempt_id=ids.graded, window_id=window.id))
    db_session.commit()
    return window


@pytest.fixture
def url_values(ids, practice_scenario, sandbox_settings, db_session, cohort_window, trainee):
    """A real value for every URL parameter the app uses."""
    db_session.add(CohortMember(cohort_id=cohort_window.cohort_id, user_id=trainee.id))
    db_session.commit()
    sandbox_key = db_session.get(Attempt, ids.graded).sandbox_key
    with get_store(sandbox_settings).session(sandbox_key, read_only=True) as sandbox:
        contact = sandbox.scalar(
            select(func.min(ContactPoint.id)).where(ContactPoint.customer_id == ids.customer)
        )
        run = sandbox.scalar(select(func.max(ReportRun.id)))
    job = jobs.queue_grading(db_session, db_session.get(Attempt, ids.graded))
    db_session.commit()
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
        "case_id": 1,
        "rule_id": 1,
        "staff_id": 1,
        "branch_id": 1,
        "role_id": 1,
        "request_item_id": 1,
        "flag_id": 1,
        "action": "screen",
        "user_id": trainee.id,
        "cohort_id": cohort_window.cohort_id,
        "window_id": cohort_window.id,
        "offering_id": 1,
        "trainee_id": db_session.get(Attempt, ids.graded).trainee_id,
        "moderation_id": 999_999,
        "appeal_id": 999_999,
        "job_id": job.id,
        "account_id": 1,
        "decision": "review",
        "issue_id": 1,
        "request_id": 1,
        "request_step": "respond",
        "step": "close",
        "rule_step": "enable",
        "form_id": 1,
        "form_step": "note",
        "tracking_kind": "session",
        "opportunity_id": 1,
        "task_id": 1,
        "order_id": 1,
        "invoice_id": 1,
        "invoice_step": "remind",
        "review_id": 1,
        "review_step": "respond",
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
