"""Failures: expected ones are one sentence for the user; unexpected ones reach Prefect, the run
record and artifacts only as a stage, an exception type and a fixed message.

A library error (DuckDB, Polars, pandas, Great Expectations) may quote the value it failed on: a
NIK, a name, a file name. Redacting such text is guesswork, so none of it leaves the process:
``contained(stage)`` replaces any unexpected exception with ``StageFailed`` (stage + type, fixed
text, no chained cause) before Prefect logs it, stores it as a state message or sends it to the API,
and keeps the original in this process only, for the operator's terminal (``ektp -v``).
"""

from __future__ import annotations

import functools
import traceback


class UserError(Exception):
    """An expected failure (missing data directory, locked warehouse, bad argument, missing key).

    The CLI prints ``str(exc)`` on one line to stderr and exits non-zero; no traceback. The text
    is ours: it never holds a value from a raw file.
    """


class WarehouseLocked(UserError):
    """Another process holds the warehouse writer lock."""


class PipelineCheckFailed(Exception):
    """A mart invariant that can only break through a bug failed: the run must not publish.
    The text names checks and counts only."""


class StageFailed(Exception):
    """An unexpected failure, as the outside world sees it: the stage and the exception type."""

    def __init__(self, stage: str, type_name: str):
        super().__init__(f"stage {stage} failed with {type_name}; the details are shown only on the "
                         "operator's terminal (run the command again with -v)")
        self.stage = stage
        self.type_name = type_name

    def __reduce__(self):      # picklable (a Dask worker sends it back to the writer)
        return (StageFailed, (self.stage, self.type_name))


_ORIGINALS: list[BaseException] = []   # this process's contained failures, oldest first


def originals() -> list[BaseException]:
    """The unexpected exceptions contained in this process (for ``ektp -v`` only)."""
    return list(_ORIGINALS)


def original_text() -> str:
    """Full tracebacks of the contained failures, for the operator's terminal."""
    return "".join("".join(traceback.format_exception(e)) for e in _ORIGINALS)


def contain_exception(stage: str, exc: BaseException) -> BaseException:
    """The exception to let out of ``stage``: ours unchanged, anything else as StageFailed."""
    if isinstance(exc, (UserError, PipelineCheckFailed, StageFailed, KeyboardInterrupt, SystemExit, GeneratorExit)):
        return exc
    _ORIGINALS.append(exc)
    return StageFailed(stage, type(exc).__name__)


def contained(stage: str):
    """Decorator: run fn; an unexpected exception leaves it as StageFailed(stage, type)."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                out = contain_exception(stage, exc)
                if out is exc:
                    raise
            # raised outside the except block: no __context__ leads back to the original
            raise out
        return wrapper
    return deco


def storage_error(exc: BaseException) -> str | None:
    """One line for a full disk or a read-only warehouse (anywhere in the exception chain), else None.

    Every batch is one transaction and publishing is a rename, so after either failure the
    warehouse and the analysts' copy are as before the failed step; the next run redoes it."""
    import errno

    seen = 0
    while exc is not None and seen < 20:
        text = str(exc)
        code = getattr(exc, "errno", None)
        if code == errno.ENOSPC or "No space left on device" in text:
            return ("the disk is full (No space left on device); nothing was lost: free some space "
                    "and run again (the warehouse is as before the failed step).")
        if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "Read-only file system" in text:
            return ("the warehouse cannot be written (read-only file system or no permission); nothing was lost: "
                    "make the data directory writable and run again.")
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
