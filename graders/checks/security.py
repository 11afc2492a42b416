"""Checks on the security settings the trainee left: leavers' accounts, remote branches'
allow-lists, the backup policy and the field permissions of roles.

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
from sandbox_crm.security.models import BackupPolicy, BackupRun, FieldPermission, SecurityRole
from sandbox_crm.security.operations import parse_allow_list

AccessLevel = Literal["full", "masked", "hidden"]


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
    fields: list[Literal["hkid", "date_of_birth", "spend_12m"]] = Field(min_length=1)
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
