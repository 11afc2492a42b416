"""Summary reports: groups, measures, charts, files and the summary check, through every door."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox_crm.eshop.models import EshopAccount, EshopOrder
from sandbox_crm.eshop.sources import ESHOP_SALE_CODES
from sandbox_crm.generator import PlantSpec
from sandbox_crm.models import (
    Customer,
    OrderLine,
    Product,
    ReportDefinition,
    ReportExport,
    SalesOrder,
)
from sandbox_crm.operations import OperationError
from sandbox_crm.query import select_rows
from sandbox_crm.reports.aggregation import summarise
from sandbox_crm.reports.plants import last_quarter
from sandbox_crm.store import SandboxStore
from tests.sandbox_fixtures import SANDBOX_TODAY, small_spec
from tests.test_crm_web import BASE, SANDBOX_KEY, _make_app

SALES_Q = {
    "all": [
        {"field": "is_sale", "op": "eq", "value": True},
        {"field": "placed_at", "op": "ge", "value": {"months_ago": 6}},
    ]
}


# --- the operations layer ---------------------------------------------------------------------


def test_a_summary_groups_rows_and_computes_each_measure(attempt) -> None:
    report = attempt.report(
        name="Orders by channel",
        source="orders",
        columns=[],
        filters=None,
        group_by=["channel"],
        measures=["count", "sum:total_hkd", "avg:total_hkd", "count_distinct:customer_id"],
    )
    run = attempt.do("run_report", report_id=report.id)
    assert run.columns == [
        "channel",
        "count",
        "sum:total_hkd",
        "avg:total_hkd",
        "count_distinct:customer_id",
    ]
    assert run.row_keys == []
    orders = attempt.session.execute(
        select(
            SalesOrder.channel,
            func.count(),
            func.sum(SalesOrder.total_hkd),
            func.count(SalesOrder.customer_id.distinct()),
        ).group_by(SalesOrder.channel)
    ).all()
    lines = run.output_csv.strip().splitlines()[1:]
    found = {line.split(",")[0]: line.split(",") for line in lines}
    assert set(found) == {channel for channel, *_ in orders}
    for channel, count, total, customers in orders:
        row = found[channel]
        assert (int(row[1]), int(row[2]), int(row[4])) == (count, total, customers)
        assert float(row[3]) == pytest.approx(total / count, abs=0.01)


def test_bands_put_dates_into_months_and_quarters(attempt) -> None:
    report = attempt.report(
        name="Orders by quarter",
        source="orders",
        columns=[],
        filters=None,
        group_by=["ordered_at:quarter", "channel"],
        measures=["count"],
    )
    run = attempt.do("run_report", report_id=report.id)
    quarters = {line.split(",")[0] for line in run.output_csv.strip().splitlines()[1:]}
    assert quarters and all(len(q) == 7 and q[4:6] == "-Q" for q in quarters)


@pytest.mark.parametrize(
    ("group_by", "measures", "words"),
    [
        (["district"], ["sum:district"], "sum needs a number"),
        (["favourite_colour"], ["count"], "unknown field 'favourite_colour'"),
        (["joined_on"], ["count"], "joined_on:month"),
        (["district"], [], "choose at least one measure"),
        (["district", "tier", "region"], ["count"], "at most 2 fields"),
        (["district"], ["rate:district"], "rate does not apply to district"),
    ],
)
def test_a_summary_that_does_not_fit_is_refused_with_a_clear_message(
    attempt, group_by: list[str], measures: list[str], words: str
) -> None:
    before = attempt.session.scalar(select(func.count()).select_from(ReportDefinition))
    with pytest.raises(OperationError) as refused:
        attempt.report(name="Bad", columns=[], group_by=group_by, measures=measures)
    assert words in refused.value.message
    attempt.session.rollback()
    assert attempt.session.scalar(select(func.count()).select_from(ReportDefinition)) == before


def test_a_summary_with_too_many_groups_is_refused_when_run(attempt, monkeypatch) -> None:
    monkeypatch.setattr("sandbox_crm.reports.aggregation.MAX_GROUPS", 3)
    report = attempt.report(
        name="By district", columns=[], filters=None, group_by=["district"], measures=["count"]
    )
    with pytest.raises(OperationError) as refused:
        attempt.do("run_report", report_id=report.id)
    assert "groups" in refused.value.message and "broader" in refused.value.message


def test_a_summary_exports_as_csv_and_xlsx_with_labels_and_numbers(attempt) -> None:
    report = attempt.report(
        name="Customers by tier",
        columns=[],
        filters=None,
        group_by=["tier"],
        measures=["count", "avg:spend_12m"],
    )
    csv_export = attempt.export(report.id)
    header = csv_export.content.splitlines()[0]
    assert header == 'Tier,Number of rows,"Average Spend, last 12 months (HK$)"'
    assert csv_export.summary and csv_export.columns == ["tier"]
    xlsx_export = attempt.export(report.id, file_format="xlsx")
    from sandbox_crm.reports.files import render_xlsx

    sheet = load_workbook(
        io.BytesIO(render_xlsx(None, xlsx_export.columns, xlsx_export.content, summary=True))
    ).active
    counts = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert counts and all(isinstance(count, int) for count in counts)
    customers = attempt.session.scalar(select(func.count()).select_from(Customer))
    assert sum(counts) == customers


def test_a_summary_by_internal_fields_is_not_personal_data_but_one_by_name_is(attempt) -> None:
    by_tier = attempt.report(
        name="By tier", columns=[], filters=None, group_by=["tier"], measures=["count"]
    )
    attempt.export(by_tier.id, destination="internal_email", encrypted=False)
    assert attempt.rule("SEC-02").status.value in ("pass", "not_applicable")
    by_name = attempt.report(
        name="By name", columns=[], filters=None, group_by=["name_en"], measures=["count"]
    )
    attempt.export(by_name.id, destination="internal_email", encrypted=False)
    assert attempt.rule("SEC-02").status.value == "fail"


# --- the summary check ------------------------------------------------------------------------

EXPECT = {
    "source": "sales",
    "where": SALES_Q,
    "group_by": ["channel", "placed_at:month"],
    "measures": ["count", "sum:total_hkd"],
}


def _sales_report(attempt, **changes) -> None:
    args = {
        "name": "Sales",
        "source": "sales",
        "columns": [],
        "filters": SALES_Q,
        "group_by": ["placed_at:month", "channel"],
        "measures": ["sum:total_hkd", "count", "avg:total_hkd"],
    }
    args.update(changes)
    attempt.report(**args)


def test_summary_matches_passes_the_requested_summary_in_any_group_order(attempt) -> None:
    _sales_report(attempt)
    outcome = attempt.check("report.summary_matches", {"report": "report", "expect": EXPECT})
    assert outcome.status.value == "pass", outcome.evidence
    assert outcome.evidence["figures_checked"] > 0


@pytest.mark.parametrize(
    ("changes", "evidence"),
    [
        (
            {"filters": {"field": "placed_at", "op": "ge", "value": {"months_ago": 6}}},
            "differences",
        ),
        ({"measures": ["count_distinct:system_customer", "count"]}, "measures"),
        ({"group_by": ["channel"]}, "group_by"),
        ({"group_by": ["channel", "customer_name"]}, "personal_fields"),
        ({"group_by": [], "measures": [], "columns": ["order_ref"]}, "report_id"),
    ],
)
def test_summary_matches_fails_a_wrong_summary(attempt, changes, evidence) -> None:
    _sales_report(attempt, **changes)
    outcome = attempt.check("report.summary_matches", {"report": "report", "expect": EXPECT})
    assert outcome.status.value == "fail"
    assert evidence in outcome.evidence
    assert outcome.note


def test_summary_matches_rejects_an_aggregate_on_text_in_its_parameters() -> None:
    from graders.checks.report import SummaryMatchesParams

    with pytest.raises(ValueError, match="sum needs a number"):
        SummaryMatchesParams.model_validate(
            {"report": "report", "expect": {**EXPECT, "measures": ["sum:channel"]}}
        )


# --- the web client ---------------------------------------------------------------------------


@pytest.fixture
def crm_store(sandbox_store: SandboxStore, sandbox_spec) -> SandboxStore:
    sandbox_store.create(SANDBOX_KEY, sandbox_spec, clock_mode="stepped")
    return sandbox_store


@pytest.fixture
def client(crm_store: SandboxStore) -> FlaskClient:
    return _make_app(crm_store).test_client()


@pytest.fixture
def db(crm_store: SandboxStore) -> Iterator[Callable[[], Session]]:
    stack = ExitStack()
    yield lambda: stack.enter_context(crm_store.session(SANDBOX_KEY))
    stack.close()


def _newest(session: Session) -> ReportDefinition:
    return session.scalars(select(ReportDefinition).order_by(ReportDefinition.id.desc())).first()


def _summary_form(**changes: str) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Customers by tier",
        "purpose": "Customer distribution for Marketing",
        "source": "customers",
        "match": "all",
        "group_1": "tier",
        "group_2": "",
        "measure_1": "count",
        "measure_field_1": "",
        "measure_2": "avg",
        "measure_field_2": "spend_12m",
        "measure_3": "",
        "measure_field_3": "",
    }
    for i in range(6):
        data.update({f"filters-{i}-field": "", f"filters-{i}-op": "eq", f"filters-{i}-value": ""})
    data.update(changes)
    return data


def test_the_builder_saves_a_summary_and_its_run_shows_a_bar_chart(client, db) -> None:
    response = client.post(f"{BASE}/reports/new", data=_summary_form())
    assert response.status_code == 302
    report = _newest(db())
    assert report.group_by == ["tier"] and report.measures == ["count", "avg:spend_12m"]
    page = client.get(f"{BASE}/reports/{report.id}").get_data(as_text=True)
    assert "Number of rows, Average Spend, last 12 months (HK$) by Tier" in page
    ran = client.post(f"{BASE}/reports/{report.id}/runs")
    assert ran.status_code == 302
    run_page = client.get(ran.headers["Location"]).get_data(as_text=True)
    assert '<svg class="chart chart--bars" role="img"' in run_page
    assert '<title id="chart-title">Number of rows</title>' in run_page
    desc = run_page.split('<desc id="chart-desc">')[1].split("</desc>")[0]
    assert "Gold: " in desc or "gold: " in desc
    assert "<table" in run_page  # the figures beside the chart


def test_the_run_of_a_two_way_summary_shows_a_heat_table(client, db) -> None:
    client.post(f"{BASE}/reports/new", data=_summary_form(group_2="region"))
    report = _newest(db())
    ran = client.post(f"{BASE}/reports/{report.id}/runs")
    run_page = client.get(ran.headers["Location"] + "?measure=3").get_data(as_text=True)
    assert 'class="table table--compact heat-table"' in run_page
    assert "<caption>Average Spend, last 12 months (HK$)</caption>" in run_page


def test_the_builder_refuses_a_total_of_a_text_field_and_saves_nothing(client, db) -> None:
    response = client.post(
        f"{BASE}/reports/new", data=_summary_form(measure_2="sum", measure_field_2="district")
    )
    assert response.status_code in (400, 422)
    assert "sum needs a number" in response.get_data(as_text=True)
    assert (
        db()
        .scalars(select(ReportDefinition).where(ReportDefinition.name == "Customers by tier"))
        .all()
        == []
    )


def test_a_summary_downloads_as_xlsx_with_numbers(client, db) -> None:
    client.post(f"{BASE}/reports/new", data=_summary_form())
    report = _newest(db())
    response = client.post(
        f"{BASE}/reports/{report.id}/exports",
        data={
            "purpose": "Customer distribution by tier for Marketing",
            "destination": "internal_shared_drive",
            "for_department": "marketing",
            "encrypted": "y",
            "file_format": "xlsx",
            "headers": "labels",
        },
    )
    assert response.status_code == 302
    export = db().scalars(select(ReportExport)).one()
    download = client.get(f"{BASE}/exports/{export.id}/download")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Tier", "Number of rows")
    assert all(isinstance(row[1], int) for row in rows[1:])


# --- the sales sources over both systems ------------------------------------------------------


@pytest.fixture
def online_sandbox(sandbox_store: SandboxStore) -> Iterator[Session]:
    """A small sandbox with two linked e-shop shoppers and one the CRM does not know."""
    spec = small_spec(
        plants=(
            PlantSpec.of("online_sales", 2, linked=True),
            PlantSpec.of("online_sales", 1, linked=False),
        )
    )
    sandbox_store.create("online", spec)
    with sandbox_store.session("online") as session:
        yield session


def _quarter_sales(session: Session, measures: list[str]) -> list[list[object]]:
    where = {
        "all": [
            {"field": "is_sale", "op": "eq", "value": True},
            {"field": "placed_at", "op": "between", "value": list(last_quarter(SANDBOX_TODAY))},
            {"field": "crm_customer_id", "op": "not_null"},
        ]
    }
    table = summarise(
        session, "sales", where=where, group_by=[], measures=measures, as_of=SANDBOX_TODAY
    )
    return table.rows


def test_a_linked_shopper_is_one_customer_across_both_systems(online_sandbox: Session) -> None:
    linked = online_sandbox.scalars(
        select(EshopAccount.customer_id).where(EshopAccount.customer_id.isnot(None))
    ).all()
    assert len(linked) == 2
    rows = select_rows(
        online_sandbox,
        "sales",
        where={"field": "crm_customer_id", "op": "in", "value": list(linked)},
        columns=["system", "customer_key", "system_customer"],
        as_of=SANDBOX_TODAY,
    ).rows
    assert {r["system"] for r in rows} == {"crm", "eshop"}
    assert {r["customer_key"] for r in rows} == {f"C{cid}" for cid in linked}
    # Each system's own number: the e-shop account is another "customer".
    assert len({r["system_customer"] for r in rows}) == 4
    ((once, twice),) = _quarter_sales(
        online_sandbox, ["count_distinct:customer_key", "count_distinct:system_customer"]
    )
    assert twice > once


def test_the_first_sale_is_not_a_returning_customer_and_later_ones_are(
    online_sandbox: Session,
) -> None:
    unknown = online_sandbox.scalars(
        select(EshopAccount.account_no).where(EshopAccount.customer_id.is_(None))
    ).one()
    rows = select_rows(
        online_sandbox,
        "sales",
        where={
            "all": [
                {"field": "customer_key", "op": "eq", "value": f"E{unknown}"},
                {"field": "is_sale", "op": "eq", "value": True},
            ]
        },
        columns=["placed_at", "repeat_buyer"],
        sort=[["placed_at", "asc"]],
        as_of=SANDBOX_TODAY,
    ).rows
    assert [r["repeat_buyer"] for r in rows] == [False] + [True] * (len(rows) - 1)


def test_a_session_converts_when_an_order_follows_within_a_day(online_sandbox: Session) -> None:
    rows = select_rows(
        online_sandbox,
        "eshop_activity",
        where={"field": "kind", "op": "eq", "value": "session"},
        columns=["account_id", "occurred_at", "converted"],
        as_of=SANDBOX_TODAY,
    ).rows
    sales = online_sandbox.execute(
        select(EshopOrder.account_id, EshopOrder.placed_at).where(
            EshopOrder.status_code.in_(ESHOP_SALE_CODES)
        )
    ).all()
    for row in rows:
        expected = any(
            account == row["account_id"]
            and row["occurred_at"] <= placed < row["occurred_at"] + timedelta(days=1)
            for account, placed in sales
        )
        assert row["converted"] is expected
    assert any(r["converted"] for r in rows) and not all(r["converted"] for r in rows)


def test_customers_by_product_category_count_each_customer_once_per_category(attempt) -> None:
    report = attempt.report(
        name="Customers by category",
        source="order_lines",
        columns=[],
        filters={"field": "is_sale", "op": "eq", "value": True},
        group_by=["category"],
        measures=["count_distinct:customer_id", "sum:line_total_hkd"],
    )
    run = attempt.do("run_report", report_id=report.id)
    found = {
        line.split(",")[0]: (int(line.split(",")[1]), int(line.split(",")[2]))
        for line in run.output_csv.strip().splitlines()[1:]
    }
    expected = attempt.session.execute(
        select(
            Product.category,
            func.count(SalesOrder.customer_id.distinct()),
            func.sum(OrderLine.line_total_hkd),
        )
        .join(OrderLine, OrderLine.product_id == Product.id)
        .join(SalesOrder, SalesOrder.id == OrderLine.order_id)
        .where(SalesOrder.status.in_(["paid", "shipped", "completed"]))
        .group_by(Product.category)
    ).all()
    assert found == {category: (customers, total) for category, customers, total in expected}


# --- practicum attempt ------------------------------------------------------------------------

_SALES_STEP = """
- op: create_report
  deliverable: sales
  args:
    name: Q3 sales
    source: sales
    filters:
      all:
        - {field: is_sale, op: eq, value: true}
        - {field: placed_at, op: between, value: ["2026-07-01", "2026-09-30"]}
    group_by: [channel, "placed_at:month"]
    measures: %s
"""


def test_practicum_attempt_scripts_a_summary_and_grades_it(runner, tmp_path) -> None:
    steps = tmp_path / "steps.yaml"
    steps.write_text(_SALES_STEP % '[count, "sum:total_hkd", "avg:total_hkd"]')
    result = runner.invoke(
        args=["attempt", "107186L4-sales-activity", "--steps", str(steps), "--json"]
    )
    assert result.exit_code == 0, result.output
    checks = {c["check_id"]: c["status"] for c in json.loads(result.output)["checks"]}
    assert checks["sales-figures"] == "pass"
    assert checks["customers-once"] == "fail"  # not built


def test_practicum_attempt_reports_a_refused_summary(runner, tmp_path) -> None:
    steps = tmp_path / "steps.yaml"
    steps.write_text(_SALES_STEP % '["sum:channel"]')
    result = runner.invoke(args=["attempt", "107186L4-sales-activity", "--steps", str(steps)])
    assert "sum needs a number; channel is enum, not a number" in result.output
