"""Sales: the product catalogue, orders and their lines."""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.backends.upgrade import add_missing
from sandbox_crm.i18n import N_

GENERATION = "sandbox_crm.orders.generation"

AREA = Area(
    name="orders",
    label=N_("Orders"),
    version="2",
    # 2: the order status history; orders made before it have none.
    upgrades={"2": add_missing("order_status_change")},
    modules=(
        "sandbox_crm.orders.models",
        "sandbox_crm.orders.generation",
        "sandbox_crm.orders.sources",
        "sandbox_crm.orders.operations",
        "sandbox_crm.orders.plants",
    ),
    views=("sandbox_crm.orders.views",),
    has_templates=True,
    nav=(NavLink("crm.orders", "Orders", "bag", active=("crm.order",)),),
    stages=(
        Stage("orders.products", f"{GENERATION}:products", after=("company.notices",)),
        Stage("orders.orders", f"{GENERATION}:orders", after=("customers.customers",)),
        Stage(
            "orders.aml_identification",
            f"{GENERATION}:aml_identification",
            after=("orders.orders",),
        ),
        Stage(
            "orders.status_history",
            f"{GENERATION}:status_history",
            after=("orders.aml_identification", "jewellery.seasonal_orders"),
        ),
    ),
    record_pages={"sales_order": ("crm.order", "order_id")},
    call_entities={"order_id": "sales_order"},
)
