"""Online collection (sign-up forms, their fields, notices, consents and sign-ups) and tracking."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class FormKind(enum.StrEnum):
    """What an online form signs a person up for."""

    MEMBERSHIP = "membership"
    NEWSLETTER = "newsletter"
    ESHOP_ACCOUNT = "eshop_account"
    EVENT = "event"


class FormStatus(enum.StrEnum):
    """Whether a form still collects data."""

    LIVE = "live"
    RETIRED = "retired"


class Obligation(enum.StrEnum):
    """Whether a person must fill a field in to sign up."""

    OBLIGATORY = "obligatory"
    VOLUNTARY = "voluntary"


class SignupForm(SandboxBase):
    """An online sign-up form of the company and what it is for."""

    __tablename__ = "signup_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default=FormStatus.LIVE)
    purpose: Mapped[str] = mapped_column(Text, default="")
    fields_changed_at: Mapped[datetime] = mapped_column(DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)
    retire_reason: Mapped[str] = mapped_column(Text, default="")


class FormField(SandboxBase):
    """A field of a form: what it collects, obligatory or voluntary, and why."""

    __tablename__ = "form_field"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("signup_form.id"), index=True)
    field: Mapped[str] = mapped_column(String(24))
    obligation: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str] = mapped_column(Text, default="")


class PicsVersion(SandboxBase):
    """A version of a form's Personal Information Collection Statement, as published."""

    __tablename__ = "pics_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("signup_form.id"), index=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    published_at: Mapped[datetime] = mapped_column(DateTime)
    purposes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    transferee_classes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    transfers_for_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    access_rights_stated: Mapped[bool] = mapped_column(Boolean, default=True)
    access_contact: Mapped[str] = mapped_column(String(200), default="")
    obligatory_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    voluntary_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class FormConsentOption(SandboxBase):
    """A consent a form asks for at sign-up (a tick box), and whether it comes ticked."""

    __tablename__ = "form_consent_option"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("signup_form.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    pre_ticked: Mapped[bool] = mapped_column(Boolean, default=False)


class Signup(SandboxBase):
    """A sign-up received: which form, which PICS version the person saw, and what they gave."""

    __tablename__ = "signup"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("signup_form.id"), index=True)
    pics_id: Mapped[int | None] = mapped_column(ForeignKey("pics_version.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    fields_given: Mapped[list[Any]] = mapped_column(JSON, default=list)


class FormReviewNote(SandboxBase):
    """A note recorded on a form's review: what was found and decided."""

    __tablename__ = "form_review_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("signup_form.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(DateTime)
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class TrackingSetting(SandboxBase):
    """How one kind of online tracking data is handled: kept how long, and on what consent."""

    __tablename__ = "tracking_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), unique=True)
    retention_days: Mapped[int] = mapped_column(Integer)
    consent_required: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class TrackingRecord(SandboxBase):
    """One logged piece of online activity: a session, a product view or an analytics hit."""

    __tablename__ = "tracking_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    visitor: Mapped[str] = mapped_column(String(24))
    page: Mapped[str] = mapped_column(String(120), default="")
    occurred_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class TrackingPurge(SandboxBase):
    """One run of the purge that applies the retention settings."""

    __tablename__ = "tracking_purge"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_at: Mapped[datetime] = mapped_column(DateTime)
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    removed: Mapped[int] = mapped_column(Integer)
