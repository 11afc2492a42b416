"""Regrading as a job and scenario versions prepared by jobs after publishing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

A regrade keeps its new GradeRecord beside the old one, with who asked for it and, when the
automatic verdict changed under a recorded decision, the decision version it puts in question.
A job records who asked for it. A scenario version published from an upload is "preparing"
until its templates are generated and its reference solution and counterexamples have run, and
"refused" (with the problems) if they did not behave; NULL means ready, as for every version
published before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grade_record") as batch:
        batch.add_column(sa.Column("regraded_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("flagged_decision_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_grade_record_regraded_by_id_app_user"),
            "app_user",
            ["regraded_by_id"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_grade_record_flagged_decision_id_decision_version"),
            "decision_version",
            ["flagged_decision_id"],
            ["id"],
        )
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("requested_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_job_requested_by_id_app_user"), "app_user", ["requested_by_id"], ["id"]
        )
    with op.batch_alter_table("definition_version") as batch:
        batch.add_column(sa.Column("preparation", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("preparation_problems", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("definition_version") as batch:
        batch.drop_column("preparation_problems")
        batch.drop_column("preparation")
    with op.batch_alter_table("job") as batch:
        batch.drop_constraint(op.f("fk_job_requested_by_id_app_user"), type_="foreignkey")
        batch.drop_column("requested_by_id")
    with op.batch_alter_table("grade_record") as batch:
        batch.drop_constraint(
            op.f("fk_grade_record_flagged_decision_id_decision_version"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("fk_grade_record_regraded_by_id_app_user"), type_="foreignkey")
        batch.drop_column("flagged_decision_id")
        batch.drop_column("regraded_by_id")
