"""Expected failures: conditions a user can fix, reported as one sentence without a traceback."""


class UserError(Exception):
    """An expected failure (missing data directory, locked warehouse, bad argument, missing key).

    The CLI prints ``str(exc)`` on one line to stderr and exits non-zero; no traceback.
    """


class WarehouseLocked(UserError):
    """Another process holds the warehouse writer lock."""


class PipelineCheckFailed(Exception):
    """A mart invariant that can only break through a bug failed: the run must not publish."""
