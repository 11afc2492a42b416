"""Record which template an attempt was cloned from; name the variant column for what it holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

``variant_seed`` always held the variant's index in the scenario's pool (0, 1, ...), never a
generation seed: it becomes ``variant``. The new ``template_key``, ``generator_version`` and
``faker_version`` pin the exact template grading compares against. Attempts started before this
revision keep them NULL: nothing recorded which template they were cloned from, and a guess made
now would not be a record.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempt") as batch:
        batch.alter_column(
            "variant_seed",
            new_column_name="variant",
            existing_type=sa.BigInteger(),
            type_=sa.Integer(),
            existing_nullable=False,
        )
        batch.add_column(sa.Column("template_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("generator_version", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("faker_version", sa.String(length=32), nullable=True))
        batch.create_index(op.f("ix_attempt_template_key"), ["template_key"])


def downgrade() -> None:
    with op.batch_alter_table("attempt") as batch:
        batch.drop_index(op.f("ix_attempt_template_key"))
        batch.drop_column("faker_version")
        batch.drop_column("generator_version")
        batch.drop_column("template_key")
        batch.alter_column(
            "variant",
            new_column_name="variant_seed",
            existing_type=sa.Integer(),
            type_=sa.BigInteger(),
            existing_nullable=False,
        )
