"""Decisions kept in versions: amendments with a reason, optimistic locking, who may amend."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.platform_fixtures import RUBRIC_FULL_MARKS, decide_on_the_web
from training_platform import review_service
from training_platform.errors import CONFLICT, ServiceError
from training_platform.models import (
    AuditEntry,
    Decision,
    DecisionVersion,
    Review,
    Role,
)

REASON = "The export check was misread on first review."


def _outbox(app) -> list:
    return app.extensions.setdefault("practicum_outbox", [])


def _versions(db_session, attempt) -> list[DecisionVersion]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(DecisionVersion)
            .where(DecisionVersion.attempt_id == attempt.id)
            .order_by(DecisionVersion.version)
        )
    )


def _amend(client, attempt, decision, comment, reason, version):
    return client.post(
        f"/review/attempts/{attempt.id}/amendments",
        data={"decision": decision, "comment": comment, "reason": reason, "version": version},
    )


def test_a_second_assessor_deciding_on_a_stale_page_is_told_and_changes_nothing(
    app, client_as, assessor, make_user, graded_assessment, db_session
):
    first = client_as(assessor)
    second_assessor = make_user(Role.ASSESSOR, display_name="Second Reader")
    second = client_as(second_assessor)
    # Both open the undecided attempt: their forms are based on version 0.
    page = second.get(f"/review/attempts/{graded_assessment.id}").get_data(as_text=True)
    assert 'name="version" value="0"' in page
    assert decide_on_the_web(first, graded_assessment, "competent", "Good work.").status_code == 302

    late = decide_on_the_web(
        second, graded_assessment, "not_yet_competent", "The list misses consent checks."
    )
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "The decision changed while you were reviewing" in html
    assert "Good work." in html and assessor.display_name in html.split('id="decision"')[1]
    versions = _versions(db_session, graded_assessment)
    assert [(v.version, v.decision, v.decided_by_id) for v in versions] == [
        (1, Decision.COMPETENT, assessor.id)
    ]
    assert db_session.scalars(select(Review)).one().decision == Decision.COMPETENT


def test_an_amendment_on_a_stale_version_is_refused_with_the_current_decision(
    client_as, assessor, graded_assessment, db_session
):
    client = client_as(assessor)
    decide_on_the_web(client, graded_assessment, "competent", "Good work.")
    assert _amend(client, graded_assessment, "competent", "Better.", REASON, 1).status_code == 302
    stale = _amend(client, graded_assessment, "not_yet_competent", "No.", REASON, 1)
    assert stale.status_code == 409
    assert "The decision changed while you were reviewing" in stale.get_data(as_text=True)
    assert [v.comment for v in _versions(db_session, graded_assessment)] == [
        "Good work.",
        "Better.",
    ]


def test_an_amendment_keeps_every_version_and_tells_the_trainee(
    app, client_as, assessor, trainee, graded_assessment, db_session
):
    client = client_as(assessor)
    decide_on_the_web(client, graded_assessment, "competent", "Well done.")
    short = _amend(client, graded_assessment, "not_yet_competent", "Redo it.", "short", 1)
    assert short.status_code == 400
    assert "reason for the amendment" in short.get_data(as_text=True)
    same = _amend(client, graded_assessment, "competent", "Well done.", REASON, 1)
    assert same.status_code == 400 and "Change the decision or its comment" in same.get_data(
        as_text=True
    )
    assert len(_versions(db_session, graded_assessment)) == 1

    _outbox(app).clear()
    done = _amend(client, graded_assessment, "not_yet_competent", "Redo the export.", REASON, 1)
    assert done.status_code == 302
    versions = _versions(db_session, graded_assessment)
    assert [(v.version, v.decision, v.reason) for v in versions] == [
        (1, Decision.COMPETENT, ""),
        (2, Decision.NOT_YET_COMPETENT, REASON),
    ]
    review = db_session.scalars(select(Review)).one()
    assert review.decision == Decision.NOT_YET_COMPETENT and review.comment == "Redo the export."
    assert review.decided_at == versions[-1].decided_at

    history = client.get(f"/review/attempts/{graded_assessment.id}").get_data(as_text=True)
    table = history.split('id="decision-history"')[1]
    assert "Well done." in table and "Redo the export." in table and REASON in table

    result = client_as(trainee).get(f"/attempts/{graded_assessment.id}/result")
    html = result.get_data(as_text=True)
    assert 'id="decision-changed"' in html and REASON in html
    mail = _outbox(app)[-1]
    assert mail["To"] == trainee.email and "amended" in mail["Subject"]
    assert REASON in mail.get_content()
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [a for a in actions if a.startswith("review.")] == ["review.decided", "review.amended"]


def test_only_the_deciding_assessor_or_a_lead_may_amend(
    client_as, assessor, make_user, centre_admin, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    colleague = make_user(Role.ASSESSOR, display_name="Colleague")
    refused = _amend(client_as(colleague), graded_assessment, "not_yet_competent", "x", REASON, 1)
    assert refused.status_code == 403
    assert "lead assessor can amend" in refused.get_data(as_text=True)
    assert len(_versions(db_session, graded_assessment)) == 1

    made_lead = client_as(centre_admin).post(
        "/review/settings",
        data={"moderation_percent": "10", "appeal_days": "14", "leads": [str(colleague.id)]},
    )
    assert made_lead.status_code == 302
    allowed = _amend(client_as(colleague), graded_assessment, "not_yet_competent", "x", REASON, 1)
    assert allowed.status_code == 302
    assert _versions(db_session, graded_assessment)[-1].decided_by_id == colleague.id


def test_the_trainee_is_emailed_the_decision_in_their_language(
    app, client_as, assessor, trainee, graded_assessment, db_session
):
    trainee.language = "zh_Hant_HK"
    db_session.commit()
    _outbox(app).clear()
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    mail = _outbox(app)[-1]
    assert mail["To"] == trainee.email
    assert "Decision recorded" not in mail["Subject"]
    assert "決定" in mail["Subject"]


def test_a_writer_that_raced_past_the_version_check_still_cannot_add_the_same_version(
    app, client_as, assessor, graded_assessment, db_session, monkeypatch
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Well done.")
    db_session.expire_all()
    attempt = db_session.get(type(graded_assessment), graded_assessment.id)
    # As if it had read the version before the other decision was committed.
    monkeypatch.setattr(review_service, "current_version_number", lambda _s, _a: 0)
    with app.app_context(), pytest.raises(ServiceError) as refused:
        review_service.amend_decision(
            db_session, assessor, attempt, "not_yet_competent", "Redo.", REASON, based_on=0
        )
    db_session.rollback()
    assert refused.value.code == CONFLICT and refused.value.field == "version"
    assert len(_versions(db_session, graded_assessment)) == 1


def test_two_assessors_deciding_at_the_same_instant_get_one_decision_and_one_clear_refusal(
    app, client_as, assessor, make_user, graded_assessment, db_session
):
    """Two decision requests at once, each in its own thread and connection: never a 500."""
    import threading

    second_assessor = make_user(Role.ASSESSOR, display_name="Second Reader")
    browsers = [client_as(assessor), client_as(second_assessor)]
    base = f"/review/attempts/{graded_assessment.id}"
    for browser in browsers:  # both have scored the written answer and read version 0
        browser.post(f"{base}/rubric/w-proposal", data=RUBRIC_FULL_MARKS)
    at_once = threading.Barrier(2, timeout=30)
    answers: list = [None, None]

    def decide(index: int, decision: str) -> None:
        at_once.wait()
        answers[index] = browsers[index].post(
            f"{base}/decision",
            data={"decision": decision, "comment": f"Reader {index} decided.", "version": "0"},
        )

    threads = [
        threading.Thread(target=decide, args=(0, "competent")),
        threading.Thread(target=decide, args=(1, "competent")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [302, 409], codes
    refused = next(answer for answer in answers if answer.status_code == 409)
    assert "The decision changed while you were reviewing" in refused.get_data(as_text=True)
    assert [v.version for v in _versions(db_session, graded_assessment)] == [1]


def test_a_decision_while_the_database_stays_locked_is_refused_clearly_not_a_500(
    app, assessor, graded_assessment, db_session, monkeypatch, tmp_path
):
    """Another writer holds SQLite's write lock past the busy timeout: a 409, nothing saved."""
    import sqlite3

    from sqlalchemy.engine import make_url

    from tests.conftest import login
    from training_platform import create_app, db

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    impatient = create_app(dict(app.config))
    browser = login(impatient.test_client(), assessor)
    base = f"/review/attempts/{graded_assessment.id}"
    assert browser.post(f"{base}/rubric/w-proposal", data=RUBRIC_FULL_MARKS).status_code == 302
    other_writer = sqlite3.connect(make_url(app.config["DATABASE_URL"]).database, timeout=5)
    try:
        other_writer.execute("BEGIN IMMEDIATE")
        answer = browser.post(
            f"{base}/decision", data={"decision": "competent", "comment": "", "version": "0"}
        )
    finally:
        other_writer.rollback()
        other_writer.close()
        db.get_engine(impatient).dispose()
    assert answer.status_code == 409
    assert "being saved at the same moment" in answer.get_data(as_text=True)
    assert _versions(db_session, graded_assessment) == []
