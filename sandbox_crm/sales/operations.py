"""Sales automation: opportunities, follow-up tasks, customer data with its purpose, and offers.

An opportunity records the data it was based on (``used_data``): the orders and customer data
items a cross-selling suggestion used, or that the salesperson names, each with the purpose the
data was collected for, so that using data outside its purpose shows (USE-01). New information
a customer gives (a ring size, a wedding date) is recorded as a data item with its source and
purpose. An offer sent from an opportunity or a follow-up task is a promotional message
(Part 6A applies); it is held back only when the salesperson asks for screening at the send,
so the PDPO rules can see an unscreened mistake.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.activities.operations import CLEAR
from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.campaigns.operations import screen_reason
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.i18n import N_, Message
from sandbox_crm.messages.operations import add_message, contact_evidence, primary_contact_for
from sandbox_crm.models import Channel, ConsentPurpose, Customer, MessageKind, StaffUser
from sandbox_crm.models import Message as OfferMessage
from sandbox_crm.operations.base import (
    Arg,
    Args,
    CustomerArgs,
    OperationError,
    RecordArgs,
    apply_changes,
    check_department,
    get_entity,
    operation,
)
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    CrossSellBatch,
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    FollowUpTask,
    LeadChannel,
    Opportunity,
    OpportunityStage,
    TaskStatus,
)
from sandbox_crm.sales.suggestions import RULES, suggestions

__all__ = [
    "SALES_DEPARTMENTS",
    "add_follow_up",
    "check_sales_permission",
    "complete_follow_up",
    "create_opportunities",
    "create_opportunity",
    "offer_screen",
    "record_customer_data",
    "send_offer",
    "send_offers",
    "update_opportunity",
]

SALES_DEPARTMENTS = frozenset({"sales", "store_operations", "customer_service", "management"})
"""Departments whose staff may work opportunities and follow-ups (the sandbox's permission)."""

TEXT_MAX_LENGTH = 200
RuleCode = Literal["wedding_bands", "watch_servicing", "pearl_earrings", "anniversary_gift"]


def check_sales_permission(actor: StaffUser) -> None:
    """Refuse staff whose department does not sell (and disabled accounts)."""
    check_department(
        actor, SALES_DEPARTMENTS, Message(N_("Your account may not work sales opportunities."))
    )


class OpportunityRefArgs(RecordArgs):
    """Arguments naming an opportunity by id or by its reference."""

    id_field = "opportunity_id"
    reference_field = "reference"
    blank_reference_given = False
    lookup = (Opportunity.id, Opportunity.reference)
    not_found = N_("There is no opportunity with reference %(reference)r.")
    not_found_field = "reference"

    opportunity_id: int | None = Arg(None, description="The opportunity's id.")
    reference: str | None = Arg(
        None, title="Opportunity", max_length=16, description="Its reference (instead of id)."
    )


class CreateOpportunityArgs(CustomerArgs):
    """Arguments of create_opportunity."""

    title: str = Arg(
        title="Title", min_length=1, max_length=TEXT_MAX_LENGTH, description="What is being sold."
    )
    value_hkd: int = Arg(
        0, title="Value (HK$)", ge=0, le=100_000_000, description="Expected value."
    )
    products: str = Arg(
        "", title="Products of interest", max_length=TEXT_MAX_LENGTH, description="The pieces."
    )
    stage: OpportunityStage = Arg(
        OpportunityStage.NEW, title="Stage", description="new, qualified or proposal."
    )
    expected_close: date | None = Arg(None, title="Expected close", description="When.")
    source_channel: LeadChannel = Arg(
        LeadChannel.STORE, title="Source channel", description="How the enquiry came in."
    )
    suggestion: RuleCode | None = Arg(
        None, title="Suggestion", description="The cross-selling rule it comes from, if any."
    )
    used_data: list[int | DataKind] = Arg(
        default_factory=list,
        title="Data used",
        description="The customer's data items the opportunity is based on: ids, or kinds "
        "(ring_size ...) for every item of that kind on file.",
    )


class UpdateOpportunityArgs(OpportunityRefArgs):
    """Arguments of update_opportunity."""

    stage: OpportunityStage = Arg(title="Stage", description="new, qualified, proposal, won, lost.")
    value_hkd: int | None = Arg(
        None, title="Value (HK$)", ge=0, le=100_000_000, description="A new expected value."
    )
    expected_close: date | None = Arg(
        None, title="Expected close", description="A new expected close."
    )
    lost_reason: str = Arg(
        "", title="Lost reason", max_length=TEXT_MAX_LENGTH, description="Why it was lost."
    )


class AddFollowUpArgs(OpportunityRefArgs):
    """Arguments of add_follow_up."""

    subject: str = Arg(
        title="Subject", min_length=1, max_length=TEXT_MAX_LENGTH, description="What to do."
    )
    due_on: date = Arg(title="Due on", description="When it must be done.")


class CompleteFollowUpArgs(Args):
    """Arguments of complete_follow_up."""

    task_id: int = Arg(title="Task", description="The follow-up task's id.")


class RecordCustomerDataArgs(CustomerArgs):
    """Arguments of record_customer_data."""

    kind: DataKind = Arg(
        title="Kind", description="ring_size, wedding_date, anniversary_date, birthday, preference."
    )
    value: str = Arg(title="Value", min_length=1, max_length=120, description="What was given.")
    purpose: DataPurpose = Arg(title="Purpose", description="What it was collected for.")
    source: DataSource = Arg(title="Source", description="Where it came from.")
    opportunity_id: int | None = Arg(None, description="The opportunity it was given for, if any.")


class SendOfferArgs(Args):
    """Arguments of send_offer."""

    opportunity_id: int | None = Arg(None, description="The opportunity the offer is for.")
    task_id: int | None = Arg(None, title="Task", description="Or the follow-up task it is for.")
    channel: Channel = Arg(title="Channel", description="email, sms, phone or post.")
    subject: str = Arg("", title="Subject", max_length=TEXT_MAX_LENGTH, description="Subject line.")
    body: str = Arg(
        title="Message", min_length=1, max_length=10_000, description="The offer's text."
    )
    has_opt_out_notice: bool = Arg(
        False, title="Opt-out notice", description="Whether it says how to opt out, free."
    )
    screen_opt_outs: bool = Arg(
        False,
        title="Screen against opt-outs",
        description="Check consent and the opt-out list at the send, and do not send if not clear.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> SendOfferArgs:
        if (self.opportunity_id is None) == (self.task_id is None):
            raise ValueError("give either opportunity_id or task_id")
        return self


def _used_data(
    session: Session, customer: Customer, suggestion: str | None, named: list[int | str]
) -> list[dict[str, Any]]:
    """What the opportunity is based on: the suggestion's data and the items named."""
    used: list[dict[str, Any]] = []
    if suggestion is not None:
        found = suggestions(
            session, sandbox_today(session), rule=suggestion, customer_ids=[customer.id]
        )
        if not found:
            raise OperationError(
                Message(
                    N_("The suggestion %(rule)r does not apply to %(member)s."),
                    rule=Message(RULES[suggestion].suggests),
                    member=customer.member_no,
                ),
                "suggestion",
            )
        used += [u.as_dict() for u in found[0].used]
    items: list[CustomerDataItem] = []
    for name in dict.fromkeys(named):
        if isinstance(name, str):
            of_kind = session.scalars(
                select(CustomerDataItem)
                .where(
                    CustomerDataItem.customer_id == customer.id,
                    CustomerDataItem.kind == DataKind(name).value,
                )
                .order_by(CustomerDataItem.id)
            ).all()
            if not of_kind:
                raise OperationError(
                    Message(
                        N_("%(member)s has no %(kind)s on file."),
                        member=customer.member_no,
                        kind=Message(name.replace("_", " ")),
                    ),
                    "used_data",
                )
            items += of_kind
            continue
        item = session.get(CustomerDataItem, name)
        if item is None or item.customer_id != customer.id:
            raise OperationError(
                Message(
                    N_("Data item %(item)s is not one of %(member)s's."),
                    item=name,
                    member=customer.member_no,
                ),
                "used_data",
            )
        items.append(item)
    for item in items:
        entry = {"kind": item.kind, "id": item.id, "label": item.value, "purpose": item.purpose}
        if entry not in used:
            used.append(entry)
    return used


def _new_opportunity(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    *,
    title: str,
    stage: str,
    value_hkd: int,
    products: str,
    expected_close: date | None,
    source_channel: str,
    suggestion: str,
    used: list[dict[str, Any]],
) -> Opportunity:
    """Add an opportunity owned by the actor (numbered after the highest), flushed."""
    now = sandbox_now(session)
    number = (session.scalar(select(func.max(Opportunity.id))) or 0) + 1
    opportunity = Opportunity(
        id=number,
        reference=f"OP-{number:06d}",
        customer_id=customer_id,
        title=title,
        stage=OpportunityStage(stage).value,
        value_hkd=value_hkd,
        products=products,
        owner_id=actor.id,
        expected_close=expected_close,
        source_channel=LeadChannel(source_channel).value,
        lost_reason="",
        suggestion=suggestion,
        used_data=used,
        created_at=now,
        updated_at=now,
    )
    session.add(opportunity)
    session.flush()
    return opportunity


def _new_task(
    session: Session, actor: StaffUser, opportunity: Opportunity, subject: str, due_on: date
) -> FollowUpTask:
    """Add an open follow-up task on the opportunity, owned by the actor, flushed."""
    task = FollowUpTask(
        opportunity_id=opportunity.id,
        customer_id=opportunity.customer_id,
        subject=subject,
        due_on=due_on,
        owner_id=actor.id,
        status=TaskStatus.OPEN.value,
        done_at=None,
        created_at=sandbox_now(session),
    )
    session.add(task)
    session.flush()
    return task


@operation(
    "create_opportunity",
    args=CreateOpportunityArgs,
    event="opportunity.create",
    description="Open a sales opportunity for a customer, with the data it is based on.",
)
def create_opportunity(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    title: str,
    value_hkd: int = 0,
    products: str = "",
    stage: str = OpportunityStage.NEW.value,
    expected_close: date | None = None,
    source_channel: str = LeadChannel.STORE.value,
    suggestion: str | None = None,
    used_data: list[int | str] | None = None,
) -> Opportunity:
    """Create the opportunity, owned by the actor; it must start at an open stage."""
    check_sales_permission(actor)
    customer = get_entity(session, Customer, customer_id, "customer")
    if stage not in OPEN_STAGES:
        raise OperationError(
            Message(N_("A new opportunity starts at new, qualified or proposal.")), "stage"
        )
    today = sandbox_today(session)
    if expected_close is not None and expected_close < today:
        raise OperationError(
            Message(N_("The expected close cannot be in the past.")), "expected_close"
        )
    used = _used_data(session, customer, suggestion, list(used_data or []))
    opportunity = _new_opportunity(
        session,
        actor,
        customer.id,
        title=title,
        stage=stage,
        value_hkd=value_hkd,
        products=products,
        expected_close=expected_close,
        source_channel=source_channel,
        suggestion=suggestion or "",
        used=used,
    )
    record_event(
        session,
        actor,
        "opportunity.create",
        "opportunity",
        opportunity.id,
        after=snapshot(opportunity, ["reference", "title", "stage", "value_hkd", "suggestion"]),
        details={
            "opportunity_id": opportunity.id,
            "customer_id": customer.id,
            "suggestion": opportunity.suggestion,
            "used_data": used,
        },
    )
    return opportunity


@operation(
    "update_opportunity",
    args=UpdateOpportunityArgs,
    event="opportunity.update",
    description="Move an opportunity to another stage (a lost one needs the reason).",
)
def update_opportunity(
    session: Session,
    actor: StaffUser,
    opportunity_id: int,
    stage: str,
    value_hkd: int | None = None,
    expected_close: date | None = None,
    lost_reason: str = "",
) -> Opportunity:
    """Change the stage (and value, expected close); a lost opportunity records why."""
    check_sales_permission(actor)
    opportunity = get_entity(session, Opportunity, opportunity_id, "opportunity")
    if stage == OpportunityStage.LOST.value and not lost_reason:
        raise OperationError(Message(N_("Say why the opportunity was lost.")), "lost_reason")
    values: dict[str, Any] = {
        "stage": OpportunityStage(stage).value,
        "lost_reason": lost_reason if stage == OpportunityStage.LOST.value else "",
    }
    if value_hkd is not None:
        values["value_hkd"] = value_hkd
    if expected_close is not None:
        values["expected_close"] = expected_close
    apply_changes(
        session,
        actor,
        opportunity,
        values,
        operation="opportunity.update",
        entity_type="opportunity",
        details={"opportunity_id": opportunity.id, "customer_id": opportunity.customer_id},
        unchanged=Message(N_("Nothing to change: the opportunity is already like that.")),
    )
    session.flush()
    return opportunity


@operation(
    "add_follow_up",
    args=AddFollowUpArgs,
    event="follow_up.add",
    description="Add a follow-up task to an opportunity, owned by you, due on a day.",
)
def add_follow_up(
    session: Session, actor: StaffUser, opportunity_id: int, subject: str, due_on: date
) -> FollowUpTask:
    """Add the task; it must not be due in the past."""
    check_sales_permission(actor)
    opportunity = get_entity(session, Opportunity, opportunity_id, "opportunity")
    if due_on < sandbox_today(session):
        raise OperationError(Message(N_("The due day cannot be in the past.")), "due_on")
    task = _new_task(session, actor, opportunity, subject, due_on)
    record_event(
        session,
        actor,
        "follow_up.add",
        "follow_up_task",
        task.id,
        after=snapshot(task, ["subject", "due_on", "status"]),
        details={
            "task_id": task.id,
            "opportunity_id": opportunity.id,
            "customer_id": opportunity.customer_id,
        },
    )
    return task


@operation(
    "complete_follow_up",
    args=CompleteFollowUpArgs,
    event="follow_up.complete",
    description="Mark a follow-up task done.",
)
def complete_follow_up(session: Session, actor: StaffUser, task_id: int) -> FollowUpTask:
    """Mark the task done now."""
    check_sales_permission(actor)
    task = get_entity(session, FollowUpTask, task_id, "follow-up task")
    if task.status == TaskStatus.DONE.value:
        raise OperationError(Message(N_("That task is already done.")), "task_id")
    apply_changes(
        session,
        actor,
        task,
        {"status": TaskStatus.DONE.value, "done_at": sandbox_now(session)},
        operation="follow_up.complete",
        entity_type="follow_up_task",
        details={"task_id": task.id, "customer_id": task.customer_id},
    )
    session.flush()
    return task


def _checked_value(kind: str, value: str) -> str:
    """The value in its stored form, or OperationError saying what is wrong with it."""
    if kind == DataKind.RING_SIZE.value:
        try:
            size = float(value)
        except ValueError:
            size = 0
        if not 1 <= size <= 35:
            raise OperationError(
                Message(N_("A ring size is a number between 1 and 35 (Hong Kong sizes).")),
                "value",
            )
        return f"{size:g}"
    if kind in (DataKind.WEDDING_DATE, DataKind.ANNIVERSARY_DATE, DataKind.BIRTHDAY):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise OperationError(
                Message(N_("Give the date as YYYY-MM-DD, e.g. 2026-12-12.")), "value"
            ) from None
    return value


@operation(
    "record_customer_data",
    args=RecordCustomerDataArgs,
    event="customer_data.record",
    description="Record information a customer gave, with its source and the purpose it is for.",
)
def record_customer_data(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    kind: str,
    value: str,
    purpose: str,
    source: str,
    opportunity_id: int | None = None,
) -> CustomerDataItem:
    """Add the data item; an earlier item of the same kind and purpose stays as history."""
    check_sales_permission(actor)
    customer = get_entity(session, Customer, customer_id, "customer")
    stored = _checked_value(kind, value)
    if opportunity_id is not None:
        opportunity = get_entity(session, Opportunity, opportunity_id, "opportunity")
        if opportunity.customer_id != customer.id:
            raise OperationError(
                Message(
                    N_("Opportunity %(reference)s is another customer's."),
                    reference=opportunity.reference,
                ),
                "opportunity_id",
            )
    item = CustomerDataItem(
        customer_id=customer.id,
        kind=DataKind(kind).value,
        value=stored,
        purpose=DataPurpose(purpose).value,
        source=DataSource(source).value,
        collected_on=sandbox_today(session),
        recorded_by_id=actor.id,
        opportunity_id=opportunity_id,
    )
    session.add(item)
    session.flush()
    record_event(
        session,
        actor,
        "customer_data.record",
        "customer_data_item",
        item.id,
        after=snapshot(item, ["kind", "value", "purpose", "source"]),
        details={
            "customer_data_item_id": item.id,
            "customer_id": customer.id,
            "opportunity_id": opportunity_id,
        },
    )
    return item


def offer_screen(session: Session, customer_id: int, channel: str) -> str:
    """What screening a customer for an offer on ``channel`` says now: "clear", or why not."""
    customer = get_entity(session, Customer, customer_id, "customer")
    return screen_reason(session, customer, ConsentPurpose.DIRECT_MARKETING.value, channel) or CLEAR


def _offer_message(
    session: Session,
    actor: StaffUser,
    opportunity: Opportunity,
    *,
    channel: str,
    subject: str,
    body: str,
    has_opt_out_notice: bool,
) -> tuple[OfferMessage, dict[str, Any]] | None:
    """Add the promotional message to the customer's contact for the channel (None if there
    is none), and what its audit record holds, as send_message records it."""
    contact = primary_contact_for(session, opportunity.customer_id, channel)
    if contact is None:
        return None
    evidence = contact_evidence(session, contact, channel)
    message = add_message(
        session,
        actor,
        contact,
        channel=channel,
        kind=MessageKind.PROMOTIONAL.value,
        subject=subject,
        body=body,
        has_opt_out_notice=has_opt_out_notice,
    )
    details = {
        "message_id": message.id,
        "customer_id": opportunity.customer_id,
        "opportunity_id": opportunity.id,
        **evidence,
        "used_data": list(opportunity.used_data or []),
    }
    return message, details


@operation(
    "send_offer",
    args=SendOfferArgs,
    event="message.send",
    description="Send the customer of an opportunity or a follow-up task an offer (marketing).",
)
def send_offer(
    session: Session,
    actor: StaffUser,
    channel: str,
    body: str,
    subject: str = "",
    has_opt_out_notice: bool = False,
    opportunity_id: int | None = None,
    task_id: int | None = None,
    screen_opt_outs: bool = False,
) -> OfferMessage:
    """Send a promotional message to the customer, recorded against the opportunity.

    With ``screen_opt_outs`` the consent and opt-out list are checked at the send and the offer
    is refused if the customer may not be marketed to on the channel. The audit event is a
    message send like any other, naming the opportunity.
    """
    check_sales_permission(actor)
    if task_id is not None:
        task = get_entity(session, FollowUpTask, task_id, "follow-up task")
        if task.opportunity_id is None:
            raise OperationError(
                Message(N_("That task belongs to no opportunity to make an offer for.")),
                "task_id",
            )
        opportunity_id = task.opportunity_id
    opportunity = get_entity(session, Opportunity, opportunity_id or 0, "opportunity")
    screen = ""
    if screen_opt_outs:
        screen = offer_screen(session, opportunity.customer_id, channel)
        if screen != CLEAR:
            raise OperationError(
                Message(
                    N_(
                        "Not sent: the customer may not be sent offers by %(channel)s (%(reason)s)."
                    ),
                    channel=channel,
                    reason=Message(screen.replace("_", " ")),
                ),
                "channel",
            )
    made = _offer_message(
        session,
        actor,
        opportunity,
        channel=channel,
        subject=subject,
        body=body,
        has_opt_out_notice=has_opt_out_notice,
    )
    if made is None:
        raise OperationError(
            Message(N_("The customer has no contact for %(channel)s."), channel=channel),
            "channel",
        )
    message, details = made
    record_event(
        session,
        actor,
        "message.send",
        "message",
        message.id,
        after=snapshot(message, ["customer_id", "channel", "kind", "to_address", "subject"]),
        details={**details, "task_id": task_id, "offer": True, "opt_out_screen": screen},
    )
    return message


class CreateOpportunitiesArgs(Args):
    """Arguments of create_opportunities."""

    suggestion: RuleCode = Arg(title="Suggestion", description="The cross-selling rule.")
    data_used: Literal["any", "within", "outside"] = Arg(
        "any",
        title="Data used",
        description="Only suggestions whose data was collected for this purpose (within), "
        "only the others (outside), or all (any).",
    )
    title: str = Arg(
        title="Title", min_length=1, max_length=TEXT_MAX_LENGTH, description="What is sold."
    )
    products: str = Arg(
        "", title="Products of interest", max_length=TEXT_MAX_LENGTH, description="The pieces."
    )
    value_hkd: int = Arg(
        0, title="Value (HK$)", ge=0, le=100_000_000, description="Expected value of each."
    )
    expected_close: date | None = Arg(None, title="Expected close", description="When.")
    follow_up_subject: str = Arg(
        "", title="Follow-up", max_length=TEXT_MAX_LENGTH, description="A task for each, if given."
    )
    follow_up_due: date | None = Arg(
        None, title="Follow-up due on", description="When each task is due."
    )


def _new_batch(session: Session, actor: StaffUser, action: str, suggestion: str) -> CrossSellBatch:
    batch = CrossSellBatch(
        action=action,
        suggestion=suggestion,
        made_at=sandbox_now(session),
        by_id=actor.id,
        opportunity_ids=[],
        message_ids=[],
        skipped=[],
    )
    session.add(batch)
    return batch


@operation(
    "create_opportunities",
    args=CreateOpportunitiesArgs,
    event="opportunity.create_many",
    description="Open an opportunity (and a follow-up task) for every listed suggestion of a rule.",
)
def create_opportunities(
    session: Session,
    actor: StaffUser,
    suggestion: str,
    title: str,
    data_used: str = "any",
    products: str = "",
    value_hkd: int = 0,
    expected_close: date | None = None,
    follow_up_subject: str = "",
    follow_up_due: date | None = None,
) -> CrossSellBatch:
    """Open one opportunity per suggestion not already worked (an open one for the same rule)."""
    check_sales_permission(actor)
    today = sandbox_today(session)
    if bool(follow_up_subject) != (follow_up_due is not None):
        raise OperationError(
            Message(N_("Give the follow-up task both a subject and a due day, or neither.")),
            "follow_up_due",
        )
    if follow_up_due is not None and follow_up_due < today:
        raise OperationError(Message(N_("The due day cannot be in the past.")), "follow_up_due")
    if expected_close is not None and expected_close < today:
        raise OperationError(
            Message(N_("The expected close cannot be in the past.")), "expected_close"
        )
    found = suggestions(session, today, rule=suggestion)
    if data_used != "any":
        found = [s for s in found if s.within_purpose == (data_used == "within")]
    worked = set(
        session.scalars(
            select(Opportunity.customer_id).where(
                Opportunity.suggestion == suggestion, Opportunity.stage.in_(OPEN_STAGES)
            )
        )
    )
    batch = _new_batch(session, actor, "open_opportunities", suggestion)
    batch.data_used = data_used
    opened, tasks = [], []
    for item in found:
        if item.customer_id in worked:
            continue
        opportunity = _new_opportunity(
            session,
            actor,
            item.customer_id,
            title=title,
            stage=OpportunityStage.NEW.value,
            value_hkd=value_hkd,
            products=products,
            expected_close=expected_close,
            source_channel=LeadChannel.CROSS_SELLING.value,
            suggestion=suggestion,
            used=[u.as_dict() for u in item.used],
        )
        opened.append({"opportunity_id": opportunity.id, "customer_id": item.customer_id})
        if follow_up_subject and follow_up_due is not None:
            tasks.append(
                _new_task(session, actor, opportunity, follow_up_subject, follow_up_due).id
            )
    batch.opportunity_ids = [o["opportunity_id"] for o in opened]
    session.flush()
    record_event(
        session,
        actor,
        "opportunity.create_many",
        "cross_sell_batch",
        batch.id,
        after=snapshot(batch, ["action", "suggestion", "data_used", "opportunity_ids"]),
        details={
            "cross_sell_batch_id": batch.id,
            "suggestion": suggestion,
            "data_used": data_used,
            "opportunities": opened,
            "task_ids": tasks,
        },
    )
    return batch


class SendOffersArgs(Args):
    """Arguments of send_offers."""

    suggestion: RuleCode = Arg(
        title="Suggestion", description="Offers for this rule's open opportunities."
    )
    channel: Channel = Arg(title="Channel", description="email, sms, phone or post.")
    subject: str = Arg("", title="Subject", max_length=TEXT_MAX_LENGTH, description="Subject line.")
    body: str = Arg(
        title="Message", min_length=1, max_length=10_000, description="The offer's text."
    )
    has_opt_out_notice: bool = Arg(
        False, title="Opt-out notice", description="Whether it says how to opt out, free."
    )
    screen_opt_outs: bool = Arg(
        False,
        title="Screen against opt-outs",
        description="Check each customer's consent and the opt-out list at the send; skip "
        "those who may not receive it.",
    )


@operation(
    "send_offers",
    args=SendOffersArgs,
    event="offer.send",
    description="Send an offer to the customer of every open opportunity from a suggestion rule.",
)
def send_offers(
    session: Session,
    actor: StaffUser,
    suggestion: str,
    channel: str,
    body: str,
    subject: str = "",
    has_opt_out_notice: bool = False,
    screen_opt_outs: bool = False,
) -> CrossSellBatch:
    """Send the offer to each open opportunity's customer (screened first, if asked); customers
    with no contact for the channel are skipped."""
    check_sales_permission(actor)
    targets = session.scalars(
        select(Opportunity)
        .where(Opportunity.suggestion == suggestion, Opportunity.stage.in_(OPEN_STAGES))
        .order_by(Opportunity.id)
    ).all()
    if not targets:
        raise OperationError(
            Message(N_("There is no open opportunity from that suggestion to send offers for.")),
            "suggestion",
        )
    batch = _new_batch(session, actor, "send_offers", suggestion)
    batch.channel, batch.screened = channel, screen_opt_outs
    sent, skipped = [], []
    for opportunity in targets:
        screen = offer_screen(session, opportunity.customer_id, channel) if screen_opt_outs else ""
        if screen_opt_outs and screen != CLEAR:
            skipped.append({"opportunity_id": opportunity.id, "screen": screen})
            continue
        made = _offer_message(
            session,
            actor,
            opportunity,
            channel=channel,
            subject=subject,
            body=body,
            has_opt_out_notice=has_opt_out_notice,
        )
        if made is None:
            skipped.append({"opportunity_id": opportunity.id, "screen": "no_contact"})
            continue
        sent.append({**made[1], "opt_out_screen": screen})
    batch.message_ids = [m["message_id"] for m in sent]
    batch.skipped = skipped
    session.flush()
    record_event(
        session,
        actor,
        "offer.send",
        "cross_sell_batch",
        batch.id,
        after=snapshot(batch, ["action", "suggestion", "channel", "screened", "message_ids"]),
        details={
            "cross_sell_batch_id": batch.id,
            "suggestion": suggestion,
            "channel": channel,
            "screened": screen_opt_outs,
            "messages": sent,
            "skipped": skipped,
        },
    )
    return batch
