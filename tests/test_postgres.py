"""The platform on PostgreSQL 15: migrations, demo accounts, signing in, and sandboxes as schemas.

Starts a throwaway cluster on a free loopback port; skipped where PostgreSQL 15 or root is missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from graders.definitions import load_definitions
from graders.registry import load_builtin
from graders.runner import run_scripted_attempt
from graders.validation import _self_test_runs, counterexample_failures, reference_failures
from sandbox_crm.backends.postgres_schemas import PostgresSchemaBackend
from sandbox_crm.backends.sqlite_files import SqliteFileBackend
from tests.platform_fixtures import apply_reference_solution
from training_platform import attempts_service, create_app, definitions_store, sandboxes
from training_platform.accounts import create_centre, create_user
from training_platform.db import PlatformBase, get_engine, new_session, upgrade_database
from training_platform.models import Attempt, AttemptStatus, DefinitionKind, GradeRecord, Role

pytestmark = pytest.mark.postgres

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PASSWORD = "pg-pass-1234"  # the password policy wants at least 10 characters


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """URL of a database on a PostgreSQL 15 cluster that lives as long as this module's tests."""
    psycopg = pytest.importorskip("psycopg")
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 is not installed ({PG_BIN / 'initdb'} is missing)")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("starting a PostgreSQL cluster needs root (to run initdb as the postgres user)")
    try:
        postgres_user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("there is no postgres system user")

    base = Path(tempfile.mkdtemp(prefix="practicum-pg-"))
    os.chown(base, postgres_user.pw_uid, postgres_user.pw_gid)
    data = base / "data"
    port = _free_port()
    pg_ctl = str(PG_BIN / "pg_ctl")
    try:
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        _as_postgres(
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(base / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
            "start",
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {error.stderr}")
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE practicum")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/practicum"
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                pg_ctl,
                "-D",
                str(data),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path):
    """The app on the PostgreSQL database, migrated."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": postgres_url,
            "SANDBOX_DIR": str(tmp_path / "sandboxes"),
            "TEMPLATE_CACHE_DIR": str(tmp_path / "sandbox_templates"),
            "WTF_CSRF_ENABLED": False,
        }
    )
    upgrade_database(app)
    yield app
    get_engine(app).dispose()


def test_demo_trainee_signs_in_on_postgres(pg_app):
    runner = pg_app.test_cli_runner()
    for _ in range(2):  # seeding twice must not fail on PostgreSQL either
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    client = pg_app.test_client()
    response = client.post(
        "/login", data={"email": "trainee@demo.practicum.hk", "password": "practicum-demo"}
    )
    assert response.status_code == 302
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert "Harbour Skills Training Centre" in home.text


def test_migrations_match_the_models_on_postgres(pg_app):
    with get_engine(pg_app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, PlatformBase.metadata) == []


def test_an_attempt_is_graded_and_decided_on_postgres(pg_app, tmp_path):
    """The whole path on PostgreSQL: publish, start, work, submit, grade, review, decide."""
    pg_app.config["SANDBOX_CLOCK_MODE"] = "stepped"
    with pg_app.app_context():
        session = new_session(pg_app)
        definitions_store.sync_builtin(session, Path(__file__).resolve().parents[1])
        centre = create_centre(session, "pg-centre", "PostgreSQL Centre")
        trainee = create_user(session, centre, "t@pg.test", "PG Trainee", Role.TRAINEE, PG_PASSWORD)
        create_user(session, centre, "a@pg.test", "PG Assessor", Role.ASSESSOR, PG_PASSWORD)
        session.commit()
        version = definitions_store.current_version(
            session, DefinitionKind.SCENARIO, "105077L3-marketing-vip-report", centre.id
        )
        attempt = attempts_service.start_attempt(session, trainee, version)
        session.commit()
        deliverables = apply_reference_solution(pg_app, attempt)
        scenario = definitions_store.scenario_of(attempt)
        attempts_service.save_answers(session, attempt, dict(scenario.reference_answers))
        attempts_service.submit_attempt(session, attempt, deliverables)
        session.commit()
        attempts_service.grade_attempt_record(session, attempt)
        session.commit()
        attempt_id = attempt.id
        # The platform on PostgreSQL keeps its sandboxes there, not in files.
        store = sandboxes.get_store(pg_app)
        assert isinstance(store, PostgresSchemaBackend)
        assert store.is_frozen(attempt.sandbox_key)
        assert not any((tmp_path / "sandboxes").glob("*.sqlite"))
        record = session.scalars(select(GradeRecord)).one()
        assert record.overall == "pending_review"  # the written answer waits for the assessor
        assert {c["status"] for c in record.result["checks"]} == {"pass"}
        session.close()

    client = pg_app.test_client()
    client.post("/login", data={"email": "a@pg.test", "password": PG_PASSWORD})
    evidence = client.get(f"/review/attempts/{attempt_id}")
    assert evidence.status_code == 200 and "Action timeline" in evidence.text
    scored = client.post(
        f"/review/attempts/{attempt_id}/rubric/w-activity",
        data={"points-uses-data": "2", "points-activity": "2", "points-privacy": "1"},
    )
    assert scored.status_code == 302
    decided = client.post(
        f"/review/attempts/{attempt_id}/decision",
        data={"decision": "competent", "comment": "Report and answers meet the unit."},
    )
    assert decided.status_code == 302
    with pg_app.app_context():
        session = new_session(pg_app)
        assert session.get(Attempt, attempt_id).status == AttemptStatus.DECIDED
        session.close()


def test_the_sandbox_backend_follows_the_database_or_the_setting(pg_app, tmp_path):
    assert sandboxes.store_kind(pg_app) == "postgres"
    pg_app.config["SANDBOX_BACKEND"] = "sqlite_files"
    assert sandboxes.store_kind(pg_app) == "sqlite_files"
    pg_app.config["SANDBOX_BACKEND"] = "files"
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        sandboxes.store_kind(pg_app)
    sqlite_app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert sandboxes.store_kind(sqlite_app) == "sqlite_files"
    assert isinstance(sandboxes.get_store(sqlite_app), SqliteFileBackend)


def test_the_vip_scenario_grades_the_same_on_postgres_as_on_sqlite(
    postgres_url: str, sandbox_template_dir: Path, tmp_path: Path
) -> None:
    """The reference solution is competent and a counterexample fails, the same on both."""
    load_builtin()
    definitions = load_definitions(Path(__file__).resolve().parents[1])
    scenario = definitions.scenarios["105077L3-marketing-vip-report"].model
    unit = definitions.units[scenario.unit].model
    runs = _self_test_runs(scenario)
    reference = next(run for run in runs if run.kind == "reference")
    wrong = next(run for run in runs if run.kind == "counterexample")
    stores = {
        "sqlite": SqliteFileBackend(tmp_path / "sandboxes", sandbox_template_dir),
        "postgres": PostgresSchemaBackend(postgres_url, sandbox_template_dir),
    }
    results = {}
    try:
        for name, store in stores.items():
            for run in (reference, wrong):
                outcome = run_scripted_attempt(
                    store,
                    f"{name}-{run.kind}",
                    scenario=scenario,
                    unit=unit,
                    steps=run.steps,
                    answers=run.answers,
                    deliverables=dict(run.deliverables) or None,
                )
                result = outcome.result
                results[name, run.kind] = (result.verdict, result.checks, result.pdpo)
                if run.kind == "reference":
                    assert reference_failures(result) == [], name
                else:
                    assert result.verdict.value == "not_yet_competent", name
                    assert counterexample_failures(result, run.must_fail) == [], name
    finally:
        for store in stores.values():
            store.dispose()
    assert results["postgres", "reference"] == results["sqlite", "reference"]
    assert results["postgres", "counterexample"] == results["sqlite", "counterexample"]


def test_crm_searches_on_postgres_find_what_the_sqlite_name_index_finds(
    postgres_url: str, sandbox_template_dir: Path, tmp_path: Path
) -> None:
    """No FTS5 on PostgreSQL: the lists search with LIKE and list the same customers."""
    import re

    from sandbox_crm.customers.facts import has_search_index
    from tests.sandbox_fixtures import small_spec
    from tests.test_crm_web import BASE, SANDBOX_KEY, _make_app

    stores = {
        "sqlite": SqliteFileBackend(tmp_path / "sandboxes", sandbox_template_dir),
        "postgres": PostgresSchemaBackend(postgres_url, sandbox_template_dir, spares=0),
    }
    pages: dict[str, list[str]] = {}
    try:
        for name, store in stores.items():
            store.delete(SANDBOX_KEY)
            store.create(SANDBOX_KEY, small_spec(), clock_mode="stepped")
            with store.session(SANDBOX_KEY, read_only=True) as session:
                assert has_search_index(session) == (name == "sqlite")
            client = _make_app(store).test_client()
            pages[name] = []
            for path, q in [
                ("customers", "chan"),
                ("customers", "WONG"),
                ("customers", "com.hk"),
                ("customers", "Tai Man"),
                ("customers", "9123"),
                ("customers", "zzzq"),
                ("orders", "chan"),
                ("reviews", "chan"),
            ]:
                page = client.get(f"{BASE}/{path}", query_string={"q": q})
                assert page.status_code == 200, (name, path, q)
                html = page.get_data(as_text=True)
                count = re.search(r'<span class="count">([^<]+)</span>', html)
                rows = re.findall(r'href="/attempts/1/crm/\w+/(\d+)"', html)
                pages[name].append(f"{path}?q={q}: {count and count.group(1)} {rows}")
            store.delete(SANDBOX_KEY)
    finally:
        for store in stores.values():
            store.dispose()
    assert pages["postgres"] == pages["sqlite"]
    assert sum(": 0 []" not in line for line in pages["sqlite"]) >= 4  # most searches find some
