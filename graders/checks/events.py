"""Checks on what the trainee did, read from the attempt's audit events."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from graders.checks.common import DeliverableRef, Params, as_json
from graders.context import EventRecord, GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.operations import OPERATIONS


def audit_operations() -> list[str]:
    """The audit operation names the sandbox's operations write, sorted."""
    return sorted({spec.event for spec in OPERATIONS.values()})


class SequenceStep(Params):
    """One operation the audit log must contain."""

    operation: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
    """The audit operation name, e.g. report.create or message.send."""
    deliverable: DeliverableRef | None = None
    """If given, the event must be about this deliverable's entity."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Expected values in the event's details (or, failing that, in its after-snapshot)."""

    @field_validator("operation")
    @classmethod
    def _known_operation(cls, value: str) -> str:
        """Reject an operation name no sandbox operation writes to the audit log."""
        known = audit_operations()
        if value not in known:
            raise ValueError(f"unknown audit operation {value!r}; known: {', '.join(known)}")
        return value


class SequenceParams(Params):
    """Parameters of events.sequence."""

    steps: list[SequenceStep] = Field(min_length=1)
    """The operations, in the order they must happen when ordered is true."""
    ordered: bool = True
    """Whether the steps must happen in the order given (other events may come between)."""


def _matches(ctx: GradingContext, step: SequenceStep, event: EventRecord) -> bool:
    if event.operation != step.operation:
        return False
    if step.deliverable is not None:
        entity = ctx.deliverable(step.deliverable)
        if entity is None or event.entity_id != entity:
            return False
    missing = object()
    for key, value in step.details.items():
        found = event.detail(key, missing)
        if found is missing or as_json(found) != as_json(value):
            return False
    return True


def _ordered(ctx: GradingContext, steps: list[SequenceStep]) -> list[int | None]:
    """Earliest-match subsequence: a step that cannot be matched is skipped, later ones go on."""
    events = ctx.events
    matched: list[int | None] = []
    position = 0
    for step in steps:
        index = next(
            (i for i in range(position, len(events)) if _matches(ctx, step, events[i])), None
        )
        if index is None:
            matched.append(None)
            continue
        matched.append(events[index].id)
        position = index + 1
    return matched


def _unordered(ctx: GradingContext, steps: list[SequenceStep]) -> list[int | None]:
    """A distinct event for as many steps as possible (bipartite matching by augmenting paths)."""
    candidates = [[e.id for e in ctx.events if _matches(ctx, step, e)] for step in steps]
    owner: dict[int, int] = {}

    def assign(step: int, seen: set[int]) -> bool:
        for event_id in candidates[step]:
            if event_id in seen:
                continue
            seen.add(event_id)
            if event_id not in owner or assign(owner[event_id], seen):
                owner[event_id] = step
                return True
        return False

    for step in range(len(steps)):
        assign(step, set())
    by_step = {step: event_id for event_id, step in owner.items()}
    return [by_step.get(step) for step in range(len(steps))]


@check("events.sequence", params=SequenceParams)
def sequence(ctx: GradingContext, params: SequenceParams) -> Outcome:
    """The attempt's audit events contain these operations (in this order when ordered)."""
    matched = (_ordered if params.ordered else _unordered)(ctx, params.steps)
    steps = [
        {
            "operation": step.operation,
            "deliverable": step.deliverable,
            "event_id": event_id,
            "found": event_id is not None,
        }
        for step, event_id in zip(params.steps, matched, strict=True)
    ]
    done = sum(1 for event_id in matched if event_id is not None)
    evidence = {
        "ordered": params.ordered,
        "steps": steps,
        "matched": done,
        "attempt_events": len(ctx.events),
        "operations_seen": sorted({e.operation for e in ctx.events}),
    }
    return Outcome.judge(done == len(params.steps), evidence, done / len(params.steps))
