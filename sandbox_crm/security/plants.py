"""Plants for security scenarios: they name accounts of the generated set-up so that a
scenario's steps can refer to them (``$plant:leaver_admin_account:0``), and can add one.

``leaver_admin_account`` is an administrator who has left but whose account is still active
(the generated one for the jewellery profile, else one made from a current member of staff);
``current_admin_account`` is an administrator still employed, whom a careless review disables.

For authorisation-rights scenarios (either profile): ``access_rights`` makes the rights set-up
where there is none, a new online-marketing role with no rights and its team (staff ids);
``department_access_request`` the team manager's request for everything (request ids; the item
ids by name in the details); ``staff_misuse`` flags raised from the staff access log (flag ids;
which are misuse and which a legitimate export, by flag id, in the details).
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.generator import derive_seed
from sandbox_crm.models import Department, StaffUser
from sandbox_crm.plants import PlantResult, PlantRun, plant
from sandbox_crm.security.fields import ALL_FIELDS
from sandbox_crm.security.generation import ensure_rights_setup
from sandbox_crm.security.models import (
    AccessRequest,
    AccessRequestItem,
    MisuseFlag,
    RoleRights,
    SecurityRole,
    StaffActivity,
)


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


# --- authorisation rights, a department's request, staff misuse -------------------------------

NEW_ROLE_CODE = "online_marketing"
NEW_ROLE_NAME = "Online marketing"
TEAM_TITLES = ("Online Marketing Manager", "Digital Marketing Executive")


def _department_id(session: Session, code: str) -> int:
    found = session.scalar(select(Department.id).where(Department.code == code))
    if found is None:
        raise ValueError(f"the sandbox has no {code} department")
    return found


def _username(session: Session, base: str) -> str:
    taken = set(session.scalars(select(StaffUser.username)))
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    return name


@plant("access_rights")
def access_rights(session: Session, run: PlantRun) -> PlantResult:
    """A new online-marketing team with a role that has no rights yet, and the rights set-up.

    Makes the roles, accounts' access and field permissions (CRM and e-shop fields), each
    role's record scope and export right where the sandbox has none, then the new role (every
    field hidden, its own customers, no export) and ``count`` new staff of the Marketing
    department whose accounts have no role yet; the first is the team's manager.
    """
    ensure_rights_setup(session, run.ctx.today, run.rng)
    role = session.scalars(select(SecurityRole).where(SecurityRole.code == NEW_ROLE_CODE)).first()
    if role is None:
        role = SecurityRole(code=NEW_ROLE_CODE, name=NEW_ROLE_NAME, is_admin=False)
        session.add(role)
        session.flush()
        session.add(RoleRights(role_id=role.id, scope="own", bulk_export=False))
    marketing = _department_id(session, "marketing")
    office = session.scalar(
        select(StaffUser.branch_id).where(StaffUser.is_trainee.is_(True)).limit(1)
    )
    ids = []
    for n in range(run.count):
        person = run.fake.hk_person()
        username = _username(
            session, "".join(p[0] for p in person.given_en.split()).lower() + person.surname_en
        )
        username = username.lower().replace(" ", "")
        staff = StaffUser(
            username=username,
            full_name=person.name_en,
            title=TEAM_TITLES[0] if n == 0 else TEAM_TITLES[1],
            email=f"{username}@{run.ctx.domain}",
            department_id=marketing,
            branch_id=office,
            is_active=True,
            is_admin=False,
            mfa_enabled=False,
            left_on=None,
            is_trainee=False,
        )
        session.add(staff)
        session.flush()
        ids.append(staff.id)
    return PlantResult(ids, {"entity": "staff_user", "role": NEW_ROLE_CODE})


REQUESTED = (
    *((field, "full") for field in ALL_FIELDS),
    ("scope", "all"),
    ("bulk_export", "yes"),
)
"""What the new team asks for: everything, in full, for every customer, with bulk export."""

JUSTIFICATION = (
    "Our new online-marketing team starts next week. We will send the e-mail newsletter to the"
    " customers who subscribed, analyse browsing on the e-shop to plan campaigns, and send"
    " birthday offers. To avoid coming back to IT every time, please give our role full access"
    " to every customer field, including HKID numbers and dates of birth, for all customers, and"
    " the right to export customer lists in bulk so that we can work on them in our own tools."
)


@plant("department_access_request")
def department_access_request(session: Session, run: PlantRun) -> PlantResult:
    """The new team's manager asks for full access to every field, all customers and export.

    Needs the ``access_rights`` plant first (the role and its team).
    """
    role = session.scalars(select(SecurityRole).where(SecurityRole.code == NEW_ROLE_CODE)).first()
    manager = session.scalars(
        select(StaffUser).where(StaffUser.title == TEAM_TITLES[0]).order_by(StaffUser.id)
    ).first()
    if role is None or manager is None:
        raise ValueError("plant 'department_access_request' needs the 'access_rights' plant first")
    ids = []
    items: dict[str, int] = {}
    for n in range(run.count):
        request = AccessRequest(
            department_id=manager.department_id,
            requested_by_id=manager.id,
            role_id=role.id,
            received_at=run.day0 - timedelta(days=1 + n, hours=run.rng.randint(2, 6)),
            justification=JUSTIFICATION,
            status="open",
        )
        session.add(request)
        session.flush()
        ids.append(request.id)
        for item, requested in REQUESTED:
            row = AccessRequestItem(request_id=request.id, item=item, requested=requested)
            session.add(row)
            session.flush()
            items.setdefault(item, row.id)
    return PlantResult(ids, {"entity": "access_request", "items": items})


MISUSE_PATTERNS = ("bulk_lookup", "bulk_export", "sent_outside", "legitimate")
"""What a planted flag is: three kinds of misuse and a bulk export with a business reason."""

PERSONAL_MAILBOXES = ("gmail.com", "yahoo.com.hk", "outlook.com", "netvigator.com")


def _background_log(session: Session, run: PlantRun, staff: list[StaffUser]) -> None:
    """A month of ordinary look-ups and exports with their business reasons."""
    first = run.ctx.today - timedelta(days=30)
    last = run.ctx.today - timedelta(days=1)
    rng = random.Random(derive_seed(run.ctx.seed, "security.activity"))  # noqa: S311
    for _ in range(60):
        person = rng.choice(staff)
        action = rng.choice(("lookup", "lookup", "lookup", "export"))
        session.add(
            StaffActivity(
                staff_id=person.id,
                occurred_at=datetime.combine(
                    first + timedelta(days=rng.randint(0, (last - first).days)),
                    time(rng.randint(9, 18), rng.randrange(60)),
                ),
                action=action,
                records=rng.randint(1, 6) if action == "lookup" else rng.randint(20, 120),
                destination=None if action == "lookup" else "internal_shared_drive",
                reason=rng.choice(
                    (
                        "Customer enquiry at the counter",
                        "Follow-up call on a repair",
                        "Monthly sales report for the branch",
                        "Delivery arrangement",
                    )
                ),
            )
        )
    session.flush()


@plant("staff_misuse", defaults={"pattern": "bulk_lookup"}, choices={"pattern": MISUSE_PATTERNS})
def staff_misuse(session: Session, run: PlantRun) -> PlantResult:
    """Flags in the staff access log: misuse (bulk look-ups, exports with no business reason,
    data e-mailed to a personal address) or, as ``legitimate``, a large export that has one.

    The plant details say which flags are misuse (flag id -> pattern).
    """
    pattern = run.params["pattern"]
    staff = _staff(
        session,
        StaffUser.is_active.is_(True),
        StaffUser.is_admin.is_(False),
        StaffUser.left_on.is_(None),
    )
    if not session.scalar(select(StaffActivity.id).limit(1)):
        _background_log(session, run, staff)
    flagged = set(session.scalars(select(MisuseFlag.staff_id)))
    picked = run.pick([s.id for s in staff if s.id not in flagged], "staff to flag")
    by_id = {s.id: s for s in staff}
    ids = []
    details: dict[str, object] = {"entity": "misuse_flag"}
    for staff_id in picked:
        person = by_id[staff_id]
        when = run.moment(run.ctx.today - timedelta(days=14), run.ctx.today - timedelta(days=1))
        rows, summary = _misuse_rows(run, person, pattern, when)
        session.add_all(rows)
        flag = MisuseFlag(
            staff_id=staff_id,
            pattern="bulk_export" if pattern == "legitimate" else pattern,
            raised_at=when + timedelta(hours=1),
            summary=summary,
            status="open",
        )
        session.add(flag)
        session.flush()
        ids.append(flag.id)
        details[str(flag.id)] = pattern
    return PlantResult(ids, details)


def _misuse_rows(
    run: PlantRun, person: StaffUser, pattern: str, when: datetime
) -> tuple[list[StaffActivity], str]:
    """The log entries behind one flag, and the flag's summary."""
    if pattern == "bulk_lookup":
        rows = [
            StaffActivity(
                staff_id=person.id,
                occurred_at=when + timedelta(minutes=3 * n),
                action="lookup",
                records=run.rng.randint(40, 90),
                destination=None,
                reason=None,
            )
            for n in range(run.rng.randint(4, 7))
        ]
        total = sum(r.records for r in rows)
        return rows, f"{total} customer records opened in one evening, no case or order behind them"
    if pattern == "sent_outside":
        local = person.username.split(".")[0]
        mailbox = f"{local}{run.rng.randint(10, 99)}@{run.rng.choice(PERSONAL_MAILBOXES)}"
        count = run.rng.randint(150, 900)
        rows = [
            StaffActivity(
                staff_id=person.id,
                occurred_at=when,
                action="export",
                records=count,
                destination="internal_shared_drive",
                reason=None,
            ),
            StaffActivity(
                staff_id=person.id,
                occurred_at=when + timedelta(minutes=4),
                action="send",
                records=count,
                destination=mailbox,
                reason=None,
            ),
        ]
        return rows, f"An export of {count} customers e-mailed to {mailbox}"
    count = run.rng.randint(800, 2500)
    reason = (
        None
        if pattern == "bulk_export"
        else "Year-end membership renewal mailing to consented members, approved by Marketing"
    )
    rows = [
        StaffActivity(
            staff_id=person.id,
            occurred_at=when,
            action="export",
            records=count,
            destination="internal_shared_drive",
            reason=reason,
        )
    ]
    return rows, f"A bulk export of {count} customer records"
