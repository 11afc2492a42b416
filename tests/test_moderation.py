"""Internal verification: which decisions are sampled, who moderates, disagreements, rates."""

from __future__ import annotations

from sqlalchemy import select

from tests.platform_fixtures import decide_on_the_web
from training_platform.models import AuditEntry, Moderation, ModerationStatus, Role
from training_platform.moderation_service import in_sample

WHY = "The export still carries identity card numbers."


def _moderation(db_session) -> Moderation:
    db_session.expire_all()
    return db_session.scalars(select(Moderation)).one()


def _settings(client, percent: int) -> None:
    response = client.post(
        "/review/settings", data={"moderation_percent": str(percent), "appeal_days": "14"}
    )
    assert response.status_code == 302


def test_the_sample_is_deterministic_per_assessor_and_unit():
    assert [n for n in range(1, 31) if in_sample(n, 10)] == [1, 11, 21]
    assert [n for n in range(1, 6) if in_sample(n, 50)] == [1, 3, 5]
    assert not any(in_sample(n, 0) for n in range(1, 50))
    assert all(in_sample(n, 100) for n in range(1, 50))


def test_a_first_decision_is_sampled_and_moderated_by_another_assessor(
    client_as, assessor, make_user, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Fine work.")
    moderation = _moderation(db_session)
    assert moderation.status == ModerationStatus.PENDING and moderation.basis == "sample"
    url = f"/review/moderation/{moderation.id}"

    own = client_as(assessor)
    assert url not in own.get(f"/review/attempts/{graded_assessment.id}").get_data(as_text=True)
    refused = own.post(url, data={"outcome": "agreed"})
    assert refused.status_code == 403
    assert "another assessor" in refused.get_data(as_text=True)
    assert _moderation(db_session).status == ModerationStatus.PENDING

    second = client_as(make_user(Role.ASSESSOR, display_name="Second Reader"))
    listing = second.get("/review/moderation").get_data(as_text=True)
    assert f"/review/attempts/{graded_assessment.id}#moderation-{moderation.id}" in listing
    assert second.post(url, data={"outcome": "agreed", "comment": ""}).status_code == 302
    assert _moderation(db_session).status == ModerationStatus.AGREED
    again = second.post(url, data={"outcome": "disagreed", "comment": WHY})
    assert again.status_code == 400 and "already been moderated" in again.get_data(as_text=True)
    actions = db_session.scalars(select(AuditEntry.action)).all()
    assert "moderation.agreed" in actions

    report = second.get("/review/moderation").get_data(as_text=True)
    rates = report.split("agreement-assessor")[1].split("</table>")[0]
    assert assessor.display_name in rates and "100%" in rates
    assert "999002L3" in report.split("agreement-by-unit")[1]


def test_a_disagreement_needs_a_reason_goes_back_and_an_amendment_resolves_it(
    app, client_as, assessor, make_user, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Fine work.")
    moderation = _moderation(db_session)
    second = client_as(make_user(Role.ASSESSOR, display_name="Second Reader"))
    url = f"/review/moderation/{moderation.id}"
    bare = second.post(url, data={"outcome": "disagreed", "comment": "no"})
    assert bare.status_code == 400 and "reason for disagreeing" in bare.get_data(as_text=True)
    app.extensions.setdefault("practicum_outbox", []).clear()
    done = second.post(
        url, data={"outcome": "disagreed", "comment": WHY, "referred_to": "assessor"}
    )
    assert done.status_code == 302
    found = _moderation(db_session)
    assert found.status == ModerationStatus.DISAGREED and found.referred_to == "assessor"
    mail = app.extensions["practicum_outbox"][-1]
    assert mail["To"] == assessor.email and WHY in mail.get_content()
    assert "moderation.disagreed" in db_session.scalars(select(AuditEntry.action)).all()

    # The first assessor amends; the disagreement is resolved.
    client_as(assessor).post(
        f"/review/attempts/{graded_assessment.id}/amendments",
        data={
            "decision": "not_yet_competent",
            "comment": "Redo the export.",
            "reason": "Agreed with the moderator.",
            "version": "1",
        },
    )
    assert _moderation(db_session).resolved_at is not None
    report = second.get("/review/moderation").get_data(as_text=True)
    assert "0%" in report.split("agreement-assessor")[1].split("</table>")[0]


def test_a_disagreement_can_go_to_the_leads(
    app, client_as, centre_admin, assessor, make_user, graded_assessment, db_session
):
    lead = make_user(Role.ASSESSOR, display_name="Lead Assessor")
    client_as(centre_admin).post(
        "/review/settings",
        data={"moderation_percent": "10", "appeal_days": "14", "leads": [str(lead.id)]},
    )
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Fine work.")
    second = client_as(make_user(Role.ASSESSOR))
    app.extensions.setdefault("practicum_outbox", []).clear()
    second.post(
        f"/review/moderation/{_moderation(db_session).id}",
        data={"outcome": "disagreed", "comment": WHY, "referred_to": "lead"},
    )
    assert [m["To"] for m in app.extensions["practicum_outbox"]] == [lead.email]


def test_at_zero_percent_only_borderline_decisions_are_sampled(
    client_as, centre_admin, assessor, graded_assessment, db_session
):
    _settings(client_as(centre_admin), 0)
    client = client_as(assessor)
    # The reference solution is recommended competent: deciding otherwise is borderline.
    decide_on_the_web(
        client, graded_assessment, "not_yet_competent", "The proposal is too thin to pass."
    )
    assert _moderation(db_session).basis == "borderline"


def test_at_zero_percent_an_agreeing_decision_is_not_sampled(
    client_as, centre_admin, assessor, graded_assessment, db_session
):
    _settings(client_as(centre_admin), 0)
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Fine work.")
    db_session.expire_all()
    assert db_session.scalars(select(Moderation)).first() is None


def test_practice_decisions_are_never_moderated(client_as, assessor, graded_attempt, db_session):
    decide_on_the_web(client_as(assessor), graded_attempt, "competent", "Fine work.")
    assert db_session.scalars(select(Moderation)).first() is None


def test_settings_are_validated_and_only_admins_change_them(
    client_as, centre_admin, assessor, foreign_assessor
):
    bad = client_as(centre_admin).post(
        "/review/settings",
        data={"moderation_percent": "150", "appeal_days": "0", "leads": [str(foreign_assessor.id)]},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "0 to 100" in html and "1 to 365 days" in html and "among the centre" in html
    assert client_as(assessor).post("/review/settings", data={}).status_code == 403
    assert client_as(assessor).get("/review/settings").status_code == 200


def test_another_centre_cannot_reach_a_moderation(
    client_as, assessor, foreign_assessor, graded_assessment, db_session
):
    decide_on_the_web(client_as(assessor), graded_assessment, "competent", "Fine work.")
    url = f"/review/moderation/{_moderation(db_session).id}"
    assert client_as(foreign_assessor).post(url, data={"outcome": "agreed"}).status_code == 404
    listing = client_as(foreign_assessor).get("/review/moderation").get_data(as_text=True)
    assert f"/review/attempts/{graded_assessment.id}" not in listing
    assert _moderation(db_session).status == ModerationStatus.PENDING
