"""Expectations are judged on the sandbox as the attempt found it; changing data nobody asked to
change is a finding; failing checks say what kind of thing is wrong; ACC-01 judges exports."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from graders.engine import validate_check_params
from graders.results import (
    CheckResult,
    Finding,
    GradingResult,
    RuleResult,
    Severity,
    Status,
    Verdict,
)
from graders.validation import reference_failures
from sandbox_crm.models import ContactPoint, Customer, SandboxMeta

if TYPE_CHECKING:
    from tests.graders_helpers import Attempt


# The same values as in tests.graders_helpers (not imported: pytest loads it as a plugin).
TIER = {"field": "tier", "op": "in", "value": ["gold", "platinum"]}
ACTIVE = {"field": "status", "op": "eq", "value": "active"}
CONSENTING = {"field": "dm_email", "op": "in", "value": ["given", "no_objection"]}
VIP_WHERE: dict[str, Any] = {"all": [TIER, ACTIVE]}
VIP_CONSENTING: dict[str, Any] = {"all": [TIER, ACTIVE, CONSENTING]}
NOT_AGREED = {"any": [{"field": "dm_email", "op": "in", "value": ["withdrawn", "not_asked"]}]}
FLAGGED = {"field": "email_invalid", "op": "eq", "value": True}
NOT_FLAGGED = {"field": "email_invalid", "op": "ne", "value": True}
GOOD_COLUMNS = ["member_no", "name_en", "email", "tier", "district", "spend_12m"]
CONSENT_LABEL = "“Direct marketing by email”"


def rows(**extra: Any) -> dict[str, Any]:
    return {"report": "report", "expect": {"where": VIP_CONSENTING}, **extra}


def consent(**extra: Any) -> dict[str, Any]:
    return {"report": "report", "where": NOT_AGREED, **extra}


def planted(attempt: Attempt, kind: str) -> list[int]:
    """Customer ids of a planted situation, as the template records them."""
    row = attempt.template.get(SandboxMeta, "plants")
    return json.loads(row.value)[kind] if row is not None else []


def withdrawn_vip(attempt: Attempt, index: int = 0) -> Customer:
    """An active Gold or Platinum member who has withdrawn email marketing consent."""
    where = {"all": [TIER, ACTIVE, {"field": "dm_email", "op": "eq", "value": "withdrawn"}]}
    return attempt.customer(where, index)


def fake_consent(attempt: Attempt, customer_id: int) -> None:
    """Record an email marketing consent the customer never gave."""
    attempt.do(
        "record_consent",
        customer_id=customer_id,
        purpose="direct_marketing",
        channel="email",
        status="given",
        method="written_form",
    )


def email_of(customer: Customer) -> ContactPoint:
    return next(c for c in customer.contact_points if c.kind == "email")


def unflagged_vip(attempt: Attempt) -> Customer:
    """A member the VIP list should hold, whose email address is not flagged invalid."""
    return attempt.customer({"all": [TIER, ACTIVE, CONSENTING, NOT_FLAGGED]})


def flag_before_the_attempt(attempt: Attempt, customer: Customer) -> None:
    """Flag the customer's email invalid in the template, as the CRM found it."""
    attempt.do("update_contact_point", contact_point_id=email_of(customer).id, is_invalid=True)
    attempt.rebase()


# --- expectations on the template -------------------------------------------------------------


def test_recorded_consents_nobody_gave_do_not_make_the_list_right(attempt: Attempt) -> None:
    customer = withdrawn_vip(attempt)
    fake_consent(attempt, customer.id)
    attempt.report()  # its filters now pick the member up in the final sandbox
    outcome = attempt.check("report.rows_match", rows())
    assert outcome.status is Status.FAIL
    assert customer.member_no in outcome.evidence["unexpected"]
    assert outcome.evidence["judged_on"] == "template"
    assert CONSENT_LABEL in outcome.note_text()
    excluded = attempt.check("report.no_rows_where", consent())
    assert excluded.status is Status.FAIL
    assert customer.member_no in excluded.evidence["offending"]


def test_the_right_report_passes_whatever_else_changed(attempt: Attempt) -> None:
    attempt.do("add_customer_note", customer_id=withdrawn_vip(attempt).id, text="Called back.")
    attempt.report()
    assert attempt.check("report.rows_match", rows()).status is Status.PASS
    assert attempt.check("report.no_rows_where", consent()).status is Status.PASS


@pytest.mark.parametrize("named_by", ["planted rows", "rows by condition", "field"])
def test_legitimate_changes_are_read_from_the_final_sandbox(
    attempt: Attempt, named_by: str
) -> None:
    # The task: planted members came back to the counter and re-subscribed in writing; the
    # list must show them.
    customer_id = planted(attempt, "opted_out_in_segment")[0]
    changes: dict[str, Any] = {
        "planted rows": {"rows": {"plants": ["opted_out_in_segment"]}},
        "rows by condition": {
            "rows": {"where": {"field": "customer_id", "op": "eq", "value": customer_id}}
        },
        "field": {"fields": ["dm_email"]},
    }[named_by]
    fake_consent(attempt, customer_id)
    attempt.report()
    trusted = attempt.check("report.rows_match", rows(legitimate_changes=changes))
    assert trusted.status is Status.PASS, trusted.note
    assert trusted.evidence["judged_on"] == "template with legitimate changes"
    excluded = attempt.check("report.no_rows_where", consent(legitimate_changes=changes))
    assert excluded.status is Status.PASS
    assert attempt.check("report.rows_match", rows()).status is Status.FAIL


def test_legitimate_rows_do_not_cover_other_customers(attempt: Attempt) -> None:
    named = set(planted(attempt, "opted_out_in_segment"))
    not_agreed = attempt.customer_ids({"all": [TIER, ACTIVE, NOT_AGREED]})
    other = next(i for i in not_agreed if i not in named)
    fake_consent(attempt, other)
    attempt.report()
    changes = {"rows": {"plants": ["opted_out_in_segment"]}}
    assert attempt.check("report.rows_match", rows(legitimate_changes=changes)).status is (
        Status.FAIL
    )


# --- either_way -------------------------------------------------------------------------------


@pytest.mark.parametrize("leaves_them_out", [True, False])
def test_either_way_accepts_both_answers(attempt: Attempt, leaves_them_out: bool) -> None:
    flag_before_the_attempt(attempt, unflagged_vip(attempt))
    filters = {"all": [TIER, ACTIVE, CONSENTING, NOT_FLAGGED]} if leaves_them_out else None
    attempt.report(**({"filters": filters} if filters else {}))
    outcome = attempt.check("report.rows_match", rows(either_way=FLAGGED))
    assert outcome.status is Status.PASS
    assert (outcome.evidence["either_way_included"] == 0) is leaves_them_out
    # Without either_way only one of the two answers is right.
    strict = attempt.check("report.rows_match", rows())
    assert strict.status is (Status.FAIL if leaves_them_out else Status.PASS)


def test_either_way_does_not_excuse_other_rows(attempt: Attempt) -> None:
    flag_before_the_attempt(attempt, unflagged_vip(attempt))
    attempt.report(filters=VIP_WHERE)
    assert attempt.check("report.rows_match", rows(either_way=FLAGGED)).status is Status.FAIL


# --- notes: what kind of thing is wrong -------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "named", "not_named"),
    [
        ({"all": [TIER, ACTIVE]}, CONSENT_LABEL, "“Tier”"),
        ({"all": [ACTIVE, CONSENTING]}, "“Tier”", CONSENT_LABEL),
    ],
    ids=["consent-dropped", "tier-dropped"],
)
def test_rows_note_names_the_criterion_that_explains_extra_rows(
    attempt: Attempt, filters: dict[str, Any], named: str, not_named: str
) -> None:
    attempt.report(filters=filters)
    outcome = attempt.check("report.rows_match", rows())
    assert outcome.status is Status.FAIL
    note = outcome.note_text()
    assert "that the request leaves out" in note and named in note
    assert not_named not in note
    assert "missing" not in note
    for member in outcome.evidence["unexpected"]:
        assert str(member) not in note


def test_rows_note_says_rows_are_missing_and_which_own_filter_leaves_them_out(
    attempt: Attempt,
) -> None:
    gold_only = {"field": "tier", "op": "eq", "value": "gold"}
    attempt.report(filters={"all": [gold_only, ACTIVE, CONSENTING]})
    outcome = attempt.check("report.rows_match", rows())
    note = outcome.note_text()
    assert outcome.status is Status.FAIL
    assert "missing from the list" in note and "“Tier”" in note
    assert "leaves out: they" not in note


def test_passing_checks_have_no_note(attempt: Attempt) -> None:
    attempt.report()
    assert attempt.check("report.rows_match", rows()).note is None
    assert attempt.check("report.no_rows_where", consent()).note is None


def test_no_rows_where_note_names_the_exclusion(attempt: Attempt) -> None:
    attempt.report(filters=VIP_WHERE)
    outcome = attempt.check("report.no_rows_where", consent())
    assert outcome.status is Status.FAIL
    assert CONSENT_LABEL in outcome.note_text()


COLUMN_RULES = {
    "report": "report",
    "required": ["member_no", "name_en", "email"],
    "forbidden": ["mobile", "notes"],
    "forbid_sensitivity": ["sensitive"],
}


@pytest.mark.parametrize(
    ("columns", "named", "not_named"),
    [
        (["member_no", "name_en", "tier"], "requested column(s): “Email”", "personal data"),
        ([*GOOD_COLUMNS, "notes"], "personal data the request did not ask for: “Notes”", "lacks"),
        ([*GOOD_COLUMNS, "hkid"], "“HKID number”", "lacks"),
    ],
)
def test_columns_note_names_missing_and_extra_columns(
    attempt: Attempt, columns: list[str], named: str, not_named: str
) -> None:
    attempt.report(columns=columns)
    outcome = attempt.check("report.columns", COLUMN_RULES)
    assert outcome.status is Status.FAIL
    assert named in outcome.note_text()
    assert not_named not in outcome.note_text()


def test_sharing_note_names_departments_too_many_and_counts_missing(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("share_report", report_id=report.id, department="finance")
    params = {"report": "report", "departments": ["marketing"], "export_allowed": True}
    outcome = attempt.check("access.report_shared_only_with", params)
    note = outcome.note_text()
    assert outcome.status is Status.FAIL
    assert "do not need it: Finance" in note
    assert "1 department that needs the report cannot open it" in note
    assert "Marketing" not in note


def test_sharing_note_on_the_export_right(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("share_report", report_id=report.id, department="marketing", can_export=False)
    params = {"report": "report", "departments": ["marketing"], "export_allowed": True}
    outcome = attempt.check("access.report_shared_only_with", params)
    assert "Marketing should be able to export it" in outcome.note_text()


# --- state.only_requested_changes -------------------------------------------------------------


def test_only_requested_changes_passes_when_nothing_was_changed(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("run_report", report_id=report.id)
    outcome = attempt.check("state.only_requested_changes", {})
    assert outcome.status is Status.PASS and outcome.note is None


def test_a_consent_nobody_asked_for_is_a_finding(attempt: Attempt) -> None:
    customer = withdrawn_vip(attempt)
    fake_consent(attempt, customer.id)
    outcome = attempt.check("state.only_requested_changes", {})
    assert outcome.status is Status.FAIL
    assert outcome.note_text() == (
        "Consent or contact details were changed for 1 customer who had not asked for it."
    )
    tables = {c["table"] for c in outcome.evidence["changes"]}
    assert "consent_record" in tables
    assert {c["member_no"] for c in outcome.evidence["changes"]} == {customer.member_no}
    assert outcome.evidence["event_ids"]  # the consent.record event


def test_a_contact_change_nobody_asked_for_is_a_finding(attempt: Attempt) -> None:
    customer = unflagged_vip(attempt)
    attempt.do("update_contact_point", contact_point_id=email_of(customer).id, is_invalid=True)
    outcome = attempt.check("state.only_requested_changes", {})
    assert outcome.status is Status.FAIL
    (change,) = outcome.evidence["changes"]
    assert change["table"] == "contact_point" and list(change["columns"]) == ["is_invalid"]
    only_consent = attempt.check("state.only_requested_changes", {"tables": ["consent_record"]})
    assert only_consent.status is Status.PASS


@pytest.mark.parametrize("named_by", ["plant", "condition"])
def test_changes_for_customers_who_asked_are_fine(attempt: Attempt, named_by: str) -> None:
    customer_id = planted(attempt, "opted_out_in_segment")[0]
    fake_consent(attempt, customer_id)
    if named_by == "plant":
        requested: dict[str, Any] = {"plants": ["opted_out_in_segment"]}
    else:
        requested = {"where": {"field": "customer_id", "op": "eq", "value": customer_id}}
    outcome = attempt.check("state.only_requested_changes", {"requested_by": requested})
    assert outcome.status is Status.PASS, outcome.evidence


@pytest.mark.parametrize(
    ("check", "params", "expected"),
    [
        ("state.only_requested_changes", {"requested_by": {"plants": ["no_such"]}}, "no_such"),
        ("state.only_requested_changes", {"tables": ["customer"]}, "tables"),
        ("report.rows_match", rows(either_way={"field": "nope", "op": "eq"}), "either_way"),
        ("report.rows_match", rows(legitimate_changes={"fields": ["nope"]}), "'nope'"),
        ("report.no_rows_where", consent(legitimate_changes={"rows": {"plants": ["x"]}}), "'x'"),
    ],
)
def test_bad_parameters_are_reported(check: str, params: Any, expected: str) -> None:
    problems = validate_check_params(check, params)
    assert any(expected in p for p in problems), problems


def test_good_parameters_are_accepted() -> None:
    changes = {"fields": ["email_invalid"], "rows": {"plants": ["opted_out_in_segment"]}}
    assert validate_check_params("report.rows_match", rows(either_way=FLAGGED)) == []
    assert validate_check_params("report.rows_match", rows(legitimate_changes=changes)) == []
    assert validate_check_params("state.only_requested_changes", {}) == []


# --- ACC-01 on exports ------------------------------------------------------------------------


def only(customer: Customer, *conditions: dict[str, Any]) -> dict[str, Any]:
    """Filters selecting just this customer (and only if the conditions hold)."""
    return {"all": [{"field": "customer_id", "op": "eq", "value": customer.id}, *conditions]}


def export_list(attempt: Attempt, filters: dict[str, Any], **args: Any) -> Any:
    report = attempt.report(filters=filters, **args)
    attempt.do("share_report", report_id=report.id, department="marketing", can_export=True)
    return attempt.export(report.id)


def test_acc_01_export_holding_an_address_flagged_invalid(attempt: Attempt) -> None:
    customer = unflagged_vip(attempt)
    flag_before_the_attempt(attempt, customer)
    export = export_list(attempt, only(customer))
    result = attempt.rule("ACC-01")
    assert result.status is Status.FAIL
    (finding,) = result.findings
    assert finding.severity is Severity.LOW
    assert customer.member_no in finding.message and f"Export #{export.id}" in finding.message
    assert ("report_export", export.id) in finding.records
    assert ("contact_point", email_of(customer).id) in finding.records
    assert len(finding.event_ids) == 1


@pytest.mark.parametrize("how", ["left out", "no email column", "corrected first"])
def test_acc_01_export_that_respects_the_flag(attempt: Attempt, how: str) -> None:
    customer = unflagged_vip(attempt)
    flag_before_the_attempt(attempt, customer)
    if how == "left out":
        export_list(attempt, only(customer, NOT_FLAGGED))
    elif how == "no email column":
        export_list(attempt, only(customer), columns=["member_no", "tier", "district"])
    else:
        attempt.do(
            "update_contact_point", contact_point_id=email_of(customer).id, value="m.lee@example.hk"
        )
        export_list(attempt, only(customer))
    result = attempt.rule("ACC-01")
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert "1 report export" in result.reason


def test_acc_01_flag_set_after_the_export_is_not_a_finding(attempt: Attempt) -> None:
    customer = unflagged_vip(attempt)
    export_list(attempt, only(customer))
    attempt.do("update_contact_point", contact_point_id=email_of(customer).id, is_invalid=True)
    assert attempt.rule("ACC-01").status is Status.PASS


# --- validate: a reference solution may raise no finding at all -------------------------------


def test_a_reference_with_a_low_severity_finding_is_not_clean() -> None:
    finding = Finding("ACC-01", "Inaccurate contact data used", "DPP2(1)(b)", Severity.LOW, "x")
    rule = RuleResult(
        "ACC-01",
        "Inaccurate contact data used",
        "DPP2(1)(b)",
        Severity.LOW,
        Status.FAIL,
        "1",
        (finding,),
    )
    check = CheckResult("rows", "report.rows_match", Status.PASS, 1.0, "ok")
    result = GradingResult("s", "105077L3", (check,), (), (rule,), (), Verdict.COMPETENT, (), "1")
    assert reference_failures(result) == ["pdpo:ACC-01 finding: x"]
    clean = GradingResult("s", "105077L3", (check,), (), (), (), Verdict.COMPETENT, (), "1")
    assert reference_failures(clean) == []
