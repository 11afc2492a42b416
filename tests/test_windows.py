"""Assessment windows: opened by the centre admin per cohort, enforced when a trainee starts an
assessment, shown in the catalogue, with per-trainee extensions and a time limit per attempt."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.platform_fixtures import SCENARIO_ID, UNIT_CODE, publish_as_assessment
from training_platform.models import (
    AssessmentWindow,
    Attempt,
    AttemptStatus,
    AuditEntry,
    Cohort,
    CohortMember,
    WindowAttempt,
    utcnow,
)

ASSESSMENT_ID = f"{SCENARIO_ID}-assessment"


def _hk(value: datetime) -> str:
    """A UTC time as the admin types it: Hong Kong time in a datetime-local field."""
    return (value + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def assessment(db_session, trainee, practice_scenario):
    """The test scenario published for the trainee's centre in assessment mode (3 attempts)."""
    return publish_as_assessment(db_session, practice_scenario, trainee.centre_id, max_attempts=3)


@pytest.fixture
def cohort(db_session, centre, trainee) -> Cohort:
    found = Cohort(centre_id=centre.id, name="Retail CRM 2026 Spring")
    db_session.add(found)
    db_session.flush()
    db_session.add(CohortMember(cohort_id=found.id, user_id=trainee.id))
    db_session.commit()
    return found


@pytest.fixture
def admin_client(client_as, centre_admin):
    return client_as(centre_admin)


@pytest.fixture
def open_window(admin_client, db_session, cohort, assessment):
    """Factory: the admin opens a window through the cohort page; returns it."""

    def make(opens=-1, closes=24, max_attempts="", time_limit=""):
        now = utcnow()
        response = admin_client.post(
            f"/centre/cohorts/{cohort.id}/windows",
            data={
                "scenario": ASSESSMENT_ID,
                "opens_at": _hk(now + timedelta(hours=opens)),
                "closes_at": _hk(now + timedelta(hours=closes)),
                "max_attempts": str(max_attempts),
                "time_limit_minutes": str(time_limit),
            },
        )
        assert response.status_code == 302
        db_session.expire_all()
        return db_session.scalars(
            select(AssessmentWindow).order_by(AssessmentWindow.id.desc())
        ).first()

    return make


def _start(client, version):
    return client.post(f"/scenarios/{version.id}/start", follow_redirects=True)


def _attempts(db_session) -> list[Attempt]:
    db_session.expire_all()
    return list(db_session.scalars(select(Attempt).order_by(Attempt.id)))


# --- opening windows ----------------------------------------------------------------------------


def test_admin_opens_a_window_in_hong_kong_time_stored_as_utc(
    admin_client, cohort, assessment, db_session
):
    response = admin_client.post(
        f"/centre/cohorts/{cohort.id}/windows",
        data={
            "scenario": ASSESSMENT_ID,
            "opens_at": "2026-12-01T09:00",
            "closes_at": "2026-12-05T18:00",
            "max_attempts": "2",
            "time_limit_minutes": "90",
        },
    )
    assert response.status_code == 302
    window = db_session.scalars(select(AssessmentWindow)).one()
    assert window.opens_at == datetime(2026, 12, 1, 1, 0)
    assert window.closes_at == datetime(2026, 12, 5, 10, 0)
    assert (window.max_attempts, window.time_limit_minutes) == (2, 90)
    page = admin_client.get(f"/centre/cohorts/{cohort.id}").get_data(as_text=True)
    assert "01 Dec 2026 09:00" in page  # shown in Hong Kong time again
    actions = db_session.scalars(select(AuditEntry.action)).all()
    assert actions == ["window.created"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"closes_at": "2026-11-30T09:00"}, "must close after it opens"),
        ({"opens_at": "next tuesday"}, "Enter a date and time such as"),
        ({"max_attempts": "0"}, "between 1 and 50 attempts"),
        ({"time_limit_minutes": "-5"}, "whole number"),
        ({"scenario": SCENARIO_ID}, "assessment-mode scenario"),
    ],
)
def test_a_window_with_bad_settings_is_refused(
    admin_client, cohort, assessment, db_session, change, message
):
    data = {
        "scenario": ASSESSMENT_ID,
        "opens_at": "2026-12-01T09:00",
        "closes_at": "2026-12-05T18:00",
        **change,
    }
    response = admin_client.post(
        f"/centre/cohorts/{cohort.id}/windows", data=data, follow_redirects=True
    )
    assert message in response.get_data(as_text=True)
    assert db_session.scalars(select(AssessmentWindow)).all() == []


# --- starting an assessment ---------------------------------------------------------------------


def test_an_assessment_without_windows_starts_as_before(client_as, trainee, assessment, db_session):
    response = _start(client_as(trainee), assessment)
    assert "Your attempt has started" in response.get_data(as_text=True)
    assert len(_attempts(db_session)) == 1
    assert db_session.scalars(select(WindowAttempt)).all() == []


def test_a_trainee_starts_in_an_open_window_and_the_catalogue_shows_it(
    client_as, trainee, open_window, assessment, db_session
):
    window = open_window(max_attempts=2)
    browser = client_as(trainee)
    catalogue = browser.get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    assert "Open until" in catalogue and "2 attempts left" in catalogue
    assert "Your attempt has started" in _start(browser, assessment).get_data(as_text=True)
    (attempt,) = _attempts(db_session)
    recorded = db_session.scalars(select(WindowAttempt)).one()
    assert (recorded.attempt_id, recorded.window_id) == (attempt.id, window.id)
    assert "1 attempt left" in browser.get(f"/units/{UNIT_CODE}").get_data(as_text=True)


def test_a_window_that_has_not_opened_refuses_a_start(
    client_as, trainee, open_window, assessment, db_session
):
    open_window(opens=48, closes=72)
    browser = client_as(trainee)
    assert "Opens" in browser.get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    page = _start(browser, assessment).get_data(as_text=True)
    assert "This assessment is not open yet. It opens on" in page
    assert _attempts(db_session) == []


def test_a_closed_window_refuses_a_start(client_as, trainee, open_window, assessment, db_session):
    open_window(opens=-48, closes=-24)
    page = _start(client_as(trainee), assessment).get_data(as_text=True)
    assert "The assessment window for this scenario has closed." in page
    assert _attempts(db_session) == []


def test_a_trainee_in_no_cohort_with_a_window_is_refused_once_windows_exist(
    client_as, other_trainee, open_window, assessment, db_session
):
    open_window()
    page = _start(client_as(other_trainee), assessment).get_data(as_text=True)
    assert "none of your cohorts has one" in page
    assert _attempts(db_session) == []


def test_an_archived_cohort_opens_no_window(
    client_as, trainee, cohort, open_window, assessment, db_session
):
    open_window()
    cohort.archived = True
    db_session.commit()
    page = _start(client_as(trainee), assessment).get_data(as_text=True)
    assert "none of your cohorts has one" in page


def test_the_window_limit_counts_attempts_and_an_extension_adds_some(
    admin_client, client_as, trainee, open_window, assessment, db_session
):
    window = open_window(max_attempts=1)
    browser = client_as(trainee)
    _start(browser, assessment)
    page = _start(browser, assessment).get_data(as_text=True)
    assert "You have used all the attempts allowed in this assessment window." in page
    assert len(_attempts(db_session)) == 1

    refused = admin_client.post(
        f"/centre/windows/{window.id}/extensions",
        data={"trainee": str(trainee.id), "extra_attempts": "1", "reason": ""},
        follow_redirects=True,
    )
    assert "Give the reason" in refused.get_data(as_text=True)
    admin_client.post(
        f"/centre/windows/{window.id}/extensions",
        data={"trainee": str(trainee.id), "extra_attempts": "1", "reason": "Fire drill"},
    )
    assert "Your attempt has started" in _start(browser, assessment).get_data(as_text=True)
    assert len(_attempts(db_session)) == 2
    page = admin_client.get(f"/centre/windows/{window.id}").get_data(as_text=True)
    assert "Fire drill" in page
    assert "window.extended" in db_session.scalars(select(AuditEntry.action)).all()


def test_an_extension_keeps_a_window_open_for_one_trainee(
    admin_client, client_as, trainee, other_trainee, cohort, open_window, assessment, db_session
):
    db_session.add(CohortMember(cohort_id=cohort.id, user_id=other_trainee.id))
    db_session.commit()
    window = open_window(opens=-48, closes=-1)
    later = _hk(utcnow() + timedelta(hours=5))
    admin_client.post(
        f"/centre/windows/{window.id}/extensions",
        data={"trainee": str(trainee.id), "closes_at": later, "reason": "Medical certificate"},
    )
    assert "Your attempt has started" in _start(client_as(trainee), assessment).get_data(
        as_text=True
    )
    page = _start(client_as(other_trainee), assessment).get_data(as_text=True)
    assert "has closed" in page
    assert len(_attempts(db_session)) == 1


def test_an_extension_for_someone_outside_the_cohort_is_refused(
    admin_client, other_trainee, open_window, db_session
):
    window = open_window()
    page = admin_client.post(
        f"/centre/windows/{window.id}/extensions",
        data={"trainee": str(other_trainee.id), "extra_attempts": "2", "reason": "Asked"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Choose a trainee of this cohort." in page
    assert window.extensions == []


# --- the time limit -----------------------------------------------------------------------------


def test_past_its_time_limit_an_attempt_takes_no_more_work_but_can_be_handed_in(
    client_as, trainee, open_window, assessment, db_session
):
    open_window(time_limit=30)
    browser = client_as(trainee)
    _start(browser, assessment)
    (attempt,) = _attempts(db_session)
    recorded = db_session.scalars(select(WindowAttempt)).one()
    assert recorded.due_at == attempt.started_at + timedelta(minutes=30)
    page = browser.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert "Time limit: submit by" in page

    recorded.due_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    page = browser.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert "The time limit of this attempt has run out" in page
    assert "Submit your attempt" in page
    response = browser.post(f"/attempts/{attempt.id}/answers", data={"answer-q-consent": "b"})
    assert response.status_code == 400
    assert "The time limit of this attempt has run out" in response.get_data(as_text=True)
    crm = browser.get(f"/attempts/{attempt.id}/crm/").get_data(as_text=True)
    assert "read-only" in crm.lower()
    db_session.expire_all()
    assert db_session.get(Attempt, attempt.id).answers == {}
    assert db_session.get(Attempt, attempt.id).status == AttemptStatus.IN_PROGRESS


# --- removing and closing ---------------------------------------------------------------------


def test_a_window_with_attempts_is_kept_and_an_unused_one_removed(
    admin_client, client_as, trainee, open_window, assessment, db_session
):
    used = open_window()
    _start(client_as(trainee), assessment)
    page = admin_client.post(f"/centre/windows/{used.id}/delete", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Attempts were started in this window" in page
    admin_client.post(f"/centre/windows/{used.id}/close")
    db_session.expire_all()
    assert db_session.get(AssessmentWindow, used.id).closes_at <= utcnow()

    unused_id = open_window(opens=24, closes=48).id
    assert admin_client.post(f"/centre/windows/{unused_id}/delete").status_code == 302
    db_session.expire_all()
    assert db_session.get(AssessmentWindow, unused_id) is None


def test_another_centres_window_is_not_found(
    client_as, make_user, foreign_centre, open_window, db_session
):
    from training_platform.models import Role

    window = open_window()
    browser = client_as(make_user(Role.CENTRE_ADMIN, centre=foreign_centre))
    assert browser.get(f"/centre/windows/{window.id}").status_code == 404
    assert browser.post(f"/centre/windows/{window.id}/delete").status_code == 404
    db_session.expire_all()
    assert db_session.get(AssessmentWindow, window.id) is not None
