"""Every built-in check type passes on a right attempt and fails on a wrong one."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, model_validator

from graders.checks.common import judged_problems
from graders.engine import validate_check_params
from graders.registry import check
from graders.results import Outcome, Status
from sandbox_crm.models import Customer
from tests.graders_helpers import (
    CONSENTING_EMAIL,
    GOOD_COLUMNS,
    VIP_CONSENTING,
    VIP_WHERE,
    Attempt,
)

WITHDRAWN_OR_NOT_ASKED = {"field": "dm_email", "op": "in", "value": ["withdrawn", "not_asked"]}


def rows_params(where: Any = VIP_CONSENTING) -> dict[str, Any]:
    return {"report": "report", "expect": {"where": where}}


# --- report.rows_match ------------------------------------------------------------------------


def test_rows_match_passes_when_the_filters_select_exactly_the_expected_rows(
    attempt: Attempt,
) -> None:
    # Same rows, differently written: the check compares rows, not filter text.
    attempt.report(filters={"all": [CONSENTING_EMAIL, *reversed(VIP_WHERE["all"])]})
    outcome = attempt.check("report.rows_match", rows_params())
    assert outcome.status is Status.PASS
    assert outcome.score == 1.0
    assert outcome.evidence["expected_count"] == outcome.evidence["found_count"] > 0
    assert outcome.evidence["missing"] == outcome.evidence["unexpected"] == ()


def test_rows_match_fails_and_lists_member_numbers_of_unexpected_rows(attempt: Attempt) -> None:
    attempt.report(filters=VIP_WHERE)  # forgets the consent condition
    outcome = attempt.check("report.rows_match", rows_params())
    assert outcome.status is Status.FAIL
    assert 0.0 < outcome.score < 1.0
    evidence = outcome.evidence
    assert evidence["unexpected_count"] > 0 and evidence["missing_count"] == 0
    assert evidence["found_count"] == evidence["expected_count"] + evidence["unexpected_count"]
    withdrawn = attempt.customer_ids(
        {"all": [*VIP_WHERE["all"], {"field": "dm_email", "op": "eq", "value": "withdrawn"}]}
    )
    members = {attempt.session.get(Customer, i).member_no for i in withdrawn}
    assert members <= set(evidence["unexpected"])


def test_rows_match_fails_on_missing_rows_too(attempt: Attempt) -> None:
    attempt.report(
        filters={"all": [*VIP_CONSENTING["all"], {"field": "tier", "op": "eq", "value": "gold"}]}
    )
    outcome = attempt.check("report.rows_match", rows_params())
    assert outcome.status is Status.FAIL
    assert outcome.evidence["missing_count"] > 0 and outcome.evidence["unexpected_count"] == 0


def test_rows_match_fails_without_a_report(attempt: Attempt) -> None:
    outcome = attempt.check("report.rows_match", rows_params())
    assert outcome.status is Status.FAIL
    assert outcome.note_text() == "No report was submitted."


def test_rows_match_fails_when_the_report_uses_another_source(attempt: Attempt) -> None:
    attempt.report(columns=["order_no", "total_hkd"], filters=None, source="orders")
    params = {"report": "report", "expect": {"customers": {"where": VIP_CONSENTING}}}
    outcome = attempt.check("report.rows_match", params)
    assert outcome.status is Status.FAIL
    assert outcome.evidence["found_source"] == "orders"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("report.rows_match", rows_params()),
        ("report.no_rows_where", {"report": "report", "where": WITHDRAWN_OR_NOT_ASKED}),
    ],
)
def test_a_condition_on_customers_fails_a_report_of_orders(
    attempt: Attempt, name: str, params: dict[str, Any]
) -> None:
    # No source named: the condition (on consent) cannot be evaluated on the report's orders.
    attempt.report(columns=["order_no", "total_hkd"], filters=None, source="orders")
    outcome = attempt.check(name, params)
    assert outcome.status is Status.FAIL
    assert outcome.evidence["found_source"] == "orders"
    assert outcome.note_text() == "The report is not built on the data this task is about."


# --- report.columns ---------------------------------------------------------------------------

COLUMN_RULES = {
    "report": "report",
    "required": ["member_no", "name_en", "email"],
    "forbidden": ["mobile", "notes"],
    "forbid_sensitivity": ["sensitive"],
}


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        (GOOD_COLUMNS, None),
        (["member_no", "name_en", "tier"], "missing_required"),
        ([*GOOD_COLUMNS, "notes"], "forbidden_present"),
        ([*GOOD_COLUMNS, "date_of_birth"], "too_sensitive"),
    ],
)
def test_columns(attempt: Attempt, columns: list[str], problem: str | None) -> None:
    attempt.report(columns=columns)
    outcome = attempt.check("report.columns", COLUMN_RULES)
    assert outcome.status is (Status.PASS if problem is None else Status.FAIL)
    for key in ("missing_required", "forbidden_present", "too_sensitive"):
        assert bool(outcome.evidence[key]) is (key == problem)
    assert (outcome.score == 1.0) is (problem is None)


# --- report.no_rows_where ---------------------------------------------------------------------


@pytest.mark.parametrize(("filters", "passes"), [(VIP_CONSENTING, True), (VIP_WHERE, False)])
def test_no_rows_where(attempt: Attempt, filters: dict[str, Any], passes: bool) -> None:
    attempt.report(filters=filters)
    outcome = attempt.check(
        "report.no_rows_where", {"report": "report", "where": WITHDRAWN_OR_NOT_ASKED}
    )
    assert outcome.status is (Status.PASS if passes else Status.FAIL)
    assert (outcome.evidence["offending_count"] == 0) is passes
    assert len(outcome.evidence["offending"]) == min(outcome.evidence["offending_count"], 50)


# --- access.report_shared_only_with -----------------------------------------------------------


@pytest.mark.parametrize(
    ("shares", "passes"),
    [
        ([("marketing", True)], True),
        ([("marketing", False)], False),  # export right missing
        ([("marketing", True), ("finance", False)], False),  # one department too many
        ([], False),  # not shared at all
    ],
)
def test_report_shared_only_with(
    attempt: Attempt, shares: list[tuple[str, bool]], passes: bool
) -> None:
    report = attempt.report()
    for department, can_export in shares:
        attempt.do(
            "share_report", report_id=report.id, department=department, can_export=can_export
        )
    outcome = attempt.check(
        "access.report_shared_only_with",
        {"report": "report", "departments": ["marketing"], "export_allowed": True},
    )
    assert outcome.status is (Status.PASS if passes else Status.FAIL)


def test_report_shared_only_with_ignores_export_rights_when_not_asked(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("share_report", report_id=report.id, department="marketing", can_export=False)
    params = {"report": "report", "departments": ["marketing"]}
    assert attempt.check("access.report_shared_only_with", params).status is Status.PASS


# --- events.sequence --------------------------------------------------------------------------

WORKFLOW = [
    {"operation": "report.create", "deliverable": "report"},
    {"operation": "report.share", "deliverable": "report"},
    {"operation": "report.run", "deliverable": "report"},
]


def test_sequence_passes_in_order_with_other_events_between(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("view_customer", customer_id=attempt.customer(VIP_WHERE).id)
    attempt.do("share_report", report_id=report.id, department="marketing", can_export=True)
    attempt.do("run_report", report_id=report.id)
    outcome = attempt.check("events.sequence", {"steps": WORKFLOW})
    assert outcome.status is Status.PASS
    assert all(step["found"] for step in outcome.evidence["steps"])


def test_sequence_fails_out_of_order_unless_order_does_not_matter(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("run_report", report_id=report.id)
    attempt.do("share_report", report_id=report.id, department="marketing", can_export=True)
    ordered = attempt.check("events.sequence", {"steps": WORKFLOW})
    assert ordered.status is Status.FAIL
    assert ordered.score == pytest.approx(2 / 3)
    unordered = attempt.check("events.sequence", {"steps": WORKFLOW, "ordered": False})
    assert unordered.status is Status.PASS


def test_sequence_requires_the_deliverable_and_the_details(attempt: Attempt) -> None:
    other = attempt.report(deliverable=None, name="Scratch report")
    attempt.do("run_report", report_id=other.id)
    report = attempt.report()
    attempt.do("share_report", report_id=report.id, department="finance")
    run_steps = [{"operation": "report.run", "deliverable": "report"}]
    assert attempt.check("events.sequence", {"steps": run_steps}).status is Status.FAIL
    share = [{"operation": "report.share", "details": {"department": "marketing"}}]
    assert attempt.check("events.sequence", {"steps": share}).status is Status.FAIL
    share = [{"operation": "report.share", "details": {"department": "finance"}}]
    assert attempt.check("events.sequence", {"steps": share}).status is Status.PASS


def test_unordered_sequence_gives_each_step_its_own_event(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("run_report", report_id=report.id)
    steps = [{"operation": "report.run"}, {"operation": "report.run", "deliverable": "report"}]
    outcome = attempt.check("events.sequence", {"steps": steps, "ordered": False})
    assert outcome.status is Status.FAIL
    attempt.do("run_report", report_id=report.id)
    assert attempt.check("events.sequence", {"steps": steps, "ordered": False}).status is (
        Status.PASS
    )


# --- export.made ------------------------------------------------------------------------------

EXPORT_RULES = {"report": "report", "for_department": "marketing"}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"purpose": ""}, "no purpose recorded"),
        ({"purpose": "VIP"}, "too vague"),
        ({"destination": "personal_email"}, "not approved"),
        ({"encrypted": False}, "not encrypted"),
        ({"for_department": "finance"}, "made for finance"),
    ],
)
def test_export_made(attempt: Attempt, changes: dict[str, Any], problem: str | None) -> None:
    report = attempt.report()
    attempt.export(report.id, **changes)
    outcome = attempt.check("export.made", EXPORT_RULES)
    assert outcome.status is (Status.PASS if problem is None else Status.FAIL)
    (export,) = outcome.evidence["exports"]
    if problem is None:
        assert export["problems"] == ()
    else:
        assert any(problem in p for p in export["problems"])
        assert outcome.score == pytest.approx(3 / 4)


def test_export_made_one_good_export_does_not_hide_a_bad_one(attempt: Attempt) -> None:
    report = attempt.report()
    first = attempt.export(report.id, encrypted=False)
    second = attempt.export(report.id)
    outcome = attempt.check("export.made", EXPORT_RULES)
    assert outcome.status is Status.FAIL
    assert outcome.evidence["right_exports"] == (second.id,)
    assert outcome.evidence["bad_exports"] == (first.id,)
    assert [e["problems"] for e in outcome.evidence["exports"]] == [("not encrypted",), ()]
    assert f"export #{first.id}: not encrypted" in outcome.note_text()
    assert outcome.score == pytest.approx(0.5)


def test_export_made_repeating_a_good_export_passes(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.export(report.id)
    attempt.export(report.id, purpose="Second copy of the VIP preview evening email list")
    outcome = attempt.check("export.made", EXPORT_RULES)
    assert outcome.status is Status.PASS
    assert len(outcome.evidence["right_exports"]) == 2


def whole_table(attempt: Attempt) -> Any:
    """A second report: every customer with identity card number and date of birth."""
    columns = ["member_no", "name_en", "email", "hkid", "date_of_birth"]
    return attempt.report(None, name="All customers", columns=columns, filters=None)


def test_export_made_judges_exports_of_other_reports(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.export(report.id)
    leak = attempt.export(whole_table(attempt).id, destination="personal_email", purpose="")
    outcome = attempt.check("export.made", EXPORT_RULES)
    assert outcome.status is Status.FAIL
    listed = {e["export_id"]: e for e in outcome.evidence["exports"]}
    assert listed[leak.id]["personal_data"] is True
    assert listed[leak.id]["of_this_report"] is False
    assert outcome.evidence["bad_exports"] == (leak.id,)
    assert "destination personal_email is not approved" in outcome.note_text()
    assert "no purpose recorded" in outcome.note_text()


def test_export_made_other_files_follow_the_file_rules_not_the_department(
    attempt: Attempt,
) -> None:
    report = attempt.report()
    attempt.export(report.id)
    # A safe file of another report for another department breaks none of the file rules.
    attempt.export(whole_table(attempt).id, for_department="finance")
    # A file with no personal data is not held to them at all.
    summary = attempt.report(None, name="Tiers", columns=["tier", "district"], filters=None)
    attempt.export(summary.id, purpose="", encrypted=False, destination="usb_drive")
    outcome = attempt.check("export.made", EXPORT_RULES)
    assert outcome.status is Status.PASS, outcome.evidence
    assert outcome.evidence["bad_exports"] == ()


def test_export_made_fails_without_an_export(attempt: Attempt) -> None:
    attempt.report()
    outcome = attempt.check("export.made", EXPORT_RULES)
    assert outcome.status is Status.FAIL
    assert outcome.note_text() == "The report was not exported."


def test_export_made_can_relax_its_conditions(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.export(report.id, purpose="", encrypted=False)
    relaxed = {**EXPORT_RULES, "require_purpose": False, "encrypted": False}
    assert attempt.check("export.made", relaxed).status is Status.PASS


# --- state.no_collateral_change ---------------------------------------------------------------

TABLES = ["customer", "contact_point", "consent_record", "message"]


def test_no_collateral_change_passes_for_a_reporting_task(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("run_report", report_id=report.id)
    outcome = attempt.check("state.no_collateral_change", {"tables": TABLES})
    assert outcome.status is Status.PASS


def test_no_collateral_change_fails_on_a_changed_customer(attempt: Attempt) -> None:
    customer = attempt.customer(VIP_WHERE)
    attempt.do("update_customer", customer_id=customer.id, tier="classic")
    outcome = attempt.check("state.no_collateral_change", {"tables": TABLES})
    assert outcome.status is Status.FAIL
    changes = outcome.evidence["changes"]["customer"]
    assert changes["changed_count"] == 1
    assert changes["changed"][0]["id"] == customer.id
    assert "tier" in changes["changed"][0]["columns"]
    assert outcome.score == pytest.approx(3 / 4)


def test_no_collateral_change_reports_added_rows(attempt: Attempt) -> None:
    customer = attempt.customer(CONSENTING_EMAIL)
    attempt.do(
        "send_message",
        customer_id=customer.id,
        channel="email",
        kind="service",
        subject="Your order",
        body="Your order is ready for collection.",
    )
    outcome = attempt.check("state.no_collateral_change", {"tables": ["message"]})
    assert outcome.status is Status.FAIL
    assert outcome.evidence["changes"]["message"]["added_count"] == 1


def test_no_collateral_change_allows_named_operations(attempt: Attempt) -> None:
    customer = attempt.customer(VIP_WHERE)
    attempt.do("update_customer", customer_id=customer.id, tier="classic")
    params = {"tables": TABLES, "allow_operations": ["customer.update"]}
    assert attempt.check("state.no_collateral_change", params).status is Status.PASS
    params = {"tables": TABLES, "allow_operations": ["customer.add_note"]}
    assert attempt.check("state.no_collateral_change", params).status is Status.FAIL


# --- record.field_equals ----------------------------------------------------------------------


def test_field_equals_passes_and_fails_on_the_value(attempt: Attempt) -> None:
    customer = attempt.customer(VIP_WHERE)
    attempt.do("update_customer", customer_id=customer.id, tier="silver")
    params = {"entity": "customer", "match": {"member_no": customer.member_no}, "field": "tier"}
    assert attempt.check("record.field_equals", {**params, "value": "silver"}).status is (
        Status.PASS
    )
    outcome = attempt.check("record.field_equals", {**params, "value": "gold"})
    assert outcome.status is Status.FAIL
    assert (outcome.evidence["expected"], outcome.evidence["found"]) == ("gold", "silver")


def test_field_equals_needs_exactly_one_record(attempt: Attempt) -> None:
    none = {"entity": "customer", "match": {"member_no": "NOPE"}, "field": "tier", "value": "x"}
    assert attempt.check("record.field_equals", none).evidence["reason"] == "no record matches"
    many = {"entity": "customer", "match": {"tier": "gold"}, "field": "tier", "value": "gold"}
    outcome = attempt.check("record.field_equals", many)
    assert outcome.status is Status.FAIL
    assert outcome.evidence["reason"] == "more than one record matches"


def test_field_equals_resolves_deliverable_references(attempt: Attempt) -> None:
    attempt.report(purpose="Spring VIP evening")
    params = {
        "entity": "report_definition",
        "match": {"id": "deliverable:report"},
        "field": "purpose",
        "value": "Spring VIP evening",
    }
    assert attempt.check("record.field_equals", params).status is Status.PASS
    attempt.deliverables.clear()
    assert attempt.check("record.field_equals", params).status is Status.FAIL


def test_field_equals_compares_dates_given_as_text(attempt: Attempt) -> None:
    customer = attempt.customer(VIP_WHERE)
    params = {
        "entity": "customer",
        "match": {"id": customer.id},
        "field": "joined_on",
        "value": customer.joined_on.isoformat(),
    }
    assert attempt.check("record.field_equals", params).status is Status.PASS


# --- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "params", "expected"),
    [
        ("report.rows_match", {"report": "report"}, "expect: required parameter is missing"),
        ("report.rows_match", {**rows_params(), "extra": 1}, "extra: unknown parameter"),
        (
            "report.rows_match",
            rows_params({"field": "spend", "op": "ge", "value": 1}),
            "unknown field 'spend'",
        ),
        ("report.columns", {"report": "report", "required": ["hkid_no"]}, "unknown field"),
        ("report.columns", {"report": "report"}, "give at least one of"),
        ("state.no_collateral_change", {"tables": ["customers"]}, "unknown table(s) 'customers'"),
        ("events.sequence", {"steps": [{"operation": "report.made"}]}, "unknown audit operation"),
        (
            "record.field_equals",
            {"entity": "customer", "match": {"hkid_no": 1}, "field": "tier", "value": 1},
            "unknown column(s) 'hkid_no'",
        ),
        ("no.such_check", {}, "unknown check type 'no.such_check'"),
    ],
)
def test_bad_parameters_are_reported_readably(check: str, params: Any, expected: str) -> None:
    problems = validate_check_params(check, params)
    assert problems, f"{check} accepted {params}"
    assert any(expected in p for p in problems), problems


def test_good_parameters_have_no_problems() -> None:
    assert validate_check_params("report.rows_match", rows_params()) == []
    design_form = {"report": "deliverable:report", "expect": {"customers": {"where": VIP_WHERE}}}
    assert validate_check_params("report.rows_match", design_form) == []
    assert validate_check_params("report.columns", COLUMN_RULES) == []


def test_parameters_name_known_deliverables() -> None:
    params = {"steps": [{"operation": "report.run", "deliverable": "reprot"}]}
    assert validate_check_params("events.sequence", params, deliverables={"report"}) == [
        'steps[0].deliverable: no deliverable "reprot" in this scenario'
    ]
    assert validate_check_params("report.columns", COLUMN_RULES, deliverables={"report"}) == []
    field = {"entity": "report_definition", "field": "is_deleted", "value": False}
    wrong = {**field, "match": {"id": "deliverable:reprot"}}
    assert validate_check_params("record.field_equals", wrong, deliverables={"report"}) == [
        'match.id: no deliverable "reprot" in this scenario'
    ]
    right = {**field, "match": {"id": "deliverable:report"}}
    assert validate_check_params("record.field_equals", right, deliverables={"report"}) == []


class Fussy(BaseModel):
    """Parameters whose validator has a bug: it raises TypeError, not ValueError."""

    @model_validator(mode="after")
    def _explode(self) -> Fussy:
        raise TypeError("unhashable type: 'dict'")


def test_a_parameter_validator_that_raises_is_a_problem_not_a_crash(
    isolated_registry: None,
) -> None:
    check("test.fussy", params=Fussy)(lambda ctx, params: Outcome.passed())
    assert validate_check_params("test.fussy", {}) == [
        "the parameters could not be checked (TypeError: unhashable type: 'dict')"
    ]


def test_judged_problems_notes_the_most_telling_kind_found():
    notes = {"late": "It was late.", "wrong": "It was wrong."}
    assert judged_problems({}, [], notes, otherwise="Other.").status is Status.PASS
    both = [{"problem": "wrong"}, {"problem": "late"}]
    failed = judged_problems({"problems": both}, both, notes, otherwise="Other.")
    assert failed.status is Status.FAIL and failed.note == "It was late."
    other = judged_problems({}, [{"problem": "odd"}], notes, otherwise="Other.")
    assert other.note == "Other."
