"""Customers: their records, contact points, consent log and notes."""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.backends.upgrade import add_missing
from sandbox_crm.i18n import N_

GENERATION = "sandbox_crm.customers.generation"

AREA = Area(
    name="customers",
    label=N_("Customers"),
    # 2: the customer_facts read model and the customer_search index.
    version="2",
    # Before the read model was kept, its fields were computed: an upgraded sandbox leaves
    # customer_facts empty with no date, so they still are (the same values, more slowly).
    upgrades={"2": add_missing("customer", "customer_facts")},
    modules=(
        "sandbox_crm.customers.models",
        "sandbox_crm.customers.generation",
        "sandbox_crm.customers.sources",
        "sandbox_crm.customers.operations",
        "sandbox_crm.customers.facts",
    ),
    views=("sandbox_crm.customers.views",),
    has_templates=True,
    nav=(NavLink("crm.customers", "Customers", "people", active=("crm.customer",)),),
    stages=(
        # After the catalogue: the shared random stream draws products first.
        Stage(
            "customers.customers",
            f"{GENERATION}:customers",
            after=("orders.products",),
        ),
        # The consent log is written once orders and AML identification have drawn theirs.
        Stage(
            "customers.consent_rows",
            f"{GENERATION}:consent_rows",
            after=("customers.customers", "orders.aml_identification"),
        ),
    ),
    finish="sandbox_crm.customers.facts:finish",
    call_entities={"contact_point_id": "contact_point", "customer_id": "customer"},
    detail_keys={
        "customer_id": "customer",
        "contact_point_id": "contact_point",
        "consent_record_id": "consent_record",
    },
    record_pages={"customer": ("crm.customer", "customer_id")},
)
