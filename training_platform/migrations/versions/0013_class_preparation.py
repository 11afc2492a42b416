"""Class preparation: spare sandboxes sized to a cohort before its window opens.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "class_preparation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("scenario_key", sa.String(length=128), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("trainees", sa.Integer(), nullable=False),
        sa.Column("spares", sa.JSON(), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("prepared_at", sa.DateTime(), nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_class_preparation_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["assessment_window.id"],
            name=op.f("fk_class_preparation_window_id_assessment_window"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["app_user.id"],
            name=op.f("fk_class_preparation_requested_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_preparation")),
        sa.UniqueConstraint("window_id", name=op.f("uq_class_preparation_window_id")),
    )
    op.create_index(
        op.f("ix_class_preparation_centre_id"), "class_preparation", ["centre_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_class_preparation_centre_id"), table_name="class_preparation")
    op.drop_table("class_preparation")
