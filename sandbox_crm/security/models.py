"""Security settings: roles, each account's access, field permissions, backups."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sandbox_crm.company.models import StaffUser
from sandbox_crm.models import SandboxBase


class RecordScope(enum.StrEnum):
    """Which customer records an account reaches."""

    ALL = "all"
    REGION = "region"
    BRANCH = "branch"
    OWN = "own"


class FieldAccess(enum.StrEnum):
    """How a role sees a protected field."""

    FULL = "full"
    MASKED = "masked"
    HIDDEN = "hidden"


class BackupFrequency(enum.StrEnum):
    """How often the automatic backup runs."""

    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"


class SecurityRole(SandboxBase):
    """A role staff accounts are given: what it may do is its field permissions and scope."""

    __tablename__ = "security_role"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)


class StaffAccess(SandboxBase):
    """One staff account's role, record scope and sign-in history."""

    __tablename__ = "staff_access"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("security_role.id"))
    scope: Mapped[str] = mapped_column(String(16), default=RecordScope.OWN.value)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_on: Mapped[date | None] = mapped_column(Date)

    staff: Mapped[StaffUser] = relationship()
    role: Mapped[SecurityRole] = relationship()


class FieldPermission(SandboxBase):
    """How one role sees one protected field: in full, masked or not at all."""

    __tablename__ = "field_permission"
    __table_args__ = (UniqueConstraint("role_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("security_role.id"))
    field: Mapped[str] = mapped_column(String(32))
    access: Mapped[str] = mapped_column(String(16), default=FieldAccess.MASKED.value)

    role: Mapped[SecurityRole] = relationship()


class BackupPolicy(SandboxBase):
    """The automatic backup schedule, how long backups are kept and whether they are encrypted."""

    __tablename__ = "backup_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    frequency: Mapped[str] = mapped_column(String(16), default=BackupFrequency.OFF.value)
    hour: Mapped[int] = mapped_column(Integer, default=2)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    """None: backups are kept forever."""
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)


class BackupRun(SandboxBase):
    """A backup that ran: when, whether encrypted, until when it is kept."""

    __tablename__ = "backup_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_on: Mapped[date | None] = mapped_column(Date)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
