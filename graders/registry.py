"""Registries of check types and PDPO rules, each keyed by a stable dotted name.

Both are ``sandbox_crm.registry.Registry`` instances. Modules register their entries at import
time with the ``check`` and ``rule`` decorators;
``load_builtin`` imports the explicit list of built-in modules. Registering a name twice is an
error, so two modules can never silently replace each other's check. ``isolated`` swaps the
registries' contents for a test and restores them afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from graders.results import Severity
from sandbox_crm.registry import DuplicateNameError, Registry, UnknownNameError

if TYPE_CHECKING:
    from graders.context import GradingContext
    from graders.pdpo.base import RuleOutcome
    from graders.results import Outcome

__all__ = [
    "BUILTIN_MODULES",
    "CHECKS",
    "PDPO_RULES",
    "CheckFunc",
    "CheckType",
    "DuplicateNameError",
    "Registry",
    "RuleFunc",
    "RuleType",
    "UnknownNameError",
    "check",
    "isolated",
    "load_builtin",
    "rule",
]

CHECK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""A check name: lower-case dotted words, e.g. ``report.rows_match`` (as scenarios write it)."""

RULE_ID_PATTERN = re.compile(r"^[A-Z]+-[0-9]{2}$")
"""A PDPO rule id as in the rulebook's table, e.g. ``DM-06``."""

BUILTIN_MODULES: tuple[str, ...] = (
    "graders.checks.report",
    "graders.checks.access",
    "graders.checks.events",
    "graders.checks.export",
    "graders.checks.state",
    "graders.checks.record",
    "graders.checks.campaign",
    "graders.checks.security",
    "graders.checks.eshop",
    "graders.checks.collection",
    "graders.checks.control",
    "graders.pdpo.direct_marketing",
    "graders.pdpo.collection",
    "graders.pdpo.security",
    "graders.pdpo.others",
    "graders.pdpo.service",
    "graders.pdpo.requests",
    "graders.checks.service",
    "graders.checks.sales",
    "graders.checks.requests",
)
"""Every module that registers built-in checks and rules; add a new module here to load it."""


CheckFunc = Callable[["GradingContext", Any], "Outcome"]
RuleFunc = Callable[..., "RuleOutcome"]
"""A rule function: ``func(ctx)``, or ``func(ctx, params)`` for a rule with a parameter model."""


@dataclass(frozen=True)
class CheckType:
    """A registered check type: its name, function, parameter model and description."""

    name: str
    func: CheckFunc
    params_model: type[BaseModel]
    description: str


@dataclass(frozen=True)
class RuleType:
    """A registered PDPO rule: id, title, legal basis, severity, function and description.

    A rule with ``params_model`` takes settings a scenario may give it (``pdpo.rules``); its
    function is called with the parsed settings, or the model's defaults, as second argument.
    """

    rule_id: str
    title: str
    basis: str
    severity: Severity
    func: RuleFunc
    description: str
    params_model: type[BaseModel] | None = None

    @property
    def name(self) -> str:
        """The registry key, e.g. ``pdpo.DM-06``."""
        return rule_key(self.rule_id)


CHECKS: Registry[CheckType] = Registry("check type", BUILTIN_MODULES)
PDPO_RULES: Registry[RuleType] = Registry("PDPO rule", BUILTIN_MODULES)


def rule_key(rule_id: str) -> str:
    """Return the registry key of a rule id: ``DM-06`` -> ``pdpo.DM-06``."""
    return f"pdpo.{rule_id}"


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].strip() if (doc or "").strip() else ""


def check(name: str, *, params: type[BaseModel]) -> Callable[[CheckFunc], CheckFunc]:
    """Decorator registering a check function under ``name`` with its parameter model."""
    if not CHECK_NAME_PATTERN.match(name):
        raise ValueError(f"check name {name!r} must be dotted lower-case words")
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise TypeError(f"params of check {name!r} must be a pydantic model class")

    def decorate(func: CheckFunc) -> CheckFunc:
        CHECKS.add(name, CheckType(name, func, params, _first_line(func.__doc__)))
        return func

    return decorate


def rule(
    rule_id: str,
    *,
    title: str,
    basis: str,
    severity: Severity | str,
    description: str | None = None,
    params: type[BaseModel] | None = None,
) -> Callable[[RuleFunc], RuleFunc]:
    """Decorator registering a PDPO rule function as ``pdpo.<rule_id>``, with its settings model."""
    if not RULE_ID_PATTERN.match(rule_id):
        raise ValueError(f"rule id {rule_id!r} must look like DM-06")
    if params is not None and not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise TypeError(f"params of rule {rule_id!r} must be a pydantic model class")
    level = Severity(severity)

    def decorate(func: RuleFunc) -> RuleFunc:
        text = description or _first_line(func.__doc__) or title
        entry = RuleType(rule_id, title, basis, level, func, text, params)
        PDPO_RULES.add(rule_key(rule_id), entry)
        return func

    return decorate


def load_builtin() -> None:
    """Import every module in BUILTIN_MODULES (a module already imported is not re-run)."""
    CHECKS.load()


@contextmanager
def isolated(*, empty: bool = False) -> Iterator[tuple[Registry[CheckType], Registry[RuleType]]]:
    """Give a test its own copy of both registries (or empty ones) and restore them on exit."""
    with CHECKS.isolated(empty=empty), PDPO_RULES.isolated(empty=empty):
        yield CHECKS, PDPO_RULES
