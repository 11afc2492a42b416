"""The app's sandbox store: where attempts' CRMs live, how many data variants, which clock.

Each scenario spreads its attempts over a pool of data variants (``crm.variants``). Starting an
attempt clones the template of its variant; generating a template is the slow part, so the
templates of a published scenario's pool are generated ahead (``pregenerate_variants``), in a
small background worker of the app process (``schedule_pregeneration``). That function is what a
job queue would call instead, once there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import inspect, select

from graders import runner
from graders.definitions import Scenario
from sandbox_crm.store import SandboxStore

logger = logging.getLogger(__name__)

EXTENSION_KEY = "practicum_sandboxes"
WORKER_KEY = "practicum_pregeneration"
DEFAULT_CLOCK_MODE = "real"
DEFAULT_RETENTION_DAYS = 365


def get_store(app: Flask | None = None) -> SandboxStore:
    """The sandbox store of an app (the current one by default), created on first use."""
    app = app or current_app
    store = app.extensions.get(EXTENSION_KEY)
    if store is None:
        store = SandboxStore(app.config["SANDBOX_DIR"], app.config["TEMPLATE_CACHE_DIR"])
        app.extensions[EXTENSION_KEY] = store
    return store


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
    """Whether publishing and starting the app generate variants in the background.

    PREGENERATE_VARIANTS; off by default under TESTING, so tests generate only what they use.
    """
    app = app or current_app
    return bool(app.config.get("PREGENERATE_VARIANTS", not app.testing))


def _worker(app: Flask) -> ThreadPoolExecutor:
    worker = app.extensions.get(WORKER_KEY)
    if worker is None:
        # One thread: generation is CPU-bound, and requests must keep the other cores.
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="practicum-variants")
        app.extensions[WORKER_KEY] = worker
    return worker


def _pregenerate_quietly(store: SandboxStore, scenario: Scenario, cap: int | None) -> None:
    try:
        pool = pregenerate_variants(store, scenario, cap=cap)
    except Exception:
        # Starting an attempt generates a missing template itself, so this only costs time.
        logger.exception("generating the data variants of %s failed", scenario.id)
        return
    if pool.generated:
        logger.info("generated %d data variant(s) of %s", len(pool.generated), scenario.id)


def schedule_pregeneration(
    scenarios: Iterable[Scenario], app: Flask | None = None
) -> list[Future[None]]:
    """Queue the pools of these scenarios for generation in the app's background worker.

    Returns the queued jobs (none when PREGENERATE_VARIANTS is off).
    """
    app = app or current_app
    if not pregeneration_enabled(app):
        return []
    store, cap, worker = get_store(app), variant_cap(app), _worker(app)
    return [worker.submit(_pregenerate_quietly, store, s, cap) for s in scenarios]


def current_scenario_models(app: Flask) -> list[Scenario]:
    """The models of every current scenario version (built in and every centre's)."""
    from training_platform import definitions_store
    from training_platform.db import get_engine, new_session
    from training_platform.models import DefinitionKind, DefinitionVersion

    if not inspect(get_engine(app)).has_table(DefinitionVersion.__tablename__):
        return []
    session = new_session(app)
    try:
        rows = session.scalars(
            select(DefinitionVersion).where(
                DefinitionVersion.kind == DefinitionKind.SCENARIO,
                DefinitionVersion.is_current.is_(True),
            )
        )
        return [definitions_store.load_scenario_model(row) for row in rows]
    finally:
        session.close()


def _pregenerate_current(app: Flask) -> None:
    """At app start, in the worker: generate the pools of every current scenario version.

    It works through them itself rather than queueing a job per scenario, so that a worker
    being shut down cannot refuse the follow-up jobs half-way.
    """
    try:
        scenarios = current_scenario_models(app)
    except Exception:
        logger.exception("could not list the scenarios whose data variants to generate")
        return
    store, cap = get_store(app), variant_cap(app)
    for scenario in scenarios:
        _pregenerate_quietly(store, scenario, cap)


def init_app(app: Flask) -> None:
    """Generate the current scenarios' variants in the background once the app serves.

    On the first request rather than in ``create_app``, so that CLI commands (which build the
    app too) do not start generating.
    """
    started = False

    @app.before_request
    def _start_pregeneration() -> None:
        nonlocal started
        if started or not pregeneration_enabled(app):
            return
        started = True
        _worker(app).submit(_pregenerate_current, app)
