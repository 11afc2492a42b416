"""The assessor's review: the queue, the evidence, overrides, rubric scores and the decision."""

from __future__ import annotations

import hashlib
import re

import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from graders import runner
from graders.engine import GRADER_VERSION
from sandbox_crm.models import AuditEvent, ReportRun
from tests.platform_fixtures import UNIT_CODE, copy_attempt, reference_answers
from training_platform import (
    attempts_service,
    definitions_store,
    results_service,
    review_service,
    sandboxes,
)
from training_platform.models import (
    Attempt,
    AttemptStatus,
    Centre,
    Decision,
    DefinitionVersion,
    Review,
    Role,
    RubricScore,
    User,
    VerdictOverride,
)
from training_platform.templating import humanise

WRITTEN = "w-proposal"
GOOD_REASON = "The export was checked by hand against the audit log."
FULL_MARKS = {"points-uses-data": "2", "points-activity": "2", "points-privacy": "1"}


def _reload(db_session: Session, attempt: Attempt) -> Attempt:
    db_session.expire_all()
    return db_session.get(Attempt, attempt.id)


def _count(db_session: Session, model: type) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model)) or 0


def _sandbox_digest(app: Flask, attempt: Attempt) -> str:
    return hashlib.sha256(
        sandboxes.get_store(app).path(attempt.sandbox_key).read_bytes()
    ).hexdigest()


def _submit(app: Flask, db_session: Session, attempt: Attempt, steps, answers: dict) -> Attempt:
    """Do steps in the attempt's sandbox as its trainee, answer, hand in (graded on submit)."""
    with sandboxes.get_store(app).session(attempt.sandbox_key) as sandbox:
        outcome = runner.apply_steps(sandbox, steps)
    with app.app_context():
        attempts_service.save_answers(db_session, attempt, answers)
        attempts_service.submit_attempt(db_session, attempt, outcome.deliverables)
        attempts_service.grade_attempt_record(db_session, attempt)
    db_session.commit()
    return attempt


@pytest.fixture
def breaching_attempt(
    sandbox_settings: Flask, db_session: Session, other_trainee: User, practice_scenario
) -> Attempt:
    """Another trainee's attempt that puts identity card numbers and notes in the report."""
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, other_trainee, practice_scenario)
    db_session.commit()
    scenario = definitions_store.scenario_of(attempt)
    counterexample = next(c for c in scenario.counterexamples if "identity card" in c.name)
    answers = reference_answers(attempt)
    answers[WRITTEN] = "<script>alert('x')</script> Invite <b>Sha Tin</b> members\nsecond line"
    return _submit(sandbox_settings, db_session, attempt, counterexample.steps, answers)


@pytest.fixture
def other_centre(db_session: Session) -> Centre:
    """A second training centre."""
    centre = Centre(slug="sha-tin-test", name="Sha Tin Test Centre")
    db_session.add(centre)
    db_session.commit()
    return centre


# --- the queue ---------------------------------------------------------------------------------


def test_queue_lists_only_graded_attempts_of_the_assessors_centre(
    client_as, assessor, graded_attempt, make_user, other_centre, db_session
):
    outsider = make_user(Role.TRAINEE, centre=other_centre, display_name="Outside Trainee")
    copy_attempt(db_session, graded_attempt, outsider, AttemptStatus.GRADED)
    neighbour = make_user(Role.TRAINEE, display_name="Still Working")
    copy_attempt(db_session, graded_attempt, neighbour, AttemptStatus.IN_PROGRESS)

    page = client_as(assessor).get("/review?state=all")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'href="/review/attempts/{graded_attempt.id}"' in html
    assert "Chan Siu Ming" in html
    assert "Gold members for an email invitation" in html and "v1" in html
    assert UNIT_CODE in html
    # A practice attempt is listed but never waits for a decision.
    assert "Pending review" in html and "Practice: no decision due" in html
    assert "Outside Trainee" not in html
    assert "Still Working" not in html
    awaiting = client_as(assessor).get("/review").get_data(as_text=True)
    assert f'href="/review/attempts/{graded_attempt.id}"' not in awaiting


def test_queue_filters_by_decision_and_sorts_by_trainee(
    client_as, assessor, graded_assessment, make_user, db_session
):
    graded_attempt = graded_assessment
    zed = make_user(Role.TRAINEE, display_name="Zed Decided")
    copy_attempt(db_session, graded_attempt, zed, AttemptStatus.DECIDED)
    amy = make_user(Role.TRAINEE, display_name="Amy Waiting")
    copy_attempt(db_session, graded_attempt, amy, AttemptStatus.GRADED)
    client = client_as(assessor)

    awaiting = client.get("/review").get_data(as_text=True)
    assert "Amy Waiting" in awaiting and "Zed Decided" not in awaiting
    decided = client.get("/review?state=decided").get_data(as_text=True)
    assert "Zed Decided" in decided and "Amy Waiting" not in decided
    everyone = client.get("/review?state=all&sort=trainee&dir=asc").get_data(as_text=True)
    names = ["Amy Waiting", "Chan Siu Ming", "Zed Decided"]
    assert [everyone.index(n) for n in names] == sorted(everyone.index(n) for n in names)
    backwards = client.get("/review?state=all&sort=trainee&dir=desc").get_data(as_text=True)
    assert backwards.index("Zed Decided") < backwards.index("Amy Waiting")


def test_queue_is_paginated(client_as, assessor, graded_assessment, make_user, db_session):
    graded_attempt = graded_assessment
    for _ in range(26):
        copy_attempt(db_session, graded_attempt, make_user(Role.TRAINEE), AttemptStatus.GRADED)
    client = client_as(assessor)
    first = client.get("/review").get_data(as_text=True)
    assert "27 attempts · page 1 of 2" in first
    second = client.get("/review?page=2").get_data(as_text=True)
    assert second.count('href="/review/attempts/') == 2


# --- the evidence page -------------------------------------------------------------------------


def test_evidence_page_shows_checks_with_expected_and_found_values_and_the_timeline(
    client_as, assessor, graded_attempt, db_session
):
    html = client_as(assessor).get(f"/review/attempts/{graded_attempt.id}").get_data(as_text=True)
    version = db_session.get(DefinitionVersion, graded_attempt.scenario_version_id)
    # Header.
    assert "Chan Siu Ming" in html
    assert f"version {version.version}" in html and version.content_hash[:12] in html
    assert f"grader {GRADER_VERSION}" in html
    # A PR with its text, the check's trainee-safe message, and the assessor's evidence.
    assert "Select the customers a department asks for" in html
    assert 'id="check-rows"' in html
    assert "The report returns exactly the members Marketing asked for." in html
    expected = re.search(r"Expected count</th>\s*<td>(\d+)</td>", html)
    found = re.search(r"Found count</th>\s*<td>(\d+)</td>", html)
    assert expected and found and expected.group(1) == found.group(1)
    assert 'Missing <span class="count">(0)</span>' in html
    # A check that evidences two PRs is shown in full under the first; the second links to it.
    assert html.count('id="check-rows"') == 1
    later = html.split('id="pr-2.1"')[1].split('id="pr-2.2"')[0]
    assert 'id="check-rows"' not in later
    assert '<a href="#check-rows">check rows</a> (pass)' in later
    # Choice items: the trainee's answer and the right one.
    assert "trainee's answer</span>" in html and 'tag-pass">correct' in html
    # Written item with its rubric, the scoring form and the assessor's guidance.
    assert f'action="/review/attempts/{graded_attempt.id}/rubric/{WRITTEN}"' in html
    assert 'name="points-uses-data"' in html and 'max="2"' in html
    assert "A good answer picks a group from the report" in html
    # The trainee's actions in the frozen sandbox, with who did them and what changed.
    for operation in ("report.create", "report.share", "report.run", "report.export"):
        assert f'<td class="mono">{operation}</td>' in html
    assert re.search(r'<tr id="event-\d+"', html)
    assert '</span> → <span class="after">' in html
    assert f'href="/attempts/{graded_attempt.id}/crm/"' in html
    assert "No PDPO rule was breached." in html


def test_timeline_shows_a_refused_action_with_its_message(
    client_as, assessor, sandbox_settings, db_session, started_attempt
):
    scenario = definitions_store.scenario_of(started_attempt)
    steps = list(scenario.reference_solution)
    steps.insert(2, steps[1])  # shares with Marketing twice: the CRM refuses the second
    answers = reference_answers(started_attempt)
    _submit(sandbox_settings, db_session, started_attempt, steps, answers)
    page = client_as(assessor).get(f"/review/attempts/{started_attempt.id}")
    html = page.get_data(as_text=True)
    refused = '<span class="badge badge-fail">refused</span> <span class="mono">report.share</span>'
    assert refused in html
    assert "The report is already shared with Marketing (view and export)." in html
    assert html.count('<td class="mono">report.share</td>') == 1


def test_timeline_changes_are_short_text_and_leave_out_empty_fields_of_a_new_record():
    changed = review_service.field_changes(
        {"tier": "gold", "tags": ["vip"], "notes": None, "gone": 1},
        {"tier": "platinum", "tags": [], "notes": "x" * 200, "opted_out": True},
    )
    assert [(c.field, c.before, c.after) for c in changed] == [
        ("gone", "1", "—"),
        ("tier", "gold", "platinum"),
        ("tags", "vip", "none"),
        ("notes", "—", "x" * 79 + "…"),
        ("opted_out", "—", "yes"),
    ]
    created = review_service.field_changes(None, {"name": "VIP list", "filters": [], "note": ""})
    assert [(c.field, c.before, c.after) for c in created] == [("name", "—", "VIP list")]


def test_evidence_page_shows_pdpo_findings_with_legal_basis_linked_to_the_timeline(
    client_as, assessor, breaching_attempt, db_session
):
    html = (
        client_as(assessor).get(f"/review/attempts/{breaching_attempt.id}").get_data(as_text=True)
    )
    automatic = results_service.automatic_result(db_session, breaching_attempt)
    breached = [r for r in automatic.pdpo if r.status.value == "fail"]
    assert {"COL-07", "SEC-02"} <= {r.rule_id for r in breached}
    for rule in breached:
        block = html.split(f'id="rule-{rule.rule_id}"')[1].split("</article>")[0]
        assert rule.title in block
        assert f"<strong>Legal basis:</strong> {rule.basis}" in block
        assert f">{humanise(rule.severity.value)}</span>" in block
        for finding in rule.findings:
            assert escape(finding.message) in block
            for event_id in finding.event_ids:
                assert f'href="#event-{event_id}"' in block
                assert f'<tr id="event-{event_id}" class="has-finding">' in html
    assert "Rules not applicable (" in html


def test_a_requirement_names_the_serious_pdpo_breaches_that_count_against_it(
    client_as, assessor, breaching_attempt, db_session
):
    html = (
        client_as(assessor).get(f"/review/attempts/{breaching_attempt.id}").get_data(as_text=True)
    )
    automatic = results_service.automatic_result(db_session, breaching_attempt)
    requirement = automatic.requirement("2.1")
    assert requirement.status.value == "not_demonstrated"
    assert {"COL-07", "SEC-02"} <= set(requirement.rule_ids)
    block = html.split('id="pr-2.1"')[1].split('id="pr-')[0]
    for rule_id in requirement.rule_ids:
        assert f'href="#rule-{rule_id}">{rule_id}</a>' in block
    assert "Counts against this requirement" not in html.split('id="pr-1.1"')[1].split('id="pr-')[0]


def test_trainees_text_is_escaped_on_the_evidence_page(client_as, assessor, breaching_attempt):
    html = (
        client_as(assessor).get(f"/review/attempts/{breaching_attempt.id}").get_data(as_text=True)
    )
    assert "<script>alert" not in html and "<b>Sha Tin</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;Sha Tin&lt;/b&gt; members\nsecond line" in html  # line break kept (pre-wrap)


def test_an_attempt_not_yet_graded_or_of_another_centre_is_not_found(
    client_as, assessor, make_user, other_centre, graded_attempt, db_session
):
    client = client_as(assessor)
    working = copy_attempt(
        db_session, graded_attempt, make_user(Role.TRAINEE), AttemptStatus.SUBMITTED
    )
    assert client.get(f"/review/attempts/{working.id}").status_code == 404
    assert client.get("/review/attempts/999999").status_code == 404
    stranger = make_user(Role.ASSESSOR, centre=other_centre)
    foreign = client_as(stranger)
    assert foreign.get(f"/review/attempts/{graded_attempt.id}").status_code == 404
    posted = foreign.post(
        f"/review/attempts/{graded_attempt.id}/decision", data={"decision": "competent"}
    )
    assert posted.status_code == 404


# --- overrides ---------------------------------------------------------------------------------


def test_an_override_needs_a_reason_keeps_the_automatic_status_and_changes_the_verdict(
    client_as, assessor, graded_attempt, db_session
):
    client = client_as(assessor)
    url = f"/review/attempts/{graded_attempt.id}/overrides"
    stored_before = dict(graded_attempt.grades[-1].result)

    short = client.post(url, data={"target": "check:rows", "status": "fail", "reason": "wrong"})
    assert short.status_code == 400
    assert "Give the reason for overriding the check" in short.get_data(as_text=True)
    assert _count(db_session, VerdictOverride) == 0

    done = client.post(url, data={"target": "check:rows", "status": "fail", "reason": GOOD_REASON})
    assert done.status_code == 302 and done.headers["Location"].endswith("#check-rows")
    row = db_session.scalars(select(VerdictOverride)).one()
    assert (row.target_kind.value, row.target_id) == ("check", "rows")
    assert (row.automatic_status, row.status, row.reason) == ("pass", "fail", GOOD_REASON)

    attempt = _reload(db_session, graded_attempt)
    assert attempt.grades[-1].result == stored_before  # the automatic result is never modified
    effective = results_service.effective_result(db_session, attempt)
    assert effective.check("rows").status.value == "pass"  # kept as the automatic status
    assert effective.overridden["check:rows"].automatic == "pass"
    assert effective.requirement("2.1").status.value == "not_demonstrated"
    assert effective.verdict.value == "not_yet_competent"

    html = client.get(f"/review/attempts/{graded_attempt.id}").get_data(as_text=True)
    assert "assessor override · automatic:" in html
    assert GOOD_REASON in html


def test_each_override_keeps_the_assessor_who_recorded_it(
    client_as, assessor, make_user, graded_attempt, db_session
):
    colleague = make_user(Role.ASSESSOR, display_name="Wong Ka Ho")
    url = f"/review/attempts/{graded_attempt.id}/overrides"
    first = {"target": "check:rows", "status": "fail", "reason": GOOD_REASON}
    assert client_as(assessor).post(url, data=first).status_code == 302
    second = {"target": "check:rows", "status": "pass", "reason": "Rechecked with the trainee."}
    assert client_as(colleague).post(url, data=second).status_code == 302

    db_session.expire_all()
    rows = db_session.scalars(select(VerdictOverride).order_by(VerdictOverride.id)).all()
    assert [row.created_by_id for row in rows] == [assessor.id, colleague.id]
    html = client_as(assessor).get(f"/review/attempts/{graded_attempt.id}").get_data(as_text=True)
    history = html.split('id="overrides"')[1].split("</section>")[0]
    cells = re.findall(r"<tr>\s*<td[^>]*>[^<]*</td>\s*<td>([^<]*)</td>", history)
    assert cells == ["Ho Wing Sze", "Wong Ka Ho"]


def test_overrides_reject_unknown_targets_and_statuses(
    client_as, assessor, graded_attempt, db_session
):
    client = client_as(assessor)
    url = f"/review/attempts/{graded_attempt.id}/overrides"
    cases = [
        ({"target": "check:nope", "status": "pass"}, 'There is no check "nope"'),
        ({"target": "check:rows", "status": "maybe"}, '"maybe" is not a status for a check'),
        ({"target": "check:rows", "status": "pass"}, 'The check "rows" is already "pass"'),
        ({"target": "pdpo:DM-06", "status": "demonstrated"}, "not a status for a PDPO rule"),
        ({"target": "bogus:rows", "status": "pass"}, "is not a check, question, PDPO rule or PR"),
    ]
    for data, message in cases:
        response = client.post(url, data={**data, "reason": GOOD_REASON})
        assert response.status_code == 400, data
        assert message.replace('"', "&#34;") in response.get_data(as_text=True), data
    assert _count(db_session, VerdictOverride) == 0


def test_a_pdpo_rule_and_a_requirement_can_be_overridden(
    client_as, assessor, breaching_attempt, db_session
):
    client = client_as(assessor)
    url = f"/review/attempts/{breaching_attempt.id}/overrides"
    ok = client.post(
        url, data={"target": "pdpo:COL-07", "status": "not_applicable", "reason": GOOD_REASON}
    )
    assert ok.status_code == 302
    ok = client.post(
        url, data={"target": "requirement:2.2", "status": "demonstrated", "reason": GOOD_REASON}
    )
    assert ok.status_code == 302
    attempt = _reload(db_session, breaching_attempt)
    effective = results_service.effective_result(db_session, attempt)
    assert effective.overridden["pdpo:COL-07"].automatic == "fail"
    assert effective.overridden["pdpo:COL-07"].status == "not_applicable"
    assert effective.requirement("2.2").status.value == "demonstrated"


# --- rubric ------------------------------------------------------------------------------------


def test_rubric_scores_must_be_in_range_and_complete(
    client_as, assessor, graded_attempt, db_session
):
    client = client_as(assessor)
    url = f"/review/attempts/{graded_attempt.id}/rubric/{WRITTEN}"
    too_many = client.post(url, data={**FULL_MARKS, "points-uses-data": "3"})
    assert too_many.status_code == 400
    assert "must be between 0 and 2; got 3" in too_many.get_data(as_text=True)
    negative = client.post(url, data={**FULL_MARKS, "points-privacy": "-1"})
    assert "must be between 0 and 1; got -1" in negative.get_data(as_text=True)
    missing = client.post(url, data={"points-uses-data": "2"})
    assert "Score the criterion" in missing.get_data(as_text=True)
    words = client.post(url, data={**FULL_MARKS, "points-activity": "two"})
    assert "must be a whole number" in words.get_data(as_text=True)
    assert (
        client.post(f"/review/attempts/{graded_attempt.id}/rubric/q-consent", data={}).status_code
        == 400
    )
    assert _count(db_session, RubricScore) == 0

    saved = client.post(url, data={**FULL_MARKS, "comment-activity": "Clear <target> group"})
    assert saved.status_code == 302
    assert _count(db_session, RubricScore) == 3
    attempt = _reload(db_session, graded_attempt)
    effective = results_service.effective_result(db_session, attempt)
    assert effective.item(WRITTEN).status.value == "pass"
    assert effective.verdict.value == "competent"
    html = client.get(f"/review/attempts/{graded_attempt.id}").get_data(as_text=True)
    assert "scored 5 of 5" in html and "Clear &lt;target&gt; group" in html

    # Rescoring replaces the points rather than adding rows.
    client.post(url, data={**FULL_MARKS, "points-uses-data": "0", "points-activity": "1"})
    assert _count(db_session, RubricScore) == 3
    effective = results_service.effective_result(db_session, _reload(db_session, attempt))
    assert effective.item(WRITTEN).status.value == "fail"


# --- the decision ------------------------------------------------------------------------------


def test_the_decision_waits_for_the_rubric_then_is_recorded_and_final(
    client_as, assessor, trainee, graded_attempt, db_session
):
    client = client_as(assessor)
    base = f"/review/attempts/{graded_attempt.id}"
    early = client.post(f"{base}/decision", data={"decision": "competent", "comment": ""})
    assert early.status_code == 400
    assert "score the written question" in early.get_data(as_text=True)

    client.post(f"{base}/rubric/{WRITTEN}", data=FULL_MARKS)
    bad = client.post(f"{base}/decision", data={"decision": "brilliant"})
    assert bad.status_code == 400
    decided = client.post(
        f"{base}/decision", data={"decision": "competent", "comment": "Well <done>, Siu Ming."}
    )
    assert decided.status_code == 302

    attempt = _reload(db_session, graded_attempt)
    assert attempt.status == AttemptStatus.DECIDED
    review = db_session.scalars(select(Review)).one()
    assert review.decision == Decision.COMPETENT and review.assessor_id == assessor.id
    assert review.decided_at is not None and review.comment == "Well <done>, Siu Ming."

    again = client.post(
        f"{base}/decision", data={"decision": "not_yet_competent", "comment": "x" * 20}
    )
    assert again.status_code == 400 and "already been decided" in again.get_data(as_text=True)
    late = client.post(
        f"{base}/overrides", data={"target": "check:rows", "status": "fail", "reason": GOOD_REASON}
    )
    assert late.status_code == 400
    assert _reload(db_session, attempt).review.decision == Decision.COMPETENT

    page = client.get(base).get_data(as_text=True)
    decision_section = page.split('id="decision"')[1].split("</section>")[0]
    assert f'action="{base}/decision"' not in decision_section
    assert f'action="{base}/amendments"' in decision_section  # the decider may amend it
    decided_queue = client.get("/review?state=decided").get_data(as_text=True)
    assert f'href="{base}"' in decided_queue

    result = client_as(trainee).get(f"/attempts/{graded_attempt.id}/result").get_data(as_text=True)
    assert "Assessor's decision" in result
    assert "Well &lt;done&gt;, Siu Ming." in result


def test_a_decision_against_the_recommendation_needs_a_reason(
    client_as, assessor, graded_attempt, db_session
):
    client = client_as(assessor)
    base = f"/review/attempts/{graded_attempt.id}"
    client.post(f"{base}/rubric/{WRITTEN}", data=FULL_MARKS)
    refused = client.post(
        f"{base}/decision", data={"decision": "not_yet_competent", "comment": "no"}
    )
    assert refused.status_code == 400
    assert "differs from the recommendation" in refused.get_data(as_text=True)
    assert _reload(db_session, graded_attempt).status == AttemptStatus.GRADED
    accepted = client.post(
        f"{base}/decision",
        data={
            "decision": "not_yet_competent",
            "comment": "The proposal ignores the consent rules.",
        },
    )
    assert accepted.status_code == 302
    assert _reload(db_session, graded_attempt).review.decision == Decision.NOT_YET_COMPETENT


# --- the evidence cannot change ----------------------------------------------------------------


def test_nothing_an_assessor_posts_changes_the_sandbox(
    client_as, assessor, graded_attempt, sandbox_settings, db_session
):
    digest = _sandbox_digest(sandbox_settings, graded_attempt)
    store = sandboxes.get_store(sandbox_settings)
    with store.session(graded_attempt.sandbox_key, read_only=True) as sandbox:
        runs = sandbox.scalar(select(func.count(ReportRun.id)))
        events = sandbox.scalar(select(func.count(AuditEvent.id)))
    report_id = graded_attempt.deliverables["report"]
    client = client_as(assessor)
    base = f"/review/attempts/{graded_attempt.id}"

    client.post(
        f"{base}/overrides", data={"target": "check:rows", "status": "fail", "reason": GOOD_REASON}
    )
    client.post(f"{base}/rubric/{WRITTEN}", data=FULL_MARKS)
    # The frozen CRM is read-only for the assessor: a run of the trainee's report is refused.
    refused = client.post(
        f"/attempts/{graded_attempt.id}/crm/reports/{report_id}/runs", follow_redirects=True
    )
    assert "read-only" in refused.get_data(as_text=True)
    client.post(f"{base}/decision", data={"decision": "not_yet_competent", "comment": GOOD_REASON})

    assert _sandbox_digest(sandbox_settings, graded_attempt) == digest
    with store.session(graded_attempt.sandbox_key, read_only=True) as sandbox:
        assert sandbox.scalar(select(func.count(ReportRun.id))) == runs
        assert sandbox.scalar(select(func.count(AuditEvent.id))) == events


# --- who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["trainee", "centre_admin", "anonymous"])
def test_only_assessors_may_post_review_forms(
    role, client, client_as, make_user, graded_attempt, db_session
):
    browser = client if role == "anonymous" else client_as(make_user(Role(role)))
    base = f"/review/attempts/{graded_attempt.id}"
    posts = {
        f"{base}/overrides": {"target": "check:rows", "status": "fail", "reason": GOOD_REASON},
        f"{base}/rubric/{WRITTEN}": FULL_MARKS,
        f"{base}/decision": {"decision": "competent", "comment": GOOD_REASON},
    }
    for url, data in posts.items():
        response = browser.post(url, data=data)
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        else:
            assert response.status_code == 403, url
    assert _count(db_session, Review) == 0
    assert _reload(db_session, graded_attempt).status == AttemptStatus.GRADED


@pytest.mark.parametrize(
    ("role", "expected"),
    [("trainee", 403), ("anonymous", 302), ("assessor", 200), ("centre_admin", 200)],
)
def test_who_may_open_the_review_pages(
    role, expected, client, client_as, make_user, graded_attempt
):
    browser = client if role == "anonymous" else client_as(make_user(Role(role)))
    for url in ("/review", f"/review/attempts/{graded_attempt.id}"):
        assert browser.get(url).status_code == expected, url


def test_centre_admins_read_the_evidence_without_forms(client_as, centre_admin, graded_attempt):
    html = (
        client_as(centre_admin).get(f"/review/attempts/{graded_attempt.id}").get_data(as_text=True)
    )
    assert "Expected count" in html
    assert "/overrides" not in html and "/decision" not in html and "/rubric/" not in html
    assert "Awaiting an assessor" in html


def test_the_trainee_cannot_open_their_own_review(client_as, trainee, graded_attempt):
    assert client_as(trainee).get(f"/review/attempts/{graded_attempt.id}").status_code == 403


def test_assessors_land_on_the_queue(client_as, assessor):
    response = client_as(assessor).get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/review")


def test_review_forms_need_the_csrf_token(app, client_as, assessor, graded_attempt, db_session):
    client = client_as(assessor)
    app.config["WTF_CSRF_ENABLED"] = True
    base = f"/review/attempts/{graded_attempt.id}"
    html = client.get(base).get_data(as_text=True)
    forms = re.findall(r'<form method="post".*?</form>', html, re.S)
    assert len(forms) > 10
    assert all('name="csrf_token"' in form for form in forms)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    data = {"target": "check:rows", "status": "fail", "reason": GOOD_REASON}
    assert client.post(f"{base}/overrides", data=data).status_code == 400
    assert _count(db_session, VerdictOverride) == 0
    assert client.post(f"{base}/overrides", data={**data, "csrf_token": token}).status_code == 302
    assert _count(db_session, VerdictOverride) == 1
