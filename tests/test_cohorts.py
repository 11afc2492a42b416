"""Cohort pages of the centre admin: create, rename, archive, members, units and scenarios."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.platform_fixtures import SCENARIO_ID, UNIT_CODE
from training_platform.models import AuditEntry, Cohort, CohortMember, CohortOffering


@pytest.fixture
def admin_client(client_as, centre_admin):
    return client_as(centre_admin)


@pytest.fixture
def cohort(db_session, centre) -> Cohort:
    found = Cohort(centre_id=centre.id, name="Retail CRM 2026 Spring")
    db_session.add(found)
    db_session.commit()
    return found


def _reload(db_session, cohort_id: int) -> Cohort:
    db_session.expire_all()
    return db_session.get(Cohort, cohort_id)


def _member_ids(db_session, cohort_id: int) -> set[int]:
    db_session.expire_all()
    return set(
        db_session.scalars(select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id))
    )


def test_admin_creates_a_cohort_and_finds_it_listed(admin_client, db_session):
    response = admin_client.post("/centre/cohorts", data={"name": "  Jewellery   evening "})
    assert response.status_code == 302
    cohort = db_session.scalars(select(Cohort)).one()
    assert cohort.name == "Jewellery evening"
    assert response.headers["Location"].endswith(f"/centre/cohorts/{cohort.id}")
    assert "Jewellery evening" in admin_client.get("/centre/cohorts").get_data(as_text=True)
    action = db_session.scalars(select(AuditEntry.action)).one()
    assert action == "cohort.created"


@pytest.mark.parametrize("name", ["", "retail crm 2026 SPRING", "x" * 201])
def test_a_cohort_needs_a_new_name(admin_client, cohort, db_session, name):
    page = admin_client.post(
        "/centre/cohorts", data={"name": name}, follow_redirects=True
    ).get_data(as_text=True)
    assert "name" in page
    assert len(db_session.scalars(select(Cohort)).all()) == 1


def test_rename_and_archive_then_restore(admin_client, cohort, trainee, db_session):
    base = f"/centre/cohorts/{cohort.id}"
    admin_client.post(f"{base}/rename", data={"name": "Retail CRM 2026 Autumn"})
    assert _reload(db_session, cohort.id).name == "Retail CRM 2026 Autumn"
    admin_client.post(f"{base}/archive")
    assert _reload(db_session, cohort.id).archived
    # An archived cohort takes no changes.
    page = admin_client.post(
        f"{base}/members", data={"user": str(trainee.id)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "archived" in page
    assert _member_ids(db_session, cohort.id) == set()
    admin_client.post(f"{base}/archive", data={"restore": "1"})
    assert not _reload(db_session, cohort.id).archived
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["cohort.renamed", "cohort.archived", "cohort.restored"]


def test_members_are_added_and_removed(admin_client, cohort, trainee, assessor, db_session):
    base = f"/centre/cohorts/{cohort.id}"
    page = admin_client.get(base).get_data(as_text=True)
    assert trainee.display_name in page and assessor.display_name in page
    response = admin_client.post(
        f"{base}/members", data={"user": [str(trainee.id), str(assessor.id)]}
    )
    assert response.status_code == 302
    assert _member_ids(db_session, cohort.id) == {trainee.id, assessor.id}
    admin_client.post(f"{base}/members/{trainee.id}/remove")
    assert _member_ids(db_session, cohort.id) == {assessor.id}


def test_admins_and_people_of_other_centres_cannot_be_members(
    admin_client, cohort, centre_admin, foreign_trainee, db_session
):
    base = f"/centre/cohorts/{cohort.id}"
    for user in (centre_admin, foreign_trainee):
        page = admin_client.post(
            f"{base}/members", data={"user": str(user.id)}, follow_redirects=True
        ).get_data(as_text=True)
        assert "Choose a trainee or assessor of your centre." in page
    assert _member_ids(db_session, cohort.id) == set()


def test_a_cohort_takes_units_and_scenarios_of_the_catalogue(
    admin_client, cohort, published_definitions, db_session
):
    base = f"/centre/cohorts/{cohort.id}"
    admin_client.post(f"{base}/offerings", data={"item": f"unit:{UNIT_CODE}"})
    admin_client.post(f"{base}/offerings", data={"item": f"scenario:{SCENARIO_ID}"})
    page = admin_client.post(
        f"{base}/offerings", data={"item": "unit:000000L9"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "catalogue" in page
    offerings = db_session.scalars(select(CohortOffering)).all()
    assert sorted((o.kind.value, o.key) for o in offerings) == [
        ("scenario", SCENARIO_ID),
        ("unit", UNIT_CODE),
    ]
    unit = next(o for o in offerings if o.kind.value == "unit")
    admin_client.post(f"{base}/offerings/{unit.id}/remove")
    db_session.expire_all()
    assert [o.key for o in db_session.scalars(select(CohortOffering))] == [SCENARIO_ID]


def test_another_centres_cohort_is_not_found(client_as, make_user, foreign_centre, cohort):
    from training_platform.models import Role

    foreign_admin = make_user(Role.CENTRE_ADMIN, centre=foreign_centre)
    browser = client_as(foreign_admin)
    assert browser.get(f"/centre/cohorts/{cohort.id}").status_code == 404
    assert browser.post(f"/centre/cohorts/{cohort.id}/archive").status_code == 404
    assert browser.get("/centre/cohorts/99999").status_code == 404


def test_only_centre_admins_manage_cohorts(client_as, trainee, assessor, cohort):
    for user in (trainee, assessor):
        browser = client_as(user)
        assert browser.get("/centre/cohorts").status_code == 403
        assert browser.post("/centre/cohorts", data={"name": "Mine"}).status_code == 403


def test_the_demo_seed_puts_the_demo_trainee_and_assessor_in_a_demo_cohort(runner, db_session):
    for _ in range(2):  # safe to run again
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    assert "Demo cohort" in result.output
    cohort = db_session.scalars(select(Cohort)).one()
    emails = sorted(m.user.email for m in cohort.members)
    assert emails == [
        "assessor@demo.practicum.hk",
        "moderator@demo.practicum.hk",
        "trainee@demo.practicum.hk",
    ]
