"""What each section of the page shows, as plain values: numbers already formatted, flags and
sentences, never markup. `page_context` gathers them for templates/page.html.j2.

Sections 1-6 show the recording figures; 7-10 where to act (contract section 9: the desa to
visit, the requests waiting, the kecamatan whose device may have stopped, the silent devices);
11 links the kecamatan's feedback files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flows.outputs.report import charts
from flows.outputs.report.data import (
    CHANNELS,
    FEEDBACK_FILE,
    FEEDBACK_KECAMATAN,
    PRIORITY_TOP,
    STATUSES,
    UNKNOWN_STATUS,
    ReportData,
)
from flows.outputs.report.format import (
    as_date,
    fmt_date,
    fmt_dec,
    fmt_int,
    fmt_pct,
    fmt_signed,
    fmt_value,
    num,
)

NO_DATA = "Belum ada data"
NO_DATA_EN = "no data yet"
MAX_LIST_ROWS = 200  # rows of a list shown in the run section before "... and n more"
FEEDBACK_PER_KECAMATAN = 10  # newest feedback files linked per kecamatan before "... and n more"
# Where the feedback files are, seen from the page: warehouse/report.html and feedback/ are both
# in the data directory (flows.settings: report_path, feedback_dir).
FEEDBACK_HREF = "../feedback/"
# The pages of the area's kab/kota, seen from the area's page warehouse/report.html; and back.
KABUPATEN_HREF = "report/"
AREA_HREF = "../report.html"

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
    "kabupaten": "Backlog per kabupaten/kota",
    "rejected_files": "Rincian file ditolak",
    "missing_logs_on_last_date": "Log belum masuk (tanggal terakhir)",
    "data_problems": "Masalah data (baris)",
    "requests_loaded": "Permohonan desa dimuat (baris)",
    "upgrade": "Pemutakhiran warehouse",
    "outreach": "Tindak lanjut (rincian di bawah)",
    "feedback": "Umpan balik kecamatan (rincian di bawah)",
}


def page_context(
    data: ReportData, run_summary: dict | None, title: str, generated: dt.datetime, feedback_info: Any = None
) -> dict:
    """Everything page.html.j2 reads. `feedback_info`: the run summary's "feedback" dict, or the
    files found in the folder (`source` "folder"); None: nothing known."""
    latest = data.kec_date or data.pace_date or data.desa_date
    on_kab_page = data.kode_kabupaten is not None
    return {
        "title": title,
        "subtitle": f"Data per {fmt_date(latest)}" if latest is not None else f"{NO_DATA} ({NO_DATA_EN})",
        "generated": generated.strftime("%Y-%m-%d %H:%M"),
        "data": data,
        "missing_tables": ", ".join(data.missing_tables),
        "run": run_rows(run_summary) if run_summary else None,
        "headline": headline(data) if data.regency else None,
        "backlog": backlog(data) if data.kec_rows else None,
        "trend": trend(data) if data.trend_days else None,
        "kabupaten": kabupaten_table(data) if data.kabupaten_rows else None,
        "area_href": AREA_HREF if on_kab_page else None,
        # an area of several kab/kota: each grid on its kab/kota's page, the table instead here
        "grid": completeness(data) if data.grid_rows and not data.kabupaten_rows else None,
        "grid_per_kabupaten": bool(data.kabupaten_rows),
        "pace": pace(data) if data.pace_rows else None,
        "desa": desa(data) if data.desa_top else None,
        "priority": priority(data) if data.priority_top else None,
        "requests": requests(data) if data.requests_any else None,
        "service": service(data) if data.service_count else None,
        "devices": devices(data) if data.devices_count else None,
        "feedback": (feedback(feedback_info, data.kecamatan_names, ("../" if on_kab_page else "") + FEEDBACK_HREF)
                     if isinstance(feedback_info, dict) else None),
        "channels": CHANNELS,
        "limits": {"priority": PRIORITY_TOP, "silent_days": fmt_int(data.silent_days),
                   "broken_days": fmt_int(data.broken_days)},
    }


# --- 1. regency headline ------------------------------------------------------------------


def headline(data: ReportData) -> dict:
    """The area's figures (mart.backlog_wilayah: the regency's for one kab/kota) at its latest date, and the change
    since the one before."""
    reg, prev = data.regency or {}, data.regency_prev
    belum = num(reg.get("belum_rekam"))
    pct = num(reg.get("pct_rekam"))
    change = None
    if prev is not None and num(prev["belum_rekam"]) is not None and belum is not None:
        change = {"delta": fmt_signed(belum - num(prev["belum_rekam"])), "since": fmt_date(prev["as_of_date"])}
    view = {
        "as_of": fmt_date(reg.get("as_of_date")),
        "kecamatan": len(data.kec_rows),
        "wajib": fmt_int(reg.get("wajib_ktp")),
        "sudah": fmt_int(reg.get("sudah_rekam")),
        "belum": fmt_int(belum),
        "pct": fmt_pct(pct),
        "neg": belum is not None and belum < 0,
        "change": change,
        "bar": f"{max(0.0, min(100.0, pct or 0.0)):.2f}",
        "today": None,
    }
    if data.trend_days:
        last = data.trend_days[-1]
        view["today"] = {
            "date": fmt_date(last["tanggal"]),
            "baru": fmt_int(last["rekam_baru"]),
            "mean": fmt_dec(last["rekam_baru_7h"] if last["n_7h"] else None),
        }
    return view


# --- 1b. the area's kab/kota (an area of several) ---------------------------------------------


def kabupaten_table(data: ReportData) -> dict:
    """One row per kab/kota of the area (flows.outputs.report.data.load_kabupaten_rows), linking its page."""
    rows = [
        {
            "name": r["nama_kabupaten"], "kode": r["kode_kabupaten"], "href": f"{KABUPATEN_HREF}{r['kode_kabupaten']}.html",
            "wajib": fmt_int(r["wajib_ktp"]), "sudah": fmt_int(r["sudah_rekam"]), "belum": fmt_int(r["belum_rekam"]),
            "pct": fmt_pct(r["pct_rekam"]), "rusak": fmt_int(r["alat_rusak"]), "permohonan": fmt_int(r["permohonan_terbuka"]),
            "neg": (num(r["belum_rekam"]) or 0) < 0,
        }
        for r in data.kabupaten_rows
    ]
    reg = data.regency if data.regency and data.regency["as_of_date"] == data.kabupaten_date else {}
    return {
        "as_of": fmt_date(data.kabupaten_date),
        "count": fmt_int(len(rows)),
        "rows": rows,
        "total": {"wajib": fmt_int(reg.get("wajib_ktp")), "sudah": fmt_int(reg.get("sudah_rekam")),
                  "belum": fmt_int(reg.get("belum_rekam")), "pct": fmt_pct(reg.get("pct_rekam")),
                  "rusak": fmt_int(sum(r["alat_rusak"] for r in data.kabupaten_rows)),
                  "permohonan": fmt_int(sum(r["permohonan_terbuka"] for r in data.kabupaten_rows))},
    }


# --- 2. backlog by kecamatan --------------------------------------------------------------


def backlog(data: ReportData) -> dict:
    rows = [
        {
            "name": r["nama_kecamatan"], "kode": r["kode_kecamatan"], "wajib": fmt_int(r["wajib_ktp"]),
            "sudah": fmt_int(r["sudah_rekam"]), "belum": fmt_int(r["belum_rekam"]), "pct": fmt_pct(r["pct_rekam"]),
            "neg": (num(r["belum_rekam"]) or 0) < 0,
        }
        for r in data.kec_rows
    ]
    total = data.kec_total or {}
    kabupaten = sorted({r["kode_kecamatan"][:5] for r in data.kec_rows})   # the area's kab/kota (a code's first 5 characters)
    return {
        "as_of": fmt_date(data.kec_date),
        "negatives": [_text(r["name"]) for r in rows if r["neg"]],
        "rows": rows,
        "total": {
            "label": "Kabupaten" if len(kabupaten) == 1 else "Wilayah", "kode": ", ".join(kabupaten),
            "wajib": fmt_int(total.get("wajib_ktp")), "sudah": fmt_int(total.get("sudah_rekam")),
            "belum": fmt_int(total.get("belum_rekam")), "pct": fmt_pct(total.get("pct_rekam")),
        },
        "chart": charts.backlog_chart(data.kec_rows),
    }


# --- 3. participation trend ---------------------------------------------------------------


def trend(data: ReportData) -> dict:
    return {
        "first": fmt_date(data.trend_days[0]["tanggal"]),
        "last": fmt_date(data.trend_days[-1]["tanggal"]),
        "chart": charts.trend_chart(data.trend_days),
    }


# --- 4. completeness grid -----------------------------------------------------------------


def completeness(data: ReportData) -> dict:
    """The grid of mart.log_completeness; days off (mart.kalender) drawn as such, the named ones
    listed under the legend with their date."""
    counts: dict[str, int] = {}
    for r in data.grid_rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    last_day = max(r["tanggal"] for r in data.grid_rows)
    gaps = [r for r in data.grid_rows if r["tanggal"] == last_day and r["status"] != "loaded"]
    grid_days = {r["tanggal"] for r in data.grid_rows}
    off = {day: name for day, name in data.days_off.items() if day in grid_days}
    return {
        "legend": [
            {"cls": cls, "label": lab, "en": en, "count": fmt_int(counts.get(status, 0))}
            for status, (cls, lab, en) in STATUSES.items()
        ],
        "others": {s: c for s, c in counts.items() if s not in STATUSES},
        "last_day": fmt_date(last_day),
        "last_day_off": charts.day_off_label(last_day, off[last_day]) if last_day in off else None,
        "gaps": ", ".join(
            f'{_text(r["nama_kecamatan"])} ({STATUSES.get(r["status"], UNKNOWN_STATUS)[1]})' for r in gaps
        ),
        "days_off": fmt_int(len(off)) if off else None,
        "holidays": [{"date": fmt_date(day), "name": name} for day, name in sorted(off.items(), key=lambda x: str(x[0]))
                     if name],
        "off_class": charts.OFF_CLASS,
        "chart": charts.grid_chart(data.grid_rows, off),
    }


# --- 5. pace and projected completion -----------------------------------------------------


def pace(data: ReportData) -> dict:
    today = as_date(data.pace_date)
    rows = []
    for r in data.pace_rows:
        belum = num(r["belum_rekam"])
        rows.append({
            "name": r["nama_kecamatan"], "neg": belum is not None and belum < 0,
            "baru": fmt_int(r["rekam_baru"]), "mean": fmt_dec(r["rekam_baru_7h"]),
            "laju": fmt_dec(r["laju_rekam_7h"]), "belum": fmt_int(r["belum_rekam"]), "pct": fmt_pct(r["pct_rekam"]),
            **_projection(belum, r["proyeksi_tuntas"], today),
        })
    return {"as_of": fmt_date(data.pace_date), "has_laju": data.has_laju, "rows": rows}


def _projection(belum: float | None, proj: Any, today: dt.date | None) -> dict:
    """state: 'done' (nothing left), 'date' (with days left when known), 'none' (no backlog
    figure) or 'never' (pace zero)."""
    if belum is not None and belum <= 0:
        return {"state": "done"}
    if proj is not None:
        pd = as_date(proj)
        left = fmt_int((pd - today).days) if pd and today else None
        return {"state": "date", "date": fmt_date(proj), "left": left}
    return {"state": "none" if belum is None else "never"}


# --- 6. top 10 desa -----------------------------------------------------------------------


def desa(data: ReportData) -> dict:
    rows = [
        {
            "rank": i, "name": r["nama_desa"], "kode": r["kode_desa"], "kecamatan": r["nama_kecamatan"],
            "wajib": fmt_int(r["wajib_ktp"]), "sudah": fmt_int(r["sudah_rekam"]), "belum": fmt_int(r["belum_rekam"]),
            "pct": fmt_pct(r["pct_rekam"]), "neg": (num(r["belum_rekam"]) or 0) < 0,
        }
        for i, r in enumerate(data.desa_top, start=1)
    ]
    return {
        "as_of": fmt_date(data.desa_date),
        "count": fmt_int(data.desa_count),
        "negative": fmt_int(data.desa_negative) if data.desa_negative else None,
        "rows": rows,
    }


# --- 7. desa to visit (outreach priority) -------------------------------------------------


def priority(data: ReportData) -> dict:
    rows = [
        {
            "rank": fmt_int(r["peringkat"]), "name": r["nama_desa"], "kode": r["kode_desa"],
            "kecamatan": r["nama_kecamatan"], "belum": fmt_int(r["belum_rekam"]),
            "neg": (num(r["belum_rekam"]) or 0) < 0, "alasan": r["alasan"],
            "visit": fmt_date(r["jemput_bola_terakhir"]) if r["jemput_bola_terakhir"] is not None else None,
            "days": fmt_int(r["hari_sejak_jemput_bola"]),
            "open": fmt_int(r["permohonan_terbuka"]) if (num(r["permohonan_terbuka"]) or 0) > 0 else None,
            "since": fmt_date(r["permohonan_tertua"]),
        }
        for r in data.priority_top
    ]
    return {
        "as_of": fmt_date(data.priority_date), "count": fmt_int(data.priority_count),
        "open": fmt_int(data.priority_open), "has_alasan": data.has_alasan, "rows": rows,
    }


# --- 8. village requests waiting --------------------------------------------------------------


def requests(data: ReportData) -> dict:
    names = data.kecamatan_names
    rows = [
        {
            "daftar": fmt_date(r["tanggal_daftar"]), "surat": fmt_date(r["tanggal_surat"]), "nomor": r["nomor_surat"],
            "desa": r["nama_desa"], "kode": r["kode_desa"],
            "kecamatan": names.get(r["kode_kecamatan"]) or r["kode_kecamatan"],
            "hari": fmt_int(r["hari_menunggu"]), "warga": fmt_int(r["perkiraan_warga"]),
        }
        for r in data.requests_waiting
    ]
    hidden = data.requests_open - len(rows)
    return {
        "open": fmt_int(data.requests_open), "served": fmt_int(data.requests_served), "rows": rows,
        "more": f"… dan {fmt_int(hidden)} permohonan lain yang menunggu lebih singkat" if hidden > 0 else "",
    }


# --- 9. kecamatan whose office device may have stopped ----------------------------------------


def service(data: ReportData) -> dict:
    rows = [
        {
            "name": r["nama_kecamatan"], "kode": r["kode_kecamatan"],
            "last": fmt_date(r["rekam_kecamatan_terakhir"]) if r["rekam_kecamatan_terakhir"] is not None else None,
            "days": fmt_int(r["hari_kerja_tanpa_rekam"]), "devices": fmt_int(r["perangkat_aktif_7h"]),
        }
        for r in data.service_flagged
    ]
    return {"as_of": fmt_date(data.service_date), "count": fmt_int(data.service_count),
            "flagged": fmt_int(len(rows)), "rows": rows}


# --- 10. silent devices -----------------------------------------------------------------------


def devices(data: ReportData) -> dict:
    names = data.kecamatan_names
    rows = [
        {
            "id": r["id_alat"], "kode": r["kode_kecamatan"], "kecamatan": names.get(r["kode_kecamatan"]),
            "last": fmt_date(r["terakhir_aktif"]), "days": fmt_int(r["hari_diam"]),
        }
        for r in data.devices_silent
    ]
    hidden = data.devices_silent_count - len(rows)
    return {
        "as_of": fmt_date(data.devices_date), "count": fmt_int(data.devices_count),
        "silent": fmt_int(data.devices_silent_count), "rows": rows,
        "more": f"… dan {fmt_int(hidden)} alat lain yang diam lebih singkat" if hidden > 0 else "",
    }


# --- 11. feedback files for the kecamatan -----------------------------------------------------


def feedback(info: dict, names: dict[str, str], href: str = FEEDBACK_HREF) -> dict:
    """The feedback files grouped by kecamatan (by code), newest first, FEEDBACK_PER_KECAMATAN
    linked per kecamatan (``href``: the feedback folder seen from the page). Names the pipeline
    does not write are counted, never linked."""
    files = info.get("files")
    files = list(files) if isinstance(files, (list, tuple)) else []
    by_kecamatan: dict[str, set[str]] = {}
    unknown = 0
    for name in files:
        kode, _, day = str(name).partition("/")
        if FEEDBACK_KECAMATAN.fullmatch(kode) and FEEDBACK_FILE.fullmatch(day):
            by_kecamatan.setdefault(kode, set()).add(day.removesuffix(".csv"))
        else:
            unknown += 1
    groups = []
    for kode in sorted(by_kecamatan):
        days = sorted(by_kecamatan[kode], reverse=True)
        hidden = len(days) - FEEDBACK_PER_KECAMATAN
        groups.append({
            "kode": kode, "name": names.get(kode), "count": fmt_int(len(days)),
            "links": [{"day": d, "href": f"{href}{kode}/{d}.csv"} for d in days[:FEEDBACK_PER_KECAMATAN]],
            "more": f"… dan {fmt_int(hidden)} file lebih lama" if hidden > 0 else "",
        })
    linked = sum(len(days) for days in by_kecamatan.values())
    written, removed = info.get("written"), info.get("removed")
    return {
        "from_folder": info.get("source") == "folder",
        "folder": info.get("folder"),
        "total": fmt_int(linked),
        "written": fmt_int(written) if num(written) is not None else None,
        "removed": fmt_int(removed) if num(removed) is not None else None,
        "ignored": fmt_int(unknown) if unknown else None,
        "groups": groups,
    }


# --- run summary --------------------------------------------------------------------------


@dataclass
class Node:
    """A value of the run summary, shaped for templates/value.html.j2.

    kind: 'text' (`text`), 'none' (an empty list or dict), 'counts' (`items`: key and scalar
    node pairs, shown as chips), 'chips' (`items`: scalar nodes), 'kv' (`items`: key and node
    pairs, a two-column table), 'table' (`keys` and `items`: one list of nodes per row) or
    'list' (`items`: nodes). `more` says how many entries were cut.
    """

    kind: str
    text: str = ""
    items: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    more: str = ""


def run_rows(summary: dict) -> list[tuple[str, Node]]:
    """(label, value) per key of the run summary, in its order; backlog_change with its sign."""
    out = []
    for key, value in summary.items():
        shown = fmt_signed(value) if key == "backlog_change" else value
        if key in SHORT_RUN_VALUES and isinstance(value, dict):
            shown = SHORT_RUN_VALUES[key](value)
        out.append((RUN_LABELS.get(str(key), str(key)), value_node(shown)))
    return out


def _outreach_counts(value: dict) -> dict:
    """The run summary's "outreach" (flows.orchestration.run.outreach) in short: sections 7-10 show the lists."""
    out = {"permohonan menunggu": value.get("open_requests")}
    ambang = value.get("ambang")
    silent_days = ambang.get("hari_diam_alat") if isinstance(ambang, dict) else None
    silent = f"alat diam ≥ {fmt_int(silent_days)} hari" if isinstance(silent_days, int) else "alat diam"
    for key, label in (("flagged", "kecamatan diduga alat rusak"), ("silent", silent)):
        if isinstance(value.get(key), (list, tuple)):
            out[label] = len(value[key])
    return out


def _feedback_counts(value: dict) -> dict:
    """The run summary's "feedback" in short: section 11 links the files."""
    files = value.get("files")
    return {"file": len(files) if isinstance(files, (list, tuple)) else None,
            "ditulis": value.get("written"), "dihapus": value.get("removed")}


SHORT_RUN_VALUES = {"outreach": _outreach_counts, "feedback": _feedback_counts}


def value_node(value: Any, depth: int = 0) -> Node:
    if value is None:
        return Node("text", "—")
    if isinstance(value, bool):
        return Node("text", "ya" if value else "tidak")
    if isinstance(value, (int, float, Decimal, dt.date)):
        return Node("text", fmt_value(value))
    if depth > 2:
        return Node("text", str(value))
    if isinstance(value, dict):
        return _dict_node(value, depth) if value else Node("none")
    if isinstance(value, (list, tuple)):
        return _list_node(list(value), depth) if value else Node("none")
    return Node("text", str(value))


def _dict_node(value: dict, depth: int) -> Node:
    items = list(value.items())
    kind = "counts" if all(_is_scalar(v) for _, v in items) else "kv"
    shown = [(k, value_node(v, depth + 1)) for k, v in items[:MAX_LIST_ROWS]]
    return Node(kind, items=shown, more=_more(len(items)))


def _list_node(value: list, depth: int) -> Node:
    shown = value[:MAX_LIST_ROWS]
    more = _more(len(value))
    if all(_is_scalar(v) for v in shown):
        return Node("chips", items=[value_node(v, depth + 1) for v in shown], more=more)
    if all(isinstance(v, dict) for v in shown):
        keys: list[Any] = []
        for v in shown:
            keys += [k for k in v if k not in keys]
        rows = [[value_node(v.get(k), depth + 1) for k in keys] for v in shown]
        return Node("table", items=rows, keys=keys, more=more)
    return Node("list", items=[value_node(v, depth + 1) for v in shown], more=more)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, Decimal, dt.date))


def _more(total: int) -> str:
    return f"… dan {fmt_int(total - MAX_LIST_ROWS)} lainnya" if total > MAX_LIST_ROWS else ""
