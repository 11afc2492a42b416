"""The `practicum` command: Flask's CLI (run, routes, shell) plus the platform's own commands."""

from __future__ import annotations

from flask.cli import FlaskGroup

from training_platform import create_app


def main() -> None:
    """Entry point of the `practicum` console script."""
    cli = FlaskGroup(
        create_app=create_app,
        help="Practicum: competency training and assessment for Hong Kong QF CRM units.",
    )
    cli.main(prog_name="practicum")
