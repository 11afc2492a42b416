"""Bad input gets a clear message and changes nothing: each case here was once a server error."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sandbox_crm.models import ReportDefinition
from tests.platform_fixtures import FIXTURE_ROOT, apply_reference_solution
from training_platform.models import Attempt, AttemptStatus, DefinitionVersion, GradeRecord
from training_platform.sandboxes import get_store

HUGE = "9" * 5000
PAST_SQLITE = str(2**63 + 10)


def _upload(client, text: str, filename: str = "scenario.yaml"):
    return client.post(
        "/authoring/upload",
        data={"file": (io.BytesIO(text.encode()), filename), "kind": "auto"},
        content_type="multipart/form-data",
    )


def _versions(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(DefinitionVersion.id))) or 0


@pytest.fixture
def admin_client(client_as, centre_admin, published_definitions):
    """The centre admin signed in, with the built-in definitions published."""
    return client_as(centre_admin)


# --- uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checks: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        ("checks:\n" + "- " * 3000 + "x\n", "nested too deeply"),
        ("id: x\nunit: 105077L3\ncrm: {customers: " + HUGE + "}\nchecks: []\n", "5000 digits"),
        ("id: " + HUGE + "\nchecks: []\n", "5000 digits is too long"),
    ],
    ids=["nested flow", "nested block", "huge integer", "huge integer id"],
)
def test_hostile_yaml_uploads_are_refused_with_a_message(admin_client, db_session, text, message):
    before = _versions(db_session)
    response = _upload(admin_client, text)
    assert response.status_code == 400
    assert message in response.text
    assert "Nothing was published" in response.text or "problems" in response.text
    assert _versions(db_session) == before


# --- query strings and form fields in the sandbox CRM -----------------------------------------


@pytest.mark.parametrize("page", [PAST_SQLITE, HUGE, "-" + PAST_SQLITE, "1e9", "٣"])
@pytest.mark.parametrize("listing", ["customers", "orders", "reports"])
def test_any_page_number_in_a_crm_list_shows_a_page(
    client_as, trainee, started_attempt, listing, page
):
    response = client_as(trainee).get(
        f"/attempts/{started_attempt.id}/crm/{listing}", query_string={"page": page}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("record", [PAST_SQLITE, HUGE])
def test_a_record_id_past_the_integer_range_is_not_found(
    client_as, trainee, started_attempt, record
):
    browser = client_as(trainee)
    base = f"/attempts/{started_attempt.id}/crm"
    for url in (f"{base}/customers/{record}", f"{base}/reports/{record}"):
        assert browser.get(url).status_code == 404, url
    assert browser.get(f"/attempts/{record}").status_code == 404


def test_a_report_filter_with_a_huge_number_is_refused_beside_the_row(
    client_as, trainee, started_attempt, sandbox_settings
):
    before = _reports(sandbox_settings, started_attempt)
    response = client_as(trainee).post(
        f"/attempts/{started_attempt.id}/crm/reports/new",
        data={
            "name": "Big",
            "source": "customers",
            "columns": ["member_no"],
            "match": "all",
            "filters-0-field": "spend_12m",
            "filters-0-op": "ge",
            "filters-0-value": HUGE,
        },
    )
    assert response.status_code == 400
    assert "whole number" in response.text
    assert _reports(sandbox_settings, started_attempt) == before


def test_a_report_with_thousands_of_filter_rows_is_refused(
    client_as, trainee, started_attempt, sandbox_settings
):
    before = _reports(sandbox_settings, started_attempt)
    data = {"name": "Many", "source": "customers", "columns": ["member_no"], "match": "any"}
    for index in range(3000):
        data[f"filters-{index}-field"] = "spend_12m"
        data[f"filters-{index}-op"] = "eq"
        data[f"filters-{index}-value"] = str(index)
    response = client_as(trainee).post(f"/attempts/{started_attempt.id}/crm/reports/new", data=data)
    assert response.status_code == 400
    assert "at most 50 filter rows; this one has 3000" in response.text
    assert _reports(sandbox_settings, started_attempt) == before


def _reports(app, attempt) -> int:
    with get_store(app).session(attempt.sandbox_key, read_only=True) as sandbox:
        return sandbox.scalar(select(func.count(ReportDefinition.id))) or 0


# --- broken or missing sandboxes --------------------------------------------------------------


def _corrupt(app, attempt) -> None:
    store = get_store(app)
    store.dispose()
    path = store.path(attempt.sandbox_key)
    path.chmod(0o600)
    path.write_bytes(b"this is not a database" * 100)


def test_a_corrupted_sandbox_gives_a_clear_page(
    client_as, trainee, started_attempt, sandbox_settings
):
    _corrupt(sandbox_settings, started_attempt)
    browser = client_as(trainee)
    for url in ("/crm/", "/crm/customers", "/crm/reports"):
        response = browser.get(f"/attempts/{started_attempt.id}{url}")
        assert response.status_code == 409, url
        assert "sandbox CRM of this attempt cannot be opened" in response.text
    assert browser.get(f"/attempts/{started_attempt.id}").status_code == 200


def test_submitting_with_a_corrupted_sandbox_is_refused_and_changes_nothing(
    client_as, trainee, started_attempt, sandbox_settings, db_session
):
    report = apply_reference_solution(sandbox_settings, started_attempt)["report"]
    _corrupt(sandbox_settings, started_attempt)
    response = client_as(trainee).post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(report), "confirm": "yes"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "cannot be opened" in response.text
    db_session.expire_all()
    assert db_session.get(Attempt, started_attempt.id).status == AttemptStatus.IN_PROGRESS


def test_submitting_an_attempt_whose_sandbox_was_deleted_is_refused(
    client_as, trainee, started_attempt, sandbox_settings, db_session
):
    report = apply_reference_solution(sandbox_settings, started_attempt)["report"]
    get_store(sandbox_settings).delete(started_attempt.sandbox_key)
    response = client_as(trainee).post(
        f"/attempts/{started_attempt.id}/submit",
        data={"deliverable-report": str(report), "confirm": "yes"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "sandbox" in response.text and "no longer" in response.text
    db_session.expire_all()
    assert db_session.get(Attempt, started_attempt.id).status == AttemptStatus.IN_PROGRESS
    assert db_session.scalar(select(func.count(GradeRecord.id))) == 0


def test_a_corrupted_frozen_sandbox_still_shows_the_result_and_the_review(
    client_as, trainee, assessor, graded_attempt, sandbox_settings
):
    _corrupt(sandbox_settings, graded_attempt)
    attempt = graded_attempt.id
    assert client_as(trainee).get(f"/attempts/{attempt}/result").status_code == 200
    assert client_as(trainee).get(f"/attempts/{attempt}").status_code == 200
    reviewer = client_as(assessor)
    assert reviewer.get(f"/review/attempts/{attempt}").status_code == 200
    preview = reviewer.get(f"/review/attempts/{attempt}/regrade-preview")
    assert preview.status_code in (200, 409)
    assert reviewer.get(f"/attempts/{attempt}/crm/customers").status_code == 409


# --- resources ---------------------------------------------------------------------------------

SCENARIO_TEXT = (FIXTURE_ROOT / "scenarios" / "999002L3" / "gold-list.yaml").read_text()
OPTED_OUT = "- {kind: opted_out_in_segment, count: 1,"


def test_a_trainee_may_have_only_so_many_attempts_in_progress(
    client_as, trainee, practice_scenario, sandbox_settings, db_session
):
    sandbox_settings.config["MAX_ATTEMPTS_IN_PROGRESS"] = 2
    browser = client_as(trainee)
    for _ in range(2):
        assert browser.post(f"/scenarios/{practice_scenario.id}/start").status_code == 302
    response = browser.post(f"/scenarios/{practice_scenario.id}/start", follow_redirects=True)
    assert "You already have 2 attempts in progress" in response.text
    assert db_session.scalar(select(func.count(Attempt.id))) == 2


def test_an_uploaded_scenario_over_the_size_limits_is_refused_at_its_lines(
    admin_client, sandbox_settings, db_session
):
    sandbox_settings.config.update(MAX_SCENARIO_CUSTOMERS=100, MAX_PLANT_COUNT=2)
    before = _versions(db_session)
    large = SCENARIO_TEXT.replace("customers: 120", "customers: 1500").replace(
        OPTED_OUT, "- {kind: opted_out_in_segment, count: 3,"
    )
    response = _upload(admin_client, large, "gold.yaml")
    assert response.status_code == 400
    text = response.text
    assert (
        "gold.yaml:10 crm.customers: 1,500 customers is more than this site&#39;s limit of 100"
        in text
    )
    assert (
        "gold.yaml:16 crm.plant[0].count: a count of 3 is more than this site&#39;s limit of 2"
        in text
    )
    assert _versions(db_session) == before


def test_a_refused_plant_leaves_no_lock_or_temporary_file(
    admin_client, sandbox_settings, db_session
):
    templates = Path(sandbox_settings.config["TEMPLATE_CACHE_DIR"])
    leftovers_before = {p.name for p in templates.iterdir() if p.suffix in (".lock", ".tmp")}
    small = SCENARIO_TEXT.replace("customers: 120", "customers: 60").replace(
        OPTED_OUT, "- {kind: opted_out_in_segment, count: 400,"
    )
    response = _upload(admin_client, small, "tiny.yaml")
    # The upload returns at once; the job generating the variant refuses the version.
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).text
    assert "was refused" in page and "needs 400" in page
    db_session.expire_all()
    newest = db_session.scalars(select(DefinitionVersion).order_by(DefinitionVersion.id.desc()))
    assert newest.first().preparation == "refused"
    leftovers = {p.name for p in templates.iterdir() if p.suffix in (".lock", ".tmp")}
    assert leftovers == leftovers_before
