"""The sandbox CRM's web UI, driven through the test client on a small generated sandbox."""

from __future__ import annotations

import dataclasses
import html
import io
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from html import escape as html_escape
from pathlib import Path

import pytest
from flask import Flask, abort, g
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.clock import sandbox_today
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import (
    AuditEvent,
    ConsentRecord,
    ContactPoint,
    Customer,
    Message,
    ReportDefinition,
    ReportExport,
    ReportRun,
    ReportShare,
    SalesOrder,
    SandboxMeta,
    StaffUser,
)
from sandbox_crm.operations import create_report, run_report, share_report
from sandbox_crm.query import select_keys
from sandbox_crm.sources import get_source
from sandbox_crm.store import SandboxStore
from sandbox_crm.web import READ_ONLY_MESSAGE, CrmContext, register
from sandbox_crm.web.filter_rows import FilterRow, build_condition, rows_from_condition
from sandbox_crm.web.presentation import mask_dob, mask_hkid

SANDBOX_KEY = "crm-web"
BASE = "/attempts/1/crm"
FROZEN = "/attempts/2/crm"


# --- fixtures ---------------------------------------------------------------------------------


def _make_app(store: SandboxStore, *, csrf: bool = False) -> Flask:
    """A bare app with the CRM mounted: attempt 1 is writable, attempt 2 read-only, others 404."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", TESTING=True, WTF_CSRF_ENABLED=csrf)

    def resolver(attempt_id: int) -> CrmContext:
        if attempt_id not in (1, 2):
            abort(404)
        stack = ExitStack()
        session = stack.enter_context(store.session(SANDBOX_KEY, read_only=attempt_id == 2))
        g.test_sandbox = stack
        trainee = session.scalars(select(StaffUser.id).where(StaffUser.is_trainee.is_(True))).one()
        return CrmContext(
            session=session,
            actor_id=trainee,
            read_only=attempt_id == 2,
            attempt_label=f"Attempt #{attempt_id} · Monthly VIP report",
            back_url=f"/attempts/{attempt_id}",
            user_label="Test Trainee",
        )

    @app.teardown_request
    def _close(_error: BaseException | None) -> None:
        stack = g.pop("test_sandbox", None)
        if stack is not None:
            stack.close()

    register(app, resolver)
    return app


@pytest.fixture
def crm_store(sandbox_store: SandboxStore, sandbox_spec: GenerationSpec) -> SandboxStore:
    """The store with this test's sandbox created (stepped clock)."""
    sandbox_store.create(SANDBOX_KEY, sandbox_spec, clock_mode="stepped")
    return sandbox_store


@pytest.fixture
def client(crm_store: SandboxStore) -> FlaskClient:
    """A test client on an app with the CRM mounted, CSRF off."""
    return _make_app(crm_store).test_client()


@pytest.fixture
def db(crm_store: SandboxStore) -> Iterator[Callable[[], Session]]:
    """Open a fresh session on the sandbox to check what the requests committed."""
    stack = ExitStack()

    def open_session() -> Session:
        return stack.enter_context(crm_store.session(SANDBOX_KEY))

    yield open_session
    stack.close()


@pytest.fixture
def trainee(db: Callable[[], Session]) -> StaffUser:
    """The trainee's staff user."""
    return db().scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _events(session: Session, operation: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.operation == operation)))


def _row_links(html: str) -> list[str]:
    """Member numbers of the rows of the customer list, in order."""
    return re.findall(r'<a class="mono" href="/attempts/1/crm/customers/\d+">([^<]+)</a>', html)


@pytest.fixture
def vip_report(crm_store: SandboxStore, trainee: StaffUser) -> int:
    """A saved report owned by the trainee (created through the operations layer)."""
    with crm_store.session(SANDBOX_KEY) as session:
        actor = session.get(StaffUser, trainee.id)
        report = create_report(
            session,
            actor,
            name="VIP customers",
            source="customers",
            columns=["member_no", "name_en", "tier"],
            filters={"field": "tier", "op": "in", "value": ["gold", "platinum"]},
            sort=[["member_no", "asc"]],
            purpose="Monthly VIP mailing for Marketing",
        )
        session.commit()
        return report.id


# --- layout and home --------------------------------------------------------------------------


def test_home_shows_counts_company_clock_and_back_link(client: FlaskClient, db) -> None:
    session = db()
    response = client.get(f"{BASE}/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    customers = session.execute(select(func.count()).select_from(Customer)).scalar()
    assert f">{customers:,}<" in html
    company = session.get(SandboxMeta, "company").value
    assert f"<title>Home · {html_escape(company)}</title>" in html  # from sandbox_meta
    assert "16 Mar 2026" in html  # the sandbox clock, not the real date
    assert 'href="/attempts/1"' in html and "Back to brief &amp; submit" in html
    assert "Attempt #1 · Monthly VIP report" in html
    assert f'href="{BASE}/customers"' in html  # url_for gets the attempt id by itself


def test_unknown_attempt_is_refused_by_the_resolver(client: FlaskClient) -> None:
    assert client.get("/attempts/3/crm/customers").status_code == 404


def test_static_css_is_served_without_resolving_the_attempt(client: FlaskClient) -> None:
    response = client.get("/attempts/3/crm/static/crm.css")
    assert response.status_code == 200
    assert "text/css" in response.content_type


# --- customers --------------------------------------------------------------------------------


def test_customer_list_shows_one_page_and_the_total(client: FlaskClient, db) -> None:
    total = _count(db(), Customer)
    html = client.get(f"{BASE}/customers").get_data(as_text=True)
    rows = _row_links(html)
    assert len(rows) == 50
    assert rows == sorted(rows)  # default sort: member number
    assert f"1–50 of <strong>{total}</strong> customers" in html


def test_customer_list_last_page_and_out_of_range_page(client: FlaskClient, db) -> None:
    total = _count(db(), Customer)
    last = -(-total // 50)
    html = client.get(f"{BASE}/customers?page={last}").get_data(as_text=True)
    assert len(_row_links(html)) == total - (last - 1) * 50
    beyond = client.get(f"{BASE}/customers?page=999").get_data(as_text=True)
    assert _row_links(beyond) == _row_links(html)


def test_search_by_member_number_email_and_chinese_name(client: FlaskClient, db) -> None:
    session = db()
    customer = session.scalars(
        select(Customer).where(Customer.name_zh.is_not(None)).order_by(Customer.id).offset(7)
    ).first()
    html = client.get(f"{BASE}/customers", query_string={"q": customer.member_no}).get_data(
        as_text=True
    )
    assert _row_links(html) == [customer.member_no]
    email = next(c.value for c in customer.contact_points if c.kind == "email")
    by_email = client.get(f"{BASE}/customers", query_string={"q": email.upper()})
    assert customer.member_no in _row_links(by_email.get_data(as_text=True))
    mobile = next(c.value for c in customer.contact_points if c.kind == "mobile")
    by_mobile = client.get(f"{BASE}/customers", query_string={"q": f"{mobile[:4]} {mobile[4:]}"})
    assert customer.member_no in _row_links(by_mobile.get_data(as_text=True))
    by_zh = client.get(f"{BASE}/customers", query_string={"q": customer.name_zh})
    assert customer.member_no in _row_links(by_zh.get_data(as_text=True))
    nothing = client.get(f"{BASE}/customers", query_string={"q": "no such person zzz"})
    assert "No customers match" in nothing.get_data(as_text=True)


def test_filter_by_tier_and_status(client: FlaskClient, db) -> None:
    session = db()
    gold = _count(session, Customer, Customer.tier == "gold", Customer.status == "active")
    assert gold
    html = client.get(f"{BASE}/customers?tier=gold&status=active").get_data(as_text=True)
    assert f'Matching customers <span class="count">{gold}</span>' in html
    tbody = html.split("<tbody>")[1].split("</tbody>")[0]
    assert tbody.count("badge--gold") == len(_row_links(html))
    assert "badge--platinum" not in tbody and "badge--silver" not in tbody


def test_filter_by_email_consent(client: FlaskClient, db) -> None:
    session = db()
    condition = {"field": "dm_email", "op": "eq", "value": "withdrawn"}
    withdrawn = select_keys(session, "customers", condition, sandbox_today(session))
    assert 0 < len(withdrawn) <= 50
    html = client.get(f"{BASE}/customers?email_consent=withdrawn").get_data(as_text=True)
    listed = re.findall(r'<a class="mono" href="/attempts/1/crm/customers/(\d+)">', html)
    assert {int(customer_id) for customer_id in listed} == withdrawn
    tbody = html.split("<tbody>")[1].split("</tbody>")[0]
    assert tbody.count("badge--red") == tbody.count("Withdrawn</span>") == len(withdrawn)


def test_unknown_filter_values_are_ignored(client: FlaskClient, db) -> None:
    total = _count(db(), Customer)
    html = client.get(f"{BASE}/customers?tier=diamond&sort=hkid").get_data(as_text=True)
    assert f"of <strong>{total}</strong> customers" in html


@pytest.mark.parametrize(
    ("path", "args"),
    [
        ("/cases", ["status", "kind"]),
        ("/requests", ["kind", "outcome"]),
        ("/activities", ["kind", "purpose"]),
        ("/handoffs", ["department"]),
        ("/opportunities", ["stage", "channel"]),
        ("/follow-ups", ["status", "overdue"]),
        ("/purpose-data", ["kind", "purpose"]),
    ],
)
def test_select_filter_forms_send_the_arguments_their_list_reads(
    client: FlaskClient, path: str, args: list[str]
) -> None:
    html = client.get(f"{BASE}{path}").get_data(as_text=True)
    form = html.split('class="filters">')[1].split("</form>")[0]
    assert re.findall(r'<select name="([^"]*)"', form) == args
    assert '<option value=""></option>' not in form  # no blank choice besides "Any"


def test_sort_by_spend_descending_and_member_number(client: FlaskClient) -> None:
    html = client.get(f"{BASE}/customers?sort=spend_12m&dir=desc").get_data(as_text=True)
    spends = [
        int(v.replace(",", "")) for v in re.findall(r'<td class="num">HK\$([\d,]+)</td>', html)
    ]
    assert len(spends) == 50
    assert spends == sorted(spends, reverse=True)
    assert 'aria-sort="descending"' in html
    desc = _row_links(
        client.get(f"{BASE}/customers?sort=member_no&dir=desc").get_data(as_text=True)
    )
    assert desc == sorted(desc, reverse=True)


def test_customer_page_shows_consent_log_and_records_one_view(client: FlaskClient, db) -> None:
    session = db()
    customer_id = session.scalar(
        select(ConsentRecord.customer_id)
        .group_by(ConsentRecord.customer_id)
        .order_by(func.count().desc(), ConsentRecord.customer_id)
        .limit(1)
    )
    customer = session.get(Customer, customer_id)
    records = sorted(customer.consents, key=lambda r: (r.captured_at, r.id), reverse=True)
    session.close()

    html = client.get(f"{BASE}/customers/{customer_id}").get_data(as_text=True)
    assert customer.name_en in html
    log = html.split('id="consent-log"')[1].split("</section>")[0]
    assert log.count("<tr>") == len(records) + 1  # header row + one per record
    assert f'Consent log <span class="count">{len(records)}</span>' in html
    views = _events(db(), "customer.view")
    assert [(e.entity_id, e.actor_id is not None) for e in views] == [(customer_id, True)]


def test_customer_page_masks_hkid_and_date_of_birth(
    crm_store: SandboxStore, sandbox_spec: GenerationSpec, tmp_path: Path
) -> None:
    spec = dataclasses.replace(
        sandbox_spec, plants=(PlantSpec.of("hkid_on_member", 2, form="full"),)
    )
    store = SandboxStore(tmp_path / "hkid-sandboxes", crm_store.template_dir)
    store.create(SANDBOX_KEY, spec, clock_mode="stepped")
    with store.session(SANDBOX_KEY) as session:
        customer = session.scalars(select(Customer).where(Customer.hkid.is_not(None))).first()
        hkid, customer_id = customer.hkid, customer.id
    html = (
        _make_app(store).test_client().get(f"{BASE}/customers/{customer_id}").get_data(as_text=True)
    )
    store.dispose()
    digits = re.sub(r"\D", "", hkid)
    assert hkid not in html and digits not in html
    assert mask_hkid(hkid) in html
    assert "field permissions mask or hide these values" in html


def test_masks() -> None:
    assert mask_hkid("A123456(3)") == "A123***(*)"
    assert mask_hkid("XY987654(A)") == "XY987***(*)"
    assert mask_dob(date(1988, 5, 17)) == "**/05/****"


def test_unknown_customer_is_a_crm_404(client: FlaskClient) -> None:
    response = client.get(f"{BASE}/customers/999999")
    assert response.status_code == 404
    assert "Record not found" in response.get_data(as_text=True)


def test_edit_with_bad_district_shows_the_error_and_changes_nothing(
    client: FlaskClient, db
) -> None:
    before = db().get(Customer, 3)
    district, name = before.district, before.name_en
    response = client.post(
        f"{BASE}/customers/3/edit",
        data={
            "name_en": "Someone Else",
            "name_zh": "",
            "district": "Atlantis",
            "tier": before.tier,
            "status": before.status,
            "preferred_language": before.preferred_language,
            "notes": before.notes,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "District must be one of" in html
    assert 'class="field-errors"' in html
    after = db().get(Customer, 3)
    assert (after.district, after.name_en) == (district, name)
    assert _events(db(), "customer.update") == []


def test_edit_saves_through_the_operation(client: FlaskClient, db) -> None:
    before = db().get(Customer, 3)
    response = client.post(
        f"{BASE}/customers/3/edit",
        data={
            "name_en": before.name_en,
            "name_zh": before.name_zh or "",
            "district": "Sha Tin",
            "tier": before.tier,
            "status": before.status,
            "preferred_language": before.preferred_language,
            "notes": (before.notes or "").replace("\n", "\r\n"),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{BASE}/customers/3")
    after = db().get(Customer, 3)
    assert (after.district, after.region) == ("Sha Tin", "New Territories")
    [event] = _events(db(), "customer.update")
    assert set(event.after) <= {"district", "region"}  # notes with CRLF are not a change


def test_send_message_creates_a_message_and_an_audit_event(client: FlaskClient, db) -> None:
    session = db()
    customer_id = session.scalar(
        select(Customer.id).where(Customer.contact_points.any(kind="email")).order_by(Customer.id)
    )
    messages = _count(session, Message, Message.customer_id == customer_id)
    session.close()
    response = client.post(
        f"{BASE}/customers/{customer_id}/messages/new",
        data={
            "channel": "email",
            "kind": "service",
            "subject": "Your repair is ready",
            "body": "Please collect it at the Sha Tin store.",
            "has_opt_out_notice": "y",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Message sent to" in response.get_data(as_text=True)
    session = db()
    assert _count(session, Message, Message.customer_id == customer_id) == messages + 1
    message = session.scalars(select(Message).order_by(Message.id.desc())).first()
    assert (message.subject, message.has_opt_out_notice) == ("Your repair is ready", True)
    [event] = _events(session, "message.send")
    assert event.entity_id == message.id


def test_send_message_without_body_is_refused(client: FlaskClient, db) -> None:
    messages = _count(db(), Message)
    response = client.post(
        f"{BASE}/customers/1/messages/new",
        data={"channel": "email", "kind": "promotional", "subject": "Sale", "body": ""},
    )
    assert response.status_code == 400
    assert _count(db(), Message) == messages


def test_record_consent_and_add_note(client: FlaskClient, db) -> None:
    records = _count(db(), ConsentRecord, ConsentRecord.customer_id == 4)
    response = client.post(
        f"{BASE}/customers/4/consents/new",
        data={
            "purpose": "direct_marketing",
            "channel": "sms",
            "status": "withdrawn",
            "method": "oral",
            "note": "Asked on the phone to stop SMS.",
        },
    )
    assert response.status_code == 302
    assert _count(db(), ConsentRecord, ConsentRecord.customer_id == 4) == records + 1
    response = client.post(
        f"{BASE}/customers/4/notes/new", data={"text": "Prefers calls after 6pm"}
    )
    assert response.status_code == 302
    assert "Prefers calls after 6pm" in db().get(Customer, 4).notes
    page = client.get(f"{BASE}/customers/4").get_data(as_text=True)
    assert "Asked on the phone to stop SMS." in page


def test_contact_point_can_be_flagged_invalid_and_bad_values_are_refused(
    client: FlaskClient, db
) -> None:
    session = db()
    contact = session.scalars(
        select(ContactPoint).where(
            ContactPoint.kind == "mobile", ContactPoint.is_invalid.is_(False)
        )
    ).first()
    url = f"{BASE}/customers/{contact.customer_id}/contacts/{contact.id}/edit"
    value = contact.value
    session.close()
    assert value in client.get(url).get_data(as_text=True)
    refused = client.post(url, data={"value": "12345"})
    assert refused.status_code == 400
    assert "is not a Hong Kong mobile number" in refused.get_data(as_text=True)
    assert db().get(ContactPoint, contact.id).value == value
    saved = client.post(url, data={"value": value, "is_invalid": "y"})
    assert saved.status_code == 302
    assert db().get(ContactPoint, contact.id).is_invalid
    [event] = _events(db(), "contact_point.update")
    assert event.after == {"is_invalid": True}
    other = client.get(f"{BASE}/customers/{contact.customer_id + 1}/contacts/{contact.id}/edit")
    assert other.status_code == 404


def test_consent_not_asked_is_refused_by_the_operation(client: FlaskClient, db) -> None:
    records = _count(db(), ConsentRecord)
    response = client.post(
        f"{BASE}/customers/4/consents/new",
        data={
            "purpose": "direct_marketing",
            "channel": "sms",
            "status": "not_asked",
            "method": "oral",
        },
    )
    assert response.status_code == 400
    assert "not_asked means" in response.get_data(as_text=True)
    assert _count(db(), ConsentRecord) == records


# --- orders -----------------------------------------------------------------------------------


def test_orders_filter_by_status_and_dates(client: FlaskClient, db) -> None:
    session = db()
    expected = _count(session, SalesOrder, SalesOrder.status == "cancelled")
    assert expected
    html = client.get(f"{BASE}/orders?status=cancelled").get_data(as_text=True)
    assert f'Matching orders <span class="count">{expected:,}</span>' in html
    tbody = html.split("<tbody>")[1].split("</tbody>")[0]
    assert tbody.count("<tr>") == min(expected, 50) == tbody.count("Cancelled</span>")
    dated = client.get(f"{BASE}/orders?from=2026-03-01&to=2026-03-16").get_data(as_text=True)
    days = re.findall(r'<td class="nowrap">(\d+) Mar 2026', dated)
    assert days and all(1 <= int(d) <= 16 for d in days)
    assert "2025</td>" not in dated


# --- reports ----------------------------------------------------------------------------------


def _builder_data(**changes: str) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Active VIPs for Marketing",
        "description": "Gold and platinum members who agreed to email marketing",
        "purpose": "Monthly VIP newsletter",
        "source": "customers",
        "columns": ["member_no", "name_en", "tier", "email"],
        "match": "all",
        "filters-0-field": "tier",
        "filters-0-op": "in",
        "filters-0-value": "gold, platinum",
        "filters-1-field": "dm_email",
        "filters-1-op": "in",
        "filters-1-value": "given,no_objection",
        "filters-2-field": "last_order_date",
        "filters-2-op": "ge",
        "filters-2-value": "90 days ago",
        "sort_field": "member_no",
        "sort_dir": "desc",
    }
    for i in range(3, 6):
        data.update({f"filters-{i}-field": "", f"filters-{i}-op": "eq", f"filters-{i}-value": ""})
    data.update(changes)
    return data


def test_builder_shows_fields_with_sensitivity_and_switches_source(client: FlaskClient) -> None:
    html = client.get(f"{BASE}/reports/new").get_data(as_text=True)
    assert 'value="hkid"' in html and "badge--red" in html and "badge--amber" in html
    assert html.count('name="filters-') == 18  # six rows of field, operator, value
    orders = client.get(f"{BASE}/reports/new?source=orders").get_data(as_text=True)
    assert 'value="order_no"' in orders and 'value="hkid"' not in orders
    assert 'name="source" type="hidden" value="orders"' in orders


def test_builder_creates_a_report_with_columns_and_filters(client: FlaskClient, db) -> None:
    response = client.post(f"{BASE}/reports/new", data=_builder_data())
    assert response.status_code == 302
    report = db().scalars(select(ReportDefinition).order_by(ReportDefinition.id.desc())).first()
    assert response.headers["Location"].endswith(f"{BASE}/reports/{report.id}")
    assert report.name == "Active VIPs for Marketing"
    assert report.columns == ["member_no", "name_en", "email", "tier"]  # in the source's order
    assert report.filters == {
        "all": [
            {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
            {"field": "dm_email", "op": "in", "value": ["given", "no_objection"]},
            {"field": "last_order_date", "op": "ge", "value": {"days_ago": 90}},
        ]
    }
    assert report.sort == [["member_no", "desc"]]
    [event] = _events(db(), "report.create")
    assert event.entity_id == report.id
    page = client.get(f"{BASE}/reports/{report.id}").get_data(as_text=True)
    assert 'Customers where Tier is "gold" or "platinum" and' in html.unescape(page)


def test_builder_invalid_filter_shows_inline_error_and_creates_nothing(
    client: FlaskClient, db
) -> None:
    reports = _count(db(), ReportDefinition)
    response = client.post(
        f"{BASE}/reports/new", data=_builder_data(**{"filters-1-value": "maybe"})
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Direct marketing by email has no value" in html
    assert 'class="filter-rows__error"' in html
    assert "Check the highlighted filters." in html
    bad_number = client.post(
        f"{BASE}/reports/new",
        data=_builder_data(
            **{"filters-2-field": "spend_12m", "filters-2-op": "gt", "filters-2-value": "lots"}
        ),
    )
    assert bad_number.status_code == 400
    assert "takes a whole number" in bad_number.get_data(as_text=True)
    huge_number = client.post(
        f"{BASE}/reports/new",
        data=_builder_data(
            **{
                "filters-2-field": "spend_12m",
                "filters-2-op": "gt",
                "filters-2-value": "99999999999999999999",
            }
        ),
    )
    assert huge_number.status_code == 400
    assert "Spend, last 12 months (HK$) is a whole number between" in huge_number.get_data(
        as_text=True
    )
    wrong_op = client.post(
        f"{BASE}/reports/new", data=_builder_data(**{"filters-0-op": "contains"})
    )
    assert "Tier cannot use “contains”; choose one of “is”" in wrong_op.get_data(as_text=True)
    no_columns = client.post(f"{BASE}/reports/new", data=_builder_data(columns=[]))
    assert no_columns.status_code == 400
    assert "Choose at least one column." in no_columns.get_data(as_text=True)
    assert _count(db(), ReportDefinition) == reports
    assert _events(db(), "report.create") == []


def test_edit_report_round_trips_the_filter_rows(client: FlaskClient, db, vip_report: int) -> None:
    html = client.get(f"{BASE}/reports/{vip_report}/edit").get_data(as_text=True)
    assert 'value="gold, platinum"' in html
    response = client.post(
        f"{BASE}/reports/{vip_report}/edit",
        data=_builder_data(name="VIP customers (renamed)"),
    )
    assert response.status_code == 302
    report = db().get(ReportDefinition, vip_report)
    assert report.name == "VIP customers (renamed)"
    assert len(report.filters["all"]) == 3


def test_report_list_shows_mine_and_those_shared_with_my_department(
    client: FlaskClient, crm_store: SandboxStore, db, vip_report: int, trainee: StaffUser
) -> None:
    with crm_store.session(SANDBOX_KEY) as session:
        theirs = session.scalars(
            select(ReportDefinition)
            .where(ReportDefinition.owner_id != trainee.id)
            .order_by(ReportDefinition.id)
        ).first()
        share_report(session, theirs.owner, theirs.id, trainee.department.code)
        session.commit()
        shared_id = theirs.id
    session = db()
    reports = session.scalars(
        select(ReportDefinition).order_by(
            ReportDefinition.updated_at.desc(), ReportDefinition.id.desc()
        )
    ).all()
    visible = [
        r.id
        for r in reports
        if r.owner_id == trainee.id
        or any(share.department_id == trainee.department_id for share in r.shares)
    ]
    assert vip_report in visible and shared_id in visible and len(visible) < len(reports)
    html = client.get(f"{BASE}/reports").get_data(as_text=True)
    listed = re.findall(r'<a class="strong" href="/attempts/1/crm/reports/(\d+)">', html)
    assert [int(report_id) for report_id in listed] == visible  # last changed first
    for report in reports:
        status = client.get(f"{BASE}/reports/{report.id}").status_code
        assert status == (200 if report.id in visible else 404), report.name


def test_share_and_unshare(client: FlaskClient, db, vip_report: int) -> None:
    response = client.post(
        f"{BASE}/reports/{vip_report}/shares", data={"department": "marketing", "can_export": "y"}
    )
    assert response.status_code == 302
    [share] = db().scalars(select(ReportShare).where(ReportShare.report_id == vip_report)).all()
    assert (share.department.code, share.can_export) == ("marketing", True)
    page = client.get(f"{BASE}/reports/{vip_report}").get_data(as_text=True)
    assert "Marketing" in page and "View and export" in page
    again = client.post(
        f"{BASE}/reports/{vip_report}/shares", data={"department": "marketing", "can_export": "y"}
    )
    assert again.status_code == 400
    assert "already shared" in again.get_data(as_text=True)
    removed = client.post(f"{BASE}/reports/{vip_report}/shares/marketing/remove")
    assert removed.status_code == 302
    assert _count(db(), ReportShare, ReportShare.report_id == vip_report) == 0
    assert len(_events(db(), "report.share")) == 1
    assert len(_events(db(), "report.unshare")) == 1


def test_a_refused_form_is_audited_as_a_refused_action(
    client: FlaskClient, db, vip_report: int
) -> None:
    data = {"department": "marketing", "can_export": "y"}
    assert client.post(f"{BASE}/reports/{vip_report}/shares", data=data).status_code == 302
    again = client.post(f"{BASE}/reports/{vip_report}/shares", data=data)
    assert again.status_code == 400  # the trainee sees the error and carries on
    [event] = _events(db(), "operation.refused")
    assert (event.entity_type, event.entity_id) == ("report", vip_report)
    assert event.details["operation"] == "share_report"
    assert event.details["event"] == "report.share"
    assert event.details["message"].startswith("The report is already shared with Marketing")
    assert event.actor_id is not None
    assert len(_events(db(), "report.share")) == 1  # the refusal is not a second share


def test_a_refused_consent_is_rolled_back_and_audited(client: FlaskClient, db) -> None:
    records = _count(db(), ConsentRecord)
    data = {"purpose": "direct_marketing", "channel": "sms", "status": "not_asked"}
    response = client.post(f"{BASE}/customers/4/consents/new", data={**data, "method": "oral"})
    assert response.status_code == 400
    assert _count(db(), ConsentRecord) == records
    assert _events(db(), "consent.record") == []
    [event] = _events(db(), "operation.refused")
    assert (event.entity_type, event.entity_id) == ("customer", 4)
    assert event.details["operation"] == "record_consent"
    assert "not_asked means" in event.details["message"]


def test_a_form_that_fails_its_own_validation_is_not_an_operation_refused(
    client: FlaskClient, db, vip_report: int
) -> None:
    data = {"purpose": "", "destination": "internal_shared_drive", "for_department": ""}
    response = client.post(f"{BASE}/reports/{vip_report}/exports", data=data)
    assert response.status_code == 400
    assert _events(db(), "operation.refused") == []


def test_a_value_the_operations_model_refuses_is_refused_and_audited_as_in_a_script(
    client: FlaskClient, db
) -> None:
    response = client.post(f"{BASE}/customers/4/notes/new", data={"text": "   "})
    assert response.status_code == 400
    assert "Note is required." in response.get_data(as_text=True)
    [event] = _events(db(), "operation.refused")
    assert (event.entity_type, event.entity_id) == ("customer", 4)
    assert (event.details["operation"], event.details["field"]) == ("add_customer_note", "text")
    assert event.details["message"] == "Note is required."
    assert client.get(f"{BASE}/customers/4/notes/new").status_code == 200
    assert 'maxlength="2000"' in client.get(f"{BASE}/customers/4/notes/new").get_data(as_text=True)


def test_run_shows_the_rows(client: FlaskClient, db, vip_report: int) -> None:
    session = db()
    vip = session.scalars(
        select(Customer.member_no)
        .where(Customer.tier.in_(["gold", "platinum"]))
        .order_by(Customer.member_no)
    ).all()
    session.close()
    response = client.post(f"{BASE}/reports/{vip_report}/runs")
    assert response.status_code == 302
    run = db().scalars(select(ReportRun)).one()
    assert response.headers["Location"].endswith(f"{BASE}/reports/{vip_report}/runs/{run.id}")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{len(vip)} rows" in html
    assert vip[0] in html
    assert "Member no." in html  # column labels, not field names
    assert len(_events(db(), "report.run")) == 1


def test_export_stores_the_choices_and_download_returns_csv(
    client: FlaskClient, db, vip_report: int
) -> None:
    response = client.post(
        f"{BASE}/reports/{vip_report}/exports",
        data={
            "purpose": "VIP newsletter mailing list",
            "destination": "internal_shared_drive",
            "for_department": "marketing",
            "encrypted": "y",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    export = db().scalars(select(ReportExport)).one()
    assert (export.purpose, export.destination, export.encrypted) == (
        "VIP newsletter mailing list",
        "internal_shared_drive",
        True,
    )
    assert export.for_department.code == "marketing"
    html = response.get_data(as_text=True)
    assert f"{BASE}/exports/{export.id}/download" in html
    download = client.get(f"{BASE}/exports/{export.id}/download")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    assert ".csv" in download.headers["Content-Disposition"]
    text = download.get_data(as_text=True)
    assert text.startswith("\ufeff")  # so that Excel reads the file as UTF-8
    assert text.removeprefix("\ufeff") == export.content
    assert text.splitlines()[0] == "\ufeffMember no.,Name (English),Tier"
    assert client.get(f"{BASE}/exports/{export.id + 1}/download").status_code == 404


def test_an_xlsx_export_opens_as_a_workbook_with_labels_and_rows(
    client: FlaskClient, db, vip_report: int
) -> None:
    from openpyxl import load_workbook

    session = db()
    customer = session.scalars(select(Customer).where(Customer.tier == "platinum")).first()
    customer.name_en = '=HYPERLINK("http://evil.example","x")'
    session.commit()
    response = client.post(
        f"{BASE}/reports/{vip_report}/exports",
        data={
            "purpose": "VIP newsletter mailing list",
            "destination": "internal_shared_drive",
            "file_format": "xlsx",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    export = db().scalars(select(ReportExport)).one()
    assert export.file_format == "xlsx"
    assert "Download XLSX" in response.get_data(as_text=True)
    download = client.get(f"{BASE}/exports/{export.id}/download")
    assert download.status_code == 200
    assert download.mimetype.endswith("spreadsheetml.sheet")
    assert ".xlsx" in download.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(download.get_data())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Member no.", "Name (English)", "Tier"]
    assert len(rows) - 1 == export.row_count > 0
    assert {row[2] for row in rows[1:]} <= {"Gold", "Platinum"}
    # Text that looks like a formula is stored as text, not as a formula.
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    hostile = [c for c in cells if c.value == '=HYPERLINK("http://evil.example","x")']
    assert hostile and all(c.data_type == "s" for c in hostile)
    assert all(c.data_type != "f" for c in cells)


def test_an_export_with_field_codes_keeps_the_codes_as_headers(
    client: FlaskClient, db, vip_report: int
) -> None:
    client.post(
        f"{BASE}/reports/{vip_report}/exports",
        data={
            "purpose": "VIP newsletter mailing list",
            "destination": "internal_shared_drive",
            "headers": "codes",
        },
    )
    export = db().scalars(select(ReportExport)).one()
    text = client.get(f"{BASE}/exports/{export.id}/download").get_data(as_text=True)
    assert text.splitlines()[0] == "\ufeffmember_no,name_en,tier"


def test_export_to_an_unknown_destination_is_refused(
    client: FlaskClient, db, vip_report: int
) -> None:
    response = client.post(
        f"{BASE}/reports/{vip_report}/exports",
        data={"purpose": "x", "destination": "carrier_pigeon", "for_department": ""},
    )
    assert response.status_code == 400
    assert "Destination must be one of" in response.get_data(as_text=True)
    assert _count(db(), ReportExport) == 0


def test_someone_elses_export_cannot_be_downloaded(
    client: FlaskClient, crm_store: SandboxStore, vip_report: int
) -> None:
    from sandbox_crm.operations import export_report

    with crm_store.session(SANDBOX_KEY) as session:
        other = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(False))).first()
        report = create_report(
            session, other, name="Theirs", source="customers", columns=["member_no"]
        )
        export = export_report(session, other, report.id, destination="internal_email")
        session.commit()
        export_id = export.id
    assert client.get(f"{BASE}/exports/{export_id}/download").status_code == 404


def test_delete_report(client: FlaskClient, db, vip_report: int) -> None:
    response = client.post(f"{BASE}/reports/{vip_report}/delete")
    assert response.status_code == 302
    assert db().get(ReportDefinition, vip_report).is_deleted
    assert client.get(f"{BASE}/reports/{vip_report}").status_code == 404


# --- read-only and CSRF -----------------------------------------------------------------------


def test_read_only_sandbox_refuses_every_post_and_changes_nothing(
    client: FlaskClient, db, vip_report: int, trainee: StaffUser
) -> None:
    with db() as session:
        run_report(session, session.get(StaffUser, trainee.id), vip_report)
        session.commit()
    events = _count(db(), AuditEvent)
    posts = {
        f"{FROZEN}/customers/3/edit": {"name_en": "Changed", "district": "Sha Tin"},
        f"{FROZEN}/customers/3/notes/new": {"text": "hello"},
        f"{FROZEN}/customers/3/messages/new": {"channel": "email", "kind": "service", "body": "x"},
        f"{FROZEN}/reports/new": _builder_data(),
        f"{FROZEN}/reports/{vip_report}/shares": {"department": "marketing"},
        f"{FROZEN}/reports/{vip_report}/runs": {},
        f"{FROZEN}/reports/{vip_report}/delete": {},
    }
    for url, data in posts.items():
        response = client.post(url, data=data, follow_redirects=True)
        assert response.status_code == 200, url
        assert READ_ONLY_MESSAGE in response.get_data(as_text=True), url
    assert _count(db(), AuditEvent) == events
    assert db().get(Customer, 3).name_en != "Changed"


def test_read_only_customer_page_hides_actions_and_records_no_view(client: FlaskClient, db) -> None:
    html = client.get(f"{FROZEN}/customers/5").get_data(as_text=True)
    assert "Read-only" in html
    assert "Send message" not in html and "Record consent" not in html
    assert 'method="post"' not in html
    assert _events(db(), "customer.view") == []


def test_post_without_csrf_token_is_rejected(crm_store: SandboxStore, db) -> None:
    client = _make_app(crm_store, csrf=True).test_client()
    messages = _count(db(), Message)
    response = client.post(
        f"{BASE}/customers/1/messages/new",
        data={"channel": "email", "kind": "service", "subject": "Hi", "body": "Hello"},
    )
    assert response.status_code == 400
    assert _count(db(), Message) == messages
    form = client.get(f"{BASE}/customers/1/messages/new").get_data(as_text=True)
    assert 'name="csrf_token"' in form


# --- the builder's filter rows ----------------------------------------------------------------


def test_filter_rows_read_values_by_field_type() -> None:
    source = get_source("customers")
    rows = [
        FilterRow("spend_12m", "between", "HK$10000 , 50000"),
        FilterRow("joined_on", "ge", "today"),
        FilterRow("last_order_date", "lt", "6 months ago"),
        FilterRow("email_invalid", "eq", "no"),
        FilterRow("hkid", "is_null", "ignored"),
        FilterRow("", "eq", "blank rows are skipped"),
    ]
    condition, errors = build_condition(source, "any", rows)
    assert errors == {}
    assert condition == {
        "any": [
            {"field": "spend_12m", "op": "between", "value": [10000, 50000]},
            {"field": "joined_on", "op": "ge", "value": "today"},
            {"field": "last_order_date", "op": "lt", "value": {"months_ago": 6}},
            {"field": "email_invalid", "op": "eq", "value": False},
            {"field": "hkid", "op": "is_null"},
        ]
    }
    assert rows_from_condition(condition)[1][0] == FilterRow("spend_12m", "between", "10000, 50000")
    assert rows_from_condition({"not": {"field": "tier", "op": "eq", "value": "gold"}}) is None


def test_filter_rows_report_errors_per_row() -> None:
    source = get_source("customers")
    rows = [
        FilterRow("tier", "eq", "diamond"),
        FilterRow("joined_on", "ge", "last Tuesday"),
        FilterRow("spend_12m", "between", "100"),
        FilterRow("region", "eq", "Kowloon"),
        FilterRow("last_order_date", "ge", "9999999 days ago"),
    ]
    condition, errors = build_condition(source, "all", rows)
    assert condition is None
    assert set(errors) == {0, 1, 2, 4}  # every bad row at once, the good one untouched
    assert errors[0].startswith("Tier has no value 'diamond'")
    assert "takes a date" in errors[1]
    assert "two values" in errors[2]
    assert errors[4] == "Last order date goes back at most 365,250 days; got 9,999,999."


def test_form_placeholders_are_text_not_template_syntax(client: FlaskClient) -> None:
    # A translated placeholder is an expression argument, never "{{ ... }}" inside one.
    pages = [f"{BASE}/customers/3", f"{BASE}/reports/new"]
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        assert "{{" not in html and "{%" not in html, url
    assert 'placeholder="What happened, what was agreed…"' in client.get(
        f"{BASE}/customers/3"
    ).get_data(as_text=True)
    assert 'placeholder="value"' in client.get(f"{BASE}/reports/new").get_data(as_text=True)
