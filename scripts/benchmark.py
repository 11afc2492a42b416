"""Measure starting, grading and using an attempt at several sandbox sizes, against the goals.

Usage:  .venv/bin/python scripts/benchmark.py [--sizes 2000,20000,100000] [--runs 15] [--json]
                                              [--jewellery-sizes 2000,20000]
                                              [--postgres postgresql+psycopg://user@host/db]

For each size, in one run and side by side:

- generation of the VIP scenario's template, in a child process, so that its time and peak
  memory (max RSS) are its own: wall time and the child's CPU time (``time.process_time``).
  Other processes on a shared machine stretch the wall time but not the CPU time or the peak
  memory, so the generation goal is judged on the CPU time, with the wall time beside it;
- starting an attempt (the store's clone) against a plain copy of the same file, and against
  generating;
- grading the VIP scenario with its whole rulebook (every check, every PDPO rule): the
  reference solution, and a trainee who also changed records nobody asked about;
- the CRM's pages through HTTP as a signed-in trainee (Flask's test client: the whole request,
  routing, sign-in, template rendering): home, the customer list, search "chan", the e-mail
  consent filter, sort by 12-month spend, a page deep into the list, a customer, orders,
  reviews and reports, an all-customers report run and its output page.

With ``--postgres``, the same clone and grading on the PostgreSQL backend (a schema per sandbox,
in the given database, which it leaves empty again), beside SQLite's: loading the template into
its schema (1 run), the clone (which claims a spare clone made ahead in the background; the
start waits until one is ready, as between two trainees' starts) and the grading, and the
goals: clone ≤ 10× the SQLite clone, grading ≤ 2× SQLite's (medians).

Then a jewellery sandbox (``--jewellery-scenario``, 108970L3-wedding-campaign by default) at each
of ``--jewellery-sizes``: its generation (wall, CPU, peak memory), clone against a plain copy
and against generating, and grading its reference and a trainee with collateral changes, with
that scenario's whole rulebook. Its lines say "jewellery" and the scenario.

Each line prints the median and 95th percentile of ``--runs`` runs (generation: one run), the
goal and PASS or FAIL. Memory: the generation child's max RSS per size, and this process's at
the end (it did the cloning, grading and pages).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graders.definitions import load_definitions  # noqa: E402
from graders.definitions.models import Scenario  # noqa: E402
from graders.registry import load_builtin  # noqa: E402
from graders.runner import apply_steps, generation_spec, grade_sandbox  # noqa: E402
from sandbox_crm.generator import GenerationSpec  # noqa: E402
from sandbox_crm.store import SandboxStore  # noqa: E402

SCENARIO_ID = "105077L3-marketing-vip-report"
JEWELLERY_SCENARIO_ID = "108970L3-wedding-campaign"
PASSWORD = "Benchmark-passphrase-71!"  # noqa: S105 - a throwaway account in a temp dir
PAGE_GOAL_MS = 150.0
REPORT_RUN_GOAL_MS = 1000.0
LARGEST_GOALS_AT = 100_000  # generation goals (time and memory) are stated for 100k customers


@dataclass
class Line:
    """One measured line: what, at which size, its figures and its goal."""

    size: int
    what: str
    median: float | None
    p95: float | None
    unit: str
    goal: str = ""
    ok: bool | None = None

    def cells(self) -> list[str]:
        """The line as table cells."""
        verdict = "" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return [
            f"{self.size:,}",
            self.what,
            _fmt(self.median, self.unit),
            _fmt(self.p95, self.unit),
            self.goal,
            verdict,
        ]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "×":
        return f"{value:,.1f}×"
    if unit == "ms" and value >= 1000:
        return f"{value / 1000:,.2f} s"
    return f"{value:,.1f} {unit}"


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of the samples."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def timed(func: Callable[[], object]) -> float:
    """Milliseconds one call takes."""
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def series(size: int, what: str, samples: list[float], goal_ms: float | None) -> Line:
    """A line of timings in ms, judged on its p95 against ``goal_ms``."""
    p95 = percentile(samples, 0.95)
    goal = "" if goal_ms is None else f"p95 ≤ {_fmt(goal_ms, 'ms')}"
    ok = None if goal_ms is None else p95 <= goal_ms
    return Line(size, what, statistics.median(samples), p95, "ms", goal, ok)


# --- generation, in a child process -----------------------------------------------------------


def _spec_for(scenario: Scenario, customers: int) -> GenerationSpec:
    return replace(generation_spec(scenario, 0), customers=customers)


def generate_child(customers: int, template_dir: str, scenario_id: str) -> int:
    """(In the child) generate the scenario's template for the size; print its figures as JSON.

    Wall seconds, CPU seconds of this process, its peak memory (max RSS) and the file's size.
    """
    definitions = load_definitions(ROOT)
    spec = _spec_for(definitions.scenarios[scenario_id].model, customers)
    store = SandboxStore(Path(template_dir) / "unused", Path(template_dir))
    start, cpu = time.perf_counter(), time.process_time()
    path = store.ensure_template(spec)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    figures = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "max_rss_mb": own_peak_mb(),
        "bytes": path.stat().st_size,
    }
    print(json.dumps(figures))
    return 0


def own_peak_mb() -> float:
    """This process's peak resident memory in MB.

    Linux keeps ``ru_maxrss`` across exec, so a child would report its parent's size at the
    fork if that was larger; ``VmHWM`` is the peak of this program's own memory.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generation(
    customers: int, template_dir: Path, scenario_id: str = SCENARIO_ID
) -> dict[str, float]:
    """Generate the scenario's template for the size in a child process; return its figures."""
    command = [sys.executable, __file__, "--generate-child", str(customers), str(template_dir)]
    done = subprocess.run(  # noqa: S603 - this script itself, with numbers and a temp dir
        [*command, scenario_id],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- clone, copy and grading -------------------------------------------------------------------


def clone_lines(
    size: int, store: SandboxStore, spec: GenerationSpec, runs: int, made: dict[str, float]
) -> list[Line]:
    """Clone against a plain copy of the same file, and against generating."""
    template = store.ensure_template(spec)
    copies, clones = [], []
    scratch = store.sandbox_dir / "plain-copy.sqlite"
    store.sandbox_dir.mkdir(parents=True, exist_ok=True)

    def plain_copy() -> None:
        copies.append(timed(lambda: shutil.copyfile(template, scratch)))
        scratch.unlink()

    def start(i: int) -> None:
        clones.append(timed(lambda: store.create(f"clone-{i}", spec)))
        store.delete(f"clone-{i}")

    for i in range(runs):
        # Each starts with no dirty pages of ours: the kernel throttles a process that writes
        # much while the disk is busy, and whichever came second would pay for the first.
        # Which goes first alternates.
        for step in (
            (plain_copy, lambda i=i: start(i)) if i % 2 else (lambda i=i: start(i), plain_copy)
        ):
            os.sync()
            step()
    clone, copy = statistics.median(clones), statistics.median(copies)
    speedup = made["seconds"] * 1000 / clone
    mb = made["bytes"] / 1e6
    return [
        Line(
            size,
            f"plain copy of the template file ({mb:,.0f} MB)",
            copy,
            percentile(copies, 0.95),
            "ms",
        ),
        Line(size, "start an attempt (clone)", clone, percentile(clones, 0.95), "ms"),
        Line(
            size, "clone ÷ plain copy (medians)", clone / copy, None, "×", "≤ 2×", clone / copy <= 2
        ),
        Line(size, "generation ÷ clone (speed-up)", speedup, None, "×", "≥ 100×", speedup >= 100),
    ]


def _collateral(session: Any) -> None:
    """Changes nobody asked for: three customers' tier, through the operations."""
    from sqlalchemy import select

    from graders.runner import trainee_actor
    from sandbox_crm.models import Customer
    from sandbox_crm.operations import apply_operation

    actor = trainee_actor(session)
    for customer_id in session.scalars(
        select(Customer.id).where(Customer.tier != "silver").order_by(Customer.id).limit(3)
    ):
        apply_operation(
            session, actor, "update_customer", {"customer_id": customer_id, "tier": "silver"}
        )
    session.commit()


def postgres_lines(
    size: int,
    url: str,
    template_dir: Path,
    spec: GenerationSpec,
    scenario: Scenario,
    unit: Any,
    runs: int,
    sqlite_lines: list[Line],
) -> list[Line]:
    """Clone and grading on the PostgreSQL backend, judged against SQLite's medians."""
    from sandbox_crm.backends.postgres_schemas import PostgresSchemaBackend

    store = PostgresSchemaBackend(url, template_dir)
    try:
        loaded = timed(lambda: store.ensure_template(spec))  # the SQLite template file exists
        clones = []
        for i in range(runs):
            # Spares are made between starts, in the background; the start claims one.
            store.settle()
            clones.append(timed(lambda i=i: store.create(f"pg-clone-{i}", spec)))
            store.delete(f"pg-clone-{i}")
        store.settle()
        graded = grading_lines(size, store, spec, scenario, unit, runs)
        store.delete_template(spec.cache_key())
    finally:
        store.dispose()
    by_what = {line.what.split(" [")[0]: line for line in sqlite_lines if line.size == size}
    sqlite_clone = by_what["start an attempt (clone)"].median or 1.0
    clone = statistics.median(clones)
    lines = [
        Line(size, "PostgreSQL: load the template into its schema (1 run)", loaded, None, "ms"),
        Line(size, "PostgreSQL: start an attempt (clone)", clone, percentile(clones, 0.95), "ms"),
        Line(
            size,
            "PostgreSQL clone ÷ SQLite clone (medians)",
            clone / sqlite_clone,
            None,
            "×",
            "≤ 10×",
            clone / sqlite_clone <= 10,
        ),
    ]
    for line in graded:
        what = line.what.split(" [")[0]
        sqlite_median = by_what[what].median or 1.0
        ratio = (line.median or 0.0) / sqlite_median
        line.what, line.goal, line.ok = f"PostgreSQL: {line.what}", "", None
        lines.append(line)
        label = f"PostgreSQL ÷ SQLite: {what} (medians)"
        lines.append(Line(size, label, ratio, None, "×", "≤ 2×", ratio <= 2))
    return lines


def grading_lines(
    size: int, store: SandboxStore, spec: GenerationSpec, scenario: Scenario, unit: Any, runs: int
) -> list[Line]:
    """Grade the reference solution, and a trainee with collateral changes, ``runs`` times each."""
    goal = 100.0 if size <= 2000 else 1000.0
    lines = []
    for key, extra, what in (
        ("graded-reference", None, "grade the reference attempt (every check and PDPO rule)"),
        ("graded-collateral", _collateral, "grade a trainee with collateral changes"),
    ):
        store.create(key, spec, clock_mode="stepped")
        with store.session(key) as session:
            deliverables = apply_steps(session, scenario.reference_solution).deliverables
            session.commit()
            if extra is not None:
                extra(session)
        store.freeze(key)
        if hasattr(store, "settle"):
            store.settle()  # PostgreSQL: no spare clone being made while grading is timed

        def grade(key: str = key, deliverables: dict = deliverables) -> Any:
            return grade_sandbox(
                store,
                key,
                scenario=scenario,
                unit=unit,
                template_key=spec.cache_key(),
                deliverables=deliverables,
                answers=scenario.reference_answers,
            )

        first = grade()  # warms engines and caches once
        samples = [timed(grade) for _ in range(runs)]
        line = series(size, what, samples, goal)
        line.what += f" [{first.verdict.value}]"
        lines.append(line)
        store.delete(key)
    return lines


# --- the CRM's pages through HTTP ---------------------------------------------------------------


class Platform:
    """The platform app on a SQLite database, one centre and one trainee signed in."""

    def __init__(self, work_dir: Path, template_dir: Path) -> None:
        from training_platform import create_app, definitions_store
        from training_platform.accounts import create_centre, create_user
        from training_platform.db import new_session, upgrade_database
        from training_platform.models import DefinitionKind, Role

        self.app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{work_dir / 'platform.sqlite'}",
                "SANDBOX_DIR": str(work_dir / "platform-sandboxes"),
                "TEMPLATE_CACHE_DIR": str(template_dir),
                "SECRET_KEY": "benchmark",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "PREGENERATE_VARIANTS": False,  # no generation competing with the measurements
            }
        )
        upgrade_database(self.app)
        with self.app.app_context():
            self.session = new_session(self.app)
            definitions_store.sync_builtin(self.session, ROOT)
            centre = create_centre(self.session, "bench", "Benchmark Centre")
            self.trainee = create_user(
                self.session, centre, "trainee@bench.test", "Trainee", Role.TRAINEE, PASSWORD
            )
            self.session.commit()
            self.version = definitions_store.current_version(
                self.session, DefinitionKind.SCENARIO, SCENARIO_ID, centre.id
            )
        self.client = self.app.test_client()
        response = self.client.post(
            "/login", data={"email": "trainee@bench.test", "password": PASSWORD}
        )
        if response.status_code != 302:
            raise RuntimeError(f"the trainee could not sign in ({response.status_code})")

    def attempt_on(self, spec: GenerationSpec) -> tuple[int, str]:
        """Start an attempt and give it a sandbox of ``spec`` (the size being measured)."""
        from training_platform import attempts_service
        from training_platform.sandboxes import get_store

        with self.app.app_context():
            attempt = attempts_service.start_attempt(self.session, self.trainee, self.version)
            self.session.commit()
            store = get_store(self.app)
            store.delete(attempt.sandbox_key)
            store.create(attempt.sandbox_key, spec)
            return attempt.id, attempt.sandbox_key

    def all_customers_report(self, sandbox_key: str) -> int:
        """A saved report of every customer, made by the trainee in the attempt's sandbox."""
        from graders.runner import trainee_actor
        from sandbox_crm.operations import apply_operation
        from training_platform.sandboxes import get_store

        with self.app.app_context(), get_store(self.app).session(sandbox_key) as session:
            report = apply_operation(
                session,
                trainee_actor(session),
                "create_report",
                {
                    "name": "All customers",
                    "source": "customers",
                    "columns": ["member_no", "name_en", "email", "tier", "spend_12m"],
                    "filters": {},
                },
            )
            session.commit()
            return report.id


def page_lines(size: int, platform: Platform, spec: GenerationSpec, runs: int) -> list[Line]:
    """Every CRM list page and a report run through HTTP, as the signed-in trainee."""
    attempt_id, sandbox_key = platform.attempt_on(spec)
    base = f"/attempts/{attempt_id}/crm"
    deep = max(1, (size // 50) * 4 // 5)
    pages = {
        "home": "/",
        "customers, first page": "/customers",
        'customers, search "chan"': "/customers?q=chan",
        "customers, e-mail consent given": "/customers?email_consent=given",
        "customers, sort by 12-month spend": "/customers?sort=spend_12m&dir=desc",
        f"customers, page {deep:,} of the list": f"/customers?page={deep}",
        "one customer": "/customers/1",
        "orders": "/orders",
        "reviews": "/reviews",
        "reports": "/reports",
    }
    lines = []
    client = platform.client

    def get(url: str) -> None:
        response = client.get(base + url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")

    for what, url in pages.items():
        get(url)  # warm
        lines.append(
            series(
                size,
                f"page: {what}",
                [timed(lambda u=url: get(u)) for _ in range(runs)],
                PAGE_GOAL_MS,
            )
        )
    report_id = platform.all_customers_report(sandbox_key)
    locations: list[str] = []

    def run() -> None:
        response = client.post(f"{base}/reports/{report_id}/runs", data={})
        if response.status_code != 302:
            raise RuntimeError(f"report run: {response.status_code}")
        locations.append(response.headers["Location"])

    report_runs = [timed(run) for _ in range(max(3, runs // 3))]
    lines.append(series(size, "run the all-customers report", report_runs, REPORT_RUN_GOAL_MS))
    output = locations[-1].split(base, 1)[-1]
    get(output)
    lines.append(
        series(
            size,
            "page: report run output",
            [timed(lambda: get(output)) for _ in range(runs)],
            PAGE_GOAL_MS,
        )
    )
    last = max(1, size // 50)
    lines.append(
        series(
            size,
            "page: report run output, last page",
            [timed(lambda: get(f"{output}?page={last}")) for _ in range(runs)],
            PAGE_GOAL_MS,
        )
    )
    return lines


# --- the run -----------------------------------------------------------------------------------


def measure(
    sizes: list[int],
    runs: int,
    work_dir: Path,
    pages: bool,
    postgres: str | None = None,
    jewellery_sizes: tuple[int, ...] = (),
    jewellery_scenario: str = JEWELLERY_SCENARIO_ID,
) -> list[Line]:
    """Every line of the benchmark, size by size; then the jewellery sandbox's, size by size."""
    load_builtin()
    definitions = load_definitions(ROOT)
    scenario = definitions.scenarios[SCENARIO_ID].model
    unit = definitions.units[scenario.unit].model
    template_dir = work_dir / "templates"
    platform = Platform(work_dir, template_dir) if pages else None
    lines: list[Line] = []
    for size in sizes:
        spec = _spec_for(scenario, size)
        made = generation(size, template_dir)
        lines += generation_lines(size, made, goals=size >= LARGEST_GOALS_AT)
        store = SandboxStore(work_dir / f"sandboxes-{size}", template_dir)
        lines += clone_lines(size, store, spec, runs, made)
        lines += grading_lines(size, store, spec, scenario, unit, runs)
        store.dispose()
        if postgres:
            lines += postgres_lines(size, postgres, template_dir, spec, scenario, unit, runs, lines)
        if platform is not None:
            lines += page_lines(size, platform, spec, runs)
        print_table([line for line in lines if line.size == size], file=sys.stderr)
    if jewellery_sizes:
        lines += jewellery_lines(list(jewellery_sizes), runs, work_dir, jewellery_scenario)
    return lines


def generation_lines(
    size: int, made: dict[str, float], *, goals: bool, what: str = ""
) -> list[Line]:
    """Generation's wall time, CPU time and peak memory; goals judged on CPU time and memory.

    ``goals`` says whether the size is the one the goals are stated for.
    """
    cpu_ok = made["cpu_seconds"] <= 10 if goals else None
    return [
        Line(
            size,
            f"{what}generate the template: wall time (child process, 1 run)",
            made["seconds"] * 1000,
            None,
            "ms",
        ),
        Line(
            size,
            f"{what}generate the template: CPU time of the child",
            made["cpu_seconds"] * 1000,
            None,
            "ms",
            "≤ 10 s" if goals else "",
            cpu_ok,
        ),
        Line(
            size,
            f"{what}generation peak memory (child's max RSS)",
            made["max_rss_mb"],
            None,
            "MB",
            "≤ 300 MB" if goals else "",
            made["max_rss_mb"] <= 300 if goals else None,
        ),
    ]


def jewellery_lines(
    sizes: list[int], runs: int, work_dir: Path, scenario_id: str = JEWELLERY_SCENARIO_ID
) -> list[Line]:
    """A jewellery sandbox at each size: generation, clone and grading of ``scenario_id``."""
    definitions = load_definitions(ROOT)
    scenario = definitions.scenarios[scenario_id].model
    if scenario.crm is None or scenario.crm.profile != "jewellery":
        raise SystemExit(f"{scenario_id} is not a jewellery scenario")
    unit = definitions.units[scenario.unit].model
    template_dir = work_dir / "templates-jewellery"
    what = f"jewellery ({scenario_id}): "
    lines: list[Line] = []
    for size in sizes:
        spec = _spec_for(scenario, size)
        made = generation(size, template_dir, scenario_id)
        measured = generation_lines(size, made, goals=False, what=what)
        store = SandboxStore(work_dir / f"sandboxes-jewellery-{size}", template_dir)
        measured += clone_lines(size, store, spec, runs, made)
        measured += grading_lines(size, store, spec, scenario, unit, runs)
        store.dispose()
        for line in measured:
            if not line.what.startswith(what):
                line.what = what + line.what
        lines += measured
        print_table(measured, file=sys.stderr)
    return lines


def print_table(lines: list[Line], file: Any = sys.stdout) -> None:
    """The lines as an aligned table."""
    header = ["customers", "what", "median", "p95", "goal", ""]
    rows = [header] + [line.cells() for line in lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=file,
        )


def main() -> int:
    """Run the benchmark and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,100000", help="customers, comma-separated")
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement")
    parser.add_argument("--no-pages", action="store_true", help="skip the CRM pages")
    parser.add_argument(
        "--jewellery-sizes",
        default="2000,20000",
        help="customers of the jewellery sandbox, comma-separated ('' to skip it)",
    )
    parser.add_argument(
        "--jewellery-scenario",
        default=JEWELLERY_SCENARIO_ID,
        help="the jewellery scenario whose sandbox is generated, cloned and graded",
    )
    parser.add_argument("--json", action="store_true", help="print the lines as JSON")
    parser.add_argument(
        "--postgres", metavar="URL", help="also clone and grade on PostgreSQL in this database"
    )
    parser.add_argument(
        "--generate-child",
        nargs=3,
        metavar=("CUSTOMERS", "DIR", "SCENARIO"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.generate_child:
        customers, directory, scenario_id = args.generate_child
        return generate_child(int(customers), directory, scenario_id)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    jewellery = tuple(int(part) for part in args.jewellery_sizes.split(",") if part.strip())
    with tempfile.TemporaryDirectory(prefix="practicum-bench-") as work:
        lines = measure(
            sizes,
            args.runs,
            Path(work),
            not args.no_pages,
            args.postgres,
            jewellery,
            args.jewellery_scenario,
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"lines": [asdict(line) for line in lines], "max_rss_mb": rss}, indent=2))
    else:
        backends = " (SQLite and PostgreSQL sandboxes)" if args.postgres else ""
        print(
            f"Benchmark of {date.today().isoformat()}: --sizes {args.sizes} --runs {args.runs}"
            f" --jewellery-sizes {args.jewellery_sizes or '(none)'}" + backends
        )
        print(
            f"Sandboxes: {SCENARIO_ID} (generation, clone, grading"
            + (")" if args.no_pages else ", pages)")
            + (f"; {args.jewellery_scenario} (generation, clone, grading)" if jewellery else "")
        )
        print_table(lines)
        failed = [line for line in lines if line.ok is False]
        print(f"\n{len(failed)} of {sum(line.ok is not None for line in lines)} goals not met.")
        print(f"Max RSS of this process (clones, grading, pages): {rss:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
