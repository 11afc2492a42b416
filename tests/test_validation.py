"""How validate judges an alternative's result: competent, or not, and which findings it notes."""

from __future__ import annotations

from graders.results import (
    CheckResult,
    Finding,
    GradingResult,
    ItemResult,
    RuleResult,
    Status,
)
from graders.validation import alternative_failures


def finding(rule_id: str, severity: str) -> RuleResult:
    """A PDPO rule with one finding of the given severity."""
    found = Finding(rule_id, "A rule", "DPP1", severity, f"{rule_id} was breached")
    return RuleResult(rule_id, "A rule", "DPP1", severity, Status.FAIL, "", (found,))


def result(*, check=Status.PASS, choice=Status.PASS, written=Status.NEEDS_REVIEW, pdpo=()):
    """A grading result with one check, one choice item, one written item and some rules."""
    return GradingResult(
        scenario_id="999001L3-silver-list",
        unit_code="999001L3",
        checks=(CheckResult("rows", "report.rows_match", check, 1.0, ""),),
        items=(
            ItemResult("q1", "single_choice", choice, 0.0, 1.0, "a", ""),
            ItemResult("w1", "written", written, 0.0, 5.0, "text", ""),
        ),
        pdpo=pdpo,
        requirements=(),
        verdict="competent",
        reasons=(),
        grader_version="test",
    )


def test_a_clean_result_is_competent():
    assert alternative_failures(result()) == ([], [])


def test_lower_findings_are_noted_without_failing_the_alternative():
    failures, notes = alternative_failures(
        result(pdpo=(finding("ACC-01", "low"), finding("COL-08", "medium")))
    )
    assert failures == []
    assert notes == [
        "pdpo:ACC-01 low finding: ACC-01 was breached",
        "pdpo:COL-08 medium finding: COL-08 was breached",
    ]


def test_a_high_or_critical_finding_fails_the_alternative():
    for severity in ("high", "critical"):
        failures, notes = alternative_failures(result(pdpo=(finding("SEC-02", severity),)))
        assert failures == [f"pdpo:SEC-02 {severity} finding: SEC-02 was breached"]
        assert notes == []


def test_a_failing_or_erroring_check_or_choice_item_fails_the_alternative():
    assert alternative_failures(result(check=Status.FAIL))[0][0].startswith("check rows fail")
    assert alternative_failures(result(check=Status.ERROR))[0][0].startswith("check rows error")
    assert alternative_failures(result(choice=Status.FAIL))[0] == ["item q1 fail"]
    # A written answer waits for an assessor: that is no reason to fail an alternative.
    assert alternative_failures(result(written=Status.FAIL))[0] == []
