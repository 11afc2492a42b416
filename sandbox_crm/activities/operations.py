"""Logging contacts with customers, the call script's opt-out check, and hand-offs.

A marketing contact (an outbound call or an e-mail offering goods or services) is direct
marketing under Part 6A. The call script checks the opt-out list (``check_opt_out``) and the log
records what the check said when the contact was logged; a call to someone who opted out is
logged as it happened, and the PDPO rules (DM-06, DM-07) judge it. A hand-off records the
customer fields it shares, so that sharing more than the receiving department needs shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.activities.handoffs import SHAREABLE_FIELDS, purposes_of
from sandbox_crm.activities.models import (
    Activity,
    ActivityKind,
    ActivityPurpose,
    Handoff,
    HandoffDepartment,
    Outcome,
)
from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.campaigns.operations import screen_reason
from sandbox_crm.cases.models import ServiceCase
from sandbox_crm.cases.operations import SERVICE_DEPARTMENTS
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import (
    ConsentPurpose,
    ContactPoint,
    Customer,
    Product,
    SalesOrder,
    StaffUser,
)
from sandbox_crm.operations.base import (
    Arg,
    Args,
    CustomerArgs,
    OperationError,
    check_department,
    get_entity,
    operation,
)

__all__ = [
    "CLEAR",
    "OptOutCheck",
    "check_opt_out",
    "create_handoff",
    "log_activity",
]


@dataclass(frozen=True)
class OptOutCheck:
    """What the call script's check said of one customer: "clear", or why not."""

    id: int
    """The customer's id."""
    result: str


CLEAR = "clear"
"""What the opt-out check says of a customer who may be called for marketing."""

CONTACT_DEPARTMENTS = SERVICE_DEPARTMENTS | {"marketing"}
"""Departments whose staff log contacts with customers."""

MARKETING_KINDS = {ActivityKind.CALL_OUTBOUND.value: "phone", ActivityKind.EMAIL.value: "email"}
"""The contacts that can be direct marketing, and the channel each uses."""

TEXT_MAX_LENGTH = 200


class CustomerOrCaseArgs(Args):
    """Arguments naming the customer by id, by member number, or by one of their cases."""

    customer_id: int | None = Arg(None, description="The customer's id.")
    member_no: str | None = Arg(None, description="The customer's member number (instead of id).")
    case_reference: str | None = Arg(
        None, title="Case", max_length=16, description="The case the contact is about."
    )

    @model_validator(mode="after")
    def _some_customer(self) -> CustomerOrCaseArgs:
        if self.customer_id is not None and self.member_no is not None:
            raise ValueError("give customer_id or member_no, not both")
        if self.customer_id is None and self.member_no is None and not self.case_reference:
            raise ValueError("give customer_id, member_no or case_reference")
        return self

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """Every other field by name, and the customer as ``customer_id``."""
        values = super().call_arguments(session, actor)
        values.pop("member_no")
        if self.customer_id is None and self.member_no is not None:
            values["customer_id"] = CustomerArgs(member_no=self.member_no).record_id(session, actor)
        elif self.customer_id is None:
            case = _case(session, self.case_reference)
            values["customer_id"] = case.customer_id if case is not None else None
        return values


class CheckOptOutArgs(CustomerOrCaseArgs):
    """Arguments of check_opt_out."""

    channel: Literal["phone", "sms", "email", "post"] = Arg(
        "phone", title="Channel", description="The channel of the intended marketing contact."
    )


class LogActivityArgs(CustomerOrCaseArgs):
    """Arguments of log_activity."""

    kind: ActivityKind = Arg(
        title="Kind", description="call_inbound, call_outbound, chat, email or visit."
    )
    purpose: ActivityPurpose = Arg(
        ActivityPurpose.SERVICE, title="Purpose", description="service or marketing."
    )
    summary: str = Arg(
        title="Summary", min_length=1, max_length=TEXT_MAX_LENGTH, description="What was said."
    )
    outcome: Outcome = Arg(title="Outcome", description="What came of it.")
    next_step: str = Arg(
        "", title="Next step", max_length=TEXT_MAX_LENGTH, description="What happens next."
    )
    next_step_on: date | None = Arg(None, title="Next step on", description="When.")


class CreateHandoffArgs(Args):
    """Arguments of create_handoff."""

    department: HandoffDepartment = Arg(
        title="Department", description="sales, marketing, promotion, planning or human_resources."
    )
    purpose: str = Arg(
        title="Purpose", min_length=1, max_length=32, description="Why, from the list."
    )
    kind: Literal["task", "note"] = Arg("task", title="Kind", description="task or note.")
    subject: str = Arg(
        title="Subject", min_length=1, max_length=TEXT_MAX_LENGTH, description="One line."
    )
    case_reference: str | None = Arg(None, title="Case", max_length=16, description="The case.")
    member_no: str | None = Arg(
        None, title="Member no.", max_length=20, description="The customer."
    )
    fields: list[str] = Arg(
        default_factory=list,
        title="Shared fields",
        description="The customer and case fields the hand-off carries.",
    )
    due_on: date | None = Arg(None, title="Due on", description="When the department should act.")


def _check_permission(actor: StaffUser, departments: frozenset[str], what: str) -> None:
    check_department(
        actor, departments, Message(N_("Your account may not %(what)s."), what=Message(what))
    )


def _case(session: Session, reference: str | None) -> ServiceCase | None:
    if not reference:
        return None
    case = session.scalar(select(ServiceCase).where(ServiceCase.reference == reference))
    if case is None:
        raise OperationError(
            Message(N_("There is no case with reference %(reference)r."), reference=reference),
            "case_reference",
        )
    return case


@operation(
    "check_opt_out",
    args=CheckOptOutArgs,
    event="activity.check_opt_out",
    description="The call script's check: may this customer be contacted for marketing now?",
)
def check_opt_out(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    channel: str = "phone",
    case_reference: str | None = None,
) -> OptOutCheck:
    """Check consent and the opt-out list for a marketing contact: "clear", or why not."""
    _check_permission(actor, CONTACT_DEPARTMENTS, N_("log contacts with customers"))
    customer = get_entity(session, Customer, customer_id, "customer")
    result = (
        screen_reason(session, customer, ConsentPurpose.DIRECT_MARKETING.value, channel) or CLEAR
    )
    record_event(
        session,
        actor,
        "activity.check_opt_out",
        "customer",
        customer.id,
        after={"result": result},
        details={"customer_id": customer.id, "channel": channel, "result": result},
    )
    return OptOutCheck(customer.id, result)


@operation(
    "log_activity",
    args=LogActivityArgs,
    event="activity.log",
    description="Log a call, chat, e-mail or visit with its outcome and next step.",
)
def log_activity(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    kind: str,
    summary: str,
    outcome: str,
    purpose: str = ActivityPurpose.SERVICE.value,
    next_step: str = "",
    next_step_on: date | None = None,
    case_reference: str | None = None,
) -> Activity:
    """Log the contact; a marketing contact records what the opt-out check says now."""
    _check_permission(actor, CONTACT_DEPARTMENTS, N_("log contacts with customers"))
    customer = get_entity(session, Customer, customer_id, "customer")
    case = _case(session, case_reference)
    if case is not None and case.customer_id != customer.id:
        raise OperationError(
            Message(N_("Case %(reference)s is another customer's."), reference=case.reference),
            "case_reference",
        )
    if next_step_on is not None and next_step_on < sandbox_today(session):
        raise OperationError(Message(N_("The next step cannot be in the past.")), "next_step_on")
    screen = ""
    if purpose == ActivityPurpose.MARKETING.value:
        channel = MARKETING_KINDS.get(kind)
        if channel is None:
            raise OperationError(
                Message(N_("A marketing contact is an outbound call or an e-mail.")), "kind"
            )
        screen = (
            screen_reason(session, customer, ConsentPurpose.DIRECT_MARKETING.value, channel)
            or CLEAR
        )
    activity = Activity(
        customer_id=customer.id,
        case_id=case.id if case is not None else None,
        kind=ActivityKind(kind).value,
        purpose=ActivityPurpose(purpose).value,
        at=sandbox_now(session),
        by_id=actor.id,
        summary=summary,
        outcome=Outcome(outcome).value,
        next_step=next_step,
        next_step_on=next_step_on,
        opt_out_screen=screen,
    )
    session.add(activity)
    session.flush()
    record_event(
        session,
        actor,
        "activity.log",
        "activity",
        activity.id,
        after=snapshot(activity, ["kind", "purpose", "outcome", "opt_out_screen"]),
        details={
            "activity_id": activity.id,
            "customer_id": customer.id,
            "case_id": activity.case_id,
            "purpose": activity.purpose,
            "channel": MARKETING_KINDS.get(kind, ""),
            "opt_out_screen": screen,
        },
    )
    return activity


def _shared_values(
    session: Session, fields: list[str], customer: Customer | None, case: ServiceCase | None
) -> dict[str, Any]:
    """The values the hand-off carries, read from the customer and the case now."""

    def contact(kind: str) -> str:
        if customer is None:
            return ""
        point = session.scalar(
            select(ContactPoint.value)
            .where(ContactPoint.customer_id == customer.id, ContactPoint.kind == kind)
            .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
        )
        return point or ""

    order = session.get(SalesOrder, case.order_id) if case and case.order_id else None
    product = ""
    if order is not None and order.lines:
        product = session.get(Product, order.lines[0].product_id).name  # type: ignore[union-attr]
    values: dict[str, Any] = {
        "member_no": customer.member_no if customer else "",
        "name": customer.name_en if customer else "",
        "phone": contact("mobile") or contact("phone"),
        "email": contact("email"),
        "address": contact("address"),
        "district": customer.district if customer else "",
        "tier": customer.tier if customer else "",
        "date_of_birth": str(customer.date_of_birth or "") if customer else "",
        "hkid": (customer.hkid or "") if customer else "",
        "order_no": order.order_no if order else "",
        "product": product,
        "case_reference": case.reference if case else "",
        "case_details": f"{case.subject}. {case.details}".strip() if case else "",
        "purchase_history": ", ".join(o.order_no for o in customer.orders[:10]) if customer else "",
    }
    return {name: values[name] for name in fields}


@operation(
    "create_handoff",
    args=CreateHandoffArgs,
    event="handoff.create",
    description="Hand a task or note to another department, with the fields it needs.",
)
def create_handoff(
    session: Session,
    actor: StaffUser,
    department: str,
    purpose: str,
    subject: str,
    kind: str = "task",
    case_reference: str | None = None,
    member_no: str | None = None,
    fields: list[str] | None = None,
    due_on: date | None = None,
) -> Handoff:
    """Create the hand-off; the purpose must be one the department handles."""
    _check_permission(actor, CONTACT_DEPARTMENTS, N_("hand off work to other departments"))
    if purpose not in purposes_of(department):
        allowed = ", ".join(purposes_of(department))
        raise OperationError(
            Message(
                N_("A hand-off to %(department)s may be for: %(purposes)s."),
                department=Message(department),
                purposes=allowed,
            ),
            "purpose",
        )
    chosen = list(dict.fromkeys(f.strip() for f in (fields or []) if f and f.strip()))
    unknown = [f for f in chosen if f not in SHAREABLE_FIELDS]
    if unknown:
        raise OperationError(
            Message(
                N_("Unknown field(s) %(fields)s; a hand-off can share: %(known)s."),
                fields=", ".join(unknown),
                known=", ".join(SHAREABLE_FIELDS),
            ),
            "fields",
        )
    case = _case(session, case_reference)
    customer = None
    if member_no:
        customer = session.scalar(select(Customer).where(Customer.member_no == member_no))
        if customer is None:
            raise OperationError(
                Message(
                    N_("There is no customer with member number %(number)r."), number=member_no
                ),
                "member_no",
            )
    elif case is not None:
        customer = session.get(Customer, case.customer_id)
    if case is None and customer is None:
        raise OperationError(
            Message(N_("Name the case or the customer the hand-off is about.")), "case_reference"
        )
    if due_on is not None and due_on < sandbox_today(session):
        raise OperationError(Message(N_("The due day cannot be in the past.")), "due_on")
    handoff = Handoff(
        department=HandoffDepartment(department).value,
        kind=kind,
        purpose=purpose,
        customer_id=customer.id if customer else None,
        case_id=case.id if case else None,
        subject=subject,
        shared_fields=chosen,
        shared_values=_shared_values(session, chosen, customer, case),
        created_at=sandbox_now(session),
        by_id=actor.id,
        due_on=due_on,
        status="open",
    )
    session.add(handoff)
    session.flush()
    record_event(
        session,
        actor,
        "handoff.create",
        "handoff",
        handoff.id,
        after=snapshot(handoff, ["department", "purpose", "kind", "shared_fields"]),
        details={
            "handoff_id": handoff.id,
            "customer_id": handoff.customer_id,
            "case_id": handoff.case_id,
            "department": handoff.department,
            "purpose": purpose,
            "fields": chosen,
        },
    )
    return handoff
