"""One reading of every data subject request the CRM holds, whichever area logged it.

The jewellery profile's service cases have a "data access request" kind; this area logs access
and correction requests of its own. The DAR, DCR and ACC rules judge both through the records
below, so the law is implemented once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.cases.models import CaseKind, Resolution, ServiceCase
from sandbox_crm.requests.models import (
    RESPONSE_DAYS,
    DataRequest,
    RequestCopyItem,
    RequestLogEntry,
    RequestOutcome,
)

__all__ = ["SubjectRequest", "subject_requests"]

_CASE_OUTCOMES = {
    Resolution.COPY_PROVIDED.value: RequestOutcome.COPY_PROVIDED.value,
    Resolution.NO_DATA_HELD.value: RequestOutcome.NO_DATA_HELD.value,
    Resolution.REFUSED_IN_WRITING.value: RequestOutcome.REFUSED.value,
}


@dataclass(frozen=True)
class SubjectRequest:
    """A data access or correction request as the rules read it."""

    entity_type: str
    """The audit entity type of the row it comes from (``service_case`` or ``data_request``)."""
    id: int
    reference: str
    kind: str
    customer_id: int
    received_on: date
    answered_on: date | None
    """The day the answer went out, or None while the request is open."""
    answered_at: datetime | None
    """When the answer was recorded in the CRM."""
    outcome: str
    """A ``RequestOutcome`` value, or "" while open (or for a case closed another way)."""
    identity_verified_at: datetime | None
    answer_event: str
    """The audit operation that records the answer."""
    notice_on: date | None = None
    notice_reason: str = ""
    refusal_ground: str = ""
    refusal_reason: str = ""
    log_book_entries: int = 0
    fee_hkd: int = 0
    copy: tuple[str, ...] = ()
    corrected_at: datetime | None = None

    @property
    def due_on(self) -> date:
        """Day 40, counted from the day after receipt."""
        return self.received_on + timedelta(days=RESPONSE_DAYS)


def _from_case(case: ServiceCase) -> SubjectRequest:
    closed = case.closed_at
    refused = closed is not None and case.resolution == Resolution.REFUSED_IN_WRITING.value
    return SubjectRequest(
        entity_type="service_case",
        id=case.id,
        reference=case.reference,
        kind="access",
        customer_id=case.customer_id,
        received_on=case.opened_at.date(),
        answered_on=closed.date() if closed is not None else None,
        answered_at=closed,
        outcome=_CASE_OUTCOMES.get(case.resolution, "") if closed is not None else "",
        identity_verified_at=case.identity_verified_at,
        answer_event="case.close",
        refusal_ground=case.refusal_ground if refused else "",
        refusal_reason=case.resolution_note if refused else "",
        # The close's entry in the case history records the ground and the reasons: it is the
        # case's log-book entry (s27).
        log_book_entries=1 if refused and case.refusal_ground else 0,
    )


def _from_request(session: Session, found: DataRequest) -> SubjectRequest:
    copy = tuple(
        session.scalars(
            select(RequestCopyItem.content)
            .where(RequestCopyItem.request_id == found.id)
            .order_by(RequestCopyItem.id)
        )
    )
    entries = len(
        session.scalars(
            select(RequestLogEntry.id).where(RequestLogEntry.request_id == found.id)
        ).all()
    )
    refused = found.outcome == RequestOutcome.REFUSED.value
    return SubjectRequest(
        entity_type="data_request",
        id=found.id,
        reference=found.reference,
        kind=found.kind,
        customer_id=found.customer_id,
        received_on=found.received_on,
        answered_on=found.responded_on,
        answered_at=found.responded_at,
        outcome=found.outcome,
        identity_verified_at=found.identity_verified_at,
        answer_event="request.refuse" if refused else "request.respond",
        notice_on=found.extension_sent_on,
        notice_reason=found.extension_reason,
        refusal_ground=found.refusal_ground,
        refusal_reason=found.refusal_reason,
        log_book_entries=entries,
        fee_hkd=found.fee_hkd,
        copy=copy,
        corrected_at=found.corrected_at,
    )


def subject_requests(session: Session, kind: str | None = None) -> list[SubjectRequest]:
    """Every access (and correction) request: service cases of that kind, then this area's."""
    found: list[SubjectRequest] = []
    if kind in (None, "access"):
        cases = session.scalars(
            select(ServiceCase)
            .where(ServiceCase.kind == CaseKind.DATA_ACCESS_REQUEST.value)
            .order_by(ServiceCase.id)
        )
        found.extend(_from_case(c) for c in cases)
    query = select(DataRequest).order_by(DataRequest.id)
    if kind is not None:
        query = query.where(DataRequest.kind == kind)
    found.extend(_from_request(session, r) for r in session.scalars(query))
    return found
