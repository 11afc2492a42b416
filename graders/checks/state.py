"""Checks comparing the attempt's final sandbox with the untouched template."""

from __future__ import annotations

from pydantic import Field, field_validator

from graders.checks.common import LISTED, Params
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.models import SandboxBase


class NoCollateralParams(Params):
    """Parameters of state.no_collateral_change."""

    tables: list[str] = Field(min_length=1)
    """Sandbox tables whose rows must be exactly as in the template (e.g. customer, message)."""
    allow_operations: list[str] = Field(default_factory=list)
    """Rows these audit operations are about (as entity or by id in details) may change."""

    @field_validator("tables")
    @classmethod
    def _known_tables(cls, value: list[str]) -> list[str]:
        """Reject unknown table names."""
        known = SandboxBase.metadata.tables
        unknown = [t for t in value if t not in known]
        if unknown:
            listed = ", ".join(map(repr, unknown))
            raise ValueError(f"unknown table(s) {listed}; known: {', '.join(sorted(known))}")
        return value


@check("state.no_collateral_change", params=NoCollateralParams)
def no_collateral_change(ctx: GradingContext, params: NoCollateralParams) -> Outcome:
    """Rows of the listed tables are identical in template and final (all columns, by key)."""
    allowed = tuple(params.allow_operations)
    tables: dict[str, dict[str, object]] = {}
    clean = 0
    for table in params.tables:
        diff = ctx.diff(table)

        def exempt(key: object, table: str = table) -> bool:
            return bool(allowed) and bool(ctx.events_about(table, key, *allowed))

        added = [k for k in diff.added if not exempt(k)]
        changed = [k for k in diff.changed if not exempt(k)]
        deleted = [k for k in diff.deleted if not exempt(k)]
        if not (added or changed or deleted):
            clean += 1
            continue
        tables[table] = {
            "added_count": len(added),
            "changed_count": len(changed),
            "deleted_count": len(deleted),
            "added": added[:LISTED],
            "changed": [
                {"id": k, "columns": list(diff.changed_columns[k])} for k in changed[:LISTED]
            ],
            "deleted": deleted[:LISTED],
        }
    evidence = {
        "tables": list(params.tables),
        "changes": tables,
        "allow_operations": list(params.allow_operations),
        "listed_at_most": LISTED,
    }
    return Outcome.judge(not tables, evidence, clean / len(params.tables))
