"""`practicum db ...`: migrate the platform database."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from training_platform.db import alembic_config, upgrade_database

db_cli = AppGroup("db", help="Manage the platform database schema.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(revision: str) -> None:
    """Apply the database migrations (creates the database on first run)."""
    upgrade_database(current_app, revision)
    click.echo(f"Database is at revision {revision}: {_display_url()}")


@db_cli.command("current")
def current_command() -> None:
    """Show the revision the database is at."""
    from alembic import command

    command.current(alembic_config(current_app.config["DATABASE_URL"]))


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the migration changes.")
def revision_command(message: str) -> None:
    """Write a new migration by comparing the models with the (upgraded) database."""
    from alembic import command

    command.revision(
        alembic_config(current_app.config["DATABASE_URL"]), message=message, autogenerate=True
    )


def _display_url() -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(current_app.config["DATABASE_URL"]).render_as_string(hide_password=True)


def register(app: Flask) -> None:
    """Add the `db` group to the app's CLI."""
    app.cli.add_command(db_cli)
