"""The grading engine: run a scenario's checks, grade its items, run the PDPO rulebook, roll up.

``grade_attempt`` reads the two sandboxes (never writing to them) and returns a
``GradingResult``. ``roll_up`` is the pure second half: from check, item and rule results (for
example stored ones) plus an assessor's rubric scores and overrides, it works out each
performance requirement and the verdict, so a review never needs the sandboxes again.
"""

from __future__ import annotations

import traceback
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from graders.context import DELIVERABLE_PREFIX, GradingContext, read_only
from graders.definitions.loader import format_path
from graders.definitions.models import (
    Check,
    Item,
    Scenario,
    SingleChoiceItem,
    Unit,
    WrittenItem,
    leaf_id_of,
)
from graders.pdpo.base import RuleOutcome
from graders.registry import (
    CHECKS,
    PDPO_RULES,
    CheckType,
    RuleType,
    UnknownNameError,
    load_builtin,
    rule_key,
)
from graders.results import (
    AppliedOverride,
    CheckResult,
    Finding,
    GradingResult,
    ItemResult,
    Outcome,
    RequirementResult,
    RequirementStatus,
    RuleResult,
    Severity,
    Status,
    Verdict,
    fill,
    listing,
    message,
)
from sandbox_crm.i18n import N_

__all__ = [
    "GRADER_VERSION",
    "WRITTEN_PASS_MARK",
    "check_param_problems",
    "grade_attempt",
    "grade_item",
    "roll_up",
    "rule_param_problems",
    "run_check",
    "run_rules",
    "validate_check_params",
]

GRADER_VERSION = "1.2.0"
"""Stored with every result; bump it when a check or rule changes what it decides."""

WRITTEN_PASS_MARK = 0.5
"""A written answer passes when the assessor's rubric points reach this share of the total."""

ERROR_MESSAGE = N_("This check could not be completed automatically; an assessor will review it.")
NOT_APPLICABLE_MESSAGE = N_("This check does not apply to this attempt.")

Overrides = Mapping[str, str | Mapping[str, str]]
"""Assessor decisions: target -> status, or target -> {status, reason}. Targets are
``check:<id>``, ``item:<id>``, ``pdpo:<rule id>`` and ``pr:<PR id>``."""

RubricScores = Mapping[str, Mapping[str, float]]
"""Assessor scores of written items: item id -> criterion id -> points."""

_DELIVERABLE_FIELDS = ("report", "deliverable")


# --- parameters -------------------------------------------------------------------------------


ParamLoc = tuple[str | int, ...]
"""Where a problem is inside a check's parameters, e.g. ("steps", 0, "deliverable")."""


def _located(loc: ParamLoc, message: str) -> str:
    where = format_path(loc)
    return f"{where}: {message}" if where else message


def _param_errors(exc: ValidationError) -> list[tuple[ParamLoc, str]]:
    """A pydantic error as (location, message) pairs a scenario author can act on."""
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown parameter"
        elif error["type"] == "missing":
            message = "required parameter is missing"
        problems.append((tuple(error["loc"]), message))
    return problems


def _parse_params(
    check_type: CheckType, params: Mapping[str, Any] | None
) -> tuple[BaseModel | None, list[tuple[ParamLoc, str]]]:
    """The check's parsed parameters, or None and the problems that stopped them parsing."""
    return _parse_model(check_type.params_model, params)


def _parse_model(
    model: type[BaseModel], params: Mapping[str, Any] | None
) -> tuple[BaseModel | None, list[tuple[ParamLoc, str]]]:
    """Parameters parsed with ``model``, or None and the problems that stopped them parsing."""
    if params is not None and not isinstance(params, Mapping):
        return None, [((), "expected a mapping of parameter names to values")]
    try:
        return model.model_validate(dict(params or {})), []
    except ValidationError as exc:
        return None, _param_errors(exc)
    except Exception as exc:  # a validator's own bug must not stop grading or validation
        return None, [((), f"the parameters could not be checked ({type(exc).__name__}: {exc})")]


def _deliverable_refs(value: Any, loc: ParamLoc = ()) -> list[tuple[ParamLoc, str]]:
    """(location, deliverable id) of every deliverable reference in parsed parameters.

    A reference is the value of a parameter named report or deliverable (the models strip the
    ``deliverable:`` prefix), or any other text written as ``deliverable:<id>`` (for example in
    record.field_equals's ``match``), at any depth.
    """
    found: list[tuple[ParamLoc, str]] = []
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            item = getattr(value, name)
            if name in _DELIVERABLE_FIELDS and isinstance(item, str):
                found.append(((*loc, name), item.removeprefix(DELIVERABLE_PREFIX)))
            else:
                found += _deliverable_refs(item, (*loc, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found += _deliverable_refs(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += _deliverable_refs(item, (*loc, index))
    elif isinstance(value, str) and value.startswith(DELIVERABLE_PREFIX):
        found.append((loc, value.removeprefix(DELIVERABLE_PREFIX)))
    return found


def check_param_problems(
    check_name: str,
    params: Mapping[str, Any] | None,
    *,
    deliverables: Collection[str] | None = None,
) -> list[tuple[ParamLoc, str]]:
    """Problems with a check's parameters, each with its location inside the parameters.

    An unknown check or parameters that do not parse; then, given ``deliverables`` (the
    scenario's deliverable ids), every deliverable the parameters refer to must be one of them.
    """
    load_builtin()
    try:
        check_type = CHECKS.get(check_name)
    except UnknownNameError as exc:
        return [((), str(exc.args[0]))]
    parsed, problems = _parse_params(check_type, params)
    if parsed is None or deliverables is None:
        return problems
    return [
        (loc, f'no deliverable "{ref}" in this scenario')
        for loc, ref in _deliverable_refs(parsed)
        if ref not in deliverables
    ]


def rule_param_problems(
    rule_id: str, params: Mapping[str, Any] | None
) -> list[tuple[ParamLoc, str]]:
    """Problems with a scenario's settings of one PDPO rule, each with its location in them.

    An unknown rule id, settings for a rule that takes none, or settings that do not parse.
    """
    load_builtin()
    try:
        rule_type = PDPO_RULES.get(rule_key(rule_id))
    except UnknownNameError:
        known = ", ".join(r.rule_id for _, r in PDPO_RULES.items())
        return [((), f'unknown PDPO rule "{rule_id}"; known: {known}')]
    if rule_type.params_model is None:
        return [((), f"rule {rule_id} takes no settings")] if params else []
    return _parse_model(rule_type.params_model, params)[1]


def validate_check_params(
    check_name: str,
    params: Mapping[str, Any] | None,
    *,
    deliverables: Collection[str] | None = None,
) -> list[str]:
    """Problems with a check's parameters as "path: message" lines (see check_param_problems)."""
    return [
        _located(loc, message)
        for loc, message in check_param_problems(check_name, params, deliverables=deliverables)
    ]


# --- checks and rules -------------------------------------------------------------------------


def _local_pr(unit: Unit | None, ref: str) -> str:
    return unit.local_id(ref) if unit is not None else ref.rpartition("/")[2]


def _where(exc: BaseException) -> str:
    """Where an exception was raised (module file and line), for the assessor and developers."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"


def _recover(ctx: GradingContext) -> None:
    """After a failed query, make the sessions usable again (they hold no changes to lose)."""
    for session in (ctx.template, ctx.final):
        if not session.is_active:
            session.rollback()


def run_check(ctx: GradingContext, spec: Check, unit: Unit | None = None) -> CheckResult:
    """Run one scenario check; an unknown type, bad params or an exception give status error."""
    requirements = tuple(_local_pr(unit, r) for r in spec.requirements)

    def error(evidence: Mapping[str, Any]) -> CheckResult:
        return CheckResult(
            spec.id, spec.check, Status.ERROR, 0.0, ERROR_MESSAGE, evidence, requirements
        )

    try:
        check_type = CHECKS.get(spec.check)
    except UnknownNameError as exc:
        return error({"error": str(exc.args[0])})
    params, problems = _parse_params(check_type, spec.params)
    if params is None:
        return error({"error": "invalid parameters", "problems": [_located(*p) for p in problems]})
    try:
        outcome = check_type.func(ctx, params)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check returned {type(outcome).__name__}, not Outcome")
    except Exception as exc:  # a check must never stop the grading of the others
        _recover(ctx)
        return error({"error": f"{type(exc).__name__}: {exc}", "where": _where(exc)})
    if outcome.status is Status.PASS:
        message = spec.feedback.pass_
    elif outcome.status is Status.FAIL:
        message = spec.feedback.fail
    elif outcome.status is Status.NOT_APPLICABLE:
        message = NOT_APPLICABLE_MESSAGE
    else:
        message = ERROR_MESSAGE
    if outcome.note:
        message = f"{outcome.note_text()} {message}"
    return CheckResult(
        spec.id,
        spec.check,
        outcome.status,
        outcome.score,
        message,
        outcome.evidence,
        requirements,
        note=outcome.note or "",
        note_values=outcome.note_values,
    )


def _rule_settings(ctx: GradingContext, rule_id: str, model: type[BaseModel]) -> BaseModel:
    """A rule's settings: the scenario's (``pdpo.rules``) parsed, or the model's defaults."""
    given = ctx.scenario.pdpo.rules.get(rule_id) if ctx.scenario is not None else None
    parsed, problems = _parse_model(model, given)
    if parsed is None:
        listed = "; ".join(_located(*p) for p in problems)
        raise ValueError(f"the scenario's settings of {rule_id} are invalid: {listed}")
    return parsed


def run_rule(ctx: GradingContext, rule: RuleType) -> RuleResult:
    """Run one PDPO rule (with the scenario's settings of it); an exception gives status error."""
    try:
        if rule.params_model is None:
            outcome = rule.func(ctx)
        else:
            outcome = rule.func(ctx, _rule_settings(ctx, rule.rule_id, rule.params_model))
        if not isinstance(outcome, RuleOutcome):
            raise TypeError(f"rule returned {type(outcome).__name__}, not RuleOutcome")
    except Exception as exc:  # one broken rule must not hide the others' findings
        _recover(ctx)
        template = N_("The rule could not be evaluated: %(error)s (at %(where)s)")
        values = {"error": f"{type(exc).__name__}: {exc}", "where": _where(exc)}
        return RuleResult(
            rule.rule_id,
            rule.title,
            rule.basis,
            rule.severity,
            Status.ERROR,
            fill(template, values),
            reason_template=template,
            reason_values=values,
        )
    findings = tuple(
        Finding(
            rule.rule_id,
            rule.title,
            rule.basis,
            rule.severity,
            b.message,
            b.event_ids,
            b.records,
            template=b.template,
            values=b.values,
        )
        for b in outcome.breaches
    )
    return RuleResult(
        rule.rule_id,
        rule.title,
        rule.basis,
        rule.severity,
        outcome.status,
        outcome.reason,
        findings,
        reason_template=outcome.template,
        reason_values=outcome.values,
    )


def run_rules(ctx: GradingContext) -> tuple[RuleResult, ...]:
    """Run every registered PDPO rule, in rule-id order."""
    return tuple(run_rule(ctx, rule) for _, rule in PDPO_RULES.items())


# --- items ------------------------------------------------------------------------------------


def grade_item(item: Item, answers: Mapping[str, Any], unit: Unit | None = None) -> ItemResult:
    """Grade one item: choice items automatically, written items left for review."""
    requirements = tuple(_local_pr(unit, r) for r in item.requirements)
    answer = answers.get(item.id)
    if isinstance(item, WrittenItem):
        max_score = float(sum(c.points for c in item.rubric))
        text = answer if isinstance(answer, str) else None
        if text is None or not text.strip():
            status, message = Status.FAIL, N_("No answer was given.")
        else:
            status, message = Status.NEEDS_REVIEW, N_("Your answer will be scored by an assessor.")
        return ItemResult(item.id, item.kind, status, 0.0, max_score, text, message, requirements)
    shown: str | list[str] | None
    if isinstance(item, SingleChoiceItem):
        shown = answer if isinstance(answer, str) else None
        ok = shown == item.answer
    else:
        shown = [str(a) for a in answer] if isinstance(answer, list | tuple) else None
        ok = shown is not None and sorted(shown) == sorted(set(item.answers))
    if shown is None:
        message = N_("No answer was given.")
    else:
        message = item.feedback.pass_ if ok else item.feedback.fail
    status = Status.PASS if ok else Status.FAIL
    score = 1.0 if ok else 0.0
    return ItemResult(item.id, item.kind, status, score, 1.0, shown, message, requirements)


def _apply_rubric(item: WrittenItem, result: ItemResult, scores: Mapping[str, float]) -> ItemResult:
    """Score a written item from the assessor's points per rubric criterion."""
    criteria = {c.id: c.points for c in item.rubric}
    unknown = sorted(set(scores) - set(criteria))
    if unknown:
        raise ValueError(f"item {item.id}: unknown rubric criteria {', '.join(unknown)}")
    for criterion, points in scores.items():
        if not 0 <= points <= criteria[criterion]:
            raise ValueError(
                f"item {item.id}: {criterion} takes 0 to {criteria[criterion]} points, not {points}"
            )
    total = float(sum(scores.values()))
    if set(scores) != set(criteria):
        status, message = Status.NEEDS_REVIEW, N_("Your answer is being scored by an assessor.")
    elif total >= WRITTEN_PASS_MARK * result.max_score:
        status, message = Status.PASS, "Scored by an assessor: the answer meets the standard."
    else:
        status, message = Status.FAIL, "Scored by an assessor: the answer does not yet meet it."
    return ItemResult(
        result.item_id,
        result.kind,
        status,
        total,
        result.max_score,
        result.answer,
        message,
        result.requirements,
    )


# --- roll-up ----------------------------------------------------------------------------------

_ALLOWED = {
    "check": {Status.PASS.value, Status.FAIL.value, Status.NOT_APPLICABLE.value},
    "item": {Status.PASS.value, Status.FAIL.value},
    "pdpo": {Status.PASS.value, Status.FAIL.value, Status.NOT_APPLICABLE.value},
    "pr": {s.value for s in RequirementStatus},
}


def _overrides(
    overrides: Overrides | None, automatic: Mapping[str, str]
) -> dict[str, AppliedOverride]:
    """Validate overrides against the known targets and keep each beside its automatic value."""
    applied: dict[str, AppliedOverride] = {}
    for target, value in (overrides or {}).items():
        if isinstance(value, Mapping):
            status, reason = str(value.get("status", "")), str(value.get("reason", ""))
        else:
            status, reason = str(value), ""
        kind = target.partition(":")[0]
        if target not in automatic or kind not in _ALLOWED:
            raise ValueError(f"override of unknown target {target!r}")
        if status not in _ALLOWED[kind]:
            allowed = ", ".join(sorted(_ALLOWED[kind]))
            raise ValueError(f"override of {target}: status must be one of {allowed}")
        applied[target] = AppliedOverride(target, automatic[target], status, reason)
    return applied


def _pr_order(unit: Unit | None, ids: Collection[str]) -> list[str]:
    leaf_order = list(unit.leaf_ids()) if unit is not None else []
    known = [pr for pr in leaf_order if pr in ids]
    return known + sorted(set(ids) - set(leaf_order))


def roll_up(
    unit: Unit | None,
    scenario: Scenario,
    checks: Sequence[CheckResult],
    items: Sequence[ItemResult],
    pdpo: Sequence[RuleResult],
    overrides: Overrides | None = None,
    rubric_scores: RubricScores | None = None,
    *,
    grader_version: str = GRADER_VERSION,
) -> GradingResult:
    """Roll results up to PRs and a verdict, applying rubric scores and assessor overrides.

    A PR is demonstrated when every check and item naming it passes; a failure makes it not
    demonstrated; otherwise an item awaiting review or a check in error makes it pending. A
    failing high or critical PDPO rule counts as a failure of every PR the scenario maps PDPO
    breaches to (``pdpo.requirements``), and the PR names the rule. The verdict: a failing
    critical rule -> not yet competent, whatever else passed; else a PR not demonstrated -> not
    yet competent; else anything pending, a rule in error or a failing high rule -> pending
    review (an assessor decides; overriding the rule to pass lifts it); else competent. Medium
    and low findings are listed for the assessor and do not decide.
    """
    scenario_items = {i.id: i for i in scenario.items}
    scored = []
    for result in items:
        scores = (rubric_scores or {}).get(result.item_id)
        item = scenario_items.get(result.item_id)
        if scores is not None and isinstance(item, WrittenItem):
            result = _apply_rubric(item, result, scores)
        scored.append(result)
    unknown_scores = sorted(set(rubric_scores or {}) - {i.item_id for i in scored})
    if unknown_scores:
        raise ValueError(f"rubric scores for unknown items: {', '.join(unknown_scores)}")

    # A check or item naming a point ("2.7.2") counts for the point's leaf ("2.7").
    by_pr: dict[str, tuple[list[str], list[str]]] = {}
    for c in checks:
        for pr in dict.fromkeys(leaf_id_of(ref) for ref in c.requirements):
            by_pr.setdefault(pr, ([], []))[0].append(c.check_id)
    for i in scored:
        for pr in dict.fromkeys(leaf_id_of(ref) for ref in i.requirements):
            by_pr.setdefault(pr, ([], []))[1].append(i.item_id)
    breach_prs = {leaf_id_of(_local_pr(unit, ref)) for ref in scenario.pdpo.requirements}
    for pr in breach_prs:
        by_pr.setdefault(pr, ([], []))

    automatic: dict[str, str] = {f"check:{c.check_id}": c.status.value for c in checks}
    automatic |= {f"item:{i.item_id}": i.status.value for i in scored}
    automatic |= {f"pdpo:{r.rule_id}": r.status.value for r in pdpo}
    wanted = dict(overrides or {})
    pr_wanted = {t: v for t, v in wanted.items() if t.startswith("pr:")}
    applied = _overrides({t: v for t, v in wanted.items() if t not in pr_wanted}, automatic)

    def status_of(target: str) -> str:
        return applied[target].status if target in applied else automatic[target]

    failing_rules = [r for r in pdpo if status_of(f"pdpo:{r.rule_id}") == Status.FAIL.value]
    critical = [r for r in failing_rules if r.severity is Severity.CRITICAL]
    high = [r for r in failing_rules if r.severity is Severity.HIGH]
    serious = [r for r in failing_rules if r.severity in _SERIOUS]
    broken_rules = [r for r in pdpo if status_of(f"pdpo:{r.rule_id}") == Status.ERROR.value]

    rolled: dict[str, tuple[RequirementStatus, list[str], list[str]]] = {}
    for pr, (check_ids, item_ids) in by_pr.items():
        targets = [*(f"check:{c}" for c in check_ids), *(f"item:{i}" for i in item_ids)]
        failed = [t for t in targets if status_of(t) == Status.FAIL.value]
        if pr in breach_prs:
            failed += [f"pdpo:{r.rule_id}" for r in serious]
        waiting = [
            t for t in targets if status_of(t) in (Status.ERROR.value, Status.NEEDS_REVIEW.value)
        ]
        if failed:
            rolled[pr] = (RequirementStatus.NOT_DEMONSTRATED, failed, waiting)
        elif waiting:
            rolled[pr] = (RequirementStatus.PENDING_REVIEW, failed, waiting)
        else:
            rolled[pr] = (RequirementStatus.DEMONSTRATED, failed, waiting)
    applied |= _overrides(pr_wanted, {f"pr:{pr}": r[0].value for pr, r in rolled.items()})

    reasons: list[str] = []
    notes: list[dict[str, Any]] = []

    def say(template: str, **values: Any) -> None:
        reasons.append(fill(template, values))
        notes.append({"template": template, "values": values})

    for r in critical:
        say(
            N_("Critical PDPO breach %(rule)s (%(basis)s, %(title)s): %(first)s"),
            rule=r.rule_id,
            basis=r.basis,
            title=r.title,
            first=_first(r),
        )
    for r in high:
        say(
            N_("High PDPO finding %(rule)s (%(basis)s, %(title)s): %(first)s"),
            rule=r.rule_id,
            basis=r.basis,
            title=r.title,
            first=_first(r),
        )
    requirements: list[RequirementResult] = []
    for pr in _pr_order(unit, by_pr):
        status, failed, waiting = rolled[pr]
        if f"pr:{pr}" in applied:
            status = RequirementStatus(applied[f"pr:{pr}"].status)
        elif status is RequirementStatus.NOT_DEMONSTRATED:
            say(
                N_("PR %(pr)s not demonstrated: %(targets)s failed."),
                pr=pr,
                targets=_targets(failed),
            )
        elif status is RequirementStatus.PENDING_REVIEW:
            if len(waiting) == 1:
                template = N_("PR %(pr)s awaits review: %(targets)s needs an assessor.")
            else:
                template = N_("PR %(pr)s awaits review: %(targets)s need an assessor.")
            say(template, pr=pr, targets=_targets(waiting))
        check_ids, item_ids = by_pr[pr]
        rule_ids = tuple(r.rule_id for r in serious) if pr in breach_prs else ()
        requirements.append(
            RequirementResult(pr, status, tuple(check_ids), tuple(item_ids), rule_ids)
        )
    for r in broken_rules:
        say(
            N_("PDPO rule %(rule)s could not be evaluated; an assessor must review."),
            rule=r.rule_id,
        )

    statuses = {r.status for r in requirements}
    if critical:
        verdict = Verdict.NOT_YET_COMPETENT
    elif RequirementStatus.NOT_DEMONSTRATED in statuses:
        verdict = Verdict.NOT_YET_COMPETENT
    elif RequirementStatus.PENDING_REVIEW in statuses or broken_rules or high:
        verdict = Verdict.PENDING_REVIEW
        if high:
            say(
                N_(
                    "A high PDPO finding (%(rules)s) keeps the attempt from an automatic"
                    ' "competent": an assessor must decide (overriding the rule to pass lifts it).'
                ),
                rules=", ".join(r.rule_id for r in high),
            )
    else:
        verdict = Verdict.COMPETENT
        say(
            N_(
                "Every performance requirement assessed was demonstrated, with no critical or high"
                " PDPO finding."
            )
        )
    minor = [r for r in failing_rules if r.severity not in _SERIOUS]
    if minor:
        listed = listing(
            [
                message(N_("%(rule)s (%(severity)s)"), rule=r.rule_id, severity=r.severity.value)
                for r in minor
            ],
            style="comma",
        )
        say(N_("Medium and low PDPO findings for the assessor: %(rules)s."), rules=listed)
    for target, o in applied.items():
        values = {"target": target, "automatic": o.automatic or "-", "status": o.status}
        if o.reason:
            template = N_("Assessor override of %(target)s: %(automatic)s -> %(status)s: %(why)s.")
            say(template, **values, why=o.reason)
        else:
            say(N_("Assessor override of %(target)s: %(automatic)s -> %(status)s."), **values)

    return GradingResult(
        scenario_id=scenario.id,
        unit_code=unit.code if unit is not None else scenario.unit,
        checks=tuple(checks),
        items=tuple(scored),
        pdpo=tuple(pdpo),
        requirements=tuple(requirements),
        verdict=verdict,
        reasons=tuple(reasons),
        grader_version=grader_version,
        overridden=applied,
        reason_notes=tuple(notes),
    )


# The severities as reasons name them, marked so that they are translated.
SEVERITY_WORDS = (N_("critical"), N_("high"), N_("medium"), N_("low"))

_SERIOUS = frozenset({Severity.CRITICAL, Severity.HIGH})
"""Severities that decide: a failing rule of these counts against the scenario's breach PRs."""


def _first(rule: RuleResult) -> dict[str, Any]:
    """A failing rule's first finding (and how many more), or its reason, as a message."""
    if not rule.findings:
        return message(rule.reason_template or rule.reason, **rule.reason_values)
    first = rule.findings[0]
    found = message(first.template or first.message, **first.values)
    more = len(rule.findings) - 1
    return (
        message(N_("%(finding)s (and %(more)d more)"), finding=found, more=more) if more else found
    )


def _targets(targets: Sequence[str]) -> str:
    return ", ".join(t.replace(":", " ", 1) for t in targets)


# --- the whole attempt ------------------------------------------------------------------------


def grade_attempt(
    *,
    scenario: Scenario,
    unit: Unit,
    template: Session,
    final: Session,
    deliverables: Mapping[str, int],
    answers: Mapping[str, Any],
    trainee_staff_id: int,
    as_of: date | None = None,
    overrides: Overrides | None = None,
    rubric_scores: RubricScores | None = None,
) -> GradingResult:
    """Grade an attempt: its checks, items and every PDPO rule, rolled up to PRs and a verdict."""
    load_builtin()
    with read_only(template, final):
        ctx = GradingContext.build(
            template=template,
            final=final,
            deliverables=deliverables,
            answers=answers,
            scenario=scenario,
            trainee_staff_id=trainee_staff_id,
            as_of=as_of,
        )
        checks = tuple(run_check(ctx, spec, unit) for spec in scenario.checks)
        pdpo = run_rules(ctx)
    items = tuple(grade_item(item, answers, unit) for item in scenario.items)
    return roll_up(unit, scenario, checks, items, pdpo, overrides, rubric_scores)
