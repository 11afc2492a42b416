"""A campaign's plan, its audience (one row per customer considered) and their responses."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class RecipientStatus(enum.StrEnum):
    """Where a customer stands in a campaign's audience."""

    SELECTED = "selected"
    EXCLUDED = "excluded"
    SCREENED_OUT = "screened_out"
    SENT = "sent"


class ScreenReason(enum.StrEnum):
    """Why screening (or a hand exclusion) took a customer out of the audience."""

    EXCLUDED_BY_HAND = "excluded_by_hand"
    NO_CONSENT = "no_consent"
    UNCONFIRMED_ORAL = "unconfirmed_oral"
    WITHDRAWN = "withdrawn"
    OPTED_OUT_CONTACT = "opted_out_contact"
    INVALID_CONTACT = "invalid_contact"
    NO_CONTACT = "no_contact"
    CLOSED = "closed"


class Response(enum.StrEnum):
    """What came back from a recipient after the send."""

    NONE = "none"
    OPENED = "opened"
    CLICKED = "clicked"
    PURCHASED = "purchased"
    OPTED_OUT = "opted_out"


class CampaignPlan(SandboxBase):
    """What a campaign is for and whom it reaches: budget, consent purpose, audience rule."""

    __tablename__ = "campaign_plan"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    budget_hkd: Mapped[int] = mapped_column(Integer, default=0)
    consent_purpose: Mapped[str] = mapped_column(String(32), default="direct_marketing")
    audience_rule: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    exclusions: Mapped[list[Any]] = mapped_column(default=list)
    audience_built_at: Mapped[datetime | None] = mapped_column(DateTime)
    screened_at: Mapped[datetime | None] = mapped_column(DateTime)
    results_at: Mapped[datetime | None] = mapped_column(DateTime)


class CampaignRecipient(SandboxBase):
    """One customer in a campaign's audience, the outcome of screening, the send and response."""

    __tablename__ = "campaign_recipient"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RecipientStatus.SELECTED)
    reason: Mapped[str] = mapped_column(String(24), default="")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime)
    response: Mapped[str] = mapped_column(String(16), default=Response.NONE)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    converted_hkd: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
