"""The report builder's filter rows: typed text in a row becomes a query-language condition.

A row is (field, operator, value text). The text is read by the field's type: whole numbers for
``int`` fields, ``yes``/``no`` for ``bool``, ISO dates, ``today`` or ``90 days ago`` for dates,
comma-separated lists for ``in``/``not_in`` and ``low, high`` for ``between``. Checking the
condition itself is left to the query language, whose messages are shown beside the row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sandbox_crm.i18n import N_
from sandbox_crm.query import operators_for, validate_condition
from sandbox_crm.sources import Field, Source

MAX_FILTER_ROWS = 50
NO_VALUE_OPS = frozenset({"is_null", "not_null"})
LIST_OPS = frozenset({"in", "not_in"})

# Operator wording in the builder's select, in the order offered.
OPERATOR_LABELS: dict[str, str] = {
    "eq": N_("is"),
    "ne": N_("is not"),
    "lt": N_("is less than / before"),
    "le": N_("is at most / on or before"),
    "gt": N_("is more than / after"),
    "ge": N_("is at least / on or after"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "contains": N_("contains"),
    "startswith": N_("starts with"),
    "between": N_("is between"),
    "is_null": N_("is empty"),
    "not_null": N_("is not empty"),
}

_RELATIVE = re.compile(r"^(\d+)\s*(day|month|year)s?\s+ago$", re.IGNORECASE)
_PATH_ROW = re.compile(r"^all\[(\d+)\]|^any\[(\d+)\]")
_TRUE = frozenset({"yes", "true", "y", "1"})
_FALSE = frozenset({"no", "false", "n", "0"})


@dataclass
class FilterRow:
    """One row of the builder as typed: field name, operator and value text."""

    field: str = ""
    op: str = ""
    value: str = ""

    @property
    def blank(self) -> bool:
        """A row with no field chosen is ignored."""
        return not self.field


class RowError(ValueError):
    """A value that cannot be read for its field (shown beside the row)."""


def _scalar(field: Field, text: str) -> Any:
    """One value read according to the field's type."""
    text = text.strip()
    if field.type == "int":
        cleaned = text.replace(",", "").replace("HK$", "").replace("$", "").strip()
        try:
            return int(cleaned)
        except ValueError:
            raise RowError(f"{field.label} takes a whole number, not {text!r}.") from None
    if field.type == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise RowError(f"{field.label} takes yes or no, not {text!r}.")
    if field.type in ("date", "datetime"):
        return _date_value(field, text)
    return text


def _date_value(field: Field, text: str) -> Any:
    """``today``, ``N days/months/years ago``, ``YYYY-MM-DD`` or ``DD/MM/YYYY``."""
    lowered = text.lower()
    if lowered == "today":
        return "today"
    match = _RELATIVE.match(lowered)
    if match:
        return {f"{match.group(2)}s_ago": int(match.group(1))}
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%d/%m/%Y").date().isoformat()
    except ValueError:
        pass
    raise RowError(
        f'{field.label} takes a date (2026-03-16 or 16/03/2026), "today" or "90 days ago", '
        f"not {text!r}."
    )


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def row_condition(source: Source, row: FilterRow) -> dict[str, Any]:
    """The condition for one non-blank row (RowError if its value cannot be read)."""
    field = source.fields.get(row.field)
    if field is None:
        raise RowError(f"{source.label} have no field {row.field!r}.")
    if row.op in NO_VALUE_OPS:
        return {"field": field.name, "op": row.op}
    text = row.value.strip()
    if not text:
        raise RowError(f"Enter a value to compare {field.label} with.")
    if row.op in LIST_OPS:
        values = [_scalar(field, v) for v in _split(text)]
        return {"field": field.name, "op": row.op, "value": values}
    if row.op == "between":
        parts = _split(text)
        if len(parts) != 2:
            raise RowError('"is between" takes two values separated by a comma: low, high.')
        return {"field": field.name, "op": row.op, "value": [_scalar(field, v) for v in parts]}
    return {"field": field.name, "op": row.op, "value": _scalar(field, text)}


def build_condition(
    source: Source, match: str, rows: list[FilterRow]
) -> tuple[dict[str, Any] | None, dict[int, str]]:
    """The filter for the rows (None when all are blank) and an error message per row index."""
    errors: dict[int, str] = {}
    used = sum(not row.blank for row in rows)
    if used > MAX_FILTER_ROWS:
        errors[-1] = (
            f"A report can have at most {MAX_FILTER_ROWS} filter rows; this one has {used}."
        )
        return None, errors
    conditions: list[dict[str, Any]] = []
    positions: list[int] = []
    for index, row in enumerate(rows):
        if row.blank:
            continue
        try:
            conditions.append(row_condition(source, row))
            positions.append(index)
        except RowError as exc:
            errors[index] = str(exc)
    if not conditions:
        return None, errors
    condition = {"any" if match == "any" else "all": conditions}
    for problem in validate_condition(source.name, condition):
        path, _, message = problem.partition(": ")
        found = _PATH_ROW.match(path)
        if found:
            index = positions[int(found.group(1) or found.group(2))]
            field = source.fields[rows[index].field]
            if path.endswith(".op"):
                message = _operator_message(field, rows[index].op)
            errors.setdefault(index, _sentence(_with_label(message, field)))
        else:
            errors.setdefault(-1, _sentence(problem))
    return (None, errors) if errors else (condition, {})


def _operator_message(field: Field, op: str) -> str:
    """Which operators a field takes, in the builder's wording."""
    allowed = ", ".join(f"“{OPERATOR_LABELS.get(o, o)}”" for o in operators_for(field))
    chosen = OPERATOR_LABELS.get(op, op)
    return f"{field.label} cannot use “{chosen}”; choose one of {allowed}"


def _with_label(message: str, field: Field) -> str:
    """The query language names fields by their code; the builder shows their labels."""
    if message.startswith(f"{field.name} "):
        message = field.label + message[len(field.name) :]
    return message.replace(f" to {field.name} (", f" to {field.label} (")


def _sentence(message: str) -> str:
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def value_text(value: Any) -> str:
    """A stored value as the builder shows it in a value box."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict) and len(value) == 1:
        unit, amount = next(iter(value.items()))
        noun = str(unit).removesuffix("_ago")
        return f"{amount} {noun} ago"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def rows_from_condition(condition: Any) -> tuple[str, list[FilterRow]] | None:
    """The builder rows for a stored filter; None if it is nested deeper than one all/any."""
    if not condition:
        return "all", []
    if "field" in condition:
        items, match = [condition], "all"
    elif set(condition) in ({"all"}, {"any"}):
        match = next(iter(condition))
        items = condition[match]
    else:
        return None
    rows = []
    for item in items:
        if not isinstance(item, dict) or "field" not in item:
            return None
        rows.append(FilterRow(item["field"], item.get("op", "eq"), value_text(item.get("value"))))
    return match, rows
