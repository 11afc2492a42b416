"""A class of trainees working at once: each signs in, starts the VIP report scenario, browses
the CRM, builds and runs the report, and submits, against a real threaded server on loopback.

Usage:  .venv/bin/python scripts/load_class.py [--trainees 25] [--timeout 300]

The server runs in a child process on 127.0.0.1 with a throwaway database and sandbox folder.
Every trainee makes a fixed, bounded number of requests; the run stops at --timeout whatever
happens. Prints the latency (median, 95th percentile, max) of each kind of request, the
throughput, and any request that failed.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "class-load-test"  # noqa: S105 - a throwaway account in a temporary database
UNIT = "105077L3"
COLUMNS = ["member_no", "name_en", "email", "tier", "district", "spend_12m"]
FILTERS = [
    ("tier", "in", "gold, platinum"),
    ("status", "eq", "active"),
    ("spend_12m", "ge", "8000"),
    ("dm_email", "in", "given, no_objection"),
]
TOKEN_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
TOKEN_VALUE = re.compile(r'value="([^"]+)"')


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on a page."""
    field = TOKEN_INPUT.search(page)
    if field is None:
        raise ValueError("no CSRF token on the page")
    return TOKEN_VALUE.search(field.group(0)).group(1)


def serve(port: int, work: Path, trainees: int) -> None:
    """Child process: set up a fresh platform with a class of trainees and serve it."""
    import logging

    from werkzeug.serving import make_server

    from training_platform import create_app, definitions_store
    from training_platform.accounts import create_centre, create_user
    from training_platform.db import new_session, upgrade_database
    from training_platform.models import Role
    from training_platform.sandboxes import get_store, pregenerate_variants, variant_cap

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{work / 'platform.sqlite'}",
            "SANDBOX_DIR": str(work / "sandboxes"),
            "TEMPLATE_CACHE_DIR": str(work / "templates"),
            "SECRET_KEY": "class-load-test",
            "COOKIE_SECURE": False,  # plain HTTP on loopback
        }
    )
    upgrade_database(app)
    with app.app_context():
        session = new_session(app)
        definitions_store.sync_builtin(session, ROOT)
        centre = create_centre(session, "class", "Class Load Centre")
        for n in range(trainees):
            create_user(session, centre, f"t{n}@class.test", f"Trainee {n}", Role.TRAINEE, PASSWORD)
        session.commit()
        # Templates are generated ahead of class, as a deployment would warm them.
        scenario = definitions_store.current_version(session, "scenario", _scenario_id(), None)
        model = definitions_store.load_scenario_model(scenario)
        pregenerate_variants(get_store(app), model, cap=variant_cap(app))
        session.close()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("ready", flush=True)
    server.serve_forever()


def _scenario_id() -> str:
    return f"{UNIT}-marketing-vip-report"


class Trainee:
    """One trainee's browser: a cookie jar and the pages they open."""

    def __init__(self, base: str, email: str, timings: dict, errors: list, deadline: float):
        self.base = base
        self.email = email
        self.timings = timings
        self.errors = errors
        self.deadline = deadline
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def request(self, label: str, path: str, data: list[tuple[str, str]] | None = None):
        """Open a page (POST when data is given), timing it under label."""
        if time.monotonic() > self.deadline:
            raise TimeoutError("time limit reached")
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        start = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                text = response.read().decode()
                url = response.geturl()
        except urllib.error.HTTPError as exc:
            self.errors.append(f"{self.email} {label} {path}: HTTP {exc.code}")
            raise
        self.timings[label].append(time.perf_counter() - start)
        return text, url

    def work(self) -> None:
        """The trainee's session: sign in, start, browse, build and run the report, submit."""
        page, _ = self.request("sign-in page", "/login")
        token = csrf_token(page)
        self.request(
            "sign in",
            "/login",
            [("csrf_token", token), ("email", self.email), ("password", PASSWORD)],
        )
        page, _ = self.request("unit page", f"/units/{UNIT}")
        start = re.search(r'action="(/scenarios/\d+/start)"', page).group(1)
        page, url = self.request("start attempt", start, [("csrf_token", csrf_token(page))])
        attempt = urllib.parse.urlparse(url).path
        crm = f"{attempt}/crm"
        page, _ = self.request("CRM customer list", f"{crm}/customers")
        customer = re.search(r'href="(/attempts/\d+/crm/customers/\d+)"', page).group(1)
        self.request("CRM customer list sorted", f"{crm}/customers?sort=spend_12m&dir=desc&page=3")
        self.request("CRM customer search", f"{crm}/customers?q=chan&tier=gold")
        self.request("CRM customer record", customer)
        page, _ = self.request("report builder", f"{crm}/reports/new")
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
        page, url = self.request("save report", f"{crm}/reports/new", form)
        report = urllib.parse.urlparse(url).path
        report_id = report.rsplit("/", 1)[1]
        self.request("run report", f"{report}/runs", [("csrf_token", csrf_token(page))])
        page, _ = self.request("attempt page", attempt)
        _, url = self.request(
            "submit and grade",
            f"{attempt}/submit",
            [
                ("csrf_token", csrf_token(page)),
                ("deliverable-report", report_id),
                ("confirm", "yes"),
            ],
        )
        if not url.endswith("/result"):
            raise RuntimeError(f"the submission was refused (ended on {url})")
        page, _ = self.request("result page", f"{attempt}/result")
        if 'id="verdict"' not in page:
            raise RuntimeError("the result page shows no verdict")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    """Start the server, run the class, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=25, help="trainees working at once")
    parser.add_argument("--timeout", type=float, default=300, help="stop after this many seconds")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), args.trainees)
        return 0

    with tempfile.TemporaryDirectory(prefix="practicum-class-") as work:
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603 - runs this very script with fixed arguments
            [sys.executable, __file__, "--serve", str(port), work]
            + ["--trainees", str(args.trainees)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            text=True,
        )
        try:
            if server.stdout is None or server.stdout.readline().strip() != "ready":
                print("the server did not start", file=sys.stderr)
                return 1
            timings: dict[str, list[float]] = defaultdict(list)
            errors: list[str] = []
            deadline = time.monotonic() + args.timeout
            trainees = [
                Trainee(f"http://127.0.0.1:{port}", f"t{n}@class.test", timings, errors, deadline)
                for n in range(args.trainees)
            ]

            def run(trainee: Trainee) -> None:
                try:
                    trainee.work()
                except Exception as exc:  # noqa: BLE001 - report every failure, keep the others going
                    errors.append(f"{trainee.email}: {type(exc).__name__}: {exc}")

            threads = [threading.Thread(target=run, args=(t,)) for t in trainees]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=10)

    total = sum(len(samples) for samples in timings.values())
    print(
        f"{args.trainees} trainees at once: {total} requests in {elapsed:.1f} s "
        f"({total / elapsed:.1f} requests/s), {len(errors)} failed"
    )
    print(f"{'request':<26}{'n':>4}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for label, samples in timings.items():
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(
            f"{label:<26}{len(samples):>4}{statistics.median(samples) * 1000:>11.0f}"
            f"{p95 * 1000:>9.0f}{ordered[-1] * 1000:>9.0f}"
        )
    for error in errors[:20]:
        print("FAILED", error)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
