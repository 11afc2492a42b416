"""The CRM's home page: a dashboard of counts, my reports and recently opened customers."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import render_template
from sqlalchemy import func, select

from sandbox_crm.clock import sandbox_today
from sandbox_crm.models import (
    AuditEvent,
    Customer,
    CustomerStatus,
    ReportDefinition,
    SalesOrder,
    Tier,
)
from sandbox_crm.sources import end_of_day
from sandbox_crm.web.core import actor, bp, db

RECENT_DAYS = 30


@bp.get("/")
def home() -> str:
    """Dashboard: customers, active members by tier, recent orders, my reports."""
    session = db()
    me = actor()
    today = sandbox_today(session)
    customers = session.scalar(select(func.count()).select_from(Customer)) or 0
    by_tier = dict(
        session.execute(
            select(Customer.tier, func.count())
            .where(Customer.status == CustomerStatus.ACTIVE.value)
            .group_by(Customer.tier)
        ).all()
    )
    since = datetime.combine(today - timedelta(days=RECENT_DAYS - 1), time())
    recent_orders = (
        session.scalar(
            select(func.count())
            .select_from(SalesOrder)
            .where(SalesOrder.ordered_at >= since, SalesOrder.ordered_at < end_of_day(today))
        )
        or 0
    )
    my_reports = session.scalars(
        select(ReportDefinition)
        .where(ReportDefinition.owner_id == me.id, ReportDefinition.is_deleted.is_(False))
        .order_by(ReportDefinition.updated_at.desc(), ReportDefinition.id.desc())
        .limit(10)
    ).all()
    recent_ids = session.scalars(
        select(AuditEvent.entity_id)
        .where(AuditEvent.actor_id == me.id, AuditEvent.operation == "customer.view")
        .group_by(AuditEvent.entity_id)
        .order_by(func.max(AuditEvent.id).desc())
        .limit(5)
    ).all()
    recent_customers = []
    for customer_id in recent_ids:
        customer = session.get(Customer, customer_id)
        if customer is not None:
            recent_customers.append(customer)
    return render_template(
        "crm/home.html",
        customers=customers,
        active_by_tier=[(tier.value, by_tier.get(tier.value, 0)) for tier in Tier],
        active_total=sum(by_tier.values()),
        recent_orders=recent_orders,
        recent_days=RECENT_DAYS,
        my_reports=my_reports,
        recent_customers=recent_customers,
    )
