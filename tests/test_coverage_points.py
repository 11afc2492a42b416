"""Points listed under a PR leaf: references to them, the coverage they give, and readiness.

The definitions are the small unit and scenarios under tests/fixtures/points; each test copies
them and changes only what it is about.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graders.definitions import load_definitions, load_scenario_text, validate_scenario_against_unit
from graders.validation import Readiness, coverage_gaps, coverage_matrix, validate_folder
from training_platform import attempts_service, definitions_store
from training_platform.models import DefinitionKind

FIXTURE = Path(__file__).parent / "fixtures" / "points"
UNIT = "999004L3"
PRACTICE = Path("scenarios") / UNIT / "practice.yaml"
ASSESSMENT = Path("scenarios") / UNIT / "assessment.yaml"


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    """A private copy of the fixture definitions."""
    root = tmp_path / "definitions"
    shutil.copytree(FIXTURE, root)
    return root


def _edit(root: Path, relative: Path, old: str, new: str) -> int:
    """Replace old by new once in a copied file; return the 1-based line of the change."""
    path = root / relative
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return next(n for n, row in enumerate(path.read_text().splitlines(), 1) if new in row)


# --- references -------------------------------------------------------------------------------


def test_a_point_reference_is_accepted_and_counts_for_its_leaf():
    report = validate_folder(FIXTURE, run=False)
    assert report.problems == []
    rows = report.coverage[UNIT]
    assert rows["1.1.2"] == [f"{UNIT}-assessment:q2"]
    assert f"{UNIT}-assessment:q2" in rows["1.1"]  # "1.1.2" counts for 1.1 too


def test_an_unknown_point_is_refused_with_its_file_and_line(definitions: Path):
    line = _edit(definitions, ASSESSMENT, '"1.1.3"]', '"1.1.4"]')
    report = validate_folder(definitions, run=False)
    messages = [str(p) for p in report.problems]
    assert any(
        f"{ASSESSMENT}:{line}" in m and 'unknown point "1.1.4"' in m and "lists 3 points" in m
        for m in messages
    ), messages


def test_a_point_under_a_leaf_without_points_is_refused(definitions: Path):
    units = {c: d.model for c, d in load_definitions(definitions).units.items()}
    text = (definitions / PRACTICE).read_text().replace('["1.1.1"]', '["1.2.1"]')
    loaded = load_scenario_text(text, "practice.yaml")
    problems = [str(p) for p in validate_scenario_against_unit(loaded, units[UNIT])]
    assert len(problems) == 1
    assert 'unknown point "1.2.1"' in problems[0] and "has no points" in problems[0]
    assert problems[0].startswith("practice.yaml:")


# --- coverage ---------------------------------------------------------------------------------


def test_coverage_lists_each_point_after_its_leaf():
    definitions = load_definitions(FIXTURE)
    units = {c: d.model for c, d in definitions.units.items()}
    matrix = coverage_matrix(units, [s.model for s in definitions.scenarios.values()])
    assert list(matrix[UNIT]) == ["1.1", "1.1.1", "1.1.2", "1.1.3", "1.2"]


def test_a_leaf_reference_does_not_cover_its_points():
    definitions = load_definitions(FIXTURE)
    units = {c: d.model for c, d in definitions.units.items()}
    practice = definitions.scenarios[f"{UNIT}-practice"].model  # names 1.1 and 1.1.1 only
    rows = coverage_matrix(units, [practice])[UNIT]
    assert rows["1.1"]  # the leaf is named...
    assert coverage_gaps(rows) == ["1.1.2", "1.1.3"]  # ...but two of its points are not


# --- readiness --------------------------------------------------------------------------------


def test_an_assessment_unit_with_an_unassessed_point_fails_validate(app, runner, definitions):
    _edit(definitions, ASSESSMENT, '["999004L3/1.1.2", "1.1.3"]', '["1.1.3"]')
    app.config["DEFINITIONS_ROOT"] = str(definitions)
    result = runner.invoke(args=["validate", "--no-run"])
    assert result.exit_code == 1, result.output
    line = next(
        n
        for n, row in enumerate(
            (definitions / "units" / f"{UNIT}.yaml").read_text().splitlines(), 1
        )
        if "Automatic data backup" in row
    )
    assert (
        f"units/{UNIT}.yaml:{line} PR 1.1 point 1.1.2: no check or item assesses this point"
        in result.output
    )
    assert "!! 1.1.2" in result.output


def test_a_fully_assessed_unit_with_an_assessment_scenario_is_ready(app, runner, definitions):
    app.config["DEFINITIONS_ROOT"] = str(definitions)
    result = runner.invoke(args=["validate", "--no-run"])
    assert result.exit_code == 0, result.output
    assert "(test unit with points)  (ready for assessment)" in result.output


def test_a_unit_in_development_gets_notes_not_problems(app, runner, definitions):
    (definitions / ASSESSMENT).unlink()
    report = validate_folder(definitions, run=False)
    assert report.readiness[UNIT] is Readiness.IN_DEVELOPMENT
    assert report.problems == []
    assert [n.path for n in report.notes] == ["PR 1.1 point 1.1.2", "PR 1.1 point 1.1.3"]

    app.config["DEFINITIONS_ROOT"] = str(definitions)
    result = runner.invoke(args=["validate", "--no-run"])
    assert result.exit_code == 0, result.output
    assert "(in development: practice scenarios only)" in result.output
    assert "note: " in result.output and "no check or item assesses this point" in result.output
    assert ".. 1.1.2" in result.output


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def points_published(app, db_session, definitions: Path) -> Path:
    """The fixture unit and its two scenarios, published as built-in versions."""
    app.config["DEFINITIONS_ROOT"] = str(definitions)
    definitions_store.sync_builtin(db_session, definitions)
    db_session.commit()
    return definitions


def _unit_section(html: str) -> str:
    return html.split(f'id="unit-{UNIT}"')[1].split("</section>")[0]


def test_the_coverage_page_shows_each_point_under_its_leaf(
    client_as, centre_admin, points_published
):
    html = client_as(centre_admin).get("/authoring/coverage").get_data(as_text=True)
    section = _unit_section(html)
    assert "Ready for assessment" in section
    row = section.split("1.1.2</td>")[1].split("</tr>")[0]
    assert "Automatic data backup" in row and f"{UNIT}-assessment:q2" in row
    assert section.index(">1.1<") < section.index("1.1.1</td>") < section.index("1.1.3</td>")


def test_the_coverage_page_flags_a_point_that_only_its_leaf_names(
    client_as, centre_admin, db_session, points_published
):
    _edit(points_published, ASSESSMENT, '["999004L3/1.1.2", "1.1.3"]', '["1.1", "1.1.3"]')
    definitions_store.sync_builtin(db_session, points_published)
    db_session.commit()
    html = client_as(centre_admin).get("/authoring/coverage").get_data(as_text=True)
    section = _unit_section(html)
    assert "Not ready for assessment" in section
    assert "1 requirement or point not assessed" in section
    row = section.split("1.1.2</td>")[1].split("</tr>")[0]
    assert "Not assessed" in row
    leaf = section.split(">1.1</td>")[1].split("</tr>")[0]
    assert "not every point assessed" in leaf


def test_the_unit_page_says_a_unit_is_ready(client_as, trainee, points_published):
    html = client_as(trainee).get(f"/units/{UNIT}").get_data(as_text=True)
    assert "Ready for assessment" in html and "In development" not in html


def test_the_unit_page_labels_a_unit_in_development(
    app, client_as, trainee, db_session, definitions
):
    (definitions / ASSESSMENT).unlink()
    app.config["DEFINITIONS_ROOT"] = str(definitions)
    definitions_store.sync_builtin(db_session, definitions)
    db_session.commit()
    browser = client_as(trainee)
    html = browser.get(f"/units/{UNIT}").get_data(as_text=True)
    assert "In development: practice only" in html
    assert "no assessment is offered yet" in html
    assert "Security measures (practice)" in html
    assert "Ready for assessment" not in html
    index = browser.get("/units").get_data(as_text=True)
    assert "in development: practice only" in index


def test_the_unit_page_shows_a_point_reference_with_the_points_text_in_chinese(
    client_as, trainee, points_published
):
    browser = client_as(trainee)
    html = browser.get(f"/units/{UNIT}").get_data(as_text=True)
    assert 'href="#pr-1.1.2"' in html and "(Automatic data backup)" in html
    assert 'id="pr-1.1.2"' in html  # the point the link goes to
    browser.post("/language", data={"language": "zh_Hant_HK", "next": "/"})
    html = browser.get(f"/units/{UNIT}").get_data(as_text=True)
    assert "(自動數據備份)" in html


def test_feedback_and_evidence_name_the_point_a_question_assesses(
    sandbox_settings, client_as, trainee, assessor, db_session, definitions
):
    sandbox_settings.config["DEFINITIONS_ROOT"] = str(definitions)
    definitions_store.sync_builtin(db_session, definitions)
    db_session.commit()
    version = definitions_store.current_version(
        db_session, DefinitionKind.SCENARIO, f"{UNIT}-practice", None
    )
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, version)
        attempts_service.save_answers(db_session, attempt, {"q1": "a", "q2": "b"})
        attempts_service.submit_attempt(db_session, attempt, {})
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()

    result = client_as(trainee).get(f"/attempts/{attempt.id}/result").get_data(as_text=True)
    row = result.split('id="pr-1.1"')[1].split("</tr>")[0]
    assert "point 1.1.1: Access rights setting" in row
    assert row.count("point 1.1.") == 1  # q1 names the leaf only
    assert "Not demonstrated" in row  # the wrong answer on point 1.1.1 counts against 1.1

    evidence = client_as(assessor).get(f"/review/attempts/{attempt.id}").get_data(as_text=True)
    card = evidence.split('id="item-q2"')[1].split("</article>")[0]
    assert "point 1.1.1: Access rights setting" in card
    assert "point 1.1" not in evidence.split('id="item-q1"')[1].split("</article>")[0]
