"""Security pages: staff accounts (disable, role and scope), field permissions, remote
branches' allow-lists, and the backup policy with the backups run.

Each page that changes data parses its form, calls one operation and redirects; a refusal is
shown beside the form and audited.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional

from sandbox_crm.i18n import N_
from sandbox_crm.models import Branch, Department, StaffUser
from sandbox_crm.security.fields import ALL_FIELDS, FIELD_LABELS
from sandbox_crm.security.models import (
    BackupPolicy,
    BackupRun,
    FieldPermission,
    RoleRights,
    SecurityRole,
    StaffAccess,
)
from sandbox_crm.security.operations import (
    DisableStaffAccountArgs,
    SetIpAllowListArgs,
    disable_staff_account,
    run_backup,
    set_backup_policy,
    set_field_permission,
    set_ip_allow_list,
    set_staff_access,
)
from sandbox_crm.web.core import (
    Pager,
    RecordPage,
    actor,
    bp,
    db,
    get_or_404,
    submit_form,
)
from sandbox_crm.web.forms import ConfirmForm, limits, options
from sandbox_crm.web.i18n import L_, translate

PER_PAGE = 25

# The codes the security pages show, marked so that they are translated.
CODE_LABELS = {
    "all": N_("All customers"),
    "region": N_("Own region"),
    "branch": N_("Own branch"),
    "own": N_("Own customers"),
    "full": N_("Full"),
    "masked": N_("Masked"),
    "hidden": N_("Hidden"),
    "off": N_("Off"),
    "daily": N_("Daily"),
    "weekly": N_("Weekly"),
    **FIELD_LABELS,
    "scope": N_("Record scope"),
    "bulk_export": N_("Bulk export"),
    "yes": N_("Yes"),
    "pending": N_("Pending"),
    "granted": N_("Granted"),
    "partly": N_("Granted in part"),
    "refused": N_("Refused"),
    "answered": N_("Answered"),
    "open": N_("Open"),
    "escalated": N_("Escalated"),
    "dismissed": N_("Dismissed"),
    "bulk_lookup": N_("Bulk look-ups"),
    "sent_outside": N_("Sent outside the company"),
    "lookup": N_("Look-up"),
    "export": N_("Export"),
    "send": N_("Sent by e-mail"),
}


def code_label(code: str | None) -> str:
    """A code's label in the reader's language (the code itself if it has none)."""
    return translate(CODE_LABELS[code]) if code in CODE_LABELS else (code or "")


def _choices(codes: Any) -> list[Any]:
    return options((c, CODE_LABELS[c]) for c in codes)


class DisableForm(FlaskForm):
    """Disable an account, with the reason."""

    reason = StringField(L_("Reason"), render_kw=limits(DisableStaffAccountArgs, "reason"))


class AccessForm(FlaskForm):
    """An account's role and record scope."""

    role = SelectField(L_("Role"), validate_choice=False)
    scope = SelectField(
        L_("Record scope"),
        choices=_choices(("all", "region", "branch", "own")),
        validate_choice=False,
    )


class PermissionForm(FlaskForm):
    """How a role sees a protected field."""

    role = SelectField(L_("Role"), validate_choice=False)
    field = SelectField(L_("Field"), choices=_choices(ALL_FIELDS), validate_choice=False)
    access = SelectField(
        L_("Access"), choices=_choices(("full", "masked", "hidden")), validate_choice=False
    )


class AllowListForm(FlaskForm):
    """A branch's allowed addresses."""

    allow_list = StringField(
        L_("Allowed addresses (comma-separated)"),
        render_kw=limits(SetIpAllowListArgs, "allow_list"),
    )


class BackupPolicyForm(FlaskForm):
    """The automatic backup's schedule, retention and encryption."""

    frequency = SelectField(
        L_("Schedule"), choices=_choices(("off", "daily", "weekly")), validate_choice=False
    )
    hour = IntegerField(L_("Hour (0-23)"), validators=[Optional(), NumberRange(0, 23)])
    retention_days = IntegerField(
        L_("Keep backups for (days; empty keeps them forever)"), validators=[Optional()]
    )
    encrypted = BooleanField(L_("Encrypt backups"))


def _role_choices() -> list[Any]:
    roles = db().scalars(select(SecurityRole).order_by(SecurityRole.id))
    return options((r.code, r.name) for r in roles)


# --- accounts ---------------------------------------------------------------------------------


@bp.get("/security")
def security() -> str:
    """Staff accounts with their role, scope, last sign-in and leaving date, a page at a time."""
    session = db()
    total = session.scalar(select(func.count()).select_from(StaffUser)) or 0
    pager = Pager(Pager.requested_page(), PER_PAGE, total)
    if pager.page > pager.pages:
        pager = Pager(pager.pages, PER_PAGE, total)
    rows = session.execute(
        select(StaffUser, StaffAccess, SecurityRole, Department.name)
        .join(Department, Department.id == StaffUser.department_id)
        .outerjoin(StaffAccess, StaffAccess.staff_id == StaffUser.id)
        .outerjoin(SecurityRole, SecurityRole.id == StaffAccess.role_id)
        .order_by(StaffUser.id)
        .offset(pager.offset)
        .limit(PER_PAGE)
    ).all()
    return render_template("crm/security.html", rows=rows, pager=pager, code_label=code_label)


def _account_context(staff_id: int, **extra: Any) -> dict[str, Any]:
    staff = get_or_404(StaffUser, staff_id, "staff account")
    access = db().get(StaffAccess, staff.id)
    access_form = extra.pop("access_form", None) or AccessForm(
        role=access.role.code if access else None, scope=access.scope if access else "own"
    )
    access_form.role.choices = _role_choices()
    return {
        "staff": staff,
        "access": access,
        "disable_form": extra.pop("disable_form", None) or DisableForm(),
        "access_form": access_form,
        "code_label": code_label,
        **extra,
    }


ACCOUNT_PAGE = RecordPage(
    "crm/security_account.html",
    _account_context,
    "staff_user",
    "crm.security_account",
    "staff_id",
)


@bp.get("/security/accounts/<int:staff_id>")
def security_account(staff_id: int) -> str:
    """One staff account: who, role and scope, sign-in and leaving dates, and its actions."""
    return ACCOUNT_PAGE.render(staff_id)


@bp.post("/security/accounts/<int:staff_id>/disable")
def security_account_disable(staff_id: int) -> Response | tuple[str, int]:
    """Disable the account through disable_staff_account."""
    get_or_404(StaffUser, staff_id, "staff account")
    form = DisableForm()

    def run() -> Any:
        return disable_staff_account(
            db(), actor(), staff_id=staff_id, reason=form.reason.data or ""
        )

    message = N_("The account is disabled.")
    return ACCOUNT_PAGE.post_step(
        staff_id, "disable_staff_account", {"disable_form": form}, run, message
    )


@bp.post("/security/accounts/<int:staff_id>/access")
def security_account_access(staff_id: int) -> Response | tuple[str, int]:
    """Set the account's role and record scope through set_staff_access."""
    get_or_404(StaffUser, staff_id, "staff account")
    form = AccessForm()

    def run() -> Any:
        return set_staff_access(
            db(), actor(), staff_id=staff_id, role=form.role.data or "", scope=form.scope.data
        )

    message = N_("The account's access is saved.")
    return ACCOUNT_PAGE.post_step(staff_id, "set_staff_access", {"access_form": form}, run, message)


# --- field permissions ------------------------------------------------------------------------


def _permissions_context(**extra: Any) -> dict[str, Any]:
    session = db()
    roles = list(session.scalars(select(SecurityRole).order_by(SecurityRole.id)))
    found = {(p.role_id, p.field): p.access for p in session.scalars(select(FieldPermission))}
    form = extra.pop("form", None) or PermissionForm()
    form.role.choices = _role_choices()
    shown = {name for _, name in found}
    return {
        "roles": roles,
        "fields": [f for f in ALL_FIELDS if f in shown] or list(ALL_FIELDS[:3]),
        "rights": {r.role_id: r for r in session.scalars(select(RoleRights))},
        "access": found,
        "form": form,
        "code_label": code_label,
        **extra,
    }


@bp.get("/security/permissions")
def security_permissions() -> str:
    """Each role's access to the protected fields, and the form that changes one."""
    return render_template("crm/security_permissions.html", **_permissions_context())


@bp.post("/security/permissions")
def security_permission_set() -> Response | tuple[str, int]:
    """Set one role's access to one field through set_field_permission."""
    form = PermissionForm()

    def run() -> Any:
        return set_field_permission(
            db(), actor(), role=form.role.data or "", field=form.field.data, access=form.access.data
        )

    return submit_form(
        form,
        "set_field_permission",
        run,
        N_("The field permission is saved."),
        template="crm/security_permissions.html",
        context=lambda: _permissions_context(form=form),
        endpoint="crm.security_permissions",
    )


# --- remote branches --------------------------------------------------------------------------


def _branches_context(**extra: Any) -> dict[str, Any]:
    session = db()
    total = session.scalar(select(func.count()).select_from(Branch)) or 0
    pager = Pager(Pager.requested_page(), PER_PAGE, total)
    if pager.page > pager.pages:
        pager = Pager(pager.pages, PER_PAGE, total)
    branches = list(
        session.scalars(
            select(Branch)
            .order_by(Branch.is_remote.desc(), Branch.id)
            .offset(pager.offset)
            .limit(PER_PAGE)
        )
    )
    forms = extra.pop("forms", {})
    return {
        "branches": branches,
        "pager": pager,
        "forms": {
            b.id: forms.get(b.id) or AllowListForm(allow_list=b.ip_allow_list or "")
            for b in branches
        },
        **extra,
    }


@bp.get("/security/branches")
def security_branches() -> str:
    """Branches, remote ones first, with the addresses each may reach the CRM from."""
    return render_template("crm/security_branches.html", **_branches_context())


@bp.post("/security/branches/<int:branch_id>")
def security_branch_allow_list(branch_id: int) -> Response | tuple[str, int]:
    """Set a branch's allow-list through set_ip_allow_list."""
    branch = get_or_404(Branch, branch_id, "branch")
    form = AllowListForm()

    def run() -> Any:
        return set_ip_allow_list(
            db(), actor(), branch_code=branch.code, allow_list=form.allow_list.data or ""
        )

    return submit_form(
        form,
        "set_ip_allow_list",
        run,
        N_("The allow-list is saved."),
        template="crm/security_branches.html",
        context=lambda: _branches_context(forms={branch_id: form}),
        endpoint="crm.security_branches",
        entity=("branch", branch_id),
    )


# --- backups ----------------------------------------------------------------------------------


def _backups_context(**extra: Any) -> dict[str, Any]:
    session = db()
    policy = session.scalars(select(BackupPolicy).order_by(BackupPolicy.id)).first()
    total = session.scalar(select(func.count()).select_from(BackupRun)) or 0
    pager = Pager(Pager.requested_page(), PER_PAGE, total)
    if pager.page > pager.pages:
        pager = Pager(pager.pages, PER_PAGE, total)
    runs = list(
        session.scalars(
            select(BackupRun).order_by(BackupRun.id.desc()).offset(pager.offset).limit(PER_PAGE)
        )
    )
    form = extra.pop("form", None) or BackupPolicyForm(
        frequency=policy.frequency if policy else "off",
        hour=policy.hour if policy else 2,
        retention_days=policy.retention_days if policy else None,
        encrypted=policy.encrypted if policy else False,
    )
    return {
        "policy": policy,
        "runs": runs,
        "pager": pager,
        "form": form,
        "confirm": ConfirmForm(),
        "code_label": code_label,
        **extra,
    }


@bp.get("/security/backups")
def security_backups() -> str:
    """The backup policy and the backups run, newest first."""
    return render_template("crm/security_backups.html", **_backups_context())


@bp.post("/security/backups/policy")
def security_backup_policy() -> Response | tuple[str, int]:
    """Set the backup policy through set_backup_policy."""
    form = BackupPolicyForm()

    def run() -> Any:
        return set_backup_policy(
            db(),
            actor(),
            frequency=form.frequency.data,
            hour=form.hour.data if form.hour.data is not None else 2,
            retention_days=form.retention_days.data,
            encrypted=bool(form.encrypted.data),
        )

    return submit_form(
        form,
        "set_backup_policy",
        run,
        N_("The backup policy is saved."),
        template="crm/security_backups.html",
        context=lambda: _backups_context(form=form),
        endpoint="crm.security_backups",
    )


@bp.post("/security/backups/run")
def security_backup_run() -> Response | tuple[str, int]:
    """Run a backup now through run_backup."""
    return submit_form(
        ConfirmForm(),
        "run_backup",
        lambda: run_backup(db(), actor()),
        N_("The backup has run."),
        template="crm/security_backups.html",
        context=_backups_context,
        endpoint="crm.security_backups",
    )
