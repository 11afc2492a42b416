"""Checks on the security settings the trainee left: leavers' accounts, remote branches'
allow-lists, the backup policy, the field permissions, record scope and export right of roles,
the team members' roles, the answer to a department's access request and the review of
staff-misuse flags.

What should hold is read from the template (who had left, which networks a branch used), so
changing those records cannot make a wrong answer look right.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import select

from graders.checks.common import Params
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.i18n import N_
from sandbox_crm.models import Branch, StaffUser
from sandbox_crm.security.models import (
    AccessRequest,
    AccessRequestItem,
    BackupPolicy,
    BackupRun,
    FieldPermission,
    MisuseFlag,
    SecurityRole,
    StaffAccess,
)
from sandbox_crm.security.operations import parse_allow_list
from sandbox_crm.security.rights import role_rights

AccessLevel = Literal["full", "masked", "hidden"]
ScopeName = Literal["all", "region", "branch", "own"]
FieldName = Literal["hkid", "date_of_birth", "spend_12m", "cust_email", "mobile_no", "browsing"]
RequestItemName = Literal[
    "hkid",
    "date_of_birth",
    "spend_12m",
    "cust_email",
    "mobile_no",
    "browsing",
    "scope",
    "bulk_export",
]


class LeaversDisabledParams(Params):
    """Parameters of security.leavers_disabled."""

    keep_current_active: bool = True
    """Also require every account active in the template whose holder has not left to stay
    active (disabling the wrong account fails)."""


@check("security.leavers_disabled", params=LeaversDisabledParams)
def leavers_disabled(ctx: GradingContext, params: LeaversDisabledParams) -> Outcome:
    """Every account of someone who has left is disabled; current staff keep theirs."""
    today = ctx.as_of
    template = {
        s.id: (s.is_active, s.left_on, s.is_trainee)
        for s in ctx.template.scalars(select(StaffUser).order_by(StaffUser.id))
    }
    final = dict(ctx.final.execute(select(StaffUser.id, StaffUser.is_active)).all())
    still_active = [
        sid
        for sid, (_, left_on, _) in template.items()
        if left_on is not None and left_on <= today and final.get(sid)
    ]
    wrongly_disabled = [
        sid
        for sid, (active, left_on, trainee) in template.items()
        if params.keep_current_active
        and active
        and not trainee
        and (left_on is None or left_on > today)
        and sid in final
        and not final[sid]
    ]
    evidence: dict[str, Any] = {
        "leavers_still_active": still_active,
        "current_staff_disabled": wrongly_disabled,
    }
    if still_active:
        return Outcome.failed(evidence, note=N_("A leaver's account is still active."))
    if wrongly_disabled:
        return Outcome.failed(
            evidence, note=N_("An account of someone still employed was disabled.")
        )
    return Outcome.passed(evidence)


class RemoteAllowListsParams(Params):
    """Parameters of security.remote_allow_lists."""

    min_prefix: int = Field(default=24, ge=8, le=32)
    """The widest network a remote branch may allow (24: at most 256 addresses)."""
    keep_branch_networks: bool = True
    """Every network of the template's list no wider than min_prefix must still be allowed."""


def _networks(text: str | None) -> list[Any]:
    try:
        return [ipaddress.ip_network(n) for n in parse_allow_list(text or "")]
    except ValueError:
        return []


def _covered(network: Any, allowed: list[Any]) -> bool:
    """Whether every address of ``network`` is in one of the ``allowed`` networks."""
    same = [m for m in allowed if m.version == network.version]
    inside = 0
    for m in ipaddress.collapse_addresses(same):
        if network.subnet_of(m):
            return True
        if m.subnet_of(network):
            inside += m.num_addresses
    return inside == network.num_addresses


@check("security.remote_allow_lists", params=RemoteAllowListsParams)
def remote_allow_lists(ctx: GradingContext, params: RemoteAllowListsParams) -> Outcome:
    """Remote branches allow only narrow networks, and still the ones the branch uses."""
    before = {
        b.code: b.ip_allow_list
        for b in ctx.template.scalars(select(Branch).where(Branch.is_remote.is_(True)))
    }
    after = dict(ctx.final.execute(select(Branch.code, Branch.ip_allow_list)).all())
    too_open: list[str] = []
    cut_off: list[str] = []
    for code, old in sorted(before.items()):
        new = _networks(after.get(code))
        if any(n.prefixlen < params.min_prefix for n in new):
            too_open.append(code)
        needed = [n for n in _networks(old) if n.prefixlen >= params.min_prefix]
        if params.keep_branch_networks and not all(_covered(n, new) for n in needed):
            cut_off.append(code)
    evidence = {"too_open": too_open, "branch_networks_removed": cut_off}
    if too_open:
        return Outcome.failed(
            evidence, note=N_("A remote branch still accepts connections from too wide a range.")
        )
    if cut_off:
        return Outcome.failed(
            evidence, note=N_("A remote branch can no longer connect from its own network.")
        )
    return Outcome.passed(evidence)


class BackupPolicyParams(Params):
    """Parameters of security.backup_policy."""

    frequencies: list[Literal["daily", "weekly"]] = Field(min_length=1)
    """The schedules the task accepts."""
    max_retention_days: int = Field(ge=1)
    """Backups must be kept no longer than this (kept forever fails)."""
    encrypted: bool = True
    backup_run: bool = False
    """Also require a backup run in the attempt after the policy's last change, encrypted and
    expiring."""


@check("security.backup_policy", params=BackupPolicyParams)
def backup_policy(ctx: GradingContext, params: BackupPolicyParams) -> Outcome:
    """The backup policy runs on schedule, encrypts and keeps backups no longer than allowed."""
    policy = ctx.final.scalars(select(BackupPolicy).order_by(BackupPolicy.id)).first()
    if policy is None:
        return Outcome.failed({"reason": "no backup policy"}, note=N_("There is no backup policy."))
    evidence: dict[str, Any] = {
        "frequency": policy.frequency,
        "retention_days": policy.retention_days,
        "encrypted": policy.encrypted,
    }
    if policy.frequency not in params.frequencies:
        return Outcome.failed(evidence, note=N_("The automatic backup's schedule is not right."))
    if policy.retention_days is None or policy.retention_days > params.max_retention_days:
        return Outcome.failed(evidence, note=N_("Backups are kept longer than the policy allows."))
    if params.encrypted and not policy.encrypted:
        return Outcome.failed(evidence, note=N_("Backups are not encrypted."))
    if params.backup_run:
        changes = ctx.events_of("security.set_backup_policy")
        last_change = changes[-1].id if changes else 0
        runs = [e for e in ctx.events_of("security.run_backup") if e.id > last_change]
        good = [
            e
            for e in runs
            if (row := ctx.final.get(BackupRun, e.entity_id)) is not None
            and row.encrypted
            and row.expires_on is not None
        ]
        evidence["backups_after_policy"] = len(good)
        if not good:
            return Outcome.failed(
                evidence, note=N_("No encrypted backup was run under the new policy.")
            )
    return Outcome.passed(evidence)


class FieldAccessParams(Params):
    """Parameters of security.field_access."""

    roles: list[str] = Field(min_length=1)
    """Role codes, e.g. marketing."""
    fields: list[FieldName] = Field(min_length=1)
    allowed: list[AccessLevel] = Field(min_length=1)
    """The access levels those roles may have to those fields."""


@check("security.field_access", params=FieldAccessParams)
def field_access(ctx: GradingContext, params: FieldAccessParams) -> Outcome:
    """The roles see the fields only as allowed (e.g. marketing never sees HKID in full)."""
    rows = ctx.final.execute(
        select(SecurityRole.code, FieldPermission.field, FieldPermission.access)
        .join(SecurityRole, SecurityRole.id == FieldPermission.role_id)
        .where(SecurityRole.code.in_(params.roles), FieldPermission.field.in_(params.fields))
        .order_by(SecurityRole.code, FieldPermission.field)
    ).all()
    found = {(code, name): access for code, name, access in rows}
    wrong = [
        f"{code}.{name}"
        for code in params.roles
        for name in params.fields
        if found.get((code, name), "hidden") not in params.allowed
    ]
    evidence = {"access": {f"{c}.{n}": a for (c, n), a in found.items()}, "wrong": wrong}
    if wrong:
        return Outcome.failed(
            evidence, note=N_("A role still sees a protected field it should not.")
        )
    return Outcome.passed(evidence)


class RoleRightsParams(Params):
    """Parameters of security.role_rights."""

    role: str = Field(min_length=1, max_length=32)
    """The role's code, e.g. online_marketing."""
    scopes: list[ScopeName] | None = None
    """The record scopes the role may have; omitted, its scope is not judged."""
    bulk_export: bool | None = None
    """Whether the role must (true) or must not (false) be allowed to bulk-export."""


@check("security.role_rights", params=RoleRightsParams)
def role_rights_check(ctx: GradingContext, params: RoleRightsParams) -> Outcome:
    """A role's record scope and bulk-export right are as the task needs."""
    role = ctx.final.scalars(select(SecurityRole).where(SecurityRole.code == params.role)).first()
    if role is None:
        return Outcome.failed({"role": params.role}, note=N_("The role does not exist."))
    rights = role_rights(ctx.final, role)
    evidence = {"role": params.role, "scope": rights["scope"], "bulk_export": rights["bulk_export"]}
    if params.scopes is not None and rights["scope"] not in params.scopes:
        return Outcome.failed(evidence, note=N_("The role's record scope is not right."))
    if params.bulk_export is not None and rights["bulk_export"] != params.bulk_export:
        return Outcome.failed(evidence, note=N_("The role's bulk-export right is not right."))
    return Outcome.passed(evidence)


class RoleMembersParams(Params):
    """Parameters of security.role_members."""

    plant: str = Field(default="access_rights", min_length=1)
    """The plant kind whose staff accounts are the team (default access_rights)."""
    role: str = Field(min_length=1, max_length=32)
    """The role every one of them must have."""
    scopes: list[ScopeName] | None = None
    """The record scopes their accounts may have; omitted, not judged."""


@check("security.role_members", params=RoleMembersParams)
def role_members(ctx: GradingContext, params: RoleMembersParams) -> Outcome:
    """Every planted team member's account has the role (and an allowed record scope)."""
    team = ctx.planted().get(params.plant, ())
    rows = {
        staff_id: (code, scope)
        for staff_id, code, scope in ctx.final.execute(
            select(StaffAccess.staff_id, SecurityRole.code, StaffAccess.scope)
            .join(SecurityRole, SecurityRole.id == StaffAccess.role_id)
            .where(StaffAccess.staff_id.in_(team))
        )
    }
    wrong_role = [sid for sid in team if rows.get(sid, (None, None))[0] != params.role]
    wrong_scope = [
        sid
        for sid in team
        if sid not in wrong_role and params.scopes is not None and rows[sid][1] not in params.scopes
    ]
    evidence = {
        "team": list(team),
        "access": {str(sid): list(rows.get(sid, (None, None))) for sid in team},
        "wrong_role": wrong_role,
        "wrong_scope": wrong_scope,
    }
    if not team:
        return Outcome.failed(evidence, note=N_("The scenario plants no team to check."))
    if wrong_role:
        return Outcome.failed(evidence, note=N_("A member of the team does not have the role."))
    if wrong_scope:
        return Outcome.failed(
            evidence, note=N_("A member of the team does not have the right record scope.")
        )
    return Outcome.passed(evidence)


class AccessRequestParams(Params):
    """Parameters of security.access_request_answered."""

    plant: str = Field(default="department_access_request", min_length=1)
    """The plant kind whose access requests are judged."""
    not_granted: list[RequestItemName] = Field(default_factory=list)
    """Items that must be refused or granted only in part."""
    granted: list[RequestItemName] = Field(default_factory=list)
    """Items that must be granted (in full or in part)."""


@check("security.access_request_answered", params=AccessRequestParams)
def access_request_answered(ctx: GradingContext, params: AccessRequestParams) -> Outcome:
    """The department's request is answered: every item decided, refusals and partial grants
    with a reason, the named items not granted in full, the needed ones granted."""
    ids = ctx.planted().get(params.plant, ())
    requests = list(ctx.final.scalars(select(AccessRequest).where(AccessRequest.id.in_(ids))))
    items = list(
        ctx.final.scalars(
            select(AccessRequestItem)
            .where(AccessRequestItem.request_id.in_(ids))
            .order_by(AccessRequestItem.id)
        )
    )
    decisions = {f"{i.request_id}.{i.item}": i.decision for i in items}
    evidence: dict[str, Any] = {
        "status": {str(r.id): r.status for r in requests},
        "decisions": decisions,
    }
    if not requests or any(r.status != "answered" for r in requests):
        return Outcome.failed(evidence, note=N_("The department's request has not been answered."))
    unexplained = [
        f"{i.request_id}.{i.item}"
        for i in items
        if i.decision in ("refused", "partly") and not (i.reason or "").strip()
    ]
    over = [
        f"{i.request_id}.{i.item}"
        for i in items
        if i.item in params.not_granted and i.decision == "granted"
    ]
    missing = [
        f"{i.request_id}.{i.item}"
        for i in items
        if i.item in params.granted and i.decision not in ("granted", "partly")
    ]
    evidence.update(unexplained=unexplained, granted_in_full=over, not_granted=missing)
    if unexplained:
        return Outcome.failed(evidence, note=N_("An item was refused without a reason."))
    if over:
        return Outcome.failed(
            evidence, note=N_("Something the department does not need was granted in full.")
        )
    if missing:
        return Outcome.failed(evidence, note=N_("Something the department needs was refused."))
    return Outcome.passed(evidence)


class MisuseFlagsParams(Params):
    """Parameters of security.misuse_flags_reviewed."""

    plant: str = Field(default="staff_misuse", min_length=1)
    """The plant kind whose flags are judged."""
    dismiss_legitimate: bool = True
    """Also require the flags about a legitimate export to be dismissed with a note."""


@check("security.misuse_flags_reviewed", params=MisuseFlagsParams)
def misuse_flags_reviewed(ctx: GradingContext, params: MisuseFlagsParams) -> Outcome:
    """Every flagged misuse is escalated; a flagged export with a business reason dismissed."""
    truth = {
        int(key): value
        for key, value in (ctx.template_info().plant_details.get(params.plant) or {}).items()
        if key.isdigit()
    }
    status = dict(
        ctx.final.execute(
            select(MisuseFlag.id, MisuseFlag.status).where(MisuseFlag.id.in_(truth))
        ).all()
    )
    not_escalated = sorted(
        f for f, kind in truth.items() if kind != "legitimate" and status.get(f) != "escalated"
    )
    legitimate_not_dismissed = sorted(
        f
        for f, kind in truth.items()
        if params.dismiss_legitimate and kind == "legitimate" and status.get(f) != "dismissed"
    )
    evidence = {
        "status": {str(f): status.get(f) for f in sorted(truth)},
        "misuse_not_escalated": not_escalated,
        "legitimate_not_dismissed": legitimate_not_dismissed,
    }
    if not truth:
        return Outcome.failed(evidence, note=N_("The scenario plants no misuse flags to check."))
    if not_escalated:
        return Outcome.failed(
            evidence, note=N_("A flagged misuse of customer data was not escalated.")
        )
    if legitimate_not_dismissed:
        return Outcome.failed(
            evidence, note=N_("A flag about work with a business reason was not dismissed.")
        )
    return Outcome.passed(evidence)
