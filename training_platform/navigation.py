"""The sidebar: blueprints add their own entries, and each user sees those of their role."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request, url_for
from flask_babel import gettext
from flask_login import current_user

from training_platform.models import Role

EXTENSION_KEY = "practicum_nav"


@dataclass(frozen=True)
class NavItem:
    """One sidebar link."""

    endpoint: str
    label: str
    roles: frozenset[Role]
    section: str = "General"
    order: int = 100


def add_nav_item(
    bp: Blueprint,
    endpoint: str,
    label: str,
    roles: tuple[Role | str, ...] = tuple(Role),
    section: str = "General",
    order: int = 100,
) -> None:
    """Show a link to `endpoint` in the sidebar of the given roles once `bp` is registered."""
    item = NavItem(endpoint, label, frozenset(Role(r) for r in roles), section, order)

    def record(state) -> None:
        state.app.extensions[EXTENSION_KEY].append(item)

    bp.record_once(record)


def nav_sections() -> list[tuple[str, list[dict]]]:
    """The current user's sidebar, as (section, links) pairs in display order."""
    if not current_user.is_authenticated:
        return []
    items = sorted(
        (
            item
            for item in current_app.extensions[EXTENSION_KEY]
            if current_user.role in item.roles and item.endpoint in current_app.view_functions
        ),
        key=lambda item: (item.order, item.label),
    )
    sections: dict[str, list[dict]] = {}
    # The link to this very page is active; failing that, the links into its blueprint.
    exact = any(item.endpoint == request.endpoint for item in items)
    for item in items:
        blueprint = item.endpoint.rpartition(".")[0]
        if exact:
            active = item.endpoint == request.endpoint
        else:
            active = blueprint not in ("", "home") and blueprint == request.blueprint
        sections.setdefault(gettext(item.section), []).append(
            {"label": gettext(item.label), "url": url_for(item.endpoint), "active": active}
        )
    return list(sections.items())


def init_app(app: Flask) -> None:
    """Start an empty sidebar for the app and make it available to templates."""
    app.extensions[EXTENSION_KEY] = []
    app.jinja_env.globals["nav_sections"] = nav_sections
