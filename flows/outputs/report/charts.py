"""The geometry of the three charts, as plain data: coordinates, ticks, labels and tooltips.

Each function takes rows of `ReportData` and returns a dataclass of numbers and plain text;
the SVG templates in templates/charts/ only place them. Coordinates are SVG user units of a
viewBox whose width is 1000 (the backlog and trend charts) or grows with the days (the grid).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flows.outputs.report.data import CHANNELS, STATUSES, UNKNOWN_STATUS
from flows.outputs.report.format import as_date, fmt_coord, fmt_date, fmt_dec, fmt_int, fmt_pct, num

LOADED_CLASS = STATUSES["loaded"][0]
OFF_CLASS = "off"  # a cell or date label of a day off (mart.kalender: no working day)
WEEKEND_NAMES = {6: "Sabtu", 7: "Minggu"}


@dataclass
class Tick:
    """A value line across the plot (`pos`: x or y) and its label at `label_pos`."""

    pos: float
    label_pos: float
    label: str
    zero: bool


@dataclass
class Bar:
    """One kecamatan of the backlog chart: its name, bar (x, y, width) and value label."""

    name: str
    y: float
    text_y: float
    x: float
    width: float
    neg: bool
    value_x: float
    label: str
    tip: str


@dataclass
class BacklogChart:
    width: int
    height: int
    bar_h: int
    name_x: int
    grid_y1: int
    grid_y2: int
    tick_y: int
    ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Segment:
    """One channel's part of a day's stacked bar (`key`: the channel's css key)."""

    key: str
    y: float
    height: float


@dataclass
class Day:
    x: float
    tip: str
    segments: list[Segment]


@dataclass
class MeanPoint:
    x: float
    y: float
    tip: str


@dataclass
class DateLabel:
    x: float
    label: str
    off: bool = False  # the grid's label of a day off


@dataclass
class TrendChart:
    width: int
    height: int
    count: int
    left: int
    right: int
    tick_x: int
    axis_y: float
    base_y: int
    mark_y: int
    date_y: int
    bar_w: float
    ticks: list[Tick] = field(default_factory=list)
    days: list[Day] = field(default_factory=list)
    mean_path: str = ""
    mean_points: list[MeanPoint] = field(default_factory=list)
    date_labels: list[DateLabel] = field(default_factory=list)


@dataclass(slots=True)
class Cell:
    """One kecamatan x day of the grid; `cls` is None for a loaded file on a working day (the CSS
    default); a day off (mart.kalender) adds the class OFF_CLASS and the holiday's name to the tip.
    The tip is kept in its three parts, each shared by many cells: the date (a column's), the head
    (the kecamatan's name between a space and ": ", a row's) and the end (the status, the counts
    and the day off: a few dozen on a page), so that the page escapes each part once, not each of
    a province year's ~88,000 tips (issue 19)."""

    x: float
    cls: str | None
    date: str
    head: str
    end: str

    @property
    def tip(self) -> str:
        return self.date + self.head + self.end


@dataclass
class GridRow:
    name: str
    y: int
    text_y: int
    cells: list[Cell]


@dataclass
class GridChart:
    width: int
    height: int
    name_x: int
    left: int
    cell_w: float
    cell_h: int
    kecamatan: int
    days: int
    rows: list[GridRow] = field(default_factory=list)
    date_labels: list[DateLabel] = field(default_factory=list)
    label_y: int = 0
    days_off: int = 0  # dates of the grid that are no working day


# --- backlog by kecamatan -------------------------------------------------------------------


def backlog_chart(rows: list[dict]) -> BacklogChart:
    """Horizontal bars of belum_rekam (rows come largest first); a negative bar goes left of zero."""
    width, value_w = 1000, 150
    label_w = label_width(r["nama_kecamatan"] or "" for r in rows)
    bar_h, gap, top, axis_h = 18, 7, 6, 26
    base = top + len(rows) * (bar_h + gap)
    vals = [num(r["belum_rekam"]) or 0.0 for r in rows]
    ticks = nice_ticks(min(0.0, *vals), max(0.0, *vals), 5)
    lo, hi = ticks[0], ticks[-1]
    plot_w = width - label_w - value_w

    def sx(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    chart = BacklogChart(width=width, height=base + axis_h, bar_h=bar_h, name_x=label_w - 10,
                         grid_y1=top - 4, grid_y2=base, tick_y=base + 16)
    chart.ticks = [Tick(pos=sx(t), label_pos=sx(t), label=fmt_int(t), zero=t == 0) for t in ticks]
    for i, (r, v) in enumerate(zip(rows, vals)):
        y = top + i * (bar_h + gap)
        neg = v < 0
        xa, xb = sx(min(v, 0.0)), sx(max(v, 0.0))
        name = "" if r["nama_kecamatan"] is None else str(r["nama_kecamatan"])
        belum, pct = fmt_int(r["belum_rekam"]), fmt_pct(r["pct_rekam"])
        tip = f"{name}: belum rekam {belum}, {pct} sudah rekam" + (" — negatif: masalah data" if neg else "")
        chart.bars.append(Bar(name=name, y=y, text_y=y + bar_h - 5, x=xa, width=xb - xa, neg=neg,
                              value_x=(sx(0.0) if neg else xb) + 6, label=f"{belum} · {pct}", tip=tip))
    return chart


# --- participation trend by channel ---------------------------------------------------------


def trend_chart(days: list[dict]) -> TrendChart:
    """Stacked daily bars per channel (regency totals) and the line of the 7-day mean."""
    width, height = 1000, 320
    ml, mr, mt, mb = 64, 44, 14, 34
    plot_w, plot_h = width - ml - mr, height - mt - mb
    n = len(days)
    totals = [sum(num(d[c]) or 0.0 for c, *_ in CHANNELS) for d in days]
    means = [(num(d["rekam_baru_7h"]) if d["n_7h"] else None) for d in days]
    ticks = nice_ticks(0.0, max([*totals, *(m for m in means if m is not None), 1.0]), 5)
    ymax = ticks[-1]
    slot = plot_w / n
    bw = min(slot * 0.8, 46.0) if slot >= 4 else slot
    base_y = mt + plot_h

    def sy(v: float) -> float:
        return base_y - v / ymax * plot_h

    chart = TrendChart(width=width, height=height, count=n, left=ml, right=width - mr, tick_x=ml - 8,
                       axis_y=mt + plot_h / 2, base_y=base_y, mark_y=base_y + 4, date_y=base_y + 18, bar_w=bw)
    chart.ticks = [Tick(pos=sy(t), label_pos=sy(t) + 4, label=fmt_int(t), zero=t == 0) for t in ticks]
    for i, d in enumerate(days):
        x = ml + (i + 0.5) * slot - bw / 2
        segments, acc = [], 0.0
        for col, key, *_ in CHANNELS:
            v = max(num(d[col]) or 0.0, 0.0)
            if v > 0:
                segments.append(Segment(key=key, y=sy(acc + v), height=sy(acc) - sy(acc + v)))
                acc += v
        if segments:
            chart.days.append(Day(x=x, tip=_day_tip(d, means[i]), segments=segments))
    points = [(ml + (i + 0.5) * slot, sy(m), i) for i, m in enumerate(means) if m is not None]
    chart.mean_path = _mean_path(means, ml, slot, sy)
    if chart.mean_path and n <= 31:
        chart.mean_points = [
            MeanPoint(x=px, y=py, tip=f'{fmt_date(days[i]["tanggal"])} — rata-rata 7 hari {fmt_dec(means[i])}')
            for px, py, i in points
        ]
    chart.date_labels = [
        DateLabel(x=ml + (i + 0.5) * slot, label=fmt_date(days[i]["tanggal"]))
        for i in date_tick_indices(n, max(1, int(plot_w // 95)))
    ]
    return chart


def _day_tip(day: dict, mean: float | None) -> str:
    parts = ", ".join(f"{lab} {fmt_int(day[c])}" for c, _, lab, _ in CHANNELS)
    return (
        f'{fmt_date(day["tanggal"])} — rekam baru {fmt_int(day["rekam_baru"])}: {parts}; '
        f"rata-rata 7 hari {fmt_dec(mean)}"
    )


def _mean_path(means: list[float | None], left: float, slot: float, sy: Any) -> str:
    """SVG path data of the mean line; a day without a mean lifts the pen."""
    path, pen_down = [], False
    for i, m in enumerate(means):
        if m is None:
            pen_down = False
            continue
        path.append(("L" if pen_down else "M") + fmt_coord(left + (i + 0.5) * slot) + " " + fmt_coord(sy(m)))
        pen_down = True
    return "".join(path)


# --- completeness grid ----------------------------------------------------------------------


def grid_chart(rows: list[dict], days_off: dict[Any, str | None] | None = None) -> GridChart:
    """One cell per kecamatan (rows, by code) x day (columns); a year fits at 2 px a day. ``days_off``
    (date -> holiday name, None for a weekend: mart.kalender) marks those columns' cells and labels
    as days off."""
    days_off = days_off or {}
    kecs: dict[Any, str] = {}
    for r in rows:
        kecs.setdefault(r["kode_kecamatan"], r["nama_kecamatan"] or "")
    kec_codes = sorted(kecs, key=lambda k: str(k))
    days = sorted({r["tanggal"] for r in rows}, key=lambda d: str(d))
    cell = {(r["kode_kecamatan"], r["tanggal"]): r for r in rows}
    label_w = label_width(kecs.values())
    n = len(days)
    cw = max(2.0, min(30.0, math.floor((1000 - label_w - 10) / n)))
    ch, row_gap, top, axis_h = 16, 3, 4, 76
    base = top + len(kec_codes) * (ch + row_gap)
    chart = GridChart(width=int(label_w + n * cw + 10), height=base + axis_h, name_x=label_w - 10, left=label_w,
                      cell_w=cw - (1 if cw >= 6 else 0), cell_h=ch, kecamatan=len(kec_codes), days=n,
                      label_y=base + 4, days_off=sum(1 for day in days if day in days_off))
    # what a column's cells share, once per column: x, date, the day off's class and label
    columns = [(i * cw, day, fmt_date(day), f" ({day_off_label(day, days_off[day])})" if day in days_off else None)
               for i, day in enumerate(days)]
    counts: dict[Any, str] = {}
    # a cell's class and the end of its tip (after "<date> <name>: ") depend only on its row's status
    # and counts and its column's day off: worked out once per such combination (issue 19: a
    # province year's pages are ~88,000 cells, a few dozen combinations)
    ends: dict[tuple, tuple[str | None, str]] = {}
    for j, kode in enumerate(kec_codes):
        y = top + j * (ch + row_gap)
        name = str(kecs[kode])
        head = f" {name}: "
        cells = []
        for x, day, date, off in columns:
            row = cell.get((kode, day))
            if row is None:
                key: tuple = (off,)
            else:   # with the counts' types: True and 1, or 2 and 2.0, are shown differently
                status, loaded, quarantined = row["status"], row["rows_loaded"], row["rows_quarantined"]
                key = (status, type(status), loaded, type(loaded), quarantined, type(quarantined), off)
            try:
                end = ends[key]
            except KeyError:
                end = ends[key] = _cell_end(row, off, counts)
            except TypeError:   # a value that cannot be a key: worked out for this cell alone
                end = _cell_end(row, off, counts)
            cells.append(Cell(x, end[0], date, head, end[1]))
        chart.rows.append(GridRow(name=name, y=y, text_y=y + ch - 4, cells=cells))
    step = next(s for s in (1, 2, 7, 14, 28, 56, 91, 182, 365, 10**9) if s * cw >= 14)
    chart.date_labels = [DateLabel(x=label_w + (i + 0.5) * cw + 4, label=fmt_date(days[i]), off=days[i] in days_off)
                         for i in range(0, n, step)]
    return chart


def day_off_label(day: Any, name: str | None) -> str:
    """How the page names a day off: the holiday's name, or the weekday of a weekend."""
    if name:
        return f"hari libur: {name}"
    weekday = as_date(day)
    return f"hari libur: {WEEKEND_NAMES.get(weekday.isoweekday(), 'akhir pekan') if weekday else 'akhir pekan'}"


def _cell_end(row: dict | None, off: str | None, counts: dict[Any, str]) -> tuple[str | None, str]:
    """A cell's class and the end of its tip (after its date and " NAME: "). ``off``: the day off's
    label, None for a working day; ``counts``: fmt_int of the counts seen so far (the same few values
    on every row)."""
    if row is None:
        cls, tip = UNKNOWN_STATUS[0], UNKNOWN_STATUS[1]
    else:
        status = row["status"]
        cls, lab = STATUSES.get(status, UNKNOWN_STATUS)[:2]
        tip = lab if status in STATUSES else str(status)
        loaded, quarantined = row["rows_loaded"], row["rows_quarantined"]
        if status != "missing" and (loaded is not None or quarantined is not None):
            tip += f", {_counted(loaded, counts)} baris, {_counted(quarantined, counts)} karantina"
    if off is not None:
        return (OFF_CLASS if cls == LOADED_CLASS else f"{cls} {OFF_CLASS}"), tip + off
    return (None if cls == LOADED_CLASS else cls), tip


def _counted(value: Any, counts: dict[Any, str]) -> str:
    exact = type(value) is int         # not a bool (True == 1, but fmt_int shows it as missing)
    shown = counts.get(value) if exact else None
    if shown is None:
        shown = fmt_int(value)
        if exact:
            counts[value] = shown
    return shown


# --- scales ---------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1/2/5 x 10^k, integer steps) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step = max(step, 1)
    start = math.floor(lo / step) * step
    end = math.ceil(hi / step) * step
    count = int(round((end - start) / step))
    return [start + i * step for i in range(count + 1)]


def label_width(names: Iterable[str], px_per_char: float = 6.8, lo: int = 90, hi: int = 260) -> int:
    """Room for the longest name left of a chart, in SVG units."""
    longest = max((len(n) for n in names), default=0)
    return int(min(max(longest * px_per_char + 18, lo), hi))


def date_tick_indices(n: int, max_labels: int) -> list[int]:
    """Evenly spaced label positions (always the first, and the last when it fits)."""
    if n <= max_labels:
        return list(range(n))
    step = math.ceil(n / max_labels)
    idx = list(range(0, n, step))
    if n - 1 - idx[-1] >= step * 0.6:
        idx.append(n - 1)
    return idx
