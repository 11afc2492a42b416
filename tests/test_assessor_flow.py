"""One path through the web client: a trainee does the report, an assessor decides on it."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.platform_fixtures import reference_answers
from training_platform.models import Attempt, AttemptStatus, Decision, Review

REPORT_FORM = {
    "name": "Gold members – email invitation",
    "description": "",
    "purpose": "Marketing email invitation for Gold members",
    "source": "customers",
    "columns": ["member_no", "name_en", "email", "tier"],
    "match": "all",
    "sort_field": "name_en",
    "sort_dir": "asc",
    "filters-0-field": "tier",
    "filters-0-op": "eq",
    "filters-0-value": "gold",
    "filters-1-field": "status",
    "filters-1-op": "eq",
    "filters-1-value": "active",
    "filters-2-field": "dm_email",
    "filters-2-op": "in",
    "filters-2-value": "given, no_objection",
}
WRITTEN_ANSWER = (
    "Most Platinum members on the list live in Sha Tin.\n"
    "Invite them to a private styling afternoon at the Sha Tin branch, by email only."
)


def test_a_trainee_submits_the_report_and_an_assessor_records_competent(
    client_as, trainee, assessor, practice_scenario, db_session
):
    # The trainee starts the scenario and does the work in the attempt's CRM.
    learner = client_as(trainee)
    attempt_url = learner.post(f"/scenarios/{practice_scenario.id}/start").headers["Location"]
    attempt = db_session.scalars(select(Attempt)).one()
    crm = f"/attempts/{attempt.id}/crm"
    saved = learner.post(f"{crm}/reports/new", data=REPORT_FORM)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    report_id = int(re.search(r"/reports/(\d+)$", saved.headers["Location"]).group(1))
    steps = [
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
    ]
    for url, data in steps:
        assert learner.post(url, data=data).status_code == 302, url

    # Answers (the written one in the trainee's own words), then hand in.
    answers = reference_answers(attempt)
    answers["w-proposal"] = WRITTEN_ANSWER
    form = {f"answer-{item_id}": value for item_id, value in answers.items()}
    assert learner.post(f"{attempt_url}/answers", data=form).status_code == 302
    submitted = learner.post(
        f"{attempt_url}/submit", data={"deliverable-report": str(report_id), "confirm": "yes"}
    )
    assert submitted.status_code == 302
    db_session.expire_all()
    assert db_session.get(Attempt, attempt.id).status == AttemptStatus.GRADED

    # The assessor finds it in the queue and reads the evidence.
    reviewer = client_as(assessor)
    # A practice attempt never waits for a decision; it is listed among all practice attempts.
    queue = reviewer.get("/review?state=all&mode=practice").get_data(as_text=True)
    evidence_url = f"/review/attempts/{attempt.id}"
    assert f'href="{evidence_url}"' in queue and trainee.display_name in queue
    evidence = reviewer.get(evidence_url).get_data(as_text=True)
    assert "Expected count" in evidence and "Found count" in evidence
    assert '<td class="mono">report.export</td>' in evidence
    assert "Most Platinum members on the list live in Sha Tin.\nInvite them" in evidence
    assert "Pending review" in evidence

    # Rubric scores, then the decision.
    scored = reviewer.post(
        f"{evidence_url}/rubric/w-proposal",
        data={
            "points-uses-data": "2",
            "points-activity": "2",
            "points-privacy": "1",
            "comment-uses-data": "Uses the district mix from the report.",
        },
    )
    assert scored.status_code == 302
    after_scoring = reviewer.get(evidence_url).get_data(as_text=True)
    assert "scored 5 of 5" in after_scoring
    decided = reviewer.post(
        f"{evidence_url}/decision",
        data={"decision": "competent", "comment": "A clean, consent-aware report. Well done."},
    )
    assert decided.status_code == 302
    db_session.expire_all()
    attempt = db_session.get(Attempt, attempt.id)
    assert attempt.status == AttemptStatus.DECIDED
    review = db_session.scalars(select(Review).where(Review.attempt_id == attempt.id)).one()
    assert review.decision == Decision.COMPETENT
    decided_queue = reviewer.get("/review?state=decided").get_data(as_text=True)
    assert f'href="{evidence_url}"' in decided_queue and 'badge-pass">Competent' in decided_queue
    assert f'href="{evidence_url}"' not in reviewer.get("/review").get_data(as_text=True)

    # The trainee reads the decision on the result page.
    result = learner.get(f"{attempt_url}/result").get_data(as_text=True)
    assert "Assessor's decision" in result
    assert "A clean, consent-aware report. Well done." in result
    assert "Competent" in result
