"""Progress: what each trainee has demonstrated, per unit and per performance requirement (PR).

A PR is *demonstrated* when an assessment-mode attempt that an assessor decided "competent"
shows it demonstrated (the result in force, with the assessor's overrides). Practice attempts
show what a trainee is ready for; the PRs failed most recently are what to practise next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.definitions import Mode, Scenario, Unit, localised
from graders.results import GradingResult, RequirementStatus
from training_platform import outcomes_service, results_service
from training_platform.definitions_store import (
    current_scenarios,
    load_scenario_model,
    scenario_of,
    unit_of,
)
from training_platform.errors import ServiceError
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Cohort,
    CohortMember,
    Decision,
    Role,
    User,
)

__all__ = [
    "CohortMatrix",
    "PrState",
    "PrStatus",
    "TraineeProgress",
    "UnitOutcomeRow",
    "cohort_matrix",
    "cohort_trainees",
    "centre_cohorts",
    "requirement_states",
    "trainee_progress",
    "unit_outcome_rows",
]

GRADED_STATUSES = (AttemptStatus.GRADED, AttemptStatus.DECIDED)


class PrStatus:
    """Where a trainee stands on one PR (plain strings, used as CSS classes and in exports)."""

    DEMONSTRATED = "demonstrated"
    PRACTISED = "practised"  # demonstrated in the latest graded attempt, not yet assessed so
    NOT_YET = "not_yet"  # not demonstrated in the latest graded attempt
    PENDING = "pending"  # the latest graded attempt awaits an assessor's judgement
    NOT_ATTEMPTED = "not_attempted"


@dataclass(frozen=True)
class UnitOutcomeRow:
    """A trainee's current decision on one unit, from the latest decided assessment attempt."""

    unit_code: str
    unit_title: str
    level: int
    credit: int
    decision: Decision
    decided_at: datetime
    attempt_id: int
    scenario_title: str
    # An appeal against the decision is open: the unit is not achieved until it is settled.
    appeal_pending: bool = False

    @property
    def competent(self) -> bool:
        """Achieved: decided competent, with no appeal pending."""
        return self.decision == Decision.COMPETENT and not self.appeal_pending


@dataclass
class PrState:
    """One PR for one trainee: its status, when it was demonstrated, how often it was tried."""

    unit_code: str
    pr_id: str
    text: str
    status: str = PrStatus.NOT_ATTEMPTED
    demonstrated_at: datetime | None = None
    demonstrated_in: int | None = None
    last_graded_at: datetime | None = None
    last_attempt_id: int | None = None
    attempts: int = 0


@dataclass(frozen=True)
class UnitProgress:
    """One unit a trainee has attempted: its PRs and the decision, if any."""

    code: str
    title: str
    level: int
    credit: int
    prs: tuple[PrState, ...]
    outcome: UnitOutcomeRow | None

    @property
    def demonstrated(self) -> int:
        """How many of the unit's PRs are demonstrated."""
        return sum(1 for pr in self.prs if pr.status == PrStatus.DEMONSTRATED)


@dataclass(frozen=True)
class PractiseNext:
    """A PR failed in the latest attempt at it, with the scenarios that assess it."""

    pr: PrState
    scenarios: tuple[tuple[int, str, str], ...]  # (scenario version id, title, mode)


@dataclass(frozen=True)
class TraineeProgress:
    """A trainee's dashboard: units, attempts, PRs and what to practise next."""

    trainee: User
    units: tuple[UnitProgress, ...]
    attempts: tuple[Attempt, ...]
    practise_next: tuple[PractiseNext, ...]


# --- reading results ---------------------------------------------------------------------------


def _result_in_force(session: Session, attempt: Attempt) -> GradingResult | None:
    """The result with the assessor's judgement applied; None when it cannot be read."""
    try:
        return results_service.effective_result(session, attempt)
    except (ServiceError, ValueError, KeyError):
        return None


def _is_assessment(attempt: Attempt) -> bool:
    return scenario_of(attempt).mode is Mode.ASSESSMENT


def _decided_at(attempt: Attempt) -> datetime | None:
    review = attempt.review
    return review.decided_at if review is not None and review.decision is not None else None


def _graded_attempts(session: Session, trainee: User) -> list[Attempt]:
    """The trainee's graded and decided attempts, oldest first."""
    return list(
        session.scalars(
            select(Attempt)
            .where(Attempt.trainee_id == trainee.id, Attempt.status.in_(GRADED_STATUSES))
            .order_by(Attempt.graded_at, Attempt.id)
        )
    )


def unit_outcome_rows(
    session: Session, trainee: User, language: str | None = None
) -> list[UnitOutcomeRow]:
    """The trainee's decision per unit: that of the latest decided assessment attempt.

    One row per unit with such an attempt, by unit code (the unit outcomes of
    ``outcomes_service``, with what a record or gradebook shows beside them).
    """
    rows = []
    for outcome in outcomes_service.unit_outcomes(session, trainee):
        attempt = session.get(Attempt, outcome.attempt_id)
        unit = unit_of(attempt)
        rows.append(
            UnitOutcomeRow(
                unit_code=outcome.unit_code,
                unit_title=localised(unit.title, language),
                level=unit.level,
                credit=unit.credit,
                decision=outcome.decision,
                decided_at=outcome.decided_at,
                attempt_id=outcome.attempt_id,
                scenario_title=localised(scenario_of(attempt).title, language),
                appeal_pending=outcome.appeal_pending,
            )
        )
    return rows


def _pr_texts(unit: Unit, language: str | None) -> list[tuple[str, str]]:
    return [
        (item.id, localised(item.text, language))
        for group in unit.performance_requirements
        for item in group.items
    ]


def requirement_states(
    session: Session, trainee: User, language: str | None = None
) -> tuple[dict[str, Unit], dict[tuple[str, str], PrState]]:
    """Every PR of every unit the trainee has a graded attempt in, with where they stand.

    Returns the units by code (the version of the latest attempt) and the states by
    (unit code, PR id).
    """
    units: dict[str, Unit] = {}
    states: dict[tuple[str, str], PrState] = {}
    for attempt in _graded_attempts(session, trainee):
        code = attempt.unit_version.unit_code
        unit = unit_of(attempt)
        units[code] = unit
        for pr_id, text in _pr_texts(unit, language):
            states.setdefault((code, pr_id), PrState(code, pr_id, text))
        result = _result_in_force(session, attempt)
        if result is None:
            continue
        decided_competent = (
            _decided_at(attempt) is not None
            and attempt.review.decision == Decision.COMPETENT
            and _is_assessment(attempt)
        )
        for requirement in result.requirements:
            state = states.get((code, requirement.pr_id))
            if state is None:
                continue
            state.attempts += 1
            state.last_graded_at = attempt.graded_at
            state.last_attempt_id = attempt.id
            demonstrated = requirement.status == RequirementStatus.DEMONSTRATED
            if demonstrated and decided_competent:
                state.demonstrated_at = _decided_at(attempt)
                state.demonstrated_in = attempt.id
            if state.demonstrated_in is not None:
                state.status = PrStatus.DEMONSTRATED
            elif demonstrated:
                state.status = PrStatus.PRACTISED
            elif requirement.status == RequirementStatus.PENDING_REVIEW:
                state.status = PrStatus.PENDING
            else:
                state.status = PrStatus.NOT_YET
    return units, states


def _scenarios_assessing(
    session: Session, centre_id: int, language: str | None
) -> dict[tuple[str, str], list[tuple[int, str, str]]]:
    """(unit code, PR id) -> the current scenarios of the centre's catalogue that assess it."""
    found: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for row in current_scenarios(session, centre_id):
        try:
            scenario: Scenario = load_scenario_model(row)
        except Exception:  # noqa: BLE001, S112 (a broken definition offers nothing to practise)
            continue
        # A PR may be named "2.1" or "105077L3/2.1".
        prs = {pr.rpartition("/")[2] for check in scenario.checks for pr in check.requirements}
        prs |= {pr.rpartition("/")[2] for item in scenario.items for pr in item.requirements}
        for pr in prs:
            found.setdefault((scenario.unit, pr), []).append(
                (row.id, localised(scenario.title, language), scenario.mode.value)
            )
    for entries in found.values():
        entries.sort(key=lambda entry: (entry[2] != Mode.PRACTICE.value, entry[1]))
    return found


def trainee_progress(
    session: Session, trainee: User, language: str | None = None
) -> TraineeProgress:
    """The trainee's dashboard: units with their PRs and decision, attempts, what to practise."""
    units, states = requirement_states(session, trainee, language)
    outcomes = {row.unit_code: row for row in unit_outcome_rows(session, trainee, language)}
    unit_rows = []
    for code in sorted(units):
        unit = units[code]
        prs = tuple(state for (c, _pr), state in states.items() if c == code)
        unit_rows.append(
            UnitProgress(
                code=code,
                title=localised(unit.title, language),
                level=unit.level,
                credit=unit.credit,
                prs=prs,
                outcome=outcomes.get(code),
            )
        )
    failing = sorted(
        (s for s in states.values() if s.status == PrStatus.NOT_YET),
        key=lambda s: (s.last_graded_at or datetime.min, s.last_attempt_id or 0),
        reverse=True,
    )
    assessing = _scenarios_assessing(session, trainee.centre_id, language) if failing else {}
    practise = tuple(
        PractiseNext(state, tuple(assessing.get((state.unit_code, state.pr_id), ())))
        for state in failing
    )
    attempts = session.scalars(
        select(Attempt)
        .where(Attempt.trainee_id == trainee.id)
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
    )
    return TraineeProgress(trainee, tuple(unit_rows), tuple(attempts), practise)


# --- cohorts ------------------------------------------------------------------------------------


def centre_cohorts(session: Session, centre_id: int) -> list[Cohort]:
    """The centre's cohorts, current first, by name."""
    return list(
        session.scalars(
            select(Cohort)
            .where(Cohort.centre_id == centre_id)
            .order_by(Cohort.archived, Cohort.name)
        )
    )


def cohort_trainees(session: Session, cohort: Cohort) -> list[User]:
    """The trainees of a cohort, by name."""
    return list(
        session.scalars(
            select(User)
            .join(CohortMember, CohortMember.user_id == User.id)
            .where(CohortMember.cohort_id == cohort.id, User.role == Role.TRAINEE)
            .order_by(User.display_name, User.id)
        )
    )


@dataclass(frozen=True)
class MatrixColumn:
    """A PR column of the matrix."""

    unit_code: str
    pr_id: str
    text: str


@dataclass(frozen=True)
class CohortMatrix:
    """Trainees × PRs of one cohort; each cell the trainee's PrState (or None: not attempted)."""

    cohort: Cohort
    unit_codes: tuple[str, ...]
    unit_code: str | None
    columns: tuple[MatrixColumn, ...]
    rows: tuple[tuple[User, tuple[PrState | None, ...]], ...]
    counts: dict[str, int] = field(default_factory=dict)


def cohort_matrix(
    session: Session, cohort: Cohort, *, unit_code: str | None = None, language: str | None = None
) -> CohortMatrix:
    """The cohort's trainees against the PRs of the units they attempted (or of one unit)."""
    per_trainee: list[tuple[User, dict[tuple[str, str], PrState]]] = []
    units: dict[str, Unit] = {}
    for trainee in cohort_trainees(session, cohort):
        trainee_units, states = requirement_states(session, trainee, language)
        units.update({code: unit for code, unit in trainee_units.items() if code not in units})
        per_trainee.append((trainee, states))
    codes = tuple(sorted(units))
    chosen = [unit_code] if unit_code in units else list(codes)
    columns = tuple(
        MatrixColumn(code, pr_id, text)
        for code in chosen
        for pr_id, text in _pr_texts(units[code], language)
    )
    counts: dict[str, int] = {}
    rows = []
    for trainee, states in per_trainee:
        cells = tuple(states.get((col.unit_code, col.pr_id)) for col in columns)
        for cell in cells:
            status = cell.status if cell is not None else PrStatus.NOT_ATTEMPTED
            counts[status] = counts.get(status, 0) + 1
        rows.append((trainee, cells))
    return CohortMatrix(
        cohort,
        codes,
        unit_code if unit_code in units else None,
        columns,
        tuple(rows),
        counts,
    )


def trainees_of(session: Session, centre_id: int, cohort: Cohort | None) -> Iterable[User]:
    """A cohort's trainees, or every trainee of the centre."""
    if cohort is not None:
        return cohort_trainees(session, cohort)
    return session.scalars(
        select(User)
        .where(User.centre_id == centre_id, User.role == Role.TRAINEE)
        .order_by(User.display_name, User.id)
    )
