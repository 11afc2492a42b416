"""Updating an order's status: only along the order's life cycle, each step in its history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event
from sandbox_crm.clock import sandbox_now
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import SalesOrder, StaffUser
from sandbox_crm.operations.base import Arg, OperationError, RecordArgs, get_entity, operation
from sandbox_crm.orders.models import (
    NEXT_STATUSES,
    ORDER_STATUS_OF,
    FulfilmentStatus,
    OrderStatusChange,
)

__all__ = [
    "UpdateOrderStatusArgs",
    "current_status",
    "find_order",
    "status_history",
    "update_order_status",
]

NOTE_MAX_LENGTH = 500

# An order without a recorded history (a retail order, say) is read from its sales status.
_FROM_SALES_STATUS = {
    "pending": "placed",
    "paid": "paid",
    "shipped": "ready_for_collection",
    "completed": "collected",
    "cancelled": "cancelled",
    "refunded": "refunded",
}


def status_history(session: Session, order_id: int) -> list[OrderStatusChange]:
    """The order's status changes, oldest first."""
    return list(
        session.scalars(
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id == order_id)
            .order_by(OrderStatusChange.changed_at, OrderStatusChange.id)
        )
    )


def current_status(session: Session, order: SalesOrder) -> str:
    """The order's status now: its latest recorded step, else read from its sales status."""
    latest = session.scalar(
        select(OrderStatusChange.status)
        .where(OrderStatusChange.order_id == order.id)
        .order_by(OrderStatusChange.changed_at.desc(), OrderStatusChange.id.desc())
        .limit(1)
    )
    if latest is not None:
        return latest
    if order.status == "completed" and order.channel == "eshop":
        return "delivered"
    return _FROM_SALES_STATUS.get(order.status, "placed")


def find_order(session: Session, order_no: str) -> SalesOrder:
    """The order with this number (OperationError naming it if there is none)."""
    order = session.scalar(select(SalesOrder).where(SalesOrder.order_no == order_no))
    if order is None:
        raise OperationError(
            Message(N_("There is no order %(number)r."), number=order_no), "order_no"
        )
    return order


class UpdateOrderStatusArgs(RecordArgs):
    """Arguments of update_order_status."""

    id_field = "order_id"
    reference_field = "order_no"
    missing = N_("Order no. is required.")

    order_id: int | None = Arg(None, description="The order's id.")
    order_no: str | None = Arg(
        None, title="Order no.", max_length=24, description="The order's number (instead of id)."
    )
    status: FulfilmentStatus = Arg(title="Status", description="The status the order moves to.")
    note: str = Arg("", title="Note", max_length=NOTE_MAX_LENGTH, description="Why, or what next.")

    def resolve_reference(self, session: Session, actor: StaffUser) -> int:
        """The id of the order with the number given."""
        return find_order(session, self.order_no or "").id


@operation(
    "update_order_status",
    args=UpdateOrderStatusArgs,
    event="order.status",
    description="Move an order to its next status (paid, in the workshop, ready, collected ...).",
)
def update_order_status(
    session: Session, actor: StaffUser, order_id: int, status: str, note: str = ""
) -> SalesOrder:
    """Record the order's new status; a move its life cycle does not allow is refused."""
    order = get_entity(session, SalesOrder, order_id, "order")
    now_status = current_status(session, order)
    if status == now_status:
        raise OperationError(
            Message(
                N_("Order %(number)s is already %(status)s."),
                number=order.order_no,
                status=Message(status),
            ),
            "status",
        )
    allowed = NEXT_STATUSES.get(now_status, ())
    if status not in allowed:
        if allowed:
            template = N_("Order %(number)s is %(status)s; it can move only to: %(allowed)s.")
        else:
            template = N_("Order %(number)s is %(status)s; its status can no longer change.")
        raise OperationError(
            Message(
                template,
                number=order.order_no,
                status=Message(now_status),
                allowed=", ".join(allowed),
            ),
            "status",
        )
    before = {"status": now_status, "sales_status": order.status}
    session.add(
        OrderStatusChange(
            order_id=order.id,
            status=FulfilmentStatus(status).value,
            changed_at=sandbox_now(session),
            staff_id=actor.id,
            note=note,
        )
    )
    order.status = ORDER_STATUS_OF[status]
    session.flush()
    record_event(
        session,
        actor,
        "order.status",
        "sales_order",
        order.id,
        before=before,
        after={"status": status, "sales_status": order.status},
        details={
            "order_id": order.id,
            "order_no": order.order_no,
            "customer_id": order.customer_id,
        },
    )
    return order
