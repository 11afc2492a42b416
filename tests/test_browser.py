"""A trainee's whole attempt in a real browser: headless Chromium against the running app.

The app runs in a thread on 127.0.0.1 with CSRF protection on, a fresh SQLite file and the demo
accounts; the browser signs in, builds the report in the CRM's own builder, shares, runs and
exports it, answers the questions, submits, and reads the result; the assessor then overrides a
check, scores the written answer and decides, and the trainee reads the decision explained.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.axe import assert_accessible
from training_platform import create_app, definitions_store
from training_platform.commands.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from training_platform.commands.demo_server import served_demo
from training_platform.db import get_engine, new_session
from training_platform.models import Role

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 20_000

COLUMNS = ["member_no", "name_en", "email", "tier", "district", "spend_12m"]
FILTERS = [
    ("tier", "in", "gold, platinum"),
    ("status", "eq", "active"),
    ("spend_12m", "ge", "8000"),
    ("dm_email", "in", "given, no_objection"),
    ("email_invalid", "ne", "yes"),  # the brief leaves flagged addresses to the trainee
]
REPORT_NAME = "VIP preview evening – email list"
AMEND_REASON = "On a second reading the export was limited to consenting members."
# What the assessor writes, and the trainee then reads on the result page.
OVERRIDE_REASON = "The export purpose does not say the file is only for the evening's invitations."
RUBRIC_POINTS = {"uses-data": "2", "activity": "1", "privacy": "1"}
RUBRIC_COMMENT = "Good use of the Sha Tin figures from the report."
DECISION_COMMENT = "Tighten the export purpose, then try again."

# The demo path runs on the shipped VIP scenario, the one the demo accounts are for.
VIP_UNIT = "105077L3"


@pytest.fixture
def live_server(tmp_path: Path, sandbox_template_cache: Path) -> Iterator[str]:
    """The app served on a free local port, with demo accounts and the built-in definitions."""
    config = {
        "SECRET_KEY": "browser-test-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'practicum.sqlite'}",
        "SANDBOX_DIR": str(tmp_path / "sandboxes"),
        "TEMPLATE_CACHE_DIR": str(sandbox_template_cache),
        "SANDBOX_VARIANTS": 1,
        "SANDBOX_CLOCK_MODE": "stepped",
        "WTF_CSRF_ENABLED": True,
        # No worker runs beside this server: jobs (grading) run in the request.
        "JOBS_IMMEDIATE": True,
    }
    with served_demo(config) as url:
        yield url


@pytest.fixture
def browser_page(live_server: str):
    """A fresh page in headless Chromium (skipped where Chromium is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # bypass_csp lets the tests inject axe-core into pages whose policy forbids it.
            page = browser.new_page(bypass_csp=True)
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _fill_report_builder(page) -> None:
    """Fill the report builder as the VIP brief asks: name, purpose, columns, filters, sort."""
    page.fill("#name", REPORT_NAME)
    page.fill("#purpose", "Marketing email invitation to the spring VIP preview evening")
    boxes = page.locator("input[name=columns]")
    for index in range(boxes.count()):
        box = boxes.nth(index)
        box.set_checked(box.get_attribute("value") in COLUMNS)
    page.select_option("#match", "all")
    for index, (field, op, value) in enumerate(FILTERS):
        page.select_option(f"select[name='filters-{index}-field']", field)
        page.select_option(f"select[name='filters-{index}-op']", op)
        page.fill(f"input[name='filters-{index}-value']", value)
    page.select_option("#sort_field", "spend_12m")
    page.select_option("#sort_dir", "desc")


def _share_with_marketing(page, report_url: str) -> None:
    """Share the report with Marketing, with the right to export it."""
    share = page.locator("form[action$='/shares']")
    share.locator("select[name=department]").select_option("marketing")
    share.locator("input[name=can_export]").check()
    share.locator("button[type=submit]").click()
    page.wait_for_url(report_url)


def _export_for_marketing(page, report_url: str) -> None:
    """Export the report the approved way: a purpose, the internal drive, encrypted."""
    export = page.locator("form[action$='/exports']")
    export.locator("textarea[name=purpose]").fill(
        "Email invitations to the spring VIP preview evening (Marketing)"
    )
    export.locator("select[name=destination]").select_option("internal_shared_drive")
    export.locator("select[name=for_department]").select_option("marketing")
    export.locator("input[name=encrypted]").check()
    export.locator("button[type=submit]").click()
    page.wait_for_url(report_url)


def _answer_questions(page, activity: str) -> None:
    """Answer the VIP scenario's questions right, with ``activity`` as the written answer."""
    page.check("input[name='answer-q-objective'][value='b']")
    for option in ("a", "b", "d"):
        page.check(f"input[name='answer-q-access'][value='{option}']")
    page.check("input[name='answer-q-sensitivity'][value='b']")
    page.check("input[name='answer-q-pdpo'][value='c']")
    page.check("input[name='answer-q-upgrade'][value='b']")
    page.fill("textarea[name='answer-w-activity']", activity)


def test_a_trainee_completes_the_vip_report_scenario_in_chromium(live_server, browser_page):
    page = browser_page
    email = next(address for role, address, _name in DEMO_ACCOUNTS if role == Role.TRAINEE)

    # Sign in; trainees land on the catalogue.
    page.goto(f"{live_server}/login")
    assert_accessible(page, "sign-in page")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server}/units")
    assert page.locator("h1").inner_text() == "Units of competency"
    assert_accessible(page, "catalogue")

    # The unit, then start the Marketing VIP scenario.
    page.click(f"td a:has-text('{VIP_UNIT}')")
    page.wait_for_url(f"{live_server}/units/{VIP_UNIT}")
    assert_accessible(page, "unit page")
    scenario = page.locator("li.scenario-item", has_text="Monthly VIP report")
    scenario.locator("button:has-text('Start attempt')").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    attempt_url = page.url
    assert "Grace from the" in page.locator("#brief").inner_text()
    assert "{{" not in page.content()
    assert_accessible(page, "attempt page")

    # Open the CRM and build the report exactly as the brief asks.
    page.click("a:has-text('Open the CRM')")
    page.wait_for_url(re.compile(r"/crm/$"))
    assert_accessible(page, "CRM home")
    page.click("nav.sidenav a:has-text('Reports')")
    page.click("a:has-text('New report')")
    assert_accessible(page, "report builder")
    _fill_report_builder(page)
    page.click("button:has-text('Save report')")
    page.wait_for_url(re.compile(r"/crm/reports/\d+$"))
    report_url = page.url
    assert_accessible(page, "report page")

    # Share with Marketing (with export), run it, export it the approved way.
    _share_with_marketing(page, report_url)
    page.click("button:has-text('Run report')")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    assert_accessible(page, "report run")
    page.click("a:has-text('Back to report')")
    page.wait_for_url(report_url)
    _export_for_marketing(page, report_url)
    assert page.locator("a:has-text('Download CSV')").count() == 1

    # Back to the attempt: answer, choose the deliverable, submit.
    page.click("a:has-text('Back to brief')")
    page.wait_for_url(attempt_url)
    _answer_questions(
        page,
        "The report shows many Platinum members in Sha Tin with high spend. Invite those who "
        "agreed to email marketing to a private styling afternoon at the Sha Tin branch.",
    )
    page.click("button:has-text('Save answers')")
    page.wait_for_url(re.compile(r"/attempts/\d+(#questions)?$"))
    assert page.locator(".alert-success", has_text="Your answers are saved.").count() == 1
    page.select_option("#deliverable-report", label=REPORT_NAME)
    page.check("#confirm")
    page.click("button:has-text('Submit attempt')")
    page.wait_for_url(f"{attempt_url}/result")
    assert_accessible(page, "result page")

    # The result: per-PR statuses, pending the assessor's review of the written answer.
    verdict = page.locator("#verdict").inner_text()
    assert "Pending assessor review" in verdict
    assert "not yet competent" not in page.locator("main").inner_text().lower()
    rows = page.locator("#requirements tbody tr")
    assert rows.count() >= 10
    assert page.locator("#pr-2\\.1 .badge", has_text="Demonstrated").count() >= 1
    assert page.locator("#pr-2\\.3 .badge", has_text="Pending review").count() == 1

    # The assessor reviews it: an override with its reason, the rubric scored, the decision.
    attempt_path = attempt_url.removeprefix(live_server)
    evidence_path = attempt_path.replace("/attempts/", "/review/attempts/")
    # The result names the data variant; the assessor's evidence page names the same one.
    variant = page.locator("#variant").inner_text()
    assert re.match(r"Data variant \d+ of \d+", variant)
    # The assessor finds it by filtering the queue (a practice attempt never waits, so: all).
    _switch_user(page, live_server, Role.ASSESSOR, "/review?state=all")
    trainee_name = next(name for r, _email, name in DEMO_ACCOUNTS if r == Role.TRAINEE)
    page.fill("#filter-q", trainee_name)
    page.select_option("#filter-mode", "practice")
    page.click("#queue-filters button:has-text('Filter')")
    page.wait_for_url(re.compile(r"mode=practice"))
    assert_accessible(page, "filtered review queue")
    page.locator(f"a[href='{evidence_path}']").click()
    page.wait_for_url(f"{live_server}{evidence_path}")
    assert variant.split(":")[0] in page.locator("#variant").inner_text()
    assert_accessible(page, "evidence page")
    export_check = page.locator("#check-export")
    export_check.locator("summary:has-text('Override this check')").click()
    export_check.locator("select[name=status]").select_option("fail")
    export_check.locator("textarea[name=reason]").fill(OVERRIDE_REASON)
    export_check.locator("button:has-text('Record override')").click()
    page.locator(".alert-success", has_text="Override recorded").wait_for()
    rubric = page.locator("form[action$='/rubric/w-activity']")
    for criterion, points in RUBRIC_POINTS.items():
        rubric.locator(f"input[name='points-{criterion}']").fill(points)
    rubric.locator("input[name='comment-uses-data']").fill(RUBRIC_COMMENT)
    rubric.locator("button:has-text('Save rubric scores')").click()
    page.locator(".alert-success", has_text="Rubric scores saved").wait_for()
    decision = page.locator("#decision form")
    decision.locator("input[name=decision][value=not_yet_competent]").check()
    decision.locator("textarea[name=comment]").fill(DECISION_COMMENT)
    decision.locator("button:has-text('Record decision')").click()
    page.locator(".alert-success", has_text="Decision recorded").wait_for()

    # The trainee reads the decision explained: the override beside the automatic result, with
    # the assessor's reason, and the rubric points and comments on the written answer.
    _switch_user(page, live_server, Role.TRAINEE, f"{attempt_path}/result")
    verdict = page.locator("#verdict").inner_text()
    assert "Not yet competent" in verdict and DECISION_COMMENT in verdict
    export_row = page.locator("#pr-2\\.2")
    assert export_row.locator("td").nth(2).inner_text().strip() == "Not demonstrated"
    export_text = export_row.inner_text()
    assert "Failed on review:" in export_text and OVERRIDE_REASON in export_text
    assert "Automatic result:" in export_text
    written = page.locator("#pr-2\\.3").inner_text()
    assert "How your assessor scored this answer" in written
    assert RUBRIC_COMMENT in written
    assert re.search(r"Total\s+4 of 5", written)
    assert "Pass mark 2.5 of 5: reached" in written
    assert_accessible(page, "result page with the decision")

    # The assessor amends the decision with a reason; the trainee is told it changed.
    _switch_user(page, live_server, Role.ASSESSOR, evidence_path)
    page.locator("#decision summary:has-text('Amend the decision')").click()
    amend = page.locator("#decision form[action$='/amendments']")
    amend.locator("input[name=decision][value=competent]").check()
    amend.locator("textarea[name=reason]").fill(AMEND_REASON)
    amend.locator("button:has-text('Amend decision')").click()
    page.locator(".alert-success", has_text="Decision amended").wait_for()
    history = page.locator("#decision-history").inner_text()
    assert AMEND_REASON in history and DECISION_COMMENT in history
    assert_accessible(page, "evidence page with the decision history")
    _switch_user(page, live_server, Role.TRAINEE, f"{attempt_path}/result")
    changed = page.locator("#decision-changed").inner_text()
    assert AMEND_REASON in changed
    assert "Competent" in page.locator("#verdict").inner_text()


def _switch_user(page, live_server: str, role: Role, next_path: str) -> None:
    """Sign out, then sign in as the demo account of a role and land on ``next_path``."""
    page.click("button:has-text('Sign out')")
    page.wait_for_url(re.compile(r"/login"))
    email = next(address for r, address, _name in DEMO_ACCOUNTS if r == role)
    page.goto(f"{live_server}/login?next={next_path}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server}{next_path}")


CJK = re.compile(r"[\u4e00-\u9fff]")


def _in_chinese(page, what: str) -> None:
    """The page is served in Traditional Chinese (its language and its text) and passes axe."""
    assert page.locator("html").get_attribute("lang", timeout=TIMEOUT_MS).startswith("zh"), what
    assert CJK.search(page.locator("main").first.inner_text()), what
    assert_accessible(page, what)


def test_a_trainee_completes_the_scenario_in_chinese(live_server, browser_page):
    page = browser_page
    email = next(address for role, address, _name in DEMO_ACCOUNTS if role == Role.TRAINEE)

    # Switch to Chinese with the header switcher before signing in; the choice is kept.
    page.goto(f"{live_server}/login")
    page.click("form.language-switcher button[value=zh_Hant_HK]")
    page.wait_for_url(re.compile(r"/login"))
    _in_chinese(page, "sign-in page in Chinese")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server}/units")
    _in_chinese(page, "catalogue in Chinese")

    page.click(f"td a:has-text('{VIP_UNIT}')")
    page.wait_for_url(f"{live_server}/units/{VIP_UNIT}")
    _in_chinese(page, "unit page in Chinese")
    scenario = page.locator("li.scenario-item", has_text="為市場推廣部編製每月貴賓會員報告")
    scenario.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    attempt_url = page.url
    assert CJK.search(page.locator("#brief").inner_text())
    _in_chinese(page, "attempt page in Chinese")

    # The CRM in Chinese: build, save, share, run and export the report.
    page.click("a[href$='/crm/']")
    page.wait_for_url(re.compile(r"/crm/$"))
    _in_chinese(page, "CRM home in Chinese")
    page.click("nav.sidenav a[href$='/crm/reports']")
    page.click("a[href$='/reports/new']")
    _in_chinese(page, "report builder in Chinese")
    _fill_report_builder(page)
    page.click("button.btn--primary[type=submit]:has-text('儲存')")
    page.wait_for_url(re.compile(r"/crm/reports/\d+$"))
    report_url = page.url
    _in_chinese(page, "report page in Chinese")
    _share_with_marketing(page, report_url)
    page.click("form[action$='/runs'] button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    _in_chinese(page, "report run in Chinese")
    page.click(f"a[href='{report_url.removeprefix(live_server)}']")
    page.wait_for_url(report_url)
    _export_for_marketing(page, report_url)
    _in_chinese(page, "report page after the export in Chinese")

    # Back to the brief: answer, choose the report, submit, read the result.
    page.click("a.trainer-strip__back")
    page.wait_for_url(attempt_url)
    _answer_questions(page, "邀請同意接收電郵推廣的白金會員出席沙田分店的私人造型活動。")
    page.click("form.questions-form button[type=submit]")
    page.wait_for_url(re.compile(r"/attempts/\d+(#questions)?$"))
    assert page.locator(".alert-success").count() == 1
    assert CJK.search(page.locator(".alert-success").inner_text())
    page.select_option("#deliverable-report", label=REPORT_NAME)
    page.check("#confirm")
    page.click("form[action$='/submit'] button[type=submit]")
    page.wait_for_url(f"{attempt_url}/result")
    _in_chinese(page, "result page in Chinese")
    assert CJK.search(page.locator("#verdict").inner_text())
    assert "Pending assessor review" not in page.locator("#verdict").inner_text()
    assert re.search(r"[\u4e00-\u9fff]", page.locator("#pr-2\\.1").inner_text())


def test_a_centre_admin_creates_a_cohort_imports_trainees_and_opens_a_window(
    live_server, browser_page, tmp_path
):
    from datetime import timedelta

    from training_platform.models import utcnow

    # An assessment-mode version of the VIP scenario for the demo centre (none ship).
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "browser-test-secret",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'practicum.sqlite'}",
            "SANDBOX_DIR": str(tmp_path / "sandboxes"),
        }
    )
    session = new_session(app)
    try:
        from training_platform.accounts import get_centre_by_slug
        from training_platform.models import DefinitionKind

        shipped = Path(app.config["DEFINITIONS_ROOT"]) / "scenarios" / VIP_UNIT
        text = (shipped / "marketing-vip-report.yaml").read_text(encoding="utf-8")
        text = text.replace(
            "id: 105077L3-marketing-vip-report", "id: 105077L3-vip-assessment"
        ).replace("mode: practice", "mode: assessment\nmax_attempts: 2")
        result = definitions_store.publish(
            session,
            kind=DefinitionKind.SCENARIO,
            text=text,
            filename="vip-assessment.yaml",
            centre_id=get_centre_by_slug(session, "harbour").id,
            user_id=None,
        )
        assert result.ok, result.problems
        session.commit()
    finally:
        session.close()
        get_engine(app).dispose()

    page = browser_page
    email = next(address for role, address, _name in DEMO_ACCOUNTS if role == Role.CENTRE_ADMIN)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r"/authoring"))

    # A new cohort.
    page.click("nav a:has-text('Cohorts')")
    page.wait_for_url(f"{live_server}/centre/cohorts")
    assert_accessible(page, "cohorts")
    page.fill("input[name=name]", "Evening class 2026")
    page.click("button:has-text('Create cohort')")
    page.wait_for_url(re.compile(r"/centre/cohorts/\d+$"))
    cohort_url = page.url

    # Ten trainees from CSV, into that cohort.
    page.click("nav a:has-text('People')")
    page.click("a:has-text('Import from CSV')")
    page.wait_for_url(f"{live_server}/centre/users/import")
    assert_accessible(page, "import page")
    rows = "".join(
        f"trainee{n}@evening.example.com,Evening Trainee {n},trainee,Evening class 2026\n"
        for n in range(1, 11)
    )
    page.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "evening.csv",
                "mimeType": "text/csv",
                "buffer": ("email,name,role,cohorts\n" + rows).encode(),
            }
        ],
    )
    page.click("button:has-text('Import')")
    page.wait_for_url(f"{live_server}/centre/users")
    assert "10 people were imported" in page.inner_text("body")
    assert_accessible(page, "people")

    # An assessment window, typed in Hong Kong time.
    page.goto(cohort_url)
    assert page.locator("#people tbody tr").count() == 10
    hk = utcnow() + timedelta(hours=8)
    page.select_option("select[name=scenario]", "105077L3-vip-assessment")
    page.fill("input[name=opens_at]", (hk - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=closes_at]", (hk + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=max_attempts]", "2")
    page.click("button:has-text('Open the window')")
    page.wait_for_url(re.compile(r"/centre/cohorts/\d+"))
    assert "The assessment window is saved." in page.inner_text("body")
    assert page.locator("#windows tbody tr").count() == 1
    assert_accessible(page, "cohort page")


def _start_as_demo_trainee(page, live_server: str, unit: str, scenario_title: str) -> str:
    """Sign in as the demo trainee and start a scenario of a unit; the attempt page's URL."""
    email = next(address for role, address, _name in DEMO_ACCOUNTS if role == Role.TRAINEE)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server}/units")
    page.goto(f"{live_server}/units/{unit}")
    # The title as the item begins with it: an assessment's title may name the same task.
    title = re.compile(r"^\s*" + re.escape(scenario_title))
    scenario = page.locator("li.scenario-item", has_text=title)
    scenario.locator("button:has-text('Start attempt')").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    return page.url


def _answer_as_the_reference(page, scenario_file: str) -> None:
    """Tick the scenario's reference answers on the attempt page (the questions change as the
    scenario's doing takes over from its knowledge items)."""
    definition = yaml.safe_load((SCENARIOS / scenario_file).read_text(encoding="utf-8"))
    for question, answer in definition["reference_answers"].items():
        for option in answer if isinstance(answer, list) else [answer]:
            page.check(f"input[name='answer-{question}'][value='{option}']")


JEWELLERY_UNIT = "108970L3"
BRIDAL_CAMPAIGN = "Autumn Bridal Collection"
BRIDAL_REPORT = "Bridal campaign responders by district, age band and tier"


def test_a_trainee_sends_the_bridal_campaign_in_the_jewellery_crm(live_server, browser_page):
    """The jewellery unit end to end: plan, screen and send a campaign, then report on it."""
    page = browser_page
    attempt_url = _start_as_demo_trainee(
        page, live_server, JEWELLERY_UNIT, "Wedding-season campaign"
    )
    assert BRIDAL_CAMPAIGN in page.locator("#brief").inner_text()

    # The draft campaign: complete its plan, screen its audience as it stands today, send it.
    page.click("a:has-text('Open the CRM')")
    page.wait_for_url(re.compile(r"/crm/$"))
    page.click("nav.sidenav a:has-text('Campaigns')")
    assert_accessible(page, "campaign list")
    page.click(f"main a:has-text('{BRIDAL_CAMPAIGN}')")
    page.wait_for_url(re.compile(r"/crm/campaigns/\d+$"))
    campaign_url = page.url
    assert_accessible(page, "campaign page")
    page.click("a:has-text('Edit plan')")
    page.fill("#objective", "Bridal jewellery sales in the autumn wedding season")
    page.fill("#budget_hkd", "8000")
    page.fill("#marketing_class", "jewellery and watch offers")
    assert_accessible(page, "campaign plan")
    page.click("button:has-text('Save campaign')")
    page.wait_for_url(campaign_url)
    page.click("button:has-text('Screen against consent and opt-outs')")
    page.wait_for_url(campaign_url)
    page.fill("#subject", "Our Autumn Bridal Collection")
    page.fill(
        "#body",
        "Discover our bridal rings and wedding gold sets. To stop receiving promotions, "
        "click Unsubscribe (free of charge).",
    )
    page.check("#has_opt_out_notice")
    page.click("button:has-text('Send campaign')")
    page.wait_for_url(campaign_url)
    page.click("button:has-text('Collect results')")
    page.wait_for_url(campaign_url)
    assert_accessible(page, "campaign page with results")

    # The distribution report on the campaign's recipients: no names, no contact details.
    page.click("nav.sidenav a:has-text('Reports')")
    page.click("a:has-text('New report')")
    page.click(".source-switch a:has-text('Campaign recipients')")
    page.wait_for_url(re.compile(r"source=campaign_recipients"))
    page.fill("#name", BRIDAL_REPORT)
    page.fill("#purpose", "Planning the bridal fairs from the campaign's responses")
    boxes = page.locator("input[name=columns]")
    for index in range(boxes.count()):
        box = boxes.nth(index)
        box.set_checked(box.get_attribute("value") in ("district", "age_band", "tier", "response"))
    page.select_option("#match", "all")
    for index, (field, op, value) in enumerate(
        [("campaign", "eq", BRIDAL_CAMPAIGN), ("response", "in", "opened, clicked, purchased")]
    ):
        page.select_option(f"select[name='filters-{index}-field']", field)
        page.select_option(f"select[name='filters-{index}-op']", op)
        page.fill(f"input[name='filters-{index}-value']", value)
    page.click("button:has-text('Save report')")
    page.wait_for_url(re.compile(r"/crm/reports/\d+$"))
    report_url = page.url
    share = page.locator("form[action$='/shares']")
    share.locator("select[name=department]").select_option("marketing")
    share.locator("input[name=can_export]").check()  # "we will export it ourselves"
    share.locator("button[type=submit]").click()
    page.wait_for_url(report_url)
    page.click("button:has-text('Run report')")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    output = page.locator("main").inner_text()
    assert "@" not in output  # no e-mail address reaches Marketing's report

    # Answer, choose the deliverables, submit; every requirement is shown as demonstrated.
    page.goto(attempt_url)
    _answer_as_the_reference(page, "108970L3/wedding-campaign.yaml")
    page.click("button:has-text('Save answers')")
    page.wait_for_url(re.compile(r"/attempts/\d+(#questions)?$"))
    page.select_option("#deliverable-campaign", label=BRIDAL_CAMPAIGN)
    page.select_option("#deliverable-report", label=BRIDAL_REPORT)
    page.check("#confirm")
    page.click("button:has-text('Submit attempt')")
    page.wait_for_url(f"{attempt_url}/result")
    assert_accessible(page, "jewellery result page")
    assert "Competent (recommended)" in page.locator("#verdict").inner_text()
    statuses = page.locator("#requirements tbody tr td:nth-child(3)").all_inner_texts()
    assert statuses and all(text.strip() == "Demonstrated" for text in statuses), statuses


ONLINE_UNIT = "107186L4"


def test_a_trainee_brings_the_eshop_customers_into_the_crm(live_server, browser_page):
    """The online-information unit end to end: run the sync and decide every account by its
    candidate matches, as a careful trainee would: merge only where the e-mail and the mobile
    both agree, create where nobody resembles the account, and leave the rest for review."""
    page = browser_page
    attempt_url = _start_as_demo_trainee(
        page, live_server, ONLINE_UNIT, "Bring the e-shop's customers"
    )

    page.click("a:has-text('Open the CRM')")
    page.wait_for_url(re.compile(r"/crm/$"))
    page.click("nav.sidenav a:has-text('E-shop import')")
    list_url = page.url
    page.click("button:has-text('Run the sync')")
    page.wait_for_url(re.compile(r"/crm/eshop"))
    assert_accessible(page, "e-shop import")
    accounts = [
        link.get_attribute("href")
        for link in page.locator("main table a[href*='/crm/eshop/']").all()
        if "#" not in (link.inner_text() or "")
    ]
    assert accounts
    decided = {"merge": 0, "create": 0, "review": 0}
    for href in accounts:
        page.goto(f"{live_server}{href}")
        rows = page.locator("section:has(h2:has-text('Candidate matches')) tbody tr")
        if rows.count() == 0:
            page.click("button:has-text('Create a new customer')")
            decided["create"] += 1
        elif all(
            reason in rows.first.inner_text()
            for reason in ("same e-mail address", "same mobile number")
        ):
            page.check("input[name=consents][value=all]")
            page.click("button:has-text('Merge into the customer')")
            decided["merge"] += 1
        else:
            page.fill("#review-reason", "Not enough to be sure it is the same person: confirm")
            page.click("button:has-text('Leave for review')")
            decided["review"] += 1
        page.wait_for_url(re.compile(r"/crm/eshop"))
    assert all(decided.values()), decided
    page.goto(list_url)
    assert_accessible(page, "e-shop import with its log")
    log = page.locator("section:has(h2:has-text('Import log')) tbody tr")
    assert log.count() == len(accounts)

    page.goto(attempt_url)
    _answer_as_the_reference(page, "107186L4/eshop-import.yaml")
    page.click("button:has-text('Save answers')")
    page.wait_for_url(re.compile(r"/attempts/\d+(#questions)?$"))
    page.check("#confirm")
    page.click("button:has-text('Submit attempt')")
    page.wait_for_url(f"{attempt_url}/result")
    assert "Competent (recommended)" in page.locator("#verdict").inner_text()
    statuses = page.locator("#requirements tbody tr td:nth-child(3)").all_inner_texts()
    assert statuses and all(text.strip() == "Demonstrated" for text in statuses), statuses
