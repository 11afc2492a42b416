"""Export files in people's terms: field labels as headers, choice values as labels, CSV or XLSX.

A report's columns are field codes (``tier``, ``consent_status``); a file someone opens in a
spreadsheet shows the fields' labels instead ("Tier", "Consent status") unless they ask for the
codes, and choice values read as words ("Gold", "No objection"). ``field_label`` and
``value_label`` are the one place a label is looked up: both are in the language of the person
exporting (the request's, through the CRM's translation; English outside a request).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from sandbox_crm.i18n import N_
from sandbox_crm.sources import Field, Source

if TYPE_CHECKING:
    from sandbox_crm.reports.aggregation import SummaryTable

HeaderStyle = Literal["labels", "codes"]
HEADER_STYLES: tuple[str, ...] = ("labels", "codes")

# A spreadsheet program opening the file runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Codes whose plain-words form is not just "spaces and a capital".
_VALUE_WORDS: dict[str, str] = {
    "eshop": "e-Shop",
    "pos": "POS",
    "crm": "CRM",
    "sms": "SMS",
    "vip": "VIP",
    "en": "English",
    "zh": "Chinese",
}


def _in_language(text: str) -> str:
    """``text`` in the reader's language when it is a marked label (the CRM's translation)."""
    from sandbox_crm.web.i18n import translated

    return translated(text)


def field_label(field: Field) -> str:
    """The header a person reads for a field (its label as the CRM shows it, translated)."""
    return _in_language(field.label)


def value_label(field: Field, value: Any) -> Any:
    """A choice value as words (``no_objection`` -> ``No objection``), translated where the
    words are marked (tiers, statuses); other values unchanged."""
    if not field.choices or not isinstance(value, str) or value not in field.choices:
        return value
    if value in _VALUE_WORDS:
        return _in_language(_VALUE_WORDS[value])
    words = value.replace("_", " ")
    return _in_language(words[:1].upper() + words[1:])


def _field(source: Source | None, name: str) -> Field | None:
    return source.fields.get(name) if source is not None else None


def export_headers(source: Source | None, columns: Sequence[str], style: str) -> list[str]:
    """The header row: the fields' labels, or their codes if ``style`` is ``codes``."""
    if style == "codes":
        return list(columns)
    return [field_label(f) if (f := _field(source, name)) else name for name in columns]


def cell_text(value: Any, *, for_spreadsheet: bool) -> str:
    """One value as CSV text; ``for_spreadsheet`` quotes text a spreadsheet would run."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if for_spreadsheet and isinstance(value, str) and value.startswith(FORMULA_STARTS):
        # Text typed into the CRM (a name, a note) must stay text: the leading quote makes
        # Excel and its kin show it instead of evaluating it ("CSV injection").
        return f"'{value}"
    return str(value)


def render_table_csv(
    source: Source | None,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    headers: str = "labels",
    for_spreadsheet: bool = True,
) -> str:
    """CSV text of the rows in people's terms: labelled headers and choice values as words."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export_headers(source, columns, headers))
    fields = [_field(source, name) for name in columns]
    for row in rows:
        writer.writerow(
            [
                cell_text(
                    value_label(f, row.get(name)) if f else row.get(name),
                    for_spreadsheet=for_spreadsheet,
                )
                for name, f in zip(columns, fields, strict=True)
            ]
        )
    return buffer.getvalue()


def render_summary_csv(
    table: SummaryTable, *, headers: str = "labels", for_spreadsheet: bool = True
) -> str:
    """CSV text of a summary: a header per group and measure, then one line per group."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if headers == "codes":
        writer.writerow(table.columns)
    else:
        writer.writerow([_in_language(label) for label in table.labels()])
    width = len(table.groups)
    for row in table.rows:
        writer.writerow(
            [
                cell_text(
                    value_label(table.groups[i].field, value) if i < width else value,
                    for_spreadsheet=for_spreadsheet,
                )
                for i, value in enumerate(row)
            ]
        )
    return buffer.getvalue()


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _number(text: str) -> Any:
    """A summary's cell as a number when it is one (counts, totals, averages), else text."""
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def _typed(text: str, field: Field | None) -> Any:
    """A CSV cell back as a number where the field is a number, text otherwise."""
    if field is not None and field.type == "int" and text:
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


def render_xlsx(
    source: Source | None, columns: Sequence[str], table_csv: str, *, summary: bool = False
) -> bytes:
    """An Excel workbook of a stored export table (CSV with headers, values unquoted).

    Every text cell is written as text, never as a formula, whatever it starts with. In a
    summary (``summary``), every cell that is a plain number is written as a number.
    """
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _in_language(N_("Report"))
    fields = [_field(source, name) for name in columns]
    records = list(csv.reader(io.StringIO(table_csv)))
    for row_index, record in enumerate(records, start=1):
        for col_index, text in enumerate(record, start=1):
            in_body = row_index > 1 and col_index <= len(fields)
            field = fields[col_index - 1] if in_body else None
            clean = ILLEGAL_CHARACTERS_RE.sub("", text)
            value = _number(clean) if summary and row_index > 1 else _typed(clean, field)
            cell = sheet.cell(row=row_index, column=col_index)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: "=1+1" is not run as a formula
            if row_index == 1:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
