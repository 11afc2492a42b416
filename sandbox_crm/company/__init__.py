"""The company the trainee works for: branches, departments, staff and collection notices."""

from __future__ import annotations

from sandbox_crm.areas import Area, Stage
from sandbox_crm.i18n import N_

GENERATION = "sandbox_crm.company.generation"

AREA = Area(
    name="company",
    label=N_("Company set-up"),
    modules=(
        "sandbox_crm.company.models",
        "sandbox_crm.company.generation",
    ),
    stages=(
        Stage("company.branches", f"{GENERATION}:branches"),
        Stage(
            "company.departments",
            f"{GENERATION}:departments",
            after=("company.branches",),
        ),
        Stage("company.staff", f"{GENERATION}:staff", after=("company.departments",)),
        Stage("company.notices", f"{GENERATION}:notices", after=("company.staff",)),
    ),
)
