"""Data subject requests: access and correction requests, their copies, deadlines and notices.

A request is logged with the day it was received, the requester, the channel and the form; the
officer quotes a fee, verifies the requester's identity, compiles the copy of that person's data
only (redacting anyone else's), and answers within 40 days, or sends a written notice with
reasons by day 40, or refuses on an s20 ground with a log-book entry. A correction is made, the
corrected copy sent, and passed on to those the data were disclosed to in the last 12 months.
Requests exist only where a scenario plants them (``data_request``), so other sandboxes keep
their data; the jewellery cases' access requests are read with these by the same rules.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink
from sandbox_crm.i18n import N_

AREA = Area(
    name="requests",
    label=N_("Data subject requests"),
    modules=(
        "sandbox_crm.requests.models",
        "sandbox_crm.requests.plants",
        "sandbox_crm.requests.operations",
        "sandbox_crm.requests.sources",
    ),
    views=("sandbox_crm.requests.views",),
    has_templates=True,
    nav=(NavLink("crm.data_requests", "Data requests", "note", active=("crm.data_request",)),),
    record_pages={"data_request": ("crm.data_request", "request_id")},
    call_entities={"request_id": "data_request"},
)
