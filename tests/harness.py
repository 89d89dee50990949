"""Build the SQL models of sql/order.txt from given rows, in memory: the unit-test harness of the models.

No Prefect, no Great Expectations, no file: an in-memory DuckDB gets the tables of
sql/schema.sql, the shipped region list (flows.ingest.load.load_reference), the landing rows a test
gives, and is built by the real model runner (flows.warehouse.database.build_models) from the real SQL.
The runner writes the calendar first (core.hari_libur, core.kalender_tahun: the days off of the
pinned holiday package for the years of the range, flows/reference/workdays.py), so model tests see the
same working days as a run.

    wh = build([rec(person="P1", desa=A, at="2025-01-01 08:00:00", umur=30),
                rec(person="P1", desa=A, at="2025-01-02 08:00:00")],
               snapshots=[snapshot("2024-12-31", wajib=200, sudah=160)],
               files=[rejected("2025-01-02", "16.09.04")])
    wh.rows("mart.backlog", "sudah_rekam", as_of_date="2025-01-01", kode_desa=A)   # [(161,)]

A test states only what its rule needs; everything else has a valid default:
- ``rec``: one landing.rekam row. Person ids are any strings (they stand for pseudonyms). The row
  comes from the file ``rekam/<date of at>/<sent_by>.csv`` (``sent_by``: the kecamatan whose log
  listed it, by default the desa's own); line numbers follow the order of the rows in each file.
  ``at`` may be a bare date (the row is then recorded at 08:00:00). ``recs(n, ...)``: n such rows
  of n different persons (``<person>1`` .. ``<person>n``), e.g. a kecamatan's log of a day.
- ``snapshot``: the landing.penduduk rows of one snapshot, every desa at the given totals: of the
  area (``penduduk/<day>.csv``), or of one kab/kota (``kabupaten=``: ``penduduk/<day>/<kode>.csv``).
- ``build(..., area=("16.01", "16.09"))``: the region list of another area (default 16.09).
- ``request``: one landing.permohonan row (a valid village request) of the file
  ``permohonan/<daftar>.csv``: desa, registration date, letter date (default: the registration
  date), letter number, expected residents (default none); line numbers as for ``rec``.
- ``log_file``, ``header_only``, ``rejected``, ``request_file``: explicit audit.file_loads versions.
  Every file of the given rekam rows, snapshots and requests gets a current ``loaded`` version
  unless one is given.

``load_landing`` is the second entry point: it loads the raw files of a landing zone through the
plain functions of a run (area check, plan, fetch, parse, validate, pseudonymise, write, area
record; flows.warehouse.area, flows.orchestration.run and flows.ingest.load), in one batch, one file per batch in a given order,
or twice, and builds the models; under a given ``area``, and into a given warehouse (``into``:
a second run on the same warehouse, e.g. one that widens its area).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from flows.ingest.feeds import FEEDS, REKAM
from flows.ingest.load import load_reference
from flows.reference.wilayah import DEFAULT_AREA, desa_codes, desa_of_kabupaten
from flows.warehouse.database import SQL_DIR, build_models

TEST_KEY = "test-key-not-secret-0123456789abcdef"
LOADED_AT = "2025-01-01 00:00:00+00"
RUN_ID = "harness"
EMPTY_FILE = "empty_file: the file is empty (0 bytes)"

REKAM_SCHEMA = {"person_id": pl.Utf8, "jenis_kelamin": pl.Utf8, "umur": pl.Int16, "status_kawin": pl.Utf8,
                "kode_desa": pl.Utf8, "waktu_rekam": pl.Utf8, "jenis_rekam": pl.Utf8, "lokasi_rekam": pl.Utf8,
                "id_alat": pl.Utf8, "source_file": pl.Utf8, "file_sha256": pl.Utf8, "line_number": pl.Int32,
                "run_id": pl.Utf8}
PENDUDUK_SCHEMA = {"snapshot_date": pl.Utf8, "kode_desa": pl.Utf8, "wajib_ktp_lk": pl.Int64, "wajib_ktp_pr": pl.Int64,
                   "sudah_rekam_lk": pl.Int64, "sudah_rekam_pr": pl.Int64, "source_file": pl.Utf8,
                   "file_sha256": pl.Utf8, "line_number": pl.Int32, "run_id": pl.Utf8}
PERMOHONAN_SCHEMA = {"tanggal_daftar": pl.Utf8, "kode_desa": pl.Utf8, "tanggal_surat": pl.Utf8, "nomor_surat": pl.Utf8,
                     "perkiraan_warga": pl.Int32, "source_file": pl.Utf8, "file_sha256": pl.Utf8,
                     "line_number": pl.Int32, "run_id": pl.Utf8}
# the landing table of each feed (flows.ingest.feeds: FEEDS[kind].table), as the tests give its rows
LANDING_SCHEMAS = {"rekam": REKAM_SCHEMA, "penduduk": PENDUDUK_SCHEMA, "permohonan": PERMOHONAN_SCHEMA}
FILE_SCHEMA = {"source_file": pl.Utf8, "sha256": pl.Utf8, "status": pl.Utf8, "rows_loaded": pl.Int64,
               "rows_quarantined": pl.Int64, "error": pl.Utf8, "loaded_at": pl.Utf8, "kind": pl.Utf8,
               "log_date": pl.Utf8, "kode_kecamatan": pl.Utf8, "run_id": pl.Utf8}


def sha(source_file: str) -> str:
    """The default SHA-256 of a file version: a stand-in derived from its path."""
    return hashlib.sha256(source_file.encode()).hexdigest()


def log_path(day: str, kecamatan: str) -> str:
    return f"rekam/{day}/{kecamatan}.csv"


# --- given rows -----------------------------------------------------------------------------------

def rec(person: str = "P1", desa: str = "16.09.01.1013", at: str = "2025-01-01 08:00:00", jenis: str = "BARU",
        lokasi: str = "DINAS", umur: int = 30, kawin: str = "KAWIN", jk: str = "L", alat: str = "DINAS-01",
        sent_by: str | None = None, file: str | None = None, line: int | None = None) -> dict:
    """One loaded recording (landing.rekam row) of the log rekam/<date of at>/<sent_by or the desa's kecamatan>.csv.
    ``at`` may be a bare date (YYYY-MM-DD): 08:00:00 that day."""
    if len(at) == 10:
        at = f"{at} 08:00:00"
    return {"person_id": person, "jenis_kelamin": jk, "umur": umur, "status_kawin": kawin, "kode_desa": desa,
            "waktu_rekam": at, "jenis_rekam": jenis, "lokasi_rekam": lokasi, "id_alat": alat,
            "source_file": file or log_path(at[:10], sent_by or desa[:8]), "line_number": line}


def recs(n: int, person: str = "P", at: str = "2025-01-01 08:00:00", **kw) -> list[dict]:
    """``n`` recordings (see ``rec``) of the persons <person>1 .. <person>n, one second apart from ``at``."""
    at = f"{at} 08:00:00" if len(at) == 10 else at
    return [rec(person=f"{person}{i}", at=f"{at[:17]}{int(at[17:19]) + i - 1:02d}", **kw) for i in range(1, n + 1)]


def request_path(day: str) -> str:
    return f"permohonan/{day}.csv"


def request(desa: str = "16.09.01.1013", daftar: str = "2025-01-01", nomor: str = "001/PMD/I/2025",
            surat: str | None = None, warga: int | None = None, file: str | None = None,
            line: int | None = None) -> dict:
    """One valid village request (landing.permohonan row) of permohonan/<daftar>.csv: the desa
    ``desa`` asks, by the letter ``nomor`` dated ``surat`` (default: the registration date), for an
    outreach team; ``warga`` is perkiraan_warga (default: not given)."""
    return {"tanggal_daftar": daftar, "kode_desa": desa, "tanggal_surat": surat or daftar, "nomor_surat": nomor,
            "perkiraan_warga": warga, "source_file": file or request_path(daftar), "line_number": line}


def snapshot(day: str = "2024-12-31", wajib: int = 200, sudah: int = 160,
             overrides: dict[str, tuple[int, ...]] | None = None, kabupaten: str | None = None,
             area: tuple[str, ...] = DEFAULT_AREA) -> list[dict]:
    """The landing.penduduk rows of the snapshot penduduk/<day>.csv (every desa of ``area``), or of
    penduduk/<day>/<kabupaten>.csv (every desa of that kab/kota): each with wajib_ktp ``wajib`` and
    sudah_rekam ``sudah`` (totals, split between the sexes), except the desa in ``overrides``:
    (wajib, sudah) totals or (wajib_lk, wajib_pr, sudah_lk, sudah_pr)."""
    source_file = f"penduduk/{day}/{kabupaten}.csv" if kabupaten else f"penduduk/{day}.csv"
    coverage = desa_of_kabupaten(kabupaten) if kabupaten else desa_codes(area)
    out = []
    for line, kode in enumerate(sorted(coverage), start=2):
        v = (overrides or {}).get(kode, (wajib, sudah))
        if len(v) == 2:
            v = (v[0] // 2, v[0] - v[0] // 2, v[1] // 2, v[1] - v[1] // 2)
        out.append({"snapshot_date": day, "kode_desa": kode, "wajib_ktp_lk": v[0], "wajib_ktp_pr": v[1],
                    "sudah_rekam_lk": v[2], "sudah_rekam_pr": v[3], "source_file": source_file,
                    "file_sha256": sha(source_file), "line_number": line, "run_id": RUN_ID})
    return out


def log_file(day: str, kecamatan: str, status: str = "loaded", rows: int | None = None, quarantined: int = 0,
             error: str | None = None, sha256: str | None = None) -> dict:
    """One version of rekam/<day>/<kecamatan>.csv in audit.file_loads. ``rows`` (rows_loaded)
    defaults to the number of given rekam rows of that file and version."""
    source_file = log_path(day, kecamatan)
    return {"source_file": source_file, "sha256": sha256 or sha(source_file), "status": status, "rows_loaded": rows,
            "rows_quarantined": quarantined, "error": error, "loaded_at": LOADED_AT, "kind": "rekam",
            "log_date": day, "kode_kecamatan": kecamatan, "run_id": RUN_ID}


def header_only(day: str, kecamatan: str) -> dict:
    """A loaded log with a header and no row: nobody was recorded."""
    return log_file(day, kecamatan, rows=0)


def rejected(day: str, kecamatan: str, error: str = EMPTY_FILE) -> dict:
    """A log rejected whole (nothing of it loaded)."""
    return log_file(day, kecamatan, status="rejected", rows=0, error=error)


def request_file(day: str, status: str = "loaded", rows: int | None = None, quarantined: int = 0,
                 error: str | None = None, sha256: str | None = None) -> dict:
    """One version of permohonan/<day>.csv in audit.file_loads (kind ``permohonan``, log_date the
    registration date). ``rows`` defaults to the number of given requests of that file and version."""
    source_file = request_path(day)
    return {"source_file": source_file, "sha256": sha256 or sha(source_file), "status": status, "rows_loaded": rows,
            "rows_quarantined": quarantined, "error": error, "loaded_at": LOADED_AT, "kind": "permohonan",
            "log_date": day, "kode_kecamatan": None, "run_id": RUN_ID}


def _derived_file(source_file: str, kind: str, rows: int) -> dict:
    """The current loaded version of a file that given rows come from."""
    parts = source_file.split("/")
    if kind == "rekam" and len(parts) == 3 and parts[2].endswith(".csv"):
        return log_file(parts[1], parts[2][:-4], rows=rows)
    if kind == "permohonan" and len(parts) == 2 and parts[1].endswith(".csv"):
        return request_file(parts[1][:-4], rows=rows)
    day = (parts[1] if len(parts) == 3 else parts[1][:-4]) if kind == "penduduk" else None
    return {"source_file": source_file, "sha256": sha(source_file), "status": "loaded", "rows_loaded": rows,
            "rows_quarantined": 0, "error": None, "loaded_at": LOADED_AT, "kind": kind, "log_date": day,
            "kode_kecamatan": None, "run_id": RUN_ID}


# --- the warehouse ----------------------------------------------------------------------------------

@dataclass
class Warehouse:
    """An in-memory warehouse with its models built; ``con`` is open for queries (and tampering)."""
    con: duckdb.DuckDBPyConnection

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    def rows(self, relation: str, cols: str = "*", **where) -> list[tuple]:
        """``cols`` of ``relation`` where every keyword column equals its value, ordered by all."""
        cond = " and ".join(f"{c} = ?" for c in where) or "true"
        return self.query(f"select {cols} from {relation} where {cond} order by all", list(where.values()))

    def one(self, relation: str, cols: str = "*", **where) -> tuple:
        """The single row of ``rows`` (fails when there are none or several)."""
        got = self.rows(relation, cols, **where)
        assert len(got) == 1, f"{relation} where {where}: {len(got)} rows, expected one: {got[:5]}"
        return got[0]

    def check(self, name: str) -> list[tuple]:
        """The violating rows of sql/checks/<name>.sql."""
        sql = (SQL_DIR / "checks" / f"{name}.sql").read_text(encoding="utf-8").strip().rstrip(";")
        return self.query(f"select * from ({sql}) order by all")

    def checks(self) -> dict[str, list[tuple]]:
        """Every check of sql/checks with its violating rows."""
        return {p.stem: self.check(p.stem) for p in sorted((SQL_DIR / "checks").glob("*.sql"))}

    def marts(self) -> dict[str, list[tuple]]:
        """Every table of the mart schema, fully ordered, for equality comparisons."""
        names = self.query("select table_name from information_schema.tables where table_schema = 'mart' order by 1")
        return {t: self.query(f"select * from mart.{t} order by all") for (t,) in names}

    def close(self) -> None:
        self.con.close()


def empty_warehouse(area: tuple[str, ...] = DEFAULT_AREA, path: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB (or a file at ``path``) with the tables of sql/schema.sql and the region list of ``area``."""
    con = duckdb.connect(path, config={"autoinstall_known_extensions": False,
                                       "autoload_known_extensions": False})
    con.execute((SQL_DIR / "schema.sql").read_text(encoding="utf-8"))
    load_reference(con, area)
    return con


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], schema: dict) -> None:
    if rows:
        con.register("given", pl.DataFrame(rows, schema=schema))
        con.execute(f"insert into {table} by name select * from given")
        con.unregister("given")


def _with_lineage(rows: list[dict]) -> list[dict]:
    """Copies of given rows with line numbers in the order of each file's rows (the header is
    line 1) where none was given, the file's default SHA-256 and the harness's run id."""
    rows = [dict(r) for r in rows]
    lines: dict[str, int] = {}
    for r in rows:
        lines[r["source_file"]] = lines.get(r["source_file"], 1) + 1
        r["line_number"] = r["line_number"] if r["line_number"] is not None else lines[r["source_file"]]
        r.setdefault("file_sha256", sha(r["source_file"]))
        r.setdefault("run_id", RUN_ID)
    return rows


def build(rekam: list[dict] = (), snapshots: list[list[dict]] = (), files: list[dict] = (),
          requests: list[dict] = (), area: tuple[str, ...] = DEFAULT_AREA, path: str = ":memory:") -> Warehouse:
    """Load the given rows into a new warehouse of ``area`` (in memory, or a DuckDB file at ``path``)
    and build every model of sql/order.txt."""
    rekam = _with_lineage(rekam)
    permohonan = _with_lineage(requests)
    penduduk = [r for snap in snapshots for r in snap]

    files = [dict(f) for f in files]
    current = {f["source_file"] for f in files if f["status"] != "superseded"}
    landing = {"rekam": rekam, "penduduk": penduduk, "permohonan": permohonan}   # given rows, by feed
    for kind, given in landing.items():
        counts: dict[str, int] = {}
        for r in given:
            counts[r["source_file"]] = counts.get(r["source_file"], 0) + 1
        files += [_derived_file(sf, kind, n) for sf, n in counts.items() if sf not in current]
    for f in files:
        if f["rows_loaded"] is None:
            f["rows_loaded"] = sum(1 for r in (*rekam, *permohonan) if r["source_file"] == f["source_file"]
                                   and r["file_sha256"] == f["sha256"])

    con = empty_warehouse(area, path)
    for feed in FEEDS.values():
        _insert(con, feed.table, landing[feed.kind], LANDING_SCHEMAS[feed.kind])
    _insert(con, "audit.file_loads", files, FILE_SCHEMA)
    build_models(con)
    return Warehouse(con)


def load_landing(data_dir: Path, last_date: date = date(2025, 1, 31), order: list[int] | None = None,
                 twice: bool = False, key: str | None = None, area: tuple[str, ...] = DEFAULT_AREA,
                 into: Warehouse | None = None) -> Warehouse:
    """Load the raw files of ``data_dir``/raw into a new in-memory warehouse (or the warehouse
    ``into``) under ``area`` through the plain functions of a run (no Prefect): the area check (a
    narrower area raises UserError before anything changes; a wider one widens), every snapshot and
    request file, then the logs in one batch (``order`` None) or one file per batch in ``order``
    (indices into the plan's logs, in path order); with ``twice``, everything again (a forced
    reload). Then record the area and build every model."""
    import dataclasses

    from flows.ingest.landing import LandingZone
    from flows.ingest.load import fetch_files, prepare, write_batch
    from flows.orchestration import run as steps
    from flows.settings import load_settings
    from flows.warehouse.area import check_area, record_area

    key_bytes = (key or os.environ.get("EKTP_NIK_KEY") or TEST_KEY).encode()
    settings = dataclasses.replace(load_settings(data_dir), wilayah=area)
    con = into.con if into is not None else empty_warehouse(area)
    widened = check_area(con, area)
    for round_ in range(2 if twice else 1):
        force = round_ > 0
        with LandingZone(Path(data_dir) / "raw") as zone:
            plan = steps.plan_run(settings, con, zone, key_bytes, last_date, force=force, widened=widened)
            for feed in FEEDS.values():     # the feeds of few files (snapshots, requests), as a run loads them
                if feed.batching != "batches":
                    steps.load_feed(con, zone, plan, feed, settings, RUN_ID, steps.RunTotals(), force, key_bytes)
            logs = plan.of(REKAM)
            batches = [logs] if order is None else [[logs[i]] for i in order]
            for n, batch in enumerate(batches, start=1):
                p = prepare(REKAM, fetch_files(zone, batch, plan, settings.max_file_bytes, force), key_bytes, area=area)
                write_batch(con, RUN_ID, n, p.files, REKAM, p.rows, p.quarantine)
    record_area(con, area, RUN_ID)
    build_models(con)
    return Warehouse(con)
