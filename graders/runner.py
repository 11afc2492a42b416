"""An attempt's life cycle on the sandbox: create it, apply steps, grade it.

The platform (a trainee clicking in the browser), ``practicum attempt`` (a scripted attempt) and
``practicum validate`` (reference solutions and counterexamples) all go through these functions,
so a scenario behaves the same whichever door it is entered by.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.definitions.models import BRIEF_PLACEHOLDER, Scenario, Step, Unit
from graders.engine import grade_attempt
from graders.results import GradingResult
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import SandboxMeta, StaffUser
from sandbox_crm.operations import apply_operation
from sandbox_crm.query import aggregate
from sandbox_crm.store import SandboxStore

_PLANT_REF = re.compile(r"^\$plant:([a-z0-9_]+):(\d+)$")


class StepError(ValueError):
    """A scripted step could not be applied; names the step and what was wrong."""

    def __init__(self, index: int, op: str, message: str) -> None:
        super().__init__(f"step {index + 1} ({op}): {message}")
        self.index = index
        self.op = op
        self.message = message


def variant_seed(scenario: Scenario, variant: int) -> int:
    """The generation seed of one variant of a scenario's sandbox."""
    return scenario.crm.seed * 1000 + variant


def generation_spec(scenario: Scenario, variant: int = 0) -> GenerationSpec:
    """The generation spec of a scenario variant (the template cache key derives from it)."""
    plants = tuple(
        PlantSpec(
            kind=p.kind,
            count=p.count,
            params=tuple(sorted((k, _freeze(v)) for k, v in p.params.items())),
        )
        for p in scenario.crm.plant
    )
    return GenerationSpec(
        profile=str(scenario.crm.profile),
        seed=variant_seed(scenario, variant),
        customers=scenario.crm.customers,
        today=scenario.crm.today,
        company=scenario.crm.company,
        acting_department=scenario.crm.acting_as.department,
        acting_title=scenario.crm.acting_as.title,
        plants=plants,
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def pick_variant(
    pool: int,
    had: Sequence[int],
    centre_use: Mapping[int, int],
    tie_break: str,
) -> int:
    """Choose the variant of a pool for a trainee's next attempt at a scenario.

    ``had`` lists the variants of the trainee's earlier attempts (oldest first) and
    ``centre_use`` how often each variant was given in the trainee's centre. No variant comes
    again until the trainee has had every one (then a new round starts, avoiding the variant of
    the last attempt); among those allowed, the least used in the centre wins, so neighbours get
    different data where the pool allows; ``tie_break`` (say the trainee's id) orders the rest
    deterministically, so that trainees do not all start on variant 0.
    """
    pool = max(pool, 1)
    times = Counter(v for v in had if 0 <= v < pool)
    fewest = min(times[v] for v in range(pool))
    allowed = [v for v in range(pool) if times[v] == fewest]
    last = had[-1] if had else None
    digest = hashlib.sha256(tie_break.encode()).digest()
    offset = int.from_bytes(digest[:4], "big") % pool
    return min(
        allowed,
        key=lambda v: (v == last and len(allowed) > 1, centre_use.get(v, 0), (v - offset) % pool),
    )


def meta_value(session: Session, key: str) -> str | None:
    """A value from the sandbox's meta table."""
    row = session.get(SandboxMeta, key)
    return row.value if row is not None else None


def trainee_actor(session: Session) -> StaffUser:
    """The staff user the trainee works as in this sandbox."""
    staff_id = meta_value(session, "trainee_staff_id")
    actor = session.get(StaffUser, int(staff_id)) if staff_id else None
    if actor is None:
        actor = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).first()
    if actor is None:
        raise RuntimeError("sandbox has no trainee staff user")
    return actor


def planted(session: Session) -> dict[str, list[int]]:
    """The hidden ground truth of planted situations: kind -> affected customer ids."""
    raw = meta_value(session, "plants")
    return json.loads(raw) if raw else {}


def sandbox_date(session: Session) -> date:
    """The sandbox's scenario date (the day the clock started)."""
    today = meta_value(session, "today")
    if today is None:
        raise RuntimeError("sandbox has no 'today' meta value")
    return date.fromisoformat(today[:10])


def _resolve(value: Any, bindings: Mapping[str, int], plants: Mapping[str, list[int]]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        plant = _PLANT_REF.match(value)
        if plant:
            kind, index = plant.group(1), int(plant.group(2))
            ids = plants.get(kind, [])
            if index >= len(ids):
                raise ValueError(f"{value}: only {len(ids)} planted {kind!r} records")
            return ids[index]
        name = value[1:]
        if name not in bindings:
            raise ValueError(f"{value} is not bound by an earlier step's 'as'")
        return bindings[name]
    if isinstance(value, list):
        return [_resolve(v, bindings, plants) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, bindings, plants) for k, v in value.items()}
    return value


@dataclass
class StepsOutcome:
    """What applying a list of steps produced: names bound and deliverables identified."""

    bindings: dict[str, int] = field(default_factory=dict)
    deliverables: dict[str, int] = field(default_factory=dict)


def apply_steps(session: Session, steps: Sequence[Step]) -> StepsOutcome:
    """Apply scripted steps as the trainee's staff user, committing after each like a click."""
    actor = trainee_actor(session)
    plants = planted(session)
    outcome = StepsOutcome()
    for index, step in enumerate(steps):
        try:
            args = _resolve(step.args, outcome.bindings, plants)
            entity = apply_operation(session, actor, step.op, args)
        except ValueError as exc:  # an OperationError, or a $reference that does not resolve
            session.rollback()
            raise StepError(index, step.op, str(exc)) from exc
        session.commit()
        entity_id = getattr(entity, "id", None)
        if step.as_ is not None and entity_id is not None:
            outcome.bindings[step.as_] = entity_id
        if step.deliverable is not None and entity_id is not None:
            outcome.deliverables[step.deliverable] = entity_id
    return outcome


def compute_facts(session: Session, scenario: Scenario) -> dict[str, Any]:
    """The brief's values computed from this sandbox's data (plus company, staff name, date)."""
    as_of = sandbox_date(session)
    values: dict[str, Any] = {}
    for name, fact in scenario.facts.items():
        values[name] = aggregate(
            session, fact.source, fact.where, str(fact.aggregate), fact.field, as_of
        )
    actor = trainee_actor(session)
    values.setdefault("company", meta_value(session, "company") or "")
    values.setdefault("staff_name", actor.full_name)
    values.setdefault("staff_title", actor.title)
    values.setdefault("today", as_of.strftime("%A %d %B %Y").replace(" 0", " "))
    return values


def render_brief(brief: str, values: Mapping[str, Any]) -> str:
    """The brief's Markdown with ``{{ name }}`` placeholders filled in (numbers formatted)."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1).strip(), match.group(0))
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value)

    return BRIEF_PLACEHOLDER.sub(fill, brief)


def grade_sandbox(
    store: SandboxStore,
    key: str,
    *,
    scenario: Scenario,
    unit: Unit,
    template_key: str,
    deliverables: Mapping[str, int],
    answers: Mapping[str, Any],
) -> GradingResult:
    """Grade a (normally frozen) sandbox against the untouched template it was cloned from.

    The template is opened by its key and never generated: if it is gone, TemplateNotFound.
    """
    with (
        store.template_session_for_key(template_key) as template,
        store.session(key, read_only=True) as final,
    ):
        return grade_attempt(
            scenario=scenario,
            unit=unit,
            template=template,
            final=final,
            deliverables=dict(deliverables),
            answers=dict(answers),
            trainee_staff_id=trainee_actor(final).id,
        )


@dataclass(frozen=True)
class ScriptedRun:
    """The outcome of a scripted attempt: deliverables found and the grading result."""

    deliverables: dict[str, int]
    result: GradingResult


def run_scripted_attempt(
    store: SandboxStore,
    key: str,
    *,
    scenario: Scenario,
    unit: Unit,
    steps: Sequence[Step],
    answers: Mapping[str, Any] | None = None,
    variant: int = 0,
    deliverables: Mapping[str, int] | None = None,
) -> ScriptedRun:
    """Create a fresh sandbox, apply the steps as a trainee would, freeze it and grade it."""
    spec = generation_spec(scenario, variant)
    store.create(key, spec, clock_mode="stepped")
    with store.session(key) as session:
        outcome = apply_steps(session, steps)
    chosen = {**outcome.deliverables, **(deliverables or {})}
    store.freeze(key)
    result = grade_sandbox(
        store,
        key,
        scenario=scenario,
        unit=unit,
        template_key=spec.cache_key(),
        deliverables=chosen,
        answers=answers or {},
    )
    return ScriptedRun(deliverables=chosen, result=result)
