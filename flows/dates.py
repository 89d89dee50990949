"""Dates as the contract writes them (``YYYY-MM-DD``), and date ranges: one place for each rule.

The dates given to a run (``--date``, ``--start``, ``--end`` on the command line; ``run_date``,
``start``, ``end`` of a flow run started from Prefect) lie between ``EARLIEST_RUN_DATE`` and
tomorrow in the pipeline's timezone (``check_run_dates``); both paths call it before any work.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from flows.errors import UserError

# A real-looking calendar date: month 01-12, day 01-31. Used as the Prefect parameters' schema
# `pattern`; a date that fits it but does not exist (2025-02-30) is refused by parse_iso_date.
DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def parse_iso_date(text: object) -> date | None:
    """``YYYY-MM-DD`` as a real calendar date, else None (Python's fromisoformat alone would also
    take ``20250101`` and ``2025-W01-1``)."""
    if not isinstance(text, str) or not re.fullmatch(DATE_PATTERN, text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# The earliest date a run covers (contract section 3): the e-KTP programme began in 2011.
EARLIEST_RUN_DATE = date(2011, 1, 1)


def latest_run_date(tz: tzinfo) -> date:
    """Tomorrow in ``tz`` (a device clock a few hours ahead may date a log tomorrow), computed when called."""
    return datetime.now(tz).date() + timedelta(days=1)


def check_run_dates(named: dict[str, date | None], tz: tzinfo) -> None:
    """One line (UserError) naming the first date of ``named`` (name -> date; None is skipped)
    outside EARLIEST_RUN_DATE .. tomorrow in ``tz``, e.g. ``check_run_dates({"--date": day}, tz)``."""
    latest = latest_run_date(tz)
    for name, day in named.items():
        if day is None:
            continue
        if day < EARLIEST_RUN_DATE:
            raise UserError(f"{name} {day.isoformat()} is before {EARLIEST_RUN_DATE.isoformat()}: "
                            f"a run covers dates from {EARLIEST_RUN_DATE.isoformat()} to tomorrow ({latest.isoformat()}).")
        if day > latest:
            raise UserError(f"{name} {day.isoformat()} is after tomorrow ({latest.isoformat()} in {tz}): "
                            f"a run covers dates from {EARLIEST_RUN_DATE.isoformat()} to tomorrow.")


def check_range(start: date, end: date, start_name: str = "start", end_name: str = "end") -> None:
    """One line (UserError) when a range ends before it starts."""
    if end < start:
        raise UserError(f"{end_name} {end} is before {start_name} {start}.")


def days(start: date, end: date) -> list[date]:
    """Every date from start to end, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def now_utc() -> datetime:
    """Now, in UTC (what audit tables record)."""
    return datetime.now(UTC)
