"""The product reviews area: its generation stage, its operation, its source and its page."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from sandbox_crm.areas import ENABLED_AREAS, ordered_stages
from sandbox_crm.generator import generate
from sandbox_crm.models import AuditEvent, Customer, Product, SandboxBase
from sandbox_crm.operations import (
    REFUSED_OPERATION,
    InvalidArguments,
    OperationError,
    apply_operation,
    entity_named,
    record_refusal,
)
from sandbox_crm.query import select_rows
from sandbox_crm.reviews.models import ProductReview, ReviewStatus
from tests.sandbox_fixtures import SANDBOX_TODAY, small_spec


def _reviews(session: Session) -> list[tuple]:
    return [
        (r.customer_id, r.product_id, r.rating, r.text, r.status, r.written_at)
        for r in session.scalars(select(ProductReview).order_by(ProductReview.id))
    ]


def _generated(customers: int) -> Session:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SandboxBase.metadata.create_all(engine)
    session = Session(engine)
    generate(session, small_spec(customers=customers, plants=()))
    return session


def test_the_area_is_enabled_and_its_stage_runs_after_customers_and_products():
    assert "reviews" in ENABLED_AREAS
    names = [stage.name for stage in ordered_stages()]
    position = names.index("reviews.reviews")
    assert position > names.index("customers.customers")
    assert position > names.index("orders.products")


def test_generation_is_deterministic_and_refers_to_real_rows():
    first, second = _generated(120), _generated(120)
    try:
        made = _reviews(first)
        assert made and made == _reviews(second)
        customers = set(first.scalars(select(Customer.id)))
        products = set(first.scalars(select(Product.id)))
        assert {row[0] for row in made} <= customers
        assert {row[1] for row in made} <= products
        assert {row[2] for row in made} <= {1, 2, 3, 4, 5}
        assert {row[4] for row in made} <= {s.value for s in ReviewStatus}
    finally:
        first.close()
        second.close()


def test_moderating_a_pending_review_publishes_it_and_is_audited(sandbox_session, sandbox_actor):
    review = sandbox_session.scalars(select(ProductReview).order_by(ProductReview.id)).first()
    review.status = ReviewStatus.PENDING
    sandbox_session.flush()
    moderated = apply_operation(
        sandbox_session,
        sandbox_actor,
        "moderate_review",
        {"review_id": review.id, "status": "published"},
    )
    assert moderated.status == "published" and moderated.moderated_by_id == sandbox_actor.id
    event = sandbox_session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.operation, event.entity_type, event.entity_id) == (
        "review.moderate",
        "product_review",
        review.id,
    )
    assert (event.before, event.after) == ({"status": "pending"}, {"status": "published"})


def test_moderating_is_refused_for_the_same_state_or_a_decision_not_offered(
    sandbox_session, sandbox_actor
):
    review = sandbox_session.scalars(select(ProductReview).order_by(ProductReview.id)).first()
    review.status = ReviewStatus.PUBLISHED
    sandbox_session.commit()
    events = sandbox_session.scalar(select(func.count()).select_from(AuditEvent))
    args = {"review_id": review.id, "status": "published"}
    with pytest.raises(OperationError) as same:
        apply_operation(sandbox_session, sandbox_actor, "moderate_review", args)
    assert (same.value.message, same.value.field) == ("The review is already published.", "status")
    refusal = record_refusal(
        sandbox_session, sandbox_actor, "moderate_review", same.value, entity_named(args)
    )
    assert refusal.operation == REFUSED_OPERATION
    assert (refusal.entity_type, refusal.entity_id) == ("product_review", review.id)
    with pytest.raises(OperationError) as pending:
        apply_operation(
            sandbox_session,
            sandbox_actor,
            "moderate_review",
            {"review_id": review.id, "status": "pending"},
        )
    assert pending.value.message == "Decision must be one of published, rejected; got 'pending'."
    with pytest.raises(InvalidArguments):
        apply_operation(sandbox_session, sandbox_actor, "moderate_review", {"status": "rejected"})
    with pytest.raises(OperationError, match="There is no review with id 999999"):
        apply_operation(
            sandbox_session,
            sandbox_actor,
            "moderate_review",
            {"review_id": 999999, "status": "rejected"},
        )
    assert sandbox_session.scalar(select(func.count()).select_from(AuditEvent)) == events + 1


def test_the_source_answers_report_queries(sandbox_session):
    low = select_rows(
        sandbox_session,
        "product_reviews",
        where={"field": "rating", "op": "le", "value": 2},
        columns=["review_id", "rating", "product", "customer_member_no"],
        as_of=SANDBOX_TODAY,
    )
    expected = sandbox_session.scalar(
        select(func.count()).select_from(ProductReview).where(ProductReview.rating <= 2)
    )
    assert low.total == expected > 0
    assert all(row["rating"] <= 2 and row["product"] for row in low.rows)
    assert all(row["customer_member_no"].startswith("M") for row in low.rows)


def test_the_review_list_page(client_as, trainee, started_attempt):
    browser = client_as(trainee)
    page = browser.get(f"/attempts/{started_attempt.id}/crm/reviews?status=pending")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Matching reviews" in text
    everything = browser.get(f"/attempts/{started_attempt.id}/crm/reviews")
    assert "All reviews" in everything.get_data(as_text=True)
