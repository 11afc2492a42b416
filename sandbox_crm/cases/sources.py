"""The service_cases report source: each case with its customer, owner and SLA standing."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import and_
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
from sandbox_crm.models import SalesOrder, Sensitivity, StaffUser
from sandbox_crm.sources import (
    SOURCES,
    Field,
    QueryScope,
    Source,
    column_field,
    customer_fields,
    enum_values,
    index_fields,
    lookup_field,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


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
    lookup_field(
        ServiceCase,
        StaffUser.id,
        ServiceCase.assigned_to_id,
        "assigned_to",
        "Assigned to",
        "str",
        INT,
        StaffUser.full_name,
        nullable=True,
    ),
    lookup_field(
        ServiceCase,
        SalesOrder.id,
        ServiceCase.order_id,
        "order_no",
        "Order no.",
        "str",
        INT,
        SalesOrder.order_no,
        nullable=True,
    ),
    *customer_fields(ServiceCase, ServiceCase.customer_id, nullable=True),
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
