"""`practicum validate`, `schema`, `attempt` and `sync-definitions`: working with unit and
scenario files from the command line."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml
from flask import Flask, current_app
from pydantic import TypeAdapter, ValidationError

from graders.definitions import (
    DefinitionError,
    LoadedDefinition,
    Scenario,
    Step,
    Unit,
    format_path,
    load_definitions,
    load_scenario,
    write_json_schemas,
)
from graders.registry import load_builtin
from graders.runner import ScriptError, run_scripted_attempt
from graders.validation import format_coverage, format_discrimination, validate_folder
from sandbox_crm.operations import describe_operations
from sandbox_crm.store import SandboxStore
from training_platform import sandboxes
from training_platform.db import get_session
from training_platform.definitions_store import sync_builtin
from training_platform.errors import INVALID, ServiceError, exit_with

_STEPS = TypeAdapter(list[Step])


def _root() -> Path:
    return Path(current_app.config["DEFINITIONS_ROOT"])


def _fail(message: str) -> NoReturn:
    exit_with(ServiceError(INVALID, message))


def _load_scenario_and_unit(
    scenario_ref: str,
) -> tuple[LoadedDefinition[Scenario], LoadedDefinition[Unit]]:
    """Find a scenario by id in the definitions folder, or load it from a file path."""
    root = _root()
    try:
        definitions = load_definitions(root)
    except DefinitionError as exc:
        _fail("The definitions folder has problems:\n" + str(exc))
    path = Path(scenario_ref)
    if path.suffix in (".yaml", ".yml") and path.exists():
        try:
            loaded = load_scenario(path)
        except DefinitionError as exc:
            _fail(str(exc))
    elif scenario_ref in definitions.scenarios:
        loaded = definitions.scenarios[scenario_ref]
    else:
        known = ", ".join(sorted(definitions.scenarios)) or "none"
        _fail(f'No scenario "{scenario_ref}". Known scenarios: {known}')
    unit = definitions.units.get(loaded.model.unit)
    if unit is None:
        _fail(f"Scenario {loaded.model.id} is for unit {loaded.model.unit}, which is not defined.")
    return loaded, unit


@dataclass
class StepsFile:
    """What a steps file for ``practicum attempt`` holds."""

    steps: list[Step]
    answers: dict[str, Any] = field(default_factory=dict)
    deliverables: dict[str, int | str] = field(default_factory=dict)
    """Deliverable id -> record id, or the alias a step bound with ``as:``."""
    scores: dict[str, Any] = field(default_factory=dict)
    """Written item id -> rubric criterion id -> points, as an assessor would score them."""


_STEPS_FILE_KEYS = ("steps", "answers", "deliverables", "scores")


def _mapping(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise click.BadParameter(f"{path}: {key} must be a mapping")
    return value


def read_steps_file(path: Path) -> StepsFile:
    """Read a steps file: a list of steps, or {steps, answers, deliverables, scores}."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path} is not valid YAML: {exc}") from exc
    answers: dict[str, Any] = {}
    deliverables: dict[str, Any] = {}
    scores: dict[str, Any] = {}
    if isinstance(data, dict):
        unknown = set(data) - set(_STEPS_FILE_KEYS)
        if unknown:
            raise click.BadParameter(
                f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"expected {', '.join(_STEPS_FILE_KEYS)}"
            )
        answers = _mapping(path, data, "answers")
        deliverables = _mapping(path, data, "deliverables")
        scores = _mapping(path, data, "scores")
        data = data.get("steps") or []
    try:
        steps = _STEPS.validate_python(data)
    except ValidationError as exc:
        lines = [f"{path}: {format_path(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise click.BadParameter("\n".join(lines)) from exc
    for deliverable, value in deliverables.items():
        if not isinstance(value, int | str) or isinstance(value, bool):
            raise click.BadParameter(
                f"{path}: deliverables.{deliverable}: give a record id or a step's as: alias"
            )
    return StepsFile(steps, answers, deliverables, scores)


def operations_markdown() -> str:
    """The operation vocabulary of scripted attempts as a Markdown page."""
    lines = [
        "# Operations for scripted attempts",
        "",
        "Steps in `reference_solution`, `counterexamples` and `practicum attempt --steps` files",
        "name one of these operations and give its arguments. They are the same functions the",
        "CRM's web pages call, so a scripted step is exactly what a trainee's click does, audit",
        "event included. Write `$name` for the id bound by an earlier step's `as:`, and",
        "`$plant:KIND:N` for the N-th customer of a planted situation (counting from 0).",
        "",
        "This page is generated by `practicum operations`; a test keeps it in step with the code.",
    ]
    for op in describe_operations():
        summary = f"{op['description']} Audit event: `{op['event']}`."
        lines += ["", f"## `{op['name']}`", "", summary]
        lines += ["", "| argument | type | required | description |", "|---|---|---|---|"]
        for arg in op["args"]:
            name = f"`{arg['name']}`"
            if arg["aliases"]:
                name += " (or " + ", ".join(f"`{a}`" for a in arg["aliases"]) + ")"
            if arg["required"]:
                required = "yes"
            elif arg["default"] is None:
                required = "no"
            else:
                required = f"no (default `{json.dumps(arg['default'])}`)"
            kind = str(arg["type"]).replace("|", "\\|")
            description = str(arg["description"]).replace("|", "\\|")
            lines.append(f"| {name} | {kind} | {required} | {description} |")
    return "\n".join(lines) + "\n"


def register(app: Flask) -> None:
    """Add the definition commands to the app's CLI."""

    @app.cli.command("validate")
    @click.option("--no-run", is_flag=True, help="Skip running reference solutions.")
    def validate_command(no_run: bool) -> None:
        """Validate every unit and scenario, run reference solutions, alternatives and
        counterexamples in every variant, print the discrimination report and the PR coverage
        matrix. Exits non-zero on any problem."""
        started = time.perf_counter()
        report = validate_folder(
            _root(), template_dir=current_app.config["TEMPLATE_CACHE_DIR"], run=not no_run
        )
        try:
            units = {c: d.model for c, d in load_definitions(_root()).units.items()}
        except DefinitionError:
            units = {}
        if report.coverage:
            click.echo(
                "PR and point coverage (ok: assessed, !!: not assessed, ..: not assessed in a unit"
                " in development, --: unit has no scenario)"
            )
            click.echo(format_coverage(report, units))
            click.echo("")
        for run in report.runs:
            mark = "PASS" if run.ok else "FAIL"
            variants = f"{run.variants} variant{'s' if run.variants != 1 else ''}"
            click.echo(f"{mark}  {run.scenario_id}  {run.name}  ({variants})")
            for message in run.messages:
                click.echo(f"        {message}")
            for note in run.notes:
                click.echo(f"        note: {note}")
        if report.discrimination:
            click.echo("")
            click.echo("Discrimination (each changed expectation must be caught in every variant)")
            click.echo(format_discrimination(report))
        for problem in report.problems:
            click.echo(f"ERROR {problem}", err=True)
        for note in report.notes:
            click.echo(f"note: {note}")
        if report.unassessed_units:
            click.echo(
                "Note: no scenario assesses unit(s) " + ", ".join(report.unassessed_units) + " yet."
            )
        elapsed = time.perf_counter() - started
        if report.ok:
            click.echo(f"OK: definitions valid, all runs as expected ({elapsed:.1f} s).")
        else:
            failed = sum(not r.ok for r in report.runs)
            uncaught = sum(not r.ok for r in report.discrimination)
            click.echo(
                f"FAILED: {len(report.problems)} problem(s), {failed} run(s) not as expected, "
                f"{uncaught} perturbation(s) not caught in every variant.",
                err=True,
            )
            sys.exit(1)

    @app.cli.command("schema")
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder to write into (default: schema/ in the definitions root).",
    )
    def schema_command(out: Path | None) -> None:
        """Write the JSON Schemas of unit and scenario files for editors."""
        paths = write_json_schemas(out or _root() / "schema")
        for path in paths:
            click.echo(f"wrote {path}")

    @app.cli.command("attempt")
    @click.argument("scenario")
    @click.option(
        "--steps",
        "steps_file",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="YAML file: a list of operations, or {steps, answers, deliverables, scores}.",
    )
    @click.option("--variant", default=0, show_default=True, help="Which data variant to use.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def attempt_command(scenario: str, steps_file: Path, variant: int, as_json: bool) -> None:
        """Run operations on a fresh sandbox as a trainee would, grade it, print the result."""
        load_builtin()
        loaded, unit = _load_scenario_and_unit(scenario)
        script = read_steps_file(steps_file)
        with tempfile.TemporaryDirectory(prefix="practicum-attempt-") as work:
            store = SandboxStore(Path(work), Path(current_app.config["TEMPLATE_CACHE_DIR"]))
            try:
                run = run_scripted_attempt(
                    store,
                    "scripted",
                    scenario=loaded.model,
                    unit=unit.model,
                    steps=script.steps,
                    answers=script.answers,
                    variant=variant,
                    deliverables=script.deliverables,
                    rubric_scores=script.scores or None,
                )
            except ScriptError as exc:
                _fail(f"{steps_file}: {exc}")
        result = run.result.to_dict()
        refused = [r.to_dict() for r in run.refused]
        if as_json:
            payload = {
                "variant": variant,
                "deliverables": run.deliverables,
                "refused_steps": refused,
                **result,
            }
            click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
            return
        click.echo(f"{loaded.model.id}: {result['verdict']}")
        for reason in result.get("reasons", []):
            click.echo(f"  {reason}")
        for req in result["requirements"]:
            click.echo(f"  PR {req['pr_id']}: {req['status']}")
        for rule in result["pdpo"]:
            if rule["status"] == "fail":
                click.echo(f"  PDPO {rule['rule_id']} ({rule['basis']}): finding")
        if refused:
            click.echo(f"Refused steps ({len(refused)}), audited; the attempt went on:")
        for step in refused:
            click.echo(f"  step {step['step']} ({step['op']}): {step['message']}")

    @app.cli.command("operations")
    def operations_command() -> None:
        """Print the operations scripted steps may use, as Markdown (docs/operations.md)."""
        click.echo(operations_markdown(), nl=False)

    @app.cli.command("sync-definitions")
    def sync_definitions_command() -> None:
        """Publish the repository's units and scenarios as built-in versions where changed."""
        session = get_session()
        try:
            published = sync_builtin(session, _root())
        except DefinitionError as exc:
            session.rollback()
            _fail("Built-in definitions have problems:\n" + str(exc))
        session.commit()
        for line in published:
            click.echo(f"published {line}")
        click.echo(f"{len(published)} new version(s); built-in definitions are up to date.")
        # Queue the generation of every current scenario's data variants for the worker
        # (pools already generated are skipped).
        if sandboxes.pregeneration_enabled(current_app):
            from training_platform import jobs

            queued = [j for j in jobs.pending_pregeneration(session) if j.status == "queued"]
            session.commit()
            jobs.dispatch(queued)
            if queued:
                click.echo(
                    f"Queued the generation of the data variants of {len(queued)} scenario "
                    "version(s) for the worker (`practicum worker`)."
                )
