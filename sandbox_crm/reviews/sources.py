"""The reviews report source: rating, product, customer and moderation status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.models import Customer, Product, Sensitivity
from sandbox_crm.reviews.models import ProductReview
from sandbox_crm.sources import SOURCES, Field, QueryScope, Source, column_field, index_fields

INT, P = Sensitivity.INTERNAL, Sensitivity.PERSONAL


def _product_name(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(Product.name)
        .where(Product.id == ProductReview.product_id)
        .correlate(ProductReview)
        .scalar_subquery()
    )


def _member_no(scope: QueryScope) -> ColumnElement[Any]:
    return (
        select(Customer.member_no)
        .where(Customer.id == ProductReview.customer_id)
        .correlate(ProductReview)
        .scalar_subquery()
    )


REVIEW_FIELDS = index_fields(
    column_field("review_id", "Review ID", "int", INT, ProductReview.id),
    column_field("rating", "Rating", "int", INT, ProductReview.rating),
    column_field("title", "Title", "str", INT, ProductReview.title),
    column_field("posted_at", "Posted at", "datetime", INT, ProductReview.posted_at),
    column_field(
        "status", "Status", "enum", INT, ProductReview.status, choices=("published", "hidden")
    ),
    Field("product", "Product", "str", INT, _product_name),
    column_field("customer_id", "Customer ID", "int", INT, ProductReview.customer_id),
    Field("customer_member_no", "Member no.", "str", P, _member_no),
)

SOURCES.add(
    "reviews",
    Source(
        name="reviews",
        label="Product reviews",
        model=ProductReview,
        key_field="review_id",
        fields=REVIEW_FIELDS,
        default_columns=("posted_at", "product", "rating", "title", "status"),
    ),
)
