"""An attempt's life cycle on the sandbox: create it, apply steps, grade it.

The platform (a trainee clicking in the browser), ``practicum attempt`` (a scripted attempt) and
``practicum validate`` (reference solutions and counterexamples) all go through these functions,
so a scenario behaves the same whichever door it is entered by.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.definitions.models import (
    BRIEF_PLACEHOLDER,
    Scenario,
    Step,
    Unit,
    WrittenItem,
    localised,
)
from graders.engine import RubricScores, grade_attempt, roll_up
from graders.results import GradingResult
from sandbox_crm.backends import SandboxBackend
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import StaffUser
from sandbox_crm.operations import (
    InvalidArguments,
    OperationError,
    apply_operation,
    entity_named,
    record_refusal,
)
from sandbox_crm.query import aggregate

_PLANT_REF = re.compile(r"^\$plant:([a-z0-9_]+):(\d+)$")


class ScriptError(ValueError):
    """A scripted attempt is wrong in itself (not a trainee's mistake the CRM would refuse)."""


class StepError(ScriptError):
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


def trainee_actor(session: Session) -> StaffUser:
    """The staff user the trainee works as in this sandbox."""
    staff_id = sandbox_info(session).trainee_staff_id
    actor = session.get(StaffUser, staff_id) if staff_id is not None else None
    if actor is None:
        actor = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).first()
    if actor is None:
        raise RuntimeError("sandbox has no trainee staff user")
    return actor


def planted(session: Session) -> dict[str, list[int]]:
    """The hidden ground truth of planted situations: kind -> affected customer ids."""
    return {kind: list(ids) for kind, ids in sandbox_info(session).plants.items()}


def sandbox_date(session: Session) -> date:
    """The sandbox's scenario date (the day the clock started)."""
    today = sandbox_info(session).today
    if today is None:
        raise RuntimeError("sandbox has no 'today' meta value")
    return today


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


@dataclass(frozen=True)
class RefusedStep:
    """A step the CRM refused, like a person's mis-click: audited, and the attempt goes on."""

    index: int
    """The step's position in the list, counting from 0."""
    op: str
    message: str
    """What the CRM said, as the trainee would read it."""
    event_id: int
    """The refused-action audit event."""

    def to_dict(self) -> dict[str, Any]:
        """The refusal as JSON, with the step numbered from 1 as people count."""
        return {
            "step": self.index + 1,
            "op": self.op,
            "message": self.message,
            "event_id": self.event_id,
        }


@dataclass
class StepsOutcome:
    """What applying a list of steps produced: names bound, deliverables and refused steps."""

    bindings: dict[str, int] = field(default_factory=dict)
    deliverables: dict[str, int] = field(default_factory=dict)
    refused: list[RefusedStep] = field(default_factory=list)


def apply_steps(session: Session, steps: Sequence[Step]) -> StepsOutcome:
    """Apply scripted steps as the trainee's staff user, committing after each like a click.

    A step the operation refuses (OperationError) is rolled back, audited as a refused action
    and listed in ``refused``; the later steps still run. A step that cannot even be attempted
    (a ``$reference`` that does not resolve, an unknown operation or argument) is a StepError.
    """
    actor = trainee_actor(session)
    plants = planted(session)
    outcome = StepsOutcome()
    for index, step in enumerate(steps):
        try:
            args = _resolve(step.args, outcome.bindings, plants)
            entity = apply_operation(session, actor, step.op, args)
        except InvalidArguments as exc:
            session.rollback()
            raise StepError(index, step.op, exc.message) from exc
        except OperationError as exc:  # the CRM refuses it, as it would refuse a form
            event = record_refusal(session, actor, step.op, exc, entity_named(args))
            session.commit()
            outcome.refused.append(RefusedStep(index, step.op, exc.message, event.id))
            continue
        except ValueError as exc:  # a $reference that does not resolve
            session.rollback()
            message = str(exc)
            lost = [
                r.index + 1
                for r in outcome.refused
                if steps[r.index].as_ is not None and message.startswith(f"${steps[r.index].as_} ")
            ]
            if lost:
                message += f" (step {lost[-1]}, which would have bound it, was refused)"
            raise StepError(index, step.op, message) from exc
        session.commit()
        entity_id = getattr(entity, "id", None)
        if step.as_ is not None and entity_id is not None:
            outcome.bindings[step.as_] = entity_id
        if step.deliverable is not None and entity_id is not None:
            outcome.deliverables[step.deliverable] = entity_id
    return outcome


def resolve_deliverables(
    scenario: Scenario,
    chosen: Mapping[str, int | str],
    outcome: StepsOutcome,
    steps: Sequence[Step] = (),
) -> dict[str, int]:
    """Deliverables named by id or by an ``as:`` alias of a step (``report`` or ``$report``).

    ScriptError naming the problem for a deliverable the scenario does not have, or an alias
    no step bound (saying so when the step that would have bound it was refused).
    """
    known = [d.id for d in scenario.deliverables]
    resolved: dict[str, int] = {}
    for deliverable, value in chosen.items():
        if deliverable not in known:
            names = ", ".join(known) or "none"
            raise ScriptError(
                f"deliverables: {deliverable!r} is not a deliverable of this scenario "
                f"(its deliverables: {names})"
            )
        if isinstance(value, int) and not isinstance(value, bool):
            resolved[deliverable] = value
            continue
        alias = value[1:] if isinstance(value, str) and value.startswith("$") else value
        if isinstance(alias, str) and alias in outcome.bindings:
            resolved[deliverable] = outcome.bindings[alias]
            continue
        binders = [i for i, s in enumerate(steps) if alias is not None and s.as_ == alias]
        refused = {r.index for r in outcome.refused}
        if binders and all(i in refused for i in binders):
            reason = f"step {binders[-1] + 1} that binds it was refused"
        else:
            bound = ", ".join(sorted(outcome.bindings)) or "none"
            reason = f"give a record id or an alias bound by a step's as: (bound: {bound})"
        raise ScriptError(f"deliverables: {deliverable}: unknown alias {value!r}; {reason}")
    return resolved


def check_rubric_scores(
    scenario: Scenario, scores: Mapping[str, Any]
) -> dict[str, dict[str, float]]:
    """Rubric points for written items, checked against the scenario's rubrics (ScriptError)."""
    if not isinstance(scores, Mapping):
        raise ScriptError("scores: give item id -> criterion id -> points")
    items = {item.id: item for item in scenario.items}
    checked: dict[str, dict[str, float]] = {}
    for item_id, points in scores.items():
        item = items.get(item_id)
        if not isinstance(item, WrittenItem):
            written = ", ".join(i.id for i in scenario.items if isinstance(i, WrittenItem))
            what = "is not a written item" if item is not None else "is not an item"
            raise ScriptError(
                f"scores: {item_id!r} {what} of this scenario (written items: {written or 'none'})"
            )
        if not isinstance(points, Mapping):
            raise ScriptError(f"scores.{item_id}: give criterion id -> points")
        criteria = {c.id: c.points for c in item.rubric}
        checked[item_id] = {}
        for criterion, value in points.items():
            if criterion not in criteria:
                raise ScriptError(
                    f"scores.{item_id}: unknown rubric criterion {criterion!r} "
                    f"(criteria: {', '.join(criteria)})"
                )
            top = criteria[criterion]
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not 0 <= value <= top:
                raise ScriptError(
                    f"scores.{item_id}.{criterion}: give 0 to {top} points, not {value!r}"
                )
            checked[item_id][criterion] = float(value)
    return checked


def compute_facts(session: Session, scenario: Scenario) -> dict[str, Any]:
    """The brief's values computed from this sandbox's data (plus company, staff name, date)."""
    as_of = sandbox_date(session)
    values: dict[str, Any] = {}
    for name, fact in scenario.facts.items():
        values[name] = aggregate(
            session, fact.source, fact.where, str(fact.aggregate), fact.field, as_of
        )
    actor = trainee_actor(session)
    values.setdefault("company", sandbox_info(session).company)
    values.setdefault("staff_name", actor.full_name)
    values.setdefault("staff_title", actor.title)
    values.setdefault("today", as_of.strftime("%A %d %B %Y").replace(" 0", " "))
    return values


def render_brief(brief: str, values: Mapping[str, Any], language: str | None = None) -> str:
    """The brief's Markdown in this language with ``{{ name }}`` placeholders filled in."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1).strip(), match.group(0))
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value)

    return BRIEF_PLACEHOLDER.sub(fill, localised(brief, language))


def grade_sandbox(
    store: SandboxBackend,
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
    """The outcome of a scripted attempt: deliverables, the grading result, refused steps."""

    deliverables: dict[str, int]
    result: GradingResult
    refused: tuple[RefusedStep, ...] = ()


def run_scripted_attempt(
    store: SandboxBackend,
    key: str,
    *,
    scenario: Scenario,
    unit: Unit,
    steps: Sequence[Step],
    answers: Mapping[str, Any] | None = None,
    variant: int = 0,
    deliverables: Mapping[str, int | str] | None = None,
    rubric_scores: RubricScores | None = None,
) -> ScriptedRun:
    """Create a fresh sandbox, apply the steps as a trainee would, freeze it and grade it.

    ``deliverables`` may name a record by id or by a step's ``as:`` alias; ``rubric_scores``
    (item id -> criterion id -> points) score written answers as an assessor would. Refused
    steps are audited and listed; ScriptError for a script that cannot be run as written.
    """
    scores = check_rubric_scores(scenario, rubric_scores) if rubric_scores else None
    spec = generation_spec(scenario, variant)
    store.create(key, spec, clock_mode="stepped", variant=variant)
    with store.session(key) as session:
        outcome = apply_steps(session, steps)
    chosen = {
        **outcome.deliverables,
        **resolve_deliverables(scenario, deliverables or {}, outcome, steps),
    }
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
    if scores:
        result = roll_up(
            unit,
            scenario,
            result.checks,
            result.items,
            result.pdpo,
            rubric_scores=scores,
            grader_version=result.grader_version,
        )
    return ScriptedRun(deliverables=chosen, result=result, refused=tuple(outcome.refused))
