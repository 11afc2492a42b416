"""Field masking on the CRM's customer pages: the role's field permissions decide what is shown.

The security area sets how each role sees identity numbers, dates of birth and spend; the
customer list, its search and the customer record show them that way for the acting staff
member's role, or for a role previewed with "View as role" (never more than one's own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.generator import GenerationSpec
from sandbox_crm.models import Customer, StaffUser
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.query import select_rows
from sandbox_crm.store import SandboxStore
from sandbox_crm.web.masking import FieldView, mask_email, mask_mobile, mask_spend
from sandbox_crm.web.presentation import money
from tests.sandbox_fixtures import SANDBOX_TODAY
from tests.test_crm_web import BASE, SANDBOX_KEY, _make_app

HKID = "A123456(3)"
DOB = date(1988, 5, 17)
FIELDS = ("hkid", "date_of_birth", "spend_12m")


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    """A small jewellery sandbox (it has roles and field permissions); the trainee is in IT."""
    return GenerationSpec(
        profile="jewellery",
        seed=4207,
        customers=80,
        today=SANDBOX_TODAY,
        acting_department="it",
    )


@dataclass
class Crm:
    """The sandbox, a client on its CRM pages and the customer whose details are on file."""

    store: SandboxStore
    client: FlaskClient
    customer_id: int
    member_no: str
    spend: float

    def configure(self, role: str, **access: str) -> None:
        """Give the trainee ``role`` and set that role's field permissions, as in Security."""
        with self.store.session(SANDBOX_KEY) as session:
            me = session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()
            for field, value in access.items():
                _set(session, me, "set_field_permission", role=role, field=field, access=value)
            _set(session, me, "set_staff_access", staff_id=me.id, role=role, scope="all")
            session.commit()

    def page(self, url: str) -> str:
        """A CRM page's HTML (it must not fail)."""
        response = self.client.get(f"{BASE}{url}")
        assert response.status_code == 200, url
        return response.get_data(as_text=True)


def _set(session: Session, actor: StaffUser, op: str, **args: object) -> None:
    """Apply a security change; one that changes nothing (already so) is fine here."""
    try:
        apply_operation(session, actor, op, args)
    except OperationError as error:
        assert "already" in str(error), error


@pytest.fixture
def crm(sandbox_store: SandboxStore, sandbox_spec: GenerationSpec) -> Iterator[Crm]:
    sandbox_store.create(SANDBOX_KEY, sandbox_spec, clock_mode="stepped")
    with sandbox_store.session(SANDBOX_KEY) as session:
        # A member identified for a large purchase: HKID and date of birth on file.
        rows = select_rows(
            session,
            "customers",
            where={"field": "spend_12m", "op": "gt", "value": 1000},
            columns=["member_no", "spend_12m"],
            sort=[("spend_12m", "desc")],
            as_of=SANDBOX_TODAY,
            limit=1,
        ).rows
        customer = session.get(Customer, rows[0]["customer_id"])
        customer.hkid, customer.date_of_birth = HKID, DOB
        session.commit()
        found = Crm(
            sandbox_store,
            _make_app(sandbox_store).test_client(),
            customer.id,
            customer.member_no,
            float(rows[0]["spend_12m"]),
        )
    yield found


def _spend_shown(html: str) -> str:
    match = re.search(r"Spend, last 12 months</dt><dd>(.*?)</dd>", html, re.S)
    assert match is not None
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _list_links(html: str) -> list[str]:
    return re.findall(r'href="/attempts/1/crm/customers/(\d+)[^"]*"', html)


def test_a_role_with_full_access_sees_every_value_and_finds_a_customer_by_hkid(crm: Crm):
    crm.configure("manager", hkid="full", date_of_birth="full", spend_12m="full")
    record = crm.page(f"/customers/{crm.customer_id}")
    assert HKID in record and "17 May 1988" in record
    assert _spend_shown(record) == money(crm.spend)
    listing = crm.page(f"/customers?q={crm.member_no}")
    assert money(crm.spend) in listing
    found = crm.page("/customers?q=A123456%283%29")
    assert str(crm.customer_id) in _list_links(found)


def test_a_masked_role_sees_masks_on_the_record_and_the_list(crm: Crm):
    crm.configure("manager", hkid="masked", date_of_birth="masked", spend_12m="masked")
    record = crm.page(f"/customers/{crm.customer_id}")
    assert HKID not in record and "123456" not in record and "1988" not in record
    assert "A123***(*)" in record and "**/05/****" in record
    assert _spend_shown(record) == mask_spend(crm.spend) != money(crm.spend)
    listing = crm.page(f"/customers?q={crm.member_no}")
    assert mask_spend(crm.spend) in listing and money(crm.spend) not in listing


def test_searching_by_a_masked_hkid_does_not_reveal_whose_it_is(crm: Crm):
    crm.configure("manager", hkid="masked")
    for query in ("A123456%283%29", "A1234563", "A123456"):
        html = crm.page(f"/customers?q={query}")
        assert str(crm.customer_id) not in _list_links(html), query
        assert "No customers match" in html


def test_a_hidden_field_is_not_shown_and_its_column_not_sorted(crm: Crm):
    crm.configure("manager", hkid="hidden", date_of_birth="hidden", spend_12m="hidden")
    record = crm.page(f"/customers/{crm.customer_id}")
    assert "A123" not in record and "**/05/****" not in record
    assert _spend_shown(record) == "Not shown for your role"
    listing = crm.page("/customers?sort=spend_12m&dir=desc")
    assert "Spend 12m" not in listing and money(crm.spend) not in listing
    # The sort asked for is ignored: the list is in member-number order.
    members = re.findall(r'<a class="mono" href="[^"]+">([^<]+)</a>', listing)
    assert len(members) > 1 and members == sorted(members)


def test_previewing_a_masked_role_masks_for_an_administrator(crm: Crm):
    crm.configure("admin")
    crm.configure("marketing", hkid="hidden", date_of_birth="masked", spend_12m="masked")
    crm.configure("admin")
    own = crm.page(f"/customers/{crm.customer_id}")
    assert HKID in own and _spend_shown(own) == money(crm.spend)
    preview = crm.page(f"/customers/{crm.customer_id}?as_role=marketing")
    assert HKID not in preview and "A123" not in preview and "**/05/****" in preview
    assert _spend_shown(preview) == mask_spend(crm.spend)
    assert "Previewing as Marketing" in preview and "Stop previewing" in preview
    # The list keeps the preview: its links carry it, its values are masked.
    listing = crm.page(f"/customers?q={crm.member_no}&as_role=marketing")
    assert f"/customers/{crm.customer_id}?as_role=marketing" in listing
    assert money(crm.spend) not in listing and mask_spend(crm.spend) in listing


def test_a_preview_never_shows_more_than_ones_own_role(crm: Crm):
    crm.configure("customer_service", hkid="masked", date_of_birth="hidden", spend_12m="full")
    html = crm.page(f"/customers/{crm.customer_id}?as_role=admin")
    assert HKID not in html and "A123***(*)" in html and "**/05/****" not in html
    searched = crm.page("/customers?q=A123456%283%29&as_role=admin")
    assert str(crm.customer_id) not in _list_links(searched)


@pytest.mark.parametrize("role", ["nobody", "x" * 300, "'; drop table customer; --"])
def test_an_unknown_preview_role_shows_ones_own_view(crm: Crm, role: str):
    crm.configure("manager", hkid="masked")
    html = crm.page(f"/customers/{crm.customer_id}?as_role={role}")
    assert "A123***(*)" in html and "Previewing as" not in html
    assert crm.client.get(f"{BASE}/customers?as_role={role}").status_code == 200


def test_masks_keep_only_what_a_role_may_see():
    assert mask_spend(12_345) == "HK$10,000+" and mask_spend(250) == "under HK$1,000"
    assert mask_mobile("91234567") == "9123****"
    assert mask_email("chan.tai.man@example.hk") == "c***@example.hk"
    view = FieldView("sales", "Sales", {"hkid": "hidden", "spend_12m": "masked"})
    row = view.rows([{"member_no": "M00000001", "hkid": HKID, "spend_12m": 12_345}])[0]
    assert row["member_no"] == "M00000001"
    assert str(row["hkid"]) == "Not shown for your role" and row["hkid"].hidden
    assert str(row["spend_12m"]) == "HK$10,000+" and row["spend_12m"].masked
    # A field no permission mentions keeps the CRM's default: date of birth masked.
    assert str(view.show("date_of_birth", DOB)) == "**/05/****"
    assert not view.show("date_of_birth", None)
