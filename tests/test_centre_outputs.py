"""What the centre gets out: progress dashboards, the cohort matrix, item statistics, the
gradebook (CSV, XLSX), evidence bundles (PDF, zip) and records of achievement (PDF).

Most attempts here carry grading results built from the test scenario's checks and questions
(no sandbox), so that many attempts cost nothing; the evidence tests use a really graded one.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from graders.engine import roll_up
from graders.results import CheckResult, ItemResult, Status
from tests.platform_fixtures import FIXTURE_ROOT, SCENARIO_ID, UNIT_CODE
from training_platform import definitions_store, exports_service, statistics_service
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Cohort,
    CohortMember,
    Decision,
    DefinitionKind,
    DefinitionVersion,
    GradeRecord,
    Review,
    Role,
)

ASSESSED_ID = f"{UNIT_CODE}-gold-assessed"
_keys = itertools.count(1)
FONTS = [Path(d) for d in exports_service.DEFAULT_FONT_DIRS]
HAS_CJK_FONT = any((d / exports_service.CJK_FONT).is_file() for d in FONTS) and any(
    (d / exports_service.LATIN_FONT).is_file() for d in FONTS
)


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF."""
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def assessment_scenario(practice_scenario, db_session) -> DefinitionVersion:
    """The test scenario again, in assessment mode (three attempts)."""
    source = (FIXTURE_ROOT / "scenarios" / UNIT_CODE / "gold-list.yaml").read_text()
    source = source.replace(f"id: {SCENARIO_ID}", f"id: {ASSESSED_ID}").replace(
        "mode: practice", "mode: assessment\nmax_attempts: 3"
    )
    result = definitions_store.publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=source,
        filename="gold-assessed.yaml",
        centre_id=None,
        user_id=None,
    )
    assert result.ok, result.problems
    db_session.commit()
    return result.version


def synthetic_result(
    unit_row: DefinitionVersion, version: DefinitionVersion, failing: set[str] = frozenset()
) -> dict:
    """A grading result in which every check and question passes except those named."""
    scenario = definitions_store.load_scenario_model(version)
    unit = definitions_store.load_unit_model(unit_row)
    checks = [
        CheckResult(
            check_id=check.id,
            check_type=check.check,
            status=Status.FAIL if check.id in failing else Status.PASS,
            score=0.0 if check.id in failing else 1.0,
            message="",
            requirements=tuple(check.requirements),
        )
        for check in scenario.checks
    ]
    items = [
        ItemResult(
            item_id=item.id,
            kind=item.kind,
            status=Status.FAIL if item.id in failing else Status.PASS,
            score=0.0 if item.id in failing else 1.0,
            max_score=1.0,
            answer="a",
            message="",
            requirements=tuple(item.requirements),
        )
        for item in scenario.items
    ]
    return roll_up(unit, scenario, checks, items, (), grader_version="test").to_dict()


def make_attempt(
    db_session,
    trainee,
    version: DefinitionVersion,
    *,
    failing: set[str] = frozenset(),
    variant: int = 0,
    decision: Decision | None = None,
    assessor=None,
    when: datetime | None = None,
) -> Attempt:
    """A graded attempt (decided if a decision is given) with a built result and no sandbox."""
    when = when or datetime(2026, 3, 1) + timedelta(hours=next(_keys))
    unit_row = definitions_store.unit_version_for(db_session, version)
    result = synthetic_result(unit_row, version, failing)
    attempt = Attempt(
        trainee_id=trainee.id,
        scenario_version_id=version.id,
        unit_version_id=unit_row.id,
        status=AttemptStatus.DECIDED if decision else AttemptStatus.GRADED,
        variant=variant,
        sandbox_key=f"synthetic-{next(_keys)}",
        started_at=when - timedelta(hours=1),
        submitted_at=when,
        graded_at=when,
        answers={"q-consent": "c"},
    )
    db_session.add(attempt)
    db_session.flush()
    db_session.add(
        GradeRecord(
            attempt_id=attempt.id,
            overall=result["verdict"],
            result=result,
            grader_version="test",
            created_at=when,
        )
    )
    if decision is not None:
        db_session.add(
            Review(
                attempt_id=attempt.id,
                assessor_id=assessor.id,
                decision=decision,
                comment="",
                decided_at=when + timedelta(minutes=5),
            )
        )
    db_session.commit()
    return attempt


@pytest.fixture
def progressed(db_session, trainee, assessor, practice_scenario, assessment_scenario):
    """The trainee: competent in the assessment with the sharing check failed, then a practice
    attempt that fails sharing again."""
    make_attempt(
        db_session,
        trainee,
        assessment_scenario,
        failing={"sharing"},
        decision=Decision.COMPETENT,
        assessor=assessor,
        when=datetime(2026, 3, 2, 10),
    )
    make_attempt(
        db_session, trainee, practice_scenario, failing={"sharing"}, when=datetime(2026, 3, 3, 10)
    )
    return trainee


# --- progress ------------------------------------------------------------------------------------


def test_the_dashboard_shows_demonstrated_prs_and_what_to_practise_next(client_as, progressed):
    page = client_as(progressed).get("/progress").get_data(as_text=True)
    assert "My progress" in page
    assert "Demonstrated" in page and "Not yet" in page
    assert "What to practise next" in page
    practise = page.split("What to practise next")[1].split("</section>")[0]
    assert "1.3" in practise and "Share the report only with the department" in practise
    assert "Gold members for an email invitation" in practise
    assert "1.1" not in practise  # demonstrated in the assessment
    assert "4 of 5 requirements demonstrated" in page


def test_passing_in_practice_alone_demonstrates_nothing(
    client_as, db_session, other_trainee, assessor, practice_scenario, assessment_scenario
):
    make_attempt(db_session, other_trainee, practice_scenario)
    make_attempt(
        db_session,
        other_trainee,
        assessment_scenario,
        decision=Decision.NOT_YET_COMPETENT,
        assessor=assessor,
    )
    page = client_as(other_trainee).get("/progress").get_data(as_text=True)
    assert "0 of 5 requirements demonstrated" in page
    assert "Passed in practice" in page
    assert "What to practise next" not in page


def test_a_trainee_sees_only_their_own_dashboard_and_record(
    client_as, progressed, other_trainee, foreign_assessor, assessor
):
    own = client_as(progressed)
    assert own.get(f"/progress/trainees/{progressed.id}").status_code == 200
    assert own.get(f"/progress/trainees/{other_trainee.id}").status_code == 404
    assert own.get(f"/progress/trainees/{other_trainee.id}/record.pdf").status_code == 404
    assert own.get("/progress/cohorts").status_code == 403
    assert client_as(foreign_assessor).get(f"/progress/trainees/{progressed.id}").status_code == 404
    staff_page = client_as(assessor).get(f"/progress/trainees/{progressed.id}")
    assert staff_page.status_code == 200
    assert "Progress of Chan Siu Ming" in staff_page.get_data(as_text=True)


def test_the_cohort_matrix_writes_each_trainees_state_in_every_cell(
    client_as, db_session, centre, progressed, other_trainee, assessor, foreign_assessor
):
    cohort = Cohort(centre_id=centre.id, name="Retail CRM 2026 Spring")
    db_session.add(cohort)
    db_session.flush()
    for user in (progressed, other_trainee, assessor):
        db_session.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
    db_session.commit()
    browser = client_as(assessor)
    page = browser.get(f"/progress/cohorts/{cohort.id}").get_data(as_text=True)
    table = page.split('class="table heatmap"')[1].split("</table>")[0]
    assert "Chan Siu Ming" in table and "Lam Ka Yan" in table
    assert "Ho Wing Sze" not in table  # assessors are not rows
    rows = table.split("<tr>")
    chan = next(row for row in rows if "Chan Siu Ming" in row)
    assert chan.count("Demonstrated") == 4 and chan.count("Not yet") == 1
    lam = next(row for row in rows if "Lam Ka Yan" in row)
    assert lam.count("Not attempted") == 5  # no graded attempt at all
    filtered = browser.get(f"/progress/cohorts/{cohort.id}?unit={UNIT_CODE}")
    assert filtered.status_code == 200
    unknown = browser.get(f"/progress/cohorts/{cohort.id}?unit=XX").get_data(as_text=True)
    assert "has attempted that unit" in unknown
    assert client_as(foreign_assessor).get(f"/progress/cohorts/{cohort.id}").status_code == 404
    assert browser.get("/progress/cohorts/99999").status_code == 404
    assert "Retail CRM 2026 Spring" in browser.get("/progress/cohorts").get_data(as_text=True)


# --- item statistics -----------------------------------------------------------------------------


def _class_of(make_user, count: int):
    return [make_user(Role.TRAINEE) for _ in range(count)]


def test_a_much_harder_variant_is_flagged_as_a_fairness_problem(
    client_as, db_session, make_user, assessor, practice_scenario
):
    for trainee in _class_of(make_user, 5):
        make_attempt(db_session, trainee, practice_scenario, variant=0)
        make_attempt(db_session, trainee, practice_scenario, variant=1)
        make_attempt(db_session, trainee, practice_scenario, variant=2, failing={"rows"})
    page = client_as(assessor).get("/progress/statistics").get_data(as_text=True)
    assert "Fairness warning" in page
    rows_line = next(line for line in page.split("<tr>") if ">rows<" in line)
    assert "far below the others" in rows_line and "0% (5)" in rows_line
    columns_line = next(line for line in page.split("<tr>") if ">columns<" in line)
    assert "far below" not in columns_line
    browser = client_as(assessor)
    assert "Fairness warning" in browser.get(f"/progress/statistics?scenario={SCENARIO_ID}").text
    unknown = browser.get("/progress/statistics?scenario=nothing-like-it").text
    assert "No graded attempt of that scenario" in unknown and "Fairness warning" not in unknown


def test_variants_within_the_margin_are_not_flagged(
    client_as, db_session, make_user, assessor, practice_scenario
):
    trainees = _class_of(make_user, 5)
    for number, trainee in enumerate(trainees):
        make_attempt(db_session, trainee, practice_scenario, variant=0)
        # Variant 1: one in five fails (80% against 100%: 20 points, not more).
        failing = {"rows"} if number == 0 else set()
        make_attempt(db_session, trainee, practice_scenario, variant=1, failing=failing)
    page = client_as(assessor).get("/progress/statistics").get_data(as_text=True)
    assert "Fairness warning" not in page
    assert "80% (5)" in page


def test_facility_and_discrimination_of_a_question(
    db_session, make_user, centre, practice_scenario
):
    # Ten strong attempts answer q-consent right; ten weak ones fail checks and q-consent.
    for trainee in _class_of(make_user, 10):
        make_attempt(db_session, trainee, practice_scenario)
        make_attempt(
            db_session, trainee, practice_scenario, failing={"rows", "columns", "q-consent"}
        )
    [stats] = statistics_service.scenario_statistics(db_session, centre.id)
    items = {item.item_id: item for item in stats.items}
    consent = items["q-consent"]
    assert consent.attempts == 20 and consent.facility == pytest.approx(0.5)
    assert consent.group_size == 5 and consent.discrimination == pytest.approx(1.0)
    purpose = items["q-purpose"]  # everyone right: no discrimination
    assert purpose.facility == pytest.approx(1.0) and purpose.discrimination == pytest.approx(0.0)
    assert "w-proposal" not in items  # written answers are not knowledge items


def test_too_few_attempts_give_no_discrimination_index(
    client_as, db_session, make_user, assessor, centre, practice_scenario
):
    for trainee in _class_of(make_user, 3):
        make_attempt(db_session, trainee, practice_scenario)
    [stats] = statistics_service.scenario_statistics(db_session, centre.id)
    assert all(item.discrimination is None for item in stats.items)
    page = client_as(assessor).get("/progress/statistics").get_data(as_text=True)
    assert "too few attempts" in page


def test_statistics_count_only_the_centres_own_attempts(
    client_as, db_session, foreign_trainee, foreign_assessor, assessor, practice_scenario
):
    make_attempt(db_session, foreign_trainee, practice_scenario)
    assert "No graded attempts yet" in client_as(assessor).get("/progress/statistics").get_data(
        as_text=True
    )
    assert "1 graded attempts" in client_as(foreign_assessor).get("/progress/statistics").get_data(
        as_text=True
    )


# --- gradebook -----------------------------------------------------------------------------------


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_gradebook_per_unit_and_per_pr_as_csv(
    client_as, db_session, centre, progressed, other_trainee, assessor
):
    browser = client_as(assessor)
    assert browser.get("/progress/gradebook").status_code == 200
    response = browser.get("/progress/gradebook/export?view=units&format=csv")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = _csv_rows(response.data)
    assert rows[0][:3] == ["Trainee", "Email", "Unit code"]
    [chan] = [row for row in rows if row[0] == "Chan Siu Ming"]
    assert chan[2:9] == [
        UNIT_CODE,
        "Prepare a customer list for a department (test unit)",
        "3",
        "1",
        "Competent",
        "2026-03-02",
        chan[8],
    ]
    prs = _csv_rows(browser.get("/progress/gradebook/export?view=prs&format=csv").data)
    chan_prs = {row[3]: row for row in prs if row[0] == "Chan Siu Ming"}
    assert chan_prs["1.1"][5] == "Demonstrated" and chan_prs["1.1"][6] == "2026-03-02"
    assert chan_prs["1.3"][5] == "Not yet demonstrated" and chan_prs["1.3"][6] == ""
    assert chan_prs["1.3"][7] == "Competent"


def test_the_gradebook_filters_by_cohort_and_keeps_formulas_as_text(
    client_as, db_session, centre, make_user, assessor, practice_scenario, foreign_assessor
):
    sly = make_user(Role.TRAINEE, display_name='=HYPERLINK("http://x.test","click")')
    outsider = make_user(Role.TRAINEE, display_name="Not In Cohort")
    for user in (sly, outsider):
        make_attempt(db_session, user, practice_scenario)
    cohort = Cohort(centre_id=centre.id, name="Evening class")
    db_session.add(cohort)
    db_session.flush()
    db_session.add(CohortMember(cohort_id=cohort.id, user_id=sly.id))
    db_session.commit()
    browser = client_as(assessor)
    rows = _csv_rows(browser.get(f"/progress/gradebook/export?cohort={cohort.id}").data)
    names = [row[0] for row in rows[1:]]
    assert names == ['\'=HYPERLINK("http://x.test","click")']
    everyone = _csv_rows(browser.get("/progress/gradebook/export").data)
    assert "Not In Cohort" in [row[0] for row in everyone]
    workbook = load_workbook(
        io.BytesIO(browser.get(f"/progress/gradebook/export?cohort={cohort.id}&format=xlsx").data)
    )
    assert workbook.sheetnames == ["Units", "PRs"]
    units = list(workbook["Units"].values)
    assert units[0][0] == "Trainee" and units[1][0].startswith("=HYPERLINK")
    assert workbook["Units"]["A2"].data_type == "s"  # text, never a formula
    assert len(list(workbook["PRs"].values)) == 1 + 5
    assert browser.get("/progress/gradebook/export?format=pdf").status_code == 400
    assert browser.get("/progress/gradebook/export?cohort=abc").status_code == 404
    foreign = client_as(foreign_assessor).get(f"/progress/gradebook/export?cohort={cohort.id}")
    assert foreign.status_code == 404


# --- evidence and records ------------------------------------------------------------------------


def test_the_evidence_of_an_attempt_as_pdf_and_zip(client_as, graded_attempt, assessor, trainee):
    browser = client_as(assessor)
    review_page = browser.get(f"/review/attempts/{graded_attempt.id}").get_data(as_text=True)
    assert f'href="/progress/attempts/{graded_attempt.id}/evidence.zip"' in review_page
    response = browser.get(f"/progress/attempts/{graded_attempt.id}/evidence.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    for expected in (
        f"Evidence of attempt #{graded_attempt.id}",
        "Chan Siu Ming",
        "Checks",
        "rows",
        "sharing",
        "Answers",
        "q-consent",
        "Timeline",
        "report.create",
        "Decision history",
        "graded",
    ):
        assert expected in text, text
    bundle = zipfile.ZipFile(
        io.BytesIO(browser.get(f"/progress/attempts/{graded_attempt.id}/evidence.zip").data)
    )
    assert set(bundle.namelist()) == {
        "evidence.json",
        "checks.csv",
        "findings.csv",
        "answers.csv",
        "timeline.csv",
        "decision_history.csv",
        "evidence.pdf",
    }
    data = json.loads(bundle.read("evidence.json"))
    assert {c["check"]: c["status"] for c in data["checks"]} == {
        "rows": "pass",
        "columns": "pass",
        "sharing": "pass",
    }
    assert {a["item"]: a["answer"] for a in data["answers"]}["q-consent"] == "c"
    timeline = list(csv.DictReader(io.StringIO(bundle.read("timeline.csv").decode("utf-8-sig"))))
    assert any(row["operation"] == "report.create" for row in timeline)
    assert "Chan Siu Ming" in pdf_text(bundle.read("evidence.pdf"))
    assert (
        client_as(trainee).get(f"/progress/attempts/{graded_attempt.id}/evidence.pdf").status_code
        == 403
    )


@pytest.mark.skipif(not HAS_CJK_FONT, reason="fonts-dejavu-core and fonts-droid-fallback needed")
def test_the_record_of_achievement_lists_units_levels_credits_and_decisions(
    client_as, db_session, make_user, assessor, assessment_scenario
):
    trainee = make_user(Role.TRAINEE, display_name="陳小明 Chan Siu Ming")
    make_attempt(
        db_session,
        trainee,
        assessment_scenario,
        decision=Decision.COMPETENT,
        assessor=assessor,
        when=datetime(2026, 4, 7, 9),
    )
    response = client_as(trainee).get(f"/progress/trainees/{trainee.id}/record.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "Record of achievement" in text and "陳小明 Chan Siu Ming" in text
    assert UNIT_CODE in text and "Prepare a customer list" in text
    assert "Competent" in text and "2026-04-07" in text
    assert "Units decided competent: 1; QF credits: 1." in text
    staff = client_as(assessor).get(f"/progress/trainees/{trainee.id}/record.pdf")
    assert staff.status_code == 200


@pytest.mark.skipif(not HAS_CJK_FONT, reason="fonts-dejavu-core and fonts-droid-fallback needed")
def test_a_unit_under_appeal_is_on_the_record_but_not_counted_as_achieved(
    client_as, db_session, make_user, assessor, assessment_scenario
):
    from training_platform.models import Appeal, DecisionSource, DecisionVersion

    trainee = make_user(Role.TRAINEE, display_name="Chan Siu Ming")
    attempt = make_attempt(
        db_session,
        trainee,
        assessment_scenario,
        decision=Decision.COMPETENT,
        assessor=assessor,
        when=datetime(2026, 4, 7, 9),
    )
    version = DecisionVersion(
        attempt_id=attempt.id,
        version=1,
        decision=Decision.COMPETENT,
        source=DecisionSource.DECISION,
        decided_by_id=assessor.id,
    )
    db_session.add(version)
    db_session.flush()
    db_session.add(
        Appeal(
            attempt_id=attempt.id,
            decision_version_id=version.id,
            trainee_id=trainee.id,
            reason="The consent list was checked line by line.",
        )
    )
    db_session.commit()
    text = pdf_text(client_as(trainee).get(f"/progress/trainees/{trainee.id}/record.pdf").data)
    assert UNIT_CODE in text and "appeal pending" in text
    assert "Units decided competent: 0; QF credits: 0." in text


def test_a_record_without_decisions_lists_no_units(
    client_as, trainee, practice_scenario, db_session
):
    make_attempt(db_session, trainee, practice_scenario)  # practice: never on the record
    text = pdf_text(client_as(trainee).get(f"/progress/trainees/{trainee.id}/record.pdf").data)
    assert "None." in text and UNIT_CODE not in text
    assert "Units decided competent: 0; QF credits: 0." in text


def test_the_new_pages_in_chinese_have_no_english_ui_text(
    client_as, progressed, assessor, centre_admin
):
    from tests.test_i18n import ZH, _untranslated_on

    pages = {
        progressed: ["/progress"],
        assessor: [
            f"/progress/trainees/{progressed.id}",
            "/progress/cohorts",
            "/progress/statistics",
            "/progress/gradebook",
        ],
        centre_admin: ["/settings/retention"],
    }
    for user, paths in pages.items():
        browser = client_as(user)
        for path in paths:
            english = browser.get(path).get_data(as_text=True)
            chinese = browser.get(path, headers=ZH).get_data(as_text=True)
            assert _untranslated_on(english, chinese) == [], path
    record = client_as(progressed).get(f"/progress/trainees/{progressed.id}/record.pdf", headers=ZH)
    assert "成就紀錄" in pdf_text(record.data)


def test_without_the_fonts_the_record_still_opens_in_a_core_font(
    app, db_session, make_user, assessor, assessment_scenario
):
    trainee = make_user(Role.TRAINEE, display_name="陳小明 Chan Siu Ming")
    make_attempt(
        db_session, trainee, assessment_scenario, decision=Decision.COMPETENT, assessor=assessor
    )
    with app.test_request_context():
        data = exports_service.record_pdf(db_session, trainee, font_dirs=["/nonexistent"])
    text = pdf_text(data)
    assert "Chan Siu Ming" in text and "陳小明" not in text and UNIT_CODE in text
