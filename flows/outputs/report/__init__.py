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

import os
import threading
from collections import deque
from pathlib import Path

import duckdb

from flows.files import atomic_write
from flows.outputs.report.data import KODE_KABUPATEN, AreaQueries, ReportData, feedback_in_folder, load_report_data
from flows.outputs.report.format import fmt_date, fmt_dec, fmt_int, fmt_pct, fmt_signed
from flows.outputs.report.render import DEFAULT_TITLE, WIB, environment, escape_value, harden, render_report
from flows.outputs.runsummary import RunSummary

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
    "kabupaten_page",
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
    elsewhere=None,
) -> Path:
    """Render the marts in `con` (plus an optional run summary) to the area's page at `out_path`
    and, when the area has more than one kab/kota, one page per kab/kota at
    `out_path.parent / "report" / (kode_kabupaten + ".html")` (the page a single regency gets, filtered
    to it; the area's page leads with their table and links them).

    Writes each page atomically (temp file in the same folder, then os.replace; mode 644; the
    folder report/ mode 755) and returns the area page's path. Raises ValueError when a mart table
    exists but lacks a contract column; OSError when a file cannot be written. Missing or empty
    marts are not errors: the page says so.

    The run section lists `run_summary` (the run's `RunSummary`, or its plain form); the feedback
    section links the files of its feedback; without it (a page rewritten by `ektp restore`), the
    files found in `out_path.parent.parent / "feedback"`.

    ``elsewhere``: another process that renders kab/kota pages from the same analysts' copy while
    this one renders the others (``page(kode, run_summary, feedback) -> bool``, ``close()``; the
    pipeline's companion process). A page it could not write is written here.
    """
    out_path = Path(out_path)
    run_summary = plain_summary(run_summary)
    queries = AreaQueries(con)        # asked once for the area page and the pages of its kab/kota
    data = load_report_data(con, queries=queries)
    feedback = None
    if not (run_summary and run_summary.get("feedback") is not None):
        folder = out_path.absolute().parent.parent / "feedback"
        found = feedback_in_folder(folder)
        feedback = {"files": found, "folder": str(folder), "source": "folder"} if found is not None else None
    elif isinstance(run_summary.get("feedback"), dict):
        feedback = run_summary["feedback"]
    todo = deque(r["kode_kabupaten"] for r in data.kabupaten_rows)
    helper = _PagesElsewhere(elsewhere, todo, run_summary, feedback) if elsewhere is not None and len(todo) > 1 else None
    page = render_report(data, run_summary=run_summary, title=title, feedback=feedback)
    for kode in _taken(todo.popleft):
        _write_kabupaten_page(con, queries, out_path, kode, run_summary, feedback)
    for kode in helper.finish() if helper is not None else ():   # pages the other side could not write
        _write_kabupaten_page(con, queries, out_path, kode, run_summary, feedback)
    atomic_write(out_path, page, 0o644)
    return out_path


def _write_kabupaten_page(con, queries: AreaQueries, out_path: Path, kode: str, run_summary: dict | None,
                          feedback: dict | None) -> None:
    one = load_report_data(con, kode, queries=queries)
    page_of_one = render_report(one, run_summary=run_summary, feedback=_feedback_of(feedback, kode))
    atomic_write(kabupaten_page(out_path, kode), page_of_one, 0o644)
    os.chmod(out_path.parent / KABUPATEN_DIR, 0o755)


def _taken(take):
    """What ``take`` (a deque's ``popleft`` or ``pop``: atomic) gives until the queue is empty,
    when both ends of it are emptied at once by two threads."""
    while True:
        try:
            yield take()
        except IndexError:
            return


class _PagesElsewhere:
    """A thread that hands kab/kota pages, from the end of the shared queue, to ``elsewhere`` (an
    object with ``page(kode, run_summary, feedback) -> bool`` and ``close()``: the companion
    process) while this thread takes them from the front. ``finish()`` waits for it and returns
    the pages it could not have written there."""

    def __init__(self, elsewhere, todo: deque, run_summary: dict | None, feedback: dict | None) -> None:
        self.elsewhere, self.todo, self.failed = elsewhere, todo, []
        self.run_summary, self.feedback = run_summary, feedback
        self.thread = threading.Thread(target=self._run, name="ektp-report-pages", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for kode in _taken(self.todo.pop):
                if not self.elsewhere.page(kode, self.run_summary, _feedback_of(self.feedback, kode)):
                    self.failed.append(kode)
        finally:
            self.elsewhere.close()

    def finish(self) -> list[str]:
        self.thread.join()
        return self.failed


# The companion's side (flows/companion.py): pages of one report from the analysts' copy, the
# connection and the area's shared answers kept from one page to the next of the same report.
_FROM: dict = {}


def warm() -> None:
    """Compile every template now (the companion does this while no job waits: ~0.1 s that would
    otherwise delay its first page)."""
    env = environment()
    for name in env.list_templates(extensions=("j2",)):
        env.get_template(name)


def write_kabupaten_page_from(published: str, out_path: str, report: str, kode_kabupaten: str,
                              run_summary: dict | None, feedback: dict | None) -> None:
    """Write the page of ``kode_kabupaten`` of report ``report`` (a token: one per write_report)
    from the analysts' copy at ``published``, opened read-only once per report."""
    from flows.warehouse.database import connect_reader

    if _FROM.get("report") != report:
        end_pages_from(_FROM.get("report"))
        con = connect_reader(Path(published))
        _FROM.update(report=report, con=con, queries=AreaQueries(con))
    _write_kabupaten_page(_FROM["con"], _FROM["queries"], Path(out_path), kode_kabupaten, run_summary, feedback)


def end_pages_from(report: str | None) -> None:
    """Close the connection of report ``report`` (the analysts' copy is replaced by the next run)."""
    if report is not None and _FROM.get("report") == report:
        _FROM.pop("con").close()
        _FROM.clear()


KABUPATEN_DIR = "report"


def kabupaten_page(area_page: Path, kode_kabupaten: str) -> Path:
    """Where the page of kab/kota ``kode_kabupaten`` is written, beside the area's page."""
    if not KODE_KABUPATEN.fullmatch(kode_kabupaten):
        raise ValueError("not a kab/kota code")
    return Path(area_page).parent / KABUPATEN_DIR / f"{kode_kabupaten}.html"


def _feedback_of(feedback: dict | None, kode_kabupaten: str) -> dict | None:
    """The feedback files of one kab/kota's kecamatan (``KODE_KECAMATAN/YYYY-MM-DD.csv``)."""
    if not isinstance(feedback, dict) or not isinstance(feedback.get("files"), (list, tuple)):
        return feedback
    return {**feedback, "files": [f for f in feedback["files"] if str(f).startswith(kode_kabupaten + ".")]}
