"""The run report as Markdown (the Prefect artifact): counts and codes only, no NIK or name.
Every text value is Markdown-escaped (flows.escape), so no value can become a link, an image or
markup."""

from __future__ import annotations

from pathlib import Path

from flows.escape import markdown as md


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, int) else md(x)


def run_markdown(summary: dict, report_path: Path | None = None) -> str:
    s = summary
    lines = [f"# e-KTP run {md(s['run_id'])}", "",
             f"Log dates up to **{md(s['last_date'])}**.", ""]
    b = s.get("backlog")
    if b:
        change = s.get("backlog_change")
        ch = "" if change is None else f" ({'+' if change > 0 else ''}{change:,} since the previous run)"
        lines += ["## Regency backlog", "",
                  "| as of | wajib KTP | sudah rekam | belum rekam | % rekam |", "|---|---:|---:|---:|---:|",
                  f"| {md(b['as_of_date'])} | {_n(b['wajib_ktp'])} | {_n(b['sudah_rekam'])} | {_n(b['belum_rekam'])}{ch} "
                  f"| {md(b['pct_rekam'])} |", ""]
    lines += ["## Files", "",
              "| loaded | rejected | replaced | unchanged | rows loaded | rows quarantined |", "|---:|---:|---:|---:|---:|---:|",
              f"| {_n(s['files_loaded'])} | {_n(s['files_rejected'])} | {_n(s['files_replaced'])} | {_n(s['files_unchanged'])} "
              f"| {_n(s['rows_loaded'])} | {_n(s['rows_quarantined'])} |", ""]
    if s.get("upgrade"):
        lines += ["## Warehouse upgraded to version 2", "",
                  ", ".join(f"{md(k)}: {_n(v)}" for k, v in s["upgrade"].items()), ""]
    if s.get("rejected_files"):
        lines += ["### Rejected files", "", "| file | reason |", "|---|---|"]
        lines += [f"| {md(r['source_file'])} | {md(r['error'])} |" for r in s["rejected_files"][:50]]
        if len(s["rejected_files"]) > 50:
            lines.append(f"| … | {len(s['rejected_files']) - 50} more |")
        lines.append("")
    if s.get("quarantine_by_reason"):
        lines += ["### Quarantined rows by reason", "", "| reason | rows |", "|---|---:|"]
        lines += [f"| {md(k)} | {_n(v)} |" for k, v in s["quarantine_by_reason"].items()]
        lines.append("")
    if s.get("quarantine_by_kecamatan"):
        lines += ["### Quarantined rows by kecamatan (of the log)", "", "| kecamatan | rows |", "|---|---:|"]
        lines += [f"| {md(k)} | {_n(v)} |" for k, v in s["quarantine_by_kecamatan"].items()]
        lines.append("")
    missing = s.get("missing_logs_on_last_date") or []
    lines += [f"## Kecamatan without a log on {md(s['last_date'])}", "",
              (", ".join(md(m) for m in missing) if missing else "None: every kecamatan sent its log."), ""]
    if s.get("data_problems"):
        lines += ["## Data problems", ""] + [f"- {md(k)}: {_n(v)} row(s)" for k, v in s["data_problems"].items()] + [""]
    if report_path is not None:
        lines += [f"Report page: [{md(report_path)}]({report_path.as_uri()})", ""]
    return "\n".join(lines)
