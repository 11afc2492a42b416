"""Initial platform tables: centres, accounts, definition versions, attempts, grading, review.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string_enum(name: str, *values: str) -> sa.Enum:
    """A VARCHAR(32) holding enum values, without a database enum type or CHECK constraint."""
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "centre",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre")),
        sa.UniqueConstraint("slug", name=op.f("uq_centre_slug")),
    )

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role", _string_enum("role", "trainee", "assessor", "centre_admin"), nullable=False
        ),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_app_user_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("email", name=op.f("uq_app_user_email")),
    )
    op.create_index(op.f("ix_app_user_centre_id"), "app_user", ["centre_id"])

    op.create_table(
        "definition_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=True),
        sa.Column("kind", _string_enum("definitionkind", "unit", "scenario"), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_definition_version_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["app_user.id"],
            name=op.f("fk_definition_version_published_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_version")),
        sa.UniqueConstraint(
            "centre_id",
            "kind",
            "key",
            "version",
            name=op.f("uq_definition_version_centre_id_kind_key_version"),
        ),
    )
    op.create_index("ix_definition_version_kind_key", "definition_version", ["kind", "key"])

    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("scenario_version_id", sa.Integer(), nullable=False),
        sa.Column("unit_version_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            _string_enum("attemptstatus", "in_progress", "submitted", "graded", "decided"),
            nullable=False,
        ),
        sa.Column("variant_seed", sa.BigInteger(), nullable=False),
        sa.Column("sandbox_key", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("graded_at", sa.DateTime(), nullable=True),
        sa.Column("deliverables", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_version_id"],
            ["definition_version.id"],
            name=op.f("fk_attempt_scenario_version_id_definition_version"),
        ),
        sa.ForeignKeyConstraint(
            ["trainee_id"], ["app_user.id"], name=op.f("fk_attempt_trainee_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["unit_version_id"],
            ["definition_version.id"],
            name=op.f("fk_attempt_unit_version_id_definition_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
        sa.UniqueConstraint("sandbox_key", name=op.f("uq_attempt_sandbox_key")),
    )
    op.create_index(op.f("ix_attempt_scenario_version_id"), "attempt", ["scenario_version_id"])
    op.create_index(op.f("ix_attempt_status"), "attempt", ["status"])
    op.create_index(op.f("ix_attempt_trainee_id"), "attempt", ["trainee_id"])

    op.create_table(
        "grade_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("overall", sa.String(length=32), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("grader_version", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempt.id"], name=op.f("fk_grade_record_attempt_id_attempt")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_record")),
    )
    op.create_index(op.f("ix_grade_record_attempt_id"), "grade_record", ["attempt_id"])

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=False),
        sa.Column(
            "decision", _string_enum("decision", "competent", "not_yet_competent"), nullable=True
        ),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["app_user.id"], name=op.f("fk_review_assessor_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempt.id"], name=op.f("fk_review_attempt_id_attempt")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_review_attempt_id")),
    )
    op.create_index(op.f("ix_review_assessor_id"), "review", ["assessor_id"])

    op.create_table(
        "rubric_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=128), nullable=False),
        sa.Column("criterion_id", sa.String(length=128), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"], ["review.id"], name=op.f("fk_rubric_score_review_id_review")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rubric_score")),
        sa.UniqueConstraint(
            "review_id",
            "item_id",
            "criterion_id",
            name=op.f("uq_rubric_score_review_id_item_id_criterion_id"),
        ),
    )

    op.create_table(
        "verdict_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column(
            "target_kind",
            _string_enum("overridetarget", "check", "item", "pdpo", "requirement"),
            nullable=False,
        ),
        sa.Column("target_id", sa.String(length=128), nullable=False),
        sa.Column("automatic_status", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"], ["review.id"], name=op.f("fk_verdict_override_review_id_review")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdict_override")),
    )
    op.create_index(op.f("ix_verdict_override_review_id"), "verdict_override", ["review_id"])


def downgrade() -> None:
    op.drop_table("verdict_override")
    op.drop_table("rubric_score")
    op.drop_table("review")
    op.drop_table("grade_record")
    op.drop_table("attempt")
    op.drop_table("definition_version")
    op.drop_table("app_user")
    op.drop_table("centre")
