"""Charts of a summary, drawn on the server: a bar chart (one group) or a heat table (two).

Both work without JavaScript and carry their own text: the bar chart is an SVG image with a
title and a description listing every bar's value (and the table of figures sits beside it);
the heat table is an HTML table whose cells show their figure, shaded by its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

BAR_HEIGHT = 22
BAR_GAP = 6
LABEL_WIDTH = 180
PLOT_WIDTH = 360
MAX_BARS = 60


@dataclass(frozen=True)
class Chart:
    """A chart of one measure of a summary: its kind, title, the drawing and its text."""

    kind: str  # "bars" or "heat"
    title: str
    markup: Markup
    text: str


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _shown(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def bar_chart(
    title: str, group_values: Sequence[str], figures: Sequence[str], *, none_label: str
) -> Chart | None:
    """A horizontal bar chart of one figure per group (None without a number to draw)."""
    values = [_number(f) for f in figures]
    pairs = [(g or none_label, v) for g, v in zip(group_values, values, strict=True)]
    pairs = [(g, v) for g, v in pairs if v is not None][:MAX_BARS]
    if not pairs:
        return None
    largest = max(abs(v) for _g, v in pairs) or 1.0
    height = len(pairs) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    width = LABEL_WIDTH + PLOT_WIDTH + 90
    text = "; ".join(f"{g}: {_shown(v)}" for g, v in pairs)
    parts = [
        f'<svg class="chart chart--bars" role="img" aria-labelledby="chart-title chart-desc"'
        f' viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet"'
        f' xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(text)}</desc>',
    ]
    for index, (group, value) in enumerate(pairs):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        length = max(1.0, PLOT_WIDTH * abs(value) / largest)
        middle = y + BAR_HEIGHT / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end"'
            f' dominant-baseline="middle" font-size="13">{escape(str(group)[:28])}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}"'
            f' fill="#2f6fb3" rx="2"></rect>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{middle}" dominant-baseline="middle"'
            f' font-size="13">{escape(_shown(value))}</text>'
        )
    parts.append("</svg>")
    # Every text in the drawing went through escape() above.
    return Chart("bars", title, Markup("".join(parts)), text)  # noqa: S704


def heat_table(
    title: str,
    rows: Sequence[Sequence[Any]],
    figure_index: int,
    *,
    row_heading: str,
    none_label: str,
) -> Chart | None:
    """A two-way table of one figure: first group down, second across, cells shaded by size."""
    row_keys: list[str] = []
    col_keys: list[str] = []
    cells: dict[tuple[str, str], float] = {}
    for row in rows:
        down, across = (str(row[0]) or none_label), (str(row[1]) or none_label)
        value = _number(row[figure_index])
        if down not in row_keys:
            row_keys.append(down)
        if across not in col_keys:
            col_keys.append(across)
        if value is not None:
            cells[(down, across)] = value
    if not cells:
        return None
    largest = max(abs(v) for v in cells.values()) or 1.0
    head = "".join(f'<th scope="col" class="num">{escape(c)}</th>' for c in col_keys)
    body = []
    for down in row_keys:
        tds = []
        for across in col_keys:
            value = cells.get((down, across))
            if value is None:
                tds.append('<td class="num heat heat--0">–</td>')
                continue
            level = min(5, int(5 * abs(value) / largest + 0.5))
            tds.append(f'<td class="num heat heat--{level}">{escape(_shown(value))}</td>')
        body.append(f'<tr><th scope="row">{escape(down)}</th>{"".join(tds)}</tr>')
    # Every text in the table went through escape() above.
    markup = Markup(  # noqa: S704
        f'<table class="table table--compact heat-table"><caption>{escape(title)}</caption>'
        f'<thead><tr><th scope="col">{escape(row_heading)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    text = "; ".join(f"{d} / {a}: {_shown(v)}" for (d, a), v in cells.items())
    return Chart("heat", title, markup, text)
