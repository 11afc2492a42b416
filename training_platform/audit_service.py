"""The platform's audit log: what admins and assessors did, for the centre admin to read."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from training_platform.models import AuditEntry, User

__all__ = ["record"]


def record(
    session: Session,
    *,
    centre_id: int,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int | None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (the caller's transaction commits it with the change)."""
    entry = AuditEntry(
        centre_id=centre_id,
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=dict(details or {}),
    )
    session.add(entry)
    return entry
