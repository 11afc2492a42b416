"""The campaign_recipients report source: who each campaign reached, and what came back.

One row per customer in a campaign's audience, with the customer's district, region, tier and
age band, so that the report builder can show the distribution of recipients and responders.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm import catalogue_data as data
from sandbox_crm.campaigns.models import CampaignRecipient, RecipientStatus, Response, ScreenReason
from sandbox_crm.customers.sources import CUSTOMER_FIELDS
from sandbox_crm.hk_provider import DISTRICTS
from sandbox_crm.i18n import N_
from sandbox_crm.jewellery.sources import age_band_of
from sandbox_crm.models import (
    Campaign,
    Channel,
    Customer,
    Message,
    MessageKind,
    Region,
    Sensitivity,
    Tier,
)
from sandbox_crm.sources import (
    SOURCES,
    Field,
    QueryScope,
    Source,
    column_field,
    end_of_day,
    enum_values,
    index_fields,
    lookup_field,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


def _age_band(scope: QueryScope) -> ColumnElement[Any]:
    return age_band_of(CampaignRecipient.customer_id)


R = CampaignRecipient
RECIPIENT_FIELDS = index_fields(
    column_field("recipient_id", "Recipient ID", "int", INT, R.id),
    column_field("campaign_id", "Campaign ID", "int", INT, R.campaign_id),
    lookup_field(
        R, Campaign.id, R.campaign_id, "campaign", N_("Campaign"), "str", INT, Campaign.name
    ),
    lookup_field(
        R,
        Campaign.id,
        R.campaign_id,
        "channel",
        N_("Channel"),
        "enum",
        INT,
        Campaign.channel,
        choices=enum_values(Channel),
    ),
    column_field("status", "Status", "enum", INT, R.status, choices=enum_values(RecipientStatus)),
    column_field(
        "reason",
        "Screened out because",
        "enum",
        INT,
        R.reason,
        choices=("", *enum_values(ScreenReason)),
    ),
    column_field("response", "Response", "enum", INT, R.response, choices=enum_values(Response)),
    column_field("responded_at", "Responded at", "datetime", INT, R.responded_at),
    column_field("converted_hkd", "Purchase (HK$)", "int", INT, R.converted_hkd),
    column_field("customer_id", "Customer ID", "int", INT, R.customer_id),
    lookup_field(
        R, Customer.id, R.customer_id, "member_no", N_("Member no."), "str", P, Customer.member_no
    ),
    lookup_field(
        R, Customer.id, R.customer_id, "name_en", N_("Name (English)"), "str", P, Customer.name_en
    ),
    lookup_field(
        R,
        Customer.id,
        R.customer_id,
        "district",
        N_("District"),
        "enum",
        INT,
        Customer.district,
        choices=tuple(DISTRICTS),
    ),
    lookup_field(
        R,
        Customer.id,
        R.customer_id,
        "region",
        N_("Region"),
        "enum",
        INT,
        Customer.region,
        choices=enum_values(Region),
    ),
    lookup_field(
        R,
        Customer.id,
        R.customer_id,
        "tier",
        N_("Tier"),
        "enum",
        INT,
        Customer.tier,
        choices=enum_values(Tier),
    ),
    Field(
        "age_band",
        "Age band",
        "enum",
        P,
        _age_band,
        choices=data.AGE_BANDS,
        description="The age band the member chose on the membership form, if any.",
    ),
)

SOURCES.add(
    "campaign_recipients",
    Source(
        name="campaign_recipients",
        label=N_("Campaign recipients"),
        model=CampaignRecipient,
        key_field="recipient_id",
        fields=RECIPIENT_FIELDS,
        default_columns=("campaign", "member_no", "district", "tier", "status", "response"),
    ),
)


# --- how often a customer was marketed to -----------------------------------------------------

PROMOTION_WINDOW_DAYS = 30
"""The contact-frequency window: promotional messages in the 30 days up to and including today."""


def _promotions_30d(scope: QueryScope) -> ColumnElement[Any]:
    since = end_of_day(scope.as_of - timedelta(days=PROMOTION_WINDOW_DAYS))
    return (
        select(func.count(Message.id))
        .where(
            Message.customer_id == Customer.id,
            Message.kind == MessageKind.PROMOTIONAL.value,
            Message.sent_at >= since,
            Message.sent_at < end_of_day(scope.as_of),
        )
        .correlate(Customer)
        .scalar_subquery()
    )


CONTACT_FIELDS = (
    Field(
        "promotions_30d",
        "Promotions, last 30 days",
        "int",
        INT,
        _promotions_30d,
        description=N_(
            "Promotional messages sent to the customer, by campaign or by staff, on any channel "
            "in the 30 days up to today."
        ),
        nullable=False,
    ),
)

# The customers source belongs to the customers area; how often a customer was marketed to is
# this area's concern (a contact-frequency cap in a campaign's audience rule), so its field is
# added to that source here, once, when the area loads.
for _field in CONTACT_FIELDS:
    CUSTOMER_FIELDS.setdefault(_field.name, _field)
