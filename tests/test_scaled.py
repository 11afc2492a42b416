"""The scaled-out deployment (scripts/deploy_scaled.sh) really runs: PostgreSQL, Redis, two app
servers behind HAProxy and the job workers, on loopback ports of their own.

A trainee signs in through the balancer, is served by both app servers with the one session
cookie, works through an attempt, submits it and sees it graded by a worker. Skipped where root,
PostgreSQL 15, Redis or HAProxy is missing (scripts/test.sh installs them).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.server, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "deploy_scaled.sh"
PIDS = ["haproxy", "app1", "app2", "worker1", "worker2", "redis"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _load_class_module():
    spec = importlib.util.spec_from_file_location("load_class", ROOT / "scripts" / "load_class.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def _script(command: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - the repository's own script
        ["bash", str(SCRIPT), command],  # noqa: S607
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def scaled() -> Iterator[tuple[str, Path, dict[str, str]]]:
    """The deployment, started in a throwaway folder; stopped (and checked stopped) after."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("the scaled deployment needs root (PostgreSQL runs as the postgres user)")
    missing = [
        name
        for name, found in (
            ("postgresql-15", Path("/usr/lib/postgresql/15/bin/initdb").exists()),
            ("redis-server", shutil.which("redis-server")),
            ("haproxy", shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()),
            ("python redis", importlib.util.find_spec("redis")),
            ("psycopg", importlib.util.find_spec("psycopg")),
        )
        if not found
    ]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    state = Path(tempfile.mkdtemp(prefix="practicum-scaled-"))
    state.chmod(0o755)  # PostgreSQL, running as postgres, keeps its data inside
    lb, app1, app2, pg, redis = _free_ports(5)
    env = {
        **os.environ,
        "PRACTICUM_SCALED_DIR": str(state),
        "SCALED_PORT": str(lb),
        "SCALED_APP_PORTS": f"{app1} {app2}",
        "SCALED_PG_PORT": str(pg),
        "SCALED_REDIS_PORT": str(redis),
        # Small: two cores are shared with the rest of the suite.
        "PRACTICUM_WORKERS": "1",
        "PRACTICUM_THREADS": "2",
        "PRACTICUM_JOB_WORKERS": "1",
        # A class of one: one spare clone of each template.
        "PRACTICUM_SANDBOX_SPARES": "1",
    }
    started = _script("start", env, 420)
    pids: list[int] = []
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        assert f"http://127.0.0.1:{lb}" in started.stdout
        for name in PIDS:
            pids.append(int((state / f"{name}.pid").read_text().split()[0]))
        pids.append(int((state / "pg" / "data" / "postmaster.pid").read_text().split()[0]))
        yield f"http://127.0.0.1:{lb}", state, env
    finally:
        stopped = _script("stop", env, 300)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.2)
        left = [pid for pid in pids if _alive(pid)]
        shutil.rmtree(state, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr
        assert left == [], f"still running after stop: {left}"


def test_status_lists_every_part_running(scaled) -> None:
    base, _state, env = scaled
    status = _script("status", env, 60)
    assert status.returncode == 0, status.stdout
    for part in ("HAProxy", "app1", "app2", "worker1", "worker2", "Redis", "PostgreSQL"):
        assert f"{part}: running" in status.stdout
    assert f"ready at {base}" in status.stdout


def test_a_trainee_through_the_balancer_is_served_by_both_app_servers_and_graded_by_a_worker(
    scaled,
) -> None:
    base, state, env = scaled
    load_class = _load_class_module()
    # The class's one trainee, in the deployment's database (the settings every process has).
    settings = dict(env)
    for line in (state / "env.sh").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            settings[key] = value.strip('"')
    settings["PYTHONPATH"] = str(ROOT)
    load_class._helper(["--setup", "--trainees", "1"], settings, 600)

    run = load_class.Run(time.monotonic() + 300, (0.0, 0.0))
    trainee = load_class.Trainee(base, 0, run)
    trainee.work()  # signs in, starts, builds and runs the report, submits, waits for feedback
    assert run.errors == []
    assert run.timings["result page"], "the result page was never shown"

    # The one signed cookie opens the trainee's pages on either app server.
    served_by = set()
    for _ in range(4):
        with trainee.opener.open(base + "/attempts", timeout=30) as response:
            assert response.status == 200  # a redirect to sign in would raise here
            assert "/login" not in response.geturl()
            served_by.add(response.headers["X-Practicum-Backend"])
    assert served_by == {"app1", "app2"}

    # Grading ran in a job worker, not in the submit request.
    worker_logs = (state / "worker1.log").read_text() + (state / "worker2.log").read_text()
    assert "practicum.run_job" in worker_logs and "executed" in worker_logs


def test_no_sandbox_or_session_lives_in_an_app_servers_own_folder(scaled) -> None:
    _base, state, _env = scaled
    for app_server in ("app1", "app2"):
        kept = sorted(
            path.relative_to(state / app_server).as_posix()
            for path in (state / app_server).rglob("*")
            if not path.is_dir()
        )
        # Only the shared settings link; sandboxes are schemas in PostgreSQL, sessions cookies.
        assert kept == ["config.py"], kept
    shared = state / "shared"
    assert not shared.exists() or not any(p for p in shared.rglob("*") if p.is_file())
