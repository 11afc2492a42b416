"""Fixtures for tests that need published definitions and attempts with real sandboxes.

The definitions are the small test unit and scenario under tests/fixtures/platform, not the
shipped ones, so that the platform's tests do not change when the shipped content does.

The root conftest registers this module as a plugin; import only its helpers from it.
Sandbox templates are generated once per test session (generating with Faker is the slow part);
each attempt still gets its own sandbox, cloned from the template into the test's tmp_path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders import runner
from sandbox_crm.models import Customer, ReportExport
from tests.sandbox_fixtures import shared_temp_dir
from training_platform import attempts_service, definitions_store, sandboxes
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Centre,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    Role,
    User,
)
from training_platform.sandboxes import get_store

__all__ = [
    "FIXTURE_ROOT",
    "SCENARIO_ID",
    "UNIT_CODE",
    "Ids",
    "apply_reference_solution",
    "decide_on_the_web",
    "foreign_assessor",
    "foreign_centre",
    "foreign_trainee",
    "assessment_scenario",
    "graded_assessment",
    "graded_attempt",
    "ids",
    "published_definitions",
    "reference_answers",
    "sandbox_settings",
    "shipped_definitions",
    "sandbox_template_cache",
    "started_attempt",
    "practice_scenario",
]

FIXTURE_ROOT = Path(__file__).resolve().parent / "fixtures" / "platform"
UNIT_CODE = "999002L3"
SCENARIO_ID = "999002L3-gold-list"
ONE_QUESTION = """\
brief: Answer the question.
items:
  - id: q1
    kind: single_choice
    requirements: ["1.1"]
    prompt: Which is personal data?
    options:
      - {id: a, text: A customer's email address}
      - {id: b, text: The weather}
    answer: a
    feedback: {pass: Right., fail: Not quite.}
reference_answers:
  q1: a
"""
"""The brief, one question and its answer, to end a scenario written in a test."""


@pytest.fixture(scope="session")
def sandbox_template_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One template cache for the whole test run, so each template is generated once."""
    return shared_temp_dir(tmp_path_factory, "sandbox_templates")


@pytest.fixture
def sandbox_settings(app: Flask, sandbox_template_cache: Path) -> Flask:
    """The app with the shared template cache, one data variant and a stepped sandbox clock."""
    app.config.update(
        TEMPLATE_CACHE_DIR=str(sandbox_template_cache),
        SANDBOX_VARIANTS=1,
        SANDBOX_CLOCK_MODE="stepped",
    )
    app.extensions.pop(sandboxes.EXTENSION_KEY, None)
    return app


@pytest.fixture
def published_definitions(sandbox_settings: Flask, db_session: Session) -> list[str]:
    """The test unit and scenario, published as built-in versions (and the definitions root)."""
    sandbox_settings.config["DEFINITIONS_ROOT"] = str(FIXTURE_ROOT)
    published = definitions_store.sync_builtin(db_session, FIXTURE_ROOT)
    db_session.commit()
    return published


@pytest.fixture
def shipped_definitions(sandbox_settings: Flask, db_session: Session) -> list[str]:
    """The repository's own units and scenarios, for the tests about the shipped content."""
    published = definitions_store.sync_builtin(
        db_session, sandbox_settings.config["DEFINITIONS_ROOT"]
    )
    db_session.commit()
    return published


@pytest.fixture
def practice_scenario(published_definitions: list[str], db_session: Session) -> DefinitionVersion:
    """The current version of the test scenario (practice mode)."""
    version = definitions_store.current_version(
        db_session, DefinitionKind.SCENARIO, SCENARIO_ID, None
    )
    assert version is not None, f"{SCENARIO_ID} was not published"
    return version


@pytest.fixture
def started_attempt(
    sandbox_settings: Flask,
    db_session: Session,
    trainee: User,
    practice_scenario: DefinitionVersion,
) -> Attempt:
    """The trainee's attempt at the test scenario, in progress, with a fresh sandbox."""
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, practice_scenario)
    db_session.commit()
    return attempt


def apply_reference_solution(app: Flask, attempt: Attempt) -> dict[str, int]:
    """Do the scenario's reference solution in the attempt's sandbox as its trainee would."""
    scenario = definitions_store.scenario_of(attempt)
    with sandboxes.get_store(app).session(attempt.sandbox_key) as sandbox:
        outcome = runner.apply_steps(sandbox, scenario.reference_solution)
    return outcome.deliverables


def reference_answers(attempt: Attempt) -> dict[str, Any]:
    """The scenario's model answers, keyed by item id."""
    return dict(definitions_store.scenario_of(attempt).reference_answers)


@pytest.fixture
def graded_attempt(
    sandbox_settings: Flask, db_session: Session, started_attempt: Attempt
) -> Attempt:
    """The started attempt after the reference solution and answers, submitted and graded."""
    deliverables = apply_reference_solution(sandbox_settings, started_attempt)
    with sandbox_settings.app_context():
        answers = reference_answers(started_attempt)
        attempts_service.save_answers(db_session, started_attempt, answers)
        attempts_service.submit_attempt(db_session, started_attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, started_attempt)
    db_session.commit()
    return started_attempt


@dataclass(frozen=True)
class Ids:
    """The attempts and sandbox records the URLs point at."""

    graded: int
    working: int
    customer: int
    report: int
    export: int


@pytest.fixture
def foreign_centre(db_session) -> Centre:
    """Another training centre."""
    centre = Centre(slug="elsewhere", name="Elsewhere Training Centre")
    db_session.add(centre)
    db_session.commit()
    return centre


@pytest.fixture
def foreign_trainee(make_user, foreign_centre):
    """A trainee of another centre."""
    return make_user(Role.TRAINEE, centre=foreign_centre)


@pytest.fixture
def foreign_assessor(make_user, foreign_centre):
    """An assessor of another centre."""
    return make_user(Role.ASSESSOR, centre=foreign_centre)


@pytest.fixture
def ids(sandbox_settings, db_session, trainee, practice_scenario, graded_attempt) -> Ids:
    """A graded attempt and an in-progress one of `trainee`, with a report and an export."""
    with sandbox_settings.app_context():
        working = attempts_service.start_attempt(db_session, trainee, practice_scenario)
    db_session.commit()
    report = apply_reference_solution(sandbox_settings, working)["report"]
    store = get_store(sandbox_settings)
    with store.session(graded_attempt.sandbox_key, read_only=True) as sandbox:
        customer = sandbox.scalar(select(func.min(Customer.id)))
        export = sandbox.scalar(select(func.max(ReportExport.id)))
    assert graded_attempt.deliverables["report"] == report  # same template, same first id
    return Ids(graded_attempt.id, working.id, customer, report, export)


@pytest.fixture
def assessment_scenario(
    published_definitions: list[str], db_session: Session, centre: Centre
) -> DefinitionVersion:
    """The test scenario published by the centre as an assessment (two attempts allowed)."""
    practice = definitions_store.current_version(
        db_session, DefinitionKind.SCENARIO, SCENARIO_ID, None
    )
    assert practice is not None
    return publish_as_assessment(db_session, practice, centre.id, max_attempts=2)


def publish_as_assessment(
    db_session: Session, practice: DefinitionVersion, centre_id: int, *, max_attempts: int
) -> DefinitionVersion:
    """The test scenario's practice version published by a centre as an assessment
    (``SCENARIO_ID``-assessment) allowing ``max_attempts``; committed."""
    source = practice.source_text.replace(
        f"id: {SCENARIO_ID}", f"id: {SCENARIO_ID}-assessment"
    ).replace("mode: practice", f"mode: assessment\nmax_attempts: {max_attempts}")
    published = definitions_store.publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=source,
        filename="assessment.yaml",
        centre_id=centre_id,
        user_id=None,
    )
    assert published.ok, published.problems
    db_session.commit()
    return published.version


@pytest.fixture
def graded_assessment(
    sandbox_settings: Flask,
    db_session: Session,
    trainee: User,
    assessment_scenario: DefinitionVersion,
) -> Attempt:
    """The trainee's assessment attempt after the reference solution, submitted and graded."""
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, assessment_scenario)
    db_session.commit()
    deliverables = apply_reference_solution(sandbox_settings, attempt)
    with sandbox_settings.app_context():
        attempts_service.save_answers(db_session, attempt, reference_answers(attempt))
        attempts_service.submit_attempt(db_session, attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()
    return attempt


RUBRIC_FULL_MARKS = {"points-uses-data": "2", "points-activity": "2", "points-privacy": "1"}


def decide_on_the_web(
    client: Any, attempt: Attempt, decision: str = "competent", comment: str = "", version: int = 0
) -> Any:
    """Score the written answer in full and post the decision, as an assessor's browser does."""
    base = f"/review/attempts/{attempt.id}"
    scored = client.post(f"{base}/rubric/w-proposal", data=RUBRIC_FULL_MARKS)
    assert scored.status_code in (302, 400), scored.status_code
    return client.post(
        f"{base}/decision",
        data={"decision": decision, "comment": comment, "version": str(version)},
    )


def copy_attempt(
    db_session: Session,
    source: Attempt,
    trainee: User,
    status: AttemptStatus = AttemptStatus.GRADED,
    *,
    submitted: datetime | None = None,
) -> Attempt:
    """An attempt row like ``source`` (same versions, answers and, once graded, grade) for
    another trainee, with no sandbox of its own; committed."""
    copy = Attempt(
        trainee=trainee,
        scenario_version_id=source.scenario_version_id,
        unit_version_id=source.unit_version_id,
        status=status,
        variant=source.variant,
        template_key=source.template_key,
        sandbox_key=f"copy-{trainee.id}-{source.id}",
        started_at=source.started_at,
        submitted_at=submitted or source.submitted_at,
        graded_at=source.graded_at,
        deliverables=dict(source.deliverables),
        answers=dict(source.answers),
    )
    db_session.add(copy)
    db_session.flush()
    if status in (AttemptStatus.GRADED, AttemptStatus.DECIDED):
        record = source.grades[-1]
        db_session.add(
            GradeRecord(
                attempt=copy,
                overall=record.overall,
                result=record.result,
                grader_version=record.grader_version,
            )
        )
    db_session.commit()
    return copy
