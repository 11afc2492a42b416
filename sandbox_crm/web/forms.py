"""The CRM's forms. Choices are filled in by the views; the operations make the final checks."""

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
from wtforms.validators import DataRequired, Length, Optional

from sandbox_crm.models import (
    Channel,
    ConsentMethod,
    ConsentPurpose,
    ConsentStatus,
    CustomerStatus,
    MessageKind,
    Tier,
)
from sandbox_crm.web.presentation import DESTINATION_LABELS, label

FILTER_ROWS = 6


def options(pairs: Iterable[tuple[str, str]]) -> list[Any]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, text) for value, text in pairs]


def _choices(values: Iterable[object]) -> list[Any]:
    return options((str(v), label(v)) for v in values)


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token is posted."""


class CustomerEditForm(FlaskForm):
    """Edit a customer's profile."""

    name_en = StringField("English name", validators=[DataRequired(), Length(max=120)])
    name_zh = StringField("Chinese name", validators=[Optional(), Length(max=40)])
    district = SelectField("District", validate_choice=False)
    tier = SelectField("Tier", choices=_choices(Tier), validate_choice=False)
    status = SelectField("Status", choices=_choices(CustomerStatus), validate_choice=False)
    preferred_language = SelectField(
        "Preferred language",
        choices=options([("en", "English"), ("zh", "Chinese")]),
        validate_choice=False,
    )
    notes = TextAreaField("Notes", validators=[Length(max=20000)])


class ContactEditForm(FlaskForm):
    """Correct a contact point or flag it as invalid."""

    value = StringField("Value", validators=[DataRequired(), Length(max=300)])
    is_invalid = BooleanField("Flag as invalid (bounced, wrong number, no such address)")


class NoteForm(FlaskForm):
    """Add a note to a customer."""

    text = TextAreaField("Note", validators=[DataRequired(), Length(max=2000)])


class ConsentForm(FlaskForm):
    """Record a consent given, a no-objection or a withdrawal (the log is append-only)."""

    purpose = SelectField("Purpose", choices=_choices(ConsentPurpose), validate_choice=False)
    channel = SelectField("Channel", choices=_choices(Channel), validate_choice=False)
    status = SelectField(
        "Status",
        choices=_choices(s for s in ConsentStatus if s != ConsentStatus.NOT_ASKED),
        validate_choice=False,
    )
    method = SelectField(
        "How it was captured", choices=_choices(ConsentMethod), validate_choice=False
    )
    note = TextAreaField("Note", validators=[Length(max=2000)])


class MessageForm(FlaskForm):
    """Send an email or SMS to a customer."""

    channel = SelectField(
        "Channel", choices=_choices((Channel.EMAIL, Channel.SMS)), validate_choice=False
    )
    kind = SelectField(
        "Kind",
        choices=options(
            [
                (MessageKind.SERVICE.value, "Service (about an order, account or request)"),
                (MessageKind.PROMOTIONAL.value, "Promotional (direct marketing)"),
            ]
        ),
        validate_choice=False,
    )
    subject = StringField("Subject", validators=[Length(max=200)])
    body = TextAreaField("Message", validators=[DataRequired(), Length(max=5000)])
    has_opt_out_notice = BooleanField("Include the opt-out notice")


class FilterRowForm(Form):
    """One filter row of the report builder (a sub-form: the CSRF token is the parent's)."""

    field = SelectField("Field", validate_choice=False)
    op = SelectField("Operator", validate_choice=False)
    value = StringField("Value")


class ReportForm(FlaskForm):
    """The report builder."""

    name = StringField("Report name", validators=[DataRequired(), Length(max=160)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    purpose = TextAreaField("Purpose of use", validators=[Length(max=2000)])
    source = HiddenField("Data source")
    columns = SelectMultipleField("Columns", validate_choice=False)
    match = SelectField(
        "Match",
        choices=options([("all", "all of the filters (AND)"), ("any", "any of the filters (OR)")]),
        validate_choice=False,
    )
    filters = FieldList(FormField(FilterRowForm), min_entries=FILTER_ROWS)
    sort_field = SelectField("Sort by", validate_choice=False)
    sort_dir = SelectField(
        "Direction",
        choices=options(
            [("asc", "Ascending (A→Z, low→high)"), ("desc", "Descending (Z→A, high→low)")]
        ),
        validate_choice=False,
    )


class ShareForm(FlaskForm):
    """Share a report with a department."""

    department = SelectField("Department", validate_choice=False)
    can_export = BooleanField("May export")


class ExportForm(FlaskForm):
    """Export a report to a CSV file."""

    purpose = TextAreaField("Purpose of the export", validators=[DataRequired(), Length(max=2000)])
    destination = SelectField(
        "Where the file goes",
        choices=options(DESTINATION_LABELS.items()),
        validate_choice=False,
    )
    for_department = SelectField("For department", validate_choice=False)
    encrypted = BooleanField("Encrypt the file (password sent separately)")
