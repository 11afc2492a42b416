"""The e-shop's own records, the import log, and data-quality issues with update requests."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class ReconStatus(enum.StrEnum):
    """Where an e-shop account stands in the import into the CRM."""

    UNREVIEWED = "unreviewed"
    MERGED = "merged"
    LINKED = "linked"
    CREATED = "created"
    REVIEW = "review"


class EshopAccount(SandboxBase):
    """A customer account of the e-shop, in the e-shop's own field names and formats."""

    __tablename__ = "eshop_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    cust_email: Mapped[str] = mapped_column(String(300))
    mobile_no: Mapped[str | None] = mapped_column(String(20))
    district: Mapped[str | None] = mapped_column(String(40))
    status_code: Mapped[str] = mapped_column(String(2), default="A")
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    recon_status: Mapped[str] = mapped_column(String(16), default=ReconStatus.UNREVIEWED)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)


class EshopOrder(SandboxBase):
    """An e-shop order; its status codes are the e-shop's (PD, SH, DL, CX cancelled, RF)."""

    __tablename__ = "eshop_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eshop_account.id"), index=True)
    order_ref: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[str] = mapped_column(String(2))
    total_hkd: Mapped[int] = mapped_column(Integer)
    placed_at: Mapped[datetime] = mapped_column(DateTime)


class EshopActivity(SandboxBase):
    """Online behaviour: a session, a product view, a wish-list item or an abandoned cart."""

    __tablename__ = "eshop_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eshop_account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)


class EshopConsent(SandboxBase):
    """A newsletter sign-up or unsubscribe on the e-shop: channel, status, when and how."""

    __tablename__ = "eshop_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eshop_account.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(24))
    captured_at: Mapped[datetime] = mapped_column(DateTime)


class EshopMatch(SandboxBase):
    """A candidate CRM match for an e-shop account found by a sync, with its score and reasons."""

    __tablename__ = "eshop_match"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eshop_account.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(Text, default="")
    found_at: Mapped[datetime] = mapped_column(DateTime)


class EshopSync(SandboxBase):
    """One run of the sync: when, by whom, how many accounts it compared and matches it found."""

    __tablename__ = "eshop_sync"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_at: Mapped[datetime] = mapped_column(DateTime)
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    accounts: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[int] = mapped_column(Integer)


class QualityScan(SandboxBase):
    """One run of the data-quality rules: when, by whom and how many issues it raised."""

    __tablename__ = "quality_scan"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_at: Mapped[datetime] = mapped_column(DateTime)
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    raised: Mapped[int] = mapped_column(Integer)


class EshopImportEntry(SandboxBase):
    """One line of the import log: what was done with an e-shop account, by whom, and why."""

    __tablename__ = "eshop_import_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("eshop_account.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    consents_copied: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime] = mapped_column(DateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class IssueStatus(enum.StrEnum):
    """Where a data-quality issue stands in the review queue."""

    OPEN = "open"
    REQUESTED = "requested"
    CLOSED = "closed"


class QualityIssue(SandboxBase):
    """A data-quality issue a rule raised about a customer, and how it was closed."""

    __tablename__ = "quality_issue"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    rule: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=IssueStatus.OPEN)
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    resolution: Mapped[str | None] = mapped_column(String(24))
    close_reason: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class ProfileUpdateRequest(SandboxBase):
    """A request sent to a customer to check and complete their own details."""

    __tablename__ = "profile_update_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("quality_issue.id"))
    channel: Mapped[str] = mapped_column(String(16))
    contact_point_id: Mapped[int] = mapped_column(ForeignKey("contact_point.id"))
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
