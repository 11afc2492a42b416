"""Load unit and scenario YAML into validated models; every error names file, line and path.

YAML is read with PyYAML's SafeLoader in two stages: ``yaml.compose`` keeps the node tree with
its line marks, then the SafeLoader constructor turns it into plain Python data. Nothing in a
definition is executed. The node tree stays with the loaded definition so that later validators
(check parameters, PR references) can report the line of anything they find wrong.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from graders.definitions.models import (
    CONSISTENCY_ERROR,
    PATTERN_HINTS,
    Scenario,
    Unit,
    leaf_id_of,
)

DEFAULT_MAX_BYTES = 256 * 1024
"""Largest definition file accepted, in bytes (256 KiB)."""

MAX_NODES = 250_000
# Longer whole numbers are refused before construction: Python will not read one of more than
# 4,300 digits, and no field of a unit or scenario needs more than a few.
MAX_INT_DIGITS = 30
_INT_TAG = "tag:yaml.org,2002:int"
"""Largest number of YAML nodes after expanding anchors and aliases (guards against alias bombs)."""

PathPart = str | int
M = TypeVar("M", bound=BaseModel)

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_MERGE_TAG = "tag:yaml.org,2002:merge"


def format_path(path: Sequence[PathPart]) -> str:
    """Render a path inside a document as ``checks[2].requirements[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition file, located by file, 1-based line and path."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class DefinitionError(Exception):
    """Raised when one or more definition files are invalid; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class LoadedDefinition(Generic[M]):
    """A validated definition with its source, content hash and the YAML node tree for lines."""

    model: M
    file: str
    content_hash: str
    source_text: str
    root: Node = field(repr=False, compare=False)

    def line_of(self, path: Sequence[PathPart]) -> int:
        """Return the 1-based line of the node at path, or of its nearest existing ancestor."""
        return _line_of(self.root, path)

    def problem(self, path: Sequence[PathPart], message: str) -> Problem:
        """Build a Problem for the node at path in this file."""
        return Problem(self.file, self.line_of(path), format_path(path), message)


# --------------------------------------------------------------------------------------------
# Single files
# --------------------------------------------------------------------------------------------


def load_unit(
    path: str | Path, *, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> LoadedDefinition[Unit]:
    """Load and validate a unit file; ``name`` is the file name shown in errors."""
    file = name if name is not None else str(path)
    return _load(_read(Path(path), file, max_bytes), file, Unit, max_bytes)


def load_scenario(
    path: str | Path, *, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> LoadedDefinition[Scenario]:
    """Load and validate a scenario file; ``name`` is the file name shown in errors."""
    file = name if name is not None else str(path)
    return _load(_read(Path(path), file, max_bytes), file, Scenario, max_bytes)


def load_unit_text(
    text: str | bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> LoadedDefinition[Unit]:
    """Load and validate an uploaded unit, given its content and the name to show in errors."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return _load(raw, filename, Unit, max_bytes)


def load_scenario_text(
    text: str | bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> LoadedDefinition[Scenario]:
    """Load and validate an uploaded scenario, given its content and the name to show in errors."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return _load(raw, filename, Scenario, max_bytes)


def validate_scenario_against_unit(
    scenario: LoadedDefinition[Scenario], unit: Unit | LoadedDefinition[Unit]
) -> list[Problem]:
    """Check that the scenario is for this unit and every PR it names is a leaf of the unit or
    a point listed under one ("2.7.2", the second point of 2.7).

    The PRs named are those of its checks and items and those PDPO breaches count against.
    """
    unit_model = unit.model if isinstance(unit, LoadedDefinition) else unit
    model = scenario.model
    if model.unit != unit_model.code:
        return [
            scenario.problem(("unit",), f"scenario is for unit {model.unit}, not {unit_model.code}")
        ]
    known = set(unit_model.requirement_ids())
    problems: list[Problem] = []
    for loc, ref in (*model.requirement_refs(), *model.pdpo.requirement_refs()):
        code, sep, local = ref.rpartition("/")
        if sep and code != unit_model.code:
            message = (
                f'PR "{ref}" belongs to unit {code}; this scenario is for unit {unit_model.code}'
            )
            problems.append(scenario.problem(loc, message))
        elif local in known:
            continue
        elif local.count(".") == 2 and (leaf := unit_model.find(leaf_id_of(local))) is not None:
            listed = len(leaf.points)
            has = f"lists {listed} point{'s' if listed != 1 else ''}" if listed else "has no points"
            message = f'unknown point "{ref}": PR {leaf.id} of unit {unit_model.code} {has}'
            problems.append(scenario.problem(loc, message))
        else:
            problems.append(scenario.problem(loc, f'unknown PR "{ref}" for unit {unit_model.code}'))
    return problems


# --------------------------------------------------------------------------------------------
# Folders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Definitions:
    """Every unit (by code) and scenario (by id) of a definitions folder."""

    units: dict[str, LoadedDefinition[Unit]]
    scenarios: dict[str, LoadedDefinition[Scenario]]


def load_units(
    units_dir: str | Path,
    *,
    display_root: str | Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, LoadedDefinition[Unit]]:
    """Load every ``<code>.yaml`` in a folder, keyed by unit code; raise with all problems."""
    units, problems = _load_units(Path(units_dir), display_root, max_bytes)
    if problems:
        raise DefinitionError(problems)
    return units


def load_scenarios(
    scenarios_dir: str | Path,
    units: Mapping[str, Unit | LoadedDefinition[Unit]] | None = None,
    *,
    display_root: str | Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, LoadedDefinition[Scenario]]:
    """Load every ``<code>/*.yaml`` in a folder, keyed by scenario id; raise with all problems.

    When ``units`` is given, each scenario's unit must be among them and its PR ids must exist.
    """
    scenarios, problems = _load_scenarios(Path(scenarios_dir), units, display_root, max_bytes)
    if problems:
        raise DefinitionError(problems)
    return scenarios


def load_definitions(root: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Definitions:
    """Load ``units/`` and ``scenarios/`` under root, reporting the problems of both together."""
    root = Path(root)
    units, problems = _load_units(root / "units", root, max_bytes)
    scenarios, scenario_problems = _load_scenarios(root / "scenarios", units, root, max_bytes)
    problems += scenario_problems
    if problems:
        raise DefinitionError(problems)
    return Definitions(units, scenarios)


def _load_units(
    units_dir: Path, display_root: str | Path | None, max_bytes: int
) -> tuple[dict[str, LoadedDefinition[Unit]], list[Problem]]:
    """Load a units folder, collecting problems instead of stopping at the first."""
    root = Path(display_root) if display_root is not None else units_dir.parent
    units: dict[str, LoadedDefinition[Unit]] = {}
    problems: list[Problem] = []
    if not units_dir.is_dir():
        return units, [Problem(_display(units_dir, root), None, "", "folder not found")]
    for path, loaded in _load_files(units_dir, root, load_unit, max_bytes, problems):
        code = loaded.model.code
        if path.stem != code:
            message = f"unit {code} must be in a file named {code}.yaml"
            problems.append(loaded.problem(("code",), message))
            continue
        units[code] = loaded
    return units, problems


def _load_scenarios(
    scenarios_dir: Path,
    units: Mapping[str, Unit | LoadedDefinition[Unit]] | None,
    display_root: str | Path | None,
    max_bytes: int,
) -> tuple[dict[str, LoadedDefinition[Scenario]], list[Problem]]:
    """Load a scenarios folder, collecting problems instead of stopping at the first."""
    root = Path(display_root) if display_root is not None else scenarios_dir.parent
    scenarios: dict[str, LoadedDefinition[Scenario]] = {}
    problems: list[Problem] = []
    if not scenarios_dir.is_dir():
        return scenarios, [Problem(_display(scenarios_dir, root), None, "", "folder not found")]
    for entry in sorted(scenarios_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            if entry.suffix in (".yaml", ".yml"):
                message = "scenario files belong in a folder named after their unit code"
                problems.append(Problem(_display(entry, root), None, "", message))
            continue
        for _, loaded in _load_files(entry, root, load_scenario, max_bytes, problems):
            model = loaded.model
            if model.unit != entry.name:
                message = (
                    f"scenario for unit {model.unit} is in folder {entry.name}/; "
                    f"move it to {model.unit}/"
                )
                problems.append(loaded.problem(("unit",), message))
                continue
            if model.id in scenarios:
                message = f'duplicate scenario id "{model.id}" (also in {scenarios[model.id].file})'
                problems.append(loaded.problem(("id",), message))
                continue
            if units is not None:
                unit = units.get(model.unit)
                if unit is None:
                    problems.append(loaded.problem(("unit",), f"unknown unit {model.unit}"))
                    continue
                found = validate_scenario_against_unit(loaded, unit)
                if found:
                    problems += found
                    continue
            scenarios[model.id] = loaded
    return scenarios, problems


def _load_files(
    folder: Path,
    root: Path,
    load: Callable[..., LoadedDefinition[M]],
    max_bytes: int,
    problems: list[Problem],
) -> Iterator[tuple[Path, LoadedDefinition[M]]]:
    """Load each definition file of a folder, in name order, adding the bad ones' problems."""
    for path in sorted(folder.iterdir()):
        file = _display(path, root)
        if not _is_definition_file(path, file, problems):
            continue
        try:
            loaded = load(path, name=file, max_bytes=max_bytes)
        except DefinitionError as exc:
            problems += exc.problems
            continue
        yield path, loaded


def _is_definition_file(path: Path, file: str, problems: list[Problem]) -> bool:
    """Say whether path is a definition file; a ``.yml`` file is reported, not skipped silently."""
    if not path.is_file():
        return False
    if path.suffix == ".yml":
        problems.append(Problem(file, None, "", "definition files must end in .yaml, not .yml"))
        return False
    return path.suffix == ".yaml"


def _display(path: Path, root: Path) -> str:
    """Name a file relative to root where possible, with forward slashes."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Parsing and error translation
# --------------------------------------------------------------------------------------------


def _read(path: Path, file: str, max_bytes: int) -> bytes:
    """Read at most max_bytes + 1 bytes of a file, turning I/O errors into problems."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DefinitionError(
            [Problem(file, None, "", f"cannot read file: {exc.strerror}")]
        ) from exc
    if len(raw) > max_bytes:
        try:
            size = path.stat().st_size
        except OSError:
            size = len(raw)
        raise DefinitionError([_too_large(file, size, max_bytes)])
    return raw


def _too_large(file: str, size: int, max_bytes: int) -> Problem:
    """Describe a file over the size limit."""
    limit = f"{max_bytes // 1024} KiB" if max_bytes % 1024 == 0 else f"{max_bytes} bytes"
    return Problem(file, None, "", f"file is {size} bytes, larger than the limit of {limit}")


def _load(raw: bytes, file: str, model_type: type[M], max_bytes: int) -> LoadedDefinition[M]:
    """Parse, construct and validate one document; raise DefinitionError with every problem."""
    if len(raw) > max_bytes:
        raise DefinitionError([_too_large(file, len(raw), max_bytes)])
    text = _decode(raw, file)
    try:
        root = _compose(text, file)
        # Before construction, which folds merge keys ("<<") into their mappings.
        problems = _duplicate_keys(root, file)
        too_long = _overlong_numbers(root, file)
        if too_long:
            raise DefinitionError(too_long)
        data = _construct(root, file)
        try:
            model = model_type.model_validate(data)
        except ValidationError as exc:
            problems += _translate(exc, data, root, file)
    except RecursionError:
        raise DefinitionError(
            [Problem(file, None, "", "the document is nested too deeply")]
        ) from None
    if problems:
        raise DefinitionError(sorted(problems, key=lambda p: p.line or 0))
    return LoadedDefinition(
        model=model,
        file=file,
        content_hash=hashlib.sha256(raw).hexdigest(),
        source_text=text,
        root=root,
    )


def _decode(raw: bytes, file: str) -> str:
    """Decode UTF-8 (a leading byte-order mark is allowed)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x})"
        raise DefinitionError([Problem(file, line, "", message)]) from None


def _compose(text: str, file: str) -> Node:
    """Compose the YAML node tree of a single document, checking its shape and size."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise DefinitionError([_yaml_problem(exc, file)]) from None
    except yaml.YAMLError as exc:
        raise DefinitionError([Problem(file, None, "", f"YAML error: {exc}")]) from None
    if root is None:
        raise DefinitionError(
            [Problem(file, 1, "", "the file is empty; expected a mapping of fields")]
        )
    if not _within_node_limit(root):
        message = f"the document expands to more than {MAX_NODES} YAML nodes through its aliases"
        raise DefinitionError([Problem(file, None, "", message)])
    if not isinstance(root, MappingNode):
        found = "a list" if isinstance(root, SequenceNode) else "a single value"
        message = f"expected a mapping of fields (key: value lines) at the top level, found {found}"
        raise DefinitionError([Problem(file, root.start_mark.line + 1, "", message)])
    return root


def _construct(root: Node, file: str) -> Any:
    """Turn a composed node tree into Python data with the SafeLoader constructor."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        # For example a tag such as !!python/object, which safe loading refuses.
        raise DefinitionError([_yaml_problem(exc, file, "unsupported YAML")]) from None
    finally:
        loader.dispose()


def _overlong_numbers(root: Node, file: str) -> list[Problem]:
    """Whole numbers with more digits than any field takes, each at its line."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            digits = sum(char.isdigit() for char in node.value)
            if node.tag == _INT_TAG and digits > MAX_INT_DIGITS:
                message = f"a number of {digits} digits is too long (at most {MAX_INT_DIGITS})"
                problems.append(Problem(file, node.start_mark.line + 1, "", message))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return sorted(problems, key=lambda p: p.line or 0)


def _yaml_problem(exc: yaml.MarkedYAMLError, file: str, what: str = "YAML syntax error") -> Problem:
    """Turn a PyYAML error into a Problem at the line of its mark."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    parts = [part for part in (exc.context, exc.problem) if part]
    return Problem(file, line, "", f"{what}: " + ", ".join(parts))


def _within_node_limit(root: Node) -> bool:
    """Count nodes as the constructor would see them (aliases expanded), up to MAX_NODES."""
    count = 0
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            return False
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
    return True


def _duplicate_keys(root: Node, file: str) -> list[Problem]:
    """Report keys given twice in one mapping (PyYAML would silently keep the last)."""
    problems: list[Problem] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[Node, tuple[PathPart, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend((child, (*path, i)) for i, child in enumerate(node.value))
        elif isinstance(node, MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                    continue
                line = key.start_mark.line + 1
                marker = (key.tag, key.value)
                if marker in first_line:
                    message = (
                        f'duplicate key "{key.value}" (first given on line {first_line[marker]})'
                    )
                    problems.append(Problem(file, line, format_path((*path, key.value)), message))
                else:
                    first_line[marker] = line
                stack.append((value, (*path, key.value)))
    return problems


def _line_of(root: Node, path: Sequence[PathPart]) -> int:
    """Follow path through the node tree; return the line of the deepest node reached."""
    node = root
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, MappingNode):
            # The last occurrence of a key is the one the constructor keeps.
            for key, value in reversed(node.value):
                if isinstance(key, ScalarNode) and key.value == str(part):
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                break
        elif (
            isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _translate(exc: ValidationError, data: Any, root: Node, file: str) -> list[Problem]:
    """Turn pydantic errors into Problems with document paths and lines."""
    problems: list[Problem] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == CONSISTENCY_ERROR:
            for sub_loc, message in error["ctx"]["problems"]:
                # The last element may name a field that is absent, like a "missing" error.
                path = _document_path((*loc, *sub_loc), data, missing=True)
                problems.append(Problem(file, _line_of(root, path), format_path(path), message))
            continue
        path = _document_path(loc, data, missing=error["type"] == "missing")
        problems.append(Problem(file, _line_of(root, path), format_path(path), _message(error)))
    return problems


def _document_path(loc: Sequence[PathPart], data: Any, *, missing: bool) -> tuple[PathPart, ...]:
    """Map a pydantic error location onto the document, dropping union tags and member names.

    An element is kept when it names an existing key or index of the data at that point; the last
    element of a "missing" error is the absent field and is kept too.
    """
    path: list[PathPart] = []
    current = data
    for position, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif missing and position == len(loc) - 1 and isinstance(part, str):
            path.append(part)
    return tuple(path)


@functools.cache
def _field_names() -> tuple[str, ...]:
    """Every field name used anywhere in a unit or scenario, for spelling suggestions."""
    names: set[str] = set()
    for model in (Unit, Scenario):
        schema = model.model_json_schema()
        for definition in (schema, *schema.get("$defs", {}).values()):
            names.update(definition.get("properties", {}))
    return tuple(sorted(names))


def _message(error: Any) -> str:
    """Reword the pydantic errors a YAML author meets most often."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(error["loc"][-1]) if error["loc"] else ""
        if " " in name:
            return (
                f'unknown field "{name}": inside {{...}} a comma ends the value, '
                "so put text that contains commas or colons in quotes"
            )
        close = difflib.get_close_matches(name, _field_names(), n=1, cutoff=0.75)
        return f'unknown field "{name}"' + (f'; did you mean "{close[0]}"?' if close else "")
    if kind == "string_type" and isinstance(error.get("input"), bool):
        return "expected text, but YAML read a yes/no value; put the text in quotes"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERN_HINTS:
        return f'"{error["input"]}" is not {PATTERN_HINTS[ctx["pattern"]]}'
    # Pydantic quotes the discriminator and tag names in the context; drop the quotes.
    discriminator = str(ctx.get("discriminator", "kind")).replace("'", "")
    if kind == "union_tag_not_found":
        return f'required field "{discriminator}" is missing'
    if kind == "union_tag_invalid":
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f'unknown {discriminator} "{ctx.get("tag")}"; expected one of: {expected}'
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
