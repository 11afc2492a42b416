"""Report sources of online collection and tracking."""

from __future__ import annotations

from sandbox_crm.collection.models import (
    FormField,
    FormKind,
    FormStatus,
    Obligation,
    PicsVersion,
    Signup,
    SignupForm,
    TrackingRecord,
)
from sandbox_crm.collection.procedures import FIELDS, TRACKING_KINDS
from sandbox_crm.i18n import N_
from sandbox_crm.models import Sensitivity
from sandbox_crm.sources import SOURCES, Source, column_field, enum_values, index_fields

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL

SOURCES.add(
    "signup_forms",
    Source(
        name="signup_forms",
        label=N_("Sign-up forms"),
        model=SignupForm,
        key_field="form_id",
        fields=index_fields(
            column_field("form_id", "Form ID", "int", INT, SignupForm.id),
            column_field("code", "Code", "str", INT, SignupForm.code),
            column_field("name", "Name", "str", INT, SignupForm.name),
            column_field(
                "kind", "Kind", "enum", INT, SignupForm.kind, choices=enum_values(FormKind)
            ),
            column_field(
                "status", "Status", "enum", INT, SignupForm.status, choices=enum_values(FormStatus)
            ),
            column_field(
                "fields_changed_at", "Fields changed", "datetime", INT, SignupForm.fields_changed_at
            ),
        ),
        default_columns=("code", "name", "kind", "status"),
    ),
)

SOURCES.add(
    "form_fields",
    Source(
        name="form_fields",
        label=N_("Sign-up form fields"),
        model=FormField,
        key_field="field_id",
        fields=index_fields(
            column_field("field_id", "Field ID", "int", INT, FormField.id),
            column_field("form_id", "Form ID", "int", INT, FormField.form_id),
            column_field("field", "Field", "enum", INT, FormField.field, choices=tuple(FIELDS)),
            column_field(
                "obligation",
                "Obligatory or voluntary",
                "enum",
                INT,
                FormField.obligation,
                choices=enum_values(Obligation),
            ),
            column_field("purpose", "Purpose", "str", INT, FormField.purpose),
            column_field("justification", "Justification", "str", INT, FormField.justification),
        ),
        default_columns=("form_id", "field", "obligation", "purpose"),
    ),
)

SOURCES.add(
    "pics_versions",
    Source(
        name="pics_versions",
        label=N_("Collection statements (PICS)"),
        model=PicsVersion,
        key_field="pics_id",
        fields=index_fields(
            column_field("pics_id", "PICS ID", "int", INT, PicsVersion.id),
            column_field("form_id", "Form ID", "int", INT, PicsVersion.form_id),
            column_field("version", "Version", "str", INT, PicsVersion.version),
            column_field("published_at", "Published", "datetime", INT, PicsVersion.published_at),
            column_field(
                "transfers_for_marketing",
                "Data go to others for marketing",
                "bool",
                INT,
                PicsVersion.transfers_for_marketing,
            ),
            column_field(
                "access_contact",
                "Access and correction contact",
                "str",
                INT,
                PicsVersion.access_contact,
            ),
        ),
        default_columns=("version", "form_id", "published_at", "access_contact"),
    ),
)

SOURCES.add(
    "signups",
    Source(
        name="signups",
        label=N_("Sign-ups received"),
        model=Signup,
        key_field="signup_id",
        fields=index_fields(
            column_field("signup_id", "Sign-up ID", "int", INT, Signup.id),
            column_field("form_id", "Form ID", "int", INT, Signup.form_id),
            column_field("pics_id", "PICS shown", "int", INT, Signup.pics_id),
            column_field("customer_id", "Customer ID", "int", P, Signup.customer_id),
            column_field("submitted_at", "Submitted", "datetime", INT, Signup.submitted_at),
        ),
        default_columns=("submitted_at", "form_id", "pics_id", "customer_id"),
    ),
)

SOURCES.add(
    "tracking_records",
    Source(
        name="tracking_records",
        label=N_("Tracking data"),
        model=TrackingRecord,
        key_field="record_id",
        fields=index_fields(
            column_field("record_id", "Record ID", "int", INT, TrackingRecord.id),
            column_field("kind", "Kind", "enum", INT, TrackingRecord.kind, choices=TRACKING_KINDS),
            column_field("customer_id", "Customer ID", "int", P, TrackingRecord.customer_id),
            column_field("visitor", "Visitor", "str", P, TrackingRecord.visitor),
            column_field("page", "Page", "str", INT, TrackingRecord.page),
            column_field("occurred_at", "When", "datetime", INT, TrackingRecord.occurred_at),
        ),
        default_columns=("occurred_at", "kind", "visitor", "page"),
    ),
)
