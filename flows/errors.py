"""Expected failures: conditions a user can fix, reported as one sentence without a traceback;
unexpected ones, redacted before they are logged."""

from __future__ import annotations

import re


class UserError(Exception):
    """An expected failure (missing data directory, locked warehouse, bad argument, missing key).

    The CLI prints ``str(exc)`` on one line to stderr and exits non-zero; no traceback.
    """


class WarehouseLocked(UserError):
    """Another process holds the warehouse writer lock."""


class PipelineCheckFailed(Exception):
    """A mart invariant that can only break through a bug failed: the run must not publish."""


# Unexpected failures come from libraries (Polars, DuckDB, pandas, GX), whose messages may quote
# the value they choked on: a NIK, a name. Before such an exception leaves a pipeline task or
# flow (where Prefect logs it, stores it as the run's state message and sends it to the API, and
# from where it reaches audit.runs.message and the console), its text is redacted in place:
# quoted values become '…' (quoted paths are kept: they name files, not people), a quote left
# open at the end of a line is cut, and runs of 14 or more digits (a NIK, with or without lost
# zeros) become <digits>. The traceback's frames are kept, so the failure can still be found.
# A quote opens where no letter or digit precedes it and closes where none follows, so the
# apostrophe of "can't" or "Ma'ruf" neither opens nor closes one.
_QUOTED = re.compile(r"(?<!\w)(['\"`])(?:(?!\1)[^\n]|\1(?=\w)){0,300}\1(?!\w)")
_UNCLOSED = re.compile(r"(?<!\w)['\"`][^\x00\n]*$", re.M)   # cut off at a line end ("LINE 1: ... 'Budi S...")
_LONG_DIGITS = re.compile(r"\d{14,}")


def redact(text: str) -> str:
    """Text safe to log: no quoted value (a quoted path is kept), no NIK-length digit run."""
    kept: list[str] = []

    def hide(m: re.Match) -> str:
        kept.append(m.group(0) if "/" in m.group(0) else "'…'")
        return "\x00"

    out = _UNCLOSED.sub("'…", _QUOTED.sub(hide, text.replace("\x00", "")))
    out = re.sub("\x00", lambda _: kept.pop(0), out)
    return _LONG_DIGITS.sub("<digits>", out)


def scrub(exc: BaseException) -> BaseException:
    """Redact the string arguments of exc and of every exception chained to it, in place."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if not isinstance(cur, UserError):          # our own sentences carry no row values
            try:
                cur.args = tuple(redact(a) if isinstance(a, str) else a for a in cur.args)
            except (AttributeError, TypeError):
                pass
            notes = getattr(cur, "__notes__", None)
            if notes:
                cur.__notes__ = [redact(n) if isinstance(n, str) else n for n in notes]
        cur = cur.__cause__ or cur.__context__
    return exc
