"""Everything ``practicum validate`` checks about units and scenarios, beyond their schema.

Static checks: every check names a registered type with valid parameters and real deliverables;
every plant kind, operation and query condition is known. Dynamic checks: the reference solution
passes every check and question with no PDPO finding, and each counterexample fails what it
names. Coverage: every PR leaf of a unit that has scenarios is assessed by some check or item.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from graders.definitions import (
    DefinitionError,
    LoadedDefinition,
    Problem,
    Scenario,
    Unit,
    load_definitions,
    validate_scenario_against_unit,
)
from graders.engine import check_param_problems, rule_param_problems
from graders.registry import CHECKS, PDPO_RULES, load_builtin, rule_key
from graders.results import CheckResult, GradingResult, ItemResult, RuleResult, Status
from graders.runner import run_scripted_attempt
from sandbox_crm.operations import OPERATIONS
from sandbox_crm.plants import known_plant_kinds, validate_plant
from sandbox_crm.query import validate_condition
from sandbox_crm.store import SandboxStore


@dataclass(frozen=True)
class RunReport:
    """The outcome of running a reference solution or a counterexample."""

    scenario_id: str
    name: str
    ok: bool
    messages: tuple[str, ...]


@dataclass
class ValidationReport:
    """All problems, runs and the coverage matrix of a definitions folder."""

    problems: list[Problem] = field(default_factory=list)
    runs: list[RunReport] = field(default_factory=list)
    coverage: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    unassessed_units: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no problem and every run behaved as the scenario says."""
        return not self.problems and all(run.ok for run in self.runs)


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


def counterexample_failures(result: GradingResult, must_fail: Iterable[str]) -> list[str]:
    """Targets a counterexample names that did not fail (empty when all failed)."""
    missed = []
    for target in must_fail:
        status = _status_of(result, target)
        if status != Status.FAIL:
            missed.append(f"{target} did not fail (status: {status or 'not run'})")
    return missed


def run_scenario(
    store: SandboxStore, loaded: LoadedDefinition[Scenario], unit: Unit
) -> list[RunReport]:
    """Run the reference solution and every counterexample of a scenario on fresh sandboxes."""
    scenario = loaded.model
    reports: list[RunReport] = []
    runs = [("reference solution", scenario.reference_solution, scenario.reference_answers, None)]
    runs += [
        (
            f"counterexample: {c.name}",
            c.steps,
            {**scenario.reference_answers, **c.answers},
            c.must_fail,
        )
        for c in scenario.counterexamples
    ]
    for index, (name, steps, answers, must_fail) in enumerate(runs):
        key = f"validate-{index}"
        store.delete(key)  # a leftover of an interrupted run
        try:
            run = run_scripted_attempt(
                store, key, scenario=scenario, unit=unit, steps=steps, answers=answers
            )
        except ValueError as exc:  # a step that fails, or a sandbox the spec cannot generate
            reports.append(RunReport(scenario.id, name, False, (str(exc),)))
            continue
        finally:
            store.delete(key)
        if must_fail is None:
            messages = reference_failures(run.result)
            messages += [f"step {r.index + 1} ({r.op}) refused: {r.message}" for r in run.refused]
        else:
            messages = counterexample_failures(run.result, must_fail)
        reports.append(RunReport(scenario.id, name, not messages, tuple(messages)))
    return reports


def coverage_matrix(
    units: Mapping[str, Unit], scenarios: Iterable[Scenario]
) -> dict[str, dict[str, list[str]]]:
    """For every PR leaf of every unit, the scenario checks and items that assess it."""
    matrix = {code: {leaf: [] for leaf in unit.leaf_ids()} for code, unit in units.items()}
    for scenario in scenarios:
        rows = matrix.get(scenario.unit)
        if rows is None:
            continue
        assessors = [(c.id, c.requirements) for c in scenario.checks]
        assessors += [(q.id, q.requirements) for q in scenario.items]
        for assessor_id, requirements in assessors:
            for ref in requirements:
                local = ref.rpartition("/")[2]
                if local in rows:
                    rows[local].append(f"{scenario.id}:{assessor_id}")
    return matrix


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
    assessed_units = {s.model.unit for s in definitions.scenarios.values()}
    for code, rows in report.coverage.items():
        if code not in assessed_units:
            report.unassessed_units.append(code)
            continue
        unit_file = definitions.units[code]
        for leaf, assessors in rows.items():
            if not assessors:
                report.problems.append(
                    Problem(unit_file.file, None, f"PR {leaf}", "no check or item assesses this PR")
                )
    if report.problems or not run:
        return report
    with tempfile.TemporaryDirectory(prefix="practicum-validate-") as work:
        store = SandboxStore(
            Path(work) / "sandboxes", Path(template_dir) if template_dir else Path(work) / "t"
        )
        for loaded in definitions.scenarios.values():
            report.runs += run_scenario(store, loaded, units[loaded.model.unit])
    return report


def format_coverage(report: ValidationReport, units: Mapping[str, Unit] | None = None) -> str:
    """The coverage matrix as plain text: one line per PR leaf with what assesses it."""
    lines: list[str] = []
    for code, rows in sorted(report.coverage.items()):
        title = f" {units[code].title}" if units and code in units else ""
        suffix = "  (no scenario yet)" if code in report.unassessed_units else ""
        lines.append(f"{code}{title}{suffix}")
        for leaf, assessors in rows.items():
            mark = "ok " if assessors else ("-- " if suffix else "!! ")
            lines.append(f"  {mark}{leaf:<6} {', '.join(assessors) if assessors else '-'}")
    return "\n".join(lines)
