"""Request pages: the deadline view (days left, overdue), one request with its copy and actions,
and the form that logs a new request.

Each action is a small form that calls one operation and redirects; a refusal is shown on the
request page and audited.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from sandbox_crm.clock import sandbox_today
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.requests.models import (
    ACCESS_COPY_DIRECT_COST_HKD,
    CORRECTABLE_FIELDS,
    CorrectionNotice,
    DataDisclosure,
    DataItem,
    DataRequest,
    IdentityMethod,
    RefusalGround,
    RequestChannel,
    RequestCopyItem,
    RequestForm,
    RequestKind,
    RequestLogEntry,
    RequestOutcome,
)
from sandbox_crm.requests.operations import (
    ExtendArgs,
    LogRefusalArgs,
    LogRequestArgs,
    QuoteFeeArgs,
    RedactArgs,
    RefuseArgs,
    VerifyArgs,
)
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
from sandbox_crm.web.i18n import L_, translate

REQUEST_LIST = ListView(
    source="data_requests",
    filters={"kind": "kind", "outcome": "outcome"},
    columns=[
        "request_id",
        "reference",
        "kind",
        "requester_name",
        "received_on",
        "due_on",
        "extended_to",
        "overdue",
        "outcome",
        "customer_id",
        "customer_member_no",
    ],
    sortable=("reference", "kind", "received_on", "due_on", "outcome"),
    default_sort=("due_on", "asc"),
)

# The codes the request pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("Access"),
    N_("Correction"),
    N_("Post"),
    N_("Online form"),
    N_("Pcpd form"),
    N_("Company form"),
    N_("Letter"),
    N_("Email text"),
    N_("Member details matched"),
    N_("Profile"),
    N_("Contact details"),
    N_("Consents"),
    N_("Orders"),
    N_("Notes"),
    N_("Corrected"),
    N_("Refused"),
    N_("Identity not verified"),
    N_("Others data not separable"),
    N_("Prohibited by law"),
    N_("Information to locate missing"),
    N_("Repeated request"),
    N_("Not satisfied inaccurate"),
    N_("District"),
    N_("Mobile"),
)


class LogRequestForm(FlaskForm):
    """Log a request received from a customer."""

    member_no = StringField(L_("Member no."), render_kw={"required": True, "maxlength": 20})
    kind = SelectField(L_("Kind"), choices=code_choices(RequestKind), validate_choice=False)
    requester_name = StringField(
        L_("Requester"), render_kw=limits(LogRequestArgs, "requester_name")
    )
    channel = SelectField(
        L_("Channel"), choices=code_choices(RequestChannel), validate_choice=False
    )
    form_used = SelectField(
        L_("Form used"), choices=code_choices(RequestForm), validate_choice=False
    )
    received_on = DateField(L_("Received on"), validators=[Optional()])
    details = TextAreaField(L_("Details"), render_kw=limits(LogRequestArgs, "details"))
    correction_field = SelectField(
        L_("Field to correct (a correction)"),
        choices=[*options([("", "—")]), *code_choices(CORRECTABLE_FIELDS)],
        validate_choice=False,
    )
    correction_value = StringField(
        L_("Corrected value (a correction)"), render_kw=limits(LogRequestArgs, "correction_value")
    )


class FeeForm(FlaskForm):
    """Quote a fee."""

    fee_hkd = IntegerField(L_("Fee (HK$)"), validators=[Optional()], render_kw={"min": 0})
    basis = StringField(L_("What it covers"), render_kw=limits(QuoteFeeArgs, "basis"))


class VerifyForm(FlaskForm):
    """How the requester's identity was verified."""

    method = SelectField(L_("Method"), choices=code_choices(IdentityMethod), validate_choice=False)
    evidence = StringField(L_("Evidence seen"), render_kw=limits(VerifyArgs, "evidence"))


class CompileForm(FlaskForm):
    """The kinds of data the copy holds."""

    items = SelectMultipleField(
        L_("Data items"),
        choices=code_choices(DataItem),
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class RedactForm(FlaskForm):
    """Another person's data to take out of the copy."""

    text = StringField(L_("Text to redact"), render_kw=limits(RedactArgs, "text"))


class ExtendForm(FlaskForm):
    """The written notice that the request cannot be met in 40 days."""

    reason = TextAreaField(L_("Reasons"), render_kw=limits(ExtendArgs, "reason"))
    comply_by = DateField(L_("Will comply by"), validators=[Optional()])


class RefuseForm(FlaskForm):
    """A written refusal with its ground."""

    ground = SelectField(L_("Ground"), choices=code_choices(RefusalGround), validate_choice=False)
    reason = TextAreaField(L_("Reasons"), render_kw=limits(RefuseArgs, "reason"))
    channel = SelectField(
        L_("Sent by"), choices=code_choices(RequestChannel), validate_choice=False
    )


class LogBookForm(FlaskForm):
    """The log-book entry of a refusal."""

    note = TextAreaField(L_("Log-book note"), render_kw=limits(LogRefusalArgs, "note"))


class CorrectForm(FlaskForm):
    """Make the requested correction: only the CSRF token is posted."""


class RespondForm(FlaskForm):
    """Send the answer."""

    outcome = SelectField(
        L_("Outcome"),
        choices=code_choices(
            (
                RequestOutcome.COPY_PROVIDED,
                RequestOutcome.NO_DATA_HELD,
                RequestOutcome.CORRECTED,
            )
        ),
        validate_choice=False,
    )
    channel = SelectField(
        L_("Sent by"), choices=code_choices(RequestChannel), validate_choice=False
    )
    sent_on = DateField(L_("Sent on (empty: today)"), validators=[Optional()])


class NotifyForm(FlaskForm):
    """Pass the correction on to one recipient."""

    disclosure_id = SelectField(L_("Recipient"), choices=[], validate_choice=False)
    channel = SelectField(
        L_("Sent by"), choices=code_choices(RequestChannel), validate_choice=False
    )


_FORMS = {
    "fee": ("quote_request_fee", FeeForm, N_("Fee recorded.")),
    "verify": ("verify_requester_identity", VerifyForm, N_("Identity verification recorded.")),
    "compile": ("compile_access_copy", CompileForm, N_("Copy compiled.")),
    "redact": ("redact_access_copy", RedactForm, N_("Copy redacted.")),
    "extend": ("extend_data_request", ExtendForm, N_("Notice sent.")),
    "refuse": ("refuse_data_request", RefuseForm, N_("Refusal sent.")),
    "log_book": ("log_refusal", LogBookForm, N_("Log-book entry made.")),
    "correct": ("correct_requested_data", CorrectForm, N_("Data corrected.")),
    "respond": ("respond_to_request", RespondForm, N_("Answer sent.")),
    "notify": ("notify_correction_recipient", NotifyForm, N_("Correction passed on.")),
}


def _values(step: str, form: Any) -> dict[str, Any]:
    """The operation's arguments from a posted form (blank numbers and dates left out)."""
    values: dict[str, Any] = {}
    for name, field in form._fields.items():
        data = field.data.strip() if isinstance(field.data, str) else field.data
        if name == "csrf_token" or data is None:
            continue
        if data == "" and name in ("fee_hkd", "comply_by", "sent_on", "disclosure_id"):
            continue
        values[name] = data
    text = str(values.get("disclosure_id", ""))
    if step == "notify" and text.isdigit():
        values["disclosure_id"] = int(text)
    return values


def _page_context(request_id: int, **forms: Any) -> dict[str, Any]:
    session = db()
    found = get_or_404(DataRequest, request_id, "request")
    disclosures = list(
        session.scalars(
            select(DataDisclosure)
            .where(DataDisclosure.customer_id == found.customer_id)
            .order_by(DataDisclosure.disclosed_on.desc(), DataDisclosure.id)
        )
    )
    notify = NotifyForm()
    notify.disclosure_id.choices = options(
        (str(d.id), f"{d.recipient} ({d.disclosed_on.isoformat()})") for d in disclosures
    )
    today = sandbox_today(session)
    context: dict[str, Any] = {
        "req": found,
        "customer": session.get(Customer, found.customer_id),
        "today": today,
        "days_left": found.days_left(today),
        "direct_cost": ACCESS_COPY_DIRECT_COST_HKD,
        "copy_items": list(
            session.scalars(
                select(RequestCopyItem)
                .where(RequestCopyItem.request_id == found.id)
                .order_by(RequestCopyItem.id)
            )
        ),
        "disclosures": disclosures,
        "notices": list(
            session.scalars(
                select(CorrectionNotice)
                .where(CorrectionNotice.request_id == found.id)
                .order_by(CorrectionNotice.id)
            )
        ),
        "log_entries": list(
            session.scalars(
                select(RequestLogEntry)
                .where(RequestLogEntry.request_id == found.id)
                .order_by(RequestLogEntry.id)
            )
        ),
        "fee_form": FeeForm(),
        "verify_form": VerifyForm(),
        "compile_form": CompileForm(),
        "redact_form": RedactForm(),
        "extend_form": ExtendForm(),
        "refuse_form": RefuseForm(),
        "log_book_form": LogBookForm(),
        "correct_form": CorrectForm(),
        "respond_form": RespondForm(),
        "notify_form": notify,
    }
    context.update(forms)
    return context


def _days_left(rows: Any, today: date) -> dict[int, int]:
    """Days until day 40 (or the date a notice promised) of each open request listed."""
    left = {}
    for row in rows:
        due = row.get("extended_to") or row.get("due_on")
        if isinstance(due, str):
            due = date.fromisoformat(due[:10])
        if isinstance(due, date):
            left[row["request_id"]] = (due - today).days
    return left


@bp.get("/requests")
def data_requests() -> str:
    """The deadline view: requests by day 40, with days left and those overdue."""
    overdue = [{"field": "overdue", "op": "eq", "value": True}]
    context = REQUEST_LIST.context(overdue if request.args.get("overdue") == "1" else [])
    days_left = _days_left(context["listing"].rows, sandbox_today(db()))
    return render_template("crm/data_requests.html", days_left=days_left, **context)


REQUEST_PAGE = RecordPage(
    "crm/data_request.html", _page_context, "data_request", "crm.data_request", "request_id"
)


@bp.get("/requests/<int:request_id>")
def data_request(request_id: int) -> str:
    """One request: its facts, deadline, copy, notices and the actions an open one allows."""
    return REQUEST_PAGE.render(request_id)


@bp.post(
    "/requests/<int:request_id>/<any(fee, verify, compile, redact, extend, refuse, log_book,"
    " correct, respond, notify):request_step>"
)
def data_request_action(request_id: int, request_step: str) -> Response | tuple[str, int]:
    """One step of working a request, through its operation."""
    step = request_step
    get_or_404(DataRequest, request_id, "request")
    name, form_class, message = _FORMS[step]
    form = form_class()

    def run() -> Any:
        return apply_operation(
            db(), actor(), name, {"request_id": request_id, **_values(step, form)}
        )

    return REQUEST_PAGE.post_step(request_id, name, {f"{step}_form": form}, run, message)


@bp.route("/requests/new", methods=["GET", "POST"])
def data_request_new() -> Response | str | tuple[str, int]:
    """Log a request through log_data_request."""
    form = LogRequestForm()
    if request.method == "GET":
        form.member_no.data = request.args.get("member_no", "")[:20]
        return render_template("crm/data_request_new.html", form=form)
    if not form.validate_on_submit():
        return failed("crm/data_request_new.html", form=form)
    values = _values("new", form)
    values["member_no"] = values.pop("member_no") or ""
    try:
        created = apply_operation(db(), actor(), "log_data_request", values)
    except OperationError as exc:
        return refused("log_data_request", exc, "crm/data_request_new.html", exc.message, form=form)
    return done(translate("Request logged."), "crm.data_request", request_id=created.id)
