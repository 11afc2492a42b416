"""Keep who recorded each verdict override.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Overrides recorded before this revision keep a NULL author: any assessor of the centre may
have recorded them, so the review's assessor is not a safe guess.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verdict_override") as batch:
        batch.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_verdict_override_created_by_id_app_user"),
            "app_user",
            ["created_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("verdict_override") as batch:
        batch.drop_constraint(
            op.f("fk_verdict_override_created_by_id_app_user"), type_="foreignkey"
        )
        batch.drop_column("created_by_id")
