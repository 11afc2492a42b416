"""Data variants and the pinned baseline: allocation, pre-generation, purge and regrade preview."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import faker
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders import registry
from graders.results import Outcome
from graders.runner import generation_spec, pick_variant
from sandbox_crm import generator
from sandbox_crm.info import sandbox_info
from sandbox_crm.store import TemplateNotFound
from tests.platform_fixtures import SCENARIO_ID, apply_reference_solution, reference_answers
from training_platform import attempts_service, definitions_store, regrade_service, sandboxes
from training_platform.db import new_session
from training_platform.models import Attempt, DefinitionVersion, GradeRecord, Job, JobStatus, User


def _start(app: Flask, db_session: Session, user: User, version: DefinitionVersion) -> Attempt:
    with app.app_context():
        attempt = attempts_service.start_attempt(db_session, user, version)
    db_session.commit()
    return attempt


def _hand_in(app: Flask, db_session: Session, attempt: Attempt) -> Attempt:
    """The reference solution and answers, submitted and graded."""
    deliverables = apply_reference_solution(app, attempt)
    with app.app_context():
        attempts_service.save_answers(db_session, attempt, reference_answers(attempt))
        attempts_service.submit_attempt(db_session, attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()
    return attempt


@pytest.fixture
def pool_of_three(sandbox_settings: Flask) -> Flask:
    """The app with every scenario's pool capped at three variants (and room to start six)."""
    sandbox_settings.config["SANDBOX_VARIANTS"] = 3
    sandbox_settings.config["MAX_ATTEMPTS_IN_PROGRESS"] = 10
    return sandbox_settings


@pytest.fixture
def own_templates(sandbox_settings: Flask, tmp_path: Path) -> Flask:
    """The app with a template cache of its own, which a test may delete from."""
    sandbox_settings.config["TEMPLATE_CACHE_DIR"] = str(tmp_path / "own_templates")
    sandbox_settings.extensions.pop(sandboxes.EXTENSION_KEY, None)
    return sandbox_settings


@pytest.fixture
def pinned_attempt(
    own_templates: Flask, db_session: Session, trainee, practice_scenario
) -> Attempt:
    """A graded reference attempt whose template lives in the test's own cache."""
    attempt = _start(own_templates, db_session, trainee, practice_scenario)
    return _hand_in(own_templates, db_session, attempt)


# --- choosing a variant ------------------------------------------------------------------------


def test_pick_variant_prefers_variants_the_trainee_has_not_had_and_the_centre_used_least():
    assert pick_variant(4, [1], {0: 2, 1: 1, 2: 0, 3: 1}, "t1") == 2
    assert pick_variant(4, [0, 2], {0: 1, 1: 5, 2: 1, 3: 5}, "t1") in (1, 3)
    # Deterministic: the same history gives the same choice.
    assert pick_variant(8, [3], {}, "t9") == pick_variant(8, [3], {}, "t9")


def test_pick_variant_starts_a_new_round_without_repeating_the_last_variant():
    for last in range(3):
        had = [v for v in range(3) if v != last] + [last]
        assert pick_variant(3, had, {last: 0}, "t1") != last
    assert pick_variant(1, [0, 0], {0: 9}, "t1") == 0


def test_a_trainees_attempts_in_a_pool_of_n_get_n_different_variants(
    pool_of_three: Flask, db_session: Session, trainee, practice_scenario
):
    attempts = [_start(pool_of_three, db_session, trainee, practice_scenario) for _ in range(3)]
    assert sorted(a.variant for a in attempts) == [0, 1, 2]
    scenario = definitions_store.scenario_of(attempts[0])
    for attempt in attempts:
        assert attempt.template_key == generation_spec(scenario, attempt.variant).cache_key()
        assert attempt.generator_version == generator.GENERATOR_VERSION
        assert attempt.faker_version == faker.VERSION
    seeds = set()
    for attempt in attempts:
        with sandboxes.get_store(pool_of_three).session(attempt.sandbox_key, True) as sandbox:
            info = sandbox_info(sandbox)
        seeds.add(info.seed)
        assert (info.variant, info.template_key) == (attempt.variant, attempt.template_key)
    assert len(seeds) == 3


def test_when_the_pool_is_used_up_the_variants_come_round_again(
    pool_of_three: Flask, db_session: Session, trainee, practice_scenario
):
    variants = [
        _start(pool_of_three, db_session, trainee, practice_scenario).variant for _ in range(6)
    ]
    assert sorted(variants[:3]) == [0, 1, 2]
    assert sorted(variants[3:]) == [0, 1, 2]
    assert variants[3] != variants[2]


def test_two_trainees_of_one_centre_get_different_variants(
    pool_of_three: Flask, db_session: Session, trainee, other_trainee, practice_scenario
):
    first = _start(pool_of_three, db_session, trainee, practice_scenario)
    second = _start(pool_of_three, db_session, other_trainee, practice_scenario)
    assert first.variant != second.variant


def test_a_pool_of_one_gives_everyone_the_same_variant(
    sandbox_settings: Flask, db_session: Session, trainee, other_trainee, practice_scenario
):
    first = _start(sandbox_settings, db_session, trainee, practice_scenario)
    second = _start(sandbox_settings, db_session, other_trainee, practice_scenario)
    again = _start(sandbox_settings, db_session, trainee, practice_scenario)
    assert first.variant == second.variant == again.variant == 0


def test_two_starts_at_once_by_one_trainee_get_different_variants(
    pool_of_three: Flask, trainee, practice_scenario
):
    barrier = threading.Barrier(2)
    variants: list[int] = []
    problems: list[BaseException] = []

    def start() -> None:
        with pool_of_three.app_context():
            session = new_session(pool_of_three)
            try:
                user = session.get(User, trainee.id)
                version = session.get(DefinitionVersion, practice_scenario.id)
                barrier.wait()
                attempt = attempts_service.start_attempt(session, user, version)
                variants.append(attempt.variant)
                session.commit()
            except BaseException as exc:  # reported by the assertion below
                problems.append(exc)
            finally:
                session.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not problems
    assert len(set(variants)) == 2


# --- the pinned baseline -----------------------------------------------------------------------


def test_grading_fails_clearly_when_the_pinned_template_is_gone(
    own_templates: Flask, db_session: Session, pinned_attempt: Attempt
):
    store = sandboxes.get_store(own_templates)
    store.delete_template(pinned_attempt.template_key)
    with own_templates.app_context(), pytest.raises(attempts_service.GradingFailed) as failed:
        attempts_service.grade_attempt_record(db_session, pinned_attempt)
    assert isinstance(failed.value.__cause__, TemplateNotFound)
    assert not store.has_template(pinned_attempt.template_key)  # not generated again
    assert store.template_keys() == []
    db_session.rollback()
    with own_templates.app_context():
        preview = regrade_service.preview_regrade(db_session, pinned_attempt)
    assert "no longer on disk" in preview.problem
    assert preview.new_verdict is None


def test_a_generator_upgrade_does_not_change_a_regrades_baseline(
    own_templates: Flask, db_session: Session, pinned_attempt: Attempt, monkeypatch
):
    store = sandboxes.get_store(own_templates)
    before = store.template_keys()
    scenario = definitions_store.scenario_of(pinned_attempt)
    monkeypatch.setattr(generator, "GENERATOR_VERSION", "99-upgraded")
    assert generation_spec(scenario, pinned_attempt.variant).cache_key() != before[0]
    with own_templates.app_context():
        preview = regrade_service.preview_regrade(db_session, pinned_attempt)
        attempts_service.grade_attempt_record(db_session, pinned_attempt)
    assert preview.problem == ""
    assert not preview.changed
    assert store.template_keys() == before == [pinned_attempt.template_key]


def test_the_evidence_timeline_reads_the_pinned_template(
    own_templates: Flask, client_as, assessor, pinned_attempt: Attempt
):
    store = sandboxes.get_store(own_templates)
    page = client_as(assessor).get(f"/review/attempts/{pinned_attempt.id}")
    assert page.status_code == 200
    assert 'id="event-' in page.get_data(as_text=True)
    store.delete_template(pinned_attempt.template_key)
    page = client_as(assessor).get(f"/review/attempts/{pinned_attempt.id}")
    assert page.status_code == 200
    assert "is no longer on disk" in page.get_data(as_text=True)
    assert store.template_keys() == []


def test_an_attempt_from_before_pinning_is_graded_on_its_variants_template_without_generating(
    own_templates: Flask, db_session: Session, pinned_attempt: Attempt, monkeypatch
):
    key = pinned_attempt.template_key
    pinned_attempt.template_key = None
    db_session.commit()
    assert attempts_service.pinned_template_key(pinned_attempt) == key
    with own_templates.app_context():
        assert regrade_service.preview_regrade(db_session, pinned_attempt).problem == ""
        # After an upgrade its key changes; the old template is not taken for it, nor a new made.
        monkeypatch.setattr(generator, "GENERATOR_VERSION", "99-upgraded")
        preview = regrade_service.preview_regrade(db_session, pinned_attempt)
    assert "no longer on disk" in preview.problem
    assert sandboxes.get_store(own_templates).template_keys() == [key]


# --- purge -------------------------------------------------------------------------------------


def test_purge_keeps_templates_attempts_refer_to_and_deletes_the_rest(
    own_templates: Flask, runner, db_session: Session, pinned_attempt: Attempt
):
    store = sandboxes.get_store(own_templates)
    scenario = definitions_store.scenario_of(pinned_attempt)
    spare = generator.GenerationSpec(
        profile="retail", seed=1, customers=60, today=scenario.crm.today
    )
    store.ensure_template(spare)
    assert set(store.template_keys()) == {pinned_attempt.template_key, spare.cache_key()}

    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would delete template {spare.cache_key()}" in dry.output
    assert store.has_template(spare.cache_key())

    kept = runner.invoke(args=["purge"])
    assert kept.exit_code == 0, kept.output
    assert store.template_keys() == [pinned_attempt.template_key]
    assert store.exists(pinned_attempt.sandbox_key)  # within the retention period

    old = runner.invoke(args=["purge", "--older-than", "0"])
    assert old.exit_code == 0, old.output
    assert f"deleted sandbox {pinned_attempt.sandbox_key}" in old.output
    assert not store.exists(pinned_attempt.sandbox_key)
    # The attempt still refers to its template, so it stays.
    assert store.template_keys() == [pinned_attempt.template_key]


def test_purge_keeps_the_pool_of_a_current_scenario(
    own_templates: Flask, runner, practice_scenario
):
    store = sandboxes.get_store(own_templates)
    pool = sandboxes.pregenerate_variants(store, _model(practice_scenario), cap=1)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert store.template_keys() == list(pool.keys)


# --- generating ahead --------------------------------------------------------------------------


def _model(version: DefinitionVersion):
    from training_platform.definitions_store import load_scenario_model

    return load_scenario_model(version)


def test_practicum_pregenerate_generates_a_scenarios_pool(
    own_templates: Flask, runner, practice_scenario
):
    own_templates.config["SANDBOX_VARIANTS"] = 2
    result = runner.invoke(args=["pregenerate", SCENARIO_ID])
    assert result.exit_code == 0, result.output
    assert "2 variant(s) ready, 2 generated now" in result.output
    store = sandboxes.get_store(own_templates)
    scenario = _model(practice_scenario)
    expected = sorted(runner_key(scenario, v) for v in range(2))
    assert store.template_keys() == expected
    again = runner.invoke(args=["pregenerate"])
    assert "2 variant(s) ready, 0 generated now" in again.output


def runner_key(scenario, variant: int) -> str:
    """The template key of a scenario variant."""
    return generation_spec(scenario, variant).cache_key()


def test_practicum_pregenerate_names_the_scenarios_it_knows(
    own_templates: Flask, runner, practice_scenario
):
    result = runner.invoke(args=["pregenerate", "no-such-scenario"])
    assert result.exit_code == 2
    assert SCENARIO_ID in result.output


def test_sync_definitions_queues_the_pools_as_jobs_only_when_enabled(
    own_templates: Flask, runner, practice_scenario, db_session
):
    store = sandboxes.get_store(own_templates)
    assert runner.invoke(args=["sync-definitions"]).exit_code == 0  # off under TESTING
    assert db_session.scalar(select(func.count(Job.id))) == 0
    assert store.template_keys() == []

    own_templates.config["PREGENERATE_VARIANTS"] = True
    result = runner.invoke(args=["sync-definitions"])
    assert "Queued the generation of the data variants of 1 scenario version(s)" in result.output
    # Jobs run at once under TESTING; a worker runs them otherwise.
    job = db_session.scalar(select(Job).where(Job.kind == "pregenerate"))
    assert (job.status, job.target_id) == (JobStatus.DONE, practice_scenario.id)
    assert store.template_keys() == [runner_key(_model(practice_scenario), 0)]
    again = runner.invoke(args=["sync-definitions"])
    assert "Queued" not in again.output  # the pool's job is done: nothing is queued twice


# --- regrade preview ---------------------------------------------------------------------------


@pytest.fixture
def columns_check_broken():
    """The graders changed: report.columns now fails every attempt (in an isolated registry)."""
    with registry.isolated() as (checks, _rules):
        entry = checks.get("report.columns")

        def always_fail(context, params):
            return Outcome.failed({"changed": True}, note="The columns are judged differently now.")

        checks._entries["report.columns"] = dataclasses.replace(entry, func=always_fail)
        yield


def _records(db_session: Session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(GradeRecord.id))) or 0


def test_the_regrade_preview_page_shows_no_change_under_the_same_graders(
    client_as, assessor, graded_attempt: Attempt, db_session: Session
):
    page = client_as(assessor).get(f"/review/attempts/{graded_attempt.id}/regrade-preview")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="regrade-unchanged"' in text
    assert 'id="regrade-changes"' not in text


def test_the_regrade_preview_page_lists_what_a_changed_grader_changes(
    client_as, assessor, graded_attempt: Attempt, db_session: Session, columns_check_broken
):
    before = _records(db_session)
    evidence = client_as(assessor).get(f"/review/attempts/{graded_attempt.id}")
    assert f"/review/attempts/{graded_attempt.id}/regrade-preview" in evidence.get_data(
        as_text=True
    )
    page = client_as(assessor).get(f"/review/attempts/{graded_attempt.id}/regrade-preview")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="regrade-changes"' in text
    assert "columns" in text and "report.columns" in text
    assert _records(db_session) == before  # nothing stored


def test_the_regrade_preview_stays_within_the_assessors_centre(
    client_as, foreign_assessor, trainee, graded_attempt: Attempt
):
    url = f"/review/attempts/{graded_attempt.id}/regrade-preview"
    assert client_as(foreign_assessor).get(url).status_code == 404
    assert client_as(trainee).get(url).status_code == 403


def test_practicum_regrade_preview_reports_changed_attempts_and_a_summary(
    runner, graded_attempt: Attempt, db_session: Session, columns_check_broken
):
    before = _records(db_session)
    result = runner.invoke(args=["regrade", "--preview", "--scenario", SCENARIO_ID])
    assert result.exit_code == 0, result.output
    assert f"attempt #{graded_attempt.id}" in result.output
    assert "check columns: pass -> fail" in result.output
    assert "Previewed 1 graded attempt(s): 1 would change" in result.output
    assert _records(db_session) == before


# --- the pages name the variant ----------------------------------------------------------------


def test_the_result_evidence_and_attempts_pages_name_the_variant(
    client_as, trainee, assessor, graded_attempt: Attempt
):
    pool = definitions_store.scenario_of(graded_attempt).crm.variants
    label = f"Data variant {graded_attempt.variant + 1} of {pool}"
    result = client_as(trainee).get(f"/attempts/{graded_attempt.id}/result")
    assert label in result.get_data(as_text=True)
    listing = client_as(trainee).get("/attempts")
    assert f"Variant {graded_attempt.variant + 1} of {pool}" in listing.get_data(as_text=True)
    evidence = client_as(assessor).get(f"/review/attempts/{graded_attempt.id}")
    text = evidence.get_data(as_text=True)
    assert label in text
    assert graded_attempt.template_key[:12] in text


# --- the migration -----------------------------------------------------------------------------


def test_migration_0003_keeps_each_attempts_variant_and_leaves_its_template_unrecorded(
    tmp_path: Path,
):
    from sqlalchemy import create_engine, text

    from training_platform import create_app
    from training_platform.db import upgrade_database

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
    upgrade_database(app, "0002")
    engine = create_engine(f"sqlite:///{database}")
    now = "2026-11-01 09:00:00"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO centre VALUES (1, 'c', 'Centre', '{now}')"))
        conn.execute(
            text(
                "INSERT INTO app_user (id, centre_id, email, display_name, role, password_hash, "
                f"is_active, created_at) VALUES (1, 1, 't@x.test', 'T', 'trainee', 'h', 1, '{now}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO definition_version (id, centre_id, kind, key, version, content_hash, "
                "filename, source_text, title, unit_code, published_at, is_current) VALUES "
                f"(1, NULL, 'scenario', 's', 1, 'h', 'f', '', 'S', 'U', '{now}', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO attempt (id, trainee_id, scenario_version_id, unit_version_id, "
                "status, variant_seed, sandbox_key, started_at, deliverables, answers) VALUES "
                f"(1, 1, 1, 1, 'graded', 5, 'attempt-1', '{now}', '{{}}', '{{}}')"
            )
        )
    upgrade_database(app)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT variant, template_key, generator_version FROM attempt")
        ).one()
    engine.dispose()
    assert tuple(row) == (5, None, None)
