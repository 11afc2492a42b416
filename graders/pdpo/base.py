"""What a PDPO rule returns, and helpers the rule families share.

A rule function returns a ``RuleOutcome``: ``judged(breaches, scope=...)`` when it examined the
attempt (pass if there is no breach), or ``not_applicable(reason)`` when the sandbox cannot yet
observe what the rule is about. The engine turns each ``Breach`` into a ``Finding`` carrying the
rule's id, title, legal basis and severity, so rule functions do not repeat them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graders.checks.common import column_names
from graders.registry import rule
from graders.results import Status, fill
from sandbox_crm.i18n import N_
from sandbox_crm.models import ReportExport, Sensitivity
from sandbox_crm.sources import SOURCES

__all__ = [
    "MARKETING_DEPARTMENTS",
    "PURPOSE_MIN_LENGTH",
    "Breach",
    "RuleOutcome",
    "breach",
    "export_columns",
    "holds_personal_data",
    "judge_each",
    "judged",
    "mask_hkid",
    "not_applicable",
    "purpose_problem",
    "register_not_applicable",
]

T = TypeVar("T")

PURPOSE_MIN_LENGTH = 10
"""A recorded purpose shorter than this (after trimming) is too vague to state a purpose."""

MARKETING_DEPARTMENTS = frozenset({"marketing", "analytics"})
"""Department codes whose staff must never see HKID numbers or full dates of birth (SEC-01)."""

PERSONAL = frozenset({Sensitivity.PERSONAL.value, Sensitivity.SENSITIVE.value})
"""Field sensitivities that make a file hold personal data."""


@dataclass(frozen=True)
class Breach:
    """One breach found by a rule: a plain-words message, the events and the records involved.

    ``template`` and ``values``, when given, are the message as a marked template and the values
    it is filled in with, so that a page can show it translated (see ``breach``).
    """

    message: str
    event_ids: tuple[int, ...] = ()
    records: tuple[tuple[str, int], ...] = ()
    template: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)


def breach(
    template: str,
    values: Mapping[str, Any],
    event_ids: Sequence[int] = (),
    records: Sequence[tuple[str, int]] = (),
) -> Breach:
    """A breach whose message is ``template`` (marked with ``N_``) filled in with ``values``.

    Values may be nested messages or listings (see ``graders.results``); the page shows them
    in the reader's language.
    """
    return Breach(fill(template, values), tuple(event_ids), tuple(records), template, dict(values))


@dataclass(frozen=True)
class RuleOutcome:
    """What a rule function returns: pass, fail or not_applicable, why, and the breaches.

    ``template`` and ``values`` keep the reason as a marked template, for translated pages.
    """

    status: Status
    reason: str
    breaches: tuple[Breach, ...] = field(default=())
    template: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)


def judged(breaches: Sequence[Breach], *, scope: Mapping[str, Any]) -> RuleOutcome:
    """Pass when there is no breach, else fail; ``scope`` (a ``message``) says what was examined."""
    if not breaches:
        template, values = N_("No breach found in %(scope)s."), {"scope": scope}
        return RuleOutcome(Status.PASS, fill(template, values), (), template, values)
    values = {"count": len(breaches), "scope": scope}
    if len(breaches) == 1:
        template = N_("1 finding in %(scope)s.")
    else:
        template = N_("%(count)d findings in %(scope)s.")
    return RuleOutcome(Status.FAIL, fill(template, values), tuple(breaches), template, values)


def judge_each(
    items: Iterable[T],
    find: Callable[[T], Iterable[Breach]],
    *,
    scope: Mapping[str, Any],
    more: Iterable[Breach] = (),
) -> RuleOutcome:
    """``judged`` on the breaches ``find`` gives on each item, then the ``more`` found otherwise."""
    return judged([*(b for item in items for b in find(item)), *more], scope=scope)


def not_applicable(reason: str, **values: Any) -> RuleOutcome:
    """The rule cannot be judged on this sandbox; ``reason`` (marked) says why, specifically."""
    if not reason.strip():
        raise ValueError("a not-applicable rule must say why")
    return RuleOutcome(Status.NOT_APPLICABLE, fill(reason, values), (), reason, values)


def register_not_applicable(
    rule_id: str, *, title: str, basis: str, severity: str, checks: str, reason: str
) -> None:
    """Register a rule the sandbox cannot observe yet: it always reports ``reason``."""

    def unobservable(ctx: object) -> RuleOutcome:
        return not_applicable(reason)

    unobservable.__name__ = f"rule_{rule_id.replace('-', '_').lower()}"
    unobservable.__doc__ = checks
    rule(rule_id, title=title, basis=basis, severity=severity, description=checks)(unobservable)


def purpose_problem(purpose: str | None) -> str | None:
    """Why a recorded purpose is not acceptable (missing or too short), or None if it is."""
    text = (purpose or "").strip()
    if not text:
        return "no purpose recorded"
    if len(text) < PURPOSE_MIN_LENGTH:
        return f"purpose {text!r} is too vague (under {PURPOSE_MIN_LENGTH} characters)"
    return None


def mask_hkid(value: str) -> str:
    """Show an HKID number's first two characters only, so findings do not spread it."""
    text = value.strip()
    return text[:2] + "*" * max(len(text) - 2, 0)


def export_columns(export: ReportExport) -> list[str]:
    """The field names an export holds (its own column list, else its report's)."""
    return column_names(export.columns) or column_names(export.report.columns)


def holds_personal_data(export: ReportExport) -> bool:
    """Whether an export holds personal data; an unknown field or no column list counts as so.

    Fail safe: a field the source does not describe, or a file whose columns are not recorded,
    is treated as personal data.
    """
    names = export_columns(export)
    source = SOURCES.find(export.report.source)
    fields = source.fields if source is not None else {}
    if not names:
        return True
    return any(n not in fields or fields[n].sensitivity.value in PERSONAL for n in names)
