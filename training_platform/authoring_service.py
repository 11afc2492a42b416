"""Centre admins' definitions: upload units and scenarios, read their history and coverage.

Uploads are validated in full before anything is stored: the schema and references, then for a
scenario every check type and parameter, and a run of its reference solution and
counterexamples on fresh sandboxes. A file with any problem changes nothing. A centre's upload
is stored under that centre only, so it never affects another centre or the built-in
definitions, and a new version never alters the versions that attempts were graded on.
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from yaml.nodes import MappingNode, ScalarNode

from graders.definitions import (
    DEFAULT_MAX_BYTES,
    LoadedDefinition,
    Problem,
    Scenario,
    Unit,
)
from graders.validation import (
    Readiness,
    coverage_gaps,
    coverage_matrix,
    run_scenario,
    unit_readiness,
)
from sandbox_crm.i18n import N_
from sandbox_crm.store import SandboxStore
from training_platform import definitions_store
from training_platform.definitions_store import PublishResult, ScenarioValidator
from training_platform.errors import NOT_ALLOWED, TOO_LARGE, ServiceError
from training_platform.models import DefinitionKind, DefinitionVersion, Role, User

__all__ = [
    "ALLOWED_SUFFIXES",
    "MAX_UPLOAD_BYTES",
    "CatalogueRow",
    "CoverageRow",
    "DefinitionHistory",
    "UnitCoverage",
    "UploadOutcome",
    "VersionEntry",
    "catalogue",
    "coverage",
    "definition_history",
    "detect_kind",
    "scenario_validator",
    "is_preparing",
    "mark_ready",
    "refuse_version",
    "upload_definition",
    "variant_problems",
    "version_history",
]

MAX_UPLOAD_BYTES = DEFAULT_MAX_BYTES
ALLOWED_SUFFIXES = (".yaml", ".yml")
UNIT_KEYS = frozenset({"performance_requirements"})
SCENARIO_KEYS = frozenset({"checks", "items"})


# --- uploading ---------------------------------------------------------------------------------


def detect_kind(data: bytes | str) -> DefinitionKind | None:
    """Unit if the document has performance_requirements, scenario if checks or items; else None.

    Only the top level of the YAML node tree is looked at (aliases are not expanded); a file
    that is not valid YAML gives None and the loader reports its syntax error with the line.
    """
    try:
        root = yaml.compose(data, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):  # the loader then says what is wrong, with the line
        return None
    if not isinstance(root, MappingNode):
        return None
    keys = {k.value for k, _ in root.value if isinstance(k, ScalarNode)}
    if keys & UNIT_KEYS and not keys & SCENARIO_KEYS:
        return DefinitionKind.UNIT
    if keys & SCENARIO_KEYS and not keys & UNIT_KEYS:
        return DefinitionKind.SCENARIO
    return None


def _clean_filename(filename: str | None) -> str:
    """The uploaded file's base name (no folders), which must end in .yaml or .yml."""
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    if not name:
        raise ServiceError.invalid(N_("Choose a YAML file to upload."), field="file")
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise ServiceError.invalid(
            "Upload a YAML file: its name must end in .yaml or .yml.", field="file"
        )
    if any(ord(char) < 32 for char in name) or len(name) > 200:
        raise ServiceError.invalid(
            "Rename the file: its name is too long or has control characters.", field="file"
        )
    return name


def _run_problems(
    loaded: LoadedDefinition[Scenario],
    unit: Unit,
    template_dir: Path,
    variants: Sequence[int] | None = None,
) -> list[Problem]:
    """Run the reference solution, alternatives and counterexamples (in every variant, or in
    ``variants``); each failing run becomes a problem."""
    scenario = loaded.model
    paths: dict[str, tuple[str | int, ...]] = {"reference solution": ("reference_solution",)}
    for index, counterexample in enumerate(scenario.counterexamples):
        paths[f"counterexample: {counterexample.name}"] = ("counterexamples", index)
    for index, alternative in enumerate(scenario.alternatives):
        paths[f"alternative: {alternative.name}"] = ("alternatives", index)
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="practicum-upload-") as work:
        # Fresh sandboxes of its own; templates come from the app's cache (generating is slow).
        store = SandboxStore(Path(work) / "sandboxes", template_dir)
        try:
            reports = run_scenario(store, loaded, unit, variants)
        finally:
            store.dispose()
    for report in reports:
        if report.ok:
            continue
        path = paths.get(report.name, ())
        detail = "; ".join(report.messages) or "it did not behave as the scenario says"
        if path == ("reference_solution",):
            message = f"the reference solution does not pass: {detail}"
        elif path[:1] == ("alternatives",):
            message = f"{report.name} is not judged competent: {detail}"
        else:
            message = f"{report.name} does not fail as it says: {detail}"
        problems.append(loaded.problem(path, message))
    return problems


@dataclass(frozen=True)
class UploadLimits:
    """How large an uploaded scenario's sandbox may be (None: no limit beyond the schema's)."""

    max_customers: int | None = None
    max_plant_count: int | None = None


def _limit_problems(loaded: LoadedDefinition[Scenario], limits: UploadLimits) -> list[Problem]:
    """The scenario's sandbox size and plant counts over the centre's limits, at their lines."""
    crm = loaded.model.crm
    problems: list[Problem] = []
    if crm is None:
        return problems
    if limits.max_customers is not None and crm.customers > limits.max_customers:
        problems.append(
            loaded.problem(
                ("crm", "customers"),
                f"{crm.customers:,} customers is more than this site's limit of "
                f"{limits.max_customers:,} for uploaded scenarios",
            )
        )
    for index, plant in enumerate(crm.plant):
        if limits.max_plant_count is not None and plant.count > limits.max_plant_count:
            problems.append(
                loaded.problem(
                    ("crm", "plant", index, "count"),
                    f"a count of {plant.count:,} is more than this site's limit of "
                    f"{limits.max_plant_count:,} per plant",
                )
            )
    return problems


def scenario_validator(
    template_dir: str | Path, limits: UploadLimits | None = None, *, scripted: bool = True
) -> ScenarioValidator:
    """The checks for publishing after ``publish`` has found no static problem: the size limits
    first (nothing is generated for a scenario over them), then the scripted runs, unless
    ``scripted`` is False (an upload leaves them to the jobs that prepare the version)."""

    def validate(loaded: LoadedDefinition[Scenario], unit: Unit) -> list[Problem]:
        if limits is not None:
            too_large = _limit_problems(loaded, limits)
            if too_large:
                return too_large
        if not scripted:
            return []
        return _run_problems(loaded, unit, Path(template_dir))

    return validate


# --- preparing a published scenario version ----------------------------------------------------

PREPARING = "preparing"
REFUSED = "refused"


def is_preparing(version: DefinitionVersion) -> bool:
    """Whether jobs are still generating the version's templates and running its self-tests."""
    return version.preparation == PREPARING


def variant_problems(
    version: DefinitionVersion, variant: int, template_dir: str | Path
) -> list[str]:
    """The reference solution, alternatives and counterexamples run in one data variant of a
    scenario version; one line per run that did not behave (nothing stored)."""
    loaded = definitions_store.parse(DefinitionKind.SCENARIO, version.source_text, version.filename)
    unit_row = version.validated_unit
    if unit_row is None:
        return [f"unit {version.unit_code} is not published"]
    unit = definitions_store.load_unit_model(unit_row)
    return [str(p) for p in _run_problems(loaded, unit, Path(template_dir), [variant])]


def refuse_version(session: Session, version: DefinitionVersion, problems: Sequence[str]) -> None:
    """Withdraw a version whose self-tests failed: it is no longer current, the problems are
    kept on it for the admin, and the version before it (if any) is current again."""
    if version.preparation == REFUSED:
        return
    version.preparation = REFUSED
    version.preparation_problems = "\n".join(problems)
    was_current = version.is_current
    version.is_current = False
    if was_current:
        earlier = session.scalar(
            select(DefinitionVersion)
            .where(
                DefinitionVersion.kind == version.kind,
                DefinitionVersion.key == version.key,
                DefinitionVersion.centre_id == version.centre_id,
                DefinitionVersion.id != version.id,
                DefinitionVersion.preparation.is_(None),
            )
            .order_by(DefinitionVersion.version.desc())
            .limit(1)
        )
        if earlier is not None:
            earlier.is_current = True
    session.flush()


def mark_ready(version: DefinitionVersion) -> None:
    """The version's templates exist and its self-tests passed: attempts may start on it."""
    if version.preparation == PREPARING:
        version.preparation = None


@dataclass(frozen=True)
class UploadOutcome:
    """What an upload did: the kind read, and the publish result (version or problems)."""

    kind: DefinitionKind
    result: PublishResult

    @property
    def ok(self) -> bool:
        """True when the file was valid (published, or identical to the current version)."""
        return self.result.ok

    @property
    def message(self) -> str:
        """One sentence for the admin: what was published, or that nothing changed."""
        version = self.result.version
        if version is None:
            count = len(self.result.problems)
            return f"Nothing was published: the file has {count} problem{'s' * (count != 1)}."
        if self.result.unchanged:
            return (
                f"Unchanged: {self.kind} {version.key} is identical to version {version.version}."
            )
        return f"Published {self.kind} {version.key} as version {version.version}."


def upload_definition(
    session: Session,
    admin: User,
    *,
    filename: str | None,
    data: bytes,
    kind: DefinitionKind | str | None,
    template_dir: str | Path,
    limits: UploadLimits | None = None,
) -> UploadOutcome:
    """Validate an uploaded unit or scenario and publish it for the admin's centre.

    ``kind`` None (or "auto") detects it from the content. Raises ServiceError for a wrong file
    name, an oversize or empty file, or an undetectable kind; problems in the content come back
    in the outcome, with nothing stored.
    """
    if admin.role != Role.CENTRE_ADMIN:
        raise ServiceError(NOT_ALLOWED, N_("Only centre admins can publish units and scenarios."))
    name = _clean_filename(filename)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ServiceError(
            TOO_LARGE,
            f"The file is {len(data) / 1024:,.0f} KiB, larger than the "
            f"{MAX_UPLOAD_BYTES // 1024} KiB limit. Nothing was published.",
            field="file",
        )
    if not data.strip():
        raise ServiceError.invalid(N_("The file is empty."), field="file")
    detected = detect_kind(data)
    if kind in (None, "", "auto"):
        # A file that is not even YAML is read as a scenario so that the loader reports where.
        chosen = detected or (DefinitionKind.SCENARIO if not _is_yaml_mapping(data) else None)
        if chosen is None:
            raise ServiceError.invalid(
                "Could not tell whether this is a unit or a scenario (a unit has "
                "performance_requirements, a scenario has checks or items). Choose the kind.",
                field="kind",
            )
    else:
        chosen = DefinitionKind(kind)
        if detected is not None and detected != chosen:
            raise ServiceError.invalid(
                f"You chose {chosen}, but this file looks like a {detected}. Choose the kind "
                "again or check the file.",
                field="kind",
            )
    result = definitions_store.publish(
        session,
        kind=chosen,
        text=data,
        filename=name,
        centre_id=admin.centre_id,
        user_id=admin.id,
        validate_scenario=scenario_validator(template_dir, limits, scripted=False),
    )
    if chosen == DefinitionKind.SCENARIO and result.version is not None and not result.unchanged:
        # Generating its data and running its self-tests is slow: jobs do it, then it is ready.
        result.version.preparation = PREPARING
        session.flush()
    return UploadOutcome(chosen, result)


def _is_yaml_mapping(data: bytes) -> bool:
    try:
        return isinstance(yaml.compose(data, Loader=yaml.SafeLoader), MappingNode)
    except (yaml.YAMLError, RecursionError):
        return False


# --- the catalogue of definitions --------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueRow:
    """One unit or scenario as a centre sees it: its current version and how many there are."""

    version: DefinitionVersion
    versions: int
    hides_builtin: bool

    @property
    def origin(self) -> str:
        """Where it comes from: "centre" (its own) or "builtin" (shipped with Practicum)."""
        return "builtin" if self.version.centre_id is None else "centre"


def catalogue(session: Session, centre_id: int) -> dict[DefinitionKind, list[CatalogueRow]]:
    """Units and scenarios visible to a centre (built-in and its own), current versions."""
    counts: dict[tuple[int | None, str, str], int] = {
        (owner, str(kind), key): number
        for owner, kind, key, number in session.execute(
            select(
                DefinitionVersion.centre_id,
                DefinitionVersion.kind,
                DefinitionVersion.key,
                func.count(DefinitionVersion.id),
            )
            .where(
                (DefinitionVersion.centre_id.is_(None)) | (DefinitionVersion.centre_id == centre_id)
            )
            .group_by(DefinitionVersion.centre_id, DefinitionVersion.kind, DefinitionVersion.key)
        )
    }
    rows: dict[DefinitionKind, list[CatalogueRow]] = {}
    for kind in DefinitionKind:
        rows[kind] = [
            CatalogueRow(
                version=row,
                versions=counts.get((row.centre_id, str(kind), row.key), 1),
                hides_builtin=row.centre_id is not None and (None, str(kind), row.key) in counts,
            )
            for row in definitions_store.current_versions(session, kind, centre_id)
        ]
    return rows


@dataclass(frozen=True)
class VersionEntry:
    """One stored version with its differences from the version before it."""

    version: DefinitionVersion
    diff: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DefinitionHistory:
    """The versions of one key from one origin, and whether the other origin has versions too."""

    origin: str
    entries: list[VersionEntry]
    other: str | None


def definition_history(
    session: Session, kind: DefinitionKind, key: str, centre_id: int, origin: str | None = None
) -> DefinitionHistory | None:
    """A key's versions as a centre sees them: its own ("centre") or the built-in ones.

    Without an origin, the one the centre's catalogue uses. None when there are no versions.
    """
    if origin not in ("centre", "builtin"):
        current = definitions_store.current_version(session, kind, key, centre_id)
        origin = "builtin" if current is None or current.centre_id is None else "centre"
    owners = {"builtin": None, "centre": centre_id}
    entries = version_history(session, kind, key, owners[origin])
    if not entries:
        return None
    other = "centre" if origin == "builtin" else "builtin"
    has_other = bool(definitions_store.history(session, kind, key, owners[other]))
    return DefinitionHistory(origin, entries, other if has_other else None)


def version_history(
    session: Session, kind: DefinitionKind, key: str, centre_id: int | None
) -> list[VersionEntry]:
    """Every version of a key owned by a centre (None: built in), newest first, with diffs."""
    rows = definitions_store.history(session, kind, key, centre_id)
    entries: list[VersionEntry] = []
    for index, row in enumerate(rows):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        diff: Sequence[str] = ()
        if previous is not None:
            diff = tuple(
                line.rstrip("\n")
                for line in difflib.unified_diff(
                    previous.source_text.splitlines(keepends=True),
                    row.source_text.splitlines(keepends=True),
                    fromfile=f"version {previous.version} ({previous.filename})",
                    tofile=f"version {row.version} ({row.filename})",
                )
            )
        entries.append(VersionEntry(row, tuple(diff)))
    return entries


# --- coverage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    """One PR leaf, or one point listed under it, and what assesses it ("scenario-id:check-id").

    A leaf with points is covered only when each of its points is."""

    pr_id: str
    group: str
    text: str
    assessors: tuple[str, ...]
    is_point: bool = False
    covered: bool = False


@dataclass(frozen=True)
class UnitCoverage:
    """The coverage of one unit: every PR leaf and point, and whether it is ready for
    assessment (an assessment-mode scenario and nothing unassessed)."""

    version: DefinitionVersion
    title: str
    scenarios: tuple[str, ...]
    rows: tuple[CoverageRow, ...]
    readiness: Readiness = Readiness.NO_SCENARIO

    @property
    def has_scenarios(self) -> bool:
        """Whether any scenario visible to the centre assesses this unit."""
        return bool(self.scenarios)

    @property
    def gaps(self) -> int:
        """How many PR leaves and points nothing assesses."""
        return sum(1 for row in self.rows if not row.assessors)


def coverage(session: Session, centre_id: int) -> list[UnitCoverage]:
    """The coverage matrix of the units a centre sees, against the scenarios it sees."""
    unit_rows = definitions_store.current_units(session, centre_id)
    units = {row.key: definitions_store.load_unit_model(row) for row in unit_rows}
    scenarios = [
        definitions_store.load_scenario_model(row)
        for row in definitions_store.current_scenarios(session, centre_id)
    ]
    matrix = coverage_matrix(units, scenarios)
    result: list[UnitCoverage] = []
    for row in unit_rows:
        unit = units[row.key]
        found = matrix.get(row.key, {})
        rows: list[CoverageRow] = []
        for group in unit.performance_requirements:
            for leaf in group.items:
                points = leaf.point_ids()
                uncovered = coverage_gaps({rid: found.get(rid, []) for rid in (leaf.id, *points)})
                rows.append(
                    CoverageRow(
                        pr_id=leaf.id,
                        group=group.title,
                        text=leaf.text,
                        assessors=tuple(found.get(leaf.id, ())),
                        covered=not uncovered,
                    )
                )
                rows += [
                    CoverageRow(
                        pr_id=point_id,
                        group=group.title,
                        text=unit.point_text(point_id) or point_id,
                        assessors=tuple(found.get(point_id, ())),
                        is_point=True,
                        covered=bool(found.get(point_id)),
                    )
                    for point_id in points
                ]
        of_unit = [s for s in scenarios if s.unit == row.key]
        result.append(
            UnitCoverage(
                version=row,
                title=unit.title,
                scenarios=tuple(s.id for s in of_unit),
                rows=tuple(rows),
                readiness=unit_readiness(found, of_unit),
            )
        )
    return result
