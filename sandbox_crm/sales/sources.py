"""The opportunities, follow-ups and customer data report sources."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.models import Branch, Region, SalesOrder, Sensitivity, StaffUser
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    FollowUpTask,
    LeadChannel,
    Opportunity,
    OpportunityStage,
    QuotaLevel,
    Salesperson,
    SalesQuota,
    SalesRegion,
    TaskStatus,
)
from sandbox_crm.sources import (
    QUALIFYING_ORDER_STATUSES,
    SOURCES,
    Field,
    QueryScope,
    Source,
    column_field,
    customer_fields,
    end_of_day,
    enum_values,
    index_fields,
    lookup_field,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


def _owner_region() -> ColumnElement[Any]:
    return (
        select(Salesperson.region)
        .where(Salesperson.staff_id == Opportunity.owner_id)
        .correlate(Opportunity)
        .scalar_subquery()
    )


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
    Field(
        "owner_region",
        "Owner's sales region",
        "enum",
        INT,
        lambda scope: _owner_region(),
        enum_values(Region),
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


# --- sales management: quotas with their attainment, the sales team, the regions --------------


def _attained(scope: QueryScope) -> ColumnElement[Any]:
    """Qualifying orders of the quota's region, shop or salesperson in its period, to as_of."""
    day = func.date(SalesOrder.ordered_at)
    return (
        select(func.coalesce(func.sum(SalesOrder.total_hkd), 0, type_=Integer))
        .select_from(SalesOrder)
        .outerjoin(Branch, Branch.id == SalesOrder.branch_id)
        .where(
            SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES),
            SalesOrder.ordered_at < end_of_day(scope.as_of),
            day >= SalesQuota.period_start,
            day <= SalesQuota.period_end,
            or_(
                and_(
                    SalesQuota.level == QuotaLevel.REGION.value,
                    Branch.region == SalesQuota.region,
                ),
                and_(
                    SalesQuota.level == QuotaLevel.BRANCH.value,
                    SalesOrder.branch_id == SalesQuota.branch_id,
                ),
                and_(
                    SalesQuota.level == QuotaLevel.SALESPERSON.value,
                    SalesOrder.staff_id == SalesQuota.staff_id,
                ),
            ),
        )
        .correlate(SalesQuota)
        .scalar_subquery()
    )


def _attainment_pct(scope: QueryScope) -> ColumnElement[Any]:
    return (_attained(scope) * 100) // func.nullif(SalesQuota.target_hkd, 0)


def _shortfall(scope: QueryScope) -> ColumnElement[Any]:
    gap = SalesQuota.target_hkd - _attained(scope)
    return case((gap > 0, gap), else_=0)


def _branch_code(scope: QueryScope) -> ColumnElement[Any]:
    return select(Branch.code).where(Branch.id == SalesQuota.branch_id).scalar_subquery()


def _staff_column(key: Any, column: Any) -> Any:
    def build(scope: QueryScope) -> ColumnElement[Any]:
        return select(column).where(StaffUser.id == key).scalar_subquery()

    return build


def _open_count() -> Any:
    return (
        select(func.count(Opportunity.id))
        .where(Opportunity.owner_id == Salesperson.staff_id, Opportunity.stage.in_(OPEN_STAGES))
        .correlate(Salesperson)
        .scalar_subquery()
    )


def _open_opportunities(scope: QueryScope) -> ColumnElement[Any]:
    return _open_count()


def _open_value(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(func.coalesce(func.sum(Opportunity.value_hkd), 0, type_=Integer))
        .where(Opportunity.owner_id == Salesperson.staff_id, Opportunity.stage.in_(OPEN_STAGES))
        .correlate(Salesperson)
        .scalar_subquery()
    )


def _spare(scope: QueryScope) -> ColumnElement[Any]:
    return Salesperson.max_open_opportunities - _open_count()


def _over(scope: QueryScope) -> ColumnElement[Any]:
    return case((_open_count() > Salesperson.max_open_opportunities, True), else_=False)


def _region_count(model: Any, condition: Any) -> Any:
    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(func.count())
            .select_from(model)
            .where(condition)
            .correlate(SalesRegion)
            .scalar_subquery()
        )

    return build


def _has_manager(scope: QueryScope) -> ColumnElement[Any]:
    return case((SalesRegion.manager_id.is_not(None), True), else_=False)


REGIONS = enum_values(Region)

QUOTA_FIELDS = index_fields(
    column_field("quota_id", "Quota ID", "int", INT, SalesQuota.id),
    column_field("level", "For", "enum", INT, SalesQuota.level, choices=enum_values(QuotaLevel)),
    column_field("region", "Region", "enum", INT, SalesQuota.region, choices=REGIONS),
    Field("branch_code", "Branch", "str", INT, _branch_code),
    Field(
        "salesperson",
        "Salesperson",
        "str",
        INT,
        _staff_column(SalesQuota.staff_id, StaffUser.full_name),
    ),
    Field(
        "salesperson_username",
        "Salesperson username",
        "str",
        INT,
        _staff_column(SalesQuota.staff_id, StaffUser.username),
    ),
    column_field("period", "Period", "str", INT, SalesQuota.period),
    column_field("period_start", "Period start", "date", INT, SalesQuota.period_start),
    column_field("period_end", "Period end", "date", INT, SalesQuota.period_end),
    column_field("target_hkd", "Quota (HK$)", "int", INT, SalesQuota.target_hkd),
    Field(
        "attained_hkd",
        "Attained (HK$)",
        "int",
        INT,
        _attained,
        nullable=False,
        description="Qualifying orders (paid, shipped, completed) in the period up to the date.",
    ),
    Field("attainment_pct", "Attainment (%)", "int", INT, _attainment_pct),
    Field("shortfall_hkd", "Still to sell (HK$)", "int", INT, _shortfall, nullable=False),
)

TEAM_FIELDS = index_fields(
    column_field("staff_id", "Staff ID", "int", INT, Salesperson.staff_id),
    Field(
        "username",
        "Username",
        "str",
        INT,
        _staff_column(Salesperson.staff_id, StaffUser.username),
        nullable=False,
    ),
    Field(
        "name",
        "Name",
        "str",
        INT,
        _staff_column(Salesperson.staff_id, StaffUser.full_name),
        nullable=False,
    ),
    Field("title", "Title", "str", INT, _staff_column(Salesperson.staff_id, StaffUser.title)),
    column_field("region", "Region", "enum", INT, Salesperson.region, choices=REGIONS),
    column_field(
        "max_open_opportunities",
        "Capacity",
        "int",
        INT,
        Salesperson.max_open_opportunities,
    ),
    Field("open_opportunities", "Opportunities open", "int", INT, _open_opportunities),
    Field("open_value_hkd", "Open value (HK$)", "int", INT, _open_value, nullable=False),
    Field("spare_capacity", "Spare capacity", "int", INT, _spare, nullable=False),
    Field("over_capacity", "Over capacity", "bool", INT, _over, nullable=False),
)

REGION_FIELDS = index_fields(
    column_field("region", "Region", "enum", INT, SalesRegion.name, choices=REGIONS),
    Field(
        "manager",
        "Regional manager",
        "str",
        INT,
        _staff_column(SalesRegion.manager_id, StaffUser.full_name),
    ),
    Field(
        "manager_username",
        "Manager username",
        "str",
        INT,
        _staff_column(SalesRegion.manager_id, StaffUser.username),
    ),
    Field("has_manager", "Has a manager", "bool", INT, _has_manager, nullable=False),
    Field(
        "shops",
        "Shops",
        "int",
        INT,
        _region_count(Branch, and_(Branch.region == SalesRegion.name, Branch.kind == "store")),
        nullable=False,
    ),
    Field(
        "salespeople",
        "Salespeople",
        "int",
        INT,
        _region_count(Salesperson, Salesperson.region == SalesRegion.name),
        nullable=False,
    ),
)

SOURCES.add(
    "sales_quotas",
    Source(
        name="sales_quotas",
        label=N_("Sales quotas and attainment"),
        model=SalesQuota,
        key_field="quota_id",
        fields=QUOTA_FIELDS,
        default_columns=("period", "level", "region", "target_hkd", "attained_hkd"),
    ),
)
SOURCES.add(
    "sales_team",
    Source(
        name="sales_team",
        label=N_("Sales team capacity"),
        model=Salesperson,
        key_field="staff_id",
        fields=TEAM_FIELDS,
        default_columns=("name", "region", "max_open_opportunities", "open_opportunities"),
    ),
)
SOURCES.add(
    "sales_regions",
    Source(
        name="sales_regions",
        label=N_("Sales regions"),
        model=SalesRegion,
        key_field="region",
        fields=REGION_FIELDS,
        default_columns=("region", "manager", "shops", "salespeople"),
    ),
)
