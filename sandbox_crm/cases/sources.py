"""The service_cases report source: each case with its customer, owner and SLA standing."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import and_, case, exists, func, not_, select
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.cases.models import (
    OPEN_STATUSES,
    AgentTeam,
    CaseChannel,
    CaseKind,
    CaseRule,
    CaseStatus,
    CaseUpdate,
    Priority,
    Resolution,
    ServiceAgent,
    ServiceCase,
)
from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    ContactPoint,
    Customer,
    Region,
    SalesOrder,
    Sensitivity,
    StaffUser,
    Tier,
)
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


def _step(action: str) -> ColumnElement[Any]:
    return exists().where(CaseUpdate.case_id == ServiceCase.id, CaseUpdate.action == action)


def _acknowledged(scope: QueryScope) -> ColumnElement[Any]:
    """An acknowledgement was sent on the case."""
    return _step("acknowledge")


def _responded(scope: QueryScope) -> ColumnElement[Any]:
    """A member of staff replied to the customer."""
    return _step("reply")


def _first_response(scope: QueryScope) -> ColumnElement[Any]:
    """When the first reply went out."""
    return (
        select(func.min(CaseUpdate.at))
        .where(CaseUpdate.case_id == ServiceCase.id, CaseUpdate.action == "reply")
        .correlate(ServiceCase)
        .scalar_subquery()
    )


def _response_overdue(scope: QueryScope) -> ColumnElement[Any]:
    """Still open, unanswered, and its response time passed before the query's day."""
    start = datetime.combine(scope.as_of, time())
    return and_(
        ServiceCase.status.in_(sorted(OPEN_STATUSES)),
        ServiceCase.response_due_at < start,
        not_(_step("reply")),
    )


def _reachable(scope: QueryScope) -> ColumnElement[Any]:
    """The customer has a valid contact on the channel an acknowledgement would go out on."""
    kind = case(
        (ServiceCase.channel == CaseChannel.EMAIL.value, "email"),
        (ServiceCase.channel.in_((CaseChannel.CHAT.value, CaseChannel.PHONE.value)), "mobile"),
        else_="",
    )
    return exists().where(
        ContactPoint.customer_id == ServiceCase.customer_id,
        ContactPoint.kind == kind,
        ContactPoint.is_invalid.is_(False),
    )


def _team(scope: QueryScope) -> ColumnElement[Any]:
    """The service team of the member of staff the case is assigned to."""
    return (
        select(ServiceAgent.team)
        .where(ServiceAgent.staff_id == ServiceCase.assigned_to_id)
        .correlate(ServiceCase)
        .scalar_subquery()
    )


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
    column_field(
        "priority",
        "Priority",
        "enum",
        INT,
        ServiceCase.priority,
        choices=("", *enum_values(Priority)),
    ),
    column_field("response_due_at", "Response due", "datetime", INT, ServiceCase.response_due_at),
    Field(
        "acknowledged",
        "Acknowledged",
        "bool",
        INT,
        _acknowledged,
        description="An acknowledgement was sent on the case.",
        nullable=False,
    ),
    Field(
        "reachable",
        "Reachable for an acknowledgement",
        "bool",
        INT,
        _reachable,
        description="The customer has a valid email (email cases) or mobile (chat, phone).",
        nullable=False,
    ),
    Field(
        "responded",
        "Responded",
        "bool",
        INT,
        _responded,
        description="A member of staff replied to the customer.",
        nullable=False,
    ),
    Field(
        "first_response_at",
        "First response",
        "datetime",
        INT,
        _first_response,
        description="When the first reply went out.",
        nullable=True,
    ),
    Field(
        "response_overdue",
        "Response overdue",
        "bool",
        INT,
        _response_overdue,
        description="Still open, unanswered, its response time passed before the day.",
        nullable=False,
    ),
    Field(
        "assigned_team",
        "Assigned team",
        "enum",
        INT,
        _team,
        choices=enum_values(AgentTeam),
        description="The service team of the member of staff the case is assigned to.",
        nullable=True,
    ),
    lookup_field(
        ServiceCase,
        CaseRule.id,
        ServiceCase.rule_id,
        "rule",
        "Automation rule",
        "str",
        INT,
        CaseRule.name,
        nullable=True,
    ),
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
    lookup_field(
        ServiceCase,
        Customer.id,
        ServiceCase.customer_id,
        "customer_tier",
        "Customer tier",
        "enum",
        INT,
        Customer.tier,
        choices=enum_values(Tier),
        nullable=True,
    ),
    lookup_field(
        ServiceCase,
        Customer.id,
        ServiceCase.customer_id,
        "customer_region",
        "Customer region",
        "enum",
        INT,
        Customer.region,
        choices=enum_values(Region),
        nullable=True,
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
