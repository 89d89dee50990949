"""Working days (contract section 10): the national days off of Indonesia, from the pinned
``holidays`` package (python-holidays), never from a list kept by hand and never downloaded.

A day off is a national public holiday (the package's ``public`` category) or a collective leave
day, cuti bersama (its ``government`` category: the joint decree of the three ministers), with
its name in Indonesian (``language='id'``). Regional holidays are not counted (the package is
asked for the country, no subdivision).

A year is *known* when the package lists that year's collective leave days: its decree is in the
package. For a year that is not known (before 2002, or after the last decree the pinned version
has: 2027 for holidays 0.109) no day off is written at all: only Saturdays and Sundays are off
there (the rule before the calendar), and mart.kalender says ``kalender_dikenal = false``. A
half-known year (public holidays guessed from an estimated Islamic calendar, no decree) would
mislead more than it helps. In a known year an Islamic holiday the package still estimates keeps
its package name, ``... (perkiraan)``.

The SQL models read the days off from two tables the model runner writes before it builds
sql/order.txt (``write_days_off``, called by flows.warehouse.database.build_models):
``core.hari_libur(tanggal, keterangan, jenis)`` and ``core.kalender_tahun(tahun, dikenal)``,
both for the years of the marts' range (the loaded logs' dates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import duckdb
import holidays
from holidays.constants import GOVERNMENT, PUBLIC

COUNTRY = "ID"
LANGUAGE = "id"
PUBLIC_HOLIDAY = "libur nasional"  # jenis of a national public holiday
COLLECTIVE_LEAVE = "cuti bersama"  # jenis of a collective leave day


@dataclass(frozen=True)
class DayOff:
    """One national day off: its date, its name in Indonesian, and its kind (PUBLIC_HOLIDAY or COLLECTIVE_LEAVE)."""

    tanggal: date
    keterangan: str
    jenis: str


def package_version() -> str:
    """The version of the holiday package (part of the warehouse's build key: a new calendar rebuilds the marts)."""
    return holidays.__version__


@lru_cache(maxsize=64)
def _year(year: int) -> tuple[DayOff, ...]:
    public = holidays.country_holidays(COUNTRY, years=year, language=LANGUAGE, categories=(PUBLIC,))
    leave = holidays.country_holidays(COUNTRY, years=year, language=LANGUAGE, categories=(GOVERNMENT,))
    if not leave:  # the year's decree is not in the package: the year is not known
        return ()
    days = {d: DayOff(d, name, PUBLIC_HOLIDAY) for d, name in public.items()}
    for d, name in leave.items():  # a leave day on a public holiday stays the public holiday, both named
        days[d] = DayOff(d, f"{days[d].keterangan}; {name}", PUBLIC_HOLIDAY) if d in days else DayOff(d, name, COLLECTIVE_LEAVE)
    return tuple(sorted(days.values(), key=lambda x: x.tanggal))


def known_year(year: int) -> bool:
    """Whether the package has the year's calendar (its collective leave days, hence its decree)."""
    return bool(_year(year))


def days_off(start: date, end: date) -> list[DayOff]:
    """The national days off from ``start`` to ``end`` (both included), by date; none in a year
    that is not known (see the module's docstring). Weekends are not listed: they are off by rule."""
    if end < start:
        return []
    return [d for y in range(start.year, end.year + 1) for d in _year(y) if start <= d.tanggal <= end]


def write_days_off(con: duckdb.DuckDBPyConnection, start: date | None, end: date | None) -> int:
    """(Re)create ``core.hari_libur`` (the days off of the years ``start.year`` .. ``end.year``)
    and ``core.kalender_tahun`` (those years, known or not) on ``con``, in the caller's
    transaction. No range (no loaded log): both empty. Returns the number of days off written."""
    con.execute("create schema if not exists core")
    con.execute("create or replace table core.hari_libur (tanggal date primary key, keterangan varchar not null, "
                "jenis varchar not null)")
    con.execute("create or replace table core.kalender_tahun (tahun integer primary key, dikenal boolean not null)")
    if start is None or end is None or end < start:
        return 0
    rows = days_off(date(start.year, 1, 1), date(end.year, 12, 31))
    if rows:
        con.executemany("insert into core.hari_libur values (?, ?, ?)", [(d.tanggal, d.keterangan, d.jenis) for d in rows])
    con.executemany("insert into core.kalender_tahun values (?, ?)",
                    [(y, known_year(y)) for y in range(start.year, end.year + 1)])
    return len(rows)
