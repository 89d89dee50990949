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
3. Version 3 (``audit.migrations`` row ``v3``), in one transaction (``upgrade_v3``):
   - loaded rows whose ``id_alat`` holds a run of 10 or more digits or a date, and request rows
     whose ``nomor_surat`` holds a run of 10 or more digits, move to the quarantine with their line
     numbers (the rules are read from the GX suites, the one statement of them);
   - ``audit.file_loads.extra_columns`` held the names of ignored header columns (a header can hold
     a NIK or a name): it becomes their count (an integer column of the same name);
   - identities of files that were never read (a link, a pipe, a folder too deep, an unreadable
     file) were plain SHA-256 hashes of ``<what>:<path>`` or of a link's target: each becomes the
     keyed identity (flows.ingest.discover.unread_identity). Where the stored value is the hash of
     ``<what>:<source_file>`` it is recomputed exactly; a link's target text and the raw path of a
     file rejected for its name are not in the warehouse, so those cannot be recomputed: they get
     a keyed stand-in (the HMAC of the old value) and the next run that sees the file records it
     once more under its new identity;
   - a log or request file dated before 2011-01-01 that was loaded becomes a file-level reject
     (``date_before_2011``) and its rows leave;
   - the marts are rebuilt.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import duckdb
import polars as pl

from flows.dates import now_utc
from flows.errors import UserError
from flows.ingest.discover import (
    DATE_REASONS,
    FIRST_DATE,
    NAME_REASONS,
    hashed_name,
    identity_key,
    landing_name,
    unread_identity,
)
from flows.ingest.landing import LandingZone
from flows.ingest.pseudonym import pseudonymise
from flows.ingest.read import REKAM_COLUMNS, FileRejected, parse_file
from flows.ingest.validate import PERMOHONAN_SUITE, REKAM_SUITE, rules, suite_spec
from flows.reference.wilayah import DEFAULT_AREA, kecamatan_codes
from flows.settings import Settings, refuse_weak_key
from flows.warehouse.database import stored_fingerprint

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


def verify_key(settings: Settings, zone: LandingZone, key: bytes, fingerprint: str,
               con: duckdb.DuckDBPyConnection | None) -> str | None:
    """Check this run's key against the warehouse ``con``, opened read-only by the caller (None: no
    warehouse yet; nothing is changed when the check fails). Returns None when the warehouse
    records this key's fingerprint, else how the key was established (a new warehouse, or the row
    that proved it), to be recorded."""
    stored, has_rows = stored_fingerprint(con)
    if stored is not None:
        if stored != fingerprint:
            raise UserError(
                f"This run's pseudonym key is not the key the warehouse {settings.warehouse_path} was built with "
                f"(fingerprint {fingerprint[:12]}, warehouse {stored[:12]}); nothing was changed. Use the warehouse's "
                "key (EKTP_NIK_KEY or EKTP_NIK_KEY_FILE); a new key would split every person in two."
            )
        return None
    if has_rows:
        return prove_key(con, zone, key, settings)
    refuse_weak_key(settings)       # a new warehouse is never built under a short key
    return "new warehouse"


def upgrade(con: duckdb.DuckDBPyConnection, key: bytes, fingerprint: str, proven_by: str | None,
            run_id: str) -> dict:
    """The start of every run: record the key's fingerprint where needed, then the upgrades to
    versions 2 and 3. Returns what they changed (counts only; empty when nothing)."""
    if proven_by is not None:
        record_fingerprint(con, fingerprint, run_id, proven_by)
    return {**upgrade_v2(con, key, run_id), **upgrade_v3(con, key, run_id)}


# --- version 3 -----------------------------------------------------------------------------------

NOT_READ_CODES = ("symlink", "not_a_regular_file", "unreadable", "folder_too_deep")
V2_UNREAD_LABELS = ("link", "special", "deep", "link-dir", "unreadable")   # v2: sha256("<label>:<path>")


def _forbidden_pattern(suite: str, column: str) -> str:
    """The not_match_regex of ``column`` in ``suite`` (RE2-compatible, used as DuckDB regexp_matches)."""
    return next(e["kwargs"]["regex"] for e in suite_spec(suite)["expectations"]
                if e["type"] == "expect_column_values_to_not_match_regex" and e["kwargs"]["column"] == column)


def _move_rows(con: duckdb.DuckDBPyConnection, table: str, column: str, suite: str, reason: str, run_id: str) -> int:
    """Move the rows of ``table`` whose ``column`` matches the suite's forbidden pattern to the quarantine."""
    pattern = _forbidden_pattern(suite, column)
    detail = next(r.detail for r in rules(suite) if r.reason == reason and r.type.endswith("not_match_regex"))
    con.execute(f"""create temp table v3_moved as select source_file, file_sha256, line_number from {table}
                    where regexp_matches({column}, ?)""", [pattern])
    moved = con.execute("select count(*) from v3_moved").fetchone()[0]
    con.execute("""insert into audit.quarantine
                   select source_file, line_number, ?, ?, file_sha256, ? from v3_moved""", [reason, detail, run_id])
    con.execute(f"delete from {table} where regexp_matches({column}, ?)", [pattern])
    con.execute("""update audit.file_loads f set rows_loaded = f.rows_loaded - m.n, rows_quarantined = f.rows_quarantined + m.n
                   from (select source_file, file_sha256, count(*) as n from v3_moved group by all) m
                   where f.source_file = m.source_file and f.sha256 = m.file_sha256 and f.status = 'loaded'""")
    con.execute("drop table v3_moved")
    return int(moved)


def _count_extra_columns(con: duckdb.DuckDBPyConnection) -> int:
    """audit.file_loads.extra_columns: the names (v2, varchar) become their number (integer)."""
    kind = con.execute("""select data_type from information_schema.columns where table_schema = 'audit'
                          and table_name = 'file_loads' and column_name = 'extra_columns'""").fetchone()
    if kind is None or kind[0] != "VARCHAR":
        return 0
    named = con.execute("select count(*) from audit.file_loads where coalesce(extra_columns, '') <> ''").fetchone()[0]
    con.execute("""alter table audit.file_loads alter extra_columns set data type integer using (
                       case when coalesce(extra_columns, '') <> '' then len(string_split(extra_columns, ','))
                            when error is null then 0 end)""")
    return int(named)


def _key_identities(con: duckdb.DuckDBPyConnection, key: bytes) -> tuple[int, int]:
    """Plain-hash identities of files never read -> keyed ones. (recomputed exactly, keyed stand-ins)."""
    rows = con.execute("""select distinct source_file, sha256 from audit.file_loads
                          where split_part(error, ':', 1) in (select unnest(?))""", [list(NOT_READ_CODES)]).fetchall()
    exact = stand_in = 0
    for source_file, old in rows:
        id_key = identity_key(source_file, key)
        label = next((w for w in V2_UNREAD_LABELS
                      if hashlib.sha256(f"{w}:{source_file}".encode("utf-8", "surrogateescape")).hexdigest() == old), None)
        if label is not None:
            new, exact = unread_identity(id_key, label), exact + 1
        else:   # a link's target or a raw path not in the warehouse: a keyed stand-in of the old value
            new, stand_in = hmac.new(key, b"v2 identity:" + old.encode(), hashlib.sha256).hexdigest(), stand_in + 1
        con.execute("update audit.file_loads set sha256 = ? where source_file = ? and sha256 = ?", [new, source_file, old])
    return exact, stand_in


def _reject_early_dates(con: duckdb.DuckDBPyConnection) -> int:
    """Loaded log and request versions dated before 2011-01-01 become file-level rejects."""
    early = con.execute("""select source_file, sha256 from audit.file_loads where status = 'loaded'
                           and kind in ('rekam', 'permohonan') and log_date < ?""", [FIRST_DATE]).fetchall()
    error = f"date_before_2011: {DATE_REASONS['date_before_2011']}"
    for source_file, sha in early:
        for table in ("landing.rekam", "landing.permohonan"):
            con.execute(f"delete from {table} where source_file = ? and file_sha256 = ?", [source_file, sha])
        con.execute("delete from audit.quarantine where source_file = ? and file_sha256 = ?", [source_file, sha])
        con.execute("""update audit.file_loads set status = 'rejected', error = ?, rows_loaded = 0, rows_quarantined = 0,
                       extra_columns = null where source_file = ? and sha256 = ? and status = 'loaded'""",
                    [error, source_file, sha])
    return len(early)


def upgrade_v3(con: duckdb.DuckDBPyConnection, key: bytes, run_id: str) -> dict:
    """Apply version 3's upgrade once (see the module doc). Returns what changed (non-zero counts only)."""
    if con.execute("select count(*) from audit.migrations where name = 'v3'").fetchone()[0]:
        return {}
    con.execute("begin transaction")
    try:
        names = _count_extra_columns(con)
        exact, stand_in = _key_identities(con, key)
        summary = {
            "rows_moved_id_alat_nik_or_date": _move_rows(con, "landing.rekam", "id_alat", REKAM_SUITE, "id_alat_invalid", run_id),
            "rows_moved_nomor_surat": _move_rows(con, "landing.permohonan", "nomor_surat", PERMOHONAN_SUITE,
                                                 "nomor_surat_invalid", run_id),
            "extra_column_names_replaced_by_count": names,
            "identities_keyed": exact,
            "identities_keyed_not_recomputable": stand_in,
            "files_dated_before_2011_rejected": _reject_early_dates(con),
        }
        con.execute("delete from audit.model_builds")      # the marts are rebuilt from the upgraded rows
        con.execute("insert into audit.migrations values ('v3', ?, ?, ?)",
                    [run_id, now_utc(), ", ".join(f"{k} {v}" for k, v in summary.items())])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return {k: v for k, v in summary.items() if v}
