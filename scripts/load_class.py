"""A class of trainees working through the VIP report scenario against a real deployment.

Usage:
  .venv/bin/python scripts/load_class.py [--trainees 100]
      starts `scripts/start.sh` (gunicorn and a job worker on SQLite) on a free port with a
      throwaway instance folder, drives it, stops it;
  .venv/bin/python scripts/load_class.py --url http://127.0.0.1:5000 [--trainees 100]
      drives a server that is already running; the class's accounts are made in the database
      this machine's settings point at (PRACTICUM_INSTANCE_PATH, PRACTICUM_DATABASE_URL), so
      run it with the server's environment. --deployment names it in the report; against
      the scaled-out deployment (scripts/deploy_scaled.sh):
        source instance/scaled/env.sh && .venv/bin/python scripts/load_class.py \
            --url http://127.0.0.1:8080 --deployment "scaled-out (2 app servers, 2 workers)"

Each trainee is modelled as a person: starts are spread over --spread seconds, and between
steps they think for --think MIN MAX seconds, sometimes opening another CRM page on the way.
Each signs in, opens the unit, starts an attempt, browses and searches the CRM, builds, saves
and runs the report, submits, and reloads the result page (as its refresh does) until the
feedback is there. The load runs in this process, the server in others.

Prints which server it ran against, then per kind of request: count, median, 95th percentile
and maximum. A POST is timed alone: the page its redirect leads to is counted as that page.
Then the time from submit to graded (the grading job), from the database. Every request is
bounded; the run stops at --timeout whatever happens.
"""

from __future__ import annotations

import argparse
import html
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "class-load-test-9f3k"  # noqa: S105 - throwaway accounts of the load class
CENTRE_SLUG = "class-load"
UNIT = "105077L3"
COLUMNS = ["member_no", "name_en", "email", "tier", "district", "spend_12m"]
FILTERS = [
    ("tier", "in", "gold, platinum"),
    ("status", "eq", "active"),
    ("spend_12m", "ge", "8000"),
    ("dm_email", "in", "given, no_objection"),
]
SCENARIO_FILE = ROOT / "scenarios" / UNIT / "marketing-vip-report.yaml"
TOKEN_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
TOKEN_VALUE = re.compile(r'value="([^"]+)"')
RESULT_POLLS = 40
# A class signs in from one room, often behind one address.
INSTANCE_CONFIG = 'LOGIN_LIMIT_PER_ADDRESS = "1000 per 10 minutes"\n'


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on a page."""
    field = TOKEN_INPUT.search(page)
    if field is None:
        raise ValueError("no CSRF token on the page")
    return TOKEN_VALUE.search(field.group(0)).group(1)


# --- in the server's environment: accounts, the class's preparation, grading times ---------


def setup_class(trainees: int) -> None:
    """Make the class's centre and trainees (kept if there), and prepare the class for its start.

    The preparation is the platform's own (``practicum prepare-class`` queues the same job): the
    templates of the scenario's variants and, on PostgreSQL sandboxes, spare clones sized to the
    class. Waits for every queued job, then prints what the preparation left ready.
    """
    from sqlalchemy import select

    from training_platform import class_prep_service, create_app, jobs
    from training_platform.accounts import create_centre, create_user
    from training_platform.commands.classes import describe
    from training_platform.db import new_session
    from training_platform.errors import ServiceError
    from training_platform.models import Centre, ClassPreparation, Job, JobStatus, Role, User

    app = create_app()
    with app.app_context():
        session = new_session(app)
        centre = session.scalar(select(Centre).where(Centre.slug == CENTRE_SLUG))
        if centre is None:
            centre = create_centre(session, CENTRE_SLUG, "Class Load Centre")
        have = set(session.scalars(select(User.email).where(User.centre_id == centre.id)))
        for n in range(trainees):
            if f"t{n}@class.test" not in have:
                create_user(
                    session, centre, f"t{n}@class.test", f"Trainee {n}", Role.TRAINEE, PASSWORD
                )
        session.commit()
        # The class is prepared before it starts, as a centre prepares a window's cohort.
        try:
            preparation = class_prep_service.prepare_by_hand(
                session, centre, _scenario_id(), trainees
            )
            job = jobs.queue_class_preparation(session, preparation)
        except ServiceError as exc:
            raise SystemExit(f"the class could not be prepared: {exc.message}") from exc
        session.commit()
        job_id, preparation_id = job.id, preparation.id
        jobs.dispatch(job, app)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            pending = session.scalar(
                select(Job.id).where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
            )
            if pending is None:
                break
            session.rollback()
            time.sleep(1)
        session.expire_all()
        job = session.get(Job, job_id)
        if job.status != JobStatus.DONE:
            raise SystemExit(f"the class preparation is {job.status.value}: {job.last_error}")
        print(describe(session.get(ClassPreparation, preparation_id)))
        session.close()


def grading_times(since: str) -> None:
    """Print, as JSON, submit-to-graded seconds of the class's attempts submitted since then."""

    from sqlalchemy import select

    from training_platform import create_app
    from training_platform.db import new_session
    from training_platform.models import Attempt, Centre, User

    app = create_app()
    session = new_session(app)
    rows = session.execute(
        select(Attempt.submitted_at, Attempt.graded_at)
        .join(User, Attempt.trainee_id == User.id)
        .join(Centre, User.centre_id == Centre.id)
        .where(
            Centre.slug == CENTRE_SLUG,
            Attempt.submitted_at >= datetime.fromisoformat(since),
        )
    )
    times = [(graded - submitted).total_seconds() if graded else None for submitted, graded in rows]
    session.close()
    print(json.dumps(times))


def _scenario_id() -> str:
    return f"{UNIT}-marketing-vip-report"


# --- the trainees -----------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Leave redirects to the trainee, so that a POST is timed without the page after it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


class Trainee:
    """One trainee's browser: a cookie jar, the pages they open and their pace."""

    def __init__(self, base: str, number: int, run: Run):
        self.base = base
        self.email = f"t{number}@class.test"
        self.run = run
        self.random = random.Random(number)  # noqa: S311 - pacing, not security
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(jar), _NoRedirect()
        )

    def _open(self, label: str, path: str, data: list[tuple[str, str]] | None):
        if time.monotonic() > self.run.deadline:
            raise TimeoutError("time limit reached")
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        start = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                text, location = response.read().decode(), None
        except urllib.error.HTTPError as exc:
            if not 300 <= exc.code < 400:
                self.run.errors.append(f"{self.email} {label} {path}: HTTP {exc.code}")
                raise
            text, location = "", exc.headers.get("Location")
        self.run.record(label, time.perf_counter() - start)
        return text, location

    def get(self, label: str, path: str) -> str:
        """Open a page; a redirect is followed as a request of the page it leads to."""
        text, location = self._open(label, path, None)
        return text if location is None else self.get(label, _path(location))

    def post(self, label: str, path: str, data: list[tuple[str, str]], then: str):
        """Send a form (timed alone), then open the page it redirects to as a `then` page."""
        _, location = self._open(label, path, data)
        if location is None:
            raise RuntimeError(f"{label}: the form was not accepted")
        target = _path(location)
        return self.get(then, target), target

    def think(self) -> None:
        """Pause as a person reads and types (bounded by the deadline)."""
        low, high = self.run.think
        pause = self.random.uniform(low, high)
        time.sleep(max(0.0, min(pause, self.run.deadline - time.monotonic())))

    def wander(self, crm: str, customer: str) -> None:
        """Sometimes open another CRM page on the way (a mix of pages)."""
        for _ in range(self.random.randint(0, 2)):
            choice = self.random.choice(["list", "record", "home", "attempts"])
            if choice == "list":
                self.get("CRM customer list", f"{crm}/customers?page={self.random.randint(1, 9)}")
            elif choice == "record":
                self.get("CRM customer record", customer)
            elif choice == "home":
                self.get("CRM home", f"{crm}/")
            else:
                self.get("my attempts", "/attempts")

    def work(self) -> None:
        """The trainee's session, from sign-in to feedback."""
        page = self.get("sign-in page", "/login")
        self.think()
        self.post(
            "sign in POST",
            "/login",
            [("csrf_token", csrf_token(page)), ("email", self.email), ("password", PASSWORD)],
            then="home page",
        )
        page = self.get("unit page", f"/units/{UNIT}")
        self.think()
        start = start_action(page)
        page, attempt = self.post(
            "start attempt POST", start, [("csrf_token", csrf_token(page))], then="attempt page"
        )
        self.think()
        crm = f"{attempt}/crm"
        page = self.get("CRM customer list", f"{crm}/customers")
        customer = re.search(r'href="(/attempts/\d+/crm/customers/\d+)"', page).group(1)
        self.think()
        self.get("CRM customer list", f"{crm}/customers?sort=spend_12m&dir=desc&page=3")
        self.get("CRM customer search", f"{crm}/customers?q=chan&tier=gold")
        self.think()
        self.get("CRM customer record", customer)
        self.wander(crm, customer)
        self.think()
        page = self.get("report builder", f"{crm}/reports/new")
        self.think()
        form = [
            ("csrf_token", csrf_token(page)),
            ("name", "VIP preview evening"),
            ("purpose", "Marketing email invitation"),
            ("source", "customers"),
            ("match", "all"),
            ("sort_field", "spend_12m"),
            ("sort_dir", "desc"),
        ]
        form += [("columns", column) for column in COLUMNS]
        for index, (field, op, value) in enumerate(FILTERS):
            form += [
                (f"filters-{index}-field", field),
                (f"filters-{index}-op", op),
                (f"filters-{index}-value", value),
            ]
        page, report = self.post("save report POST", f"{crm}/reports/new", form, "report page")
        report_id = report.rsplit("/", 1)[1]
        self.think()
        self.post(
            "run report POST", f"{report}/runs", [("csrf_token", csrf_token(page))], "report page"
        )
        self.wander(crm, customer)
        self.think()
        page = self.get("attempt page", attempt)
        self.think()
        form = [
            ("csrf_token", csrf_token(page)),
            ("deliverable-report", report_id),
            ("confirm", "yes"),
        ]
        page, target = self.post("submit POST", f"{attempt}/submit", form, "result page")
        if not target.endswith("/result"):
            raise RuntimeError(f"the submission was refused (ended on {target})")
        for _ in range(RESULT_POLLS):
            if 'id="verdict"' in page:
                return
            refresh = re.search(r'http-equiv="refresh" content="(\d+)"', page)
            if refresh is None:
                raise RuntimeError("the result page shows no verdict and does not refresh")
            time.sleep(int(refresh.group(1)))
            page = self.get("result page", target)
        raise RuntimeError("no feedback after the result page's refreshes")


def _scenario_title() -> str:
    """The English title of the class's scenario, as the unit page shows it (escaped)."""
    match = re.search(r"^title:\s*\n\s+en:\s*(.+)$", SCENARIO_FILE.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no English title in {SCENARIO_FILE}")
    return html.escape(match.group(1).strip().strip("'\""), quote=False)


def start_action(page: str) -> str:
    """The start form's address of the class's scenario on the unit page.

    The unit page lists every scenario of the unit, each with its own start button; the class
    works on the VIP report, whatever the order of the list.
    """
    title = _scenario_title()
    for item in page.split('<li class="scenario-item">')[1:]:
        if f"<h3>{title}</h3>" in item:
            found = re.search(r'action="(/scenarios/\d+/start)"', item)
            if found is not None:
                return found.group(1)
    raise RuntimeError(f"the unit page offers no start for {title!r}")


def _path(location: str) -> str:
    parsed = urllib.parse.urlparse(location)
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


class Run:
    """What the trainees share: the timings, the errors, the deadline and the pace."""

    def __init__(self, deadline: float, think: tuple[float, float]):
        self.deadline = deadline
        self.think = think
        self.errors: list[str] = []
        self.timings: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def record(self, label: str, seconds: float) -> None:
        """Keep one request's time."""
        with self._lock:
            self.timings[label].append(seconds)


def drive(base: str, trainees: int, spread: float, think: tuple[float, float], timeout: float):
    """Run the class against the server at base; returns the Run and its elapsed seconds."""
    run = Run(time.monotonic() + timeout, think)

    def work(trainee: Trainee, delay: float) -> None:
        time.sleep(delay)
        try:
            trainee.work()
        except Exception as exc:  # noqa: BLE001 - report every failure, keep the others going
            run.errors.append(f"{trainee.email}: {type(exc).__name__}: {exc}")

    pace = random.Random(0)  # noqa: S311 - staggering, not security
    threads = [
        threading.Thread(target=work, args=(Trainee(base, n, run), pace.uniform(0, spread)))
        for n in range(trainees)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run, time.perf_counter() - started


# --- the report -------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    """The sample below which `fraction` of the samples fall (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def report(run: Run, elapsed: float, trainees: int, grading: list[float | None]) -> None:
    """Print the figures of a run."""
    total = sum(len(samples) for samples in run.timings.values())
    print(
        f"{trainees} trainees: {total} requests in {elapsed:.1f} s "
        f"({total / elapsed:.1f} requests/s), {len(run.errors)} failed"
    )
    print(f"{'request':<26}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    every: list[float] = []
    for label, samples in sorted(run.timings.items()):
        every += samples
        print(
            f"{label:<26}{len(samples):>6}{percentile(samples, 0.5) * 1000:>9.0f}"
            f"{percentile(samples, 0.95) * 1000:>9.0f}{max(samples) * 1000:>9.0f}"
        )
    if every:
        print(
            f"{'all requests':<26}{len(every):>6}{percentile(every, 0.5) * 1000:>9.0f}"
            f"{percentile(every, 0.95) * 1000:>9.0f}{max(every) * 1000:>9.0f}"
        )
    graded = [t for t in grading if t is not None]
    if graded:
        print(
            f"{'submitted -> graded':<26}{len(graded):>6}{percentile(graded, 0.5) * 1000:>9.0f}"
            f"{percentile(graded, 0.95) * 1000:>9.0f}{max(graded) * 1000:>9.0f}"
            f"   ({len(grading) - len(graded)} submitted, not graded)"
        )
    for error in run.errors[:20]:
        print("FAILED", error)


# --- running it -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _helper(step: list[str], env: dict[str, str], timeout: float) -> str:
    """Run a step of this script in the server's environment; its output."""
    done = subprocess.run(  # noqa: S603 - this very script with fixed arguments
        [sys.executable, __file__, *step],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout


def _server_name(base: str) -> str:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=10) as response:  # noqa: S310
            return response.headers.get("Server", "unknown")
    except OSError:  # refused, reset or timed out while it starts
        return "not ready"


def _wait_ready(base: str, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _server_name(base) != "not ready":
            return True
        time.sleep(0.5)
    return False


def main() -> int:
    """Start (or find) the server, run the class, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=100, help="trainees in the class")
    parser.add_argument("--url", help="drive this running server instead of starting one")
    parser.add_argument(
        "--deployment", help="with --url: what runs there, for the report (e.g. scaled-out)"
    )
    parser.add_argument("--spread", type=float, default=30, help="starts spread over seconds")
    parser.add_argument(
        "--think", type=float, nargs=2, default=(5, 15), metavar=("MIN", "MAX"), help="seconds"
    )
    parser.add_argument("--timeout", type=float, default=600, help="stop after this many seconds")
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--grading-times", metavar="SINCE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup_class(args.trainees)
        return 0
    if args.grading_times:
        grading_times(args.grading_times)
        return 0

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    think = (min(args.think), max(args.think))
    with tempfile.TemporaryDirectory(prefix="practicum-class-") as work:
        server = None
        if args.url:
            base = args.url.rstrip("/")
            deployment = f"{args.deployment or 'the server'} at {base}"
        else:
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            Path(work, "config.py").write_text(INSTANCE_CONFIG)
            env.update(PRACTICUM_INSTANCE_PATH=work, PORT=str(port))
            workers = env.get("PRACTICUM_WORKERS", f"the CPU count ({os.cpu_count()}, min 2)")
            deployment = (
                f"scripts/start.sh on {base}: gunicorn ({workers} workers x "
                f"{env.get('PRACTICUM_THREADS', '4')} threads) and one job worker "
                f"({env.get('PRACTICUM_JOB_WORKERS', '2')} threads), SQLite in a fresh instance"
            )
            server = subprocess.Popen(  # noqa: S603 - the repository's own start script
                ["bash", str(ROOT / "scripts" / "start.sh")],  # noqa: S607
                env=env,
                stdout=open(Path(work, "server.log"), "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            if server is not None and not _wait_ready(base, server, 300):
                print("the server did not start; its log:", file=sys.stderr)
                print(Path(work, "server.log").read_text()[-3000:], file=sys.stderr)
                return 1
            prepared = _helper(["--setup", "--trainees", str(args.trainees)], env, 1200)
            print(f"Against {deployment}; Server header: {_server_name(base)}")
            print(f"Class prepared: {prepared.strip()}")
            print(
                f"Load from a separate process (pid {os.getpid()}): starts over {args.spread:g} s,"
                f" think {think[0]:g}-{think[1]:g} s"
            )
            since = datetime.now(UTC).replace(tzinfo=None).isoformat()
            run, elapsed = drive(base, args.trainees, args.spread, think, args.timeout)
            grading = json.loads(_helper(["--grading-times", since], env, 120))
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
    report(run, elapsed, args.trainees, grading)
    return 1 if run.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
