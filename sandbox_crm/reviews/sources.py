"""The product_reviews report source: each review with its product and its customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, Product, Sensitivity
from sandbox_crm.reviews.models import ProductReview, ReviewStatus
from sandbox_crm.sources import (
    SOURCES,
    Field,
    FieldType,
    Lookup,
    QueryScope,
    Source,
    column_field,
    enum_values,
    index_fields,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


def _of_the_review(
    table_key: InstrumentedAttribute[Any],
    foreign_key: InstrumentedAttribute[Any],
    name: str,
    label: str,
    type_: FieldType,
    sensitivity: Sensitivity,
    column: InstrumentedAttribute[Any],
) -> Field:
    """A field that is ``column`` of the one row ``foreign_key`` points at."""

    def build(scope: QueryScope) -> ColumnElement[Any]:
        return (
            select(column)
            .where(table_key == foreign_key)
            .correlate(ProductReview)
            .scalar_subquery()
        )

    nullable = bool(column.property.columns[0].nullable)
    lookup = Lookup(foreign_key, table_key, column)
    return Field(name, label, type_, sensitivity, build, nullable=nullable, lookup=lookup)


REVIEW_FIELDS = index_fields(
    column_field("review_id", "Review ID", "int", INT, ProductReview.id),
    column_field("written_at", "Written at", "datetime", INT, ProductReview.written_at),
    column_field("rating", "Rating (1-5)", "int", INT, ProductReview.rating),
    column_field(
        "status",
        "Status",
        "enum",
        INT,
        ProductReview.status,
        choices=enum_values(ReviewStatus),
    ),
    column_field("text", "Review text", "str", P, ProductReview.text),
    _of_the_review(
        Product.id, ProductReview.product_id, "product", "Product", "str", INT, Product.name
    ),
    column_field("customer_id", "Customer ID", "int", INT, ProductReview.customer_id),
    _of_the_review(
        Customer.id,
        ProductReview.customer_id,
        "customer_member_no",
        "Member no.",
        "str",
        P,
        Customer.member_no,
    ),
    _of_the_review(
        Customer.id,
        ProductReview.customer_id,
        "customer_name",
        "Customer name",
        "str",
        P,
        Customer.name_en,
    ),
)

SOURCES.add(
    "product_reviews",
    Source(
        name="product_reviews",
        label=N_("Product reviews"),
        model=ProductReview,
        key_field="review_id",
        fields=REVIEW_FIELDS,
        default_columns=("written_at", "product", "customer_member_no", "rating", "status"),
    ),
)
