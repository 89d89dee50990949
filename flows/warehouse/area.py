"""The area a warehouse serves (contract section 10): recorded, widened, never narrowed.

``audit.wilayah`` holds one row per kab/kota the warehouse serves. A warehouse built before areas
existed (version 2: file versions but no such rows) is an area of ``16.09``; a new one has none.

At the start of a run, ``check_area`` (on the writer's file opened read-only) compares the run's
area with the recorded one. A run whose area lacks a recorded kab/kota stops with one line before
anything changes (narrowing would silently drop figures). A run whose area holds more kab/kota
widens it: its plan (``flows.orchestration.run.plan_run``) reads again what was refused only because a code
lay outside the old area, so that afterwards the warehouse is what a first run under the wider
area would have built:

- every current version rejected whole (a log or snapshot folder named after a kab/kota or
  kecamatan the old area lacked; an area snapshot holding desa outside it), ``reread_versions``;
- every current version with rows quarantined as ``kode_desa_unknown`` (a desa of the new kab/kota);
- every loaded area snapshot (``penduduk/<date>.csv``): under the wider area it lacks the new
  kab/kota's desa, and a first run would have rejected it;
- a file stored under its hashed name because its name was not a landing name then, and is now
  (``supersede_renamed``): the hashed version is superseded and the file is read under its name.

The marts are rebuilt because the region list and the file versions changed
(``flows.warehouse.database.build_key``). The wider area is recorded at the end of the run
(``record_area``), so a run that fails on the way is widened again by the next one.
"""

from __future__ import annotations

import duckdb

from flows.dates import now_utc
from flows.errors import UserError
from flows.ingest.discover import hashed_name, landing_name
from flows.ingest.landing import Entry
from flows.reference.wilayah import DEFAULT_AREA, kabupaten_codes, kecamatan_codes, name

REREAD_SHA256 = ""     # a stand-in SHA-256 no file has: the plan reads the file again and replaces its version


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()}


def recorded_area(con: duckdb.DuckDBPyConnection | None) -> frozenset[str]:
    """The kab/kota the warehouse serves: audit.wilayah; a warehouse of version 2 (file versions,
    no recorded area) serves 16.09; a new or empty one none."""
    if con is None:
        return frozenset()
    tables = _tables(con)
    if "audit.wilayah" in tables:
        got = frozenset(r[0] for r in con.execute("select kode_kabupaten from audit.wilayah").fetchall())
        if got:
            return got
    if "audit.file_loads" in tables and con.execute("select count(*) from audit.file_loads").fetchall()[0][0]:
        return kabupaten_codes(DEFAULT_AREA)
    return frozenset()


def check_area(con: duckdb.DuckDBPyConnection | None, area: tuple[str, ...]) -> frozenset[str]:
    """The kab/kota this run adds to the recorded area (empty: nothing to widen; for a new
    warehouse too). Raises UserError (one line) when the run's area lacks a recorded kab/kota."""
    recorded = recorded_area(con)
    serving = kabupaten_codes(area)
    lacking = sorted(recorded - serving)
    if lacking:
        raise UserError(
            f"This run's area ({', '.join(area)}) lacks kab/kota the warehouse already serves "
            f"({', '.join(lacking)}); nothing was changed. Run with an area that contains them (EKTP_WILAYAH or "
            "--wilayah): narrowing would silently drop their figures.")
    return frozenset(serving - recorded) if recorded else frozenset()


def reread_versions(con: duckdb.DuckDBPyConnection,
                    known: dict[str, tuple[str, int | None, int | None]]) -> dict[str, tuple[str, int | None, int | None]]:
    """``known`` (discover.current_versions) with the versions a widening reads again marked so
    that the plan takes them as changed files (see the module doc)."""
    again = {r[0] for r in con.execute("""
        select source_file from audit.file_loads
        where status = 'rejected'
           or (status = 'loaded' and kind = 'penduduk' and regexp_full_match(source_file, 'penduduk/[^/]+\\.csv'))
        union
        select q.source_file from audit.quarantine q
        join audit.file_loads f on f.source_file = q.source_file and f.sha256 = q.file_sha256 and f.status = 'loaded'
        where q.reason = 'kode_desa_unknown'""").fetchall()}
    return {sf: ((REREAD_SHA256, None, None) if sf in again else v) for sf, v in known.items()}


def supersede_renamed(con: duckdb.DuckDBPyConnection, entries: list[Entry], key: bytes,
                      area: tuple[str, ...]) -> int:
    """Supersede the current versions stored under a hashed name whose path is a landing name of
    ``area`` (it is then read under its name, as a first run would). Returns how many."""
    kec, kab = kecamatan_codes(area), kabupaten_codes(area)
    hashed = [hashed_name(e.rel, key) for e in entries
              if e.kind == "file" and landing_name(e.rel, kec, kab)[3] is None]
    if not hashed:
        return 0
    n = 0
    for source_file in hashed:
        n += con.execute("""update audit.file_loads set status = 'superseded', superseded_at = ?
                            where source_file = ? and status <> 'superseded'""",
                         [now_utc(), source_file]).fetchall()[0][0]
    return n


def record_area(con: duckdb.DuckDBPyConnection, area: tuple[str, ...], run_id: str) -> list[str]:
    """Record the kab/kota of ``area`` the warehouse did not serve yet (at the end of a good run);
    returns them."""
    have = {r[0] for r in con.execute("select kode_kabupaten from audit.wilayah").fetchall()}
    new = sorted(kabupaten_codes(area) - have)
    now = now_utc()
    if new:
        con.executemany("insert into audit.wilayah values (?, ?, ?, ?)", [(k, name(k), run_id, now) for k in new])
    return new
