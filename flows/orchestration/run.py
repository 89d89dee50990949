"""The steps of one pipeline run as plain functions (Prefect wiring lives in flows/orchestration/pipeline.py).

discover -> load snapshots -> load log batches -> build models -> check -> finish -> publish -> report.
Each step takes explicit inputs and returns plain data; none of them logs a NIK or a name.
"""

from __future__ import annotations

import gc
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from flows.dates import now_utc
from flows.ingest import discover
from flows.ingest.discover import Candidate, Plan
from flows.ingest.feeds import PENDUDUK, PERMOHONAN, REKAM, Feed
from flows.ingest.landing import LandingZone
from flows.ingest.load import FileOutcome, Prepared, fetch_files, load_reference, prepare, write_batch
from flows.outputs.runsummary import Feedback, RejectedFile, RunSummary, kabupaten_lines, outreach, regency_backlog
from flows.reference.wilayah import kabupaten_codes, kecamatan_codes
from flows.settings import Settings
from flows.warehouse.area import reread_versions, supersede_renamed
from flows.warehouse.database import build_key, build_models, models_current, run_checks


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(2)


@dataclass
class RunTotals:
    """What a run did, accumulated over its batches; no personal data."""
    files: list[FileOutcome] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    quarantine_by_kecamatan: Counter = field(default_factory=Counter)

    def add(self, files: list[FileOutcome], prepared: Prepared | None = None, feed: str = "") -> None:
        """Count files and quarantined rows; ``feed`` prefixes the reasons of a feed other than the logs
        (``permohonan duplicate_row`` is not a log's ``duplicate_row``)."""
        self.files.extend(files)
        if prepared is not None and prepared.quarantine is not None and prepared.quarantine.height:
            self.reasons.update({f"{feed} {k}" if feed else k: v for k, v in prepared.reasons.items()})
            kec = {f.source_file: f.kode_kecamatan or f.kind for f in files}
            for source_file, n in prepared.quarantine.group_by("source_file").len().iter_rows():
                self.quarantine_by_kecamatan[kec.get(source_file, "?")] += n

    @property
    def loaded(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "loaded"]

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "rejected"]


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, flow: str, last_date: date,
              start_date: date | None) -> None:
    """Record the run; mark runs left 'running' by a crashed process as interrupted."""
    con.execute("update audit.runs set status = 'interrupted', finished_at = ? where status = 'running'", [now_utc()])
    con.execute(
        "insert into audit.runs (run_id, flow, status, start_date, last_date, started_at) values (?, ?, 'running', ?, ?, ?)",
        [run_id, flow, start_date, last_date, now_utc()],
    )


def plan_run(settings: Settings, con: duckdb.DuckDBPyConnection, zone: LandingZone, key: bytes,
             last_date: date, start_date: date | None = None, kecamatan: list[str] | None = None,
             force: bool = False, widened: frozenset[str] = frozenset()) -> Plan:
    """Reload the area's region list, list the landing zone and decide what to read (flows.ingest.discover).
    ``widened``: the kab/kota this run adds to the warehouse's area (flows.warehouse.area.check_area): then
    what was refused only for lying outside the old area is read again, whatever the window."""
    area = settings.wilayah
    load_reference(con, area)
    only = frozenset(kecamatan) if kecamatan else None
    with collector_paused():
        entries = zone.walked(settings.max_depth)
        if widened:
            supersede_renamed(con, entries, key, area)
            known = reread_versions(con, discover.current_versions(con))
            start_date, only = None, None
        else:
            known = discover.current_versions(con)
        return discover.plan(entries, known, key, kecamatan_codes(area), last_date, start_date, only, force,
                             link_text=zone.readlink, kabupaten=kabupaten_codes(area))


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector off for a bulk of acyclic objects (the listing's entries,
    the known versions: ~86,000 tuples each in a province year), then back as it was. Reference
    counting still frees them; what the pause saves is the collector's full passes over the whole
    heap (Prefect, Polars, DuckDB: ~0.1 s each) that so many new objects would trigger."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def batches(cands: list[Candidate], max_bytes: int, max_files: int) -> Iterator[list[Candidate]]:
    """Group candidates (in path order) into batches of whole files."""
    batch: list[Candidate] = []
    size = 0
    for c in cands:
        if batch and (size + c.size > max_bytes or len(batch) >= max_files):
            yield batch
            batch, size = [], 0
        batch.append(c)
        size += c.size
    if batch:
        yield batch


def load_feed(con: duckdb.DuckDBPyConnection, zone: LandingZone, plan: Plan, feed: Feed, settings: Settings,
              run_id: str, totals: RunTotals, force: bool = False, key: bytes = b"") -> None:
    """Load every new or changed file of a feed that is not batched by size (its ``batching``):
    ``each``, one file per transaction (a snapshot is validated whole); ``one``, every file in one
    batch and one transaction (requests: few and small). ``key``: the pseudonym key, for a feed
    whose landing rows hold a pseudonym. The logs go in batches (``load_log_batch``)."""
    files = fetch_files(zone, plan.of(feed), plan, settings.max_file_bytes, force)
    for group in ([[f] for f in files] if feed.batching == "each" else [files] if files else []):
        prepared = prepare(feed, group, key, settings.gx_slice_rows, settings.wilayah)
        write_batch(con, run_id, 0, prepared.files, feed, prepared.rows, prepared.quarantine, prepared.validation)
        totals.add(prepared.files, prepared, feed=feed.reason_prefix)


def load_snapshots(con: duckdb.DuckDBPyConnection, zone: LandingZone, plan: Plan, settings: Settings,
                   run_id: str, totals: RunTotals, force: bool = False) -> None:
    """Every new or changed population snapshot, one at a time (``load_feed``)."""
    load_feed(con, zone, plan, PENDUDUK, settings, run_id, totals, force)


def load_requests(con: duckdb.DuckDBPyConnection, zone: LandingZone, plan: Plan, settings: Settings,
                  run_id: str, totals: RunTotals, force: bool = False) -> None:
    """Every new or changed village request file (they are few and small): one batch, one transaction."""
    load_feed(con, zone, plan, PERMOHONAN, settings, run_id, totals, force)


def load_log_batch(con: duckdb.DuckDBPyConnection, prepared: Prepared, run_id: str, batch_no: int,
                   totals: RunTotals) -> None:
    """Write one prepared batch of recording logs (a task per batch, flows.orchestration.pipeline)."""
    write_batch(con, run_id, batch_no, prepared.files, REKAM, prepared.rows, prepared.quarantine, prepared.validation)
    totals.add(prepared.files, prepared, feed=REKAM.reason_prefix)


def build_and_check(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[list, str | None]:
    """Rebuild the marts unless they are already built from exactly this warehouse state (a run
    with nothing new); run the checks either way. Returns (checks, run that built the marts
    when the rebuild was skipped, else None)."""
    key = build_key(con)
    current = models_current(con, key)
    if current is None:
        build_models(con, key, run_id)
    return run_checks(con, run_id), current


def remember_mtimes(con: duckdb.DuckDBPyConnection, touched: list[tuple[str, int]]) -> None:
    """Store the new mtime of files whose bytes were found unchanged (a copy or `touch` that kept
    the content), so that the next run recognises them by (size, mtime) without hashing them."""
    if not touched:
        return
    frame = pl.DataFrame(touched, schema={"source_file": pl.Utf8, "mtime_ns": pl.Int64}, orient="row")
    con.register("touched_files", frame)
    try:
        con.execute("""update audit.file_loads f set mtime_ns = t.mtime_ns from touched_files t
                       where f.source_file = t.source_file and f.status <> 'superseded'""")
    finally:
        con.unregister("touched_files")


@dataclass(frozen=True)
class RunFacts:
    """What the flow knows of a run beside the warehouse, for its summary: the upgrade of an older
    warehouse, the weak-key warning, the feedback files written, and where the report goes."""
    upgrade: dict = field(default_factory=dict)
    key_warning: str | None = None
    feedback: Feedback | None = None
    report: str | None = None


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, plan: Plan, totals: RunTotals,
               checks: list, last_date: date, facts: RunFacts = RunFacts()) -> RunSummary:
    """Close the run record and return the run summary (privacy-safe), the one place it is built."""
    backlog = regency_backlog(con)
    prev = con.execute("""select belum_rekam, backlog_as_of from audit.runs
                          where status = 'completed' and belum_rekam is not null and run_id <> ?
                          order by started_at desc limit 1""", [run_id]).fetchone()
    missing = [r[0] for r in con.execute(
        "select kode_kecamatan || ' ' || nama_kecamatan from mart.log_completeness where tanggal = ? and status = 'missing' order by 1",
        [last_date]).fetchall()]
    loaded = totals.loaded
    summary = RunSummary(
        run_id=run_id,
        last_date=last_date.isoformat(),
        files_loaded=len(loaded),
        files_rejected=len(totals.rejected),
        files_replaced=sum(1 for f in totals.files if f.replaces),
        files_unchanged=plan.unchanged,
        files_later=plan.later,
        rows_loaded=sum(f.rows_loaded for f in loaded if f.kind == "rekam"),
        requests_loaded=sum(f.rows_loaded for f in loaded if f.kind == "permohonan"),
        rows_quarantined=sum(f.rows_quarantined for f in loaded),
        quarantine_by_reason=dict(totals.reasons.most_common()),
        quarantine_by_kecamatan=dict(sorted(totals.quarantine_by_kecamatan.items())),
        rejected_files=[RejectedFile(f.source_file, f.error) for f in totals.rejected],
        missing_logs_on_last_date=missing,
        backlog=backlog,
        backlog_change=(backlog.belum_rekam - prev[0]) if backlog and prev else None,
        kabupaten=kabupaten_lines(con, backlog.as_of_date) if backlog else [],
        data_problems={c.name: c.violations for c in checks if c.severity == "data" and c.violations},
        upgrade=dict(facts.upgrade),
        outreach=outreach(con),
        key_warning=facts.key_warning,
        feedback=facts.feedback,
        report=facts.report,
    )
    remember_mtimes(con, plan.touched)
    con.execute("""update audit.runs set status = 'completed', finished_at = ?, files_loaded = ?, files_rejected = ?,
                   files_unchanged = ?, rows_loaded = ?, rows_quarantined = ?, backlog_as_of = ?, belum_rekam = ?
                   where run_id = ?""",
                [now_utc(), summary.files_loaded, summary.files_rejected, plan.unchanged,
                 summary.rows_loaded, summary.rows_quarantined,
                 backlog.as_of_date if backlog else None, backlog.belum_rekam if backlog else None, run_id])
    return summary


def fail_run(con: duckdb.DuckDBPyConnection, run_id: str, message: str) -> None:
    try:
        con.execute("rollback")
    except duckdb.Error:
        pass
    try:
        con.execute("update audit.runs set status = 'failed', finished_at = ?, message = ? where run_id = ?",
                    [now_utc(), message[:500], run_id])
    except duckdb.Error:
        pass
