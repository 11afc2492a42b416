"""Accessibility in a real browser: axe-core on the pages beyond the trainee path, the keyboard,
form errors tied to their fields, and the CRM on a phone.

The trainee path itself is checked page by page in tests/test_browser.py.
"""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
from pathlib import Path

import pytest

from tests import test_browser
from tests.axe import assert_accessible
from training_platform.commands.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from training_platform.models import Role

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = test_browser.CHROMIUM
VIP_UNIT = test_browser.VIP_UNIT
# The same live server and browser page as the trainee-path browser test.
live_server = test_browser.live_server
browser_page = test_browser.browser_page
TAB_LIMIT = 400


def _sign_in(page, live_server: str, role: Role) -> None:
    email = next(address for r, address, _name in DEMO_ACCOUNTS if r == role)
    page.context.clear_cookies()
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(lambda url: "/login" not in url)


def _start_attempt(page, live_server: str) -> str:
    page.goto(f"{live_server}/units/{VIP_UNIT}")
    scenario = page.locator("li.scenario-item", has_text="Monthly VIP report")
    scenario.locator("button:has-text('Start attempt')").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    return page.url.removeprefix(live_server)


# --- axe-core ---------------------------------------------------------------------------------


def test_axe_reports_the_violations_of_a_page_that_has_them(browser_page):
    page = browser_page
    page.set_content(
        "<!doctype html><html lang='en'><head><title>Bad</title></head><body><main>"
        "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='><input type='text'>"
        "</main></body></html>"
    )
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "a bad page")
    message = str(failure.value)
    assert "a bad page" in message
    assert "image-alt" in message and "label" in message


def test_the_pages_beside_the_trainee_path_pass_axe(live_server, browser_page):
    page = browser_page

    # A failed sign-in shows its error on an accessible page.
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "nobody@example.com")
    page.fill("input[name=password]", "not the password")
    page.click("button:has-text('Sign in')")
    assert_accessible(page, "sign-in page after a failed sign-in")

    _sign_in(page, live_server, Role.TRAINEE)
    attempt = _start_attempt(page, live_server)
    for path, where in [
        ("/attempts", "my attempts"),
        (f"{attempt}/crm/customers", "CRM customers list"),
        (f"{attempt}/crm/orders", "CRM orders list"),
        (f"{attempt}/crm/reports", "CRM reports list"),
        ("/account/password", "password page"),
    ]:
        page.goto(f"{live_server}{path}")
        assert_accessible(page, where)
    page.goto(f"{live_server}{attempt}/crm/customers")
    page.locator("a[href*='/crm/customers/']").first.click()
    page.wait_for_url(re.compile(r"/crm/customers/\d+$"))
    assert_accessible(page, "CRM customer record")
    # Colour is never the only signal: every badge says what it means in words.
    badges = page.locator(".badge")
    assert badges.count() > 0
    assert all(text.strip() for text in badges.all_inner_texts())
    page.goto(f"{live_server}{attempt}/crm/customers?q=no-such-customer-anywhere")
    assert_accessible(page, "CRM customers list with no match")

    _sign_in(page, live_server, Role.ASSESSOR)
    page.goto(f"{live_server}/review")
    assert_accessible(page, "review queue")

    _sign_in(page, live_server, Role.CENTRE_ADMIN)
    for path, where in [
        ("/authoring", "authoring"),
        ("/authoring/upload", "authoring upload"),
        ("/authoring/coverage", "coverage"),
    ]:
        page.goto(f"{live_server}{path}")
        assert_accessible(page, where)
    history = page.locator("main a[href*='/authoring/']").first
    if history.count():
        history.click()
        page.wait_for_load_state()
        assert_accessible(page, "authoring history")


# --- form errors ------------------------------------------------------------------------------


def test_form_errors_are_tied_to_their_fields_and_summarised(live_server, browser_page):
    page = browser_page
    _sign_in(page, live_server, Role.TRAINEE)
    page.goto(f"{live_server}/account/password")
    form = page.locator("main form").first
    form.locator("input[type=password]").first.fill("wrong current password")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()

    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() >= 1
    for index in range(invalid.count()):
        field = invalid.nth(index)
        described = (field.get_attribute("aria-describedby") or "").split()
        errors = [page.locator(f"[id='{i}']") for i in described if i.endswith("-error")]
        assert errors and errors[0].inner_text().strip(), field.get_attribute("name")
    summary = page.locator(".error-summary")
    assert summary.count() == 1
    first_link = summary.locator("a").first
    target = first_link.get_attribute("href")
    assert target.startswith("#") and page.locator(target).count() == 1
    assert_accessible(page, "password page with errors")


def test_a_form_without_errors_marks_no_field_invalid(live_server, browser_page):
    page = browser_page
    _sign_in(page, live_server, Role.TRAINEE)
    page.goto(f"{live_server}/account/password")
    assert page.locator("[aria-invalid=true]").count() == 0
    assert page.locator(".error-summary").count() == 0


# --- phones -----------------------------------------------------------------------------------


def test_the_crm_navigation_folds_behind_a_menu_on_a_phone(live_server, browser_page):
    page = browser_page
    _sign_in(page, live_server, Role.TRAINEE)
    attempt = _start_attempt(page, live_server)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}{attempt}/crm/")
    nav = page.locator("nav.sidenav")
    menu = page.locator("label.nav-toggle__label")
    assert menu.is_visible() and not nav.is_visible()
    # Nothing sticks out sideways: the header wraps instead of overflowing.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    menu.click()
    assert nav.is_visible()
    assert_accessible(page, "CRM home on a phone, menu open")
    page.goto(f"{live_server}{attempt}/crm/customers")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server}{attempt}/crm/")
    assert nav.is_visible() and not menu.is_visible()


def test_the_screenshot_script_writes_one_page_at_one_width(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    pytest.importorskip("playwright.sync_api")
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts/screenshots.py")
    screenshots = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = screenshots
    spec.loader.exec_module(screenshots)

    assert screenshots.main(["--out", str(tmp_path), "--pages", "login", "--widths", "390"]) == 0
    (shot,) = tmp_path.iterdir()
    assert shot.name == "login-390.png"
    width, _height = struct.unpack(">II", shot.read_bytes()[16:24])
    assert width == 390
    assert screenshots.main(["--out", str(tmp_path), "--pages", "nowhere"]) == 2


# --- the keyboard -----------------------------------------------------------------------------


def _focused(page, selector: str) -> bool:
    return page.evaluate(
        "s => !!document.activeElement && document.activeElement.matches(s)", selector
    )


def _tab_to(page, selector: str) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(TAB_LIMIT):
        if _focused(page, selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def _choose(page, selector: str, value: str) -> None:
    """Tab to a select and move through its options with the arrow keys to ``value``."""
    _tab_to(page, selector)
    for key in ("ArrowDown", "ArrowUp"):
        for _ in range(80):
            if page.evaluate("() => document.activeElement.value") == value:
                return
            page.keyboard.press(key)
    raise AssertionError(f"{selector} has no option {value!r}")


def _activate(page, selector: str) -> None:
    """Tab to a link or button and press Enter; wait for the page it leads to."""
    _tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


# Per language: the scenario's title on the unit page and the export's download link.
KEYBOARD_TEXTS = {
    "en": ("Monthly VIP report", "Download XLSX"),
    "zh_Hant_HK": ("為市場推廣部編製每月貴賓會員報告", "下載 XLSX"),
}


@pytest.mark.parametrize("language", sorted(KEYBOARD_TEXTS))
def test_the_trainee_path_works_with_the_keyboard_alone(live_server, browser_page, language):
    page = browser_page
    email = next(address for r, address, _name in DEMO_ACCOUNTS if r == Role.TRAINEE)
    scenario_title, download = KEYBOARD_TEXTS[language]

    page.goto(f"{live_server}/login")
    if language != "en":  # the header switcher, by keyboard too
        _activate(page, f"form.language-switcher button[value={language}]")
        assert page.locator("html").get_attribute("lang") == language.replace("_", "-")
    _tab_to(page, "input[name=email]")
    page.keyboard.type(email)
    _tab_to(page, "input[name=password]")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/units")

    _activate(page, f"a[href$='/units/{VIP_UNIT}']")
    page.wait_for_url(f"{live_server}/units/{VIP_UNIT}")
    scenario = page.locator("li.scenario-item", has_text=scenario_title)
    start = scenario.locator("form").first.get_attribute("action")
    _activate(page, f"form[action='{start}'] button[type=submit]")
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    attempt_url = page.url

    _activate(page, "a[href$='/crm/']")
    page.wait_for_url(re.compile(r"/crm/$"))
    _activate(page, "nav.sidenav a[href$='/crm/reports']")
    page.wait_for_url(re.compile(r"/crm/reports$"))
    _activate(page, "main a[href*='/crm/reports/new']")
    page.wait_for_url(re.compile(r"/crm/reports/new"))

    _tab_to(page, "#name")
    page.keyboard.type("VIP list by keyboard")
    _tab_to(page, "#purpose")
    page.keyboard.type("Email invitations to the VIP preview evening")
    for column in ("member_no", "name_en", "email", "tier"):
        _tab_to(page, f"input[name=columns][value={column}]")
        if not page.evaluate("() => document.activeElement.checked"):
            page.keyboard.press("Space")
    _choose(page, "select[name='filters-0-field']", "tier")
    _choose(page, "select[name='filters-0-op']", "in")
    _tab_to(page, "input[name='filters-0-value']")
    page.keyboard.type("gold, platinum")
    _activate(page, "form.builder button[type=submit]")
    page.wait_for_url(re.compile(r"/crm/reports/\d+$"))
    report_url = page.url
    assert page.locator("h1").inner_text() == "VIP list by keyboard"

    _choose(page, "form[action$='/shares'] select[name=department]", "marketing")
    _tab_to(page, "form[action$='/shares'] input[name=can_export]")
    page.keyboard.press("Space")
    _activate(page, "form[action$='/shares'] button[type=submit]")
    page.wait_for_url(report_url)
    _activate(page, "form[action$='/runs'] button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    _activate(page, f"a[href$='{report_url.removeprefix(live_server)}']")
    page.wait_for_url(report_url)

    _tab_to(page, "form[action$='/exports'] textarea[name=purpose]")
    page.keyboard.type("Email invitations to the VIP preview evening (Marketing)")
    _choose(page, "form[action$='/exports'] select[name=destination]", "internal_shared_drive")
    _choose(page, "form[action$='/exports'] select[name=file_format]", "xlsx")
    _activate(page, "form[action$='/exports'] button[type=submit]")
    page.wait_for_url(report_url)
    assert page.locator(f"a:has-text('{download}')").count() == 1

    _activate(page, f"a[href$='{attempt_url.removeprefix(live_server)}']")
    page.wait_for_url(attempt_url)
    _choose(
        page,
        "#deliverable-report",
        page.locator("#deliverable-report option", has_text="VIP list by keyboard").get_attribute(
            "value"
        ),
    )
    _tab_to(page, "#confirm")
    page.keyboard.press("Space")
    _activate(page, "form[action$='/submit'] button[type=submit]")
    page.wait_for_url(f"{attempt_url}/result")
    assert page.locator("#verdict").count() == 1
