"""The CRM's feature areas, and the one list of those enabled.

Each area is a package ``sandbox_crm/<name>/`` whose ``__init__`` declares ``AREA``: its
generation stages (with the stages they must follow), the modules that register its models,
operations, report sources, plants, deliverable kinds and views, and how evidence names its
records. Everything that spans areas (the generator, the registries, the grading context, the
CRM's blueprint) reads the areas from here, so adding an area touches its package and
``ENABLED_AREAS``, nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

__all__ = [
    "ENABLED_AREAS",
    "Area",
    "NavLink",
    "Stage",
    "area_modules",
    "area_versions",
    "call_entities",
    "enabled_areas",
    "evidence_detail_keys",
    "evidence_entity_names",
    "finish_steps",
    "load_areas",
    "nav_links",
    "ordered_stages",
    "record_pages",
    "view_modules",
]

ENABLED_AREAS: tuple[str, ...] = (
    "company",
    "customers",
    "orders",
    "messages",
    "reports",
    "reviews",
    "jewellery",
    "campaigns",
    "cases",
    "activities",
    "security",
    "eshop",
    "collection",
    "sales",
    "requests",
    "invoices",
)
"""The areas this CRM is built from, by package name under ``sandbox_crm``."""


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Stage:
    """One step of generating a sandbox: a function of the generation run.

    ``after`` names the stages (``area.stage``) that must run first: because they make rows
    this one refers to, or because they draw from the shared random stream earlier (the draws'
    order is part of what makes the same spec give the same data).
    """

    name: str
    run: Callable[[Any], None] | str
    """The function, or ``"module:function"`` imported when the stage runs."""
    after: tuple[str, ...] = ()

    def function(self) -> Callable[[Any], None]:
        """The stage's function (imported now if given by name)."""
        if callable(self.run):
            return self.run
        module, _, attribute = self.run.partition(":")
        return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class NavLink:
    """An entry of the CRM's side navigation: the endpoint, its label and icon.

    The entry is highlighted on pages whose endpoint starts with one of ``active``.
    """

    endpoint: str
    label: str
    icon: str
    active: tuple[str, ...] = ()


@dataclass(frozen=True)
class Area:
    """A feature area of the CRM: what it generates, registers and shows."""

    name: str
    label: str
    version: str = "1"
    """Bump when the area's generated data or tables change for an unchanged spec (and add the
    step to the new version to ``upgrades``)."""
    upgrades: Mapping[str, Callable[[Any], None] | str] = field(default_factory=_frozen)
    """Version -> the step bringing a sandbox from the version before to it (a function of an
    ``UpgradeContext``, or ``"module:function"``); see ``sandbox_crm.backends.upgrade``."""
    modules: tuple[str, ...] = ()
    """Modules that register the area's models, operations, sources, plants and kinds."""
    views: tuple[str, ...] = ()
    """Modules that add the area's pages to the CRM's blueprint (loaded by ``sandbox_crm.web``)."""
    has_templates: bool = False
    """Whether the package has a ``templates/`` folder for its pages."""
    nav: tuple[NavLink, ...] = ()
    stages: tuple[Stage, ...] = ()
    finish: str | None = None
    """``"module:function"`` called as ``function(session, today)`` once generation and plants
    are done: fills what summarises the generated rows (read models, search indexes)."""
    entity_names: Mapping[str, str] = field(default_factory=_frozen)
    """Audit entity types that are not a table's or class's own name, and their table."""
    detail_keys: Mapping[str, str] = field(default_factory=_frozen)
    """Keys in an event's details that name a row of a table by its id."""
    record_pages: Mapping[str, tuple[str, str]] = field(default_factory=_frozen)
    """Entity type or table -> (CRM endpoint, its id argument) of the page showing one record."""
    call_entities: Mapping[str, str] = field(default_factory=_frozen)
    """Arguments of an operation call that name a record by id -> its audit entity type, the
    most specific first (a refused call is audited against that record)."""

    def __post_init__(self) -> None:
        for attribute in (
            "entity_names",
            "detail_keys",
            "record_pages",
            "call_entities",
            "upgrades",
        ):
            object.__setattr__(self, attribute, _frozen(getattr(self, attribute)))


@cache
def enabled_areas() -> tuple[Area, ...]:
    """The declarations of the enabled areas, in ENABLED_AREAS order."""
    found = []
    for name in ENABLED_AREAS:
        area = importlib.import_module(f"sandbox_crm.{name}").AREA
        if area.name != name:
            raise ValueError(f"sandbox_crm.{name} declares area {area.name!r}")
        found.append(area)
    return tuple(found)


def area_versions() -> dict[str, str]:
    """Each enabled area's data version: part of a template's cache key."""
    return {area.name: area.version for area in enabled_areas()}


def area_modules() -> tuple[str, ...]:
    """Every module the enabled areas list, in area order."""
    return tuple(module for area in enabled_areas() for module in area.modules)


def view_modules() -> tuple[str, ...]:
    """Every module that adds an enabled area's pages to the CRM."""
    return tuple(module for area in enabled_areas() for module in area.views)


def nav_links() -> tuple[NavLink, ...]:
    """The side navigation entries of the enabled areas, in area order."""
    return tuple(link for area in enabled_areas() for link in area.nav)


def load_areas() -> None:
    """Import every module of every enabled area (models, operations, sources, views ...)."""
    for module in area_modules():
        importlib.import_module(module)


def ordered_stages(areas: Iterable[Area] | None = None) -> list[Stage]:
    """The stages of the areas in an order that respects every ``after``.

    Among stages that are free to run, the one declared first (areas in ENABLED_AREAS order,
    stages in their area's order) runs first. An unknown or circular ``after`` is an error.
    """
    stages = [stage for area in (areas or enabled_areas()) for stage in area.stages]
    names = {stage.name for stage in stages}
    for stage in stages:
        missing = sorted(set(stage.after) - names)
        if missing:
            raise ValueError(f"stage {stage.name!r} comes after unknown stage(s) {missing}")
    done: set[str] = set()
    ordered: list[Stage] = []
    while len(ordered) < len(stages):
        ready = next(
            (s for s in stages if s.name not in done and set(s.after) <= done),
            None,
        )
        if ready is None:
            waiting = sorted(s.name for s in stages if s.name not in done)
            raise ValueError(f"generation stages wait on each other: {', '.join(waiting)}")
        ordered.append(ready)
        done.add(ready.name)
    return ordered


def finish_steps() -> list[Callable[..., None]]:
    """The enabled areas' end-of-generation steps, in area order."""
    steps = []
    for area in enabled_areas():
        if area.finish:
            module, _, attribute = area.finish.partition(":")
            steps.append(getattr(importlib.import_module(module), attribute))
    return steps


def evidence_entity_names() -> Mapping[str, str]:
    """Every area's audit entity aliases: entity type -> table."""
    return _frozen({k: v for area in enabled_areas() for k, v in area.entity_names.items()})


def evidence_detail_keys() -> Mapping[str, str]:
    """Every area's detail keys: key in an event's details -> the table it names a row of."""
    return _frozen({k: v for area in enabled_areas() for k, v in area.detail_keys.items()})


def call_entities() -> tuple[tuple[str, str], ...]:
    """(argument, audit entity type) pairs of every area, the most specific first.

    Later areas build on earlier ones (a report is about customers), so their arguments are
    tried first; within an area, in the order it declares them.
    """
    return tuple(pair for area in reversed(enabled_areas()) for pair in area.call_entities.items())


def record_pages() -> Mapping[str, tuple[str, str]]:
    """Every area's record pages: entity type or table -> (endpoint, id argument)."""
    return _frozen({k: v for area in enabled_areas() for k, v in area.record_pages.items()})
