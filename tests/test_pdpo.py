"""The PDPO rulebook: every rule of ../shared/PDPO.md is registered as written there; each rule the
sandbox can observe fails on a violating attempt and passes on a compliant one; the others say
why they are not applicable; defects already in the generated data are not the trainee's."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from graders.definitions.models import Scenario
from graders.engine import run_rule
from graders.pdpo.direct_marketing import promotional_keywords
from graders.registry import PDPO_RULES, load_builtin
from graders.results import Severity, Status
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.hkid import format_hkid
from sandbox_crm.models import (
    ConsentRecord,
    ContactPoint,
    Customer,
    Department,
    Message,
    SandboxMeta,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.graders_helpers import Attempt


RULEBOOK = Path(__file__).parents[2] / "shared" / "PDPO.md"
_ROW = re.compile(r"^\|\s*([A-Z]+-[0-9]{2})\s*\|([^|]*)\|[^|]*\|\s*([a-z]+)\s*\|\s*$")

IMPLEMENTED = {
    "ACC-01",
    "DM-01",
    "DM-02",
    "DM-03",
    "DM-04",
    "DM-05",
    "DM-06",
    "DM-07",
    "DM-08",
    "COL-01",
    "COL-02",
    "COL-03",
    "COL-04",
    "COL-05",
    "COL-07",
    "COL-08",
    "SEC-01",
    "SEC-02",
    "SEC-03",
    "SEC-04",
    "RET-02",
}

VALID_HKID = format_hkid("A", "123456")  # A123456(3)
OTHER_HKID = format_hkid("K", "654321")
WRONG_CHECK_DIGIT = "A123456(4)"

OPT_OUT_LINE = "Reply STOP to opt out of our marketing messages, free of charge."


def rulebook() -> dict[str, tuple[str, str]]:
    """Rule id -> (basis, severity), read from the rulebook's table."""
    rules = {}
    for line in RULEBOOK.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            rules[match.group(1)] = (match.group(2).strip(), match.group(3))
    return rules


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    """The small sandbox with the planted defects the rules must not blame on the trainee."""
    return GenerationSpec(
        profile="retail",
        seed=4207,
        customers=150,
        today=date(2026, 3, 16),
        plants=(
            PlantSpec.of("opted_out_in_segment", 3),
            PlantSpec.of("hkid_in_notes", 3),
            PlantSpec.of("hkid_on_member", 3),
        ),
    )


def planted(attempt: Attempt, kind: str) -> list[int]:
    """Customer ids of a planted situation."""
    row = attempt.session.get(SandboxMeta, "plants")
    return json.loads(row.value)[kind] if row is not None else []


def dm(channel: str, *statuses: str) -> dict[str, Any]:
    """Condition: direct-marketing consent on a channel is one of the statuses."""
    return {"field": f"dm_{channel}", "op": "in", "value": list(statuses)}


NEVER_OPTED_OUT = {
    "not": {"any": [dm(ch, "withdrawn") for ch in ("email", "sms", "phone", "post")]}
}


def with_email(*conditions: dict[str, Any]) -> dict[str, Any]:
    """Customers who have an email address, never opted out, and meet the conditions."""
    return {"all": [{"field": "email", "op": "not_null"}, NEVER_OPTED_OUT, *conditions]}


def never_marketed(attempt: Attempt, where: dict[str, Any]) -> Customer:
    """A customer matching ``where`` who has never been sent a promotional message."""
    marketed = set(
        attempt.session.scalars(select(Message.customer_id).where(Message.kind == "promotional"))
    )
    ids = [i for i in attempt.customer_ids(where) if i not in marketed]
    assert ids, f"every customer matching {where} has had marketing"
    return attempt.session.get(Customer, ids[0])


def send(attempt: Attempt, customer_id: int, **args: Any) -> Any:
    """Send a message (a promotional email with an opt-out notice unless args say otherwise)."""
    args.setdefault("channel", "email")
    args.setdefault("kind", "promotional")
    args.setdefault("subject", "Spring VIP preview")
    args.setdefault("body", f"Join our spring preview evening. {OPT_OUT_LINE}")
    args.setdefault("has_opt_out_notice", True)
    return attempt.do("send_message", customer_id=customer_id, **args)


def consent(
    attempt: Attempt, customer_id: int, channel: str, status: str, method: str = "written_form"
) -> Any:
    """Record a direct-marketing consent record in the attempt (on a written form by default)."""
    return attempt.do(
        "record_consent",
        customer_id=customer_id,
        purpose="direct_marketing",
        channel=channel,
        status=status,
        method=method,
    )


def assert_fails(attempt: Attempt, rule_id: str, *fragments: str) -> Any:
    result = attempt.rule(rule_id)
    assert result.status is Status.FAIL, result.reason
    assert result.findings, "a failing rule must say what it found"
    text = " ".join(f.message for f in result.findings)
    for fragment in fragments:
        assert fragment in text, text
    for finding in result.findings:
        assert finding.rule_id == rule_id
        assert finding.basis == rulebook()[rule_id][0]
        assert finding.records, "a finding points at the records involved"
    return result


def assert_passes(attempt: Attempt, rule_id: str) -> None:
    result = attempt.rule(rule_id)
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.reason


# --- the rulebook ---------------------------------------------------------------------------


def test_the_rulebook_table_is_read() -> None:
    assert len(rulebook()) >= 30
    assert rulebook()["DM-06"] == ("s35G", "critical")


def test_every_rule_of_the_rulebook_is_registered_and_nothing_else() -> None:
    load_builtin()
    registered = {rule.rule_id for _, rule in PDPO_RULES.items()}
    assert registered == set(rulebook())
    assert all(name == f"pdpo.{rule.rule_id}" for name, rule in PDPO_RULES.items())


@pytest.mark.parametrize("rule_id", sorted(rulebook()))
def test_rule_basis_and_severity_are_those_of_the_rulebook(rule_id: str) -> None:
    load_builtin()
    rule = PDPO_RULES.get(f"pdpo.{rule_id}")
    assert (rule.basis, rule.severity) == (rulebook()[rule_id][0], Severity(rulebook()[rule_id][1]))
    assert rule.title and rule.description


def test_rules_not_observable_yet_are_not_applicable_with_a_reason(attempt: Attempt) -> None:
    unobservable = sorted(set(rulebook()) - IMPLEMENTED)
    reasons = set()
    for rule_id in unobservable:
        result = attempt.rule(rule_id)
        assert result.status is Status.NOT_APPLICABLE, rule_id
        assert len(result.reason) > 20 and result.reason.endswith("."), rule_id
        assert not result.findings
        reasons.add(result.reason)
    assert len(reasons) > len(unobservable) // 2, "reasons should be specific, not one stock text"


def test_untouched_attempt_has_no_findings_despite_planted_defects(attempt: Attempt) -> None:
    # The template holds opted-out customers in the VIP segment, HKIDs in notes and HKIDs on
    # membership-only customers: the generator's defects, not the trainee's.
    assert planted(attempt, "hkid_in_notes") and planted(attempt, "hkid_on_member")
    for rule_id in sorted(IMPLEMENTED):
        assert_passes(attempt, rule_id)


# --- DM-01 (s35E) ---------------------------------------------------------------------------


def test_dm_01_promotion_without_consent(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "not_asked")))
    message = send(attempt, customer.id)
    result = assert_fails(
        attempt, "DM-01", customer.member_no, "consent status at the time: not_asked"
    )
    assert ("message", message.id) in result.findings[0].records
    assert result.findings[0].event_ids, "the finding points at the message.send event"


def test_dm_01_promotion_with_consent(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "given")))
    send(attempt, customer.id)
    assert_passes(attempt, "DM-01")


def test_dm_01_consent_must_be_on_the_messages_channel(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "given"), dm("sms", "not_asked")))
    consent(attempt, customer.id, "sms", "given")
    send(attempt, customer.id)  # email: consented
    assert_passes(attempt, "DM-01")
    other = attempt.customer(
        with_email(dm("email", "not_asked"), {"field": "mobile", "op": "not_null"})
    )
    consent(attempt, other.id, "sms", "given")
    send(attempt, other.id)  # email, but only SMS was consented
    assert_fails(attempt, "DM-01", other.member_no)


def test_dm_01_consent_recorded_before_the_send_counts_and_after_does_not(attempt: Attempt) -> None:
    first, second = (attempt.customer(with_email(dm("email", "not_asked")), i) for i in (0, 1))
    consent(attempt, first.id, "email", "given")
    send(attempt, first.id)
    send(attempt, second.id)
    consent(attempt, second.id, "email", "given")
    result = assert_fails(attempt, "DM-01", second.member_no)
    assert len(result.findings) == 1


# --- DM-04 (s35E(1)(b)) --------------------------------------------------------------------


def latest_email_consent(attempt: Attempt, customer_id: int) -> ConsentRecord:
    """The customer's latest direct-marketing consent record for email."""
    return attempt.session.scalars(
        select(ConsentRecord)
        .where(
            ConsentRecord.customer_id == customer_id,
            ConsentRecord.purpose == "direct_marketing",
            ConsentRecord.channel == "email",
        )
        .order_by(ConsentRecord.captured_at.desc(), ConsentRecord.id.desc())
    ).first()


def given_orally(attempt: Attempt, confirmed_after: int | None) -> Customer:
    """A customer whose email consent, before the attempt, was given orally and confirmed in
    writing ``confirmed_after`` days later (None: never confirmed)."""
    customer = attempt.customer(with_email(dm("email", "given")))
    record = latest_email_consent(attempt, customer.id)
    record.method = "oral"
    record.confirmed_in_writing_at = (
        None if confirmed_after is None else record.captured_at + timedelta(days=confirmed_after)
    )
    attempt.rebase()
    return customer


@pytest.mark.parametrize(
    ("confirmed_after", "fragment"),
    [
        (3, None),
        (14, None),
        (20, "confirmed in writing only on"),
        (None, "before it was confirmed in writing"),
    ],
)
def test_dm_04_marketing_on_an_oral_consent(
    attempt: Attempt, confirmed_after: int | None, fragment: str | None
) -> None:
    customer = given_orally(attempt, confirmed_after)
    send(attempt, customer.id)
    assert_passes(attempt, "DM-01")  # there is a consent: the question is whether it may be used
    if fragment is None:
        assert_passes(attempt, "DM-04")
    else:
        assert_fails(attempt, "DM-04", customer.member_no, "given orally", fragment)


def test_dm_04_oral_consent_taken_in_the_attempt_cannot_be_used_yet(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "not_asked")))
    consent(attempt, customer.id, "email", "given", method="oral")
    send(attempt, customer.id)
    assert_passes(attempt, "DM-01")
    assert_fails(attempt, "DM-04", customer.member_no, "before it was confirmed in writing")


def test_dm_04_an_earlier_written_consent_still_covers_the_message(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "not_asked")))
    consent(attempt, customer.id, "email", "given")  # written
    consent(attempt, customer.id, "email", "given", method="oral")
    send(attempt, customer.id)
    assert_passes(attempt, "DM-04")


def test_dm_04_a_withdrawal_ends_the_written_consent_that_covered_the_message(
    attempt: Attempt,
) -> None:
    customer = attempt.customer(with_email(dm("email", "not_asked")))
    consent(attempt, customer.id, "email", "given")  # written
    consent(attempt, customer.id, "email", "withdrawn")
    consent(attempt, customer.id, "email", "given", method="oral")
    send(attempt, customer.id)
    assert_fails(attempt, "DM-04", customer.member_no)


# --- DM-05 (s35F) ---------------------------------------------------------------------------


@pytest.mark.parametrize("notice", [True, False])
def test_dm_05_first_promotion_carries_an_opt_out_notice(attempt: Attempt, notice: bool) -> None:
    customer = never_marketed(attempt, with_email(dm("email", "given")))
    send(attempt, customer.id, has_opt_out_notice=notice, body="Join our spring preview.")
    if notice:
        assert_passes(attempt, "DM-05")
    else:
        assert_fails(attempt, "DM-05", customer.member_no, "opt out")


def test_dm_05_only_the_first_message_needs_the_notice(attempt: Attempt) -> None:
    customer = never_marketed(attempt, with_email(dm("email", "given")))
    send(attempt, customer.id)
    send(attempt, customer.id, has_opt_out_notice=False)
    assert_passes(attempt, "DM-05")


def test_dm_05_counts_messages_sent_before_the_attempt(attempt: Attempt) -> None:
    customer = never_marketed(attempt, with_email(dm("email", "given")))
    send(attempt, customer.id)
    attempt.rebase()  # that message was sent before the attempt
    send(attempt, customer.id, has_opt_out_notice=False)
    assert_passes(attempt, "DM-05")


# --- DM-06 (s35G) ---------------------------------------------------------------------------


def test_dm_06_opt_out_on_one_channel_covers_every_channel(attempt: Attempt) -> None:
    customer = attempt.customer(
        with_email(dm("email", "given"), {"field": "mobile", "op": "not_null"})
    )
    consent(attempt, customer.id, "sms", "withdrawn")
    send(attempt, customer.id)  # by email, still consented on email
    assert_passes(attempt, "DM-01")
    assert_fails(attempt, "DM-06", customer.member_no, "opted out of direct marketing by sms")


def test_dm_06_planted_opt_out_before_the_attempt(attempt: Attempt) -> None:
    customer_id = planted(attempt, "opted_out_in_segment")[0]
    send(attempt, customer_id)
    member_no = attempt.session.get(Customer, customer_id).member_no
    assert_fails(attempt, "DM-06", member_no)


def test_dm_06_new_consent_after_the_opt_out_is_respected(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "given")))
    consent(attempt, customer.id, "email", "withdrawn")
    consent(attempt, customer.id, "email", "given")
    send(attempt, customer.id)
    assert_passes(attempt, "DM-06")


def test_dm_06_opt_out_after_the_send_is_not_a_breach(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "given")))
    send(attempt, customer.id)
    consent(attempt, customer.id, "email", "withdrawn")
    assert_passes(attempt, "DM-06")


def test_dm_06_consent_renewed_in_the_attempt_after_an_earlier_opt_out(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "given")))
    consent(attempt, customer.id, "email", "withdrawn")  # flags the email address opted out
    attempt.rebase()  # the opt-out was before the attempt
    consent(attempt, customer.id, "email", "given")  # the customer opts in again, in writing
    send(attempt, customer.id)
    assert_passes(attempt, "DM-01")
    assert_passes(attempt, "DM-06")


def test_dm_06_a_consent_on_another_channel_does_not_renew_an_opted_out_address(
    attempt: Attempt,
) -> None:
    customer = attempt.customer(with_email(dm("email", "given"), dm("sms", "not_asked")))
    contact = next(c for c in customer.contact_points if c.kind == "email")
    attempt.session.get(ContactPoint, contact.id).opted_out = True
    attempt.rebase()
    consent(attempt, customer.id, "sms", "given")
    send(attempt, customer.id)  # by email
    assert_fails(attempt, "DM-06", "opted out of before the attempt")


def test_dm_06_address_opted_out_before_the_attempt(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "given")))
    contact = next(c for c in customer.contact_points if c.kind == "email")
    attempt.session.get(ContactPoint, contact.id).opted_out = True
    attempt.rebase()
    send(attempt, customer.id)
    assert_fails(attempt, "DM-06", "opted out of before the attempt")


# --- DM-08 (s35A) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("A special offer for you", ["offer"]),
        ("Members' DISCOUNT this week", ["discount"]),
        ("Our spring sale starts Friday", ["sale"]),
        ("This promotion ends soon", ["promotion"]),
        ("Enjoy 20% off", ["% off"]),
        ("See the new collection", ["new collection"]),
        ("會員優惠", ["優惠"]),
        ("全場八折", ["折"]),
        ("Your repair is ready; we offered a loan unit", []),
        ("Wholesale enquiries: see the salesperson", []),
    ],
)
def test_promotional_keywords(text: str, found: list[str]) -> None:
    assert promotional_keywords(text) == found


@pytest.mark.parametrize(
    ("body", "passes"),
    [
        ("Your repair is ready for collection at our Sha Tin branch.", True),
        ("Your repair is ready. Enjoy 20% off our new collection when you collect it!", False),
    ],
)
def test_dm_08_service_message_to_a_non_consenting_customer(
    attempt: Attempt, body: str, passes: bool
) -> None:
    customer = attempt.customer(with_email(dm("email", "not_asked")))
    send(attempt, customer.id, kind="service", subject="Your repair", body=body)
    if passes:
        assert_passes(attempt, "DM-08")
    else:
        assert_fails(attempt, "DM-08", customer.member_no, "% off", "new collection")
    assert_passes(attempt, "DM-01")  # a service message is not judged as direct marketing


def test_dm_08_promotional_wording_to_a_consenting_customer_is_not_a_dm_08_breach(
    attempt: Attempt,
) -> None:
    customer = attempt.customer(with_email(dm("email", "given")))
    send(attempt, customer.id, kind="service", body="Your order is ready; 10% off next time.")
    assert_passes(attempt, "DM-08")


# --- COL-04 (DPP1(1); ID Code 2.3) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("hkid", "basis", "passes"),
    [
        (VALID_HKID, None, False),
        ("A123", None, False),  # a partial HKID is an identifier too
        (VALID_HKID, "AML due diligence for order SO-2026-00042 (HK$150,000)", True),
    ],
)
def test_col_04_hkid_stored_in_the_attempt(
    attempt: Attempt, hkid: str, basis: str | None, passes: bool
) -> None:
    # No operation edits HKIDs yet: the state is changed directly, as a future operation would.
    customer = attempt.customer(with_email())
    customer.hkid, customer.hkid_basis = hkid, basis
    if passes:
        assert_passes(attempt, "COL-04")
    else:
        assert_fails(attempt, "COL-04", customer.member_no, "no recorded basis")


def test_col_04_removing_the_basis_of_an_existing_hkid_is_the_trainees_act(
    attempt: Attempt,
) -> None:
    customer = attempt.customer(with_email())
    customer.hkid, customer.hkid_basis = VALID_HKID, "Warranty claim for a watch repair"
    attempt.rebase()
    attempt.session.get(Customer, customer.id).hkid_basis = ""
    assert_fails(attempt, "COL-04", customer.member_no)


# --- COL-07 (DPP1(1), DPP4; ID Code 2.7) ----------------------------------------------------


@pytest.mark.parametrize(("hkid", "passes"), [(VALID_HKID, False), (WRONG_CHECK_DIGIT, True)])
def test_col_07_hkid_written_into_a_note(attempt: Attempt, hkid: str, passes: bool) -> None:
    customer = attempt.customer(with_email())
    attempt.do("add_customer_note", customer_id=customer.id, text=f"Showed ID card {hkid}")
    if passes:
        assert_passes(attempt, "COL-07")
    else:
        result = assert_fails(attempt, "COL-07", "notes of customer", "A1*")
        assert VALID_HKID not in result.findings[0].message, "findings must not spread the HKID"


def test_col_07_hkid_typed_into_a_name(attempt: Attempt) -> None:
    customer = attempt.customer(with_email())
    name = f"{customer.name_en} {VALID_HKID}"
    attempt.do("update_customer", customer_id=customer.id, name_en=name)
    assert_fails(attempt, "COL-07", f"name en of customer #{customer.id}")


def test_col_07_editing_a_note_that_already_held_an_hkid(attempt: Attempt) -> None:
    customer = attempt.session.get(Customer, planted(attempt, "hkid_in_notes")[0])
    attempt.do("update_customer", customer_id=customer.id, notes=customer.notes + " Called back.")
    assert_passes(attempt, "COL-07")
    attempt.do("update_customer", customer_id=customer.id, notes=customer.notes + f" {OTHER_HKID}")
    assert_fails(attempt, "COL-07", "1 HKID number")


def test_col_07_hkid_in_a_message(attempt: Attempt) -> None:
    customer = attempt.customer(with_email(dm("email", "given")))
    send(attempt, customer.id, kind="service", body=f"We have your ID {VALID_HKID} on file.")
    assert_fails(attempt, "COL-07", "body of message")


def test_col_07_report_run_and_export_with_the_hkid_column(attempt: Attempt) -> None:
    report = attempt.report(
        columns=["member_no", "hkid"], filters={"field": "hkid", "op": "not_null"}
    )
    attempt.do("run_report", report_id=report.id)
    result = assert_fails(attempt, "COL-07", "Report run", "includes the HKID column")
    attempt.export(report.id)
    result = assert_fails(attempt, "COL-07", "Export", "includes the HKID column")
    assert len(result.findings) == 2


def test_col_07_hkids_in_exported_notes(attempt: Attempt) -> None:
    noted = planted(attempt, "hkid_in_notes")
    report = attempt.report(
        columns=["member_no", "notes"],
        filters={"field": "customer_id", "op": "in", "value": noted},
    )
    attempt.export(report.id)
    assert_fails(attempt, "COL-07", "Export", "HKID number")


def test_col_07_report_without_hkids(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("run_report", report_id=report.id)
    attempt.export(report.id)
    assert_passes(attempt, "COL-07")


# --- COL-08 (ID Code 2.8) -------------------------------------------------------------------


@pytest.mark.parametrize(("member_no", "passes"), [("M00123456", False), ("M00000999", True)])
def test_col_08_member_number_derived_from_hkid(
    attempt: Attempt, member_no: str, passes: bool
) -> None:
    customer = attempt.customer(with_email())
    customer.hkid, customer.hkid_basis = VALID_HKID, "Warranty claim for a watch repair"
    customer.member_no = member_no
    if passes:
        assert_passes(attempt, "COL-08")
    else:
        assert_fails(attempt, "COL-08", f"customer #{customer.id}")


# --- SEC-01 (DPP4(1)) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "department", "passes"),
    [
        (["member_no", "name_en", "date_of_birth"], "marketing", False),
        (["member_no", "hkid"], "marketing", False),
        (["member_no", "name_en", "date_of_birth"], "finance", True),
        (["member_no", "name_en", "birth_month"], "marketing", True),
    ],
)
def test_sec_01_report_shared_with_marketing(
    attempt: Attempt, columns: list[str], department: str, passes: bool
) -> None:
    report = attempt.report(columns=columns)
    attempt.do("share_report", report_id=report.id, department=department)
    if passes:
        assert_passes(attempt, "SEC-01")
    else:
        assert_fails(attempt, "SEC-01", f"Report #{report.id}", "marketing")


def test_sec_01_columns_added_after_sharing(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.do("share_report", report_id=report.id, department="marketing")
    assert_passes(attempt, "SEC-01")
    attempt.do("update_report", report_id=report.id, columns=["member_no", "date_of_birth"])
    assert_fails(attempt, "SEC-01", "date_of_birth")


def test_sec_01_export_for_marketing(attempt: Attempt) -> None:
    report = attempt.report(columns=["member_no", "date_of_birth"])
    attempt.export(report.id)
    assert_fails(attempt, "SEC-01", "Export", "date_of_birth")


@pytest.mark.parametrize(
    ("department", "columns", "passes"),
    [
        ("marketing", ["member_no", "name_en", "date_of_birth"], False),
        ("marketing", ["member_no", "name_en", "birth_month"], True),
        ("customer_service", ["member_no", "name_en", "date_of_birth"], True),
    ],
)
def test_sec_01_report_run_by_a_member_of_marketing(
    attempt: Attempt, department: str, columns: list[str], passes: bool
) -> None:
    code = attempt.session.scalar(select(Department.id).where(Department.code == department))
    attempt.actor.department_id = code
    attempt.rebase()  # the trainee works in that department
    report = attempt.report(columns=columns, deliverable=None)
    attempt.do("run_report", report_id=report.id)
    if passes:
        assert_passes(attempt, "SEC-01")
    else:
        assert_fails(attempt, "SEC-01", "Report run #", "marketing department", "date_of_birth")


# --- SEC-02 (DPP4, DPP3) --------------------------------------------------------------------


def test_sec_02_each_failing_aspect_is_its_own_finding(attempt: Attempt) -> None:
    report = attempt.report(columns=["member_no", "email", "hkid"])
    attempt.export(report.id, purpose="", destination="personal_email", encrypted=False)
    result = assert_fails(
        attempt,
        "SEC-02",
        "no purpose recorded",
        "personal_email is not an approved internal destination",
        "not encrypted",
        "not minimised",
    )
    assert len(result.findings) == 4


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"purpose": "VIP"}, "too vague"),
        ({"destination": "usb_drive"}, "usb_drive"),
        ({"encrypted": False}, "not encrypted"),
    ],
)
def test_sec_02_one_aspect(attempt: Attempt, changes: dict[str, Any], fragment: str) -> None:
    report = attempt.report()
    attempt.export(report.id, **changes)
    result = assert_fails(attempt, "SEC-02", fragment)
    assert len(result.findings) == 1


def test_sec_02_safe_export(attempt: Attempt) -> None:
    report = attempt.report()
    attempt.export(report.id)
    assert_passes(attempt, "SEC-02")


def test_sec_02_a_safe_export_does_not_hide_a_whole_table_one(attempt: Attempt) -> None:
    attempt.export(attempt.report().id)
    everyone = attempt.report(
        None, name="Everyone", columns=["member_no", "hkid", "date_of_birth"], filters=None
    )
    leak = attempt.export(everyone.id)
    result = assert_fails(attempt, "SEC-02", "not minimised", "hkid", "date_of_birth")
    assert [f.records[0] for f in result.findings] == [("report_export", leak.id)]
    assert_fails(attempt, "SEC-01", f"Export #{leak.id} for the marketing department")


def test_sec_02_export_without_personal_data_is_out_of_scope(attempt: Attempt) -> None:
    report = attempt.report(columns=["tier", "district", "spend_12m"])
    attempt.export(report.id, purpose="", encrypted=False)
    result = attempt.rule("SEC-02")
    assert result.status is Status.PASS
    assert "0 exports of personal data" in result.reason


# --- SEC-04 (s64) ---------------------------------------------------------------------------


def unplanted(attempt: Attempt, count: int) -> list[int]:
    """Ids of customers no planted situation is about, nor any VIP: unrelated to a VIP report."""
    raw = attempt.session.get(SandboxMeta, "plants")
    planted_ids = {i for ids in json.loads(raw.value).values() for i in ids} if raw else set()
    vips = set(attempt.customer_ids(VIP_LIST))
    ids = [
        i
        for i in attempt.session.scalars(select(Customer.id).order_by(Customer.id))
        if i not in planted_ids and i not in vips
    ]
    assert len(ids) >= count
    return ids[:count]


VIP_LIST = {
    "all": [
        {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "status", "op": "eq", "value": "active"},
    ]
}


def browse(attempt: Attempt, customer_ids: list[int]) -> None:
    for customer_id in customer_ids:
        attempt.do("view_customer", customer_id=customer_id)


QUESTION = {
    "id": "q1",
    "kind": "single_choice",
    "requirements": ["1.1"],
    "prompt": "Why keep a CRM?",
    "options": [{"id": "a", "text": "To know customers"}, {"id": "b", "text": "To sell lists"}],
    "answer": "a",
    "feedback": {"pass": "Right.", "fail": "Not quite."},
}


@pytest.fixture
def sec_04_with(attempt: Attempt, scenario_factory: Callable[..., Scenario]) -> Callable[..., Any]:
    """SEC-04's result on the attempt, given the scenario's settings of it (pdpo.rules)."""

    def run(**settings: Any) -> Any:
        load_builtin()
        data = scenario_factory(items=[QUESTION]).model_dump(by_alias=True)
        scenario = Scenario.model_validate({**data, "pdpo": {"rules": {"SEC-04": settings}}})
        return run_rule(attempt.context(scenario=scenario), PDPO_RULES.get("pdpo.SEC-04"))

    return run


def test_sec_04_browsing_dozens_of_unrelated_records(attempt: Attempt) -> None:
    browsed = unplanted(attempt, 25)
    browse(attempt, browsed)
    result = assert_fails(attempt, "SEC-04", "25 customer records unrelated to the task")
    (finding,) = result.findings
    assert finding.severity is Severity.CRITICAL
    assert sorted(i for _, i in finding.records) == sorted(browsed)
    assert len(finding.event_ids) == 25
    assert "and 5 more" in finding.message  # member numbers listed, then counted


def test_sec_04_checking_a_few_records_is_fine(attempt: Attempt) -> None:
    browse(attempt, unplanted(attempt, 5))
    assert_passes(attempt, "SEC-04")


def test_sec_04_opening_the_same_record_again_is_one_look_up(attempt: Attempt) -> None:
    browse(attempt, unplanted(attempt, 1) * 30)
    assert_passes(attempt, "SEC-04")


def test_sec_04_records_in_the_reports_output_are_related(attempt: Attempt) -> None:
    report = attempt.report(filters=VIP_LIST)
    attempt.do("run_report", report_id=report.id)
    members = attempt.customer_ids(VIP_LIST)
    assert len(members) > 20
    browse(attempt, members)
    assert_passes(attempt, "SEC-04")


def test_sec_04_a_report_run_after_browsing_still_relates_its_rows(attempt: Attempt) -> None:
    members = attempt.customer_ids(VIP_LIST)
    browse(attempt, members)
    assert attempt.rule("SEC-04").status is Status.FAIL
    attempt.do("run_report", report_id=attempt.report(filters=VIP_LIST).id)
    assert_passes(attempt, "SEC-04")


def test_sec_04_records_changed_in_the_attempt_are_related(attempt: Attempt) -> None:
    browsed = unplanted(attempt, 22)
    browse(attempt, browsed)
    for customer_id in browsed[:2]:
        attempt.do("add_customer_note", customer_id=customer_id, text="Called back as promised.")
    assert_passes(attempt, "SEC-04")


def test_sec_04_planted_situations_are_related(attempt: Attempt) -> None:
    kinds = ("opted_out_in_segment", "hkid_in_notes", "hkid_on_member")
    browse(attempt, [i for kind in kinds for i in planted(attempt, kind)])
    browse(attempt, unplanted(attempt, 20))
    assert_passes(attempt, "SEC-04")


@pytest.mark.parametrize(("limit", "passes"), [(5, False), (6, True), (40, True)])
def test_sec_04_the_scenario_sets_how_many_look_ups_are_allowed(
    attempt: Attempt, sec_04_with: Callable[..., Any], limit: int, passes: bool
) -> None:
    browse(attempt, unplanted(attempt, 6))
    result = sec_04_with(max_unrelated_lookups=limit)
    assert result.status is (Status.PASS if passes else Status.FAIL)
    assert f"{limit} allowed" in result.reason


def test_sec_04_a_raised_limit_passes_what_the_default_flags(
    attempt: Attempt, sec_04_with: Callable[..., Any]
) -> None:
    browse(attempt, unplanted(attempt, 25))
    assert sec_04_with().status is Status.FAIL
    assert sec_04_with(max_unrelated_lookups=30).status is Status.PASS


def test_sec_04_invalid_settings_are_an_error_not_a_pass(
    sec_04_with: Callable[..., Any],
) -> None:
    result = sec_04_with(max_unrelated_lookups=-1)
    assert result.status is Status.ERROR
    assert "max_unrelated_lookups" in result.reason


@pytest.mark.parametrize(
    ("destination", "passes"),
    [
        ("personal_email", False),
        ("external_party", False),
        ("usb_drive", True),  # unsafe (SEC-02) but still in the company's hands
        ("internal_email", True),
    ],
)
def test_sec_04_data_sent_outside_the_company(
    attempt: Attempt, destination: str, passes: bool
) -> None:
    report = attempt.report()
    attempt.export(report.id, destination=destination)
    if passes:
        assert_passes(attempt, "SEC-04")
    else:
        assert_fails(attempt, "SEC-04", "sent outside the company", destination)


def test_sec_04_export_with_no_business_reason(attempt: Attempt) -> None:
    task = attempt.report()
    attempt.export(task.id, purpose="")  # the task's file: a purpose is missing (SEC-02)
    assert_passes(attempt, "SEC-04")
    other = attempt.report(None, name="Everyone", filters=None)
    attempt.export(other.id, purpose="")
    assert_fails(attempt, "SEC-04", "not part of the task", "no business reason")


def test_sec_04_the_scenarios_report_deliverable_is_the_task(
    attempt: Attempt, sec_04_with: Callable[..., Any]
) -> None:
    attempt.export(attempt.report().id, purpose="")
    assert sec_04_with().status is Status.PASS
    attempt.export(attempt.report("other", name="Everyone", filters=None).id, purpose="")
    # "other" is no deliverable of the scenario, so its file has no business reason.
    result = sec_04_with()
    assert result.status is Status.FAIL
    assert "not part of the task" in result.findings[0].message


def test_sec_04_export_without_personal_data_is_out_of_scope(attempt: Attempt) -> None:
    report = attempt.report(None, name="Tiers", columns=["tier", "district"], filters=None)
    attempt.export(report.id, purpose="", destination="personal_email")
    assert_passes(attempt, "SEC-04")


# --- ACC-01 (DPP2(1)(b)) --------------------------------------------------------------------


def email_of(customer: Customer) -> ContactPoint:
    """The email contact point a message to the customer goes to."""
    return next(c for c in customer.contact_points if c.kind == "email")


def flag_invalid(attempt: Attempt, contact: ContactPoint, invalid: bool = True) -> None:
    attempt.do("update_contact_point", contact_point_id=contact.id, is_invalid=invalid)


def service_email(attempt: Attempt, customer_id: int) -> Any:
    return send(attempt, customer_id, kind="service", body="Your repair is ready for collection.")


def test_acc_01_message_to_an_address_flagged_invalid(attempt: Attempt) -> None:
    customer = attempt.customer(with_email({"field": "email_invalid", "op": "eq", "value": False}))
    flag_invalid(attempt, email_of(customer))
    message = service_email(attempt, customer.id)
    result = assert_fails(attempt, "ACC-01", customer.member_no, "flagged invalid")
    assert ("contact_point", email_of(customer).id) in result.findings[0].records
    assert ("message", message.id) in result.findings[0].records


def test_acc_01_address_flagged_before_the_attempt(attempt: Attempt) -> None:
    customer = attempt.customer(with_email({"field": "email_invalid", "op": "eq", "value": True}))
    service_email(attempt, customer.id)
    assert_fails(attempt, "ACC-01", customer.member_no)


@pytest.mark.parametrize("fix", ["correct the address", "clear the flag"])
def test_acc_01_a_corrected_address_may_be_used(attempt: Attempt, fix: str) -> None:
    customer = attempt.customer(with_email({"field": "email_invalid", "op": "eq", "value": True}))
    contact = email_of(customer)
    if fix == "correct the address":
        attempt.do("update_contact_point", contact_point_id=contact.id, value="chan.tm@example.hk")
    else:
        flag_invalid(attempt, contact, invalid=False)
    service_email(attempt, customer.id)
    assert_passes(attempt, "ACC-01")


def test_acc_01_flagging_the_address_after_the_message(attempt: Attempt) -> None:
    customer = attempt.customer(with_email({"field": "email_invalid", "op": "eq", "value": False}))
    service_email(attempt, customer.id)
    flag_invalid(attempt, email_of(customer))
    result = attempt.rule("ACC-01")
    assert result.status is Status.PASS
    assert "1 message sent in the attempt" in result.reason
