"""The run report as Markdown (the Prefect artifact): counts and codes only, no NIK or name."""

from __future__ import annotations

from pathlib import Path


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, int) else str(x)


def run_markdown(summary: dict, report_path: Path | None = None) -> str:
    s = summary
    lines = [f"# e-KTP run {s['run_id']}", "",
             f"Log dates up to **{s['last_date']}**.", ""]
    b = s.get("backlog")
    if b:
        change = s.get("backlog_change")
        ch = "" if change is None else f" ({'+' if change > 0 else ''}{change:,} since the previous run)"
        lines += ["## Regency backlog", "",
                  "| as of | wajib KTP | sudah rekam | belum rekam | % rekam |", "|---|---:|---:|---:|---:|",
                  f"| {b['as_of_date']} | {_n(b['wajib_ktp'])} | {_n(b['sudah_rekam'])} | {_n(b['belum_rekam'])}{ch} | {b['pct_rekam']} |", ""]
    lines += ["## Files", "",
              "| loaded | rejected | replaced | unchanged | rows loaded | rows quarantined |", "|---:|---:|---:|---:|---:|---:|",
              f"| {_n(s['files_loaded'])} | {_n(s['files_rejected'])} | {_n(s['files_replaced'])} | {_n(s['files_unchanged'])} "
              f"| {_n(s['rows_loaded'])} | {_n(s['rows_quarantined'])} |", ""]
    if s.get("rejected_files"):
        lines += ["### Rejected files", "", "| file | reason |", "|---|---|"]
        lines += [f"| `{r['source_file']}` | {r['error']} |" for r in s["rejected_files"][:50]]
        if len(s["rejected_files"]) > 50:
            lines.append(f"| … | {len(s['rejected_files']) - 50} more |")
        lines.append("")
    if s.get("quarantine_by_reason"):
        lines += ["### Quarantined rows by reason", "", "| reason | rows |", "|---|---:|"]
        lines += [f"| {k} | {_n(v)} |" for k, v in s["quarantine_by_reason"].items()]
        lines.append("")
    if s.get("quarantine_by_kecamatan"):
        lines += ["### Quarantined rows by kecamatan (of the log)", "", "| kecamatan | rows |", "|---|---:|"]
        lines += [f"| {k} | {_n(v)} |" for k, v in s["quarantine_by_kecamatan"].items()]
        lines.append("")
    missing = s.get("missing_logs_on_last_date") or []
    lines += [f"## Kecamatan without a log on {s['last_date']}", "",
              (", ".join(missing) if missing else "None: every kecamatan sent its log."), ""]
    if s.get("data_problems"):
        lines += ["## Data problems", ""] + [f"- {k}: {v} row(s)" for k, v in s["data_problems"].items()] + [""]
    if report_path is not None:
        lines += [f"Report page: [{report_path}]({report_path.as_uri()})", ""]
    return "\n".join(lines)
