"""Published versions of units and scenarios: what the catalogue offers and attempts pin.

Every definition is stored verbatim with its content hash. Publishing a changed file adds a new
version and makes it current; older versions stay, so an attempt keeps the exact unit and
scenario it was started (and graded) against. A centre may publish its own units and scenarios;
a centre's version of a key takes precedence over the built-in one for that centre only.
Units and scenarios stay consistent: a unit version that would orphan the PR references of the
current scenarios using it is refused, and each scenario version records the unit version it was
validated against, which its attempts bind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from graders.definitions import (
    DEFAULT_MAX_BYTES,
    DefinitionError,
    LoadedDefinition,
    Problem,
    Scenario,
    Unit,
    load_scenario_text,
    load_unit_text,
    validate_scenario_against_unit,
)
from graders.validation import static_problems
from training_platform.models import Attempt, DefinitionKind, DefinitionVersion, utcnow

ScenarioValidator = Callable[[LoadedDefinition[Scenario], Unit], list[Problem]]


@lru_cache(maxsize=256)
def _parse_cached(kind: str, content_hash: str, text: str, filename: str) -> Unit | Scenario:
    loader = load_unit_text if kind == DefinitionKind.UNIT else load_scenario_text
    return loader(text, filename, max_bytes=max(DEFAULT_MAX_BYTES, len(text.encode()) + 1)).model


def load_model(version: DefinitionVersion) -> Unit | Scenario:
    """The validated model of a stored version (parsed once per content hash)."""
    return _parse_cached(
        str(version.kind), version.content_hash, version.source_text, version.filename
    )


def load_unit_model(version: DefinitionVersion) -> Unit:
    """The Unit model of a stored unit version."""
    model = load_model(version)
    assert isinstance(model, Unit)  # noqa: S101 - the kind column guarantees it
    return model


def load_scenario_model(version: DefinitionVersion) -> Scenario:
    """The Scenario model of a stored scenario version."""
    model = load_model(version)
    assert isinstance(model, Scenario)  # noqa: S101 - the kind column guarantees it
    return model


def scenario_of(attempt: Attempt) -> Scenario:
    """The exact scenario version an attempt was started on."""
    return load_scenario_model(attempt.scenario_version)


def unit_of(attempt: Attempt) -> Unit:
    """The exact unit version an attempt is graded against."""
    return load_unit_model(attempt.unit_version)


def get_version(session: Session, version_id: int) -> DefinitionVersion | None:
    """A stored version by id."""
    return session.get(DefinitionVersion, version_id)


def _current_rows(
    session: Session, kind: DefinitionKind, centre_id: int | None
) -> list[DefinitionVersion]:
    visible = DefinitionVersion.centre_id.is_(None)
    if centre_id is not None:
        visible = or_(visible, DefinitionVersion.centre_id == centre_id)
    return list(
        session.scalars(
            select(DefinitionVersion)
            .where(DefinitionVersion.kind == kind, DefinitionVersion.is_current.is_(True), visible)
            .order_by(DefinitionVersion.key)
        )
    )


def current_versions(
    session: Session, kind: DefinitionKind, centre_id: int | None
) -> list[DefinitionVersion]:
    """Current versions visible to a centre; its own version of a key hides the built-in one."""
    chosen: dict[str, DefinitionVersion] = {}
    for row in _current_rows(session, kind, centre_id):
        if row.key not in chosen or row.centre_id is not None:
            chosen[row.key] = row
    return [chosen[key] for key in sorted(chosen)]


def current_units(session: Session, centre_id: int | None) -> list[DefinitionVersion]:
    """Units in a centre's catalogue, by code."""
    return current_versions(session, DefinitionKind.UNIT, centre_id)


def current_scenarios(session: Session, centre_id: int | None) -> list[DefinitionVersion]:
    """Scenarios in a centre's catalogue, by id."""
    return current_versions(session, DefinitionKind.SCENARIO, centre_id)


def current_version(
    session: Session, kind: DefinitionKind, key: str, centre_id: int | None
) -> DefinitionVersion | None:
    """The current version of one unit or scenario as a centre sees it."""
    for row in current_versions(session, kind, centre_id):
        if row.key == key:
            return row
    return None


def unit_version_for(session: Session, scenario_version: DefinitionVersion) -> DefinitionVersion:
    """The current version of the unit a scenario version assesses, as its centre sees it."""
    unit = current_version(
        session, DefinitionKind.UNIT, scenario_version.unit_code, scenario_version.centre_id
    )
    if unit is None:
        raise LookupError(f"unit {scenario_version.unit_code} is not published")
    return unit


def bound_unit_version(session: Session, scenario_version: DefinitionVersion) -> DefinitionVersion:
    """The unit version an attempt at this scenario version binds.

    That is the unit version the scenario version was validated against; versions published
    before that was recorded bind the unit's current version.
    """
    if scenario_version.validated_unit is not None:
        return scenario_version.validated_unit
    return unit_version_for(session, scenario_version)


def history(
    session: Session, kind: DefinitionKind, key: str, centre_id: int | None
) -> list[DefinitionVersion]:
    """Every version of a key published by a centre (or built in), newest first."""
    owner = (
        DefinitionVersion.centre_id.is_(None)
        if centre_id is None
        else DefinitionVersion.centre_id == centre_id
    )
    return list(
        session.scalars(
            select(DefinitionVersion)
            .where(DefinitionVersion.kind == kind, DefinitionVersion.key == key, owner)
            .order_by(DefinitionVersion.version.desc())
        )
    )


@dataclass
class PublishResult:
    """What publishing a file did: the new (or unchanged current) version, or the problems."""

    version: DefinitionVersion | None = None
    problems: list[Problem] = field(default_factory=list)
    unchanged: bool = False

    @property
    def ok(self) -> bool:
        """True when the file was valid (published, or identical to the current version)."""
        return not self.problems


def parse(kind: DefinitionKind, text: str | bytes, filename: str) -> LoadedDefinition:
    """Load and validate a definition's text; raises DefinitionError with file/line problems."""
    loader = load_unit_text if kind == DefinitionKind.UNIT else load_scenario_text
    return loader(text, filename)


def publish(
    session: Session,
    *,
    kind: DefinitionKind,
    text: str | bytes,
    filename: str,
    centre_id: int | None,
    user_id: int | None,
    validate_scenario: ScenarioValidator | None = None,
    superseded: Collection[str] = (),
) -> PublishResult:
    """Validate a unit or scenario file and store it as the next current version.

    A scenario gets every static check at once (its unit, PR ids, check types and parameters,
    deliverables, plants, steps); ``validate_scenario`` (the scripted runs, say) runs only on a
    scenario without static problems, and the version records the unit version it was validated
    against, which its attempts bind. A unit is refused when the current scenarios that use it
    name PRs it no longer has (except the scenarios in ``superseded``, whose new versions are
    published in the same change and validated then); those that still fit are recorded as
    validated against it. Nothing changes when the file has problems. Publishing never alters an
    existing version's content, so attempts keep the versions they were started and graded
    against.
    """
    try:
        loaded = parse(kind, text, filename)
    except DefinitionError as exc:
        return PublishResult(problems=exc.problems)
    model = loaded.model
    key = model.code if isinstance(model, Unit) else model.id
    unit_code = model.code if isinstance(model, Unit) else model.unit
    unit_row: DefinitionVersion | None = None
    dependants: list[DefinitionVersion] = []
    if isinstance(model, Scenario):
        unit_row = current_version(session, DefinitionKind.UNIT, model.unit, centre_id)
        if unit_row is None:
            return PublishResult(
                problems=[loaded.problem(("unit",), f"unit {model.unit} is not published")]
            )
        unit = load_unit_model(unit_row)
        problems = static_problems(loaded, unit)
        if not problems and validate_scenario is not None:
            problems = validate_scenario(loaded, unit)
        if problems:
            return PublishResult(problems=problems)
    else:
        dependants = [
            row
            for row in scenarios_using_unit(session, model.code, centre_id)
            if row.key not in superseded
        ]
        problems = orphaned_references(loaded, dependants)
        if problems:
            return PublishResult(problems=problems)

    previous = history(session, kind, key, centre_id)
    current = next((row for row in previous if row.is_current), None)
    if current is not None and current.content_hash == loaded.content_hash:
        if unit_row is not None:
            current.validated_unit = unit_row  # validated again, against this unit version
            session.flush()
        return PublishResult(version=current, unchanged=True)
    for row in previous:
        row.is_current = False
    next_number = (
        session.scalar(
            select(func.max(DefinitionVersion.version)).where(
                DefinitionVersion.kind == kind,
                DefinitionVersion.key == key,
                DefinitionVersion.centre_id.is_(None)
                if centre_id is None
                else DefinitionVersion.centre_id == centre_id,
            )
        )
        or 0
    ) + 1
    version = DefinitionVersion(
        centre_id=centre_id,
        kind=kind,
        key=key,
        version=next_number,
        content_hash=loaded.content_hash,
        filename=filename,
        source_text=loaded.source_text,
        title=model.title,
        unit_code=unit_code,
        published_at=utcnow(),
        published_by_id=user_id,
        is_current=True,
        validated_unit=unit_row,
    )
    session.add(version)
    for scenario_row in dependants:
        scenario_row.validated_unit = version  # their PR references were checked against it
    session.flush()
    return PublishResult(version=version)


def scenarios_using_unit(
    session: Session, unit_code: str, centre_id: int | None
) -> list[DefinitionVersion]:
    """Current scenario versions whose unit a new version of this unit (for this owner) becomes.

    A centre's own unit serves that centre's scenarios; a built-in unit serves the built-in
    scenarios and those of centres that have no version of the unit of their own.
    """
    rows = session.scalars(
        select(DefinitionVersion)
        .where(
            DefinitionVersion.kind == DefinitionKind.SCENARIO,
            DefinitionVersion.unit_code == unit_code,
            DefinitionVersion.is_current.is_(True),
        )
        .order_by(DefinitionVersion.key, DefinitionVersion.id)
    )
    using: list[DefinitionVersion] = []
    for row in rows:
        if centre_id is not None:
            if row.centre_id == centre_id:
                using.append(row)
        elif row.centre_id is None or not _has_own_unit(session, unit_code, row.centre_id):
            using.append(row)
    return using


def _has_own_unit(session: Session, unit_code: str, centre_id: int) -> bool:
    unit = current_version(session, DefinitionKind.UNIT, unit_code, centre_id)
    return unit is not None and unit.centre_id == centre_id


def orphaned_references(
    unit: LoadedDefinition[Unit], scenarios: Sequence[DefinitionVersion]
) -> list[Problem]:
    """One problem per PR reference of these scenarios that this unit version does not have."""
    problems: list[Problem] = []
    for row in scenarios:
        loaded = parse(DefinitionKind.SCENARIO, row.source_text, row.filename)
        for problem in validate_scenario_against_unit(loaded, unit.model):
            problems.append(
                unit.problem(
                    ("performance_requirements",),
                    f"scenario {row.key} (version {row.version}) would lose a PR it assesses: "
                    f"{problem.path}: {problem.message}; publish a scenario version without "
                    "it first, or keep the PR",
                )
            )
    return problems


def _files(root: Path) -> Sequence[tuple[DefinitionKind, Path]]:
    units = sorted((root / "units").glob("*.yaml"))
    scenarios = sorted((root / "scenarios").glob("*/*.yaml"))
    return [(DefinitionKind.UNIT, p) for p in units] + [
        (DefinitionKind.SCENARIO, p) for p in scenarios
    ]


def _scenario_keys(files: Sequence[tuple[DefinitionKind, Path]]) -> set[str]:
    """The ids of the valid scenario files among these."""
    keys: set[str] = set()
    for kind, path in files:
        if kind == DefinitionKind.SCENARIO:
            try:
                keys.add(parse(kind, path.read_bytes(), path.name).model.id)
            except DefinitionError:
                continue  # reported when the file itself is published
    return keys


def sync_builtin(session: Session, root: str | Path) -> list[str]:
    """Publish the repository's own units and scenarios as built-in versions where they changed.

    Returns one line per new version. Raises DefinitionError if any built-in file is invalid.
    """
    root = Path(root)
    published: list[str] = []
    problems: list[Problem] = []
    files = _files(root)
    # Scenarios published in this same sync are checked against the new units on their own.
    superseded = _scenario_keys(files)
    for kind, path in files:
        result = publish(
            session,
            kind=kind,
            text=path.read_bytes(),
            filename=str(path.relative_to(root)),
            centre_id=None,
            user_id=None,
            superseded=superseded,
        )
        problems += result.problems
        if result.version is not None and not result.unchanged:
            published.append(f"{kind} {result.version.key} v{result.version.version}")
    if problems:
        raise DefinitionError(problems)
    return published
