"""The service_cases report source: each case with its customer, owner and SLA standing."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.cases.models import (
    OPEN_STATUSES,
    CaseChannel,
    CaseKind,
    CaseStatus,
    Resolution,
    ServiceCase,
)
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, SalesOrder, Sensitivity, StaffUser
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


def _of_the_case(
    table_key: InstrumentedAttribute[Any],
    foreign_key: InstrumentedAttribute[Any],
    name: str,
    label: str,
    type_: FieldType,
    sensitivity: Sensitivity,
    column: InstrumentedAttribute[Any],
) -> Field:
    """A field that is ``column`` of the one row ``foreign_key`` points at."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(column).where(table_key == foreign_key).correlate(ServiceCase).scalar_subquery()
        )

    lookup = Lookup(foreign_key, table_key, column)
    return Field(name, label, type_, sensitivity, build, nullable=True, lookup=lookup)


def _overdue(scope: QueryScope) -> ColumnElement[Any]:
    """Still open and due before the start of the query's day."""
    start = datetime.combine(scope.as_of, time())
    return and_(ServiceCase.status.in_(sorted(OPEN_STATUSES)), ServiceCase.due_at < start)


CASE_FIELDS = index_fields(
    column_field("case_id", "Case ID", "int", INT, ServiceCase.id),
    column_field("reference", "Reference", "str", INT, ServiceCase.reference),
    column_field("kind", "Kind", "enum", INT, ServiceCase.kind, choices=enum_values(CaseKind)),
    column_field(
        "channel", "Channel", "enum", INT, ServiceCase.channel, choices=enum_values(CaseChannel)
    ),
    column_field("subject", "Subject", "str", INT, ServiceCase.subject),
    column_field(
        "status", "Status", "enum", INT, ServiceCase.status, choices=enum_values(CaseStatus)
    ),
    column_field("opened_at", "Opened", "datetime", INT, ServiceCase.opened_at),
    column_field("due_at", "Due", "datetime", INT, ServiceCase.due_at),
    Field(
        "overdue",
        "Past its SLA",
        "bool",
        INT,
        _overdue,
        description="Still open and due before the day of the query.",
        nullable=False,
    ),
    column_field("escalated_at", "Escalated", "datetime", INT, ServiceCase.escalated_at),
    column_field("follow_up_on", "Follow up on", "date", INT, ServiceCase.follow_up_on),
    column_field(
        "resolution",
        "Resolution",
        "enum",
        INT,
        ServiceCase.resolution,
        choices=("", *enum_values(Resolution)),
    ),
    column_field("closed_at", "Closed", "datetime", INT, ServiceCase.closed_at),
    _of_the_case(
        StaffUser.id,
        ServiceCase.assigned_to_id,
        "assigned_to",
        "Assigned to",
        "str",
        INT,
        StaffUser.full_name,
    ),
    _of_the_case(
        SalesOrder.id,
        ServiceCase.order_id,
        "order_no",
        "Order no.",
        "str",
        INT,
        SalesOrder.order_no,
    ),
    column_field("customer_id", "Customer ID", "int", INT, ServiceCase.customer_id),
    _of_the_case(
        Customer.id,
        ServiceCase.customer_id,
        "customer_member_no",
        "Member no.",
        "str",
        P,
        Customer.member_no,
    ),
    _of_the_case(
        Customer.id,
        ServiceCase.customer_id,
        "customer_name",
        "Customer name",
        "str",
        P,
        Customer.name_en,
    ),
)

SOURCES.add(
    "service_cases",
    Source(
        name="service_cases",
        label=N_("Service cases"),
        model=ServiceCase,
        key_field="case_id",
        fields=CASE_FIELDS,
        default_columns=("reference", "kind", "status", "due_at", "customer_member_no"),
    ),
)
