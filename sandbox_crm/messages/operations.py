"""Sending messages to customers (emails, SMS, calls, letters), by staff or for a campaign.

Sending is never blocked for lack of consent or after an opt-out: a real CRM lets staff make that
mistake, and the PDPO graders must be able to see it. The audit event records the consent status
and contact flags at the moment of sending as evidence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.customers.operations import CHANNEL_CONTACT_KINDS, current_consent_status
from sandbox_crm.models import (
    Campaign,
    Channel,
    ConsentPurpose,
    ContactPoint,
    Message,
    MessageKind,
    StaffUser,
)
from sandbox_crm.operations.base import (
    Arg,
    CustomerArgs,
    OperationError,
    get_customer,
    get_entity,
    operation,
)

__all__ = [
    "SendMessageArgs",
    "add_message",
    "contact_evidence",
    "primary_contact_for",
    "send_message",
]

BODY_MAX_LENGTH = 10000
SUBJECT_MAX_LENGTH = 200


def primary_contact_for(session: Session, customer_id: int, channel: str) -> ContactPoint | None:
    """The contact point a message on ``channel`` goes to: preferred kind, primary, oldest."""
    kinds = CHANNEL_CONTACT_KINDS[channel]
    preference = case({kind: i for i, kind in enumerate(kinds)}, value=ContactPoint.kind)
    return session.scalars(
        select(ContactPoint)
        .where(ContactPoint.customer_id == customer_id, ContactPoint.kind.in_(kinds))
        .order_by(preference, ContactPoint.is_primary.desc(), ContactPoint.id)
        .limit(1)
    ).first()


def add_message(
    session: Session,
    actor: StaffUser,
    contact: ContactPoint,
    *,
    channel: str,
    kind: str,
    subject: str,
    body: str,
    has_opt_out_notice: bool,
    campaign_id: int | None = None,
    sent_at: datetime | None = None,
) -> Message:
    """Add one message from ``actor`` to ``contact`` (its customer's), sent now or at sent_at."""
    message = Message(
        customer_id=contact.customer_id,
        campaign_id=campaign_id,
        staff_id=actor.id,
        channel=channel,
        kind=kind,
        to_address=contact.value,
        subject=subject,
        body=body,
        has_opt_out_notice=has_opt_out_notice,
        sent_at=sent_at if sent_at is not None else sandbox_now(session),
    )
    session.add(message)
    session.flush()
    return message


def contact_evidence(
    session: Session,
    contact: ContactPoint,
    channel: str,
    purpose: str = ConsentPurpose.DIRECT_MARKETING.value,
) -> dict[str, Any]:
    """What the CRM knew at a send: the contact's flags and the customer's consent (``purpose``)."""
    return {
        "contact_point_id": contact.id,
        "contact_opted_out": contact.opted_out,
        "contact_invalid": contact.is_invalid,
        "dm_consent": current_consent_status(session, contact.customer_id, purpose, channel),
    }


class SendMessageArgs(CustomerArgs):
    """Arguments of send_message."""

    channel: Channel = Arg(title="Channel", description="email, sms, phone (a call) or post.")
    kind: MessageKind = Arg(title="Kind", description="promotional (direct marketing) or service.")
    subject: str = Arg(
        "", title="Subject", max_length=SUBJECT_MAX_LENGTH, description="Subject line."
    )
    body: str = Arg(
        title="Message",
        min_length=1,
        max_length=BODY_MAX_LENGTH,
        description="The text sent, or what was said on a call.",
    )
    has_opt_out_notice: bool = Arg(
        False,
        title="Opt-out notice",
        description="Whether the message tells the customer how to opt out, free.",
    )
    campaign_id: int | None = Arg(None, description="The campaign it is sent for, if any.")


@operation(
    "send_message",
    args=SendMessageArgs,
    event="message.send",
    description="Send an email, SMS, letter or make a call to a customer.",
)
def send_message(
    session: Session,
    actor: StaffUser,
    *,
    customer_id: int,
    channel: str,
    kind: str,
    subject: str = "",
    body: str = "",
    has_opt_out_notice: bool = False,
    campaign_id: int | None = None,
) -> Message:
    """Send one message to a customer's primary contact for the channel."""
    customer = get_customer(session, customer_id)
    campaign = None
    if campaign_id is not None:
        campaign = get_entity(session, Campaign, campaign_id, "campaign")
        if campaign.channel != channel:
            raise OperationError(
                f"Campaign {campaign.name!r} runs on {campaign.channel}, not {channel}.", "channel"
            )
    contact = primary_contact_for(session, customer.id, channel)
    if contact is None:
        raise OperationError(
            f"{customer.name_en} ({customer.member_no}) has no contact for {channel}.", "channel"
        )
    evidence = contact_evidence(session, contact, channel)
    message = add_message(
        session,
        actor,
        contact,
        channel=channel,
        kind=kind,
        subject=subject,
        body=body,
        has_opt_out_notice=has_opt_out_notice,
        campaign_id=campaign.id if campaign is not None else None,
    )
    record_event(
        session,
        actor,
        "message.send",
        "message",
        message.id,
        after=snapshot(
            message,
            [
                "customer_id",
                "campaign_id",
                "channel",
                "kind",
                "to_address",
                "subject",
                "has_opt_out_notice",
                "sent_at",
            ],
        ),
        details={"customer_id": customer.id, **evidence},
    )
    return message
