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
    actor,
    bp,
    choice_filters,
    db,
    done,
    failed,
    get_or_404,
    list_page,
    refused,
)
from sandbox_crm.web.forms import limits, options
from sandbox_crm.web.i18n import L_, lazy_call, translate
from sandbox_crm.web.presentation import label

PER_PAGE = 50
LIST_COLUMNS = [
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
]
SORTABLE = ("reference", "kind", "status", "due_at", "opened_at")
DEFAULT_SORT = ("due_at", "asc")
LIST_FILTERS = {"status": "status", "kind": "kind"}

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


def _choices(values: Any) -> list[Any]:
    return options((str(v), lazy_call(label, str(v))) for v in values)


class OpenCaseForm(FlaskForm):
    """Open a case for a customer."""

    member_no = StringField(L_("Member no."), render_kw={"required": True, "maxlength": 20})
    kind = SelectField(L_("Kind"), choices=_choices(CaseKind), validate_choice=False)
    channel = SelectField(L_("Channel"), choices=_choices(CaseChannel), validate_choice=False)
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
        choices=_choices(("open", "in_progress", "waiting_on_customer", "resolved")),
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
        choices=_choices(("identity_document_seen", "registered_contact_confirmed")),
        validate_choice=False,
    )


class CloseForm(FlaskForm):
    """Close the case with its resolution."""

    resolution = SelectField(L_("Resolution"), choices=_choices(Resolution), validate_choice=False)
    note = TextAreaField(L_("Resolution note"), render_kw=limits(CloseCaseArgs, "note"))
    ground = SelectField(
        L_("Refusal ground (a refused data access request)"),
        choices=[*options([("", "—")]), *_choices(sorted(ACCESS_GROUNDS))],
        validate_choice=False,
    )


@bp.get("/cases")
def cases() -> str:
    """The case queue: status and kind filters, sorted by due date, a page at a time."""
    filters, conditions = choice_filters("service_cases", LIST_FILTERS)
    if request.args.get("overdue") == "1":
        conditions.append({"field": "overdue", "op": "eq", "value": True})
    listing = list_page(
        "service_cases",
        conditions,
        columns=LIST_COLUMNS,
        sortable=SORTABLE,
        default_sort=DEFAULT_SORT,
        per_page=PER_PAGE,
    )
    return render_template(
        "crm/cases.html", listing=listing, q="", filters=filters, filtered=bool(conditions)
    )


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


@bp.get("/cases/<int:case_id>")
def case(case_id: int) -> str:
    """One case: its facts, history and the actions an open case allows."""
    return render_template("crm/case.html", **_page_context(case_id))


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


def _call(action: str) -> tuple[str, Any, dict[str, Any], str, dict[str, Any]]:
    """The operation an action calls, its arguments, success message and the posted form."""
    if action == "reply":
        form = ReplyForm()
        return (
            "reply_to_case",
            reply_to_case,
            {"reply": form.reply.data, "note": form.note.data or ""},
            N_("Reply recorded."),
            {"reply_form": form},
        )
    if action == "status":
        form = StatusForm()
        return (
            "set_case_status",
            set_case_status,
            {"status": form.status.data, "note": form.note.data or ""},
            N_("Status changed."),
            {"status_form": form},
        )
    if action in ("assign", "escalate"):
        form = StaffForm()
        values = {"username": (form.username.data or "").strip()}
        if action == "assign":
            return "assign_case", assign_case, values, N_("Case assigned."), {"staff_form": form}
        values["reason"] = (form.reason.data or "").strip()
        return "escalate_case", escalate_case, values, N_("Case escalated."), {"staff_form": form}
    if action == "follow_up":
        form = FollowUpForm()
        return (
            "follow_up_case",
            follow_up_case,
            {"follow_up_on": form.follow_up_on.data, "note": form.note.data or ""},
            N_("Follow-up set."),
            {"follow_up_form": form},
        )
    if action == "verify":
        form = VerifyForm()
        return (
            "verify_identity",
            verify_identity,
            {"method": form.method.data},
            N_("Identity verification recorded."),
            {"verify_form": form},
        )
    form = CloseForm()
    return (
        "close_case",
        close_case,
        {
            "resolution": form.resolution.data,
            "note": (form.note.data or "").strip(),
            "ground": form.ground.data or None,
        },
        N_("Case closed."),
        {"close_form": form},
    )


@bp.post(
    "/cases/<int:case_id>/<any(reply, status, assign, escalate, follow_up, verify, close):step>"
)
def case_action(case_id: int, step: str) -> Response | tuple[str, int]:
    """One step of working a case, through its operation."""
    get_or_404(ServiceCase, case_id, "case")
    name, function, values, message, forms = _call(step)
    if not next(iter(forms.values())).validate_on_submit():
        return failed("crm/case.html", **_page_context(case_id, **forms))
    try:
        function(db(), actor(), case_id=case_id, **values)
    except OperationError as exc:
        context = _page_context(case_id, **forms)
        return refused(
            name, exc, "crm/case.html", exc.message, entity=("service_case", case_id), **context
        )
    return done(translate(message), "crm.case", case_id=case_id)
