"""The demo centre's path through the browser, end to end: a centre admin sets up a class and an
assessment window, a trainee takes the assessment, assessors decide, amend, moderate and settle
an appeal, and the admin takes out the gradebook and the trainee's record of achievement.

It runs on the small test unit and scenario (tests/fixtures/platform), so that it does not
change when the shipped content does; the last test is about the shipped assessment itself.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from pypdf import PdfReader
from sqlalchemy import select

from tests.platform_fixtures import SCENARIO_ID, UNIT_CODE, reference_answers
from tests.test_assessor_flow import REPORT_FORM
from training_platform import definitions_store
from training_platform.commands.demo import DEMO_ACCOUNTS, DEMO_COHORT, DEMO_PASSWORD
from training_platform.models import (
    Appeal,
    AppealStatus,
    AssessmentWindow,
    Attempt,
    AttemptStatus,
    Cohort,
    Decision,
    DefinitionKind,
    Moderation,
    ModerationStatus,
    Role,
    User,
    utcnow,
)

ASSESSMENT_ID = f"{SCENARIO_ID}-assessment"
SHIPPED_ASSESSMENT = "105077L3-integrated-assessment"
COHORT = "Retail CRM 2026 Winter"
PASSWORD = "harbour lanterns drift slowly"
TRAINEES = [(f"trainee{n:02d}@example.test", f"Trainee Number {n:02d}") for n in range(1, 11)]
DEMO_TRAINEE = next(email for role, email, _name in DEMO_ACCOUNTS if role == Role.TRAINEE)
RUBRIC = {"points-uses-data": "2", "points-activity": "2", "points-privacy": "1"}


def _hk(value) -> str:
    """A UTC time as the admin types it: Hong Kong time in a datetime-local field."""
    return (value + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")


def _ok(response, what: str) -> None:
    assert response.status_code == 302, (what, response.status_code, response.get_data(True))


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _sign_in_from_invitation(app, client, email: str):
    """Follow the set-password link the import e-mailed, then sign in."""
    outbox = app.extensions.setdefault("practicum_outbox", [])
    [message] = [m for m in outbox if m["To"] == email]
    link = re.search(r"https?://[^/\s]+(/\S+)", message.get_content()).group(1)
    _ok(client.post(link, data={"new": PASSWORD, "repeated": PASSWORD}), "set password")
    _ok(client.post("/login", data={"email": email, "password": PASSWORD}), "sign in")
    return client


def test_a_centre_runs_an_assessment_from_class_list_to_record(
    app,
    client,
    client_as,
    centre_admin,
    assessor,
    make_user,
    assessment_scenario,
    db_session,
):
    admin = client_as(centre_admin)

    # The admin creates a cohort and imports ten trainees into it from a CSV file.
    _ok(admin.post("/centre/cohorts", data={"name": COHORT}), "create cohort")
    cohort = db_session.scalars(select(Cohort).where(Cohort.name == COHORT)).one()
    lines = ["email,name,role,cohorts"] + [f"{e},{n},trainee,{COHORT}" for e, n in TRAINEES]
    imported = admin.post(
        "/centre/users/import",
        data={"file": (io.BytesIO("\n".join(lines).encode()), "winter.csv")},
        content_type="multipart/form-data",
    )
    _ok(imported, "import")
    db_session.expire_all()
    assert len(cohort.members) == 10

    # ... and opens a window for the assessment, closing in a week, one attempt each.
    now = utcnow()
    opened = admin.post(
        f"/centre/cohorts/{cohort.id}/windows",
        data={
            "scenario": ASSESSMENT_ID,
            "opens_at": _hk(now - timedelta(hours=1)),
            "closes_at": _hk(now + timedelta(days=7)),
            "max_attempts": "1",
            "time_limit_minutes": "",
        },
    )
    _ok(opened, "open window")
    assert db_session.scalars(select(AssessmentWindow)).one().cohort_id == cohort.id

    # A trainee signs in with the invitation, takes the assessment in the CRM and submits it.
    email, name = TRAINEES[3]
    learner = _sign_in_from_invitation(app, client, email)
    catalogue = learner.get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    shown = catalogue.split(f"/scenarios/{assessment_scenario.id}/start")[0].rsplit("<li", 1)[1]
    assert "Open until" in shown and "1 attempt left" in shown
    attempt_url = learner.post(f"/scenarios/{assessment_scenario.id}/start").headers["Location"]
    attempt = db_session.scalars(select(Attempt)).one()
    crm = f"/attempts/{attempt.id}/crm"
    saved = learner.post(f"{crm}/reports/new", data=REPORT_FORM)
    _ok(saved, "save report")
    report_id = int(re.search(r"/reports/(\d+)$", saved.headers["Location"]).group(1))
    for url, data in [
        (f"{crm}/reports/{report_id}/shares", {"department": "marketing", "can_export": "y"}),
        (f"{crm}/reports/{report_id}/runs", {}),
        (
            f"{crm}/reports/{report_id}/exports",
            {
                "purpose": "Email invitations for Gold members (Marketing)",
                "destination": "internal_shared_drive",
                "for_department": "marketing",
                "encrypted": "y",
            },
        ),
    ]:
        _ok(learner.post(url, data=data), url)
    answers = {f"answer-{k}": v for k, v in reference_answers(attempt).items()}
    _ok(learner.post(f"{attempt_url}/answers", data=answers), "answers")
    _ok(
        learner.post(
            f"{attempt_url}/submit", data={"deliverable-report": str(report_id), "confirm": "yes"}
        ),
        "submit",
    )
    db_session.expire_all()
    assert db_session.get(Attempt, attempt.id).status == AttemptStatus.GRADED
    # An assessment shows no results before the decision.
    waiting = learner.get(f"{attempt_url}/result").get_data(as_text=True)
    assert "Assessor's decision" not in waiting

    # The assessor filters the queue to this assessment and cohort, decides, then amends.
    first = client_as(assessor)
    queue = first.get(f"/review?scenario={ASSESSMENT_ID}&cohort={cohort.id}").get_data(True)
    evidence = f"/review/attempts/{attempt.id}"
    assert f'href="{evidence}"' in queue and name in queue
    other = first.get(f"/review?scenario={SCENARIO_ID}").get_data(as_text=True)
    assert f'href="{evidence}"' not in other
    _ok(first.post(f"{evidence}/rubric/w-proposal", data=RUBRIC), "rubric")
    _ok(
        first.post(
            f"{evidence}/decision",
            data={"decision": "competent", "comment": "Consent-aware list.", "version": "0"},
        ),
        "decide",
    )
    _ok(
        first.post(
            f"{evidence}/amendments",
            data={
                "decision": "competent",
                "comment": "Consent-aware list; the export was encrypted and had its purpose.",
                "reason": "Added what the export showed to the comment.",
                "version": "1",
            },
        ),
        "amend",
    )
    assert "the export was encrypted" in learner.get(f"{attempt_url}/result").get_data(True)

    # The decision is in the moderation sample; a second assessor agrees with it.
    moderation = db_session.scalars(select(Moderation)).one()
    second = client_as(make_user(Role.ASSESSOR, display_name="Second Reader"))
    listing = second.get("/review/moderation").get_data(as_text=True)
    assert f"/review/attempts/{attempt.id}#moderation-{moderation.id}" in listing
    _ok(
        second.post(f"/review/moderation/{moderation.id}", data={"outcome": "agreed"}),
        "moderate",
    )
    db_session.expire_all()
    assert db_session.get(Moderation, moderation.id).status == ModerationStatus.AGREED

    # The trainee appeals; a third assessor changes the decision to not yet competent.
    appealed = learner.post(
        f"{attempt_url}/appeal",
        data={"reason": "My comment on the list was not read in full."},
        follow_redirects=True,
    )
    assert "Your appeal has been lodged" in appealed.get_data(as_text=True)
    appeal = db_session.scalars(select(Appeal)).one()
    third = client_as(make_user(Role.ASSESSOR, display_name="Appeal Reviewer"))
    assert f"#appeal-{appeal.id}" in third.get("/review/appeals").get_data(as_text=True)
    settled = third.post(
        f"/review/appeals/{appeal.id}",
        data={
            "outcome": "changed",
            "comment": "The export went to Marketing without the members' districts checked.",
            "decision": "not_yet_competent",
            "version": "2",
        },
    )
    _ok(settled, "settle appeal")
    db_session.expire_all()
    appeal = db_session.get(Appeal, appeal.id)
    assert appeal.status == AppealStatus.CHANGED
    assert appeal.attempt.review.decision == Decision.NOT_YET_COMPETENT
    assert "Not yet competent" in learner.get(f"{attempt_url}/result").get_data(True)

    # The admin exports the cohort's gradebook as CSV and the trainee's record as a PDF.
    gradebook = admin.get(f"/progress/gradebook/export?cohort={cohort.id}&view=units&format=csv")
    assert gradebook.status_code == 200 and gradebook.mimetype == "text/csv"
    rows = _csv_rows(gradebook.data)
    assert rows[0][:3] == ["Trainee", "Email", "Unit code"]
    [row] = [r for r in rows[1:] if r[1] == email]
    assert row[0] == name and row[2] == UNIT_CODE and "Not yet competent" in row
    assert {r[1] for r in rows[1:]} <= {e for e, _n in TRAINEES}
    user = db_session.scalars(select(User).where(User.email == email)).one()
    record = admin.get(f"/progress/trainees/{user.id}/record.pdf")
    assert record.status_code == 200 and record.mimetype == "application/pdf"
    text = _pdf_text(record.data)
    assert "Record of achievement" in text and name in text
    assert UNIT_CODE in text and "Not yet competent" in text


def _demo_window(db_session, cohort) -> AssessmentWindow:
    db_session.expire_all()
    return db_session.scalars(
        select(AssessmentWindow).where(
            AssessmentWindow.cohort_id == cohort.id,
            AssessmentWindow.scenario_key == SHIPPED_ASSESSMENT,
        )
    ).one()


def test_the_demo_seed_opens_a_window_for_the_shipped_assessment(
    runner, client, shipped_definitions, db_session
):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Assessment window open for the next 90 days: Assessment: SMS list" in result.output
    cohort = db_session.scalars(select(Cohort).where(Cohort.name == DEMO_COHORT)).one()
    window = _demo_window(db_session, cohort)
    now = utcnow()
    assert window.opens_at <= now < window.closes_at
    assert window.closes_at - now > timedelta(days=89)
    # The demo trainee can start it from the unit's catalogue page.
    version = definitions_store.current_version(
        db_session, DefinitionKind.SCENARIO, SHIPPED_ASSESSMENT, None
    )
    signed_in = client.post("/login", data={"email": DEMO_TRAINEE, "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    unit_page = client.get("/units/105077L3").get_data(as_text=True)
    shown = unit_page.split(f"/scenarios/{version.id}/start")[0].rsplit("<li", 1)[1]
    assert "Open until" in shown and "2 attempts allowed" in shown
    # Running it again keeps the one window, still open.
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert _demo_window(db_session, cohort).id == window.id


def test_without_an_assessment_the_demo_seed_says_what_to_do(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "No assessment-mode scenario is published yet" in result.output
