"""The run report as Markdown (the Prefect artifact): counts and codes only, no NIK or name.
Every text value is Markdown-escaped (flows.escape), so no value can become a link, an image or
markup."""

from __future__ import annotations

from pathlib import Path

from flows.escape import markdown as md
from flows.outputs.runsummary import Feedback, Outreach, RunSummary, at_least


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, int) else md(x)


def run_markdown(s: RunSummary, report_path: Path | None = None) -> str:
    """The artifact of the run summary ``s``; ``report_path`` linked at the end when given."""
    lines = [f"# e-KTP run {md(s.run_id)}", "",
             f"Log dates up to **{md(s.last_date)}**.", ""]
    lines += _backlog(s)
    lines += ["## Files", "",
              "| loaded | rejected | replaced | unchanged | rows loaded | rows quarantined |", "|---:|---:|---:|---:|---:|---:|",
              f"| {_n(s.files_loaded)} | {_n(s.files_rejected)} | {_n(s.files_replaced)} | {_n(s.files_unchanged)} "
              f"| {_n(s.rows_loaded)} | {_n(s.rows_quarantined)} |", ""]
    if s.upgrade:
        lines += ["## Warehouse upgraded to version 3", "",
                  ", ".join(f"{md(k)}: {_n(v)}" for k, v in s.upgrade.items()), ""]
    if s.key_warning:
        lines += ["## Weak pseudonym key", "", md(s.key_warning), ""]
    if s.rejected_files:
        lines += ["### Rejected files", "", "| file | reason |", "|---|---|"]
        lines += [f"| {md(r.source_file)} | {md(r.error)} |" for r in s.rejected_files[:50]]
        if len(s.rejected_files) > 50:
            lines.append(f"| … | {len(s.rejected_files) - 50} more |")
        lines.append("")
    if s.quarantine_by_reason:
        lines += ["### Quarantined rows by reason", "", "| reason | rows |", "|---|---:|"]
        lines += [f"| {md(k)} | {_n(v)} |" for k, v in s.quarantine_by_reason.items()]
        lines.append("")
    if s.quarantine_by_kecamatan:
        lines += ["### Quarantined rows by kecamatan (of the log)", "", "| kecamatan | rows |", "|---|---:|"]
        lines += [f"| {md(k)} | {_n(v)} |" for k, v in s.quarantine_by_kecamatan.items()]
        lines.append("")
    missing = s.missing_logs_on_last_date
    lines += [f"## Kecamatan without a log on {md(s.last_date)}", "",
              (", ".join(md(m) for m in missing) if missing else "None: every kecamatan sent its log."), ""]
    if s.data_problems:
        lines += ["## Data problems", ""] + [f"- {md(k)}: {_n(v)} row(s)" for k, v in s.data_problems.items()] + [""]
    lines += _outreach(s.outreach)
    lines += _feedback(s.feedback)
    if report_path is not None:
        lines += [f"Report page: [{md(report_path)}]({report_path.as_uri()})", ""]
    return "\n".join(lines)


def _backlog(s: RunSummary) -> list[str]:
    """The area's backlog (the regency's for one kab/kota); with several kab/kota, one row for each
    and the area's total row."""
    b = s.backlog
    if not b:
        return []
    change = s.backlog_change
    ch = "" if change is None else f" ({'+' if change > 0 else ''}{change:,} since the previous run)"
    if not s.kabupaten:
        return ["## Regency backlog", "",
                "| as of | wajib KTP | sudah rekam | belum rekam | % rekam |", "|---|---:|---:|---:|---:|",
                f"| {md(b.as_of_date)} | {_n(b.wajib_ktp)} | {_n(b.sudah_rekam)} | {_n(b.belum_rekam)}{ch} "
                f"| {md(b.pct_rekam)} |", ""]
    lines = [f"## Area backlog ({len(s.kabupaten)} kab/kota)", "", f"As of {md(b.as_of_date)}.", "",
             "| kode | kab/kota | wajib KTP | sudah rekam | belum rekam | % rekam |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {md(k.kode_kabupaten)} | {md(k.nama_kabupaten)} | {_n(k.backlog.wajib_ktp)} | {_n(k.backlog.sudah_rekam)} "
              f"| {_n(k.backlog.belum_rekam)} | {md(k.backlog.pct_rekam)} |" for k in s.kabupaten]
    lines.append(f"| **Wilayah** | | **{_n(b.wajib_ktp)}** | **{_n(b.sudah_rekam)}** | **{_n(b.belum_rekam)}**{ch} "
                 f"| **{md(b.pct_rekam)}** |")
    return lines + [""]


def _outreach(o: Outreach) -> list[str]:
    """The short version of the report's four outreach sections."""
    lines = []
    if o.priority:
        lines += [f"## Jemput bola: desa to visit first ({md(o.priority[0]['as_of_date'])})", "",
                  "| # | desa | kecamatan | belum rekam | why |", "|---:|---|---|---:|---|"]
        lines += [f"| {p['peringkat']} | {md(p['nama_desa'])} | {md(p['nama_kecamatan'])} | {_n(p['belum_rekam'])} "
                  f"| {md(p['alasan'])} |" for p in o.priority]
        lines.append("")
    if o.waiting:
        lines += [f"## Village requests waiting ({_n(o.open_requests)} open)", "",
                  "| registered | desa | days waiting |", "|---|---|---:|"]
        lines += [f"| {md(w['tanggal_daftar'])} | {md(w['nama_desa'])} | {_n(w['hari_menunggu'])} |" for w in o.waiting]
        lines.append("")
    if o.flagged:
        lines += [f"## Kecamatan device suspected broken ({at_least(o, 'hari_kerja_alat_rusak')} working days "
                  "without a KECAMATAN recording)", "",
                  "| kecamatan | last KECAMATAN recording | working days without |", "|---|---|---:|"]
        lines += [f"| {md(k['nama_kecamatan'])} | {md(k['rekam_kecamatan_terakhir'] or '-')} "
                  f"| {_n(k['hari_kerja_tanpa_rekam'])} |" for k in o.flagged]
        lines.append("")
    if o.silent:
        lines += [f"Devices silent {at_least(o, 'hari_diam_alat')} days: {_n(len(o.silent))} "
                  f"(the longest: {md(o.silent[0]['id_alat'])}, {_n(o.silent[0]['hari_diam'])} days).", ""]
    return lines


MAX_FEEDBACK_LINKS = 50


def _feedback(fb: Feedback | None) -> list[str]:
    """Links to the feedback files of the kecamatan (feedback/<kode>/<date>.csv)."""
    # newest first (<kode>/<YYYY-MM-DD>.csv: by date, then kecamatan)
    files = sorted(fb.files if fb else [], key=lambda rel: (rel.rsplit("/", 1)[-1], rel), reverse=True)
    if not files:
        return []
    folder = Path(fb.folder)
    lines = [f"## Feedback for the kecamatan ({_n(len(files))} file(s))", ""]
    lines += [f"- [{md(rel)}]({(folder / rel).as_uri()})" for rel in files[:MAX_FEEDBACK_LINKS]]
    if len(files) > MAX_FEEDBACK_LINKS:
        lines.append(f"- … and {len(files) - MAX_FEEDBACK_LINKS} older file(s) in {md(folder)}")
    return lines + [""]
