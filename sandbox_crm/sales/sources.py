"""The opportunities, follow-ups and customer data report sources."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.models import Sensitivity, StaffUser
from sandbox_crm.sales.models import (
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    FollowUpTask,
    LeadChannel,
    Opportunity,
    OpportunityStage,
    TaskStatus,
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
    return case(
        (
            and_(FollowUpTask.status == TaskStatus.OPEN.value, FollowUpTask.due_on < scope.as_of),
            True,
        ),
        else_=False,
    )


OPPORTUNITY_FIELDS = index_fields(
    column_field("opportunity_id", "Opportunity ID", "int", INT, Opportunity.id),
    column_field("reference", "Reference", "str", INT, Opportunity.reference),
    column_field("title", "Title", "str", INT, Opportunity.title),
    column_field(
        "stage", "Stage", "enum", INT, Opportunity.stage, choices=enum_values(OpportunityStage)
    ),
    column_field("value_hkd", "Value (HK$)", "int", INT, Opportunity.value_hkd),
    column_field("products", "Products of interest", "str", INT, Opportunity.products),
    column_field("expected_close", "Expected close", "date", INT, Opportunity.expected_close),
    column_field(
        "source_channel",
        "Source channel",
        "enum",
        INT,
        Opportunity.source_channel,
        choices=enum_values(LeadChannel),
    ),
    column_field("lost_reason", "Lost reason", "str", INT, Opportunity.lost_reason),
    column_field("suggestion", "Suggestion", "str", INT, Opportunity.suggestion),
    column_field("created_at", "Created", "datetime", INT, Opportunity.created_at),
    lookup_field(
        Opportunity,
        StaffUser.id,
        Opportunity.owner_id,
        "owner",
        "Owner",
        "str",
        INT,
        StaffUser.full_name,
        nullable=True,
    ),
    *customer_fields(Opportunity, Opportunity.customer_id, nullable=True),
)

FOLLOW_UP_FIELDS = index_fields(
    column_field("task_id", "Task ID", "int", INT, FollowUpTask.id),
    column_field("subject", "Subject", "str", INT, FollowUpTask.subject),
    column_field("due_on", "Due on", "date", INT, FollowUpTask.due_on),
    column_field(
        "status", "Status", "enum", INT, FollowUpTask.status, choices=enum_values(TaskStatus)
    ),
    Field("overdue", "Overdue", "bool", INT, _overdue, nullable=False),
    column_field("done_at", "Done at", "datetime", INT, FollowUpTask.done_at),
    lookup_field(
        FollowUpTask,
        Opportunity.id,
        FollowUpTask.opportunity_id,
        "opportunity_reference",
        "Opportunity",
        "str",
        INT,
        Opportunity.reference,
        nullable=True,
    ),
    lookup_field(
        FollowUpTask,
        StaffUser.id,
        FollowUpTask.owner_id,
        "owner",
        "Owner",
        "str",
        INT,
        StaffUser.full_name,
        nullable=True,
    ),
    *customer_fields(FollowUpTask, FollowUpTask.customer_id, nullable=True),
)

CUSTOMER_DATA_FIELDS = index_fields(
    column_field("item_id", "Item ID", "int", INT, CustomerDataItem.id),
    column_field("kind", "Kind", "enum", INT, CustomerDataItem.kind, choices=enum_values(DataKind)),
    column_field("value", "Value", "str", P, CustomerDataItem.value),
    column_field(
        "purpose",
        "Purpose",
        "enum",
        INT,
        CustomerDataItem.purpose,
        choices=enum_values(DataPurpose),
    ),
    column_field(
        "source", "Source", "enum", INT, CustomerDataItem.source, choices=enum_values(DataSource)
    ),
    column_field("collected_on", "Collected on", "date", INT, CustomerDataItem.collected_on),
    *customer_fields(CustomerDataItem, CustomerDataItem.customer_id, nullable=True),
)

SOURCES.add(
    "opportunities",
    Source(
        name="opportunities",
        label=N_("Opportunities"),
        model=Opportunity,
        key_field="opportunity_id",
        fields=OPPORTUNITY_FIELDS,
        default_columns=("reference", "title", "stage", "value_hkd", "customer_member_no"),
    ),
)
SOURCES.add(
    "follow_ups",
    Source(
        name="follow_ups",
        label=N_("Follow-up tasks"),
        model=FollowUpTask,
        key_field="task_id",
        fields=FOLLOW_UP_FIELDS,
        default_columns=("due_on", "subject", "status", "overdue", "customer_member_no"),
    ),
)
SOURCES.add(
    "customer_data",
    Source(
        name="customer_data",
        label=N_("Customer data by purpose"),
        model=CustomerDataItem,
        key_field="item_id",
        fields=CUSTOMER_DATA_FIELDS,
        default_columns=("customer_member_no", "kind", "value", "purpose", "source"),
    ),
)
