"""Record on each scenario version the unit version it was validated against.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Attempts bind that unit version. Scenario versions published before this revision get the unit
version that was current for them when they were published (the newest one of their unit,
built in or their centre's own, published no later than they were); where there is none the
column stays NULL and an attempt binds the unit's current version, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("definition_version") as batch:
        batch.add_column(sa.Column("validated_unit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_definition_version_validated_unit_id_definition_version"),
            "definition_version",
            ["validated_unit_id"],
            ["id"],
        )
    versions = sa.table(
        "definition_version",
        sa.column("id", sa.Integer()),
        sa.column("centre_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("key", sa.String()),
        sa.column("unit_code", sa.String()),
        sa.column("published_at", sa.DateTime()),
        sa.column("validated_unit_id", sa.Integer()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            versions.c.id,
            versions.c.kind,
            versions.c.key,
            versions.c.centre_id,
            versions.c.unit_code,
            versions.c.published_at,
        )
    ).all()
    units = [row for row in rows if row.kind == "unit"]
    for scenario in (row for row in rows if row.kind == "scenario"):
        candidates = [
            unit
            for unit in units
            if unit.key == scenario.unit_code
            and unit.published_at <= scenario.published_at
            and unit.centre_id in (None, scenario.centre_id)
        ]
        if not candidates:
            continue
        # The centre's own version of the unit hides the built-in one, as in the catalogue.
        chosen = max(candidates, key=lambda u: (u.centre_id is not None, u.published_at, u.id))
        connection.execute(
            versions.update()
            .where(versions.c.id == scenario.id)
            .values(validated_unit_id=chosen.id)
        )


def downgrade() -> None:
    with op.batch_alter_table("definition_version") as batch:
        batch.drop_constraint(
            op.f("fk_definition_version_validated_unit_id_definition_version"), type_="foreignkey"
        )
        batch.drop_column("validated_unit_id")
