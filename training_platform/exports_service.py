"""What a centre takes away: the gradebook (CSV, XLSX), an attempt's evidence (PDF, zip) and a
trainee's record of achievement (PDF).

PDFs are written with fpdf2, embedding DejaVu Sans for Latin text and a CJK font (Droid Sans
Fallback, Debian's fonts-droid-fallback) for Chinese names and titles when it is installed; the
``PDF_FONT_DIRS`` setting can point elsewhere. Without them the PDF still opens, in a core font,
with characters it lacks replaced by "?".
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import gettext
from fpdf import FPDF, FontFace
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.definitions import localised
from graders.results import Status
from sandbox_crm.store import SandboxStore
from training_platform import progress_service, results_service
from training_platform.definitions_store import scenario_of, unit_of
from training_platform.models import (
    Attempt,
    AuditEntry,
    Centre,
    Cohort,
    Decision,
    GradeRecord,
    User,
    utcnow,
)
from training_platform.review_service import SandboxGone, action_timeline

__all__ = [
    "DEFAULT_FONT_DIRS",
    "Evidence",
    "GradebookRow",
    "evidence_for",
    "evidence_pdf",
    "evidence_zip",
    "gradebook_csv",
    "gradebook_pr_rows",
    "gradebook_unit_rows",
    "gradebook_xlsx",
    "record_pdf",
]

DEFAULT_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/truetype/droid",
)
LATIN_FONT = "DejaVuSans.ttf"
LATIN_BOLD_FONT = "DejaVuSans-Bold.ttf"
CJK_FONT = "DroidSansFallbackFull.ttf"

# A spreadsheet program runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_TIMELINE_IN_PDF = 300

# --- values as text ------------------------------------------------------------------------------


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def _datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _pr_order(pr_id: str) -> tuple[tuple[int, str], ...]:
    """PR ids in their natural order ("1.2" before "1.10"), whatever they hold."""
    return tuple((int(part), "") if part.isdigit() else (0, part) for part in pr_id.split("."))


def decision_words(decision: Decision | str | None) -> str:
    """A decision as words in the reader's language."""
    if decision is None or decision == "":
        return gettext("No decision yet")
    return {
        "competent": gettext("Competent"),
        "not_yet_competent": gettext("Not yet competent"),
    }.get(str(getattr(decision, "value", decision)), str(decision))


def pr_status_words(status: str) -> str:
    """A PR status as words in the reader's language."""
    return {
        progress_service.PrStatus.DEMONSTRATED: gettext("Demonstrated"),
        progress_service.PrStatus.PRACTISED: gettext("Passed in practice"),
        progress_service.PrStatus.NOT_YET: gettext("Not yet demonstrated"),
        progress_service.PrStatus.PENDING: gettext("Awaiting review"),
        progress_service.PrStatus.NOT_ATTEMPTED: gettext("Not attempted"),
    }.get(status, status)


# --- gradebook ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradebookRow:
    """One line of the gradebook, as the header names its values."""

    values: tuple[Any, ...]


def unit_headers() -> list[str]:
    """The header of the per-unit gradebook."""
    return [
        gettext("Trainee"),
        gettext("Email"),
        gettext("Unit code"),
        gettext("Unit title"),
        gettext("QF level"),
        gettext("QF credits"),
        gettext("Decision"),
        gettext("Decision date"),
        gettext("Attempt"),
    ]


def pr_headers() -> list[str]:
    """The header of the per-PR gradebook."""
    return [
        gettext("Trainee"),
        gettext("Email"),
        gettext("Unit code"),
        gettext("PR"),
        gettext("Performance requirement"),
        gettext("Status"),
        gettext("Date demonstrated"),
        gettext("Unit decision"),
        gettext("Decision date"),
    ]


def gradebook_unit_rows(
    session: Session, centre_id: int, cohort: Cohort | None, language: str | None = None
) -> list[GradebookRow]:
    """Per trainee × unit attempted: the unit's decision and its date (blank when undecided)."""
    rows = []
    for trainee in progress_service.trainees_of(session, centre_id, cohort):
        outcomes = {
            r.unit_code: r for r in progress_service.unit_outcome_rows(session, trainee, language)
        }
        units, _states = progress_service.requirement_states(session, trainee, language)
        for code in sorted(set(units) | set(outcomes)):
            outcome = outcomes.get(code)
            unit = units.get(code)
            title = outcome.unit_title if outcome else localised(unit.title, language)
            level = outcome.level if outcome else unit.level
            credit = outcome.credit if outcome else unit.credit
            rows.append(
                GradebookRow(
                    (
                        trainee.display_name,
                        trainee.email,
                        code,
                        title,
                        level,
                        credit,
                        decision_words(outcome.decision if outcome else None),
                        _date(outcome.decided_at) if outcome else "",
                        outcome.attempt_id if outcome else "",
                    )
                )
            )
    return rows


def gradebook_pr_rows(
    session: Session, centre_id: int, cohort: Cohort | None, language: str | None = None
) -> list[GradebookRow]:
    """Per trainee × PR of each unit attempted: demonstrated or not, and the unit decision."""
    rows = []
    for trainee in progress_service.trainees_of(session, centre_id, cohort):
        outcomes = {
            r.unit_code: r for r in progress_service.unit_outcome_rows(session, trainee, language)
        }
        _units, states = progress_service.requirement_states(session, trainee, language)
        for (code, _pr), state in sorted(
            states.items(), key=lambda kv: (kv[0][0], _pr_order(kv[0][1]))
        ):
            outcome = outcomes.get(code)
            rows.append(
                GradebookRow(
                    (
                        trainee.display_name,
                        trainee.email,
                        code,
                        state.pr_id,
                        state.text,
                        pr_status_words(state.status),
                        _date(state.demonstrated_at),
                        decision_words(outcome.decision if outcome else None),
                        _date(outcome.decided_at) if outcome else "",
                    )
                )
            )
    return rows


def _safe_text(value: Any) -> Any:
    """Text a spreadsheet will not run as a formula; numbers unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def gradebook_csv(headers: Sequence[str], rows: Iterable[GradebookRow]) -> bytes:
    """The gradebook as UTF-8 CSV with a byte-order mark (so spreadsheets read Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_safe_text(value) for value in row.values])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def gradebook_xlsx(
    sheets: Sequence[tuple[str, Sequence[str], Iterable[GradebookRow]]],
) -> bytes:
    """The gradebook as a workbook, one sheet per (title, headers, rows); text stays text."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, headers, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append(list(headers))
        for row in rows:
            sheet.append(list(row.values))
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # "=1+1" stays text, never a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- PDFs ---------------------------------------------------------------------------------------


class _Document(FPDF):
    """An A4 page with the platform's fonts and a footer with the page number."""

    def __init__(self, title: str, font_dirs: Sequence[str] | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.document_title = title
        self.set_title(title)
        self.set_creator("Practicum")
        self.set_auto_page_break(auto=True, margin=15)
        self.unicode_text = self._add_fonts(font_dirs or DEFAULT_FONT_DIRS)
        self.add_page()
        self.set_font(self.body_family, size=10)

    def _add_fonts(self, font_dirs: Sequence[str]) -> bool:
        found: dict[str, Path] = {}
        for directory in font_dirs:
            for name in (LATIN_FONT, LATIN_BOLD_FONT, CJK_FONT):
                path = Path(directory) / name
                if name not in found and path.is_file():
                    found[name] = path
        if LATIN_FONT not in found:
            self.body_family = "helvetica"
            return False
        self.body_family = "body"
        self.add_font("body", "", str(found[LATIN_FONT]))
        self.add_font("body", "B", str(found.get(LATIN_BOLD_FONT, found[LATIN_FONT])))
        if CJK_FONT in found:
            self.add_font("cjk", "", str(found[CJK_FONT]))
            self.set_fallback_fonts(["cjk"], exact_match=False)
        return True

    def text_of(self, value: Any) -> str:
        """A value as text the chosen font can write."""
        text = "" if value is None else str(value)
        if self.unicode_text:
            return text
        return text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        """The title and page number at the foot of every page."""
        self.set_y(-12)
        self.set_font(self.body_family, size=8)
        self.cell(0, 8, self.text_of(f"{self.document_title} · {self.page_no()}"), align="C")

    def heading(self, text: str, size: int = 14) -> None:
        """A heading in bold."""
        self.ln(2)
        self.set_font(self.body_family, "B", size)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.body_family, size=10)
        self.ln(1)

    def paragraph(self, text: str, size: int = 10) -> None:
        """A paragraph of plain text."""
        self.set_font(self.body_family, size=size)
        self.multi_cell(0, 5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def facts(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """Label: value lines."""
        for label, value in pairs:
            self.paragraph(f"{label}: {self.text_of(value)}")
        self.ln(1)

    def table(  # type: ignore[override]
        self, headers: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[int]
    ) -> None:
        """A table with a header row; an empty one says so."""
        if not rows:
            self.paragraph(gettext("None."))
            return
        self.set_font(self.body_family, size=8)
        style = FontFace(emphasis="BOLD", fill_color=(235, 238, 242))
        with super().table(col_widths=tuple(widths), headings_style=style, line_height=4) as t:
            head = t.row()
            for header in headers:
                head.cell(self.text_of(header))
            for row in rows:
                line = t.row()
                for value in row:
                    line.cell(self.text_of(value))
        self.set_font(self.body_family, size=10)
        self.ln(2)

    def bytes(self) -> bytes:
        """The finished PDF."""
        return bytes(self.output())


def record_pdf(
    session: Session,
    trainee: User,
    language: str | None = None,
    *,
    font_dirs: Sequence[str] | None = None,
) -> bytes:
    """A trainee's record of achievement: each unit with its QF level, credits and decision."""
    outcomes = progress_service.unit_outcome_rows(session, trainee, language)
    centre: Centre = trainee.centre
    document = _Document(gettext("Record of achievement"), font_dirs)
    document.heading(gettext("Record of achievement"), 16)
    document.facts(
        [
            (gettext("Trainee"), trainee.display_name),
            (gettext("Email"), trainee.email),
            (gettext("Training centre"), centre.name),
            (gettext("Issued"), _date(utcnow())),
        ]
    )
    headers = [
        gettext("Unit code"),
        gettext("Unit title"),
        gettext("QF level"),
        gettext("QF credits"),
        gettext("Decision"),
        gettext("Date"),
    ]
    rows = [
        (
            row.unit_code,
            row.unit_title,
            row.level,
            row.credit,
            decision_words(row.decision)
            + (" · " + gettext("appeal pending") if row.appeal_pending else ""),
            _date(row.decided_at),
        )
        for row in outcomes
    ]
    document.table(headers, rows, (24, 76, 16, 18, 30, 26))
    credits = sum(row.credit for row in outcomes if row.competent)
    document.paragraph(
        gettext(
            "Units decided competent: %(units)s; QF credits: %(credits)s.",
            units=sum(1 for row in outcomes if row.competent),
            credits=credits,
        )
    )
    document.paragraph(
        gettext(
            "Each decision is the assessor's, on the trainee's latest decided assessment attempt "
            "at the unit. One QF credit is 10 notional learning hours."
        ),
        size=8,
    )
    return document.bytes()


# --- evidence of one attempt --------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """Everything kept about one attempt, as plain tables for the PDF, CSV files and JSON."""

    attempt_id: int
    summary: tuple[tuple[str, str], ...]
    checks: tuple[dict[str, Any], ...]
    findings: tuple[dict[str, Any], ...]
    timeline: tuple[dict[str, Any], ...] | None
    timeline_total: int
    answers: tuple[dict[str, Any], ...]
    history: tuple[dict[str, Any], ...]
    result: dict[str, Any]


def _status_in_force(overridden: dict, key: str, automatic: str) -> str:
    applied = overridden.get(key)
    return str(applied.status) if applied is not None else automatic


def _answer_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _history(session: Session, attempt: Attempt) -> list[dict[str, Any]]:
    """Grading runs, overrides, the decision and audit entries about the attempt, by time."""
    events: list[dict[str, Any]] = []
    for record in session.scalars(
        select(GradeRecord).where(GradeRecord.attempt_id == attempt.id).order_by(GradeRecord.id)
    ):
        events.append(
            {
                "at": _datetime(record.created_at),
                "who": "Practicum",
                "what": "graded",
                "detail": f"{record.overall} ({record.grader_version})",
            }
        )
    review = attempt.review
    if review is not None:
        for override in review.overrides:
            events.append(
                {
                    "at": _datetime(override.created_at),
                    "who": override.created_by.display_name if override.created_by else "",
                    "what": "override",
                    "detail": (
                        f"{override.target_kind.value}:{override.target_id} "
                        f"{override.automatic_status} -> {override.status}: {override.reason}"
                    ),
                }
            )
        if review.decision is not None:
            events.append(
                {
                    "at": _datetime(review.decided_at),
                    "who": review.assessor.display_name,
                    "what": "decision",
                    "detail": f"{review.decision.value}: {review.comment}".rstrip(": "),
                }
            )
    audited = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_type == "attempt", AuditEntry.target_id == attempt.id)
        .order_by(AuditEntry.id)
    )
    for entry in audited:
        if entry.action == "review.decided":
            continue  # the decision itself is listed above
        events.append(
            {
                "at": _datetime(entry.created_at),
                "who": entry.actor.display_name if entry.actor else "Practicum",
                "what": entry.action,
                "detail": json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
            }
        )
    events.sort(key=lambda event: event["at"])
    return events


def evidence_for(
    session: Session, store: SandboxStore, attempt: Attempt, language: str | None = None
) -> Evidence:
    """The evidence of a graded or decided attempt: checks, findings, timeline, answers, history."""
    result = results_service.effective_result(session, attempt)
    automatic = results_service.automatic_result(session, attempt)
    scenario = scenario_of(attempt)
    unit = unit_of(attempt)
    overridden = dict(result.overridden)
    review = attempt.review
    summary = (
        (gettext("Attempt"), f"#{attempt.id}"),
        (gettext("Trainee"), f"{attempt.trainee.display_name} <{attempt.trainee.email}>"),
        (gettext("Unit"), f"{unit.code} {localised(unit.title, language)}"),
        (
            gettext("Scenario"),
            f"{localised(scenario.title, language)} (v{attempt.scenario_version.version})",
        ),
        (gettext("Variant of the data"), str(attempt.variant + 1)),
        (gettext("Started"), _datetime(attempt.started_at)),
        (gettext("Submitted"), _datetime(attempt.submitted_at)),
        (gettext("Graded"), _datetime(attempt.graded_at)),
        (gettext("Automatic verdict"), automatic.verdict.value),
        (
            gettext("Decision"),
            decision_words(review.decision if review else None)
            + (f" ({_datetime(review.decided_at)})" if review and review.decided_at else ""),
        ),
    )
    checks = tuple(
        {
            "check": check.check_id,
            "type": check.check_type,
            "requirements": " ".join(check.requirements),
            "automatic": check.status.value,
            "status": _status_in_force(overridden, f"check:{check.check_id}", check.status.value),
            "message": check.message,
            "evidence": dict(check.evidence),
        }
        for check in result.checks
    )
    findings = tuple(
        {
            "rule": rule.rule_id,
            "title": rule.title,
            "basis": rule.basis,
            "severity": rule.severity.value,
            "status": _status_in_force(overridden, f"pdpo:{rule.rule_id}", rule.status.value),
            "message": finding.message,
            "events": " ".join(str(e) for e in finding.event_ids),
            "records": " ".join(f"{table}#{rid}" for table, rid in finding.records),
        }
        for rule in result.pdpo
        if rule.status == Status.FAIL
        for finding in rule.findings
    )
    try:
        timeline = action_timeline(store, attempt)
        events: tuple[dict[str, Any], ...] | None = tuple(
            {
                "event": entry.event_id,
                "at": _datetime(entry.occurred_at),
                "who": entry.username,
                "operation": entry.operation,
                "entity": f"{entry.entity_type}#{entry.entity_id}" if entry.entity_id else "",
                "changes": "; ".join(f"{c.field}: {c.before} -> {c.after}" for c in entry.changes),
                "details": "; ".join(f"{k}={v}" for k, v in entry.details),
            }
            for entry in timeline.entries
        )
        total = timeline.total
    except SandboxGone:
        events, total = None, 0
    items = {item.item_id: item for item in result.items}
    answers = tuple(
        {
            "item": item.id,
            "kind": item.kind,
            "answer": _answer_text(attempt.answers.get(item.id)),
            "status": items[item.id].status.value if item.id in items else "",
            "score": (
                f"{items[item.id].score:g}/{items[item.id].max_score:g}" if item.id in items else ""
            ),
        }
        for item in scenario.items
    )
    return Evidence(
        attempt_id=attempt.id,
        summary=summary,
        checks=checks,
        findings=findings,
        timeline=events,
        timeline_total=total,
        answers=answers,
        history=tuple(_history(session, attempt)),
        result=attempt.grades[-1].result if attempt.grades else {},
    )


def evidence_pdf(evidence: Evidence, *, font_dirs: Sequence[str] | None = None) -> bytes:
    """The evidence of an attempt as a PDF."""
    title = gettext("Evidence of attempt #%(id)s", id=evidence.attempt_id)
    document = _Document(title, font_dirs)
    document.heading(title, 16)
    document.facts(evidence.summary)
    document.heading(gettext("Checks"))
    document.table(
        [
            gettext("Check"),
            gettext("PRs"),
            gettext("Automatic"),
            gettext("In force"),
            gettext("Message"),
        ],
        [
            (c["check"], c["requirements"], c["automatic"], c["status"], c["message"])
            for c in evidence.checks
        ],
        (28, 18, 20, 20, 104),
    )
    document.heading(gettext("PDPO findings"))
    document.table(
        [gettext("Rule"), gettext("Severity"), gettext("Basis"), gettext("Finding")],
        [(f["rule"], f["severity"], f["basis"], f["message"]) for f in evidence.findings],
        (20, 20, 40, 110),
    )
    document.heading(gettext("Answers"))
    document.table(
        [gettext("Question"), gettext("Answer"), gettext("Status"), gettext("Score")],
        [(a["item"], a["answer"], a["status"], a["score"]) for a in evidence.answers],
        (30, 110, 25, 25),
    )
    document.heading(gettext("Timeline"))
    if evidence.timeline is None:
        document.paragraph(
            gettext("The attempt's sandbox is no longer kept; its timeline cannot be shown.")
        )
    else:
        shown = evidence.timeline[:MAX_TIMELINE_IN_PDF]
        document.table(
            [
                gettext("When"),
                gettext("Who"),
                gettext("Operation"),
                gettext("Record"),
                gettext("Changes"),
            ],
            [(e["at"], e["who"], e["operation"], e["entity"], e["changes"]) for e in shown],
            (28, 24, 34, 28, 76),
        )
        if evidence.timeline_total > len(shown):
            document.paragraph(
                gettext(
                    "%(shown)s of %(total)s events shown; the zip holds every one kept.",
                    shown=len(shown),
                    total=evidence.timeline_total,
                )
            )
    document.heading(gettext("Decision history"))
    document.table(
        [gettext("When"), gettext("Who"), gettext("What"), gettext("Detail")],
        [(h["at"], h["who"], h["what"], h["detail"]) for h in evidence.history],
        (28, 30, 26, 106),
    )
    return document.bytes()


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_safe_text(str(row.get(column, ""))) for column in columns])
    return "\ufeff" + buffer.getvalue()


def evidence_zip(evidence: Evidence, *, font_dirs: Sequence[str] | None = None) -> bytes:
    """The evidence as a zip: evidence.json, a CSV per table and evidence.pdf."""
    data = {
        "attempt": evidence.attempt_id,
        "summary": dict(evidence.summary),
        "checks": list(evidence.checks),
        "findings": list(evidence.findings),
        "answers": list(evidence.answers),
        "timeline": list(evidence.timeline) if evidence.timeline is not None else None,
        "decision_history": list(evidence.history),
        "grading_result": evidence.result,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "evidence.json", json.dumps(data, ensure_ascii=False, indent=2, default=str)
        )
        archive.writestr(
            "checks.csv",
            _csv(
                evidence.checks, ("check", "type", "requirements", "automatic", "status", "message")
            ),
        )
        archive.writestr(
            "findings.csv",
            _csv(
                evidence.findings,
                ("rule", "title", "basis", "severity", "status", "message", "events", "records"),
            ),
        )
        archive.writestr(
            "answers.csv", _csv(evidence.answers, ("item", "kind", "answer", "status", "score"))
        )
        archive.writestr(
            "timeline.csv",
            _csv(
                evidence.timeline or (),
                ("event", "at", "who", "operation", "entity", "changes", "details"),
            ),
        )
        archive.writestr(
            "decision_history.csv", _csv(evidence.history, ("at", "who", "what", "detail"))
        )
        archive.writestr("evidence.pdf", evidence_pdf(evidence, font_dirs=font_dirs))
    return buffer.getvalue()
