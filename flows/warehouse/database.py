"""The DuckDB warehouse: the writer lock, file modes, connections, the key check, schema, the SQL
model runner and checks.

One writer at a time: ``writer_lock`` takes an exclusive ``flock`` on ``warehouse/.ektp.lock``
(released by the kernel when the process dies, so it needs no server and survives crashes).
The writer file, its WAL, the lock and the backups are the operators' only: mode 600, written
under umask 077 (``private_files``); ``secure_files`` re-modes what an earlier version left looser.
Models are ``sql/<layer>/<name>.sql`` built in the order of ``sql/order.txt``, after the runner
has written the national days off of the marts' years (``core.hari_libur``, ``core.kalender_tahun``:
flows.reference.workdays); checks are ``sql/checks/*.sql`` queries that return violating rows, with
``-- severity: bug|data``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from flows.dates import now_utc
from flows.errors import PipelineCheckFailed, UserError, WarehouseLocked
from flows.reference import workdays
from flows.resources import project_dir
from flows.settings import Settings

SQL_DIR = project_dir("sql")
_NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


@contextlib.contextmanager
def writer_lock(settings: Settings, wait_seconds: float = 0.0,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive writer lock; wait up to ``wait_seconds``, then raise WarehouseLocked."""
    make_warehouse_dir(settings)
    fd = os.open(settings.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    deadline = time.monotonic() + max(0.0, wait_seconds)
    told = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(fd)
                if time.monotonic() >= deadline:
                    raise WarehouseLocked(
                        f"Another run is writing the warehouse ({holder}); "
                        "try again when it has finished."
                    ) from None
                if on_wait and not told:
                    on_wait(f"Waiting for another run to finish writing the warehouse ({holder}).")
                    told = True
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"


def make_warehouse_dir(settings: Settings) -> None:
    """Create warehouse/ traversable (0755: the analysts' copy inside it is for the analysts; the
    operators' files in it are 600 each). An existing folder keeps the mode the office gave it."""
    if not settings.warehouse_dir.is_dir():
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.warehouse_dir, 0o755)


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Create files owner-only while the block runs (umask 077), e.g. DuckDB's writer file and WAL."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _chmod(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)


def holds_person_rows(path: Path) -> bool:
    """Whether a DuckDB file has a person-level relation (a landing table): version 1 published the
    whole warehouse as the analysts' copy and hard-linked it into backups/."""
    try:
        con = duckdb.connect(str(path), read_only=True, config=_NO_EXTENSIONS)
    except duckdb.Error:
        return False
    try:
        return bool(con.execute("select count(*) from duckdb_tables() where schema_name = 'landing'").fetchone()[0])
    finally:
        con.close()


def is_recorded_copy(con: duckdb.DuckDBPyConnection | None, path: Path) -> bool:
    """Whether the file at ``path`` is the analysts' copy the last run published, as
    ``audit.publish_state`` of the writer's file ``con`` records it (same size and modification
    time). False without a record (version 1 had no such table; a copy written by ``restore`` is
    not recorded) or without the file."""
    if con is None:
        return False
    try:
        recorded = con.execute("select size, mtime_ns from audit.publish_state").fetchall()
        st = path.stat()
    except (duckdb.Error, OSError):
        return False
    return len(recorded) == 1 and tuple(recorded[0]) == (st.st_size, st.st_mtime_ns)


def secure_files(settings: Settings, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Mode 600 for the writer file, its WAL, the lock and every backup (700 for backups/); an
    analysts' copy that still holds person-level rows (version 1) is made owner-only until the
    run republishes it. ``con``: the writer's file opened read-only, if any: a copy it records as
    published by a run of this version is not opened to be looked into (issue 19: 0.05 s a night
    for a province's copy)."""
    for path in (settings.warehouse_path, settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal"),
                 settings.lock_path):
        _chmod(path, 0o600)
    if settings.backup_dir.is_dir():
        _chmod(settings.backup_dir, 0o700)
        for path in settings.backup_dir.iterdir():
            _chmod(path, 0o600)
    if (settings.published_path.exists() and not is_recorded_copy(con, settings.published_path)
            and holds_person_rows(settings.published_path)):
        _chmod(settings.published_path, 0o600)



def open_read_only(settings: Settings) -> duckdb.DuckDBPyConnection | None:
    """The writer's warehouse opened read-only (nothing it does can change the file), or None
    when it does not exist yet."""
    if not settings.warehouse_path.exists():
        return None
    try:
        return duckdb.connect(str(settings.warehouse_path), read_only=True, config=_NO_EXTENSIONS)
    except duckdb.IOException as exc:
        _locked_or_raise(settings, exc)


def stored_fingerprint(con: duckdb.DuckDBPyConnection | None) -> tuple[str | None, bool]:
    """(the key fingerprint the warehouse records, whether it holds pseudonymised rows)."""
    if con is None:
        return None, False
    tables = {r[0] for r in con.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()}
    fp = None
    if "audit.warehouse_key" in tables:
        row = con.execute("select fingerprint from audit.warehouse_key order by recorded_at desc limit 1").fetchone()
        fp = row[0] if row else None
    rows = "landing.rekam" in tables and con.execute("select count(*) from (select 1 from landing.rekam limit 1)").fetchone()[0] > 0
    return fp, bool(rows)


def _locked_or_raise(settings: Settings, exc: Exception):
    msg = str(exc)
    if "lock" in msg.lower():
        raise UserError(
            f"The warehouse {settings.warehouse_path} is open in another program; close it "
            f"(analysts read {settings.published_path.name} instead) and run again."
        ) from None
    if "read-only" in msg.lower() or "permission" in msg.lower():
        raise UserError(f"The warehouse {settings.warehouse_path} cannot be written: {msg.splitlines()[0]}") from None
    raise exc


def connect_writer(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing and make sure the landing/audit tables exist."""
    make_warehouse_dir(settings)
    try:
        con = duckdb.connect(str(settings.warehouse_path), config=_NO_EXTENSIONS)
    except duckdb.IOException as exc:
        _locked_or_raise(settings, exc)
    con.execute((SQL_DIR / "schema.sql").read_text(encoding="utf-8"))
    return con


def connect_reader(path: Path) -> duckdb.DuckDBPyConnection:
    """Open a published warehouse read-only."""
    if not path.exists():
        raise UserError(f"No published warehouse at {path}: run `ektp run` (or `ektp demo`) first.")
    return duckdb.connect(str(path), read_only=True, config=_NO_EXTENSIONS)


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    path: Path
    materialized: str | None = None   # "view" / "table" from sql/order.txt; default by layer
    incremental: str | None = None    # "incremental <column>": person_id, or the date column of its rows

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def kind(self) -> str:
        if self.materialized:
            return self.materialized
        return "view" if self.layer == "staging" else "table"


def models() -> list[Model]:
    """The models in build order (sql/order.txt)."""
    out = []
    for line in (SQL_DIR / "order.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        ref, *how = line.split()
        layer, name = ref.split("/")
        incremental = None
        if how and how[0] == "incremental":
            if len(how) != 2:
                raise ValueError(f"sql/order.txt: {line!r}: incremental needs the column its rows are replaced by")
            incremental, how = how[1], ["table"]
        if how and how[0] not in ("view", "table"):
            raise ValueError(f"sql/order.txt: {line!r}: the materialisation must be view or table")
        out.append(Model(layer, name, SQL_DIR / layer / f"{name}.sql", how[0] if how else None, incremental))
    return out


def build_key(con: duckdb.DuckDBPyConnection) -> str:
    """What the marts are a function of: every file version written (a load, replace or rejection
    adds an audit.file_loads row; supersession stamps one), the SQL of every model and check, the
    area's region list as loaded (landing.wilayah: a wider area or a new list changes it) and the
    holiday package's version (the calendar). Equal keys mean a rebuild would give the same marts."""
    import hashlib

    versions = con.execute("""select count(*), max(loaded_at)::varchar, max(superseded_at)::varchar,
                                     count(superseded_at) from audit.file_loads""").fetchone()
    return hashlib.sha256(repr(versions).encode() + b"\0static " + static_key(con).encode()).hexdigest()


def static_key(con: duckdb.DuckDBPyConnection) -> str:
    """What the marts are a function of beside the data: the SQL of every model and check, the area's
    region list as loaded and the holiday package's version. An incremental build needs it unchanged."""
    import hashlib

    regions = con.execute("""select count(*), coalesce(sum(hash(kode || '|' || nama || '|' || jenis)), 0)::varchar
                             from landing.wilayah""").fetchone()
    h = hashlib.sha256(b"holidays " + workdays.package_version().encode() + b"\0regions " + repr(regions).encode())
    for path in [SQL_DIR / "order.txt", *sorted(SQL_DIR.glob("*/*.sql"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def models_current(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """The run that last built the marts if they were built from exactly ``key``, else None."""
    row = con.execute("select build_key, run_id from audit.model_builds order by built_at desc limit 1").fetchone()
    return row[1] if row is not None and row[0] == key else None


def write_calendar(con: duckdb.DuckDBPyConnection) -> int:
    """Write the days off of the years of the marts' range (the first to the last log date of a
    loaded log, as core.date_spine) for the models to read (flows.reference.workdays.write_days_off)."""
    start, end = con.execute("""select min(log_date), max(log_date) from audit.file_loads
                                where kind = 'rekam' and status = 'loaded'""").fetchone()
    return workdays.write_days_off(con, start, end)


FULL_FIRST_DATE = date(1900, 1, 1)     # core.build_scope.first_date of a full build: before every date


@dataclass(frozen=True)
class Scope:
    """What a build rebuilds: everything (``first_date`` None), or the persons of
    core.build_persons and every date from ``first_date`` on; ``reason``: why a full build."""
    first_date: date | None
    persons: int = 0
    reason: str = ""

    @property
    def full(self) -> bool:
        return self.first_date is None


def _permohonan_hash(con: duckdb.DuckDBPyConnection) -> str:
    return repr(con.execute("""select count(*), coalesce(sum(hash(tanggal_daftar, kode_desa, tanggal_surat, nomor_surat,
                                      perkiraan_warga, source_file, file_sha256, line_number)), 0)::varchar
                               from landing.permohonan""").fetchone())


def _incremental_tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    have = {r[0] for r in con.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()}
    need = {m.relation for m in models() if m.incremental} | {"core.date_spine", "core.snapshot"}
    return need <= have


def _full(reason: str) -> Scope:
    return Scope(None, reason=reason)


def build_scope(con: duckdb.DuckDBPyConnection, static: str) -> Scope:
    """Decide what the build must rebuild, from what write_batch recorded since the last build
    (audit.changed_files, landing.rekam_replaced), and write it for the models (core.build_scope,
    core.build_persons). A full build unless the last build recorded its state (audit.model_state)
    under the same SQL, region list and holidays (``static``), landing agrees with it plus the
    recorded changes, and the marts' range starts on the same date. First changed date: the
    earliest of the changed files' dates, the dates of the rows they deleted or added, and the
    snapshot dates whose totals (core.snapshot) differ, and the first date after the old range when
    the range now ends later."""
    last = con.execute("select build_key, run_id from audit.model_builds order by built_at desc limit 1").fetchone()
    state = con.execute("""select build_key, run_id, static_key, rekam_rows, permohonan_hash from audit.model_state
                           order by built_at desc limit 1""").fetchone()
    if last is None or state is None or tuple(last) != tuple(state[:2]) or not _incremental_tables_exist(con):
        return _full("the last build did not record its state")
    if state[2] != static:
        return _full("the SQL, the region list or the holidays changed")
    changed_requests = con.execute("select count(*) from audit.changed_files where source_file like 'permohonan/%'").fetchone()[0]
    if state[4] != _permohonan_hash(con) and not changed_requests:
        return _full("landing.permohonan changed outside a batch")
    rekam_rows, deleted, added = con.execute("""
        select (select count(*) from landing.rekam), (select count(*) from landing.rekam_replaced),
               (select count(*) from landing.rekam where source_file in (select source_file from audit.changed_files))
    """).fetchone()
    if rekam_rows != state[3] - deleted + added:
        return _full("landing.rekam changed outside a batch")
    old_start, new_start = con.execute("""
        select (select min(tanggal) from core.date_spine),
               (select min(log_date) from audit.file_loads where kind = 'rekam' and status = 'loaded')""").fetchone()
    if old_start is None or old_start != new_start:
        return _full("the marts' range starts on another date")
    snapshot_sql = (SQL_DIR / "core" / "snapshot.sql").read_text(encoding="utf-8").strip().rstrip(";")
    first = con.execute(f"""
        with changed as (select source_file from audit.changed_files),
        new_snapshot as (select snapshot_date, kode_desa, wajib_ktp, sudah_rekam, source_file from ({snapshot_sql})),
        old_snapshot as (select snapshot_date, kode_desa, wajib_ktp, sudah_rekam, source_file from core.snapshot),
        dates as (
            select log_date as d from audit.file_loads where source_file in (select source_file from changed)
            union all select tanggal from landing.rekam_replaced
            union all select cast(waktu_rekam as date) from landing.rekam where source_file in (select source_file from changed)
            union all select snapshot_date from (select * from new_snapshot except all select * from old_snapshot)
            union all select snapshot_date from (select * from old_snapshot except all select * from new_snapshot)
            -- the range grows at its end: every date after the old range is new, those without a log too
            -- (days when no kecamatan sent anything: a holiday week) and not only the changed files' dates
            union all select max(tanggal) + 1 from core.date_spine
            having (select max(log_date) from audit.file_loads where kind = 'rekam' and status = 'loaded') > max(tanggal)
        )
        select min(d) from dates""").fetchone()[0]
    if first is None:
        return _full("the build key changed with no recorded change")
    if first <= new_start:
        return _full("the changes reach the first date of the range")
    con.execute("""create or replace table core.build_persons as
                   select distinct person_id from (
                       select person_id from landing.rekam_replaced
                       union all select person_id from landing.rekam
                       where source_file in (select source_file from audit.changed_files))""")
    persons = con.execute("select count(*) from core.build_persons").fetchone()[0]
    con.execute("create or replace table core.build_scope as select ?::date as first_date, false as rebuild_all", [first])
    return Scope(first, persons)


def _write_full_scope(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create or replace table core.build_persons (person_id varchar)")
    con.execute("create or replace table core.build_scope as select ?::date as first_date, true as rebuild_all",
                [FULL_FIRST_DATE])


# A pseudonym is 64 hex digits of a keyed hash: nothing repeats and nothing is ordered, so DuckDB's
# compression analysis of such a column (dictionary, FSST) costs more than everything else written
# with it and saves ~40 % of its bytes. Every table that holds person_id stores that column
# uncompressed (sql/schema.sql for the landing tables; below for a model): a million rows written in
# 0.46 s instead of 0.72 s, 32 MiB more on disk (issue 19, seventh pass).
PSEUDONYM_COLUMN = "person_id"


def _create_person_table(con: duckdb.DuckDBPyConnection, relation: str, sql: str) -> None:
    """``create or replace table <relation> as <sql>``, with the model's person_id column (if its
    output has one) declared ``using compression uncompressed``: the columns are the query's own
    (name and type, as DESCRIBE gives them), then the rows are inserted."""
    columns = con.execute(f"describe\n{sql}").fetchall()
    if not any(c[0] == PSEUDONYM_COLUMN for c in columns):
        con.execute(f"create or replace table {relation} as\n{sql}")
        return
    ddl = ", ".join(f'"{name}" {type_}' + (" using compression uncompressed" if name == PSEUDONYM_COLUMN else "")
                    for name, type_, *_ in columns)
    con.execute(f"create or replace table {relation} ({ddl})")
    con.execute(f"insert into {relation}\n{sql}")


def build_models(con: duckdb.DuckDBPyConnection, key: str | None = None, run_id: str | None = None,
                 full: bool = False) -> list[str]:
    """(Re)build every model in order, in one transaction, after the calendar (write_calendar).
    Returns the relations built. Incremental where it can (``build_scope``; ``full``: never): an
    ``incremental`` model gets its rows of the changed persons or dates deleted and inserted again,
    which gives what a full build gives. With a ``key`` (see build_key) the build is recorded in
    audit.model_builds and its state in audit.model_state, in the same transaction; the recorded
    changes are emptied."""
    built = []
    con.execute("begin transaction")
    try:
        write_calendar(con)
        static = static_key(con)
        scope = _full("asked for") if full else build_scope(con, static)
        if scope.full:
            _write_full_scope(con)
        existing = dict(con.execute(
            """select schema_name || '.' || table_name, 'table' from duckdb_tables()
               union all select schema_name || '.' || view_name, 'view' from duckdb_views() where not internal""").fetchall())
        for m in models():
            sql = m.path.read_text(encoding="utf-8").strip().rstrip(";")
            if existing.get(m.relation, m.kind) != m.kind:   # materialisation changed since the last build
                con.execute(f"drop {existing[m.relation]} {m.relation} cascade")
            if m.incremental and not scope.full:
                if m.incremental == "person_id":
                    con.execute(f"delete from {m.relation} where person_id in (select person_id from core.build_persons)")
                else:
                    con.execute(f"delete from {m.relation} where {m.incremental} >= ?", [scope.first_date])
                    sql = f"select * from (\n{sql}\n) where {m.incremental} >= (select first_date from core.build_scope)"
                con.execute(f"insert into {m.relation}\n{sql}")
            elif m.kind == "table" and PSEUDONYM_COLUMN in sql:
                _create_person_table(con, m.relation, sql)
            else:
                con.execute(f"create or replace {m.kind} {m.relation} as\n{sql}")
            built.append(m.relation)
        con.execute("delete from audit.changed_files")
        con.execute("delete from landing.rekam_replaced")
        con.execute("drop table core.build_persons")     # person ids: only while a build runs
        if key is None:      # a build nobody recorded: the next build and publish start from scratch
            con.execute("delete from audit.model_state")
        else:
            con.execute("insert into audit.model_builds values (?, ?, ?)", [key, run_id, now_utc()])
            # the analysts' copy must take the rows from the earliest date any build changed since it was written
            changed = FULL_FIRST_DATE if scope.full else scope.first_date
            before = con.execute("select publish_from from audit.model_state order by built_at desc limit 1").fetchone()
            if before is not None and before[0] is not None:
                changed = min(changed, before[0])
            con.execute("delete from audit.model_state")
            con.execute("insert into audit.model_state select ?, ?, ?, (select count(*) from landing.rekam), ?, ?, ?",
                        [key, run_id, static, _permohonan_hash(con), now_utc(), changed])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return built


@dataclass(frozen=True)
class CheckResult:
    name: str
    severity: str
    violations: int
    sample: list[tuple]


def run_checks(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[CheckResult]:
    """Run sql/checks/*.sql. Records outcomes in audit.check_results; raises PipelineCheckFailed
    if a ``bug`` check finds violations (data checks are only reported)."""
    results = []
    for path in sorted((SQL_DIR / "checks").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        m = re.search(r"severity:\s*(bug|data)", text)
        severity = m.group(1) if m else "bug"
        rows = con.execute(f"select * from ({text.strip().rstrip(';')}) limit 1000").fetchall()
        count = len(rows)
        if count == 1000:
            count = con.execute(f"select count(*) from ({text.strip().rstrip(';')})").fetchone()[0]
        results.append(CheckResult(path.stem, severity, count, rows[:5]))
    if run_id is not None:
        con.executemany(
            "insert into audit.check_results values (?, ?, ?, ?, ?)",
            [(run_id, r.name, r.severity, r.violations, now_utc()) for r in results],
        )
    broken = [r for r in results if r.severity == "bug" and r.violations]
    if broken:
        names = ", ".join(f"{r.name} ({r.violations})" for r in broken)
        raise PipelineCheckFailed(f"mart checks failed: {names}")
    return results
