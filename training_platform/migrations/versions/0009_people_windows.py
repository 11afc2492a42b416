"""Units and scenarios a cohort takes, assessment windows, extensions and window attempts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cohort_offering",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cohort_id", sa.Integer(), sa.ForeignKey("cohort.id"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("cohort_id", "kind", "key"),
    )
    op.create_index("ix_cohort_offering_cohort_id", "cohort_offering", ["cohort_id"])
    op.create_table(
        "assessment_window",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cohort_id", sa.Integer(), sa.ForeignKey("cohort.id"), nullable=False),
        sa.Column("scenario_key", sa.String(length=128), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
    )
    op.create_index(
        "ix_assessment_window_cohort_scenario",
        "assessment_window",
        ["cohort_id", "scenario_key"],
    )
    op.create_table(
        "window_extension",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("assessment_window.id"), nullable=False),
        sa.Column("trainee_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=True),
        sa.Column("extra_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
        sa.UniqueConstraint("window_id", "trainee_id"),
    )
    op.create_index("ix_window_extension_window_id", "window_extension", ["window_id"])
    op.create_index("ix_window_extension_trainee_id", "window_extension", ["trainee_id"])
    op.create_table(
        "window_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempt.id"), nullable=False),
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("assessment_window.id"), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("attempt_id"),
    )
    op.create_index("ix_window_attempt_window_id", "window_attempt", ["window_id"])


def downgrade() -> None:
    op.drop_table("window_attempt")
    op.drop_table("window_extension")
    op.drop_table("assessment_window")
    op.drop_table("cohort_offering")
