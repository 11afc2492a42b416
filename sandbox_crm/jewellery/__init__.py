"""The jewellery chain's own records: gold prices, product details, services, member profiles.

Generated for the ``jewellery`` profile only (a retail sandbox gets the tables, empty, so its
data stays as it was): the day's gold price, the weight and certificate of each piece, the
counter services, remote branches in Macau and at the border, members' voluntary profile
(age band, interest in bridal jewellery) and seasonal purchases on top of the order history.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, Stage
from sandbox_crm.i18n import N_

GENERATION = "sandbox_crm.jewellery.generation"

AREA = Area(
    name="jewellery",
    label=N_("Jewellery"),
    modules=(
        "sandbox_crm.jewellery.models",
        "sandbox_crm.jewellery.generation",
        "sandbox_crm.jewellery.sources",
    ),
    stages=(
        Stage("jewellery.catalogue", f"{GENERATION}:catalogue", after=("orders.products",)),
        Stage(
            "jewellery.branches",
            f"{GENERATION}:remote_branches",
            after=("company.staff", "customers.customers"),
        ),
        Stage(
            "jewellery.seasonal_orders",
            f"{GENERATION}:seasonal_orders",
            after=("orders.aml_identification", "jewellery.catalogue"),
        ),
        Stage(
            "jewellery.member_profiles",
            f"{GENERATION}:member_profiles",
            after=("customers.customers",),
        ),
    ),
)
