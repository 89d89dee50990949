"""The run summary: what one run did and what the area stands at, as one typed value.

Built once, at the end of a run (``flows.orchestration.run.finish_run``, which the flows in flows/orchestration/pipeline.py
hand every fact it needs), returned by the flows, and rendered from the same object by the
terminal (``flows.outputs.summary.run_lines``), the Prefect artifact (``flows.outputs.artifact.run_markdown``) and
the report page (``flows.outputs.report.write_report``). Counts, codes and names of regions and desa only:
no NIK, no name of a person, no key. ``to_dict()`` gives the plain form (JSON-friendly values, the
keys of the run summary of version 2 in their order) that the report's run section lists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import duckdb


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
    """What to do next at the marts' last date (``flows.orchestration.run.outreach``): rows of the outreach marts
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
    """The kecamatan's feedback files after the run (``flows.outputs.feedback.write_feedback``)."""
    written: int
    removed: int
    files: list[str]    # KODE_KECAMATAN/YYYY-MM-DD.csv, relative to folder
    folder: str


@dataclass(frozen=True)
class RunSummary:
    """One run. ``flows.orchestration.run.finish_run`` sets every field; the defaults (nothing happened) are for
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


# --- read from the marts (the area's backlog, the kab/kota lines, what to do next) -------------------

def regency_backlog(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> Backlog | None:
    """The area's backlog (mart.backlog_wilayah: the sum of its kab/kota; the regency's when the
    area is one kab/kota) at ``as_of``, or at its latest date; None when the mart has no row there."""
    row = con.execute("""
        select as_of_date, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam from mart.backlog_wilayah
        where as_of_date = coalesce(?::date, (select max(as_of_date) from mart.backlog_wilayah))""",
                      [as_of]).fetchall()
    if not row:
        return None
    as_of_date, wajib, sudah, belum, pct = row[0]
    return Backlog(as_of_date.isoformat(), int(wajib), int(sudah), int(belum), pct)


def kabupaten_lines(con: duckdb.DuckDBPyConnection, as_of: date | str | None = None) -> list[KabupatenLine]:
    """One line per kab/kota of ``mart.backlog_kabupaten`` at ``as_of`` (default: its latest date),
    by code, when the marts hold more than one kab/kota; [] for a single one (its line is the area's)."""
    got = con.execute("""
        select kode_kabupaten, nama_kabupaten, as_of_date, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
        from mart.backlog_kabupaten
        where as_of_date = coalesce(?::date, (select max(as_of_date) from mart.backlog_kabupaten))
        order by kode_kabupaten""", [as_of]).fetchall()
    if len(got) < 2:
        return []
    return [KabupatenLine(kode, nama, Backlog(d.isoformat(), int(w), int(s), int(b), pct))
            for kode, nama, d, w, s, b, pct in got]


def _dicts(cur) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(names, row)} for row in cur.fetchall()]


def outreach(con: duckdb.DuckDBPyConnection, top: int = 5) -> Outreach:
    """What to do next, at the latest date of the marts (contract section 9), in short: the desa
    to visit first, the requests waiting longest, the kecamatan whose device seems broken, the
    silent devices, and the thresholds of both (mart.ambang_batas, their one definition). Plain
    values (no personal data) for the artifact and summaries."""
    priority = _dicts(con.execute("""
        select as_of_date, peringkat, nama_kecamatan, kode_desa, nama_desa, belum_rekam, alasan from mart.outreach_priority
        where as_of_date = (select max(as_of_date) from mart.outreach_priority) and peringkat <= ?
        order by peringkat, kode_kabupaten""", [top]))
    waiting = _dicts(con.execute("""
        select tanggal_daftar, kode_desa, nama_desa, hari_menunggu from mart.outreach_requests
        where tanggal_dilayani is null order by hari_menunggu desc, tanggal_daftar, kode_desa limit ?""", [top]))
    flagged = _dicts(con.execute("""
        select as_of_date, kode_kecamatan, nama_kecamatan, rekam_kecamatan_terakhir, hari_kerja_tanpa_rekam
        from mart.kecamatan_service where diduga_alat_rusak
          and as_of_date = (select max(as_of_date) from mart.kecamatan_service) order by kode_kecamatan"""))
    silent = _dicts(con.execute("""
        select id_alat, kode_kecamatan, terakhir_aktif, hari_diam from mart.device_activity
        where diam and as_of_date = (select max(as_of_date) from mart.device_activity)
        order by hari_diam desc, id_alat"""))
    open_count = con.execute("select count(*) from mart.outreach_requests where tanggal_dilayani is null").fetchall()[0][0]
    ambang = _dicts(con.execute("select hari_kerja_alat_rusak, hari_diam_alat from mart.ambang_batas"))
    return Outreach(priority=priority, open_requests=int(open_count), waiting=waiting, flagged=flagged, silent=silent,
                    ambang=ambang[0] if ambang else {})


def at_least(outreach_: Outreach, threshold: str) -> str:
    """"N or more" for a threshold of ``outreach_.ambang`` (e.g. ``hari_diam_alat``), as the
    artifact and summaries say it; "the threshold or more" when it is not known."""
    value = outreach_.threshold(threshold)
    return f"{value:,} or more" if value is not None else "the threshold or more"
