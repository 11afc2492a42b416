"""Grading results as stored and as they stand: the latest grade records, the result after an
assessor's overrides and rubric scores, and what of it the trainee may read.

The automatic result (the latest GradeRecord) is never modified. ``effective_result`` applies
the review's overrides and rubric scores through the grading engine's roll-up. Attempts and
reviews both read results from here, so neither service needs the other for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.lists import format_list
from flask import current_app, has_request_context
from flask_babel import get_locale, gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders.definitions import Feedback, Mode, WrittenItem, leaf_id_of, localised
from graders.engine import WRITTEN_PASS_MARK, roll_up
from graders.registry import PDPO_RULES, load_builtin, rule_key
from graders.results import (
    AppliedOverride,
    CheckResult,
    GradingResult,
    RequirementStatus,
    RuleResult,
    Severity,
    Status,
    Wording,
    fill,
)
from sandbox_crm.i18n import N_
from training_platform.definitions_store import scenario_of, unit_of
from training_platform.errors import CONFLICT, ServiceError
from training_platform.models import (
    Attempt,
    GradeRecord,
    OverrideTarget,
    Review,
    VerdictOverride,
)

# --- stored results ---------------------------------------------------------------------------


def latest_grade_record(session: Session, attempt: Attempt) -> GradeRecord | None:
    """The attempt's most recent grading run, or None before it is graded."""
    return session.scalars(
        select(GradeRecord)
        .where(GradeRecord.attempt_id == attempt.id)
        .order_by(GradeRecord.id.desc())
        .limit(1)
    ).first()


def latest_grade_records(session: Session, attempt_ids: Iterable[int]) -> dict[int, GradeRecord]:
    """The most recent grading run of each of these attempts, by attempt id (one query)."""
    ids = list(attempt_ids)
    if not ids:
        return {}
    newest = (
        select(func.max(GradeRecord.id))
        .where(GradeRecord.attempt_id.in_(ids))
        .group_by(GradeRecord.attempt_id)
    )
    rows = session.scalars(select(GradeRecord).where(GradeRecord.id.in_(newest)))
    return {row.attempt_id: row for row in rows}


def latest_grade(session: Session, attempt: Attempt) -> GradingResult | None:
    """The most recent grading result of an attempt, or None before it is graded."""
    record = latest_grade_record(session, attempt)
    return stored_result(record) if record is not None else None


def stored_result(record: GradeRecord) -> GradingResult:
    """The grading result a record keeps, parsed."""
    return GradingResult.from_dict(record.result)


# --- the result in force ------------------------------------------------------------------------


def automatic_result(session: Session, attempt: Attempt) -> GradingResult:
    """The automatic grading result, exactly as stored; a ServiceError before grading."""
    result = latest_grade(session, attempt)
    if result is None:
        raise ServiceError(CONFLICT, N_("This attempt has not been graded yet."))
    return result


def target_key(kind: OverrideTarget | str, target_id: str) -> str:
    """The grading engine's name for an override target: "check:rows", "pdpo:DM-06", "pr:2.1"."""
    kind = OverrideTarget(kind)
    prefix = "pr" if kind == OverrideTarget.REQUIREMENT else kind.value
    return f"{prefix}:{target_id}"


def active_overrides(review: Review | None) -> dict[str, VerdictOverride]:
    """The override in force for each target ("check:rows"): the latest one recorded."""
    active: dict[str, VerdictOverride] = {}
    if review is None:
        return active
    for override in sorted(review.overrides, key=lambda o: o.id):
        active[target_key(override.target_kind, override.target_id)] = override
    return active


def rubric_points(review: Review | None) -> dict[str, dict[str, int]]:
    """Rubric points recorded so far: item id -> criterion id -> points."""
    scores: dict[str, dict[str, int]] = {}
    if review is None:
        return scores
    for score in review.rubric_scores:
        scores.setdefault(score.item_id, {})[score.criterion_id] = score.points
    return scores


def effective_result(session: Session, attempt: Attempt) -> GradingResult:
    """The automatic result with the review's overrides and rubric scores rolled up again.

    Checks and rules keep their automatic status; ``overridden`` holds each override beside the
    automatic status with its reason; scored written items, the PRs and the verdict take the
    assessor's judgement into account.
    """
    automatic = automatic_result(session, attempt)
    review = attempt.review
    active = active_overrides(review)
    scores = rubric_points(review)
    if not active and not scores:
        return automatic
    return roll_up(
        unit_of(attempt),
        scenario_of(attempt),
        automatic.checks,
        automatic.items,
        automatic.pdpo,
        overrides={key: {"status": o.status, "reason": o.reason} for key, o in active.items()},
        rubric_scores=scores,
        grader_version=automatic.grader_version,
    )


# --- what the trainee reads -------------------------------------------------------------------
#
# These are data: which statuses, messages, overrides and scores the trainee may see. How they
# are worded and coloured is the presenter's business (training_platform/presenters/result.py).


@dataclass(frozen=True)
class OverrideNote:
    """An assessor's override of one automatic status, with the reason the trainee reads."""

    automatic: str
    status: str
    reason: str


@dataclass(frozen=True)
class CriterionScore:
    """One rubric criterion of a written answer: the points given and the assessor's comment."""

    criterion_id: str
    text: str
    points: int | None
    max_points: int
    comment: str


@dataclass(frozen=True)
class RubricFeedback:
    """How the assessor scored a written answer against its rubric."""

    criteria: tuple[CriterionScore, ...]
    total: int
    max_total: int
    pass_mark: float


@dataclass(frozen=True)
class FeedbackLine:
    """One check or question that evidences a PR, as the trainee sees it.

    ``kind`` is "check" or "item"; ``status`` is the status in force (the assessor's, when
    overridden), ``message`` the trainee-safe feedback of the automatic result.
    """

    kind: str
    target_id: str
    status: str
    message: str
    number: int | None = None
    override: OverrideNote | None = None
    rubric: RubricFeedback | None = None
    points: tuple[tuple[str, str], ...] = ()
    """The points of the PR this check or question names: (id such as "2.7.1", text)."""


@dataclass(frozen=True)
class RequirementFeedback:
    """One PR of the unit: its text, the status in force and the feedback that explains it.

    ``other_cause`` explains a PR not demonstrated although none of its checks and questions
    failed and no assessor overrode it: "pdpo" when a serious PDPO breach counts against it,
    "withheld" when that is feedback held back until the decision.
    """

    pr_id: str
    group_title: str
    text: str
    points: tuple[Any, ...]
    status: str
    lines: tuple[FeedbackLine, ...]
    override: OverrideNote | None = None
    other_cause: str | None = None


@dataclass(frozen=True)
class PdpoFeedback:
    """A PDPO rule breached (or judged by the assessor), without the records involved."""

    rule_id: str
    title: str
    basis: str
    severity: str
    requirement: str
    status: str
    breaches: int
    override: OverrideNote | None = None


@dataclass(frozen=True)
class TraineeResult:
    """Everything the result page may show a trainee; never evidence or expected values.

    Before the assessor's decision it holds the automatic result only: overrides, rubric scores
    and comments are drafts until then. In an assessment, the feedback texts and the PDPO
    findings are also held back until the decision (``feedback_withheld``).
    """

    recommendation: str
    requirements: tuple[RequirementFeedback, ...]
    pdpo: tuple[PdpoFeedback, ...]
    decision: str | None = None
    decision_comment: str = ""
    decided_at: datetime | None = None
    automatic_recommendation: str | None = None
    feedback_withheld: bool = False

    @property
    def pending_review(self) -> bool:
        """Whether the assessor has still to decide."""
        return self.decision is None


_SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
_SERIOUS = (Severity.CRITICAL, Severity.HIGH)


def _rule_text(rule_id: str) -> str:
    """What a PDPO rule requires, in the rulebook's words (never the attempt's evidence)."""
    load_builtin()
    key = rule_key(rule_id)
    return PDPO_RULES.get(key).description if key in PDPO_RULES else ""


def result_for_trainee(
    session: Session, attempt: Attempt, *, language: str | None = None
) -> TraineeResult | None:
    """The trainee's result (feedback in this language): automatic, or decided by the assessor."""
    automatic = latest_grade(session, attempt)
    if automatic is None:
        return None
    review = attempt.review
    if review is None or review.decision is None:
        return trainee_result(attempt, automatic, language=language)
    # Drafts stay private to assessors; a recorded decision brings its overrides and scores.
    return trainee_result(
        attempt,
        effective_result(session, attempt),
        automatic_recommendation=automatic.verdict.value,
        language=language,
    )


def note_in_language(template: str, values: Mapping[str, Any]) -> str:
    """A grader's marked message template in the reader's language, its values filled in.

    Values that are themselves marked text (a PDPO rule's title) are translated too; others
    (ids, counts, names) have no translation and stay as they are.
    """
    if not template:
        return ""
    if has_request_context() and "babel" in current_app.extensions:
        return reader_wording().fill(template, values)
    return fill(template, values)


def _join_in_locale(items: Sequence[str], style: str) -> str:
    """A list joined the way the reader's language writes one ("A, B and C", "A、B及C")."""
    locale = str(get_locale() or "en")
    if locale.startswith("en"):
        return Wording().join_list(items, style)
    if style == "semicolon":
        return "；".join(items)
    if style != "and" or len(items) <= 1:
        return "、".join(items)
    return format_list(list(items), locale=locale)


def reader_wording() -> Wording:
    """How grader messages are filled in for the reader: translated, lists joined for the locale.

    Chinese sentences follow one another without a space; English ones with one.
    """
    english = str(get_locale() or "en").startswith("en")
    return Wording(
        translate=lambda text: gettext(text) if text else text,
        join_list=_join_in_locale,
        sentence_gap=" " if english else "",
    )


def rule_reason(rule: RuleResult) -> str:
    """A PDPO rule's reason in the reader's language; as stored when kept without a template."""
    if rule.reason_template:
        return note_in_language(rule.reason_template, rule.reason_values)
    return rule.reason


def reasons_in_language(result: GradingResult) -> list[str]:
    """The roll-up's reasons in the reader's language; as stored when kept without templates."""
    notes = result.reason_notes
    if len(notes) != len(result.reasons):
        return list(result.reasons)
    return [note_in_language(n.get("template", ""), n.get("values", {})) for n in notes]


def check_message(check: CheckResult, feedback: Feedback | None, language: str | None) -> str:
    """A check's message for the trainee: its note and the scenario's feedback, in this language.

    Results stored before notes were kept apart carry no ``note``; their message shows as stored.
    """
    english = fill(check.note, check.note_values) if check.note else ""
    if not english or not check.message.startswith(english):
        return _feedback_in(check.message, feedback, language)
    rest = check.message[len(english) :]
    return note_in_language(check.note, check.note_values) + _feedback_in(rest, feedback, language)


def _feedback_in(message: str, feedback: Feedback | None, language: str | None) -> str:
    """The graded message with the scenario's feedback text, which ends it, in this language."""
    if not message or feedback is None or not language:
        return message
    for text in (feedback.pass_, feedback.fail):
        original = str(text)
        if message.endswith(original):
            return message[: len(message) - len(original)] + localised(text, language)
    return message


def _override(overridden: Mapping[str, AppliedOverride], target: str) -> OverrideNote | None:
    applied = overridden.get(target)
    if applied is None:
        return None
    return OverrideNote(automatic=applied.automatic, status=applied.status, reason=applied.reason)


def _rubric(item: WrittenItem, review: Review | None, decided: bool) -> RubricFeedback | None:
    """The rubric scores and comments of a written item, once the decision makes them final."""
    if not decided or review is None:
        return None
    scores = {s.criterion_id: s for s in review.rubric_scores if s.item_id == item.id}
    if not scores:
        return None
    criteria = tuple(
        CriterionScore(
            criterion_id=c.id,
            text=c.text,
            points=scores[c.id].points if c.id in scores else None,
            max_points=c.points,
            comment=(scores[c.id].comment or "") if c.id in scores else "",
        )
        for c in item.rubric
    )
    max_total = sum(c.points for c in item.rubric)
    return RubricFeedback(
        criteria=criteria,
        total=sum(c.points or 0 for c in criteria),
        max_total=max_total,
        pass_mark=WRITTEN_PASS_MARK * max_total,
    )


def _other_cause(unexplained: bool, withheld: bool, serious_breach: bool) -> str | None:
    if not unexplained:
        return None
    if withheld:
        return "withheld"
    return "pdpo" if serious_breach else None


def trainee_result(
    attempt: Attempt,
    result: GradingResult,
    *,
    automatic_recommendation: str | None = None,
    language: str | None = None,
) -> TraineeResult:
    """Turn a grading result into what the trainee may read, per PR and per PDPO rule.

    Each check and question carries the status in force; where the assessor overrode it, the
    automatic status and the reason come with it, so a status never contradicts its PR. In an
    assessment the feedback texts of checks and questions are hints, and the PDPO findings are
    feedback too: both are left out until the assessor has decided; the statuses of the PRs
    are shown at once.
    """
    unit = unit_of(attempt)
    scenario = scenario_of(attempt)
    review = attempt.review
    decision = review.decision.value if review is not None and review.decision else None
    decided = decision is not None
    withheld = scenario.mode == Mode.ASSESSMENT and not decided
    # Overrides are drafts until the decision; a result read before it has none anyway.
    overridden: Mapping[str, AppliedOverride] = result.overridden if decided else {}
    checks = {c.check_id: c for c in result.checks}
    items = {i.item_id: i for i in result.items}
    numbers = {item.id: n for n, item in enumerate(scenario.items, start=1)}
    check_specs = {c.id: c for c in scenario.checks}
    by_pr = {r.pr_id: r for r in result.requirements}

    def in_force(target: str, status: str) -> str:
        return overridden[target].status if target in overridden else str(status)

    serious_breach = any(
        r.severity in _SERIOUS and in_force(f"pdpo:{r.rule_id}", r.status) == Status.FAIL
        for r in result.pdpo
    )
    rows: list[RequirementFeedback] = []
    for group in unit.performance_requirements:
        for leaf in group.items:
            requirement = by_pr.get(leaf.id) or by_pr.get(unit.full_id(leaf.id))
            if requirement is None:
                continue
            lines: list[FeedbackLine] = []

            def points_named(
                refs: Sequence[str], leaf_id: str = leaf.id
            ) -> tuple[tuple[str, str], ...]:
                """The points of this leaf a check or question names, with their texts."""
                return tuple(
                    (ref, unit.point_text(ref) or ref)
                    for ref in dict.fromkeys(unit.local_id(r) for r in refs)
                    if ref != leaf_id and leaf_id_of(ref) == leaf_id
                )

            for check_id in requirement.check_ids:
                check = checks.get(check_id)
                if check is None:
                    continue
                target = f"check:{check_id}"
                lines.append(
                    FeedbackLine(
                        kind="check",
                        target_id=check_id,
                        status=in_force(target, check.status),
                        message=""
                        if withheld
                        else check_message(
                            check,
                            spec.feedback if (spec := check_specs.get(check_id)) else None,
                            language,
                        ),
                        override=_override(overridden, target),
                        points=points_named(check.requirements),
                    )
                )
            for item_id in requirement.item_ids:
                item = items.get(item_id)
                if item is None:
                    continue
                target = f"item:{item_id}"
                definition = scenario.item(item_id)
                message = (
                    ""
                    if withheld
                    else _feedback_in(item.message, getattr(definition, "feedback", None), language)
                )
                lines.append(
                    FeedbackLine(
                        kind="item",
                        target_id=item_id,
                        status=in_force(target, item.status),
                        message=message,
                        number=numbers.get(item_id),
                        override=_override(overridden, target),
                        rubric=_rubric(definition, review, decided)
                        if isinstance(definition, WrittenItem)
                        else None,
                        points=points_named(item.requirements),
                    )
                )
            status = requirement.status.value
            override = _override(overridden, f"pr:{requirement.pr_id}")
            unexplained = (
                status == RequirementStatus.NOT_DEMONSTRATED
                and override is None
                and not any(line.status == Status.FAIL for line in lines)
            )
            rows.append(
                RequirementFeedback(
                    pr_id=leaf.id,
                    group_title=group.title,
                    text=leaf.text,
                    points=tuple(leaf.points),
                    status=status,
                    lines=tuple(lines),
                    override=override,
                    other_cause=_other_cause(unexplained, withheld, serious_breach),
                )
            )
    pdpo: tuple[PdpoFeedback, ...] = ()
    if not withheld:
        shown = sorted(
            (
                r
                for r in result.pdpo
                if in_force(f"pdpo:{r.rule_id}", r.status) == Status.FAIL
                or f"pdpo:{r.rule_id}" in overridden
            ),
            key=lambda r: (_SEVERITY_ORDER.get(r.severity, 9), r.rule_id),
        )
        pdpo = tuple(
            PdpoFeedback(
                rule_id=r.rule_id,
                title=r.title,
                basis=r.basis,
                severity=r.severity.value,
                requirement=_rule_text(r.rule_id),
                status=in_force(f"pdpo:{r.rule_id}", r.status),
                breaches=len(r.findings),
                override=_override(overridden, f"pdpo:{r.rule_id}"),
            )
            for r in shown
        )
    return TraineeResult(
        recommendation=result.verdict.value,
        requirements=tuple(rows),
        pdpo=pdpo,
        decision=decision,
        decision_comment=(review.comment if review is not None and decided else "") or "",
        decided_at=review.decided_at if review is not None and decided else None,
        automatic_recommendation=automatic_recommendation,
        feedback_withheld=withheld,
    )
