"""The Jinja2 environment of the page and its escaping.

Every template (HTML and SVG) is rendered with autoescape on, and every interpolated value
(`{{ ... }}`) goes through `escape_value`, the environment's finalize hook: HTML-escaped, then
hardened so that no text can look like a fetch (`://`, `url(` and `@import` are broken with a
character reference). Markup in the page comes from the template files only.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from flows.outputs.report.charts import Cell, Day, GridChart
from flows.outputs.report.data import ReportData
from flows.outputs.report.format import fmt_coord
from flows.outputs.report.views import page_context

DEFAULT_TITLE = "Perekaman e-KTP"      # followed by the area's kab/kota (core.kabupaten), see page_title
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
TEMPLATE_EXTENSIONS = ("html", "svg", "j2", "css")


def harden(text: str) -> str:
    """Break `://`, `url(` and `@import` in already escaped text (character references render the same)."""
    return text.replace("://", "&#58;//").replace("url(", "url&#40;").replace("@import", "&#64;import")


def escape_value(value: Any) -> Markup:
    """The finalize hook: any value as escaped, hardened markup; None is empty.

    Markup (the output of a macro or an include) is already escaped and is only hardened.
    """
    if isinstance(value, Markup):
        return Markup(harden(str(value)))
    text = "" if value is None else str(value)
    return Markup(harden(html.escape(text, quote=True)))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The page's environment: templates/ of this package, autoescape on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("flows.outputs.report", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=TEMPLATE_EXTENSIONS, default_for_string=True, default=True
        ),
        finalize=escape_value,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["coord"] = fmt_coord
    env.filters["grid_cells"] = grid_cells
    env.filters["trend_bars"] = trend_bars
    return env


# Where grid_cells puts a cell's x and tooltip in the markup of templates/grid_cell.svg.j2 (private-use
# characters: escape_value leaves them as they are, and no template holds them).
X_SLOT, TIP_SLOT = "\ue000", "\ue001"


@lru_cache(maxsize=64)
def _cell_markup(cls: str | None, cell_w: str, cell_h: int) -> tuple[str, str, str]:
    """The markup of a grid cell of class ``cls`` (grid_cell.svg.j2, through the environment: every
    value escaped), cut around its x and its tooltip."""
    macro = environment().get_template("grid_cell.svg.j2").module.cell
    before_x, rest = str(macro(cls, X_SLOT, cell_w, cell_h, TIP_SLOT)).split(X_SLOT)
    between, after_tip = rest.split(TIP_SLOT)
    return before_x, between, after_tip


@lru_cache(maxsize=8192)
def _escaped(text: str) -> str:
    """``html.escape`` of a part of a tooltip (a date, a kecamatan's head, a tip's end: the same few
    hundred on every page). Escaping works character by character, so the parts escaped one by one and
    joined are the whole text escaped; `harden` is applied to the joined text (a `://` may span parts)."""
    return html.escape(text, quote=True)


@lru_cache(maxsize=8192)
def _coord_markup(x: float) -> str:
    """A coordinate as `escape_value` writes it (the grid's columns: the same on every row and page)."""
    return str(escape_value(fmt_coord(x)))


def grid_cells(cells: Sequence[Cell], chart: GridChart) -> Markup:
    """The filter that writes a row of the completeness grid: the markup of grid_cell.svg.j2 once per
    cell, as a template loop would give it, each value escaped by `escape_value` (a column's x, the
    markup of each class and the escaped parts of the tips once, not once per cell)."""
    cell_w, markup, out = fmt_coord(chart.cell_w), {}, []
    for cell in cells:
        parts = markup.get(cell.cls)
        if parts is None:
            parts = markup[cell.cls] = _cell_markup(cell.cls or None, cell_w, chart.cell_h)
        out += (parts[0], _coord_markup(cell.x), parts[1],
                harden(_escaped(cell.date) + _escaped(cell.head) + _escaped(cell.end)), parts[2])
    return Markup("".join(out))


Y_SLOT, H_SLOT = "\ue002", "\ue003"


@lru_cache(maxsize=1)
def _trend_day_markup() -> tuple[str, str, str]:
    """The markup of a trend day's group (trend_day.svg.j2 through the environment): its opening
    before and after the tooltip, and its end."""
    module = environment().get_template("trend_day.svg.j2").module
    before_tip, after_tip = str(module.day(TIP_SLOT)).split(TIP_SLOT)
    return before_tip, after_tip, str(module.end())


@lru_cache(maxsize=16)
def _trend_segment_markup(key: str, bar_w: str) -> tuple[str, str, str, str]:
    """The markup of a segment of channel ``key`` (trend_day.svg.j2 through the environment, every
    value escaped), cut around its x, y and height."""
    rect = str(environment().get_template("trend_day.svg.j2").module.segment(key, X_SLOT, Y_SLOT, bar_w, H_SLOT))
    before_x, rest = rect.split(X_SLOT)
    before_y, rest = rest.split(Y_SLOT)
    before_h, after = rest.split(H_SLOT)
    return before_x, before_y, before_h, after


def trend_bars(days: Sequence[Day], bar_w: str) -> Markup:
    """The filter that writes the trend chart's bars: per day its group (the tooltip, one rect per
    channel) from trend_day.svg.j2, as a template loop over the days would give it, each value
    escaped by `escape_value` (issue 19: a year's 366 days x 3 channels were ~10,000 template calls
    a page; the markup of each channel is rendered once per page)."""
    before_tip, after_tip, end = _trend_day_markup()
    out: list[str] = []
    for day in days:
        x = str(escape_value(fmt_coord(day.x)))
        out += (before_tip, str(escape_value(day.tip)), after_tip)
        for s in day.segments:
            before_x, before_y, before_h, after = _trend_segment_markup(s.key, bar_w)
            out += (before_x, x, before_y, str(escape_value(fmt_coord(s.y))), before_h,
                    str(escape_value(fmt_coord(s.height))), after)
        out.append(end)
    return Markup("".join(out))


def page_title(data: ReportData) -> str:
    """The title, then the names of the area's kab/kota (one or two, as the region list spells
    them) or their number (more); the bare title when the page does not know its area."""
    names = data.area_names
    if not names:
        return DEFAULT_TITLE
    return f"{DEFAULT_TITLE} — {', '.join(names) if len(names) <= 2 else f'{len(names)} kabupaten/kota'}"


def render_report(
    data: ReportData,
    *,
    run_summary: dict | None = None,
    title: str | None = None,
    generated_at: dt.datetime | None = None,
    feedback: dict | None = None,
) -> str:
    """The whole HTML page as a string.

    The feedback section lists `feedback` (a dict with `files`: `KODE/YYYY-MM-DD.csv` names, and
    optionally `folder`, `written`, `removed`, `source`) or else the run summary's "feedback".
    """
    generated = (generated_at or dt.datetime.now(WIB)).astimezone(WIB)
    if feedback is None and run_summary:
        feedback = run_summary.get("feedback")
    context = page_context(data, run_summary, title or page_title(data), generated, feedback)
    return environment().get_template("page.html.j2").render(context)
