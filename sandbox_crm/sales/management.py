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
from decimal import ROUND_CEILING, Decimal
from typing import Any

from pydantic import model_validator
from sqlalchemy import Date, func, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import Branch, Region, SalesOrder, StaffUser
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
from sandbox_crm.sources import QUALIFYING_ORDER_STATUSES

__all__ = [
    "DIRECTOR_DEPARTMENTS",
    "assign_region_manager",
    "open_load",
    "period_dates",
    "period_sales",
    "quota_from_history",
    "reassign_opportunity",
    "rebalance_region",
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
    target_hkd: int | None = Arg(
        None,
        title="Quota (HK$)",
        ge=1_000,
        le=10_000_000_000,
        description="The sales target (or leave it to be computed from from_period).",
    )
    from_period: str | None = Arg(
        None,
        title="Based on period",
        min_length=7,
        max_length=7,
        description="Compute the quota from what the same region, shop or person sold then.",
    )
    growth_percent: float = Arg(
        0, title="Growth (%)", ge=-90, le=500, description="Growth on from_period's sales."
    )
    round_up_to_hkd: int = Arg(
        1,
        title="Round up to (HK$)",
        ge=1,
        le=1_000_000,
        description="Round the computed quota up to a multiple of this (e.g. 10000).",
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


def _parsed_period(period: str, field: str) -> tuple[date, date]:
    try:
        return period_dates(period)
    except ValueError:
        raise OperationError(
            Message(N_('Give the period as a quarter ("2027-Q1") or a month ("2027-01").')), field
        ) from None


def period_sales(
    session: Session,
    level: str,
    region: str,
    branch_id: int | None,
    staff_id: int | None,
    start: date,
    end: date,
) -> int:
    """Qualifying orders of a region, shop or salesperson from ``start`` to ``end`` (HK$).

    The same rule as a quota's attainment in the ``sales_quotas`` source.
    """
    day = func.date(SalesOrder.ordered_at, type_=Date)
    query = select(func.coalesce(func.sum(SalesOrder.total_hkd), 0)).where(
        SalesOrder.status.in_(QUALIFYING_ORDER_STATUSES),
        day >= start,
        day <= end,
    )
    if level == QuotaLevel.REGION.value:
        query = query.where(
            SalesOrder.branch_id.in_(select(Branch.id).where(Branch.region == region))
        )
    elif level == QuotaLevel.BRANCH.value:
        query = query.where(SalesOrder.branch_id == branch_id)
    else:
        query = query.where(SalesOrder.staff_id == staff_id)
    return int(session.scalar(query) or 0)


def quota_from_history(sold: int, growth_percent: float, round_up_to_hkd: int) -> int:
    """A quota of ``sold`` plus the growth, rounded up to a multiple of ``round_up_to_hkd``."""
    grown = Decimal(sold) * (Decimal(100) + Decimal(str(growth_percent))) / Decimal(100)
    step = Decimal(round_up_to_hkd)
    return int((grown / step).to_integral_value(rounding=ROUND_CEILING) * step)


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
    target_hkd: int | None = None,
    region: str | None = None,
    branch_code: str | None = None,
    username: str | None = None,
    from_period: str | None = None,
    growth_percent: float = 0,
    round_up_to_hkd: int = 1,
) -> SalesQuota:
    """Set (or change) the quota, given or computed from an earlier period's sales plus growth;
    a period already over cannot be given one."""
    check_sales_permission(actor)
    start, end = _parsed_period(period, "period")
    if (target_hkd is None) == (from_period is None):
        raise OperationError(
            Message(N_("Give either the quota or the period to base it on, not both.")),
            "target_hkd",
        )
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
    if from_period is not None:
        base_start, base_end = _parsed_period(from_period, "from_period")
        if base_end >= sandbox_today(session):
            raise OperationError(
                Message(N_("Base the quota on a period that is over.")), "from_period"
            )
        sold = period_sales(session, level, quota_region, branch_id, staff_id, base_start, base_end)
        if sold <= 0:
            raise OperationError(
                Message(
                    N_("Nothing was sold in %(period)s to base the quota on."), period=from_period
                ),
                "from_period",
            )
        target_hkd = quota_from_history(sold, growth_percent, round_up_to_hkd)
    target_hkd = int(target_hkd or 0)
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
    username: str | None = Arg(
        None, title="Manager", max_length=40, description="The new manager's username."
    )
    staff_id: int | None = Arg(None, description="Or the new manager's staff id.")

    @model_validator(mode="after")
    def _one_person(self) -> AssignRegionManagerArgs:
        if (self.username is None) == (self.staff_id is None):
            raise ValueError("give either username or staff_id")
        return self


@operation(
    "assign_region_manager",
    args=AssignRegionManagerArgs,
    event="sales_region.manager",
    description="Appoint a region's sales manager from the staff working in that region.",
)
def assign_region_manager(
    session: Session,
    actor: StaffUser,
    region: str,
    username: str | None = None,
    staff_id: int | None = None,
) -> SalesRegion:
    """Appoint the manager: someone active, working in the region, managing no other region."""
    check_sales_permission(actor)
    if not _is_director(actor):
        raise OperationError(Message(N_("Regional managers are appointed by the sales office.")))
    sales_region = _region(session, str(region))
    if staff_id is not None:
        found = session.get(StaffUser, staff_id)
        username = found.username if found is not None else f"#{staff_id}"
    staff = _staff(session, username or "")
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


class RebalanceRegionArgs(Args):
    """Arguments of rebalance_region."""

    region: Region = Arg(title="Region", description="The sales region to rebalance.")


@operation(
    "rebalance_region",
    args=RebalanceRegionArgs,
    event="sales_region.rebalance",
    description="Move the newest open opportunities of a region's over-capacity salespeople to "
    "colleagues of the same region with room, most room first.",
)
def rebalance_region(session: Session, actor: StaffUser, region: str) -> SalesRegion:
    """Bring everyone in the region within capacity, staying in the region; refused, changing
    nothing, if the region has not the room."""
    check_sales_permission(actor)
    sales_region = _region(session, str(region))
    if not _is_director(actor) and not _manages(session, actor, sales_region.name):
        raise OperationError(
            Message(N_("Only the sales office or the region's manager rebalances a region."))
        )
    team = session.scalars(
        select(Salesperson)
        .where(Salesperson.region == sales_region.name)
        .order_by(Salesperson.staff_id)
    ).all()
    active = {
        s.id
        for s in session.scalars(
            select(StaffUser).where(StaffUser.id.in_([p.staff_id for p in team]))
        )
        if s.is_active
    }
    load = {p.staff_id: open_load(session, p.staff_id) for p in team}
    excess = {
        p.staff_id: load[p.staff_id] - p.max_open_opportunities
        for p in team
        if load[p.staff_id] > p.max_open_opportunities
    }
    if not excess:
        raise OperationError(
            Message(
                N_("Nobody in %(region)s is over capacity."), region=Message(sales_region.name)
            ),
            "region",
        )
    room = {
        p.staff_id: p.max_open_opportunities - load[p.staff_id]
        for p in team
        if p.staff_id in active
        and p.staff_id not in excess
        and load[p.staff_id] < p.max_open_opportunities
    }
    needed = sum(excess.values())
    if sum(room.values()) < needed:
        raise OperationError(
            Message(
                N_(
                    "%(region)s has room for %(room)s more open opportunities but %(needed)s "
                    "must move: raise a capacity or add a salesperson first."
                ),
                region=Message(sales_region.name),
                room=sum(room.values()),
                needed=needed,
            ),
            "region",
        )
    moves: list[dict[str, int]] = []
    for staff_id, count in excess.items():
        newest = session.scalars(
            select(Opportunity)
            .where(Opportunity.owner_id == staff_id, Opportunity.stage.in_(OPEN_STAGES))
            .order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
            .limit(count)
        ).all()
        for opportunity in newest:
            to = max(room, key=lambda i: (room[i], -i))
            room[to] -= 1
            opportunity.owner_id = to
            opportunity.updated_at = sandbox_now(session)
            for task in session.scalars(
                select(FollowUpTask).where(
                    FollowUpTask.opportunity_id == opportunity.id,
                    FollowUpTask.status == TaskStatus.OPEN.value,
                )
            ):
                task.owner_id = to
            moves.append({"opportunity_id": opportunity.id, "from": staff_id, "to": to})
    record_event(
        session,
        actor,
        "sales_region.rebalance",
        "sales_region",
        sales_region.id,
        after={"moved": len(moves)},
        details={"region": sales_region.name, "moves": moves},
    )
    session.flush()
    return sales_region
