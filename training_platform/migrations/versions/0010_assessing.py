"""Assessing at scale: decision versions, allocations, settings, leads, moderation, appeals.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("app_user.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "decision_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempt.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        _user("decided_by_id"),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("attempt_id", "version"),
    )
    op.create_index("ix_decision_version_attempt_id", "decision_version", ["attempt_id"])
    op.create_index("ix_decision_version_decided_by_id", "decision_version", ["decided_by_id"])
    # Decisions recorded before versions were kept become their first version.
    op.execute(
        "INSERT INTO decision_version "
        "(attempt_id, version, decision, comment, reason, source, decided_by_id, decided_at) "
        "SELECT attempt_id, 1, decision, comment, '', 'decision', assessor_id, decided_at "
        "FROM review WHERE decision IS NOT NULL AND decided_at IS NOT NULL"
    )
    op.create_table(
        "review_allocation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempt.id"), nullable=False),
        _user("assessor_id"),
        _user("allocated_by_id"),
        sa.Column("allocated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("attempt_id"),
    )
    op.create_index("ix_review_allocation_assessor_id", "review_allocation", ["assessor_id"])
    op.create_table(
        "assessment_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("centre_id", sa.Integer(), sa.ForeignKey("centre.id"), nullable=False),
        sa.Column("moderation_percent", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("appeal_days", sa.Integer(), nullable=False, server_default="14"),
        sa.UniqueConstraint("centre_id"),
    )
    op.create_table(
        "lead_assessor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("centre_id", sa.Integer(), sa.ForeignKey("centre.id"), nullable=False),
        _user("user_id"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_index("ix_lead_assessor_centre_id", "lead_assessor", ["centre_id"])
    op.create_table(
        "moderation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempt.id"), nullable=False),
        sa.Column(
            "decision_version_id",
            sa.Integer(),
            sa.ForeignKey("decision_version.id"),
            nullable=False,
        ),
        _user("decided_by_id"),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        _user("moderator_id", nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("referred_to", sa.String(length=16), nullable=True),
        sa.Column("selected_at", sa.DateTime(), nullable=False),
        sa.Column("moderated_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("decision_version_id"),
    )
    op.create_index("ix_moderation_attempt_id", "moderation", ["attempt_id"])
    op.create_index("ix_moderation_decided_by_id", "moderation", ["decided_by_id"])
    op.create_index("ix_moderation_unit_code", "moderation", ["unit_code"])
    op.create_index("ix_moderation_status", "moderation", ["status"])
    op.create_table(
        "appeal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempt.id"), nullable=False),
        sa.Column(
            "decision_version_id",
            sa.Integer(),
            sa.ForeignKey("decision_version.id"),
            nullable=False,
        ),
        _user("trainee_id"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lodged_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        _user("reviewer_id", nullable=True),
        sa.Column("outcome_comment", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("decision_version_id"),
    )
    op.create_index("ix_appeal_attempt_id", "appeal", ["attempt_id"])
    op.create_index("ix_appeal_trainee_id", "appeal", ["trainee_id"])
    op.create_index("ix_appeal_status", "appeal", ["status"])


def downgrade() -> None:
    op.drop_table("appeal")
    op.drop_table("moderation")
    op.drop_table("lead_assessor")
    op.drop_table("assessment_settings")
    op.drop_table("review_allocation")
    op.drop_table("decision_version")
