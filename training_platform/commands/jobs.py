"""`practicum worker`: run the background job queue's consumer (grading, templates, purges)."""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app

from training_platform import jobs


def register(app: Flask) -> None:
    """Add the worker command to the app's CLI."""

    @app.cli.command("worker")
    @click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Jobs run at once, each in a thread (default: the JOB_WORKERS setting, 2).",
    )
    def worker_command(workers: int | None) -> None:
        """Run background jobs until stopped (Ctrl-C or SIGTERM finishes the running ones).

        Grades submitted attempts, generates the data variants of published scenarios, runs
        the daily retention purge, and queues again any job lost with a stopped worker.
        """
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        try:
            jobs.run_worker(current_app._get_current_object(), workers=workers)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
