"""The members' voluntary profile as fields of the customers source: age band, bridal interest.

A retail sandbox has no member profiles: there the age band is empty and the interest false.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm import catalogue_data as data
from sandbox_crm.customers.sources import CUSTOMER_FIELDS
from sandbox_crm.jewellery.models import MemberProfile
from sandbox_crm.models import Customer, Sensitivity
from sandbox_crm.sources import Field, QueryScope

__all__ = ["PROFILE_FIELDS", "age_band_of"]


def age_band_of(customer_id: Any) -> ColumnElement[Any]:
    """SQL: the age band the customer whose id is ``customer_id`` (a column) gave, or NULL."""
    return (
        select(MemberProfile.age_band)
        .where(MemberProfile.customer_id == customer_id)
        .correlate_except(MemberProfile)
        .scalar_subquery()
    )


def _age_band(scope: QueryScope) -> ColumnElement[Any]:
    return age_band_of(Customer.id)


def _bridal_interest(scope: QueryScope) -> ColumnElement[Any]:
    interest = (
        select(MemberProfile.bridal_interest)
        .where(MemberProfile.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    return func.coalesce(interest, false())


PROFILE_FIELDS = (
    Field(
        "age_band",
        "Age band",
        "enum",
        Sensitivity.PERSONAL,
        _age_band,
        choices=data.AGE_BANDS,
        description="The age band the member chose on the membership form, if any.",
    ),
    Field(
        "bridal_interest",
        "Interested in bridal jewellery",
        "bool",
        Sensitivity.PERSONAL,
        _bridal_interest,
        description="The member told us they are planning a wedding (membership form or "
        "bridal consultation).",
        nullable=False,
    ),
)

# The customers source belongs to the customers area; the profile is this area's, so its fields
# are added to that source here, once, when the area loads.
for _field in PROFILE_FIELDS:
    CUSTOMER_FIELDS.setdefault(_field.name, _field)
