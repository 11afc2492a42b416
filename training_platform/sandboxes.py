"""The app's sandbox store: where attempts' CRMs live, how many data variants, which clock."""

from __future__ import annotations

from flask import Flask, current_app

from sandbox_crm.store import SandboxStore

EXTENSION_KEY = "practicum_sandboxes"
DEFAULT_VARIANTS = 8
DEFAULT_CLOCK_MODE = "real"


def get_store(app: Flask | None = None) -> SandboxStore:
    """The sandbox store of an app (the current one by default), created on first use."""
    app = app or current_app
    store = app.extensions.get(EXTENSION_KEY)
    if store is None:
        store = SandboxStore(app.config["SANDBOX_DIR"], app.config["TEMPLATE_CACHE_DIR"])
        app.extensions[EXTENSION_KEY] = store
    return store


def variant_count(app: Flask | None = None) -> int:
    """How many data variants a scenario's sandboxes are spread over (SANDBOX_VARIANTS)."""
    app = app or current_app
    return max(1, int(app.config.get("SANDBOX_VARIANTS", DEFAULT_VARIANTS)))


def clock_mode(app: Flask | None = None) -> str:
    """How a new sandbox's clock runs: "real" for people, "stepped" for repeatable tests."""
    app = app or current_app
    return str(app.config.get("SANDBOX_CLOCK_MODE", DEFAULT_CLOCK_MODE))
