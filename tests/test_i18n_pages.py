"""The VIP scenario's graded attempt read in Chinese: the grader's sentences (check notes, PDPO
findings, rule reasons, the roll-up), the filter sentence, the field descriptions and the titles
are all translated; English readers see the English as before; exports follow the exporter.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from graders import runner
from graders.definitions import Step
from graders.results import Finding, RuleResult, Wording, fill, listing, message, sentences
from sandbox_crm.query import describe_condition
from tests.platform_fixtures import apply_reference_solution
from training_platform import attempts_service, definitions_store, results_service, sandboxes
from training_platform.models import DefinitionKind

ROOT = Path(__file__).resolve().parents[1]
VIP_FILE = ROOT / "scenarios" / "105077L3" / "marketing-vip-report.yaml"
VIP_ZH_TITLE = "為市場推廣部編製每月貴賓會員報告"
VIP_EN_TITLE = "Monthly VIP report for the Marketing department"
ZH = {"Accept-Language": "zh-HK,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en"}

# A careless attempt: no consent filter, the HKID and notes columns, shared with the wrong
# departments, exported without running it, to a personal mailbox, unencrypted, no purpose.
CARELESS_STEPS = [
    {
        "op": "create_report",
        "as": "report",
        "deliverable": "report",
        "args": {
            "name": "VIP list",
            "source": "customers",
            "columns": ["member_no", "name_en", "email", "tier", "spend_12m", "hkid", "notes"],
            "filters": {
                "all": [
                    {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
                    {"field": "status", "op": "eq", "value": "active"},
                    {"field": "spend_12m", "op": "ge", "value": 8000},
                ]
            },
        },
    },
    {"op": "share_report", "args": {"report_id": "$report", "department": "sales"}},
    {"op": "share_report", "args": {"report_id": "$report", "department": "finance"}},
    {
        "op": "export_report",
        "args": {
            "report_id": "$report",
            "purpose": "",
            "destination": "personal_email",
            "for_department": "marketing",
            "encrypted": False,
        },
    },
]

# Sentences converted to templates: their English must not show on a Chinese page.
ENGLISH_SENTENCES = [
    "The list includes",
    "that the request leaves out",
    "The report shows column(s)",
    "that must be left out",
    "The report is shared with department(s)",
    "department that needs the report",
    "departments that need the report",
    "was never run",
    "was exported, but",
    "No breach found in",
    "findings in",
    "finding in",
    "of personal data:",
    "sent in the attempt",
    "made in the attempt",
    "The sandbox has no",
    "The sandbox does not",
    "HKID number (",
    "unrelated to the task",
    "customer records",
    "Medium and low PDPO findings",
    "Critical PDPO breach",
    "High PDPO finding",
    "not demonstrated:",
    VIP_EN_TITLE,
]


def _small_vip() -> str:
    """The VIP scenario as shipped (both languages), with a small sandbox."""
    text = VIP_FILE.read_text(encoding="utf-8")
    text = text.replace("  customers: 1200\n", "  customers: 300\n")
    return re.sub(r"count: \d+, params", "count: 1, params", text)


@pytest.fixture
def vip_attempt(sandbox_settings, db_session, trainee):
    """The trainee's attempt at a small copy of the VIP scenario, worked carelessly and graded."""
    unit = definitions_store.publish(
        db_session,
        kind=DefinitionKind.UNIT,
        text=(ROOT / "units" / "105077L3.yaml").read_text(encoding="utf-8"),
        filename="105077L3.yaml",
        centre_id=None,
        user_id=None,
    )
    assert unit.ok, unit.problems
    scenario = definitions_store.publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=_small_vip(),
        filename="marketing-vip-report.yaml",
        centre_id=None,
        user_id=None,
    )
    assert scenario.ok, scenario.problems
    db_session.commit()
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, scenario.version)
    db_session.commit()
    steps = [Step.model_validate(step) for step in CARELESS_STEPS]
    store = sandboxes.get_store(sandbox_settings)
    with store.session(attempt.sandbox_key) as sandbox:
        deliverables = runner.apply_steps(sandbox, steps).deliverables
    with sandbox_settings.app_context():
        attempts_service.submit_attempt(db_session, attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()
    return attempt, deliverables["report"]


def _pages(client, attempt_id: int, report_id: int, headers: dict[str, str]) -> dict[str, str]:
    paths = {
        "attempts": "/attempts",
        "result": f"/attempts/{attempt_id}/result",
        "report": f"/attempts/{attempt_id}/crm/reports/{report_id}",
        "builder": f"/attempts/{attempt_id}/crm/reports/new",
    }
    pages = {}
    for name, path in paths.items():
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (name, response.status_code)
        pages[name] = response.get_data(as_text=True)
    return pages


def test_the_graded_vip_attempt_reads_in_chinese_for_the_trainee(
    db_session, client_as, trainee, vip_attempt
):
    attempt, report_id = vip_attempt
    result = results_service.latest_grade(db_session, attempt)
    failed = {c.check_id for c in result.checks if c.status.value == "fail"}
    assert {"rows", "columns", "consent", "sharing", "export", "workflow"} <= failed
    client = client_as(trainee)

    english = _pages(client, attempt.id, report_id, EN)
    assert VIP_EN_TITLE in english["attempts"]
    assert "The report was never run." in english["result"]
    assert "The report is shared with department(s) that do not need it" in english["result"]
    assert "Tier is &#34;gold&#34; or &#34;platinum&#34; and Status is" in english["report"]
    assert "primary email address (first email if none is primary)" in english["builder"]

    chinese = _pages(client, attempt.id, report_id, ZH)
    assert VIP_ZH_TITLE in chinese["attempts"]
    assert "該報表從未執行。" in chinese["result"]
    assert "報表分享給不需要它的部門：" in chinese["result"]
    assert "「" in chinese["result"] and "“" not in chinese["result"]
    assert "會員級別為 &#34;gold&#34; 或 &#34;platinum&#34;，且狀態為" in chinese["report"]
    assert "客戶的主要電郵地址" in chinese["builder"] and "List of values" not in chinese["builder"]
    for name, page in chinese.items():
        for sentence in ENGLISH_SENTENCES:
            assert sentence not in page, (name, sentence)


def test_the_graded_vip_attempt_reads_in_chinese_for_the_assessor(
    db_session, client_as, assessor, vip_attempt
):
    attempt, _ = vip_attempt
    result = results_service.latest_grade(db_session, attempt)
    assert result.rule("SEC-02").status.value == "fail"
    client = client_as(assessor)
    path = f"/review/attempts/{attempt.id}"

    english = client.get(path, headers=EN).get_data(as_text=True)
    assert "Export #" in english and "of personal data: the file is not encrypted." in english
    assert "No breach found in" in english
    assert "The sandbox does not record marketing vendors" in english

    chinese = client.get(path, headers=ZH).get_data(as_text=True)
    assert "：檔案未有加密。" in chinese
    assert "中未發現違規。" in chinese
    assert "沙盒沒有記錄市場推廣供應商" in chinese
    assert VIP_ZH_TITLE in chinese
    for sentence in ENGLISH_SENTENCES:
        assert sentence not in chinese, sentence
    queue = client.get("/review", headers=ZH).get_data(as_text=True)
    assert VIP_ZH_TITLE in queue and VIP_EN_TITLE not in queue


def test_results_stored_before_the_reason_templates_still_show_their_english(
    db_session, client_as, assessor, vip_attempt
):
    attempt, _ = vip_attempt
    record = results_service.latest_grade_record(db_session, attempt)
    stored = dict(record.result)
    rules = []
    for rule in stored["pdpo"]:
        rule = {k: v for k, v in rule.items() if k not in ("reason_template", "reason_values")}
        rules.append(rule | {"reason": f"Stored reason of {rule['rule_id']}."})
    record.result = stored | {"pdpo": rules}
    db_session.commit()
    loaded = results_service.latest_grade(db_session, attempt)
    assert loaded.rule("COL-01").reason_template == ""
    chinese = client_as(assessor).get(f"/review/attempts/{attempt.id}", headers=ZH)
    assert "Stored reason of COL-01." in chinese.get_data(as_text=True)


# --- exports in the exporter's language ---------------------------------------------------------


def _export(client, attempt_id: int, report_id: int, file_format: str, headers: str) -> bytes:
    base = f"/attempts/{attempt_id}/crm"
    response = client.post(
        f"{base}/reports/{report_id}/exports",
        data={
            "purpose": "Email invitations to the spring VIP preview evening",
            "destination": "internal_shared_drive",
            "for_department": "marketing",
            "encrypted": "y",
            "file_format": file_format,
            "headers": headers,
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    exports = client.get(f"{base}/reports/{report_id}").get_data(as_text=True)
    export_id = max(int(n) for n in re.findall(r"/exports/(\d+)/download", exports))
    download = client.get(f"{base}/exports/{export_id}/download")
    assert download.status_code == 200
    return download.data


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _xlsx_rows(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_exports_have_headers_and_tiers_in_the_exporters_language(
    sandbox_settings, client_as, trainee, started_attempt
):
    report_id = apply_reference_solution(sandbox_settings, started_attempt)["report"]
    attempt_id = started_attempt.id
    client = client_as(trainee)

    client.post("/language", data={"language": "zh_Hant_HK", "next": "/"})
    rows = _csv_rows(_export(client, attempt_id, report_id, "csv", "labels"))
    assert rows[0] == ["會員編號", "姓名（英文）", "電郵", "會員級別"]
    assert len(rows) > 1 and {row[3] for row in rows[1:]} == {"金卡"}
    sheet = _xlsx_rows(_export(client, attempt_id, report_id, "xlsx", "labels"))
    assert sheet[0] == ["會員編號", "姓名（英文）", "電郵", "會員級別"] and sheet[1][3] == "金卡"
    codes = _csv_rows(_export(client, attempt_id, report_id, "csv", "codes"))
    assert codes[0] == ["member_no", "name_en", "email", "tier"] and codes[1][3] == "金卡"

    client.post("/language", data={"language": "en", "next": "/"})
    rows = _csv_rows(_export(client, attempt_id, report_id, "csv", "labels"))
    assert rows[0] == ["Member no.", "Name (English)", "Email", "Tier"]
    assert {row[3] for row in rows[1:]} == {"Gold"}
    sheet = _xlsx_rows(_export(client, attempt_id, report_id, "xlsx", "labels"))
    assert sheet[0][3] == "Tier" and sheet[1][3] == "Gold"
    codes = _csv_rows(_export(client, attempt_id, report_id, "csv", "codes"))
    assert codes[0] == ["member_no", "name_en", "email", "tier"] and codes[1][3] == "Gold"


# --- the pieces ---------------------------------------------------------------------------------


def test_nested_messages_and_lists_fill_in_english_and_in_another_wording():
    template, values = sentences(
        message("The list lacks %(labels)s.", labels=listing(["Tier", "Email"], quoted=True)),
        message("Shared with %(names)s.", names=listing(["Sales", "Finance"], style="comma")),
    )
    assert (
        fill(template, values) == "The list lacks “Tier” and “Email”. Shared with Sales, Finance."
    )
    words = {
        "The list lacks %(labels)s.": "缺少%(labels)s。",
        "Shared with %(names)s.": "已分享給%(names)s。",
        "“%(text)s”": "「%(text)s」",
        "Tier": "級別",
    }
    chinese = Wording(
        translate=lambda text: words.get(text, text),
        join_list=lambda items, style: "、".join(items),
        sentence_gap="",
    )
    assert chinese.fill(template, values) == "缺少「級別」、「Email」。已分享給Sales、Finance。"
    assert fill("%(count)d rows", {"count": 2}) == "2 rows"
    assert sentences() == (None, {})


def test_a_rule_reason_and_a_finding_keep_their_templates_through_storage():
    rule = RuleResult(
        "DM-01",
        "Direct marketing without consent",
        "s35E",
        "critical",
        "pass",
        "No breach found in 2 promotional messages sent in the attempt.",
        reason_template="No breach found in %(scope)s.",
        reason_values={"scope": message("%(count)d promotional messages", count=2)},
    )
    again = RuleResult.from_dict(rule.to_dict())
    assert again == rule and again.reason_values["scope"]["values"]["count"] == 2
    finding = Finding("DM-01", "t", "b", "critical", "m", template="x %(who)s", values={"who": 1})
    assert Finding.from_dict(finding.to_dict()).values["who"] == 1


def test_the_filter_sentence_keeps_its_templates_and_reads_in_chinese(app):
    from sandbox_crm.web.i18n import translated

    condition = {
        "all": [
            {"field": "tier", "op": "in", "value": ["gold"]},
            {"not": {"field": "joined_on", "op": "ge", "value": {"days_ago": 30}}},
            {"field": "email_invalid", "op": "eq", "value": True},
        ]
    }
    text = describe_condition("customers", condition)
    assert text == (
        'Tier is "gold" and not (Joined on is on or after 30 days ago) and Email flagged invalid'
        " is yes"
    )
    with app.test_request_context("/", headers=ZH):
        chinese = translated(text)
    assert chinese == (
        '會員級別為 "gold"，且並非（入會日期在 30 日前 或之後），且電郵已標示無效為 是'
    )
