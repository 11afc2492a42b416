"""The data_requests report source: each request with its requester, deadline and answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.models import Sensitivity
from sandbox_crm.requests.models import (
    DataRequest,
    RequestChannel,
    RequestKind,
    RequestOutcome,
)
from sandbox_crm.sources import (
    SOURCES,
    Field,
    QueryScope,
    Source,
    column_field,
    customer_fields,
    enum_values,
    index_fields,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


def _overdue(scope: QueryScope) -> ColumnElement[Any]:
    """Not answered, and day 40 (or the date a notice promised) before the query's day."""
    day: date = scope.as_of
    return and_(
        DataRequest.outcome == "",
        or_(
            and_(DataRequest.extended_to.is_(None), DataRequest.due_on < day),
            DataRequest.extended_to < day,
        ),
    )


REQUEST_FIELDS = index_fields(
    column_field("request_id", "Request ID", "int", INT, DataRequest.id),
    column_field("reference", "Reference", "str", INT, DataRequest.reference),
    column_field("kind", "Kind", "enum", INT, DataRequest.kind, choices=enum_values(RequestKind)),
    column_field("requester_name", "Requester", "str", P, DataRequest.requester_name),
    column_field(
        "channel", "Channel", "enum", INT, DataRequest.channel, choices=enum_values(RequestChannel)
    ),
    column_field("received_on", "Received on", "date", INT, DataRequest.received_on),
    column_field("due_on", "Day 40", "date", INT, DataRequest.due_on),
    column_field("extended_to", "Extended to", "date", INT, DataRequest.extended_to),
    Field(
        "overdue",
        "Overdue",
        "bool",
        INT,
        _overdue,
        description="Not answered, and past day 40 (or the date a notice promised).",
        nullable=False,
    ),
    column_field("fee_hkd", "Fee (HK$)", "int", INT, DataRequest.fee_hkd),
    column_field(
        "identity_verified_at",
        "Identity verified",
        "datetime",
        INT,
        DataRequest.identity_verified_at,
    ),
    column_field(
        "outcome",
        "Outcome",
        "enum",
        INT,
        DataRequest.outcome,
        choices=("", *enum_values(RequestOutcome)),
    ),
    column_field("responded_on", "Answered on", "date", INT, DataRequest.responded_on),
    *customer_fields(DataRequest, DataRequest.customer_id, nullable=True),
)

SOURCES.add(
    "data_requests",
    Source(
        name="data_requests",
        label=N_("Data access and correction requests"),
        model=DataRequest,
        key_field="request_id",
        fields=REQUEST_FIELDS,
        default_columns=("reference", "kind", "received_on", "due_on", "outcome"),
    ),
)
