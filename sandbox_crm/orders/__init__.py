"""Sales: the product catalogue, orders and their lines."""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.orders import generation

AREA = Area(
    name="orders",
    label="Orders",
    modules=("sandbox_crm.orders.generation", "sandbox_crm.orders.sources"),
    views=("sandbox_crm.orders.views",),
    has_templates=True,
    nav=(NavLink("crm.orders", "Orders", "bag", active=("crm.order",)),),
    stages=(
        Stage("orders.products", generation.products, after=("company.notices",)),
        Stage("orders.orders", generation.orders, after=("customers.customers",)),
        Stage("orders.aml_identification", generation.aml_identification, after=("orders.orders",)),
    ),
)
