"""CRM list pages that never scan: search through the name index, capped counts, moved dates."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sandbox_crm import query
from sandbox_crm.clock import start_clock
from sandbox_crm.customers.facts import facts_date
from sandbox_crm.customers.views import _search_condition
from sandbox_crm.generator import GenerationSpec
from sandbox_crm.models import Customer, ReportRun, ReportRunPage, StaffUser
from sandbox_crm.operations import create_report
from sandbox_crm.query import select_keys, select_rows
from sandbox_crm.reports.views import RUN_PER_PAGE
from sandbox_crm.store import SandboxStore
from sandbox_crm.web import core
from tests.sandbox_fixtures import SANDBOX_TODAY
from tests.test_crm_web import BASE, SANDBOX_KEY, _make_app


@pytest.fixture
def crm_store(sandbox_store: SandboxStore, sandbox_spec: GenerationSpec) -> SandboxStore:
    sandbox_store.create(SANDBOX_KEY, sandbox_spec, clock_mode="stepped")
    return sandbox_store


@pytest.fixture
def client(crm_store: SandboxStore) -> FlaskClient:
    return _make_app(crm_store).test_client()


@pytest.fixture
def session(crm_store: SandboxStore) -> Iterator[Session]:
    with crm_store.session(SANDBOX_KEY) as opened:
        yield opened


def member_numbers(html: str) -> set[str]:
    return set(
        re.findall(r'<a class="mono" href="/attempts/1/crm/customers/\d+">([^<]+)</a>', html)
    )


def assert_same_result(html: str, expected: set[str]) -> None:
    """The page's rows are among ``expected`` and its count says how many there are."""
    found = member_numbers(html)
    assert found <= expected
    assert len(found) == min(len(expected), 50)
    count = re.search(r'<span class="count">([^<]+)</span>', html)
    assert count is not None and count.group(1).replace(",", "") == str(len(expected))


def searched_with_condition(session: Session, q: str) -> set[str]:
    keys = select_keys(session, "customers", _search_condition(q), SANDBOX_TODAY)
    return set(session.scalars(select(Customer.member_no).where(Customer.id.in_(keys))))


def test_the_name_index_finds_what_the_condition_finds(
    client: FlaskClient, session: Session
) -> None:
    chinese = session.scalars(
        select(Customer.name_zh).where(Customer.name_zh.is_not(None)).order_by(Customer.id)
    ).first()
    member = session.scalars(select(Customer.member_no).order_by(Customer.id)).first()
    queries = ["chan", "WONG", "mail", member[:5], chinese[-2:] if len(chinese) > 2 else chinese]
    queries += ["Tai Man", "com.hk", "9123", "zzzq"]
    for q in queries:
        page = client.get(f"{BASE}/customers", query_string={"q": q})
        assert page.status_code == 200
        assert_same_result(page.get_data(as_text=True), searched_with_condition(session, q))


def test_short_search_text_falls_back_to_the_condition(
    client: FlaskClient, session: Session
) -> None:
    for q in ("a", "陳"):
        page = client.get(f"{BASE}/customers", query_string={"q": q})
        assert_same_result(page.get_data(as_text=True), searched_with_condition(session, q))


def test_control_characters_in_the_search_text_are_dropped(
    client: FlaskClient, session: Session
) -> None:
    # A NUL ends the search index's query text early ("unterminated string"): it is dropped.
    member = session.scalars(select(Customer.member_no).order_by(Customer.id)).first()
    for q in (member[:5] + "\x00", "ch\x00an", "\x07WONG\x1b"):
        cleaned = q.replace("\x00", "").replace("\x07", "").replace("\x1b", "")
        page = client.get(f"{BASE}/customers", query_string={"q": q})
        assert page.status_code == 200
        assert_same_result(page.get_data(as_text=True), searched_with_condition(session, cleaned))
    for listing in ("orders", "reviews"):
        assert client.get(f"{BASE}/{listing}", query_string={"q": "00\x00"}).status_code == 200


def test_a_filtered_count_stops_at_the_cap(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "COUNT_CAP", 60)
    filtered = client.get(f"{BASE}/customers", query_string={"status": "active"})
    text = filtered.get_data(as_text=True)
    assert "more than 60" in text
    assert 'rel="next"' in text
    # Past the counted rows the pages carry on, counted exactly.
    later = client.get(f"{BASE}/customers", query_string={"status": "active", "page": 3})
    assert later.status_code == 200
    assert "more than" not in later.get_data(as_text=True)
    # An unfiltered list is counted exactly.
    everyone = client.get(f"{BASE}/customers").get_data(as_text=True)
    assert "more than" not in everyone
    assert "150" in everyone


def test_a_count_under_the_cap_is_exact(client: FlaskClient) -> None:
    text = client.get(f"{BASE}/customers", query_string={"tier": "platinum"}).get_data(as_text=True)
    assert "more than" not in text


def test_a_list_page_brings_the_read_model_to_a_moved_date(
    client: FlaskClient, crm_store: SandboxStore
) -> None:
    later = SANDBOX_TODAY + timedelta(days=45)
    with crm_store.session(SANDBOX_KEY) as opened:
        start_clock(opened, datetime.combine(later, datetime.min.time()).replace(hour=9), "stepped")
        opened.commit()
    assert client.get(f"{BASE}/customers?sort=spend_12m&dir=desc").status_code == 200
    with crm_store.session(SANDBOX_KEY) as opened:
        assert facts_date(opened) == later


def test_a_frozen_sandbox_is_not_written_by_a_list_page(
    crm_store: SandboxStore,
) -> None:
    later = SANDBOX_TODAY + timedelta(days=45)
    with crm_store.session(SANDBOX_KEY) as opened:
        start_clock(opened, datetime.combine(later, datetime.min.time()).replace(hour=9), "stepped")
        opened.commit()
    frozen = _make_app(crm_store).test_client()
    assert frozen.get("/attempts/2/crm/customers?q=chan").status_code == 200
    with crm_store.session(SANDBOX_KEY) as opened:
        assert facts_date(opened) == SANDBOX_TODAY


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["member_no", "spend_12m", "name_en"])
def test_a_deep_page_shows_the_same_rows_when_read_by_keys_first(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, sort: str, direction: str
) -> None:
    url = f"{BASE}/customers?sort={sort}&dir={direction}&page=2&status=active"
    by_offset = client.get(url).get_data(as_text=True)
    monkeypatch.setattr(query, "_DEFERRED_OFFSET", 0)
    by_keys = client.get(url).get_data(as_text=True)
    rows = re.findall(r'href="/attempts/1/crm/customers/(\d+)"', by_offset)
    assert rows and rows == re.findall(r'href="/attempts/1/crm/customers/(\d+)"', by_keys)


# --- a report run's stored output ---------------------------------------------------------------


@pytest.fixture
def everyone_report(crm_store: SandboxStore) -> int:
    with crm_store.session(SANDBOX_KEY) as opened:
        actor = opened.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()
        report = create_report(
            opened,
            actor,
            name="All customers",
            source="customers",
            columns=["member_no", "email", "spend_12m"],
            filters=None,
            sort=[["member_no", "desc"]],
            purpose="Checking the whole list",
        )
        opened.commit()
        return report.id


def run_rows(html: str) -> list[str]:
    return re.findall(r"<tr><td[^>]*>([^<]+)</td>", html)


def test_a_run_keeps_its_rows_and_pages_through_them(
    client: FlaskClient, crm_store: SandboxStore, everyone_report: int
) -> None:
    location = client.post(f"{BASE}/reports/{everyone_report}/runs").headers["Location"]
    with crm_store.session(SANDBOX_KEY) as opened:
        run = opened.scalars(select(ReportRun)).one()
        stored = [
            cells
            for page in opened.scalars(
                select(ReportRunPage.rows)
                .where(ReportRunPage.run_id == run.id)
                .order_by(ReportRunPage.page)
            )
            for cells in page
        ]
        csv_rows = list(csv.reader(io.StringIO(run.output_csv)))[1:]
    assert [list(cells) for cells in stored] == csv_rows
    assert len(stored) == 150
    first = client.get(location).get_data(as_text=True)
    second = client.get(f"{location}?page=2").get_data(as_text=True)
    assert run_rows(first)[0] == csv_rows[0][0]
    assert run_rows(second)[0] == csv_rows[RUN_PER_PAGE][0]
    assert client.get(f"{location}?page=999").status_code == 200


def test_a_run_without_stored_rows_is_read_from_its_csv(
    client: FlaskClient, crm_store: SandboxStore, everyone_report: int
) -> None:
    location = client.post(f"{BASE}/reports/{everyone_report}/runs").headers["Location"]
    with crm_store.session(SANDBOX_KEY) as opened:
        opened.execute(delete(ReportRunPage))
        opened.commit()
        run = opened.scalars(select(ReportRun)).one()
        first_member = list(csv.reader(io.StringIO(run.output_csv)))[1][0]
    page = client.get(location).get_data(as_text=True)
    assert run_rows(page)[0] == first_member


# --- orders and reviews: customers found through the index, sorts on the customer -----------


def listed_ids(html: str, kind: str) -> list[str]:
    return re.findall(rf'href="/attempts/1/crm/{kind}/(\d+)"', html)


@pytest.mark.parametrize(
    ("path", "source", "fields"),
    [
        ("orders", "orders", ("order_no", "customer_member_no", "customer_name")),
        ("reviews", "product_reviews", ("product", "customer_member_no", "customer_name", "text")),
    ],
)
def test_order_and_review_search_finds_what_the_condition_finds(
    client: FlaskClient, session: Session, path: str, source: str, fields: tuple[str, ...]
) -> None:
    member = session.scalars(select(Customer.member_no).order_by(Customer.id).offset(3)).first()
    for q in ("chan", "wong", member, "zzzq", "ng"):
        condition = {"any": [{"field": f, "op": "contains", "value": q} for f in fields]}
        expected = len(select_keys(session, source, condition, SANDBOX_TODAY))
        html = client.get(f"{BASE}/{path}", query_string={"q": q}).get_data(as_text=True)
        count = re.search(r'<span class="count">([^<]+)</span>', html)
        assert count is not None and count.group(1).replace(",", "") == str(expected), q


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_orders_sorted_by_customer_follow_the_customers_member_number(
    session: Session, direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = select_rows(
        session,
        "orders",
        columns=["order_id", "customer_member_no"],
        sort=[("customer_member_no", direction)],
        as_of=SANDBOX_TODAY,
    )
    expected = sorted(page.rows, key=lambda row: row["order_id"])
    expected.sort(key=lambda row: row["customer_member_no"], reverse=direction == "desc")
    assert page.rows == expected
    middle = len(expected) // 2
    monkeypatch.setattr(query, "_DEFERRED_OFFSET", 0)
    deep = select_rows(
        session,
        "orders",
        columns=["order_id", "customer_member_no"],
        sort=[("customer_member_no", direction)],
        as_of=SANDBOX_TODAY,
        limit=20,
        offset=middle,
    )
    assert deep.rows and deep.rows == expected[middle : middle + 20]
