"""``ektp query``: analysts' SQL against the analysts' copy, in a sandbox (contract section 5).

Opening. The copy is opened once, by a file descriptor (``O_NOFOLLOW``): a symbolic link is
refused, so is anything but a regular file, and DuckDB is handed that descriptor's file (checked
afterwards to be the very file DuckDB holds), so nothing can be swapped in between a check and
the open. Before any SQL of the user runs, the catalog is read (``system.main.duckdb_columns()``,
which a macro in the file cannot shadow): a copy holding a table or view the publisher would not
publish (``flows.publish``: the ``mart`` schema, the relations of ``PUBLISHED``) or a column of
``FORBIDDEN_COLUMNS`` (a row per person or per recording) is refused, whatever its name, so a data
directory pointed at the writer's file (a link or a copy) cannot turn the sandbox into a way round it.

The copy is opened read-only with external access off, no temporary directory (no spill folder a
query could write to or list: a query that would spill fails at the memory limit) and the
configuration locked, so SQL
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
import errno
import io
import json
import os
import stat
import threading
from pathlib import Path
from typing import TextIO

import duckdb
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.errors import UserError
from flows.escape import terminal
from flows.publish import FORBIDDEN_COLUMNS, PUBLISHED, PUBLISHED_SCHEMAS
from flows.settings import Settings

FETCH_ROWS = 10_000
MAX_TABLE_ROWS = 10_000


def sandbox_config(settings: Settings) -> dict:
    """DuckDB configuration of an analyst's connection (DuckDB's "Securing DuckDB" guidance)."""
    return {
        "enable_external_access": False,
        "temp_directory": "",       # no spill folder: nothing a query could write to or list
        # allowed_directories stays empty (its default; DuckDB refuses it in a connect config)
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": settings.query_memory_limit,
        "threads": settings.query_threads,
        "lock_configuration": True,
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_once(path: Path) -> int:
    """A read-only descriptor of the copy itself: never through a link, never a FIFO or device."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UserError(f"No analysts' copy at {path}: run `ektp run` (or `ektp demo`) first.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(f"The analysts' copy {path} is a symbolic link; `ektp query` opens only the file "
                            "a run published there, never a link (run `ektp run` to republish it).") from None
        raise UserError(f"The analysts' copy {path} cannot be opened: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"The analysts' copy {path} is not a regular file; `ektp query` refuses it.")
    return fd


def _check_same_file(con: duckdb.DuckDBPyConnection, fd: int, path: Path) -> None:
    """DuckDB resolves the descriptor's path and opens it again: make sure it holds our file."""
    if not os.path.isdir("/proc/self/fd"):
        return
    [(db_path,)] = con.execute("select path from system.main.duckdb_databases() "
                               "where database_name not in ('system', 'temp')").fetchall()
    ours = os.fstat(fd)
    held = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) != fd and os.readlink(f"/proc/self/fd/{name}") == db_path:
                held.append(os.stat(f"/proc/self/fd/{name}"))
        except (OSError, ValueError):
            continue
    if not held or any((s.st_dev, s.st_ino) != (ours.st_dev, ours.st_ino) for s in held):
        raise UserError(f"The analysts' copy {path} was replaced while it was opened; try again.")


def person_level_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and views of the open database that the analysts' copy may not hold: those with a
    person-level column (first), then any other the publisher would not publish (flows.publish)."""
    rows = con.execute("""select schema_name, table_name, column_name from system.main.duckdb_columns()
                          where database_name not in ('system', 'temp')
                          union all select schema_name, table_name, null from system.main.duckdb_tables()
                          where database_name not in ('system', 'temp')
                          union all select schema_name, view_name, null from system.main.duckdb_views()
                          where database_name not in ('system', 'temp') and not internal""").fetchall()
    personal = {f"{s}.{t}" for s, t, c in rows if (c or "").lower() in FORBIDDEN_COLUMNS}
    unknown = {f"{s}.{t}" for s, t, _ in rows if s not in PUBLISHED_SCHEMAS and f"{s}.{t}" not in PUBLISHED}
    return sorted(personal) + sorted(unknown - personal)


def open_sandbox(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The sandboxed connection to the analysts' copy, after the checks above; UserError otherwise."""
    path = settings.published_path
    fd = _open_once(path)
    try:
        try:
            con = duckdb.connect(f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else f"/dev/fd/{fd}",
                                 read_only=True, config=sandbox_config(settings))
        except duckdb.Error as exc:
            raise UserError(f"The analysts' copy {path} cannot be opened: {_first_line(exc)}") from None
        try:
            _check_same_file(con, fd, path)
            bad = person_level_relations(con)
        except BaseException:
            con.close()
            raise
        if bad:
            con.close()
            shown = ", ".join(terminal(r) for r in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise UserError(f"The analysts' copy {path} holds relations with a row per person or per recording "
                            f"({shown}); `ektp query` refuses it (is the data directory pointed at the writer's "
                            "file?). Run `ektp run` to republish the copy.")
        return con
    finally:
        os.close(fd)


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
