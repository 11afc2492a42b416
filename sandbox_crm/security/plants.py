"""Plants for security scenarios: they name accounts of the generated set-up so that a
scenario's steps can refer to them (``$plant:leaver_admin_account:0``), and can add one.

``leaver_admin_account`` is an administrator who has left but whose account is still active
(the generated one for the jewellery profile, else one made from a current member of staff);
``current_admin_account`` is an administrator still employed, whom a careless review disables.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.models import StaffUser
from sandbox_crm.plants import PlantResult, PlantRun, plant


def _staff(session: Session, *conditions: object) -> list[StaffUser]:
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.is_trainee.is_(False), *conditions)
            .order_by(StaffUser.id)
        )
    )


@plant("leaver_admin_account")
def leaver_admin_account(session: Session, run: PlantRun) -> PlantResult:
    """An administrator who left months ago whose account is still active."""
    found = _staff(
        session,
        StaffUser.is_admin.is_(True),
        StaffUser.is_active.is_(True),
        StaffUser.left_on.is_not(None),
    )
    ids = [s.id for s in found][: run.count]
    if len(ids) < run.count:
        spare = _staff(
            session,
            StaffUser.is_admin.is_(False),
            StaffUser.is_active.is_(True),
            StaffUser.left_on.is_(None),
        )
        by_id = {s.id: s for s in spare}
        run.count -= len(ids)
        for sid in run.pick(list(by_id), "active staff users who are not admins"):
            user = by_id[sid]
            user.is_admin = True
            user.mfa_enabled = False
            user.left_on = run.ctx.today - timedelta(days=run.rng.randint(90, 240))
            ids.append(sid)
    return PlantResult(sorted(ids), {"entity": "staff_user"})


@plant("current_admin_account")
def current_admin_account(session: Session, run: PlantRun) -> PlantResult:
    """An administrator still employed: their account must stay active."""
    found = _staff(
        session,
        StaffUser.is_admin.is_(True),
        StaffUser.is_active.is_(True),
        StaffUser.left_on.is_(None),
    )
    return PlantResult(
        run.pick([s.id for s in found], "current administrators"), {"entity": "staff_user"}
    )
