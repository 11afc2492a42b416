"""The one rule for a customer's current consent per purpose and channel.

The consent log is append-only; the record in force for a (customer, purpose, channel) is the
latest one, latest by ``captured_at`` and then by id (two records captured at the same moment:
the one entered last wins). With no record the status is ``not_asked``. ``CURRENT_FIRST`` states
that order once; the Python form (for records already loaded) and the SQL form (for queries and
report fields) both follow it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from sandbox_crm.models import ConsentRecord, ConsentStatus

__all__ = [
    "CURRENT_FIRST",
    "NOT_ASKED",
    "consent_order",
    "current_consent",
    "current_consent_status",
    "current_status_expression",
    "latest_consents",
    "latest_per_customer",
]

NOT_ASKED = ConsentStatus.NOT_ASKED.value

CURRENT_FIRST = (ConsentRecord.captured_at.desc(), ConsentRecord.id.desc())
"""SQL order that puts the record in force first."""


class _Captured(Protocol):
    captured_at: datetime
    id: int


R = TypeVar("R", bound=_Captured)


def consent_order(record: _Captured) -> tuple[datetime, int]:
    """Sort key of a consent record: later ones sort after earlier ones (CURRENT_FIRST reversed)."""
    return (record.captured_at, record.id)


def current_consent(records: Iterable[R]) -> R | None:
    """The record in force among ``records`` (already narrowed to one purpose and channel)."""
    return max(records, key=consent_order, default=None)


def latest_consents(records: Iterable[Any]) -> dict[tuple[str, str], Any]:
    """The record in force per (purpose, channel) among one customer's loaded records."""
    latest: dict[tuple[str, str], Any] = {}
    for record in sorted(records, key=consent_order):
        latest[(record.purpose, record.channel)] = record
    return latest


def _where(purpose: str, channel: str, before: datetime | None) -> list[ColumnElement[bool]]:
    conditions = [ConsentRecord.purpose == purpose, ConsentRecord.channel == channel]
    if before is not None:
        conditions.append(ConsentRecord.captured_at < before)
    return conditions


def current_status_expression(
    customer_id: Any, purpose: str, channel: str, *, before: datetime | None = None
) -> ColumnElement[Any]:
    """SQL: the current status for the customer whose id is ``customer_id`` (a column).

    ``before`` leaves out records captured at or after that moment (a report's as-of date).
    """
    latest = (
        select(ConsentRecord.status)
        .where(ConsentRecord.customer_id == customer_id, *_where(purpose, channel, before))
        .order_by(*CURRENT_FIRST)
        .limit(1)
        .correlate_except(ConsentRecord)
        .scalar_subquery()
    )
    return func.coalesce(latest, literal(NOT_ASKED))


def current_consent_status(session: Session, customer_id: int, purpose: str, channel: str) -> str:
    """The current consent status: the latest record's status, or not_asked if there is none."""
    status = session.scalars(
        select(ConsentRecord.status)
        .where(ConsentRecord.customer_id == customer_id, *_where(purpose, channel, None))
        .order_by(*CURRENT_FIRST)
        .limit(1)
    ).first()
    return status or NOT_ASKED


def latest_per_customer(session: Session, purpose: str, channel: str) -> dict[int, ConsentRecord]:
    """Each customer's record in force for ``purpose`` on ``channel`` (customers with one)."""
    records = session.scalars(
        select(ConsentRecord)
        .where(*_where(purpose, channel, None))
        .order_by(ConsentRecord.customer_id, ConsentRecord.captured_at, ConsentRecord.id)
    )
    return {record.customer_id: record for record in records}
