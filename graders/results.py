"""Grading results: frozen dataclasses that round-trip through JSON (the platform stores them).

Two audiences read a result. ``message`` fields are trainee-safe (the scenario's own feedback
text); ``evidence``, ``findings`` and ``reasons`` are for assessors and may name records, member
numbers and expected values. Evidence is frozen on construction (mappings become read-only
proxies, lists become tuples) and must hold JSON values only; ``to_dict`` thaws it again.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

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
    """Return a plain JSON value (dicts and lists) from a frozen one."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


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
    (e.g. "No report was submitted."); it must never reveal expected values.
    """

    status: Status
    score: float
    evidence: Mapping[str, Any] = field(default_factory=_empty)
    note: str | None = None

    def __post_init__(self) -> None:
        _set(self, "status", Status(self.status))
        _set(self, "score", _check_score(self.score))
        _set(self, "evidence", freeze(self.evidence))

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
    ) -> Outcome:
        """A failing outcome."""
        return cls(Status.FAIL, score, evidence or {}, note)

    @classmethod
    def judge(cls, ok: bool, evidence: Mapping[str, Any], score: float | None = None) -> Outcome:
        """Pass if ``ok``, else fail; the score defaults to 1 or 0."""
        if score is None:
            score = 1.0 if ok else 0.0
        return cls(Status.PASS if ok else Status.FAIL, score, evidence)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The result of one scenario check."""

    check_id: str
    check_type: str
    status: Status
    score: float
    message: str
    evidence: Mapping[str, Any] = field(default_factory=_empty)
    requirements: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "status", Status(self.status))
        _set(self, "score", _check_score(self.score))
        _set(self, "evidence", freeze(self.evidence))
        _set(self, "requirements", tuple(self.requirements))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of this result."""
        return {
            "check_id": self.check_id,
            "check_type": self.check_type,
            "status": self.status.value,
            "score": self.score,
            "message": self.message,
            "evidence": thaw(self.evidence),
            "requirements": list(self.requirements),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result from ``to_dict`` output."""
        return cls(
            check_id=data["check_id"],
            check_type=data["check_type"],
            status=Status(data["status"]),
            score=data["score"],
            message=data["message"],
            evidence=data.get("evidence", {}),
            requirements=tuple(data.get("requirements", ())),
        )


@dataclass(frozen=True)
class Finding:
    """One PDPO breach: which rule, why, and the audit events and records involved."""

    rule_id: str
    title: str
    basis: str
    severity: Severity
    message: str
    event_ids: tuple[int, ...] = ()
    records: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        _set(self, "severity", Severity(self.severity))
        _set(self, "event_ids", tuple(int(e) for e in self.event_ids))
        _set(self, "records", tuple((str(t), int(i)) for t, i in self.records))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of this finding."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "basis": self.basis,
            "severity": self.severity.value,
            "message": self.message,
            "event_ids": list(self.event_ids),
            "records": [[table, key] for table, key in self.records],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Rebuild a finding from ``to_dict`` output."""
        return cls(
            rule_id=data["rule_id"],
            title=data["title"],
            basis=data["basis"],
            severity=Severity(data["severity"]),
            message=data["message"],
            event_ids=tuple(data.get("event_ids", ())),
            records=tuple((t, i) for t, i in data.get("records", ())),
        )


@dataclass(frozen=True)
class RuleResult:
    """The result of one PDPO rule on the attempt: pass, fail (with findings) or not applicable."""

    rule_id: str
    title: str
    basis: str
    severity: Severity
    status: Status
    reason: str
    findings: tuple[Finding, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "severity", Severity(self.severity))
        _set(self, "status", Status(self.status))
        _set(self, "findings", tuple(self.findings))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of this result."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "basis": self.basis,
            "severity": self.severity.value,
            "status": self.status.value,
            "reason": self.reason,
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleResult:
        """Rebuild a result from ``to_dict`` output."""
        return cls(
            rule_id=data["rule_id"],
            title=data["title"],
            basis=data["basis"],
            severity=Severity(data["severity"]),
            status=Status(data["status"]),
            reason=data["reason"],
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", ())),
        )


@dataclass(frozen=True)
class ItemResult:
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of this result."""
        return {
            "item_id": self.item_id,
            "kind": self.kind,
            "status": self.status.value,
            "score": self.score,
            "max_score": self.max_score,
            "answer": thaw(self.answer),
            "message": self.message,
            "requirements": list(self.requirements),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemResult:
        """Rebuild a result from ``to_dict`` output."""
        return cls(
            item_id=data["item_id"],
            kind=data["kind"],
            status=Status(data["status"]),
            score=data["score"],
            max_score=data["max_score"],
            answer=data.get("answer"),
            message=data["message"],
            requirements=tuple(data.get("requirements", ())),
        )


@dataclass(frozen=True)
class RequirementResult:
    """Whether one performance requirement was demonstrated, and what assessed it."""

    pr_id: str
    status: RequirementStatus
    check_ids: tuple[str, ...] = ()
    item_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "status", RequirementStatus(self.status))
        _set(self, "check_ids", tuple(self.check_ids))
        _set(self, "item_ids", tuple(self.item_ids))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of this result."""
        return {
            "pr_id": self.pr_id,
            "status": self.status.value,
            "check_ids": list(self.check_ids),
            "item_ids": list(self.item_ids),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequirementResult:
        """Rebuild a result from ``to_dict`` output."""
        return cls(
            pr_id=data["pr_id"],
            status=RequirementStatus(data["status"]),
            check_ids=tuple(data.get("check_ids", ())),
            item_ids=tuple(data.get("item_ids", ())),
        )


@dataclass(frozen=True)
class AppliedOverride:
    """An assessor's decision on one target, kept beside the automatic status it replaced."""

    target: str
    automatic: str
    status: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of this override."""
        return {
            "target": self.target,
            "automatic": self.automatic,
            "status": self.status,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppliedOverride:
        """Rebuild an override from ``to_dict`` output."""
        return cls(data["target"], data["automatic"], data["status"], data.get("reason", ""))


@dataclass(frozen=True)
class GradingResult:
    """Everything grading produced for one attempt, with the rolled-up verdict.

    ``checks``, ``items`` and ``pdpo`` keep the automatic results; ``overridden`` holds the
    assessor's decisions (target id -> override), which ``requirements`` and ``verdict`` apply.
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

    def __post_init__(self) -> None:
        _set(self, "checks", tuple(self.checks))
        _set(self, "items", tuple(self.items))
        _set(self, "pdpo", tuple(self.pdpo))
        _set(self, "requirements", tuple(self.requirements))
        _set(self, "verdict", Verdict(self.verdict))
        _set(self, "reasons", tuple(self.reasons))
        _set(self, "overridden", MappingProxyType(dict(self.overridden)))

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the whole result."""
        return {
            "scenario_id": self.scenario_id,
            "unit_code": self.unit_code,
            "checks": [c.to_dict() for c in self.checks],
            "items": [i.to_dict() for i in self.items],
            "pdpo": [r.to_dict() for r in self.pdpo],
            "requirements": [r.to_dict() for r in self.requirements],
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "grader_version": self.grader_version,
            "overridden": {k: v.to_dict() for k, v in self.overridden.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradingResult:
        """Rebuild a result from ``to_dict`` output."""
        return cls(
            scenario_id=data["scenario_id"],
            unit_code=data["unit_code"],
            checks=tuple(CheckResult.from_dict(c) for c in data.get("checks", ())),
            items=tuple(ItemResult.from_dict(i) for i in data.get("items", ())),
            pdpo=tuple(RuleResult.from_dict(r) for r in data.get("pdpo", ())),
            requirements=tuple(
                RequirementResult.from_dict(r) for r in data.get("requirements", ())
            ),
            verdict=Verdict(data["verdict"]),
            reasons=tuple(data.get("reasons", ())),
            grader_version=data["grader_version"],
            overridden={
                k: AppliedOverride.from_dict(v) for k, v in data.get("overridden", {}).items()
            },
        )
