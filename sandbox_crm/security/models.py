"""Security settings: roles, each account's access, field permissions, backups."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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


class RoleRights(SandboxBase):
    """A role's record scope and whether it may bulk-export customer data.

    Made for the roles of a set-up that manages authorisation rights per role (the
    ``access_rights`` plant); a role without a row reaches its own customers and cannot export.
    """

    __tablename__ = "role_rights"

    role_id: Mapped[int] = mapped_column(ForeignKey("security_role.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), default=RecordScope.OWN.value)
    bulk_export: Mapped[bool] = mapped_column(Boolean, default=False)

    role: Mapped[SecurityRole] = relationship()


class RequestDecision(enum.StrEnum):
    """What was decided on one item of a department's access request."""

    PENDING = "pending"
    GRANTED = "granted"
    PARTLY = "partly"
    REFUSED = "refused"


class AccessRequest(SandboxBase):
    """A department's request for access rights for one of its roles, and the reply to it."""

    __tablename__ = "access_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    role_id: Mapped[int] = mapped_column(ForeignKey("security_role.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    justification: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    reply: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    role: Mapped[SecurityRole] = relationship()
    requested_by: Mapped[StaffUser] = relationship(foreign_keys=[requested_by_id])


class AccessRequestItem(SandboxBase):
    """One thing a department asked for: a field's access, a record scope or bulk export."""

    __tablename__ = "access_request_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_request.id"), index=True)
    item: Mapped[str] = mapped_column(String(32))
    """A protected field's name, ``scope`` or ``bulk_export``."""
    requested: Mapped[str] = mapped_column(String(16))
    """The access (full, masked), scope (all, region ...) or ``yes`` asked for."""
    decision: Mapped[str] = mapped_column(String(16), default=RequestDecision.PENDING.value)
    granted: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)


class FlagStatus(enum.StrEnum):
    """Where a staff-misuse flag stands in its review."""

    OPEN = "open"
    ESCALATED = "escalated"
    DISMISSED = "dismissed"


class StaffActivity(SandboxBase):
    """One entry of the staff access log: a look-up, an export or data sent outside."""

    __tablename__ = "staff_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    action: Mapped[str] = mapped_column(String(16))
    """lookup, export or send."""
    records: Mapped[int] = mapped_column(Integer, default=1)
    destination: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(300))

    staff: Mapped[StaffUser] = relationship()


class MisuseFlag(SandboxBase):
    """A pattern in the staff access log that monitoring flagged for review (SEC-04)."""

    __tablename__ = "misuse_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    pattern: Mapped[str] = mapped_column(String(24))
    """bulk_lookup, bulk_export or sent_outside."""
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    summary: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=FlagStatus.OPEN.value)
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    staff: Mapped[StaffUser] = relationship(foreign_keys=[staff_id])
