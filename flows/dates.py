"""Dates as the contract writes them (``YYYY-MM-DD``), and date ranges: one place for each rule."""

from __future__ import annotations

import re
from datetime import date, timedelta

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


def check_range(start: date, end: date, start_name: str = "start", end_name: str = "end") -> None:
    """One line (UserError) when a range ends before it starts."""
    if end < start:
        raise UserError(f"{end_name} {end} is before {start_name} {start}.")


def days(start: date, end: date) -> list[date]:
    """Every date from start to end, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
