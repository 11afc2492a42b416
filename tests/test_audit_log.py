"""The centre admin's audit log page: entries of their centre, translated, filtered, paged."""

from __future__ import annotations

from datetime import datetime

import pytest

from training_platform import audit_service
from training_platform.models import AuditEntry, Role

ZH = {"Accept-Language": "zh-HK"}


@pytest.fixture
def admin_client(client_as, centre_admin):
    return client_as(centre_admin)


def test_an_admin_action_appears_in_the_log_with_its_name(admin_client, trainee):
    admin_client.post(f"/centre/users/{trainee.id}/role", data={"role": "assessor"})
    page = admin_client.get("/centre/audit").get_data(as_text=True)
    assert "Role changed" in page
    assert trainee.email in page and "assessor" in page
    chinese = admin_client.get("/centre/audit", headers=ZH).get_data(as_text=True)
    assert "Role changed" not in chinese
    assert "變更角色" in chinese


def test_entries_filter_by_action_actor_and_date(
    admin_client, db_session, centre, centre_admin, assessor
):
    for actor, action, when in (
        (centre_admin, "cohort.created", datetime(2026, 11, 2, 3, 0)),
        (centre_admin, "user.deactivated", datetime(2026, 11, 20, 3, 0)),
        (assessor, "review.decided", datetime(2026, 11, 20, 17, 0)),  # 21 Nov in Hong Kong
    ):
        entry = audit_service.record(
            db_session,
            centre_id=centre.id,
            actor=actor,
            action=action,
            target_type="x",
            target_id=1,
            details={"marker": "M-" + action.upper()},
        )
        entry.created_at = when
    db_session.commit()

    def markers(query: str) -> set[str]:
        page = admin_client.get(f"/centre/audit?{query}").get_data(as_text=True)
        return {
            a
            for a in ("cohort.created", "user.deactivated", "review.decided")
            if "M-" + a.upper() in page
        }

    assert markers("") == {"cohort.created", "user.deactivated", "review.decided"}
    assert markers("action=user.deactivated") == {"user.deactivated"}
    assert markers(f"actor={assessor.id}") == {"review.decided"}
    assert markers("from=2026-11-20&to=2026-11-20") == {"user.deactivated"}
    assert markers("from=2026-11-21") == {"review.decided"}
    # Nonsense filters are ignored, never an error.
    assert admin_client.get("/centre/audit?from=soon&actor=x&page=-3").status_code == 200


def test_the_log_is_paged(admin_client, db_session, centre, centre_admin):
    for number in range(55):
        audit_service.record(
            db_session,
            centre_id=centre.id,
            actor=centre_admin,
            action="cohort.created",
            target_type="cohort",
            target_id=number,
            details={"name": f"Cohort {number:02d}"},
        )
    db_session.commit()
    first = admin_client.get("/centre/audit").get_data(as_text=True)
    second = admin_client.get("/centre/audit?page=2").get_data(as_text=True)
    assert "Cohort 54" in first and "Cohort 00" not in first
    assert "Cohort 00" in second and "page 2 of 2" in second


def test_another_centres_entries_are_not_shown(admin_client, db_session, foreign_centre, make_user):
    stranger = make_user(Role.CENTRE_ADMIN, centre=foreign_centre)
    db_session.add(
        AuditEntry(
            centre_id=foreign_centre.id,
            actor_id=stranger.id,
            action="cohort.created",
            target_type="cohort",
            target_id=1,
            details={"name": "Elsewhere secret cohort"},
        )
    )
    db_session.commit()
    assert "Elsewhere secret cohort" not in admin_client.get("/centre/audit").get_data(as_text=True)


def test_only_centre_admins_read_the_log(client_as, trainee, assessor):
    for user in (trainee, assessor):
        assert client_as(user).get("/centre/audit").status_code == 403
