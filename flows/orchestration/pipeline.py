"""Prefect wiring: the nightly and backfill flows, thin over the plain steps in flows/orchestration/run.py.

One task per stage (and one per batch of files, never one per row or per small file). The flows
take no data directory: they run on the settings of the process that runs them
(``flows.settings.load_settings``: ``EKTP_DATA_DIR`` etc., which ``ektp serve`` and the ``ektp``
command set from their options), so whoever reaches the Prefect API can only trigger runs on the
data directory the deployments were served for. Date parameters are ``YYYY-MM-DD`` text with a
schema ``pattern``, so the API refuses a malformed date before a run exists; a date that fits
the pattern but does not exist fails at the start of the run, in one line naming the parameter.

The NIK key is never a task parameter: tasks resolve it themselves. Large parameters (the plan,
the run's totals, a batch's files and prepared frames) are passed ``quote``-d: Prefect would
otherwise walk every file of a year's plan for task dependencies, about a second per task call. Every task and flow is
``contained``: an unexpected exception leaves it as ``StageFailed`` (stage and type only), so no
library's text (which may quote a NIK, a name or a file name) reaches Prefect or audit.runs.
"""

# No `from __future__ import annotations`: Prefect and pydantic read the flows' parameter types
# through the `contained` wrapper, whose globals are not this module's.
import secrets
import sys
from collections import deque
from contextlib import contextmanager
from datetime import date, tzinfo
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import Field

from flows import companion
from flows.dates import DATE_PATTERN, check_range, check_run_dates, parse_iso_date
from flows.errors import UserError, contain_exception, contained
from flows.ingest import validate as validation
from flows.ingest.discover import Candidate, Plan
from flows.ingest.feeds import FEEDS, REKAM
from flows.ingest.landing import LandingZone
from flows.ingest.load import Prepared, RawFile, fetch_files, prepare
from flows.orchestration import run as steps
from flows.outputs.artifact import run_markdown
from flows.outputs.feedback import write_feedback
from flows.outputs.publish import backup, publish
from flows.outputs.runsummary import Feedback, RunSummary
from flows.progress import reporter
from flows.reference.wilayah import kecamatan_codes
from flows.settings import Settings, fingerprint, load_settings, resolve_key, weak_key_warning
from flows.warehouse.area import check_area, record_area
from flows.warehouse.database import (
    connect_reader,
    connect_writer,
    open_read_only,
    private_files,
    secure_files,
    writer_lock,
)
from flows.warehouse.migrate import upgrade, verify_key

KECAMATAN_PATTERN = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}$"   # a kecamatan code; one of the area's, checked at the start
# A date parameter: text YYYY-MM-DD. `format: date` keeps the UI's date picker; `pattern` makes
# the API refuse anything else (Prefect answers 409 to create_flow_run).
DateText = Annotated[str, Field(json_schema_extra={"format": "date", "pattern": DATE_PATTERN})]
KecamatanCode = Annotated[str, Field(json_schema_extra={"pattern": KECAMATAN_PATTERN})]


def parse_date_param(name: str, value: str | date, tz: tzinfo) -> date:
    """A date parameter as a date; one line (UserError) naming the parameter when it is not a real
    date or lies outside 2011-01-01 .. tomorrow in ``tz`` (flows/dates.py, as on the command line)."""
    day = value if isinstance(value, date) else parse_iso_date(value)
    if day is None:
        raise UserError(f"The parameter {name} is not a real calendar date as YYYY-MM-DD.")
    check_run_dates({f"The parameter {name}": day}, tz)
    return day


@task(name="verify-key", cache_policy=NO_CACHE)
@contained("verify-key")
def verify_key_task(settings: Settings, zone: LandingZone, con) -> str | None:
    key = resolve_key(settings)
    proven_by = verify_key(settings, zone, key, fingerprint(key), con)
    warning = weak_key_warning(settings)      # an existing warehouse under a short key: named, every run
    if warning:
        get_run_logger().warning(warning)
        print(f"ektp: {warning}", file=sys.stderr)
    return proven_by


@contextmanager
def _read_only(settings: Settings):
    """The writer's file opened read-only (None: no warehouse yet) for the checks before the run
    writes anything, closed after them (one opening: 0.05 s each for a province year's file)."""
    con = contained("verify-key")(open_read_only)(settings)
    try:
        yield con
    finally:
        if con is not None:
            con.close()


@task(name="check-area", cache_policy=NO_CACHE)
@contained("check-area")
def check_area_task(settings: Settings, con) -> frozenset[str]:
    widened = check_area(con, settings.wilayah)
    if widened:
        get_run_logger().info("the area widens by %d kab/kota: %s", len(widened), ", ".join(sorted(widened)))
    return widened


@task(name="upgrade", cache_policy=NO_CACHE)
@contained("upgrade")
def upgrade_task(con, settings: Settings, proven_by: str | None, run_id: str) -> dict:
    key = resolve_key(settings)
    moved = upgrade(con, key, fingerprint(key), proven_by, run_id)
    if moved:
        get_run_logger().info("warehouse upgraded to version 3: %s", ", ".join(f"{k} {v}" for k, v in moved.items()))
    return moved


@task(name="discover", cache_policy=NO_CACHE)
@contained("discover")
def discover_task(settings: Settings, con, zone: LandingZone, last_date: date, start_date: date | None,
                  kecamatan: list[str] | None, force: bool, widened: frozenset[str] = frozenset()) -> Plan:
    plan = steps.plan_run(settings, con, zone, resolve_key(settings), last_date, start_date, kecamatan, force, widened)
    get_run_logger().info("%d new or changed file(s), %d unchanged, %d dated after %s",
                          len(plan.candidates), plan.unchanged, plan.later, last_date)
    return plan


@task(name="load-feed", cache_policy=NO_CACHE)
def load_feed_task(con, zone: LandingZone, plan: Plan, kind: str, settings: Settings, run_id: str,
                   totals: steps.RunTotals, force: bool) -> None:
    """Load the new files of a feed of few files (flows.ingest.feeds: snapshots, requests)."""
    feed = FEEDS[kind]
    contained(feed.stage)(steps.load_feed)(con, zone, plan, feed, settings, run_id, totals, force)


@task(name="prepare-batch", cache_policy=NO_CACHE)
@contained("prepare-batch")
def prepare_task(files: list[RawFile], settings: Settings) -> Prepared:
    return prepare(REKAM, files, resolve_key(settings), settings.gx_slice_rows, settings.wilayah)


@task(name="write-batch", cache_policy=NO_CACHE)
@contained("write-batch")
def write_task(con, prepared: Prepared, run_id: str, batch_no: int, totals: steps.RunTotals) -> None:
    steps.load_log_batch(con, prepared, run_id, batch_no, totals)


@task(name="build-marts", cache_policy=NO_CACHE)
@contained("build-marts")
def build_task(con, run_id: str) -> list:
    checks, built_by = steps.build_and_check(con, run_id)
    if built_by is not None:
        get_run_logger().info("nothing changed since run %s built the marts: rebuild skipped, checks run", built_by)
    return checks


@task(name="feedback", cache_policy=NO_CACHE)
@contained("feedback")
def feedback_task(con, settings: Settings) -> Feedback:
    got = write_feedback(con, settings.feedback_dir)
    if got.written or got.removed:
        get_run_logger().info("feedback files: %d written, %d removed, %d in all", got.written, got.removed, len(got.files))
    return Feedback(written=got.written, removed=got.removed, files=list(got.files), folder=str(settings.feedback_dir))


@task(name="publish", cache_policy=NO_CACHE)
@contained("publish")
def publish_task(con, settings: Settings) -> Path:
    return publish(con, settings, incremental=True)


@task(name="backup", cache_policy=NO_CACHE)
@contained("backup")
def backup_task(settings: Settings, run_id: str, con=None) -> Path:
    if con is not None:
        _close_writer(con, run_id)
    return backup(settings, run_id)


def _close_writer(con, run_id: str) -> None:
    """Checkpoint and close the writer's connection of a published run (the backup copies the closed
    file). A checkpoint that fails marks the run failed, as it did before the publish."""
    try:
        con.execute("checkpoint")
    except BaseException as exc:
        failure = contain_exception("backup", exc)    # the library's text never reaches audit.runs
        steps.fail_run(con, run_id, f"{type(failure).__name__}: {failure}")
        raise
    finally:
        con.close()


@task(name="report", cache_policy=NO_CACHE)
@contained("report")
def report_task(settings: Settings, summary: RunSummary) -> Path:
    from flows.outputs.report import write_report

    con = connect_reader(settings.published_path)
    try:
        with steps.collector_paused():   # 18 pages at a province: ~5 full collections, 0.05-0.15 s
            return write_report(con, settings.report_path, run_summary=summary,
                                elsewhere=CompanionPages(settings) if companion.running() else None)
    finally:
        con.close()


class CompanionPages:
    """The report's kab/kota pages the companion process renders (flows/companion.py), from the same
    analysts' copy, while this process renders the others (flows.outputs.report.write_report)."""

    def __init__(self, settings: Settings) -> None:
        self.args = (str(settings.published_path), str(settings.report_path), secrets.token_hex(8))

    def page(self, kode_kabupaten: str, run_summary, feedback) -> bool:
        got = companion.call("report_page", *self.args, kode_kabupaten, run_summary, feedback)
        return got is not None and got.raised is None

    def close(self) -> None:
        companion.call("report_end", self.args[2])


def _backup_and_report(settings: Settings, run_id: str, summary: RunSummary, con) -> None:
    """The writer's checkpoint and close, the backup (a copy of the closed writer file, fsynced:
    disk I/O, no GIL held) and the report (from the analysts' copy, already written: Jinja2, CPU) of
    a completed run. On the default runner the checkpoint and the backup run in a task thread while
    the report renders (issue 19: 0.1 s, 0.2-0.6 s and 0.8-1.4 s on a province's night); both are
    waited for, and a failure of either fails the run as before. On Dask they stay in this process."""
    if _parallel():
        backup_task(settings, run_id, con)
        report_task(settings, summary)
        return
    saving = backup_task.submit(settings, run_id, con)
    try:
        report_task(settings, summary)
    finally:
        saving.wait()
    saving.result()


def _parallel() -> bool:
    """True when the flow runs on a task runner that spreads work over processes (Dask)."""
    ctx = FlowRunContext.get()
    return ctx is not None and not isinstance(ctx.task_runner, ThreadPoolTaskRunner)


@contained("fetch")
def _fetch(zone: LandingZone, batch: list[Candidate], plan: Plan, settings: Settings, force: bool) -> list[RawFile]:
    return fetch_files(zone, batch, plan, settings.max_file_bytes, force)


# Batches prepared at a time on the default runner: one validated by the companion process while
# this process parses the next (issue 19, docs/performance.md "fifth pass"). Each batch in flight
# holds its rows: with 64 MiB batches, two prepared and one written peak at ~1.4 GiB.
LOCAL_WINDOW = 2


def _prepared_batches(zone: LandingZone, plan: Plan, settings: Settings, force: bool):
    """Yield (batch_no, files, Prepared) in order. This process (the single writer) reads every
    file once and hashes it. On the default runner two batches are prepared at a time, in task
    threads (``LOCAL_WINDOW``): while the companion process validates one batch (flows/companion.py)
    this process parses the next and hashes its pseudonyms, and the oldest batch is written
    meanwhile (``_write_batches``). On Dask up to ``settings.parallel_window`` batches are prepared
    ahead on the workers, which receive the bytes (they need no access to the landing zone)."""
    parallel = _parallel()
    if parallel:
        sizes, ahead = (settings.parallel_batch_bytes, settings.parallel_batch_files), settings.parallel_window
    else:
        sizes, ahead = (settings.batch_bytes, settings.batch_files), LOCAL_WINDOW
    window: deque = deque()
    try:
        for batch_no, batch in enumerate(steps.batches(plan.of(REKAM), *sizes), start=1):
            files = _fetch(zone, batch, plan, settings, force)
            # a quote keeps Prefect from walking the files' bytes (it does not reach Dask unwrapped)
            window.append((batch_no, files, prepare_task.submit(files if parallel else quote(files), settings)))
            if len(window) >= ahead:
                n, b, fut = window.popleft()
                yield n, b, fut.result()
        while window:
            n, b, fut = window.popleft()
            yield n, b, fut.result()
    finally:
        for _, _, fut in window:   # a batch failed or the run stops: let those in flight end first
            fut.wait()


def _write_batches(con, prepared_batches, run_id: str, totals: steps.RunTotals, progress) -> None:
    """Write the prepared batches in order, each in its own transaction, and on the default runner
    write one batch (DuckDB, in a task thread) while the next is prepared (Polars, Great
    Expectations, in this thread): the insert of a million rows (~0.9 s) then costs no wall time
    when another batch follows (issue 19). At most one write is in flight, the writes never
    overlap each other, and no other statement uses the writer's connection meanwhile. When
    anything fails, the write in flight is waited for before the run is marked failed."""
    writing = None   # (future, files, prepared) of the batch being written
    overlap = not _parallel()   # on Dask the workers prepare ahead already, the writes stay here

    def finish(future, files, prepared) -> None:
        if future is not None:
            future.result()
        progress.advance(len(files), prepared.rows.height if prepared.rows is not None else 0)

    try:
        for batch_no, files, prepared in prepared_batches:
            if writing is not None:
                w, writing = writing, None
                finish(*w)
            if overlap:
                writing = (write_task.submit(con, quote(prepared), run_id, batch_no, quote(totals)), files, prepared)
            else:
                write_task(con, quote(prepared), run_id, batch_no, quote(totals))
                finish(None, files, prepared)
        if writing is not None:
            w, writing = writing, None
            finish(*w)
    finally:
        if writing is not None:   # something failed while a batch was being written: let it end first
            writing[0].wait()


def execute(flow_name: str, last_date: date, start_date: date | None = None,
            kecamatan: list[str] | None = None, force: bool = False) -> RunSummary:
    """The body shared by both flows; call it inside a flow run. Returns the run summary, built
    once at the end of the run from every fact the run gathered (flows.orchestration.run.finish_run)."""
    settings = load_settings()
    resolve_key(settings)  # fail early and clearly when there is no usable key
    unknown = sorted(set(kecamatan or []) - kecamatan_codes(settings.wilayah))
    if unknown:
        raise UserError(f"Unknown kecamatan code(s): {', '.join(unknown)} (not a kecamatan of the area "
                        f"{', '.join(settings.wilayah)}).")
    logger = get_run_logger()
    progress = reporter()
    run_id = steps.new_run_id()
    waited: list[str] = []

    def on_wait(text: str) -> None:
        waited.append(text)
        progress.message(text)

    with private_files(), writer_lock(settings, settings.lock_wait_seconds, on_wait=on_wait), \
            LandingZone(settings.raw_dir) as zone:
        # listed while the key, the area and the warehouse are checked, or since the command began
        # (flows/cli.py: walk_early) unless this run waited for another to finish writing
        zone.walk_ahead(settings.max_depth, early=not waited)
        with _read_only(settings) as ro:   # the writer's file opened read-only once for the checks
            secure_files(settings, ro)
            proven_by = verify_key_task(settings, zone, ro)   # another key stops the run here, nothing changed
            widened = check_area_task(settings, ro)           # a narrower area stops the run here, nothing changed
        con = connect_writer(settings)
        failure = None
        published = False    # then the writer's connection is closed (checkpointed) beside the report
        try:
            moved = upgrade_task(con, settings, proven_by, run_id)
            steps.start_run(con, run_id, flow_name, last_date, start_date)
            plan = discover_task(settings, con, zone, last_date, start_date, kecamatan, force, widened)
            logs = plan.of(REKAM)
            if not _parallel():   # where a large run validates (a file too large to read is not counted)
                validation.expect_logs(sum(c.size for c in logs if c.size <= settings.max_file_bytes))
            totals = steps.RunTotals()
            for feed in FEEDS.values():    # the feeds of few files first, then the log batches
                if feed.batching != "batches":
                    load_feed_task.with_options(name=feed.stage)(con, zone, quote(plan), feed.kind, settings, run_id,
                                                                 quote(totals), force)
            progress.start(len(logs), sum(c.size for c in logs))
            _write_batches(con, _prepared_batches(zone, plan, settings, force), run_id, totals, progress)
            progress.stop()
            checks = build_task(con, run_id)
            feedback = feedback_task(con, settings)
            facts = steps.RunFacts(upgrade=moved, key_warning=weak_key_warning(settings), feedback=feedback,
                                   report=str(settings.report_path))
            summary = steps.finish_run(con, run_id, plan, totals, checks, last_date, facts)
            record_area(con, settings.wilayah, run_id)
            publish_task(con, settings)
            published = True
        except BaseException as exc:
            progress.stop()
            failure = contain_exception("run", exc)
            steps.fail_run(con, run_id, f"{type(failure).__name__}: {failure}")
        finally:
            if not published:
                con.close()
        if failure is not None:
            raise failure
        _backup_and_report(settings, run_id, summary, con)
    logger.info("run %s: %d file(s) loaded, %d rejected, %d row(s) loaded, %d quarantined",
                run_id, summary.files_loaded, summary.files_rejected, summary.rows_loaded, summary.rows_quarantined)
    _artifact(summary)
    return summary


@contextmanager
def heartbeat_not_awaited():
    """While a command's flow runs (flows/cli.py), its end does not wait for Prefect's heartbeat thread.

    Prefect 3.9 sends a flow run's heartbeats from a thread that sleeps one second at a time and
    joins it when the run ends (``prefect.flow_engine._send_heartbeats``): every run of a command
    ended up to one second later than its work, 0.5 s on average (issue 19, "the one-second
    steps"). The heartbeats themselves are unchanged, so the server still marks a crashed run; the
    thread stops at its next step on its own, without sending anything more, as Prefect's async
    engine already lets it (``join_on_exit=False``). With another Prefect (no such function, or no
    such parameter) nothing is changed."""
    import inspect

    import prefect.flow_engine as engine

    original = getattr(engine, "_send_heartbeats", None)
    try:
        known = original is not None and "join_on_exit" in inspect.signature(original).parameters
    except (TypeError, ValueError):
        known = False
    if not known:
        yield
        return

    def send_heartbeats(flow_engine, join_on_exit: bool = True):
        return original(flow_engine, join_on_exit=False)

    engine._send_heartbeats = send_heartbeats
    try:
        yield
    finally:
        engine._send_heartbeats = original


def _artifact(summary: RunSummary) -> None:
    from prefect.artifacts import create_markdown_artifact

    try:
        create_markdown_artifact(key="ektp-run-report", markdown=run_markdown(summary, Path(summary.report)),
                                 description=f"e-KTP run {summary.run_id}")
    except Exception as exc:  # an artifact is a courtesy; never fail a completed run on it
        get_run_logger().warning("could not create the run artifact: %s", type(exc).__name__)


@flow(name="ektp-nightly", log_prints=False)
@contained("nightly")
def nightly(run_date: DateText | None = None) -> RunSummary:
    """Load every new or changed file dated on or before run_date (default: yesterday, Asia/Jakarta), rebuild the marts."""
    settings = load_settings()
    day = parse_date_param("run_date", run_date, settings.tz) if run_date else settings.yesterday()
    return execute("nightly", day)


def _backfill(start: str, end: str, kecamatan: list[str] | None, force: bool) -> RunSummary:
    """The body of both backfill flows: the dates checked (one line naming the parameter), then ``execute``."""
    tz = load_settings().tz
    first, last = parse_date_param("start", start, tz), parse_date_param("end", end, tz)
    check_range(first, last, "the parameter start", "the parameter end")
    return execute("backfill", last, start_date=first, kecamatan=kecamatan, force=force)


# Forcing a reload of unchanged files is for the operator at the command line only (contract
# section 3): the deployed ``backfill`` takes no ``force`` (its closed schema refuses one with 409),
# and ``forced_backfill``, which `ektp backfill --force` runs in its own process, is never deployed.

@flow(name="ektp-backfill", log_prints=False)
@contained("backfill")
def backfill(start: DateText, end: DateText, kecamatan: list[KecamatanCode] | None = None) -> RunSummary:
    """Load the log dates start..end (optionally only some kecamatan); unchanged files are skipped."""
    return _backfill(start, end, kecamatan, force=False)


@flow(name="ektp-backfill-force", log_prints=False)
@contained("backfill")
def forced_backfill(start: DateText, end: DateText, kecamatan: list[KecamatanCode] | None = None) -> RunSummary:
    """`ektp backfill --force` only, never a deployment: the same, reloading unchanged files of the window."""
    return _backfill(start, end, kecamatan, force=True)
