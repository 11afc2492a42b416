"""The product_reviews report source: each review with its product and its customer."""

from __future__ import annotations

from sandbox_crm.i18n import N_
from sandbox_crm.models import Product, Sensitivity
from sandbox_crm.reviews.models import ProductReview, ReviewStatus
from sandbox_crm.sources import (
    SOURCES,
    Source,
    column_field,
    customer_fields,
    enum_values,
    index_fields,
    lookup_field,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL


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
    lookup_field(
        ProductReview,
        Product.id,
        ProductReview.product_id,
        "product",
        "Product",
        "str",
        INT,
        Product.name,
    ),
    *customer_fields(ProductReview, ProductReview.customer_id),
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
