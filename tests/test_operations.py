"""The operations layer: validation, audit events, access rules and the operation registry."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from sandbox_crm.campaigns.models import CampaignPlan
from sandbox_crm.cases.models import CaseRule, ServiceAgent, ServiceCase
from sandbox_crm.clock import start_clock
from sandbox_crm.collection.models import (
    FormField,
    PicsVersion,
    SignupForm,
    TrackingRecord,
    TrackingSetting,
)
from sandbox_crm.eshop.models import EshopAccount, EshopConsent, EshopMatch, QualityIssue
from sandbox_crm.invoices.models import Invoice
from sandbox_crm.models import (
    AuditEvent,
    Branch,
    Campaign,
    CollectionNotice,
    ConsentRecord,
    ContactPoint,
    Customer,
    Department,
    Message,
    Product,
    ReportDefinition,
    ReportExport,
    ReportRun,
    ReportShare,
    SalesOrder,
    SandboxBase,
    StaffUser,
)
from sandbox_crm.operations import (
    OPERATIONS,
    InvalidArguments,
    OperationError,
    add_customer_note,
    apply_operation,
    create_report,
    delete_report,
    describe_operations,
    export_report,
    record_consent,
    run_report,
    send_message,
    share_report,
    unshare_report,
    update_contact_point,
    update_customer,
    update_report,
    view_customer,
)
from sandbox_crm.operations.base import check_department, find_by_code
from sandbox_crm.orders.models import OrderStatusChange
from sandbox_crm.query import select_keys, select_rows
from sandbox_crm.reports.operations import can_view_report
from sandbox_crm.requests.models import DataDisclosure, DataRequest, RequestCopyItem
from sandbox_crm.reviews.models import ProductReview
from sandbox_crm.sales.models import (
    CustomerDataItem,
    FollowUpTask,
    Opportunity,
    Salesperson,
    SalesRegion,
)
from sandbox_crm.security.models import (
    AccessRequest,
    AccessRequestItem,
    FieldPermission,
    MisuseFlag,
    SecurityRole,
)

TODAY = date(2026, 3, 16)


# --- a tiny sandbox ---------------------------------------------------------------------------


@dataclass
class Crm:
    """A hand-made sandbox and the records tests refer to."""

    session: Session
    officer: StaffUser  # customer service; owns the VIP report
    colleague: StaffUser  # customer service too
    marketer: StaffUser
    seller: StaffUser
    alice: Customer  # gold; email given, mobile
    bob: Customer  # platinum; email withdrawn; no mobile
    carol: Customer  # classic; no contact points at all
    report: ReportDefinition  # owned by officer, not shared


def gen_staff(session: Session, username: str, department: Department) -> StaffUser:
    """Insert a member of staff."""
    staff = StaffUser(
        username=username,
        full_name=username.title(),
        title="Officer",
        email=f"{username}@company.hk",
        department=department,
    )
    session.add(staff)
    return staff


def gen_customer(session: Session, member_no: str, name: str, tier: str) -> Customer:
    """Insert an active customer in Sha Tin."""
    customer = Customer(
        member_no=member_no,
        name_en=name,
        district="Sha Tin",
        region="New Territories",
        tier=tier,
        joined_on=date(2021, 4, 1),
        notes="",
        created_at=datetime(2021, 4, 1),
        updated_at=datetime(2021, 4, 1),
    )
    session.add(customer)
    return customer


def gen_consent(session: Session, customer: Customer, channel: str, status: str) -> None:
    """Insert an old direct-marketing consent record."""
    session.add(
        ConsentRecord(
            customer=customer,
            purpose="direct_marketing",
            channel=channel,
            status=status,
            method="written_form",
            captured_at=datetime(2024, 5, 1, 12, 0),
        )
    )


def build_crm(session: Session) -> Crm:
    """Departments, four staff, three customers with contacts and consents, one report."""
    start_clock(session, datetime(2026, 3, 16, 9, 0), mode="stepped")
    departments = {
        code: Department(code=code, name=name)
        for code, name in [
            ("customer_service", "Customer Service"),
            ("marketing", "Marketing"),
            ("sales", "Sales"),
        ]
    }
    session.add_all(departments.values())
    officer = gen_staff(session, "officer", departments["customer_service"])
    colleague = gen_staff(session, "colleague", departments["customer_service"])
    marketer = gen_staff(session, "marketer", departments["marketing"])
    seller = gen_staff(session, "seller", departments["sales"])
    session.add(
        CollectionNotice(
            version="PICS-2024", effective_from=date(2024, 1, 1), purposes=["marketing"]
        )
    )
    session.add(CollectionNotice(version="PICS-2027", effective_from=date(2027, 1, 1)))
    alice = gen_customer(session, "M00000001", "Alice Chan", "gold")
    bob = gen_customer(session, "M00000002", "Bob Wong", "platinum")
    carol = gen_customer(session, "M00000003", "Carol Lee", "classic")
    session.flush()
    session.add_all(
        [
            ContactPoint(customer=alice, kind="email", value="alice@example.hk"),
            ContactPoint(customer=alice, kind="mobile", value="91234567"),
            ContactPoint(customer=bob, kind="email", value="bob-old@example.hk", is_primary=False),
            ContactPoint(customer=bob, kind="email", value="bob@example.hk", opted_out=True),
        ]
    )
    gen_consent(session, alice, "email", "given")
    gen_consent(session, bob, "email", "withdrawn")
    session.add(Campaign(name="Spring sale", channel="email", created_at=datetime(2026, 3, 1)))
    now = datetime(2026, 3, 1)
    report = ReportDefinition(
        name="Gold members",
        source="customers",
        columns=["member_no", "name_en", "tier"],
        filters={"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        sort=[["member_no", "desc"]],
        owner=officer,
        created_at=now,
        updated_at=now,
    )
    session.add(report)
    product = Product(sku="W-001", name="Steel watch", category="watches", price_hkd=1200)
    session.add(
        ProductReview(
            customer=alice,
            product=product,
            rating=2,
            text="Strap broke.",
            status="pending",
            written_at=datetime(2026, 3, 10, 12, 0),
        )
    )
    session.add(
        ServiceCase(
            reference="CS-000001",
            customer_id=alice.id,
            kind="complaint",
            channel="phone",
            subject="Strap broke",
            status="open",
            opened_at=datetime(2026, 3, 12, 10, 0),
            due_at=datetime(2026, 3, 17, 10, 0),
        )
    )
    session.flush()
    _add_eshop(session, alice)
    _add_collection(session)
    _add_sales(session, alice, seller)
    _add_requests(session, alice)
    _add_orders_and_invoices(session, alice)
    return Crm(session, officer, colleague, marketer, seller, alice, bob, carol, report)


def _add_sales(session: Session, alice: Customer, seller: StaffUser) -> None:
    """Alice's wedding-band opportunity with a follow-up task, and her ring size from a repair."""
    opened = datetime(2026, 3, 10, 12, 0)
    opportunity = Opportunity(
        id=1,
        reference="OP-000001",
        customer_id=alice.id,
        title="Wedding bands",
        stage="new",
        value_hkd=9800,
        owner_id=seller.id,
        suggestion="wedding_bands",
        used_data=[],
        created_at=opened,
        updated_at=opened,
    )
    session.add(opportunity)
    session.flush()
    session.add(
        FollowUpTask(
            opportunity_id=1,
            customer_id=alice.id,
            subject="Call",
            due_on=date(2026, 3, 20),
            owner_id=seller.id,
            created_at=opened,
        )
    )
    session.add(
        CustomerDataItem(
            customer_id=alice.id,
            kind="ring_size",
            value="12",
            purpose="repair",
            source="repair_ticket",
            collected_on=date(2026, 1, 5),
        )
    )
    session.flush()


def _add_eshop(session: Session, alice: Customer) -> None:
    """Two e-shop accounts (Alice's own, candidate already found, and a newcomer) and an
    open data-quality issue about Alice."""
    joined = datetime(2025, 6, 1, 12, 0)
    for account_id, first, last, email, mobile in [
        (1, "Alice", "Chan", "alice@example.hk", "+852 9123 4567"),
        (2, "Dora", "Ho", "dora@example.hk", None),
    ]:
        session.add(
            EshopAccount(
                id=account_id,
                account_no=f"ES{account_id:06d}",
                first_name=first,
                last_name=last,
                cust_email=email,
                mobile_no=mobile,
                registered_at=joined,
            )
        )
        session.flush()
        session.add(
            EshopConsent(
                account_id=account_id,
                channel="email",
                status="given",
                method="newsletter_signup",
                captured_at=joined,
            )
        )
    session.add(
        EshopMatch(
            account_id=1,
            customer_id=alice.id,
            score=100,
            reasons='["same_email", "same_mobile", "same_name"]',
            found_at=joined,
        )
    )
    session.add(QualityIssue(id=1, customer_id=alice.id, rule="missing_district", raised_at=joined))
    session.flush()


def _add_collection(session: Session) -> None:
    """A membership form asking for a partial HKID, its notice, and the tracking settings."""
    published = datetime(2025, 1, 6, 10, 0)
    session.add(
        SignupForm(
            id=1,
            code="MEM-001",
            name="Membership sign-up",
            kind="membership",
            fields_changed_at=published,
        )
    )
    session.flush()
    for field, obligation in [("name_en", "obligatory"), ("hkid_partial", "obligatory")]:
        session.add(FormField(form_id=1, field=field, obligation=obligation, purpose="Membership"))
    session.add(
        PicsVersion(
            form_id=1,
            version="MEM-001-v1",
            published_at=published,
            purposes=["Membership"],
            transferee_classes=["Service providers"],
            obligatory_fields=["name_en", "hkid_partial"],
        )
    )
    for kind, days in [("session", 90), ("product_view", 730), ("analytics_cookie", 395)]:
        session.add(TrackingSetting(kind=kind, retention_days=days, changed_at=published))
    session.add(TrackingRecord(kind="product_view", visitor="v1", page="/", occurred_at=published))
    session.flush()


def _add_requests(session: Session, alice: Customer) -> None:
    """Alice's access request (copy compiled, her sister named in it), her correction request,
    a refused access request and a disclosure of her data to a courier."""
    received = date(2026, 3, 10)
    for request_id, kind, outcome in [
        (1, "access", ""),
        (2, "correction", ""),
        (3, "access", "refused"),
    ]:
        session.add(
            DataRequest(
                id=request_id,
                reference=f"DR-90000{request_id}",
                kind=kind,
                customer_id=alice.id,
                requester_name="Alice Chan",
                channel="email",
                form_used="pcpd_form",
                received_on=received,
                due_on=date(2026, 4, 19),
                correction_field="district" if kind == "correction" else "",
                correction_value="Tai Po" if kind == "correction" else "",
                copy_compiled_at=datetime(2026, 3, 12) if request_id == 1 else None,
                outcome=outcome,
                refusal_ground="identity_not_verified" if outcome else "",
                logged_at=datetime(2026, 3, 10, 12, 0),
            )
        )
    session.flush()
    session.add(
        RequestCopyItem(
            request_id=1, item="notes", record="notes", content="Gift for her sister Dora Ho"
        )
    )
    session.add(
        DataDisclosure(
            id=1,
            customer_id=alice.id,
            recipient="Swift Courier Ltd",
            purpose="delivery",
            data_items="name, mobile",
            disclosed_on=date(2026, 1, 5),
        )
    )


def _add_orders_and_invoices(session: Session, alice: Customer) -> None:
    """Two of Alice's orders, placed and not paid yet (so her spend stays 0): SO-0000001 with its
    history and an overdue invoice, SO-0000002 whose invoice lost its order; and a second
    invoice for SO-0000001, not due yet."""
    placed = datetime(2026, 2, 20, 12, 0)
    for order_id, total in ((1, 1200), (2, 800)):
        session.add(
            SalesOrder(
                id=order_id,
                order_no=f"SO-{order_id:07d}",
                customer_id=alice.id,
                channel="store",
                status="pending",
                ordered_at=placed,
                total_hkd=total,
            )
        )
    session.flush()
    session.add(OrderStatusChange(order_id=1, status="placed", changed_at=placed))
    for number, order_id, amount, due, anomaly in (
        (1, 1, 1200, date(2026, 3, 10), ""),
        (2, None, 800, date(2026, 3, 10), "no_order"),
        (3, 1, 1200, date(2026, 4, 30), "duplicate"),
    ):
        session.add(
            Invoice(
                id=number,
                invoice_no=f"INV-{number:06d}",
                customer_id=alice.id,
                order_id=order_id,
                amount_hkd=amount,
                issued_on=date(2026, 2, 20),
                due_on=due,
                anomaly=anomaly,
            )
        )
    session.flush()


@pytest.fixture
def crm() -> Iterator[Crm]:
    """A fresh in-memory sandbox per test."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SandboxBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield build_crm(session)
    engine.dispose()


def dump(session: Session) -> dict[str, list[tuple]]:
    """Every row of every sandbox table (the clock included), to compare before and after."""
    session.flush()
    return {
        table.name: [
            tuple(row) for row in session.execute(select(table).order_by(*table.primary_key))
        ]
        for table in SandboxBase.metadata.sorted_tables
    }


def events(session: Session, after_id: int = 0) -> list[AuditEvent]:
    """Audit events with an id above ``after_id``."""
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id))
    )


def last_event_id(session: Session) -> int:
    return session.scalar(select(func.max(AuditEvent.id))) or 0


# --- every registered operation ---------------------------------------------------------------

# Valid arguments for each registered operation, run as the officer. A new operation must be
# added here, or test_every_operation_has_test_arguments fails.
VALID_ARGS: dict[str, Callable[[Crm], dict[str, Any]]] = {
    "view_customer": lambda c: {"customer_id": c.alice.id},
    "update_customer": lambda c: {"member_no": "M00000001", "district": "Wan Chai"},
    "add_customer_note": lambda c: {"customer_id": c.alice.id, "text": "Asked about repairs."},
    "update_contact_point": lambda c: {
        "member_no": "M00000001",
        "kind": "email",
        "is_invalid": True,
    },
    "record_consent": lambda c: {
        "customer_id": c.alice.id,
        "purpose": "direct_marketing",
        "channel": "email",
        "status": "withdrawn",
        "method": "email_reply",
    },
    "send_message": lambda c: {
        "customer_id": c.alice.id,
        "channel": "email",
        "kind": "service",
        "subject": "Your repair",
        "body": "Your watch is ready for collection.",
    },
    "create_report": lambda c: {
        "name": "Platinum list",
        "source": "customers",
        "columns": ["member_no", "email"],
        "filters": {"field": "tier", "op": "eq", "value": "platinum"},
        "sort": [["member_no", "asc"]],
        "purpose": "Service review",
    },
    "update_report": lambda c: {"report_id": c.report.id, "columns": ["member_no", "tier"]},
    "delete_report": lambda c: {"report_name": "Gold members"},
    "share_report": lambda c: {"report_id": c.report.id, "department": "marketing"},
    "unshare_report": lambda c: {"report_id": c.report.id, "department": "sales"},
    "run_report": lambda c: {"report_id": c.report.id},
    "moderate_review": lambda c: {"review_id": 1, "status": "published"},
    "respond_to_review": lambda c: {"review_id": 1, "text": "Sorry; we will contact you."},
    "escalate_review": lambda c: {"member_no": "M00000001", "details": "Strap broke"},
    "update_order_status": lambda c: {"order_no": "SO-0000001", "status": "paid"},
    "record_payment": lambda c: {"invoice_no": "INV-000001", "amount_hkd": 200},
    "send_payment_reminder": lambda c: {"invoice_no": "INV-000001", "channel": "email"},
    "resolve_invoice": lambda c: {
        "invoice_no": "INV-000002",
        "resolution": "linked",
        "note": "Found its order",
    },
    "export_report": lambda c: {
        "report_id": c.report.id,
        "purpose": "VIP evening invitations",
        "destination": "internal_shared_drive",
        "for_department": "marketing",
        "encrypted": True,
    },
    "create_campaign": lambda c: {
        "name": "Bridal autumn",
        "channel": "email",
        "marketing_class": "jewellery and watch offers",
        "budget_hkd": 8000,
        "audience_rule": {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        "exclusions": ["M00000003"],
    },
    "update_campaign": lambda c: {"campaign_id": 1, "budget_hkd": 900},
    "build_audience": lambda c: {"campaign_id": 1},
    "screen_campaign": lambda c: {"campaign_name": "Spring sale"},
    "send_campaign": lambda c: {
        "campaign_id": 1,
        "subject": "Spring sale",
        "body": "New season pieces in store. Unsubscribe free at any time.",
        "has_opt_out_notice": True,
    },
    "collect_campaign_results": lambda c: {"campaign_id": 1},
    "open_case": lambda c: {
        "member_no": "M00000001",
        "kind": "repair",
        "channel": "walk_in",
        "subject": "Loose clasp",
    },
    "assign_case": lambda c: {"reference": "CS-000001", "username": "colleague"},
    "set_case_status": lambda c: {"case_id": 1, "status": "in_progress"},
    "escalate_case": lambda c: {"case_id": 1, "username": "colleague", "reason": "Unhappy"},
    "reply_to_case": lambda c: {"case_id": 1, "reply": "acknowledge_and_investigate"},
    "follow_up_case": lambda c: {"case_id": 1, "follow_up_on": "2026-03-20"},
    "verify_identity": lambda c: {"case_id": 1, "method": "identity_document_seen"},
    "close_case": lambda c: {"case_id": 1, "resolution": "answered", "note": "Explained"},
    "create_case_rule": lambda c: {
        "name": "Complaints",
        "kinds": ["complaint"],
        "assign_to": "colleague",
        "priority": "high",
    },
    "update_case_rule": lambda c: {"rule": "Desk", "priority": "urgent"},
    "enable_case_rule": lambda c: {"rule": "Repairs"},
    "disable_case_rule": lambda c: {"rule_id": 1},
    "move_case_rule": lambda c: {"rule": "Repairs", "position": 1},
    "apply_case_rules": lambda c: {},
    "check_opt_out": lambda c: {"member_no": "M00000001"},
    "log_activity": lambda c: {
        "member_no": "M00000001",
        "kind": "call_inbound",
        "summary": "Asked about a repair",
        "outcome": "resolved",
    },
    "create_handoff": lambda c: {
        "department": "sales",
        "purpose": "sales_follow_up",
        "subject": "Call back",
        "member_no": "M00000001",
        "fields": ["name", "phone"],
    },
    "disable_staff_account": lambda c: {"staff_id": c.colleague.id, "reason": "Left the company"},
    "set_staff_access": lambda c: {"staff_id": c.colleague.id, "role": "marketing", "scope": "all"},
    "set_field_permission": lambda c: {"role": "marketing", "field": "hkid", "access": "hidden"},
    "set_ip_allow_list": lambda c: {"branch_code": "MAC", "allow_list": "202.175.8.0/29"},
    "set_backup_policy": lambda c: {"frequency": "daily", "retention_days": 90, "encrypted": True},
    "run_backup": lambda c: {},
    "set_role_rights": lambda c: {"role": "marketing", "hkid": "hidden", "scope": "all"},
    "decide_access_request_item": lambda c: {
        "request_id": 1,
        "item": "date_of_birth",
        "decision": "partly",
        "grant": "masked",
        "reason": "Masked is enough",
    },
    "close_access_request": lambda c: {"request_id": 1, "reply": "Granted in part"},
    "review_misuse_flag": lambda c: {"flag_id": 1, "decision": "escalated", "note": "To the DPO"},
    "run_eshop_sync": lambda c: {},
    "merge_eshop_account": lambda c: {"account_id": 1},
    "link_eshop_account": lambda c: {"account_id": 1, "customer_id": c.alice.id},
    "create_customer_from_eshop": lambda c: {"account_id": 2, "note": "New online shopper"},
    "leave_eshop_account_for_review": lambda c: {"account_id": 2, "reason": "Check the name"},
    "run_quality_rules": lambda c: {},
    "request_profile_update": lambda c: {"issue_id": 1, "channel": "email"},
    "close_quality_issue": lambda c: {
        "customer_id": c.alice.id,
        "rule": "missing_district",
        "resolution": "not_an_issue",
        "reason": "District given at the counter",
    },
    "add_form_field": lambda c: {
        "form_id": 1,
        "field": "email",
        "obligation": "voluntary",
        "purpose": "To send e-receipts",
    },
    "remove_form_field": lambda c: {"form_id": 1, "field": "hkid_partial"},
    "change_form_field": lambda c: {"form_id": 1, "field": "name_en", "obligation": "voluntary"},
    "publish_pics": lambda c: {"form_id": 1, "access_contact": "Data Protection Officer"},
    "retire_form": lambda c: {"form_id": 1, "reason": "Replaced by the app"},
    "add_form_review_note": lambda c: {"form_id": 1, "text": "Partial HKID to go"},
    "set_tracking_setting": lambda c: {"kind": "product_view", "retention_days": 180},
    "purge_tracking_data": lambda c: {},
    "create_opportunity": lambda c: {
        "member_no": "M00000002",
        "title": "Anniversary gift",
        "value_hkd": 12000,
        "expected_close": "2026-04-30",
    },
    "update_opportunity": lambda c: {"reference": "OP-000001", "stage": "qualified"},
    "add_follow_up": lambda c: {
        "opportunity_id": 1,
        "subject": "Send photos",
        "due_on": "2026-03-18",
    },
    "complete_follow_up": lambda c: {"task_id": 1},
    "record_customer_data": lambda c: {
        "member_no": "M00000001",
        "kind": "ring_size",
        "value": "13.5",
        "purpose": "sales_enquiry",
        "source": "customer_told_staff",
        "opportunity_id": 1,
    },
    "send_offer": lambda c: {
        "opportunity_id": 1,
        "channel": "email",
        "body": "Wedding bands to match. Unsubscribe free at any time.",
        "has_opt_out_notice": True,
        "screen_opt_outs": True,
    },
    "create_opportunities": lambda c: {"suggestion": "watch_servicing", "title": "Servicing"},
    "set_sales_quota": lambda c: {
        "level": "branch",
        "branch_code": "TST",
        "period": "2026-Q2",
        "target_hkd": 500_000,
    },
    "set_sales_capacity": lambda c: {"username": "seller", "max_open_opportunities": 8},
    "assign_region_manager": lambda c: {"region": "Kowloon", "username": "seller"},
    "reassign_opportunity": lambda c: {"reference": "OP-000001", "username": "colleague"},
    "rebalance_region": lambda c: {"region": "Kowloon"},
    "send_offers": lambda c: {
        "suggestion": "wedding_bands",
        "channel": "email",
        "body": "Wedding bands to match. Unsubscribe free at any time.",
        "has_opt_out_notice": True,
    },
    "log_data_request": lambda c: {
        "member_no": "M00000001",
        "kind": "access",
        "requester_name": "Alice Chan",
        "channel": "post",
        "form_used": "pcpd_form",
        "received_on": "2026-03-15",
    },
    "quote_request_fee": lambda c: {"request_id": 1, "fee_hkd": 50, "basis": "Printing, postage"},
    "verify_requester_identity": lambda c: {
        "reference": "DR-900001",
        "method": "identity_document_seen",
        "evidence": "Identity card seen at the counter; no copy kept",
    },
    "compile_access_copy": lambda c: {"request_id": 1, "items": ["profile", "notes"]},
    "redact_access_copy": lambda c: {"request_id": 1, "text": "Dora Ho"},
    "extend_data_request": lambda c: {
        "request_id": 1,
        "reason": "Archived orders are being retrieved",
        "comply_by": "2026-05-01",
    },
    "refuse_data_request": lambda c: {
        "request_id": 1,
        "ground": "identity_not_verified",
        "reason": "The requester could not prove who she is",
        "channel": "post",
    },
    "log_refusal": lambda c: {"request_id": 3, "note": "Identity not proven"},
    "correct_requested_data": lambda c: {"request_id": 2},
    "respond_to_request": lambda c: {
        "request_id": 1,
        "outcome": "copy_provided",
        "channel": "post",
    },
    "notify_correction_recipient": lambda c: {
        "request_id": 2,
        "disclosure_id": 1,
        "channel": "email",
    },
}

# Bad arguments for each registered operation: each must raise OperationError, change nothing.
BAD_ARGS: dict[str, list[Callable[[Crm], dict[str, Any]]]] = {
    "view_customer": [lambda c: {"customer_id": 999}, lambda c: {"member_no": "M404"}],
    "update_customer": [
        lambda c: {"customer_id": c.alice.id, "tier": "gold", "district": "Atlantis"},
        lambda c: {"customer_id": c.alice.id, "name_en": "  "},
        lambda c: {"customer_id": c.alice.id, "hkid": "A123456(3)"},
        lambda c: {"customer_id": c.alice.id},
        lambda c: {"customer_id": c.alice.id, "tier": "gold"},  # no change
    ],
    "add_customer_note": [
        lambda c: {"customer_id": c.alice.id, "text": ""},
        lambda c: {"customer_id": c.alice.id, "text": "x" * 2001},
    ],
    "update_contact_point": [
        lambda c: {"member_no": "M00000001", "kind": "email", "value": "alice(at)example"},
        lambda c: {"member_no": "M00000001", "kind": "mobile", "value": "1234"},
        lambda c: {"member_no": "M00000003", "kind": "email", "is_invalid": True},
        lambda c: {"contact_point_id": 999, "is_invalid": True},
        lambda c: {"member_no": "M00000001", "kind": "email"},
    ],
    "record_consent": [
        lambda c: {**VALID_ARGS["record_consent"](c), "status": "not_asked"},
        lambda c: {**VALID_ARGS["record_consent"](c), "channel": "fax"},
        lambda c: {**VALID_ARGS["record_consent"](c), "notice_version": "PICS-1999"},
        lambda c: {**VALID_ARGS["record_consent"](c), "customer_id": 999},
    ],
    "send_message": [
        lambda c: {**VALID_ARGS["send_message"](c), "channel": "sms", "customer_id": c.bob.id},
        lambda c: {**VALID_ARGS["send_message"](c), "customer_id": c.carol.id},
        lambda c: {**VALID_ARGS["send_message"](c), "body": ""},
        lambda c: {**VALID_ARGS["send_message"](c), "campaign_id": 999},
        lambda c: {**VALID_ARGS["send_message"](c), "channel": "sms", "campaign_id": 1},
    ],
    "create_report": [
        lambda c: {**VALID_ARGS["create_report"](c), "name": ""},
        lambda c: {**VALID_ARGS["create_report"](c), "name": "x" * 161},
        lambda c: {**VALID_ARGS["create_report"](c), "source": "suppliers"},
        lambda c: {**VALID_ARGS["create_report"](c), "columns": []},
        lambda c: {**VALID_ARGS["create_report"](c), "columns": ["member_no", "salary"]},
        lambda c: {**VALID_ARGS["create_report"](c), "filters": {"field": "tier", "op": "eq"}},
        lambda c: {**VALID_ARGS["create_report"](c), "sort": [["age", "asc"]]},
        lambda c: {**VALID_ARGS["create_report"](c), "colums": ["member_no"]},
    ],
    "update_report": [
        lambda c: {"report_id": c.report.id, "columns": ["salary"]},
        lambda c: {"report_id": c.report.id, "name": "Gold members"},  # no change
        lambda c: {"report_id": 999, "name": "New"},
    ],
    "delete_report": [lambda c: {"report_name": "Nope"}, lambda c: {}],
    "share_report": [
        lambda c: {"report_id": c.report.id, "department": "legal"},
        lambda c: {"report_id": c.report.id, "department": "marketing", "can_export": "maybe"},
    ],
    "unshare_report": [lambda c: {"report_id": c.report.id, "department": "marketing"}],
    "run_report": [lambda c: {"report_id": 999}, lambda c: {"report_id": "first"}],
    "moderate_review": [
        lambda c: {"review_id": 1, "status": "pending"},
        lambda c: {"review_id": 2, "status": "rejected"},
    ],
    "respond_to_review": [
        lambda c: {"review_id": 1, "text": ""},
        lambda c: {"review_id": 999, "text": "Sorry."},
        lambda c: {"member_no": "M00000002", "text": "Sorry."},
    ],
    "escalate_review": [
        lambda c: {"review_id": 999},
        lambda c: {"review_id": 1, "customer_id": c.alice.id},
    ],
    "update_order_status": [
        lambda c: {"order_no": "SO-0000001", "status": "collected"},
        lambda c: {"order_no": "SO-0000001", "status": "placed"},
        lambda c: {"order_no": "SO-0000001", "status": "shipped"},
        lambda c: {"order_no": "SO-404", "status": "paid"},
    ],
    "record_payment": [
        lambda c: {"invoice_no": "INV-000001", "amount_hkd": 0},
        lambda c: {"invoice_no": "INV-000001", "amount_hkd": 5000},
        lambda c: {"invoice_no": "INV-404", "amount_hkd": 100},
    ],
    "send_payment_reminder": [
        lambda c: {"invoice_no": "INV-000003", "channel": "email"},
        lambda c: {"invoice_no": "INV-000001", "channel": "post"},
        lambda c: {"invoice_no": "INV-000001", "channel": "fax"},
    ],
    "resolve_invoice": [
        lambda c: {"invoice_no": "INV-000001", "resolution": "voided", "note": "Why not"},
        lambda c: {"invoice_no": "INV-000002", "resolution": "deleted", "note": "Gone"},
        lambda c: {"invoice_no": "INV-000002", "resolution": "voided", "note": ""},
        lambda c: {
            "invoice_no": "INV-000002",
            "resolution": "linked",
            "note": "x",
            "order_no": "SO-404",
        },
    ],
    "export_report": [
        lambda c: {**VALID_ARGS["export_report"](c), "destination": "dropbox"},
        lambda c: {**VALID_ARGS["export_report"](c), "for_department": "legal"},
        lambda c: {**VALID_ARGS["export_report"](c), "file_format": "pdf"},
        lambda c: {**VALID_ARGS["export_report"](c), "headers": "both"},
        lambda c: {**VALID_ARGS["export_report"](c), "encrypted": "yes please"},
    ],
    "create_campaign": [
        lambda c: {**VALID_ARGS["create_campaign"](c), "name": ""},
        lambda c: {**VALID_ARGS["create_campaign"](c), "channel": "fax"},
        lambda c: {**VALID_ARGS["create_campaign"](c), "budget_hkd": -5},
        lambda c: {
            **VALID_ARGS["create_campaign"](c),
            "audience_rule": {"field": "salary", "op": "eq", "value": 1},
        },
        lambda c: {**VALID_ARGS["create_campaign"](c), "exclusions": ["M99999999"]},
    ],
    "update_campaign": [
        lambda c: {"campaign_id": 999, "budget_hkd": 900},
        lambda c: {"campaign_id": 1, "name": "Spring sale"},
        lambda c: {"campaign_id": 1, "budget_hkd": -1},
        lambda c: {"campaign_name": "Winter sale", "budget_hkd": 900},
    ],
    "build_audience": [
        lambda c: {"campaign_id": 999},
        lambda c: {"campaign_id": 1, "campaign_name": "Spring sale"},
    ],
    "screen_campaign": [lambda c: {"campaign_id": 999}, lambda c: {"campaign_name": "Winter"}],
    "send_campaign": [
        lambda c: {**VALID_ARGS["send_campaign"](c), "campaign_id": 999},
        lambda c: {**VALID_ARGS["send_campaign"](c), "body": ""},
    ],
    "collect_campaign_results": [lambda c: {"campaign_id": 999}, lambda c: {"campaign_id": "1st"}],
    "open_case": [
        lambda c: {**VALID_ARGS["open_case"](c), "kind": "haircut"},
        lambda c: {**VALID_ARGS["open_case"](c), "subject": ""},
        lambda c: {**VALID_ARGS["open_case"](c), "order_no": "SO-404"},
        lambda c: {**VALID_ARGS["open_case"](c), "member_no": "M99999999"},
    ],
    "assign_case": [
        lambda c: {"reference": "CS-999999", "username": "colleague"},
        lambda c: {"case_id": 1, "username": "nobody"},
        lambda c: {"case_id": 1, "username": "marketer"},
    ],
    "set_case_status": [
        lambda c: {"case_id": 1, "status": "open"},
        lambda c: {"case_id": 1, "status": "closed"},
        lambda c: {"case_id": 999, "status": "in_progress"},
    ],
    "create_case_rule": [
        lambda c: {"name": "desk", "priority": "low"},
        lambda c: {"name": "Idle", "kinds": ["complaint"]},
        lambda c: {"name": "Away", "assign_to": "marketer"},
        lambda c: {"name": "Up", "escalate_to": "seller", "priority": "low"},
        lambda c: {"name": "Odd", "tiers": ["diamond"], "priority": "low"},
    ],
    "update_case_rule": [
        lambda c: {"rule": "Desk", "priority": "normal"},
        lambda c: {"rule": "Nope", "priority": "low"},
        lambda c: {"rule": "Desk", "name": "Repairs"},
    ],
    "enable_case_rule": [lambda c: {"rule": "Desk"}, lambda c: {"rule_id": 99}],
    "disable_case_rule": [lambda c: {"rule": "Repairs"}],
    "move_case_rule": [
        lambda c: {"rule": "Desk", "position": 1},
        lambda c: {"rule": "Desk", "position": 3},
        lambda c: {"rule": "Desk", "position": 0},
    ],
    "apply_case_rules": [lambda c: {"dry_run": True}],
    "escalate_case": [
        lambda c: {"case_id": 1, "username": "seller", "reason": "Unhappy"},
        lambda c: {"case_id": 1, "username": "officer", "reason": "Unhappy"},
        lambda c: {"case_id": 1, "username": "colleague", "reason": ""},
    ],
    "reply_to_case": [
        lambda c: {"case_id": 1, "reply": "anything goes"},
        lambda c: {"case_id": 1, "reference": "CS-000001", "reply": "request_more_information"},
    ],
    "follow_up_case": [
        lambda c: {"case_id": 1, "follow_up_on": "2026-03-01"},
        lambda c: {"case_id": 1, "follow_up_on": "soon"},
    ],
    "verify_identity": [lambda c: {"case_id": 1, "method": "photo_by_email"}],
    "close_case": [
        lambda c: {"case_id": 1, "resolution": "copy_provided", "note": "Sent"},
        lambda c: {"case_id": 1, "resolution": "answered", "note": ""},
        lambda c: {"case_id": 1, "resolution": "vanished", "note": "Gone"},
    ],
    "check_opt_out": [
        lambda c: {"member_no": "M99999999"},
        lambda c: {"member_no": "M00000001", "channel": "fax"},
        lambda c: {"case_reference": "CS-404"},
    ],
    "log_activity": [
        lambda c: {**VALID_ARGS["log_activity"](c), "kind": "telegram"},
        lambda c: {**VALID_ARGS["log_activity"](c), "summary": ""},
        lambda c: {**VALID_ARGS["log_activity"](c), "purpose": "marketing"},
        lambda c: {
            **VALID_ARGS["log_activity"](c),
            "member_no": "M00000002",
            "case_reference": "CS-000001",
        },
        lambda c: {**VALID_ARGS["log_activity"](c), "next_step_on": "2026-01-01"},
    ],
    "create_handoff": [
        lambda c: {**VALID_ARGS["create_handoff"](c), "department": "legal"},
        lambda c: {**VALID_ARGS["create_handoff"](c), "purpose": "workshop_capacity"},
        lambda c: {**VALID_ARGS["create_handoff"](c), "fields": ["name", "salary"]},
        lambda c: {**VALID_ARGS["create_handoff"](c), "member_no": None},
        lambda c: {**VALID_ARGS["create_handoff"](c), "subject": ""},
    ],
    "disable_staff_account": [
        lambda c: {"staff_id": 999, "reason": "Left"},
        lambda c: {"staff_id": c.officer.id, "reason": "Left"},
        lambda c: {"staff_id": c.colleague.id, "reason": ""},
    ],
    "set_staff_access": [
        lambda c: {"staff_id": c.colleague.id, "role": "ceo", "scope": "all"},
        lambda c: {"staff_id": c.colleague.id, "role": "marketing", "scope": "planet"},
        lambda c: {"staff_id": c.colleague.id, "role": "marketing", "scope": "branch"},
    ],
    "set_field_permission": [
        lambda c: {"role": "marketing", "field": "salary", "access": "hidden"},
        lambda c: {"role": "marketing", "field": "hkid", "access": "partial"},
        lambda c: {"role": "marketing", "field": "hkid", "access": "full"},  # no change
    ],
    "set_ip_allow_list": [
        lambda c: {"branch_code": "MAC", "allow_list": "not-an-address"},
        lambda c: {"branch_code": "XYZ", "allow_list": "202.175.8.0/29"},
    ],
    "set_backup_policy": [
        lambda c: {"frequency": "hourly", "encrypted": True},
        lambda c: {"frequency": "daily", "retention_days": 0, "encrypted": True},
        lambda c: {"frequency": "daily", "hour": 24, "encrypted": True},
    ],
    "run_backup": [lambda c: {"encrypted": True}],
    "set_role_rights": [
        lambda c: {"role": "ceo", "hkid": "hidden"},
        lambda c: {"role": "marketing", "hkid": "partial"},
        lambda c: {"role": "marketing", "hkid": "full"},  # no change
    ],
    "decide_access_request_item": [
        lambda c: {"request_id": 999, "item": "hkid", "decision": "granted"},
        lambda c: {"request_id": 1, "item": "date_of_birth", "decision": "maybe"},
        lambda c: {"request_id": 1, "item": "hkid", "decision": "granted"},  # not asked for
        lambda c: {"request_id": 1, "item": "date_of_birth", "decision": "refused", "reason": ""},
    ],
    "close_access_request": [
        lambda c: {"request_id": 999, "reply": "Yes"},
        lambda c: {"request_id": 1, "reply": ""},
    ],
    "review_misuse_flag": [
        lambda c: {"flag_id": 999, "decision": "escalated", "note": "x"},
        lambda c: {"flag_id": 1, "decision": "ignored", "note": "x"},
        lambda c: {"flag_id": 1, "decision": "dismissed", "note": ""},
    ],
    "run_eshop_sync": [lambda c: {"accounts": "all"}],
    "merge_eshop_account": [
        lambda c: {"account_id": 999},
        lambda c: {"account_id": 1, "customer_id": c.bob.id},  # not a candidate
        lambda c: {"account_id": 2},  # no candidate at all
        lambda c: {"account_id": 1, "consents": "none"},
    ],
    "link_eshop_account": [
        lambda c: {"account_id": 1, "customer_id": c.carol.id},
        lambda c: {"account_id": 999, "customer_id": c.alice.id},
    ],
    "create_customer_from_eshop": [
        lambda c: {"account_id": 999},
        lambda c: {"account_id": 2, "note": "x" * 501},
    ],
    "leave_eshop_account_for_review": [
        lambda c: {"account_id": 2, "reason": " "},
        lambda c: {"account_id": 999, "reason": "Check"},
    ],
    "run_quality_rules": [lambda c: {"rules": ["missing_district"]}],
    "request_profile_update": [
        lambda c: {"issue_id": 1, "channel": "fax"},
        lambda c: {"issue_id": 1, "channel": "post"},  # Alice has no postal address
        lambda c: {"issue_id": 99, "channel": "email"},
        lambda c: {"customer_id": c.bob.id, "rule": "missing_district", "channel": "email"},
    ],
    "create_opportunity": [
        lambda c: {**VALID_ARGS["create_opportunity"](c), "title": ""},
        lambda c: {**VALID_ARGS["create_opportunity"](c), "stage": "won"},
        lambda c: {**VALID_ARGS["create_opportunity"](c), "expected_close": "2026-01-01"},
        lambda c: {**VALID_ARGS["create_opportunity"](c), "suggestion": "wedding_bands"},
        lambda c: {**VALID_ARGS["create_opportunity"](c), "used_data": ["ring_size"]},
        lambda c: {**VALID_ARGS["create_opportunity"](c), "used_data": [1]},
        lambda c: {**VALID_ARGS["create_opportunity"](c), "value_hkd": -1},
    ],
    "update_opportunity": [
        lambda c: {"reference": "OP-000001", "stage": "lost"},
        lambda c: {"reference": "OP-000001", "stage": "new"},
        lambda c: {"reference": "OP-404", "stage": "won"},
        lambda c: {"opportunity_id": 1, "reference": "OP-000001", "stage": "won"},
    ],
    "add_follow_up": [
        lambda c: {"opportunity_id": 1, "subject": "Call", "due_on": "2026-03-01"},
        lambda c: {"opportunity_id": 1, "subject": "", "due_on": "2026-03-18"},
        lambda c: {"opportunity_id": 99, "subject": "Call", "due_on": "2026-03-18"},
    ],
    "complete_follow_up": [lambda c: {"task_id": 99}, lambda c: {"task_id": "first"}],
    "record_customer_data": [
        lambda c: {**VALID_ARGS["record_customer_data"](c), "value": "huge"},
        lambda c: {**VALID_ARGS["record_customer_data"](c), "kind": "wedding_date"},
        lambda c: {**VALID_ARGS["record_customer_data"](c), "purpose": "curiosity"},
        lambda c: {**VALID_ARGS["record_customer_data"](c), "member_no": "M00000002"},
    ],
    "send_offer": [
        lambda c: {**VALID_ARGS["send_offer"](c), "channel": "sms"},
        lambda c: {**VALID_ARGS["send_offer"](c), "opportunity_id": 99},
        lambda c: {**VALID_ARGS["send_offer"](c), "task_id": 1},
        lambda c: {**VALID_ARGS["send_offer"](c), "body": ""},
    ],
    "create_opportunities": [
        lambda c: {"suggestion": "gold_for_everyone", "title": "Gold"},
        lambda c: {
            "suggestion": "watch_servicing",
            "title": "Servicing",
            "follow_up_subject": "Call",
        },
        lambda c: {"suggestion": "watch_servicing", "title": ""},
    ],
    "send_offers": [
        lambda c: {**VALID_ARGS["send_offers"](c), "suggestion": "pearl_earrings"},
        lambda c: {**VALID_ARGS["send_offers"](c), "channel": "fax"},
    ],
    "set_sales_quota": [
        lambda c: {**VALID_ARGS["set_sales_quota"](c), "period": "2025-Q4"},
        lambda c: {**VALID_ARGS["set_sales_quota"](c), "period": "2026-Q9"},
        lambda c: {**VALID_ARGS["set_sales_quota"](c), "branch_code": "XYZ"},
        lambda c: {"level": "region", "region": "Kowloon", "period": "2026-Q2", "target_hkd": 9000},
        lambda c: {**VALID_ARGS["set_sales_quota"](c), "target_hkd": 10},
    ],
    "set_sales_capacity": [
        lambda c: {"username": "seller", "max_open_opportunities": 0},
        lambda c: {"username": "marketer", "max_open_opportunities": 5},
        lambda c: {"username": "nobody", "max_open_opportunities": 5},
    ],
    "assign_region_manager": [
        lambda c: {"region": "Macau", "username": "seller"},
        lambda c: {"region": "Kowloon", "username": "marketer"},
        lambda c: {"region": "Kowloon", "username": "colleague"},
        lambda c: {"region": "New Territories", "username": "seller"},
    ],
    "reassign_opportunity": [
        lambda c: {"reference": "OP-000001", "username": "seller"},
        lambda c: {"reference": "OP-000001", "username": "marketer"},
        lambda c: {"reference": "OP-000001", "username": "outsider"},
        lambda c: {"reference": "OP-000009", "username": "colleague"},
    ],
    "rebalance_region": [
        lambda c: {"region": "New Territories"},
        lambda c: {"region": "Macau"},
        lambda c: {},
    ],
    "close_quality_issue": [
        lambda c: {"issue_id": 1, "resolution": "fixed", "reason": "Done"},
        lambda c: {"issue_id": 1, "resolution": "corrected", "reason": ""},
        lambda c: {
            "issue_id": 1,
            "customer_id": c.alice.id,
            "rule": "missing_district",
            "resolution": "corrected",
            "reason": "Done",
        },
    ],
    "add_form_field": [
        lambda c: {**VALID_ARGS["add_form_field"](c), "field": "salary"},
        lambda c: {**VALID_ARGS["add_form_field"](c), "field": "name_en"},  # already there
        lambda c: {**VALID_ARGS["add_form_field"](c), "form_id": 999},
        lambda c: {**VALID_ARGS["add_form_field"](c), "purpose": " "},
        lambda c: {**VALID_ARGS["add_form_field"](c), "obligation": "optional"},
    ],
    "remove_form_field": [
        lambda c: {"form_id": 1, "field": "email"},  # not collected
        lambda c: {"form_id": 999, "field": "name_en"},
    ],
    "change_form_field": [
        lambda c: {"form_id": 1, "field": "name_en", "obligation": "obligatory"},  # no change
        lambda c: {"form_id": 1, "field": "email", "obligation": "voluntary"},
        lambda c: {"form_id": 1, "field": "name_en", "purpose": ""},
    ],
    "publish_pics": [
        lambda c: {"form_id": 999},
        lambda c: {"form_id": 1, "purposes": " ; "},
        lambda c: {"form_id": 1, "access_contact": "x" * 201},
    ],
    "retire_form": [
        lambda c: {"form_id": 1, "reason": ""},
        lambda c: {"form_id": 999, "reason": "Old"},
    ],
    "add_form_review_note": [
        lambda c: {"form_id": 1, "text": ""},
        lambda c: {"form_id": 999, "text": "Reviewed"},
    ],
    "set_tracking_setting": [
        lambda c: {"kind": "cookies", "retention_days": 30},
        lambda c: {"kind": "session", "retention_days": 0},
        lambda c: {"kind": "session", "retention_days": 90},  # no change
    ],
    "purge_tracking_data": [lambda c: {"kinds": "all"}],
    "log_data_request": [
        lambda c: {**VALID_ARGS["log_data_request"](c), "received_on": "2026-04-01"},
        lambda c: {**VALID_ARGS["log_data_request"](c), "kind": "correction"},
        lambda c: {**VALID_ARGS["log_data_request"](c), "channel": "fax"},
    ],
    "quote_request_fee": [
        lambda c: {"request_id": 1, "fee_hkd": -5},
        lambda c: {"request_id": 3, "fee_hkd": 0},
    ],
    "verify_requester_identity": [
        lambda c: {"request_id": 1, "method": "guess", "evidence": "Seen"},
        lambda c: {"request_id": 1, "method": "identity_document_seen", "evidence": "A123456(3)"},
    ],
    "compile_access_copy": [
        lambda c: {"request_id": 1, "items": []},
        lambda c: {"request_id": 2, "items": ["profile"]},
    ],
    "redact_access_copy": [
        lambda c: {"request_id": 1, "text": "Nobody"},
        lambda c: {"request_id": 2, "text": "Dora Ho"},
    ],
    "extend_data_request": [
        lambda c: {"request_id": 1, "reason": "Busy", "comply_by": "2026-05-01"},
        lambda c: {"request_id": 1, "reason": "Archive retrieval", "comply_by": "2026-04-01"},
    ],
    "refuse_data_request": [
        lambda c: {
            "request_id": 1,
            "ground": "not_satisfied_inaccurate",
            "reason": "We think the data are right",
            "channel": "post",
        },
        lambda c: {"request_id": 1, "ground": "too_busy", "reason": "Too many", "channel": "post"},
    ],
    "log_refusal": [
        lambda c: {"request_id": 1, "note": "Not refused"},
        lambda c: {"request_id": 3, "note": ""},
    ],
    "correct_requested_data": [lambda c: {"request_id": 1}, lambda c: {"request_id": 99}],
    "respond_to_request": [
        lambda c: {"request_id": 2, "outcome": "corrected", "channel": "post"},
        lambda c: {"request_id": 1, "outcome": "refused", "channel": "post"},
        lambda c: {
            "request_id": 1,
            "outcome": "copy_provided",
            "channel": "post",
            "sent_on": "2026-03-01",
        },
    ],
    "notify_correction_recipient": [
        lambda c: {"request_id": 2, "disclosure_id": 99, "channel": "email"},
        lambda c: {"request_id": 1, "disclosure_id": 1, "channel": "email"},
    ],
}


SECURITY_OPERATIONS = {
    "disable_staff_account",
    "set_staff_access",
    "set_field_permission",
    "set_ip_allow_list",
    "set_backup_policy",
    "run_backup",
    "set_role_rights",
    "decide_access_request_item",
    "close_access_request",
    "review_misuse_flag",
}

READS = {"view_customer"}
SALES_MANAGEMENT = {
    "set_sales_quota",
    "set_sales_capacity",
    "assign_region_manager",
    "reassign_opportunity",
    "rebalance_region",
}


def _add_sales_team(crm: Crm, name: str) -> None:
    """A Kowloon shop, its region managed by the officer, the seller and a colleague selling
    there, and a seller on Hong Kong Island; appointing a manager is the sales office's."""
    session = crm.session
    session.add(
        Branch(code="TST", name="Tsim Sha Tsui Shop", kind="store", district="Yau Tsim Mong",
               region="Kowloon")
    )  # fmt: skip
    session.add(SalesRegion(name="Kowloon", manager_id=crm.officer.id))
    session.add(SalesRegion(name="New Territories"))
    outsider = gen_staff(session, "outsider", crm.seller.department)
    session.flush()
    session.add_all(
        [
            Salesperson(staff_id=crm.seller.id, region="Kowloon", max_open_opportunities=5),
            Salesperson(staff_id=crm.colleague.id, region="Kowloon", max_open_opportunities=5),
            Salesperson(staff_id=outsider.id, region="Hong Kong Island"),
        ]
    )
    if name == "rebalance_region":
        session.get(Salesperson, 1).max_open_opportunities = 0
    if name == "assign_region_manager":
        session.get(SalesRegion, 1).manager_id = None
        crm.officer.department = crm.seller.department
    session.flush()


def _add_case_rules(crm: Crm) -> None:
    """Two agents and two rules: the desk (on) and one for repairs (off), which no case meets."""
    crm.session.add(ServiceAgent(staff_id=crm.colleague.id, team="general", capacity=5))
    crm.session.add(ServiceAgent(staff_id=crm.officer.id, team="senior", capacity=5))
    for number, (name, active) in enumerate((("Desk", True), ("Repairs", False)), start=1):
        crm.session.add(
            CaseRule(
                id=number,
                name=name,
                is_active=active,
                position=number,
                kinds=["repair"],
                channels=[],
                tiers=[],
                regions=[],
                priority="normal",
                created_at=datetime(2026, 1, 5),
            )
        )
    crm.session.flush()


def prepare(crm: Crm, name: str) -> None:
    """Set up what an operation's valid arguments need (a share to withdraw, a campaign's plan
    and audience)."""
    steps = {
        "build_audience": 1,
        "screen_campaign": 2,
        "send_campaign": 2,
        "collect_campaign_results": 3,
    }.get(name, 0)
    if steps:
        crm.session.add(
            CampaignPlan(
                campaign_id=1,
                budget_hkd=0,
                consent_purpose="direct_marketing",
                audience_rule={"field": "tier", "op": "in", "value": ["gold", "platinum"]},
                exclusions=[],
            )
        )
        crm.session.flush()
    if steps >= 2:
        apply_operation(crm.session, crm.marketer, "build_audience", {"campaign_id": 1})
    if steps >= 3:
        apply_operation(
            crm.session, crm.marketer, "send_campaign", VALID_ARGS["send_campaign"](crm)
        )
    if name in SECURITY_OPERATIONS:
        # Security settings are changed by an administrator; the sandbox has one role and branch.
        crm.officer.is_admin = True
        role = SecurityRole(code="marketing", name="Marketing")
        crm.session.add(role)
        crm.session.flush()
        crm.session.add(FieldPermission(role_id=role.id, field="hkid", access="full"))
        # A department's request with one item (decided already when the request is answered)
        # and a misuse flag about a colleague.
        crm.session.add(
            AccessRequest(
                id=1,
                department_id=crm.marketer.department_id,
                requested_by_id=crm.marketer.id,
                role_id=role.id,
                received_at=datetime(2026, 3, 1, 10),
                justification="We need everything",
            )
        )
        crm.session.flush()
        crm.session.add(
            AccessRequestItem(
                id=1,
                request_id=1,
                item="date_of_birth",
                requested="full",
                decision="granted" if name == "close_access_request" else "pending",
            )
        )
        crm.session.add(
            MisuseFlag(
                id=1,
                staff_id=crm.colleague.id,
                pattern="sent_outside",
                raised_at=datetime(2026, 3, 1, 22),
                summary="An export e-mailed to a personal address",
            )
        )
        crm.session.add(
            Branch(
                code="MAC",
                name="Macau Shop",
                district="Macau",
                region="Macau",
                is_remote=True,
                ip_allow_list="0.0.0.0/0",
            )
        )
        crm.session.flush()
    if name in SALES_MANAGEMENT:
        _add_sales_team(crm, name)
    if name.endswith(("case_rule", "case_rules")):
        _add_case_rules(crm)
    if name == "notify_correction_recipient":
        apply_operation(crm.session, crm.officer, "correct_requested_data", {"request_id": 2})
    if name == "unshare_report":
        crm.session.add(
            ReportShare(report=crm.report, department_id=3, granted_at=datetime(2026, 3, 2))
        )
        crm.session.flush()


def test_every_operation_has_test_arguments():
    assert set(VALID_ARGS) == set(OPERATIONS)
    assert set(BAD_ARGS) == set(OPERATIONS)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_writes_exactly_one_audit_event(crm, name):
    prepare(crm, name)
    spec = OPERATIONS[name]
    start = last_event_id(crm.session)
    entity = apply_operation(crm.session, crm.officer, name, VALID_ARGS[name](crm))
    written = events(crm.session, start)
    assert len(written) == 1
    event = written[0]
    assert event.actor_id == crm.officer.id
    assert event.operation == spec.event
    assert event.entity_type and event.entity_id is not None
    assert event.entity_id in {entity.id, getattr(entity, "report_id", None)}
    assert event.occurred_at.date() == TODAY
    if name in READS:
        assert event.details
    else:
        assert event.before is not None or event.after is not None
        if event.before is not None and event.after is not None:
            assert event.before != event.after


@pytest.mark.parametrize(
    ("name", "index"), [(name, i) for name in sorted(BAD_ARGS) for i in range(len(BAD_ARGS[name]))]
)
def test_bad_input_raises_and_changes_nothing(crm, name, index):
    prepare(crm, name)
    before = dump(crm.session)
    with pytest.raises(OperationError) as caught:
        apply_operation(crm.session, crm.officer, name, BAD_ARGS[name][index](crm))
    assert str(caught.value)
    assert dump(crm.session) == before


def test_operation_events_match_the_scenario_vocabulary():
    assert {spec.event for spec in OPERATIONS.values()} >= {
        "report.create",
        "report.share",
        "report.run",
        "report.export",
        "message.send",
        "consent.record",
        "customer.view",
    }


# --- the registry's argument handling ---------------------------------------------------------


def test_apply_operation_resolves_member_no(crm):
    customer = apply_operation(
        crm.session, crm.officer, "update_customer", {"member_no": "M00000002", "tier": "gold"}
    )
    assert customer is crm.bob and crm.bob.tier == "gold"


def test_apply_operation_names_unknown_and_missing_arguments(crm):
    with pytest.raises(OperationError) as caught:
        apply_operation(crm.session, crm.officer, "share_report", {"report_id": 1, "dept": "x"})
    message = str(caught.value)
    assert message.startswith("Missing argument 'department'")
    assert "unknown argument 'dept' (known arguments: report_id, report_name, department" in message


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"customer_id": 1, "member_no": "M00000001"}, "either customer_id or member_no"),
        ({}, "either customer_id or member_no"),
        ({"customer_id": "one"}, "Argument 'customer_id'"),
    ],
)
def test_apply_operation_customer_reference_errors(crm, args, words):
    with pytest.raises(OperationError, match=words):
        apply_operation(crm.session, crm.officer, "view_customer", args)


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("set_case_status", {"status": "open"}, "Give either case_id or reference"),
        (
            "set_case_status",
            {"case_id": 1, "reference": "CS-000001", "status": "open"},
            "Give either case_id or reference",
        ),
        ("set_case_status", {"reference": "CS-9", "status": "open"}, "no case with reference"),
        ("quote_request_fee", {"fee_hkd": 5}, "Give either request_id or reference"),
        ("quote_request_fee", {"reference": "DR-1", "fee_hkd": 5}, "no request with reference"),
        ("update_opportunity", {"reference": "", "stage": "lost"}, "Give either opportunity_id"),
        ("update_opportunity", {"reference": "OP-9", "stage": "lost"}, "no opportunity with"),
        ("build_audience", {}, "Give either campaign_id or campaign_name"),
        ("build_audience", {"campaign_name": "Winter"}, "no single campaign called 'Winter'"),
    ],
)
def test_apply_operation_record_reference_errors(crm, name, args, words):
    with pytest.raises(OperationError, match=words):
        apply_operation(crm.session, crm.officer, name, args)


def test_a_blank_reference_beside_an_id_is_ignored_where_blank_means_not_given(crm):
    opportunity = apply_operation(
        crm.session,
        crm.seller,
        "update_opportunity",
        {"opportunity_id": 1, "reference": "", "stage": "qualified"},
    )
    assert opportunity.reference == "OP-000001" and opportunity.stage == "qualified"
    with pytest.raises(OperationError) as caught:
        apply_operation(
            crm.session, crm.seller, "update_opportunity", {"reference": "OP-9", "stage": "lost"}
        )
    assert caught.value.field == "reference"


@pytest.mark.parametrize(
    ("name", "args", "message", "field"),
    [
        ("record_payment", {"amount_hkd": 200}, "Invoice no. is required.", "invoice_no"),
        (
            "record_payment",
            {"invoice_no": " ", "amount_hkd": 200},
            "Invoice no. is required.",
            "invoice_no",
        ),
        ("update_order_status", {"status": "paid"}, "Order no. is required.", "order_no"),
    ],
)
def test_a_number_left_empty_is_refused_as_a_form_would_be(crm, name, args, message, field):
    with pytest.raises(OperationError) as caught:
        apply_operation(crm.session, crm.officer, name, args)
    assert not isinstance(caught.value, InvalidArguments)
    assert (caught.value.message, caught.value.field) == (message, field)


def test_an_id_given_beside_a_number_is_the_one_used(crm):
    invoice = crm.session.scalar(select(Invoice).where(Invoice.invoice_no == "INV-000001"))
    apply_operation(
        crm.session,
        crm.officer,
        "record_payment",
        {"invoice_id": invoice.id, "invoice_no": "INV-404", "amount_hkd": 200},
    )
    assert invoice.paid_hkd == 200


@pytest.mark.parametrize(
    ("name", "allowed", "refused", "words"),
    [
        ("set_case_status", "officer", "marketer", "may not work service cases"),
        ("update_campaign", "marketer", "seller", "may not run campaigns"),
        ("update_opportunity", "seller", "marketer", "may not work sales opportunities"),
        ("quote_request_fee", "officer", "seller", "may not handle data access"),
    ],
)
def test_each_area_refuses_other_departments_and_disabled_accounts(
    crm, name, allowed, refused, words
):
    args = VALID_ARGS[name](crm)
    outsider, insider = (
        crm.session.scalar(select(StaffUser).where(StaffUser.username == username))
        for username in (refused, allowed)
    )
    with pytest.raises(OperationError, match=words):
        apply_operation(crm.session, outsider, name, args)
    insider.is_active = False
    with pytest.raises(OperationError, match=words):
        apply_operation(crm.session, insider, name, args)
    insider.is_active = True
    apply_operation(crm.session, insider, name, args)


def test_administrators_pass_a_department_check_only_where_the_area_admits_them(crm):
    crm.seller.is_admin = True
    with pytest.raises(OperationError, match="may not work sales"):
        check_department(crm.marketer, {"sales"}, "may not work sales", admins=True)
    check_department(crm.seller, {"it"}, "may not", admins=True)
    with pytest.raises(OperationError, match="may not change"):
        check_department(crm.seller, {"it"}, "may not change")


def test_a_code_finds_its_row_or_the_refusal_lists_the_known_codes(crm):
    unknown = "Unknown %(code)r; known: %(known)s."
    found = find_by_code(crm.session, Department, "sales", unknown, "team")
    assert found is crm.seller.department
    with pytest.raises(OperationError) as caught:
        find_by_code(crm.session, Department, "hr", unknown, "team")
    assert caught.value.message == "Unknown 'hr'; known: customer_service, marketing, sales."
    assert caught.value.field == "team"
    with pytest.raises(OperationError, match="known: sales, marketing, customer_service"):
        find_by_code(crm.session, Department, 3, unknown, None, known_order=Department.id.desc())


def test_apply_operation_unknown_operation_and_non_mapping(crm):
    with pytest.raises(OperationError, match="known operations: add_customer_note"):
        apply_operation(crm.session, crm.officer, "drop_table", {})
    with pytest.raises(OperationError, match="mapping"):
        apply_operation(crm.session, crm.officer, "run_report", [1])  # type: ignore[arg-type]


def test_department_code_alias_and_report_name(crm):
    share = apply_operation(
        crm.session,
        crm.officer,
        "share_report",
        {"report_name": "Gold members", "department_code": "marketing", "can_export": True},
    )
    assert share.report_id == crm.report.id and share.can_export


def test_report_name_must_be_visible_and_unique(crm):
    with pytest.raises(OperationError, match="no report called"):
        apply_operation(crm.session, crm.marketer, "run_report", {"report_name": "Gold members"})
    create_report(
        crm.session, crm.officer, name="Gold members", source="customers", columns=["tier"]
    )
    with pytest.raises(OperationError, match="Several reports"):
        apply_operation(crm.session, crm.officer, "run_report", {"report_name": "Gold members"})


# --- the Args model is the one declaration of an operation's arguments --------------------------


@pytest.mark.parametrize(
    ("call", "message", "field"),
    [
        (
            lambda c: add_customer_note(c.session, c.officer, c.alice.id, "   "),
            "Note is required.",
            "text",
        ),
        (
            lambda c: add_customer_note(c.session, c.officer, c.alice.id, "x" * 2001),
            "Note is too long (2001 characters; at most 2000).",
            "text",
        ),
        (
            lambda c: update_customer(c.session, c.officer, c.alice.id, {"tier": "diamond"}),
            "Tier must be one of classic, silver, gold, platinum; got 'diamond'.",
            "tier",
        ),
        (
            lambda c: share_report(c.session, c.officer, c.report.id, "marketing", "maybe"),
            "Export permission must be true or false; got 'maybe'.",
            "can_export",
        ),
        (
            lambda c: export_report(
                c.session, c.officer, c.report.id, destination="usb_stick", file_format="xlsx"
            ),
            "Destination must be one of internal_shared_drive, internal_email, personal_email, "
            "usb_drive, external_party; got 'usb_stick'.",
            "destination",
        ),
    ],
)
def test_a_direct_call_is_validated_by_the_model_with_labels(crm, call, message, field):
    before = dump(crm.session)
    with pytest.raises(OperationError) as caught:
        call(crm)
    assert not isinstance(caught.value, InvalidArguments)
    assert (caught.value.message, caught.value.field) == (message, field)
    assert dump(crm.session) == before


def test_values_within_the_models_limits_are_accepted_stripped(crm):
    add_customer_note(crm.session, crm.officer, crm.alice.id, "  " + "x" * 2000 + "  ")
    assert crm.alice.notes.endswith("] " + "x" * 2000)
    update_customer(crm.session, crm.officer, crm.alice.id, {"tier": "platinum"})
    assert crm.alice.tier == "platinum"
    share = share_report(crm.session, crm.officer, crm.report.id, "marketing", True)
    assert share.can_export is True


def test_scripts_get_the_same_refusal_as_the_form_but_call_mistakes_are_invalid(crm):
    with pytest.raises(OperationError) as refused:
        apply_operation(
            crm.session, crm.officer, "add_customer_note", {"member_no": "M00000001", "text": ""}
        )
    assert not isinstance(refused.value, InvalidArguments)
    assert (refused.value.message, refused.value.field) == ("Note is required.", "text")
    with pytest.raises(InvalidArguments) as mistaken:
        apply_operation(
            crm.session,
            crm.officer,
            "add_customer_note",
            {"member_no": "M00000001", "text": "", "txt": "hello"},
        )
    assert mistaken.value.message == (
        "Note is required; unknown argument 'txt' (known arguments: customer_id, member_no, text)."
    )


def test_record_consent_refuses_not_asked_in_the_models_words(crm):
    args = {**VALID_ARGS["record_consent"](crm), "status": "not_asked"}
    with pytest.raises(OperationError) as caught:
        apply_operation(crm.session, crm.officer, "record_consent", args)
    assert caught.value.field == "status"
    assert caught.value.message.startswith("not_asked means that no consent was recorded")


def test_describe_operations_shows_labels_lengths_and_choices():
    described = {d["name"]: {a["name"]: a for a in d["args"]} for d in describe_operations()}
    note = described["add_customer_note"]["text"]
    assert (note["label"], note["min_length"], note["max_length"]) == ("Note", 1, 2000)
    assert note["type"] == "str, 1 to 2000 characters"
    assert described["send_message"]["subject"]["type"] == "str, at most 200 characters"
    assert described["update_customer"]["tier"]["choices"] == [
        "classic",
        "silver",
        "gold",
        "platinum",
    ]
    assert described["export_report"]["file_format"]["choices"] == ["csv", "xlsx"]
    assert described["export_report"]["headers"]["choices"] == ["labels", "codes"]


def test_describe_operations_documents_every_argument():
    described = describe_operations()
    assert sorted(d["name"] for d in described) == OPERATIONS.names()
    for operation in described:
        assert operation["description"] and operation["event"]
        for arg in operation["args"]:
            assert arg["description"], (operation["name"], arg["name"])
            assert arg["type"]
    share = next(d for d in described if d["name"] == "share_report")
    department = next(a for a in share["args"] if a["name"] == "department")
    assert department["required"] and department["aliases"] == ["department_code"]


# --- customers --------------------------------------------------------------------------------


def test_view_customer_is_an_audited_read(crm):
    before = dump(crm.session)
    start = last_event_id(crm.session)
    assert view_customer(crm.session, crm.seller, crm.bob.id) is crm.bob
    (event,) = events(crm.session, start)
    assert (event.operation, event.entity_type, event.entity_id) == (
        "customer.view",
        "customer",
        crm.bob.id,
    )
    assert event.actor_id == crm.seller.id
    after = dump(crm.session)
    assert after["customer"] == before["customer"]


def test_update_customer_moves_region_with_district_and_records_changes(crm):
    start = last_event_id(crm.session)
    update_customer(
        crm.session, crm.officer, crm.alice.id, {"district": "Kwun Tong", "tier": "gold"}
    )
    assert (crm.alice.district, crm.alice.region) == ("Kwun Tong", "Kowloon")
    (event,) = events(crm.session, start)
    assert event.before == {"district": "Sha Tin", "region": "New Territories"}
    assert event.after == {"district": "Kwun Tong", "region": "Kowloon"}
    assert crm.alice.updated_at.date() == TODAY


def test_closing_a_customer_sets_closed_on(crm):
    update_customer(crm.session, crm.officer, crm.alice.id, {"status": "closed"})
    assert crm.alice.closed_on == TODAY
    update_customer(crm.session, crm.officer, crm.alice.id, {"status": "active"})
    assert crm.alice.closed_on is None


def test_update_customer_rejects_everything_when_one_value_is_bad(crm):
    with pytest.raises(OperationError, match="District must be one of Central and Western"):
        update_customer(
            crm.session, crm.officer, crm.alice.id, {"tier": "platinum", "district": "Mars"}
        )
    assert crm.alice.tier == "gold"
    with pytest.raises(InvalidArguments) as caught:
        update_customer(crm.session, crm.officer, crm.alice.id, {"hkid": "A123456(3)"})
    assert caught.value.message == (
        "Unknown argument 'hkid' (known arguments: customer_id, member_no, name_en, name_zh, "
        "district, tier, preferred_language, status, notes)."
    )


def test_add_customer_note_appends_a_signed_dated_line(crm):
    add_customer_note(crm.session, crm.officer, crm.alice.id, "Called about her order.")
    add_customer_note(crm.session, crm.colleague, crm.alice.id, "  Follow-up done.  ")
    assert crm.alice.notes == (
        "[2026-03-16 officer] Called about her order.\n[2026-03-16 colleague] Follow-up done."
    )


def test_update_contact_point_normalises_phone_numbers(crm):
    mobile = crm.alice.contact_points[1]
    update_contact_point(crm.session, crm.officer, mobile.id, value="+852 9876-5432")
    assert mobile.value == "98765432"
    with pytest.raises(OperationError, match="not a Hong Kong mobile number"):
        update_contact_point(crm.session, crm.officer, mobile.id, value="2345 6789")


def test_update_contact_point_records_before_and_after(crm):
    email = crm.alice.contact_points[0]
    start = last_event_id(crm.session)
    update_contact_point(
        crm.session, crm.officer, email.id, value="alice.chan@example.hk", is_invalid=False
    )
    (event,) = events(crm.session, start)
    # is_invalid was already False: only the value changed.
    assert event.before == {"value": "alice@example.hk"}
    assert event.after == {"value": "alice.chan@example.hk"}
    assert event.details["customer_id"] == crm.alice.id


# --- consent ----------------------------------------------------------------------------------


def consent_rows(session: Session) -> list[tuple]:
    return dump(session)["consent_record"]


def dm_email(crm: Crm, customer: Customer) -> str:
    page = select_rows(
        crm.session,
        "customers",
        columns=["dm_email"],
        where={"field": "customer_id", "op": "eq", "value": customer.id},
        as_of=TODAY,
    )
    return page.rows[0]["dm_email"]


def test_record_consent_appends_and_never_updates(crm):
    old = consent_rows(crm.session)
    record = record_consent(
        crm.session, crm.officer, crm.alice.id, "direct_marketing", "email", "withdrawn", "oral"
    )
    new = consent_rows(crm.session)
    assert new[: len(old)] == old
    assert len(new) == len(old) + 1
    assert record.recorded_by_id == crm.officer.id
    assert record.captured_at.date() == TODAY
    assert record.notice.version == "PICS-2024"  # in effect today; PICS-2027 is not yet
    assert dm_email(crm, crm.alice) == "withdrawn"


def test_record_consent_keeps_opted_out_in_step(crm):
    email, mobile = crm.alice.contact_points
    start = last_event_id(crm.session)
    record_consent(
        crm.session, crm.officer, crm.alice.id, "direct_marketing", "email", "withdrawn", "oral"
    )
    assert email.opted_out and not mobile.opted_out
    (event,) = events(crm.session, start)
    assert event.before == {"status": "given"}
    assert event.after["status"] == "withdrawn"
    assert event.details["contact_points"] == [
        {"contact_point_id": email.id, "opted_out": [False, True]}
    ]
    record_consent(
        crm.session, crm.officer, crm.alice.id, "direct_marketing", "email", "given", "written_form"
    )
    assert not email.opted_out
    # A mobile number is reached by SMS and by calls: opted out while either is withdrawn.
    record_consent(
        crm.session, crm.officer, crm.alice.id, "direct_marketing", "sms", "withdrawn", "oral"
    )
    record_consent(
        crm.session, crm.officer, crm.alice.id, "direct_marketing", "phone", "withdrawn", "oral"
    )
    assert mobile.opted_out
    record_consent(
        crm.session, crm.officer, crm.alice.id, "direct_marketing", "sms", "given", "oral"
    )
    assert mobile.opted_out
    record_consent(
        crm.session, crm.officer, crm.alice.id, "direct_marketing", "phone", "given", "oral"
    )
    assert not mobile.opted_out


def test_other_purposes_leave_opt_out_flags_alone(crm):
    email = crm.alice.contact_points[0]
    record_consent(
        crm.session,
        crm.officer,
        crm.alice.id,
        "third_party_marketing",
        "email",
        "withdrawn",
        "oral",
    )
    assert not email.opted_out
    assert dm_email(crm, crm.alice) == "given"


# --- messages ---------------------------------------------------------------------------------


def test_send_message_goes_to_the_primary_contact(crm):
    message = send_message(
        crm.session,
        crm.officer,
        customer_id=crm.bob.id,
        channel="email",
        kind="service",
        body="Your order has shipped.",
    )
    assert message.to_address == "bob@example.hk"
    assert message.staff_id == crm.officer.id and message.sent_at.date() == TODAY


def test_send_message_to_an_opted_out_customer_is_recorded_not_blocked(crm):
    start = last_event_id(crm.session)
    message = send_message(
        crm.session,
        crm.officer,
        customer_id=crm.bob.id,
        channel="email",
        kind="promotional",
        subject="Spring VIP evening",
        body="Join us!",
        campaign_id=1,
    )
    assert message.kind == "promotional" and message.campaign_id == 1
    (event,) = events(crm.session, start)
    assert event.details["dm_consent"] == "withdrawn"
    assert event.details["contact_opted_out"] is True
    assert crm.session.scalar(select(func.count(Message.id))) == 1


def test_send_message_needs_a_contact_for_the_channel(crm):
    with pytest.raises(OperationError, match="has no contact for sms"):
        send_message(
            crm.session,
            crm.officer,
            customer_id=crm.bob.id,
            channel="sms",
            kind="service",
            body="Hi",
        )
    # Calls fall back to the mobile number.
    call = send_message(
        crm.session,
        crm.officer,
        customer_id=crm.alice.id,
        channel="phone",
        kind="service",
        body="Hi",
    )
    assert call.to_address == "91234567"


# --- reports: definitions ---------------------------------------------------------------------


def test_create_report_stores_a_normalised_definition(crm):
    report = create_report(
        crm.session,
        crm.marketer,
        name="  Platinum list ",
        source="customers",
        columns=["member_no", "email"],
        filters={},
        sort=[("member_no", "desc"), {"field": "email"}],
        purpose="Invitations",
    )
    assert report.name == "Platinum list"
    assert report.owner_id == crm.marketer.id
    assert report.filters is None
    assert report.sort == [["member_no", "desc"], ["email", "asc"]]


def test_create_report_explains_bad_filters(crm):
    with pytest.raises(OperationError) as caught:
        create_report(
            crm.session,
            crm.officer,
            name="Bad",
            source="customers",
            columns=["tier"],
            filters={"all": [{"field": "tier", "op": "eq", "value": "vip"}]},
        )
    assert "Filters: all[0].value: tier has no value 'vip'" in str(caught.value)
    assert caught.value.field == "filters"


def test_update_report_owner_only_and_records_changes(crm):
    with pytest.raises(OperationError, match="Only the report's owner"):
        update_report(crm.session, crm.colleague, crm.report.id, name="Mine now")
    with pytest.raises(InvalidArguments, match=r"^Unknown argument 'owner_id' \(known arg"):
        update_report(crm.session, crm.officer, crm.report.id, owner_id=crm.colleague.id)
    start = last_event_id(crm.session)
    update_report(
        crm.session,
        crm.officer,
        crm.report.id,
        name="Gold members",
        filters={"field": "tier", "op": "eq", "value": "gold"},
    )
    (event,) = events(crm.session, start)
    assert event.before == {"filters": {"field": "tier", "op": "in", "value": ["gold", "platinum"]}}
    assert event.after == {"filters": {"field": "tier", "op": "eq", "value": "gold"}}


def test_delete_report_is_soft_and_hides_it(crm):
    share_report(crm.session, crm.officer, crm.report.id, "marketing")
    delete_report(crm.session, crm.officer, crm.report.id)
    assert crm.session.get(ReportDefinition, crm.report.id).is_deleted
    assert not can_view_report(crm.session, crm.marketer, crm.report)
    assert not can_view_report(crm.session, crm.officer, crm.report)
    with pytest.raises(OperationError, match="has been deleted"):
        run_report(crm.session, crm.officer, crm.report.id)
    with pytest.raises(OperationError, match="has been deleted"):
        delete_report(crm.session, crm.officer, crm.report.id)


# --- reports: sharing and access --------------------------------------------------------------


def test_only_the_owner_may_share(crm):
    before = dump(crm.session)
    with pytest.raises(OperationError, match=r"Only the report's owner \(officer\) may share"):
        share_report(crm.session, crm.colleague, crm.report.id, "marketing")
    assert dump(crm.session) == before


def test_sharing_twice_updates_export_rights(crm):
    first = share_report(crm.session, crm.officer, crm.report.id, "marketing")
    start = last_event_id(crm.session)
    second = share_report(crm.session, crm.officer, crm.report.id, "marketing", can_export=True)
    assert second.id == first.id and second.can_export
    assert crm.session.scalar(select(func.count(ReportShare.id))) == 1
    (event,) = events(crm.session, start)
    assert event.before == {"can_export": False}
    assert event.after == {"department": "marketing", "can_export": True}
    with pytest.raises(OperationError, match="already shared with Marketing"):
        share_report(crm.session, crm.officer, crm.report.id, "marketing", can_export=True)


def test_unknown_department_lists_the_known_ones(crm):
    with pytest.raises(
        OperationError, match="known departments: customer_service, marketing, sales"
    ):
        share_report(crm.session, crm.officer, crm.report.id, "legal")


def test_run_report_permission(crm):
    run_report(crm.session, crm.officer, crm.report.id)  # owner
    for outsider in (crm.marketer, crm.seller):
        with pytest.raises(OperationError, match="do not have access"):
            run_report(crm.session, outsider, crm.report.id)
    share_report(crm.session, crm.officer, crm.report.id, "marketing")
    assert run_report(crm.session, crm.marketer, crm.report.id).run_by_id == crm.marketer.id
    with pytest.raises(OperationError, match="do not have access"):
        run_report(crm.session, crm.seller, crm.report.id)
    unshare_report(crm.session, crm.officer, crm.report.id, "marketing")
    with pytest.raises(OperationError, match="do not have access"):
        run_report(crm.session, crm.marketer, crm.report.id)
    # Sharing is by department: a colleague in the owner's department has no access either.
    with pytest.raises(OperationError, match="do not have access"):
        run_report(crm.session, crm.colleague, crm.report.id)


def test_run_report_stores_a_snapshot_of_the_output(crm):
    start = last_event_id(crm.session)
    run = run_report(crm.session, crm.officer, crm.report.id)
    assert run.columns == ["member_no", "name_en", "tier"]
    assert run.row_count == 2
    assert run.row_keys == [crm.bob.id, crm.alice.id]  # member_no descending
    assert list(csv.reader(io.StringIO(run.output_csv))) == [
        ["member_no", "name_en", "tier"],
        ["M00000002", "Bob Wong", "platinum"],
        ["M00000001", "Alice Chan", "gold"],
    ]
    (event,) = events(crm.session, start)
    assert (event.operation, event.entity_type, event.entity_id) == (
        "report.run",
        "report",
        crm.report.id,
    )
    assert event.details == {"report_id": crm.report.id, "run_id": run.id, "row_count": 2}


# --- reports: export --------------------------------------------------------------------------


def test_export_stores_content_fields_and_destination(crm):
    export = export_report(
        crm.session,
        crm.officer,
        crm.report.id,
        purpose="VIP evening invitations",
        destination="internal_email",
        for_department="marketing",
        encrypted=True,
    )
    assert export.columns == ["member_no", "name_en", "tier"]
    assert export.row_count == 2
    assert export.content.splitlines()[0] == "Member no.,Name (English),Tier"
    assert "M00000001,Alice Chan,Gold" in export.content
    assert export.destination == "internal_email" and export.encrypted
    assert export.for_department.code == "marketing"
    assert export.exported_by_id == crm.officer.id
    assert export.exported_at.date() == TODAY
    # Exporting does not count as a run.
    assert crm.session.scalar(select(func.count(ReportRun.id))) == 0


def test_export_keeps_text_that_looks_like_a_formula_as_text(crm):
    crm.report.columns = ["member_no", "name_en", "notes", "spend_12m"]
    crm.alice.name_en = '=HYPERLINK("http://evil.example","Alice")'
    crm.alice.notes = "@SUM(A1:A9)"
    crm.bob.name_en = "+852 Bob"
    crm.bob.notes = "-1 from the last visit"
    crm.session.flush()
    run = run_report(crm.session, crm.officer, crm.report.id)
    export = export_report(crm.session, crm.officer, crm.report.id, destination="internal_email")
    ran = list(csv.reader(io.StringIO(run.output_csv)))
    exported = list(csv.reader(io.StringIO(export.content)))
    assert ran[1:] == [
        ["M00000002", "+852 Bob", "-1 from the last visit", "0"],
        ["M00000001", '=HYPERLINK("http://evil.example","Alice")', "@SUM(A1:A9)", "0"],
    ]
    assert exported[1:] == [
        ["M00000002", "'+852 Bob", "'-1 from the last visit", "0"],
        ["M00000001", '\'=HYPERLINK("http://evil.example","Alice")', "'@SUM(A1:A9)", "0"],
    ]


def test_export_can_use_the_field_codes_as_headers(crm):
    export = export_report(
        crm.session, crm.officer, crm.report.id, destination="internal_email", headers="codes"
    )
    assert export.content.splitlines()[0] == "member_no,name_en,tier"
    assert "M00000001,Alice Chan,Gold" in export.content
    assert export.columns == ["member_no", "name_en", "tier"]


def test_export_keeps_chinese_names_as_they_are(crm):
    crm.report.columns = ["member_no", "name_zh"]
    crm.alice.name_zh = "陳愛麗"
    crm.session.flush()
    export = export_report(crm.session, crm.officer, crm.report.id, destination="internal_email")
    assert "M00000001,陳愛麗" in export.content.splitlines()


def test_export_refuses_an_unknown_format_or_header_style(crm):
    with pytest.raises(OperationError, match="File format must be one of csv, xlsx"):
        export_report(
            crm.session, crm.officer, crm.report.id, destination="internal_email", file_format="pdf"
        )
    with pytest.raises(OperationError, match="Column headers must be one of labels, codes"):
        export_report(
            crm.session, crm.officer, crm.report.id, destination="internal_email", headers="both"
        )


def test_careless_exports_are_recorded_for_the_graders(crm):
    start = last_event_id(crm.session)
    export = export_report(crm.session, crm.officer, crm.report.id, destination="personal_email")
    assert (export.purpose, export.destination, export.encrypted) == ("", "personal_email", False)
    (event,) = events(crm.session, start)
    assert event.details["destination_approved"] is False
    assert event.after["purpose"] == "" and event.after["encrypted"] is False


def test_export_needs_export_rights(crm):
    share_report(crm.session, crm.officer, crm.report.id, "marketing")
    with pytest.raises(OperationError, match="may not export"):
        export_report(crm.session, crm.marketer, crm.report.id, destination="internal_email")
    share_report(crm.session, crm.officer, crm.report.id, "marketing", can_export=True)
    export = export_report(crm.session, crm.marketer, crm.report.id, destination="internal_email")
    assert crm.session.get(ReportExport, export.id).exported_by_id == crm.marketer.id


def test_a_report_that_no_longer_fits_its_source_cannot_run(crm):
    crm.report.columns = ["member_no", "loyalty_points"]
    crm.session.flush()
    before = dump(crm.session)
    with pytest.raises(OperationError, match="cannot run: columns\\[1\\]: unknown field"):
        run_report(crm.session, crm.officer, crm.report.id)
    assert dump(crm.session) == before


# --- on a generated sandbox -------------------------------------------------------------------

VIP_FILTER = {
    "all": [
        {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "status", "op": "eq", "value": "active"},
        {"field": "spend_12m", "op": "ge", "value": 3000},
        {"field": "dm_email", "op": "in", "value": ["given", "no_objection"]},
    ]
}


def test_report_workflow_on_a_generated_sandbox(sandbox_session, sandbox_actor):
    session, actor = sandbox_session, sandbox_actor
    start = last_event_id(session)
    steps = [
        (
            "create_report",
            {
                "name": "VIP preview evening",
                "source": "customers",
                "columns": ["member_no", "name_en", "email", "tier", "district", "spend_12m"],
                "filters": VIP_FILTER,
                "sort": [["spend_12m", "desc"]],
                "purpose": "Email invitations",
            },
        ),
        ("share_report", {"report_name": "VIP preview evening", "department": "marketing"}),
        ("run_report", {"report_name": "VIP preview evening"}),
        (
            "export_report",
            {
                "report_name": "VIP preview evening",
                "purpose": "Email invitations",
                "destination": "internal_shared_drive",
                "for_department": "marketing",
                "encrypted": True,
            },
        ),
    ]
    report, _share, run, export = (
        apply_operation(session, actor, name, args) for name, args in steps
    )
    expected = select_keys(session, "customers", VIP_FILTER, TODAY)
    assert expected and set(run.row_keys) == expected and run.row_count == len(expected)
    spends = [int(line.rsplit(",", 1)[1]) for line in run.output_csv.splitlines()[1:]]
    assert spends == sorted(spends, reverse=True)
    # The export holds the same rows as the run, in people's terms (labels, not codes).
    assert len(export.content.splitlines()) == len(run.output_csv.splitlines())
    assert export.row_count == run.row_count
    written = events(session, start)
    assert [e.operation for e in written] == [
        "report.create",
        "report.share",
        "report.run",
        "report.export",
    ]
    assert {(e.entity_type, e.entity_id, e.actor_id) for e in written} == {
        ("report", report.id, actor.id)
    }
