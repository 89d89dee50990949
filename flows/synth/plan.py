"""Everything decided before the first day: the regions, short outages, files rejected whole, one seed per day, the outreach.

In: the checked arguments of ``generate``. Out: a frozen ``_Plan``. Fails: UserError for a range that
ends before it starts, ValueError for a negative ``rows_per_day`` or a seed numpy refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from flows.dates import check_range
from flows.dates import days as log_dates
from flows.reference.wilayah import DEFAULT_AREA
from flows.synth.calendar import _closed
from flows.synth.outreach import _Outreach, _outreach
from flows.synth.regions import _Regions


@dataclass(frozen=True)
class _Plan:
    """The arguments of ``generate`` and what follows from them before the first day."""
    seed: int
    start: date
    end: date
    rows_per_day: int | None
    calibrate_to: tuple[int, int] | None
    dirt: bool
    reg: _Regions              # the region list and its stable per-desa draws
    days: list[date]           # the log dates, start..end
    outage: np.ndarray         # days x kecamatan: True where the kecamatan's device is broken
    defects: dict              # (day index, kecamatan index) -> (reason code, how): logs rejected whole
    day_seeds: list            # one numpy SeedSequence per day
    outreach: _Outreach        # long device breakdowns, village requests, planned jemput-bola visits
    area: tuple[str, ...] = DEFAULT_AREA  # the area written for (flows.reference.wilayah)

    @property
    def snapshot_date(self) -> date:
        """The snapshot's cut-off: the day before the first log date."""
        return self.start - timedelta(days=1)


def _check_arguments(start: date, end: date, rows_per_day: int | None) -> None:
    """Fails with UserError when end is before start, ValueError for a negative ``rows_per_day``."""
    check_range(start, end)
    if rows_per_day is not None and rows_per_day < 0:
        raise ValueError("rows_per_day must not be negative")


def _plan(start: date, end: date, seed: int, rows_per_day: int | None, calibrate_to: tuple[int, int] | None,
          dirt: bool, area: tuple[str, ...] = DEFAULT_AREA) -> _Plan:
    """In: the checked arguments of ``generate``. Out: the plan. Every draw comes from a child of
    ``SeedSequence(seed)``: the first draws the regions (so they depend on the seed alone), the second
    the broken devices, then the rejected files (with dirt), the third spawns one seed per day, the
    fourth draws the outreach (long breakdowns, requests, visits).
    Fails: ValueError from numpy for a seed it refuses (negative)."""
    root = np.random.SeedSequence(seed)
    s_regions, s_plan, s_days, s_outreach = root.spawn(4)
    reg = _Regions(np.random.default_rng(s_regions), area)
    days = log_dates(start, end)
    plan_rng = np.random.default_rng(s_plan)
    realistic = rows_per_day is None
    outage = _outages(plan_rng, reg, days, realistic=realistic)
    defects = _defects(plan_rng, reg, days, outage) if dirt else {}
    outreach = _outreach(np.random.default_rng(s_outreach), reg, days, outage, defects, realistic, dirt)
    return _Plan(seed, start, end, rows_per_day, calibrate_to, dirt, reg, days, outage, defects,
                 s_days.spawn(len(days)), outreach, area)


def _outages(rng: np.random.Generator, reg: _Regions, days: list[date], realistic: bool) -> np.ndarray:
    """days x kecamatan: True where the kecamatan's device is broken (spells of 1-6 days)."""
    nk = len(reg.kec)
    out = np.zeros((len(days), nk), dtype=bool)
    if not realistic:
        return out
    p = np.full(nk, 0.006)
    p[reg.fragile] = 0.035
    p[reg.capitals] = 0.0  # the Disdukcapil office never stops
    for i in range(len(days) + 6):  # spells may start before the window
        starts = rng.random(nk) < p
        length = rng.integers(1, 7, nk)
        for k in np.flatnonzero(starts):
            lo, hi = i - 6, i - 6 + length[k]
            out[max(lo, 0):max(min(hi, len(days)), 0), k] = True
    return out


def _defects(rng: np.random.Generator, reg: _Regions, days: list[date], outage: np.ndarray) -> dict:
    """(day index, kecamatan index) -> (reason code, how): a handful of files rejected whole."""
    nk = len(reg.kec)
    per_kind = max(1, round(len(days) / 30 * reg.volume))
    slots = [(i, k) for i, d in enumerate(days) if not _closed(d) for k in range(nk) if not outage[i, k]]
    if not slots:
        return {}
    chosen = rng.permutation(len(slots))
    out: dict = {}
    kinds = [("empty_file", j) for j in range(per_kind)] + [("missing_columns", j) for j in range(per_kind)] + \
            [("unknown_kecamatan", j) for j in range(per_kind)]
    for (kind, j), pos in zip(kinds, chosen):
        out[slots[pos]] = (kind, j)
    # one log saved under a folder that is not a date: the day typed backwards (03 -> 30)
    feb = [(i, d) for i, d in enumerate(days) if d.month == 2 and not _closed(d)]
    bad = [(i, d) for i, d in feb if _not_a_date(f"{d.year}-02-" + f"{d.day:02d}"[::-1])]
    if feb:
        i, d = bad[int(rng.integers(0, len(bad)))] if bad else feb[0]
        free = [k for k in range(1, nk) if not outage[i, k] and (i, k) not in out]
        folder = f"{d.year}-02-" + f"{d.day:02d}"[::-1] if bad else "februari"
        if free:
            out[(i, free[int(rng.integers(0, len(free)))])] = ("folder_not_a_date", folder)
    return out


def _not_a_date(text: str) -> bool:
    """True when ``text`` is not an ISO date (``2025-02-30``)."""
    try:
        date.fromisoformat(text)
        return False
    except ValueError:
        return True
