"""``ektp query``: analysts' SQL against the analysts' copy, in a sandbox (contract section 5).

The copy is opened read-only with external access off and the configuration locked, so SQL
cannot read or write a file (``read_csv``, ``read_text``, ``glob``, ``COPY ... TO``, ``EXPORT``),
attach another database (the writer's file included), install or load an extension, or ``SET``
its way out. A memory limit, a thread limit and a time limit (the query is interrupted after
``Settings.query_timeout_seconds``) keep a runaway cross join from starving a nightly run on the
same machine. Results are streamed: CSV and JSON write every row as it comes; the table format
shows the first MAX_TABLE_ROWS rows.

In: settings, the SQL text, an output stream. Out: rows written. Fails with UserError (one line).
"""

from __future__ import annotations

import csv
import io
import json
import threading
from typing import TextIO

import duckdb
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.errors import UserError
from flows.escape import terminal
from flows.settings import Settings

FETCH_ROWS = 10_000
MAX_TABLE_ROWS = 10_000


def sandbox_config(settings: Settings) -> dict:
    """DuckDB configuration of an analyst's connection (DuckDB's "Securing DuckDB" guidance)."""
    return {
        "enable_external_access": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": settings.query_memory_limit,
        "threads": settings.query_threads,
        "lock_configuration": True,
    }


def open_sandbox(settings: Settings) -> duckdb.DuckDBPyConnection:
    path = settings.published_path
    if not path.exists():
        raise UserError(f"No analysts' copy at {path}: run `ektp run` (or `ektp demo`) first.")
    try:
        return duckdb.connect(str(path), read_only=True, config=sandbox_config(settings))
    except duckdb.Error as exc:
        raise UserError(f"The analysts' copy {path} cannot be opened: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_query(settings: Settings, sql: str, out: TextIO, fmt: str = "table") -> int:
    """Run ``sql`` in the sandbox and write the result to ``out``; returns the number of rows."""
    con = open_sandbox(settings)
    timer = threading.Timer(settings.query_timeout_seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        try:
            cur = con.execute(sql)
            if cur.description is None:
                return 0
            cols = [d[0] for d in cur.description]
            return _write(cur, cols, out, fmt)
        except duckdb.InterruptException:
            raise UserError(f"query stopped after {settings.query_timeout_seconds:g} s (the analysts' time limit, "
                            "EKTP_QUERY_TIMEOUT); narrow it, or ask an operator to raise the limit.") from None
        except duckdb.Error as exc:
            raise UserError(f"query failed: {_first_line(exc)}") from None
    finally:
        timer.cancel()
        con.close()


def _batches(cur):
    while True:
        rows = cur.fetchmany(FETCH_ROWS)
        if not rows:
            return
        yield rows


def _write(cur, cols: list[str], out: TextIO, fmt: str) -> int:
    n = 0
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols)
        for rows in _batches(cur):
            w.writerows(rows)
            n += len(rows)
        return n
    if fmt == "json":
        out.write("[")
        for rows in _batches(cur):
            for r in rows:
                out.write(("," if n else "") + "\n " + json.dumps(dict(zip(cols, r)), default=str, ensure_ascii=False))
                n += 1
        out.write("\n]\n")
        return n
    shown: list[tuple] = []
    for rows in _batches(cur):
        room = MAX_TABLE_ROWS - len(shown)
        shown.extend(rows[:room])
        n += len(rows)
    out.write(format_table(cols, shown) + "\n")
    if n > len(shown):
        out.write(f"(the first {len(shown):,} of {n:,} rows are shown; use --format csv for all)\n")
    return n


def _cell(v) -> Text:
    if v is None:
        return Text("")
    if isinstance(v, int) and not isinstance(v, bool):
        return Text(f"{v:,}")
    if isinstance(v, float):
        return Text(f"{v:,.2f}")
    return Text(terminal(str(v)))        # never markup, never a control sequence


def format_table(cols: list[str], rows: list[tuple]) -> str:
    """A plain-text table (rich): numbers right-aligned with thousands separators, then the row count."""
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) for i in range(len(cols))]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style=None)
    for name, right in zip(cols, numeric):
        table.add_column(Text(terminal(name)), justify="right" if right else "left", no_wrap=True)
    for r in rows:
        table.add_row(*[_cell(v) for v in r])
    buf = io.StringIO()
    Console(file=buf, width=100_000, no_color=True, highlight=False, markup=False, emoji=False).print(table)
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines()]
    return "\n".join(lines + [f"({len(rows):,} row{'s' if len(rows) != 1 else ''})"])
