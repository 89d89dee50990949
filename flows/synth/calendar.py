"""Volume knobs, dates as numpy datetime64[D], the office calendar and weighted draws (shared by every part).

In: numpy arrays or dates. Out: arrays or flags. Nothing here draws except ``_choice`` (from the
generator it is given); nothing fails on valid input.
"""

from __future__ import annotations

from datetime import date

import numpy as np

DEFAULT_WAJIB = 270_764        # published wajib KTP of OKU Selatan (reference README)


DEFAULT_COVERAGE = 0.77        # share recorded at the snapshot when not calibrating


WEEKDAY_MEAN = 300             # recordings on an ordinary weekday, whole regency


WEEKDAY_FACTOR = (1.28, 1.22, 1.02, 0.98, 0.70, 0.10, 0.02)  # Monday .. Sunday


DIRT_RATE = 0.03               # share of rows that break one row rule


DUPLICATE_RATE = 0.004         # share of clean rows repeated verbatim later in their file


REPEAT_BARU_RATE = 0.006       # share of a day's rows that are persons recorded BARU on an earlier day


ULANG_RATE = 0.05


KEC_DEVICES = (3, 3, 3, 2, 2, 2, 2, 2, 2)  # devices of the kecamatan offices, largest first; the others have 1


REQUEST_RATE = 0.8             # village letters registered on an office day, whole regency (a few a week)


REQUEST_WAIT = 0.2             # share of letters no visit is planned for (they wait)


REQUEST_DIRT = 0.2             # bad request rows per good one (with dirt; at least one when there is a request)


# National holidays (fixed dates every year, movable ones for 2025): offices closed.
FIXED_HOLIDAYS = {(1, 1), (5, 1), (6, 1), (8, 17), (12, 25)}


HOLIDAYS_2025 = {date(2025, 1, 27), date(2025, 1, 29), date(2025, 3, 28), date(2025, 3, 31), date(2025, 4, 1),
                 date(2025, 4, 2), date(2025, 4, 18), date(2025, 5, 12), date(2025, 5, 29), date(2025, 6, 6),
                 date(2025, 6, 27), date(2025, 9, 5)}


def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of datetime64[D] values (integer civil-calendar arithmetic: fast for millions)."""
    z = d.astype("datetime64[D]").astype(np.int64) + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _from_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """datetime64[D] from year, month, day (valid dates only)."""
    y = np.asarray(y, dtype=np.int64) - (np.asarray(m) <= 2)
    m = np.asarray(m, dtype=np.int64)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + np.asarray(d, dtype=np.int64) - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146_097 + doe - 719_468).astype("datetime64[D]")


def exact_age(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years at ``at``: the pipeline's definition (minus one before the birthday)."""
    by, bm, bd = _ymd(birth)
    ay, am, ad = _ymd(at)
    return ay - by - ((am * 100 + ad) < (bm * 100 + bd)).astype(np.int64)


def days_to_birthday(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Days between ``at`` and the nearest anniversary of ``birth`` (births are never 29 February)."""
    _, bm, bd = _ymd(birth)
    ay, _, _ = _ymd(at)
    best = np.full(len(birth), 10_000, dtype=np.int64)
    for dy in (-1, 0, 1):
        anniv = _from_ymd(ay + dy, bm, bd)
        best = np.minimum(best, np.abs((at - anniv).astype(np.int64)))
    return best


def _closed(day: date) -> bool:
    """Offices closed: a weekend or a national holiday."""
    return day.weekday() >= 5 or (day.month, day.day) in FIXED_HOLIDAYS or day in HOLIDAYS_2025


def _school_break(day: date) -> bool:
    """School holidays (no school visits): 20 December - 5 January, 21 June - 13 July."""
    md = (day.month, day.day)
    return md >= (12, 20) or md <= (1, 5) or (6, 21) <= md <= (7, 13)


def _trend(day: date) -> float:
    """The gentle upward trend of the volume: 1.0 on 2025-01-01, +0.15 % a day, within 0.6..1.6."""
    return float(np.clip(1.0 + 0.0015 * (day - date(2025, 1, 1)).days, 0.6, 1.6))


def _choice(rng: np.random.Generator, n: int, cum: np.ndarray) -> np.ndarray:
    """``n`` indices drawn with the cumulative weights ``cum`` (need not end at 1)."""
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1)
