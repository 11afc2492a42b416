"""Preparing a class: spare sandboxes sized to the cohort before its window opens.

The SQLite tests cover the doors (the window page's button, `practicum prepare-class`, the
sweep) and the sizing; the PostgreSQL ones (marked, on the throwaway cluster) that the spares
are made, claimed by the class's starts, not doubled, and dropped by the purge.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select

from sandbox_crm.backends.postgres_schemas import PostgresSchemaBackend
from tests.platform_fixtures import SCENARIO_ID
from tests.test_postgres import postgres_url  # noqa: F401  (the throwaway cluster fixture)
from training_platform import attempts_service, class_prep_service, jobs, sandboxes
from training_platform.definitions_store import publish
from training_platform.models import (
    AssessmentWindow,
    Attempt,
    ClassPreparation,
    Cohort,
    CohortMember,
    DefinitionKind,
    Job,
    JobStatus,
    Role,
    utcnow,
)

ASSESSMENT_ID = f"{SCENARIO_ID}-assessment"


@pytest.fixture
def assessment(db_session, centre, practice_scenario):
    """The test scenario published by the centre in assessment mode."""
    source = practice_scenario.source_text.replace(
        f"id: {SCENARIO_ID}", f"id: {ASSESSMENT_ID}"
    ).replace("mode: practice", "mode: assessment\nmax_attempts: 3")
    result = publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=source,
        filename="assessment.yaml",
        centre_id=centre.id,
        user_id=None,
    )
    assert result.ok, result.problems
    db_session.commit()
    return result.version


@pytest.fixture
def make_class(db_session, centre, make_user):
    """Factory: a cohort of ``size`` trainees with a window for a scenario; returns the window."""
    numbers = itertools.count(1)

    def make(size: int, scenario_key: str = ASSESSMENT_ID, opens_in: float = 0.5, hours=3):
        cohort = Cohort(centre_id=centre.id, name=f"Class {next(numbers)}")
        db_session.add(cohort)
        db_session.flush()
        for _ in range(size):
            trainee = make_user(Role.TRAINEE)
            db_session.add(CohortMember(cohort_id=cohort.id, user_id=trainee.id))
        now = utcnow()
        window = AssessmentWindow(
            cohort_id=cohort.id,
            scenario_key=scenario_key,
            opens_at=now + timedelta(hours=opens_in),
            closes_at=now + timedelta(hours=opens_in + hours),
        )
        db_session.add(window)
        db_session.commit()
        return window

    return make


def _prepare(runner, centre, trainees: int):
    """``practicum prepare-class`` for the test scenario, a class of ``trainees`` in ``centre``."""
    return runner.invoke(
        args=[
            "prepare-class",
            "--scenario",
            SCENARIO_ID,
            "--trainees",
            str(trainees),
            "--centre",
            centre.slug,
        ]
    )


def _jobs(db_session, kind=jobs.PREPARE_CLASS) -> list[Job]:
    db_session.expire_all()
    return list(db_session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


# --- sizing -------------------------------------------------------------------------------------


def test_a_class_is_spread_over_the_pool_as_starts_spread_it(
    sandbox_settings, db_session, centre, practice_scenario
):
    with sandbox_settings.app_context():
        starts = class_prep_service.expected_starts(db_session, centre.id, SCENARIO_ID, 3, count=10)
    assert sum(starts.values()) == 10
    assert sorted(starts.values()) == [3, 3, 4]


def test_variants_the_centre_used_more_get_fewer_of_the_class(
    sandbox_settings, db_session, centre, practice_scenario, make_user
):
    sandbox_settings.config["SANDBOX_VARIANTS"] = 2
    with sandbox_settings.app_context():
        for _ in range(2):
            attempts_service.start_attempt(db_session, make_user(Role.TRAINEE), practice_scenario)
        db_session.commit()
        used = attempts_service.centre_variant_use(db_session, centre.id, SCENARIO_ID)
        starts = class_prep_service.expected_starts(db_session, centre.id, SCENARIO_ID, 2, count=4)
    assert sorted(used.values()) == [1, 1]  # one start on each variant
    assert starts == {0: 2, 1: 2}
    with sandbox_settings.app_context():
        attempts_service.start_attempt(db_session, make_user(Role.TRAINEE), practice_scenario)
        db_session.commit()
        busier = max(
            attempts_service.centre_variant_use(db_session, centre.id, SCENARIO_ID).items(),
            key=lambda pair: pair[1],
        )[0]
        starts = class_prep_service.expected_starts(db_session, centre.id, SCENARIO_ID, 2, count=3)
    assert starts[busier] == 1 and starts[1 - busier] == 2


@pytest.mark.parametrize("trainees", [1, 2, 7, 40, 100])
def test_a_plan_asks_for_the_class_plus_a_margin_and_at_most_two_per_trainee(
    sandbox_settings, db_session, centre, practice_scenario, trainees
):
    sandbox_settings.config["SANDBOX_VARIANTS"] = 3
    with sandbox_settings.app_context():
        plan = class_prep_service.plan_class(
            db_session, centre.id, practice_scenario, count=trainees
        )
    assert sum(plan.starts.values()) == trainees
    assert trainees < plan.total <= 2 * trainees
    for variant, starts in plan.starts.items():
        assert starts <= max(plan.spares.values())
        assert variant in range(3)


def test_a_preparation_holds_fewer_spares_as_its_class_starts(
    sandbox_settings, db_session, centre, practice_scenario, make_user
):
    first, second = "a" * 64, "b" * 64
    db_session.add(
        ClassPreparation(
            centre_id=centre.id,
            scenario_key=SCENARIO_ID,
            trainees=4,
            spares={first: 3, second: 2},
            expires_at=utcnow() + timedelta(hours=2),
            prepared_at=utcnow() - timedelta(seconds=1),
        )
    )
    db_session.commit()
    with sandbox_settings.app_context():
        assert class_prep_service.held_spares(db_session) == {first: 3, second: 2}
        for _ in range(2):
            attempts_service.start_attempt(db_session, make_user(Role.TRAINEE), practice_scenario)
        db_session.commit()
        assert class_prep_service.held_spares(db_session) == {first: 2, second: 1}
        for _ in range(2):
            attempts_service.start_attempt(db_session, make_user(Role.TRAINEE), practice_scenario)
        db_session.commit()
        assert class_prep_service.held_spares(db_session) == {}


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scenario", "no-such-scenario", "--trainees", "5"], 'no published scenario "no-such'),
        (["--scenario", SCENARIO_ID, "--trainees", "0"], "between 1 and 500"),
        (["--scenario", SCENARIO_ID, "--trainees", "-3"], "between 1 and 500"),
        (["--scenario", SCENARIO_ID, "--trainees", "100000"], "between 1 and 500"),
        (["--scenario", SCENARIO_ID, "--trainees", "5", "--centre", "nowhere"], "no centre"),
    ],
)
def test_prepare_class_refuses_bad_input_with_a_clear_message(
    sandbox_settings, runner, db_session, centre, practice_scenario, arguments, message
):
    result = runner.invoke(args=["prepare-class", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert _jobs(db_session) == []
    assert db_session.scalars(select(ClassPreparation)).all() == []


def test_prepare_class_on_sqlite_makes_the_templates_and_no_spares(
    sandbox_settings, runner, db_session, centre, practice_scenario
):
    sandbox_settings.config["SANDBOX_VARIANTS"] = 2
    result = _prepare(runner, centre, 12)
    assert result.exit_code == 0, result.output
    assert "no spare sandboxes are made" in result.output
    (job,) = _jobs(db_session)
    assert job.status == JobStatus.DONE and job.centre_id == centre.id
    preparation = db_session.get(ClassPreparation, job.target_id)
    assert (preparation.backend, preparation.spares, preparation.trainees) == (
        "sqlite_files",
        {},
        12,
    )
    with sandbox_settings.app_context():
        store = sandboxes.get_store()
        scenario = class_prep_service.definitions_store.load_scenario_model(practice_scenario)
        keys = sandboxes.pregenerate_variants(store, scenario, cap=2).keys
        assert all(store.has_template(key) for key in keys)
    # Asked again: the same preparation, resized, and its job run again.
    again = _prepare(runner, centre, 20)
    assert again.exit_code == 0, again.output
    assert [j.id for j in _jobs(db_session)] == [job.id]
    db_session.expire_all()
    assert [p.trainees for p in db_session.scalars(select(ClassPreparation))] == [20]


def test_prepare_class_refuses_more_spares_than_the_platform_allows(
    sandbox_settings, runner, db_session, centre, practice_scenario
):
    # Only sized on PostgreSQL; refused before anything is made, so no database is needed.
    sandbox_settings.config.update(SANDBOX_BACKEND="postgres", PREPARED_SPARES_MAX=10)
    result = _prepare(runner, centre, 10)
    assert result.exit_code == 2, result.output
    assert "over the platform's limit of 10" in result.output
    assert _jobs(db_session) == []


def test_a_preparation_by_hand_is_released_by_the_purge_after_its_hours(
    sandbox_settings, runner, db_session, centre, practice_scenario
):
    args = ["prepare-class", "--scenario", SCENARIO_ID, "--trainees", "3", "--centre", centre.slug]
    assert runner.invoke(args=args).exit_code == 0
    first = runner.invoke(args=["purge"])
    assert "0 class preparation(s) over" in first.output
    preparation = db_session.scalars(select(ClassPreparation)).one()
    preparation.expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    second = runner.invoke(args=["purge"])
    assert second.exit_code == 0, second.output
    assert "1 class preparation(s) over" in second.output
    db_session.expire_all()
    assert db_session.get(ClassPreparation, preparation.id).released_at is not None
    # Asked for again later: a new preparation, with a new job.
    assert runner.invoke(args=args).exit_code == 0
    assert len(db_session.scalars(select(ClassPreparation)).all()) == 2
    assert len(_jobs(db_session)) == 2


# --- the window page and the sweep --------------------------------------------------------------


def test_the_admin_prepares_a_windows_class_with_the_button(
    sandbox_settings, client_as, centre_admin, db_session, assessment, make_class
):
    window = make_class(3, opens_in=24)
    admin = client_as(centre_admin)
    page = admin.get(f"/centre/windows/{window.id}")
    assert "Not prepared yet." in page.text and "Prepare sandboxes" in page.text
    assert "there are no spare sandboxes to make" in page.text  # SQLite, said so
    response = admin.post(f"/centre/windows/{window.id}/prepare", follow_redirects=True)
    assert "The class&#39;s sandboxes are being prepared." in response.text
    (job,) = _jobs(db_session)
    assert job.key == f"prepare_class:window:{window.id}" and job.status == JobStatus.DONE
    preparation = db_session.get(ClassPreparation, job.target_id)
    assert (preparation.window_id, preparation.trainees) == (window.id, 3)
    assert preparation.expires_at == window.closes_at
    assert "Done" in response.text and "Not prepared yet." not in response.text
    jobs_page = admin.get("/jobs")
    assert "Preparing sandboxes for a class" in jobs_page.text
    assert f"{ASSESSMENT_ID}, 3 trainees" in jobs_page.text


def test_the_button_refuses_an_empty_cohort_and_an_unpublished_scenario(
    sandbox_settings, client_as, centre_admin, db_session, assessment, make_class
):
    admin = client_as(centre_admin)
    empty = make_class(0)
    response = admin.post(f"/centre/windows/{empty.id}/prepare", follow_redirects=True)
    assert "The cohort has no trainees left to start this assessment" in response.text
    gone = make_class(2, scenario_key="withdrawn-assessment")
    response = admin.post(f"/centre/windows/{gone.id}/prepare", follow_redirects=True)
    assert "There is no published scenario &#34;withdrawn-assessment&#34;" in response.text
    sandbox_settings.config["CLASS_PREP_MAX_TRAINEES"] = 3
    large = make_class(4)
    response = admin.post(f"/centre/windows/{large.id}/prepare", follow_redirects=True)
    assert "Give a number of trainees between 1 and 3." in response.text
    assert _jobs(db_session) == []


def test_another_centres_window_cannot_be_prepared(
    sandbox_settings, client_as, make_user, foreign_centre, db_session, assessment, make_class
):
    window = make_class(2)
    stranger = client_as(make_user(Role.CENTRE_ADMIN, centre=foreign_centre))
    assert stranger.post(f"/centre/windows/{window.id}/prepare").status_code == 404
    assert stranger.post("/centre/windows/99999999/prepare").status_code == 404
    assert _jobs(db_session) == []


def test_the_sweep_prepares_windows_opening_within_the_hour_once(
    sandbox_settings, db_session, assessment, make_class
):
    soon = make_class(2, opens_in=0.5)
    open_now = make_class(1, opens_in=-1)
    make_class(2, opens_in=5)  # later: the sweep of four hours from now takes it
    make_class(2, opens_in=-5, hours=1)  # closed
    with sandbox_settings.app_context():
        queued = jobs.queue_window_preparations(db_session)
        jobs.dispatch(queued)
        again = jobs.queue_window_preparations(db_session)
    assert sorted(j.key for j in queued) == sorted(
        f"prepare_class:window:{w.id}" for w in (soon, open_now)
    )
    assert again == []
    assert [j.status for j in _jobs(db_session)] == [JobStatus.DONE, JobStatus.DONE]


# --- PostgreSQL: the spares themselves ----------------------------------------------------------

_databases = itertools.count()


@pytest.fixture
def pg_sandboxes(request, sandbox_settings, sandbox_template_cache):
    """The app with PostgreSQL sandboxes in a fresh database, one spare per template by default."""
    url = request.getfixturevalue("postgres_url")
    name = f"classprep_{next(_databases)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    sandbox_url = url.rsplit("/", 1)[0] + "/" + name
    backend = PostgresSchemaBackend(sandbox_url, sandbox_template_cache, spares=1)
    sandbox_settings.config.update(
        SANDBOX_BACKEND="postgres", SANDBOX_DATABASE_URL=sandbox_url, SANDBOX_VARIANTS=2
    )
    sandbox_settings.extensions[sandboxes.EXTENSION_KEY] = backend
    yield backend
    backend.dispose()


def _spare_schemas(backend: PostgresSchemaBackend) -> dict[str, set[str]]:
    backend.settle()
    with backend.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT template_key, schema_name FROM sandbox_registry.schemas WHERE kind = 'spare'"
        ).all()
    found: dict[str, set[str]] = {}
    for key, schema in rows:
        found.setdefault(key, set()).add(schema)
    return found


def _sandbox_schema(backend: PostgresSchemaBackend, key: str) -> str:
    with backend.engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT schema_name FROM sandbox_registry.schemas WHERE kind = 'sandbox' "
            "AND key = %(k)s",
            {"k": key},
        ).scalar_one()


@pytest.mark.postgres
def test_a_prepared_class_starts_on_spares_and_preparing_again_makes_none(
    pg_sandboxes, runner, sandbox_settings, db_session, centre, practice_scenario, make_user
):
    result = _prepare(runner, centre, 4)
    assert result.exit_code == 0, result.output
    assert "6 extra spare sandbox(es) over 2 data variant(s) for 4 trainee(s)" in result.output
    spares = _spare_schemas(pg_sandboxes)
    # Two starts per variant, one spare of margin, on top of the default one.
    assert {key: len(s) for key, s in spares.items()} == {key: 4 for key in spares}
    assert len(spares) == 2

    again = _prepare(runner, centre, 4)
    assert again.exit_code == 0, again.output
    assert _spare_schemas(pg_sandboxes) == spares  # not one more

    ready = set().union(*spares.values())
    with sandbox_settings.app_context():
        for _ in range(4):
            trainee = make_user(Role.TRAINEE)
            attempt = attempts_service.start_attempt(db_session, trainee, practice_scenario)
            db_session.commit()
            assert _sandbox_schema(pg_sandboxes, attempt.sandbox_key) in ready
    attempts = db_session.scalars(select(Attempt)).all()
    assert sorted(a.variant for a in attempts) == [0, 0, 1, 1]
    left = _spare_schemas(pg_sandboxes)
    assert all(len(left[key]) >= 2 for key in spares)  # the margin and the default are left


@pytest.mark.postgres
def test_the_purge_drops_a_windows_spares_once_it_has_closed(
    pg_sandboxes, sandbox_settings, db_session, assessment, make_class
):
    window = make_class(3, opens_in=0.25)
    with sandbox_settings.app_context():
        jobs.dispatch(jobs.queue_window_preparations(db_session))
    (job,) = _jobs(db_session)
    assert job.status == JobStatus.DONE, job.last_error
    preparation = db_session.get(ClassPreparation, job.target_id)
    prepared = {key: len(s) for key, s in _spare_schemas(pg_sandboxes).items()}
    # Two starts on one variant and one on the other, a spare of margin each, and the default.
    assert sorted(preparation.spares.values()) == [2, 3]
    assert sorted(prepared.values()) == [3, 4]

    def purge(day: int) -> None:
        with sandbox_settings.app_context():
            purge_job = jobs.queue_purge(db_session, utcnow().date() + timedelta(days=day))
            db_session.commit()
            jobs.dispatch(purge_job)
        db_session.expire_all()

    purge(0)  # the window is still to come: its spares stay
    assert {key: len(s) for key, s in _spare_schemas(pg_sandboxes).items()} == prepared
    db_session.get(AssessmentWindow, window.id).closes_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    purge(1)
    assert {key: len(s) for key, s in _spare_schemas(pg_sandboxes).items()} == {
        key: 1 for key in prepared
    }
    assert db_session.get(ClassPreparation, preparation.id).released_at is not None
