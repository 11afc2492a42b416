"""Units and scenarios stay consistent: a unit version cannot orphan a scenario's PR references,
and an attempt binds the unit version its scenario was validated against."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.platform_fixtures import FIXTURE_ROOT, SCENARIO_ID, UNIT_CODE
from training_platform import attempts_service, create_app, definitions_store
from training_platform.db import upgrade_database
from training_platform.models import DefinitionKind, DefinitionVersion

UNIT_FILE = FIXTURE_ROOT / "units" / f"{UNIT_CODE}.yaml"
WRITTEN_PR = """      - id: "2.2"
        text: Propose a use of the data that keeps to those choices
"""


def _unit_text(*, without_written_pr: bool = False, title: str | None = None) -> str:
    source = UNIT_FILE.read_text(encoding="utf-8")
    assert WRITTEN_PR in source
    if without_written_pr:
        source = source.replace(WRITTEN_PR, "")
    if title is not None:
        source = source.replace("title: Prepare a customer list", f"title: {title}", 1)
    return source


def _publish_unit(db_session, source: str, **options):
    return definitions_store.publish(
        db_session,
        kind=DefinitionKind.UNIT,
        text=source,
        filename=f"units/{UNIT_CODE}.yaml",
        centre_id=None,
        user_id=None,
        **options,
    )


def _current(db_session, kind: DefinitionKind, key: str) -> DefinitionVersion:
    version = definitions_store.current_version(db_session, kind, key, None)
    assert version is not None
    return version


def test_a_published_scenario_records_the_unit_version_it_was_validated_against(
    db_session, published_definitions
):
    scenario = _current(db_session, DefinitionKind.SCENARIO, SCENARIO_ID)
    assert scenario.validated_unit == _current(db_session, DefinitionKind.UNIT, UNIT_CODE)


def test_a_unit_version_that_drops_an_assessed_pr_is_refused_and_nothing_changes(
    db_session, published_definitions
):
    before = _current(db_session, DefinitionKind.UNIT, UNIT_CODE)

    result = _publish_unit(db_session, _unit_text(without_written_pr=True))

    assert not result.ok and result.version is None
    message = " ".join(str(problem) for problem in result.problems)
    assert SCENARIO_ID in message and '"2.2"' in message
    assert _current(db_session, DefinitionKind.UNIT, UNIT_CODE).id == before.id
    scenario = _current(db_session, DefinitionKind.SCENARIO, SCENARIO_ID)
    assert scenario.validated_unit_id == before.id


def test_a_unit_version_that_keeps_the_prs_is_published_and_the_scenario_is_bound_to_it(
    db_session, published_definitions
):
    result = _publish_unit(db_session, _unit_text(title="Prepare a member list"))

    assert result.ok and result.version is not None and result.version.version == 2
    scenario = _current(db_session, DefinitionKind.SCENARIO, SCENARIO_ID)
    assert scenario.validated_unit_id == result.version.id


def test_an_attempt_binds_the_unit_version_its_scenario_was_validated_against(
    sandbox_settings, db_session, trainee, practice_scenario
):
    validated = practice_scenario.validated_unit
    # A newer unit version published while the scenario is being replaced is not yet the one
    # the current scenario version was validated against.
    newer = _publish_unit(
        db_session, _unit_text(title="Prepare a member list"), superseded={SCENARIO_ID}
    ).version
    db_session.commit()
    assert newer is not None and newer.is_current and validated is not None

    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, practice_scenario)

    assert attempt.unit_version_id == validated.id != newer.id


def _copy_fixture_root(tmp_path: Path) -> Path:
    root = tmp_path / "definitions"
    shutil.copytree(FIXTURE_ROOT, root)
    return root


def test_sync_definitions_refuses_a_unit_that_would_orphan_a_stored_scenario(
    app, runner, db_session, tmp_path
):
    root = _copy_fixture_root(tmp_path)
    app.config["DEFINITIONS_ROOT"] = str(root)
    assert runner.invoke(args=["sync-definitions"]).exit_code == 0
    count = db_session.scalar(select(func.count()).select_from(DefinitionVersion))
    # The scenario file goes, so its stored version stays current, and the unit drops its PR.
    shutil.rmtree(root / "scenarios")
    (root / "units" / f"{UNIT_CODE}.yaml").write_text(_unit_text(without_written_pr=True))

    result = runner.invoke(args=["sync-definitions"])

    assert result.exit_code == 2
    assert SCENARIO_ID in result.output and '"2.2"' in result.output
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(DefinitionVersion)) == count


def test_sync_definitions_publishes_a_unit_and_the_scenario_that_stops_using_its_pr(
    app, runner, db_session, tmp_path
):
    root = _copy_fixture_root(tmp_path)
    app.config["DEFINITIONS_ROOT"] = str(root)
    assert runner.invoke(args=["sync-definitions"]).exit_code == 0
    (root / "units" / f"{UNIT_CODE}.yaml").write_text(_unit_text(without_written_pr=True))
    scenario_file = next((root / "scenarios").glob("*/*.yaml"))
    scenario_file.write_text(
        scenario_file.read_text().replace('requirements: ["2.2"]', 'requirements: ["2.1"]')
    )

    result = runner.invoke(args=["sync-definitions"])

    assert result.exit_code == 0, result.output
    db_session.expire_all()
    unit = _current(db_session, DefinitionKind.UNIT, UNIT_CODE)
    scenario = _current(db_session, DefinitionKind.SCENARIO, SCENARIO_ID)
    assert (unit.version, scenario.version) == (2, 2)
    assert scenario.validated_unit_id == unit.id


@pytest.fixture
def database_at_0003(tmp_path: Path):
    """A database migrated to 0003 with two unit versions and two scenarios (one orphan)."""
    database = tmp_path / "old.sqlite"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{database}",
            "SANDBOX_DIR": str(tmp_path / "sandboxes"),
            "TEMPLATE_CACHE_DIR": str(tmp_path / "templates"),
        }
    )
    upgrade_database(app, "0003")
    engine = create_engine(f"sqlite:///{database}")
    rows = [
        (1, "unit", "U", "U", "2026-01-01 09:00:00", 0),
        (2, "scenario", "s", "U", "2026-02-01 09:00:00", 1),
        (3, "unit", "U", "U", "2026-03-01 09:00:00", 1),
        (4, "scenario", "lost", "V", "2026-03-02 09:00:00", 1),
    ]
    with engine.begin() as conn:
        for row_id, kind, key, unit_code, published, current in rows:
            conn.execute(
                text(
                    "INSERT INTO definition_version (id, centre_id, kind, key, version, "
                    "content_hash, filename, source_text, title, unit_code, published_at, "
                    "is_current) VALUES (:id, NULL, :kind, :key, :id, 'h', 'f', '', 'T', :unit, "
                    ":published, :current)"
                ),
                {
                    "id": row_id,
                    "kind": kind,
                    "key": key,
                    "unit": unit_code,
                    "published": published,
                    "current": current,
                },
            )
    yield app, engine
    engine.dispose()


def test_migration_0004_binds_each_scenario_to_the_unit_version_current_when_it_was_published(
    database_at_0003,
):
    app, engine = database_at_0003

    upgrade_database(app)

    with engine.connect() as conn:
        bound = dict(
            conn.execute(
                text("SELECT id, validated_unit_id FROM definition_version WHERE kind = 'scenario'")
            ).all()
        )
    assert bound == {2: 1, 4: None}
