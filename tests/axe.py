"""Accessibility checks in the browser tests: axe-core (tests/vendor/axe.min.js) run on a page.

axe-core 4.14 is vendored from npm (``npm pack axe-core``; MPL-2.0, licence beside it) so that the
tests need no network. Pages must have no violation of serious or critical impact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
BLOCKING_IMPACTS = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_SOURCE)
    results = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One line per violation and up to three of the elements it names."""
    lines = []
    for violation in violations:
        targets = "; ".join(", ".join(node["target"]) for node in violation["nodes"][:3])
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}")
    return "\n".join(lines)


def assert_accessible(page: Any, where: str = "") -> None:
    """Fail listing every serious or critical axe-core violation on the page."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {where or page.url}:\n{describe_violations(violations)}"
