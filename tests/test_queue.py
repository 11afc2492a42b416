"""The review queue's filters, search and sorting, and allocating attempts to assessors."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from tests.platform_fixtures import copy_attempt, decide_on_the_web
from training_platform.models import (
    Allocation,
    AuditEntry,
    Cohort,
    CohortMember,
    Role,
)


def _listed(client, query: str) -> str:
    response = client.get(f"/review?{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def crowd(db_session, make_user, graded_assessment, graded_attempt):
    """Assessment and practice attempts of several trainees, one of them in a cohort."""
    people = {
        "amy": make_user(Role.TRAINEE, display_name="Amy Wong", email="amy@example.test"),
        "bob": make_user(Role.TRAINEE, display_name="Bob Lee", email="bobby@example.test"),
        "cat": make_user(Role.TRAINEE, display_name="Cat Ho", email="cat@example.test"),
    }
    copy_attempt(db_session, graded_assessment, people["amy"], submitted=datetime(2026, 3, 2, 10))
    copy_attempt(db_session, graded_assessment, people["bob"], submitted=datetime(2026, 3, 9, 10))
    copy_attempt(db_session, graded_attempt, people["cat"], submitted=datetime(2026, 3, 5, 10))
    cohort = Cohort(centre_id=people["amy"].centre_id, name="Spring class")
    db_session.add(cohort)
    db_session.flush()
    db_session.add(CohortMember(cohort_id=cohort.id, user_id=people["bob"].id))
    db_session.commit()
    return {**people, "cohort": cohort}


def test_practice_attempts_never_wait_but_can_be_listed(client_as, assessor, crowd):
    client = client_as(assessor)
    awaiting = _listed(client, "")
    assert "Amy Wong" in awaiting and "Bob Lee" in awaiting and "Cat Ho" not in awaiting
    practice = _listed(client, "state=all&mode=practice")
    assert "Cat Ho" in practice and "Amy Wong" not in practice
    assessments = _listed(client, "state=all&mode=assessment")
    assert "Cat Ho" not in assessments and "Amy Wong" in assessments


def test_the_queue_searches_and_filters_by_cohort_unit_scenario_and_date(
    client_as, assessor, crowd, graded_assessment
):
    client = client_as(assessor)
    by_email = _listed(client, "q=bobby")
    assert "Bob Lee" in by_email and "Amy Wong" not in by_email
    by_name = _listed(client, "q=amy+wong")
    assert "Amy Wong" in by_name and "Bob Lee" not in by_name
    cohort = _listed(client, f"cohort={crowd['cohort'].id}")
    assert "Bob Lee" in cohort and "Amy Wong" not in cohort
    scenario = graded_assessment.scenario_version.key
    assert "Amy Wong" in _listed(client, f"state=all&scenario={scenario}")
    assert "Cat Ho" not in _listed(client, f"state=all&scenario={scenario}")
    assert "Amy Wong" in _listed(client, "unit=999002L3")
    assert "Amy Wong" not in _listed(client, "unit=000000X0")
    march = _listed(client, "from=2026-03-01&to=2026-03-05")
    assert "Amy Wong" in march and "Bob Lee" not in march
    # Oldest first by default; newest first on request.
    oldest = _listed(client, "q=o")
    assert oldest.index("Amy Wong") < oldest.index("Bob Lee")
    newest = _listed(client, "q=o&dir=desc")
    assert newest.index("Bob Lee") < newest.index("Amy Wong")


def test_bad_filter_values_are_a_message_not_an_error(client_as, assessor, crowd):
    client = client_as(assessor)
    html = _listed(client, "from=not-a-date&cohort=99999999999999&allocated=x&mode=y&state=z")
    assert "The start date is not a date" in html
    assert "Amy Wong" in html
    reversed_range = _listed(client, "from=2026-04-01&to=2026-03-01")
    assert "The start date is after the end date" in reversed_range


def test_queue_status_filters_follow_amendments(client_as, assessor, graded_assessment):
    client = client_as(assessor)
    decide_on_the_web(client, graded_assessment, "competent", "Fine work.")
    link = f'href="/review/attempts/{graded_assessment.id}"'
    assert link in _listed(client, "state=decided")
    assert link not in _listed(client, "state=amended")
    client.post(
        f"/review/attempts/{graded_assessment.id}/amendments",
        data={
            "decision": "not_yet_competent",
            "comment": "Redo it.",
            "reason": "The export leaked data.",
            "version": "1",
        },
    )
    assert link in _listed(client, "state=amended")
    # The first decision in a unit is always in the moderation sample.
    assert link in _listed(client, "state=moderation")


def test_a_centre_admin_allocates_and_the_assessor_is_emailed(
    app, client_as, centre_admin, assessor, make_user, graded_assessment, db_session
):
    other = make_user(Role.ASSESSOR, display_name="Other Assessor")
    app.extensions.setdefault("practicum_outbox", []).clear()
    response = client_as(centre_admin).post(
        f"/review/attempts/{graded_assessment.id}/allocation", data={"assessor": str(assessor.id)}
    )
    assert response.status_code == 302
    allocation = db_session.scalars(select(Allocation)).one()
    assert allocation.assessor_id == assessor.id and allocation.allocated_by_id == centre_admin.id
    mail = app.extensions["practicum_outbox"][-1]
    assert mail["To"] == assessor.email and f"#{graded_assessment.id}" in mail["Subject"]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "review.allocated"))
    assert entry.one().details["assessor_id"] == assessor.id

    link = f'href="/review/attempts/{graded_assessment.id}"'
    assert link in _listed(client_as(assessor), "allocated=me")
    assert link not in _listed(client_as(other), "allocated=me")
    assert link not in _listed(client_as(other), "allocated=none")
    assert assessor.display_name in _listed(client_as(other), "")


def test_allocation_is_for_admins_and_leads_and_assessors_of_the_centre(
    client_as, centre_admin, assessor, make_user, foreign_assessor, graded_assessment, db_session
):
    url = f"/review/attempts/{graded_assessment.id}/allocation"
    refused = client_as(assessor).post(url, data={"assessor": str(assessor.id)})
    assert refused.status_code == 403
    outsider = client_as(centre_admin).post(url, data={"assessor": str(foreign_assessor.id)})
    assert outsider.status_code == 400
    assert "Choose an assessor of your centre" in outsider.get_data(as_text=True)
    assert client_as(foreign_assessor).post(url, data={"assessor": "1"}).status_code == 404
    assert db_session.scalars(select(Allocation)).first() is None

    lead = make_user(Role.ASSESSOR, display_name="Lead Assessor")
    client_as(centre_admin).post(
        "/review/settings",
        data={"moderation_percent": "10", "appeal_days": "14", "leads": [str(lead.id)]},
    )
    allowed = client_as(lead).post(url, data={"assessor": str(assessor.id)})
    assert allowed.status_code == 302


def test_practice_attempts_are_not_allocated(client_as, centre_admin, assessor, graded_attempt):
    page = client_as(centre_admin).get(f"/review/attempts/{graded_attempt.id}")
    assert "/allocation" not in page.get_data(as_text=True)
    response = client_as(centre_admin).post(
        f"/review/attempts/{graded_attempt.id}/allocation", data={"assessor": str(assessor.id)}
    )
    assert response.status_code == 400
    assert "Practice attempts are not allocated" in response.get_data(as_text=True)
