"""Item statistics: how each check and question of a scenario performs in a centre.

Read from the automatic result of the latest grading of each graded (or decided) attempt of the
centre's trainees. Per check, the pass rate overall and per data variant: a variant whose rate is
far below the other variants' is a fairness problem (a trainee given it is more likely to fail
through no fault of their own). Per knowledge question, the facility (proportion correct) and
the discrimination index D: the proportion correct among the top 27% of attempts by total score
minus that among the bottom 27%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.results import GradingResult, Status
from training_platform import results_service
from training_platform.models import Attempt, AttemptStatus, DefinitionVersion, User

__all__ = [
    "DISCRIMINATION_GROUP",
    "FAIRNESS_GAP",
    "MIN_DISCRIMINATION_ATTEMPTS",
    "MIN_VARIANT_ATTEMPTS",
    "CheckStatistics",
    "ItemStatistics",
    "ScenarioStatistics",
    "VariantRate",
    "scenario_statistics",
]

# A variant is flagged when its pass rate is more than this below the other variants' mean...
FAIRNESS_GAP = 0.20
# ...and it, and at least one other variant, has this many attempts.
MIN_VARIANT_ATTEMPTS = 5
# The upper and lower groups of the discrimination index, as a share of the attempts.
DISCRIMINATION_GROUP = 0.27
# Fewer attempts than this give no discrimination index (the groups would be one or two people).
MIN_DISCRIMINATION_ATTEMPTS = 10

KNOWLEDGE_KINDS = ("single_choice", "multiple_choice")


@dataclass(frozen=True)
class VariantRate:
    """A check's pass rate in one data variant."""

    variant: int
    attempts: int
    passed: int
    rate: float | None
    flagged: bool = False
    others_mean: float | None = None


@dataclass(frozen=True)
class CheckStatistics:
    """One check of a scenario: its PRs, overall pass rate and the rate per variant."""

    check_id: str
    requirements: tuple[str, ...]
    attempts: int
    passed: int
    rate: float | None
    variants: tuple[VariantRate, ...]

    @property
    def flagged(self) -> bool:
        """Whether any variant is flagged as much harder than the others."""
        return any(v.flagged for v in self.variants)


@dataclass(frozen=True)
class ItemStatistics:
    """One knowledge question: facility and the upper-lower 27% discrimination index."""

    item_id: str
    kind: str
    requirements: tuple[str, ...]
    attempts: int
    correct: int
    facility: float | None
    discrimination: float | None
    group_size: int


@dataclass(frozen=True)
class ScenarioStatistics:
    """A scenario's checks and questions, from its graded attempts in the centre."""

    key: str
    title: str
    unit_code: str
    attempts: int
    variants: tuple[int, ...]
    checks: tuple[CheckStatistics, ...]
    items: tuple[ItemStatistics, ...]

    @property
    def flagged(self) -> bool:
        """Whether any check has a flagged variant."""
        return any(c.flagged for c in self.checks)


def _rate(passed: int, attempts: int) -> float | None:
    return passed / attempts if attempts else None


def _variant_rates(outcomes: list[tuple[int, bool]]) -> tuple[VariantRate, ...]:
    """Pass rates per variant, each flagged when far below the mean of the other variants."""
    tally: dict[int, list[int]] = {}
    for variant, passed in outcomes:
        counts = tally.setdefault(variant, [0, 0])
        counts[0] += 1
        counts[1] += int(passed)
    enough = {v: c[1] / c[0] for v, c in tally.items() if c[0] >= MIN_VARIANT_ATTEMPTS}
    rates = []
    for variant in sorted(tally):
        attempts, passed = tally[variant]
        rate = passed / attempts
        others = [r for v, r in enough.items() if v != variant]
        others_mean = sum(others) / len(others) if others else None
        flagged = (
            variant in enough
            and others_mean is not None
            and rate < others_mean - FAIRNESS_GAP - 1e-9
        )
        rates.append(VariantRate(variant, attempts, passed, rate, flagged, others_mean))
    return tuple(rates)


def _total_score(result: GradingResult) -> float:
    """An attempt's total: the scores of its checks and automatically graded questions."""
    return sum(c.score for c in result.checks) + sum(
        i.score for i in result.items if i.kind in KNOWLEDGE_KINDS
    )


def _discrimination(scored: list[tuple[float, int, bool]]) -> tuple[float | None, int]:
    """D = p(upper 27%) - p(lower 27%) over (total, attempt id, correct); and the group size."""
    n = len(scored)
    group = max(1, math.floor(n * DISCRIMINATION_GROUP + 0.5)) if n else 0
    if n < MIN_DISCRIMINATION_ATTEMPTS:
        return None, group
    ranked = sorted(scored, key=lambda entry: (entry[0], entry[1]))
    lower = ranked[:group]
    upper = ranked[-group:]
    p_upper = sum(1 for entry in upper if entry[2]) / group
    p_lower = sum(1 for entry in lower if entry[2]) / group
    return p_upper - p_lower, group


def _graded_attempts(
    session: Session, centre_id: int, scenario_key: str | None
) -> list[tuple[Attempt, DefinitionVersion]]:
    query = (
        select(Attempt, DefinitionVersion)
        .join(User, Attempt.trainee_id == User.id)
        .join(DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id)
        .where(
            User.centre_id == centre_id,
            Attempt.status.in_((AttemptStatus.GRADED, AttemptStatus.DECIDED)),
        )
        .order_by(DefinitionVersion.key, Attempt.id)
    )
    if scenario_key is not None:
        query = query.where(DefinitionVersion.key == scenario_key)
    return [(attempt, version) for attempt, version in session.execute(query)]


def scenario_statistics(
    session: Session,
    centre_id: int,
    *,
    scenario_key: str | None = None,
) -> list[ScenarioStatistics]:
    """Check pass rates per variant and question facility and discrimination, per scenario."""
    rows = _graded_attempts(session, centre_id, scenario_key)
    records = results_service.latest_grade_records(session, (a.id for a, _v in rows))
    by_key: dict[str, list[tuple[Attempt, DefinitionVersion, GradingResult]]] = {}
    for attempt, version in rows:
        record = records.get(attempt.id)
        if record is None:
            continue
        try:
            result = results_service.stored_result(record)
        except (ValueError, KeyError, TypeError):
            continue
        by_key.setdefault(version.key, []).append((attempt, version, result))
    statistics = []
    for key in sorted(by_key):
        entries = by_key[key]
        latest_version = max((v for _a, v, _r in entries), key=lambda v: v.version)
        statistics.append(_one_scenario(key, latest_version, entries))
    return statistics


def _one_scenario(
    key: str,
    version: DefinitionVersion,
    entries: list[tuple[Attempt, DefinitionVersion, GradingResult]],
) -> ScenarioStatistics:
    check_outcomes: dict[str, list[tuple[int, bool]]] = {}
    check_prs: dict[str, tuple[str, ...]] = {}
    item_outcomes: dict[str, list[tuple[float, int, bool]]] = {}
    item_meta: dict[str, tuple[str, tuple[str, ...]]] = {}
    for attempt, _version, result in entries:
        for check in result.checks:
            if check.status not in (Status.PASS, Status.FAIL):
                continue
            check_outcomes.setdefault(check.check_id, []).append(
                (attempt.variant, check.status == Status.PASS)
            )
            check_prs[check.check_id] = tuple(check.requirements)
        total = _total_score(result)
        for item in result.items:
            if item.kind not in KNOWLEDGE_KINDS or item.status not in (Status.PASS, Status.FAIL):
                continue
            item_outcomes.setdefault(item.item_id, []).append(
                (total, attempt.id, item.status == Status.PASS)
            )
            item_meta[item.item_id] = (item.kind, tuple(item.requirements))
    checks = []
    for check_id, outcomes in check_outcomes.items():
        passed = sum(1 for _v, ok in outcomes if ok)
        checks.append(
            CheckStatistics(
                check_id,
                check_prs[check_id],
                len(outcomes),
                passed,
                _rate(passed, len(outcomes)),
                _variant_rates(outcomes),
            )
        )
    items = []
    for item_id, scored in item_outcomes.items():
        correct = sum(1 for entry in scored if entry[2])
        discrimination, group = _discrimination(scored)
        kind, prs = item_meta[item_id]
        items.append(
            ItemStatistics(
                item_id,
                kind,
                prs,
                len(scored),
                correct,
                _rate(correct, len(scored)),
                discrimination,
                group,
            )
        )
    return ScenarioStatistics(
        key=key,
        title=version.title,
        unit_code=version.unit_code,
        attempts=len(entries),
        variants=tuple(sorted({attempt.variant for attempt, _v, _r in entries})),
        checks=tuple(checks),
        items=tuple(items),
    )
