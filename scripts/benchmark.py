"""Measure how fast attempts start and are graded, and how the CRM copes with a large sandbox.

Usage:  .venv/bin/python scripts/benchmark.py [--runs 15] [--large 100000] [--json]

Compares starting an attempt by cloning the cached template with the slow path (generating the
sandbox with Faker on every start), times grading a reference-quality attempt, and times the CRM's
customer list and report queries on a sandbox of ``--large`` customers (0 skips that part).
Medians of ``--runs`` runs; peak memory (max RSS) of this process is reported at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graders.definitions import load_definitions  # noqa: E402
from graders.registry import load_builtin  # noqa: E402
from graders.runner import apply_steps, generation_spec, grade_sandbox  # noqa: E402
from sandbox_crm.query import select_rows  # noqa: E402
from sandbox_crm.store import SandboxStore  # noqa: E402

SCENARIO_ID = "105077L3-marketing-vip-report"


def timed(func: Callable[[], object]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def median_ms(samples: list[float]) -> float:
    """Median of samples given in seconds, in milliseconds."""
    return statistics.median(samples) * 1000


def platform_figures(work_dir: Path, runs: int) -> dict[str, float]:
    """Start, submit and grade attempts through the platform's services (SQLite database)."""
    from training_platform import attempts_service, create_app, definitions_store
    from training_platform.accounts import create_centre, create_user
    from training_platform.db import new_session, upgrade_database
    from training_platform.models import DefinitionKind, Role
    from training_platform.sandboxes import get_store

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{work_dir / 'platform.sqlite'}",
            "SANDBOX_DIR": str(work_dir / "platform-sandboxes"),
            "TEMPLATE_CACHE_DIR": str(work_dir / "templates"),
            "SECRET_KEY": "benchmark",
        }
    )
    upgrade_database(app)
    starts: list[float] = []
    submits: list[float] = []
    with app.app_context():
        session = new_session(app)
        definitions_store.sync_builtin(session, ROOT)
        centre = create_centre(session, "bench", "Benchmark Centre")
        trainee = create_user(session, centre, "b@bench.test", "B", Role.TRAINEE, "benchmark-pw")
        session.commit()
        version = definitions_store.current_version(
            session, DefinitionKind.SCENARIO, SCENARIO_ID, centre.id
        )
        scenario = definitions_store.load_scenario_model(version)
        store = get_store(app)
        for variant in range(8):  # warm every variant's template, as a deployment would
            store.ensure_template(generation_spec(scenario, variant))
        for _ in range(runs):
            start = time.perf_counter()
            attempt = attempts_service.start_attempt(session, trainee, version)
            session.commit()
            starts.append(time.perf_counter() - start)
            with store.session(attempt.sandbox_key) as sandbox:
                deliverables = apply_steps(sandbox, scenario.reference_solution).deliverables
            attempts_service.save_answers(session, attempt, dict(scenario.reference_answers))
            session.commit()
            start = time.perf_counter()
            attempts_service.submit_attempt(session, attempt, deliverables)
            session.commit()
            attempts_service.grade_attempt_record(session, attempt)
            session.commit()
            submits.append(time.perf_counter() - start)
        session.close()
    return {
        "platform_start_attempt_ms_median": round(median_ms(starts), 1),
        "platform_submit_and_grade_ms_median": round(median_ms(submits), 1),
    }


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement")
    parser.add_argument(
        "--large", type=int, default=100_000, help="customers in the large sandbox (0: skip)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    load_builtin()
    definitions = load_definitions(ROOT)
    scenario = definitions.scenarios[SCENARIO_ID].model
    unit = definitions.units[scenario.unit].model
    spec = generation_spec(scenario, 0)
    figures: dict[str, object] = {"scenario": SCENARIO_ID, "customers": spec.customers}

    with tempfile.TemporaryDirectory(prefix="practicum-bench-") as work:
        work_dir = Path(work)
        store = SandboxStore(work_dir / "sandboxes", work_dir / "templates")
        figures["template_generation_ms"] = round(timed(lambda: store.ensure_template(spec)) * 1000)

        # Fast path: clone the cached template (what starting an attempt does).
        clone = [timed(lambda i=i: store.create(f"clone-{i}", spec)) for i in range(args.runs)]
        figures["start_attempt_clone_ms_median"] = round(median_ms(clone), 1)

        # Slow path: generate the sandbox with Faker on every start (a new template each time).
        slow_runs = max(3, args.runs // 5)
        slow = []
        for i in range(slow_runs):
            slow_store = SandboxStore(work_dir / f"slow-{i}", work_dir / f"slow-templates-{i}")
            slow.append(timed(lambda s=slow_store, i=i: s.create(f"slow-{i}", spec)))
            slow_store.dispose()
        figures["start_attempt_generate_ms_median"] = round(median_ms(slow), 1)
        figures["clone_speedup"] = round(median_ms(slow) / median_ms(clone), 1)

        # Grading: a frozen sandbox with the reference solution applied.
        with store.session("clone-0") as session:
            outcome = apply_steps(session, scenario.reference_solution)
        store.freeze("clone-0")

        def grade() -> None:
            grade_sandbox(
                store,
                "clone-0",
                scenario=scenario,
                unit=unit,
                template_key=generation_spec(scenario, 0).cache_key(),
                deliverables=outcome.deliverables,
                answers=scenario.reference_answers,
            )

        grade()  # warm the engines and caches once
        grading = [timed(grade) for _ in range(args.runs)]
        figures["grade_attempt_ms_median"] = round(median_ms(grading), 1)
        store.dispose()

        figures.update(platform_figures(work_dir, args.runs))

        if args.large:
            large_spec = replace(spec, customers=args.large, seed=spec.seed + 1)
            large_store = SandboxStore(work_dir / "large", work_dir / "large-templates")
            figures["large_customers"] = args.large
            figures["large_template_generation_s"] = round(
                timed(lambda: large_store.ensure_template(large_spec)), 1
            )
            figures["large_start_attempt_clone_ms"] = round(
                timed(lambda: large_store.create("large", large_spec)) * 1000
            )
            today = large_spec.today
            columns = ["member_no", "name_en", "tier", "district", "email", "spend_12m", "dm_email"]
            queries = {
                "customers_first_page": dict(where=None, sort=[("member_no", "asc")]),
                "customers_page_40": dict(where=None, sort=[("member_no", "asc")], offset=2000),
                "customers_search_name": dict(
                    where={"field": "name_en", "op": "contains", "value": "chan"},
                    sort=[("name_en", "asc")],
                ),
                "customers_filter_tier_region": dict(
                    where={
                        "all": [
                            {"field": "tier", "op": "eq", "value": "platinum"},
                            {"field": "region", "op": "eq", "value": "Kowloon"},
                        ]
                    },
                    sort=[("member_no", "asc")],
                ),
                "vip_report_rows": dict(
                    where=scenario.reference_solution[0].args["filters"],
                    sort=[("spend_12m", "desc")],
                ),
            }
            with large_store.session("large", read_only=True) as session:
                for name, query in queries.items():
                    samples = [
                        timed(
                            lambda q=query: select_rows(
                                session,
                                "customers",
                                where=q["where"],
                                columns=columns,
                                sort=q["sort"],
                                as_of=today,
                                limit=50,
                                offset=q.get("offset", 0),
                            )
                        )
                        for _ in range(max(3, args.runs // 3))
                    ]
                    figures[f"large_{name}_ms_median"] = round(median_ms(samples), 1)
            large_store.dispose()

    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
