"""The assessor's evidence page as a view: the results, answers, findings and timeline of one
attempt, arranged the way the page shows them.

Everything here reads; nothing changes data. Links (to the CRM and its records) are the
blueprint's business, since they need the app's URL map: ``RECORD_PAGES`` says which sandbox
tables have a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from graders.definitions import MultipleChoiceItem, SingleChoiceItem, Unit
from graders.results import GradingResult
from sandbox_crm.areas import record_pages
from sandbox_crm.i18n import N_
from sandbox_crm.store import SandboxStore
from training_platform.attempts_service import variant_label
from training_platform.definitions_store import scenario_of, unit_of
from training_platform.i18n import translated
from training_platform.models import Attempt, Decision
from training_platform.results_service import (
    automatic_result,
    effective_result,
    latest_grade_record,
    rubric_points,
    target_key,
)
from training_platform.review_service import (
    MIN_REASON_CHARS,
    OVERRIDE_STATUSES,
    SandboxGone,
    TemplateGone,
    action_timeline,
    short_text,
)

LIST_PREVIEW = 12
TABLE_PREVIEW = 10

TEMPLATE_GONE = (
    "The template this attempt's sandbox was cloned from is no longer on disk, so the "
    "trainee's own actions cannot be told apart from the generated data."
)
SANDBOX_DAMAGED = (
    "This attempt's sandbox (or its template) cannot be opened: its data file is damaged, so "
    "the trainee's actions cannot be shown. The result is kept."
)

# Sandbox tables whose records have a page in the CRM, and the endpoint argument naming the id.
RECORD_PAGES = record_pages()  # each CRM area names the page that shows one of its records


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


# Evidence keys the built-in checks use, as the evidence table names them (marked so that they
# are translated); other keys show as written, spaced and capitalised.
EVIDENCE_LABELS = (
    N_("Added"),
    N_("Added count"),
    N_("After"),
    N_("As of"),
    N_("Attempt events"),
    N_("Bad exports"),
    N_("Can export"),
    N_("Change"),
    N_("Changed"),
    N_("Changed count"),
    N_("Changes"),
    N_("Columns"),
    N_("Constraints"),
    N_("Customer count"),
    N_("Customer id"),
    N_("Deleted"),
    N_("Deleted count"),
    N_("Department"),
    N_("Deliverable"),
    N_("Destination"),
    N_("Either way count"),
    N_("Either way included"),
    N_("Encrypted"),
    N_("Error"),
    N_("Event id"),
    N_("Event ids"),
    N_("Expected"),
    N_("Expected count"),
    N_("Expected source"),
    N_("Export allowed"),
    N_("Export count"),
    N_("Export id"),
    N_("Exports"),
    N_("Extra"),
    N_("First after event id"),
    N_("First event id"),
    N_("For department"),
    N_("Forbidden present"),
    N_("Found"),
    N_("Found count"),
    N_("Found source"),
    N_("Id"),
    N_("Judged on"),
    N_("Listed at most"),
    N_("Matched"),
    N_("Member no"),
    N_("Met"),
    N_("Missing"),
    N_("Missing count"),
    N_("Missing required"),
    N_("Mode"),
    N_("Of this report"),
    N_("Offending"),
    N_("Offending count"),
    N_("Operation"),
    N_("Operations seen"),
    N_("Ordered"),
    N_("Personal data"),
    N_("Problems"),
    N_("Purpose"),
    N_("Reason"),
    N_("Report id"),
    N_("Report rows"),
    N_("Requested count"),
    N_("Required"),
    N_("Right exports"),
    N_("Row count"),
    N_("Shared with"),
    N_("Source"),
    N_("Step"),
    N_("Steps"),
    N_("Table"),
    N_("Tables"),
    N_("Too sensitive"),
    N_("Unexpected"),
    N_("Unexpected count"),
    N_("Unknown departments"),
    N_("Unrequested count"),
    N_("Violating event ids"),
    N_("Where"),
    N_("Wrong export right"),
)


def _label(key: str) -> str:
    """An evidence key as a label, in the reader's language when it is one of EVIDENCE_LABELS."""
    text = key.replace("_", " ").strip()
    return translated(text[:1].upper() + text[1:])


def _list_text(values: Sequence[Any]) -> str:
    shown = ", ".join(short_text(v, 60) for v in values[:LIST_PREVIEW])
    if len(values) > LIST_PREVIEW:
        shown += f", … and {len(values) - LIST_PREVIEW} more"
    return shown or "none"


def _table_row(label: str, values: Sequence[Mapping[str, Any]]) -> EvidenceRow:
    """A list of mappings as a small table: one column per key, the first rows only."""
    headers: list[str] = []
    for value in values:
        headers += [str(key) for key in value if str(key) not in headers]
    shown = values[:TABLE_PREVIEW]
    cells = tuple(tuple(short_text(value.get(h), 60) for h in headers) for value in shown)
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
            rows.append(EvidenceRow(label, text=short_text(value)))
    return tuple(rows)


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
                override=effective.overridden.get(target_key("requirement", leaf.id)),
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


def evidence_page(session: Session, store: SandboxStore, attempt: Attempt) -> dict[str, Any] | None:
    """Everything the evidence page shows about a graded attempt; None before it is graded."""
    record = latest_grade_record(session, attempt)
    if record is None:
        return None
    automatic = automatic_result(session, attempt)
    effective = effective_result(session, attempt)
    unit = unit_of(attempt)
    scenario = scenario_of(attempt)
    review = attempt.review
    timeline_problem = ""
    try:
        timeline = action_timeline(store, attempt)
    except TemplateGone:
        timeline = None
        timeline_problem = TEMPLATE_GONE
    except SandboxGone:
        timeline = None
    except DatabaseError:
        timeline = None
        timeline_problem = SANDBOX_DAMAGED
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
        "point_texts": {point_id: unit.point_text(point_id) for point_id in unit.point_ids()},
        "scenario_items": items,
        "choices": choices,
        "rubric_points": rubric_points(review),
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
        "variant": variant_label(attempt),
        "finding_events": finding_events,
        "evidence_rows": evidence_rows,
        "override_statuses": {k.value: v for k, v in OVERRIDE_STATUSES.items()},
        "history": sorted(review.overrides, key=lambda o: o.id) if review else [],
        "min_reason": MIN_REASON_CHARS,
        "decisions": [(d.value, d.value.replace("_", " ").capitalize()) for d in Decision],
    }
