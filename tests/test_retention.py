"""Retention per centre: the settings page, and `practicum purge` applying each centre's policy
(sandboxes and evidence go, grading records and decisions stay; each purge is audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from training_platform import sandboxes
from training_platform.models import (
    Attempt,
    AttemptStatus,
    AuditEntry,
    Decision,
    GradeRecord,
    RetentionPolicy,
    Review,
    utcnow,
)


def _policy(db_session, centre_id):
    db_session.expire_all()
    return db_session.scalars(
        select(RetentionPolicy).where(RetentionPolicy.centre_id == centre_id)
    ).first()


def test_the_centre_admin_sets_the_retention_policy(client_as, centre_admin, db_session):
    browser = client_as(centre_admin)
    page = browser.get("/settings/retention")
    assert page.status_code == 200
    assert "Days to keep sandboxes after the decision" in page.get_data(as_text=True)
    saved = browser.post("/settings/retention", data={"sandbox_days": "30", "evidence_days": "365"})
    assert saved.status_code == 302
    policy = _policy(db_session, centre_admin.centre_id)
    assert (policy.sandbox_days, policy.evidence_days) == (30, 365)
    assert policy.updated_by_id == centre_admin.id
    [entry] = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "retention.policy_changed")
    ).all()
    assert entry.actor_id == centre_admin.id
    assert entry.details["to"] == {"sandbox_days": 30, "evidence_days": 365}
    shown = browser.get("/settings/retention").get_data(as_text=True)
    assert 'value="30"' in shown and 'value="365"' in shown
    # Blank keeps them.
    browser.post("/settings/retention", data={"sandbox_days": "", "evidence_days": "365"})
    assert _policy(db_session, centre_admin.centre_id).sandbox_days is None


@pytest.mark.parametrize(
    ("sandbox_days", "evidence_days", "message"),
    [
        ("thirty", "365", "Days to keep sandboxes must be a whole number"),
        ("30", "0", "Days to keep evidence must be a whole number from 1 to 3650"),
        ("30", "99999", "Days to keep evidence must be a whole number from 1 to 3650"),
    ],
)
def test_a_bad_policy_is_refused_and_changes_nothing(
    client_as, centre_admin, db_session, sandbox_days, evidence_days, message
):
    response = client_as(centre_admin).post(
        "/settings/retention", data={"sandbox_days": sandbox_days, "evidence_days": evidence_days}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _policy(db_session, centre_admin.centre_id) is None


def test_only_centre_admins_reach_the_retention_settings(client_as, assessor, trainee):
    for user in (assessor, trainee):
        browser = client_as(user)
        assert browser.get("/settings/retention").status_code == 403
        assert browser.post("/settings/retention", data={"sandbox_days": "1"}).status_code == 403


@pytest.fixture
def decided_long_ago(sandbox_settings, db_session, graded_attempt, assessor, tmp_path):
    """The graded attempt, decided competent 40 days ago; purges use a template cache of their
    own so that they cannot delete the templates other tests share."""
    db_session.add(
        Review(
            attempt_id=graded_attempt.id,
            assessor_id=assessor.id,
            decision=Decision.COMPETENT,
            comment="",
            decided_at=utcnow() - timedelta(days=40),
        )
    )
    graded_attempt.status = AttemptStatus.DECIDED
    db_session.commit()
    sandbox_settings.config["TEMPLATE_CACHE_DIR"] = str(tmp_path / "own_templates")
    sandbox_settings.extensions.pop(sandboxes.EXTENSION_KEY, None)
    return graded_attempt


def _set_policy(db_session, centre_id, **days):
    policy = _policy(db_session, centre_id) or RetentionPolicy(centre_id=centre_id)
    policy.sandbox_days = days.get("sandbox_days")
    policy.evidence_days = days.get("evidence_days")
    db_session.add(policy)
    db_session.commit()


def test_purge_deletes_sandboxes_past_the_centres_policy_and_keeps_the_grading_record(
    runner, sandbox_settings, db_session, decided_long_ago, centre, foreign_centre
):
    store = sandboxes.get_store(sandbox_settings)
    key = decided_long_ago.sandbox_key
    _set_policy(db_session, foreign_centre.id, sandbox_days=1)  # another centre's: not ours
    _set_policy(db_session, centre.id, sandbox_days=60)
    kept = runner.invoke(args=["purge"])
    assert kept.exit_code == 0, kept.output
    assert "centre policies: 0 sandbox(es)" in kept.output
    assert store.exists(key)

    _set_policy(db_session, centre.id, sandbox_days=30)
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would delete sandbox {key} (centre {centre.slug} policy)" in dry.output
    assert store.exists(key)
    assert not db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "retention.purged")
    ).all()

    done = runner.invoke(args=["purge"])
    assert done.exit_code == 0, done.output
    assert f"deleted sandbox {key} (centre {centre.slug} policy)" in done.output
    assert not store.exists(key)
    db_session.expire_all()
    attempt = db_session.get(Attempt, decided_long_ago.id)
    assert attempt.review.decision == Decision.COMPETENT
    assert db_session.scalars(select(GradeRecord).where(GradeRecord.attempt_id == attempt.id)).all()
    assert attempt.answers  # evidence is kept until its own limit
    [entry] = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "retention.purged")
    ).all()
    assert entry.centre_id == centre.id and entry.actor_id is None
    assert entry.details["sandboxes"] == 1 and entry.details["sandbox_keys"] == [key]
    again = runner.invoke(args=["purge"])
    assert "centre policies: 0 sandbox(es)" in again.output


def test_purge_removes_evidence_past_the_centres_policy(
    runner, client_as, centre_admin, sandbox_settings, db_session, decided_long_ago, centre
):
    store = sandboxes.get_store(sandbox_settings)
    _set_policy(db_session, centre.id, evidence_days=30)
    preview = client_as(centre_admin).get("/settings/retention").get_data(as_text=True)
    assert "delete 1 sandbox(es) and remove the evidence of 1 attempt(s)" in preview
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert f"removed the evidence of attempt #{decided_long_ago.id}" in result.output
    db_session.expire_all()
    attempt = db_session.get(Attempt, decided_long_ago.id)
    assert attempt.answers == {} and attempt.deliverables == {}
    assert not store.exists(attempt.sandbox_key)
    assert attempt.review.decision == Decision.COMPETENT and attempt.grades
    # The evidence page still opens, without the sandbox.
    assessor_page = client_as(attempt.review.assessor).get(f"/review/attempts/{attempt.id}")
    assert assessor_page.status_code == 200
    evidence = client_as(attempt.review.assessor).get(
        f"/progress/attempts/{attempt.id}/evidence.pdf"
    )
    assert evidence.status_code == 200


def test_undecided_attempts_are_never_purged_by_a_centre_policy(
    runner, sandbox_settings, db_session, graded_attempt, centre, tmp_path
):
    sandbox_settings.config["TEMPLATE_CACHE_DIR"] = str(tmp_path / "own_templates")
    sandbox_settings.extensions.pop(sandboxes.EXTENSION_KEY, None)
    _set_policy(db_session, centre.id, sandbox_days=1, evidence_days=1)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "centre policies: 0 sandbox(es) and the evidence of 0 attempt(s)" in result.output
    assert sandboxes.get_store(sandbox_settings).exists(graded_attempt.sandbox_key)
