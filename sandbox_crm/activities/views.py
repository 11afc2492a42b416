"""Activity and hand-off pages: the lists (filters, sort, pages) and the forms that add to them.

The contact form has the call script's opt-out check beside it: checking shows what the opt-out
list says before the call is made or logged.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import Optional

from sandbox_crm.activities.handoffs import PURPOSES, SHAREABLE_FIELDS
from sandbox_crm.activities.models import ActivityKind, ActivityPurpose, HandoffDepartment, Outcome
from sandbox_crm.activities.operations import (
    CLEAR,
    CreateHandoffArgs,
    LogActivityArgs,
    create_handoff,
)
from sandbox_crm.i18n import N_
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.web.core import ListView, actor, bp, db, done, failed, refused
from sandbox_crm.web.forms import code_choices, limits, options
from sandbox_crm.web.i18n import L_, lazy_call, translate

PER_PAGE = 50
ACTIVITY_COLUMNS = [
    "activity_id",
    "at",
    "kind",
    "purpose",
    "summary",
    "outcome",
    "next_step",
    "opt_out_screen",
    "case_reference",
    "customer_id",
    "customer_member_no",
    "customer_name",
]
HANDOFF_COLUMNS = [
    "handoff_id",
    "created_at",
    "department",
    "purpose",
    "kind",
    "subject",
    "status",
    "due_on",
    "case_reference",
    "customer_member_no",
]

# The codes the pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("Call inbound"),
    N_("Call outbound"),
    N_("Visit"),
    N_("Service"),
    N_("Marketing"),
    N_("Follow up needed"),
    N_("No answer"),
    N_("Left message"),
    N_("Interested"),
    N_("Not interested"),
    N_("Promotion"),
    N_("Planning"),
    N_("Human resources"),
    N_("Task"),
    N_("Note"),
    N_("Clear"),
)


class ActivityForm(FlaskForm):
    """Log a contact with a customer."""

    member_no = StringField(L_("Member no."), render_kw={"required": True, "maxlength": 20})
    kind = SelectField(L_("Kind"), choices=code_choices(ActivityKind), validate_choice=False)
    purpose = SelectField(
        L_("Purpose"), choices=code_choices(ActivityPurpose), validate_choice=False
    )
    summary = StringField(L_("Summary"), render_kw=limits(LogActivityArgs, "summary"))
    outcome = SelectField(L_("Outcome"), choices=code_choices(Outcome), validate_choice=False)
    next_step = StringField(L_("Next step"), render_kw=limits(LogActivityArgs, "next_step"))
    next_step_on = DateField(L_("Next step on"), validators=[Optional()])
    case_reference = StringField(L_("Case reference (optional)"), render_kw={"maxlength": 16})


class OptOutForm(FlaskForm):
    """The call script's check of the opt-out list."""

    member_no = StringField(L_("Member no."), render_kw={"required": True, "maxlength": 20})
    channel = SelectField(
        L_("Channel"),
        choices=code_choices(("phone", "sms", "email", "post")),
        validate_choice=False,
    )


class HandoffForm(FlaskForm):
    """Hand a task or note to another department."""

    department = SelectField(
        L_("Department"), choices=code_choices(HandoffDepartment), validate_choice=False
    )
    purpose = SelectField(
        L_("Purpose"),
        choices=options((code, lazy_call(translate, p[1])) for code, p in PURPOSES.items()),
        validate_choice=False,
    )
    kind = SelectField(L_("Kind"), choices=code_choices(("task", "note")), validate_choice=False)
    subject = StringField(L_("Subject"), render_kw=limits(CreateHandoffArgs, "subject"))
    case_reference = StringField(L_("Case reference"), render_kw={"maxlength": 16})
    member_no = StringField(L_("Member no. (if no case)"), render_kw={"maxlength": 20})
    fields = SelectMultipleField(
        L_("Fields to share"),
        choices=options((k, lazy_call(translate, v)) for k, v in SHAREABLE_FIELDS.items()),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        validate_choice=False,
    )
    due_on = DateField(L_("Due on"), validators=[Optional()])


ACTIVITY_LIST = ListView(
    source="activities",
    filters={"kind": "kind", "purpose": "purpose"},
    columns=ACTIVITY_COLUMNS,
    sortable=("at", "kind", "purpose", "outcome"),
    default_sort=("at", "desc"),
    per_page=PER_PAGE,
)


@bp.get("/activities")
def activities() -> str:
    """The activity log with kind and purpose filters, newest first, a page at a time."""
    return render_template("crm/activities.html", **ACTIVITY_LIST.context())


def _activity_context(**changes: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"form": ActivityForm(), "check_form": OptOutForm(), "screen": None}
    context.update(changes)
    return context


@bp.route("/activities/new", methods=["GET", "POST"])
def activity_new() -> Response | str | tuple[str, int]:
    """Log a contact through log_activity."""
    form = ActivityForm()
    if request.method == "GET":
        form.member_no.data = request.args.get("member_no", "")[:20]
        form.case_reference.data = request.args.get("case_reference", "")[:16]
        check_form = OptOutForm()
        check_form.member_no.data = form.member_no.data
        return render_template(
            "crm/activity_new.html", **_activity_context(form=form, check_form=check_form)
        )
    if not form.validate_on_submit():
        return failed("crm/activity_new.html", **_activity_context(form=form))
    try:
        apply_operation(
            db(),
            actor(),
            "log_activity",
            {
                "member_no": (form.member_no.data or "").strip(),
                "kind": form.kind.data,
                "purpose": form.purpose.data,
                "summary": (form.summary.data or "").strip(),
                "outcome": form.outcome.data,
                "next_step": (form.next_step.data or "").strip(),
                "next_step_on": form.next_step_on.data,
                "case_reference": (form.case_reference.data or "").strip() or None,
            },
        )
    except OperationError as exc:
        return refused(
            "log_activity",
            exc,
            "crm/activity_new.html",
            exc.message,
            **_activity_context(form=form),
        )
    return done(translate("Contact logged."), "crm.activities")


@bp.post("/activities/check")
def activity_check() -> str | tuple[str, int]:
    """Run the call script's opt-out check and show what it says beside the contact form."""
    check_form = OptOutForm()
    form = ActivityForm(formdata=None)
    form.member_no.data = check_form.member_no.data
    if not check_form.validate_on_submit():
        return failed(
            "crm/activity_new.html", **_activity_context(form=form, check_form=check_form)
        )
    try:
        checked = apply_operation(
            db(),
            actor(),
            "check_opt_out",
            {
                "member_no": (check_form.member_no.data or "").strip(),
                "channel": check_form.channel.data,
            },
        )
    except OperationError as exc:
        return refused(
            "check_opt_out",
            exc,
            "crm/activity_new.html",
            exc.message,
            **_activity_context(form=form, check_form=check_form),
        )
    db().commit()
    return render_template(
        "crm/activity_new.html",
        **_activity_context(form=form, check_form=check_form, screen=checked.result, clear=CLEAR),
    )


HANDOFF_LIST = ListView(
    source="handoffs",
    filters={"department": "department"},
    columns=HANDOFF_COLUMNS,
    sortable=("created_at", "department", "status", "due_on"),
    default_sort=("created_at", "desc"),
    per_page=PER_PAGE,
)


@bp.get("/handoffs")
def handoffs() -> str:
    """Hand-offs with a department filter, newest first, a page at a time."""
    return render_template("crm/handoffs.html", **HANDOFF_LIST.context())


@bp.route("/handoffs/new", methods=["GET", "POST"])
def handoff_new() -> Response | str | tuple[str, int]:
    """Hand off a task or note through create_handoff."""
    form = HandoffForm()
    context = {"form": form, "purposes": PURPOSES, "fields": SHAREABLE_FIELDS}
    if request.method == "GET":
        form.case_reference.data = request.args.get("case_reference", "")[:16]
        return render_template("crm/handoff_new.html", **context)
    if not form.validate_on_submit():
        return failed("crm/handoff_new.html", **context)
    try:
        create_handoff(
            db(),
            actor(),
            department=form.department.data,
            purpose=form.purpose.data,
            kind=form.kind.data,
            subject=(form.subject.data or "").strip(),
            case_reference=(form.case_reference.data or "").strip() or None,
            member_no=(form.member_no.data or "").strip() or None,
            fields=list(form.fields.data or []),
            due_on=form.due_on.data,
        )
    except OperationError as exc:
        return refused("create_handoff", exc, "crm/handoff_new.html", exc.message, **context)
    return done(translate("Hand-off sent."), "crm.handoffs")
