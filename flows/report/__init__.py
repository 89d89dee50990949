"""Static HTML report of the marts: one self-contained page that works offline from file://.

`write_report(con, out_path)` reads the marts from an open DuckDB connection and writes one
UTF-8 HTML page (inline CSS, charts as inline SVG; no JavaScript, no external URL, no font or
image to fetch) atomically. Empty or absent marts give a page that says there is no data yet.
See docs/report.md for what each section shows and which columns it uses.

The package, by concern:

- `data`: the queries (`load_report_data` -> `ReportData`);
- `format`: Indonesian numbers, percentages and dates (`fmt_int`, `fmt_pct`, ...);
- `charts`: the charts' geometry as plain data;
- `views`: what each section shows, as plain values;
- `render`: the Jinja2 environment (autoescape on, `escape_value` on every interpolated value)
  and `render_report`;
- `templates/`: the page, its sections, the SVG charts and the CSS.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from flows.files import atomic_write
from flows.runsummary import RunSummary
from flows.report.data import ReportData, feedback_in_folder, load_report_data
from flows.report.format import fmt_date, fmt_dec, fmt_int, fmt_pct, fmt_signed
from flows.report.render import DEFAULT_TITLE, WIB, environment, escape_value, harden, render_report

__all__ = [
    "DEFAULT_TITLE",
    "WIB",
    "ReportData",
    "environment",
    "escape_value",
    "feedback_in_folder",
    "fmt_date",
    "fmt_dec",
    "fmt_int",
    "fmt_pct",
    "fmt_signed",
    "harden",
    "load_report_data",
    "render_report",
    "write_report",
]


def plain_summary(summary: RunSummary | dict | None) -> dict | None:
    """The run summary as the page lists it: its plain form, without the page's own path."""
    if isinstance(summary, RunSummary):
        return {k: v for k, v in summary.to_dict().items() if k != "report"}
    return summary


def write_report(
    con: duckdb.DuckDBPyConnection,
    out_path: Path,
    *,
    run_summary: RunSummary | dict | None = None,
    title: str | None = None,
) -> Path:
    """Render the marts in `con` (plus an optional run summary) to one HTML file at `out_path`.

    Writes atomically (temp file in the same folder, then os.replace; mode 644) and returns the
    path. Raises ValueError when a mart table exists but lacks a contract column; OSError when
    the file cannot be written. Missing or empty marts are not errors: the page says so.

    The run section lists `run_summary` (the run's `RunSummary`, or its plain form); the feedback
    section links the files of its feedback; without it (a page rewritten by `ektp restore`), the
    files found in `out_path.parent.parent / "feedback"`.
    """
    out_path = Path(out_path)
    run_summary = plain_summary(run_summary)
    data = load_report_data(con)
    feedback = None
    if not (run_summary and run_summary.get("feedback") is not None):
        folder = out_path.absolute().parent.parent / "feedback"
        found = feedback_in_folder(folder)
        feedback = {"files": found, "folder": str(folder), "source": "folder"} if found is not None else None
    page = render_report(data, run_summary=run_summary, title=title, feedback=feedback)
    atomic_write(out_path, page, 0o644)
    return out_path
