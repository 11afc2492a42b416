"""Data subject requests: access (s18) and correction (s22) requests, their copies and notices.

A request is logged with the day it was received; day 40 counts from the day after (s19(1)).
The copy compiled for an access request is stored item by item, so the trainee and the assessor
can read exactly what was (or would be) released. Disclosures record to whom a customer's data
was given outside the company, so that a correction can be passed on to them (s23(1)(c)).
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase

RESPONSE_DAYS = 40
"""s19(1), s23(1): comply within 40 days of receiving the request."""

DISCLOSURE_LOOKBACK_DAYS = 365
"""s23(1)(c): recipients of the data in the 12 months before the correction is made."""

ACCESS_COPY_DIRECT_COST_HKD = 50
"""The company's direct cost of supplying a copy (printing, postage): the most it may charge."""


class RequestKind(enum.StrEnum):
    """What the data subject asks for."""

    ACCESS = "access"
    CORRECTION = "correction"


class RequestChannel(enum.StrEnum):
    """How the request reached the company."""

    EMAIL = "email"
    POST = "post"
    WALK_IN = "walk_in"
    ONLINE_FORM = "online_form"


class RequestForm(enum.StrEnum):
    """The form the requester used."""

    PCPD_FORM = "pcpd_form"
    COMPANY_FORM = "company_form"
    LETTER = "letter"
    EMAIL_TEXT = "email_text"


class IdentityMethod(enum.StrEnum):
    """How the requester's identity was verified."""

    IDENTITY_DOCUMENT_SEEN = "identity_document_seen"
    REGISTERED_CONTACT_CONFIRMED = "registered_contact_confirmed"
    MEMBER_DETAILS_MATCHED = "member_details_matched"


class DataItem(enum.StrEnum):
    """A kind of data a copy may hold about the requester."""

    PROFILE = "profile"
    CONTACT_DETAILS = "contact_details"
    CONSENTS = "consents"
    ORDERS = "orders"
    NOTES = "notes"


class RequestOutcome(enum.StrEnum):
    """How a request was answered."""

    COPY_PROVIDED = "copy_provided"
    NO_DATA_HELD = "no_data_held"
    CORRECTED = "corrected"
    REFUSED = "refused"


class RefusalGround(enum.StrEnum):
    """The grounds on which a request may be refused (s20 for access, s24 for correction)."""

    IDENTITY_NOT_VERIFIED = "identity_not_verified"
    OTHERS_DATA_NOT_SEPARABLE = "others_data_not_separable"
    PROHIBITED_BY_LAW = "prohibited_by_law"
    INFORMATION_TO_LOCATE_MISSING = "information_to_locate_missing"
    REPEATED_REQUEST = "repeated_request"
    NOT_SATISFIED_INACCURATE = "not_satisfied_inaccurate"


ACCESS_GROUNDS = frozenset(
    {
        RefusalGround.IDENTITY_NOT_VERIFIED.value,
        RefusalGround.OTHERS_DATA_NOT_SEPARABLE.value,
        RefusalGround.PROHIBITED_BY_LAW.value,
        RefusalGround.INFORMATION_TO_LOCATE_MISSING.value,
        RefusalGround.REPEATED_REQUEST.value,
    }
)
"""The s20 grounds for refusing an access request."""

CORRECTION_GROUNDS = frozenset(
    {
        RefusalGround.IDENTITY_NOT_VERIFIED.value,
        RefusalGround.INFORMATION_TO_LOCATE_MISSING.value,
        RefusalGround.NOT_SATISFIED_INACCURATE.value,
    }
)
"""The s24 grounds for refusing a correction request."""

CORRECTABLE_FIELDS = ("district", "email", "mobile")
"""What a correction request in the sandbox may ask to correct."""


class DataRequest(SandboxBase):
    """A data access or correction request, from receipt to its answer."""

    __tablename__ = "data_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    requester_name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16))
    form_used: Mapped[str] = mapped_column(String(16))
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    details: Mapped[str] = mapped_column(Text, default="")
    correction_field: Mapped[str] = mapped_column(String(16), default="")
    correction_value: Mapped[str] = mapped_column(String(300), default="")
    fee_hkd: Mapped[int] = mapped_column(Integer, default=0)
    fee_basis: Mapped[str] = mapped_column(String(200), default="")
    identity_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    identity_method: Mapped[str] = mapped_column(String(32), default="")
    identity_evidence: Mapped[str] = mapped_column(String(300), default="")
    copy_compiled_at: Mapped[datetime | None] = mapped_column(DateTime)
    extension_sent_on: Mapped[date | None] = mapped_column(Date)
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    extended_to: Mapped[date | None] = mapped_column(Date)
    corrected_at: Mapped[datetime | None] = mapped_column(DateTime)
    refusal_ground: Mapped[str] = mapped_column(String(32), default="")
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    response_channel: Mapped[str] = mapped_column(String(16), default="")
    responded_on: Mapped[date | None] = mapped_column(Date)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    logged_at: Mapped[datetime] = mapped_column(DateTime)

    @property
    def is_open(self) -> bool:
        """Whether the request still waits for its answer."""
        return not self.outcome

    def days_left(self, today: date) -> int:
        """Days until day 40 (negative once it has passed)."""
        return (self.due_on - today).days


def due_date(received_on: date) -> date:
    """Day 40 after receipt, counted from the day after (the last day to comply)."""
    return received_on + timedelta(days=RESPONSE_DAYS)


class RequestCopyItem(SandboxBase):
    """One item of the copy compiled for an access request: what the requester will receive."""

    __tablename__ = "request_copy_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("data_request.id"), index=True)
    item: Mapped[str] = mapped_column(String(24))
    record: Mapped[str] = mapped_column(String(60))
    content: Mapped[str] = mapped_column(Text)
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)


class RequestLogEntry(SandboxBase):
    """An entry of the log book of refused requests (s27), kept for four years."""

    __tablename__ = "request_log_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("data_request.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    ground: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")


class DataDisclosure(SandboxBase):
    """A disclosure of a customer's data to someone outside the company (a courier, an insurer)."""

    __tablename__ = "data_disclosure"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(200))
    data_items: Mapped[str] = mapped_column(String(200))
    disclosed_on: Mapped[date] = mapped_column(Date)


class CorrectionNotice(SandboxBase):
    """A corrected copy sent to a recipient of the data (s23(1)(c))."""

    __tablename__ = "correction_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("data_request.id"), index=True)
    disclosure_id: Mapped[int] = mapped_column(ForeignKey("data_disclosure.id"))
    channel: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
