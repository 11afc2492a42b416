"""A session version per user, so that signing out or changing a password ends every session.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Flask-Login keeps "<user id>.<session version>" in the session cookie; the user loader accepts a
cookie only while its version is the user's current one. Existing users start at version 1, so
sessions issued before this revision (which hold the bare id) must sign in again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("session_version")
