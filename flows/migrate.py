"""Bring a warehouse built by an earlier version up to this one, at the start of a run.

1. The key. A warehouse records the fingerprint of its key (``audit.warehouse_key``). One built
   before fingerprints existed holds pseudonyms but no fingerprint: the key is proven first, by
   re-reading one loaded row from its raw file through its lineage (``source_file``,
   ``line_number``, ``file_sha256``), pseudonymising that NIK and comparing it with the stored
   ``person_id``. A mismatch stops the run (an operator who answered a refusal with a fresh key
   would otherwise split every person in two); so does a warehouse none of whose raw files is
   still in the landing zone unchanged.
2. Version 2 (``audit.migrations`` row ``v2``), in one transaction:
   - files rejected for their name get the hashed ``source_file`` and a fixed ``error`` (version
     1 stored and printed the name, which can hold a NIK or a name);
   - loaded rows are checked against the ``id_alat`` rule: rows that break it move to the
     quarantine with their line numbers, kept values are upper-cased; ``id_alat_missing`` becomes
     ``id_alat_empty``; the marts are rebuilt;
   - the text of failed runs' messages is dropped (only the exception type stays).
"""

from __future__ import annotations

import re

import duckdb
import polars as pl

from flows.discover import NAME_REASONS, hashed_name, landing_name
from flows.errors import UserError
from flows.landing import LandingZone
from flows.pseudonym import pseudonymise
from flows.read import REKAM_COLUMNS, FileRejected, parse_file
from flows.settings import Settings
from flows.validate import REKAM_SUITE, rules
from flows.warehouse import now_utc, open_read_only, stored_fingerprint
from flows.wilayah import DEFAULT_AREA, kecamatan_codes

ID_ALAT_SQL = "[A-Za-z0-9._/-]{1,32}"     # the rule of expectations/rekam_log.json, as a DuckDB full match
_HASHED = re.compile(r"#[0-9a-f]{12}")


def record_fingerprint(con: duckdb.DuckDBPyConnection, fingerprint: str, run_id: str, proven_by: str) -> None:
    con.execute("insert into audit.warehouse_key values (?, ?, ?, ?)", [fingerprint, now_utc(), run_id, proven_by])


def prove_key(con: duckdb.DuckDBPyConnection, zone: LandingZone, key: bytes, settings: Settings) -> str:
    """Re-read one loaded row through its lineage and compare its pseudonym under ``key``.
    Returns where the proof came from (a landing name and line); raises UserError otherwise."""
    files = con.execute("""select source_file, file_sha256, min(line_number) from landing.rekam
                           group by all order by source_file""").fetchall()
    for source_file, sha256, line in files:
        if landing_name(source_file, kecamatan_codes(settings.wilayah))[3] is not None:
            continue
        got = zone.read(source_file, settings.max_file_bytes)
        if got.gone or got.reject or got.sha256 != sha256:
            continue        # gone or changed since it was loaded: its lines may have moved
        try:
            parsed = parse_file(got.data, REKAM_COLUMNS)
        except FileRejected:
            continue
        match = parsed.rows.filter(pl.col("line_number") == line)
        if match.height != 1 or match["nik"][0] is None:
            continue
        nik = pl.Series("nik", [match["nik"][0].removeprefix("'")])
        stored = con.execute("select person_id from landing.rekam where source_file = ? and line_number = ?",
                             [source_file, line]).fetchone()[0]
        if pseudonymise(nik, key)[0] != stored:
            raise UserError(
                "This run's pseudonym key is not the key the warehouse was built with (a loaded row, re-read from its "
                "raw file, gives another pseudonym); nothing was changed. Use the original key: a new key would split "
                "every person in two."
            )
        return f"{source_file} line {line}"
    raise UserError(
        "The warehouse holds pseudonyms but no key fingerprint, and none of its loaded rows' raw files is still in "
        "the landing zone unchanged, so this run cannot prove its key is the one the warehouse was built with; "
        "nothing was changed. Put one loaded log back in raw/ as it was, then run again."
    )


def upgrade_v2(con: duckdb.DuckDBPyConnection, key: bytes, run_id: str) -> dict:
    """Apply version 2's upgrade once (see the module doc). Returns what moved (counts only)."""
    if con.execute("select count(*) from audit.migrations where name = 'v2'").fetchone()[0]:
        return {}
    kec = kecamatan_codes(DEFAULT_AREA)     # the area of a warehouse of versions 1 and 2 (contract section 10)
    detail = next(r.detail for r in rules(REKAM_SUITE) if r.reason == "id_alat_invalid")
    con.execute("begin transaction")
    try:
        renamed = 0
        for (source_file,) in con.execute("select distinct source_file from audit.file_loads").fetchall():
            reason = landing_name(source_file, kec)[3]
            if reason is None or _HASHED.fullmatch(source_file.rsplit("/", 1)[-1]):
                continue
            new = hashed_name(source_file, key)
            con.execute("update audit.file_loads set source_file = ?, error = ? where source_file = ?",
                        [new, f"{reason}: {NAME_REASONS[reason]}", source_file])
            for table in ("audit.quarantine", "landing.rekam", "landing.penduduk"):
                con.execute(f"update {table} set source_file = ? where source_file = ?", [new, source_file])
            renamed += 1
        bad = f"not regexp_full_match(id_alat, '{ID_ALAT_SQL}')"
        con.execute(f"""create temp table v2_moved as
                        select source_file, file_sha256, line_number from landing.rekam where {bad}""")
        moved = con.execute("select count(*) from v2_moved").fetchone()[0]
        con.execute("""insert into audit.quarantine
                       select source_file, line_number, 'id_alat_invalid', ?, file_sha256, ? from v2_moved""",
                    [detail, run_id])
        con.execute(f"delete from landing.rekam where {bad}")
        con.execute("""update audit.file_loads f set rows_loaded = f.rows_loaded - m.n, rows_quarantined = f.rows_quarantined + m.n
                       from (select source_file, file_sha256, count(*) as n from v2_moved group by all) m
                       where f.source_file = m.source_file and f.sha256 = m.file_sha256 and f.status = 'loaded'""")
        con.execute("drop table v2_moved")
        upper = con.execute("select count(*) from landing.rekam where id_alat <> upper(id_alat)").fetchone()[0]
        con.execute("update landing.rekam set id_alat = upper(id_alat) where id_alat <> upper(id_alat)")
        con.execute("update audit.quarantine set reason = 'id_alat_empty' where reason = 'id_alat_missing'")
        con.execute("""update audit.runs set message = split_part(message, ':', 1) || ': (text removed by the version 2 upgrade)'
                       where message is not null and message not like '%(text removed by the version 2 upgrade)'""")
        con.execute("delete from audit.model_builds")      # the marts are rebuilt from the upgraded rows
        summary = {"names_hashed": renamed, "rows_moved_id_alat": int(moved), "id_alat_upper_cased": int(upper)}
        con.execute("insert into audit.migrations values ('v2', ?, ?, ?)",
                    [run_id, now_utc(), ", ".join(f"{k} {v}" for k, v in summary.items())])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return summary if any(summary.values()) else {}


def verify_key(settings: Settings, zone: LandingZone, key: bytes, fingerprint: str) -> str | None:
    """Check this run's key against the warehouse, reading it read-only (nothing is changed when
    the check fails). Returns None when the warehouse records this key's fingerprint, else how the
    key was established (a new warehouse, or the row that proved it), to be recorded."""
    con = open_read_only(settings)
    try:
        stored, has_rows = stored_fingerprint(con)
        if stored is not None:
            if stored != fingerprint:
                raise UserError(
                    f"This run's pseudonym key is not the key the warehouse {settings.warehouse_path} was built with "
                    f"(fingerprint {fingerprint[:12]}, warehouse {stored[:12]}); nothing was changed. Use the warehouse's "
                    "key (EKTP_NIK_KEY or EKTP_NIK_KEY_FILE); a new key would split every person in two."
                )
            return None
        return prove_key(con, zone, key, settings) if has_rows else "new warehouse"
    finally:
        if con is not None:
            con.close()


def upgrade(con: duckdb.DuckDBPyConnection, key: bytes, fingerprint: str, proven_by: str | None,
            run_id: str) -> dict:
    """The start of every run: record the key's fingerprint where needed, then version 2's upgrade."""
    if proven_by is not None:
        record_fingerprint(con, fingerprint, run_id, proven_by)
    return upgrade_v2(con, key, run_id)
