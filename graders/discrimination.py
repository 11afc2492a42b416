"""The discrimination report: would a slightly wrong rows expectation still pass?

For each ``report.rows_match`` check, the expected condition is perturbed the way a careless
trainee's filter would differ from it: each criterion dropped in turn, each value of an ``in``
list dropped, each numeric or date threshold moved across its boundary (to the nearest value in
the data on the other side, or one step when the data has none). Each perturbation is evaluated
on the template of every variant; it is *caught* in a variant when its rows differ from the
expected rows, outside the rows the check tolerates either way. A check whose perturbation is
not caught in some variant does not discriminate there: a report with that mistake would pass.

The functions on conditions are pure (no session); ``discriminate`` runs them on the templates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from graders.definitions.models import Scenario
from graders.runner import generation_spec, sandbox_date
from sandbox_crm.backends import SandboxBackend
from sandbox_crm.query import QueryError, select_keys, select_rows
from sandbox_crm.sources import SOURCES, get_source

__all__ = [
    "CriterionResult",
    "Perturbation",
    "criterion_text",
    "discriminate",
    "perturbations",
    "rows_expectations",
]

Condition = Any
NodePath = tuple[tuple[str, int], ...]
Nearest = Callable[[str, Any, str], Any]
"""``nearest(field, value, side)``: the largest data value below (side ``lt``) or at most
(``le``) ``value``, or the smallest above (``gt``) or at least (``ge``) it; None if none."""

_REMOVE = object()
_BOUND_OPS = ("ge", "gt", "le", "lt")
_RELATIVE_UNITS = ("days_ago", "months_ago", "years_ago")


@dataclass(frozen=True)
class Perturbation:
    """A changed expectation: what was changed (stable across variants) and the new condition."""

    label: str
    where: Condition
    detail: str = ""


# --- describing conditions --------------------------------------------------------------------


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, dict) and len(value) == 1:
        ((unit, amount),) = value.items()
        return f"{amount} {unit.removesuffix('_ago')} ago"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def criterion_text(condition: Condition) -> str:
    """A short text for a criterion as an author wrote it, e.g. ``tier in [gold, platinum]``."""
    if not condition:
        return "every row"
    if "field" in condition:
        if condition.get("op") in ("is_null", "not_null"):
            return f"{condition['field']} {condition['op']}"
        return f"{condition['field']} {condition.get('op')} {_value_text(condition.get('value'))}"
    if "not" in condition:
        return f"not ({criterion_text(condition['not'])})"
    kind = "all" if "all" in condition else "any"
    return f"{kind} of (" + "; ".join(criterion_text(c) for c in condition[kind]) + ")"


# --- walking and rewriting conditions ---------------------------------------------------------


def _walk(node: Condition, path: NodePath = ()) -> Iterator[tuple[NodePath, Condition]]:
    """Every node of a condition with its path (("all", 2), ("not", 0), ...), root first."""
    yield path, node
    if not isinstance(node, dict):
        return
    if "not" in node:
        yield from _walk(node["not"], (*path, ("not", 0)))
        return
    for kind in ("all", "any"):
        if isinstance(node.get(kind), list | tuple):
            for i, child in enumerate(node[kind]):
                yield from _walk(child, (*path, (kind, i)))


def _replace(node: Condition, path: NodePath, new: Any) -> Condition:
    """A copy of ``node`` with the node at ``path`` replaced by ``new`` (or removed)."""
    if not path:
        return None if new is _REMOVE else new
    (kind, i), rest = path[0], path[1:]
    if kind == "not":
        return {"not": _replace(node["not"], rest, new)}
    items = list(node[kind])
    if not rest and new is _REMOVE:
        del items[i]
    else:
        items[i] = _replace(items[i], rest, new)
    return {kind: items}


# --- moving thresholds ------------------------------------------------------------------------


def _field_type(source: str, name: Any) -> str | None:
    fields = get_source(source).fields if source in SOURCES else {}
    field = fields.get(name) if isinstance(name, str) else None
    return field.type if field is not None else None


def _as_threshold(kind: str, value: Any) -> Any:
    """A threshold in comparable form: an int, a date, a relative date, or None (not movable)."""
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind not in ("date", "datetime"):
        return None
    if value == "today":
        return {"days_ago": 0}
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _RELATIVE_UNITS:
        return dict(value)
    if isinstance(value, datetime):
        return None  # a moment, not a day: no sensible step
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _step(value: Any, delta: int) -> Any:
    """One unit later (+1) or earlier (-1): a whole number, a day, or a relative date's unit."""
    if isinstance(value, dict):
        ((unit, amount),) = value.items()
        moved = amount - delta  # "N days ago" moves later as N shrinks
        return {unit: moved} if moved >= 0 else None
    if isinstance(value, date):
        try:
            return value + timedelta(days=delta)
        except OverflowError:
            return None
    return value + delta


def _output(original: Any, value: Any) -> Any:
    """A moved threshold written like the original (an ISO string stays a string)."""
    if isinstance(original, str) and isinstance(value, date):
        return value.isoformat()
    return value


def _nearest_or_step(nearest: Nearest | None, field: str, value: Any, side: str, kind: str) -> Any:
    """The nearest data value on ``side`` of a threshold, or a one-step fallback."""
    found = None
    if nearest is not None and not isinstance(value, dict) and kind != "datetime":
        found = nearest(field, value, side)
    if found is not None:
        return found
    if side in ("le", "ge"):
        return value
    return _step(value, -1 if side == "lt" else 1)


def _bound_moves(
    nearest: Nearest | None, field: str, op: str, value: Any, kind: str
) -> dict[str, Any]:
    """The bound moved one data value across its boundary, down and up: {"down": v, "up": v}.

    Each move changes the side of exactly the rows with the nearest value (a strict bound moves
    one step past that value, an inclusive bound onto it).
    """

    def near(side: str, delta: int = 0) -> Any:
        found = _nearest_or_step(nearest, field, value, side, kind)
        return _step(found, delta) if delta and found is not None else found

    if op == "ge":
        return {"down": near("lt"), "up": near("ge", 1)}
    if op == "gt":
        return {"down": near("le", -1), "up": near("gt")}
    if op == "le":
        return {"down": near("le", -1), "up": near("gt")}
    return {"down": near("lt"), "up": near("ge", 1)}  # lt


def _leaf_changes(
    source: str, leaf: Mapping[str, Any], nearest: Nearest | None
) -> Iterator[tuple[str, Condition, str]]:
    """(what changed, new leaf, detail) for each in-list value and each threshold move."""
    field, op, value = leaf.get("field"), leaf.get("op"), leaf.get("value")
    text = criterion_text(leaf)
    if op in ("in", "not_in") and isinstance(value, list | tuple) and len(value) > 1:
        for i, item in enumerate(value):
            rest = [v for j, v in enumerate(value) if j != i]
            yield f"{text}: drop {_value_text(item)}", {**leaf, "value": rest}, ""
        return
    kind = _field_type(source, field)
    if kind is None:
        return
    if op in _BOUND_OPS:
        threshold = _as_threshold(kind, value)
        if threshold is None:
            return
        for direction, moved in _bound_moves(nearest, field, op, threshold, kind).items():
            if moved is None or moved == threshold:
                continue
            new = _output(value, moved)
            detail = f"{op} {_value_text(new)}"
            yield f"{text}: move {direction}", {**leaf, "value": new}, detail
    elif op == "between" and isinstance(value, list | tuple) and len(value) == 2:
        low, high = (_as_threshold(kind, v) for v in value)
        if low is None or high is None:
            return
        bounds = (
            ("low", 0, _bound_moves(nearest, field, "ge", low, kind), low),
            ("high", 1, _bound_moves(nearest, field, "le", high, kind), high),
        )
        for name, index, moves, threshold in bounds:
            for direction, moved in moves.items():
                if moved is None or moved == threshold:
                    continue
                pair = list(value)
                pair[index] = _output(value[index], moved)
                detail = f"between {_value_text(pair)}"
                yield f"{text}: move {name} bound {direction}", {**leaf, "value": pair}, detail


def perturbations(
    source: str, condition: Condition, nearest: Nearest | None = None
) -> list[Perturbation]:
    """Every perturbation of a condition: drop each criterion, each in-list value, move bounds.

    ``nearest`` finds threshold moves in the data (see ``Nearest``); without it, or when the
    data has no value on the other side, a threshold moves by one (whole number, day or unit of
    a relative date). Labels do not depend on the data, so they match across variants.
    """
    result: list[Perturbation] = []
    for path, node in _walk(condition):
        if not isinstance(node, dict) or not node:
            continue
        if not path and ("field" in node or "not" in node):
            result.append(Perturbation(f"drop {criterion_text(node)}", None))
        elif path and path[-1][0] in ("all", "any"):
            result.append(
                Perturbation(f"drop {criterion_text(node)}", _replace(condition, path, _REMOVE))
            )
        if "field" in node:
            for label, leaf, detail in _leaf_changes(source, node, nearest):
                result.append(Perturbation(label, _replace(condition, path, leaf), detail))
    return result


# --- evaluation on the variants' templates ----------------------------------------------------


@dataclass(frozen=True)
class RowsExpectation:
    """A rows_match check's expectation: source, condition and the rows tolerated either way."""

    check_id: str
    source: str | None
    where: Condition
    either_way: Condition


def _report_source(scenario: Scenario, report_ref: Any) -> str | None:
    """The source of the report the reference solution builds as this deliverable."""
    deliverable = str(report_ref or "").removeprefix("deliverable:")
    for step in scenario.reference_solution:
        if step.deliverable == deliverable and isinstance(step.args.get("source"), str):
            return step.args["source"]
    return None


def rows_expectations(scenario: Scenario) -> list[RowsExpectation]:
    """The expectation of every report.rows_match (and campaign.recipients_match) check."""
    found = []
    for check in scenario.checks:
        if check.check == "campaign.recipients_match":
            # Whom a campaign must reach is a condition on customers, like a report's rows.
            found.append(
                RowsExpectation(
                    check.id,
                    "customers",
                    check.params.get("expect"),
                    check.params.get("either_way"),
                )
            )
            continue
        if check.check == "report.summary_matches":
            # The rows a summary counts are a condition, like a report's rows.
            expect = check.params.get("expect") or {}
            found.append(RowsExpectation(check.id, expect.get("source"), expect.get("where"), None))
            continue
        if check.check != "report.rows_match":
            continue
        expect = check.params.get("expect") or {}
        if isinstance(expect, dict) and len(expect) == 1:
            ((name, body),) = expect.items()
            if name in SOURCES and isinstance(body, dict):
                expect = {"source": name, **body}
        source = expect.get("source") or _report_source(scenario, check.params.get("report"))
        found.append(
            RowsExpectation(check.id, source, expect.get("where"), check.params.get("either_way"))
        )
    return found


@dataclass(frozen=True)
class CriterionResult:
    """One perturbation of one check: how many rows differ from the expectation, per variant."""

    scenario_id: str
    check_id: str
    label: str
    differing: tuple[int, ...]
    problem: str = ""

    @property
    def caught_in(self) -> int:
        """In how many variants the perturbed expectation returns different rows."""
        return sum(1 for n in self.differing if n > 0)

    @property
    def ok(self) -> bool:
        """True when the perturbation is caught in every variant."""
        return not self.problem and bool(self.differing) and self.caught_in == len(self.differing)


class _Values:
    """Sorted distinct values of fields in one template, for moving thresholds."""

    def __init__(self, session: Any, source: str, as_of: date) -> None:
        self.session, self.source, self.as_of = session, source, as_of
        self.cache: dict[str, list[Any]] = {}

    def values(self, field: str) -> list[Any]:
        if field not in self.cache:
            rows = select_rows(self.session, self.source, columns=[field], as_of=self.as_of).rows
            found = {row[field] for row in rows if row[field] is not None}
            self.cache[field] = sorted(found)
        return self.cache[field]

    def nearest(self, field: str, value: Any, side: str) -> Any:
        """See ``Nearest``."""
        values = self.values(field)
        if not values or type(values[0]) is not type(value):
            return None
        if side in ("lt", "le"):
            below = [v for v in values if v < value or (side == "le" and v == value)]
            return below[-1] if below else None
        above = [v for v in values if v > value or (side == "ge" and v == value)]
        return above[0] if above else None


def discriminate(store: SandboxBackend, scenario: Scenario) -> list[CriterionResult]:
    """Evaluate every perturbation of every rows expectation on every variant's template."""
    expectations = rows_expectations(scenario)
    if not expectations:
        return []
    counts: dict[tuple[str, str], list[int]] = {}
    problems: dict[tuple[str, str], str] = {}
    for variant in range(scenario.crm.variants):
        try:
            store.ensure_template(generation_spec(scenario, variant))
        except ValueError as exc:  # a plant the sandbox cannot hold
            for expectation in expectations:
                problems[(expectation.check_id, "")] = f"variant {variant}: {exc}"
            continue
        with store.template_session(generation_spec(scenario, variant)) as template:
            as_of = sandbox_date(template)
            for expectation in expectations:
                key = (expectation.check_id, "")
                if expectation.source is None:
                    problems[key] = "cannot tell the report's source; give expect.source"
                    continue
                try:
                    expected = select_keys(template, expectation.source, expectation.where, as_of)
                    tolerated = (
                        select_keys(template, expectation.source, expectation.either_way, as_of)
                        if expectation.either_way
                        else set()
                    )
                except QueryError as exc:
                    problems[key] = f"the expectation cannot be evaluated: {exc}"
                    continue
                values = _Values(template, expectation.source, as_of)
                for change in perturbations(expectation.source, expectation.where, values.nearest):
                    key = (expectation.check_id, change.label)
                    try:
                        got = select_keys(template, expectation.source, change.where, as_of)
                    except QueryError as exc:
                        problems[key] = f"cannot be evaluated: {exc}"
                        continue
                    counts.setdefault(key, []).append(len((expected ^ got) - tolerated))
    results = [
        CriterionResult(scenario.id, check_id, label, (), message)
        for (check_id, label), message in problems.items()
        if not label
    ]
    for (check_id, label), differing in counts.items():
        results.append(
            CriterionResult(
                scenario.id, check_id, label, tuple(differing), problems.get((check_id, label), "")
            )
        )
    return results
