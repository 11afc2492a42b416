"""Checks on what the trainee did, read from the attempt's audit events.

``events.sequence`` asks two things of the audit log: that each step (an operation, optionally on
a deliverable and with given details) happened at least once, and that the order constraints the
task really has were kept. A step may carry an ``id``; another step's ``after: [id, ...]`` says
that *every* event matching it comes after at least one event of each listed step, which is the
same as "its first event comes after the first event of each listed step". Repetitions and other
events anywhere are fine, so a trainee who runs a report to check it before sharing it, or runs
it twice, is not failed for being careful. See docs/writing-checks.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from graders.checks.common import DeliverableRef, Params, as_json
from graders.context import EventRecord, GradingContext
from graders.registry import check
from graders.results import Outcome, Status, message, sentences
from sandbox_crm.i18n import N_
from sandbox_crm.operations import OPERATIONS

STEP_ID_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
StepId = Annotated[str, StringConstraints(pattern=STEP_ID_PATTERN)]


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
    id: StepId | None = None
    """A name for this step, so that other steps' ``after`` can refer to it."""
    after: list[StepId] = Field(default_factory=list)
    """Ids of steps that must each have happened before every event of this step."""
    required: bool = True
    """Whether the step must happen; false for a step that only matters if it is done at all."""
    what: str | None = Field(default=None, min_length=1, max_length=80)
    """How the trainee's feedback names what the step acts on (default: from the operation)."""

    @field_validator("operation")
    @classmethod
    def _known_operation(cls, value: str) -> str:
        """Reject an operation name no sandbox operation writes to the audit log."""
        known = audit_operations()
        if value not in known:
            raise ValueError(f"unknown audit operation {value!r}; known: {', '.join(known)}")
        return value


def _problem(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def _cycle(steps: Sequence[SequenceStep]) -> list[str] | None:
    """One cycle of ``after`` references as a list of step ids (first id repeated), or None."""
    graph = {s.id: list(s.after) for s in steps if s.id is not None}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt in graph and nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


class SequenceParams(Params):
    """Parameters of events.sequence."""

    steps: list[SequenceStep] = Field(min_length=1)
    """The operations that must have happened; order only where a step says ``after``."""
    ordered: bool | None = None
    """Older form: true demands the whole list in order. Left out, a list with no ``after``
    keeps that older meaning; write ``ordered: false`` or use ``after`` instead."""

    @model_validator(mode="after")
    def _constraints_are_sound(self) -> SequenceParams:
        """Step ids are unique, ``after`` names known other steps, and there is no cycle."""
        problems: list[InitErrorDetails] = []
        ids: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            if step.id is None:
                continue
            if step.id in ids:
                message = f"step id {step.id!r} is already used by steps[{ids[step.id]}]"
                problems.append(_problem(("steps", index, "id"), "duplicate_id", message, step.id))
            else:
                ids[step.id] = index
        for index, step in enumerate(self.steps):
            for position, ref in enumerate(step.after):
                loc = ("steps", index, "after", position)
                if ref == step.id:
                    message = f"a step cannot come after itself ({ref!r})"
                    problems.append(_problem(loc, "self_reference", message, ref))
                elif ref not in ids:
                    known = ", ".join(repr(i) for i in ids) or "none (give steps an id)"
                    message = f"unknown step id {ref!r}; step ids: {known}"
                    problems.append(_problem(loc, "unknown_step", message, ref))
        if not problems:
            cycle = _cycle(self.steps)
            if cycle:
                index = ids[cycle[0]]
                message = "the after constraints go round in a circle: " + " -> ".join(
                    f"{c!r}" for c in cycle
                )
                problems.append(_problem(("steps", index, "after"), "cycle", message, cycle))
        if self.ordered and self.uses_constraints:
            message = "ordered: true is the older form; it cannot be combined with id, after, "
            message += "required or what (state the orders that matter with after)"
            problems.append(_problem(("ordered",), "ordered_and_after", message, True))
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    @property
    def uses_constraints(self) -> bool:
        """Whether any step uses the constraint form (id, after, required or what)."""
        return any(
            s.id is not None or s.after or not s.required or s.what is not None for s in self.steps
        )

    @property
    def mode(self) -> str:
        """How the steps are judged: constraints, or the older ordered / unordered forms."""
        if self.uses_constraints:
            return "constraints"
        return "unordered" if self.ordered is False else "ordered"


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


# --- the older forms: the whole list in order, or a distinct event per step -------------------


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


def _legacy(ctx: GradingContext, params: SequenceParams, mode: str) -> Outcome:
    matched = (_ordered if mode == "ordered" else _unordered)(ctx, params.steps)
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
        "mode": mode,
        "ordered": mode == "ordered",
        "steps": steps,
        "matched": done,
        "attempt_events": len(ctx.events),
        "operations_seen": sorted({e.operation for e in ctx.events}),
    }
    return Outcome.judge(done == len(params.steps), evidence, done / len(params.steps))


# --- the constraint form ----------------------------------------------------------------------

_PARTICIPLES = {
    "add_note": N_("given a note"),
    "create": N_("created"),
    "delete": N_("deleted"),
    "export": N_("exported"),
    "moderate": N_("moderated"),
    "record": N_("recorded"),
    "run": N_("run"),
    "send": N_("sent"),
    "share": N_("shared"),
    "unshare": N_("unshared"),
    "update": N_("updated"),
    "view": N_("opened"),
}

# What the audit operations act on, as feedback names them (marked so that they are translated).
_NOUNS = {
    "consent": N_("consent"),
    "contact point": N_("contact point"),
    "customer": N_("customer"),
    "message": N_("message"),
    "record": N_("record"),
    "report": N_("report"),
    "review": N_("review"),
}


@dataclass(frozen=True)
class _Wording:
    """How feedback names a step: its noun ("report"), the scenario's own words for what it acts
    on (``what``), whether a deliverable singles it out, and its participle ("exported")."""

    noun: str
    what: str | None
    participle: str
    named: bool

    def subject(self, *, start: bool = False, definite: bool = False) -> Any:
        """The thing as a message to fill in: "the report", "a report" or the scenario's words.

        ``start`` capitalises it for the start of a sentence; ``definite`` names it with "the"
        even when nothing singles it out.
        """
        if self.what:
            return self.what[:1].upper() + self.what[1:] if start else self.what
        if self.named or definite:
            template = N_("The %(thing)s") if start else N_("the %(thing)s")
        elif self.noun[:1] in "aeiou":
            template = N_("An %(thing)s") if start else N_("an %(thing)s")
        else:
            template = N_("A %(thing)s") if start else N_("a %(thing)s")
        return message(template, thing=self.noun)


def _wording(step: SequenceStep) -> _Wording:
    noun, _, verb = step.operation.rpartition(".")
    noun = noun.replace("_", " ").replace(".", " ") or "record"
    noun = _NOUNS.get(noun, noun)
    participle = _PARTICIPLES.get(verb, verb.replace("_", " ") + "d")
    return _Wording(noun, step.what, participle, step.deliverable is not None or bool(step.what))


def _missing_note(step: SequenceStep) -> dict[str, Any]:
    w = _wording(step)
    if not w.named:
        return message(N_("No %(thing)s was %(done)s."), thing=w.noun, done=w.participle)
    return message(
        N_("%(subject)s was never %(done)s."), subject=w.subject(start=True), done=w.participle
    )


def _order_note(step: SequenceStep, before: SequenceStep, never: bool) -> dict[str, Any]:
    w, b = _wording(step), _wording(before)
    same = w.named and (step.deliverable, step.what) == (before.deliverable, before.what)
    other = message(N_("it")) if same else b.subject()
    if never:
        template = N_("%(subject)s was %(done)s, but %(other)s was never %(other_done)s.")
    else:
        template = N_("%(subject)s was %(done)s before %(other)s was ever %(other_done)s.")
    return message(
        template,
        subject=w.subject(start=True),
        done=w.participle,
        other=other,
        other_done=b.participle,
    )


def _label(step: SequenceStep, index: int) -> str:
    return step.id or f"steps[{index}]"


def _constraints(ctx: GradingContext, params: SequenceParams) -> Outcome:
    events = ctx.events
    found = [[e.id for e in events if _matches(ctx, step, e)] for step in params.steps]
    by_id = {step.id: index for index, step in enumerate(params.steps) if step.id is not None}
    notes: list[dict[str, Any]] = []
    steps_evidence = []
    judged = passed = 0
    for index, (step, ids) in enumerate(zip(params.steps, found, strict=True)):
        steps_evidence.append(
            {
                "step": _label(step, index),
                "operation": step.operation,
                "deliverable": step.deliverable,
                "required": step.required,
                "found": bool(ids),
                "event_ids": ids,
            }
        )
        if step.required:
            judged += 1
            passed += bool(ids)
            if not ids:
                notes.append(_missing_note(step))
    constraints_evidence = []
    for index, (step, ids) in enumerate(zip(params.steps, found, strict=True)):
        for ref in step.after:
            before_index = by_id[ref]
            before_ids = found[before_index]
            entry: dict[str, Any] = {"step": _label(step, index), "after": ref}
            if not ids:
                entry |= {"met": None, "reason": "the step did not happen, so its order is moot"}
            else:
                judged += 1
                first_before = before_ids[0] if before_ids else None
                too_early = [i for i in ids if first_before is None or i < first_before]
                met = not too_early
                passed += met
                entry |= {
                    "met": met,
                    "first_event_id": ids[0],
                    "first_after_event_id": first_before,
                    "violating_event_ids": too_early,
                }
                if not met:
                    note = _order_note(step, params.steps[before_index], first_before is None)
                    if note not in notes:
                        notes.append(note)
            constraints_evidence.append(entry)
    evidence = {
        "mode": "constraints",
        "steps": steps_evidence,
        "constraints": constraints_evidence,
        "attempt_events": len(events),
        "operations_seen": sorted({e.operation for e in events}),
    }
    score = passed / judged if judged else 1.0
    if passed == judged:
        return Outcome.passed(evidence, score)
    note, values = sentences(*notes)
    return Outcome(Status.FAIL, score, evidence, note, values)


@check("events.sequence", params=SequenceParams)
def sequence(ctx: GradingContext, params: SequenceParams) -> Outcome:
    """The audit events contain each step, in the order the steps' ``after`` constraints ask."""
    mode = params.mode
    if mode == "constraints":
        return _constraints(ctx, params)
    return _legacy(ctx, params, mode)
