"""Saved reports, their shares with departments, runs and exports."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sandbox_crm.models import SandboxBase

if TYPE_CHECKING:
    from sandbox_crm.company.models import Department, StaffUser


class ReportDefinition(SandboxBase):
    """A saved report: a data source, the columns shown, filters (query language) and sort.

    A summary report groups the rows instead (``group_by``, ``measures``); its ``columns`` are
    then its output's columns, the groups then the measures.
    """

    __tablename__ = "report_definition"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32))
    columns: Mapped[list[Any]] = mapped_column(default=list)
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sort: Mapped[list[Any]] = mapped_column(default=list)
    # A summary (see reports.aggregation): group specs and measure specs; both empty for a
    # report that lists rows.
    group_by: Mapped[list[Any]] = mapped_column(default=list)
    measures: Mapped[list[Any]] = mapped_column(default=list)
    purpose: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    owner: Mapped[StaffUser] = relationship()
    shares: Mapped[list[ReportShare]] = relationship(
        back_populates="report", order_by="ReportShare.id"
    )


class ReportShare(SandboxBase):
    """A department allowed to view (and optionally export) a report."""

    __tablename__ = "report_share"
    __table_args__ = (UniqueConstraint("report_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definition.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    can_export: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime)

    report: Mapped[ReportDefinition] = relationship(back_populates="shares")
    department: Mapped[Department] = relationship()


class ReportRun(SandboxBase):
    """One run of a report: who ran it, when, and a snapshot of the output."""

    __tablename__ = "report_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definition.id"), index=True)
    run_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    run_at: Mapped[datetime] = mapped_column(DateTime)
    columns: Mapped[list[Any]] = mapped_column(default=list)
    row_count: Mapped[int] = mapped_column(Integer)
    row_keys: Mapped[list[Any]] = mapped_column(default=list)
    output_csv: Mapped[str] = mapped_column(Text, default="")


RUN_PAGE_ROWS = 50
"""Rows of a run's output per stored page (and per page of the run's output view)."""


class ReportRunPage(SandboxBase):
    """One page of a run's stored output: up to RUN_PAGE_ROWS rows, each its cells' text.

    The run's output page reads the one stored page it shows; the run's ``columns`` name the
    cells. Pages count from 1.
    """

    __tablename__ = "report_run_page"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("report_run.id", ondelete="CASCADE"), primary_key=True
    )
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    rows: Mapped[list[Any]] = mapped_column(default=list)


class ReportExport(SandboxBase):
    """A report exported to a file: for whom, why, where to, which fields, encrypted or not."""

    __tablename__ = "report_export"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definition.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("report_run.id"))
    exported_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    exported_at: Mapped[datetime] = mapped_column(DateTime)
    file_format: Mapped[str] = mapped_column(String(8), default="csv")
    purpose: Mapped[str] = mapped_column(Text, default="")
    for_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    destination: Mapped[str] = mapped_column(String(32))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    columns: Mapped[list[Any]] = mapped_column(default=list)
    row_count: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text, default="")
    # A summary's file: its columns are the fields whose values it shows, not its headers.
    summary: Mapped[bool] = mapped_column(Boolean, default=False)

    report: Mapped[ReportDefinition] = relationship()
    for_department: Mapped[Department | None] = relationship()
