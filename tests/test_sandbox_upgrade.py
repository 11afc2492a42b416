"""Sandboxes made by an earlier release are brought forward to this code's schema when opened.

Each test makes a sandbox, takes it back by hand to the schema of an earlier release (the cases
area before ``refusal_ground``, the orders area before the status history) and records the
older versions, then opens it the way a trainee, the grader or a deployment does.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session

from graders.context import GradingContext
from graders.registry import CHECKS, load_builtin
from graders.results import Status, Verdict
from sandbox_crm.areas import Area, enabled_areas
from sandbox_crm.backends.upgrade import (
    UPGRADED_FROM_KEY,
    VERSIONS_KEY,
    SandboxTooNew,
    UpgradeContext,
    UpgradeError,
    add_missing,
    code_versions,
    missing_steps,
)
from sandbox_crm.cases.models import ServiceCase
from sandbox_crm.customers.models import Customer
from sandbox_crm.info import sandbox_info
from sandbox_crm.models import SandboxMeta
from sandbox_crm.reports.models import ReportDefinition
from sandbox_crm.store import SandboxStore
from tests.platform_fixtures import apply_reference_solution, reference_answers
from tests.sandbox_fixtures import small_spec
from tests.test_postgres import postgres_url  # noqa: F401  (the throwaway cluster fixture)
from training_platform import attempts_service, results_service
from training_platform.sandboxes import get_store

JEWELLERY = small_spec(profile="jewellery", customers=80, plants=())
"""Small, and with service cases (only the jewellery profile has them)."""
KEY = "old-attempt"
OLD = code_versions() | {"cases": "1", "orders": "1", "reports": "2"}
"""What a sandbox made before the refusal ground, the order status history and summary reports
records."""
DROPPED = (
    ("service_case", "refusal_ground"),
    ("report_definition", "group_by"),
    ("report_definition", "measures"),
    ("report_export", "summary"),
)
"""Columns those releases did not have (NOT NULL, with a default of "", [] and False)."""
TOO_NEW = rf"cases 9 \(this release: {code_versions()['cases']}\)"
"""The refusal of a sandbox recording cases version 9, newer than this code's."""


def downgrade(path: Path, versions: dict[str, str] | None = OLD) -> None:
    """Take a sandbox or template file back to the earlier schema; ``None``: no record at all."""
    mode = path.stat().st_mode
    path.chmod(0o644)
    with closing(sqlite3.connect(path)) as connection:
        (logged,) = connection.execute(
            "SELECT coalesce(max(rowid), 0) FROM sandbox_change"
        ).fetchone()
        for table, column in DROPPED:
            connection.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        connection.execute("DROP TABLE order_status_change")
        if versions is None:
            connection.execute("DELETE FROM sandbox_meta WHERE key = ?", (VERSIONS_KEY,))
        else:
            connection.execute(
                "UPDATE sandbox_meta SET value = ? WHERE key = ?",
                (json.dumps(versions), VERSIONS_KEY),
            )
        # The earlier release wrote no such row: the log keeps only what was written before.
        connection.execute("DELETE FROM sandbox_change WHERE rowid > ?", (logged,))
        connection.commit()
    path.chmod(mode)


def columns(session: Session, table: str) -> set[str]:
    """The columns the sandbox's table has."""
    return {c["name"] for c in inspect(session.connection()).get_columns(table)}


def rows(session: Session, model: type, *names: str) -> list[tuple]:
    """The rows of a table in key order, as the columns named."""
    table = model.__table__
    query = select(*(table.c[name] for name in names)).order_by(*table.primary_key.columns)
    return [tuple(row) for row in session.execute(query)]


CASE_COLUMNS = ("id", "customer_id", "kind", "status", "resolution", "opened_at", "closed_at")
CUSTOMER_COLUMNS = ("id", "member_no", "name_en", "tier", "status")


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own template cache (tests take its templates back to the old schema)."""
    folder = tmp_path_factory.mktemp("upgrade-templates")
    store = SandboxStore(folder.parent / "unused", folder)
    store.ensure_template(JEWELLERY)
    store.dispose()
    return folder


@pytest.fixture
def store(tmp_path: Path, template_dir: Path) -> Iterator[SandboxStore]:
    """A store on a copy of the module's templates, so a test may change them."""
    templates = tmp_path / "templates"
    shutil.copytree(template_dir, templates)
    found = SandboxStore(tmp_path / "sandboxes", templates)
    yield found
    found.dispose()


@pytest.fixture
def before(store: SandboxStore) -> dict[str, list[tuple]]:
    """A new sandbox under KEY, and its cases and customers as they were made."""
    store.create(KEY, JEWELLERY)
    with store.session(KEY, read_only=True) as session:
        return {
            "cases": rows(session, ServiceCase, *CASE_COLUMNS),
            "customers": rows(session, Customer, *CUSTOMER_COLUMNS),
        }


# --- every area declares its steps ------------------------------------------------------------


def test_every_area_declares_a_step_to_each_version_it_moved_to():
    for area in enabled_areas():
        assert missing_steps(area) == [], f"area {area.name} version {area.version}"


def test_a_version_bumped_without_its_step_is_caught():
    bumped = Area(name="x", label="X", version="3", upgrades={"2": add_missing("customer")})
    assert missing_steps(bumped) == ["3"]
    stray = Area(name="y", label="Y", version="2", upgrades={"2": add_missing("customer")})
    assert missing_steps(stray) == []
    assert missing_steps(Area(name="z", label="Z", upgrades={"2": add_missing("customer")})) == [
        "2 (no such version)"
    ]


def test_a_step_cannot_add_a_column_that_may_not_be_null_and_has_no_default():
    metadata = MetaData()
    before = Table("thing", metadata, Column("id", Integer, primary_key=True))
    after = Table(
        "thing",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("label", String(10), nullable=False),
        Column("note", String(10), nullable=False, default="none"),
    )
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(before.insert(), [{"id": 1}])
        context = UpgradeContext(connection, lambda tables: None)
        with pytest.raises(UpgradeError, match="thing.label to existing rows"):
            context.add_missing([after])
        after.c.label.nullable = True
        context.add_missing([after])
        assert connection.execute(select(after)).all() == [(1, None, "none")]
    engine.dispose()


def test_a_step_naming_an_unknown_table_is_an_error():
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        with pytest.raises(UpgradeError, match="unknown table.*no_such_table"):
            add_missing("no_such_table")(UpgradeContext(connection, lambda tables: None))
    engine.dispose()


# --- opening an old sandbox ---------------------------------------------------------------------


def test_an_old_sandbox_is_brought_forward_when_opened(store, before):
    downgrade(store.path(KEY))
    with store.session(KEY) as session:
        assert "refusal_ground" in columns(session, "service_case")
        assert rows(session, ServiceCase, *CASE_COLUMNS) == before["cases"]
        assert rows(session, Customer, *CUSTOMER_COLUMNS) == before["customers"]
        assert {case.refusal_ground for case in session.scalars(select(ServiceCase))} == {""}
        reports = session.scalars(select(ReportDefinition)).all()
        assert reports and {(str(r.group_by), str(r.measures)) for r in reports} == {("[]", "[]")}
        assert "summary" in columns(session, "report_export")
        assert session.scalar(text("SELECT count(*) FROM order_status_change")) == 0
        meta = {row.key: row.value for row in session.scalars(select(SandboxMeta))}
        assert json.loads(meta[VERSIONS_KEY]) == code_versions()
        assert json.loads(meta[UPGRADED_FROM_KEY]) == OLD
        # The upgrade wrote no row the trainee could be blamed for ...
        for table in ("service_case", "customer", "order_status_change"):
            assert store.tracked_keys(session, table) == []
        # ... and a new table's writes are tracked like any other's.
        order_id = session.scalar(text("SELECT min(id) FROM sales_order"))
        session.execute(
            text(
                "INSERT INTO order_status_change (order_id, status, changed_at, note) "
                "VALUES (:o, 'paid', '2026-03-16 10:00:00', '')"
            ),
            {"o": order_id},
        )
        assert store.tracked_keys(session, "order_status_change") == [1]


def test_a_sandbox_made_before_records_counts_as_version_1(store, before):
    downgrade(store.path(KEY), versions=None)
    with store.session(KEY, read_only=True) as session:
        assert "refusal_ground" in columns(session, "service_case")
        assert rows(session, ServiceCase, *CASE_COLUMNS) == before["cases"]
        meta = {row.key: row.value for row in session.scalars(select(SandboxMeta))}
        assert json.loads(meta[VERSIONS_KEY]) == code_versions()
        assert json.loads(meta[UPGRADED_FROM_KEY]) is None


def test_a_template_made_before_records_gets_one_before_it_is_cloned(store):
    template = store.template_path(JEWELLERY)
    template.chmod(0o644)
    with closing(sqlite3.connect(template)) as connection:
        connection.execute("DELETE FROM sandbox_meta WHERE key = ?", (VERSIONS_KEY,))
        connection.commit()
    template.chmod(0o444)
    store.create(KEY, JEWELLERY)
    for path in (template, store.path(KEY)):
        with closing(sqlite3.connect(path)) as connection:
            (value,) = connection.execute(
                "SELECT value FROM sandbox_meta WHERE key = ?", (VERSIONS_KEY,)
            ).fetchone()
            assert json.loads(value) == code_versions()
            # Inherited by the clone, not written in it; the template's log stays empty.
            logged = "SELECT count(*) FROM sandbox_change WHERE key LIKE 'schema%' OR ? = 1"
            assert connection.execute(logged, (path == template,)).fetchone()[0] == 0
    assert store.upgrade_file(store.path(KEY)) == []


def test_a_current_sandbox_is_left_as_it_is(store, before):
    path = store.path(KEY)
    made = path.read_bytes()
    with store.session(KEY, read_only=True):
        pass
    assert store.upgrade_file(path) == []
    assert path.read_bytes() == made


def test_a_frozen_sandbox_is_upgraded_and_stays_frozen(store, before):
    store.freeze(KEY)
    path = store.path(KEY)
    downgrade(path)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    with store.session(KEY, read_only=True) as session:
        assert "refusal_ground" in columns(session, "service_case")
        assert rows(session, ServiceCase, *CASE_COLUMNS) == before["cases"]
        assert sandbox_info(session).frozen_at is not None
    assert store.is_frozen(KEY)
    assert not path.stat().st_mode & 0o222
    # Retention counts from the last change the trainee could make, not from the upgrade.
    assert path.stat().st_mtime == 1_700_000_000


def test_a_sandbox_from_a_newer_release_is_refused_and_left_unchanged(store, before):
    path = store.path(KEY)
    downgrade(path, versions=code_versions() | {"cases": "9"})
    made = path.read_bytes()
    with pytest.raises(SandboxTooNew, match=TOO_NEW):
        with store.session(KEY):
            pass
    assert path.read_bytes() == made


def test_a_sandbox_naming_an_area_this_release_lacks_is_refused(store, before):
    path = store.path(KEY)
    downgrade(path, versions=code_versions() | {"loyalty": "1"})
    with pytest.raises(SandboxTooNew, match="loyalty"):
        store.upgrade_file(path)


# --- grading --------------------------------------------------------------------------------


def no_collateral_change(store: Any, tables: list[str]) -> tuple[Status, dict]:
    """Grade the sandbox KEY against its template with state.no_collateral_change."""
    load_builtin()
    check = CHECKS.get("state.no_collateral_change")
    with store.session(KEY, read_only=True) as final:
        info = sandbox_info(final)
        with store.template_session_for_key(info.template_key) as template:
            context = GradingContext.build(
                template=template, final=final, trainee_staff_id=info.trainee_staff_id
            )
            outcome = check.func(context, check.params_model.model_validate({"tables": tables}))
    return outcome.status, dict(outcome.evidence["changes"])


TABLES = ["customer", "service_case", "order_status_change"]


@pytest.mark.parametrize("changed", [False, True])
def test_grading_an_upgraded_sandbox_sees_only_the_trainees_changes(store, before, changed):
    with store.session(KEY, read_only=True) as session:
        template_key = sandbox_info(session).template_key
    # Both the sandbox and its template were made by the earlier release.
    downgrade(store.path(KEY))
    downgrade(store.template_path_for_key(template_key))
    customer_id = before["customers"][3][0]
    if changed:
        # The trainee's work before the deployment was upgraded.
        with closing(sqlite3.connect(store.path(KEY))) as connection:
            connection.execute(
                "UPDATE customer SET name_en = 'Changed' WHERE id = ?", (customer_id,)
            )
            connection.commit()
    status, changes = no_collateral_change(store, TABLES)
    if changed:
        assert status is Status.FAIL
        assert list(changes) == ["customer"]
        customer = changes["customer"]
        assert (customer["added_count"], customer["deleted_count"]) == (0, 0)
        assert [(c["id"], list(c["columns"])) for c in customer["changed"]] == [
            (customer_id, ["name_en"])
        ]
    else:
        assert status is Status.PASS
        assert changes == {}
    with store.template_session_for_key(template_key) as template:
        assert "refusal_ground" in columns(template, "service_case")
        assert template.scalar(text("SELECT count(*) FROM sandbox_change")) == 0


# --- through the platform -------------------------------------------------------------------


def test_a_trainee_works_in_an_old_sandbox_and_it_is_graded(
    sandbox_settings: Flask, client_as, trainee, started_attempt, db_session
):
    store = get_store(sandbox_settings)
    downgrade(store.path(started_attempt.sandbox_key))
    client = client_as(trainee)
    base = f"/attempts/{started_attempt.id}/crm"
    assert client.get(f"{base}/cases").status_code == 200
    with store.session(started_attempt.sandbox_key, read_only=True) as session:
        assert "refusal_ground" in columns(session, "service_case")
        customer_id = session.scalar(select(Customer.id).order_by(Customer.id))
    page = client.get(f"{base}/customers/{customer_id}")
    assert page.status_code == 200
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    with sandbox_settings.app_context():
        attempts_service.save_answers(
            db_session, started_attempt, reference_answers(started_attempt)
        )
        attempts_service.submit_attempt(db_session, started_attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, started_attempt)
    db_session.commit()
    grading = results_service.latest_grade(db_session, started_attempt)
    # As for the reference solution in a new sandbox: every check passes, no rule is breached;
    # only the written item waits for its assessor.
    assert [c.check_id for c in grading.checks if c.status is not Status.PASS] == []
    assert [r.rule_id for r in grading.pdpo if r.status is Status.FAIL] == []
    assert grading.verdict is Verdict.PENDING_REVIEW, grading.reasons


def test_regrading_a_frozen_sandbox_after_an_upgrade_gives_the_same_result(
    sandbox_settings: Flask, graded_attempt, db_session
):
    first = results_service.latest_grade(db_session, graded_attempt)
    store = get_store(sandbox_settings)
    path = store.path(graded_attempt.sandbox_key)
    downgrade(path)
    with sandbox_settings.app_context():
        attempts_service.grade_attempt_record(db_session, graded_attempt)
    db_session.commit()
    assert results_service.latest_grade(db_session, graded_attempt).to_dict() == first.to_dict()
    assert store.is_frozen(graded_attempt.sandbox_key)
    assert store.upgrade_file(path) == []


def test_a_sandbox_from_a_newer_release_gets_a_clear_page(
    sandbox_settings: Flask, client_as, trainee, started_attempt
):
    path = get_store(sandbox_settings).path(started_attempt.sandbox_key)
    downgrade(path, versions=code_versions() | {"cases": "9"})
    response = client_as(trainee).get(f"/attempts/{started_attempt.id}/crm/cases")
    assert response.status_code == 409
    assert "made by a newer release of Practicum" in response.get_data(as_text=True)


# --- the deployment's command -----------------------------------------------------------------


def test_the_command_upgrades_every_sandbox_and_its_dry_run_changes_nothing(
    sandbox_settings: Flask, runner
):
    store = get_store(sandbox_settings)
    spec = small_spec(customers=60, plants=())
    for key in ("current", "old", "old-frozen"):
        store.create(key, spec)
    store.freeze("old-frozen")
    downgrade(store.path("old"))
    downgrade(store.path("old-frozen"))
    made = {key: store.path(key).read_bytes() for key in store.keys()}

    result = runner.invoke(args=["upgrade-sandboxes", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Sandboxes: 2 to upgrade, 1 already current." in result.output
    assert "Dry run: nothing was changed." in result.output
    assert {key: store.path(key).read_bytes() for key in store.keys()} == made

    result = runner.invoke(args=["upgrade-sandboxes"])
    assert result.exit_code == 0, result.output
    assert "Sandboxes: 2 upgraded, 1 already current." in result.output
    assert store.is_frozen("old-frozen")
    for key in ("old", "old-frozen"):
        with store.session(key, read_only=True) as session:
            assert "refusal_ground" in columns(session, "service_case")

    result = runner.invoke(args=["upgrade-sandboxes"])
    assert "Sandboxes: 0 upgraded, 3 already current." in result.output


def test_the_command_lists_a_sandbox_it_cannot_upgrade_and_upgrades_the_rest(
    sandbox_settings: Flask, runner
):
    store = get_store(sandbox_settings)
    spec = small_spec(customers=60, plants=())
    for key in ("newer", "old"):
        store.create(key, spec)
    downgrade(store.path("newer"), versions=code_versions() | {"cases": "9"})
    downgrade(store.path("old"))
    result = runner.invoke(args=["upgrade-sandboxes"])
    assert result.exit_code == 1
    assert "Sandboxes: 1 upgraded, 0 already current, 1 failed." in result.output
    assert "Failed: sandbox newer: the sandbox was made or upgraded by a newer release" in (
        result.output
    )


# --- PostgreSQL -------------------------------------------------------------------------------


def downgrade_schema(connection: Any, schema: str, versions: dict[str, str]) -> None:
    """Take one PostgreSQL sandbox, spare or template schema back to the earlier schema."""
    s = f'"{schema}"'
    for table, column in DROPPED:
        connection.exec_driver_sql(f"ALTER TABLE {s}.{table} DROP COLUMN {column}")
    connection.exec_driver_sql(f"DROP TABLE {s}.order_status_change")
    connection.exec_driver_sql(
        f"UPDATE {s}.sandbox_meta SET value = %(v)s WHERE key = %(k)s",
        {"v": json.dumps(versions), "k": VERSIONS_KEY},
    )
    if schema.startswith("s_"):
        connection.exec_driver_sql(f"DELETE FROM {s}.sandbox_change")


@pytest.mark.postgres
def test_postgres_sandboxes_spares_and_templates_are_brought_forward(request, tmp_path):
    from sandbox_crm.backends.postgres_schemas import PostgresSchemaBackend

    url = request.getfixturevalue("postgres_url")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("DROP DATABASE IF EXISTS upgrades")
        connection.exec_driver_sql("CREATE DATABASE upgrades")
    admin.dispose()
    url = url.rsplit("/", 1)[0] + "/upgrades"
    spec = small_spec(customers=60, plants=())
    backend = PostgresSchemaBackend(url, tmp_path / "sources", spares=1)
    try:
        backend.create(KEY, spec, clock_mode="stepped")
        backend.settle()
        with backend.session(KEY, read_only=True) as session:
            made = rows(session, Customer, *CUSTOMER_COLUMNS)
        customer_id = made[2][0]
        with backend.engine.begin() as connection:
            found = connection.exec_driver_sql(
                "SELECT kind, schema_name FROM sandbox_registry.schemas ORDER BY kind"
            ).all()
            assert sorted(kind for kind, _ in found) == ["sandbox", "spare", "template"]
            for _, schema in found:
                downgrade_schema(connection, schema, OLD)
            sandbox = next(schema for kind, schema in found if kind == "sandbox")
            # The trainee's work before the deployment was upgraded.
            connection.exec_driver_sql(
                f"UPDATE \"{sandbox}\".customer SET name_en = 'Changed' WHERE id = %(i)s",
                {"i": customer_id},
            )

        dry = PostgresSchemaBackend(url, spares=0)
        report = dry.upgrade_sandboxes(dry_run=True)
        dry.dispose()
        assert report.upgraded == {"sandbox": 1, "spare": 1, "template": 1}
        with backend.engine.connect() as connection:
            assert "refusal_ground" not in {
                c["name"] for c in inspect(connection).get_columns("service_case", sandbox)
            }

        # Grading opens the sandbox and its template: both are brought forward.
        # (A new server process: this one saw them current before they were taken back.)
        backend.dispose()
        backend = PostgresSchemaBackend(url, spares=0)
        status, changes = no_collateral_change(backend, TABLES)
        assert status is Status.FAIL
        assert list(changes) == ["customer"]
        assert [c["id"] for c in changes["customer"]["changed"]] == [customer_id]
        with backend.session(KEY, read_only=True) as session:
            assert "refusal_ground" in columns(session, "service_case")
            assert {case.refusal_ground for case in session.scalars(select(ServiceCase))} <= {""}
            for report in session.scalars(select(ReportDefinition)):
                assert (report.group_by, report.measures) == ([], [])
            assert backend.tracked_keys(session, "service_case") == []

        report = backend.upgrade_sandboxes()
        assert (report.upgraded, report.failed) == ({"spare": 1}, [])
        assert report.current == {"sandbox": 1, "template": 1}

        with backend.engine.begin() as connection:
            connection.exec_driver_sql(
                f'UPDATE "{sandbox}".sandbox_meta SET value = %(v)s WHERE key = %(k)s',
                {"v": json.dumps(code_versions() | {"cases": "9"}), "k": VERSIONS_KEY},
            )
        later = PostgresSchemaBackend(url, spares=0)
        try:
            with pytest.raises(SandboxTooNew, match=TOO_NEW):
                with later.session(KEY):
                    pass
        finally:
            later.dispose()
    finally:
        backend.dispose()
