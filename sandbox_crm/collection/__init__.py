"""Online collection: sign-up forms, their collection notices, consents and sign-ups; tracking.

The company's online sign-up forms (membership, newsletter, e-shop account, event registration)
list their fields, each obligatory or voluntary with its purpose, and carry versions of their
Personal Information Collection Statement (PICS). The written collection requirements and the
tracking procedure are pages of the CRM; the tracking settings implement the procedure and a
purge applies their retention. Forms and tracking are generated only when a scenario plants
them (``signup_forms``, ``tracking_data``), so other sandboxes keep their data.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink
from sandbox_crm.i18n import N_

AREA = Area(
    name="collection",
    label=N_("Online collection and tracking"),
    modules=(
        "sandbox_crm.collection.models",
        "sandbox_crm.collection.plants",
        "sandbox_crm.collection.operations",
        "sandbox_crm.collection.sources",
    ),
    views=("sandbox_crm.collection.views",),
    has_templates=True,
    nav=(
        NavLink("crm.signup_forms", "Sign-up forms", "note", active=("crm.signup_form",)),
        NavLink("crm.tracking", "Tracking", "note", active=("crm.tracking",)),
    ),
    record_pages={
        "signup_form": ("crm.signup_form", "form_id"),
    },
    detail_keys={"form_id": "signup_form"},
    call_entities={"form_id": "signup_form"},
)
