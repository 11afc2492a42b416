"""The CRM's forms. Choices are filled in by the views; the operations make the checks.

A field that an operation's argument model declares takes its browser hints (``required``,
``maxlength``) from that model through ``limits``; the model alone validates what is posted, so
a refused value is refused, shown and audited the same way from a form as from a script.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from sandbox_crm.customers.operations import (
    AddCustomerNoteArgs,
    RecordConsentArgs,
    UpdateContactPointArgs,
    UpdateCustomerArgs,
)
from sandbox_crm.messages.operations import SendMessageArgs
from sandbox_crm.models import (
    Channel,
    ConsentMethod,
    ConsentPurpose,
    ConsentStatus,
    CustomerStatus,
    MessageKind,
    Tier,
)
from sandbox_crm.operations.base import Args
from sandbox_crm.reports.operations import CreateReportArgs, ExportReportArgs
from sandbox_crm.web.i18n import L_, lazy_call
from sandbox_crm.web.presentation import DESTINATION_LABELS, label

FILTER_ROWS = 6


def options(pairs: Iterable[tuple[str, str]]) -> list[Any]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, text) for value, text in pairs]


def limits(model: type[Args], name: str, *, required: bool | None = None) -> dict[str, Any]:
    """HTML attributes for a form field from the model's declaration of argument ``name``.

    ``required`` overrides the model's for fields the form always sends (an edit form's name).
    """
    low = high = None
    for constraint in model.model_fields[name].metadata:
        low = getattr(constraint, "min_length", low)
        high = getattr(constraint, "max_length", high)
    attributes: dict[str, Any] = {}
    if required if required is not None else bool(low):
        attributes["required"] = True
    if high is not None:
        attributes["maxlength"] = high
    return attributes


def code_choices(values: Iterable[object]) -> list[Any]:
    """Select options for stored codes, each shown as ``label`` reads it, translated."""
    return options((str(v), lazy_call(label, str(v))) for v in values)


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token is posted."""


class CustomerEditForm(FlaskForm):
    """Edit a customer's profile."""

    name_en = StringField(L_("English name"), render_kw=limits(UpdateCustomerArgs, "name_en"))
    name_zh = StringField(L_("Chinese name"), render_kw=limits(UpdateCustomerArgs, "name_zh"))
    district = SelectField(L_("District"), validate_choice=False)
    tier = SelectField(L_("Tier"), choices=code_choices(Tier), validate_choice=False)
    status = SelectField(L_("Status"), choices=code_choices(CustomerStatus), validate_choice=False)
    preferred_language = SelectField(
        L_("Preferred language"),
        choices=options([("en", L_("English")), ("zh", L_("Chinese"))]),
        validate_choice=False,
    )
    notes = TextAreaField(L_("Notes"), render_kw=limits(UpdateCustomerArgs, "notes"))


class ContactEditForm(FlaskForm):
    """Correct a contact point or flag it as invalid."""

    value = StringField(
        L_("Value"), render_kw=limits(UpdateContactPointArgs, "value", required=True)
    )
    is_invalid = BooleanField(L_("Flag as invalid (bounced, wrong number, no such address)"))


class NoteForm(FlaskForm):
    """Add a note to a customer."""

    text = TextAreaField(L_("Note"), render_kw=limits(AddCustomerNoteArgs, "text"))


class ConsentForm(FlaskForm):
    """Record a consent given, a no-objection or a withdrawal (the log is append-only)."""

    purpose = SelectField(
        L_("Purpose"), choices=code_choices(ConsentPurpose), validate_choice=False
    )
    channel = SelectField(L_("Channel"), choices=code_choices(Channel), validate_choice=False)
    status = SelectField(
        L_("Status"),
        choices=code_choices(s for s in ConsentStatus if s != ConsentStatus.NOT_ASKED),
        validate_choice=False,
    )
    method = SelectField(
        L_("How it was captured"), choices=code_choices(ConsentMethod), validate_choice=False
    )
    note = TextAreaField(L_("Note"), render_kw=limits(RecordConsentArgs, "note"))


class MessageForm(FlaskForm):
    """Send an email or SMS to a customer."""

    channel = SelectField(
        L_("Channel"), choices=code_choices((Channel.EMAIL, Channel.SMS)), validate_choice=False
    )
    kind = SelectField(
        L_("Kind"),
        choices=options(
            [
                (MessageKind.SERVICE.value, L_("Service (about an order, account or request)")),
                (MessageKind.PROMOTIONAL.value, L_("Promotional (direct marketing)")),
            ]
        ),
        validate_choice=False,
    )
    subject = StringField(L_("Subject"), render_kw=limits(SendMessageArgs, "subject"))
    body = TextAreaField(L_("Message"), render_kw=limits(SendMessageArgs, "body"))
    has_opt_out_notice = BooleanField(L_("Include the opt-out notice"))


class FilterRowForm(Form):
    """One filter row of the report builder (a sub-form: the CSRF token is the parent's)."""

    field = SelectField(L_("Field"), validate_choice=False)
    op = SelectField(L_("Operator"), validate_choice=False)
    value = StringField(L_("Value"))


class ReportForm(FlaskForm):
    """The report builder."""

    name = StringField(L_("Report name"), render_kw=limits(CreateReportArgs, "name"))
    description = TextAreaField(
        L_("Description"), render_kw=limits(CreateReportArgs, "description")
    )
    purpose = TextAreaField(L_("Purpose of use"), render_kw=limits(CreateReportArgs, "purpose"))
    source = HiddenField(L_("Data source"))
    columns = SelectMultipleField(L_("Columns"), validate_choice=False)
    match = SelectField(
        L_("Match"),
        choices=options(
            [("all", L_("all of the filters (AND)")), ("any", L_("any of the filters (OR)"))]
        ),
        validate_choice=False,
    )
    filters = FieldList(FormField(FilterRowForm), min_entries=FILTER_ROWS)
    sort_field = SelectField(L_("Sort by"), validate_choice=False)
    sort_dir = SelectField(
        L_("Direction"),
        choices=options(
            [("asc", L_("Ascending (A→Z, low→high)")), ("desc", L_("Descending (Z→A, high→low)"))]
        ),
        validate_choice=False,
    )


class ShareForm(FlaskForm):
    """Share a report with a department."""

    department = SelectField(L_("Department"), validate_choice=False)
    can_export = BooleanField(L_("May export"))


class ExportForm(FlaskForm):
    """Export a report to a CSV file."""

    # The model lets a script export without a purpose (the PDPO rules judge it); the form asks.
    purpose = TextAreaField(
        L_("Purpose of the export"),
        validators=[DataRequired()],
        render_kw=limits(ExportReportArgs, "purpose"),
    )
    destination = SelectField(
        L_("Where the file goes"),
        choices=options((code, L_(text)) for code, text in DESTINATION_LABELS.items()),
        validate_choice=False,
    )
    for_department = SelectField(L_("For department"), validate_choice=False)
    encrypted = BooleanField(L_("Encrypt the file (password sent separately)"))
    file_format = SelectField(
        L_("File format"),
        choices=[("csv", L_("CSV (any spreadsheet)")), ("xlsx", L_("Excel workbook (XLSX)"))],
        default="csv",
    )
    headers = SelectField(
        L_("Column headers"),
        choices=[("labels", L_("Field names as people read them")), ("codes", L_("Field codes"))],
        default="labels",
    )
