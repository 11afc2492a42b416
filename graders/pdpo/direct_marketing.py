"""PDPO Part 6A (direct marketing), rules DM-01 to DM-11, judged on messages sent in the attempt.

Timing. A message is placed on the timeline by (sent_at, id of its audit event). A consent
record counts for DM-01 from when the CRM knew it: its captured_at, or, if the trainee recorded it
during the attempt, the later of captured_at and the recording event (a consent typed in after
the send with an earlier date does not cover the send). A withdrawal counts for DM-06 from when it
was received (captured_at): an opt-out received before a send makes the send a breach even if it
was keyed in later, until a consent on the message's channel renews it. Ties at the same second
are broken by audit event order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from graders.context import EventRecord, GradingContext
from graders.pdpo.base import (
    Breach,
    RuleOutcome,
    breach,
    judge_each,
    judged,
    register_not_applicable,
)
from graders.pdpo.eshop import opt_out_breaches
from graders.pdpo.sales import unscreened_offer_breaches
from graders.pdpo.service import (
    NO_CONSENT_SCREENS,
    OPTED_OUT_SCREENS,
    marketing_call_breaches,
    unchecked_call_breaches,
)
from graders.registry import rule
from graders.results import counted, listing
from graders.results import message as marked
from sandbox_crm.consent import consent_order, current_consent
from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    Campaign,
    CollectionNotice,
    ConsentMethod,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    Message,
    MessageKind,
)

CONSENTING = frozenset({ConsentStatus.GIVEN.value, ConsentStatus.NO_OBJECTION.value})

ORAL_CONFIRMATION_DAYS = 14
"""s35E(1)(b): an oral consent must be confirmed in writing within this many days of it."""

# A heuristic, not a definition of direct marketing: words that usually mean a message offers
# goods or services. English words match whole words in any case ("sale" but not "wholesale");
# the Chinese 優惠 (offer) and 折 (as in 八折, 20% off) match anywhere, so 折 can also match an
# unrelated word: DM-08 findings are for an assessor to confirm.
PROMOTIONAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("offer", re.compile(r"\boffers?\b", re.IGNORECASE)),
    ("discount", re.compile(r"\bdiscount(?:s|ed)?\b", re.IGNORECASE)),
    ("sale", re.compile(r"\bsale\b", re.IGNORECASE)),
    ("promotion", re.compile(r"\bpromotion(?:s|al)?\b", re.IGNORECASE)),
    ("% off", re.compile(r"%\s*off\b", re.IGNORECASE)),
    ("new collection", re.compile(r"\bnew\s+collections?\b", re.IGNORECASE)),
    ("優惠", re.compile("優惠")),
    ("折", re.compile("折")),
)

Moment = tuple[datetime, int]
_UNKNOWN_EVENT = 10**12  # sorts after every real event id at the same second


def promotional_keywords(text: str) -> list[str]:
    """The promotional keywords found in a text (see PROMOTIONAL_PATTERNS)."""
    return [label for label, pattern in PROMOTIONAL_PATTERNS if pattern.search(text or "")]


@dataclass(frozen=True)
class _Consent:
    id: int
    customer_id: int
    channel: str
    status: str
    captured_at: datetime
    received: Moment
    recorded: Moment
    in_attempt: bool
    method: str
    confirmed_in_writing_at: datetime | None

    @property
    def order(self) -> tuple[datetime, int]:
        return consent_order(self)

    def written_confirmation_problem(self, at: datetime) -> dict[str, Any] | None:
        """Why this consent cannot yet be relied on at ``at`` for want of written confirmation.

        None for a consent given other than orally, or given orally and confirmed in writing
        within ORAL_CONFIRMATION_DAYS and by ``at``; else ``{}`` when it was not confirmed by
        then, or the date it was confirmed and how many days late.
        """
        if self.method != ConsentMethod.ORAL.value:
            return None
        confirmed = self.confirmed_in_writing_at
        if confirmed is None or confirmed > at:
            return {}
        late = (confirmed.date() - self.captured_at.date()).days
        if late > ORAL_CONFIRMATION_DAYS:
            return {"confirmed": confirmed.date().isoformat(), "late": late}
        return None


@dataclass(frozen=True)
class _Sent:
    message: Message
    moment: Moment
    event_ids: tuple[int, ...]


class _MarketingLog:
    """Messages and direct-marketing consent records of the attempt, on one timeline."""

    def __init__(self, ctx: GradingContext) -> None:
        self.ctx = ctx
        new_ids = set(ctx.added_ids(Message))
        messages = ctx.added(Message) if new_ids else []
        self.sent = [self._place(m) for m in messages]
        customers = {m.customer_id for m in messages}
        self.member_no: dict[int, str] = {}
        self.consents: dict[int, list[_Consent]] = {c: [] for c in customers}
        self.opted_out_addresses: dict[int, set[str]] = {c: set() for c in customers}
        if not customers:
            return
        self.member_no = {
            customer_id: member_no
            for customer_id, member_no in ctx.final.execute(
                select(Customer.id, Customer.member_no).where(Customer.id.in_(customers))
            )
        }
        new_consents = set(ctx.added_ids(ConsentRecord))
        rows = ctx.final.scalars(
            select(ConsentRecord)
            .where(
                ConsentRecord.customer_id.in_(customers),
                ConsentRecord.purpose == ConsentPurpose.DIRECT_MARKETING.value,
            )
            .order_by(ConsentRecord.id)
        )
        for row in rows:
            self.consents[row.customer_id].append(self._consent(row, row.id in new_consents))
        for customer_id, value in ctx.template.execute(
            select(ContactPoint.customer_id, ContactPoint.value).where(
                ContactPoint.customer_id.in_(customers), ContactPoint.opted_out.is_(True)
            )
        ):
            self.opted_out_addresses[customer_id].add(_address(value))

    def _place(self, message: Message) -> _Sent:
        events = self.ctx.event_ids_about("message", message.id)
        seq = events[0] if events else _UNKNOWN_EVENT
        return _Sent(message, (message.sent_at, seq), events)

    def _consent(self, row: ConsentRecord, in_attempt: bool) -> _Consent:
        received: Moment = (row.captured_at, 0)
        recorded: Moment = received
        if in_attempt:
            events = self.ctx.events_about("consent_record", row.id)
            if events:
                received = (row.captured_at, events[0].id)
                recorded = max(received, (events[0].occurred_at, events[0].id))
            else:
                received = recorded = (row.captured_at, _UNKNOWN_EVENT)
        return _Consent(
            row.id,
            row.customer_id,
            row.channel,
            row.status,
            row.captured_at,
            received,
            recorded,
            in_attempt,
            row.method,
            row.confirmed_in_writing_at,
        )

    def promotional(self) -> list[_Sent]:
        """Promotional messages sent in the attempt, in id order."""
        return [s for s in self.sent if s.message.kind == MessageKind.PROMOTIONAL.value]

    def service(self) -> list[_Sent]:
        """Service messages sent in the attempt, in id order."""
        return [s for s in self.sent if s.message.kind == MessageKind.SERVICE.value]

    def channel_consent(self, sent: _Sent) -> _Consent | None:
        """The latest consent record on the message's channel that the CRM knew at the send."""
        known = [
            c
            for c in self.consents[sent.message.customer_id]
            if c.channel == sent.message.channel and c.recorded <= sent.moment
        ]
        return current_consent(known)

    def relied_on(self, sent: _Sent) -> list[_Consent]:
        """The consents on the message's channel in force at the send, latest first.

        The unbroken run of given / no-objection records, on that channel and known to the CRM
        at the send, since its last other record; empty if its latest record does not consent.
        """
        known = sorted(
            (
                c
                for c in self.consents[sent.message.customer_id]
                if c.channel == sent.message.channel and c.recorded <= sent.moment
            ),
            key=consent_order,
            reverse=True,
        )
        run = []
        for consent in known:
            if consent.status not in CONSENTING:
                break
            run.append(consent)
        return run

    def opt_out(self, sent: _Sent) -> _Consent | str | None:
        """The opt-out in force at the send: a withdrawal or an opted-out address not renewed.

        A withdrawal on any channel is renewed by a later consent on the message's channel that
        the CRM knew at the send. An address opted out before the attempt (the contact point's
        flag in the template, which has no date) is renewed by such a consent recorded in the
        attempt.
        """
        message = sent.message
        consents = self.consents[message.customer_id]
        renewals = [
            c
            for c in consents
            if c.channel == message.channel and c.status in CONSENTING and c.recorded <= sent.moment
        ]
        withdrawals = [
            c
            for c in consents
            if c.status == ConsentStatus.WITHDRAWN.value and c.received <= sent.moment
        ]
        latest = current_consent(withdrawals)
        if latest is not None and not any(c.order > latest.order for c in renewals):
            return latest
        opted_out = self.opted_out_addresses[message.customer_id]
        if _address(message.to_address) in opted_out and not any(c.in_attempt for c in renewals):
            return message.to_address
        return None

    def records(self, sent: _Sent, *consents: _Consent | None) -> tuple[tuple[str, int], ...]:
        """Records a finding about this message points at."""
        found = [("message", sent.message.id), ("customer", sent.message.customer_id)]
        found += [("consent_record", c.id) for c in consents if c is not None]
        return tuple(found)

    def who(self, sent: _Sent) -> dict[str, Any]:
        """Member number of the message's customer, for messages (a message to fill in)."""
        member = self.member_no.get(sent.message.customer_id)
        if member:
            return marked(N_("member %(member)s"), member=member)
        return marked(N_("customer %(customer)s"), customer=sent.message.customer_id)

    def promotion_breach(
        self, sent: _Sent, template: str, values: dict[str, Any], *consents: _Consent | None
    ) -> Breach:
        """A finding about one promotional message: ``template`` names which, to whom and when
        (``channel``, ``message``, ``who``, ``sent``) and what is wrong (``values``)."""
        sent_message = sent.message
        about = {
            "channel": sent_message.channel,
            "message": sent_message.id,
            "who": self.who(sent),
            "sent": _when(sent_message.sent_at),
        }
        return breach(template, about | values, sent.event_ids, self.records(sent, *consents))


_CALL_WITHOUT_CONSENT = N_(
    "Marketing %(channel)s contact #%(activity)s with member %(member)s on %(when)s without"
    " direct-marketing consent (the call script's check said: %(screen)s)."
)
_CALL_AFTER_OPT_OUT = N_(
    "Marketing %(channel)s contact #%(activity)s with member %(member)s on %(when)s after the"
    " customer opted out of direct marketing (the call script's check said: %(screen)s)."
)


def _address(value: str | None) -> str:
    return "".join((value or "").split()).lower()


def _log(ctx: GradingContext) -> _MarketingLog:
    return ctx.memo("pdpo.direct_marketing.log", lambda: _MarketingLog(ctx))


def _when(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")


def _scope(messages: Iterable[_Sent], kind: str) -> dict[str, Any]:
    count = len(list(messages))
    if kind == "service":
        return counted(
            count,
            N_("%(count)d service message sent in the attempt"),
            N_("%(count)d service messages sent in the attempt"),
        )
    return counted(
        count,
        N_("%(count)d promotional message sent in the attempt"),
        N_("%(count)d promotional messages sent in the attempt"),
    )


def _judge_promotions(
    log: _MarketingLog, find: Callable[[_Sent], Iterable[Breach]], more: Iterable[Breach] = ()
) -> RuleOutcome:
    """Judge each promotional message sent in the attempt with ``find``, then ``more``."""
    promotional = log.promotional()
    return judge_each(promotional, find, scope=_scope(promotional, "promotional"), more=more)


@rule(
    "DM-01",
    title=N_("Direct marketing without consent"),
    basis="s35E",
    severity="critical",
    description=N_(
        "No promotional message without a given / no-objection consent on its channel beforehand."
    ),
)
def dm_01(ctx: GradingContext) -> RuleOutcome:
    """No promotional message without a given / no-objection consent on its channel beforehand."""
    log = _log(ctx)

    def find(sent: _Sent) -> Iterator[Breach]:
        consent = log.channel_consent(sent)
        if consent is not None and consent.status in CONSENTING:
            return
        status = consent.status if consent is not None else marked(N_("none recorded"))
        template = N_(
            "Promotional %(channel)s message #%(message)s to %(who)s on %(sent)s without"
            " direct-marketing consent on %(channel)s (consent status at the time: %(status)s)."
        )
        yield log.promotion_breach(sent, template, {"status": status}, consent)

    calls = marketing_call_breaches(ctx, NO_CONSENT_SCREENS, _CALL_WITHOUT_CONSENT)
    return _judge_promotions(log, find, more=calls)


@rule(
    "DM-04",
    title=N_("Oral consent not confirmed in writing"),
    basis="s35E(1)(b)",
    severity="critical",
    description=N_(
        "No promotional message relies on an oral consent not confirmed in writing in 14 days."
    ),
)
def dm_04(ctx: GradingContext) -> RuleOutcome:
    """No promotional message relies on an oral consent not confirmed in writing in 14 days."""
    log = _log(ctx)

    def find(sent: _Sent) -> Iterator[Breach]:
        consents = log.relied_on(sent)  # none at all is DM-01's finding
        problems = [c.written_confirmation_problem(sent.message.sent_at) for c in consents]
        if not consents or None in problems:
            return
        latest, problem = consents[0], problems[0] or {}
        if problem:
            template = N_(
                "Promotional %(channel)s message #%(message)s to %(who)s on %(sent)s relies on"
                " consent given orally on %(given)s, although it was confirmed in writing only"
                " on %(confirmed)s, %(late)d days after it was given."
            )
        else:
            template = N_(
                "Promotional %(channel)s message #%(message)s to %(who)s on %(sent)s relies on"
                " consent given orally on %(given)s, before it was confirmed in writing."
            )
        values = {"given": _when(latest.captured_at), **problem}
        yield log.promotion_breach(sent, template, values, latest)

    return _judge_promotions(log, find)


@rule(
    "DM-05",
    title=N_("First marketing message without opt-out notice"),
    basis="s35F",
    severity="critical",
    description=N_(
        "The first promotional message ever sent to a customer tells them they may opt out."
    ),
)
def dm_05(ctx: GradingContext) -> RuleOutcome:
    """The first promotional message ever sent to a customer tells them they may opt out."""
    log = _log(ctx)
    sent_now = {s.message.id: s for s in log.promotional()}
    customers = sorted({s.message.customer_id for s in sent_now.values()})
    breaches = []
    for customer_id in customers:
        first = ctx.final.scalars(
            select(Message)
            .where(
                Message.customer_id == customer_id,
                Message.kind == MessageKind.PROMOTIONAL.value,
            )
            .order_by(Message.sent_at, Message.id)
            .limit(1)
        ).first()
        if first is None or first.id not in sent_now or first.has_opt_out_notice:
            continue
        sent = sent_now[first.id]
        breaches.append(
            breach(
                N_(
                    "The first promotional message to %(who)s (#%(message)s, %(sent)s) does not"
                    " tell them they may opt out free of charge."
                ),
                {"who": log.who(sent), "message": first.id, "sent": _when(first.sent_at)},
                sent.event_ids,
                log.records(sent),
            )
        )
    return judged(breaches, scope=_scope(log.promotional(), "promotional"))


@rule(
    "DM-06",
    title=N_("Direct marketing after an opt-out"),
    basis="s35G",
    severity="critical",
    description=N_("Nothing promotional is sent after an opt-out was received, on any channel."),
)
def dm_06(ctx: GradingContext) -> RuleOutcome:
    """Nothing promotional is sent after an opt-out was received, on any channel."""
    log = _log(ctx)

    def find(sent: _Sent) -> Iterator[Breach]:
        opt_out = log.opt_out(sent)
        if opt_out is None:
            return
        if isinstance(opt_out, _Consent):
            template = N_(
                "Promotional %(channel)s message #%(message)s to %(who)s on %(sent)s after the"
                " customer opted out of direct marketing by %(opt_out_channel)s (received"
                " %(received)s; an opt-out covers every channel)."
            )
            values = {"opt_out_channel": opt_out.channel, "received": _when(opt_out.captured_at)}
            yield log.promotion_breach(sent, template, values, opt_out)
        else:
            template = N_(
                "Promotional %(channel)s message #%(message)s to %(who)s on %(sent)s to an"
                " address the customer had opted out of before the attempt."
            )
            yield log.promotion_breach(sent, template, {})

    calls = marketing_call_breaches(ctx, OPTED_OUT_SCREENS, _CALL_AFTER_OPT_OUT)
    return _judge_promotions(log, find, more=[*calls, *opt_out_breaches(ctx)])


@rule(
    "DM-08",
    title=N_("Promotion in a service message"),
    basis="s35A; HKSAR v HKBN",
    severity="critical",
    description=N_(
        "Service messages to opted-out or non-consenting customers carry no promotional content."
    ),
)
def dm_08(ctx: GradingContext) -> RuleOutcome:
    """Service messages to opted-out or non-consenting customers carry no promotional content."""
    log = _log(ctx)

    def find(sent: _Sent) -> Iterator[Breach]:
        message = sent.message
        words = promotional_keywords(f"{message.subject}\n{message.body}")
        if not words:
            return
        opt_out = log.opt_out(sent)
        consent = log.channel_consent(sent)
        if opt_out is None and consent is not None and consent.status in CONSENTING:
            return
        if opt_out is not None:
            template = N_(
                "Service message #%(message)s to %(who)s, who has opted out of direct marketing,"
                " contains promotional wording (%(words)s)."
            )
        else:
            template = N_(
                "Service message #%(message)s to %(who)s, who has not consented to direct"
                " marketing, contains promotional wording (%(words)s)."
            )
        words_listed = listing(words, style="comma")
        values = {"message": message.id, "who": log.who(sent), "words": words_listed}
        yield breach(
            template,
            values,
            sent.event_ids,
            log.records(sent, opt_out if isinstance(opt_out, _Consent) else consent),
        )

    return judge_each(log.service(), find, scope=_scope(log.service(), "service"))


register_not_applicable(
    "DM-09",
    title=N_("Data provided to another company for its marketing"),
    basis="s35J, s35K",
    severity="critical",
    checks=N_("Data is given to another company for its marketing only with written consent."),
    reason=N_("The sandbox has no operation that provides personal data to another company."),
)
register_not_applicable(
    "DM-10",
    title=N_("Provision continued after an opt-out"),
    basis="s35L",
    severity="critical",
    checks=N_("After an opt-out from provision, no further provision and the recipients told."),
    reason=N_(
        "The sandbox has no operation that provides personal data to another company, so "
        "there is no provision to stop."
    ),
)
register_not_applicable(
    "DM-11",
    title=N_("Marketing vendor not bound or given too much"),
    basis="s35I(2); DPP4(2)",
    severity="high",
    checks=N_(
        "Marketing vendors are recorded as agents under contract and receive only consented, "
        "minimal fields."
    ),
    reason=N_(
        "The sandbox does not record marketing vendors, their contracts or what they receive."
    ),
)


# --- campaigns --------------------------------------------------------------------------------

CHANNEL_DATA_KINDS = {"email": "email", "sms": "mobile", "phone": "mobile", "post": "address"}
"""The kind of personal data a channel uses, as a notice's direct-marketing data kinds name it."""

WITHDRAWN = ConsentStatus.WITHDRAWN.value


def _same(text: str) -> str:
    return " ".join((text or "").split()).casefold()


@rule(
    "DM-03",
    title=N_("Marketing outside the consented data kinds or classes"),
    basis="s35E",
    severity="critical",
)
def dm_03(ctx: GradingContext) -> RuleOutcome:
    """A campaign's marketing class and its channel's data kind are within the consent relied on.

    The consent's notice says which classes of goods and services, and which kinds of data, the
    customer agreed to; a message sent for a campaign of another class, or on a channel whose
    data the notice does not name, is outside the consent. A consent with no notice is DM-02's.
    """
    log = _log(ctx)
    sent = [s for s in log.promotional() if s.message.campaign_id is not None]
    campaigns = {
        c.id: c
        for c in ctx.final.scalars(
            select(Campaign).where(Campaign.id.in_({s.message.campaign_id for s in sent}))
        )
    }
    notices: dict[int, CollectionNotice | None] = {}
    breaches = []
    for item in sent:
        consents = log.relied_on(item)
        if not consents:
            continue  # DM-01's finding
        notice_id = ctx.final.scalar(
            select(ConsentRecord.notice_id).where(ConsentRecord.id == consents[0].id)
        )
        if notice_id is None:
            continue
        if notice_id not in notices:
            notices[notice_id] = ctx.final.get(CollectionNotice, notice_id)
        notice = notices[notice_id]
        campaign = campaigns.get(item.message.campaign_id)
        if notice is None or campaign is None:
            continue
        classes = {_same(c) for c in notice.dm_marketing_classes or ()}
        kinds = {_same(k) for k in notice.dm_data_kinds or ()}
        kind = CHANNEL_DATA_KINDS.get(item.message.channel, item.message.channel)
        if _same(campaign.marketing_class) not in classes:
            breaches.append(
                breach(
                    N_(
                        "Promotional message #%(message)s to %(who)s markets %(marketing_class)s, "
                        "a class of goods or services the customer's consent (notice "
                        "%(notice)s) does not cover."
                    ),
                    {
                        "message": item.message.id,
                        "who": log.who(item),
                        "marketing_class": campaign.marketing_class,
                        "notice": notice.version,
                    },
                    item.event_ids,
                    log.records(item, consents[0]),
                )
            )
        elif kind not in kinds:
            breaches.append(
                breach(
                    N_(
                        "Promotional message #%(message)s to %(who)s uses the customer's "
                        "%(kind)s, a kind of data the consent (notice %(notice)s) does not cover."
                    ),
                    {
                        "message": item.message.id,
                        "who": log.who(item),
                        "kind": kind,
                        "notice": notice.version,
                    },
                    item.event_ids,
                    log.records(item, consents[0]),
                )
            )
    scope = counted(
        len(sent),
        N_("%(count)d campaign message sent in the attempt"),
        N_("%(count)d campaign messages sent in the attempt"),
    )
    return judged(breaches, scope=scope)


def _receives_opt_out(event: EventRecord) -> bool:
    """Whether an event brought an opt-out into the CRM (a withdrawal, or replies to a campaign)."""
    if event.operation == "consent.record":
        return event.detail("status") == WITHDRAWN
    if event.operation == "campaign.results":
        return bool(event.detail("opted_out"))
    return False


@rule(
    "DM-07",
    title=N_("Audience not screened against opt-outs"),
    basis="s35G; Ricacorp 2021",
    severity="critical",
)
def dm_07(ctx: GradingContext) -> RuleOutcome:
    """Every campaign is screened against the opt-out list after its audience was last built,
    and no opt-out reached the CRM between that screening and the send."""
    sends = ctx.events_of("campaign.send")
    breaches = []
    for send in sends:
        campaign_id = send.entity_id
        earlier = [e for e in ctx.events if e.id < send.id]
        about = [e for e in earlier if e.entity_type == "campaign" and e.entity_id == campaign_id]
        builds = [e.id for e in about if e.operation == "campaign.build_audience"]
        screens = [
            e.id
            for e in about
            if e.operation == "campaign.screen" and e.id > max(builds, default=0)
        ]
        name = ctx.final.scalar(select(Campaign.name).where(Campaign.id == campaign_id)) or ""
        values = {"campaign": name, "count": len(send.detail("messages") or ())}
        if not screens:
            breaches.append(
                breach(
                    N_(
                        "Campaign %(campaign)r went to %(count)s customers without screening its "
                        "audience against the opt-out list since the audience was built."
                    ),
                    values,
                    (send.id,),
                    (("campaign", campaign_id),),
                )
            )
            continue
        late = [e.id for e in earlier if e.id > screens[-1] and _receives_opt_out(e)]
        if late:
            breaches.append(
                breach(
                    N_(
                        "Campaign %(campaign)r went to %(count)s customers on a screening made "
                        "before an opt-out was received; it was not screened again at the send."
                    ),
                    values,
                    (screens[-1], *late, send.id),
                    (("campaign", campaign_id),),
                )
            )
    breaches += unchecked_call_breaches(ctx)
    breaches += unscreened_offer_breaches(ctx)
    scope = counted(
        len(sends),
        N_("%(count)d campaign send in the attempt"),
        N_("%(count)d campaign sends in the attempt"),
    )
    return judged(breaches, scope=scope)


# --- the notice a consent refers to -----------------------------------------------------------

_NOTICE_GAPS = (
    (
        "dm_intent_stated",
        N_(
            "Promotional message #%(message)s to %(who)s relies on a consent given under notice "
            "%(notice)s, which does not say that the data will be used for direct marketing."
        ),
    ),
    (
        "dm_data_kinds",
        N_(
            "Promotional message #%(message)s to %(who)s relies on a consent given under notice "
            "%(notice)s, which does not name the kinds of personal data to be used."
        ),
    ),
    (
        "dm_marketing_classes",
        N_(
            "Promotional message #%(message)s to %(who)s relies on a consent given under notice "
            "%(notice)s, which does not name the classes of goods or services to be marketed."
        ),
    ),
    (
        "dm_reply_channel",
        N_(
            "Promotional message #%(message)s to %(who)s relies on a consent given under notice "
            "%(notice)s, which gives no channel to reply free of charge."
        ),
    ),
)
"""What s35C requires a direct-marketing notice to state, and the finding when it does not."""


def notice_gaps(notice: CollectionNotice) -> list[str]:
    """The findings' templates for what a notice fails to state under s35C (empty if none)."""
    return [template for attribute, template in _NOTICE_GAPS if not getattr(notice, attribute)]


@rule(
    "DM-02",
    title=N_("Consent without a proper direct-marketing notice"),
    basis="s35C",
    severity="critical",
)
def dm_02(ctx: GradingContext) -> RuleOutcome:
    """The consent a promotional message relies on refers to a notice that states the intent,
    the kinds of data, the classes of marketing subjects and a free reply channel (s35C)."""
    log = _log(ctx)
    notices: dict[int, CollectionNotice | None] = {}
    breaches = []
    for item in log.promotional():
        consents = log.relied_on(item)
        if not consents:
            continue  # DM-01's finding
        notice_id = ctx.final.scalar(
            select(ConsentRecord.notice_id).where(ConsentRecord.id == consents[0].id)
        )
        if notice_id is not None and notice_id not in notices:
            notices[notice_id] = ctx.final.get(CollectionNotice, notice_id)
        notice = notices.get(notice_id) if notice_id is not None else None
        values = {"message": item.message.id, "who": log.who(item)}
        if notice is None:
            breaches.append(
                breach(
                    N_(
                        "Promotional message #%(message)s to %(who)s relies on a consent that "
                        "refers to no direct-marketing notice."
                    ),
                    values,
                    item.event_ids,
                    log.records(item, consents[0]),
                )
            )
            continue
        for template in notice_gaps(notice):
            breaches.append(
                breach(
                    template,
                    {**values, "notice": notice.version},
                    item.event_ids,
                    log.records(item, consents[0]),
                )
            )
    return judged(breaches, scope=_scope(log.promotional(), "promotional"))
