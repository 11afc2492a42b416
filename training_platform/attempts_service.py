"""Attempts: start one in a fresh sandbox, save answers, submit and grade.

Reading results back is results_service's business.
Services take the platform's Session first; they validate, change rows, flush and never commit.
The sandbox store is taken from the current app unless a test passes its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import faker
from sqlalchemy import func, select, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from graders import runner
from graders.definitions import (
    Mode,
    MultipleChoiceItem,
    Scenario,
    SingleChoiceItem,
    WrittenItem,
)
from graders.results import (
    GradingResult,
)
from sandbox_crm import generator
from sandbox_crm.deliverables import get_deliverable_kind
from sandbox_crm.i18n import N_, Message
from sandbox_crm.store import SandboxNotFound, SandboxStore
from training_platform import cohorts_service, definitions_store, sandboxes
from training_platform.definitions_store import scenario_of, unit_of
from training_platform.errors import CONFLICT, INVALID, NOT_ALLOWED, ServiceError
from training_platform.i18n import translated
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Centre,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    Role,
    User,
    utcnow,
)

logger = logging.getLogger(__name__)

MAX_WRITTEN_CHARS = 5_000
GRADING_FAILED = N_(
    "Your attempt was submitted, but grading could not finish. It is kept as it is and will be "
    "graded again; you do not need to do anything."
)


SANDBOX_GONE = (
    "The sandbox CRM of this attempt no longer exists, so the attempt cannot be submitted. "
    "Nothing was changed; start a new attempt or tell your assessor."
)
SANDBOX_DAMAGED = (
    "The sandbox CRM of this attempt cannot be opened: its data file is damaged. "
    "Nothing was changed; tell your assessor or centre admin."
)
TIME_IS_UP = N_(
    "The time limit of this attempt has run out: its CRM and answers can no longer be changed. "
    "Submit it as it is."
)


class GradingFailed(RuntimeError):
    """Grading raised; the attempt stays submitted and can be graded again."""


# --- reading definitions ----------------------------------------------------------------------


def _store(store: SandboxStore | None) -> SandboxStore:
    return store if store is not None else sandboxes.get_store()


# --- who may do what --------------------------------------------------------------------------


def can_view_attempt(user: User | None, attempt: Attempt) -> bool:
    """Trainees see their own attempts; assessors and admins those of their centre's trainees."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == Role.TRAINEE:
        return attempt.trainee_id == user.id
    if user.role in (Role.ASSESSOR, Role.CENTRE_ADMIN):
        return attempt.trainee.centre_id == user.centre_id
    return False


def is_owner(user: User | None, attempt: Attempt) -> bool:
    """Whether the user is the trainee who made the attempt."""
    return user is not None and user.role == Role.TRAINEE and attempt.trainee_id == user.id


def can_work_on(user: User | None, attempt: Attempt) -> bool:
    """Only the attempt's trainee may change it, while it is in progress and within its time."""
    return (
        is_owner(user, attempt)
        and attempt.status == AttemptStatus.IN_PROGRESS
        and not cohorts_service.time_is_up(attempt)
    )


def visible_attempt(session: Session, user: User, attempt_id: int) -> Attempt | None:
    """The attempt with this id if the user may see it; None for unknown and forbidden alike."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or not can_view_attempt(user, attempt):
        return None
    return attempt


def attempts_for(session: Session, trainee: User, *, unit_code: str | None = None) -> list[Attempt]:
    """A trainee's attempts, newest first; optionally only those of one unit."""
    query = (
        select(Attempt)
        .join(DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id)
        .where(Attempt.trainee_id == trainee.id)
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
    )
    if unit_code is not None:
        query = query.where(DefinitionVersion.unit_code == unit_code)
    return list(session.scalars(query))


def attempts_in_progress(session: Session, trainee: User) -> int:
    """How many of the trainee's attempts are still being worked on."""
    return (
        session.scalar(
            select(func.count(Attempt.id)).where(
                Attempt.trainee_id == trainee.id, Attempt.status == AttemptStatus.IN_PROGRESS
            )
        )
        or 0
    )


def attempts_used(session: Session, trainee: User, scenario_key: str) -> int:
    """How many attempts the trainee has started at a scenario, over all of its versions."""
    return (
        session.scalar(
            select(func.count(Attempt.id))
            .join(DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id)
            .where(
                Attempt.trainee_id == trainee.id,
                DefinitionVersion.kind == DefinitionKind.SCENARIO,
                DefinitionVersion.key == scenario_key,
            )
        )
        or 0
    )


# --- starting ---------------------------------------------------------------------------------


def _lock_allocation(session: Session, trainee: User) -> None:
    """Serialise starts in the trainee's centre until the caller commits.

    A no-op UPDATE of the centre's row: PostgreSQL holds that row's lock, SQLite its write lock,
    so a second start in the same centre waits and then sees the first one's attempt (and its
    variant, and the attempt count). A later job queue with real row locks replaces this.
    """
    session.execute(update(Centre).where(Centre.id == trainee.centre_id).values(slug=Centre.slug))


def variants_had(session: Session, trainee: User, scenario_key: str) -> list[int]:
    """The variants of a trainee's attempts at a scenario (every version), oldest first."""
    return list(
        session.scalars(
            select(Attempt.variant)
            .join(DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id)
            .where(
                Attempt.trainee_id == trainee.id,
                DefinitionVersion.kind == DefinitionKind.SCENARIO,
                DefinitionVersion.key == scenario_key,
            )
            .order_by(Attempt.started_at, Attempt.id)
        )
    )


def centre_variant_use(session: Session, centre_id: int, scenario_key: str) -> dict[int, int]:
    """How many attempts at a scenario (every version) each variant was given in a centre."""
    rows = session.execute(
        select(Attempt.variant, func.count(Attempt.id))
        .join(User, Attempt.trainee_id == User.id)
        .join(DefinitionVersion, Attempt.scenario_version_id == DefinitionVersion.id)
        .where(
            User.centre_id == centre_id,
            DefinitionVersion.kind == DefinitionKind.SCENARIO,
            DefinitionVersion.key == scenario_key,
        )
        .group_by(Attempt.variant)
    )
    return {variant: count for variant, count in rows}


def allocate_variant(session: Session, trainee: User, scenario_key: str, pool: int) -> int:
    """The variant of a trainee's next attempt: one they have not had, least used in the centre."""
    return runner.pick_variant(
        pool,
        variants_had(session, trainee, scenario_key),
        centre_variant_use(session, trainee.centre_id, scenario_key),
        tie_break=f"{trainee.id}:{scenario_key}",
    )


def start_attempt(
    session: Session,
    trainee: User,
    scenario_version: DefinitionVersion,
    *,
    store: SandboxStore | None = None,
    variants: int | None = None,
    clock_mode: str | None = None,
    max_in_progress: int | None = None,
) -> Attempt:
    """Start a trainee's attempt at a scenario version in a new sandbox cloned from its template.

    The data variant comes from the scenario's pool (``crm.variants``, capped by ``variants`` or
    the SANDBOX_VARIANTS setting); the attempt records the variant and the template it was
    cloned from, which grading compares against.
    """
    if trainee.role != Role.TRAINEE:
        raise ServiceError(NOT_ALLOWED, N_("Only trainees can start attempts."))
    if scenario_version.kind != DefinitionKind.SCENARIO:
        raise ServiceError(INVALID, N_("That is not a scenario."))
    if scenario_version.centre_id not in (None, trainee.centre_id):
        raise ServiceError(NOT_ALLOWED, N_("This scenario is not offered by your centre."))
    if not scenario_version.is_current:
        raise ServiceError(
            CONFLICT,
            "This scenario has been updated since the page was opened. Open it again from the "
            "catalogue.",
        )
    if scenario_version.preparation == "preparing":
        # Its templates are generated by jobs after publishing; a request never generates them.
        raise ServiceError(
            CONFLICT,
            N_(
                "This scenario's new version is still being prepared: its practice data is "
                "being generated. Try again in a few minutes."
            ),
        )
    scenario = definitions_store.load_scenario_model(scenario_version)
    _lock_allocation(session, trainee)
    limit = max_in_progress if max_in_progress is not None else sandboxes.in_progress_limit()
    if limit is not None and attempts_in_progress(session, trainee) >= limit:
        raise ServiceError(
            CONFLICT,
            f"You already have {limit} attempt{'s' * (limit != 1)} in progress, the most "
            "allowed at once. Submit one of them before starting another.",
        )
    # An assessment with scheduled windows is started only in one (see cohorts_service).
    window = (
        cohorts_service.window_for_start(session, trainee, scenario_version.key)
        if scenario.mode == Mode.ASSESSMENT
        else None
    )
    used = attempts_used(session, trainee, scenario_version.key)
    window_limits = window is not None and window.limit is not None
    if scenario.mode == Mode.ASSESSMENT and scenario.max_attempts is not None and not window_limits:
        if used >= scenario.max_attempts:
            raise ServiceError(
                CONFLICT,
                f"You have used all {scenario.max_attempts} attempts allowed for this assessment.",
            )
    try:
        unit_version = definitions_store.bound_unit_version(session, scenario_version)
    except LookupError as exc:
        raise ServiceError(
            CONFLICT, f"Unit {scenario_version.unit_code} is not published."
        ) from exc

    store = _store(store)
    cap = variants if variants is not None else sandboxes.variant_cap()
    variant = allocate_variant(
        session, trainee, scenario_version.key, sandboxes.pool_size(scenario, cap)
    )
    spec = runner.generation_spec(scenario, variant)
    attempt = Attempt(
        trainee=trainee,
        scenario_version=scenario_version,
        unit_version=unit_version,
        status=AttemptStatus.IN_PROGRESS,
        variant=variant,
        template_key=spec.cache_key(),
        generator_version=generator.GENERATOR_VERSION,
        faker_version=faker.VERSION,
        # The real key needs the id; a unique placeholder keeps the column's constraint.
        sandbox_key=f"pending-{uuid.uuid4().hex}",
        started_at=utcnow(),
        deliverables={},
        answers={},
    )
    session.add(attempt)
    session.flush()
    attempt.sandbox_key = f"attempt-{attempt.id}"
    if store.exists(attempt.sandbox_key):
        # Left by a start whose transaction rolled back: ids are only reused after a rollback.
        store.delete(attempt.sandbox_key)
    store.create(
        attempt.sandbox_key,
        spec,
        clock_mode=clock_mode or sandboxes.clock_mode(),
        variant=variant,
    )
    if window is not None:
        cohorts_service.record_window_attempt(session, attempt, window)
    session.flush()
    return attempt


@dataclass(frozen=True)
class VariantLabel:
    """Which data variant an attempt's sandbox holds, as pages name it ("3 of 8")."""

    number: int
    pool: int

    def __str__(self) -> str:
        text = N_("Data variant %(number)d of %(pool)d")
        return translated(Message(text, number=self.number, pool=self.pool))


def variant_label(attempt: Attempt) -> VariantLabel:
    """The attempt's data variant counted from 1, out of its scenario version's pool."""
    pool = scenario_of(attempt).crm.variants
    return VariantLabel(attempt.variant + 1, max(pool, attempt.variant + 1))


def can_retry(user: User | None, attempt: Attempt) -> bool:
    """Whether the result page offers this user "Try again": their own practice attempt only.

    An assessment is started again from the catalogue, where its attempt limit is counted.
    """
    return is_owner(user, attempt) and scenario_of(attempt).mode == Mode.PRACTICE


def retry_attempt(
    session: Session, trainee: User, attempt: Attempt, *, store: SandboxStore | None = None
) -> Attempt:
    """Start another attempt at the same scenario (its current version) after a practice one."""
    if not is_owner(trainee, attempt):
        raise ServiceError(
            NOT_ALLOWED, N_("Only the trainee who made this attempt can try it again.")
        )
    if not can_retry(trainee, attempt):
        raise ServiceError(
            INVALID, "Only practice scenarios can be tried again from the result page."
        )
    current = definitions_store.current_version(
        session, DefinitionKind.SCENARIO, attempt.scenario_version.key, trainee.centre_id
    )
    if current is None:
        raise ServiceError(CONFLICT, N_("This scenario is no longer offered."))
    return start_attempt(session, trainee, current, store=store)


# --- working on it ----------------------------------------------------------------------------


def _require_in_progress(attempt: Attempt) -> None:
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise ServiceError(
            CONFLICT, "This attempt has been submitted: it can no longer be changed."
        )


def _question_label(scenario: Scenario, item_id: str) -> str:
    for number, item in enumerate(scenario.items, start=1):
        if item.id == item_id:
            return f"question {number}"
    return f'question "{item_id}"'


def clean_answers(scenario: Scenario, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Check answers against the scenario's items; unanswered items are left out."""
    cleaned: dict[str, Any] = {}
    problems: list[str] = []
    for item_id, raw in answers.items():
        item = scenario.item(item_id)
        label = _question_label(scenario, item_id)
        if item is None:
            problems.append(f'There is no question "{item_id}" in this scenario.')
            continue
        if isinstance(item, WrittenItem):
            if not isinstance(raw, str):
                problems.append(f"The answer to {label} must be text.")
                continue
            text = raw.replace("\r\n", "\n").strip()
            if len(text) > MAX_WRITTEN_CHARS:
                problems.append(
                    f"The answer to {label} is {len(text):,} characters long; the limit is "
                    f"{MAX_WRITTEN_CHARS:,}."
                )
            elif text:
                cleaned[item_id] = text
            continue
        options = [option.id for option in item.options]
        if isinstance(item, SingleChoiceItem):
            if isinstance(raw, list):
                raw = raw[0] if len(raw) == 1 else raw
            if not isinstance(raw, str):
                problems.append(f"Choose one option for {label}.")
            elif raw and raw not in options:
                problems.append(f'"{raw}" is not one of the options of {label}.')
            elif raw:
                cleaned[item_id] = raw
            continue
        assert isinstance(item, MultipleChoiceItem)  # noqa: S101 - the three kinds are exhaustive
        chosen = [raw] if isinstance(raw, str) else raw
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            problems.append(f"Choose options from the list for {label}.")
            continue
        unknown = [c for c in chosen if c and c not in options]
        if unknown:
            problems.append(
                f"{', '.join(repr(u) for u in unknown)} "
                f"{'is not one of the options' if len(unknown) == 1 else 'are not options'} "
                f"of {label}."
            )
            continue
        picked = [option for option in options if option in chosen]
        if picked:
            cleaned[item_id] = picked
    if problems:
        raise ServiceError.invalid(problems)
    return cleaned


def save_answers(session: Session, attempt: Attempt, answers: Mapping[str, Any]) -> Attempt:
    """Replace the attempt's answers after checking every one; nothing is saved if one is wrong."""
    _require_in_progress(attempt)
    if cohorts_service.time_is_up(attempt):
        raise ServiceError(CONFLICT, TIME_IS_UP)
    attempt.answers = clean_answers(scenario_of(attempt), answers)
    session.flush()
    return attempt


@dataclass(frozen=True)
class DeliverableChoice:
    """Something in the trainee's sandbox that can be handed in as a deliverable."""

    id: int
    label: str


@dataclass(frozen=True)
class Workspace:
    """What the attempt page shows from the sandbox: the brief and the deliverable choices."""

    brief: str
    choices: Mapping[str, Sequence[DeliverableChoice]] = field(default_factory=dict)
    sandbox_missing: bool = False
    sandbox_damaged: bool = False


def _choices(sandbox: Session, kind: str, staff_id: int) -> list[DeliverableChoice]:
    """The trainee's own records of one deliverable kind in the sandbox, newest first."""
    found = get_deliverable_kind(kind).choices(sandbox, staff_id)
    return [DeliverableChoice(entity_id, label) for entity_id, label in found]


def attempt_workspace(
    attempt: Attempt, *, store: SandboxStore | None = None, language: str | None = None
) -> Workspace:
    """The brief in this language filled in with the sandbox's facts, and deliverable choices."""
    scenario = scenario_of(attempt)
    try:
        with _store(store).session(attempt.sandbox_key, read_only=True) as sandbox:
            facts = runner.compute_facts(sandbox, scenario)
            brief = runner.render_brief(scenario.brief, facts, language)
            staff_id = runner.trainee_actor(sandbox).id
            choices = {d.id: _choices(sandbox, d.kind, staff_id) for d in scenario.deliverables}
    except (SandboxNotFound, DatabaseError) as exc:
        # Deleted under the retention setting, or its file damaged: the brief's data-dependent
        # values are gone too.
        blanks = dict.fromkeys([*scenario.facts, "company", "staff_name", "today"], "…")
        return Workspace(
            brief=runner.render_brief(scenario.brief, blanks, language),
            sandbox_missing=True,
            sandbox_damaged=isinstance(exc, DatabaseError),
        )
    return Workspace(brief=brief, choices=choices)


# --- submitting and grading -------------------------------------------------------------------


def _deliverable_ids(
    scenario: Scenario, attempt: Attempt, raw: Mapping[str, Any], store: SandboxStore
) -> dict[str, int]:
    """Check each chosen deliverable is the trainee's own record of the right kind."""
    known = {d.id for d in scenario.deliverables}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ServiceError.invalid(f"This scenario has no deliverable called {unknown[0]!r}.")
    try:
        return _chosen_deliverables(scenario, attempt, raw, store)
    except SandboxNotFound:
        raise ServiceError(CONFLICT, SANDBOX_GONE) from None
    except DatabaseError:
        raise ServiceError(CONFLICT, SANDBOX_DAMAGED) from None


def _chosen_deliverables(
    scenario: Scenario, attempt: Attempt, raw: Mapping[str, Any], store: SandboxStore
) -> dict[str, int]:
    chosen: dict[str, int] = {}
    problems: list[str] = []
    with store.session(attempt.sandbox_key, read_only=True) as sandbox:
        staff_id = runner.trainee_actor(sandbox).id
        for deliverable in scenario.deliverables:
            value = raw.get(deliverable.id)
            text = str(value).strip() if value is not None else ""
            if not text:
                problems.append(f"Choose {deliverable.title[:1].lower()}{deliverable.title[1:]}.")
                continue
            try:
                entity_id = int(text)
            except ValueError:
                problems.append(f"{deliverable.title}: choose one from the list.")
                continue
            valid = {c.id for c in _choices(sandbox, deliverable.kind, staff_id)}
            if entity_id not in valid:
                problems.append(
                    f"{deliverable.title}: that is not one of your own "
                    f"{_kind_words(deliverable.kind)} in this attempt's CRM."
                )
                continue
            chosen[deliverable.id] = entity_id
    if problems:
        raise ServiceError.invalid(problems)
    return chosen


def _kind_words(kind: str) -> str:
    return get_deliverable_kind(kind).plural


def submit_attempt(
    session: Session,
    attempt: Attempt,
    deliverables: Mapping[str, Any],
    *,
    store: SandboxStore | None = None,
) -> Attempt:
    """Hand in the attempt: check deliverables, claim the submission, freeze the sandbox.

    Grading is a job (`training_platform.jobs.queue_grading`, then `grade_submitted` in a
    worker): the caller commits the submission and its job together, so a slow or failed
    grading never holds the request or loses the hand-in.
    """
    _require_in_progress(attempt)
    store = _store(store)
    chosen = _deliverable_ids(scenario_of(attempt), attempt, deliverables, store)
    # Claim the submission in one conditional UPDATE, so that a second tab cannot submit too.
    claimed = session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.status == AttemptStatus.IN_PROGRESS)
        .values(status=AttemptStatus.SUBMITTED, submitted_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if claimed.rowcount != 1:
        raise ServiceError(CONFLICT, N_("This attempt has already been submitted."))
    store.freeze(attempt.sandbox_key)
    attempt.deliverables = chosen
    session.flush()
    return attempt


def pinned_template_key(attempt: Attempt) -> str:
    """The key of the template the attempt's sandbox was cloned from, which grading reads.

    Attempts started before keys were recorded get the key their scenario and variant give
    under today's generator and Faker: the template is still only opened, never generated, so
    after an upgrade such an attempt fails to grade rather than being graded on other data.
    """
    if attempt.template_key:
        return attempt.template_key
    return runner.generation_spec(scenario_of(attempt), attempt.variant).cache_key()


def grade_pinned(attempt: Attempt, *, store: SandboxStore | None = None) -> GradingResult:
    """Grade the attempt's sandbox against the template it was cloned from (nothing stored)."""
    return runner.grade_sandbox(
        _store(store),
        attempt.sandbox_key,
        scenario=scenario_of(attempt),
        unit=unit_of(attempt),
        template_key=pinned_template_key(attempt),
        deliverables=dict(attempt.deliverables or {}),
        answers=dict(attempt.answers or {}),
    )


def grade_attempt_record(
    session: Session, attempt: Attempt, *, store: SandboxStore | None = None
) -> GradeRecord:
    """Grade a submitted attempt's frozen sandbox and keep the result as a new GradeRecord."""
    if attempt.status == AttemptStatus.IN_PROGRESS:
        raise ServiceError(CONFLICT, N_("An attempt is graded after it has been submitted."))
    try:
        result = grade_pinned(attempt, store=store)
    except Exception as exc:
        logger.exception("grading attempt %s failed", attempt.id)
        raise GradingFailed(GRADING_FAILED) from exc
    now = utcnow()
    record = GradeRecord(
        attempt=attempt,
        created_at=now,
        overall=result.verdict.value,
        result=result.to_dict(),
        grader_version=result.grader_version,
    )
    session.add(record)
    if attempt.status == AttemptStatus.SUBMITTED:
        attempt.status = AttemptStatus.GRADED
    attempt.graded_at = now
    session.flush()
    return record


def grade_submitted(
    session: Session, attempt: Attempt, *, store: SandboxStore | None = None
) -> GradeRecord | None:
    """Grade a submitted attempt once: None if it was graded meanwhile (by another worker).

    The move from submitted to graded is one conditional UPDATE, so of two workers grading the
    same attempt only the first to write keeps a GradeRecord.
    """
    if attempt.status != AttemptStatus.SUBMITTED:
        return None
    try:
        result = grade_pinned(attempt, store=store)
    except Exception as exc:
        logger.exception("grading attempt %s failed", attempt.id)
        raise GradingFailed(GRADING_FAILED) from exc
    now = utcnow()
    claimed = session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.status == AttemptStatus.SUBMITTED)
        .values(status=AttemptStatus.GRADED, graded_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if claimed.rowcount != 1:
        return None
    record = GradeRecord(
        attempt=attempt,
        created_at=now,
        overall=result.verdict.value,
        result=result.to_dict(),
        grader_version=result.grader_version,
    )
    session.add(record)
    session.flush()
    return record
