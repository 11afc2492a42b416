"""Grader messages with values: kept as a marked template and its values, shown in the reader's
language on the trainee's result page and the assessor's review page; English as before; stored
results round-trip, and results stored before the templates were kept still show in English.
"""

from __future__ import annotations

import copy

import pytest

from graders.results import CheckResult, Finding, GradingResult, Outcome, Status
from tests.conftest import login
from tests.platform_fixtures import SCENARIO_ID, apply_reference_solution
from training_platform import results_service
from training_platform.models import Attempt, GradeRecord

ZH = {"Accept-Language": "zh-HK,zh;q=0.9,en;q=0.5"}


def test_a_check_note_round_trips_with_its_template_and_values():
    check = CheckResult(
        "exported",
        "report_exported",
        Status.FAIL,
        0.0,
        "2 exports broke the rules. Try again.",
        note="%(count)d exports broke the rules.",
        note_values={"count": 2},
    )
    again = CheckResult.from_dict(check.to_dict())
    assert again == check
    assert again.note_values["count"] == 2


def test_a_check_stored_before_notes_were_kept_loads_without_one():
    stored = {
        "check_id": "x",
        "check_type": "t",
        "status": "fail",
        "score": 0.0,
        "message": "No report was submitted. Try again.",
    }
    check = CheckResult.from_dict(stored)
    assert check.note == "" and dict(check.note_values) == {}
    assert results_service.check_message(check, None, None) == stored["message"]


def test_an_outcome_note_is_filled_in_for_the_english_text():
    outcome = Outcome.failed({}, note="%(count)d exports broke.", note_values={"count": 3})
    assert outcome.note_text() == "3 exports broke."
    assert Outcome.failed({}).note_text() == ""


NOTE = "The submitted report was deleted."


@pytest.fixture
def deleted_report_attempt(db_session, graded_attempt) -> Attempt:
    """A graded attempt whose first check is stored as failed for a deleted report."""
    record = results_service.latest_grade_record(db_session, graded_attempt)
    stored = copy.deepcopy(record.result)
    first = stored["checks"][0]
    failed = Outcome.failed({"reason": "deleted"}, note=NOTE)
    first.update(
        status="fail",
        score=0.0,
        message=f"{failed.note_text()} Try again.",
        note=failed.note,
        note_values={},
    )
    record.result = stored
    db_session.commit()
    return graded_attempt


def _noted(db_session, attempt: Attempt) -> CheckResult:
    result = results_service.latest_grade(db_session, attempt)
    return next(c for c in result.checks if c.note == NOTE)


def test_a_check_note_reads_in_chinese_on_the_result_page(
    client, trainee, db_session, deleted_report_attempt
):
    check = _noted(db_session, deleted_report_attempt)
    assert check.message.startswith("The submitted report was deleted. ")
    login(client, trainee)
    path = f"/attempts/{deleted_report_attempt.id}/result"
    english = client.get(path).get_data(as_text=True)
    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    assert "The submitted report was deleted." in english
    assert "已提交的報表已被刪除。" in chinese
    assert "The submitted report was deleted." not in chinese


def test_a_check_note_reads_in_chinese_on_the_review_page(
    client, assessor, db_session, deleted_report_attempt
):
    _noted(db_session, deleted_report_attempt)
    login(client, assessor)
    path = f"/review/attempts/{deleted_report_attempt.id}"
    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    assert "已提交的報表已被刪除。" in chinese
    assert "The submitted report was deleted." not in chinese
    assert "The submitted report was deleted." in client.get(path).get_data(as_text=True)


def test_a_result_stored_without_note_templates_still_shows_its_english_note(
    client, trainee, db_session, deleted_report_attempt
):
    record = results_service.latest_grade_record(db_session, deleted_report_attempt)
    stored = dict(record.result)
    stored["checks"] = [
        {k: v for k, v in c.items() if k not in ("note", "note_values")} for c in stored["checks"]
    ]
    db_session.add(
        GradeRecord(
            attempt_id=deleted_report_attempt.id,
            overall=record.overall,
            result=stored,
            grader_version=record.grader_version,
        )
    )
    db_session.commit()
    login(client, trainee)
    page = client.get(f"/attempts/{deleted_report_attempt.id}/result", headers=ZH)
    assert "The submitted report was deleted." in page.get_data(as_text=True)


@pytest.fixture
def breached_attempt(db_session, graded_attempt) -> Attempt:
    """A graded attempt whose stored result has DM-06 failed with one finding."""
    record = results_service.latest_grade_record(db_session, graded_attempt)
    stored = copy.deepcopy(record.result)
    rule = next(r for r in stored["pdpo"] if r["rule_id"] == "DM-06")
    finding = {k: rule[k] for k in ("rule_id", "title", "basis", "severity")} | {
        "message": "Promotion sent after the opt-out.",
        "event_ids": [],
        "records": [],
    }
    rule.update(status="fail", reason="1 finding in the audit log.", findings=[finding])
    record.result = stored
    db_session.commit()
    return graded_attempt


def test_a_pdpo_rule_title_reads_in_chinese_on_the_result_and_review_pages(
    client, trainee, assessor, breached_attempt
):
    title, chinese_title = "Direct marketing after an opt-out", "拒收後仍進行直接促銷"
    login(client, trainee)
    path = f"/attempts/{breached_attempt.id}/result"
    assert title in client.get(path).get_data(as_text=True)
    page = client.get(path, headers=ZH).get_data(as_text=True)
    assert chinese_title in page and title not in page
    client.post("/logout")
    login(client, assessor)
    path = f"/review/attempts/{breached_attempt.id}"
    page = client.get(path, headers=ZH).get_data(as_text=True)
    assert chinese_title in page and title not in page


def test_the_roll_up_reasons_keep_their_templates_through_storage(db_session, graded_attempt):
    result = results_service.latest_grade(db_session, graded_attempt)
    assert len(result.reason_notes) == len(result.reasons)
    assert GradingResult.from_dict(result.to_dict()) == result
    old = {k: v for k, v in result.to_dict().items() if k != "reason_notes"}
    assert results_service.reasons_in_language(GradingResult.from_dict(old)) == list(result.reasons)


def test_the_roll_up_reasons_read_in_chinese_on_the_review_page(client, assessor, graded_attempt):
    login(client, assessor)
    path = f"/review/attempts/{graded_attempt.id}"
    english = client.get(path).get_data(as_text=True)
    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    assert "PR 2.2 awaits review: item w-proposal needs an assessor." in english
    assert "表現要求 2.2 待審閱：item w-proposal 需要評核員處理。" in chinese
    assert "awaits review" not in chinese


def test_review_page_fragments_with_values_read_in_chinese(client, assessor, graded_attempt):
    login(client, assessor)
    path = f"/review/attempts/{graded_attempt.id}"
    english = client.get(path).get_data(as_text=True)
    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    number = graded_attempt.id
    assert f"Attempt #{number}" in english and "Override this check" in english
    assert f"嘗試 #{number}" in chinese and "推翻此檢查" in chinese
    assert "項遵從" in chinese and "complied" not in chinese
    assert "Override this" not in chinese and "characters; the automatic status" not in chinese


def test_a_crm_refusal_with_values_reads_in_chinese(
    client, trainee, sandbox_settings, started_attempt
):
    report_id = apply_reference_solution(sandbox_settings, started_attempt)["report"]
    login(client, trainee)
    path = f"/attempts/{started_attempt.id}/crm/reports/{report_id}/shares"
    data = {"department": "marketing", "can_export": "y"}
    client.post(path, data=data)  # the reference solution may have shared it already
    english = client.post(path, data=data)
    assert english.status_code == 400
    assert "The report is already shared with Marketing (view and export)." in english.get_data(
        as_text=True
    )
    chinese = client.post(path, data=data, headers=ZH).get_data(as_text=True)
    assert "報表已分享給市場推廣（可檢視及匯出）。" in chinese
    assert "already shared" not in chinese


def test_a_pdpo_finding_reads_in_chinese_on_the_review_page(
    client, assessor, db_session, graded_attempt
):
    record = results_service.latest_grade_record(db_session, graded_attempt)
    stored = copy.deepcopy(record.result)
    rule = next(r for r in stored["pdpo"] if r["rule_id"] == "SEC-02")
    template = "Export #%(export)s of personal data: %(problem)s."
    values = {"export": 7, "problem": "not encrypted"}
    finding = Finding(
        "SEC-02",
        rule["title"],
        rule["basis"],
        rule["severity"],
        template % values,
        template=template,
        values=values,
    )
    assert Finding.from_dict(finding.to_dict()) == finding
    rule.update(status="fail", reason="1 finding.", findings=[finding.to_dict()])
    record.result = stored
    db_session.commit()
    login(client, assessor)
    path = f"/review/attempts/{graded_attempt.id}"
    assert "Export #7 of personal data: not encrypted." in client.get(path).get_data(as_text=True)
    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    assert "個人資料匯出檔案 #7：未有加密。" in chinese  # the value is a marked phrase too
    assert "Export #7 of personal data" not in chinese


def test_the_report_page_describes_rows_and_sort_in_chinese(
    client, trainee, sandbox_settings, started_attempt
):
    report_id = apply_reference_solution(sandbox_settings, started_attempt)["report"]
    login(client, trainee)
    path = f"/attempts/{started_attempt.id}/crm/reports/{report_id}"
    english = client.get(path).get_data(as_text=True)
    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    assert " where " in english and "Not sorted" in english
    assert "，條件：" in chinese and "未排序" in chinese
    assert " where " not in chinese and "Not sorted" not in chinese


def test_the_direct_marketing_fields_are_named_in_chinese_in_the_builder(
    client, trainee, started_attempt
):
    login(client, trainee)
    path = f"/attempts/{started_attempt.id}/crm/reports/new"
    assert "Direct marketing by email" in client.get(path).get_data(as_text=True)
    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    assert "以電郵直接促銷" in chinese and "Direct marketing by email" not in chinese


def test_authoring_fragments_with_values_read_in_chinese(client, centre_admin, started_attempt):
    login(client, centre_admin)
    english = client.get("/authoring").get_data(as_text=True)
    assert "trainees see: the built-in definitions" in english
    chinese = client.get("/authoring", headers=ZH).get_data(as_text=True)
    assert "的學員看到的內容" in chinese and "trainees see" not in chinese
    history = f"/authoring/scenario/{SCENARIO_ID}"
    assert "1 version" in client.get(history).get_data(as_text=True)
    assert "1 個版本" in client.get(history, headers=ZH).get_data(as_text=True)


def test_a_sort_on_two_fields_reads_as_one_sentence_in_each_language(app):
    from types import SimpleNamespace

    from sandbox_crm.reports.views import _describe_sort

    report = SimpleNamespace(source="customers", sort=[["tier", "desc"], ["spend_12m", "asc"]])
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert (
            _describe_sort(report)
            == "Tier (descending), then Spend, last 12 months (HK$) (ascending)"
        )
    with app.test_request_context("/", headers=ZH):
        text = _describe_sort(report)
    assert "（遞減），其次 " in text and text.endswith("（遞增）")
