"""Typed facts about one sandbox, read once from its meta table.

The generator, the clock and the backend write the ``sandbox_meta`` rows; everything else reads
them through ``sandbox_info`` so that no module spells a meta key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.models import SandboxMeta

__all__ = ["SandboxInfo", "origin_meta", "record_origin", "sandbox_info"]


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SandboxInfo:
    """What a sandbox says about itself: its company, date, trainee, plants and origin.

    ``today`` is the scenario's date the sandbox was generated for; ``clock_date`` is the date
    the sandbox clock was last anchored at (later once the clock has been used). ``variant``
    and ``template_key`` say which data variant and which template a sandbox was cloned from
    (``record_origin``, written by the backend in the clone); a template itself has neither.
    """

    company: str = ""
    profile: str = ""
    seed: int | None = None
    customers: int | None = None
    generator_version: str = ""
    today: date | None = None
    trainee_staff_id: int | None = None
    plants: Mapping[str, tuple[int, ...]] = field(default_factory=_empty)
    plant_details: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)
    clock_mode: str | None = None
    clock_date: date | None = None
    frozen_at: str | None = None
    variant: int | None = None
    template_key: str | None = None

    def planted_customers(self) -> set[int]:
        """Customers the planted situations are about (not planted staff accounts)."""
        found: set[int] = set()
        for kind, ids in self.plants.items():
            entity = (self.plant_details.get(kind) or {}).get("entity", "customer")
            if entity == "customer":
                found.update(ids)
        return found


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _date(value: str | None) -> date | None:
    try:
        return datetime.fromisoformat(value).date() if value else None
    except ValueError:
        return None


def _json_object(value: str | None) -> dict[str, Any]:
    try:
        loaded = json.loads(value) if value else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def sandbox_info(session: Session) -> SandboxInfo:
    """Read the sandbox's facts from its meta table (absent or malformed values are empty)."""
    meta = {row.key: row.value for row in session.scalars(select(SandboxMeta))}
    plants = {
        str(kind): tuple(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
        for kind, ids in _json_object(meta.get("plants")).items()
        if isinstance(ids, list)
    }
    details = {
        str(kind): MappingProxyType(dict(value))
        for kind, value in _json_object(meta.get("plant_details")).items()
        if isinstance(value, dict)
    }
    return SandboxInfo(
        company=meta.get("company") or "",
        profile=meta.get("profile") or "",
        seed=_int(meta.get("seed")),
        customers=_int(meta.get("customers")),
        generator_version=meta.get("generator_version") or "",
        today=_date(meta.get("today")),
        trainee_staff_id=_int(meta.get("trainee_staff_id")),
        plants=MappingProxyType(plants),
        plant_details=MappingProxyType(details),
        clock_mode=meta.get("clock_mode"),
        clock_date=_date(meta.get("clock_anchor_sandbox")),
        frozen_at=meta.get("frozen_at"),
        variant=_int(meta.get("variant")),
        template_key=meta.get("template_key"),
    )


def _put(session: Session, key: str, value: str) -> None:
    row = session.get(SandboxMeta, key)
    if row is None:
        session.add(SandboxMeta(key=key, value=value))
    else:
        row.value = value


def origin_meta(template_key: str, variant: int | None = None) -> dict[str, str]:
    """The meta values recording a clone's template and data variant (for writing directly)."""
    values = {"template_key": template_key}
    if variant is not None:
        values["variant"] = str(variant)
    return values


def record_origin(session: Session, template_key: str, variant: int | None = None) -> None:
    """Record in a new clone the template it was copied from and the data variant, if known."""
    for key, value in origin_meta(template_key, variant).items():
        _put(session, key, value)
    session.flush()
