"""Appending to the sandbox's audit log; every operation calls ``record_event``."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from sandbox_crm.clock import sandbox_now
from sandbox_crm.models import AuditEvent, StaffUser

REFUSED_OPERATION = "operation.refused"
"""The audit operation of an attempted change the CRM refused (nothing else was changed).

No sandbox operation writes this name, so checks and rules that look for an operation's own
event (``report.share``, ``message.send``, ...) never mistake a refusal for the real thing. Its
details hold ``operation`` (the operation attempted), ``event`` (the audit operation it would
have written) and ``message`` (what the user was told).
"""


def json_value(value: Any) -> Any:
    """Turn a column value into something JSON can hold (dates as ISO strings, enums as values)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def snapshot(entity: Any, fields: list[str] | None = None) -> dict[str, Any]:
    """Column values of an entity as a JSON-safe dict (all columns unless ``fields`` is given)."""
    names = fields or [attr.key for attr in inspect(entity).mapper.column_attrs]
    return {name: json_value(getattr(entity, name)) for name in names}


def record_event(
    session: Session,
    actor: StaffUser | None,
    operation: str,
    entity_type: str,
    entity_id: int | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event stamped with the sandbox clock; flushes, never commits."""
    event = AuditEvent(
        occurred_at=sandbox_now(session),
        actor_id=actor.id if actor is not None else None,
        operation=operation,
        entity_type=entity_type,
        entity_id=entity_id,
        before=json_value(before) if before is not None else None,
        after=json_value(after) if after is not None else None,
        details=json_value(details) if details is not None else None,
    )
    session.add(event)
    session.flush()
    return event
