"""Assessors' pages: the queue of graded attempts, the evidence, overrides, rubric and decision.

Centre admins may open the same pages read-only. Every POST is for assessors of the trainee's
centre; none of them opens the sandbox for writing or changes the stored grading result. The
forms carry the CSRF token by hand (their fields depend on the scenario); CSRFProtect checks it
before any of these views runs, and the review service validates every field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from graders.definitions import MultipleChoiceItem, SingleChoiceItem, Unit
from graders.results import GradingResult
from sandbox_crm.areas import record_pages
from training_platform import regrade_service, sandboxes
from training_platform import review_service as service
from training_platform.db import get_session
from training_platform.models import Attempt, Decision, OverrideTarget, Role
from training_platform.navigation import add_nav_item
from training_platform.pagination import paginate
from training_platform.security import role_required

bp = Blueprint("review", __name__, url_prefix="/review")
add_nav_item(
    bp,
    "review.queue",
    "Review queue",
    roles=(Role.ASSESSOR, Role.CENTRE_ADMIN),
    section="Assessment",
    order=30,
)

READERS = (Role.ASSESSOR, Role.CENTRE_ADMIN)
PER_PAGE = 25
LIST_PREVIEW = 12
TABLE_PREVIEW = 10

# Sandbox tables whose records have a page in the CRM, and the endpoint argument naming the id.
RECORD_PAGES = record_pages()  # each CRM area names the page that shows one of its records


# --- presenting evidence -----------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceRow:
    """One key of an evidence mapping, made readable: text, nested rows, or a small table."""

    label: str
    text: str = ""
    count: int | None = None
    rows: tuple[EvidenceRow, ...] = ()
    headers: tuple[str, ...] = ()
    cells: tuple[tuple[str, ...], ...] = ()
    more: int = 0


def _label(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _list_text(values: Sequence[Any]) -> str:
    shown = ", ".join(service.short_text(v, 60) for v in values[:LIST_PREVIEW])
    if len(values) > LIST_PREVIEW:
        shown += f", … and {len(values) - LIST_PREVIEW} more"
    return shown or "none"


def _table_row(label: str, values: Sequence[Mapping[str, Any]]) -> EvidenceRow:
    """A list of mappings as a small table: one column per key, the first rows only."""
    headers: list[str] = []
    for value in values:
        headers += [str(key) for key in value if str(key) not in headers]
    shown = values[:TABLE_PREVIEW]
    cells = tuple(tuple(service.short_text(value.get(h), 60) for h in headers) for value in shown)
    return EvidenceRow(
        label,
        count=len(values),
        headers=tuple(_label(h) for h in headers),
        cells=cells,
        more=len(values) - len(shown),
    )


def evidence_rows(evidence: Mapping[str, Any], depth: int = 0) -> tuple[EvidenceRow, ...]:
    """An evidence mapping as label/value rows: lists shortened with counts, mappings nested."""
    rows: list[EvidenceRow] = []
    for key, value in evidence.items():
        label = _label(str(key))
        if isinstance(value, Mapping) and value and depth < 2:
            rows.append(EvidenceRow(label, rows=evidence_rows(value, depth + 1)))
        elif (
            isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value)
        ):
            rows.append(_table_row(label, value))
        elif isinstance(value, list | tuple):
            rows.append(EvidenceRow(label, text=_list_text(value), count=len(value)))
        else:
            rows.append(EvidenceRow(label, text=service.short_text(value)))
    return tuple(rows)


def _record_link(table: str, record_id: int, attempt_id: int) -> str | None:
    page = RECORD_PAGES.get(table)
    if page is None or page[0] not in current_app.view_functions:
        return None
    return url_for(page[0], attempt_id=attempt_id, **{page[1]: record_id})


@dataclass(frozen=True)
class ChoiceView:
    """A choice item's options, the trainee's choice and the right answer."""

    chosen: tuple[str, ...]
    correct: tuple[str, ...]
    options: tuple[tuple[str, str], ...]


@dataclass
class RequirementView:
    """One PR leaf with the checks and items that assess it."""

    pr_id: str
    group: str
    text: str
    automatic: str | None
    effective: str | None
    override: Any
    checks: list[Any] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    see_also: list[tuple[str, str, str]] = field(default_factory=list)


def _place(
    view: RequirementView,
    shown: set[str],
    kind: str,
    target_ids: Sequence[str],
    lookup: Callable[[str], Any],
    full: list[Any],
) -> None:
    """Put each check or item in full under its first PR; later PRs only point back to it."""
    for target_id in target_ids:
        found = lookup(target_id)
        if found is None:
            continue
        key = f"{kind}:{target_id}"
        if key in shown:
            view.see_also.append((kind, target_id, found.status.value))
        else:
            shown.add(key)
            full.append(found)


def _requirements(
    unit: Unit, automatic: GradingResult, effective: GradingResult
) -> list[RequirementView]:
    """Every PR leaf in unit order; each check and item is shown in full under its first PR."""
    auto_by_pr = {r.pr_id: r for r in automatic.requirements}
    eff_by_pr = {r.pr_id: r for r in effective.requirements}
    shown: set[str] = set()
    views: list[RequirementView] = []
    for group in unit.performance_requirements:
        for leaf in group.items:
            auto = auto_by_pr.get(leaf.id) or auto_by_pr.get(unit.full_id(leaf.id))
            eff = eff_by_pr.get(leaf.id) or eff_by_pr.get(unit.full_id(leaf.id))
            view = RequirementView(
                pr_id=leaf.id,
                group=group.title,
                text=leaf.text,
                automatic=auto.status.value if auto else None,
                effective=eff.status.value if eff else None,
                override=effective.overridden.get(service.target_key("requirement", leaf.id)),
            )
            source = eff or auto
            if source is not None:
                _place(view, shown, "check", source.check_ids, automatic.check, view.checks)
                _place(view, shown, "item", source.item_ids, automatic.item, view.items)
            views.append(view)
    return views


def _choice_view(item: Any, answer: Any) -> ChoiceView | None:
    if isinstance(item, SingleChoiceItem):
        correct: tuple[str, ...] = (item.answer,)
    elif isinstance(item, MultipleChoiceItem):
        correct = tuple(item.answers)
    else:
        return None
    if answer is None:
        chosen: tuple[str, ...] = ()
    elif isinstance(answer, list | tuple):
        chosen = tuple(str(a) for a in answer)
    else:
        chosen = (str(answer),)
    return ChoiceView(chosen, correct, tuple((o.id, o.text) for o in item.options))


def _evidence_context(attempt: Attempt, **extra: Any) -> dict[str, Any]:
    """Everything the evidence page shows about an attempt."""
    session = get_session()
    record = service.latest_grade_record(session, attempt)
    if record is None:
        abort(404)
    automatic = service.automatic_result(session, attempt)
    effective = service.effective_result(session, attempt)
    unit = service.unit_of(attempt)
    scenario = service.scenario_of(attempt)
    review = attempt.review
    timeline_problem = ""
    try:
        timeline = service.action_timeline(sandboxes.get_store(), attempt)
    except service.TemplateGone:
        timeline = None
        timeline_problem = (
            "The template this attempt's sandbox was cloned from is no longer on disk, so the "
            "trainee's own actions cannot be told apart from the generated data."
        )
    except service.SandboxGone:
        timeline = None
    finding_events = {e for f in automatic.findings() for e in f.event_ids}
    items = {item.id: item for item in scenario.items}
    choices = {
        item_id: _choice_view(item, (attempt.answers or {}).get(item_id))
        for item_id, item in items.items()
    }
    rules = sorted(automatic.pdpo, key=lambda r: r.rule_id)
    failed = [
        r
        for r in rules
        if str(r.status) in ("fail", "error") or f"pdpo:{r.rule_id}" in effective.overridden
    ]
    return {
        "attempt": attempt,
        "record": record,
        "automatic": automatic,
        "effective": effective,
        "unit": unit,
        "scenario": scenario,
        "review": review,
        "requirements": _requirements(unit, automatic, effective),
        "scenario_items": items,
        "choices": choices,
        "rubric_points": service.rubric_points(review),
        "rubric_comments": {
            (s.item_id, s.criterion_id): s.comment for s in (review.rubric_scores if review else ())
        },
        "pdpo_failed": failed,
        "pdpo_not_applicable": [
            r for r in rules if str(r.status) == "not_applicable" and r not in failed
        ],
        "pdpo_passed": [r for r in rules if str(r.status) == "pass" and r not in failed],
        "pdpo_other_targets": [(r.rule_id, r.title) for r in rules if r not in failed],
        "timeline": timeline,
        "timeline_problem": timeline_problem,
        "variant": service.variant_label(attempt),
        "finding_events": finding_events,
        "record_link": lambda table, rid: _record_link(table, rid, attempt.id),
        "evidence_rows": evidence_rows,
        "override_statuses": {k.value: v for k, v in service.OVERRIDE_STATUSES.items()},
        "can_change": service.can_change(current_user, attempt),
        "crm_url": (
            url_for("crm.home", attempt_id=attempt.id)
            if "crm.home" in current_app.view_functions
            else None
        ),
        "history": sorted(review.overrides, key=lambda o: o.id) if review else [],
        "min_reason": service.MIN_REASON_CHARS,
        "decisions": [(d.value, d.value.replace("_", " ").capitalize()) for d in Decision],
        "errors": {},
        "values": {},
        **extra,
    }


def _attempt_or_404(attempt_id: int) -> Attempt:
    try:
        return service.reviewable_attempt(get_session(), current_user, attempt_id)
    except service.AttemptNotFound:
        abort(404)


def _fields_named(prefix: str) -> dict[str, str]:
    """The posted fields named "<prefix><id>", by id (one per rubric criterion)."""
    return {
        key.removeprefix(prefix): value
        for key, value in request.form.items()
        if key.startswith(prefix)
    }


def _refused(attempt: Attempt, key: str, error: service.ReviewError, values: dict) -> Any:
    """Roll back, and show the evidence page again with the problems beside the form (400)."""
    get_session().rollback()
    context = _evidence_context(attempt, errors={key: error.problems}, values={key: values})
    return render_template("review/attempt.html", **context), 400


# --- views -------------------------------------------------------------------------------------


@bp.get("")
@role_required(*READERS)
def queue():
    """Graded attempts of the centre's trainees: awaiting a decision, decided, or all."""
    state = request.args.get("state", "awaiting")
    state = state if state in service.QUEUE_STATES else "awaiting"
    sort = request.args.get("sort", "submitted")
    sort = sort if sort in service.QUEUE_SORTS else "submitted"
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    page_number = request.args.get("page", 1, type=int) or 1
    session = get_session()
    page = paginate(
        session,
        service.queue_query(current_user.centre_id, state=state, sort=sort, direction=direction),
        page_number,
        PER_PAGE,
    )
    grades = service.latest_grade_records(session, (a.id for a in page.items))
    return render_template(
        "review/queue.html",
        page=page,
        grades=grades,
        state=state,
        sort=sort,
        direction=direction,
        states=[("awaiting", "Awaiting decision"), ("decided", "Decided"), ("all", "All")],
    )


@bp.get("/attempts/<int:attempt_id>")
@role_required(*READERS)
def attempt(attempt_id: int):
    """The evidence of one attempt, with the assessor's forms when it is still undecided."""
    found = _attempt_or_404(attempt_id)
    return render_template("review/attempt.html", **_evidence_context(found))


@bp.get("/attempts/<int:attempt_id>/regrade-preview")
@role_required(*READERS)
def regrade_preview(attempt_id: int):
    """What grading the attempt again under the current graders would change (stores nothing)."""
    found = _attempt_or_404(attempt_id)
    preview = regrade_service.preview_regrade(get_session(), found)
    return render_template(
        "review/regrade_preview.html",
        attempt=found,
        preview=preview,
        variant=service.variant_label(found),
    )


@bp.post("/attempts/<int:attempt_id>/overrides")
@role_required(Role.ASSESSOR)
def override(attempt_id: int):
    """Override one automatic status, keeping it beside the new one with the reason."""
    found = _attempt_or_404(attempt_id)
    target = request.form.get("target", "")
    values = {
        "target": target,
        "status": request.form.get("status", ""),
        "reason": request.form.get("reason", ""),
    }
    wanted = service.OverrideRequest(target, values["status"], values["reason"])
    try:
        service.record_overrides(get_session(), current_user, found, [wanted])
    except service.ReviewError as error:
        # The page has one form per target, plus one to choose a rule: answer beside the one used.
        key = request.form.get("form_key", "")
        if not key.startswith("override:") or len(key) > 200:
            key = f"override:{target}"
        return _refused(found, key, error, values)
    get_session().commit()
    flash(f'Override recorded: {target.replace(":", " ")} is now "{wanted.status}".', "success")
    return redirect(
        url_for("review.attempt", attempt_id=found.id, _anchor=_anchor(wanted.kind, target))
    )


def _anchor(kind: str, target: str) -> str:
    return {
        OverrideTarget.CHECK.value: "check-",
        OverrideTarget.ITEM.value: "item-",
        OverrideTarget.PDPO.value: "rule-",
        OverrideTarget.REQUIREMENT.value: "pr-",
    }.get(kind, "") + target.partition(":")[2]


@bp.post("/attempts/<int:attempt_id>/rubric/<item_id>")
@role_required(Role.ASSESSOR)
def score(attempt_id: int, item_id: str):
    """Score a written answer against its rubric (points per criterion and comments)."""
    found = _attempt_or_404(attempt_id)
    points = _fields_named("points-")
    comments = _fields_named("comment-")
    try:
        service.score_rubric(get_session(), current_user, found, item_id, points, comments)
    except service.ReviewError as error:
        values = {"points": points, "comments": comments}
        return _refused(found, f"rubric:{item_id}", error, values)
    get_session().commit()
    flash(f'Rubric scores saved for "{item_id}".', "success")
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor=f"item-{item_id}"))


@bp.post("/attempts/<int:attempt_id>/decision")
@role_required(Role.ASSESSOR)
def decide(attempt_id: int):
    """Record the unit decision; the attempt is then decided and its review closed."""
    found = _attempt_or_404(attempt_id)
    values = {
        "decision": request.form.get("decision", ""),
        "comment": request.form.get("comment", ""),
    }
    try:
        review = service.record_decision(
            get_session(), current_user, found, values["decision"], values["comment"]
        )
    except service.ReviewError as error:
        return _refused(found, "decision", error, values)
    get_session().commit()
    label = "competent" if review.decision == Decision.COMPETENT else "not yet competent"
    flash(f"Decision recorded: {label}.", "success")
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor="decision"))
