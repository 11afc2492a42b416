"""The declarative query language: conditions over a source's fields, compiled to SQLAlchemy.

Report filters, segment rules, grader expectations and facts in a scenario brief all use it. A
condition is plain data (it comes from YAML or a form), never code:

- ``{"field": "tier", "op": "eq", "value": "gold"}``: a comparison on one field;
- ``{"all": [c, ...]}`` (and), ``{"any": [c, ...]}`` (or), ``{"not": c}``;
- ``None`` or ``{}``: every row.

Operators: eq, ne, lt, le, gt, ge, in, not_in, contains (case-insensitive substring), startswith
(case-insensitive prefix), is_null, not_null (no value), between (``[low, high]``, inclusive).
Values are checked against the field's type. Date and datetime fields also take relative dates,
resolved against the query's ``as_of`` date: ``"today"``, ``{"days_ago": 90}``,
``{"months_ago": 3}`` (calendar months; the 31st becomes the month's last day) and
``{"years_ago": 1}``. A plain date compared with a datetime field means the whole day:
``ordered_at eq 2026-03-01`` matches any time that day, ``le`` includes the day.

Missing (null) values never satisfy a comparison; ``ne`` and ``not_in`` do include them, and
``not`` is the exact complement of its condition.
"""

from __future__ import annotations

import calendar
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import and_, false, not_, or_, select, true
from sqlalchemy import func as sql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.i18n import N_, Message
from sandbox_crm.sources import (
    Field,
    QueryError,
    QueryScope,
    Source,
    get_source,
)

__all__ = [
    "AGGREGATES",
    "OPERATORS",
    "QueryError",
    "QueryScope",
    "RelativeDate",
    "RowPage",
    "aggregate",
    "compile_condition",
    "condition_problems",
    "describe_condition",
    "normalize_sort",
    "operators_for",
    "select_keys",
    "select_rows",
    "validate_columns",
    "validate_condition",
    "validate_sort",
]

OPERATORS: dict[str, str] = {
    "eq": "equals",
    "ne": "does not equal (rows with no value included)",
    "lt": "is less than / before",
    "le": "is at most / on or before",
    "gt": "is greater than / after",
    "ge": "is at least / on or after",
    "in": "is one of (a list)",
    "not_in": "is none of (a list; rows with no value included)",
    "contains": "contains the text (ignoring case)",
    "startswith": "starts with the text (ignoring case)",
    "is_null": "has no value",
    "not_null": "has a value",
    "between": "is between [low, high], both included",
}

_ORDERED_OPS = (
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "in",
    "not_in",
    "between",
    "is_null",
    "not_null",
)
_OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "str": (*_ORDERED_OPS, "contains", "startswith"),
    "int": _ORDERED_OPS,
    "date": _ORDERED_OPS,
    "datetime": _ORDERED_OPS,
    "bool": ("eq", "ne", "is_null", "not_null"),
    "enum": ("eq", "ne", "in", "not_in", "is_null", "not_null"),
}

_NO_VALUE_OPS = frozenset({"is_null", "not_null"})
_LIST_OPS = frozenset({"in", "not_in"})
_LEAF_KEYS = frozenset({"field", "op", "value"})
_GROUP_KEYS = ("all", "any", "not")
_RELATIVE_UNITS = ("days_ago", "months_ago", "years_ago")
# At most a thousand years back, so that a relative date always resolves to a calendar date.
_RELATIVE_MAX = {"days_ago": 365_250, "months_ago": 12_000, "years_ago": 1_000}
# Whole numbers the database can compare with (a 64-bit signed integer).
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
# Bounds on a condition's size: SQLite refuses expressions nested past 1,000 levels, and parsing
# is recursive. Reports and checks use a handful of conditions.
MAX_CONDITIONS = 200
MAX_DEPTH = 20

AGGREGATES: tuple[str, ...] = ("count", "sum", "avg", "min", "max")
_AGGREGATE_TYPES: dict[str, tuple[str, ...]] = {
    "sum": ("int",),
    "avg": ("int",),
    "min": ("int", "date", "datetime", "str"),
    "max": ("int", "date", "datetime", "str"),
}

SortDirection = Literal["asc", "desc"]


def operators_for(field: Field) -> tuple[str, ...]:
    """The operators that apply to a field of this type."""
    return _OPS_BY_TYPE[field.type]


# --- relative dates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RelativeDate:
    """A date relative to the query's as_of date ("today", N days/months/years ago)."""

    unit: str
    amount: int

    def resolve(self, as_of: date) -> date:
        """The calendar date this stands for on ``as_of``."""
        if self.unit == "days_ago":
            return as_of - timedelta(days=self.amount)
        months = self.amount * 12 if self.unit == "years_ago" else self.amount
        index = as_of.year * 12 + (as_of.month - 1) - months
        year, month = divmod(index, 12)
        month += 1
        day = min(as_of.day, calendar.monthrange(year, month)[1])
        return date(year, month, day)

    def describe(self) -> str:
        """Human wording, e.g. "90 days ago"."""
        if self.unit == "days_ago" and self.amount == 0:
            return "today"
        noun = self.unit.removesuffix("_ago")
        if self.amount == 1:
            noun = noun.removesuffix("s")
        return f"{self.amount} {noun} ago"


TODAY = RelativeDate("days_ago", 0)


# --- parsing and validation -------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaf:
    field: Field
    op: str
    value: Any


@dataclass(frozen=True)
class _Group:
    kind: str  # "all" or "any"
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Not:
    item: Any


_EVERYTHING = _Group("all", ())


def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return f"{path}{part}"
    return f"{path}.{part}" if path else part


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _parse_relative(value: dict[str, Any], field: Field, path: str) -> RelativeDate:
    keys = list(value)
    if len(keys) != 1 or keys[0] not in _RELATIVE_UNITS:
        raise QueryError(
            f'{field.name} takes a date, "today" or one of '
            f"{{days_ago: N}}, {{months_ago: N}}, {{years_ago: N}}; got keys {keys}",
            path,
        )
    unit, amount = keys[0], value[keys[0]]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise QueryError(f"{unit} must be a whole number of 0 or more", path)
    if amount > _RELATIVE_MAX[unit]:
        most = f"{_RELATIVE_MAX[unit]:,} {unit.removesuffix('_ago')}"
        raise QueryError(f"{field.name} goes back at most {most}; got {amount:,}", path)
    return RelativeDate(unit, amount)


def _parse_scalar(field: Field, value: Any, path: str) -> Any:
    """Check one value against the field's type; return it in its query form."""
    kind = field.type
    if value is None:
        raise QueryError(f"{field.name} needs a value; use is_null to match missing values", path)
    if kind == "str":
        if not isinstance(value, str):
            raise QueryError(f"{field.name} is text; got {_type_name(value)} {value!r}", path)
        return value
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise QueryError(
                f"{field.name} is a whole number; got {_type_name(value)} {value!r}", path
            )
        if not _INT_MIN <= value <= _INT_MAX:
            raise QueryError(
                f"{field.name} is a whole number between {_INT_MIN:,} and {_INT_MAX:,}; "
                f"got {value}",
                path,
            )
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise QueryError(f"{field.name} is true or false; got {value!r}", path)
        return value
    if kind == "enum":
        if not isinstance(value, str) or value not in field.choices:
            raise QueryError(
                f"{field.name} has no value {value!r}; choose one of {', '.join(field.choices)}",
                path,
            )
        return value
    # date and datetime
    if isinstance(value, dict):
        return _parse_relative(value, field, path)
    if value == "today":
        return TODAY
    if kind == "datetime" and isinstance(value, datetime):
        return value if value.tzinfo is None else _naive_error(field, path)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        if kind == "datetime":
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                return parsed if parsed.tzinfo is None else _naive_error(field, path)
    expected = "a date (YYYY-MM-DD)" if kind == "date" else "a date or date-time (ISO 8601)"
    raise QueryError(
        f'{field.name} takes {expected}, "today" or {{days_ago: N}} / {{months_ago: N}}; '
        f"got {value!r}",
        path,
    )


def _naive_error(field: Field, path: str) -> Any:
    raise QueryError(f"{field.name}: give the sandbox's local time without a time zone", path)


def _parse_leaf(source: Source, cond: dict[str, Any], path: str, errors: list[QueryError]):
    unknown = sorted(set(cond) - _LEAF_KEYS)
    if unknown:
        errors.append(
            QueryError(
                f"unknown key(s) {', '.join(map(repr, unknown))} in a comparison; "
                "a comparison has field, op and value",
                path,
            )
        )
        return None
    try:
        field = source.field(cond["field"])
    except QueryError as exc:
        errors.append(QueryError(exc.message, _join(path, "field")))
        return None
    op = cond.get("op")
    allowed = operators_for(field)
    if op not in allowed:
        if isinstance(op, str) and op in OPERATORS:
            message = f"operator {op!r} does not apply to {field.name} ({field.type});"
        elif op is None:
            message = "missing op;"
        else:
            message = f"unknown operator {op!r};"
        errors.append(QueryError(f"{message} use one of {', '.join(allowed)}", _join(path, "op")))
        return None
    value_path = _join(path, "value")
    if op in _NO_VALUE_OPS:
        if cond.get("value") is not None:
            errors.append(QueryError(f"{op} takes no value", value_path))
            return None
        return _Leaf(field, op, None)
    if "value" not in cond:
        errors.append(QueryError(f"{op} needs a value", value_path))
        return None
    value = cond["value"]
    try:
        if op in _LIST_OPS:
            if not isinstance(value, list | tuple):
                raise QueryError(f"{op} takes a list of values; got {value!r}", value_path)
            parsed: Any = tuple(
                _parse_scalar(field, item, f"{value_path}[{i}]") for i, item in enumerate(value)
            )
        elif op == "between":
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise QueryError(f"between takes [low, high]; got {value!r}", value_path)
            parsed = tuple(
                _parse_scalar(field, item, f"{value_path}[{i}]") for i, item in enumerate(value)
            )
        else:
            parsed = _parse_scalar(field, value, value_path)
            if op in ("contains", "startswith") and parsed == "":
                raise QueryError(f"{op} needs some text", value_path)
    except QueryError as exc:
        errors.append(exc)
        return None
    return _Leaf(field, op, parsed)


def _parse(source: Source, cond: Any, path: str, errors: list[QueryError]) -> Any:
    """Parse a condition into nodes, appending every problem found to ``errors``."""
    if cond is None:
        return _EVERYTHING
    if not isinstance(cond, dict):
        errors.append(
            QueryError(
                f"a condition is a mapping ({{field, op, value}}, {{all}}, {{any}} or {{not}}); "
                f"got {_type_name(cond)}",
                path,
            )
        )
        return None
    if not cond:
        return _EVERYTHING
    if "field" in cond:
        return _parse_leaf(source, cond, path, errors)
    groups = [key for key in _GROUP_KEYS if key in cond]
    if len(groups) != 1 or len(cond) != 1:
        errors.append(
            QueryError(
                "a condition has either field/op/value or exactly one of all, any, not; "
                f"got keys {', '.join(map(str, cond))}",
                path,
            )
        )
        return None
    kind = groups[0]
    body = cond[kind]
    if kind == "not":
        item = _parse(source, body, _join(path, "not"), errors)
        return None if item is None else _Not(item)
    if not isinstance(body, list | tuple):
        errors.append(QueryError(f"{kind} takes a list of conditions", _join(path, kind)))
        return None
    items = [
        _parse(source, item, _join(path, f"{kind}[{i}]"), errors) for i, item in enumerate(body)
    ]
    if any(item is None for item in items):
        return None
    return _Group(kind, tuple(items))


def _size_problem(condition: Any) -> QueryError | None:
    """A condition with more leaves than MAX_CONDITIONS or nested deeper than MAX_DEPTH."""
    leaves = 0
    stack: list[tuple[Any, int]] = [(condition, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return QueryError(f"a condition may be nested at most {MAX_DEPTH} levels deep", "")
        if isinstance(node, dict):
            if "field" in node:
                leaves += 1
                if leaves > MAX_CONDITIONS:
                    return QueryError(
                        f"a condition may hold at most {MAX_CONDITIONS} field conditions", ""
                    )
                continue
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list | tuple):
            stack.extend((child, depth + 1) for child in node)
    return None


def _as_source(source: Source | str) -> Source:
    return source if isinstance(source, Source) else get_source(source)


def condition_problems(source: Source | str, condition: Any) -> list[QueryError]:
    """Every problem in a condition, each a QueryError with its path."""
    try:
        src = _as_source(source)
    except QueryError as exc:
        return [exc]
    too_large = _size_problem(condition)
    if too_large is not None:
        return [too_large]
    errors: list[QueryError] = []
    _parse(src, condition, "", errors)
    return errors


def validate_condition(source_name: str, condition: Any) -> list[str]:
    """All problems in a condition as "path: message" strings (empty when it is valid)."""
    return [str(error) for error in condition_problems(source_name, condition)]


def _parse_or_raise(source: Source, condition: Any) -> Any:
    too_large = _size_problem(condition)
    if too_large is not None:
        raise too_large
    errors: list[QueryError] = []
    node = _parse(source, condition, "", errors)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
            raise QueryError(first.message + more, first.path)
        raise first
    return node


# --- compiling --------------------------------------------------------------------------------


def _resolve(value: Any, scope: QueryScope) -> Any:
    return value.resolve(scope.as_of) if isinstance(value, RelativeDate) else value


def _start(day: date) -> datetime:
    return datetime.combine(day, time())


def _is_day(field: Field, value: Any) -> bool:
    """A plain date given for a datetime field stands for the whole day."""
    return field.type == "datetime" and not isinstance(value, datetime)


_COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _compare(field: Field, expr: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    """One comparison, without the null handling (done by the caller)."""
    if not _is_day(field, value):
        return _COMPARE[op](expr, value)
    day_start = _start(value)
    if value == date.max:
        # No day follows the last date: every value is before its end, none after it.
        before_end, after_end = expr.is_not(None), false()
    else:
        next_day = _start(value + timedelta(days=1))
        before_end, after_end = expr < next_day, expr >= next_day
    if op == "eq":
        return and_(expr >= day_start, before_end)
    if op == "ne":
        return or_(expr < day_start, after_end)
    if op == "lt":
        return expr < day_start
    if op == "ge":
        return expr >= day_start
    return before_end if op == "le" else after_end


def _compile_leaf(leaf: _Leaf, scope: QueryScope) -> ColumnElement[bool]:
    field, op = leaf.field, leaf.op
    if field.lookup is not None:
        # Test the other table's column once per row there, not once per row here (an order
        # list searched by customer name read the customer again for every order).
        lookup = field.lookup
        column = lookup.column
        direct = replace(field, expr=lambda _scope: column, lookup=None)
        matching = select(lookup.target_key).where(
            _compile_leaf(_Leaf(direct, op, leaf.value), scope)
        )
        return lookup.foreign_key.in_(matching.correlate(None))
    expr = field.expr(scope)
    if op == "is_null":
        return expr.is_(None)
    if op == "not_null":
        return expr.is_not(None)
    if op in _LIST_OPS or op == "between":
        values = [_resolve(v, scope) for v in leaf.value]
    else:
        value = _resolve(leaf.value, scope)
    if op == "in" or op == "not_in":
        if field.type == "datetime":
            positive = or_(false(), *(_compare(field, expr, "eq", v) for v in values))
        else:
            positive = expr.in_(values)
        if op == "in":
            predicate = positive
        else:
            predicate = not_(positive)
    elif op == "between":
        predicate = and_(
            _compare(field, expr, "ge", values[0]), _compare(field, expr, "le", values[1])
        )
    elif op == "contains":
        predicate = expr.icontains(value, autoescape=True)
    elif op == "startswith":
        predicate = expr.istartswith(value, autoescape=True)
    else:
        predicate = _compare(field, expr, op, value)
    if op in ("ne", "not_in") and field.nullable:
        # A missing value is "not equal" too; coalesce keeps a computed field evaluated once.
        return sql.coalesce(predicate, true())
    return predicate


def _compile(node: Any, scope: QueryScope) -> ColumnElement[bool]:
    if isinstance(node, _Leaf):
        return _compile_leaf(node, scope)
    if isinstance(node, _Not):
        # Comparisons on missing values are NULL in SQL, so NOT would drop those rows too;
        # treating NULL as false first makes "not" the exact complement.
        return not_(sql.coalesce(_compile(node.item, scope), false()))
    parts = [_compile(item, scope) for item in node.items]
    if node.kind == "all":
        return and_(true(), *parts)
    return or_(false(), *parts)


def compile_condition(source: Source, condition: Any, scope: QueryScope) -> ColumnElement[bool]:
    """The SQL expression for a condition on ``source`` (QueryError if the condition is invalid)."""
    return _compile(_parse_or_raise(source, condition), scope)


# --- columns and sort -------------------------------------------------------------------------


def validate_columns(source_name: str, columns: Any) -> list[str]:
    """Problems with a list of column (field) names for a source."""
    try:
        source = get_source(source_name)
    except QueryError as exc:
        return [str(exc)]
    if isinstance(columns, str) or not isinstance(columns, list | tuple):
        return ["columns: expected a list of field names"]
    problems = []
    for i, name in enumerate(columns):
        if not isinstance(name, str) or name not in source.fields:
            known = ", ".join(source.fields)
            problems.append(f"columns[{i}]: unknown field {name!r}; known fields: {known}")
    return problems


def normalize_sort(sort: Any) -> list[tuple[str, SortDirection]]:
    """Sort keys as (field, direction) pairs from [f, dir] pairs, {field, direction} or "f"."""
    if sort is None:
        return []
    if isinstance(sort, str | dict) or not isinstance(sort, Iterable):
        raise QueryError("expected a list of [field, asc|desc] pairs", "sort")
    result: list[tuple[str, SortDirection]] = []
    for i, item in enumerate(sort):
        path = f"sort[{i}]"
        if isinstance(item, str):
            name, direction = item, "asc"
        elif isinstance(item, dict):
            unknown = set(item) - {"field", "direction"}
            if unknown or "field" not in item:
                raise QueryError("a sort key is {field, direction}", path)
            name, direction = item["field"], item.get("direction", "asc")
        elif isinstance(item, list | tuple) and len(item) == 2:
            name, direction = item
        else:
            raise QueryError(f"a sort key is [field, asc|desc]; got {item!r}", path)
        if direction not in ("asc", "desc"):
            raise QueryError(f"sort direction is asc or desc; got {direction!r}", path)
        if not isinstance(name, str):
            raise QueryError(f"sort field must be a field name; got {name!r}", path)
        result.append((name, direction))
    return result


def validate_sort(source_name: str, sort: Any) -> list[str]:
    """Problems with a sort specification for a source."""
    try:
        source = get_source(source_name)
        keys = normalize_sort(sort)
    except QueryError as exc:
        return [str(exc)]
    problems = []
    for i, (name, _direction) in enumerate(keys):
        if name not in source.fields:
            known = ", ".join(source.fields)
            problems.append(f"sort[{i}]: unknown field {name!r}; known fields: {known}")
    return problems


# --- running queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowPage:
    """A page of rows (dicts keyed by field name, always with the key) and the total count."""

    rows: list[dict[str, Any]]
    total: int
    columns: list[str]
    key: str


def _checked_columns(source: Source, columns: Sequence[str]) -> list[str]:
    if isinstance(columns, str):
        raise QueryError("expected a list of field names", "columns")
    result: list[str] = []
    for i, name in enumerate(columns):
        if not isinstance(name, str) or name not in source.fields:
            known = ", ".join(source.fields)
            raise QueryError(f"unknown field {name!r}; known fields: {known}", f"columns[{i}]")
        if name not in result:
            result.append(name)
    return result


def select_rows(
    session: Session,
    source_name: str,
    *,
    where: Any = None,
    columns: Sequence[str],
    sort: Any = (),
    as_of: date,
    limit: int | None = None,
    offset: int = 0,
) -> RowPage:
    """Rows of a source matching ``where``, sorted (then by key), paged, with the total count."""
    source = get_source(source_name)
    scope = QueryScope(as_of)
    wanted = _checked_columns(source, columns)
    keys = normalize_sort(sort)
    for i, (name, _direction) in enumerate(keys):
        if name not in source.fields:
            known = ", ".join(source.fields)
            raise QueryError(f"unknown field {name!r}; known fields: {known}", f"sort[{i}]")
    if limit is not None and limit < 0:
        raise QueryError("limit must be 0 or more", "limit")
    if offset < 0:
        raise QueryError("offset must be 0 or more", "offset")
    condition = compile_condition(source, where, scope)

    selected = [source.key_field, *(name for name in wanted if name != source.key_field)]
    labelled = {name: source.fields[name].expr(scope).label(name) for name in selected}
    order_by = []
    for name, direction in keys:
        target = labelled.get(name)
        if target is None:
            target = source.fields[name].expr(scope)
        ordered = target.asc() if direction == "asc" else target.desc()
        order_by.append(ordered.nulls_last())
    order_by.append(labelled[source.key_field].asc())

    stmt = select(*labelled.values()).select_from(source.model).where(condition)
    stmt = stmt.order_by(*order_by).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = [dict(row._mapping) for row in session.execute(stmt)]
    if (rows or offset == 0) and (limit is None or len(rows) < limit):
        # The rows run out on this page, so they tell the total: no second pass over the
        # condition (which costs as much as the page on a large sandbox).
        total = offset + len(rows)
    else:
        total_stmt = select(sql.count()).select_from(source.model).where(condition)
        total = session.execute(total_stmt).scalar_one()
    return RowPage(rows=rows, total=total, columns=wanted, key=source.key_field)


def select_keys(session: Session, source_name: str, where: Any, as_of: date) -> set[int]:
    """The keys of every row of a source matching ``where``."""
    source = get_source(source_name)
    scope = QueryScope(as_of)
    key = source.fields[source.key_field].expr(scope)
    stmt = select(key).select_from(source.model).where(compile_condition(source, where, scope))
    return set(session.scalars(stmt))


def aggregate(
    session: Session,
    source_name: str,
    where: Any,
    func: str,
    field: str | None,
    as_of: date,
) -> int | float | date | str | None:
    """count / sum / avg / min / max of a field over the rows matching ``where``.

    ``count`` without a field counts rows; with one, rows where the field has a value. ``sum``
    of no rows is 0; ``avg``, ``min`` and ``max`` of no rows are None.
    """
    source = get_source(source_name)
    scope = QueryScope(as_of)
    if func not in AGGREGATES:
        raise QueryError(f"unknown aggregate {func!r}; use one of {', '.join(AGGREGATES)}", "func")
    condition = compile_condition(source, where, scope)
    if field is None:
        if func != "count":
            raise QueryError(f"{func} needs a field", "field")
        stmt = select(sql.count()).select_from(source.model).where(condition)
        return session.execute(stmt).scalar_one()
    try:
        target = source.field(field)
    except QueryError as exc:
        raise QueryError(exc.message, "field") from None
    allowed = _AGGREGATE_TYPES.get(func)
    if allowed is not None and target.type not in allowed:
        raise QueryError(f"{func} does not apply to {target.name} ({target.type})", "field")
    inner = (
        select(target.expr(scope).label("value"))
        .select_from(source.model)
        .where(condition)
        .subquery()
    )
    outer = getattr(sql, func)(inner.c.value)
    result = session.execute(select(outer)).scalar_one()
    if func == "sum":
        return int(result or 0)
    if func == "avg":
        return None if result is None else float(result)
    return result


# --- describing -------------------------------------------------------------------------------


_RELATIVE = {
    "days_ago": (N_("%(amount)d day ago"), N_("%(amount)d days ago")),
    "months_ago": (N_("%(amount)d month ago"), N_("%(amount)d months ago")),
    "years_ago": (N_("%(amount)d year ago"), N_("%(amount)d years ago")),
}


def _describe_value(value: Any) -> str | Message:
    if isinstance(value, RelativeDate):
        if value.unit == "days_ago" and value.amount == 0:
            return Message(N_("today"))
        forms = _RELATIVE.get(value.unit)
        if forms is None:
            return value.describe()
        return Message(forms[0] if value.amount == 1 else forms[1], amount=value.amount)
    if isinstance(value, date | datetime):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, bool):
        return Message(N_("yes")) if value else Message(N_("no"))
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


# Each comparison as a whole phrase: the field's label, then what it is compared with.
_WORDS = {
    "eq": N_("%(field)s is %(value)s"),
    "ne": N_("%(field)s is not %(value)s"),
    "lt": N_("%(field)s is less than %(value)s"),
    "le": N_("%(field)s is at most %(value)s"),
    "gt": N_("%(field)s is more than %(value)s"),
    "ge": N_("%(field)s is at least %(value)s"),
    "contains": N_("%(field)s contains %(value)s"),
    "startswith": N_("%(field)s starts with %(value)s"),
}
_DATE_WORDS = {
    **_WORDS,
    "lt": N_("%(field)s is before %(value)s"),
    "le": N_("%(field)s is on or before %(value)s"),
    "gt": N_("%(field)s is after %(value)s"),
    "ge": N_("%(field)s is on or after %(value)s"),
}


def _describe(node: Any, top: bool) -> Message:
    """A condition in words, as a Message whose parts (labels, phrases) are marked templates."""
    if isinstance(node, _Leaf):
        label, op = Message(node.field.label), node.op
        if op in _NO_VALUE_OPS:
            if op == "is_null":
                return Message(N_("%(field)s is empty"), field=label)
            return Message(N_("%(field)s is not empty"), field=label)
        if op in _LIST_OPS:
            values = [_describe_value(v) for v in node.value]
            if len(values) == 1:
                template = _WORDS["eq"] if op == "in" else _WORDS["ne"]
                return Message(template, field=label, value=values[0])
            if op == "in":
                return Message(
                    N_("%(field)s is %(values)s or %(last)s"),
                    field=label,
                    values=", ".join(values[:-1]),
                    last=values[-1],
                )
            return Message(
                N_("%(field)s is none of %(values)s"), field=label, values=", ".join(values)
            )
        if op == "between":
            low, high = (_describe_value(v) for v in node.value)
            return Message(
                N_("%(field)s is between %(low)s and %(high)s"), field=label, low=low, high=high
            )
        words = _DATE_WORDS if node.field.type in ("date", "datetime") else _WORDS
        return Message(words[op], field=label, value=_describe_value(node.value))
    if isinstance(node, _Not):
        return Message(N_("not (%(condition)s)"), condition=_describe(node.item, True))
    if not node.items:
        return Message(N_("all rows")) if node.kind == "all" else Message(N_("no rows"))
    joiner = N_("%(left)s and %(right)s") if node.kind == "all" else N_("%(left)s or %(right)s")
    text = _describe(node.items[0], False)
    for item in node.items[1:]:
        text = Message(joiner, left=text, right=_describe(item, False))
    if top or len(node.items) == 1:
        return text
    return Message("(%(condition)s)", condition=text)


def describe_condition(source_name: str, condition: Any) -> Message:
    """A readable sentence for a valid condition, e.g. 'Tier is "gold" and ...'.

    It is English text that keeps its marked templates, so a page shows it translated.
    """
    return _describe(_parse_or_raise(get_source(source_name), condition), True)
