"""What the page needs, read from an open DuckDB connection (the analysts' copy, or the writer).

`load_report_data(con)` reads five marts: `mart.backlog_kabupaten` (the regency headline and its
change since the previous date), `mart.backlog_kecamatan`, `mart.participation_trend`,
`mart.log_completeness` and `mart.backlog`, each at its own latest date except the trend and
the grid (every date). An absent mart counts as empty; a mart that lacks a column of the
contract is an error (ValueError). Nothing here formats or draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    "backlog_kabupaten": ("as_of_date", "wajib_ktp", "sudah_rekam", "belum_rekam", "pct_rekam"),
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
}


@dataclass
class ReportData:
    """What the page needs, already reduced to the latest dates and regency-wide daily totals."""

    missing_tables: list[str] = field(default_factory=list)
    # backlog_kabupaten: the row of its latest as_of_date and the one before it (dicts with
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

    @property
    def empty(self) -> bool:
        return not (
            self.regency or self.kec_rows or self.trend_days or self.pace_rows or self.grid_rows or self.desa_top
        )

    @property
    def kec_total(self) -> dict | None:
        """The regency row of the kecamatan table's date (the total row under the kecamatan)."""
        if self.regency and self.kec_rows and self.regency["as_of_date"] == self.kec_date:
            return self.regency
        return None


def load_report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    """Query the five marts; an absent table counts as empty, a table missing a column is an error."""
    data = ReportData()
    present = _present_tables(con, data)
    if "backlog_kabupaten" in present:
        _load_regency(con, data)
    if "backlog_kecamatan" in present:
        _load_kecamatan(con, data)
    if "participation_trend" in present:
        _load_trend(con, data, has_laju="laju_rekam_7h" in present["participation_trend"])
    if "log_completeness" in present:
        data.grid_rows = rows(
            con,
            """select tanggal, kode_kecamatan, nama_kecamatan, status, rows_loaded, rows_quarantined
               from mart.log_completeness order by kode_kecamatan, tanggal""",
        )
    if "backlog" in present:
        _load_desa(con, data)
    return data


def _present_tables(con: duckdb.DuckDBPyConnection, data: ReportData) -> dict[str, set[str]]:
    present: dict[str, set[str]] = {}
    for table, required in TABLE_COLUMNS.items():
        cols = table_columns(con, "mart", table)
        if cols is None:
            data.missing_tables.append(f"mart.{table}")
            continue
        lacking = [c for c in required if c not in cols]
        if lacking:
            raise ValueError(f"mart.{table} lacks the contract column(s) {', '.join(lacking)}")
        present[table] = cols
    return present


def _load_regency(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    latest = rows(
        con,
        """select as_of_date, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
           from mart.backlog_kabupaten order by as_of_date desc limit 2""",
    )
    data.regency = latest[0] if latest else None
    data.regency_prev = latest[1] if len(latest) > 1 else None


def _load_kecamatan(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    latest = rows(con, "select max(as_of_date) as d from mart.backlog_kecamatan")
    if not latest or latest[0]["d"] is None:
        return
    data.kec_date = latest[0]["d"]
    data.kec_rows = rows(
        con,
        """select kode_kecamatan, nama_kecamatan, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
           from mart.backlog_kecamatan where as_of_date = ?
           order by belum_rekam desc nulls last, kode_kecamatan""",
        [data.kec_date],
    )


def _load_trend(con: duckdb.DuckDBPyConnection, data: ReportData, *, has_laju: bool) -> None:
    sums = ", ".join(f"sum({c}) as {c}" for c, *_ in CHANNELS)
    data.trend_days = rows(
        con,
        f"""select tanggal, sum(rekam_baru) as rekam_baru, {sums},
                   sum(rekam_baru_7h) as rekam_baru_7h, count(rekam_baru_7h) as n_7h
            from mart.participation_trend group by tanggal order by tanggal""",
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
            from mart.participation_trend where tanggal = ?
            order by belum_rekam desc nulls last, kode_kecamatan""",
        [data.pace_date],
    )


def _load_desa(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    latest = rows(con, "select max(as_of_date) as d from mart.backlog")
    if not latest or latest[0]["d"] is None:
        return
    data.desa_date = latest[0]["d"]
    data.desa_top = rows(
        con,
        """select kode_desa, nama_desa, kode_kecamatan, nama_kecamatan,
                  wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
           from mart.backlog where as_of_date = ?
           order by belum_rekam desc nulls last, kode_desa limit 10""",
        [data.desa_date],
    )
    counts = rows(
        con,
        """select count(*) as n, count(*) filter (where belum_rekam < 0) as neg
           from mart.backlog where as_of_date = ?""",
        [data.desa_date],
    )
    data.desa_count = int(counts[0]["n"])
    data.desa_negative = int(counts[0]["neg"])


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
