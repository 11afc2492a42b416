"""A trainee's attempt through the web: brief, answers, submission, grading and the result page."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from graders import runner
from sandbox_crm.models import ReportDefinition, StaffUser
from sandbox_crm.reports.operations import create_report
from tests.platform_fixtures import (
    SCENARIO_ID,
    apply_reference_solution,
    publish_as_assessment,
    reference_answers,
)
from training_platform import attempts_service, definitions_store, jobs, results_service
from training_platform.db import new_session
from training_platform.definitions_store import publish
from training_platform.errors import ServiceError
from training_platform.models import (
    Attempt,
    AttemptStatus,
    DefinitionKind,
    GradeRecord,
    JobStatus,
)
from training_platform.sandboxes import get_store

EVIDENCE_KEYS = (
    "expected_count",
    "found_count",
    "missing_count",
    "unexpected_count",
    "missing_required",
    "forbidden_present",
    "report_id",
)


def _reload(db_session, attempt: Attempt) -> Attempt:
    db_session.expire_all()
    return db_session.get(Attempt, attempt.id)


def _grade_count(db_session, attempt: Attempt) -> int:
    return len(
        db_session.scalars(select(GradeRecord).where(GradeRecord.attempt_id == attempt.id)).all()
    )


def _answer_form(answers: dict) -> dict:
    return {f"answer-{item_id}": value for item_id, value in answers.items()}


@pytest.fixture
def assessment_version(db_session, trainee, practice_scenario):
    """Factory: the test scenario published for the trainee's centre in assessment mode."""

    def publish_assessment(max_attempts: int):
        return publish_as_assessment(
            db_session, practice_scenario, trainee.centre_id, max_attempts=max_attempts
        )

    return publish_assessment


# --- the attempt page -------------------------------------------------------------------------


def test_attempt_page_shows_the_brief_with_this_sandboxs_facts(
    client_as, trainee, started_attempt, sandbox_settings
):
    scenario = definitions_store.scenario_of(started_attempt)
    with get_store(sandbox_settings).session(started_attempt.sandbox_key, read_only=True) as s:
        facts = runner.compute_facts(s, scenario)
    html = client_as(trainee).get(f"/attempts/{started_attempt.id}").get_data(as_text=True)
    assert "{{" not in html
    assert f"The CRM currently holds {facts['gold_members']:,} active Gold members." in html
    assert facts["staff_name"] in html
    assert "Open the CRM" in html
    assert 'name="answer-q-consent"' in html and 'type="radio"' in html
    assert 'name="answer-q-fields"' in html and 'type="checkbox"' in html
    assert '<textarea class="input" id="answer-w-proposal"' in html
    assert "Submit attempt" in html
    assert "Create every deliverable in the CRM first." in html  # no report saved yet


def test_brief_markdown_cannot_inject_markup(
    client_as, trainee, db_session, published_definitions, sandbox_settings, practice_scenario
):
    source = practice_scenario.source_text.replace(
        "Grace from the **Marketing** department",
        'Grace <script>alert("x")</script> from [the **Marketing**](javascript:alert(1)) '
        "department",
    )
    result = publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=source,
        filename="injected.yaml",
        centre_id=trainee.centre_id,
        user_id=None,
    )
    assert result.ok, result.problems
    db_session.commit()
    client = client_as(trainee)
    response = client.post(f"/scenarios/{result.version.id}/start")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


# --- answers ----------------------------------------------------------------------------------


def test_saving_valid_answers_keeps_them(client_as, trainee, started_attempt, db_session):
    client = client_as(trainee)
    answers = {"q-consent": "b", "q-fields": ["a", "d"], "w-proposal": "Invite Sha Tin members."}
    response = client.post(f"/attempts/{started_attempt.id}/answers", data=_answer_form(answers))
    assert response.status_code == 302
    assert _reload(db_session, started_attempt).answers == answers
    html = client.get(f"/attempts/{started_attempt.id}").get_data(as_text=True)
    assert "Your answers are saved." in html
    assert 'value="b" checked' in html
    assert "Invite Sha Tin members.</textarea>" in html


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"q-consent": "z"}, "&#34;z&#34; is not one of the options of question 1."),
        ({"q-fields": ["a", "zz"]}, "&#39;zz&#39; is not one of the options of question 2."),
        ({"w-proposal": "x" * 5001}, "is 5,001 characters long; the limit is 5,000."),
    ],
)
def test_an_invalid_answer_saves_nothing(
    client_as, trainee, started_attempt, db_session, bad, message
):
    client = client_as(trainee)
    client.post(f"/attempts/{started_attempt.id}/answers", data=_answer_form({"q-purpose": "c"}))
    form = _answer_form({"q-purpose": "a", **bad})
    response = client.post(
        f"/attempts/{started_attempt.id}/answers", data=form, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your answers were not saved." in html
    assert message in html
    assert 'name="answer-q-purpose" value="a" checked' in html  # shown again as typed
    assert _reload(db_session, started_attempt).answers == {"q-purpose": "c"}


def test_answers_for_an_unknown_question_are_refused(started_attempt, db_session):
    with pytest.raises(ServiceError, match='no question "q-nope"'):
        attempts_service.save_answers(db_session, started_attempt, {"q-nope": "a"})


# --- submitting -------------------------------------------------------------------------------


def test_submitting_another_staff_members_report_is_refused(
    client_as, trainee, started_attempt, db_session, sandbox_settings
):
    store = get_store(sandbox_settings)
    with store.session(started_attempt.sandbox_key) as sandbox:
        someone_else = sandbox.scalars(
            select(StaffUser).where(StaffUser.is_trainee.is_(False), StaffUser.is_active)
        ).first()
        report = create_report(
            sandbox, someone_else, name="Not mine", source="customers", columns=["member_no"]
        )
        sandbox.commit()
        report_id = report.id

    client = client_as(trainee)
    refusals = {
        str(report_id): "not one of your own saved reports",
        "999999": "not one of your own saved reports",
        "not-a-number": "choose one from the list",
    }
    for value, reason in refusals.items():
        response = client.post(
            f"/attempts/{started_attempt.id}/submit",
            data={"deliverable-report": value, "confirm": "yes"},
            follow_redirects=True,
        )
        html = response.get_data(as_text=True)
        assert "Your attempt was not submitted." in html, value
        assert reason in html, value

    attempt = _reload(db_session, started_attempt)
    assert attempt.status == AttemptStatus.IN_PROGRESS
    assert attempt.deliverables == {}
    assert not store.is_frozen(attempt.sandbox_key)
    assert _grade_count(db_session, attempt) == 0


def test_submitting_another_trainees_report_id_is_refused(
    client_as,
    trainee,
    other_trainee,
    started_attempt,
    practice_scenario,
    db_session,
    sandbox_settings,
):
    with sandbox_settings.app_context():
        theirs = attempts_service.start_attempt(db_session, other_trainee, practice_scenario)
    db_session.commit()
    their_report = apply_reference_solution(sandbox_settings, theirs)["report"]
    with get_store(sandbox_settings).session(started_attempt.sandbox_key, read_only=True) as s:
        mine = s.scalars(select(ReportDefinition.id)).all()
    assert their_report not in mine

    response = client_as(trainee).post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(their_report), "confirm": "yes"},
        follow_redirects=True,
    )
    assert "not one of your own saved reports" in response.get_data(as_text=True)
    assert _reload(db_session, started_attempt).status == AttemptStatus.IN_PROGRESS


def test_submitting_needs_a_confirmation(client_as, trainee, started_attempt, sandbox_settings):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    response = client_as(trainee).post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(deliverables["report"])},
        follow_redirects=True,
    )
    assert "Tick the box to confirm" in response.get_data(as_text=True)


def test_a_reference_attempt_is_graded_and_the_result_explains_each_pr(
    client_as, trainee, started_attempt, db_session, sandbox_settings
):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    client = client_as(trainee)
    html = client.get(f"/attempts/{started_attempt.id}").get_data(as_text=True)
    assert f'<option value="{deliverables["report"]}">Gold members – email invitation' in html

    client.post(
        f"/attempts/{started_attempt.id}/answers",
        data=_answer_form(reference_answers(started_attempt)),
    )
    response = client.post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(deliverables["report"]), "confirm": "yes"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/attempts/{started_attempt.id}/result")

    attempt = _reload(db_session, started_attempt)
    assert attempt.status == AttemptStatus.GRADED
    assert attempt.deliverables == {"report": deliverables["report"]}
    assert get_store(sandbox_settings).is_frozen(attempt.sandbox_key)
    assert _grade_count(db_session, attempt) == 1

    html = client.get(f"/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "Pending assessor review" in html
    assert "not yet competent" not in html.lower()
    for pr in ("1.1", "1.2", "2.1", "2.2"):
        assert f'id="pr-{pr}"' in html
    assert "Demonstrated" in html and "Pending review" in html
    assert "The report returns exactly the members Marketing asked for." in html
    assert "Only Marketing can open the report, and it can export it." in html
    assert "Right. An opt-out must be respected at once." in html
    assert "Needs review</span> Your answer will be scored by an assessor." in html
    assert "No breaches" in html
    for key in EVIDENCE_KEYS:
        assert key not in html
    assert "A good answer picks a group" not in html  # the assessors' guidance
    assert "Try again" in html


def test_a_wrong_attempt_shows_failed_prs_and_pdpo_breaches_without_record_ids(
    client_as, trainee, started_attempt, db_session, sandbox_settings
):
    scenario = definitions_store.scenario_of(started_attempt)
    wrong = next(c for c in scenario.counterexamples if "identity card" in c.name)
    with get_store(sandbox_settings).session(started_attempt.sandbox_key) as sandbox:
        outcome = runner.apply_steps(sandbox, wrong.steps)
    client = client_as(trainee)
    client.post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(outcome.deliverables["report"]), "confirm": "yes"},
    )
    html = client.get(f"/attempts/{started_attempt.id}/result").get_data(as_text=True)
    assert "Not demonstrated" in html
    assert "The columns do not match what Marketing needs" in html
    assert "COL-07" in html
    assert "Legal basis:" in html
    assert "No valid HKID number is written into free text, a report run or an export" in html
    assert "A high-severity breach means the attempt cannot be judged competent without" in html
    grading = results_service.latest_grade(db_session, _reload(db_session, started_attempt))
    for finding in grading.findings():
        assert finding.message not in html
    for key in EVIDENCE_KEYS:
        assert key not in html


def test_a_submitted_attempt_cannot_be_changed(client_as, trainee, graded_attempt, db_session):
    client = client_as(trainee)
    response = client.post(
        f"/attempts/{graded_attempt.id}/answers",
        data=_answer_form({"q-consent": "a"}),
        follow_redirects=True,
    )
    assert "can no longer be changed" in response.get_data(as_text=True)
    assert _reload(db_session, graded_attempt).answers["q-consent"] == "c"
    response = client.post(
        f"/attempts/{graded_attempt.id}/submit",
        data={"deliverable-report": "1", "confirm": "yes"},
        follow_redirects=True,
    )
    # Submitting again answers as the first submit did: the result page, nothing changed.
    assert response.request.path == f"/attempts/{graded_attempt.id}/result"
    assert "Your attempt is submitted." in response.get_data(as_text=True)
    assert _reload(db_session, graded_attempt).deliverables == graded_attempt.deliverables
    assert _grade_count(db_session, graded_attempt) == 1
    html = client.get(f"/attempts/{graded_attempt.id}").get_data(as_text=True)
    assert "Submit attempt" not in html
    assert "Open the CRM (read-only)" in html


def test_try_again_starts_a_fresh_attempt(client_as, trainee, graded_attempt, db_session):
    client = client_as(trainee)
    response = client.post(f"/attempts/{graded_attempt.id}/retry")
    assert response.status_code == 302
    attempts = db_session.scalars(select(Attempt).order_by(Attempt.id)).all()
    assert len(attempts) == 2
    fresh = attempts[-1]
    assert response.headers["Location"].endswith(f"/attempts/{fresh.id}")
    assert fresh.status == AttemptStatus.IN_PROGRESS
    assert fresh.sandbox_key != graded_attempt.sandbox_key
    assert fresh.answers == {}

    listing = client.get("/attempts").get_data(as_text=True)
    assert f'href="/attempts/{fresh.id}"' in listing
    assert f'href="/attempts/{graded_attempt.id}/result"' in listing
    assert '/result"><span class="badge badge-info">Pending review</span>' in listing
    assert ">Continue</a>" in listing  # the fresh one


def test_assessment_mode_refuses_attempts_past_the_limit(
    client_as, trainee, db_session, assessment_version, sandbox_settings
):
    version = assessment_version(max_attempts=1)
    client = client_as(trainee)
    assert client.post(f"/scenarios/{version.id}/start").status_code == 302
    response = client.post(f"/scenarios/{version.id}/start", follow_redirects=True)
    assert "You have used all 1 attempts allowed for this assessment." in response.get_data(
        as_text=True
    )
    assert len(db_session.scalars(select(Attempt)).all()) == 1
    attempt = db_session.scalars(select(Attempt)).one()
    assert attempt.scenario_version.key != SCENARIO_ID


def test_an_assessment_result_shows_statuses_but_no_hints_until_the_decision(
    client_as, trainee, assessor, db_session, assessment_version, sandbox_settings
):
    from training_platform import review_service

    version = assessment_version(max_attempts=2)
    client = client_as(trainee)
    assert client.post(f"/scenarios/{version.id}/start").status_code == 302
    attempt = db_session.scalars(select(Attempt)).one()
    deliverables = apply_reference_solution(sandbox_settings, attempt)
    client.post(f"/attempts/{attempt.id}/answers", data=_answer_form(reference_answers(attempt)))
    client.post(
        f"/attempts/{attempt.id}/submit",
        data={"deliverable-report": str(deliverables["report"]), "confirm": "yes"},
    )
    hints = (
        "The report returns exactly the members Marketing asked for.",
        "Only Marketing can open the report, and it can export it.",
        "Right. An opt-out must be respected at once.",
    )

    html = client.get(f"/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "Pending assessor review" in html
    assert 'badge-pass">Demonstrated' in html and 'id="pr-2.1"' in html
    assert "feedback on each check and question once your assessor has decided" in html
    for hint in hints:
        assert hint not in html
    assert "Try again" not in html  # an assessment is started again from the catalogue
    evidence = client_as(assessor).get(f"/review/attempts/{attempt.id}").get_data(as_text=True)
    assert f"Trainee sees after the decision:</span> {hints[0]}" in evidence
    assert client.post(f"/attempts/{attempt.id}/retry").status_code == 302
    assert len(db_session.scalars(select(Attempt)).all()) == 1

    attempt = _reload(db_session, attempt)
    written = definitions_store.scenario_of(attempt).item("w-proposal")
    review_service.score_rubric(
        db_session, assessor, attempt, "w-proposal", {c.id: c.points for c in written.rubric}
    )
    review_service.record_decision(db_session, assessor, attempt, "competent", "")
    db_session.commit()
    decided = client.get(f"/attempts/{attempt.id}/result").get_data(as_text=True)
    assert '<p class="verdict-label">Competent</p>' in decided
    for hint in hints:
        assert hint in decided


# --- grading failures -------------------------------------------------------------------------


def test_a_grading_crash_leaves_the_attempt_submitted_and_its_job_retries_it(
    client_as, trainee, started_attempt, db_session, sandbox_settings, monkeypatch, caplog
):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)

    def broken_engine(**_kwargs):
        raise RuntimeError("grader bug")

    monkeypatch.setattr(runner, "grade_attempt", broken_engine)
    client = client_as(trainee)
    with caplog.at_level(logging.ERROR, logger="training_platform.attempts_service"):
        response = client.post(
            f"/attempts/{started_attempt.id}/submit",
            data={"deliverable-report": str(deliverables["report"]), "confirm": "yes"},
            follow_redirects=True,
        )
    html = response.get_data(as_text=True)
    assert "Grading has not finished" in html
    assert "Grading is queued." in html
    assert "An earlier try did not finish" in html
    assert '<meta http-equiv="refresh"' in html
    assert "grader bug" not in html
    assert any("grading attempt" in record.getMessage() for record in caplog.records)

    attempt = _reload(db_session, started_attempt)
    assert attempt.status == AttemptStatus.SUBMITTED
    assert attempt.deliverables == {"report": deliverables["report"]}
    assert _grade_count(db_session, attempt) == 0
    job = jobs.grading_job(db_session, attempt)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)
    assert job.last_error == "RuntimeError: grader bug"

    monkeypatch.undo()
    jobs.run_job(sandbox_settings, job.id)  # the retry, as a worker runs it after the delay
    attempt = _reload(db_session, attempt)
    assert attempt.status == AttemptStatus.GRADED
    assert _grade_count(db_session, attempt) == 1
    db_session.refresh(job)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    html = client.get(f"/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "Performance requirements" in html
    assert 'http-equiv="refresh"' not in html


def test_regrading_adds_a_record_and_gives_the_same_result(graded_attempt, db_session, app):
    first = results_service.latest_grade(db_session, graded_attempt)
    with app.app_context():
        attempts_service.grade_attempt_record(db_session, graded_attempt)
    db_session.commit()
    assert _grade_count(db_session, graded_attempt) == 2
    assert results_service.latest_grade(db_session, graded_attempt).to_dict() == first.to_dict()


def test_a_deleted_sandbox_keeps_the_attempt_and_result_readable(
    client_as, trainee, graded_attempt, sandbox_settings
):
    get_store(sandbox_settings).delete(graded_attempt.sandbox_key)
    client = client_as(trainee)
    page = client.get(f"/attempts/{graded_attempt.id}")
    assert page.status_code == 200
    assert "deleted under the centre's retention setting" in page.get_data(as_text=True)
    assert client.get(f"/attempts/{graded_attempt.id}/result").status_code == 200
    assert client.get(f"/attempts/{graded_attempt.id}/crm/").status_code == 404


def test_a_second_tab_cannot_submit_the_same_attempt_again(
    started_attempt, db_session, sandbox_settings
):
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    second_tab = new_session(sandbox_settings)
    try:
        stale = second_tab.get(Attempt, started_attempt.id)
        assert stale.status == AttemptStatus.IN_PROGRESS
        with sandbox_settings.app_context():
            attempts_service.submit_attempt(db_session, started_attempt, deliverables)
            db_session.commit()
            attempts_service.grade_attempt_record(db_session, started_attempt)
            db_session.commit()
            with pytest.raises(ServiceError, match="already been submitted"):
                attempts_service.submit_attempt(second_tab, stale, deliverables)
        second_tab.rollback()
    finally:
        second_tab.close()
    assert _grade_count(db_session, started_attempt) == 1


def test_the_assessors_decision_and_scores_reach_the_trainee(
    client_as, trainee, assessor, graded_attempt, db_session
):
    from training_platform import review_service

    scenario = definitions_store.scenario_of(graded_attempt)
    written = scenario.item("w-proposal")
    client = client_as(trainee)
    review_service.score_rubric(
        db_session, assessor, graded_attempt, "w-proposal", {c.id: c.points for c in written.rubric}
    )
    db_session.commit()
    draft = client.get(f"/attempts/{graded_attempt.id}/result").get_data(as_text=True)
    assert "Pending assessor review" in draft  # scores are a draft until the decision

    review_service.record_decision(
        db_session, assessor, graded_attempt, "competent", "Clear, well-targeted <b>work</b>."
    )
    db_session.commit()
    html = client.get(f"/attempts/{graded_attempt.id}/result").get_data(as_text=True)
    assert "Assessor's decision" in html
    assert '<p class="verdict-label">Competent</p>' in html
    assert "Clear, well-targeted &lt;b&gt;work&lt;/b&gt;." in html
    assert "Pending review" not in html
    listing = client.get("/attempts").get_data(as_text=True)
    assert "Competent" in listing
