"""`practicum upgrade-sandboxes`: bring every kept sandbox to this release's schema."""

from __future__ import annotations

import sys

import click
from flask import Flask

from sandbox_crm.backends.upgrade import UpgradeReport
from training_platform import sandboxes

KINDS = (("sandbox", "sandboxes"), ("spare", "spare clones"), ("template", "templates"))


def describe(report: UpgradeReport, *, dry_run: bool) -> list[str]:
    """The lines the command prints: counts per kind, then each one that failed."""
    verb = "to upgrade" if dry_run else "upgraded"
    lines = []
    for kind, plural in KINDS:
        upgraded, current = report.upgraded.get(kind, 0), report.current.get(kind, 0)
        failed = sum(1 for found, _, _ in report.failed if found == kind)
        if upgraded or current or failed or kind == "sandbox":
            line = f"{plural.capitalize()}: {upgraded} {verb}, {current} already current"
            lines.append(line + (f", {failed} failed." if failed else "."))
    lines.extend(f"Failed: {kind} {key}: {why}" for kind, key, why in report.failed)
    if dry_run:
        lines.append("Dry run: nothing was changed.")
    return lines


def register(app: Flask) -> None:
    """Add the upgrade command to the app's CLI."""

    @app.cli.command("upgrade-sandboxes")
    @click.option("--dry-run", is_flag=True, help="Count what would be upgraded; change nothing.")
    def upgrade_sandboxes_command(dry_run: bool) -> None:
        """Bring every sandbox (live, frozen and spare) to this release's schema.

        Run after upgrading a deployment: sandboxes are otherwise upgraded when first opened.
        Each one is upgraded in its own transaction; one that fails is left as it was, listed,
        and the command exits with status 1.
        """
        report = sandboxes.get_store().upgrade_sandboxes(dry_run=dry_run)
        for line in describe(report, dry_run=dry_run):
            click.echo(line)
        if report.failed:
            sys.exit(1)
