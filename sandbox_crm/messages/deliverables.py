"""Campaigns a trainee may hand in."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.deliverables import deliverable_kind
from sandbox_crm.models import Campaign


@deliverable_kind("campaign", entity_type="campaign", plural="campaigns", describe=lambda c: c.name)
def own_campaigns(session: Session, staff_id: int) -> Sequence[Campaign]:
    """The campaigns the staff member created, newest first."""
    return session.scalars(
        select(Campaign).where(Campaign.created_by_id == staff_id).order_by(Campaign.id.desc())
    ).all()
