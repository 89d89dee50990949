"""Indonesian formatting of the page's numbers and dates: 270.764, 78,88%, 12,3, YYYY-MM-DD.

Every function takes whatever a mart or the run summary holds (int, float, Decimal, date, None,
...) and returns plain text; a missing or non-numeric value reads as an em dash.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

MISSING = "—"


def num(value: Any) -> float | None:
    """A finite-or-infinite float for a number (bool excluded); None for anything else or NaN."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        f = float(value)
        return None if math.isnan(f) else f
    return None


def fmt_int(value: Any) -> str:
    """270764 -> '270.764'; None -> '—'."""
    f = num(value)
    if f is None:
        return MISSING
    return f"{round(f):,}".replace(",", ".")


def fmt_signed(value: Any) -> str:
    """-321 -> '-321', 5 -> '+5', 0 -> '0'."""
    f = num(value)
    if f is None:
        return MISSING
    return ("+" if f > 0 else "") + fmt_int(f)


def fmt_dec(value: Any, places: int = 1) -> str:
    """12.345 -> '12,3' (Indonesian decimal comma, '.' thousands)."""
    f = num(value)
    if f is None:
        return MISSING
    return f"{f:,.{places}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def fmt_pct(value: Any) -> str:
    """78.88 -> '78,88%'; None -> '—'."""
    f = num(value)
    return MISSING if f is None else fmt_dec(f, 2) + "%"


def fmt_date(value: Any) -> str:
    """A date or datetime as YYYY-MM-DD; None -> '—'; anything else as it is."""
    if value is None:
        return MISSING
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


def as_date(value: Any) -> dt.date | None:
    """A date from a date, a datetime or an ISO string; None when it is none of them."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def fmt_coord(x: float) -> str:
    """A compact SVG coordinate: one decimal at most (12.0 -> '12', 12.25 -> '12.2')."""
    return f"{x:.1f}".removesuffix(".0")


def fmt_value(value: Any) -> str:
    """A scalar of the run summary: whole numbers as fmt_int, others with 2 decimals, dates ISO."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        f = float(value)
        if not math.isfinite(f):
            return str(value)
        return fmt_int(f) if f == int(f) else fmt_dec(f, 2)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
