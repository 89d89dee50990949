"""What the page needs, read from an open DuckDB connection (the analysts' copy, or the writer).

`load_report_data(con)` reads eleven marts: `mart.backlog_wilayah` (the area's headline: the
regency's for one kab/kota; and its change since the previous date), `mart.backlog_kecamatan`, `mart.participation_trend`,
`mart.log_completeness`, `mart.backlog`, the outreach marts of contract section 9
(`mart.outreach_priority`, `mart.outreach_requests`, `mart.kecamatan_service`,
`mart.device_activity`), each at its own latest date except the trend, the grid (every date)
and the requests (no date: each request as it stands), `mart.kalender` (the days off the grid
shows as such) and `mart.ambang_batas` (the thresholds the page states: it never restates a
number of days). With a ``kode_kabupaten`` it reads only that kab/kota's rows (its own page,
``report/KODE.html``); without one, the area's, and ``load_kabupaten_rows`` gives the area
page's table of its kab/kota (mart.backlog_kabupaten, with the kecamatan of mart.kecamatan_service
suspected of a broken device and the open requests of each). An absent mart counts as empty; a
mart that lacks a column of the contract (or one the page reads, such as
`mart.device_activity.diam`) is an error (ValueError). Nothing here formats or draws.

`feedback_in_folder(folder)` lists the kecamatan's feedback files (`KODE/YYYY-MM-DD.csv`) found in
a folder, for a page written without a run summary.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

# The five recording places, in stacking order: (mart column, css key, label id, label en).
CHANNELS: tuple[tuple[str, str, str, str], ...] = (
    ("rekam_dinas", "dinas", "Dinas (Muaradua)", "Disdukcapil office"),
    ("rekam_kecamatan", "kec", "Kantor kecamatan", "sub-district office"),
    ("rekam_jemput_bola", "jb", "Jemput bola", "outreach visit"),
    ("rekam_sekolah", "sek", "Sekolah", "school"),
    ("rekam_lainnya", "lain", "Lainnya", "other"),
)

# Completeness status of mart.log_completeness: (css class, label id, label en).
STATUSES: dict[str, tuple[str, str, str]] = {
    "loaded": ("l", "dimuat", "loaded"),
    "rejected": ("r", "ditolak", "rejected"),
    "missing": ("m", "tidak ada file", "missing"),
}
UNKNOWN_STATUS = ("u", "tanpa baris", "no row")

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "backlog_wilayah": ("as_of_date", "wajib_ktp", "sudah_rekam", "belum_rekam", "pct_rekam"),
    "backlog_kecamatan": (
        "as_of_date", "kode_kecamatan", "nama_kecamatan", "wajib_ktp", "sudah_rekam", "belum_rekam", "pct_rekam",
    ),
    "participation_trend": (
        "tanggal", "kode_kecamatan", "nama_kecamatan", "rekam_baru", "rekam_total", "rekam_dinas",
        "rekam_kecamatan", "rekam_jemput_bola", "rekam_sekolah", "rekam_lainnya", "rekam_baru_7h",
        "wajib_ktp", "sudah_rekam", "belum_rekam", "pct_rekam", "proyeksi_tuntas",
    ),
    "log_completeness": (
        "tanggal", "kode_kecamatan", "nama_kecamatan", "status", "rows_loaded", "rows_quarantined",
    ),
    "backlog": (
        "as_of_date", "kode_kecamatan", "nama_kecamatan", "kode_desa", "nama_desa", "wajib_ktp",
        "sudah_rekam", "belum_rekam", "pct_rekam",
    ),
    # contract section 9; `alasan` (data dictionary) is shown when the mart has it
    "outreach_priority": (
        "as_of_date", "peringkat", "kode_kecamatan", "nama_kecamatan", "kode_desa", "nama_desa", "belum_rekam",
        "pct_rekam", "jemput_bola_terakhir", "hari_sejak_jemput_bola", "permohonan_terbuka", "permohonan_tertua",
    ),
    "outreach_requests": (
        "tanggal_daftar", "tanggal_surat", "nomor_surat", "kode_kecamatan", "kode_desa", "nama_desa",
        "perkiraan_warga", "tanggal_dilayani", "hari_menunggu",
    ),
    "kecamatan_service": (
        "as_of_date", "kode_kecamatan", "nama_kecamatan", "rekam_kecamatan_terakhir", "hari_kerja_tanpa_rekam",
        "perangkat_aktif_7h", "diduga_alat_rusak",
    ),
    "device_activity": (
        "as_of_date", "id_alat", "kode_kecamatan", "pertama_aktif", "terakhir_aktif", "hari_diam", "rekam_7h",
        "diam",  # the silent flag, hari_diam against mart.ambang_batas (not a contract column; the page reads it)
    ),
    # contract section 10 (working days) and the thresholds of the outreach marts
    "kalender": ("tanggal", "hari_kerja", "keterangan"),
    "ambang_batas": ("hari_kerja_alat_rusak", "hari_diam_alat"),
}

PRIORITY_TOP = 20  # desa of mart.outreach_priority shown (peringkat 1..20)
REQUESTS_TOP = 20  # open requests shown, longest waiting first
SILENT_TOP = 50  # silent devices shown, longest silent first

# A feedback file as the pipeline names it: KODE_KECAMATAN/YYYY-MM-DD.csv (flows/outputs/feedback.py).
FEEDBACK_KECAMATAN = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")
FEEDBACK_FILE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\.csv")
KODE_KABUPATEN = re.compile(r"[0-9]{2}\.[0-9]{2}")


@dataclass
class ReportData:
    """What the page needs, already reduced to the latest dates and regency-wide daily totals."""

    missing_tables: list[str] = field(default_factory=list)
    # the kab/kota this page is filtered to (its own page, report/<kode>.html); None: the area's page
    kode_kabupaten: str | None = None
    # the names of the area's kab/kota (core.kabupaten; of the page's kab/kota only), for the title
    area_names: list[str] = field(default_factory=list)
    # the area page's kab/kota table (load_kabupaten_rows), when the area has more than one
    kabupaten_rows: list[dict] = field(default_factory=list)
    kabupaten_date: Any = None
    # backlog_wilayah: the row of its latest as_of_date and the one before it (dicts with
    # as_of_date, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam)
    regency: dict | None = None
    regency_prev: dict | None = None
    # backlog_kecamatan at its latest as_of_date
    kec_date: Any = None
    kec_rows: list[dict] = field(default_factory=list)
    # participation_trend summed over kecamatan per day
    trend_days: list[dict] = field(default_factory=list)
    # participation_trend at its latest tanggal, one row per kecamatan
    pace_date: Any = None
    pace_rows: list[dict] = field(default_factory=list)
    has_laju: bool = False
    # log_completeness, every row
    grid_rows: list[dict] = field(default_factory=list)
    # backlog (desa) at its latest as_of_date
    desa_date: Any = None
    desa_top: list[dict] = field(default_factory=list)
    desa_count: int = 0
    desa_negative: int = 0
    # outreach_priority at its latest as_of_date: peringkat 1..PRIORITY_TOP
    priority_date: Any = None
    priority_top: list[dict] = field(default_factory=list)
    priority_count: int = 0
    priority_open: int = 0  # desa with an open request
    has_alasan: bool = False
    # outreach_requests: the open ones waiting longest, and the counts of open and served
    requests_any: bool = False
    requests_waiting: list[dict] = field(default_factory=list)
    requests_open: int = 0
    requests_served: int = 0
    # kecamatan_service at its latest as_of_date: the flagged rows and every kecamatan's name
    service_date: Any = None
    service_flagged: list[dict] = field(default_factory=list)
    service_count: int = 0
    service_names: dict[str, str] = field(default_factory=dict)
    # device_activity at its latest as_of_date: the silent devices (diam)
    devices_date: Any = None
    devices_silent: list[dict] = field(default_factory=list)
    devices_silent_count: int = 0
    devices_count: int = 0
    # mart.kalender: the dates that are no working day -> the holiday's name (None: a weekend)
    days_off: dict[Any, str | None] = field(default_factory=dict)
    # mart.ambang_batas: working days without an office recording from which a kecamatan is
    # flagged, days without a row from which a device is silent (None: not known)
    broken_days: int | None = None
    silent_days: int | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.regency or self.kabupaten_rows or self.kec_rows or self.trend_days or self.pace_rows or self.grid_rows
            or self.desa_top
            or self.priority_top or self.requests_any or self.service_count or self.devices_count
        )

    @property
    def kecamatan_names(self) -> dict[str, str]:
        """kode_kecamatan -> nama_kecamatan, from the marts that carry names (for the marts that do not)."""
        names = {r["kode_kecamatan"]: r["nama_kecamatan"] for r in [*self.kec_rows, *self.priority_top]}
        names.update(self.service_names)
        return names

    @property
    def kec_total(self) -> dict | None:
        """The regency row of the kecamatan table's date (the total row under the kecamatan)."""
        if self.regency and self.kec_rows and self.regency["as_of_date"] == self.kec_date:
            return self.regency
        return None


class AreaQueries:
    """The queries whose answer is the same for the area page and each of its kab/kota pages, run
    once per connection: which marts exist (and their columns), the completeness rows of each
    page (per kab/kota), and the latest date of each dated mart per kecamatan. One
    instance per ``write_report`` (the marts do not change while the pages are written)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._present: tuple[dict[str, set[str]], list[str]] | None = None
        self._grid_by_prefix: dict[str, list[dict]] = {}
        self._latest: dict[str, list[tuple[str, Any]]] = {}
        self._columns: dict[tuple[str, str], set[str] | None] = {}

    def columns(self, schema: str, table: str) -> set[str] | None:
        """table_columns, asked once."""
        if (schema, table) not in self._columns:
            self._columns[schema, table] = table_columns(self.con, schema, table)
        return self._columns[schema, table]

    def present(self) -> tuple[dict[str, set[str]], list[str]]:
        """(mart -> its columns, the absent marts); ValueError for a mart lacking a column the page reads."""
        if self._present is None:
            self._present = _present_tables(self.con)
        return self._present

    def grid_rows(self, data: ReportData) -> list[dict]:
        """mart.log_completeness of the page's kecamatan, by kecamatan and date: asked per kab/kota
        page (a province's pages may be rendered by two processes, each asking only for its own:
        the whole area's grid is ~88,000 rows a year), or once for the whole area."""
        prefix = _prefix(data)
        if prefix not in self._grid_by_prefix:
            self._grid_by_prefix[prefix] = rows(
                self.con,
                """select tanggal, kode_kecamatan, nama_kecamatan, status, rows_loaded, rows_quarantined
                   from mart.log_completeness where kode_kecamatan like ? order by kode_kecamatan, tanggal""",
                [f"{prefix}%"])
        return list(self._grid_by_prefix[prefix])

    def latest(self, table: str, data: ReportData) -> Any:
        """max(as_of_date) of the mart `table` over the page's kecamatan; None when it has no such row."""
        if table not in self._latest:
            self._latest[table] = self.con.execute(
                f"""select kode_kecamatan, max(as_of_date) from mart.{table}
                    where kode_kecamatan like '%' and as_of_date is not null group by kode_kecamatan""").fetchall()
        prefix = _prefix(data)
        return max((d for k, d in self._latest[table] if k.startswith(prefix)), default=None)


def load_report_data(
    con: duckdb.DuckDBPyConnection, kode_kabupaten: str | None = None, *, queries: AreaQueries | None = None
) -> ReportData:
    """Query the marts of TABLE_COLUMNS; an absent table counts as empty, a table missing a column is an error.

    ``kode_kabupaten``: only that kab/kota's rows (its kecamatan, desa, requests and devices; its
    headline from mart.backlog_kabupaten), for its own page; None: the whole area, and the kab/kota
    table when the area has more than one. ``queries``: the answers shared by the pages of one
    area (``AreaQueries`` of the same connection); None: a fresh one."""
    if kode_kabupaten is not None and not KODE_KABUPATEN.fullmatch(kode_kabupaten):
        raise ValueError("not a kab/kota code")
    queries = queries if queries is not None and queries.con is con else AreaQueries(con)
    data = ReportData(kode_kabupaten=kode_kabupaten)
    present, missing = queries.present()
    data.missing_tables = list(missing)
    _load_area_names(con, data, queries)
    if kode_kabupaten is not None:
        _load_kabupaten_headline(con, data, queries)
    elif "backlog_wilayah" in present:
        _load_regency(con, data)
        data.kabupaten_rows = load_kabupaten_rows(con, present)
        data.kabupaten_date = data.kabupaten_rows[0]["as_of_date"] if data.kabupaten_rows else None
    if "backlog_kecamatan" in present:
        _load_kecamatan(con, data, queries)
    if "participation_trend" in present:
        _load_trend(con, data, has_laju="laju_rekam_7h" in present["participation_trend"])
    if "log_completeness" in present and not data.kabupaten_rows:
        # an area of several kab/kota shows each grid on its kab/kota's page only (views.page_context):
        # its own page does not read the area's ~88,000 cells of a province year (0.13 s)
        data.grid_rows = queries.grid_rows(data)
    if "backlog" in present:
        _load_desa(con, data, queries)
    if "outreach_priority" in present:
        _load_priority(con, data, queries, has_alasan="alasan" in present["outreach_priority"])
    if "outreach_requests" in present:
        _load_requests(con, data)
    if "kecamatan_service" in present:
        _load_service(con, data, queries)
    if "device_activity" in present:
        _load_devices(con, data, queries)
    if "kalender" in present:
        data.days_off = {r["tanggal"]: r["keterangan"] for r in rows(
            con, "select tanggal, keterangan from mart.kalender where not hari_kerja order by tanggal")}
    if "ambang_batas" in present:
        for r in rows(con, "select hari_kerja_alat_rusak, hari_diam_alat from mart.ambang_batas limit 1"):
            data.broken_days, data.silent_days = r["hari_kerja_alat_rusak"], r["hari_diam_alat"]
    return data


def _present_tables(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, set[str]], list[str]]:
    present: dict[str, set[str]] = {}
    missing: list[str] = []
    found: dict[str, set[str]] = {}
    for table, column in con.execute(
        """select table_name, lower(column_name) from information_schema.columns
           where table_catalog = current_database() and table_schema = 'mart'""").fetchall():
        found.setdefault(table, set()).add(column)
    for table, required in TABLE_COLUMNS.items():
        cols = found.get(table)
        if cols is None:
            missing.append(f"mart.{table}")
            continue
        lacking = [c for c in required if c not in cols]
        if lacking:
            raise ValueError(f"mart.{table} lacks the column(s) {', '.join(lacking)} the report reads; "
                             "rebuild the marts with this version (ektp run)")
        present[table] = cols
    return present, missing


def _within(data: ReportData) -> str:
    """The LIKE pattern of the page's kecamatan codes: its kab/kota's (``16.09.%``), or every one."""
    return "%" if data.kode_kabupaten is None else f"{data.kode_kabupaten}.%"


def _prefix(data: ReportData) -> str:
    """_within as a prefix of the code (the kab/kota code has no LIKE wildcard: KODE_KABUPATEN)."""
    return "" if data.kode_kabupaten is None else f"{data.kode_kabupaten}."


def _load_area_names(con: duckdb.DuckDBPyConnection, data: ReportData, queries: AreaQueries) -> None:
    """The kab/kota of the area (of the page), from the region dimension (none when the copy has no core.kabupaten)."""
    if queries.columns("core", "kabupaten") is not None:
        data.area_names = [r["nama_kabupaten"] for r in rows(
            con, "select nama_kabupaten from core.kabupaten where kode_kabupaten like ? order by kode_kabupaten",
            [data.kode_kabupaten or "%"])]


def load_kabupaten_rows(con: duckdb.DuckDBPyConnection, present: dict[str, set[str]]) -> list[dict]:
    """One row per kab/kota of mart.backlog_kabupaten at its latest date (as_of_date, kode_kabupaten,
    nama_kabupaten, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam), with its kecamatan suspected
    of a broken device (mart.kecamatan_service at its latest date: ``alat_rusak``) and its open
    village requests (``permohonan_terbuka``); [] when the mart holds fewer than two kab/kota."""
    if table_columns(con, "mart", "backlog_kabupaten") is None:
        return []
    found = rows(con, """select as_of_date, kode_kabupaten, nama_kabupaten, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
                         from mart.backlog_kabupaten
                         where as_of_date = (select max(as_of_date) from mart.backlog_kabupaten)
                         order by kode_kabupaten""")
    if len(found) < 2:
        return []
    broken: dict[str, int] = {}
    if "kecamatan_service" in present:
        broken = {r["k"]: int(r["n"]) for r in rows(con, """
            select left(kode_kecamatan, 5) as k, count(*) filter (where diduga_alat_rusak) as n from mart.kecamatan_service
            where as_of_date = (select max(as_of_date) from mart.kecamatan_service) group by all""")}
    waiting: dict[str, int] = {}
    if "outreach_requests" in present:
        waiting = {r["k"]: int(r["n"]) for r in rows(con, """
            select left(kode_kecamatan, 5) as k, count(*) as n from mart.outreach_requests
            where tanggal_dilayani is null group by all""")}
    for r in found:
        r["alat_rusak"] = broken.get(r["kode_kabupaten"], 0)
        r["permohonan_terbuka"] = waiting.get(r["kode_kabupaten"], 0)
    return found


def _load_kabupaten_headline(con: duckdb.DuckDBPyConnection, data: ReportData, queries: AreaQueries) -> None:
    """The page's kab/kota: its rows of mart.backlog_kabupaten at the latest date and the one before."""
    if queries.columns("mart", "backlog_kabupaten") is None:
        return
    latest = rows(
        con,
        """select as_of_date, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
           from mart.backlog_kabupaten where kode_kabupaten = ? order by as_of_date desc limit 2""",
        [data.kode_kabupaten],
    )
    data.regency = latest[0] if latest else None
    data.regency_prev = latest[1] if len(latest) > 1 else None


def _load_regency(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    latest = rows(
        con,
        """select as_of_date, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
           from mart.backlog_wilayah order by as_of_date desc limit 2""",
    )
    data.regency = latest[0] if latest else None
    data.regency_prev = latest[1] if len(latest) > 1 else None


def _load_kecamatan(con: duckdb.DuckDBPyConnection, data: ReportData, queries: AreaQueries) -> None:
    data.kec_date = queries.latest("backlog_kecamatan", data)
    if data.kec_date is None:
        return
    data.kec_rows = rows(
        con,
        """select kode_kecamatan, nama_kecamatan, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
           from mart.backlog_kecamatan where as_of_date = ? and kode_kecamatan like ?
           order by belum_rekam desc nulls last, kode_kecamatan""",
        [data.kec_date, _within(data)],
    )


def _load_trend(con: duckdb.DuckDBPyConnection, data: ReportData, *, has_laju: bool) -> None:
    sums = ", ".join(f"sum({c}) as {c}" for c, *_ in CHANNELS)
    data.trend_days = rows(
        con,
        f"""select tanggal, sum(rekam_baru) as rekam_baru, {sums},
                   sum(rekam_baru_7h) as rekam_baru_7h, count(rekam_baru_7h) as n_7h
            from mart.participation_trend where kode_kecamatan like ? group by tanggal order by tanggal""",
        [_within(data)],
    )
    if not data.trend_days:
        return
    data.pace_date = data.trend_days[-1]["tanggal"]
    data.has_laju = has_laju
    laju = "laju_rekam_7h" if has_laju else "cast(null as double) as laju_rekam_7h"
    data.pace_rows = rows(
        con,
        f"""select kode_kecamatan, nama_kecamatan, rekam_baru, rekam_baru_7h, {laju},
                   belum_rekam, pct_rekam, proyeksi_tuntas
            from mart.participation_trend where tanggal = ? and kode_kecamatan like ?
            order by belum_rekam desc nulls last, kode_kecamatan""",
        [data.pace_date, _within(data)],
    )


def _load_desa(con: duckdb.DuckDBPyConnection, data: ReportData, queries: AreaQueries) -> None:
    data.desa_date = queries.latest("backlog", data)
    if data.desa_date is None:
        return
    data.desa_top = rows(
        con,
        """select kode_desa, nama_desa, kode_kecamatan, nama_kecamatan,
                  wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
           from mart.backlog where as_of_date = ? and kode_kecamatan like ?
           order by belum_rekam desc nulls last, kode_desa limit 10""",
        [data.desa_date, _within(data)],
    )
    counts = rows(
        con,
        """select count(*) as n, count(*) filter (where belum_rekam < 0) as neg
           from mart.backlog where as_of_date = ? and kode_kecamatan like ?""",
        [data.desa_date, _within(data)],
    )
    data.desa_count = int(counts[0]["n"])
    data.desa_negative = int(counts[0]["neg"])


def _load_priority(con: duckdb.DuckDBPyConnection, data: ReportData, queries: AreaQueries, *, has_alasan: bool) -> None:
    data.priority_date = queries.latest("outreach_priority", data)
    if data.priority_date is None:
        return
    data.has_alasan = has_alasan
    alasan = "alasan" if has_alasan else "cast(null as varchar) as alasan"
    data.priority_top = rows(
        con,
        f"""select peringkat, kode_kecamatan, nama_kecamatan, kode_desa, nama_desa, belum_rekam, pct_rekam,
                   jemput_bola_terakhir, hari_sejak_jemput_bola, permohonan_terbuka, permohonan_tertua, {alasan}
            from mart.outreach_priority where as_of_date = ? and peringkat <= ? and kode_kecamatan like ?
            order by peringkat, kode_desa""",
        [data.priority_date, PRIORITY_TOP, _within(data)],
    )
    counts = rows(
        con,
        """select count(*) as n, count(*) filter (where permohonan_terbuka > 0) as open
           from mart.outreach_priority where as_of_date = ? and kode_kecamatan like ?""",
        [data.priority_date, _within(data)],
    )[0]
    data.priority_count, data.priority_open = int(counts["n"]), int(counts["open"])


def _load_requests(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    counts = rows(
        con,
        """select count(*) as n, count(*) filter (where tanggal_dilayani is null) as open
           from mart.outreach_requests where kode_kecamatan like ?""",
        [_within(data)],
    )[0]
    data.requests_any = counts["n"] > 0
    data.requests_open = int(counts["open"])
    data.requests_served = int(counts["n"]) - data.requests_open
    data.requests_waiting = rows(
        con,
        """select tanggal_daftar, tanggal_surat, nomor_surat, kode_kecamatan, kode_desa, nama_desa,
                  perkiraan_warga, hari_menunggu
           from mart.outreach_requests where tanggal_dilayani is null and kode_kecamatan like ?
           order by hari_menunggu desc nulls last, tanggal_daftar, kode_desa, nomor_surat limit ?""",
        [_within(data), REQUESTS_TOP],
    )


def _load_service(con: duckdb.DuckDBPyConnection, data: ReportData, queries: AreaQueries) -> None:
    data.service_date = queries.latest("kecamatan_service", data)
    if data.service_date is None:
        return
    every = rows(
        con,
        """select kode_kecamatan, nama_kecamatan, rekam_kecamatan_terakhir, hari_kerja_tanpa_rekam,
                  perangkat_aktif_7h, diduga_alat_rusak
           from mart.kecamatan_service where as_of_date = ? and kode_kecamatan like ?
           order by hari_kerja_tanpa_rekam desc nulls last, kode_kecamatan""",
        [data.service_date, _within(data)],
    )
    data.service_count = len(every)
    data.service_flagged = [r for r in every if r["diduga_alat_rusak"]]
    data.service_names = {r["kode_kecamatan"]: r["nama_kecamatan"] for r in every}


def _load_devices(con: duckdb.DuckDBPyConnection, data: ReportData, queries: AreaQueries) -> None:
    data.devices_date = queries.latest("device_activity", data)
    if data.devices_date is None:
        return
    counts = rows(
        con,
        """select count(*) as n, count(*) filter (where diam) as silent
           from mart.device_activity where as_of_date = ? and kode_kecamatan like ?""",
        [data.devices_date, _within(data)],
    )[0]
    data.devices_count, data.devices_silent_count = int(counts["n"]), int(counts["silent"])
    data.devices_silent = rows(
        con,
        """select id_alat, kode_kecamatan, pertama_aktif, terakhir_aktif, hari_diam, rekam_7h
           from mart.device_activity where as_of_date = ? and diam and kode_kecamatan like ?
           order by hari_diam desc, id_alat limit ?""",
        [data.devices_date, _within(data), SILENT_TOP],
    )


def feedback_in_folder(folder: Path) -> list[str] | None:
    """The feedback files in `folder` as `KODE/YYYY-MM-DD.csv`, sorted; None when it cannot be listed.

    Only the names the pipeline writes count; links and other entries are skipped, never followed.
    """
    try:
        with os.scandir(folder) as entries:
            kecamatan = [e.path for e in entries
                         if FEEDBACK_KECAMATAN.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return None
    found = []
    for path in kecamatan:
        try:
            with os.scandir(path) as files:
                found += [f"{Path(path).name}/{f.name}" for f in files
                          if FEEDBACK_FILE.fullmatch(f.name) and f.is_file(follow_symlinks=False)]
        except OSError:
            continue
    return sorted(found)


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str] | None:
    """The lower-cased column names of `schema.table` (a table or a view); None when it is absent."""
    found = con.execute(
        """select lower(column_name) from information_schema.columns
           where table_catalog = current_database() and table_schema = ? and table_name = ?""",
        [schema, table],
    ).fetchall()
    return {r[0] for r in found} or None


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    """The result of `sql` as a list of dicts keyed by column name."""
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]
