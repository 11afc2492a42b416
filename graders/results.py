"""Grading results: frozen dataclasses that round-trip through JSON (the platform stores them).

Two audiences read a result. ``message`` fields are trainee-safe (the scenario's own feedback
text); ``evidence``, ``findings`` and ``reasons`` are for assessors and may name records, member
numbers and expected values. Evidence is frozen on construction (mappings become read-only
proxies, lists become tuples) and must hold JSON values only; ``to_dict`` thaws it again.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Self

from sandbox_crm.i18n import N_

__all__ = [
    "AppliedOverride",
    "CheckResult",
    "Finding",
    "GradingResult",
    "ItemResult",
    "Outcome",
    "RequirementResult",
    "RequirementStatus",
    "RuleResult",
    "Severity",
    "Status",
    "Verdict",
    "Wording",
    "counted",
    "fill",
    "listing",
    "message",
    "sentences",
    "freeze",
    "thaw",
]


class Status(enum.StrEnum):
    """Outcome of one check, item or PDPO rule."""

    PASS = "pass"  # noqa: S105 (a status, not a password)
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    NEEDS_REVIEW = "needs_review"


class Severity(enum.StrEnum):
    """Severity of a PDPO rule, as defined in the rulebook."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RequirementStatus(enum.StrEnum):
    """Whether the attempt demonstrated a performance requirement."""

    DEMONSTRATED = "demonstrated"
    NOT_DEMONSTRATED = "not_demonstrated"
    PENDING_REVIEW = "pending_review"


class Verdict(enum.StrEnum):
    """The automatic recommendation for the attempt; the assessor's decision is the record."""

    COMPETENT = "competent"
    NOT_YET_COMPETENT = "not_yet_competent"
    PENDING_REVIEW = "pending_review"


# --- JSON-safe immutable values ---------------------------------------------------------------


def freeze(value: Any) -> Any:
    """Return a read-only JSON value: mappings as MappingProxyType, sequences as tuples.

    Dates become ISO strings, enums their values and sets sorted tuples; anything else that JSON
    cannot hold raises TypeError, so bad evidence is caught where it is produced.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return freeze(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"evidence cannot hold the non-finite number {value!r}")
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        frozen: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, enum.Enum):
                key = key.value
            if not isinstance(key, str):
                raise TypeError(f"evidence keys must be strings, got {key!r}")
            frozen[key] = freeze(item)
        return MappingProxyType(frozen)
    if isinstance(value, set | frozenset):
        return tuple(sorted((freeze(v) for v in value), key=repr))
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return tuple(freeze(v) for v in value)
    raise TypeError(f"evidence must hold JSON values only, got {type(value).__name__}")


def thaw(value: Any) -> Any:
    """Return a plain JSON value (dicts and lists) from a frozen one, or from a result."""
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


def message(template: str, **values: Any) -> dict[str, Any]:
    """A marked template with its values, to be used as the value of another message's placeholder.

    The page that shows the outer message translates this one too, then fills it in.
    """
    return {"template": template, "values": values}


def counted(count: int, one: str, many: str, **values: Any) -> dict[str, Any]:
    """``message`` of ``one`` or ``many`` (both marked, ``%(count)d`` in each) for ``count``."""
    return message(one if count == 1 else many, count=count, **values)


def listing(items: Iterable[Any], *, quoted: bool = False, style: str = "and") -> dict:
    """A list of values for one placeholder, joined for the reader's language when shown.

    ``quoted`` puts each item in quotation marks (field labels). ``style`` is how items are
    joined: ``and`` ("A, B and C"), ``comma`` ("A, B, C") or ``semicolon`` ("A; B; C"). Items
    that are text are translated when a translation exists (field labels, department names);
    items may be messages themselves; others show as they are.
    """
    return {"items": list(items), "quoted": quoted, "style": style}


def sentences(*parts: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Several messages (from ``message``) as one note: the template and values to store.

    One message is stored as itself; several share a placeholder-only template and are joined
    as sentences when shown (with a space in English, without one in Chinese).
    """
    if not parts:
        return None, {}
    if len(parts) == 1:
        return parts[0]["template"], dict(parts[0]["values"])
    return SENTENCES, {"sentences": {"sentences": list(parts)}}


SENTENCES = "%(sentences)s"
"""The template of a note made of several sentences (nothing to translate in it)."""

QUOTED = N_("“%(text)s”")
"""How a quoted item of a ``listing`` is shown."""


def _english_list(items: Sequence[str], style: str) -> str:
    if style == "semicolon":
        return "; ".join(items)
    if len(items) <= 1 or style != "and":
        return ", ".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass(frozen=True)
class Wording:
    """How a page fills in messages: translating, joining lists and sentences for its language.

    The default is English as written: nothing translated, lists as "A, B and C".
    """

    translate: Callable[[str], str] = str
    join_list: Callable[[Sequence[str], str], str] = _english_list
    sentence_gap: str = " "

    def fill(self, template: str, values: Mapping[str, Any]) -> str:
        """``template`` in this wording with its placeholders filled in (as written if none)."""
        if not template:
            return ""
        text = self.translate(template)
        if not values:
            return text
        return text % {key: self.value(value) for key, value in values.items()}

    def value(self, value: Any) -> Any:
        """A value: nested messages, lists and sentences filled in; text translated."""
        if isinstance(value, Mapping) and "template" in value:
            return self.fill(str(value["template"]), value.get("values") or {})
        if isinstance(value, Mapping) and "items" in value:
            items = [str(self.value(item)) for item in value["items"]]
            if value.get("quoted"):
                items = [self.fill(QUOTED, {"text": item}) for item in items]
            return self.join_list(items, str(value.get("style", "and")))
        if isinstance(value, Mapping) and "sentences" in value:
            return self.sentence_gap.join(str(self.value(part)) for part in value["sentences"])
        if isinstance(value, str) and value:
            return self.translate(value)
        return value


ENGLISH = Wording()


def fill(template: str, values: Mapping[str, Any]) -> str:
    """A message template with its ``%(name)s`` placeholders filled in, in English."""
    return ENGLISH.fill(template, values)


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _check_score(score: float, upper: float = 1.0) -> float:
    score = float(score)
    if not (math.isfinite(score) and 0.0 <= score <= upper):
        raise ValueError(f"score {score} is outside 0..{upper}")
    return score


# --- what a check function returns -----------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the engine adds the check id, feedback and requirements.

    ``note`` is an optional trainee-safe sentence the engine puts before the scenario's feedback
    (e.g. "No report was submitted."); it must never reveal expected values. It is a template
    marked for translation (``%(name)s`` placeholders) filled in with ``note_values``.
    """

    status: Status
    score: float
    evidence: Mapping[str, Any] = field(default_factory=_empty)
    note: str | None = None
    note_values: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _set(self, "status", Status(self.status))
        _set(self, "score", _check_score(self.score))
        _set(self, "evidence", freeze(self.evidence))
        _set(self, "note_values", freeze(self.note_values))

    def note_text(self) -> str:
        """The note in English with its values filled in ("" when there is none)."""
        return fill(self.note or "", self.note_values)

    @classmethod
    def passed(cls, evidence: Mapping[str, Any] | None = None, score: float = 1.0) -> Outcome:
        """A passing outcome."""
        return cls(Status.PASS, score, evidence or {})

    @classmethod
    def failed(
        cls,
        evidence: Mapping[str, Any] | None = None,
        score: float = 0.0,
        note: str | None = None,
        note_values: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """A failing outcome; ``note`` is a marked template filled in with ``note_values``."""
        return cls(Status.FAIL, score, evidence or {}, note, note_values or {})

    @classmethod
    def judge(cls, ok: bool, evidence: Mapping[str, Any], score: float | None = None) -> Outcome:
        """Pass if ``ok``, else fail; the score defaults to 1 or 0."""
        if score is None:
            score = 1.0 if ok else 0.0
        return cls(Status.PASS if ok else Status.FAIL, score, evidence)


# --- results ---------------------------------------------------------------------------------


class _Record:
    """Base of the result dataclasses: ``to_dict`` gives every field as JSON, ``from_dict`` back.

    ``_NESTED`` names the fields that hold other results (a tuple of them, or a mapping to them),
    which ``from_dict`` rebuilds; each class's ``__post_init__`` restores its enums, tuples and
    frozen evidence from the plain JSON values.
    """

    _NESTED: ClassVar[Mapping[str, type[_Record]]] = MappingProxyType({})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of this result, one key per field."""
        return {f.name: thaw(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a result from ``to_dict`` output; a field left out takes its default."""
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            nested = cls._NESTED.get(f.name)
            if nested is not None and isinstance(value, Mapping):
                value = {key: nested.from_dict(item) for key, item in value.items()}
            elif nested is not None:
                value = tuple(nested.from_dict(item) for item in value)
            values[f.name] = value
        return cls(**values)


@dataclass(frozen=True)
class CheckResult(_Record):
    """The result of one scenario check.

    ``message`` is the English text (the check's note, filled in, then the feedback); ``note`` and
    ``note_values`` keep the note's marked template and values so that pages can translate it.
    Results stored before these fields load with them empty and show the English message.
    """

    check_id: str
    check_type: str
    status: Status
    score: float
    message: str
    evidence: Mapping[str, Any] = field(default_factory=_empty)
    requirements: tuple[str, ...] = ()
    note: str = ""
    note_values: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _set(self, "status", Status(self.status))
        _set(self, "score", _check_score(self.score))
        _set(self, "evidence", freeze(self.evidence))
        _set(self, "requirements", tuple(self.requirements))
        _set(self, "note", self.note or "")
        _set(self, "note_values", freeze(self.note_values or {}))


@dataclass(frozen=True)
class Finding(_Record):
    """One PDPO breach: which rule, why, and the audit events and records involved.

    ``message`` is English; ``template`` (marked for translation) and ``values`` let a page show
    it in the reader's language. Findings stored without them show the English message.
    """

    rule_id: str
    title: str
    basis: str
    severity: Severity
    message: str
    event_ids: tuple[int, ...] = ()
    records: tuple[tuple[str, int], ...] = ()
    template: str = ""
    values: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _set(self, "severity", Severity(self.severity))
        _set(self, "template", self.template or "")
        _set(self, "values", freeze(self.values or {}))
        _set(self, "event_ids", tuple(int(e) for e in self.event_ids))
        _set(self, "records", tuple((str(t), int(i)) for t, i in self.records))


@dataclass(frozen=True)
class RuleResult(_Record):
    """The result of one PDPO rule on the attempt: pass, fail (with findings) or not applicable.

    ``reason`` is English; ``reason_template`` (marked for translation) and ``reason_values`` let
    a page show it in the reader's language. Results stored without them show the English reason.
    """

    rule_id: str
    title: str
    basis: str
    severity: Severity
    status: Status
    reason: str
    findings: tuple[Finding, ...] = ()
    reason_template: str = ""
    reason_values: Mapping[str, Any] = field(default_factory=_empty)

    _NESTED = MappingProxyType({"findings": Finding})

    def __post_init__(self) -> None:
        _set(self, "severity", Severity(self.severity))
        _set(self, "status", Status(self.status))
        _set(self, "findings", tuple(self.findings))
        _set(self, "reason_template", self.reason_template or "")
        _set(self, "reason_values", freeze(self.reason_values or {}))


@dataclass(frozen=True)
class ItemResult(_Record):
    """The result of one knowledge or written item (score in points, out of ``max_score``)."""

    item_id: str
    kind: str
    status: Status
    score: float
    max_score: float
    answer: Any
    message: str
    requirements: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "status", Status(self.status))
        _set(self, "max_score", float(self.max_score))
        _set(self, "score", _check_score(self.score, self.max_score))
        _set(self, "answer", freeze(self.answer))
        _set(self, "requirements", tuple(self.requirements))


@dataclass(frozen=True)
class RequirementResult(_Record):
    """Whether one performance requirement was demonstrated, and what assessed it.

    ``rule_ids`` names the high or critical PDPO rules that failed and count against this PR,
    because the scenario maps PDPO breaches to it (its ``pdpo.requirements``).
    """

    pr_id: str
    status: RequirementStatus
    check_ids: tuple[str, ...] = ()
    item_ids: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "status", RequirementStatus(self.status))
        _set(self, "check_ids", tuple(self.check_ids))
        _set(self, "item_ids", tuple(self.item_ids))
        _set(self, "rule_ids", tuple(self.rule_ids))


@dataclass(frozen=True)
class AppliedOverride(_Record):
    """An assessor's decision on one target, kept beside the automatic status it replaced."""

    target: str
    automatic: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class GradingResult(_Record):
    """Everything grading produced for one attempt, with the rolled-up verdict.

    ``checks``, ``items`` and ``pdpo`` keep the automatic results; ``overridden`` holds the
    assessor's decisions (target id -> override), which ``requirements`` and ``verdict`` apply.
    ``reason_notes`` holds each of ``reasons`` as ``{"template", "values"}`` (the template marked
    for translation); results stored before it have none and show ``reasons`` as written.
    """

    scenario_id: str
    unit_code: str
    checks: tuple[CheckResult, ...]
    items: tuple[ItemResult, ...]
    pdpo: tuple[RuleResult, ...]
    requirements: tuple[RequirementResult, ...]
    verdict: Verdict
    reasons: tuple[str, ...]
    grader_version: str
    overridden: Mapping[str, AppliedOverride] = field(default_factory=_empty)
    reason_notes: tuple[Mapping[str, Any], ...] = ()

    _NESTED = MappingProxyType(
        {
            "checks": CheckResult,
            "items": ItemResult,
            "pdpo": RuleResult,
            "requirements": RequirementResult,
            "overridden": AppliedOverride,
        }
    )

    def __post_init__(self) -> None:
        _set(self, "checks", tuple(self.checks))
        _set(self, "items", tuple(self.items))
        _set(self, "pdpo", tuple(self.pdpo))
        _set(self, "requirements", tuple(self.requirements))
        _set(self, "verdict", Verdict(self.verdict))
        _set(self, "reasons", tuple(self.reasons))
        _set(self, "overridden", MappingProxyType(dict(self.overridden)))
        _set(self, "reason_notes", freeze(tuple(self.reason_notes)))

    def check(self, check_id: str) -> CheckResult | None:
        """Return the automatic result of the check with this id, or None."""
        return next((c for c in self.checks if c.check_id == check_id), None)

    def item(self, item_id: str) -> ItemResult | None:
        """Return the result of the item with this id, or None."""
        return next((i for i in self.items if i.item_id == item_id), None)

    def rule(self, rule_id: str) -> RuleResult | None:
        """Return the automatic result of the PDPO rule with this id (e.g. DM-06), or None."""
        return next((r for r in self.pdpo if r.rule_id == rule_id), None)

    def requirement(self, pr_id: str) -> RequirementResult | None:
        """Return the roll-up of the PR with this short id (e.g. 2.1), or None."""
        return next((r for r in self.requirements if r.pr_id == pr_id), None)

    def findings(self) -> tuple[Finding, ...]:
        """Every PDPO finding of the attempt, in rule order."""
        return tuple(f for r in self.pdpo for f in r.findings)
