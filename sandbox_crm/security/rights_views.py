"""Authorisation-rights pages: one role's rights (fields, record scope, bulk export) set in one
form, departments' access requests answered item by item, and staff-misuse flags reviewed.

Each form posts to one operation and redirects; a refusal is shown beside the form and audited.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from sandbox_crm.i18n import N_
from sandbox_crm.models import StaffUser
from sandbox_crm.security.fields import ALL_FIELDS, FIELD_LABELS
from sandbox_crm.security.models import (
    AccessRequest,
    AccessRequestItem,
    MisuseFlag,
    SecurityRole,
    StaffAccess,
    StaffActivity,
)
from sandbox_crm.security.rights import (
    CloseAccessRequestArgs,
    DecideAccessRequestItemArgs,
    ReviewMisuseFlagArgs,
    close_access_request,
    decide_access_request_item,
    review_misuse_flag,
    role_rights,
    set_role_rights,
)
from sandbox_crm.security.views import PER_PAGE, _choices, code_label
from sandbox_crm.web.core import (
    CrmNotFound,
    Pager,
    actor,
    bp,
    db,
    get_or_404,
    submit_form,
)
from sandbox_crm.web.forms import limits, options
from sandbox_crm.web.i18n import L_

SCOPE_CODES = ("all", "region", "branch", "own")
ACCESS_CODES = ("full", "masked", "hidden")


# --- one role's rights ------------------------------------------------------------------------


class RoleRightsForm(FlaskForm):
    """A role's record scope, bulk-export right and, below, one select per protected field."""

    scope = SelectField(L_("Record scope"), choices=_choices(SCOPE_CODES), validate_choice=False)
    bulk_export = BooleanField(L_("May export customer data in bulk"))


for _name in ALL_FIELDS:
    setattr(
        RoleRightsForm,
        _name,
        SelectField(L_(FIELD_LABELS[_name]), choices=_choices(ACCESS_CODES), validate_choice=False),
    )


def _role_context(role: SecurityRole, **extra: Any) -> dict[str, Any]:
    rights = role_rights(db(), role)
    form = extra.pop("form", None) or RoleRightsForm(data=rights)
    members = db().scalar(
        select(func.count()).select_from(StaffAccess).where(StaffAccess.role_id == role.id)
    )
    return {
        "role": role,
        "rights": rights,
        "form": form,
        "fields": ALL_FIELDS,
        "members": members or 0,
        "code_label": code_label,
        **extra,
    }


@bp.get("/security/roles/<int:role_id>")
def security_role(role_id: int) -> str:
    """One role's rights: each field's access, its record scope and bulk-export right."""
    role = get_or_404(SecurityRole, role_id, "role")
    return render_template("crm/security_role.html", **_role_context(role))


@bp.post("/security/roles/<int:role_id>")
def security_role_set(role_id: int) -> Response | tuple[str, int]:
    """Set the role's rights through set_role_rights."""
    role = get_or_404(SecurityRole, role_id, "role")
    form = RoleRightsForm()

    def run() -> Any:
        values = {name: getattr(form, name).data for name in ALL_FIELDS}
        return set_role_rights(
            db(),
            actor(),
            role=role.code,
            scope=form.scope.data,
            bulk_export=bool(form.bulk_export.data),
            **values,
        )

    return submit_form(
        form,
        "set_role_rights",
        run,
        N_("The role's rights are saved."),
        template="crm/security_role.html",
        context=lambda: _role_context(role, form=form),
        endpoint="crm.security_role",
        entity=("security_role", role_id),
        role_id=role_id,
    )


# --- departments' access requests -------------------------------------------------------------


class DecideItemForm(FlaskForm):
    """The decision on one item of an access request."""

    decision = SelectField(
        L_("Decision"), choices=_choices(("granted", "partly", "refused")), validate_choice=False
    )
    grant = SelectField(
        L_("If granted in part"),
        choices=[*options([("", "—")]), *_choices(("masked", "region", "branch", "own"))],
        validate_choice=False,
    )
    reason = StringField(
        L_("Reason (required to refuse or grant in part)"),
        render_kw=limits(DecideAccessRequestItemArgs, "reason"),
    )


class ReplyForm(FlaskForm):
    """The reply that closes an access request."""

    reply = TextAreaField(
        L_("Reply to the department"), render_kw=limits(CloseAccessRequestArgs, "reply")
    )


@bp.get("/security/requests")
def security_requests() -> str:
    """Departments' access requests, open ones first."""
    session = db()
    total = session.scalar(select(func.count()).select_from(AccessRequest)) or 0
    pager = Pager(Pager.requested_page(), PER_PAGE, total)
    if pager.page > pager.pages:
        pager = Pager(pager.pages, PER_PAGE, total)
    requests = list(
        session.scalars(
            select(AccessRequest)
            .order_by(AccessRequest.status.desc(), AccessRequest.received_at.desc())
            .offset(pager.offset)
            .limit(PER_PAGE)
        )
    )
    return render_template(
        "crm/security_requests.html", requests=requests, pager=pager, code_label=code_label
    )


def _prefix(request_item_id: int) -> str:
    """Each item's form has its own field names and ids on the page."""
    return f"item{request_item_id}"


def _request_context(request: AccessRequest, **extra: Any) -> dict[str, Any]:
    items = list(
        db().scalars(
            select(AccessRequestItem)
            .where(AccessRequestItem.request_id == request.id)
            .order_by(AccessRequestItem.id)
        )
    )
    forms = extra.pop("forms", {})
    return {
        "request": request,
        "items": items,
        "rights": role_rights(db(), request.role),
        "forms": {
            i.id: forms.get(i.id) or DecideItemForm(prefix=_prefix(i.id), decision=i.decision)
            for i in items
        },
        "reply_form": extra.pop("reply_form", None) or ReplyForm(),
        "code_label": code_label,
        **extra,
    }


@bp.get("/security/requests/<int:request_id>")
def security_request(request_id: int) -> str:
    """One access request: what was asked and why, each item's decision, and the reply."""
    request = get_or_404(AccessRequest, request_id, "access request")
    return render_template("crm/security_request.html", **_request_context(request))


@bp.post("/security/requests/<int:request_id>/items/<int:request_item_id>")
def security_request_item(request_id: int, request_item_id: int) -> Response | tuple[str, int]:
    """Decide one item through decide_access_request_item."""
    request = get_or_404(AccessRequest, request_id, "access request")
    item = get_or_404(AccessRequestItem, request_item_id, "access request item")
    if item.request_id != request.id:
        raise CrmNotFound("access request item")
    form = DecideItemForm(prefix=_prefix(request_item_id))

    def run() -> Any:
        return decide_access_request_item(
            db(),
            actor(),
            request_id=request_id,
            item=item.item,
            decision=form.decision.data,
            grant=form.grant.data or None,
            reason=form.reason.data or "",
        )

    return submit_form(
        form,
        "decide_access_request_item",
        run,
        N_("The decision is recorded."),
        template="crm/security_request.html",
        context=lambda: _request_context(request, forms={request_item_id: form}),
        endpoint="crm.security_request",
        entity=("access_request", request_id),
        request_id=request_id,
    )


@bp.post("/security/requests/<int:request_id>/close")
def security_request_close(request_id: int) -> Response | tuple[str, int]:
    """Answer the request through close_access_request."""
    request = get_or_404(AccessRequest, request_id, "access request")
    form = ReplyForm()

    def run() -> Any:
        return close_access_request(
            db(), actor(), request_id=request_id, reply=form.reply.data or ""
        )

    return submit_form(
        form,
        "close_access_request",
        run,
        N_("The request is answered."),
        template="crm/security_request.html",
        context=lambda: _request_context(request, reply_form=form),
        endpoint="crm.security_request",
        entity=("access_request", request_id),
        request_id=request_id,
    )


# --- staff misuse flags -----------------------------------------------------------------------


class ReviewFlagForm(FlaskForm):
    """Escalate or dismiss a misuse flag, with a note."""

    decision = SelectField(
        L_("Decision"), choices=_choices(("escalated", "dismissed")), validate_choice=False
    )
    note = StringField(L_("Note"), render_kw=limits(ReviewMisuseFlagArgs, "note"))


@bp.get("/security/misuse")
def security_misuse() -> str:
    """Staff-misuse flags raised from the access log, open ones first."""
    session = db()
    total = session.scalar(select(func.count()).select_from(MisuseFlag)) or 0
    pager = Pager(Pager.requested_page(), PER_PAGE, total)
    if pager.page > pager.pages:
        pager = Pager(pager.pages, PER_PAGE, total)
    flags = list(
        session.scalars(
            select(MisuseFlag)
            .order_by((MisuseFlag.status == "open").desc(), MisuseFlag.raised_at.desc())
            .offset(pager.offset)
            .limit(PER_PAGE)
        )
    )
    return render_template(
        "crm/security_misuse.html", flags=flags, pager=pager, code_label=code_label
    )


def _flag_context(flag: MisuseFlag, **extra: Any) -> dict[str, Any]:
    activity = list(
        db().scalars(
            select(StaffActivity)
            .where(StaffActivity.staff_id == flag.staff_id)
            .order_by(StaffActivity.occurred_at.desc())
            .limit(PER_PAGE)
        )
    )
    reviewer = db().get(StaffUser, flag.reviewed_by_id) if flag.reviewed_by_id else None
    return {
        "flag": flag,
        "activity": activity,
        "reviewer": reviewer,
        "form": extra.pop("form", None) or ReviewFlagForm(),
        "code_label": code_label,
        **extra,
    }


@bp.get("/security/misuse/<int:flag_id>")
def security_misuse_flag(flag_id: int) -> str:
    """One flag with the staff member's recent access log, and its review."""
    flag = get_or_404(MisuseFlag, flag_id, "misuse flag")
    return render_template("crm/security_misuse_flag.html", **_flag_context(flag))


@bp.post("/security/misuse/<int:flag_id>")
def security_misuse_review(flag_id: int) -> Response | tuple[str, int]:
    """Escalate or dismiss the flag through review_misuse_flag."""
    flag = get_or_404(MisuseFlag, flag_id, "misuse flag")
    form = ReviewFlagForm()

    def run() -> Any:
        return review_misuse_flag(
            db(), actor(), flag_id=flag_id, decision=form.decision.data, note=form.note.data or ""
        )

    return submit_form(
        form,
        "review_misuse_flag",
        run,
        N_("The flag is reviewed."),
        template="crm/security_misuse_flag.html",
        context=lambda: _flag_context(flag, form=form),
        endpoint="crm.security_misuse_flag",
        entity=("misuse_flag", flag_id),
        flag_id=flag_id,
    )
