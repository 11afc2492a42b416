"""The decision explained to the trainee: overrides with reasons, rubric scores and comments.

The trainee reads the result page through the web client; the assessor works through the review
pages. Before the decision nothing of the review reaches the trainee; in an assessment, neither do
the feedback texts nor the PDPO findings.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from markupsafe import escape
from sqlalchemy.orm import Session

from graders import runner
from graders.definitions.models import Step
from tests.platform_fixtures import (
    apply_reference_solution,
    publish_as_assessment,
    reference_answers,
)
from training_platform import attempts_service, definitions_store, results_service, sandboxes
from training_platform.models import Attempt, GradeRecord, utcnow

WRITTEN = "w-proposal"
SHARING_REASON = "Sales runs the preview evening with Marketing this year, so it needs the list."
RUBRIC = {
    "points-uses-data": "2",
    "points-activity": "1",
    "points-privacy": "1",
    "comment-uses-data": "Good use of the district mix in the report.",
    "comment-activity": "Name the branch and the date to make the activity concrete.",
}
DECISION_COMMENT = "Careful, consent-aware work; see the notes on the written answer."


# --- reading the page -------------------------------------------------------------------------


@dataclass
class _Line:
    badges: list[str] = field(default_factory=list)
    text: str = ""


@dataclass
class _Row:
    status: str = ""
    text: str = ""
    lines: list[_Line] = field(default_factory=list)


class _PrTable(HTMLParser):
    """The PR table's rows: each row's status, text, and each feedback line's badges and text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, _Row] = {}
        self._row: _Row | None = None
        self._depth = 0
        self._cell = 0
        self._line: _Line | None = None
        self._badge: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "tr" and (attributes.get("id") or "").startswith("pr-"):
            self._row = self.rows.setdefault(attributes["id"][3:], _Row())
            self._depth, self._cell = 1, 0
        elif self._row is None:
            return
        elif tag == "tr":
            self._depth += 1
        elif tag == "td" and self._depth == 1:
            self._cell += 1
        elif tag == "li":
            self._line = _Line()
        elif tag == "span" and "badge" in (attributes.get("class") or "").split():
            self._badge = []

    def handle_endtag(self, tag: str) -> None:
        if self._row is None:
            return
        if tag == "tr":
            self._depth -= 1
            if self._depth == 0:
                self._row = None
        elif tag == "li" and self._line is not None:
            self._row.lines.append(self._line)
            self._line = None
        elif tag == "span" and self._badge is not None:
            text = "".join(self._badge).strip()
            if self._line is not None:
                self._line.badges.append(text)
            elif self._cell == 3 and not self._row.status:
                self._row.status = text
            self._badge = None

    def handle_data(self, data: str) -> None:
        if self._row is None:
            return
        self._row.text += data
        if self._line is not None:
            self._line.text += data
        if self._badge is not None:
            self._badge.append(data)


def pr_rows(html: str) -> dict[str, _Row]:
    """The result page's PR rows by PR id."""
    parser = _PrTable()
    parser.feed(html)
    return parser.rows


def assert_no_contradiction(html: str) -> None:
    """No PR shows a status its checks and questions contradict without the override saying why."""
    rows = pr_rows(html)
    assert rows, "the page has no PR table"
    for pr_id, row in rows.items():
        statuses = [line.badges[0] for line in row.lines if line.badges]
        if row.status == "Demonstrated":
            if "Fail" in statuses:
                assert "Demonstrated on review:" in row.text, pr_id
            for line in row.lines:
                if "Fail" in line.badges[1:]:
                    assert "on review:" in line.text, (pr_id, line.text)
        if row.status == "Not demonstrated":
            assert (
                "Fail" in statuses
                or "Not demonstrated on review:" in row.text
                or "Counts against" in statuses
                or "Your assessor will explain with the decision why" in row.text
            ), pr_id


# --- doing the attempt ------------------------------------------------------------------------


def _share_with_sales(report_id: int) -> list[dict]:
    args = {"report_id": report_id, "department": "sales", "can_export": True}
    return [{"op": "share_report", "args": args}]


@pytest.fixture
def overshared_attempt(sandbox_settings, db_session, started_attempt) -> Attempt:
    """A graded attempt whose report is also shared with Sales: the sharing check fails."""
    report_id = apply_reference_solution(sandbox_settings, started_attempt)["report"]
    with sandboxes.get_store(sandbox_settings).session(started_attempt.sandbox_key) as sandbox:
        runner.apply_steps(sandbox, [Step.model_validate(s) for s in _share_with_sales(report_id)])
    with sandbox_settings.app_context():
        attempts_service.save_answers(
            db_session, started_attempt, reference_answers(started_attempt)
        )
        attempts_service.submit_attempt(db_session, started_attempt, {"report": report_id})
        attempts_service.grade_attempt_record(db_session, started_attempt)
    db_session.commit()
    automatic = results_service.latest_grade(db_session, started_attempt)
    assert automatic.check("sharing").status == "fail"
    return started_attempt


def _review(client, attempt: Attempt, path: str, data: dict) -> None:
    response = client.post(f"/review/attempts/{attempt.id}/{path}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)


def _override(client, attempt: Attempt, target: str, status: str, reason: str) -> None:
    _review(client, attempt, "overrides", {"target": target, "status": status, "reason": reason})


def _result(client, attempt: Attempt) -> str:
    response = client.get(f"/attempts/{attempt.id}/result")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- overrides --------------------------------------------------------------------------------


def test_an_override_to_pass_shows_its_reason_and_no_contradiction(
    client_as, trainee, assessor, overshared_attempt
):
    attempt = overshared_attempt
    learner, reviewer = client_as(trainee), client_as(assessor)
    before = _result(learner, attempt)
    assert pr_rows(before)["1.3"].status == "Not demonstrated"
    assert_no_contradiction(before)

    _override(reviewer, attempt, "check:sharing", "pass", SHARING_REASON)
    _review(reviewer, attempt, f"rubric/{WRITTEN}", RUBRIC)
    draft = _result(learner, attempt)
    assert str(escape(SHARING_REASON)) not in draft  # a draft until the decision
    assert "on review" not in draft
    assert pr_rows(draft)["1.3"].status == "Not demonstrated"

    _review(reviewer, attempt, "decision", {"decision": "competent", "comment": DECISION_COMMENT})
    html = _result(learner, attempt)
    row = pr_rows(html)["1.3"]
    assert row.status == "Demonstrated"
    (line,) = row.lines
    assert line.badges == ["Pass", "Fail"]  # in force, then the automatic result beside it
    assert "Passed on review:" in line.text and SHARING_REASON in line.text
    assert "Automatic result:" in line.text
    assert "Your assessor changed some automatic results." in html
    assert "the automatic grading recommended: <strong>Not yet competent</strong>" in html
    assert_no_contradiction(html)


def test_a_requirement_overridden_to_demonstrated_says_why_beside_its_failed_check(
    client_as, trainee, assessor, overshared_attempt
):
    attempt = overshared_attempt
    reviewer = client_as(assessor)
    reason = "The second share was withdrawn the same day; access was right in practice."
    _override(reviewer, attempt, "requirement:1.3", "demonstrated", reason)
    _review(reviewer, attempt, f"rubric/{WRITTEN}", RUBRIC)
    _review(reviewer, attempt, "decision", {"decision": "competent", "comment": DECISION_COMMENT})

    html = _result(client_as(trainee), attempt)
    row = pr_rows(html)["1.3"]
    assert row.status == "Demonstrated"
    assert [line.badges[0] for line in row.lines] == ["Fail"]  # the check itself still failed
    assert "Demonstrated on review:" in row.text and reason in row.text
    assert_no_contradiction(html)


def test_the_contradiction_check_catches_a_demonstrated_pr_beside_a_plain_fail():
    html = (
        '<table><tr id="pr-2.4"><td>2.4</td><td>Share it</td>'
        '<td><span class="badge badge-pass">Demonstrated</span></td>'
        '<td><ul><li><span class="badge badge-fail">Fail</span> Access is not right.</li></ul>'
        "</td></tr></table>"
    )
    with pytest.raises(AssertionError):
        assert_no_contradiction(html)


# --- rubric scores and comments ---------------------------------------------------------------


PASSING = {"points-uses-data": "2", "points-activity": "1", "points-privacy": "1"}
FAILING = {"points-uses-data": "1", "points-activity": "1", "points-privacy": "0"}


@pytest.mark.parametrize(
    ("points", "total", "reached", "status"),
    [(PASSING, 4, True, "Pass"), (FAILING, 2, False, "Fail")],
)
def test_rubric_points_and_comments_reach_the_trainee_after_the_decision_only(
    client_as, trainee, assessor, graded_attempt, points, total, reached, status
):
    attempt = graded_attempt
    learner, reviewer = client_as(trainee), client_as(assessor)
    comments = {k: v for k, v in RUBRIC.items() if k.startswith("comment-")}
    _review(reviewer, attempt, f"rubric/{WRITTEN}", {**points, **comments})
    draft = _result(learner, attempt)
    for comment in comments.values():
        assert comment not in draft
    assert "How your assessor scored this answer" not in draft

    decision = "competent" if reached else "not_yet_competent"
    _review(reviewer, attempt, "decision", {"decision": decision, "comment": DECISION_COMMENT})
    html = _result(learner, attempt)
    (line,) = pr_rows(html)["2.2"].lines
    assert line.badges[0] == status
    assert "How your assessor scored this answer" in line.text
    for comment in comments.values():
        assert comment in line.text
    assert re.search(rf"Total\s*{total} of 5", line.text)
    assert f"Pass mark 2.5 of 5: {'reached' if reached else 'not reached'}" in line.text
    assert f"{points['points-uses-data']} of 2" in line.text
    assert DECISION_COMMENT in html
    # Automatically, the written answer was waiting for review: no recommendation to compare.
    assert 'id="automatic-recommendation"' not in html
    assert "changed some automatic results" not in html
    assert_no_contradiction(html)


# --- assessments ------------------------------------------------------------------------------


@pytest.fixture
def assessment_attempt(sandbox_settings, db_session, trainee, practice_scenario) -> Attempt:
    """The trainee's graded attempt at the test scenario published as an assessment, with a
    PDPO breach (an export for Marketing that also carries identity card numbers)."""
    published = publish_as_assessment(
        db_session, practice_scenario, trainee.centre_id, max_attempts=2
    )
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, published)
    db_session.commit()
    scenario = definitions_store.scenario_of(attempt)
    wrong = next(c for c in scenario.counterexamples if "identity card" in c.name)
    with sandboxes.get_store(sandbox_settings).session(attempt.sandbox_key) as sandbox:
        outcome = runner.apply_steps(sandbox, wrong.steps)
    with sandbox_settings.app_context():
        attempts_service.save_answers(db_session, attempt, reference_answers(attempt))
        attempts_service.submit_attempt(db_session, attempt, outcome.deliverables)
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()
    return attempt


def test_an_assessment_shows_no_review_feedback_or_pdpo_findings_before_the_decision(
    client_as, trainee, assessor, assessment_attempt, db_session
):
    attempt = assessment_attempt
    automatic = results_service.latest_grade(db_session, attempt)
    breached = [r for r in automatic.pdpo if r.status == "fail"]
    assert breached, "the attempt should breach a PDPO rule"
    rule = breached[0]
    learner, reviewer = client_as(trainee), client_as(assessor)
    reason = "The HKID column was removed before the file left the team; checked in the log."
    _override(reviewer, attempt, f"pdpo:{rule.rule_id}", "pass", reason)
    _review(reviewer, attempt, f"rubric/{WRITTEN}", RUBRIC)

    before = _result(learner, attempt)
    assert "what the checks found is shown once your assessor has decided" in before
    for r in breached:
        assert f'id="rule-{r.rule_id}"' not in before
        assert r.title not in before
    assert "Breached" not in before and "No breaches" not in before
    assert str(escape(reason)) not in before
    for comment in (v for k, v in RUBRIC.items() if k.startswith("comment-")):
        assert comment not in before
    assert "on review" not in before
    assert_no_contradiction(before)

    _review(reviewer, attempt, "decision", {"decision": "not_yet_competent", "comment": ""})
    after = _result(learner, attempt)
    assert f'id="rule-{rule.rule_id}"' in after
    assert "Not a breach, on review:" in after and str(escape(reason)) in after
    assert "Automatic result: " in after and "Breached" in after
    assert "Good use of the district mix in the report." in after
    assert "what the checks found is shown once" not in after
    assert_no_contradiction(after)


# --- a PR failed by a PDPO breach --------------------------------------------------------------


def _store_result(db_session: Session, attempt: Attempt, change) -> None:
    """Keep a new grading record: the attempt's latest result as ``change`` edits it."""
    result = copy.deepcopy(results_service.latest_grade_record(db_session, attempt).result)
    change(result)
    db_session.add(
        GradeRecord(
            attempt=attempt,
            created_at=utcnow(),
            overall=result["verdict"],
            result=result,
            grader_version=result["grader_version"],
        )
    )
    db_session.commit()


def _pr_failed_by(severity: str):
    def change(result: dict) -> None:
        for requirement in result["requirements"]:
            if requirement["pr_id"] == "2.1":
                requirement["status"] = "not_demonstrated"
        rule = result["pdpo"][0]
        rule.update(status="fail", severity=severity)
        rule["findings"] = [
            {
                "rule_id": rule["rule_id"],
                "title": rule["title"],
                "basis": rule["basis"],
                "severity": severity,
                "message": "hidden evidence 4711",
            }
        ]
        result["verdict"] = "not_yet_competent"

    return change


@pytest.mark.parametrize(("severity", "explained"), [("high", True), ("low", False)])
def test_a_pr_failed_by_a_serious_pdpo_breach_says_so(
    client_as, trainee, graded_attempt, db_session, severity, explained
):
    _store_result(db_session, graded_attempt, _pr_failed_by(severity))
    html = _result(client_as(trainee), graded_attempt)
    row = pr_rows(html)["2.1"]
    assert row.status == "Not demonstrated"
    assert ("A serious breach of the PDPO rules listed below" in row.text) is explained
    assert "hidden evidence 4711" not in html
    if explained:
        assert_no_contradiction(html)
    else:
        with pytest.raises(AssertionError):
            assert_no_contradiction(html)


def test_in_an_assessment_a_pr_failed_by_a_breach_names_no_pdpo_before_the_decision(
    client_as, trainee, assessment_attempt, db_session
):
    _store_result(db_session, assessment_attempt, _pr_failed_by("high"))
    html = _result(client_as(trainee), assessment_attempt)
    row = pr_rows(html)["2.1"]
    assert row.status == "Not demonstrated"
    assert "Your assessor will explain with the decision why" in row.text
    assert "PDPO" not in row.text and "Counts against" not in row.text
    assert_no_contradiction(html)
