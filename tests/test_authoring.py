"""Centre admins publish units and scenarios: validation with file and line, versions, coverage."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.platform_fixtures import (
    FIXTURE_ROOT,
    ONE_QUESTION,
    SCENARIO_ID,
    UNIT_CODE,
    apply_reference_solution,
    reference_answers,
)
from training_platform import attempts_service, definitions_store, results_service
from training_platform.authoring_service import detect_kind
from training_platform.models import (
    Attempt,
    Centre,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    Role,
)

SCENARIO_FILE = next((FIXTURE_ROOT / "scenarios" / UNIT_CODE).glob("*.yaml"))
SCENARIO_TEXT = SCENARIO_FILE.read_text()
OTHER_UNIT = "999003L3"
OTHER_UNIT_FILE = FIXTURE_ROOT / "units" / f"{OTHER_UNIT}.yaml"
CENTRE_TITLE = "title: Gold members for an email invitation"

# A knowledge-only scenario for the unit with no other scenario; its sandbox is the test
# scenario's, so the validation runs reuse the cached templates.
KNOWLEDGE_TEXT = (
    """\
id: 999003L3-online-basics
unit: 999003L3
title: Online customer information <basics>
crm:
  profile: retail
  seed: 9002
  customers: 120
  variants: 3
  today: 2026-03-16
  acting_as: {department: customer_service, title: CRM Officer}
  plant:
    - {kind: opted_out_in_segment, count: 1, params: {tiers: [gold], channel: email}}
    - {kind: customer_profile, count: 1, params: {tiers: [gold], status: closed}}
    - {kind: customer_profile, count: 1, params: {tiers: [gold], consent: no_objection}}
    - {kind: hkid_in_notes, count: 2}
"""
    + ONE_QUESTION
)


def _versions(db_session: Session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(DefinitionVersion.id))) or 0


def _upload(client, text: str | bytes, filename: str = "scenario.yaml", kind: str = "auto"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/authoring/upload",
        data={"file": (io.BytesIO(data), filename), "kind": kind},
        content_type="multipart/form-data",
    )


def _problems(html: str) -> list[str]:
    part = html.split('<ul class="problems">')[1].split("</ul>")[0]
    return [unescape(problem) for problem in re.findall(r"<li>(.*?)</li>", part, re.S)]


@pytest.fixture
def admin_client(client_as, centre_admin, published_definitions):
    """The centre admin signed in, with the built-in definitions published."""
    return client_as(centre_admin)


@pytest.fixture
def other_centre(db_session: Session) -> Centre:
    """A second training centre."""
    centre = Centre(slug="tsuen-wan-test", name="Tsuen Wan Test Centre")
    db_session.add(centre)
    db_session.commit()
    return centre


# --- access ------------------------------------------------------------------------------------

AUTHORING_PAGES = [
    "/authoring",
    "/authoring/upload",
    "/authoring/coverage",
    f"/authoring/unit/{UNIT_CODE}",
    f"/authoring/scenario/{SCENARIO_ID}",
]


@pytest.mark.parametrize("role", ["trainee", "assessor"])
def test_only_centre_admins_may_open_authoring(role, client_as, make_user, published_definitions):
    browser = client_as(make_user(Role(role)))
    for url in AUTHORING_PAGES:
        assert browser.get(url).status_code == 403, url
    assert _upload(browser, SCENARIO_TEXT.replace(CENTRE_TITLE, "title: X")).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, published_definitions):
    for url in AUTHORING_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_admins_land_on_the_definitions_list(client_as, centre_admin):
    response = client_as(centre_admin).get("/")
    assert response.headers["Location"].endswith("/authoring")


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_built_in_units_and_scenarios_with_their_current_version(
    admin_client, db_session
):
    html = admin_client.get("/authoring").get_data(as_text=True)
    scenario = definitions_store.current_version(
        db_session, DefinitionKind.SCENARIO, SCENARIO_ID, None
    )
    for code in (UNIT_CODE, OTHER_UNIT):
        assert f'href="/authoring/unit/{code}?origin=builtin"' in html
    assert f'href="/authoring/scenario/{SCENARIO_ID}?origin=builtin"' in html
    assert scenario.content_hash[:12] in html
    assert "Built in" in html


# --- refused uploads ---------------------------------------------------------------------------


def test_a_yaml_syntax_error_is_reported_with_its_line_and_nothing_is_stored(
    admin_client, db_session
):
    before = _versions(db_session)
    broken = SCENARIO_TEXT.replace("mode: practice", "mode: [practice")
    response = _upload(admin_client, broken, "gold.yaml", kind="scenario")
    assert response.status_code == 400
    problems = _problems(response.get_data(as_text=True))
    assert problems and all(p.startswith("gold.yaml:") for p in problems)
    assert _versions(db_session) == before


def test_an_unknown_pr_is_reported_with_file_line_and_path(admin_client, db_session):
    before = _versions(db_session)
    broken = SCENARIO_TEXT.replace('requirements: ["1.1", "2.1"]', 'requirements: ["2.9", "2.1"]')
    response = _upload(admin_client, broken, "gold.yaml")
    assert response.status_code == 400
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if '"2.9"' in text)
    problems = _problems(response.get_data(as_text=True))
    assert any(
        p.startswith(f"gold.yaml:{line} checks[0].requirements[0]:") and "2.9" in p
        for p in problems
    ), problems
    assert _versions(db_session) == before


def test_an_unknown_check_type_is_reported_with_every_other_problem(admin_client, db_session):
    before = _versions(db_session)
    broken = SCENARIO_TEXT.replace("check: report.columns", "check: report.colums")
    broken = broken.replace('requirements: ["1.3"]', 'requirements: ["2.9"]')
    response = _upload(admin_client, broken, "gold.yaml")
    assert response.status_code == 400
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "report.colums" in text)
    problems = _problems(response.get_data(as_text=True))
    assert any(
        p.startswith(f"gold.yaml:{line} checks[1].check:") and "unknown check" in p
        for p in problems
    ), problems
    assert any("checks[2].requirements[0]" in p and "2.9" in p for p in problems), problems
    assert _versions(db_session) == before


def test_publishing_reports_every_static_problem_even_without_the_scripted_runs(
    published_definitions, db_session
):
    # sync-definitions publishes without running anything: it must still see an unknown check.
    before = _versions(db_session)
    broken = SCENARIO_TEXT.replace("check: report.columns", "check: report.colums")
    broken = broken.replace('requirements: ["1.3"]', 'requirements: ["2.9"]')
    result = definitions_store.publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=broken,
        filename="gold.yaml",
        centre_id=None,
        user_id=None,
    )
    problems = [str(problem) for problem in result.problems]
    assert not result.ok and result.version is None
    assert any("checks[1].check:" in p and "unknown check" in p for p in problems), problems
    assert any("checks[2].requirements[0]" in p and "2.9" in p for p in problems), problems
    assert _versions(db_session) == before


def test_a_counterexample_that_passes_is_reported_by_name(admin_client, db_session):
    before = _versions(db_session)
    # Claim that sharing with Marketing only fails the sharing check: it does not.
    broken = SCENARIO_TEXT
    for department in ("sales", "store_operations", "finance"):
        lines = broken.splitlines(keepends=True)
        broken = "".join(
            line
            for line in lines
            if not (line.strip().startswith("- {op: share_report") and department in line)
        )
    response = _upload(admin_client, broken, "gold.yaml")
    # The upload returns at once; the job that runs the counterexamples refuses the version.
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "was refused" in page
    problems = _problems(page)
    assert any(
        "counterexample: shares the report with every department does not fail" in p
        and "sharing did not fail" in p
        for p in problems
    ), problems
    assert _versions(db_session) == before + 1
    refused = db_session.scalars(
        select(DefinitionVersion).order_by(DefinitionVersion.id.desc())
    ).first()
    assert (refused.preparation, refused.is_current) == ("refused", False)


def test_an_oversize_file_is_refused_and_nothing_changes(admin_client, db_session):
    before = _versions(db_session)
    padding = "# " + "x" * 1000 + "\n"
    for lines in (270, 600):  # just over the limit, and far over (refused while reading)
        response = _upload(admin_client, SCENARIO_TEXT + padding * lines, "gold.yaml")
        assert response.status_code == 413, lines
        html = response.get_data(as_text=True)
        assert "larger than the 256 KiB limit" in html and "Nothing was published" in html
        assert 'action="/authoring/upload"' in html
    assert _versions(db_session) == before


def test_only_yaml_files_are_accepted(admin_client, db_session):
    before = _versions(db_session)
    response = _upload(admin_client, SCENARIO_TEXT, "gold.txt")
    assert response.status_code == 400
    assert "must end in .yaml or .yml" in response.get_data(as_text=True)
    wrong_kind = _upload(admin_client, SCENARIO_TEXT, "gold.yaml", kind="unit")
    assert wrong_kind.status_code == 400
    assert "looks like a scenario" in wrong_kind.get_data(as_text=True)
    assert _versions(db_session) == before


def test_the_kind_is_detected_from_the_document():
    assert detect_kind(SCENARIO_TEXT) == DefinitionKind.SCENARIO
    assert detect_kind(OTHER_UNIT_FILE.read_bytes()) == DefinitionKind.UNIT
    assert detect_kind("title: neither") is None
    assert detect_kind("checks: [") is None


# --- publishing --------------------------------------------------------------------------------


def test_a_new_version_leaves_an_attempt_graded_on_the_old_one_unchanged(
    admin_client, centre_admin, assessor, client_as, trainee, sandbox_settings, db_session
):
    # The centre publishes its own copy of the test scenario: version 1 of the centre's key.
    first = _upload(admin_client, SCENARIO_TEXT, "gold.yaml")
    assert first.status_code == 302
    admin_page = admin_client.get(first.headers["Location"]).get_data(as_text=True)
    assert f"Published scenario {SCENARIO_ID} as version 1." in admin_page
    v1 = definitions_store.current_version(
        db_session, DefinitionKind.SCENARIO, SCENARIO_ID, centre_admin.centre_id
    )
    assert v1.centre_id == centre_admin.centre_id and v1.published_by_id == centre_admin.id

    # A trainee of the centre does it on version 1, and it is graded.
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, v1)
    db_session.commit()
    deliverables = apply_reference_solution(sandbox_settings, attempt)
    with sandbox_settings.app_context():
        attempts_service.save_answers(db_session, attempt, reference_answers(attempt))
        attempts_service.submit_attempt(db_session, attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()
    stored = dict(db_session.scalars(select(GradeRecord)).one().result)

    # The admin publishes a changed file: version 2.
    changed = SCENARIO_TEXT.replace(CENTRE_TITLE, f"{CENTRE_TITLE} (revised)")
    second = _upload(admin_client, changed, "gold-v2.yaml")
    assert second.status_code == 302
    history = admin_client.get(second.headers["Location"]).get_data(as_text=True)
    assert f"Published scenario {SCENARIO_ID} as version 2." in history
    assert f"-{CENTRE_TITLE}" in history
    assert f"+{CENTRE_TITLE} (revised)" in history

    # The same file again changes nothing.
    again = _upload(admin_client, changed, "gold-v2.yaml")
    assert again.status_code == 302
    note = admin_client.get(again.headers["Location"]).get_data(as_text=True)
    assert f"Unchanged: scenario {SCENARIO_ID} is identical to version 2." in note

    db_session.expire_all()
    attempt = db_session.get(Attempt, attempt.id)
    assert attempt.scenario_version_id == v1.id
    assert db_session.scalars(select(GradeRecord)).one().result == stored
    evidence = client_as(assessor).get(f"/review/attempts/{attempt.id}").get_data(as_text=True)
    assert "Gold members for an email invitation" in evidence
    assert "(revised)" not in evidence
    assert f"{SCENARIO_ID}</span> version 1" in evidence
    assert results_service.automatic_result(db_session, attempt).to_dict() == stored


def test_a_centres_upload_is_invisible_to_other_centres(
    admin_client, make_user, other_centre, client_as, db_session
):
    response = _upload(admin_client, KNOWLEDGE_TEXT, "online-basics.yaml")
    assert response.status_code == 302, response.get_data(as_text=True)
    mine = admin_client.get("/authoring").get_data(as_text=True)
    assert "999003L3-online-basics" in mine
    assert "Online customer information &lt;basics&gt;" in mine

    outsider = client_as(make_user(Role.CENTRE_ADMIN, centre=other_centre))
    theirs = outsider.get("/authoring").get_data(as_text=True)
    assert "999003L3-online-basics" not in theirs
    assert outsider.get("/authoring/scenario/999003L3-online-basics").status_code == 404
    keys = [v.key for v in definitions_store.current_scenarios(db_session, other_centre.id)]
    assert "999003L3-online-basics" not in keys
    assert "999003L3-online-basics" not in [
        v.key for v in definitions_store.current_scenarios(db_session, None)
    ]


def test_the_history_shows_each_versions_source_escaped(admin_client):
    _upload(admin_client, KNOWLEDGE_TEXT, "online-basics.yaml")
    html = admin_client.get("/authoring/scenario/999003L3-online-basics").get_data(as_text=True)
    assert '<pre class="source">id: 999003L3-online-basics' in html
    assert "title: Online customer information &lt;basics&gt;" in html
    assert "<basics>" not in html
    assert admin_client.get("/authoring/scenario/no-such-thing").status_code == 404
    assert admin_client.get(f"/authoring/widget/{UNIT_CODE}").status_code == 404


def test_a_unit_upload_is_published_for_the_centre(admin_client, centre_admin, db_session):
    text = OTHER_UNIT_FILE.read_text().replace(
        "title: Use customer information online", "title: Use online customer information", 1
    )
    response = _upload(admin_client, text, f"{OTHER_UNIT}.yaml")
    assert response.status_code == 302
    row = definitions_store.current_version(
        db_session, DefinitionKind.UNIT, OTHER_UNIT, centre_admin.centre_id
    )
    assert row.centre_id == centre_admin.centre_id and row.version == 1
    builtin = definitions_store.current_version(db_session, DefinitionKind.UNIT, OTHER_UNIT, None)
    assert builtin.centre_id is None and builtin.is_current
    listing = admin_client.get("/authoring").get_data(as_text=True)
    assert "replaces the built-in one" in listing
    # Its history opens on the centre's versions and links to the built-in ones, and back.
    own = admin_client.get(f"/authoring/unit/{OTHER_UNIT}").get_data(as_text=True)
    assert "your centre's · 1 version" in own
    assert f'href="/authoring/unit/{OTHER_UNIT}?origin=builtin">Built-in versions' in own
    builtin_page = admin_client.get(f"/authoring/unit/{OTHER_UNIT}?origin=builtin").get_data(
        as_text=True
    )
    assert "built in · 1 version" in builtin_page
    assert "?origin=centre\">Your centre's versions" in builtin_page


# --- coverage ----------------------------------------------------------------------------------


def test_coverage_shows_what_assesses_each_pr_and_flags_gaps(admin_client):
    html = admin_client.get("/authoring/coverage").get_data(as_text=True)
    assert f"{SCENARIO_ID}:rows" in html
    assert "Every PR and point assessed" in html  # the test unit
    assert "In development: practice only" in html  # it has practice scenarios only
    assert "No scenario yet" in html  # the other unit

    assert _upload(admin_client, KNOWLEDGE_TEXT, "online-basics.yaml").status_code == 302
    html = admin_client.get("/authoring/coverage").get_data(as_text=True)
    unit = html.split('id="unit-999003L3"')[1].split("</section>")[0]
    assert "999003L3-online-basics:q1" in unit
    assert 'class="gap"' in unit and "not assessed" in unit
