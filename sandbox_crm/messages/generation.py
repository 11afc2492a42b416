"""Generating campaigns and the messages sent for them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm.customers.generation import USABLE, Member, consent_active, opted_out_at
from sandbox_crm.generator import CHANNEL_CONTACT_KINDS, GenerationRun, Rows
from sandbox_crm.models import (
    Campaign,
    Channel,
    Message,
    MessageKind,
)


def campaigns(run: GenerationRun) -> None:
    rng = run.rng
    plans = data.CAMPAIGNS[run.profile]
    chosen = sorted(rng.sample(range(len(plans)), rng.randint(3, min(5, len(plans)))))
    classes = data.MARKETING_CLASSES[run.profile]
    marketers = run.staff_by_dept["marketing"] or [run.trainee_id]
    campaigns, audiences = [], []
    for campaign_id, index in enumerate(chosen, start=1):
        name, objective, channel, class_index, tiers, months = plans[index]
        sent = datetime.combine(
            run.today - timedelta(days=30 * months + rng.randint(0, 20)), time(10, 0)
        )
        campaigns.append(
            {
                "id": campaign_id,
                "name": name,
                "objective": objective,
                "channel": channel,
                "marketing_class": classes[class_index],
                "status": "completed",
                "created_by_id": rng.choice(marketers),
                "created_at": sent - timedelta(days=rng.randint(7, 21), hours=rng.randint(0, 5)),
                "sent_at": sent,
            }
        )
        audiences.append((campaign_id, name, channel, tiers, sent))
    run.rows[Campaign] = campaigns
    run.rows[Message] = Rows(_MESSAGE_COLUMNS, lambda: _message_rows(run, audiences))


_MESSAGE_COLUMNS = (
    "id",
    "customer_id",
    "campaign_id",
    "staff_id",
    "channel",
    "kind",
    "to_address",
    "subject",
    "body",
    "has_opt_out_notice",
    "sent_at",
)


def _message_rows(run: GenerationRun, audiences: list[tuple]) -> Iterator[tuple[Any, ...]]:
    """Each campaign went to the customers who could lawfully receive it when it was sent.

    The member's own columns are checked first (cheap), the contact point and consent after.
    Made afresh on each pass (ids from 1), as values in _MESSAGE_COLUMNS order.
    """
    members = run.members
    columns = members.columns
    created, tier_of, closed = columns["created_at"], columns["tier"], columns["closed_on"]
    ids = itertools.count(1)
    for campaign_id, name, channel, tiers, sent in audiences:
        sent_day = sent.date()
        # The contact columns the channel reaches, in order of preference (member.reach).
        reaching = [members.contacts[kind] for kind in CHANNEL_CONTACT_KINDS[channel]]
        for index in range(len(members)):
            if (
                created[index] >= sent
                or (tiers and tier_of[index] not in tiers)
                or (closed[index] is not None and closed[index] <= sent_day)
            ):
                continue
            for contact in reaching:
                if contact.ids[index]:
                    break
            else:
                continue
            if not contact.flags[index] & USABLE:
                continue
            member = Member(members, index)
            if opted_out_at(run, member, contact.kind, sent) or not consent_active(
                run, member, channel, sent
            ):
                continue
            subject, body = _message_text(run, name, channel, columns["name_en"][index])
            yield (
                next(ids),
                index + 1,
                campaign_id,
                None,
                channel,
                MessageKind.PROMOTIONAL.value,
                contact.values[index],
                subject,
                body,
                True,
                sent,
            )


def _message_text(run: GenerationRun, name: str, channel: str, customer: str) -> tuple[str, str]:
    """A promotional message's subject and body."""
    if channel == Channel.EMAIL:
        subject = f"{name} | {run.company}"
        body = (
            f"Dear {customer}, discover {name} at {run.company.rstrip('.')}. To stop "
            f"receiving promotions, click Unsubscribe or email optout@{run.domain} "
            "(free of charge)."
        )
        return subject, body
    body = (
        f"[{run.company.split()[0]}] {name}: members' offers in store now. "
        "Reply STOP to opt out (free)."
    )
    return "", body
