"""The definitions loader: valid files load; every problem names the file, line and path."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from graders.definitions import (
    DefinitionError,
    LoadedDefinition,
    Problem,
    Scenario,
    Unit,
    load_definitions,
    load_scenario,
    load_scenario_text,
    load_scenarios,
    load_unit,
    load_unit_text,
    load_units,
    validate_scenario_against_unit,
    write_json_schemas,
)
from sandbox_crm.deliverables import DELIVERABLE_KINDS, deliverable_kind

REPO = Path(__file__).resolve().parents[1]
UNIT_FILE = REPO / "units" / "105077L3.yaml"

SCENARIO = """\
id: 105077L3-vip-report
unit: 105077L3
title: Monthly VIP report for the Marketing department
mode: practice
crm:
  profile: retail
  seed: 4207
  customers: 1200
  today: 2026-03-16
  acting_as: {department: customer_service, title: Customer Service Officer}
  plant:
    - {kind: opted_out_in_segment, count: 6}
brief: |
  Marketing asks for a report of the {{ vip_count }} VIP customers.
facts:
  vip_count: {source: customers, where: {field: tier, op: eq, value: vip}}
deliverables:
  - {id: report, kind: saved_report, title: VIP customers}
checks:
  - id: rows
    check: report.rows_match
    requirements: ["2.1"]
    params: {report: "deliverable:report"}
    feedback: {pass: The report lists the right customers., fail: Some rows are wrong.}
  - id: shared
    check: access.report_shared_only_with
    requirements: ["105077L3/2.4"]
    params: {report: "deliverable:report", departments: [marketing]}
    feedback: {pass: Shared correctly., fail: Check who can see the report.}
items:
  - id: q1
    kind: single_choice
    requirements: ["1.4"]
    prompt: Which ordinance governs customer data?
    options: [{id: a, text: Personal Data (Privacy) Ordinance}, {id: b, text: Companies Ordinance}]
    answer: a
    feedback: {pass: Correct., fail: Look again at the legal requirements.}
  - id: q2
    kind: multiple_choice
    requirements: ["1.3"]
    prompt: What do departments' data requirements cover?
    options: [{id: a, text: Level of detail}, {id: b, text: Timeliness}, {id: c, text: Colour}]
    answers: [a, b]
    feedback: {pass: Correct., fail: Not quite.}
  - id: w1
    kind: written
    requirements: ["3.2"]
    prompt: Explain why opted-out customers must be left out.
    rubric:
      - {id: r1, text: Names the opt-out duty, points: 2}
    guidance: Section 35G.
reference_solution:
  - op: create_report
    args: {source: customers, where: {field: tier, op: eq, value: vip}}
    as: rep
    deliverable: report
  - {op: share_report, args: {report: $rep, departments: [marketing]}}
reference_answers: {q1: a, q2: [b, a], w1: The customer withdrew consent.}
counterexamples:
  - name: includes opted-out customers
    steps:
      - {op: create_report, args: {source: customers}, deliverable: report}
    answers: {q1: b}
    must_fail: [rows, q1, "pdpo:DM-01"]
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing needle."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def problems_of(path: Path, name: str) -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        load_scenario(path, name=name)
    return caught.value.problems


@pytest.fixture(scope="module")
def unit() -> Unit:
    return load_unit(UNIT_FILE).model


# --- valid definitions --------------------------------------------------------------------


def test_valid_scenario_loads(tmp_path: Path, unit: Unit) -> None:
    path = write(tmp_path, "vip-report.yaml", SCENARIO)
    loaded = load_scenario(path)
    assert isinstance(loaded, LoadedDefinition)
    scenario = loaded.model
    assert isinstance(scenario, Scenario)
    assert loaded.file == str(path)
    assert loaded.source_text == SCENARIO
    assert loaded.content_hash == hashlib.sha256(SCENARIO.encode()).hexdigest()
    assert scenario.crm.today.isoformat() == "2026-03-16"
    assert scenario.checks[0].feedback.pass_ == "The report lists the right customers."
    assert scenario.reference_solution[0].as_ == "rep"
    assert [item.kind for item in scenario.items] == [
        "single_choice",
        "multiple_choice",
        "written",
    ]
    assert validate_scenario_against_unit(loaded, unit) == []
    assert loaded.line_of(("checks", 1, "requirements", 0)) == line_of(SCENARIO, "105077L3/2.4")
    # A path that does not exist resolves to its nearest existing ancestor.
    assert loaded.line_of(("items", 2, "nothing", 4)) == line_of(SCENARIO, "id: w1")


def test_text_upload_is_the_same_as_a_file(tmp_path: Path) -> None:
    from_file = load_scenario(write(tmp_path, "s.yaml", SCENARIO))
    uploaded = load_scenario_text(SCENARIO.encode("utf-8"), "upload.yaml")
    assert uploaded.model == from_file.model
    assert uploaded.content_hash == from_file.content_hash
    assert uploaded.file == "upload.yaml"


def test_unit_text_upload() -> None:
    text = UNIT_FILE.read_text(encoding="utf-8")
    loaded = load_unit_text(text, "units/105077L3.yaml")
    assert loaded.model.code == "105077L3"
    assert loaded.line_of(("performance_requirements", 1, "items", 3)) == line_of(text, 'id: "2.4"')


# --- errors name file, line and path -------------------------------------------------------


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = SCENARIO.replace("  customers: 1200\n", "  customers: 1200\n   broken: [\n")
    path = write(tmp_path, "s.yaml", text)
    [problem] = problems_of(path, "scenarios/105077L3/s.yaml")
    assert problem.file == "scenarios/105077L3/s.yaml"
    assert problem.line == line_of(text, "broken")
    assert problem.path == ""
    assert "YAML syntax error" in problem.message
    assert str(problem).startswith(f"scenarios/105077L3/s.yaml:{problem.line}: YAML syntax error")


def test_wrong_type(tmp_path: Path) -> None:
    text = SCENARIO.replace("customers: 1200", "customers: lots")
    path = write(tmp_path, "s.yaml", text)
    [problem] = problems_of(path, "s.yaml")
    assert (problem.line, problem.path) == (line_of(text, "customers: lots"), "crm.customers")
    assert "integer" in problem.message


def test_unquoted_pr_id_gets_a_hint(tmp_path: Path) -> None:
    text = SCENARIO.replace('requirements: ["1.4"]', "requirements: [1.4]")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert problem.path == "items[0].requirements[0]"
    assert problem.line == line_of(text, "requirements: [1.4]")
    assert 'quotes, as "1.4"' in problem.message


def test_unknown_field(tmp_path: Path) -> None:
    text = SCENARIO.replace("    check: report.rows_match\n", "    chek: report.rows_match\n", 1)
    [missing, unknown] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert missing.path == "checks[0].check"
    assert missing.line == line_of(text, "id: rows")
    assert missing.message == "required field is missing"
    assert unknown.path == "checks[0].chek"
    assert unknown.line == line_of(text, "chek:")
    assert unknown.message == 'unknown field "chek"; did you mean "check"?'


def test_text_split_at_a_comma_gets_a_hint(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "{id: b, text: Companies Ordinance}", "{id: b, text: Only one, the Companies Ordinance}"
    )
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert problem.path == "items[0].options[1]['the Companies Ordinance']"
    assert problem.line == line_of(text, "Only one")
    assert "put text that contains commas or colons in quotes" in problem.message
    text = SCENARIO.replace("{id: b, text: Companies Ordinance}", "{id: b, text: Yes}")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert problem.path == "items[0].options[1].text"
    assert "yes/no value" in problem.message


def test_unknown_field_inside_a_discriminated_item(tmp_path: Path) -> None:
    text = SCENARIO.replace("    guidance: Section 35G.\n", "    guidence: Section 35G.\n")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert (problem.line, problem.path) == (line_of(text, "guidence"), "items[2].guidence")


def test_unknown_item_kind(tmp_path: Path) -> None:
    text = SCENARIO.replace("kind: written", "kind: essay")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert (problem.line, problem.path) == (line_of(text, "id: w1"), "items[2]")
    assert 'unknown kind "essay"' in problem.message


def test_duplicate_check_id(tmp_path: Path) -> None:
    text = SCENARIO.replace("  - id: shared\n", "  - id: rows\n")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "scenarios/105077L3/s.yaml")
    assert problem.line == line_of(text, "- id: rows", occurrence=2)
    assert problem.path == "checks[1].id"
    assert str(problem) == (
        f"scenarios/105077L3/s.yaml:{problem.line} checks[1].id: "
        'duplicate check or item id "rows" (first used at checks[0].id)'
    )


def test_item_id_may_not_repeat_a_check_id(tmp_path: Path) -> None:
    text = SCENARIO.replace("  - id: q2\n", "  - id: rows\n").replace("q2: [b, a], ", "")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert problem.path == "items[1].id"


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = SCENARIO.replace("mode: practice\n", "mode: practice\ntitle: Again\n")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert (problem.line, problem.path) == (line_of(text, "title: Again"), "title")
    assert problem.message == 'duplicate key "title" (first given on line 3)'


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        SCENARIO.replace("seed: 4207", "seed: -1")
        .replace("answer: a", "answer: z")
        .replace("deliverable: report\n  - {op: share", "deliverable: reprot\n  - {op: share")
        .replace('must_fail: [rows, q1, "pdpo:DM-01"]', "must_fail: []")
    )
    problems = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert [p.path for p in problems] == [
        "crm.seed",
        "items[0].answer",
        "counterexamples[0].must_fail",
    ]
    assert problems[1].message == '"z" is not one of the options (a, b)'
    # Cross-field checks of the whole scenario run once its fields are valid.
    fixed = text.replace("seed: -1", "seed: 1").replace("answer: z", "answer: a")
    fixed = fixed.replace("must_fail: []", "must_fail: [rows, w1, nothing]")
    problems = problems_of(write(tmp_path, "s.yaml", fixed), "s.yaml")
    assert [(p.path, p.line) for p in problems] == [
        ("deliverables[0].id", line_of(fixed, "id: report")),
        ("reference_solution[0].deliverable", line_of(fixed, "deliverable: reprot")),
        ("counterexamples[0].must_fail[1]", line_of(fixed, "must_fail:")),
        ("counterexamples[0].must_fail[2]", line_of(fixed, "must_fail:")),
    ]
    assert problems[1].message == 'unknown deliverable "reprot"'
    assert "written item" in problems[2].message


def test_scenario_rules(tmp_path: Path) -> None:
    cases = {
        "mode: practice": ("mode: assessment", "mode", "needs max_attempts"),
        "id: 105077L3-vip-report": ("id: 105086L6-vip-report", "id", "start with its unit code"),
        "{{ vip_count }}": ("{{ vip_total }}", "brief", "{{ vip_total }} is not defined"),
        "q2: [b, a]": ("q2: [a, c]", "reference_answers.q2", "differ from the item's answers"),
        'requirements: ["2.1"]': ('requirements: ["2.1", "105077L3/2.1"]',
                                  "checks[0].requirements[1]", 'duplicate PR "2.1"'),
    }  # fmt: skip
    for old, (new, path, message) in cases.items():
        assert old in SCENARIO
        text = SCENARIO.replace(old, new)
        [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
        assert problem.path == path, old
        assert message in problem.message, old


ALTERNATIVES = """\
alternatives:
  - name: shares before building the filter
    steps:
      - {op: create_report, args: {source: customers}, as: rep, deliverable: report}
      - {op: update_report, args: {report_id: $rep, filters: {field: tier, op: eq, value: vip}}}
    answers: {q2: [a, b]}
  - name: picks the second of two reports
    steps:
      - {op: create_report, args: {source: customers}, as: first}
      - {op: create_report, args: {source: customers}, as: second}
    deliverables: {report: second}
"""


def test_alternatives_load_with_their_steps_answers_and_deliverables(tmp_path: Path) -> None:
    text = SCENARIO.replace("counterexamples:\n", ALTERNATIVES + "counterexamples:\n")
    scenario = load_scenario(write(tmp_path, "s.yaml", text)).model
    first, second = scenario.alternatives
    assert first.steps[0].as_ == "rep" and first.answers == {"q2": ["a", "b"]}
    assert second.deliverables == {"report": "second"}


def test_alternatives_references_are_checked_with_file_and_line(tmp_path: Path) -> None:
    text = SCENARIO.replace("counterexamples:\n", ALTERNATIVES + "counterexamples:\n")
    text = (
        text.replace(
            "name: picks the second of two reports", "name: shares before building the filter"
        )
        .replace("as: rep, deliverable: report}", "as: rep, deliverable: reprot}")
        .replace("answers: {q2: [a, b]}", "answers: {q9: a, q1: [a]}")
        .replace("deliverables: {report: second}", "deliverables: {report: third, summary: 3}")
    )
    problems = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    found = {(p.path, p.line): p.message for p in problems}
    assert found == {
        ("alternatives[1].name", line_of(text, "name: shares before", 2)): (
            'duplicate alternative name "shares before building the filter" '
            "(first used at alternatives[0].name)"
        ),
        ("alternatives[0].steps[0].deliverable", line_of(text, "deliverable: reprot")): (
            'unknown deliverable "reprot"'
        ),
        ("alternatives[0].answers.q9", line_of(text, "answers: {q9")): 'unknown item "q9"',
        ("alternatives[0].answers.q1", line_of(text, "answers: {q9")): (
            "a single_choice answer is one option id, not a list"
        ),
        ("alternatives[1].deliverables.report", line_of(text, "deliverables: {report")): (
            '"third" is not bound by a step\'s as'
        ),
        ("alternatives[1].deliverables.summary", line_of(text, "deliverables: {report")): (
            'unknown deliverable "summary"'
        ),
    }


def test_unknown_pr_named_with_file_line_and_path(tmp_path: Path, unit: Unit) -> None:
    text = SCENARIO.replace('requirements: ["2.1"]', 'requirements: ["2.9"]')
    path = write(tmp_path, "scenarios/105077L3/vip-report.yaml", text)
    loaded = load_scenario(path, name="scenarios/105077L3/vip-report.yaml")
    [problem] = validate_scenario_against_unit(loaded, unit)
    line = line_of(text, '"2.9"')
    assert str(problem) == (
        f"scenarios/105077L3/vip-report.yaml:{line} checks[0].requirements[0]: "
        'unknown PR "2.9" for unit 105077L3'
    )


def test_pr_of_another_unit_and_wrong_unit(tmp_path: Path, unit: Unit) -> None:
    text = SCENARIO.replace('requirements: ["1.4"]', 'requirements: ["105086L6/1.4"]')
    loaded = load_scenario(write(tmp_path, "s.yaml", text))
    [problem] = validate_scenario_against_unit(loaded, unit)
    assert problem.path == "items[0].requirements[0]"
    assert "belongs to unit 105086L6" in problem.message
    other = load_unit(REPO / "units" / "105086L6.yaml")
    [problem] = validate_scenario_against_unit(loaded, other)
    assert (problem.path, problem.line) == ("unit", 2)


def test_oversize_file_is_rejected(tmp_path: Path) -> None:
    padding = "# padding\n" * 30_000
    path = write(tmp_path, "big.yaml", SCENARIO + padding)
    [problem] = problems_of(path, "big.yaml")
    assert "larger than the limit of 256 KiB" in problem.message
    with pytest.raises(DefinitionError, match="limit of 1 KiB"):
        load_scenario_text(SCENARIO, "upload.yaml", max_bytes=1024)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, "s.yaml", "- a\n- b\n"), "s.yaml")
    assert problem.line == 1
    assert "expected a mapping" in problem.message and "found a list" in problem.message
    [problem] = problems_of(write(tmp_path, "s.yaml", "# only a comment\n"), "s.yaml")
    assert "empty" in problem.message


def test_unsafe_tags_are_refused(tmp_path: Path) -> None:
    text = SCENARIO.replace("brief: |", "brief: !!python/object/apply:os.system |")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert problem.line == line_of(text, "brief:")
    assert "python/object" in problem.message


def test_alias_bomb_is_refused() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcdef", "abcde", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    with pytest.raises(DefinitionError, match="expands to more than"):
        load_unit_text("\n".join(lines), "bomb.yaml")


def test_unit_rules() -> None:
    text = UNIT_FILE.read_text(encoding="utf-8")
    broken = text.replace("level: 3", "level: 4").replace('id: "2.5"', 'id: "2.4"')
    broken = broken.replace('id: "3.1"', 'id: "2.6"')
    with pytest.raises(DefinitionError) as caught:
        load_unit_text(broken, "units/105077L3.yaml")
    assert [(p.path, p.line) for p in caught.value.problems] == [
        ("level", line_of(broken, "level: 4")),
        ("performance_requirements[1].items[4].id", line_of(broken, 'id: "2.4"', 2)),
        ("performance_requirements[2].items[0].id", line_of(broken, 'id: "2.6"')),
    ]


# --- folders ----------------------------------------------------------------------------


def test_folders_collect_every_problem(tmp_path: Path) -> None:
    unit_text = UNIT_FILE.read_text(encoding="utf-8")
    write(tmp_path, "units/105077L3.yaml", unit_text)
    write(tmp_path, "units/wrong-name.yaml", unit_text)
    write(tmp_path, "units/notes.yml", "a: 1\n")
    write(tmp_path, "scenarios/105077L3/vip-report.yaml", SCENARIO)
    write(tmp_path, "scenarios/105086L6/misplaced.yaml", SCENARIO.replace("vip-report", "other"))
    write(tmp_path, "scenarios/105077L3/bad.yaml", "id: [\n")
    write(tmp_path, "scenarios/105077L3/unknown-pr.yaml",
          SCENARIO.replace("vip-report", "pr").replace('["2.1"]', '["2.9"]'))  # fmt: skip
    write(tmp_path, "scenarios/loose.yaml", SCENARIO)

    with pytest.raises(DefinitionError) as caught:
        load_definitions(tmp_path)
    found = {(p.file, p.path) for p in caught.value.problems}
    assert found == {
        ("units/wrong-name.yaml", "code"),
        ("units/notes.yml", ""),
        ("scenarios/105086L6/misplaced.yaml", "unit"),
        ("scenarios/105077L3/bad.yaml", ""),
        ("scenarios/105077L3/unknown-pr.yaml", "checks[0].requirements[0]"),
        ("scenarios/loose.yaml", ""),
    }
    messages = "\n".join(str(p) for p in caught.value.problems)
    assert "must be in a file named 105077L3.yaml" in messages
    assert "move it to 105077L3/" in messages


def test_folders_load(tmp_path: Path) -> None:
    write(tmp_path, "units/105077L3.yaml", UNIT_FILE.read_text(encoding="utf-8"))
    write(tmp_path, "scenarios/105077L3/vip-report.yaml", SCENARIO)
    units = load_units(tmp_path / "units")
    scenarios = load_scenarios(tmp_path / "scenarios", units)
    assert list(units) == ["105077L3"]
    assert list(scenarios) == ["105077L3-vip-report"]
    assert scenarios["105077L3-vip-report"].file == "scenarios/105077L3/vip-report.yaml"
    definitions = load_definitions(tmp_path)
    assert definitions.units["105077L3"].content_hash == units["105077L3"].content_hash


def test_repository_units_folder_loads() -> None:
    files = {path.stem for path in (REPO / "units").glob("*.yaml")}
    assert files and set(load_units(REPO / "units")) == files


# --- schema and boundaries --------------------------------------------------------------


def test_json_schemas_are_written(tmp_path: Path) -> None:
    paths = write_json_schemas(tmp_path / "schema")
    assert sorted(p.name for p in paths) == ["scenario.schema.json", "unit.schema.json"]
    unit_schema = json.loads((tmp_path / "schema" / "unit.schema.json").read_text())
    scenario_schema = json.loads((tmp_path / "schema" / "scenario.schema.json").read_text())
    assert {"code", "title", "performance_requirements", "assessment_criteria"} <= set(
        unit_schema["properties"]
    )
    assert {"id", "unit", "crm", "brief", "checks", "items", "counterexamples"} <= set(
        scenario_schema["properties"]
    )
    assert unit_schema["additionalProperties"] is False
    assert scenario_schema["properties"]["unit"]["description"]
    check = scenario_schema["$defs"]["Check"]
    assert "pass" in scenario_schema["$defs"]["Feedback"]["properties"]
    assert check["properties"]["requirements"]["minItems"] == 1


def _register_test_kind(name: str) -> None:
    deliverable_kind(name, entity_type="review", plural="reviews", describe=str)(
        lambda session, staff_id: []
    )


def test_a_deliverable_kind_is_valid_once_an_area_registers_it(tmp_path: Path) -> None:
    text = SCENARIO.replace("kind: saved_report", "kind: product_review")
    path = write(tmp_path, "s.yaml", text)
    with DELIVERABLE_KINDS.isolated():
        _register_test_kind("product_review")
        assert load_scenario(path).model.deliverables[0].kind == "product_review"
        schema = write_json_schemas(tmp_path / "schema")[1].read_text()
        kind = json.loads(schema)["$defs"]["Deliverable"]["properties"]["kind"]
        assert "product_review" in kind["enum"] and "saved_report" in kind["enum"]
    [problem] = problems_of(path, "s.yaml")
    assert (problem.file, problem.line, problem.path) == (
        "s.yaml",
        line_of(text, "kind: product_review"),
        "deliverables[0].kind",
    )
    known = ", ".join(DELIVERABLE_KINDS.names())
    assert problem.message == f'unknown deliverable kind "product_review"; known: {known}'
    assert "saved_report" in known


def test_package_does_not_import_flask() -> None:
    code = "import sys, graders.definitions; assert 'flask' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# --- the pdpo block: PRs breaches count against, settings of rules ---------------------------

PDPO_BLOCK = """\
pdpo:
  requirements: ["3.1", "105077L3/3.2"]
  rules:
    SEC-04: {max_unrelated_lookups: 30}
"""


def pdpo_problems(tmp_path: Path, unit: Unit, block: str) -> list[Problem]:
    """Problems of the scenario with this pdpo block: its PRs, rule ids and rule settings."""
    from graders.validation import static_problems

    text = SCENARIO + block
    name = "scenarios/105077L3/vip-report.yaml"
    loaded = load_scenario(write(tmp_path, name, text), name=name)
    return [p for p in static_problems(loaded, unit) if p.path.startswith("pdpo")]


def test_pdpo_block_loads(tmp_path: Path, unit: Unit) -> None:
    loaded = load_scenario(write(tmp_path, "s.yaml", SCENARIO + PDPO_BLOCK))
    assert loaded.model.pdpo.requirements == ["3.1", "105077L3/3.2"]
    assert loaded.model.pdpo.rules == {"SEC-04": {"max_unrelated_lookups": 30}}
    assert validate_scenario_against_unit(loaded, unit) == []
    assert pdpo_problems(tmp_path, unit, PDPO_BLOCK) == []
    plain = load_scenario(write(tmp_path, "plain.yaml", SCENARIO))
    assert (plain.model.pdpo.requirements, plain.model.pdpo.rules) == ([], {})


def test_pdpo_unknown_pr_named_with_file_line_and_path(tmp_path: Path, unit: Unit) -> None:
    text = SCENARIO + PDPO_BLOCK.replace('"3.1"', '"3.9"')
    name = "scenarios/105077L3/vip-report.yaml"
    loaded = load_scenario(write(tmp_path, name, text), name=name)
    [problem] = validate_scenario_against_unit(loaded, unit)
    assert str(problem) == (
        f'{name}:{line_of(text, "3.9")} pdpo.requirements[0]: unknown PR "3.9" for unit 105077L3'
    )


def test_pdpo_pr_named_twice(tmp_path: Path) -> None:
    text = SCENARIO + PDPO_BLOCK.replace('"3.1"', '"3.2"')
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert problem.path == "pdpo.requirements[1]"
    assert 'duplicate PR "3.2"' in problem.message


def test_pdpo_rule_id_must_look_like_one(tmp_path: Path) -> None:
    text = SCENARIO + PDPO_BLOCK.replace("SEC-04:", "sec 4:")
    [problem] = problems_of(write(tmp_path, "s.yaml", text), "s.yaml")
    assert problem.path.startswith("pdpo.rules")
    assert problem.line == line_of(text, "sec 4:")


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("SEC-04:", "SEC-09:", "pdpo.rules.SEC-09", 'unknown PDPO rule "SEC-09"'),
        (
            "max_unrelated_lookups: 30",
            "max_unrelated_lookups: -3",
            "pdpo.rules.SEC-04.max_unrelated_lookups",
            "greater than or equal to 0",
        ),
        ("max_unrelated_lookups: 30", "lookups: 30", "pdpo.rules.SEC-04.lookups",
         "unknown parameter"),
        ("SEC-04:", "ACC-01:", "pdpo.rules.ACC-01", "takes no settings"),
    ],
)  # fmt: skip
def test_pdpo_rule_settings_are_validated_by_the_rule(
    tmp_path: Path, unit: Unit, old: str, new: str, path: str, message: str
) -> None:
    block = PDPO_BLOCK.replace(old, new)
    [problem] = pdpo_problems(tmp_path, unit, block)
    assert problem.path == path
    assert message in problem.message
    assert problem.line == line_of(SCENARIO + block, new.split(":")[0] + ":")
