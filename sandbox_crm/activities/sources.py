"""The activities and handoffs report sources."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

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
    Field,
    FieldType,
    Lookup,
    QueryScope,
    Source,
    column_field,
    enum_values,
    index_fields,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


def _lookup(
    model: type[Any],
    table_key: InstrumentedAttribute[Any],
    foreign_key: InstrumentedAttribute[Any],
    name: str,
    label: str,
    type_: FieldType,
    sensitivity: Sensitivity,
    column: InstrumentedAttribute[Any],
) -> Field:
    """A field that is ``column`` of the one row ``foreign_key`` (of ``model``) points at."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return select(column).where(table_key == foreign_key).correlate(model).scalar_subquery()

    lookup = Lookup(foreign_key, table_key, column)
    return Field(name, label, type_, sensitivity, build, nullable=True, lookup=lookup)


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
    _lookup(
        Activity,
        ServiceCase.id,
        Activity.case_id,
        "case_reference",
        "Case",
        "str",
        INT,
        ServiceCase.reference,
    ),
    _lookup(
        Activity, StaffUser.id, Activity.by_id, "by", "Logged by", "str", INT, StaffUser.full_name
    ),
    column_field("customer_id", "Customer ID", "int", INT, Activity.customer_id),
    _lookup(
        Activity,
        Customer.id,
        Activity.customer_id,
        "customer_member_no",
        "Member no.",
        "str",
        P,
        Customer.member_no,
    ),
    _lookup(
        Activity,
        Customer.id,
        Activity.customer_id,
        "customer_name",
        "Customer name",
        "str",
        P,
        Customer.name_en,
    ),
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
    _lookup(
        Handoff,
        ServiceCase.id,
        Handoff.case_id,
        "case_reference",
        "Case",
        "str",
        INT,
        ServiceCase.reference,
    ),
    _lookup(
        Handoff,
        Customer.id,
        Handoff.customer_id,
        "customer_member_no",
        "Member no.",
        "str",
        P,
        Customer.member_no,
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
