"""The app's sandbox store: where attempts' CRMs live, how many data variants, which clock.

Each scenario spreads its attempts over a pool of data variants (``crm.variants``). Starting an
attempt clones the template of its variant; generating a template is the slow part, so the
templates of a published scenario's pool are generated ahead (``pregenerate_variants``) by a
job (``training_platform.jobs.queue_pregeneration``), never in a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from graders import runner
from graders.definitions import Scenario
from sandbox_crm.backends import backend_kind, make_backend
from sandbox_crm.store import SandboxStore

EXTENSION_KEY = "practicum_sandboxes"
DEFAULT_CLOCK_MODE = "real"
DEFAULT_RETENTION_DAYS = 365


def store_kind(app: Flask | None = None) -> str:
    """Where sandboxes live: SANDBOX_BACKEND, else "postgres" when the platform database is."""
    app = app or current_app
    url = app.config.get("SANDBOX_DATABASE_URL") or app.config["DATABASE_URL"]
    return backend_kind(app.config.get("SANDBOX_BACKEND"), url)


def get_store(app: Flask | None = None) -> SandboxStore:
    """The sandbox store of an app (the current one by default), created on first use.

    SQLite files in SANDBOX_DIR, or schemas in the PostgreSQL database (SANDBOX_DATABASE_URL,
    by default the platform's own) when the platform runs on PostgreSQL or SANDBOX_BACKEND is
    "postgres".
    """
    app = app or current_app
    store = app.extensions.get(EXTENSION_KEY)
    if store is None:
        store = make_backend(
            store_kind(app),
            sandbox_dir=app.config["SANDBOX_DIR"],
            template_dir=app.config["TEMPLATE_CACHE_DIR"],
            database_url=app.config.get("SANDBOX_DATABASE_URL") or app.config["DATABASE_URL"],
            spares=app.config.get("SANDBOX_SPARES"),
        )
        app.extensions[EXTENSION_KEY] = store
    return store  # type: ignore[return-value]


def variant_cap(app: Flask | None = None) -> int | None:
    """The optional cap on every scenario's pool (SANDBOX_VARIANTS); None when not set."""
    app = app or current_app
    value = app.config.get("SANDBOX_VARIANTS")
    return None if value in (None, "") else max(1, int(value))


def in_progress_limit(app: Flask | None = None) -> int | None:
    """How many attempts a trainee may have in progress at once (MAX_ATTEMPTS_IN_PROGRESS)."""
    app = app or current_app
    value = app.config.get("MAX_ATTEMPTS_IN_PROGRESS")
    return None if value is None else max(1, int(value))


def pool_size(scenario: Scenario, cap: int | None = None) -> int:
    """How many data variants a scenario's attempts are spread over: ``crm.variants``, capped."""
    size = scenario.crm.variants
    return size if cap is None else max(1, min(size, cap))


def clock_mode(app: Flask | None = None) -> str:
    """How a new sandbox's clock runs: "real" for people, "stepped" for repeatable tests."""
    app = app or current_app
    return str(app.config.get("SANDBOX_CLOCK_MODE", DEFAULT_CLOCK_MODE))


def retention_days(app: Flask | None = None) -> int:
    """Days a frozen sandbox is kept as evidence before `practicum purge` deletes it."""
    app = app or current_app
    return max(0, int(app.config.get("SANDBOX_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)))


# --- generating variants ahead ------------------------------------------------------------------


@dataclass(frozen=True)
class PregeneratedPool:
    """The templates of one scenario's pool: their keys, and which had to be generated now."""

    scenario_id: str
    keys: tuple[str, ...]
    generated: tuple[int, ...]


def pregenerate_variants(
    store: SandboxStore, scenario: Scenario, *, cap: int | None = None
) -> PregeneratedPool:
    """Ensure the template of every variant in a scenario's pool exists (generating the missing)."""
    keys: list[str] = []
    generated: list[int] = []
    for variant in range(pool_size(scenario, cap)):
        spec = runner.generation_spec(scenario, variant)
        if not store.has_template(spec.cache_key()):
            generated.append(variant)
        store.ensure_template(spec)
        keys.append(spec.cache_key())
    return PregeneratedPool(scenario.id, tuple(keys), tuple(generated))


def pregeneration_enabled(app: Flask | None = None) -> bool:
    """Whether publishing and starting a worker queue the generation of variants.

    PREGENERATE_VARIANTS; off by default under TESTING, so tests generate only what they use.
    """
    app = app or current_app
    return bool(app.config.get("PREGENERATE_VARIANTS", not app.testing))
