"""The opportunities, follow-ups and customer data report sources."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, Sensitivity, StaffUser
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


def _customer_fields(model: type[Any], key: InstrumentedAttribute[Any]) -> list[Field]:
    return [
        column_field("customer_id", "Customer ID", "int", INT, key),
        _lookup(
            model,
            Customer.id,
            key,
            "customer_member_no",
            "Member no.",
            "str",
            P,
            Customer.member_no,
        ),
        _lookup(
            model, Customer.id, key, "customer_name", "Customer name", "str", P, Customer.name_en
        ),
    ]


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
    _lookup(
        Opportunity,
        StaffUser.id,
        Opportunity.owner_id,
        "owner",
        "Owner",
        "str",
        INT,
        StaffUser.full_name,
    ),
    *_customer_fields(Opportunity, Opportunity.customer_id),
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
    _lookup(
        FollowUpTask,
        Opportunity.id,
        FollowUpTask.opportunity_id,
        "opportunity_reference",
        "Opportunity",
        "str",
        INT,
        Opportunity.reference,
    ),
    _lookup(
        FollowUpTask,
        StaffUser.id,
        FollowUpTask.owner_id,
        "owner",
        "Owner",
        "str",
        INT,
        StaffUser.full_name,
    ),
    *_customer_fields(FollowUpTask, FollowUpTask.customer_id),
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
    *_customer_fields(CustomerDataItem, CustomerDataItem.customer_id),
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
