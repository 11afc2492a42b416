"""The activities and handoffs report sources."""

from __future__ import annotations

from sandbox_crm.activities.models import (
    Activity,
    ActivityKind,
    ActivityPurpose,
    Handoff,
    HandoffDepartment,
    Outcome,
)
from sandbox_crm.cases.models import ServiceCase
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, Sensitivity, StaffUser
from sandbox_crm.sources import (
    SOURCES,
    Source,
    column_field,
    customer_fields,
    enum_values,
    index_fields,
    lookup_field,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


ACTIVITY_FIELDS = index_fields(
    column_field("activity_id", "Activity ID", "int", INT, Activity.id),
    column_field("at", "When", "datetime", INT, Activity.at),
    column_field("kind", "Kind", "enum", INT, Activity.kind, choices=enum_values(ActivityKind)),
    column_field(
        "purpose", "Purpose", "enum", INT, Activity.purpose, choices=enum_values(ActivityPurpose)
    ),
    column_field("summary", "Summary", "str", P, Activity.summary),
    column_field("outcome", "Outcome", "enum", INT, Activity.outcome, choices=enum_values(Outcome)),
    column_field("next_step", "Next step", "str", INT, Activity.next_step),
    column_field("next_step_on", "Next step on", "date", INT, Activity.next_step_on),
    column_field("opt_out_screen", "Opt-out check", "str", INT, Activity.opt_out_screen),
    lookup_field(
        Activity,
        ServiceCase.id,
        Activity.case_id,
        "case_reference",
        "Case",
        "str",
        INT,
        ServiceCase.reference,
        nullable=True,
    ),
    lookup_field(
        Activity,
        StaffUser.id,
        Activity.by_id,
        "by",
        "Logged by",
        "str",
        INT,
        StaffUser.full_name,
        nullable=True,
    ),
    *customer_fields(Activity, Activity.customer_id, nullable=True),
)

HANDOFF_FIELDS = index_fields(
    column_field("handoff_id", "Hand-off ID", "int", INT, Handoff.id),
    column_field("created_at", "Created", "datetime", INT, Handoff.created_at),
    column_field(
        "department",
        "Department",
        "enum",
        INT,
        Handoff.department,
        choices=enum_values(HandoffDepartment),
    ),
    column_field("purpose", "Purpose", "str", INT, Handoff.purpose),
    column_field("kind", "Kind", "enum", INT, Handoff.kind, choices=("task", "note")),
    column_field("subject", "Subject", "str", INT, Handoff.subject),
    column_field("status", "Status", "enum", INT, Handoff.status, choices=("open", "done")),
    column_field("due_on", "Due on", "date", INT, Handoff.due_on),
    lookup_field(
        Handoff,
        ServiceCase.id,
        Handoff.case_id,
        "case_reference",
        "Case",
        "str",
        INT,
        ServiceCase.reference,
        nullable=True,
    ),
    lookup_field(
        Handoff,
        Customer.id,
        Handoff.customer_id,
        "customer_member_no",
        "Member no.",
        "str",
        P,
        Customer.member_no,
        nullable=True,
    ),
)

SOURCES.add(
    "activities",
    Source(
        name="activities",
        label=N_("Activities"),
        model=Activity,
        key_field="activity_id",
        fields=ACTIVITY_FIELDS,
        default_columns=("at", "kind", "purpose", "customer_member_no", "outcome"),
    ),
)
SOURCES.add(
    "handoffs",
    Source(
        name="handoffs",
        label=N_("Hand-offs"),
        model=Handoff,
        key_field="handoff_id",
        fields=HANDOFF_FIELDS,
        default_columns=("created_at", "department", "purpose", "subject", "status"),
    ),
)
