"""The catalogue: the centre's units of competency, their PRs and the scenarios assessing them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from graders.definitions import Mode, Scenario, Unit
from graders.validation import Readiness, coverage_matrix, unit_readiness
from sandbox_crm.i18n import N_
from training_platform import definitions_store, i18n
from training_platform.attempts_service import attempts_for
from training_platform.cohorts_service import trainee_windows
from training_platform.db import get_session
from training_platform.models import DefinitionKind, DefinitionVersion, Role
from training_platform.navigation import add_nav_item
from training_platform.outcomes_service import unit_outcomes

bp = Blueprint("catalogue", __name__)
add_nav_item(bp, "catalogue.index", N_("Units"), section=N_("Training"), order=10)


@dataclass(frozen=True)
class UnitEntry:
    """One unit as the catalogue lists it."""

    version: DefinitionVersion
    unit: Unit
    scenario_count: int
    readiness: Readiness = Readiness.NO_SCENARIO


@dataclass(frozen=True)
class ScenarioEntry:
    """One scenario of a unit, with the PR ids it assesses in the unit's order."""

    version: DefinitionVersion
    scenario: Scenario
    pr_ids: tuple[str, ...]


def list_units(session: Session, centre_id: int) -> list[UnitEntry]:
    """Every unit the centre offers (built in and its own), with its number of scenarios and
    whether it is ready for assessment."""
    by_unit: dict[str, list[Scenario]] = {}
    for version in definitions_store.current_scenarios(session, centre_id):
        scenario = definitions_store.load_scenario_model(version)
        by_unit.setdefault(version.unit_code, []).append(scenario)
    entries = []
    for version in definitions_store.current_units(session, centre_id):
        unit = definitions_store.load_unit_model(version)
        scenarios = by_unit.get(version.key, [])
        entries.append(UnitEntry(version, unit, len(scenarios), readiness_of(unit, scenarios)))
    return entries


def readiness_of(unit: Unit, scenarios: list[Scenario]) -> Readiness:
    """Whether the unit is ready for assessment with these scenarios, or still in development."""
    rows = coverage_matrix({unit.code: unit}, scenarios)[unit.code]
    return unit_readiness(rows, [s for s in scenarios if s.unit == unit.code])


def scenarios_of(session: Session, centre_id: int, unit: Unit) -> list[ScenarioEntry]:
    """The centre's current scenarios for a unit, with the PRs each one assesses."""
    order = {rid: n for n, rid in enumerate(unit.requirement_ids())}
    entries = []
    for version in definitions_store.current_scenarios(session, centre_id):
        if version.unit_code != unit.code:
            continue
        scenario = definitions_store.load_scenario_model(version)
        # A point reference ("2.7.2") is listed as itself; the unit page shows its text.
        assessed = {unit.local_id(ref) for _loc, ref in scenario.requirement_refs()}
        pr_ids = tuple(sorted(assessed, key=lambda pr: order.get(pr, len(order))))
        entries.append(ScenarioEntry(version, scenario, pr_ids))
    return sorted(entries, key=lambda e: e.scenario.title)


@bp.get("/units")
@login_required
def index():
    """Every unit of the centre's catalogue."""
    units = list_units(get_session(), current_user.centre_id)
    return render_template("catalogue/index.html", units=units, language=i18n.current_language())


@bp.get("/units/<code>")
@login_required
def unit(code: str):
    """A unit's PRs, range and assessment criteria, its scenarios, and the trainee's attempts."""
    session = get_session()
    version = definitions_store.current_version(
        session, DefinitionKind.UNIT, code, current_user.centre_id
    )
    if version is None:
        abort(404)
    model = definitions_store.load_unit_model(version)
    attempts = (
        attempts_for(session, current_user, unit_code=model.code)
        if current_user.role == Role.TRAINEE
        else []
    )
    scenarios = scenarios_of(session, current_user.centre_id, model)
    readiness = readiness_of(model, [entry.scenario for entry in scenarios])
    windows = (
        {
            entry.version.key: trainee_windows(session, current_user, entry.version.key)
            for entry in scenarios
            if entry.scenario.mode == Mode.ASSESSMENT
        }
        if current_user.role == Role.TRAINEE
        else {}
    )
    return render_template(
        "catalogue/unit.html",
        language=i18n.current_language(),
        version=version,
        unit=model,
        scenarios=scenarios,
        readiness=readiness,
        windows=windows,
        attempts=attempts,
        is_trainee=current_user.role == Role.TRAINEE,
        outcome=(
            next(
                (o for o in unit_outcomes(session, current_user) if o.unit_code == model.code),
                None,
            )
            if current_user.role == Role.TRAINEE
            else None
        ),
    )
