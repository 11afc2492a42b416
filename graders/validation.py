"""Everything ``practicum validate`` checks about units and scenarios, beyond their schema.

Static checks: every check names a registered type with valid parameters and real deliverables;
every plant kind, operation and query condition is known. Dynamic checks, in every variant of a
scenario's pool: the reference solution passes every check and question with no PDPO finding,
each alternative is judged competent (no failing check or choice item, no high or critical
finding), and each counterexample fails what it names. Discrimination: every perturbation of a
rows expectation is caught in every variant (see ``graders.discrimination``). Coverage: every PR
leaf, and every point listed under one, of a unit that has an assessment-mode scenario is
assessed by some check or item; a unit with practice scenarios only is in development and its
gaps are notes.
"""

from __future__ import annotations

import enum
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.definitions import (
    DefinitionError,
    LoadedDefinition,
    Mode,
    Problem,
    Scenario,
    Step,
    Unit,
    leaf_id_of,
    load_definitions,
    validate_scenario_against_unit,
)
from graders.discrimination import CriterionResult, discriminate
from graders.engine import check_param_problems, rule_param_problems
from graders.registry import CHECKS, PDPO_RULES, load_builtin, rule_key
from graders.results import CheckResult, GradingResult, ItemResult, RuleResult, Severity, Status
from graders.runner import ScriptedRun, generation_spec, run_scripted_attempt
from sandbox_crm.backends import SandboxBackend
from sandbox_crm.operations import OPERATIONS
from sandbox_crm.plants import known_plant_kinds, validate_plant
from sandbox_crm.query import validate_condition
from sandbox_crm.store import SandboxStore


class Readiness(enum.StrEnum):
    """Where a unit stands: ready for assessment, or not yet and why."""

    READY = "ready"
    """An assessment-mode scenario, and every leaf and point assessed."""
    GAPS = "gaps"
    """An assessment-mode scenario, but some leaf or point is assessed by nothing."""
    IN_DEVELOPMENT = "in_development"
    """Practice scenarios only: trainees may practise, no assessment is offered."""
    NO_SCENARIO = "no_scenario"
    """No scenario assesses the unit yet."""


@dataclass(frozen=True)
class RunReport:
    """The outcome of a reference solution, alternative or counterexample in every variant."""

    scenario_id: str
    name: str
    ok: bool
    messages: tuple[str, ...]
    notes: tuple[str, ...] = ()
    variants: int = 1


@dataclass
class ValidationReport:
    """All problems, runs, the discrimination report and the coverage matrix of a folder."""

    problems: list[Problem] = field(default_factory=list)
    runs: list[RunReport] = field(default_factory=list)
    discrimination: list[CriterionResult] = field(default_factory=list)
    coverage: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    unassessed_units: list[str] = field(default_factory=list)
    readiness: dict[str, Readiness] = field(default_factory=dict)
    notes: list[Problem] = field(default_factory=list)
    """Coverage gaps of units in development (practice scenarios only): reported, not failing."""

    @property
    def ok(self) -> bool:
        """True when there is no problem, every run behaved and every check discriminates."""
        return (
            not self.problems
            and all(run.ok for run in self.runs)
            and all(result.ok for result in self.discrimination)
        )


def static_problems(loaded: LoadedDefinition[Scenario], unit: Unit) -> list[Problem]:
    """Problems found without running anything: PR ids, check types and params, references."""
    load_builtin()
    scenario = loaded.model
    problems = validate_scenario_against_unit(loaded, unit)
    deliverables = {d.id for d in scenario.deliverables}
    for i, check in enumerate(scenario.checks):
        if check.check not in CHECKS:
            known = ", ".join(CHECKS.names())
            problems.append(
                loaded.problem(
                    ("checks", i, "check"), f'unknown check "{check.check}"; known: {known}'
                )
            )
            continue
        found = check_param_problems(check.check, check.params, deliverables=deliverables)
        for loc, message in found:
            problems.append(loaded.problem(("checks", i, "params", *loc), message))
    for rule_id, settings in scenario.pdpo.rules.items():
        for loc, message in rule_param_problems(rule_id, settings):
            problems.append(loaded.problem(("pdpo", "rules", rule_id, *loc), message))
    for i, plant in enumerate(scenario.crm.plant):
        try:
            validate_plant(plant.kind, plant.params)
        except ValueError as exc:
            where = "kind" if plant.kind not in known_plant_kinds() else "params"
            problems.append(loaded.problem(("crm", "plant", i, where), str(exc)))
    for name, fact in scenario.facts.items():
        for message in validate_condition(fact.source, fact.where):
            problems.append(loaded.problem(("facts", name, "where"), message))
    step_lists: list[tuple[tuple, Iterable]] = [
        (("reference_solution",), scenario.reference_solution)
    ]
    step_lists += [
        (("counterexamples", i, "steps"), c.steps) for i, c in enumerate(scenario.counterexamples)
    ]
    step_lists += [
        (("alternatives", i, "steps"), a.steps) for i, a in enumerate(scenario.alternatives)
    ]
    for prefix, steps in step_lists:
        for j, step in enumerate(steps):
            if step.op not in OPERATIONS:
                problems.append(
                    loaded.problem(
                        (*prefix, j, "op"),
                        f'unknown operation "{step.op}"; known: {", ".join(sorted(OPERATIONS))}',
                    )
                )
    # The scenario model has checked that every other must_fail target is a check or an item.
    for i, counterexample in enumerate(scenario.counterexamples):
        for j, target in enumerate(counterexample.must_fail):
            if not target.startswith("pdpo:"):
                continue
            if rule_key(target.removeprefix("pdpo:")) not in PDPO_RULES:
                problems.append(
                    loaded.problem(
                        ("counterexamples", i, "must_fail", j), f'unknown PDPO rule "{target}"'
                    )
                )
    return problems


def _status_of(result: GradingResult, target: str) -> str | None:
    """The status of a must_fail target: pdpo:<rule id>, a check id or an item id."""
    found: CheckResult | ItemResult | RuleResult | None
    if target.startswith("pdpo:"):
        found = result.rule(target.removeprefix("pdpo:"))
    else:
        found = result.check(target) or result.item(target)
    return str(found.status) if found is not None else None


def reference_failures(result: GradingResult) -> list[str]:
    """Why a reference solution's result is not a clean pass (empty when it is)."""
    failures = [
        f"check {c.check_id} {c.status}: {dict(c.evidence)}"
        for c in result.checks
        if c.status != Status.PASS
    ]
    failures += [
        f"item {i.item_id} {i.status}"
        for i in result.items
        if i.status not in (Status.PASS, Status.NEEDS_REVIEW)
    ]
    failures += [
        f"pdpo:{r.rule_id} finding: {'; '.join(f.message for f in r.findings)}"
        for r in result.pdpo
        if r.status == Status.FAIL
    ]
    return failures


BLOCKING_SEVERITIES = frozenset({Severity.CRITICAL, Severity.HIGH})
"""Findings of these severities keep an alternative from being judged competent."""


def alternative_failures(result: GradingResult) -> tuple[list[str], list[str]]:
    """Why an alternative is not judged competent, and its lower findings to report."""
    failures = [
        f"check {c.check_id} {c.status}: {dict(c.evidence)}"
        for c in result.checks
        if c.status in (Status.FAIL, Status.ERROR)
    ]
    failures += [
        f"item {i.item_id} {i.status}"
        for i in result.items
        if i.kind != "written" and i.status in (Status.FAIL, Status.ERROR)
    ]
    notes = []
    for rule in result.pdpo:
        for finding in rule.findings:
            line = f"pdpo:{rule.rule_id} {finding.severity} finding: {finding.message}"
            (failures if finding.severity in BLOCKING_SEVERITIES else notes).append(line)
    return failures, notes


def counterexample_failures(result: GradingResult, must_fail: Iterable[str]) -> list[str]:
    """Targets a counterexample names that did not fail (empty when all failed)."""
    missed = []
    for target in must_fail:
        status = _status_of(result, target)
        if status != Status.FAIL:
            missed.append(f"{target} did not fail (status: {status or 'not run'})")
    return missed


@dataclass(frozen=True)
class _Run:
    """One scripted attempt of the self-test and how its result is judged."""

    name: str
    kind: str  # "reference", "alternative" or "counterexample"
    steps: Sequence[Step]
    answers: Mapping[str, Any]
    must_fail: tuple[str, ...] = ()
    deliverables: Mapping[str, Any] = field(default_factory=dict)


def _self_test_runs(scenario: Scenario) -> list[_Run]:
    """The reference solution, the alternatives and the counterexamples of a scenario."""
    reference = scenario.reference_answers
    runs = [_Run("reference solution", "reference", scenario.reference_solution, reference)]
    runs += [
        _Run(
            f"alternative: {a.name}",
            "alternative",
            a.steps,
            {**reference, **a.answers},
            deliverables=a.deliverables,
        )
        for a in scenario.alternatives
    ]
    runs += [
        _Run(
            f"counterexample: {c.name}",
            "counterexample",
            c.steps,
            {**reference, **c.answers},
            tuple(c.must_fail),
        )
        for c in scenario.counterexamples
    ]
    return runs


def _judge(run: _Run, outcome: ScriptedRun) -> tuple[list[str], list[str]]:
    """What is wrong with a run's outcome for its kind, and notes to report beside it.

    A refused step fails the reference solution; in an alternative it is a mis-click the
    trainee recovered from, noted beside the result.
    """
    refused = [f"step {r.index + 1} ({r.op}) refused: {r.message}" for r in outcome.refused]
    if run.kind == "reference":
        return reference_failures(outcome.result) + refused, []
    if run.kind == "alternative":
        failures, notes = alternative_failures(outcome.result)
        return failures, refused + notes
    return counterexample_failures(outcome.result, run.must_fail), []


def run_scenario(
    store: SandboxBackend,
    loaded: LoadedDefinition[Scenario],
    unit: Unit,
    only_variants: Sequence[int] | None = None,
) -> list[RunReport]:
    """Run the reference solution, alternatives and counterexamples in every variant (or in
    ``only_variants``)."""
    scenario = loaded.model
    runs = _self_test_runs(scenario)
    variants = scenario.crm.variants
    messages: list[list[str]] = [[] for _ in runs]
    notes: list[list[str]] = [[] for _ in runs]
    for variant in range(variants) if only_variants is None else only_variants:
        try:
            store.ensure_template(generation_spec(scenario, variant))
        except ValueError as exc:  # a plant the sandbox cannot hold: no run can start
            for run_messages in messages:
                run_messages.append(f"variant {variant}: {exc}")
            continue
        for index, run in enumerate(runs):
            key = f"validate-{index}"
            store.delete(key)  # a leftover of an interrupted run
            try:
                outcome = run_scripted_attempt(
                    store,
                    key,
                    scenario=scenario,
                    unit=unit,
                    steps=run.steps,
                    answers=run.answers,
                    variant=variant,
                    deliverables=dict(run.deliverables) or None,
                )
            except ValueError as exc:  # a step that fails, or a sandbox the spec cannot generate
                messages[index].append(f"variant {variant}: {exc}")
                continue
            finally:
                store.delete(key)
            failed, noted = _judge(run, outcome)
            messages[index] += [f"variant {variant}: {m}" for m in failed]
            notes[index] += [f"variant {variant}: {m}" for m in noted]
    return [
        RunReport(
            scenario.id, run.name, not messages[i], tuple(messages[i]), tuple(notes[i]), variants
        )
        for i, run in enumerate(runs)
    ]


def coverage_matrix(
    units: Mapping[str, Unit], scenarios: Iterable[Scenario]
) -> dict[str, dict[str, list[str]]]:
    """For every PR leaf and every point under it ("2.7.1"), the scenario checks and items that
    assess it. A check naming a point is listed under the point and under its leaf; one naming
    the leaf is listed under the leaf only, so it does not cover the leaf's points."""
    matrix = {code: {rid: [] for rid in unit.requirement_ids()} for code, unit in units.items()}
    for scenario in scenarios:
        rows = matrix.get(scenario.unit)
        if rows is None:
            continue
        assessors = [(c.id, c.requirements) for c in scenario.checks]
        assessors += [(q.id, q.requirements) for q in scenario.items]
        for assessor_id, requirements in assessors:
            name = f"{scenario.id}:{assessor_id}"
            for ref in requirements:
                local = ref.rpartition("/")[2]
                for rid in dict.fromkeys((local, leaf_id_of(local))):
                    if rid in rows and name not in rows[rid]:
                        rows[rid].append(name)
    return matrix


def coverage_gaps(rows: Mapping[str, Sequence[str]]) -> list[str]:
    """The leaves and points of one unit's coverage rows that nothing assesses.

    A leaf with points is covered only when each of its points is, so its uncovered points are
    listed; the leaf itself is listed when nothing names it or any of its points.
    """
    return [rid for rid, assessors in rows.items() if not assessors]


def unit_readiness(rows: Mapping[str, Sequence[str]], scenarios: Iterable[Scenario]) -> Readiness:
    """Whether a unit is ready for assessment, given its coverage rows and its scenarios."""
    modes = {scenario.mode for scenario in scenarios}
    if not modes:
        return Readiness.NO_SCENARIO
    if Mode.ASSESSMENT not in modes:
        return Readiness.IN_DEVELOPMENT
    return Readiness.GAPS if coverage_gaps(rows) else Readiness.READY


def _gap_problem(unit_file: LoadedDefinition[Unit], rid: str) -> Problem:
    """The problem (or note) of one uncovered leaf or point, at its line in the unit file."""
    locations: dict[str, tuple[str | int, ...]] = {}
    for g, group in enumerate(unit_file.model.performance_requirements):
        for i, leaf in enumerate(group.items):
            base = ("performance_requirements", g, "items", i)
            locations[leaf.id] = (*base, "id")
            locations |= {pid: (*base, "points", n) for n, pid in enumerate(leaf.point_ids())}
    line = unit_file.line_of(locations.get(rid, ()))
    if rid.count(".") == 2:
        where, message = f"PR {leaf_id_of(rid)} point {rid}", "no check or item assesses this point"
    else:
        where, message = f"PR {rid}", "no check or item assesses this PR"
    return Problem(unit_file.file, line, where, message)


def validate_folder(
    root: str | Path, *, template_dir: str | Path | None = None, run: bool = True
) -> ValidationReport:
    """Validate every unit and scenario under ``root`` and run the scenarios' scripted attempts."""
    load_builtin()
    report = ValidationReport()
    try:
        definitions = load_definitions(root)
    except DefinitionError as exc:
        report.problems = exc.problems
        return report
    units = {code: loaded.model for code, loaded in definitions.units.items()}
    for loaded in definitions.scenarios.values():
        unit = units.get(loaded.model.unit)
        if unit is None:
            report.problems.append(loaded.problem(("unit",), f"unknown unit {loaded.model.unit}"))
            continue
        report.problems += static_problems(loaded, unit)
    report.coverage = coverage_matrix(units, (s.model for s in definitions.scenarios.values()))
    for code, rows in report.coverage.items():
        of_unit = [s.model for s in definitions.scenarios.values() if s.model.unit == code]
        readiness = unit_readiness(rows, of_unit)
        report.readiness[code] = readiness
        if readiness is Readiness.NO_SCENARIO:
            report.unassessed_units.append(code)
            continue
        # Gaps fail a unit that offers an assessment; in a unit still in development (practice
        # scenarios only) they are notes.
        found = report.notes if readiness is Readiness.IN_DEVELOPMENT else report.problems
        unit_file = definitions.units[code]
        found += [_gap_problem(unit_file, rid) for rid in coverage_gaps(rows)]
    if report.problems or not run:
        return report
    with tempfile.TemporaryDirectory(prefix="practicum-validate-") as work:
        store = SandboxStore(
            Path(work) / "sandboxes", Path(template_dir) if template_dir else Path(work) / "t"
        )
        for loaded in definitions.scenarios.values():
            report.runs += run_scenario(store, loaded, units[loaded.model.unit])
            report.discrimination += discriminate(store, loaded.model)
    return report


def format_coverage(report: ValidationReport, units: Mapping[str, Unit] | None = None) -> str:
    """The coverage matrix as plain text: one line per PR leaf with what assesses it."""
    suffixes = {
        Readiness.READY: "  (ready for assessment)",
        Readiness.GAPS: "  (assessment scenario, not every PR and point assessed)",
        Readiness.IN_DEVELOPMENT: "  (in development: practice scenarios only)",
        Readiness.NO_SCENARIO: "  (no scenario yet)",
    }
    gap_marks = {Readiness.IN_DEVELOPMENT: ".. ", Readiness.NO_SCENARIO: "-- "}
    lines: list[str] = []
    for code, rows in sorted(report.coverage.items()):
        title = f" {units[code].title}" if units and code in units else ""
        readiness = report.readiness.get(code)
        if readiness is None:
            readiness = Readiness.NO_SCENARIO if code in report.unassessed_units else Readiness.GAPS
        lines.append(f"{code}{title}{suffixes[readiness]}")
        for rid, assessors in rows.items():
            mark = "ok " if assessors else gap_marks.get(readiness, "!! ")
            indent = "    " if rid.count(".") == 2 else "  "
            lines.append(f"{indent}{mark}{rid:<8} {', '.join(assessors) if assessors else '-'}")
    return "\n".join(lines)


def format_discrimination(report: ValidationReport) -> str:
    """The discrimination report as plain text: one line per check and perturbation."""
    lines = []
    for result in report.discrimination:
        mark = "PASS" if result.ok else "FAIL"
        head = f"{mark}  {result.scenario_id}  {result.check_id}: {result.label or 'expectation'}"
        if result.problem:
            lines.append(f"{head} ... {result.problem}")
            continue
        counts = ", ".join(str(n) for n in result.differing)
        lines.append(
            f"{head} ... caught in {result.caught_in}/{len(result.differing)} variants "
            f"(rows that differ, per variant: {counts})"
        )
    return "\n".join(lines)
