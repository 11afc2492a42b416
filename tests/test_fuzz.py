"""Property-based fuzzing of the doors hostile input comes through: the definitions loader, the
upload page, the query language and the CRM list parameters. None of them may crash.

CI runs a fixed, derandomised budget per test (FUZZ_EXAMPLES, 120 by default). A long run of
100,000 inputs (25,000 per test), with Hypothesis' statistics per test:

    bash scripts/fuzz.sh 25000
"""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graders.definitions import DefinitionError
from sandbox_crm.query import OPERATORS, select_rows, validate_condition
from sandbox_crm.sources import SOURCES
from training_platform import definitions_store
from training_platform.models import DefinitionKind

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

VIP_TEXT = (
    Path(__file__).resolve().parents[1] / "scenarios" / "105077L3" / "marketing-vip-report.yaml"
).read_text()
VIP_LINES = VIP_TEXT.splitlines()
DEFINITION_KEYS = [
    "id", "unit", "title", "mode", "crm", "brief", "deliverables", "checks", "items", "facts",
    "reference_solution", "counterexamples", "alternatives", "performance_requirements", "code",
    "level", "credit", "customers", "plant", "count", "kind", "params", "where", "field", "op",
]  # fmt: skip

HUGE_INTS = st.integers(min_value=10**18, max_value=10**40) | st.integers(max_value=-(10**18))
LONG_DIGITS = st.integers(1, 6000).map(lambda n: "9" * n)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_INTS
    | st.floats()
    | st.text(max_size=30)
    | st.dates().map(date.isoformat)
)
KEYS = st.sampled_from(DEFINITION_KEYS) | st.text(max_size=12)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=40,
)


@st.composite
def definition_texts(draw) -> str | bytes:
    """YAML-ish documents: structured, mutated real files, deep nesting, or plain noise."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        document = draw(st.dictionaries(KEYS, VALUES, max_size=8))
        return yaml.safe_dump(document, allow_unicode=True)
    if choice == 1:  # a real scenario with a few lines replaced, removed or duplicated
        lines = list(VIP_LINES)
        for _ in range(draw(st.integers(1, 4))):
            index = draw(st.integers(0, len(lines) - 1))
            action = draw(st.sampled_from(["replace", "delete", "repeat", "value"]))
            if action == "replace":
                lines[index] = draw(st.text(max_size=40))
            elif action == "delete":
                del lines[index]
            elif action == "repeat":
                lines.insert(index, lines[index])
            else:
                head = lines[index].split(":", 1)[0]
                lines[index] = f"{head}: {yaml.safe_dump(draw(VALUES)).strip()}"
        return "\n".join(lines)
    if choice == 2:
        depth = draw(st.integers(1, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("- ", "")]))
        return "checks: " + opener * depth + "x" + closer * depth
    if choice == 3:
        return draw(st.binary(max_size=300))
    if choice == 4:  # a number too long for Python to read, in a real scenario
        index = draw(st.integers(0, len(VIP_LINES) - 1))
        lines = list(VIP_LINES)
        head = lines[index].split(":", 1)[0]
        lines[index] = f"{head}: {draw(LONG_DIGITS)}"
        return "\n".join(lines)
    return draw(st.text(max_size=300))


@FUZZ
@given(text=definition_texts(), kind=st.sampled_from(list(DefinitionKind)))
def test_the_definitions_loader_only_ever_reports_problems(text, kind):
    try:
        definitions_store.parse(kind, text, "fuzz.yaml")
    except DefinitionError as error:
        assert error.problems
        assert all(str(problem).startswith("fuzz.yaml") for problem in error.problems)


@FUZZ
@given(
    text=definition_texts(),
    kind=st.sampled_from(["auto", "unit", "scenario", "other"]),
    filename=st.sampled_from(["fuzz.yaml", "fuzz.yml", "fuzz.txt", "", "../x.yaml"]),
)
def test_the_upload_page_answers_every_file_with_a_page(
    client_as, centre_admin, text, kind, filename
):
    browser = client_as(centre_admin)
    data = text.encode() if isinstance(text, str) else text
    response = browser.post(
        "/authoring/upload",
        data={"file": (io.BytesIO(data), filename), "kind": kind},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 400, 413)


def _leaves(source_name: str):
    source = SOURCES[source_name]
    field = st.sampled_from(sorted(source.fields)) | st.text(max_size=10)
    op = st.sampled_from(sorted(OPERATORS)) | st.text(max_size=8)
    value = (
        SCALARS
        | st.lists(SCALARS, max_size=4)
        | st.dictionaries(st.sampled_from(["days_ago", "months_ago", "years_ago"]), SCALARS)
    )
    return st.fixed_dictionaries({"field": field, "op": op, "value": value})


def _conditions(source_name: str):
    return st.recursive(
        _leaves(source_name) | SCALARS,
        lambda children: st.one_of(
            st.builds(lambda items: {"all": items}, st.lists(children, max_size=4)),
            st.builds(lambda items: {"any": items}, st.lists(children, max_size=4)),
            st.builds(lambda item: {"not": item}, children),
            st.dictionaries(KEYS, children, max_size=3),
        ),
        max_leaves=12,
    )


@FUZZ
@given(data=st.data())
def test_the_query_language_checks_every_condition_and_runs_the_valid_ones(sandbox_session, data):
    source = data.draw(st.sampled_from(sorted(SOURCES)))
    condition = data.draw(_conditions(source))
    problems = validate_condition(source, condition)
    assert isinstance(problems, list)
    if not problems:
        from tests.sandbox_fixtures import SANDBOX_TODAY

        page = select_rows(
            sandbox_session,
            source,
            where=condition,
            columns=list(SOURCES[source].default_columns),
            as_of=SANDBOX_TODAY,
            limit=5,
        )
        assert page.total >= len(page.rows)


QUERY_VALUES = (
    st.text(max_size=30)
    | st.integers().map(str)
    | HUGE_INTS.map(str)
    | LONG_DIGITS
    | st.sampled_from(["gold", "desc", "asc", "member_no", "spend_12m", "ordered_at", "-1"])
)
LIST_ARGS = ["page", "sort", "dir", "q", "tier", "region", "district", "status",
             "email_consent", "channel", "from", "to"]  # fmt: skip


@FUZZ
@given(
    listing=st.sampled_from(["customers", "orders", "reports"]),
    args=st.dictionaries(st.sampled_from(LIST_ARGS) | st.text(max_size=8), QUERY_VALUES),
)
def test_the_crm_lists_answer_any_query_string(client_as, trainee, started_attempt, listing, args):
    browser = client_as(trainee)
    response = browser.get(f"/attempts/{started_attempt.id}/crm/{listing}", query_string=args)
    assert response.status_code == 200
