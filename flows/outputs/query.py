"""``ektp query``: analysts' SQL against the analysts' copy, in a sandbox (contract section 5).

Opening. The copy is opened once, by a file descriptor (``O_NOFOLLOW``): a symbolic link is
refused, so is anything but a regular file, and DuckDB is handed that descriptor's file (checked
afterwards, through /proc/self/fd, to be the very file DuckDB holds; on a system without /proc
that re-check is skipped), so nothing can be swapped in between a check and the open. Before
any SQL of the user runs, the catalog is read (``system.main.duckdb_columns()``, which a macro
in the file cannot shadow): a copy holding a table or view the publisher would not
publish (``flows.outputs.publish``: the ``mart`` schema, the relations of ``PUBLISHED``) or a column of
``FORBIDDEN_COLUMNS`` (a row per person or per recording) is refused, whatever its name, so a data
directory pointed at the writer's file (a link or a copy) cannot turn the sandbox into a way round it.

Sandbox. Read-only, external access off, no temporary directory (``temp_directory`` empty: no
spill folder exists a query could write to or list; a query that would spill fails at the memory
limit), nothing in ``allowed_directories``, configuration locked: SQL cannot read or write a file
(``read_csv``, ``read_text``, ``glob``, ``COPY ... TO``, ``EXPORT``), attach another database,
install or load an extension, or ``SET`` its way out. Memory, thread and time limits
(``Settings.query_*``) keep a runaway query from starving a nightly run on the same machine.

Output. Bounded by three settings: rows (``query_max_rows``), bytes of one cell
(``query_max_cell_bytes``) and bytes in all (``query_max_output_bytes``), with one note line on
stderr when anything was cut. The user's query is wrapped so DuckDB itself cuts every text cell
(``left(cast(col as varchar), n)``) and stops after the row cap; rows are fetched in batches of a
few MB, so Python holds little more than one batch. Control characters are escaped in every format
(``flows.escape.terminal``); in CSV a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a leading ``'`` (OWASP, CSV injection). Numbers, booleans and dates stay
values (``-5`` is written as ``-5``): only text cells are neutralised.

In: settings, the SQL text, an output stream, a stream for the note. Out: rows written. Fails with
UserError (one line).
"""

from __future__ import annotations

import csv
import errno
import io
import itertools
import json
import os
import stat
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import duckdb
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.errors import UserError
from flows.escape import terminal
from flows.outputs.publish import FORBIDDEN_COLUMNS, PUBLISHED, PUBLISHED_SCHEMAS
from flows.settings import Settings

FETCH_ROWS = 10_000
FETCH_BYTES = 8 * 1024 * 1024        # at most about this much text per fetched batch
MAX_TABLE_ROWS = 10_000              # the table format shows at most this many rows ...
MAX_TABLE_BYTES = 4 * 1024 * 1024    # ... and about this many bytes (a terminal view; csv/json for more)
VIEW = "ektp_user_query"
# DuckDB types kept as values (fixed size); every other column is cast to text and cut in DuckDB.
VALUE_TYPES = frozenset({"boolean", "tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
                         "uinteger", "ubigint", "uhugeint", "float", "double", "decimal"})
# Text of these types is formatted by DuckDB from a value (never free text): not neutralised in CSV.
FORMATTED_TYPES = frozenset({"date", "time", "time with time zone", "time_ns", "timestamp", "timestamp_s",
                             "timestamp_ms", "timestamp_ns", "timestamp with time zone", "interval", "bignum"})
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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
    person-level column (first), then any other the publisher would not publish (flows.outputs.publish)."""
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


def run_query(settings: Settings, sql: str, out: TextIO, fmt: str = "table", err: TextIO | None = None) -> int:
    """Run ``sql`` in the sandbox and write the bounded result to ``out`` (a note on ``err``,
    default stderr, when it was cut); returns the number of rows written."""
    con = open_sandbox(settings)
    timer = threading.Timer(settings.query_timeout_seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        try:
            rel = con.sql(sql)
            if rel is None:
                return 0
            cut = Cut()
            n = _write(Result(con, rel, settings), out, fmt, cut, settings)
        except duckdb.InterruptException:
            raise UserError(f"query stopped after {settings.query_timeout_seconds:g} s (the analysts' time limit, "
                            "EKTP_QUERY_TIMEOUT); narrow it, or ask an operator to raise the limit.") from None
        except duckdb.Error as exc:
            raise UserError(f"query failed: {_first_line(exc)}") from None
    finally:
        timer.cancel()
        con.close()
    if cut.any():
        print(f"ektp: output cut: {cut.text(settings)}", file=err or sys.stderr)
    return n


# --- bounded results ------------------------------------------------------------------------------

@dataclass
class Cut:
    """What was left out of the output, for the one note line."""
    rows: bool = False
    cells: int = 0
    bytes: bool = False

    def any(self) -> bool:
        return self.rows or self.cells > 0 or self.bytes

    def text(self, s: Settings) -> str:
        parts = []
        if self.rows:
            parts.append(f"only the first {s.query_max_rows:,} rows (EKTP_QUERY_MAX_ROWS)")
        if self.cells:
            parts.append(f"{self.cells:,} cell{'s' if self.cells != 1 else ''} cut to {s.query_max_cell_bytes:,} "
                         "bytes (EKTP_QUERY_MAX_CELL_BYTES)")
        if self.bytes:
            parts.append(f"stopped at {s.query_max_output_bytes:,} bytes (EKTP_QUERY_MAX_OUTPUT_BYTES)")
        return "; ".join(parts) + "."


class Result:
    """The user's relation wrapped so DuckDB cuts every text cell and stops after the row cap; rows
    come as batches of (value or cut text) tuples. ``kinds[i]``: 'value', 'formatted' or 'text'."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, settings: Settings):
        self.con = con
        self.columns = list(rel.columns)
        ids = [t.id for t in rel.types]
        self.kinds = ["value" if i in VALUE_TYPES else "formatted" if i in FORMATTED_TYPES else "text" for i in ids]
        self.max_rows = max(1, settings.query_max_rows)
        self.cap = max(1, settings.query_max_cell_bytes)
        names = [f"c{i}" for i in range(len(self.columns))]
        exprs = [n if k == "value" else f"left(cast({n} as varchar), {self.cap + 1})" for n, k in zip(names, self.kinds)]
        self.rel = rel.query(VIEW, f"select {', '.join(exprs)} from {VIEW} as {VIEW}({', '.join(names)}) "
                                   f"limit {self.max_rows + 1}")
        texts = sum(k != "value" for k in self.kinds)
        self.batch = max(1, min(FETCH_ROWS, FETCH_BYTES // (4 * (self.cap + 1) * texts + 64 * len(names) or 1)))

    def batches(self, cut: Cut):
        """Batches of rows fetched from DuckDB's streamed result, at most max_rows in all (cut.rows
        set when there were more)."""
        cur = self.con.execute(self.rel.sql_query())
        n = 0
        while rows := cur.fetchmany(self.batch):
            if n + len(rows) > self.max_rows:
                cut.rows = True
                rows = rows[:self.max_rows - n]
            n += len(rows)
            if rows:
                yield rows
            if cut.rows:
                return


def _clip(text: str, cap: int, cut: Cut, neutral: bool = False) -> str:
    """Control characters escaped, then at most ``cap`` UTF-8 bytes. ``neutral`` (CSV text cells):
    a value starting with a formula trigger gets a leading ``'`` (OWASP), so a spreadsheet shows
    it as text; the mark is not counted in ``cap``."""
    mark = "'" if neutral and text.startswith(CSV_TRIGGERS) else ""
    if not (text.isascii() and text.isprintable()):      # printable ASCII has nothing to escape (fast path)
        text = terminal(text)
    if len(text) <= cap // 4 or len(text.encode("utf-8")) <= cap:
        return mark + text
    raw = text.encode("utf-8")
    cut.cells += 1
    return mark + raw[:cap].decode("utf-8", "ignore")


class Budget:
    """Writes whole pieces while the total stays within max bytes; refuses (and records) the rest."""

    def __init__(self, out: TextIO, limit: int, cut: Cut):
        self.out, self.left, self.cut = out, max(0, limit), cut

    def write(self, piece: str, reserve: int = 0) -> bool:
        size = len(piece) if piece.isascii() else len(piece.encode("utf-8"))
        if size + reserve > self.left:
            self.cut.bytes = True
            return False
        self.out.write(piece)
        self.left -= size
        return True


def _write(res: Result, out: TextIO, fmt: str, cut: Cut, settings: Settings) -> int:
    """Write the rows in ``fmt``; nothing is written before the first batch came (a query that
    fails in DuckDB leaves no header behind)."""
    budget = Budget(out, settings.query_max_output_bytes, cut)
    cols = [_clip(c, res.cap, cut) for c in res.columns]
    stream = res.batches(cut)
    first = next(stream, None)
    batches = itertools.chain([first] if first else [], stream)
    if fmt == "csv":
        return _write_csv(batches, res, cols, budget, cut)
    if fmt == "json":
        return _write_json(batches, res, cols, budget, cut)
    return _write_table(batches, res, cols, budget, cut)


class _CsvLine:
    """One CSV line at a time (the budget decides whether it is written)."""

    def __init__(self):
        self.buf = io.StringIO()
        self.writer = csv.writer(self.buf, lineterminator="\n")

    def __call__(self, cells: list) -> str:
        self.buf.seek(0)
        self.buf.truncate()
        self.writer.writerow(cells)
        return self.buf.getvalue()


def _write_csv(batches, res: Result, cols: list[str], budget: Budget, cut: Cut) -> int:
    n, line = 0, _CsvLine()
    if not budget.write(line([_clip(c, res.cap, Cut(), neutral=True) for c in res.columns])):
        return 0
    for rows in batches:
        for r in rows:
            cells = [v if k == "value" or v is None else _clip(v, res.cap, cut, neutral=k == "text")
                     for v, k in zip(r, res.kinds)]
            if not budget.write(line(cells)):
                return n
            n += 1
    return n


def _write_json(batches, res: Result, cols: list[str], budget: Budget, cut: Cut) -> int:
    n = 0
    end = "\n]\n"
    budget.write("[", reserve=len(end))
    for rows in batches:
        for r in rows:
            cells = [v if k == "value" or v is None else _clip(v, res.cap, cut) for v, k in zip(r, res.kinds)]
            line = ("," if n else "") + "\n " + json.dumps(dict(zip(cols, cells)), default=str, ensure_ascii=False)
            if not budget.write(line, reserve=len(end)):
                budget.write(end)
                return n
            n += 1
    budget.write(end)
    return n


def _write_table(batches, res: Result, cols: list[str], budget: Budget, cut: Cut) -> int:
    """A terminal view: at most MAX_TABLE_ROWS rows and about MAX_TABLE_BYTES; reading stops there."""
    shown: list[tuple] = []
    widths = [len(c.encode("utf-8")) + 2 for c in cols]
    room = min(MAX_TABLE_BYTES, budget.left)
    more = False
    for r in itertools.chain.from_iterable(batches):
        cells = tuple(v if k == "value" or v is None else _clip(v, res.cap, cut) for v, k in zip(r, res.kinds))
        wide = [max(w, len(_cell(v).plain.encode("utf-8")) + 2) for w, v in zip(widths, cells)]
        if len(shown) >= MAX_TABLE_ROWS or (len(shown) + 4) * sum(wide) > room:
            more = True
            cut.bytes = len(shown) < MAX_TABLE_ROWS and room < MAX_TABLE_BYTES     # the setting cut it
            break
        shown.append(cells)
        widths = wide
    for line in (format_table(cols, shown) + "\n").splitlines(keepends=True):
        if not budget.write(line):
            return len(shown)
    if more:
        budget.write(f"(the first {len(shown):,} rows are shown, and there are more; use --format csv for all)\n")
    return len(shown)


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
