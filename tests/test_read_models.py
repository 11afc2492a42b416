"""The customer read model never disagrees with computing the fields afresh.

Every change that can move a computed field (a consent, a contact point, an order, a new
customer, the sandbox date) is made through the door it comes through in the CRM (an operation)
or, for changes no operation makes yet, through the ORM as a plant would; after each, the stored
values are compared with the source's own computation for the stored date.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sandbox_crm.clock import sandbox_today, start_clock
from sandbox_crm.customers.facts import (
    FACT_FIELDS,
    _computed_select,
    ensure_current,
    facts_date,
)
from sandbox_crm.customers.operations import record_consent, update_contact_point
from sandbox_crm.messages.operations import send_message
from sandbox_crm.models import (
    ContactPoint,
    Customer,
    CustomerFacts,
    SalesOrder,
    SandboxMeta,
    StaffUser,
)
from sandbox_crm.query import select_keys, select_rows
from sandbox_crm.store import SandboxStore
from tests.sandbox_fixtures import SANDBOX_TODAY, small_spec


def stored_rows(session: Session) -> dict[int, tuple]:
    table = CustomerFacts.__table__
    rows = session.execute(select(table.c.customer_id, *(table.c[n] for n in FACT_FIELDS)))
    return {row[0]: tuple(row[1:]) for row in rows}


def recomputed_rows(session: Session) -> dict[int, tuple]:
    as_of = facts_date(session)
    assert as_of is not None
    rows = session.execute(_computed_select(as_of))
    return {row[0]: tuple(row[1:]) for row in rows}


def assert_in_step(session: Session) -> None:
    session.flush()
    stored, fresh = stored_rows(session), recomputed_rows(session)
    assert stored.keys() == fresh.keys()
    differing = {k: (stored[k], fresh[k]) for k in stored if stored[k] != fresh[k]}
    assert not differing


def some_customer(session: Session, n: int = 0) -> Customer:
    return session.scalars(select(Customer).order_by(Customer.id).offset(n).limit(1)).one()


def test_generation_fills_the_read_model_for_the_sandbox_date(sandbox_session: Session) -> None:
    assert facts_date(sandbox_session) == SANDBOX_TODAY
    count = sandbox_session.scalar(select(func.count()).select_from(Customer))
    assert len(stored_rows(sandbox_session)) == count
    assert_in_step(sandbox_session)


def test_recording_consent_updates_the_customers_stored_consent(
    sandbox_session: Session, sandbox_actor: StaffUser
) -> None:
    customer = some_customer(sandbox_session, 3)
    for status in ("given", "withdrawn"):
        record_consent(
            sandbox_session,
            sandbox_actor,
            customer.id,
            "direct_marketing",
            "email",
            status,
            "online_form",
        )
        stored = sandbox_session.get(CustomerFacts, customer.id)
        assert stored is not None and stored.dm_email == status
        assert_in_step(sandbox_session)


def test_changing_a_contact_point_updates_email_and_its_flag(
    sandbox_session: Session, sandbox_actor: StaffUser
) -> None:
    contact = sandbox_session.scalars(
        select(ContactPoint)
        .where(ContactPoint.kind == "email", ContactPoint.is_primary.is_(True))
        .order_by(ContactPoint.id)
        .limit(1)
    ).one()
    update_contact_point(
        sandbox_session, sandbox_actor, contact.id, value="new.address@example.com"
    )
    stored = sandbox_session.get(CustomerFacts, contact.customer_id)
    assert stored is not None and stored.email == "new.address@example.com"
    update_contact_point(sandbox_session, sandbox_actor, contact.id, is_invalid=True)
    assert sandbox_session.get(CustomerFacts, contact.customer_id).email_invalid is True
    assert_in_step(sandbox_session)


def test_sending_a_message_keeps_the_read_model_in_step(
    sandbox_session: Session, sandbox_actor: StaffUser
) -> None:
    customer = some_customer(sandbox_session, 5)
    try:
        send_message(
            sandbox_session,
            sandbox_actor,
            customer_id=customer.id,
            channel="email",
            kind="service",
            subject="Your order",
            body="It has shipped.",
        )
    except ValueError:
        pass  # a refusal changes nothing; what matters is the state after
    assert_in_step(sandbox_session)


def test_orders_placed_cancelled_and_moved_update_spend(sandbox_session: Session) -> None:
    customer = some_customer(sandbox_session, 7)
    other = some_customer(sandbox_session, 8)
    before = sandbox_session.get(CustomerFacts, customer.id).spend_12m
    order = SalesOrder(
        order_no="TEST-0001",
        customer_id=customer.id,
        channel="store",
        status="paid",
        ordered_at=datetime.combine(SANDBOX_TODAY, datetime.min.time()) + timedelta(hours=8),
        total_hkd=1234,
    )
    sandbox_session.add(order)
    sandbox_session.flush()
    stored = sandbox_session.get(CustomerFacts, customer.id)
    assert stored.spend_12m == before + 1234
    assert stored.last_order_date == SANDBOX_TODAY
    assert_in_step(sandbox_session)
    order.status = "cancelled"
    assert_in_step(sandbox_session)
    order.status = "paid"
    order.customer_id = other.id
    assert_in_step(sandbox_session)
    assert sandbox_session.get(CustomerFacts, customer.id).spend_12m == before
    sandbox_session.delete(order)
    assert_in_step(sandbox_session)


def test_a_new_customer_gets_a_row(sandbox_session: Session) -> None:
    template = some_customer(sandbox_session)
    now = datetime.combine(SANDBOX_TODAY, datetime.min.time())
    new = Customer(
        member_no="ZZ999999",
        name_en="Test Person",
        district=template.district,
        region=template.region,
        joined_on=SANDBOX_TODAY,
        created_at=now,
        updated_at=now,
    )
    sandbox_session.add(new)
    sandbox_session.flush()
    sandbox_session.add(ContactPoint(customer_id=new.id, kind="email", value="t@example.com"))
    assert_in_step(sandbox_session)
    assert sandbox_session.get(CustomerFacts, new.id).email == "t@example.com"


@pytest.mark.parametrize("days", [1, 40, 400, -3])
def test_moving_the_sandbox_date_recomputes_what_depends_on_it(
    sandbox_session: Session, days: int
) -> None:
    start = datetime.combine(SANDBOX_TODAY + timedelta(days=days), datetime.min.time())
    start_clock(sandbox_session, start.replace(hour=9), "stepped")
    assert ensure_current(sandbox_session) is True
    assert facts_date(sandbox_session) == sandbox_today(sandbox_session)
    assert_in_step(sandbox_session)
    assert ensure_current(sandbox_session) is False


def test_an_operation_after_the_date_moved_brings_everyone_along(
    sandbox_session: Session, sandbox_actor: StaffUser
) -> None:
    start = datetime.combine(SANDBOX_TODAY + timedelta(days=30), datetime.min.time())
    start_clock(sandbox_session, start.replace(hour=9), "stepped")
    customer = some_customer(sandbox_session, 2)
    record_consent(
        sandbox_session,
        sandbox_actor,
        customer.id,
        "direct_marketing",
        "sms",
        "given",
        "online_form",
    )
    assert facts_date(sandbox_session) == SANDBOX_TODAY + timedelta(days=30)
    assert_in_step(sandbox_session)


QUERIES = [
    {"field": "spend_12m", "op": "ge", "value": 5000},
    {"field": "dm_email", "op": "eq", "value": "withdrawn"},
    {
        "all": [
            {"field": "email", "op": "not_null"},
            {"field": "orders_12m", "op": "gt", "value": 1},
        ]
    },
    {"field": "last_order_date", "op": "ge", "value": {"days_ago": 90}},
    {"field": "email", "op": "contains", "value": "mail"},
    {"not": {"field": "mobile_invalid", "op": "eq", "value": True}},
]


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("where", QUERIES)
def test_queries_give_the_same_rows_with_and_without_the_read_model(
    sandbox_session: Session, where: dict, direction: str
) -> None:
    columns = ["customer_id", *FACT_FIELDS]
    sort = [("spend_12m", direction), ("dm_email", "asc")]
    with_model = select_rows(
        sandbox_session, "customers", where=where, columns=columns, sort=sort, as_of=SANDBOX_TODAY
    )
    keys = select_keys(sandbox_session, "customers", where, SANDBOX_TODAY)
    sandbox_session.execute(delete(SandboxMeta).where(SandboxMeta.key == "customer_facts_as_of"))
    computed = select_rows(
        sandbox_session, "customers", where=where, columns=columns, sort=sort, as_of=SANDBOX_TODAY
    )
    assert with_model.rows == computed.rows
    assert with_model.total == computed.total
    assert keys == select_keys(sandbox_session, "customers", where, SANDBOX_TODAY)


def test_a_query_for_another_date_computes_the_fields(sandbox_session: Session) -> None:
    earlier = SANDBOX_TODAY - timedelta(days=200)
    columns = ["customer_id", "spend_12m"]
    page = select_rows(sandbox_session, "customers", columns=columns, as_of=earlier)
    spend = FACT_FIELDS.index("spend_12m") + 1
    fresh = {row[0]: row[spend] for row in sandbox_session.execute(_computed_select(earlier))}
    assert {row["customer_id"]: row["spend_12m"] for row in page.rows} == fresh
    stored = {k: v[spend - 1] for k, v in stored_rows(sandbox_session).items()}
    assert stored != fresh  # the stored values are today's: the earlier date differs


# --- a random sequence of changes ---------------------------------------------------------------

CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["consent", "contact", "order", "clock"]),
        st.integers(min_value=0, max_value=40),
        st.sampled_from(["email", "sms", "phone", "post"]),
        st.sampled_from(["given", "no_objection", "withdrawn"]),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=CHANGES)
def test_any_sequence_of_changes_keeps_the_read_model_in_step(
    tmp_path: Path, sandbox_template_dir: Path, changes: list
) -> None:
    store = SandboxStore(tmp_path / f"seq-{len(list(tmp_path.iterdir()))}", sandbox_template_dir)
    try:
        store.create("seq", small_spec(), clock_mode="stepped")
        with store.session("seq") as session:
            actor = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()
            for kind, n, channel, status in changes:
                customer = some_customer(session, n)
                if kind == "consent":
                    record_consent(
                        session,
                        actor,
                        customer.id,
                        "direct_marketing",
                        channel,
                        status,
                        "online_form",
                    )
                elif kind == "contact":
                    contact = session.scalars(
                        select(ContactPoint).where(ContactPoint.customer_id == customer.id)
                    ).first()
                    if contact is not None:
                        update_contact_point(
                            session, actor, contact.id, is_invalid=not contact.is_invalid
                        )
                elif kind == "order":
                    order = session.scalars(
                        select(SalesOrder).order_by(SalesOrder.id).offset(n * 7).limit(1)
                    ).one()
                    order.status = "cancelled" if order.status != "cancelled" else "completed"
                else:
                    today = sandbox_today(session) + timedelta(days=n * 3)
                    start_clock(session, datetime.combine(today, datetime.min.time()), "stepped")
                    ensure_current(session)
                assert_in_step(session)
    finally:
        store.dispose()
