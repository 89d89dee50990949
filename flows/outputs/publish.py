"""Publish what analysts read, only after a run succeeded, and keep a few private backups.

The analysts' copy ``warehouse/ektp_analyst.duckdb`` holds aggregates and dimensions only
(contract section 5): the relations listed in ``PUBLISHED`` (every mart, the region dimensions,
snapshot totals, the date range, and audit summaries; nothing with a row per person or per
recording). It is written from the writer's connection into a new file in the storage format
DuckDB 1.1 and later read (``STORAGE_VERSION 'v1.1.0'``, so the analysts' own CLI, DBeaver, R and
older Python clients open it), fsynced, made readable (0644) and renamed over the old copy
(atomic): a reader holding the old copy keeps reading it, nobody sees a half-written one.

Backups are copies of the writer's file (never of the analysts' copy), mode 600 in a 700 folder,
the newest ``KEEP`` kept. ``restore`` makes one the writer's file again and republishes.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb

from flows.settings import Settings

KEEP = 3
STORAGE_VERSION = "v1.1.0"

# What the analysts' copy holds: schema -> relations (None: every table of the schema), or a
# relation -> the query that summarises it.
PUBLISHED_SCHEMAS = ("mart",)
PUBLISHED: dict[str, str] = {
    "core.kabupaten": "select * from core.kabupaten",
    "core.desa": "select * from core.desa",
    "core.kecamatan": "select * from core.kecamatan",
    "core.snapshot": "select * from core.snapshot",
    "core.date_spine": "select * from core.date_spine",
    "audit.wilayah": "select * from audit.wilayah",       # the area the warehouse serves
    "audit.file_loads": "select * from audit.file_loads",
    "audit.runs": "select * from audit.runs",
    "audit.check_results": "select * from audit.check_results",
    "audit.validation_results": "select * from audit.validation_results",
    # the quarantine per file and reason (the line-level list stays with the operators and the
    # kecamatan's own feedback files)
    "audit.quarantine_summary": """select source_file, reason, count(*)::bigint as rows
                                   from audit.quarantine group by all order by all""",
}
# Relations the analysts' copy updates row by row (``_rows_replaced``) when the last run wrote it:
# large, changed by a few rows a night, and never two rows alike (a file version's row carries its
# own load time: one per batch)
DIFFED = frozenset({"audit.file_loads"})
# Columns that must never be in the analysts' copy (a row per person or per recording).
FORBIDDEN_COLUMNS = frozenset({"person_id", "waktu_rekam", "nik", "nama", "tanggal_lahir", "line_number"})


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def published_relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """relation -> query, for what exists in the writer's warehouse now."""
    existing = {f"{s}.{t}" for s, t in con.execute(
        """select schema_name, table_name from duckdb_tables() where database_name = current_database()
           union all select schema_name, view_name from duckdb_views()
           where database_name = current_database() and not internal""").fetchall()}
    out = {rel: f"select * from {rel}" for rel in sorted(existing) if rel.split(".")[0] in PUBLISHED_SCHEMAS}
    for rel, sql in PUBLISHED.items():
        base = rel if rel != "audit.quarantine_summary" else "audit.quarantine"
        if base in existing:
            out[rel] = sql
    return out


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _unchanged_before(con: duckdb.DuckDBPyConnection, dst: Path) -> tuple[bool, date | None]:
    """(whether the analysts' copy on disk may be updated rather than rewritten, the first date whose
    mart rows changed since it was written: None when none did). Only when the run that wrote it
    recorded it (audit.publish_state: that very file, by size and modification time) and every build
    since recorded the dates it changed (audit.model_state.publish_from, kept by the model runner)."""
    from flows.warehouse.database import FULL_FIRST_DATE, is_recorded_copy

    try:
        state = con.execute("""select s.publish_from from audit.model_state s
                               join (select build_key, run_id from audit.model_builds order by built_at desc limit 1) b
                               using (build_key, run_id)""").fetchone()
    except duckdb.CatalogException:
        return False, None
    if state is None or not is_recorded_copy(con, dst):
        return False, None

    if state[0] is not None and state[0] <= FULL_FIRST_DATE:
        return False, None
    return True, state[0]


def publish(con: duckdb.DuckDBPyConnection, settings: Settings, incremental: bool = False) -> Path:
    """Write the analysts' copy from an open connection to the (checkpointed) writer's warehouse;
    returns its path. ``incremental`` (a run, on the writer's connection): when the copy on disk is
    the one the last run wrote (``_unchanged_before``), start from a copy of that file and replace
    only the rows of the marts' dates that changed since (the model runner's ``incremental``
    models); every other relation is written again whole. The result holds the same rows."""
    from flows.warehouse.database import models

    dst = settings.published_path
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    for stale in dst.parent.glob(f".{dst.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    update, changed_from = _unchanged_before(con, dst) if incremental else (False, None)
    by_date = {m.relation: m.incremental for m in models() if m.incremental and m.incremental != "person_id"}
    if update:
        shutil.copyfile(dst, tmp)
    # read_only false: the source connection may itself be read-only (a restore never modifies the file)
    con.execute(f"attach {_sql_text(str(tmp))} as analyst_copy (storage_version '{STORAGE_VERSION}', read_only false)")
    try:
        relations = published_relations(con)
        for schema in sorted({rel.split('.')[0] for rel in relations}):
            con.execute(f"create schema if not exists analyst_copy.{schema}")
        for rel, sql in relations.items():
            described = con.execute(f"describe {sql}").fetchall()
            columns = {r[0] for r in described}
            if columns & FORBIDDEN_COLUMNS:
                raise ValueError(f"{rel} would publish person-level columns {sorted(columns & FORBIDDEN_COLUMNS)}")
            if update and rel in by_date and con.execute(
                    "select count(*) from duckdb_tables() where database_name = 'analyst_copy' "
                    "and schema_name || '.' || table_name = ?", [rel]).fetchone()[0]:
                if changed_from is not None:
                    col = by_date[rel]
                    con.execute(f"delete from analyst_copy.{rel} where {col} >= ?", [changed_from])
                    con.execute(f"insert into analyst_copy.{rel} select * from ({sql}) where {col} >= ?", [changed_from])
                continue
            if update and _rows_replaced(con, rel, sql, described):
                continue
            con.execute(f"drop table if exists analyst_copy.{rel}")
            con.execute(f"create table analyst_copy.{rel} as {sql}")
        con.execute("checkpoint analyst_copy")
    finally:
        con.execute("detach analyst_copy")
    _fsync(tmp)
    os.chmod(tmp, 0o644)        # the analysts' copy is readable by the analysts
    os.replace(tmp, dst)
    _fsync(dst.parent)
    if incremental:
        _record_published(con, dst)
    return dst


def _rows_replaced(con: duckdb.DuckDBPyConnection, rel: str, sql: str, wanted: list[tuple]) -> bool:
    """Make ``analyst_copy.rel`` (in a copy the last run wrote) hold the rows of ``sql`` by deleting
    the rows it has that ``sql`` no longer gives and inserting those it lacks (whole rows compared,
    NULL equal to NULL), instead of writing it again: a province's ``audit.file_loads`` is ~86,000
    rows, of which a night changes a few hundred (issue 19: its rewrite was 0.11 s of a night's
    publish, and most of the copy's checkpoint). For relations of ``DIFFED`` only, whose rows are
    never two alike (there the result is the same table). ``wanted``: ``describe`` of ``sql``. False,
    nothing changed, when the copy has no such table or other columns (the caller writes it whole)."""
    if rel not in DIFFED:
        return False
    try:
        held = con.execute(f"describe analyst_copy.{rel}").fetchall()
    except duckdb.CatalogException:
        return False
    if [c[:2] for c in wanted] != [c[:2] for c in held]:
        return False
    same = " and ".join(f'w."{c[0]}" is not distinct from t."{c[0]}"' for c in held)
    con.execute(f"delete from analyst_copy.{rel} t where not exists (select 1 from ({sql}) w where {same})")
    con.execute(f"""insert into analyst_copy.{rel}
                    select * from ({sql}) w where not exists (select 1 from analyst_copy.{rel} t where {same})""")
    return True


def _record_published(con: duckdb.DuckDBPyConnection, dst: Path) -> None:
    """Remember the file just written, and that it holds every mart row the builds so far changed."""
    size, mtime_ns = _identity(dst)
    con.execute("begin transaction")
    try:
        con.execute("delete from audit.publish_state")
        con.execute("""insert into audit.publish_state
                       select (select build_key from audit.model_builds order by built_at desc limit 1), ?, ?, now()""",
                    [size, mtime_ns])
        con.execute("update audit.model_state set publish_from = null")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _private_copy(src: Path, dst: Path) -> None:
    """Copy src to dst owner-only (mode 600), fsynced, via a temporary name and a rename."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
        _copy_in_kernel(inp.fileno(), out.fileno())
        os.fsync(out.fileno())
    os.replace(tmp, dst)


def _copy_in_kernel(src_fd: int, dst_fd: int) -> None:
    """Copy the whole file ``src_fd`` to ``dst_fd`` (both at offset 0) with ``os.sendfile``: the bytes
    never pass through this process (issue 19: the backup of a province year's 0.24 GB file runs
    beside the report, which needs the CPU)."""
    size = os.fstat(src_fd).st_size
    offset = 0
    while offset < size:
        sent = os.sendfile(dst_fd, src_fd, offset, min(size - offset, 1 << 30))
        if sent == 0:       # the file shrank while copied: copy what is there
            break
        offset += sent


def backup(settings: Settings, run_id: str) -> Path:
    """Copy the closed writer file into backups/ (owner-only) and keep the newest KEEP."""
    settings.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(settings.backup_dir, 0o700)
    for stale in settings.backup_dir.glob(".*.tmp"):     # left by a run killed while copying
        stale.unlink(missing_ok=True)
    target = settings.backup_dir / f"ektp-{run_id}.duckdb"
    _private_copy(settings.warehouse_path, target)
    for old in list_backups(settings)[KEEP:]:
        old.unlink(missing_ok=True)
    return target


def list_backups(settings: Settings) -> list[Path]:
    return sorted(settings.backup_dir.glob("ektp-*.duckdb"), reverse=True)


def restore(settings: Settings, backup_path: Path) -> None:
    """Make a backup the writer's warehouse again (mode 600); the caller republishes. Caller holds the lock."""
    if not backup_path.exists():
        raise FileNotFoundError(backup_path)
    wal = settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal")
    wal.unlink(missing_ok=True)
    _private_copy(backup_path, settings.warehouse_path)


def restore_backup(settings: Settings, backup_path: Path) -> None:
    """``ektp restore``: under the writer lock, make the backup the writer's file and republish the
    analysts' copy from it the way a run does; then rewrite the report page."""
    from flows.outputs.report import write_report
    from flows.warehouse.database import connect_reader, private_files, writer_lock

    with private_files(), writer_lock(settings, 0):
        restore(settings, backup_path)
        con = connect_reader(settings.warehouse_path)     # read-only: the restored file stays byte-identical
        try:
            publish(con, settings)
        finally:
            con.close()
    con = connect_reader(settings.published_path)
    try:
        write_report(con, settings.report_path)
    finally:
        con.close()
