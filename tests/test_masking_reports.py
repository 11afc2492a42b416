"""Field masking on report runs, their CSV and XLSX exports, and the e-shop's pages.

A report's output is masked exactly as the customer pages are: a role that sees identity
numbers masked gets them masked on the run's page and in the exported file; a hidden field's
column is left out. A run and a file keep what the role that made them could see (the grading
decision: the PDPO rules judge what actually left the CRM), and a filter, sort or summary on a
field the role does not see in full is refused, so that it cannot work as an oracle.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.results import Status
from sandbox_crm.eshop.models import EshopAccount, EshopActivity
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import Customer, ReportExport, ReportRun, StaffUser
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.store import SandboxStore
from sandbox_crm.web.masking import mask_email, mask_mobile
from tests.graders_helpers import Attempt
from tests.sandbox_fixtures import SANDBOX_TODAY
from tests.test_crm_web import BASE, _make_app
from tests.test_crm_web import SANDBOX_KEY as WEB_KEY

HKID = "A123456(3)"
DOB = date(1988, 5, 17)
COLUMNS = ["member_no", "name_en", "hkid", "date_of_birth", "spend_12m"]
EXPORT_FORM = {
    "purpose": "Identity check for a large jewellery purchase",
    "destination": "internal_shared_drive",
    "for_department": "",
    "encrypted": "y",
    "headers": "codes",
}


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    """A small jewellery sandbox (it has roles, field permissions and an e-shop)."""
    return GenerationSpec(
        profile="jewellery",
        seed=4207,
        customers=80,
        today=SANDBOX_TODAY,
        acting_department="it",
    )


def _trainee(session: Session) -> StaffUser:
    return session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()


def _configure(do: Callable[..., Any], staff_id: int, role: str, access: dict[str, str]) -> None:
    """Give the trainee ``role`` and set that role's field permissions, as in Security."""
    for field, value in access.items():
        _tolerant(do, "set_field_permission", role=role, field=field, access=value)
    _tolerant(do, "set_staff_access", staff_id=staff_id, role=role, scope="all")


def _tolerant(do: Callable[..., Any], op: str, **args: Any) -> None:
    """Apply a security change; one that changes nothing (already so) is fine here."""
    try:
        do(op, **args)
    except OperationError as error:
        assert "already" in str(error), error


@dataclass
class Crm:
    """The sandbox, a client on its CRM pages, and a customer with an HKID and birthday on file."""

    store: SandboxStore
    client: FlaskClient
    customer_id: int
    member_no: str

    def do(self, op: str, **args: Any) -> Any:
        """Apply an operation as the trainee and commit (like a click); the entity's id."""
        with self.store.session(WEB_KEY) as session:
            entity = apply_operation(session, _trainee(session), op, args)
            session.commit()
            return getattr(entity, "id", None)

    def configure(self, role: str, **access: str) -> None:
        """Give the trainee ``role`` and set that role's field permissions, as in Security."""
        with self.store.session(WEB_KEY) as session:
            staff_id = _trainee(session).id
        _configure(self.do, staff_id, role, access)

    def all(self, model: Any) -> list[Any]:
        """Every row of a sandbox table, detached."""
        with self.store.session(WEB_KEY) as session:
            rows = list(session.scalars(select(model).order_by(model.id)))
            session.expunge_all()
            return rows

    def report(self, columns: list[str] = COLUMNS, **args: Any) -> int:
        """A report of the customer on file (by member number) with ``columns``."""
        args.setdefault("filters", {"field": "member_no", "op": "eq", "value": self.member_no})
        args.update(name="ID check", source="customers", columns=columns)
        return self.do("create_report", **args)

    def page(self, url: str) -> str:
        """A CRM page's HTML (it must not fail)."""
        response = self.client.get(f"{BASE}{url}")
        assert response.status_code == 200, url
        return response.get_data(as_text=True)

    def run(self, report_id: int, preview: str = "") -> str:
        """Run the report from its page and open the run's output."""
        response = self.client.post(f"{BASE}/reports/{report_id}/runs")
        assert response.status_code == 302, response.get_data(as_text=True)
        return self.page(response.headers["Location"].split("/crm", 1)[1] + preview)

    def export(self, report_id: int, file_format: str = "csv") -> bytes:
        """Export the report from its page and download the file."""
        response = self.client.post(
            f"{BASE}/reports/{report_id}/exports", data={**EXPORT_FORM, "file_format": file_format}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        export_id = self.all(ReportExport)[-1].id
        download = self.client.get(f"{BASE}/exports/{export_id}/download")
        assert download.status_code == 200
        return download.data


def _open_crm(store: SandboxStore, spec: GenerationSpec) -> Crm:
    """A fresh sandbox of ``spec`` on the CRM's pages, a member with an HKID and birthday."""
    store.create(WEB_KEY, spec, clock_mode="stepped")
    with store.session(WEB_KEY) as session:
        customer = session.scalars(
            select(Customer).where(Customer.member_no.is_not(None)).order_by(Customer.id)
        ).first()
        assert customer is not None
        customer.hkid, customer.date_of_birth = HKID, DOB
        session.commit()
        return Crm(store, _make_app(store).test_client(), customer.id, customer.member_no)


@pytest.fixture
def crm(sandbox_store: SandboxStore, sandbox_spec: GenerationSpec) -> Crm:
    return _open_crm(sandbox_store, sandbox_spec)


@pytest.fixture
def eshop_crm(sandbox_store: SandboxStore, sandbox_spec: GenerationSpec) -> Crm:
    """The jewellery sandbox with accounts in its e-shop to import."""
    spec = replace(sandbox_spec, plants=(PlantSpec.of("eshop_accounts", 2),))
    return _open_crm(sandbox_store, spec)


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _xlsx_rows(data: bytes) -> list[dict[str, Any]]:
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# --- the run's output page --------------------------------------------------------------------


def test_a_full_role_sees_every_value_on_the_run_page(crm: Crm) -> None:
    crm.configure("manager", hkid="full", date_of_birth="full", spend_12m="full")
    html = crm.run(crm.report())
    assert HKID in html and "17 May 1988" in html


def test_a_masked_role_sees_masks_on_the_run_page(crm: Crm) -> None:
    crm.configure("manager", hkid="masked", date_of_birth="masked", spend_12m="masked")
    html = crm.run(crm.report())
    assert HKID not in html and "123456" not in html and "1988" not in html
    assert "A123***(*)" in html and "**/05/****" in html and "HK$" in html


def test_the_report_page_says_which_columns_the_role_sees_masked_or_not_at_all(crm: Crm) -> None:
    crm.configure("manager", hkid="hidden", date_of_birth="masked", spend_12m="full")
    html = crm.page(f"/reports/{crm.report()}")
    assert "(not shown for your role: left out of runs and files)" in html
    assert html.count("(masked for your role, in runs and files too)") == 1
    crm.configure("manager", hkid="full", date_of_birth="full")
    html = crm.page(f"/reports/{crm.report()}")
    assert "for your role" not in html


def test_a_hidden_field_is_absent_from_the_run_page(crm: Crm) -> None:
    crm.configure("manager", hkid="hidden", date_of_birth="full", spend_12m="full")
    html = crm.run(crm.report())
    table = html.split("<table", 1)[1]
    assert "A123" not in html and "HKID number" not in table
    assert "17 May 1988" in table
    assert "Not shown for your role: HKID number." in html


def test_previewing_a_masked_role_masks_a_run_for_an_administrator(crm: Crm) -> None:
    crm.configure("marketing", hkid="hidden", date_of_birth="masked")
    crm.configure("admin", hkid="full", date_of_birth="full", spend_12m="full")
    own = crm.run(crm.report())
    assert HKID in own
    preview = crm.run(crm.report(), preview="?as_role=marketing")
    assert HKID not in preview and "A123" not in preview and "**/05/****" in preview
    assert "Previewing as Marketing" in preview


# --- the exported files -----------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_full_role_exports_the_values(crm: Crm, file_format: str) -> None:
    crm.configure("manager", hkid="full", date_of_birth="full", spend_12m="full")
    data = crm.export(crm.report(), file_format)
    (row,) = _csv_rows(data) if file_format == "csv" else _xlsx_rows(data)
    assert row["hkid"] == HKID and str(row["date_of_birth"]) == "1988-05-17"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_masked_role_exports_the_masks(crm: Crm, file_format: str) -> None:
    crm.configure("manager", hkid="masked", date_of_birth="masked", spend_12m="masked")
    data = crm.export(crm.report(), file_format)
    (row,) = _csv_rows(data) if file_format == "csv" else _xlsx_rows(data)
    assert row["hkid"] == "A123***(*)" and row["date_of_birth"] == "**/05/****"
    assert str(row["spend_12m"]).startswith(("HK$", "under"))
    (export,) = crm.all(ReportExport)
    assert HKID not in export.content and "1988" not in export.content


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_hidden_field_is_left_out_of_the_file(crm: Crm, file_format: str) -> None:
    crm.configure("manager", hkid="hidden", date_of_birth="full", spend_12m="full")
    data = crm.export(crm.report(), file_format)
    (row,) = _csv_rows(data) if file_format == "csv" else _xlsx_rows(data)
    assert "hkid" not in row and str(row["date_of_birth"]) == "1988-05-17"
    (export,) = crm.all(ReportExport)
    assert "hkid" not in export.columns and "A123" not in export.content


def test_a_file_downloaded_after_the_role_lost_access_is_masked(crm: Crm) -> None:
    crm.configure("manager", hkid="full", date_of_birth="full", spend_12m="full")
    crm.export(crm.report())
    crm.configure("manager", hkid="masked", date_of_birth="hidden")
    (export,) = crm.all(ReportExport)
    (row,) = _csv_rows(crm.client.get(f"{BASE}/exports/{export.id}/download").data)
    assert row["hkid"] == "A123***(*)" and "date_of_birth" not in row


# --- what a run keeps (the grading decision) --------------------------------------------------


def test_a_run_keeps_what_its_runner_could_see(crm: Crm) -> None:
    crm.configure("manager", hkid="masked", date_of_birth="full", spend_12m="full")
    report_id = crm.report()
    crm.run(report_id)
    (run,) = crm.all(ReportRun)
    assert "A123***(*)" in run.output_csv and HKID not in run.output_csv
    # The evidence of what the report selected is kept: its rows' keys and its definition.
    assert run.row_keys == [crm.customer_id]
    # Given full access later, the runner still sees the run as it was made: masked.
    crm.configure("manager", hkid="full")
    html = crm.page(f"/reports/{report_id}/runs/{run.id}")
    assert HKID not in html and "A123***(*)" in html


def test_a_run_made_in_full_is_masked_when_the_role_loses_access(crm: Crm) -> None:
    crm.configure("manager", hkid="full", date_of_birth="full", spend_12m="full")
    report_id = crm.report()
    crm.run(report_id)
    crm.configure("manager", hkid="masked", date_of_birth="hidden")
    (run,) = crm.all(ReportRun)
    html = crm.page(f"/reports/{report_id}/runs/{run.id}")
    assert HKID not in html and "A123***(*)" in html and "1988" not in html


@pytest.mark.parametrize(
    ("access", "passes", "fragment"),
    [
        ("full", False, "holds 1 HKID number"),
        ("masked", False, "includes the HKID column."),
        ("hidden", True, ""),
    ],
)
def test_col_07_judges_the_file_the_role_could_export(
    attempt: Attempt, access: str, passes: bool, fragment: str
) -> None:
    customer = attempt.session.scalars(select(Customer).order_by(Customer.id)).first()
    customer.hkid, customer.hkid_basis = HKID, "Purchase of HK$150,000: anti-money laundering"
    _configure(attempt.do, attempt.actor.id, "manager", {"hkid": access})
    attempt.rebase()  # the HKID and the role were there before the attempt
    where = {"field": "customer_id", "op": "eq", "value": customer.id}
    report = attempt.report(None, columns=["member_no", "hkid"], filters=where)
    attempt.export(report.id, for_department=None)
    result = attempt.rule("COL-07")
    text = " ".join(str(f.message) for f in result.findings)
    assert result.status is (Status.PASS if passes else Status.FAIL), text
    assert fragment in text
    if access == "masked":
        assert "holds" not in text


@pytest.mark.parametrize(("tier", "passes"), [("gold", True), ("silver", False)])
def test_rows_match_judges_what_the_report_selected_whatever_the_runner_saw(
    attempt: Attempt, tier: str, passes: bool
) -> None:
    _configure(attempt.do, attempt.actor.id, "manager", {"hkid": "hidden", "spend_12m": "masked"})
    gold = {"field": "tier", "op": "eq", "value": "gold"}
    report = attempt.report(columns=["member_no", "hkid", "spend_12m"], filters=gold)
    run = attempt.do("run_report", report_id=report.id)
    assert "hkid" not in run.columns and run.row_keys  # the runner saw no HKID, the keys stay
    expected = {"field": "tier", "op": "eq", "value": tier}
    outcome = attempt.check(
        "report.rows_match", {"report": "report", "expect": {"where": expected}}
    )
    assert outcome.status is (Status.PASS if passes else Status.FAIL)


# --- filters, sorts and summaries must not reveal a masked field ------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"filters": {"field": "hkid", "op": "startswith", "value": "A123"}}, "filter on HKID"),
        ({"sort": [["spend_12m", "desc"]]}, "sort by 12-month spend"),
        ({"group_by": ["date_of_birth:age"], "measures": ["count"]}, "group by Date of birth"),
    ],
)
def test_a_masked_role_cannot_filter_sort_or_group_by_the_field(
    crm: Crm, args: dict[str, Any], words: str
) -> None:
    crm.configure("manager", hkid="masked", date_of_birth="masked", spend_12m="masked")
    with pytest.raises(OperationError) as refused:
        crm.report(**args)
    assert words in str(refused.value)


def test_a_full_role_may_filter_sort_and_group_by_the_field(crm: Crm) -> None:
    crm.configure("manager", hkid="full", date_of_birth="full", spend_12m="full")
    crm.report(filters={"field": "hkid", "op": "startswith", "value": "A123"})
    crm.report(sort=[["spend_12m", "desc"]])
    crm.report(group_by=["date_of_birth:age"], measures=["count"])


def test_a_masked_field_may_be_tested_for_a_value(crm: Crm) -> None:
    crm.configure("manager", hkid="masked")
    html = crm.run(crm.report(filters={"field": "hkid", "op": "not_null"}))
    assert "A123***(*)" in html and HKID not in html


def test_a_hidden_field_cannot_be_tested_even_for_a_value(crm: Crm) -> None:
    crm.configure("manager", hkid="hidden")
    with pytest.raises(OperationError, match="filter on HKID number"):
        crm.report(filters={"field": "hkid", "op": "not_null"})


def test_a_report_shared_by_a_full_role_is_no_oracle_for_a_masked_one(crm: Crm) -> None:
    crm.configure("manager", hkid="full")
    report_id = crm.report(filters={"field": "hkid", "op": "startswith", "value": "A123"})
    crm.configure("manager", hkid="masked")
    ran = crm.client.post(f"{BASE}/reports/{report_id}/runs")
    assert ran.status_code == 400
    assert "You cannot filter on HKID number" in ran.get_data(as_text=True)
    exported = crm.client.post(
        f"{BASE}/reports/{report_id}/exports", data={**EXPORT_FORM, "file_format": "csv"}
    )
    assert exported.status_code == 400
    assert crm.all(ReportRun) == [] and crm.all(ReportExport) == []


def test_the_builder_refuses_a_masked_filter_with_a_clear_message(crm: Crm) -> None:
    crm.configure("manager", hkid="masked")
    response = crm.client.post(
        f"{BASE}/reports/new",
        data={
            "name": "Whose HKID",
            "source": "customers",
            "columns": ["member_no"],
            "match": "all",
            "filters-0-field": "hkid",
            "filters-0-op": "startswith",
            "filters-0-value": "A123",
        },
    )
    assert response.status_code == 400
    assert "You cannot filter on HKID number" in response.get_data(as_text=True)


def test_a_report_with_only_hidden_columns_is_refused(crm: Crm) -> None:
    crm.configure("manager", hkid="hidden")
    report_id = crm.report(columns=["hkid"])
    with pytest.raises(OperationError, match="any of this report's columns"):
        crm.do("run_report", report_id=report_id)


@pytest.mark.parametrize("role", ["nobody", "x" * 300, "'; drop table customer; --"])
def test_an_unknown_preview_role_shows_ones_own_view_of_a_run(crm: Crm, role: str) -> None:
    crm.configure("manager", hkid="masked")
    html = crm.run(crm.report(), preview=f"?as_role={role}")
    assert "A123***(*)" in html and "Previewing as" not in html


# --- the e-shop's pages -----------------------------------------------------------------------


@pytest.fixture
def account(eshop_crm: Crm) -> EshopAccount:
    found = [a for a in eshop_crm.all(EshopAccount) if a.mobile_no and a.cust_email]
    assert found, "the jewellery sandbox has e-shop accounts"
    return found[0]


def test_a_full_role_sees_the_eshop_contact_details(eshop_crm: Crm, account: EshopAccount) -> None:
    eshop_crm.configure("manager", cust_email="full", mobile_no="full", browsing="full")
    page = eshop_crm.page(f"/eshop/{account.id}")
    assert account.cust_email in page and account.mobile_no in page
    listing = eshop_crm.page(f"/eshop?recon_status={account.recon_status}")
    assert account.account_no in listing


def test_a_masked_role_sees_masked_eshop_contact_details(
    eshop_crm: Crm, account: EshopAccount
) -> None:
    eshop_crm.configure("manager", cust_email="masked", mobile_no="masked", browsing="masked")
    page = eshop_crm.page(f"/eshop/{account.id}")
    assert account.cust_email not in page and account.mobile_no not in page
    assert mask_email(account.cust_email) in page and mask_mobile(account.mobile_no) in page
    listing = eshop_crm.page("/eshop")
    assert account.cust_email not in listing and mask_email(account.cust_email) in listing


def test_a_hidden_role_sees_no_eshop_contact_details_or_browsing(
    eshop_crm: Crm, account: EshopAccount
) -> None:
    eshop_crm.configure("manager", cust_email="hidden", mobile_no="hidden", browsing="hidden")
    page = eshop_crm.page(f"/eshop/{account.id}")
    assert account.cust_email not in page and mask_email(account.cust_email) not in page
    assert account.mobile_no not in page and "Not shown for your role" in page
    listing = eshop_crm.page("/eshop")
    assert '<th scope="col">cust_email</th>' not in listing
    assert account.cust_email not in listing


def test_the_eshop_pages_can_be_previewed_as_a_role(eshop_crm: Crm, account: EshopAccount) -> None:
    eshop_crm.configure("marketing", cust_email="masked", mobile_no="hidden")
    eshop_crm.configure("admin", cust_email="full", mobile_no="full", browsing="full")
    page = eshop_crm.page(f"/eshop/{account.id}?as_role=marketing")
    assert "Previewing as Marketing" in page and mask_email(account.cust_email) in page
    assert account.cust_email not in page and account.mobile_no not in page
    listing = eshop_crm.page("/eshop?as_role=marketing")
    assert account.cust_email not in listing and '<th scope="col">mobile_no</th>' not in listing
    assert eshop_crm.client.get(f"{BASE}/eshop/{account.id}?as_role=nobody").status_code == 200


def test_browsing_data_masked_shows_counts_not_a_timeline(eshop_crm: Crm) -> None:
    activity = eshop_crm.all(EshopActivity)[0]
    eshop_crm.configure("manager", browsing="full")
    full = eshop_crm.page(f"/eshop/{activity.account_id}")
    eshop_crm.configure("manager", browsing="masked")
    masked = eshop_crm.page(f"/eshop/{activity.account_id}")
    when = re.escape(str(activity.occurred_at.year))
    behaviour = masked.split("Online behaviour", 1)[1].split("<h2>", 1)[0]
    assert re.search(when, full.split("Online behaviour", 1)[1].split("<h2>", 1)[0])
    assert not re.search(r"\d{1,2}:\d{2}", behaviour)
