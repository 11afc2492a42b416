"""Security operations: disable an account, change its role and scope, set a role's field
permissions, set a branch's IP allow-list, set the backup policy and run a backup.

Only IT, Management and administrator accounts may change security settings (the sandbox's
permission rule); anyone else is refused, and the refusal is audited by the door that called.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Literal

from pydantic import field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import Branch, Customer, StaffUser
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    check_department,
    find_by_code,
    get_entity,
    operation,
)
from sandbox_crm.security.models import (
    BackupPolicy,
    BackupRun,
    FieldPermission,
    SecurityRole,
    StaffAccess,
)

__all__ = [
    "SECURITY_DEPARTMENTS",
    "check_security_permission",
    "disable_staff_account",
    "find_role",
    "parse_allow_list",
    "run_backup",
    "set_backup_policy",
    "set_field_permission",
    "set_ip_allow_list",
    "set_staff_access",
]

SECURITY_DEPARTMENTS = frozenset({"it", "management"})
"""Departments whose staff may change security settings (administrators may too)."""

MAX_RETENTION_DAYS = 3650
ALLOW_LIST_MAX_LENGTH = 1000

ProtectedField = Literal[
    "hkid", "date_of_birth", "spend_12m", "cust_email", "mobile_no", "browsing"
]
Access = Literal["full", "masked", "hidden"]
Scope = Literal["all", "region", "branch", "own"]


def check_security_permission(actor: StaffUser) -> None:
    """Refuse accounts that may not change security settings (and disabled accounts)."""
    check_department(
        actor,
        SECURITY_DEPARTMENTS,
        Message(
            N_(
                "Your account may not change security settings: only IT, Management and "
                "administrator accounts may."
            )
        ),
        admins=True,
    )


def _access_of(session: Session, staff: StaffUser) -> StaffAccess | None:
    return session.get(StaffAccess, staff.id)


def find_role(session: Session, code: str) -> SecurityRole:
    """The role with this code; OperationError listing the known roles otherwise."""
    return find_by_code(
        session,
        SecurityRole,
        code,
        N_("Unknown role %(code)r; known roles: %(known)s."),
        "role",
        known_order=SecurityRole.id,
    )


# --- accounts ---------------------------------------------------------------------------------


class DisableStaffAccountArgs(Args):
    """Arguments of disable_staff_account."""

    staff_id: int = Arg(title="Staff account", description="The staff account's id.")
    reason: str = Arg(
        min_length=1, max_length=300, title="Reason", description="Why the account is disabled."
    )


@operation(
    "disable_staff_account",
    args=DisableStaffAccountArgs,
    event="security.disable_account",
    description="Disable a staff account (a leaver's, a dormant one): it can no longer sign in.",
)
def disable_staff_account(
    session: Session, actor: StaffUser, staff_id: int, reason: str
) -> StaffUser:
    """Disable an account; refused for an account already disabled or your own."""
    check_security_permission(actor)
    staff = get_entity(session, StaffUser, staff_id, "staff account")
    if staff.id == actor.id:
        raise OperationError(N_("You cannot disable your own account."), "staff_id")
    if not staff.is_active:
        raise OperationError(N_("The account is already disabled."), "staff_id")
    before = snapshot(staff, ["is_active"])
    staff.is_active = False
    access = _access_of(session, staff)
    if access is not None:
        access.disabled_on = sandbox_now(session).date()
    session.flush()
    record_event(
        session,
        actor,
        "security.disable_account",
        "staff_user",
        staff.id,
        before=before,
        after=snapshot(staff, ["is_active"]),
        details={"staff_id": staff.id, "username": staff.username, "reason": reason},
    )
    return staff


class SetStaffAccessArgs(Args):
    """Arguments of set_staff_access."""

    staff_id: int = Arg(title="Staff account", description="The staff account's id.")
    role: str = Arg(min_length=1, max_length=32, title="Role", description="The role's code.")
    scope: Scope = Arg(
        title="Record scope", description="Which customers it reaches: all, region, branch, own."
    )


@operation(
    "set_staff_access",
    args=SetStaffAccessArgs,
    event="security.set_access",
    description="Give a staff account a role and a record scope.",
)
def set_staff_access(
    session: Session, actor: StaffUser, staff_id: int, role: str, scope: str
) -> StaffUser:
    """Set an account's role and record scope; a change to nothing is refused."""
    check_security_permission(actor)
    staff = get_entity(session, StaffUser, staff_id, "staff account")
    new_role = find_role(session, role)
    if scope in ("branch", "region") and staff.branch_id is None:
        raise OperationError(
            N_("The account has no branch, so it cannot be limited to a branch or region."),
            "scope",
        )
    access = _access_of(session, staff)
    if access is None:
        access = StaffAccess(staff_id=staff.id, role_id=new_role.id, scope="own")
        session.add(access)
        session.flush()
        before = {"role_id": None, "scope": None}
    else:
        before = snapshot(access, ["role_id", "scope"])
        if access.role_id == new_role.id and access.scope == scope:
            raise OperationError(N_("The account already has this role and scope."), "role")
    access.role_id = new_role.id
    access.scope = scope
    staff.is_admin = new_role.is_admin
    session.flush()
    record_event(
        session,
        actor,
        "security.set_access",
        "staff_user",
        staff.id,
        before=before,
        after=snapshot(access, ["role_id", "scope"]),
        details={"staff_id": staff.id, "role": new_role.code, "scope": scope},
    )
    return staff


# --- field permissions ------------------------------------------------------------------------


class SetFieldPermissionArgs(Args):
    """Arguments of set_field_permission."""

    role: str = Arg(min_length=1, max_length=32, title="Role", description="The role's code.")
    field: ProtectedField = Arg(
        title="Field",
        description=(
            "hkid, date_of_birth, spend_12m (12-month spend), or the e-shop's cust_email,"
            " mobile_no and browsing (browsing data)."
        ),
    )
    access: Access = Arg(title="Access", description="full, masked (partly hidden) or hidden.")


@operation(
    "set_field_permission",
    args=SetFieldPermissionArgs,
    event="security.set_field_permission",
    description="Set how a role sees a protected field: in full, masked or hidden.",
)
def set_field_permission(
    session: Session, actor: StaffUser, role: str, field: str, access: str
) -> FieldPermission:
    """Set a role's access to a protected field; a change to nothing is refused."""
    check_security_permission(actor)
    found = find_role(session, role)
    permission = session.scalars(
        select(FieldPermission).where(
            FieldPermission.role_id == found.id, FieldPermission.field == field
        )
    ).first()
    if permission is None:
        permission = FieldPermission(role_id=found.id, field=field, access="hidden")
        session.add(permission)
        session.flush()
        before = {"access": None}
    else:
        before = snapshot(permission, ["access"])
        if permission.access == access:
            raise OperationError(
                Message(N_("The role already has %(access)s access to this field."), access=access),
                "access",
            )
    permission.access = access
    session.flush()
    record_event(
        session,
        actor,
        "security.set_field_permission",
        "field_permission",
        permission.id,
        before=before,
        after=snapshot(permission, ["access"]),
        details={"role": found.code, "field": field, "access": access},
    )
    return permission


# --- remote branches --------------------------------------------------------------------------


def parse_allow_list(text: str) -> list[str]:
    """The networks of an allow-list written with commas or spaces; ValueError naming a bad one."""
    networks = []
    for part in text.replace(",", " ").split():
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(part) from None
        if str(network) not in networks:
            networks.append(str(network))
    return networks


class SetIpAllowListArgs(Args):
    """Arguments of set_ip_allow_list."""

    branch_code: str = Arg(
        min_length=1, max_length=16, title="Branch", description="The branch's code, e.g. MAC."
    )
    allow_list: str = Arg(
        max_length=ALLOW_LIST_MAX_LENGTH,
        title="Allowed addresses",
        description="IP addresses or networks (e.g. 203.0.113.8/29), separated by commas.",
    )

    @field_validator("branch_code")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


@operation(
    "set_ip_allow_list",
    args=SetIpAllowListArgs,
    event="security.set_ip_allow_list",
    description="Set the IP addresses a branch may reach the CRM from.",
)
def set_ip_allow_list(
    session: Session, actor: StaffUser, branch_code: str, allow_list: str
) -> Branch:
    """Replace a branch's allow-list; an address that is not an IP network is refused."""
    check_security_permission(actor)
    branch = find_by_code(
        session,
        Branch,
        branch_code,
        N_("Unknown branch %(code)r; known branches: %(known)s."),
        "branch_code",
        known_order=Branch.id,
    )
    try:
        networks = parse_allow_list(allow_list)
    except ValueError as exc:
        raise OperationError(
            Message(
                N_("%(entry)r is not an IP address or network (e.g. 203.0.113.8/29)."),
                entry=str(exc),
            ),
            "allow_list",
        ) from None
    before = snapshot(branch, ["ip_allow_list"])
    branch.ip_allow_list = ", ".join(networks)
    session.flush()
    record_event(
        session,
        actor,
        "security.set_ip_allow_list",
        "branch",
        branch.id,
        before=before,
        after=snapshot(branch, ["ip_allow_list"]),
        details={"branch_id": branch.id, "branch_code": branch.code, "networks": networks},
    )
    return branch


# --- backups ----------------------------------------------------------------------------------


def _policy(session: Session) -> BackupPolicy:
    policy = session.scalars(select(BackupPolicy).order_by(BackupPolicy.id)).first()
    if policy is None:
        policy = BackupPolicy(id=1, frequency="off", hour=2, retention_days=None, encrypted=False)
        session.add(policy)
        session.flush()
    return policy


class SetBackupPolicyArgs(Args):
    """Arguments of set_backup_policy."""

    frequency: Literal["off", "daily", "weekly"] = Arg(
        title="Schedule", description="How often the automatic backup runs: off, daily, weekly."
    )
    hour: int = Arg(default=2, ge=0, le=23, title="Hour", description="The hour it runs (0-23).")
    retention_days: int | None = Arg(
        default=None,
        ge=1,
        le=MAX_RETENTION_DAYS,
        title="Keep for (days)",
        description="How many days a backup is kept; empty keeps backups forever.",
    )
    encrypted: bool = Arg(title="Encrypted", description="Whether backups are encrypted.")


SNAPSHOT = ["frequency", "hour", "retention_days", "encrypted"]


@operation(
    "set_backup_policy",
    args=SetBackupPolicyArgs,
    event="security.set_backup_policy",
    description="Set the automatic backup's schedule, how long backups are kept and encryption.",
)
def set_backup_policy(
    session: Session,
    actor: StaffUser,
    frequency: str,
    encrypted: bool,
    hour: int = 2,
    retention_days: int | None = None,
) -> BackupPolicy:
    """Set the backup policy; backups already made then expire by the new retention."""
    check_security_permission(actor)
    policy = _policy(session)
    before = snapshot(policy, SNAPSHOT)
    policy.frequency = frequency
    policy.hour = hour
    policy.retention_days = retention_days
    policy.encrypted = encrypted
    expired = 0
    for backup in session.scalars(select(BackupRun).order_by(BackupRun.id)):
        backup.expires_on = (
            None
            if retention_days is None
            else backup.started_at.date() + timedelta(days=retention_days)
        )
        expired += (
            backup.expires_on is not None and backup.expires_on <= sandbox_now(session).date()
        )
    session.flush()
    record_event(
        session,
        actor,
        "security.set_backup_policy",
        "backup_policy",
        policy.id,
        before=before,
        after=snapshot(policy, SNAPSHOT),
        details={"expired_backups": expired},
    )
    return policy


class RunBackupArgs(Args):
    """Arguments of run_backup (none)."""


@operation(
    "run_backup",
    args=RunBackupArgs,
    event="security.run_backup",
    description="Run a backup now, with the policy's encryption and retention.",
)
def run_backup(session: Session, actor: StaffUser) -> BackupRun:
    """Run a backup now, encrypted and kept as the policy says."""
    check_security_permission(actor)
    policy = _policy(session)
    now = sandbox_now(session)
    backup = BackupRun(
        started_at=now,
        automatic=False,
        encrypted=policy.encrypted,
        expires_on=(
            None
            if policy.retention_days is None
            else now.date() + timedelta(days=policy.retention_days)
        ),
        customers=session.scalar(select(func.count()).select_from(Customer)) or 0,
        run_by_id=actor.id,
    )
    session.add(backup)
    session.flush()
    record_event(
        session,
        actor,
        "security.run_backup",
        "backup_run",
        backup.id,
        after=snapshot(backup, ["encrypted", "expires_on"]),
        details={"backup_id": backup.id},
    )
    return backup
