"""Turn candidate files into warehouse rows: fetch -> parse -> validate -> pseudonymise -> write.

``fetch_files`` runs in the writer process: it reads each candidate once through the landing
zone's descriptors and hashes those bytes, and drops files whose bytes did not change.
``prepare`` is pure (bytes in, frames out; no file, no warehouse) and reads the feed's description
(``flows.ingest.feeds``), so batches can be prepared in parallel (Dask: the writer ships the bytes);
``write_batch`` is the single writer: one
transaction per batch of whole file versions, so after a crash the warehouse is exactly as before
the batch and a rerun redoes it. Replacing a changed file deletes its old rows and quarantine
entries and marks the old ``audit.file_loads`` version ``superseded`` in the same transaction.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import polars as pl

import flows.ingest.validate as validation
from flows.dates import now_utc
from flows.ingest.discover import Candidate, Plan, unread_identity
from flows.ingest.feeds import FEEDS, PERMOHONAN, REKAM, Feed, coverage
from flows.ingest.landing import LandingZone
from flows.ingest.pseudonym import pseudonymise
from flows.ingest.read import FileRejected, parse_file, parse_files
from flows.ingest.validate import DEFAULT_SLICE_ROWS
from flows.reference.wilayah import DEFAULT_AREA, desa_codes, region_frame

QUARANTINE_SCHEMA = {"source_file": pl.Utf8, "line_number": pl.Int64, "reason": pl.Utf8,
                     "detail": pl.Utf8, "file_sha256": pl.Utf8}


@dataclass
class FileOutcome:
    source_file: str
    sha256: str
    status: str                 # loaded / rejected
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    kind: str = "rekam"
    log_date: object = None
    kode_kecamatan: str | None = None
    bytes: int = 0
    mtime_ns: int = 0
    extra_columns: int | None = None        # ignored header columns, counted (never named); None: not read
    replaces: bool = False


@dataclass
class Prepared:
    files: list[FileOutcome] = field(default_factory=list)
    rows: pl.DataFrame | None = None          # the feed's landing rows (no NIK, no name)
    quarantine: pl.DataFrame | None = None
    validation: list[dict] = field(default_factory=list)

    @property
    def reasons(self) -> Counter:
        if self.quarantine is None or self.quarantine.height == 0:
            return Counter()
        return Counter(dict(self.quarantine.group_by("reason").len().iter_rows()))


def _outcome(c: Candidate, status: str, **kw) -> FileOutcome:
    return FileOutcome(c.source_file, c.sha256, status, kind=c.kind, log_date=c.log_date,
                       kode_kecamatan=c.kode_kecamatan, bytes=c.size, mtime_ns=c.mtime_ns,
                       replaces=c.replaces, **kw)


def _rejected(c: Candidate, code: str, message: str) -> FileOutcome:
    return _outcome(c, "rejected", error=f"{code}: {message}")


@dataclass
class RawFile:
    """A candidate and the bytes fetched for it (None when it was not read or is rejected). Its
    ``rel`` is replaced by ``source_file``: no raw file name travels beyond the fetch."""
    cand: Candidate
    data: bytes | None = None


def fetch_files(zone: LandingZone, cands: list[Candidate], plan: Plan, max_bytes: int,
                force: bool = False) -> list[RawFile]:
    """Read every candidate once (regular files only) and hash those bytes. A file whose bytes
    equal its current version is unchanged (recorded in ``plan.touched``, not loaded) unless
    ``force``; a file removed since the listing has left the landing zone and is skipped."""
    out: list[RawFile] = []
    with zone.batch():      # each folder opened once for the batch; no descriptor outlives it
        for c in cands:
            data = None
            if c.opened:
                got = zone.read(c.rel, max_bytes, c.reject is None)    # keep the bytes of a usable name only
                if got.gone:
                    continue
                c.sha256 = got.sha256 or unread_identity(c.id_key, got.unread or "unreadable")
                c.size, c.mtime_ns = got.size, got.mtime_ns or c.mtime_ns
                if c.known_sha256 == c.sha256 and not force:
                    plan.unchanged += 1
                    plan.touched.append((c.source_file, c.mtime_ns))
                    continue
                if c.reject is None:
                    c.reject = got.reject
                    data = got.data if got.reject is None else None
            out.append(RawFile(c.shipped(), data))
    return out


def _parse_batch(files: list[RawFile], columns: tuple[str, ...], optional: tuple[str, ...], out: Prepared):
    """Parse a batch; record file-level rejections and malformed records in ``out``. Returns the
    rows (with source_file, log_date, file_sha256), the readable candidates with their number of extra columns,
    and the malformed records."""
    out.files.extend(_rejected(f.cand, *f.cand.reject) for f in files if f.cand.reject)
    to_read = [f for f in files if not f.cand.reject]
    got = parse_files([f.data for f in to_read], columns, optional)   # one vectorised pass for the batch
    malformed: list[tuple[str, int, str, str, str]] = []
    readable: list[tuple[Candidate, int]] = []
    for raw, f in zip(to_read, got.files):
        c = raw.cand
        if f.rejected is not None:
            out.files.append(_rejected(c, f.rejected.code, f.rejected.message))
            continue
        malformed.extend((c.source_file, ln, "malformed_row", d, c.sha256) for ln, d in f.malformed)
        readable.append((c, f.extra_columns))
    rows = None
    if got.rows.height:
        idx = got.rows["file_index"]
        per_file = {   # file-level values, gathered onto the rows by their file_index
            "source_file": [f.cand.source_file for f in to_read],
            "log_date": [f.cand.log_date.isoformat() for f in to_read],
            "file_sha256": [f.cand.sha256 for f in to_read],
        }
        rows = got.rows.drop("file_index").with_columns(
            [pl.Series(name, values, dtype=pl.Utf8).gather(idx) for name, values in per_file.items()])
    return rows, readable, malformed


def _finish(out: Prepared, validated: pl.DataFrame | None, malformed: list, readable: list) -> pl.DataFrame | None:
    """Split validated rows into good ones (returned) and the quarantine; add the outcomes of the
    readable files to ``out``."""
    q_parts = [pl.DataFrame(malformed, schema=QUARANTINE_SCHEMA, orient="row")]
    good = None
    if validated is not None and validated.height:
        good = validated.filter(pl.col("reason").is_null())
        q_parts.append(validated.filter(pl.col("reason").is_not_null())
                       .select("source_file", "line_number", "reason", "detail", "file_sha256"))
    out.quarantine = pl.concat(q_parts, how="vertical").sort("source_file", "line_number")
    loaded_counts = dict(good.group_by("source_file").len().iter_rows()) if good is not None else {}
    q_counts = dict(out.quarantine.group_by("source_file").len().iter_rows())
    for c, extra in readable:
        out.files.append(_outcome(
            c, "loaded", rows_loaded=loaded_counts.get(c.source_file, 0),
            rows_quarantined=q_counts.get(c.source_file, 0),
            extra_columns=extra,
        ))
    return good


def _validator(feed: Feed):
    """The feed's validation function of flows.ingest.validate, looked up when called."""
    return getattr(validation, feed.validate)


# One batch is parsed at a time in a process (Polars uses every core for it): of two batches prepared
# at once (flows/orchestration/pipeline.py, LOCAL_WINDOW), the second parses while the first is
# checked and validated, instead of both parsing and then both waiting for their validation.
_PARSING = threading.Lock()


def _prepare_rows(feed: Feed, files: list[RawFile], key: bytes | None, slice_rows: int,
                  area: tuple[str, ...]) -> Prepared:
    """A batch of a feed whose bad rows are quarantined: parse, validate in one GX call against
    the area's desa, and (``key`` not None) project the good rows onto the feed's landing table."""
    out = Prepared()
    with _PARSING:
        rows, readable, malformed = _parse_batch(files, feed.columns, feed.optional, out)
    validated = None
    if rows is not None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ektp-pseudonyms") as pool:
            # DuckDB hashes (releasing the GIL) while Great Expectations validates: the pseudonyms
            # of every row, of which the good rows' are kept (issue 19: 0.64 s a million rows)
            ahead = (pool.submit(pseudonymise, feed.person_key(rows), key)
                     if key and feed.person_key is not None else None)
            validated, out.validation = _validator(feed)(rows, slice_rows, desa_codes(area))
            if ahead is not None:
                validated = validated.with_columns(ahead.result().alias("person_id"))
    good = _finish(out, validated, malformed, readable)
    if good is not None and key is not None:
        out.rows = feed.to_landing(good, key)
    return out


def _prepare_whole(feed: Feed, raw: RawFile, area: tuple[str, ...]) -> Prepared:
    """One file of a feed validated whole against its coverage (``flows.ingest.feeds.coverage``: for a
    snapshot every desa of it present, none outside it); any broken rule rejects it whole."""
    c = raw.cand
    out = Prepared()
    if c.reject:
        out.files.append(_rejected(c, *c.reject))
        return out
    try:
        res = parse_file(raw.data, feed.columns)
    except FileRejected as exc:
        out.files.append(_rejected(c, exc.code, exc.message))
        return out
    frame, problems, out.validation = _validator(feed)(res.rows, coverage(c.source_file, area))
    if res.malformed:
        lines = ", ".join(str(ln) for ln, _ in res.malformed[:10])
        problems.insert(0, f"malformed_row: records that are not valid CSV (line {lines})")
    if problems:
        out.files.append(_rejected(c, feed.invalid, "; ".join(problems)))
        return out
    out.rows = feed.to_landing(frame.with_columns(   # the file's own values (a batch gathers them per row)
        log_date=pl.lit(c.log_date), source_file=pl.lit(c.source_file), file_sha256=pl.lit(c.sha256)), b"")
    out.files.append(_outcome(c, "loaded", rows_loaded=out.rows.height, extra_columns=res.extra_columns))
    return out


def prepare(feed: Feed, files: list[RawFile], key: bytes | None, slice_rows: int = DEFAULT_SLICE_ROWS,
            area: tuple[str, ...] = DEFAULT_AREA) -> Prepared:
    """Parse and validate files of ``feed`` as its description says (``flows.ingest.feeds``): a feed
    validated ``whole`` file by file (one file rejected whole when any rule breaks), any other in
    one GX call for the batch (bad rows quarantined with their reason). ``rows``: the landing
    rows of what passed (none when ``key`` is None: a check only); ``key``: the pseudonym key, for
    a feed whose landing rows hold a pseudonym (the logs refuse an empty one: ValueError).
    ``area``: the run's area (Settings.wilayah)."""
    if not feed.whole:
        return _prepare_rows(feed, files, key, slice_rows, area)
    out = Prepared()
    parts = []
    for raw in files:
        one = _prepare_whole(feed, raw, area)
        out.files.extend(one.files)
        out.validation.extend(one.validation)
        parts += [one.rows] if one.rows is not None else []
    out.rows = pl.concat(parts) if parts else None
    return out


def prepare_logs(files: list[RawFile], key: bytes, slice_rows: int = DEFAULT_SLICE_ROWS,
                 area: tuple[str, ...] = DEFAULT_AREA) -> Prepared:
    """``prepare`` for recording logs: one GX call for the batch; the good rows pseudonymised."""
    return prepare(REKAM, files, key, slice_rows, area)


def prepare_requests(files: list[RawFile], slice_rows: int = DEFAULT_SLICE_ROWS,
                     area: tuple[str, ...] = DEFAULT_AREA) -> Prepared:
    """``prepare`` for village request files (contract section 9); ``rows`` are the
    landing.permohonan rows of the valid requests."""
    return prepare(PERMOHONAN, files, b"", slice_rows, area)


def _file_frame(files: list[FileOutcome], run_id: str) -> pl.DataFrame:
    return pl.DataFrame({
        "source_file": [f.source_file for f in files], "sha256": [f.sha256 for f in files],
        "status": [f.status for f in files], "rows_loaded": [f.rows_loaded for f in files],
        "rows_quarantined": [f.rows_quarantined for f in files], "error": [f.error for f in files],
        "kind": [f.kind for f in files], "log_date": [f.log_date for f in files],
        "kode_kecamatan": [f.kode_kecamatan for f in files], "bytes": [f.bytes for f in files],
        "mtime_ns": [f.mtime_ns for f in files], "extra_columns": [f.extra_columns for f in files],
        "run_id": [run_id] * len(files),
    }, schema={"source_file": pl.Utf8, "sha256": pl.Utf8, "status": pl.Utf8, "rows_loaded": pl.Int64,
               "rows_quarantined": pl.Int64, "error": pl.Utf8, "kind": pl.Utf8, "log_date": pl.Date,
               "kode_kecamatan": pl.Utf8, "bytes": pl.Int64, "mtime_ns": pl.Int64, "extra_columns": pl.Int32,
               "run_id": pl.Utf8})


def write_batch(con: duckdb.DuckDBPyConnection, run_id: str, batch_no: int, files: list[FileOutcome],
                feed: Feed | None = None, rows: pl.DataFrame | None = None, quarantine: pl.DataFrame | None = None,
                validation: list[dict] | None = None) -> None:
    """Write whole file versions in ONE transaction: ``rows`` (the landing rows of ``feed``, its
    ``table_columns``), their quarantine, their audit records and ``validation`` (the suite's
    outcome). Every earlier version of the same paths is replaced: its rows in every feed's landing
    table and its quarantine entries are deleted, its audit record is marked superseded. The paths
    and the person ids of the deleted log rows are recorded for the next model build
    (audit.changed_files, landing.rekam_replaced)."""
    if not files:
        return
    now = now_utc()
    paths = pl.DataFrame({"source_file": [f.source_file for f in files]})
    con.execute("begin transaction")
    try:
        con.register("batch_paths", paths)
        # what the next model build must rebuild (flows.warehouse.database: the incremental build)
        con.execute("insert into audit.changed_files select source_file, ? from batch_paths", [run_id])
        if _earlier_versions(con):
            con.execute("""insert into landing.rekam_replaced select person_id, cast(waktu_rekam as date), ?
                           from landing.rekam where source_file in (select source_file from batch_paths)""", [run_id])
            con.execute("""update audit.file_loads set status = 'superseded', superseded_at = ?
                           where status <> 'superseded' and source_file in (select source_file from batch_paths)""", [now])
            for table in (f.table for f in FEEDS.values()):
                con.execute(f"delete from {table} where source_file in (select source_file from batch_paths)")
            con.execute("delete from audit.quarantine where source_file in (select source_file from batch_paths)")
        if feed is not None and rows is not None and rows.height:
            con.register("batch_rows", rows)
            cols = ", ".join(feed.table_columns)
            con.execute(f"insert into {feed.table} ({cols}, run_id) select {cols}, ? from batch_rows", [run_id])
            con.unregister("batch_rows")
        if quarantine is not None and quarantine.height:
            con.register("batch_quarantine", quarantine)
            con.execute("""insert into audit.quarantine
                           select source_file, line_number, reason, detail, file_sha256, ? from batch_quarantine""", [run_id])
            con.unregister("batch_quarantine")
        # one insert of a registered frame (executemany costs ~1 ms a row: 7 s for a year's files)
        con.register("batch_files", _file_frame(files, run_id))
        con.execute("""insert into audit.file_loads
                       select source_file, sha256, status, rows_loaded, rows_quarantined, error, ?::timestamptz,
                              kind, log_date, kode_kecamatan, bytes, mtime_ns, extra_columns, run_id, null
                       from batch_files""", [now])
        con.unregister("batch_files")
        if validation:
            con.executemany("insert into audit.validation_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [(run_id, batch_no, v["suite"], v["reason"], v["expectation_type"], v["column_name"],
                              v["element_count"], v["unexpected_count"], v["success"], now) for v in validation])
        con.unregister("batch_paths")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _earlier_versions(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a path of the batch (``batch_paths``) has a current version in audit.file_loads. Only
    then can a landing table or the quarantine hold rows of it (a version's rows are deleted in the
    transaction that supersedes it), so a batch of new paths skips the deletes, each a scan of a
    whole table (issue 19: a province night's 241 new logs against a year of 745,000 rows)."""
    found = con.execute("""select count(*) from audit.file_loads
                           where status <> 'superseded' and source_file in (select source_file from batch_paths)""").fetchall()
    return found[0][0] > 0     # fetchall: a result left open would refuse the batch's next register


def load_reference(con: duckdb.DuckDBPyConnection, area: tuple[str, ...] = DEFAULT_AREA) -> None:
    """Replace landing.wilayah with the area's part of the region list (flows.reference.wilayah.region_frame:
    kab/kota, kecamatan, desa/kelurahan; 279 rows for OKU Selatan, cheap, every run). The table is
    recreated, so a warehouse of version 2 (with the BPS columns) gets the new columns."""
    con.register("ref_wilayah", region_frame(area))
    con.execute("begin transaction")
    try:
        con.execute("""create or replace table landing.wilayah as
                       select kode, nama, jenis, kode_kecamatan, kode_kabupaten from ref_wilayah order by kode""")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("ref_wilayah")


def check_log(data: bytes, log_date, kode_kecamatan: str, slice_rows: int = DEFAULT_SLICE_ROWS,
              area: tuple[str, ...] = DEFAULT_AREA) -> Prepared:
    """Check one recording log exactly as a run does (the same reader, the same suite, the same
    file-level rejections), without the key: nothing is pseudonymised and ``rows`` stays None.
    In: the file's bytes, its log date and kecamatan (its landing name is built from them). Out:
    ``files[0]`` (status ``loaded`` or ``rejected`` with ``error`` '<code>: <sentence>') and
    ``quarantine`` (line_number, reason; ``detail`` never holds a value). The portal's verdict
    at upload time, so the portal and a run can never disagree. ``area``: the run's (Settings.wilayah)."""
    import hashlib

    rel = f"rekam/{log_date.isoformat()}/{kode_kecamatan}.csv"
    cand = Candidate(rel, rel, "rekam", log_date, kode_kecamatan, len(data), 0,
                     sha256=hashlib.sha256(data).hexdigest())
    return prepare(REKAM, [RawFile(cand, data)], None, slice_rows, area)
