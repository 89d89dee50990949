"""The run summary: what one run did and what the area stands at, as one typed value.

Built once, at the end of a run (``flows.run.finish_run``, which the flows in flows/pipeline.py
hand every fact it needs), returned by the flows, and rendered from the same object by the
terminal (``flows.summary.run_lines``), the Prefect artifact (``flows.artifact.run_markdown``) and
the report page (``flows.report.write_report``). Counts, codes and names of regions and desa only:
no NIK, no name of a person, no key. ``to_dict()`` gives the plain form (JSON-friendly values, the
keys of the run summary of version 2 in their order) that the report's run section lists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Backlog:
    """A backlog at one date (``mart.backlog_wilayah`` for the area, ``mart.backlog_kabupaten``
    for a kab/kota); the percentage comes from the summed counts (contract section 7)."""
    as_of_date: str
    wajib_ktp: int
    sudah_rekam: int
    belum_rekam: int
    pct_rekam: float | None


@dataclass(frozen=True)
class KabupatenLine:
    """One kab/kota of the area at the area's last date (``mart.backlog_kabupaten``)."""
    kode_kabupaten: str
    nama_kabupaten: str
    backlog: Backlog


@dataclass(frozen=True)
class RejectedFile:
    source_file: str    # under raw/, `/`-separated; a name that is not a landing name is hashed
    error: str          # the reason code, then its detail


@dataclass(frozen=True)
class Outreach:
    """What to do next at the marts' last date (``flows.run.outreach``): rows of the outreach marts
    as plain dicts (dates as ISO text), and the thresholds of ``mart.ambang_batas``."""
    priority: list[dict] = field(default_factory=list)
    open_requests: int = 0
    waiting: list[dict] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)
    silent: list[dict] = field(default_factory=list)
    ambang: dict = field(default_factory=dict)

    def threshold(self, name: str) -> int | None:
        """A threshold of ``mart.ambang_batas`` (``hari_diam_alat``, ``hari_kerja_alat_rusak``); None if unknown."""
        value = self.ambang.get(name)
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class Feedback:
    """The kecamatan's feedback files after the run (``flows.feedback.write_feedback``)."""
    written: int
    removed: int
    files: list[str]    # KODE_KECAMATAN/YYYY-MM-DD.csv, relative to folder
    folder: str


@dataclass(frozen=True)
class RunSummary:
    """One run. ``flows.run.finish_run`` sets every field; the defaults (nothing happened) are for
    summaries written by hand, e.g. in tests."""
    run_id: str
    last_date: str
    files_loaded: int = 0
    files_rejected: int = 0
    files_replaced: int = 0
    files_unchanged: int = 0
    files_later: int = 0
    rows_loaded: int = 0
    requests_loaded: int = 0
    rows_quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    quarantine_by_kecamatan: dict[str, int] = field(default_factory=dict)
    rejected_files: list[RejectedFile] = field(default_factory=list)
    missing_logs_on_last_date: list[str] = field(default_factory=list)
    backlog: Backlog | None = None          # the area's total (the regency's for one kab/kota)
    backlog_change: int | None = None       # belum rekam since the previous completed run
    kabupaten: list[KabupatenLine] = field(default_factory=list)  # one per kab/kota when the area has several, else none
    data_problems: dict[str, int] = field(default_factory=dict)
    upgrade: dict[str, int] = field(default_factory=dict)
    outreach: Outreach = field(default_factory=Outreach)
    key_warning: str | None = None
    feedback: Feedback | None = None
    report: str | None = None               # the report page's path

    def to_dict(self) -> dict[str, Any]:
        """The plain form: nested dicts and lists; ``kabupaten`` only when the area has several."""
        out = asdict(self)
        if not self.kabupaten:
            del out["kabupaten"]
        return out
