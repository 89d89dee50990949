"""Plain-text summaries for the operator's terminal: what a run did, and the regency's figures.

In: a run summary (``flows.outputs.runsummary.RunSummary``, built by ``flows.orchestration.run.finish_run``) or an open connection to the analysts' copy. Out:
lines of text, every value from a file escaped for a terminal. The area's figures (the
regency's, for one kab/kota) come from ``mart.backlog_wilayah`` (``flows.orchestration.run.regency_backlog``),
the one place they are computed; its name from the region dimension ``core.kabupaten``.
"""

from __future__ import annotations

from datetime import date

import duckdb

from flows.escape import terminal
from flows.outputs.runsummary import Backlog, Outreach, RunSummary, at_least, kabupaten_lines, regency_backlog
from flows.settings import Settings

CHANNELS = ("DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA")
MAX_REJECTED_SHOWN = 20


def run_lines(s: RunSummary, settings: Settings) -> list[str]:
    """What `ektp run`, `backfill` and `demo` print after a run."""
    lines = [f"Run {s.run_id}: log dates up to {s.last_date}",
             f"  files: {s.files_loaded:,} loaded, {s.files_rejected:,} rejected, "
             f"{s.files_replaced:,} replaced an earlier version, {s.files_unchanged:,} unchanged",
             f"  rows:  {s.rows_loaded:,} loaded, {s.rows_quarantined:,} quarantined"]
    if s.upgrade:
        lines.append("  warehouse upgraded to version 3: " + ", ".join(f"{k} {v:,}" for k, v in s.upgrade.items()))
    if s.key_warning:
        lines.append(f"  {s.key_warning}")
    if s.quarantine_by_reason:
        lines.append("  quarantined by reason: " + ", ".join(f"{k} {v:,}" for k, v in s.quarantine_by_reason.items()))
    rejected = s.rejected_files
    lines += [f"  rejected {terminal(r.source_file)}: {terminal(r.error)}" for r in rejected[:MAX_REJECTED_SHOWN]]
    if len(rejected) > MAX_REJECTED_SHOWN:
        lines.append(f"  ... and {len(rejected) - MAX_REJECTED_SHOWN} more rejected file(s) (see audit.file_loads)")
    if any("#" in r.source_file for r in rejected):
        lines.append("  (files rejected for their name are shown hashed; `ektp rejects` lists their local paths)")
    lines += backlog_lines(s)
    if s.data_problems:
        lines.append("  data problems: " + ", ".join(f"{k} ({v})" for k, v in s.data_problems.items()))
    lines += outreach_lines(s.outreach)
    fb = s.feedback
    if fb and fb.files:
        lines.append(f"  feedback for the kecamatan: {len(fb.files):,} file(s) in {fb.folder} "
                     f"({fb.written:,} written, {fb.removed:,} removed by this run)")
    lines.append(f"  analysts read {settings.published_path}; report {settings.report_path}")
    return lines


def backlog_lines(s: RunSummary) -> list[str]:
    """The area's backlog (the regency's for one kab/kota) and, when the area has several kab/kota,
    one line for each (``s.kabupaten``, from mart.backlog_kabupaten at the same date)."""
    b = s.backlog
    if not b:
        return []
    ch = s.backlog_change
    change = f"; {'+' if ch > 0 else ''}{ch:,} since the previous run" if ch is not None else ""
    label = f"area backlog ({len(s.kabupaten)} kab/kota)" if s.kabupaten else "backlog"
    lines = [f"  {label} as of {b.as_of_date}: {_counts(b)}{change}"]
    lines += [f"    {k.kode_kabupaten} {terminal(k.nama_kabupaten)}: {_counts(k.backlog)}" for k in s.kabupaten]
    return lines


def _counts(b: Backlog) -> str:
    return (f"wajib KTP {b.wajib_ktp:,}, sudah rekam {b.sudah_rekam:,}, "
            f"belum rekam {b.belum_rekam:,} ({_pct(b.pct_rekam)} %)")


def outreach_lines(o: Outreach) -> list[str]:
    """What to do next, in a few lines (flows.orchestration.run.outreach)."""
    lines = []
    if o.priority:
        lines.append("  visit first: " + "; ".join(f"{p['peringkat']}. {terminal(p['nama_desa'])} ({terminal(p['nama_kecamatan'])})"
                                                   for p in o.priority))
    if o.open_requests and o.waiting:
        oldest = o.waiting[0]
        lines.append(f"  village requests waiting: {o.open_requests:,}; longest {terminal(oldest['nama_desa'])} "
                     f"since {oldest['tanggal_daftar']} ({oldest['hari_menunggu']} days)")
    if o.flagged:
        lines.append(f"  device suspected broken ({at_least(o, 'hari_kerja_alat_rusak')} working days without a KECAMATAN recording): "
                     + ", ".join(f"{terminal(k['nama_kecamatan'])} ({k['hari_kerja_tanpa_rekam']})" for k in o.flagged))
    if o.silent:
        lines.append(f"  devices silent {at_least(o, 'hari_diam_alat')} days: {len(o.silent):,}")
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def regency_text(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """The regency summary at ``as_of`` (the demo prints it): backlog, largest backlog, channels,
    missing logs."""
    regency = regency_backlog(con, as_of)
    w, s, b, pct = regency.wajib_ktp, regency.sudah_rekam, regency.belum_rekam, regency.pct_rekam
    top = con.execute("""select nama_kecamatan, belum_rekam, pct_rekam from mart.backlog_kecamatan
                         where as_of_date = ? order by belum_rekam desc limit 1""", [as_of]).fetchone()
    channels = con.execute("""select sum(rekam_dinas), sum(rekam_kecamatan), sum(rekam_jemput_bola),
                                     sum(rekam_sekolah), sum(rekam_lainnya), sum(rekam_baru)
                              from mart.participation_trend where tanggal <= ?""", [as_of]).fetchone()
    missing = con.execute("""select nama_kecamatan, count(*) as days from mart.log_completeness
                             where status = 'missing' and tanggal <= ? group by all order by days desc, 1""",
                          [as_of]).fetchall()
    names = [r[0] for r in con.execute("select nama_kabupaten from core.kabupaten order by kode_kabupaten").fetchall()]
    area = ", ".join(names) if len(names) <= 2 else f"The area ({len(names)} kab/kota)"
    lines = [f"{area}, as of {as_of}:",
             f"  wajib KTP   {w:>9,}", f"  sudah rekam {s:>9,}", f"  belum rekam {b:>9,} ({pct:.2f} %)"]
    per_kab = kabupaten_lines(con, as_of)
    if per_kab:
        lines.append("Per kab/kota (wajib KTP, sudah rekam, belum rekam, % rekam):")
        lines += [f"  {k.kode_kabupaten} {terminal(k.nama_kabupaten)}: {k.backlog.wajib_ktp:,}, {k.backlog.sudah_rekam:,}, "
                  f"{k.backlog.belum_rekam:,} ({_pct(k.backlog.pct_rekam)} %)" for k in per_kab]
    if top:
        lines.append(f"Largest backlog: Kecamatan {top[0]}, {top[1]:,} belum rekam ({top[2]:.2f} % recorded)")
    total = channels[5] or 0
    if total:
        lines.append("New recordings by channel: " + ", ".join(
            f"{n} {100.0 * (v or 0) / total:.1f} %" for n, v in zip(CHANNELS, channels[:5])) + f" (of {total:,})")
    if missing:
        lines.append("Kecamatan with missing logs (days): " + ", ".join(f"{n} {d}" for n, d in missing))
    else:
        lines.append("No kecamatan missed a log.")
    return "\n".join(lines)
