"""Screenshots of the main pages at phone and desktop widths, for review.

Usage:  .venv/bin/python scripts/screenshots.py [--out screenshots] [--widths 390,1366]
                                                [--pages login,catalogue,crm-home,...]

Starts a throwaway server on 127.0.0.1 (a fresh SQLite file and sandbox folder in a temporary
directory, the demo accounts and the built-in units), signs in as the role each page is for,
starts one attempt on the VIP scenario when a page needs it, and writes ``<page>-<width>.png``
(full page) into the output folder, which git ignores. Needs Playwright and Debian's chromium at
/usr/bin/chromium; no browser is downloaded.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training_platform.commands.demo import DEMO_ACCOUNTS, DEMO_PASSWORD  # noqa: E402
from training_platform.commands.demo_server import served_demo  # noqa: E402
from training_platform.models import Role  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEFAULT_WIDTHS = (390, 1366)
HEIGHTS = {390: 844, 768: 1024}  # a phone's and a tablet's screen; desktops get 768
VIP_UNIT = "105077L3"
VIP_SCENARIO = "Monthly VIP report"


@dataclass(frozen=True)
class Shot:
    """One page to capture: its name, who looks at it, and its path (``{attempt}`` filled in)."""

    name: str
    role: Role | None
    path: str


PAGES: tuple[Shot, ...] = (
    Shot("login", None, "/login"),
    Shot("catalogue", Role.TRAINEE, "/units"),
    Shot("unit", Role.TRAINEE, f"/units/{VIP_UNIT}"),
    Shot("attempt", Role.TRAINEE, "{attempt}"),
    Shot("crm-home", Role.TRAINEE, "{attempt}/crm/"),
    Shot("crm-customers", Role.TRAINEE, "{attempt}/crm/customers"),
    Shot("crm-customer", Role.TRAINEE, "{customer}"),
    Shot("crm-orders", Role.TRAINEE, "{attempt}/crm/orders"),
    Shot("crm-reports", Role.TRAINEE, "{attempt}/crm/reports"),
    Shot("crm-report-builder", Role.TRAINEE, "{attempt}/crm/reports/new"),
    Shot("password", Role.TRAINEE, "/account/password"),
    Shot("review-queue", Role.ASSESSOR, "/review"),
    Shot("authoring", Role.CENTRE_ADMIN, "/authoring"),
)


@contextmanager
def throwaway_server(workdir: Path) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 with the demo accounts and the built-in units."""
    config = {
        "SECRET_KEY": "screenshots-only",
        "DATABASE_URL": f"sqlite:///{workdir / 'practicum.sqlite'}",
        "SANDBOX_DIR": str(workdir / "sandboxes"),
        "TEMPLATE_CACHE_DIR": str(workdir / "templates"),
        "SANDBOX_VARIANTS": 1,
        "SANDBOX_CLOCK_MODE": "stepped",
        # Generate only the sandbox the pages need, when the attempt starts.
        "PREGENERATE_VARIANTS": False,
    }
    with served_demo(config) as url:
        yield url


def sign_in(page: Any, base: str, role: Role) -> None:
    """Sign the browser in as the demo account of ``role``."""
    email = next(address for r, address, _name in DEMO_ACCOUNTS if r == role)
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(lambda url: "/login" not in url)


def start_attempt(page: Any, base: str) -> str:
    """Start an attempt on the VIP scenario as the signed-in trainee; its path."""
    page.goto(f"{base}/units/{VIP_UNIT}")
    scenario = page.locator("li.scenario-item", has_text=VIP_SCENARIO)
    scenario.locator("button:has-text('Start attempt')").first.click()
    # The first attempt generates the scenario's sandbox template, which takes a while.
    page.wait_for_url(re.compile(r"/attempts/\d+$"), timeout=60_000)
    return page.url.removeprefix(base)


def first_customer(page: Any, base: str, attempt: str) -> str:
    """The path of the first customer record in the attempt's CRM."""
    page.goto(f"{base}{attempt}/crm/customers")
    href = page.locator("a[href*='/crm/customers/']").first.get_attribute("href")
    return href.removeprefix(base)


def capture(base: str, out: Path, shots: list[Shot], widths: list[int]) -> list[Path]:
    """Write a full-page screenshot of each page at each width; the files written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            places: dict[str, str] = {}
            for role in dict.fromkeys(shot.role for shot in shots):
                if role is None:
                    page.context.clear_cookies()
                else:
                    sign_in(page, base, role)
                for shot in (s for s in shots if s.role == role):
                    needs_attempt = "{attempt}" in shot.path or "{customer}" in shot.path
                    if needs_attempt and "attempt" not in places:
                        places["attempt"] = start_attempt(page, base)
                    if "{customer}" in shot.path and "customer" not in places:
                        places["customer"] = first_customer(page, base, places["attempt"])
                    path = shot.path.format(**places)
                    for width in widths:
                        page.set_viewport_size({"width": width, "height": HEIGHTS.get(width, 768)})
                        page.goto(f"{base}{path}")
                        target = out / f"{shot.name}-{width}.png"
                        page.screenshot(path=str(target), full_page=True)
                        written.append(target)
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Parse the options, start the server, capture the pages; 0 when every file is written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--widths", default=",".join(map(str, DEFAULT_WIDTHS)))
    parser.add_argument("--pages", default="", help="comma-separated page names (default all)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print("chromium is not installed at /usr/bin/chromium", file=sys.stderr)
        return 2
    try:
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
    except ValueError:
        print(f"--widths takes numbers such as 390,1366, not {args.widths!r}", file=sys.stderr)
        return 2
    known = {shot.name: shot for shot in PAGES}
    names = [n.strip() for n in args.pages.split(",") if n.strip()] or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"Unknown page {', '.join(unknown)}; pages: {', '.join(known)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="practicum-shots-") as tmp:
        with throwaway_server(Path(tmp)) as base:
            written = capture(base, args.out, [known[n] for n in names], widths)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
