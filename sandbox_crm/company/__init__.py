"""The company the trainee works for: branches, departments, staff and collection notices."""

from __future__ import annotations

from sandbox_crm.areas import Area, Stage
from sandbox_crm.company import generation

AREA = Area(
    name="company",
    label="Company set-up",
    modules=("sandbox_crm.company.generation",),
    stages=(
        Stage("company.branches", generation.branches),
        Stage("company.departments", generation.departments, after=("company.branches",)),
        Stage("company.staff", generation.staff, after=("company.departments",)),
        Stage("company.notices", generation.notices, after=("company.staff",)),
    ),
)
