"""Sales management: regions and their managers, quotas, and each salesperson's capacity.

The sales regions are the branches' own regions (Hong Kong Island, Kowloon, New Territories),
each with a regional manager. Quotas are HK$ targets for a region, a branch or a salesperson
over a month ("2027-01") or a quarter ("2027-Q1"); attainment is read through the
``sales_quotas`` source from qualifying orders. A salesperson works at most
``max_open_opportunities`` open opportunities; opportunities move between people of the same
region, and to another region's staff only by that region's manager, never over capacity.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import Branch, Region, StaffUser
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    apply_changes,
    get_entity,
    operation,
)
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    FollowUpTask,
    Opportunity,
    QuotaLevel,
    Salesperson,
    SalesQuota,
    SalesRegion,
    TaskStatus,
)
from sandbox_crm.sales.operations import OpportunityRefArgs, check_sales_permission

__all__ = [
    "DIRECTOR_DEPARTMENTS",
    "assign_region_manager",
    "open_load",
    "period_dates",
    "reassign_opportunity",
    "region_of",
    "set_sales_capacity",
    "set_sales_quota",
]

DIRECTOR_DEPARTMENTS = frozenset({"sales", "management"})
"""Departments whose staff run sales across regions (set region quotas, appoint managers)."""

MAX_CAPACITY = 200
_PERIOD = re.compile(r"^(\d{4})-(?:Q([1-4])|(0[1-9]|1[0-2]))$")


def period_dates(period: str) -> tuple[date, date]:
    """The first and last day of a period "2027-Q1" or "2027-01"; ValueError otherwise."""
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(period)
    year = int(match.group(1))
    if match.group(2):
        first = (int(match.group(2)) - 1) * 3 + 1
        last = first + 2
    else:
        first = last = int(match.group(3))
    return date(year, first, 1), date(year, last, monthrange(year, last)[1])


def open_load(session: Session, staff_id: int) -> int:
    """How many open opportunities the staff member owns."""
    return (
        session.scalar(
            select(func.count(Opportunity.id)).where(
                Opportunity.owner_id == staff_id, Opportunity.stage.in_(OPEN_STAGES)
            )
        )
        or 0
    )


def region_of(session: Session, staff_id: int | None) -> str | None:
    """The sales region of a staff member: their salesperson region, else their branch's."""
    if staff_id is None:
        return None
    region = session.scalar(select(Salesperson.region).where(Salesperson.staff_id == staff_id))
    if region is not None:
        return region
    return session.scalar(
        select(Branch.region)
        .join(StaffUser, StaffUser.branch_id == Branch.id)
        .where(StaffUser.id == staff_id)
    )


def _manages(session: Session, actor: StaffUser, region: str) -> bool:
    """Whether the actor is the manager of the region."""
    return (
        session.scalar(select(SalesRegion.manager_id).where(SalesRegion.name == region)) == actor.id
    )


def _is_director(actor: StaffUser) -> bool:
    return actor.department is not None and actor.department.code in DIRECTOR_DEPARTMENTS


def _staff(session: Session, username: str, field: str = "username") -> StaffUser:
    staff = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if staff is None or not staff.is_active:
        raise OperationError(
            Message(N_("There is no active staff member with username %(name)r."), name=username),
            field,
        )
    return staff


def _salesperson(session: Session, username: str, field: str = "username") -> Salesperson:
    staff = _staff(session, username, field)
    person = session.scalar(select(Salesperson).where(Salesperson.staff_id == staff.id))
    if person is None:
        raise OperationError(
            Message(N_("%(name)s is not on a sales team."), name=staff.full_name), field
        )
    return person


def _region(session: Session, name: str) -> SalesRegion:
    region = session.scalar(select(SalesRegion).where(SalesRegion.name == name))
    if region is None:
        raise OperationError(
            Message(N_("There is no sales region called %(name)r."), name=name), "region"
        )
    return region


# --- quotas ------------------------------------------------------------------------------------


class SetSalesQuotaArgs(Args):
    """Arguments of set_sales_quota."""

    level: QuotaLevel = Arg(title="For", description="region, branch or salesperson.")
    period: str = Arg(
        title="Period",
        min_length=7,
        max_length=7,
        description='A quarter ("2027-Q1") or a month ("2027-01").',
    )
    target_hkd: int = Arg(
        title="Quota (HK$)", ge=1_000, le=10_000_000_000, description="The sales target."
    )
    region: Region | None = Arg(None, title="Region", description="For a region quota.")
    branch_code: str | None = Arg(
        None, title="Branch", max_length=16, description="For a branch quota: the shop's code."
    )
    username: str | None = Arg(
        None, title="Salesperson", max_length=40, description="For a salesperson quota."
    )


def _quota_target(
    session: Session, level: str, region: str | None, branch_code: str | None, username: str | None
) -> tuple[str, int | None, int | None]:
    """The region, branch id and staff id a quota is for (OperationError if not one of them)."""
    if level == QuotaLevel.REGION.value:
        if not region:
            raise OperationError(Message(N_("Choose the region the quota is for.")), "region")
        return _region(session, region).name, None, None
    if level == QuotaLevel.BRANCH.value:
        branch = session.scalar(select(Branch).where(Branch.code == (branch_code or "")))
        if branch is None or branch.kind != "store":
            raise OperationError(
                Message(N_("There is no shop with code %(code)r."), code=branch_code or ""),
                "branch_code",
            )
        return branch.region, branch.id, None
    if not username:
        raise OperationError(Message(N_("Name the salesperson the quota is for.")), "username")
    person = _salesperson(session, username)
    return person.region, None, person.staff_id


@operation(
    "set_sales_quota",
    args=SetSalesQuotaArgs,
    event="sales_quota.set",
    description="Set the HK$ quota of a region, a shop or a salesperson for a month or quarter.",
)
def set_sales_quota(
    session: Session,
    actor: StaffUser,
    level: str,
    period: str,
    target_hkd: int,
    region: str | None = None,
    branch_code: str | None = None,
    username: str | None = None,
) -> SalesQuota:
    """Set (or change) the quota; a period already over cannot be given one."""
    check_sales_permission(actor)
    try:
        start, end = period_dates(period)
    except ValueError:
        raise OperationError(
            Message(N_('Give the period as a quarter ("2027-Q1") or a month ("2027-01").')),
            "period",
        ) from None
    if end < sandbox_today(session):
        raise OperationError(
            Message(
                N_("The period %(period)s is over; set quotas for now or later."), period=period
            ),
            "period",
        )
    level = QuotaLevel(level).value
    quota_region, branch_id, staff_id = _quota_target(session, level, region, branch_code, username)
    if not _is_director(actor) and (
        level == QuotaLevel.REGION.value or not _manages(session, actor, quota_region)
    ):
        raise OperationError(
            Message(
                N_(
                    "Region quotas are set by the sales office; a regional manager sets the "
                    "quotas of their own region's shops and people."
                )
            ),
            "level",
        )
    quota = session.scalar(
        select(SalesQuota).where(
            SalesQuota.level == level,
            SalesQuota.region == quota_region,
            SalesQuota.branch_id.is_(None)
            if branch_id is None
            else SalesQuota.branch_id == branch_id,
            SalesQuota.staff_id.is_(None) if staff_id is None else SalesQuota.staff_id == staff_id,
            SalesQuota.period == period,
        )
    )
    details = {"level": level, "region": quota_region, "period": period}
    if quota is not None:
        apply_changes(
            session,
            actor,
            quota,
            {"target_hkd": target_hkd, "set_by_id": actor.id},
            operation="sales_quota.set",
            entity_type="sales_quota",
            details={"sales_quota_id": quota.id, **details},
            unchanged=Message(N_("That quota is already set to that amount.")),
            stamp="set_at",
        )
        session.flush()
        return quota
    quota = SalesQuota(
        level=level,
        region=quota_region,
        branch_id=branch_id,
        staff_id=staff_id,
        period=period,
        period_start=start,
        period_end=end,
        target_hkd=target_hkd,
        set_by_id=actor.id,
        set_at=sandbox_now(session),
    )
    session.add(quota)
    session.flush()
    record_event(
        session,
        actor,
        "sales_quota.set",
        "sales_quota",
        quota.id,
        after=snapshot(quota, ["level", "region", "period", "target_hkd"]),
        details={"sales_quota_id": quota.id, **details},
    )
    return quota


# --- capacity ----------------------------------------------------------------------------------


class SetSalesCapacityArgs(Args):
    """Arguments of set_sales_capacity."""

    username: str = Arg(
        title="Salesperson", min_length=1, max_length=40, description="Their username."
    )
    max_open_opportunities: int = Arg(
        title="Capacity (open opportunities)",
        ge=0,
        le=MAX_CAPACITY,
        description="How many open opportunities they can work at once.",
    )


@operation(
    "set_sales_capacity",
    args=SetSalesCapacityArgs,
    event="sales_capacity.set",
    description="Set how many open opportunities a salesperson can work at once.",
)
def set_sales_capacity(
    session: Session, actor: StaffUser, username: str, max_open_opportunities: int
) -> Salesperson:
    """Set the capacity; it cannot go below the open opportunities they already work."""
    check_sales_permission(actor)
    person = _salesperson(session, username)
    if not _is_director(actor) and not _manages(session, actor, person.region):
        raise OperationError(
            Message(N_("Only the sales office or the region's manager sets a capacity.")),
            "username",
        )
    load = open_load(session, person.staff_id)
    if max_open_opportunities < load:
        raise OperationError(
            Message(
                N_(
                    "%(name)s already works %(load)s open opportunities: reassign some before "
                    "lowering the capacity to %(capacity)s."
                ),
                name=username,
                load=load,
                capacity=max_open_opportunities,
            ),
            "max_open_opportunities",
        )
    apply_changes(
        session,
        actor,
        person,
        {"max_open_opportunities": max_open_opportunities},
        operation="sales_capacity.set",
        entity_type="salesperson",
        details={"staff_id": person.staff_id, "region": person.region},
        unchanged=Message(
            N_("The capacity is already %(capacity)s."), capacity=max_open_opportunities
        ),
    )
    session.flush()
    return person


# --- regions -----------------------------------------------------------------------------------


class AssignRegionManagerArgs(Args):
    """Arguments of assign_region_manager."""

    region: Region = Arg(title="Region", description="The sales region.")
    username: str = Arg(
        title="Manager", min_length=1, max_length=40, description="The new manager's username."
    )


@operation(
    "assign_region_manager",
    args=AssignRegionManagerArgs,
    event="sales_region.manager",
    description="Appoint a region's sales manager from the staff working in that region.",
)
def assign_region_manager(
    session: Session, actor: StaffUser, region: str, username: str
) -> SalesRegion:
    """Appoint the manager: someone active, working in the region, managing no other region."""
    check_sales_permission(actor)
    if not _is_director(actor):
        raise OperationError(Message(N_("Regional managers are appointed by the sales office.")))
    sales_region = _region(session, str(region))
    staff = _staff(session, username)
    if staff.is_trainee or staff.id == actor.id:
        raise OperationError(Message(N_("You cannot appoint yourself.")), "username")
    code = staff.department.code if staff.department is not None else ""
    if code not in ("sales", "store_operations", "management"):
        raise OperationError(
            Message(N_("%(name)s does not work in sales."), name=staff.full_name), "username"
        )
    if region_of(session, staff.id) != sales_region.name:
        raise OperationError(
            Message(
                N_("%(name)s does not work in %(region)s."),
                name=staff.full_name,
                region=Message(sales_region.name),
            ),
            "username",
        )
    other = session.scalar(
        select(SalesRegion.name).where(
            SalesRegion.manager_id == staff.id, SalesRegion.id != sales_region.id
        )
    )
    if other is not None:
        raise OperationError(
            Message(
                N_("%(name)s already manages %(region)s."),
                name=staff.full_name,
                region=Message(other),
            ),
            "username",
        )
    apply_changes(
        session,
        actor,
        sales_region,
        {"manager_id": staff.id},
        operation="sales_region.manager",
        entity_type="sales_region",
        details={"region": sales_region.name, "staff_id": staff.id},
        unchanged=Message(N_("%(name)s already manages this region."), name=staff.full_name),
    )
    session.flush()
    return sales_region


# --- reassignment ------------------------------------------------------------------------------


class ReassignOpportunityArgs(OpportunityRefArgs):
    """Arguments of reassign_opportunity."""

    username: str = Arg(
        title="New owner", min_length=1, max_length=40, description="The salesperson's username."
    )


@operation(
    "reassign_opportunity",
    args=ReassignOpportunityArgs,
    event="opportunity.reassign",
    description="Give an open opportunity (and its open follow-ups) to another salesperson.",
)
def reassign_opportunity(
    session: Session, actor: StaffUser, opportunity_id: int, username: str
) -> Opportunity:
    """Reassign within the region, or across only by the receiving region's manager; within
    the new owner's capacity."""
    check_sales_permission(actor)
    opportunity = get_entity(session, Opportunity, opportunity_id, "opportunity")
    if opportunity.stage not in OPEN_STAGES:
        raise OperationError(
            Message(N_("Only an open opportunity (new, qualified, proposal) can be reassigned.")),
            "opportunity_id",
        )
    person = _salesperson(session, username)
    if person.staff_id == opportunity.owner_id:
        raise OperationError(Message(N_("It is already theirs.")), "username")
    from_region = region_of(session, opportunity.owner_id)
    if (
        from_region is not None
        and person.region != from_region
        and not _manages(session, actor, person.region)
    ):
        raise OperationError(
            Message(
                N_(
                    "%(name)s works in %(to)s, the opportunity in %(origin)s: only the manager of "
                    "%(to)s may move it there, as it gives them that customer's data."
                ),
                name=username,
                to=Message(person.region),
                origin=Message(from_region),
            ),
            "username",
        )
    load = open_load(session, person.staff_id)
    if load + 1 > person.max_open_opportunities:
        raise OperationError(
            Message(
                N_(
                    "%(name)s already works %(load)s open opportunities of a capacity of "
                    "%(capacity)s."
                ),
                name=username,
                load=load,
                capacity=person.max_open_opportunities,
            ),
            "username",
        )
    previous = opportunity.owner_id
    details: dict[str, Any] = {
        "opportunity_id": opportunity.id,
        "customer_id": opportunity.customer_id,
        "from_staff_id": previous,
        "to_staff_id": person.staff_id,
        "from_region": from_region,
        "to_region": person.region,
    }
    apply_changes(
        session,
        actor,
        opportunity,
        {"owner_id": person.staff_id},
        operation="opportunity.reassign",
        entity_type="opportunity",
        details=details,
    )
    for task in session.scalars(
        select(FollowUpTask).where(
            FollowUpTask.opportunity_id == opportunity.id,
            FollowUpTask.status == TaskStatus.OPEN.value,
        )
    ):
        task.owner_id = person.staff_id
    session.flush()
    return opportunity
