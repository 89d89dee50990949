"""Static HTML report of the marts: one self-contained file that works offline from file://.

`write_report(con, out_path)` reads `mart.backlog_kecamatan`, `mart.participation_trend`,
`mart.log_completeness` and `mart.backlog` from an open DuckDB connection and writes one UTF-8
HTML page (inline CSS, charts as inline SVG drawn here; no JavaScript, no external URL, no font
or image to fetch) atomically. Empty or absent marts give a page that says there is no data yet.
See docs/report.md for what each section shows and which columns it uses.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

DEFAULT_TITLE = "Perekaman e-KTP — Kabupaten OKU Selatan"
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")

# The five recording places, in stacking order: (mart column, css key, label id, label en, colour).
CHANNELS: tuple[tuple[str, str, str, str, str], ...] = (
    ("rekam_dinas", "dinas", "Dinas (Muaradua)", "Disdukcapil office", "#1f5fa8"),
    ("rekam_kecamatan", "kec", "Kantor kecamatan", "sub-district office", "#3fa7c4"),
    ("rekam_jemput_bola", "jb", "Jemput bola", "outreach visit", "#e8912d"),
    ("rekam_sekolah", "sek", "Sekolah", "school", "#8a63c2"),
    ("rekam_lainnya", "lain", "Lainnya", "other", "#a3acb7"),
)
MEAN_LINE_COLOUR = "#1b2430"

# Completeness status: css class, label id, label en, colour.
STATUSES: dict[str, tuple[str, str, str, str]] = {
    "loaded": ("l", "dimuat", "loaded", "#3a8f5c"),
    "rejected": ("r", "ditolak", "rejected", "#c8372d"),
    "missing": ("m", "tidak ada file", "missing", "#f2c14e"),
}
UNKNOWN_STATUS = ("u", "tanpa baris", "no row", "#ffffff")

NO_DATA = "Belum ada data"
NO_DATA_EN = "no data yet"

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
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

MAX_LIST_ROWS = 200  # rows of a list shown in the run section before "... and n more"


# --------------------------------------------------------------------------------------------
# Public entry point


def write_report(
    con: duckdb.DuckDBPyConnection,
    out_path: Path,
    *,
    run_summary: dict | None = None,
    title: str = DEFAULT_TITLE,
) -> Path:
    """Render the marts in `con` (plus an optional run summary) to one HTML file at `out_path`.

    Writes atomically (temp file in the same folder, then os.replace) and returns the path.
    Raises ValueError when a mart table exists but lacks a contract column; OSError when the
    file cannot be written. Missing or empty marts are not errors: the page says so.
    """
    out_path = Path(out_path)
    data = load_report_data(con)
    page = render_report(data, run_summary=run_summary, title=title)
    _atomic_write(out_path, page)
    return out_path


# --------------------------------------------------------------------------------------------
# Reading the marts


@dataclass
class ReportData:
    """What the page needs, already reduced to the latest dates and regency-wide daily totals."""

    missing_tables: list[str] = field(default_factory=list)
    # backlog_kecamatan at its latest as_of_date (and the regency total one date earlier)
    kec_date: Any = None
    kec_rows: list[dict] = field(default_factory=list)
    kec_prev_date: Any = None
    kec_prev_belum: Any = None
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
        return not (self.kec_rows or self.trend_days or self.pace_rows or self.grid_rows or self.desa_top)


def load_report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    """Query the four marts; an absent table counts as empty, a table missing a column is an error."""
    data = ReportData()
    present: dict[str, set[str]] = {}
    for table, required in TABLE_COLUMNS.items():
        cols = _table_columns(con, "mart", table)
        if cols is None:
            data.missing_tables.append(f"mart.{table}")
            continue
        lacking = [c for c in required if c not in cols]
        if lacking:
            raise ValueError(f"mart.{table} lacks the contract column(s) {', '.join(lacking)}")
        present[table] = cols

    if "backlog_kecamatan" in present:
        dates = _rows(con, "select distinct as_of_date as d from mart.backlog_kecamatan order by d desc limit 2")
        if dates:
            data.kec_date = dates[0]["d"]
            data.kec_rows = _rows(
                con,
                """select kode_kecamatan, nama_kecamatan, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
                   from mart.backlog_kecamatan where as_of_date = ?
                   order by belum_rekam desc nulls last, kode_kecamatan""",
                [data.kec_date],
            )
        if len(dates) > 1:
            data.kec_prev_date = dates[1]["d"]
            prev = _rows(
                con,
                "select sum(belum_rekam) as b from mart.backlog_kecamatan where as_of_date = ?",
                [data.kec_prev_date],
            )
            data.kec_prev_belum = prev[0]["b"] if prev else None

    if "participation_trend" in present:
        sums = ", ".join(f"sum({c}) as {c}" for c, *_ in CHANNELS)
        data.trend_days = _rows(
            con,
            f"""select tanggal, sum(rekam_baru) as rekam_baru, {sums},
                       sum(rekam_baru_7h) as rekam_baru_7h, count(rekam_baru_7h) as n_7h
                from mart.participation_trend group by tanggal order by tanggal""",
        )
        if data.trend_days:
            data.pace_date = data.trend_days[-1]["tanggal"]
            data.has_laju = "laju_rekam_7h" in present["participation_trend"]
            laju = "laju_rekam_7h" if data.has_laju else "cast(null as double) as laju_rekam_7h"
            data.pace_rows = _rows(
                con,
                f"""select kode_kecamatan, nama_kecamatan, rekam_baru, rekam_baru_7h, {laju},
                           belum_rekam, pct_rekam, proyeksi_tuntas
                    from mart.participation_trend where tanggal = ?
                    order by belum_rekam desc nulls last, kode_kecamatan""",
                [data.pace_date],
            )

    if "log_completeness" in present:
        data.grid_rows = _rows(
            con,
            """select tanggal, kode_kecamatan, nama_kecamatan, status, rows_loaded, rows_quarantined
               from mart.log_completeness order by kode_kecamatan, tanggal""",
        )

    if "backlog" in present:
        latest = _rows(con, "select max(as_of_date) as d from mart.backlog")
        if latest and latest[0]["d"] is not None:
            data.desa_date = latest[0]["d"]
            data.desa_top = _rows(
                con,
                """select kode_desa, nama_desa, kode_kecamatan, nama_kecamatan,
                          wajib_ktp, sudah_rekam, belum_rekam, pct_rekam
                   from mart.backlog where as_of_date = ?
                   order by belum_rekam desc nulls last, kode_desa limit 10""",
                [data.desa_date],
            )
            counts = _rows(
                con,
                """select count(*) as n, count(*) filter (where belum_rekam < 0) as neg
                   from mart.backlog where as_of_date = ?""",
                [data.desa_date],
            )
            data.desa_count = int(counts[0]["n"])
            data.desa_negative = int(counts[0]["neg"])
    return data


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str] | None:
    rows = con.execute(
        """select lower(column_name) from information_schema.columns
           where table_catalog = current_database() and table_schema = ? and table_name = ?""",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows} or None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# --------------------------------------------------------------------------------------------
# Formatting (Indonesian: 270.764 and 78,88%; dates YYYY-MM-DD)


def esc(value: Any) -> str:
    """HTML-escape text; also break `://`, `url(` and `@import` so no text can look like a fetch."""
    text = html.escape("" if value is None else str(value), quote=True)
    return text.replace("://", "&#58;//").replace("url(", "url&#40;").replace("@import", "&#64;import")


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        f = float(value)
        return None if math.isnan(f) else f
    return None


def fmt_int(value: Any) -> str:
    """270764 -> '270.764'; None -> '—'."""
    f = _num(value)
    if f is None:
        return "—"
    return f"{round(f):,}".replace(",", ".")


def fmt_signed(value: Any) -> str:
    f = _num(value)
    if f is None:
        return "—"
    return ("+" if f > 0 else "") + fmt_int(f)


def fmt_dec(value: Any, places: int = 1) -> str:
    """12.345 -> '12,3' (Indonesian decimal comma, '.' thousands)."""
    f = _num(value)
    if f is None:
        return "—"
    return f"{f:,.{places}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def fmt_pct(value: Any) -> str:
    """78.88 -> '78,88%'; None -> '—'."""
    f = _num(value)
    return "—" if f is None else fmt_dec(f, 2) + "%"


def fmt_date(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


def _as_date(value: Any) -> dt.date | None:
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


def _n(x: float) -> str:
    """Compact SVG coordinate: one decimal at most."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1/2/5 x 10^k, integer steps) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step = max(step, 1)
    start = math.floor(lo / step) * step
    end = math.ceil(hi / step) * step
    count = int(round((end - start) / step))
    return [start + i * step for i in range(count + 1)]


def _label_width(names: Iterable[str], px_per_char: float = 6.8, lo: int = 90, hi: int = 260) -> int:
    longest = max((len(n) for n in names), default=0)
    return int(min(max(longest * px_per_char + 18, lo), hi))


# --------------------------------------------------------------------------------------------
# Page


def render_report(
    data: ReportData,
    *,
    run_summary: dict | None = None,
    title: str = DEFAULT_TITLE,
    generated_at: dt.datetime | None = None,
) -> str:
    """The whole HTML page as a string."""
    generated = (generated_at or dt.datetime.now(WIB)).astimezone(WIB)
    latest = data.kec_date or data.pace_date or data.desa_date
    sub = f"Data per {fmt_date(latest)}" if latest is not None else f"{NO_DATA} ({NO_DATA_EN})"
    body = [
        '<header class="top"><div class="wrap">',
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">Laporan pemantauan perekaman e-KTP <span class="en">· e-KTP recording monitor</span>'
        f" — {esc(sub)} · dibuat {esc(generated.strftime('%Y-%m-%d %H:%M'))} WIB</p>",
        '<nav><a href="#ringkasan">Ringkasan</a>'
        + ('<a href="#run">Run ini</a>' if run_summary else "")
        + '<a href="#backlog">Backlog kecamatan</a>'
        '<a href="#tren">Tren</a><a href="#kelengkapan">Kelengkapan log</a>'
        '<a href="#laju">Laju &amp; proyeksi</a><a href="#desa">10 desa</a></nav>',
        "</div></header>",
        '<main class="wrap">',
    ]
    if data.empty:
        missing = f" Tabel belum ada: {esc(', '.join(data.missing_tables))}." if data.missing_tables else ""
        body.append(
            f'<div class="banner">{NO_DATA}: mart masih kosong — jalankan pipeline setelah log dan '
            f'snapshot penduduk masuk.{missing} <span class="en">No data yet: the marts are empty.</span></div>'
        )
    body += [
        _section_headline(data),
        _section_run(run_summary) if run_summary else "",
        _section_backlog(data),
        _section_trend(data),
        _section_completeness(data),
        _section_pace(data),
        _section_desa(data),
        "</main>",
        '<footer class="wrap">Sumber: DuckDB warehouse, skema <code>mart</code> '
        "(backlog_kecamatan, participation_trend, log_completeness, backlog). Halaman ini berdiri "
        "sendiri dan dapat dibuka tanpa internet. Tidak memuat NIK maupun nama penduduk. "
        '<span class="en">Self-contained page; works offline; contains no NIK or personal names.</span></footer>',
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="id">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{esc(title)}</title>\n<style>{_css()}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def _section(anchor: str, title_id: str, title_en: str, content: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (
        f'<section class="card" id="{anchor}"><h2>{title_id} <span class="en">{title_en}</span></h2>'
        f"{note_html}{content}</section>"
    )


def _empty(table: str) -> str:
    return f'<p class="empty">{NO_DATA} — <code>{esc(table)}</code> kosong. <span class="en">({NO_DATA_EN})</span></p>'


# 1. Regency headline ---------------------------------------------------------------------


def _section_headline(data: ReportData) -> str:
    if not data.kec_rows:
        return _section("ringkasan", "Ringkasan kabupaten", "Regency headline", _empty("mart.backlog_kecamatan"))
    wajib = _sum(r["wajib_ktp"] for r in data.kec_rows)
    sudah = _sum(r["sudah_rekam"] for r in data.kec_rows)
    belum = _sum(r["belum_rekam"] for r in data.kec_rows)
    pct = round(100 * sudah / wajib, 2) if wajib else None
    change = ""
    if data.kec_prev_belum is not None and belum is not None:
        delta = belum - float(data.kec_prev_belum)
        change = f'<div class="d">{esc(fmt_signed(delta))} sejak {esc(fmt_date(data.kec_prev_date))}</div>'
    neg = belum is not None and belum < 0
    bar = max(0.0, min(100.0, pct or 0.0))
    cards = [
        _kpi("Wajib KTP", "must hold an e-KTP", fmt_int(wajib), "kpi-wajib"),
        _kpi("Sudah rekam", "recorded", fmt_int(sudah), "kpi-sudah"),
        _kpi("Belum rekam", "not yet recorded", fmt_int(belum), "kpi-belum" + (" neg" if neg else ""),
             change + ('<div class="flag">⚠ negatif: masalah data</div>' if neg else "")),
        _kpi("% rekam", "recorded share", fmt_pct(pct), "kpi-pct",
             f'<div class="progress"><span style="width:{bar:.2f}%"></span></div>'),
    ]
    extra = ""
    if data.trend_days:
        last = data.trend_days[-1]
        mean = last["rekam_baru_7h"] if last["n_7h"] else None
        extra = (
            f'<p class="note">Rekam baru pada {esc(fmt_date(last["tanggal"]))}: <b>{esc(fmt_int(last["rekam_baru"]))}</b> '
            f'orang · rata-rata 7 hari: <b>{esc(fmt_dec(mean))}</b> orang/hari '
            '<span class="en">(new first recordings, all ages)</span></p>'
        )
    content = (
        f'<p class="note">Per tanggal <b class="asof">{esc(fmt_date(data.kec_date))}</b> · '
        f"{len(data.kec_rows)} kecamatan</p>"
        f'<div class="kpis">{"".join(cards)}</div>{extra}'
    )
    return _section("ringkasan", "Ringkasan kabupaten", "Regency headline", content)


def _kpi(label: str, label_en: str, value: str, cls: str, extra: str = "") -> str:
    return (
        f'<div class="kpi {cls}"><div class="k">{esc(label)} <span class="en">{esc(label_en)}</span></div>'
        f'<div class="v">{esc(value)}</div>{extra}</div>'
    )


def _sum(values: Iterable[Any]) -> float | None:
    nums = [_num(v) for v in values]
    nums = [v for v in nums if v is not None]
    return sum(nums) if nums else None


# Run summary -----------------------------------------------------------------------------

RUN_LABELS: dict[str, str] = {
    "run_id": "ID run",
    "run_date": "Tanggal run",
    "last_date": "Tanggal log terakhir",
    "files_loaded": "File dimuat",
    "files_rejected": "File ditolak",
    "files_replaced": "File diganti (dikirim ulang)",
    "files_unchanged": "File tidak berubah",
    "files_later": "File bertanggal lebih baru (ditunda)",
    "rows_loaded": "Baris dimuat",
    "rows_quarantined": "Baris dikarantina",
    "quarantine_by_reason": "Karantina per alasan",
    "quarantine_by_kecamatan": "Karantina per kecamatan",
    "backlog": "Backlog kabupaten",
    "backlog_change": "Perubahan belum rekam",
    "rejected_files": "Rincian file ditolak",
    "missing_logs_on_last_date": "Log belum masuk (tanggal terakhir)",
    "data_problems": "Masalah data (baris)",
}


def _section_run(summary: dict) -> str:
    rows = []
    for key, value in summary.items():
        label = RUN_LABELS.get(str(key), str(key))
        shown = fmt_signed(value) if key == "backlog_change" else value
        rows.append(f'<tr><th scope="row">{esc(label)}</th><td>{_render_value(shown)}</td></tr>')
    content = f'<table class="kv">{"".join(rows)}</table>'
    return _section("run", "Run ini", "This run", content)


def _render_value(value: Any, depth: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, (int, float, Decimal)):
        f = float(value)
        return esc(fmt_int(f) if f == int(f) else fmt_dec(f, 2)) if math.isfinite(f) else esc(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return esc(value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat())
    if depth > 2:
        return esc(value)
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">tidak ada</span>'
        items = list(value.items())
        if all(_is_scalar(v) for _, v in items):  # counts by reason, kecamatan, ...: compact chips
            chips = "".join(
                f'<span class="chip">{esc(k)} <b>{_render_value(v, depth + 1)}</b></span>' for k, v in items[:MAX_LIST_ROWS]
            )
            return f'<div class="chips">{chips}</div>{_more(len(items))}'
        body = "".join(
            f'<tr><th scope="row">{esc(k)}</th><td>{_render_value(v, depth + 1)}</td></tr>'
            for k, v in items[:MAX_LIST_ROWS]
        )
        return f'<table class="kv inner">{body}</table>{_more(len(items))}'
    if isinstance(value, (list, tuple)):
        if not value:
            return '<span class="muted">tidak ada</span>'
        shown = list(value)[:MAX_LIST_ROWS]
        if all(_is_scalar(v) for v in shown):
            chips = "".join(f'<span class="chip">{_render_value(v, depth + 1)}</span>' for v in shown)
            return f'<div class="chips">{chips}</div>{_more(len(value))}'
        if all(isinstance(v, dict) for v in shown):
            keys: list[Any] = []
            for v in shown:
                keys += [k for k in v if k not in keys]
            head = "".join(f"<th>{esc(k)}</th>" for k in keys)
            body = "".join(
                "<tr>" + "".join(f"<td>{_render_value(v.get(k), depth + 1)}</td>" for k in keys) + "</tr>"
                for v in shown
            )
            return f'<table class="inner"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{_more(len(value))}'
        return "<ul>" + "".join(f"<li>{_render_value(v, depth + 1)}</li>" for v in shown) + f"</ul>{_more(len(value))}"
    return esc(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, Decimal, dt.date))


def _more(total: int) -> str:
    return f'<p class="note">… dan {fmt_int(total - MAX_LIST_ROWS)} lainnya</p>' if total > MAX_LIST_ROWS else ""


# 2. Backlog by kecamatan -----------------------------------------------------------------


def _section_backlog(data: ReportData) -> str:
    title = ("Backlog per kecamatan", "Not-yet-recorded residents by sub-district")
    if not data.kec_rows:
        return _section("backlog", *title, _empty("mart.backlog_kecamatan"))
    negatives = [r for r in data.kec_rows if (_num(r["belum_rekam"]) or 0) < 0]
    warn = ""
    if negatives:
        names = ", ".join(esc(r["nama_kecamatan"]) for r in negatives)
        warn = (
            f'<div class="warn">⚠ {len(negatives)} kecamatan dengan belum rekam negatif (sudah rekam melebihi '
            f"wajib KTP): {names}. Ini masalah data — periksa snapshot penduduk dan atribusi desa. "
            '<span class="en">Negative backlog is a data problem, not progress.</span></div>'
        )
    rows = []
    for r in data.kec_rows:
        neg = (_num(r["belum_rekam"]) or 0) < 0
        flag = '<span class="badge">⚠ negatif</span>' if neg else ""
        rows.append(
            f'<tr{" class=neg" if neg else ""}><td>{esc(r["nama_kecamatan"])} {flag}</td>'
            f'<td class="code">{esc(r["kode_kecamatan"])}</td>'
            f'<td class="n">{fmt_int(r["wajib_ktp"])}</td><td class="n">{fmt_int(r["sudah_rekam"])}</td>'
            f'<td class="n b">{fmt_int(r["belum_rekam"])}</td><td class="n">{fmt_pct(r["pct_rekam"])}</td></tr>'
        )
    wajib = _sum(r["wajib_ktp"] for r in data.kec_rows)
    sudah = _sum(r["sudah_rekam"] for r in data.kec_rows)
    belum = _sum(r["belum_rekam"] for r in data.kec_rows)
    total = (
        f'<tr class="total"><td>Kabupaten</td><td class="code">16.09</td><td class="n">{fmt_int(wajib)}</td>'
        f'<td class="n">{fmt_int(sudah)}</td><td class="n b">{fmt_int(belum)}</td>'
        f'<td class="n">{fmt_pct(round(100 * sudah / wajib, 2) if wajib else None)}</td></tr>'
    )
    table = (
        '<table class="data"><thead><tr><th>Kecamatan</th><th>Kode</th><th class="n">Wajib KTP</th>'
        '<th class="n">Sudah rekam</th><th class="n">Belum rekam</th><th class="n">% rekam</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody><tfoot>{total}</tfoot></table>'
    )
    note = (
        f"Per {esc(fmt_date(data.kec_date))}. Batang = belum rekam (wajib KTP − sudah rekam), urut terbesar; "
        "label = belum rekam · % sudah rekam."
    )
    return _section("backlog", *title, warn + _svg_backlog(data.kec_rows) + table, note)


def _svg_backlog(rows: list[dict]) -> str:
    width = 1000
    label_w = _label_width(r["nama_kecamatan"] or "" for r in rows)
    value_w = 150
    bar_h, gap, top, axis_h = 18, 7, 6, 26
    height = top + len(rows) * (bar_h + gap) + axis_h
    vals = [_num(r["belum_rekam"]) or 0.0 for r in rows]
    ticks = _nice_ticks(min(0.0, *vals), max(0.0, *vals), 5)
    lo, hi = ticks[0], ticks[-1]
    x0, plot_w = label_w, width - label_w - value_w

    def sx(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * plot_w

    out = [
        f'<svg data-chart="backlog-kecamatan" role="img" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="Diagram batang belum rekam per kecamatan, '
        f'{len(rows)} kecamatan, urut dari terbesar">'
    ]
    base = top + len(rows) * (bar_h + gap)
    for t in ticks:
        x = _n(sx(t))
        out.append(f'<line class="grid{" zero" if t == 0 else ""}" x1="{x}" x2="{x}" y1="{top - 4}" y2="{base}"/>')
        out.append(f'<text class="tick" x="{x}" y="{base + 16}" text-anchor="middle">{fmt_int(t)}</text>')
    for i, (r, v) in enumerate(zip(rows, vals)):
        y = top + i * (bar_h + gap)
        neg = v < 0
        xa, xb = sx(min(v, 0.0)), sx(max(v, 0.0))
        name = esc(r["nama_kecamatan"])
        label = f'{fmt_int(r["belum_rekam"])} · {fmt_pct(r["pct_rekam"])}'
        tip = f'{name}: belum rekam {fmt_int(r["belum_rekam"])}, {fmt_pct(r["pct_rekam"])} sudah rekam'
        out.append(f'<text class="lab" x="{label_w - 10}" y="{y + bar_h - 5}" text-anchor="end">{name}</text>')
        out.append(
            f'<rect class="bar{" neg" if neg else ""}" x="{_n(xa)}" y="{y}" width="{_n(xb - xa)}" '
            f'height="{bar_h}"><title>{tip}{" — negatif: masalah data" if neg else ""}</title></rect>'
        )
        lx = (sx(0.0) if neg else xb) + 6
        out.append(
            f'<text class="val{" neg" if neg else ""}" x="{_n(lx)}" y="{y + bar_h - 5}">'
            f'{"⚠ " if neg else ""}{esc(label)}</text>'
        )
    out.append("</svg>")
    return '<div class="chart-wrap">' + "".join(out) + "</div>"


# 3. Participation trend by channel -------------------------------------------------------


def _section_trend(data: ReportData) -> str:
    title = ("Tren perekaman per lokasi", "Daily first recordings by channel, regency-wide")
    if not data.trend_days:
        return _section("tren", *title, _empty("mart.participation_trend"))
    legend = "".join(
        f'<span class="li"><span class="sw b-{key}"></span>{esc(lab)} <span class="en">{esc(en)}</span></span>'
        for _, key, lab, en, _ in CHANNELS
    ) + '<span class="li"><span class="sw line"></span>Rata-rata 7 hari rekam baru <span class="en">7-day mean</span></span>'
    first, last = data.trend_days[0]["tanggal"], data.trend_days[-1]["tanggal"]
    note = (
        f"{esc(fmt_date(first))} s.d. {esc(fmt_date(last))}, seluruh kabupaten. Batang bertumpuk = rekam baru "
        "(perekaman pertama, semua umur) per hari menurut lokasi; garis = rata-rata 7 hari rekam baru."
    )
    return _section("tren", *title, f'<div class="legend">{legend}</div>' + _svg_trend(data.trend_days), note)


def _svg_trend(days: list[dict]) -> str:
    width, height = 1000, 320
    ml, mr, mt, mb = 64, 44, 14, 34
    plot_w, plot_h = width - ml - mr, height - mt - mb
    n = len(days)
    totals = [sum(_num(d[c]) or 0.0 for c, *_ in CHANNELS) for d in days]
    means = [(_num(d["rekam_baru_7h"]) if d["n_7h"] else None) for d in days]
    top_val = max([*totals, *(m for m in means if m is not None), 1.0])
    ticks = _nice_ticks(0.0, top_val, 5)
    ymax = ticks[-1]
    slot = plot_w / n
    bw = min(slot * 0.8, 46.0) if slot >= 4 else slot
    base_y = mt + plot_h

    def sy(v: float) -> float:
        return base_y - v / ymax * plot_h

    out = [
        f'<svg data-chart="trend-channel" role="img" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="Diagram batang bertumpuk rekam baru per hari menurut '
        f'lokasi rekam, {n} hari, dengan garis rata-rata 7 hari">'
    ]
    for t in ticks:
        y = _n(sy(t))
        out.append(f'<line class="grid{" zero" if t == 0 else ""}" x1="{ml}" x2="{width - mr}" y1="{y}" y2="{y}"/>')
        out.append(f'<text class="tick" x="{ml - 8}" y="{_n(sy(t) + 4)}" text-anchor="end">{fmt_int(t)}</text>')
    out.append(
        f'<text class="axis" transform="translate(14 {_n(mt + plot_h / 2)}) rotate(-90)" '
        'text-anchor="middle">orang / hari</text>'
    )
    for i, d in enumerate(days):
        cx = ml + (i + 0.5) * slot
        x = _n(cx - bw / 2)
        parts = ", ".join(f"{lab} {fmt_int(d[c])}" for c, _, lab, _, _ in CHANNELS)
        tip = (
            f'{fmt_date(d["tanggal"])} — rekam baru {fmt_int(d["rekam_baru"])}: {parts}; '
            f"rata-rata 7 hari {fmt_dec(means[i])}"
        )
        segs, acc = [], 0.0
        for col, key, *_ in CHANNELS:
            v = max(_num(d[col]) or 0.0, 0.0)
            if v <= 0:
                continue
            y1, y2 = sy(acc + v), sy(acc)
            segs.append(f'<rect class="f-{key}" x="{x}" y="{_n(y1)}" width="{_n(bw)}" height="{_n(y2 - y1)}"/>')
            acc += v
        if segs:
            out.append(f"<g><title>{esc(tip)}</title>{''.join(segs)}</g>")
    path, pen_down, points = [], False, []
    for i, m in enumerate(means):
        if m is None:
            pen_down = False
            continue
        px, py = ml + (i + 0.5) * slot, sy(m)
        path.append(f'{"L" if pen_down else "M"}{_n(px)} {_n(py)}')
        points.append((px, py, i))
        pen_down = True
    if path:
        out.append(f'<path class="mean" d="{"".join(path)}"/>')
        if n <= 31:
            for px, py, i in points:
                tip = f'{fmt_date(days[i]["tanggal"])} — rata-rata 7 hari {fmt_dec(means[i])}'
                out.append(f'<circle class="mean-pt" cx="{_n(px)}" cy="{_n(py)}" r="3"><title>{esc(tip)}</title></circle>')
    for i in _date_tick_indices(n, max(1, int(plot_w // 95))):
        cx = ml + (i + 0.5) * slot
        out.append(
            f'<line class="tickmark" x1="{_n(cx)}" x2="{_n(cx)}" y1="{base_y}" y2="{base_y + 4}"/>'
            f'<text class="tick" x="{_n(cx)}" y="{base_y + 18}" text-anchor="middle">'
            f'{esc(fmt_date(days[i]["tanggal"]))}</text>'
        )
    out.append("</svg>")
    return '<div class="chart-wrap">' + "".join(out) + "</div>"


def _date_tick_indices(n: int, max_labels: int) -> list[int]:
    """Evenly spaced label positions (always the first, and the last when it fits)."""
    if n <= max_labels:
        return list(range(n))
    step = math.ceil(n / max_labels)
    idx = list(range(0, n, step))
    if n - 1 - idx[-1] >= step * 0.6:
        idx.append(n - 1)
    return idx


# 4. Completeness grid --------------------------------------------------------------------


def _section_completeness(data: ReportData) -> str:
    title = ("Kelengkapan log harian", "Daily log completeness: sub-district × day")
    if not data.grid_rows:
        return _section("kelengkapan", *title, _empty("mart.log_completeness"))
    counts: dict[str, int] = {}
    for r in data.grid_rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    legend = "".join(
        f'<span class="li"><span class="sw s-{cls}"></span>{esc(lab)} <span class="en">{esc(en)}</span>'
        f' <b>{fmt_int(counts.get(status, 0))}</b></span>'
        for status, (cls, lab, en, _) in STATUSES.items()
    )
    others = {s: c for s, c in counts.items() if s not in STATUSES}
    if others:
        legend += f'<span class="li"><span class="sw s-u"></span>status lain: {esc(others)}</span>'
    last_day = max(r["tanggal"] for r in data.grid_rows)
    gaps = [r for r in data.grid_rows if r["tanggal"] == last_day and r["status"] != "loaded"]
    gap_html = ""
    if gaps:
        items = ", ".join(
            f'{esc(r["nama_kecamatan"])} ({esc(STATUSES.get(r["status"], UNKNOWN_STATUS)[1])})' for r in gaps
        )
        gap_html = f'<p class="warn-soft">Belum lengkap pada {esc(fmt_date(last_day))}: {items}</p>'
    else:
        gap_html = f'<p class="ok">Semua log kecamatan pada {esc(fmt_date(last_day))} sudah dimuat.</p>'
    note = (
        "Satu sel = file <code>rekam/&lt;tanggal&gt;/&lt;kode_kecamatan&gt;.csv</code>: dimuat, ditolak "
        "(seluruh file), atau tidak ada. Arahkan kursor ke sel untuk rincian baris."
    )
    content = f'<div class="legend">{legend}</div>{gap_html}{_svg_grid(data.grid_rows)}'
    return _section("kelengkapan", *title, content, note)


def _svg_grid(rows: list[dict]) -> str:
    kecs: dict[Any, str] = {}
    for r in rows:
        kecs.setdefault(r["kode_kecamatan"], r["nama_kecamatan"] or "")
    kec_codes = sorted(kecs, key=lambda k: str(k))
    days = sorted({r["tanggal"] for r in rows}, key=lambda d: str(d))
    cell = {(r["kode_kecamatan"], r["tanggal"]): r for r in rows}
    label_w = _label_width(kecs.values())
    n = len(days)
    cw = max(2.0, min(30.0, math.floor((1000 - label_w - 10) / n)))  # a year fits at 2 px a day
    ch, row_gap, top = 16, 3, 4
    col_gap = 1 if cw >= 6 else 0
    axis_h = 76
    width = int(label_w + n * cw + 10)
    height = top + len(kec_codes) * (ch + row_gap) + axis_h
    out = [
        f'<svg data-chart="completeness-grid" role="img" class="chart grid-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="Grid kelengkapan log: {len(kec_codes)} kecamatan × '
        f'{n} hari, warna menunjukkan dimuat, ditolak atau tidak ada">'
    ]
    for j, kode in enumerate(kec_codes):
        y = top + j * (ch + row_gap)
        name = esc(kecs[kode])
        out.append(f'<text class="lab" x="{label_w - 10}" y="{y + ch - 4}" text-anchor="end">{name}</text>')
        out.append(f'<g transform="translate({label_w} {y})">')
        for i, day in enumerate(days):
            r = cell.get((kode, day))
            date = esc(fmt_date(day))
            if r is None:
                cls, lab = UNKNOWN_STATUS[0], UNKNOWN_STATUS[1]
                tip = f"{date} {name}: {lab}"
            else:
                cls, lab = STATUSES.get(r["status"], UNKNOWN_STATUS)[:2]
                tip = f"{date} {name}: {esc(lab if r['status'] in STATUSES else r['status'])}"
                if r["status"] != "missing" and (r["rows_loaded"] is not None or r["rows_quarantined"] is not None):
                    tip += f", {fmt_int(r['rows_loaded'])} baris, {fmt_int(r['rows_quarantined'])} karantina"
            attr = "" if cls == STATUSES["loaded"][0] else f' class="{cls}"'  # loaded: the CSS default
            out.append(f'<rect{attr} x="{_n(i * cw)}" width="{_n(cw - col_gap)}" height="{ch}"><title>{tip}</title></rect>')
        out.append("</g>")
    base = top + len(kec_codes) * (ch + row_gap)
    step = next(s for s in (1, 2, 7, 14, 28, 56, 91, 182, 365, 10**9) if s * cw >= 14)
    for i in range(0, n, step):
        cx = label_w + (i + 0.5) * cw
        out.append(
            f'<text class="tick" transform="translate({_n(cx + 4)} {base + 4}) rotate(-90)" '
            f'text-anchor="end">{esc(fmt_date(days[i]))}</text>'
        )
    out.append("</svg>")
    return '<div class="chart-wrap scroll">' + "".join(out) + "</div>"


# 5. Pace and projected completion --------------------------------------------------------


def _section_pace(data: ReportData) -> str:
    title = ("Laju perekaman & proyeksi tuntas", "Recording pace and projected completion")
    if not data.pace_rows:
        return _section("laju", *title, _empty("mart.participation_trend"))
    head = (
        '<tr><th>Kecamatan</th><th class="n">Rekam baru<br><span class="en">on the day</span></th>'
        '<th class="n">Rata-rata 7 hari<br><span class="en">rekam_baru_7h</span></th>'
        + ('<th class="n">Laju wajib KTP 7 hari<br><span class="en">laju_rekam_7h</span></th>' if data.has_laju else "")
        + '<th class="n">Belum rekam</th><th class="n">% rekam</th><th>Proyeksi tuntas<br>'
        '<span class="en">projected completion</span></th></tr>'
    )
    today = _as_date(data.pace_date)
    body = []
    for r in data.pace_rows:
        belum = _num(r["belum_rekam"])
        proj = r["proyeksi_tuntas"]
        if belum is not None and belum <= 0:
            proj_html = '<span class="muted">sudah tuntas</span>'
        elif proj is not None:
            pd = _as_date(proj)
            left = f' <span class="muted">({fmt_int((pd - today).days)} hari lagi)</span>' if pd and today else ""
            proj_html = f"{esc(fmt_date(proj))}{left}"
        elif belum is None:
            proj_html = "—"
        else:
            proj_html = '<span class="never">tidak tercapai pada laju sekarang</span>'
        neg = belum is not None and belum < 0
        body.append(
            f'<tr{" class=neg" if neg else ""}><td>{esc(r["nama_kecamatan"])}{" <span class=badge>⚠ negatif</span>" if neg else ""}</td>'
            f'<td class="n">{fmt_int(r["rekam_baru"])}</td><td class="n">{fmt_dec(r["rekam_baru_7h"])}</td>'
            + (f'<td class="n">{fmt_dec(r["laju_rekam_7h"])}</td>' if data.has_laju else "")
            + f'<td class="n b">{fmt_int(r["belum_rekam"])}</td><td class="n">{fmt_pct(r["pct_rekam"])}</td>'
            f"<td>{proj_html}</td></tr>"
        )
    pace_word = (
        "laju = rata-rata harian perekaman pertama penduduk wajib KTP selama 7 hari terakhir (laju_rekam_7h)"
        if data.has_laju
        else "laju = laju yang dipakai pipeline (lihat dokumentasi mart)"
    )
    note = (
        f"Per {esc(fmt_date(data.pace_date))}. Proyeksi tuntas = tanggal belum rekam mencapai nol pada laju "
        f"sekarang; {pace_word}. Kosong bila laju nol."
    )
    table = f'<table class="data"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'
    return _section("laju", *title, table, note)


# 6. Top 10 desa --------------------------------------------------------------------------


def _section_desa(data: ReportData) -> str:
    title = ("10 desa dengan belum rekam terbanyak", "Top 10 villages by backlog")
    if not data.desa_top:
        return _section("desa", *title, _empty("mart.backlog"))
    body = "".join(
        f'<tr{" class=neg" if (_num(r["belum_rekam"]) or 0) < 0 else ""}><td class="n">{i}</td>'
        f'<td>{esc(r["nama_desa"])}</td><td class="code">{esc(r["kode_desa"])}</td>'
        f'<td>{esc(r["nama_kecamatan"])}</td><td class="n">{fmt_int(r["wajib_ktp"])}</td>'
        f'<td class="n">{fmt_int(r["sudah_rekam"])}</td><td class="n b">{fmt_int(r["belum_rekam"])}</td>'
        f'<td class="n">{fmt_pct(r["pct_rekam"])}</td></tr>'
        for i, r in enumerate(data.desa_top, start=1)
    )
    table = (
        '<table class="data"><thead><tr><th class="n">#</th><th>Desa/kelurahan</th><th>Kode</th>'
        '<th>Kecamatan</th><th class="n">Wajib KTP</th><th class="n">Sudah rekam</th>'
        f'<th class="n">Belum rekam</th><th class="n">% rekam</th></tr></thead><tbody>{body}</tbody></table>'
    )
    warn = ""
    if data.desa_negative:
        warn = (
            f'<div class="warn">⚠ {fmt_int(data.desa_negative)} desa dengan belum rekam negatif pada '
            f"{esc(fmt_date(data.desa_date))} — masalah data. <span class=\"en\">Negative village backlog.</span></div>"
        )
    note = f"Per {esc(fmt_date(data.desa_date))}, dari {fmt_int(data.desa_count)} desa/kelurahan."
    return _section("desa", *title, warn + table, note)


# --------------------------------------------------------------------------------------------
# Style and file writing


def _css() -> str:
    channel_css = "".join(f".f-{k}{{fill:{c}}}.b-{k}{{background:{c}}}" for _, k, _, _, c in CHANNELS)
    status_css = f".grid-chart rect{{fill:{STATUSES['loaded'][3]}}}" + "".join(
        f".grid-chart .{cls}{{fill:{c}}}.s-{cls}{{background:{c}}}"
        for cls, _, _, c in (*STATUSES.values(), UNKNOWN_STATUS)
    )
    return (
        ":root{--ink:#1b2430;--muted:#5d6b7a;--line:#dde2e8;--bg:#f2f4f7;--card:#fff;--brand:#123e6b;"
        "--bar:#1f5fa8;--neg:#c8372d}"
        "*{box-sizing:border-box}"
        "html{-webkit-text-size-adjust:100%}"
        "body{margin:0;background:var(--bg);color:var(--ink);"
        'font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",'
        '"Liberation Sans","DejaVu Sans",sans-serif}'
        ".wrap{max-width:1120px;margin:0 auto;padding:0 20px}"
        "header.top{background:var(--brand);color:#fff;padding:22px 0 0}"
        "header.top h1{margin:0;font-size:25px;font-weight:650;letter-spacing:-.01em}"
        "header.top .sub{margin:4px 0 14px;color:#c6d4e6}header.top .en{color:#9fb4cf}"
        "nav{display:flex;flex-wrap:wrap;gap:2px 18px;padding:8px 0 10px;border-top:1px solid #2a5584}"
        "nav a{color:#e3ebf5;text-decoration:none;font-size:13px}nav a:hover{text-decoration:underline}"
        ".card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 24px;"
        "margin:20px 0;box-shadow:0 1px 2px rgba(16,24,40,.04)}"
        "h2{margin:0 0 4px;font-size:18px;font-weight:650}"
        ".en{color:var(--muted);font-weight:400;font-size:.86em}h2 .en{margin-left:6px}"
        ".note{margin:2px 0 12px;color:var(--muted);font-size:13px}.note b{color:var(--ink)}"
        ".muted{color:var(--muted)}code{font-size:12px;background:#eef1f5;padding:1px 4px;border-radius:4px}"
        ".kpis{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:14px;margin:6px 0 10px}"
        ".kpi{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:#fafbfc}"
        ".kpi .k{font-size:13px;font-weight:600}.kpi .k .en{display:block;font-size:11px}"
        ".kpi .v{font-size:28px;font-weight:700;font-variant-numeric:tabular-nums;margin-top:4px;line-height:1.2}"
        ".kpi .d{font-size:12px;color:var(--muted);margin-top:2px}"
        ".kpi-belum .v{color:#9a3412}.kpi.neg .v{color:var(--neg)}"
        ".kpi .flag{color:var(--neg);font-size:12px;font-weight:600}"
        ".progress{height:8px;background:#e3e8ee;border-radius:4px;margin-top:8px;overflow:hidden}"
        ".progress span{display:block;height:100%;background:#3a8f5c}"
        ".banner{margin:20px 0 0;padding:14px 18px;border-radius:8px;background:#fff7e0;border:1px solid #f2c14e}"
        ".warn{margin:8px 0 12px;padding:10px 14px;border-radius:8px;background:#fdecea;border:1px solid #f1b0a9;"
        "color:#7f1d1d}.warn .en{color:#9b4a43}"
        ".warn-soft{margin:4px 0 10px;font-size:13px;color:#8a4b00}.ok{margin:4px 0 10px;font-size:13px;color:#2f6f48}"
        ".empty{padding:18px;border:1px dashed var(--line);border-radius:8px;color:var(--muted);text-align:center;margin:6px 0}"
        ".legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;margin:4px 0 8px}"
        ".li{display:inline-flex;align-items:center;gap:6px}"
        ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;border:1px solid rgba(0,0,0,.12)}"
        f".sw.line{{height:3px;border:0;width:18px;background:{MEAN_LINE_COLOUR}}}"
        + channel_css
        + status_css
        + ".chart-wrap{margin:6px 0 14px}.chart-wrap.scroll{overflow-x:auto}"
        ".chart{display:block;max-width:100%;height:auto}.grid-chart{max-width:none}"
        ".chart text{font-size:12px;fill:var(--ink)}.chart .tick{font-size:11px;fill:var(--muted);"
        "font-variant-numeric:tabular-nums}.chart .axis{font-size:11px;fill:var(--muted)}"
        ".chart .val{font-size:11.5px;fill:#374151;font-variant-numeric:tabular-nums}"
        ".chart .val.neg{fill:var(--neg);font-weight:600}"
        ".chart .grid{stroke:#e5e9ee;stroke-width:1}.chart .grid.zero{stroke:#8b96a3}"
        ".chart .tickmark{stroke:#8b96a3}"
        ".chart .bar{fill:var(--bar)}.chart .bar.neg{fill:var(--neg)}"
        f".chart .mean{{fill:none;stroke:{MEAN_LINE_COLOUR};stroke-width:2;stroke-linejoin:round}}"
        f".chart .mean-pt{{fill:#fff;stroke:{MEAN_LINE_COLOUR};stroke-width:1.5}}"
        ".grid-chart .u{stroke:#c3cad3;stroke-width:.5}"
        "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px}"
        "th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}"
        "thead th{font-size:12px;font-weight:600;color:#374151;background:#f6f8fa;border-bottom:1px solid #cfd6de}"
        "th.n,td.n{text-align:right}td.b{font-weight:600}td.code{color:var(--muted);font-size:12px}"
        "tbody tr:hover{background:#f8fafc}tfoot td{font-weight:700;border-top:2px solid #cfd6de}"
        "tr.neg td{background:#fdf0ee}tr.neg td.b{color:var(--neg)}"
        ".badge{display:inline-block;font-size:11px;font-weight:600;color:#fff;background:var(--neg);"
        "border-radius:3px;padding:0 5px;margin-left:4px}"
        ".never{color:#9a3412;font-style:italic}"
        "table.kv th{width:250px;font-weight:600;color:#374151;background:none}"
        ".chips{display:flex;flex-wrap:wrap;gap:4px 6px}.chip{display:inline-block;padding:1px 8px;border-radius:10px;"
        "background:#eef2f6;border:1px solid #dde3ea;font-size:12px;white-space:nowrap}.chip b{font-weight:600}"
        "table.inner{width:auto;font-size:12px}table.inner td,table.inner th{padding:3px 8px}"
        "ul{margin:0;padding-left:18px}"
        "footer{color:var(--muted);font-size:12px;padding:6px 20px 40px}"
        "@media (max-width:760px){.kpis{grid-template-columns:repeat(2,minmax(0,1fr))}}"
        "@media print{body{background:#fff}.card{box-shadow:none;break-inside:avoid}nav{display:none}}"
    )


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
