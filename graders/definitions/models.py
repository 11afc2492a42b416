"""Pydantic models for units of competency and scenarios, the two kinds of definition file.

Field docstrings become the descriptions in the exported JSON Schema, which centres load in their
editors; write them for a person authoring YAML, not for a Python reader.

Rules that span several fields (unique ids, references between parts of a scenario) are checked
by model validators. They raise one error whose context carries every problem found, each with its
own location relative to the model, so that the loader can point at the exact line of each one.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from sandbox_crm.deliverables import DELIVERABLE_KINDS

UNIT_CODE_PATTERN = r"^[0-9]{6}L[1-7]$"
GROUP_ID_PATTERN = r"^[1-9][0-9]*$"
LEAF_ID_PATTERN = r"^[1-9][0-9]*\.[1-9][0-9]*$"
PR_REF_PATTERN = r"^([0-9]{6}L[1-7]/)?[1-9][0-9]*\.[1-9][0-9]*(\.[1-9][0-9]*)?$"
SCENARIO_ID_PATTERN = r"^[0-9]{6}L[1-7](-[a-z0-9]+)+$"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
CODE_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
CHECK_NAME_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
OP_NAME_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
RULE_ID_PATTERN = r"^[A-Z]+-[0-9]{2}$"

PATTERN_HINTS: dict[str, str] = {
    UNIT_CODE_PATTERN: 'a unit code such as "105077L3" (six digits, "L", the QF level)',
    GROUP_ID_PATTERN: 'a group number such as "2"',
    LEAF_ID_PATTERN: 'a PR id such as "2.4"',
    PR_REF_PATTERN: 'a PR id such as "2.1" or "105077L3/2.1", or a point under it such as "2.1.3"',
    SCENARIO_ID_PATTERN: 'a slug such as "105077L3-vip-report" (the unit code, then lower-case '
    'words joined by "-")',
    IDENTIFIER_PATTERN: 'an id of letters, digits, "-" and "_", starting with a letter or digit, '
    "at most 64 characters",
    NAME_PATTERN: 'a name of letters, digits and "_", not starting with a digit',
    CODE_NAME_PATTERN: 'a lower-case code such as "customer_service"',
    CHECK_NAME_PATTERN: 'a check name such as "report.rows_match"',
    OP_NAME_PATTERN: 'an operation name such as "create_report"',
    RULE_ID_PATTERN: 'a PDPO rule id such as "SEC-04", as in the rulebook',
}
"""What each pattern means, for error messages a YAML author can act on."""

CONSISTENCY_ERROR = "definition_consistency"
"""Error type raised by the cross-field validators; its context holds ``problems``."""

Loc = tuple[str | int, ...]


def _no_bare_number(value: Any) -> Any:
    """Reject a YAML number where an id string is expected, with a hint to quote it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    raise PydanticCustomError(
        "id_not_quoted",
        'ids are text: write {value} in quotes, as "{value}" (unquoted, YAML reads 1.10 as 1.1)',
        {"value": value},
    )


def _raise_problems(problems: list[tuple[Loc, str]]) -> None:
    """Raise one validation error carrying every cross-field problem with its location."""
    if not problems:
        return
    summary = "; ".join(f"{_loc_text(loc)}: {message}" for loc, message in problems)
    raise PydanticCustomError(
        CONSISTENCY_ERROR, "{summary}", {"summary": summary, "problems": problems}
    )


def _loc_text(loc: Loc) -> str:
    """Render a location as ``a[2].b`` for messages raised from a model validator."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _duplicates(values: Iterable[tuple[Loc, str]], what: str) -> list[tuple[Loc, str]]:
    """Report every repeated value after its first occurrence."""
    seen: dict[str, Loc] = {}
    problems: list[tuple[Loc, str]] = []
    for loc, value in values:
        if value in seen:
            problems.append(
                (loc, f'duplicate {what} "{value}" (first used at {_loc_text(seen[value])})')
            )
        else:
            seen[value] = loc
    return problems


class _Strict(BaseModel):
    """Base for every definition model: unknown fields are errors, docstrings describe fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, populate_by_name=True)


# --------------------------------------------------------------------------------------------
# Texts in one or more languages
# --------------------------------------------------------------------------------------------

LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?$"
"""A language code such as en, zh-Hant or zh-Hant-HK."""

DEFAULT_LANGUAGES = ("en",)
"""The languages of a definition that declares none."""

_LANGUAGE = re.compile(LANGUAGE_PATTERN)
_LANGUAGE_ALIASES = {"zh-hk": "zh-hant", "zh-tw": "zh-hant", "zh-mo": "zh-hant"}


class LocalText(str):
    """A definition text in one or more languages; as a plain string it is its first language.

    A YAML author writes either a plain string (the definition's first declared language) or a
    mapping ``{en: ..., zh-Hant: ...}``. ``translations`` holds every language given, first
    language first; a plain string not yet placed in a definition is keyed by "".
    """

    translations: dict[str, str]

    def __new__(cls, translations: Mapping[str, str]) -> LocalText:
        """Build the text from its translations; the first one is its plain-string value."""
        if not translations:
            raise ValueError("a text needs at least one language")
        obj = super().__new__(cls, next(iter(translations.values())))
        obj.translations = dict(translations)
        return obj

    def __getnewargs__(self) -> tuple[dict[str, str]]:  # type: ignore[override]
        return (dict(self.translations),)

    def languages(self) -> list[str]:
        """The languages given, first language first ("" for a plain string not yet placed)."""
        return list(self.translations)

    @classmethod
    def _validate(cls, value: Any) -> LocalText:
        """Accept a non-empty string or a mapping of language code to non-empty string."""
        if isinstance(value, LocalText):
            return value
        if isinstance(value, str):
            return cls({"": _non_empty(value, "")})
        if isinstance(value, dict):
            if not value:
                raise PydanticCustomError(
                    "local_text_empty", "give the text in at least one language, e.g. {en: ...}"
                )
            texts: dict[str, str] = {}
            for language, text in value.items():
                if not isinstance(language, str) or not _LANGUAGE.match(language):
                    raise PydanticCustomError(
                        "language_code",
                        '"{language}" is not a language code such as en or zh-Hant',
                        {"language": str(language)},
                    )
                texts[language] = _non_empty(text, language)
            return cls(texts)
        if isinstance(value, bool):
            raise PydanticCustomError(
                "string_type", "expected text, but YAML read a yes/no value; put the text in quotes"
            )
        raise PydanticCustomError(
            "local_text_type",
            "expected text, or a mapping of language to text such as {en: ..., zh-Hant: ...}",
        )

    @classmethod
    def _dump(cls, value: LocalText) -> str | dict[str, str]:
        """Serialise as a plain string when there is one language, else as the mapping."""
        if len(value.translations) == 1:
            return str(value)
        return dict(value.translations)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(cls._dump),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "description": "The text in each declared language, e.g. "
                    "{en: ..., zh-Hant: ...}.",
                    "propertyNames": {"pattern": LANGUAGE_PATTERN},
                    "additionalProperties": {"type": "string", "minLength": 1},
                    "minProperties": 1,
                },
            ]
        }


def _non_empty(text: Any, language: str) -> str:
    """Strip a text; refuse anything that is not non-empty text."""
    which = f"the {language} text" if language else "the text"
    if isinstance(text, bool) or not isinstance(text, str):
        raise PydanticCustomError(
            "string_type", "{which} must be text (put it in quotes)", {"which": which}
        )
    stripped = text.strip()
    if not stripped:
        raise PydanticCustomError("string_too_short", "{which} is empty", {"which": which})
    return stripped


def _language_key(language: str) -> str:
    """Compare language codes case-insensitively, with "_" read as "-"."""
    key = language.replace("_", "-").lower()
    return _LANGUAGE_ALIASES.get(key, key)


def localised(text: str | None, language: str | None) -> str:
    """The text in this language, falling back to the definition's first declared language."""
    if text is None:
        return ""
    translations = getattr(text, "translations", None)
    if not translations or not language:
        return str(text)
    wanted = _language_key(language)
    keys = {_language_key(lang): value for lang, value in translations.items()}
    if wanted in keys:
        return keys[wanted]
    # zh-Hant-HK reads zh-Hant; zh-HK (an alias of zh-Hant) was mapped above.
    for key, value in keys.items():
        if key and wanted.startswith(f"{key}-"):
            return value
    return str(text)


LanguageCode = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]

_TextOwner = Any


def _local_texts(
    value: Any, loc: Loc = ()
) -> Iterator[tuple[_TextOwner, str | int, Loc, LocalText]]:
    """Yield (owner, key, location, text) for every LocalText inside a model, in order."""
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            child = getattr(value, name)
            key = info.alias or name
            if isinstance(child, LocalText):
                yield value, name, (*loc, key), child
            else:
                yield from _local_texts(child, (*loc, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            if isinstance(child, LocalText):
                yield value, i, (*loc, i), child
            else:
                yield from _local_texts(child, (*loc, i))


def _language_problems(model: BaseModel, languages: list[str]) -> list[tuple[Loc, str]]:
    """Check every text has every declared language and no other; put them in declared order.

    A plain string is taken as the first declared language. Texts that pass are rebuilt with
    their translations in the declared order, so that the first language is the fallback.
    """
    problems = _duplicates(
        ((("languages", i), lang) for i, lang in enumerate(languages)), "language"
    )
    declared = list(dict.fromkeys(languages))
    shown = ", ".join(declared)
    for owner, key, loc, text in list(_local_texts(model)):
        given = {
            (declared[0] if lang == "" else lang): value
            for lang, value in text.translations.items()
        }
        undeclared = [lang for lang in given if lang not in declared]
        missing = [lang for lang in declared if lang not in given]
        for lang in undeclared:
            problems.append(
                (
                    (*loc, lang),
                    f'"{lang}" is not a declared language ({shown}); '
                    "add it to languages or remove it",
                )
            )
        for lang in missing:
            problems.append((loc, f"the {lang} text is missing (declared languages: {shown})"))
        if undeclared or missing:
            continue
        rebuilt = LocalText({lang: given[lang] for lang in declared})
        if isinstance(owner, list):
            owner[key] = rebuilt
        else:
            object.__setattr__(owner, str(key), rebuilt)
    return problems


# --------------------------------------------------------------------------------------------
# Units of competency
# --------------------------------------------------------------------------------------------

UnitCode = Annotated[str, StringConstraints(pattern=UNIT_CODE_PATTERN)]
GroupId = Annotated[
    str, StringConstraints(pattern=GROUP_ID_PATTERN), BeforeValidator(_no_bare_number)
]
LeafId = Annotated[
    str, StringConstraints(pattern=LEAF_ID_PATTERN), BeforeValidator(_no_bare_number)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Industry(enum.StrEnum):
    """The industry whose Specification of Competency Standards publishes the unit."""

    RETAIL = "Retail"
    JEWELLERY = "Jewellery"


class Point(_Strict):
    """A sub-bullet of a performance requirement that has its own sub-bullets."""

    text: LocalText
    """The bullet's text as published."""
    points: list[PointEntry] = Field(min_length=1)
    """The nested bullets under this one."""


def _point_kind(value: Any) -> str:
    """Tell a plain bullet (text, in one or more languages) from a bullet with bullets of its own
    (a mapping with text and points)."""
    if isinstance(value, Point) or (isinstance(value, dict) and "points" in value):
        return "nested"
    return "text"


PointEntry = Annotated[
    Annotated[LocalText, Tag("text")] | Annotated[Point, Tag("nested")],
    Discriminator(_point_kind),
]


def point_text(entry: LocalText | Point) -> LocalText:
    """The text of a first-level point, whether or not it has bullets of its own."""
    return entry.text if isinstance(entry, Point) else entry


class PerformanceRequirement(_Strict):
    """An assessable performance requirement (a PR leaf), with a stable id such as "2.4"."""

    id: LeafId
    """Stable id "<group>.<n>", quoted; the full id is "<unit code>/<id>", e.g. "105077L3/2.4"."""
    text: LocalText
    """The statement as published in the SCS (extraction defects corrected)."""
    points: list[PointEntry] = Field(default_factory=list)
    """Sub-bullets of the statement, e.g. the items after "including:". A bullet with bullets of
    its own is written as {text, points}. Scenarios name the n-th first-level point as
    "<id>.<n>", e.g. "2.7.2"; nested bullets belong to their point."""

    def point_ids(self) -> list[str]:
        """Return the ids ("2.7.1", "2.7.2", ...) of the first-level points, in order."""
        return [f"{self.id}.{n}" for n in range(1, len(self.points) + 1)]


class RequirementGroup(_Strict):
    """A numbered group of performance requirements, e.g. "2. Compile CRM system data"."""

    id: GroupId
    """The group's number, quoted: "1", "2", ..."""
    title: LocalText
    """The group heading as published."""
    items: list[PerformanceRequirement] = Field(min_length=1)
    """The assessable statements of the group; their ids start with the group id."""


class Unit(_Strict):
    """A Unit of Competency from a Specification of Competency Standards (SCS)."""

    code: UnitCode
    """The QF unit code, e.g. 105077L3; the last digit is the QF level."""
    title: LocalText
    """The unit title as published."""
    industry: Industry
    """The industry whose SCS publishes the unit."""
    functional_area: Text
    """The functional area named in the SCS, e.g. Customer Services."""
    level: int = Field(ge=1, le=7)
    """The QF level, 1 to 7; must match the last digit of the code."""
    credit: int = Field(ge=1)
    """QF credits (one credit is 10 notional learning hours)."""
    credit_note: str | None = None
    """A qualification printed beside the credit, e.g. "for reference only"."""
    range: Text | None = None
    """The Range statement (older SCS); give either range or description."""
    description: Text | None = None
    """The Description statement (newer SCS); give either range or description."""
    performance_requirements: list[RequirementGroup] = Field(min_length=1)
    """The Competency section: numbered groups of assessable statements."""
    assessment_criteria: list[Text] = Field(min_length=1)
    """The integrated outcome requirement(s), one string per bullet."""
    remark: str = ""
    """The Remark section; empty when the SCS leaves it blank."""
    languages: list[LanguageCode] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES), min_length=1
    )
    """The languages of the unit's title, group titles and PR texts, the first being the one
    shown when the reader's language is not among them; each of those texts is a plain string
    (the first language) or a mapping {en: ..., zh-Hant: ...} giving every language."""

    @model_validator(mode="after")
    def _check_structure(self) -> Unit:
        """Check the code against the level, range/description and the PR ids."""
        problems = _language_problems(self, self.languages)
        if self.code[-1] != str(self.level):
            problems.append(
                (("level",), f"level {self.level} does not match unit code {self.code}")
            )
        if (self.range is None) == (self.description is None):
            problems.append(((), "give exactly one of range or description"))
        problems += _duplicates(
            (
                (("performance_requirements", g), group.id)
                for g, group in enumerate(self.performance_requirements)
            ),
            "group id",
        )
        leaf_locs: list[tuple[Loc, str]] = []
        for g, group in enumerate(self.performance_requirements):
            for i, leaf in enumerate(group.items):
                loc: Loc = ("performance_requirements", g, "items", i, "id")
                leaf_locs.append((loc, leaf.id))
                if leaf.id.split(".")[0] != group.id:
                    problems.append((loc, f'PR "{leaf.id}" is listed under group "{group.id}"'))
        problems += _duplicates(leaf_locs, "PR id")
        _raise_problems(problems)
        return self

    def leaves(self) -> list[PerformanceRequirement]:
        """Return every assessable PR leaf, in document order."""
        return [leaf for group in self.performance_requirements for leaf in group.items]

    def leaf_ids(self) -> list[str]:
        """Return the short ids ("2.4") of every PR leaf, in document order."""
        return [leaf.id for leaf in self.leaves()]

    def point_ids(self) -> list[str]:
        """Return the ids ("2.7.1") of every first-level point under a PR leaf, in order."""
        return [pid for leaf in self.leaves() for pid in leaf.point_ids()]

    def requirement_ids(self) -> list[str]:
        """Return every leaf id, each followed by the ids of its points, in document order."""
        return [rid for leaf in self.leaves() for rid in (leaf.id, *leaf.point_ids())]

    def point_text(self, ref: str) -> LocalText | None:
        """Return the text of the point named by ref ("2.7.2" or "105077L3/2.7.2"), or None."""
        leaf = self.find(leaf_id_of(ref))
        if leaf is None:
            return None
        number = int(ref.rpartition(".")[2])
        if ref.count(".") != 2 or number > len(leaf.points):
            return None
        return point_text(leaf.points[number - 1])

    def requirement_text(self, ref: str) -> LocalText | None:
        """Return the text of the PR leaf or point a reference names, or None if none."""
        if ref.rpartition("/")[2].count(".") == 2:
            return self.point_text(ref)
        leaf = self.find(ref)
        return leaf.text if leaf is not None else None

    def full_id(self, pr_id: str) -> str:
        """Return the full id ("105077L3/2.4") of a PR given as "2.4" or already in full."""
        return f"{self.code}/{self.local_id(pr_id)}"

    def local_id(self, pr_id: str) -> str:
        """Return the short id of a PR given as "2.4" or "105077L3/2.4"; reject another unit's."""
        code, sep, local = pr_id.rpartition("/")
        if sep and code != self.code:
            raise ValueError(f'PR "{pr_id}" belongs to unit {code}, not {self.code}')
        return local

    def find(self, pr_id: str) -> PerformanceRequirement | None:
        """Return the PR leaf with this id ("2.4" or "105077L3/2.4"), or None if there is none."""
        try:
            local = self.local_id(pr_id)
        except ValueError:
            return None
        return next((leaf for leaf in self.leaves() if leaf.id == local), None)

    def group_of(self, pr_id: str) -> RequirementGroup | None:
        """Return the group holding the PR leaf with this id, or None if there is none."""
        leaf = self.find(pr_id)
        if leaf is None:
            return None
        return next(
            g for g in self.performance_requirements if any(item is leaf for item in g.items)
        )


def leaf_id_of(ref: str) -> str:
    """The PR leaf a reference counts for: "2.7.2" and "2.7" count for "2.7" (the unit code,
    if given, is kept)."""
    code, sep, local = ref.rpartition("/")
    leaf = ".".join(local.split(".")[:2])
    return f"{code}{sep}{leaf}"


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------

Identifier = Annotated[
    str, StringConstraints(pattern=IDENTIFIER_PATTERN), BeforeValidator(_no_bare_number)
]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
CodeName = Annotated[str, StringConstraints(pattern=CODE_NAME_PATTERN)]
PrRef = Annotated[str, StringConstraints(pattern=PR_REF_PATTERN), BeforeValidator(_no_bare_number)]
Condition = dict[str, Any]


def _answer_kind(value: Any) -> str:
    """Tell a list of option ids from a single option id or a written answer."""
    return "list" if isinstance(value, list) else "text"


Answer = Annotated[
    Annotated[str, Tag("text")] | Annotated[list[str], Tag("list")], Discriminator(_answer_kind)
]

PDPO_RULE_PATTERN = re.compile(r"^pdpo:[A-Z]+-[0-9]+$")
BRIEF_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
"""A ``{{ name }}`` in a brief; the name is the group, with spaces around it."""

BRIEF_BUILTINS = frozenset({"company", "staff_name", "staff_title", "today"})
"""Placeholders every brief may use without a fact: the sandbox's company, the trainee's staff
name and title, and the sandbox date."""


class Mode(enum.StrEnum):
    """How a scenario is run."""

    PRACTICE = "practice"
    ASSESSMENT = "assessment"


class Profile(enum.StrEnum):
    """The kind of company the sandbox CRM is generated for."""

    RETAIL = "retail"
    JEWELLERY = "jewellery"


class Aggregate(enum.StrEnum):
    """How a fact reduces the matching rows to one value."""

    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"


def _registered_deliverable_kind(value: str) -> str:
    """Accept a deliverable kind only if an enabled CRM area registers it."""
    if value not in DELIVERABLE_KINDS:
        raise PydanticCustomError(
            "unknown_deliverable_kind",
            'unknown deliverable kind "{kind}"; known: {known}',
            {"kind": value, "known": ", ".join(DELIVERABLE_KINDS.names()) or "none"},
        )
    return value


class _RegisteredKindsSchema:
    """Lists the registered deliverable kinds as the JSON Schema's enum when it is generated."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        schema["enum"] = DELIVERABLE_KINDS.names()
        return schema


DeliverableKindName = Annotated[
    CodeName, AfterValidator(_registered_deliverable_kind), _RegisteredKindsSchema()
]
"""The name of a deliverable kind registered by a CRM area (sandbox_crm.deliverables)."""


class ActingAs(_Strict):
    """The staff member the trainee works as in the sandbox."""

    department: CodeName
    """Department code, e.g. customer_service or marketing."""
    title: Text
    """Job title shown in the sandbox, e.g. Customer Service Officer."""


class PlantSpec(_Strict):
    """A situation injected into the generated data for this scenario."""

    kind: CodeName
    """The kind of situation, e.g. opted_out_in_segment; the sandbox defines the kinds."""
    count: int = Field(ge=0)
    """How many instances to plant."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Further settings for this kind of situation."""


class CrmSpec(_Strict):
    """How the attempt's sandbox CRM is generated."""

    profile: Profile
    """retail or jewellery."""
    seed: int = Field(ge=0)
    """Base seed; each attempt gets a variant seed derived from it."""
    customers: int = Field(ge=10, le=200_000)
    """Number of customers to generate (10 to 200000)."""
    today: dt.date
    """The sandbox clock starts on this date (YYYY-MM-DD)."""
    company: Text | None = None
    """Company name to use instead of the generated one."""
    acting_as: ActingAs
    """The staff member the trainee works as."""
    plant: list[PlantSpec] = Field(default_factory=list)
    """Scenario-specific situations injected after generation."""
    variants: int = Field(default=8, ge=1, le=64)
    """How many data variants (the pool) this scenario's attempts are spread over (1 to 64).

    Variant n is generated with the seed ``seed * 1000 + n``; ``practicum validate`` runs the
    scenario's self-test in every variant of the pool.
    """


class Fact(_Strict):
    """A value computed from the attempt's own data, shown in the brief as {{ name }}."""

    source: Text
    """The entity to query, e.g. customers or invoices."""
    where: Condition | None = None
    """A condition in the query language: {field, op, value}, {all: [...]}, {any: [...]} or
    {not: ...}; omit it to use every row."""
    aggregate: Aggregate = Aggregate.COUNT
    """count, sum, avg, min or max."""
    field: str | None = None
    """The field to aggregate; required for every aggregate except count."""

    @model_validator(mode="after")
    def _field_for_aggregate(self) -> Fact:
        """Require a field for aggregates that need one."""
        if self.aggregate is not Aggregate.COUNT and not self.field:
            _raise_problems([(("field",), f"aggregate {self.aggregate} needs a field")])
        return self


class Deliverable(_Strict):
    """Something the trainee must leave in the CRM, referred to by checks and steps."""

    id: Identifier
    """Unique within the scenario; checks refer to it as deliverable:<id>."""
    kind: DeliverableKindName
    """A kind a CRM area registers, e.g. saved_report, export or campaign."""
    title: LocalText
    """Name shown to the trainee."""
    description: LocalText | None = None
    """What the trainee should produce (Markdown)."""


class Feedback(_Strict):
    """Trainee-safe feedback; assessors see the full evidence."""

    pass_: LocalText = Field(alias="pass")
    """Shown when the check or question passes."""
    fail: LocalText
    """Shown when it fails."""


class Check(_Strict):
    """An automatic check of the attempt's final sandbox state."""

    id: Identifier
    """Unique among the scenario's checks and items."""
    check: Annotated[str, StringConstraints(pattern=CHECK_NAME_PATTERN)]
    """The registered check type, e.g. report.rows_match."""
    requirements: list[PrRef] = Field(min_length=1)
    """The PR leaves this check evidences, as "2.1" or "105077L3/2.1", or points listed under
    a leaf, as "2.7.2" (the second point of 2.7), which count for the leaf too. Naming a leaf
    does not cover its points: name each point the check really assesses."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Parameters of the check type; each check type validates its own."""
    weight: float = Field(default=1.0, gt=0)
    """Relative weight of the check in the score."""
    feedback: Feedback
    """Trainee-safe feedback for pass and fail."""


class Option(_Strict):
    """One option of a choice question."""

    id: Identifier
    """Unique within the question, e.g. a, b, c."""
    text: LocalText
    """The option text (Markdown)."""


class _Question(_Strict):
    """Fields shared by every kind of item."""

    id: Identifier
    """Unique among the scenario's checks and items."""
    requirements: list[PrRef] = Field(min_length=1)
    """The PR leaves this item assesses, as "1.4" or "105077L3/1.4", or points listed under a
    leaf, as "1.2.3" (the third point of 1.2), which count for the leaf too."""
    prompt: LocalText
    """The question (Markdown)."""


def _option_problems(
    options: list[Option], answers: Iterable[tuple[Loc, str]]
) -> list[tuple[Loc, str]]:
    """Check option ids are unique and every answer names one of them."""
    problems = _duplicates(
        ((("options", i, "id"), o.id) for i, o in enumerate(options)), "option id"
    )
    known = {o.id for o in options}
    for loc, answer in answers:
        if answer not in known:
            problems.append(
                (loc, f'"{answer}" is not one of the options ({", ".join(sorted(known))})')
            )
    return problems


class SingleChoiceItem(_Question):
    """A question with exactly one correct option, graded automatically."""

    kind: Literal["single_choice"]
    """single_choice."""
    options: list[Option] = Field(min_length=2)
    """The options shown to the trainee."""
    answer: Identifier
    """The id of the correct option."""
    feedback: Feedback
    """Trainee-safe feedback for a right and a wrong answer."""

    @model_validator(mode="after")
    def _check_options(self) -> SingleChoiceItem:
        """Check option ids and the answer."""
        _raise_problems(_option_problems(self.options, [(("answer",), self.answer)]))
        return self


class MultipleChoiceItem(_Question):
    """A question where the trainee must pick exactly the correct set of options."""

    kind: Literal["multiple_choice"]
    """multiple_choice."""
    options: list[Option] = Field(min_length=2)
    """The options shown to the trainee."""
    answers: list[Identifier] = Field(min_length=1)
    """The ids of all correct options."""
    feedback: Feedback
    """Trainee-safe feedback for a right and a wrong answer."""

    @model_validator(mode="after")
    def _check_options(self) -> MultipleChoiceItem:
        """Check option ids and the answers."""
        answers = [(("answers", i), a) for i, a in enumerate(self.answers)]
        problems = _option_problems(self.options, answers) + _duplicates(answers, "answer")
        _raise_problems(problems)
        return self


class RubricCriterion(_Strict):
    """One criterion an assessor scores a written answer against."""

    id: Identifier
    """Unique within the item."""
    text: LocalText
    """What the answer must show."""
    points: int = Field(ge=1)
    """Points available for this criterion."""


class WrittenItem(_Question):
    """A written answer scored by an assessor against a rubric."""

    kind: Literal["written"]
    """written."""
    rubric: list[RubricCriterion] = Field(min_length=1)
    """The criteria the assessor scores."""
    guidance: LocalText | None = None
    """Notes for assessors only (e.g. a model answer); never shown to trainees."""

    @model_validator(mode="after")
    def _check_rubric(self) -> WrittenItem:
        """Check rubric ids are unique."""
        _raise_problems(
            _duplicates(
                ((("rubric", i, "id"), c.id) for i, c in enumerate(self.rubric)), "rubric id"
            )
        )
        return self


Item = Annotated[SingleChoiceItem | MultipleChoiceItem | WrittenItem, Field(discriminator="kind")]


class Step(_Strict):
    """One operation on the sandbox, as a trainee would perform it."""

    op: Annotated[str, StringConstraints(pattern=OP_NAME_PATTERN)]
    """The operation, named as in the sandbox's operations layer."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Arguments of the operation; "$name" refers to an entity bound by an earlier step's as."""
    as_: Name | None = Field(default=None, alias="as")
    """Bind the id of the entity this step creates to a name for later steps."""
    deliverable: Identifier | None = None
    """The entity this step creates is that deliverable."""


class Counterexample(_Strict):
    """A plausible wrong attempt that must fail what it names."""

    name: Text
    """Short description of the mistake; unique within the scenario."""
    steps: list[Step] = Field(default_factory=list)
    """Operations of the wrong attempt."""
    answers: dict[str, Answer] = Field(default_factory=dict)
    """Answers to items, by item id: an option id, a list of option ids, or written text."""
    must_fail: list[str] = Field(min_length=1)
    """What must fail: a check id, a choice item id, or pdpo:<rule id> (e.g. pdpo:DM-01)."""


class Alternative(_Strict):
    """A different but competent way of doing the task, which must be judged competent."""

    name: Text
    """Short description of the way of working; unique within the scenario."""
    steps: list[Step] = Field(default_factory=list)
    """Operations of the competent attempt."""
    answers: dict[str, Answer] = Field(default_factory=dict)
    """Answers to items, by item id, merged over reference_answers (give only those that differ)."""
    deliverables: dict[Identifier, int | Name] = Field(default_factory=dict)
    """Which entity is each deliverable, by deliverable id: a name bound by a step's as, or an
    id; only needed when the steps do not say it with deliverable."""


RuleId = Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)]


class PdpoSpec(_Strict):
    """How the PDPO rulebook bears on this scenario's verdict, and its per-rule settings."""

    requirements: list[PrRef] = Field(default_factory=list)
    """The PRs a high or critical PDPO breach evidences against, as "3.2" or "105077L3/3.2":
    each is "not demonstrated" when such a rule fails. With none, a high breach still keeps
    the attempt from an automatic "competent" (an assessor decides)."""
    rules: dict[RuleId, dict[str, Any]] = Field(default_factory=dict)
    """Settings of individual rules, by rule id, e.g. SEC-04: {max_unrelated_lookups: 30};
    each rule validates its own."""

    def requirement_refs(self) -> Iterator[tuple[Loc, str]]:
        """Yield (location, PR id as written) for every PR named, relative to the scenario."""
        for j, ref in enumerate(self.requirements):
            yield ("pdpo", "requirements", j), ref


class Scenario(_Strict):
    """A task in the sandbox CRM, a set of questions, or both, assessing one unit."""

    id: Annotated[str, StringConstraints(pattern=SCENARIO_ID_PATTERN)]
    """Slug starting with the unit code, e.g. 105077L3-vip-report."""
    unit: UnitCode
    """The code of the unit this scenario assesses."""
    title: LocalText
    """Title shown in the catalogue."""
    languages: list[LanguageCode] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES), min_length=1
    )
    """The languages of the scenario's texts (title, brief, deliverables, items, options, rubric,
    guidance and feedback), e.g. [en, zh-Hant]; the first is shown when the trainee's language
    is not among them. Each such text is a plain string (the first language) or a mapping
    {en: ..., zh-Hant: ...} giving every declared language."""
    mode: Mode = Mode.PRACTICE
    """practice (hints, unlimited retries) or assessment (no hints, attempt limit)."""
    max_attempts: int | None = Field(default=None, ge=1)
    """Attempt limit; required in assessment mode and not allowed in practice mode."""
    crm: CrmSpec
    """How the attempt's sandbox CRM is generated."""
    brief: LocalText
    """The task as shown to the trainee (Markdown); {{ name }} inserts a fact, or one of
    company, staff_name, staff_title, today."""
    facts: dict[Name, Fact] = Field(default_factory=dict)
    """Values computed from the attempt's data for the brief, by name."""
    deliverables: list[Deliverable] = Field(default_factory=list)
    """What the trainee must leave in the CRM."""
    checks: list[Check] = Field(default_factory=list)
    """Automatic checks of the final sandbox state."""
    items: list[Item] = Field(default_factory=list)
    """Knowledge questions (graded automatically) and written answers (scored by assessors)."""
    reference_solution: list[Step] = Field(default_factory=list)
    """Operations a competent trainee would perform; every check must pass on them."""
    reference_answers: dict[str, Answer] = Field(default_factory=dict)
    """Model answers by item id: an option id, a list of option ids, or written text."""
    counterexamples: list[Counterexample] = Field(default_factory=list)
    """Plausible wrong attempts, each of which must fail what it names."""
    alternatives: list[Alternative] = Field(default_factory=list)
    """Different competent attempts (another order, an equivalent filter, extra harmless steps),
    each of which must be judged competent in every variant."""
    pdpo: PdpoSpec = Field(default_factory=PdpoSpec)
    """Which PRs a serious PDPO breach counts against, and settings of individual rules."""

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        """Check ids are unique and every internal reference resolves."""
        problems = _language_problems(self, self.languages)
        if not self.id.startswith(f"{self.unit}-"):
            problems.append((("id",), f'scenario id must start with its unit code, "{self.unit}-"'))
        if self.mode is Mode.ASSESSMENT and self.max_attempts is None:
            problems.append((("mode",), "assessment mode needs max_attempts (1 or more)"))
        if self.mode is Mode.PRACTICE and self.max_attempts is not None:
            problems.append((("max_attempts",), "max_attempts applies only in assessment mode"))
        if not self.checks and not self.items:
            problems.append(((), "a scenario needs at least one check or item"))
        undefined: dict[str, None] = {}
        for brief in self.brief.translations.values():
            for match in BRIEF_PLACEHOLDER.finditer(brief):
                name = match.group(1).strip()
                if name not in self.facts and name not in BRIEF_BUILTINS:
                    undefined[name] = None
        for name in undefined:
            builtins = ", ".join(sorted(BRIEF_BUILTINS))
            message = f"{{{{ {name} }}}} is not defined in facts (built in: {builtins})"
            problems.append((("brief",), message))

        problems += _duplicates(
            ((("deliverables", i, "id"), d.id) for i, d in enumerate(self.deliverables)),
            "deliverable id",
        )
        # Checks and items share one namespace: must_fail names either kind by its id alone.
        problems += _duplicates(
            itertools.chain(
                ((("checks", i, "id"), c.id) for i, c in enumerate(self.checks)),
                ((("items", i, "id"), q.id) for i, q in enumerate(self.items)),
            ),
            "check or item id",
        )
        problems += _duplicates(
            ((("counterexamples", i, "name"), c.name) for i, c in enumerate(self.counterexamples)),
            "counterexample name",
        )
        problems += _duplicates(
            ((("alternatives", i, "name"), a.name) for i, a in enumerate(self.alternatives)),
            "alternative name",
        )

        for kind, entries in (("checks", self.checks), ("items", self.items)):
            for i, entry in enumerate(entries):
                problems += _duplicates(
                    (
                        ((kind, i, "requirements", j), ref.removeprefix(f"{self.unit}/"))
                        for j, ref in enumerate(entry.requirements)
                    ),
                    "PR",
                )
        problems += _duplicates(
            ((loc, ref.removeprefix(f"{self.unit}/")) for loc, ref in self.pdpo.requirement_refs()),
            "PR",
        )

        deliverable_ids = {d.id for d in self.deliverables}
        problems += _step_problems(
            ("reference_solution",), self.reference_solution, deliverable_ids
        )
        if self.reference_solution:
            produced = {step.deliverable for step in self.reference_solution}
            for i, deliverable in enumerate(self.deliverables):
                if deliverable.id not in produced:
                    message = f'no reference_solution step produces deliverable "{deliverable.id}"'
                    problems.append((("deliverables", i, "id"), message))
        items = {q.id: q for q in self.items}
        problems += _answer_problems(
            ("reference_answers",), self.reference_answers, items, reference=True
        )

        check_ids = {c.id for c in self.checks}
        for n, example in enumerate(self.counterexamples):
            base: Loc = ("counterexamples", n)
            problems += _step_problems((*base, "steps"), example.steps, deliverable_ids)
            problems += _answer_problems(
                (*base, "answers"), example.answers, items, reference=False
            )
            for k, target in enumerate(example.must_fail):
                loc = (*base, "must_fail", k)
                if target in check_ids or PDPO_RULE_PATTERN.match(target):
                    continue
                if target in items:
                    if isinstance(items[target], WrittenItem):
                        problems.append(
                            (
                                loc,
                                f'"{target}" is a written item, scored by an assessor, '
                                "so it cannot be required to fail automatically",
                            )
                        )
                    continue
                problems.append(
                    (loc, f'"{target}" is not a check id, an item id or pdpo:<rule id>')
                )
        for n, alternative in enumerate(self.alternatives):
            base = ("alternatives", n)
            problems += _step_problems((*base, "steps"), alternative.steps, deliverable_ids)
            problems += _answer_problems(
                (*base, "answers"), alternative.answers, items, reference=False
            )
            bound = {step.as_ for step in alternative.steps if step.as_ is not None}
            for deliverable_id, entity in alternative.deliverables.items():
                loc = (*base, "deliverables", deliverable_id)
                if deliverable_id not in deliverable_ids:
                    problems.append((loc, f'unknown deliverable "{deliverable_id}"'))
                elif isinstance(entity, str) and entity not in bound:
                    problems.append((loc, f'"{entity}" is not bound by a step\'s as'))
        _raise_problems(problems)
        return self

    def item(self, item_id: str) -> SingleChoiceItem | MultipleChoiceItem | WrittenItem | None:
        """Return the item with this id, or None."""
        return next((q for q in self.items if q.id == item_id), None)

    def requirement_refs(self) -> Iterator[tuple[Loc, str]]:
        """Yield (location, PR id as written) for every requirement of every check and item."""
        for kind, entries in (("checks", self.checks), ("items", self.items)):
            for i, entry in enumerate(entries):
                for j, ref in enumerate(entry.requirements):
                    yield (kind, i, "requirements", j), ref


def _step_problems(
    base: Loc, steps: list[Step], deliverable_ids: set[str]
) -> list[tuple[Loc, str]]:
    """Check that steps bind each name once and name existing deliverables."""
    problems = _duplicates(
        (((*base, i, "as"), step.as_) for i, step in enumerate(steps) if step.as_ is not None),
        "as name",
    )
    for i, step in enumerate(steps):
        if step.deliverable is not None and step.deliverable not in deliverable_ids:
            problems.append(
                ((*base, i, "deliverable"), f'unknown deliverable "{step.deliverable}"')
            )
    return problems


def _answer_problems(
    base: Loc,
    answers: dict[str, Answer],
    items: dict[str, SingleChoiceItem | MultipleChoiceItem | WrittenItem],
    *,
    reference: bool,
) -> list[tuple[Loc, str]]:
    """Check that answers are keyed by item id and have the shape the item expects."""
    problems: list[tuple[Loc, str]] = []
    for item_id, answer in answers.items():
        loc = (*base, item_id)
        item = items.get(item_id)
        if item is None:
            problems.append((loc, f'unknown item "{item_id}"'))
            continue
        if isinstance(item, WrittenItem):
            if not isinstance(answer, str):
                problems.append((loc, "a written answer is text, not a list"))
            continue
        options = {o.id for o in item.options}
        if isinstance(item, SingleChoiceItem):
            if not isinstance(answer, str):
                problems.append((loc, "a single_choice answer is one option id, not a list"))
            elif answer not in options:
                problems.append((loc, f'"{answer}" is not an option of item "{item_id}"'))
            elif reference and answer != item.answer:
                message = f'reference answer "{answer}" differs from the answer "{item.answer}"'
                problems.append((loc, message))
            continue
        if not isinstance(answer, list):
            problems.append((loc, "a multiple_choice answer is a list of option ids"))
            continue
        unknown = [a for a in answer if a not in options]
        if unknown:
            problems.append((loc, f'not options of item "{item_id}": {", ".join(unknown)}'))
        elif reference and set(answer) != set(item.answers):
            problems.append((loc, "reference answers differ from the item's answers"))
    return problems
