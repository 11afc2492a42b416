"""The company's own records: branches, departments, staff users and collection notices."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sandbox_crm.models import SandboxBase


class Branch(SandboxBase):
    """A shop, warehouse or office of the company."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="store")
    district: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(40))
    is_remote: Mapped[bool] = mapped_column(Boolean, default=False)
    ip_allow_list: Mapped[str | None] = mapped_column(Text)


class Department(SandboxBase):
    """A department; reports are shared with departments."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))


class StaffUser(SandboxBase):
    """A member of staff of the sandbox company; every audit event names one."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(120))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    left_on: Mapped[date | None] = mapped_column(Date)
    is_trainee: Mapped[bool] = mapped_column(Boolean, default=False)

    department: Mapped[Department] = relationship()
    branch: Mapped[Branch | None] = relationship()


class CollectionNotice(SandboxBase):
    """A version of the Personal Information Collection Statement (PICS)."""

    __tablename__ = "collection_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    effective_from: Mapped[date] = mapped_column(Date)
    purposes: Mapped[list[Any]] = mapped_column(default=list)
    transferee_classes: Mapped[list[Any]] = mapped_column(default=list)
    obligatory_fields: Mapped[list[Any]] = mapped_column(default=list)
    voluntary_fields: Mapped[list[Any]] = mapped_column(default=list)
    states_access_rights: Mapped[bool] = mapped_column(Boolean, default=True)
    data_access_officer: Mapped[str | None] = mapped_column(String(200))
    dm_intent_stated: Mapped[bool] = mapped_column(Boolean, default=True)
    dm_data_kinds: Mapped[list[Any]] = mapped_column(default=list)
    dm_marketing_classes: Mapped[list[Any]] = mapped_column(default=list)
    dm_reply_channel: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
