"""`practicum validate`, `schema`, `attempt` and `sync-definitions`: working with unit and
scenario files from the command line."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
from graders.runner import StepError, run_scripted_attempt
from graders.validation import format_coverage, validate_folder
from sandbox_crm.store import SandboxStore
from training_platform.db import get_session
from training_platform.definitions_store import sync_builtin

_STEPS = TypeAdapter(list[Step])


def _root() -> Path:
    return Path(current_app.config["DEFINITIONS_ROOT"])


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(2)


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


def read_steps_file(path: Path) -> tuple[list[Step], dict[str, Any], dict[str, int]]:
    """Read a steps file: a list of steps, or {steps, answers, deliverables}."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path} is not valid YAML: {exc}") from exc
    answers: dict[str, Any] = {}
    deliverables: dict[str, int] = {}
    if isinstance(data, dict):
        unknown = set(data) - {"steps", "answers", "deliverables"}
        if unknown:
            raise click.BadParameter(
                f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                "expected steps, answers, deliverables"
            )
        answers = data.get("answers") or {}
        deliverables = data.get("deliverables") or {}
        data = data.get("steps") or []
    try:
        steps = _STEPS.validate_python(data)
    except ValidationError as exc:
        lines = [f"{path}: {format_path(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise click.BadParameter("\n".join(lines)) from exc
    return steps, answers, deliverables


def register(app: Flask) -> None:
    """Add the definition commands to the app's CLI."""

    @app.cli.command("validate")
    @click.option("--no-run", is_flag=True, help="Skip running reference solutions.")
    def validate_command(no_run: bool) -> None:
        """Validate every unit and scenario, run reference solutions and counterexamples,
        and print the PR coverage matrix. Exits non-zero on any problem."""
        started = time.perf_counter()
        report = validate_folder(
            _root(), template_dir=current_app.config["TEMPLATE_CACHE_DIR"], run=not no_run
        )
        try:
            units = {c: d.model for c, d in load_definitions(_root()).units.items()}
        except DefinitionError:
            units = {}
        if report.coverage:
            click.echo("PR coverage (ok: assessed, !!: not assessed, --: unit has no scenario)")
            click.echo(format_coverage(report, units))
            click.echo("")
        for run in report.runs:
            mark = "PASS" if run.ok else "FAIL"
            click.echo(f"{mark}  {run.scenario_id}  {run.name}")
            for message in run.messages:
                click.echo(f"        {message}")
        for problem in report.problems:
            click.echo(f"ERROR {problem}", err=True)
        if report.unassessed_units:
            click.echo(
                "Note: no scenario assesses unit(s) " + ", ".join(report.unassessed_units) + " yet."
            )
        elapsed = time.perf_counter() - started
        if report.ok:
            click.echo(f"OK: definitions valid, all runs as expected ({elapsed:.1f} s).")
        else:
            failed = sum(not r.ok for r in report.runs)
            click.echo(
                f"FAILED: {len(report.problems)} problem(s), {failed} run(s) not as expected.",
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
        help="YAML file: a list of operations, or {steps, answers, deliverables}.",
    )
    @click.option("--variant", default=0, show_default=True, help="Which data variant to use.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def attempt_command(scenario: str, steps_file: Path, variant: int, as_json: bool) -> None:
        """Run operations on a fresh sandbox as a trainee would, grade it, print the result."""
        load_builtin()
        loaded, unit = _load_scenario_and_unit(scenario)
        steps, answers, deliverables = read_steps_file(steps_file)
        with tempfile.TemporaryDirectory(prefix="practicum-attempt-") as work:
            store = SandboxStore(Path(work), Path(current_app.config["TEMPLATE_CACHE_DIR"]))
            try:
                run = run_scripted_attempt(
                    store,
                    "scripted",
                    scenario=loaded.model,
                    unit=unit.model,
                    steps=steps,
                    answers=answers,
                    variant=variant,
                    deliverables=deliverables,
                )
            except StepError as exc:
                _fail(f"{steps_file}: {exc}")
        result = run.result.to_dict()
        if as_json:
            payload = {"variant": variant, "deliverables": run.deliverables, **result}
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
