"""The trainee's result page as a view: tones, order and states for what the service returns.

The results service decides what a trainee may see (``TraineeResult``); this module decides how
it is shown: which tone each status takes and which state each heading is in. The sentences
themselves are plain strings in templates/attempts/result.html, so that they can be translated,
and every status is written out in words beside its colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from training_platform.results_service import (
    CriterionScore,
    FeedbackLine,
    OverrideNote,
    PdpoFeedback,
    RequirementFeedback,
    RubricFeedback,
    TraineeResult,
)
from training_platform.templating import badge_tone

__all__ = [
    "LineView",
    "PdpoView",
    "RequirementView",
    "ResultView",
    "RubricView",
    "VerdictView",
    "present_result",
]

# The verdicts a decision can take, and so the automatic ones it can be compared with.
_DECISIONS = ("competent", "not_yet_competent")
# Severities a trainee reads as serious (red); the others are amber.
SERIOUS_SEVERITIES = ("critical", "high")


@dataclass(frozen=True)
class VerdictView:
    """The top of the page: the assessor's decision, or the automatic recommendation.

    ``state`` is "competent", "not_yet_competent" or "pending_review"; ``automatic`` is the
    automatic recommendation (competent or not) when the decision differs from it, so that the
    comment and the overrides read as the reasons.
    """

    decided: bool
    state: str
    tone: str
    comment: str = ""
    decided_at: datetime | None = None
    automatic: str | None = None


@dataclass(frozen=True)
class RubricView:
    """A written answer's rubric: points per criterion, the total and the pass mark."""

    criteria: tuple[CriterionScore, ...]
    total: int
    max_total: int
    pass_mark: str
    met: bool


@dataclass(frozen=True)
class LineView:
    """One check or question under a PR: the status in force, in words and tone."""

    kind: str
    number: int | None
    status: str
    tone: str
    message: str
    override: OverrideNote | None
    rubric: RubricView | None
    points: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RequirementView:
    """One row of the PR table."""

    pr_id: str
    group_title: str
    text: str
    points: tuple[Any, ...]
    status: str
    tone: str
    lines: tuple[LineView, ...]
    override: OverrideNote | None
    other_cause: str | None


@dataclass(frozen=True)
class PdpoView:
    """One PDPO rule the trainee reads about: breached, or judged by the assessor."""

    rule_id: str
    title: str
    basis: str
    severity: str
    severity_tone: str
    requirement: str
    breached: bool
    status: str
    tone: str
    breaches: int
    override: OverrideNote | None

    @property
    def critical(self) -> bool:
        """Whether a breach of this rule alone makes the attempt not yet competent."""
        return self.breached and self.severity == "critical"

    @property
    def high(self) -> bool:
        """Whether a breach of this rule keeps an automatic "competent" from the attempt."""
        return self.breached and self.severity == "high"


@dataclass(frozen=True)
class ResultView:
    """Everything the result template needs."""

    verdict: VerdictView
    requirements: tuple[RequirementView, ...]
    pdpo: tuple[PdpoView, ...]
    feedback_withheld: bool

    @property
    def pending_review(self) -> bool:
        """Whether the assessor has still to decide."""
        return not self.verdict.decided

    @property
    def breaches(self) -> tuple[PdpoView, ...]:
        """The PDPO rules breached, as the result stands."""
        return tuple(rule for rule in self.pdpo if rule.breached)

    @property
    def overridden(self) -> bool:
        """Whether the assessor changed any automatic status on the way to the decision."""
        return (
            any(r.override for r in self.requirements)
            or any(line.override for r in self.requirements for line in r.lines)
            or any(rule.override for rule in self.pdpo)
        )


def _number(value: float) -> str:
    """2.5 -> "2.5", 3.0 -> "3"."""
    return f"{value:g}"


def _rubric(rubric: RubricFeedback | None) -> RubricView | None:
    if rubric is None:
        return None
    return RubricView(
        criteria=rubric.criteria,
        total=rubric.total,
        max_total=rubric.max_total,
        pass_mark=_number(rubric.pass_mark),
        met=rubric.total >= rubric.pass_mark,
    )


def _line(line: FeedbackLine) -> LineView:
    return LineView(
        kind=line.kind,
        number=line.number,
        status=line.status,
        tone=badge_tone(line.status),
        message=line.message,
        override=line.override,
        rubric=_rubric(line.rubric),
        points=line.points,
    )


def _requirement(row: RequirementFeedback) -> RequirementView:
    return RequirementView(
        pr_id=row.pr_id,
        group_title=row.group_title,
        text=row.text,
        points=row.points,
        status=row.status,
        tone=badge_tone(row.status),
        lines=tuple(_line(line) for line in row.lines),
        override=row.override,
        other_cause=row.other_cause,
    )


def _pdpo(rule: PdpoFeedback) -> PdpoView:
    breached = rule.status == "fail"
    serious = rule.severity in SERIOUS_SEVERITIES
    return PdpoView(
        rule_id=rule.rule_id,
        title=rule.title,
        basis=rule.basis,
        severity=rule.severity,
        severity_tone="fail" if serious else "warn",
        requirement=rule.requirement,
        breached=breached,
        status=rule.status,
        tone=("fail" if serious else "warn") if breached else "pass",
        breaches=rule.breaches,
        override=rule.override,
    )


def _verdict(result: TraineeResult) -> VerdictView:
    if result.decision is not None:
        automatic = result.automatic_recommendation
        # "Pending review" is no recommendation to compare the decision with.
        if automatic not in _DECISIONS or automatic == result.decision:
            automatic = None
        return VerdictView(
            decided=True,
            state=result.decision,
            tone=badge_tone(result.decision),
            comment=result.decision_comment,
            decided_at=result.decided_at,
            automatic=automatic,
        )
    state = result.recommendation
    return VerdictView(
        decided=False, state=state, tone="warn" if state == "pending_review" else badge_tone(state)
    )


def present_result(result: TraineeResult) -> ResultView:
    """The result page's view of what the trainee may see of an attempt's result."""
    return ResultView(
        verdict=_verdict(result),
        requirements=tuple(_requirement(row) for row in result.requirements),
        pdpo=tuple(_pdpo(rule) for rule in result.pdpo),
        feedback_withheld=result.feedback_withheld,
    )
