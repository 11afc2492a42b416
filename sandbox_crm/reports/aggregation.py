"""Summarising a source: group rows by one or two fields and compute measures per group.

A report that summarises instead of listing rows has ``group_by`` (up to two group specs) and
``measures`` (one or more measure specs), both plain text so that YAML, forms and the API share
them:

- a group spec is a field name (``district``, ``channel``) or a field with a band
  (``ordered_at:quarter``, ``date_of_birth:age``, ``spend_12m:band``);
- a measure spec is ``count`` (rows), or a function and a field: ``count_distinct:customer_id``,
  ``sum:total_hkd``, ``avg:total_hkd``, ``min:ordered_at``, ``max:ordered_at`` or
  ``rate:converted`` (the percentage of rows where a yes/no field is yes).

The rows are selected with the same filters as a row report and summarised in Python, so that
the result is the same on every database. A summary with more than MAX_GROUPS groups is refused:
it is a list, not a summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from sandbox_crm.i18n import N_, Message
from sandbox_crm.query import select_rows
from sandbox_crm.sources import Field, QueryError, Source, get_source

__all__ = [
    "BANDS",
    "MAX_GROUPS",
    "MAX_GROUP_FIELDS",
    "MEASURES",
    "GroupSpec",
    "MeasureSpec",
    "SummaryTable",
    "aggregation_problems",
    "group_label",
    "is_summary",
    "measure_label",
    "parse_group",
    "parse_measure",
    "revealed_fields",
    "summarise",
]

MAX_GROUPS = 200
"""Most groups a summary may have (rows of a one-way summary, cells of a pivot)."""
MAX_GROUP_FIELDS = 2
MAX_MEASURES = 6

MEASURES: dict[str, str] = {
    "count": N_("Number of rows"),
    "count_distinct": N_("Number of different values"),
    "sum": N_("Total"),
    "avg": N_("Average"),
    "min": N_("Lowest"),
    "max": N_("Highest"),
    "rate": N_("Percentage yes"),
}
_MEASURE_TYPES: dict[str, tuple[str, ...]] = {
    "count_distinct": ("str", "int", "date", "datetime", "bool", "enum"),
    "sum": ("int",),
    "avg": ("int",),
    "min": ("int", "date", "datetime", "str"),
    "max": ("int", "date", "datetime", "str"),
    "rate": ("bool",),
}
_MEASURE_LABELS = {
    "count_distinct": N_("Different %(field)s"),
    "sum": N_("Total %(field)s"),
    "avg": N_("Average %(field)s"),
    "min": N_("Lowest %(field)s"),
    "max": N_("Highest %(field)s"),
    "rate": N_("%% %(field)s"),
}

BANDS: dict[str, str] = {
    "month": N_("month"),
    "quarter": N_("quarter"),
    "year": N_("year"),
    "age": N_("age band"),
    "band": N_("amount band"),
}
BAND_TYPES: dict[str, tuple[str, ...]] = {
    "month": ("date", "datetime"),
    "quarter": ("date", "datetime"),
    "year": ("date", "datetime"),
    "age": ("date",),
    "band": ("int",),
}
# Age bands in whole years on the report's date: (lowest age, label).
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "under 25"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65 and over"),
)
# Amount bands in Hong Kong dollars: (lowest amount, label).
AMOUNT_BANDS: tuple[tuple[int, str], ...] = (
    (-(2**63), "under 1"),
    (1, "1-999"),
    (1_000, "1,000-4,999"),
    (5_000, "5,000-9,999"),
    (10_000, "10,000-49,999"),
    (50_000, "50,000 and over"),
)


@dataclass(frozen=True)
class GroupSpec:
    """One grouping: a field, and the band its values are put into (``""`` for the value)."""

    spec: str
    field: Field
    band: str = ""


@dataclass(frozen=True)
class MeasureSpec:
    """One measure: a function, and the field it reads (None for ``count``)."""

    spec: str
    func: str
    field: Field | None = None


def is_summary(group_by: Sequence[str] | None, measures: Sequence[str] | None) -> bool:
    """Whether a report definition summarises (has groups or measures) instead of listing rows."""
    return bool(group_by) or bool(measures)


def parse_group(source: Source, spec: Any) -> GroupSpec:
    """The group spec ``field`` or ``field:band``; QueryError saying what is wrong."""
    if not isinstance(spec, str) or not spec:
        raise QueryError(f"a group is a field name or field:band; got {spec!r}")
    name, _, band = spec.partition(":")
    field = source.field(name)
    if band:
        if band not in BANDS:
            raise QueryError(f"unknown band {band!r} in {spec!r}; bands: {', '.join(BANDS)}")
        if field.type not in BAND_TYPES[band]:
            raise QueryError(
                f"band {band!r} does not apply to {name} ({field.type}); it applies to "
                f"{' or '.join(BAND_TYPES[band])} fields"
            )
    elif field.type in ("date", "datetime"):
        raise QueryError(
            f"grouping by {name} itself makes a group per {field.type}; group by "
            f"{name}:month, {name}:quarter or {name}:year"
        )
    return GroupSpec(spec, field, band)


def parse_measure(source: Source, spec: Any) -> MeasureSpec:
    """The measure spec ``count`` or ``function:field``; QueryError saying what is wrong."""
    if not isinstance(spec, str) or not spec:
        raise QueryError(f"a measure is count or function:field; got {spec!r}")
    func, _, name = spec.partition(":")
    if func not in MEASURES:
        raise QueryError(f"unknown measure {func!r}; measures: {', '.join(MEASURES)}")
    if func == "count":
        if name:
            raise QueryError("count counts rows and takes no field; use count_distinct:field")
        return MeasureSpec(spec, func)
    if not name:
        raise QueryError(f"{func} needs a field: {func}:field")
    field = source.field(name)
    if field.type not in _MEASURE_TYPES[func]:
        kinds = " or ".join(_MEASURE_TYPES[func])
        if func in ("sum", "avg"):
            raise QueryError(f"{func} needs a number; {name} is {field.type}, not a number")
        raise QueryError(f"{func} does not apply to {name} ({field.type}); it needs {kinds}")
    return MeasureSpec(spec, func, field)


def aggregation_problems(
    source_name: str, group_by: Sequence[Any], measures: Sequence[Any]
) -> list[str]:
    """Every problem with a summary's groups and measures, each naming the spec."""
    problems: list[str] = []
    try:
        source = get_source(source_name)
    except QueryError as exc:
        return [exc.message]
    if len(group_by) > MAX_GROUP_FIELDS:
        problems.append(f"group by at most {MAX_GROUP_FIELDS} fields (a two-way table)")
    if len(set(map(str, group_by))) != len(group_by):
        problems.append("a group is listed twice")
    if not measures:
        problems.append("choose at least one measure (for example count)")
    if len(measures) > MAX_MEASURES:
        problems.append(f"choose at most {MAX_MEASURES} measures")
    if len(set(map(str, measures))) != len(measures):
        problems.append("a measure is listed twice")
    for i, spec in enumerate(group_by):
        try:
            parse_group(source, spec)
        except QueryError as exc:
            problems.append(f"group_by[{i}]: {exc.message}")
    for i, spec in enumerate(measures):
        try:
            parse_measure(source, spec)
        except QueryError as exc:
            problems.append(f"measures[{i}]: {exc.message}")
    return problems


def group_label(group: GroupSpec) -> Message:
    """The header of a group's column: the field's label, and its band if any."""
    if not group.band:
        return Message(group.field.label)
    return Message(
        N_("%(field)s (%(band)s)"),
        field=Message(group.field.label),
        band=Message(BANDS[group.band]),
    )


def measure_label(measure: MeasureSpec) -> Message:
    """The header of a measure's column, e.g. "Total Total (HK$)" reads "Total Total (HK$)"."""
    if measure.field is None:
        return Message(MEASURES["count"])
    return Message(_MEASURE_LABELS[measure.func], field=Message(measure.field.label))


def revealed_fields(
    source_name: str, group_by: Sequence[str], measures: Sequence[str]
) -> list[str]:
    """The fields whose values a summary shows: its groups', and those of min and max.

    Counts, totals, averages and percentages show no one's value; a group by name, or the
    lowest date of birth, does.
    """
    source = get_source(source_name)
    names: list[str] = []
    for spec in group_by:
        name = parse_group(source, spec).field.name
        if name not in names:
            names.append(name)
    for spec in measures:
        measure = parse_measure(source, spec)
        if measure.func in ("min", "max") and measure.field and measure.field.name not in names:
            names.append(measure.field.name)
    return names


# --- computing --------------------------------------------------------------------------------


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _lowest_band(bands: tuple[tuple[int, str], ...], value: int) -> tuple[int, str]:
    chosen = bands[0]
    for low, label in bands:
        if value >= low:
            chosen = (low, label)
    return chosen


def band_value(group: GroupSpec, value: Any, as_of: date) -> tuple[Any, Any]:
    """(sort key, shown value) of a row's value in a group; None stays None (sorted last)."""
    if value is None:
        return (1, ""), None
    band = group.band
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        day = None
    if band == "month" and day is not None:
        return (0, day.year, day.month), f"{day.year}-{day.month:02d}"
    if band == "quarter" and day is not None:
        quarter = (day.month - 1) // 3 + 1
        return (0, day.year, quarter), f"{day.year}-Q{quarter}"
    if band == "year" and day is not None:
        return (0, day.year), str(day.year)
    if band == "age" and day is not None:
        low, label = _lowest_band(AGE_BANDS, _age(day, as_of))
        return (0, low), label
    if band == "band" and isinstance(value, int):
        low, label = _lowest_band(AMOUNT_BANDS, value)
        return (0, low), label
    if isinstance(value, bool):
        return (0, int(value)), value
    return (0, value), value


def _rounded(value: float, places: int) -> float:
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def measure_value(measure: MeasureSpec, rows: Sequence[dict[str, Any]]) -> Any:
    """One measure over a group's rows (avg to 2 decimals, rate as a percentage to 1)."""
    if measure.func == "count":
        return len(rows)
    name = measure.field.name if measure.field is not None else ""
    values = [row[name] for row in rows]
    present = [v for v in values if v is not None]
    if measure.func == "count_distinct":
        return len(set(present))
    if measure.func == "sum":
        return sum(present)
    if measure.func == "rate":
        return _rounded(100 * sum(1 for v in present if v) / len(values), 1) if values else None
    if not present:
        return None
    if measure.func == "avg":
        return _rounded(sum(present) / len(present), 2)
    return min(present) if measure.func == "min" else max(present)


@dataclass(frozen=True)
class SummaryTable:
    """A summary's output: one row per group (group values, then measures), in group order."""

    groups: list[GroupSpec]
    measures: list[MeasureSpec]
    rows: list[list[Any]]
    source_rows: int

    @property
    def columns(self) -> list[str]:
        """The output's column names: the group specs, then the measure specs."""
        return [g.spec for g in self.groups] + [m.spec for m in self.measures]

    def labels(self) -> list[Message]:
        """The output's column headers in words."""
        return [group_label(g) for g in self.groups] + [measure_label(m) for m in self.measures]

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as mappings keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class TooManyGroups(QueryError):
    """A summary with more groups than MAX_GROUPS."""

    def __init__(self, count: int) -> None:
        super().__init__(f"the summary makes {count} groups; at most {MAX_GROUPS} can be shown")
        self.count = count


def summarise(
    session: Session,
    source_name: str,
    *,
    where: Any,
    group_by: Sequence[str],
    measures: Sequence[str],
    sort: Sequence[Any] = (),
    as_of: date,
) -> SummaryTable:
    """Group the rows matching ``where`` and compute each measure per group.

    Groups come in their natural order (dates and bands ascending, no value last) unless
    ``sort`` names output columns. TooManyGroups past MAX_GROUPS; QueryError for bad specs.
    """
    source = get_source(source_name)
    groups = [parse_group(source, spec) for spec in group_by]
    wanted = [parse_measure(source, spec) for spec in measures]
    fields = [g.field.name for g in groups] + [m.field.name for m in wanted if m.field is not None]
    page = select_rows(
        session, source_name, where=where, columns=fields or [source.key_field], as_of=as_of
    )
    buckets: dict[tuple[Any, ...], tuple[list[Any], list[dict[str, Any]]]] = {}
    for row in page.rows:
        keyed = [band_value(g, row[g.field.name], as_of) for g in groups]
        key = tuple(k for k, _shown in keyed)
        if key not in buckets:
            if len(buckets) >= MAX_GROUPS:
                raise TooManyGroups(_count_groups(groups, page.rows, as_of))
            buckets[key] = ([shown for _k, shown in keyed], [])
        buckets[key][1].append(row)
    if not groups and not buckets:
        buckets[()] = ([], [])
    table = [
        [*shown, *(measure_value(m, rows) for m in wanted)]
        for _key, (shown, rows) in sorted(buckets.items(), key=lambda item: item[0])
    ]
    result = SummaryTable(groups, wanted, table, page.total)
    for name, direction in reversed(list(_sort_keys(result.columns, sort))):
        index = result.columns.index(name)
        present = [row for row in table if row[index] is not None]
        absent = [row for row in table if row[index] is None]
        present.sort(key=lambda row: row[index], reverse=direction == "desc")
        table[:] = present + absent
    return result


def _count_groups(groups: list[GroupSpec], rows: list[dict[str, Any]], as_of: date) -> int:
    return len({tuple(band_value(g, row[g.field.name], as_of)[0] for g in groups) for row in rows})


def _sort_keys(columns: list[str], sort: Sequence[Any]) -> list[tuple[str, str]]:
    keys = []
    for item in sort or ():
        if isinstance(item, str):
            name, direction = item, "asc"
        else:
            name, direction = item[0], item[1] if len(item) > 1 else "asc"
        if name in columns:
            keys.append((name, direction))
    return keys


def sort_problems(
    group_by: Sequence[str], measures: Sequence[str], sort: Sequence[Any]
) -> list[str]:
    """Problems with a summary's sort: each key must be one of its groups or measures."""
    columns = [*map(str, group_by), *map(str, measures)]
    problems = []
    for i, item in enumerate(sort or ()):
        if isinstance(item, str):
            name, direction = item, "asc"
        elif isinstance(item, list | tuple) and 1 <= len(item) <= 2:
            name, direction = item[0], item[1] if len(item) > 1 else "asc"
        else:
            problems.append(f"sort[{i}]: give [column, asc|desc]")
            continue
        if name not in columns:
            problems.append(
                f"sort[{i}]: a summary sorts by one of its groups or measures "
                f"({', '.join(columns)}); got {name!r}"
            )
        elif direction not in ("asc", "desc"):
            problems.append(f"sort[{i}]: direction is asc or desc; got {direction!r}")
    return problems
