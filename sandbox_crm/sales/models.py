"""Opportunities, follow-up tasks and customer data held for a stated purpose."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class OpportunityStage(enum.StrEnum):
    """Where a sales opportunity stands."""

    NEW = "new"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    WON = "won"
    LOST = "lost"


OPEN_STAGES = frozenset(
    {OpportunityStage.NEW, OpportunityStage.QUALIFIED, OpportunityStage.PROPOSAL}
)
"""Stages of an opportunity still being worked."""


class LeadChannel(enum.StrEnum):
    """How the enquiry reached the shop."""

    STORE = "store"
    PHONE = "phone"
    ESHOP = "eshop"
    EVENT = "event"
    REFERRAL = "referral"
    CROSS_SELLING = "cross_selling"


class TaskStatus(enum.StrEnum):
    """Whether a follow-up task is still to do."""

    OPEN = "open"
    DONE = "done"


class DataKind(enum.StrEnum):
    """Kinds of customer data the shop records beside the membership record."""

    RING_SIZE = "ring_size"
    WEDDING_DATE = "wedding_date"
    ANNIVERSARY_DATE = "anniversary_date"
    BIRTHDAY = "birthday"
    PREFERENCE = "preference"


class DataPurpose(enum.StrEnum):
    """The purpose a piece of customer data was collected for (told to the customer then)."""

    WARRANTY_REGISTRATION = "warranty_registration"
    REPAIR = "repair"
    SERVICE_CASE = "service_case"
    SALES_ENQUIRY = "sales_enquiry"
    MARKETING = "marketing"


CROSS_SELLING_PURPOSES = frozenset({DataPurpose.SALES_ENQUIRY.value, DataPurpose.MARKETING.value})
"""Purposes whose data may be used to suggest and offer other products (DPP3)."""


class DataSource(enum.StrEnum):
    """Where a piece of customer data came from."""

    WARRANTY_CARD = "warranty_card"
    REPAIR_TICKET = "repair_ticket"
    SERVICE_CASE = "service_case"
    CUSTOMER_TOLD_STAFF = "customer_told_staff"
    MEMBERSHIP_FORM = "membership_form"


class Opportunity(SandboxBase):
    """A possible sale being worked: who, what, how much, by whom, and what data it used.

    ``used_data`` lists what the opportunity was based on (orders and customer data items, each
    with the purpose the data was collected for), so that a use outside that purpose shows.
    """

    __tablename__ = "opportunity"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(16), default=OpportunityStage.NEW)
    value_hkd: Mapped[int] = mapped_column(Integer, default=0)
    products: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    expected_close: Mapped[date | None] = mapped_column(Date)
    source_channel: Mapped[str] = mapped_column(String(16), default=LeadChannel.STORE)
    lost_reason: Mapped[str] = mapped_column(String(200), default="")
    suggestion: Mapped[str] = mapped_column(String(24), default="")
    used_data: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class FollowUpTask(SandboxBase):
    """Something to do for a customer or an opportunity by a due date."""

    __tablename__ = "follow_up_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date, index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    status: Mapped[str] = mapped_column(String(8), default=TaskStatus.OPEN)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CustomerDataItem(SandboxBase):
    """One piece of customer data with the purpose it was collected for and where it came from."""

    __tablename__ = "customer_data_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    collected_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id"))


class CrossSellBatch(SandboxBase):
    """One bulk action on a suggestion list: opening its opportunities, or sending its offers."""

    __tablename__ = "cross_sell_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(24))
    suggestion: Mapped[str] = mapped_column(String(24))
    data_used: Mapped[str] = mapped_column(String(8), default="any")
    channel: Mapped[str] = mapped_column(String(16), default="")
    screened: Mapped[bool] = mapped_column(default=False)
    made_at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    opportunity_ids: Mapped[list[Any]] = mapped_column(default=list)
    message_ids: Mapped[list[Any]] = mapped_column(default=list)
    skipped: Mapped[list[Any]] = mapped_column(default=list)


class QuotaLevel(enum.StrEnum):
    """What a sales quota is set for."""

    REGION = "region"
    BRANCH = "branch"
    SALESPERSON = "salesperson"


class SalesRegion(SandboxBase):
    """A sales region (the branches' own region) and the manager responsible for it."""

    __tablename__ = "sales_region"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class Salesperson(SandboxBase):
    """A member of staff who works opportunities: their sales region and their capacity.

    ``max_open_opportunities`` is how many open opportunities they can work at once; the
    region is their branch's, or the territory given to head-office sales staff.
    """

    __tablename__ = "salesperson"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), unique=True)
    region: Mapped[str] = mapped_column(String(40), index=True)
    max_open_opportunities: Mapped[int] = mapped_column(Integer, default=10)


class SalesQuota(SandboxBase):
    """A sales target in HK$ for a region, a branch or a salesperson over a month or a quarter.

    ``period`` is "2027-Q1" or "2027-01"; attainment is computed from qualifying orders in
    ``[period_start, period_end]`` by the ``sales_quotas`` source.
    """

    __tablename__ = "sales_quota"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(40), index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    period: Mapped[str] = mapped_column(String(8), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    target_hkd: Mapped[int] = mapped_column(Integer)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    set_at: Mapped[datetime] = mapped_column(DateTime)
