"""`practicum users import FILE --centre SLUG`: create a centre's accounts from a CSV file."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app, url_for

from training_platform import users_service
from training_platform.accounts import get_centre_by_slug
from training_platform.db import get_session
from training_platform.errors import ServiceError, exit_with
from training_platform.models import User

MAX_FILE_BYTES = 1024 * 1024


def register(app: Flask) -> None:
    """Add the `users` group to the app's CLI."""

    @app.cli.group("users")
    def users_cli() -> None:
        """Accounts of a centre."""

    @users_cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--centre", "centre_slug", required=True, help="The centre's slug.")
    @click.option(
        "--no-invite",
        is_flag=True,
        help="Do not e-mail invitations (send reset links later from the People page).",
    )
    def import_command(file: Path, centre_slug: str, no_invite: bool) -> None:
        """Create every account the CSV lists (email, name, role, cohorts), or none of them."""
        session = get_session()
        centre = get_centre_by_slug(session, centre_slug)
        if centre is None:
            raise click.ClickException(f"No centre has the slug {centre_slug!r}.")
        if file.stat().st_size > MAX_FILE_BYTES:
            raise click.ClickException("The file is larger than 1 MiB. Import it in parts.")
        try:
            users = users_service.import_users(session, None, centre, file.read_bytes())
        except ServiceError as exc:
            session.rollback()
            exit_with(exc)
        session.commit()
        click.echo(f"Imported {len(users)} account(s) into {centre.name}.")
        if no_invite:
            return
        for user in users:
            users_service.send_set_password_mail(user, users_service.INVITE, _invite_url(user))
        click.echo("Invitations sent.")


def _invite_url(user: User) -> str:
    """The invitation link; SERVER_NAME (or PRACTICUM_BASE_URL) gives its host outside a request."""
    token = users_service.make_token(user, users_service.INVITE)
    base = current_app.config.get("BASE_URL")
    if base:
        return base.rstrip("/") + url_for("auth.setup", token=token)
    with current_app.test_request_context():
        return url_for("auth.setup", token=token, _external=True)
