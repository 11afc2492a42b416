"""Generating the jewellery chain's security set-up, with the weaknesses a review finds.

Each account gets a role, a record scope and a last sign-in; the roles get field permissions;
the backup policy and its history are made. Realistic weaknesses come with it: a former
systems administrator whose admin account is still active months after leaving, the Lo Wu
shop's allow-list left open to any address after its move, weekly backups unencrypted and kept
forever, and the marketing role seeing identity numbers and dates of birth in full. Draws come
from the stage's own stream, so the other areas' data does not change.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.company.models import Branch, Department, StaffUser
from sandbox_crm.generator import GenerationRun, derive_seed
from sandbox_crm.hk_provider import make_faker
from sandbox_crm.models import Profile
from sandbox_crm.security.fields import ONLINE_FIELDS
from sandbox_crm.security.models import (
    BackupPolicy,
    BackupRun,
    FieldPermission,
    RoleRights,
    SecurityRole,
    StaffAccess,
)

PROTECTED_FIELDS = ("hkid", "date_of_birth", "spend_12m")
"""The fields whose visibility a role sets: identity number, date of birth, spend."""

OPEN_NETWORK = "0.0.0.0/0"
"""An allow-list entry that lets any address in."""

# code, name, is_admin, and the role's access to each protected field (hkid, dob, spend).
ROLES: tuple[tuple[str, str, bool, tuple[str, str, str]], ...] = (
    ("admin", "System administrator", True, ("full", "full", "full")),
    ("manager", "Manager", False, ("masked", "masked", "full")),
    ("marketing", "Marketing", False, ("full", "full", "full")),
    ("customer_service", "Customer service", False, ("masked", "masked", "full")),
    ("sales", "Sales", False, ("hidden", "hidden", "full")),
    ("store", "Shop staff", False, ("masked", "hidden", "full")),
    ("finance", "Finance", False, ("masked", "hidden", "full")),
    ("hr", "Human resources", False, ("hidden", "hidden", "hidden")),
)
"""The marketing role's full view of HKID and date of birth is the over-broad access."""

_ROLE_OF_DEPARTMENT = {
    "management": "manager",
    "marketing": "marketing",
    "sales": "sales",
    "customer_service": "customer_service",
    "finance": "finance",
    "it": "manager",
    "hr": "hr",
    "store_operations": "store",
}


def _rng(run: GenerationRun) -> random.Random:
    return random.Random(derive_seed(run.spec.seed, "security.access"))  # noqa: S311 - seeded test data


def _scope(department: str, title: str, is_admin: bool) -> str:
    if is_admin or department in ("management", "it", "finance", "marketing", "customer_service"):
        return "all"
    if department == "store_operations":
        return "region" if title == "Area Manager" else "branch"
    return "own"


def access(run: GenerationRun) -> None:
    """Roles, each account's access, field permissions, the backup policy and its history."""
    if run.profile != Profile.JEWELLERY.value:
        return
    rng = _rng(run)
    roles = [
        {"id": i, "code": code, "name": name, "is_admin": admin}
        for i, (code, name, admin, _) in enumerate(ROLES, start=1)
    ]
    role_id = {r["code"]: r["id"] for r in roles}
    run.rows[SecurityRole] = roles
    run.rows[FieldPermission] = [
        {"id": n, "role_id": role_id[code], "field": name, "access": value}
        for n, (code, name, value) in enumerate(
            (
                (code, name, value)
                for code, _, _, values in ROLES
                for name, value in zip(PROTECTED_FIELDS, values, strict=True)
            ),
            start=1,
        )
    ]
    staff = list(run.rows[StaffUser])
    departments = {d["id"]: d["code"] for d in run.rows[Department]}
    # The former systems administrator: left months ago, the account never switched off.
    person = make_faker(derive_seed(run.spec.seed, "security.leaver")).hk_person()
    left_on = run.today - timedelta(days=rng.randint(120, 240))
    username = "".join(p[0] for p in person.given_en.split()).lower()
    username = f"{username}{person.surname_en.lower().replace(' ', '')}.it"
    staff.append(
        {
            "id": len(staff) + 1,
            "username": username,
            "full_name": person.name_en,
            "title": "Systems Administrator",
            "email": f"{username}@{run.domain}",
            "department_id": run.dept_ids["it"],
            "branch_id": run.office_id,
            "is_active": True,
            "is_admin": True,
            "mfa_enabled": False,
            "left_on": left_on,
            "is_trainee": False,
        }
    )
    run.rows[StaffUser] = staff
    access_rows: list[dict[str, Any]] = []
    for row in staff:
        department = departments[row["department_id"]]
        code = "admin" if row["is_admin"] else _ROLE_OF_DEPARTMENT.get(department, "sales")
        last_day = row["left_on"] or run.today
        days_before = rng.randint(1, 10) if row["left_on"] is None else rng.randint(1, 5)
        signed_in = datetime.combine(
            last_day - timedelta(days=days_before), time(rng.randint(8, 19), rng.randrange(60))
        )
        access_rows.append(
            {
                "staff_id": row["id"],
                "role_id": role_id[code],
                "scope": _scope(department, row["title"], row["is_admin"]),
                "last_sign_in_at": signed_in,
                "disabled_on": row["left_on"] if not row["is_active"] else None,
            }
        )
    run.rows[StaffAccess] = access_rows
    # The Lo Wu shop moved line last year; "any address" was added for the move and stayed.
    branches = list(run.rows[Branch])
    for branch in branches:
        if branch["code"] == "LWU":
            branch["ip_allow_list"] = f"{branch['ip_allow_list']}, {OPEN_NETWORK}"
    run.rows[Branch] = branches
    run.rows[BackupPolicy] = [
        {"id": 1, "frequency": "weekly", "hour": 2, "retention_days": None, "encrypted": False}
    ]
    runs = []
    first = run.today - timedelta(days=7 * 26)
    customers = len(run.members)
    for week in range(26):
        day = first + timedelta(days=7 * week)
        runs.append(
            {
                "id": week + 1,
                "started_at": datetime.combine(day, time(2, rng.randrange(5))),
                "automatic": True,
                "encrypted": False,
                "expires_on": None,
                "customers": customers,
                "run_by_id": None,
            }
        )
    run.rows[BackupRun] = runs


# --- the set-up a scenario plants (any profile) -----------------------------------------------

SOUND_CRM_ACCESS = {"marketing": ("hidden", "masked", "full")}
"""Where a planted set-up differs from the generated one: Marketing sees no identity numbers."""

ONLINE_ACCESS: dict[str, tuple[str, str, str]] = {
    "admin": ("full", "full", "full"),
    "manager": ("masked", "masked", "full"),
    "marketing": ("full", "masked", "full"),
    "customer_service": ("full", "full", "hidden"),
    "sales": ("masked", "masked", "hidden"),
    "store": ("masked", "masked", "hidden"),
    "finance": ("hidden", "hidden", "hidden"),
    "hr": ("hidden", "hidden", "hidden"),
}
"""Each role's access to the e-shop's e-mail, mobile and browsing data."""

ROLE_RIGHTS: dict[str, tuple[str, bool]] = {
    "admin": ("all", True),
    "manager": ("all", True),
    "marketing": ("all", False),
    "customer_service": ("all", False),
    "sales": ("region", False),
    "store": ("branch", False),
    "finance": ("all", False),
    "hr": ("own", False),
}
"""Each role's record scope and whether it may bulk-export customer data."""


def ensure_rights_setup(session: Session, today: date, rng: random.Random) -> None:
    """Make the roles, accounts' access, field permissions and role rights that are missing.

    A sandbox without a security set-up (the retail profile's) gets the roles with sound field
    permissions; every set-up gets the online fields' permissions and each role's record scope
    and export right. Rows that exist are left as they are.
    """
    roles = {r.code: r for r in session.scalars(select(SecurityRole).order_by(SecurityRole.id))}
    if not roles:
        for code, name, admin, values in ROLES:
            role = SecurityRole(code=code, name=name, is_admin=admin)
            session.add(role)
            session.flush()
            roles[code] = role
            crm = SOUND_CRM_ACCESS.get(code, values)
            for field, value in zip(PROTECTED_FIELDS, crm, strict=True):
                session.add(FieldPermission(role_id=role.id, field=field, access=value))
    have = {(p.role_id, p.field) for p in session.scalars(select(FieldPermission))}
    for code, values in ONLINE_ACCESS.items():
        role = roles.get(code)
        if role is None:
            continue
        for field, value in zip(ONLINE_FIELDS, values, strict=True):
            if (role.id, field) not in have:
                session.add(FieldPermission(role_id=role.id, field=field, access=value))
        if session.get(RoleRights, role.id) is None:
            scope, export = ROLE_RIGHTS[code]
            session.add(RoleRights(role_id=role.id, scope=scope, bulk_export=export))
    departments = dict(session.execute(select(Department.id, Department.code)).all())
    for staff in session.scalars(select(StaffUser).order_by(StaffUser.id)):
        if session.get(StaffAccess, staff.id) is not None:
            continue
        department = departments.get(staff.department_id, "")
        code = "admin" if staff.is_admin else _ROLE_OF_DEPARTMENT.get(department, "sales")
        last_day = staff.left_on or today
        signed_in = datetime.combine(
            last_day - timedelta(days=rng.randint(1, 10)),
            time(rng.randint(8, 19), rng.randrange(60)),
        )
        session.add(
            StaffAccess(
                staff_id=staff.id,
                role_id=roles[code].id,
                scope=_scope(department, staff.title, staff.is_admin),
                last_sign_in_at=signed_in,
                disabled_on=None if staff.is_active else staff.left_on,
            )
        )
    session.flush()
