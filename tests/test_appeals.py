"""Appeals against decisions, and each trainee's unit outcomes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.platform_fixtures import UNIT_CODE, decide_on_the_web
from training_platform import outcomes_service
from training_platform.models import (
    Appeal,
    AppealStatus,
    AuditEntry,
    Decision,
    DecisionSource,
    DecisionVersion,
    Role,
)

WHY = "I did check consent for every member on the list."
OUTCOME = "The evidence shows consent was checked; the decision stands."


def _appeal(client, attempt, reason=WHY):
    return client.post(
        f"/attempts/{attempt.id}/appeal", data={"reason": reason}, follow_redirects=True
    )


def _appeals(db_session) -> list[Appeal]:
    db_session.expire_all()
    return list(db_session.scalars(select(Appeal).order_by(Appeal.id)))


def _settle(client, appeal, outcome, comment=OUTCOME, decision="", version="1"):
    return client.post(
        f"/review/appeals/{appeal.id}",
        data={"outcome": outcome, "comment": comment, "decision": decision, "version": version},
    )


def test_a_trainee_appeals_once_and_another_assessor_upholds(
    app, client_as, trainee, assessor, make_user, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    own = client_as(trainee)
    result = own.get(f"/attempts/{graded_assessment.id}/result").get_data(as_text=True)
    assert f'action="/attempts/{graded_assessment.id}/appeal"' in result

    short = _appeal(own, graded_assessment, "unfair")
    assert "at least 10 characters" in short.get_data(as_text=True)
    assert _appeals(db_session) == []
    lodged = _appeal(own, graded_assessment)
    assert "Your appeal has been lodged" in lodged.get_data(as_text=True)
    again = _appeal(own, graded_assessment, "And another thing about it.")
    assert "Your appeal against this decision is open" in again.get_data(as_text=True)
    [appeal] = _appeals(db_session)
    assert appeal.status == AppealStatus.OPEN and appeal.reason == WHY
    assert "appeal.lodged" in db_session.scalars(select(AuditEntry.action)).all()

    # While it is open the unit outcome is not competent, and the decision is not amended.
    [outcome] = outcomes_service.unit_outcomes(db_session, trainee)
    assert outcome.appeal_pending and not outcome.competent
    blocked = client_as(assessor).post(
        f"/review/attempts/{graded_assessment.id}/amendments",
        data={"decision": "not_yet_competent", "comment": "x", "reason": WHY, "version": "1"},
    )
    assert blocked.status_code == 400 and "appealed" in blocked.get_data(as_text=True)

    own_decision = _settle(client_as(assessor), appeal, "upheld")
    assert own_decision.status_code == 403
    assert "another assessor" in own_decision.get_data(as_text=True)
    listing = client_as(assessor).get("/review/appeals").get_data(as_text=True)
    assert f"/review/attempts/{graded_assessment.id}#appeal-{appeal.id}" in listing

    app.extensions.setdefault("practicum_outbox", []).clear()
    reviewer = client_as(make_user(Role.ASSESSOR, display_name="Appeal Reviewer"))
    assert _settle(reviewer, appeal, "upheld", "no").status_code == 400
    assert _settle(reviewer, appeal, "upheld").status_code == 302
    [closed] = _appeals(db_session)
    assert closed.status == AppealStatus.UPHELD and closed.outcome_comment == OUTCOME
    mail = app.extensions["practicum_outbox"][-1]
    assert mail["To"] == trainee.email and OUTCOME in mail.get_content()
    assert "appeal.upheld" in db_session.scalars(select(AuditEntry.action)).all()
    result = own.get(f"/attempts/{graded_assessment.id}/result").get_data(as_text=True)
    assert "the decision was upheld" in result and OUTCOME in result
    assert f'action="/attempts/{graded_assessment.id}/appeal"' not in result
    [outcome] = outcomes_service.unit_outcomes(db_session, trainee)
    assert outcome.competent and outcome.attempt_id == graded_assessment.id


def test_an_appeal_that_changes_the_decision_is_an_amendment(
    app, client_as, trainee, assessor, make_user, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    _appeal(client_as(trainee), graded_assessment)
    [appeal] = _appeals(db_session)
    reviewer = client_as(make_user(Role.ASSESSOR))
    same = _settle(reviewer, appeal, "changed", decision="competent")
    assert same.status_code == 400 and "other decision" in same.get_data(as_text=True)
    stale = _settle(reviewer, appeal, "changed", decision="not_yet_competent", version="0")
    assert stale.status_code == 409
    changed = _settle(reviewer, appeal, "changed", decision="not_yet_competent")
    assert changed.status_code == 302
    db_session.expire_all()
    versions = db_session.scalars(select(DecisionVersion).order_by(DecisionVersion.version)).all()
    assert [(v.version, v.decision, v.source) for v in versions] == [
        (1, Decision.COMPETENT, DecisionSource.DECISION),
        (2, Decision.NOT_YET_COMPETENT, DecisionSource.APPEAL),
    ]
    assert versions[-1].reason == OUTCOME
    assert _appeals(db_session)[0].status == AppealStatus.CHANGED
    subjects = [m["Subject"] for m in app.extensions["practicum_outbox"]]
    assert any("amended" in s for s in subjects) and any("appeal" in s for s in subjects)
    [outcome] = outcomes_service.unit_outcomes(db_session, trainee)
    assert outcome.decision == Decision.NOT_YET_COMPETENT and not outcome.competent


def test_an_appeal_outside_the_period_is_refused(
    client_as, trainee, assessor, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    version = db_session.scalars(select(DecisionVersion)).one()
    db_session.execute(
        update(DecisionVersion)
        .where(DecisionVersion.id == version.id)
        .values(decided_at=version.decided_at - timedelta(days=15))
    )
    db_session.commit()
    refused = _appeal(client_as(trainee), graded_assessment)
    assert "The period for appealing this decision has ended" in refused.get_data(as_text=True)
    assert _appeals(db_session) == []


def test_practice_and_others_attempts_are_not_appealed(
    client_as, trainee, other_trainee, assessor, graded_attempt, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_attempt, "competent", "Well done.")
    practice = _appeal(client_as(trainee), graded_attempt)
    assert "Practice attempts are not appealed" in practice.get_data(as_text=True)
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    stranger = client_as(other_trainee).post(
        f"/attempts/{graded_assessment.id}/appeal", data={"reason": WHY}
    )
    assert stranger.status_code == 404
    assert (
        client_as(assessor)
        .post(f"/attempts/{graded_assessment.id}/appeal", data={"reason": WHY})
        .status_code
        == 403
    )
    assert _appeals(db_session) == []


def test_unit_outcomes_are_shown_to_the_trainee_and_to_assessors(
    client_as, trainee, assessor, foreign_assessor, graded_assessment, graded_attempt
):
    unit_page = client_as(trainee).get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    assert 'id="unit-outcome"' not in unit_page
    decide_on_the_web(client_as(assessor), graded_attempt, "competent", "Practice only.")
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    unit_page = client_as(trainee).get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    section = unit_page.split('id="unit-outcome"')[1].split("</section>")[0]
    assert "Competent" in section and f"/attempts/{graded_assessment.id}/result" in section
    person = client_as(assessor).get(f"/review/trainees/{trainee.id}")
    html = person.get_data(as_text=True)
    assert person.status_code == 200
    outcomes = html.split('id="unit-outcomes"')[1].split("</section>")[0]
    assert UNIT_CODE in outcomes and f"/review/attempts/{graded_assessment.id}" in outcomes
    assert f'/review/attempts/{graded_attempt.id}"' not in outcomes
    assert client_as(foreign_assessor).get(f"/review/trainees/{trainee.id}").status_code == 404
    assert client_as(assessor).get(f"/review/trainees/{assessor.id}").status_code == 404


def test_unit_outcomes_of_a_trainee_with_no_decision_is_empty(db_session, trainee):
    assert outcomes_service.unit_outcomes(db_session, trainee) == []
