"""The sandbox's own clock: it starts at the scenario's date, not at today's real date.

Two modes. ``real`` follows wall time from an anchor (a trainee working in the browser sees time
pass normally). ``stepped`` advances a fixed step on every reading, so scripted attempts and
reference solutions produce the same timestamps on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from sandbox_crm.models import SandboxMeta

STEP = timedelta(minutes=1)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _get(session: Session, key: str) -> str | None:
    row = session.get(SandboxMeta, key)
    return row.value if row is not None else None


def _put(session: Session, key: str, value: str) -> None:
    row = session.get(SandboxMeta, key)
    if row is None:
        session.add(SandboxMeta(key=key, value=value))
    else:
        row.value = value


def clock_meta(start: datetime, mode: str = "real") -> dict[str, str]:
    """The meta values that start the clock at ``start`` (for writing them without a Session)."""
    if mode not in ("real", "stepped"):
        raise ValueError(f"unknown clock mode {mode!r}")
    return {
        "clock_mode": mode,
        "clock_anchor_sandbox": start.isoformat(),
        "clock_anchor_real": _utcnow().isoformat(),
    }


def start_clock(session: Session, start: datetime, mode: str = "real") -> None:
    """Start (or restart) the sandbox clock at ``start`` in ``real`` or ``stepped`` mode."""
    for key, value in clock_meta(start, mode).items():
        _put(session, key, value)
    session.flush()


def sandbox_now(session: Session) -> datetime:
    """Current time on the sandbox clock (naive, Hong Kong local time of the fictional company)."""
    mode = _get(session, "clock_mode")
    anchor = _get(session, "clock_anchor_sandbox")
    if mode is None or anchor is None:
        today = _get(session, "today")
        if today is None:
            raise RuntimeError("sandbox has no clock: call start_clock() or set meta 'today'")
        return datetime.fromisoformat(today).replace(hour=9, minute=0, second=0, microsecond=0)
    anchor_sandbox = datetime.fromisoformat(anchor)
    if mode == "stepped":
        _put(session, "clock_anchor_sandbox", (anchor_sandbox + STEP).isoformat())
        return anchor_sandbox
    anchor_real = datetime.fromisoformat(_get(session, "clock_anchor_real") or anchor)
    elapsed = _utcnow() - anchor_real
    return (anchor_sandbox + elapsed).replace(microsecond=0)


def sandbox_peek(session: Session) -> datetime:
    """The sandbox clock's current time without advancing a stepped clock (for read-only pages)."""
    anchor = _get(session, "clock_anchor_sandbox")
    if _get(session, "clock_mode") == "stepped" and anchor is not None:
        return datetime.fromisoformat(anchor)
    return sandbox_now(session)


def sandbox_today(session: Session):
    """The sandbox clock's current date (does not advance a stepped clock)."""
    mode = _get(session, "clock_mode")
    anchor = _get(session, "clock_anchor_sandbox")
    if mode == "stepped" and anchor is not None:
        return datetime.fromisoformat(anchor).date()
    return sandbox_now(session).date()
