"""Case pages: the queue (filters, sort, pages), one case with its history and actions, a new case.

Each action is a small form that calls one operation and redirects; a refusal is shown on the
case page and audited.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from sandbox_crm.cases.models import (
    CaseChannel,
    CaseKind,
    CaseRule,
    CaseUpdate,
    Resolution,
    ServiceCase,
)
from sandbox_crm.cases.operations import (
    CloseCaseArgs,
    EscalateCaseArgs,
    OpenCaseArgs,
    ReplyArgs,
    assign_case,
    close_case,
    escalate_case,
    follow_up_case,
    reply_to_case,
    set_case_status,
    verify_identity,
)
from sandbox_crm.cases.replies import REPLIES
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, SalesOrder, StaffUser
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.requests.models import ACCESS_GROUNDS
from sandbox_crm.web.core import (
    ListView,
    RecordPage,
    actor,
    bp,
    db,
    done,
    failed,
    get_or_404,
    refused,
)
from sandbox_crm.web.forms import code_choices, limits, options
from sandbox_crm.web.i18n import L_, lazy_call, translate

CASE_LIST = ListView(
    source="service_cases",
    filters={"status": "status", "kind": "kind"},
    columns=[
        "case_id",
        "reference",
        "kind",
        "channel",
        "subject",
        "status",
        "due_at",
        "overdue",
        "assigned_to",
        "customer_id",
        "customer_member_no",
        "customer_name",
    ],
    sortable=("reference", "kind", "status", "due_at", "opened_at"),
    default_sort=("due_at", "asc"),
)

# The codes the case pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("Repair"),
    N_("Resizing"),
    N_("Complaint"),
    N_("Enquiry"),
    N_("Warranty claim"),
    N_("Data access request"),
    N_("Walk in"),
    N_("Chat"),
    N_("Review"),
    N_("Open"),
    N_("In progress"),
    N_("Waiting on customer"),
    N_("Escalated"),
    N_("Resolved"),
    N_("Closed"),
    N_("Repaired"),
    N_("Resized"),
    N_("Refunded"),
    N_("Exchanged"),
    N_("Answered"),
    N_("Copy provided"),
    N_("No data held"),
    N_("Refused in writing"),
    N_("No fault found"),
    N_("Withdrawn"),
    N_("Identity document seen"),
    N_("Registered contact confirmed"),
)


class OpenCaseForm(FlaskForm):
    """Open a case for a customer."""

    member_no = StringField(L_("Member no."), render_kw={"required": True, "maxlength": 20})
    kind = SelectField(L_("Kind"), choices=code_choices(CaseKind), validate_choice=False)
    channel = SelectField(L_("Channel"), choices=code_choices(CaseChannel), validate_choice=False)
    subject = StringField(L_("Subject"), render_kw=limits(OpenCaseArgs, "subject"))
    details = TextAreaField(L_("Details"), render_kw=limits(OpenCaseArgs, "details"))
    order_no = StringField(L_("Order no. (optional)"), render_kw=limits(OpenCaseArgs, "order_no"))


class ReplyForm(FlaskForm):
    """Send the customer one of the CRM's replies."""

    reply = SelectField(
        L_("Reply"),
        choices=options((code, lazy_call(translate, r.text)) for code, r in REPLIES.items()),
        validate_choice=False,
    )
    note = TextAreaField(L_("Internal note"), render_kw=limits(ReplyArgs, "note"))


class StatusForm(FlaskForm):
    """Move the case to another status."""

    status = SelectField(
        L_("Status"),
        choices=code_choices(("open", "in_progress", "waiting_on_customer", "resolved")),
        validate_choice=False,
    )
    note = TextAreaField(L_("Note"))


class StaffForm(FlaskForm):
    """Assign or escalate: a member of staff by username, and why."""

    username = StringField(L_("Username"), render_kw=limits(EscalateCaseArgs, "username"))
    reason = TextAreaField(L_("Reason (for an escalation)"))


class FollowUpForm(FlaskForm):
    """The day to follow the case up."""

    follow_up_on = DateField(L_("Follow up on"), validators=[Optional()])
    note = TextAreaField(L_("Note"))


class VerifyForm(FlaskForm):
    """How the requester's identity was verified."""

    method = SelectField(
        L_("Method"),
        choices=code_choices(("identity_document_seen", "registered_contact_confirmed")),
        validate_choice=False,
    )


class CloseForm(FlaskForm):
    """Close the case with its resolution."""

    resolution = SelectField(
        L_("Resolution"), choices=code_choices(Resolution), validate_choice=False
    )
    note = TextAreaField(L_("Resolution note"), render_kw=limits(CloseCaseArgs, "note"))
    ground = SelectField(
        L_("Refusal ground (a refused data access request)"),
        choices=[*options([("", "—")]), *code_choices(sorted(ACCESS_GROUNDS))],
        validate_choice=False,
    )


@bp.get("/cases")
def cases() -> str:
    """The case queue: status and kind filters, sorted by due date, a page at a time."""
    overdue = [{"field": "overdue", "op": "eq", "value": True}]
    extra = overdue if request.args.get("overdue") == "1" else []
    return render_template("crm/cases.html", q="", **CASE_LIST.context(extra))


def _page_context(case_id: int, **forms: Any) -> dict[str, Any]:
    session = db()
    case = get_or_404(ServiceCase, case_id, "case")
    updates = session.execute(
        select(CaseUpdate, StaffUser.full_name)
        .outerjoin(StaffUser, StaffUser.id == CaseUpdate.by_id)
        .where(CaseUpdate.case_id == case.id)
        .order_by(CaseUpdate.at, CaseUpdate.id)
    ).all()
    context = {
        "case": case,
        "customer": session.get(Customer, case.customer_id),
        "order": session.get(SalesOrder, case.order_id) if case.order_id else None,
        "assignee": session.get(StaffUser, case.assigned_to_id) if case.assigned_to_id else None,
        "updates": updates,
        "rule": session.get(CaseRule, case.rule_id) if case.rule_id else None,
        "rule_names": {i: n for i, n in session.execute(select(CaseRule.id, CaseRule.name))},
        "replies": REPLIES,
        "reply_form": ReplyForm(),
        "status_form": StatusForm(),
        "staff_form": StaffForm(),
        "follow_up_form": FollowUpForm(),
        "verify_form": VerifyForm(),
        "close_form": CloseForm(),
    }
    context.update(forms)
    return context


CASE_PAGE = RecordPage("crm/case.html", _page_context, "service_case", "crm.case", "case_id")


@bp.get("/cases/<int:case_id>")
def case(case_id: int) -> str:
    """One case: its facts, history and the actions an open case allows."""
    return CASE_PAGE.render(case_id)


@bp.route("/cases/new", methods=["GET", "POST"])
def case_new() -> Response | str | tuple[str, int]:
    """Open a case through open_case."""
    form = OpenCaseForm()
    if request.method == "GET":
        form.member_no.data = request.args.get("member_no", "")[:20]
        return render_template("crm/case_new.html", form=form)
    if not form.validate_on_submit():
        return failed("crm/case_new.html", form=form)
    try:
        created = apply_operation(
            db(),
            actor(),
            "open_case",
            {
                "member_no": (form.member_no.data or "").strip(),
                "kind": form.kind.data,
                "channel": form.channel.data,
                "subject": (form.subject.data or "").strip(),
                "details": form.details.data or "",
                "order_no": (form.order_no.data or "").strip() or None,
            },
        )
    except OperationError as exc:
        return refused("open_case", exc, "crm/case_new.html", exc.message, form=form)
    return done(translate("Case opened."), "crm.case", case_id=created.id)


# A step of working a case: its operation, the form it posts (by name in the page), the message.
_STEPS: dict[str, tuple[str, Any, str, type[FlaskForm], str]] = {
    "reply": ("reply_to_case", reply_to_case, "reply_form", ReplyForm, N_("Reply recorded.")),
    "status": (
        "set_case_status",
        set_case_status,
        "status_form",
        StatusForm,
        N_("Status changed."),
    ),
    "assign": ("assign_case", assign_case, "staff_form", StaffForm, N_("Case assigned.")),
    "escalate": ("escalate_case", escalate_case, "staff_form", StaffForm, N_("Case escalated.")),
    "follow_up": (
        "follow_up_case",
        follow_up_case,
        "follow_up_form",
        FollowUpForm,
        N_("Follow-up set."),
    ),
    "verify": (
        "verify_identity",
        verify_identity,
        "verify_form",
        VerifyForm,
        N_("Identity verification recorded."),
    ),
    "close": ("close_case", close_case, "close_form", CloseForm, N_("Case closed.")),
}


def _values(step: str, form: Any) -> dict[str, Any]:
    """The operation's arguments from the step's posted form."""
    if step == "reply":
        return {"reply": form.reply.data, "note": form.note.data or ""}
    if step == "status":
        return {"status": form.status.data, "note": form.note.data or ""}
    if step == "follow_up":
        return {"follow_up_on": form.follow_up_on.data, "note": form.note.data or ""}
    if step in ("assign", "escalate"):
        values = {"username": (form.username.data or "").strip()}
        if step == "escalate":
            values["reason"] = (form.reason.data or "").strip()
        return values
    if step == "verify":
        return {"method": form.method.data}
    return {
        "resolution": form.resolution.data,
        "note": (form.note.data or "").strip(),
        "ground": form.ground.data or None,
    }


@bp.post(
    "/cases/<int:case_id>/<any(reply, status, assign, escalate, follow_up, verify, close):step>"
)
def case_action(case_id: int, step: str) -> Response | tuple[str, int]:
    """One step of working a case, through its operation."""
    get_or_404(ServiceCase, case_id, "case")
    name, function, form_name, form_class, message = _STEPS[step]
    form = form_class()

    def run() -> Any:
        return function(db(), actor(), case_id=case_id, **_values(step, form))

    return CASE_PAGE.post_step(case_id, name, {form_name: form}, run, message)
