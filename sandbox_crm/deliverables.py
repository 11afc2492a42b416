"""Deliverable kinds: what a trainee may hand in from the CRM, registered by the areas.

A scenario's deliverable names a kind (``saved_report``, ``export``, ``campaign`` ...). The
kind says which entity type a deliverable is, how to list the trainee's own candidates in a
sandbox (newest first) and how to describe one in the hand-in form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sandbox_crm.areas import area_modules
from sandbox_crm.registry import Registry

__all__ = [
    "DELIVERABLE_KINDS",
    "DeliverableKind",
    "deliverable_kind",
    "get_deliverable_kind",
]

Candidates = Callable[[Session, int], Sequence[Any]]


@dataclass(frozen=True)
class DeliverableKind:
    """One kind of deliverable: its entity type, its candidates and how to describe one."""

    name: str
    entity_type: str
    plural: str
    """How the hand-in form names several of them, e.g. "saved reports"."""
    candidates: Candidates
    describe: Callable[[Any], str]

    def choices(self, session: Session, staff_id: int) -> list[tuple[int, str]]:
        """(id, description) of each of the staff member's candidates, newest first."""
        return [(record.id, self.describe(record)) for record in self.candidates(session, staff_id)]


DELIVERABLE_KINDS: Registry[DeliverableKind] = Registry(
    "deliverable kind", area_modules, autoload=True
)
"""Every deliverable kind the enabled areas offer."""


def deliverable_kind(
    name: str, *, entity_type: str, plural: str, describe: Callable[[Any], str]
) -> Callable[[Candidates], Candidates]:
    """Register the decorated candidates function as deliverable kind ``name``."""

    def decorate(candidates: Candidates) -> Candidates:
        DELIVERABLE_KINDS.add(
            name, DeliverableKind(name, entity_type, plural, candidates, describe)
        )
        return candidates

    return decorate


def get_deliverable_kind(name: str) -> DeliverableKind:
    """The deliverable kind called ``name`` (the areas loaded first); UnknownNameError if none."""
    return DELIVERABLE_KINDS.get(name)
