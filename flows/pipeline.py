"""Prefect wiring: the nightly and backfill flows, thin over the plain steps in flows/run.py.

The only module that imports Prefect. One task per stage (and one per batch of files, never one
per row or per small file). The NIK key is never a task parameter: tasks resolve it themselves.
"""

from __future__ import annotations

import functools
from collections import deque
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner

from flows import run as steps
from flows.artifact import run_markdown
from flows.discover import Candidate, Plan
from flows.errors import scrub
from flows.load import Prepared, prepare_logs
from flows.progress import reporter
from flows.publish import publish
from flows.settings import Settings, load_settings, resolve_key, yesterday_jakarta
from flows.warehouse import connect_reader, connect_writer, writer_lock

LOCK_WAIT_SECONDS = 600.0
PARALLEL_WINDOW = 4  # batches prepared ahead on Dask workers (bounds memory)


def redacted(fn):
    """Redact the text of any exception leaving fn (see flows.errors.scrub) before Prefect logs it,
    records it as the run's state message or sends it to the API."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            scrub(exc)
            raise
    return wrapper


@task(name="discover", cache_policy=NO_CACHE)
@redacted
def discover_task(settings: Settings, con, last_date: date, start_date: date | None,
                  kecamatan: list[str] | None, force: bool) -> Plan:
    plan = steps.plan_run(settings, con, last_date, start_date, kecamatan, force)
    get_run_logger().info("%d new or changed file(s), %d unchanged, %d dated after %s",
                          len(plan.candidates), plan.unchanged, plan.later, last_date)
    return plan


@task(name="load-snapshots", cache_policy=NO_CACHE)
@redacted
def load_snapshots_task(con, plan: Plan, run_id: str, totals: steps.RunTotals) -> None:
    steps.load_snapshots(con, plan, run_id, totals)


@task(name="prepare-batch", cache_policy=NO_CACHE)
@redacted
def prepare_task(batch: list[Candidate], settings: Settings) -> Prepared:
    return prepare_logs(batch, resolve_key(settings))


@task(name="write-batch", cache_policy=NO_CACHE)
@redacted
def write_task(con, prepared: Prepared, run_id: str, batch_no: int, totals: steps.RunTotals) -> None:
    steps.load_log_batch(con, prepared, run_id, batch_no, totals)


@task(name="build-marts", cache_policy=NO_CACHE)
@redacted
def build_task(con, run_id: str) -> list:
    checks, built_by = steps.build_and_check(con, run_id)
    if built_by is not None:
        get_run_logger().info("nothing changed since run %s built the marts: rebuild skipped, checks run", built_by)
    return checks


@task(name="publish", cache_policy=NO_CACHE)
@redacted
def publish_task(settings: Settings, run_id: str) -> Path:
    return publish(settings, run_id)


@task(name="report", cache_policy=NO_CACHE)
@redacted
def report_task(settings: Settings, summary: dict) -> Path:
    from flows.report import write_report

    con = connect_reader(settings.published_path)
    try:
        return write_report(con, settings.report_path, run_summary=summary)
    finally:
        con.close()


def _parallel() -> bool:
    """True when the flow runs on a task runner that spreads work over processes (Dask)."""
    ctx = FlowRunContext.get()
    return ctx is not None and not isinstance(ctx.task_runner, ThreadPoolTaskRunner)


def _prepared_batches(logs: list[Candidate], settings: Settings):
    """Yield (batch_no, batch, Prepared) in order. On the default runner each batch is prepared
    in this process; on Dask up to PARALLEL_WINDOW batches are prepared ahead on the workers
    while this process (the single writer) writes the oldest."""
    if not _parallel():
        for batch_no, batch in enumerate(steps.batches(logs), start=1):
            yield batch_no, batch, prepare_task(batch, settings)
        return
    numbered = enumerate(steps.batches(logs, max_bytes=steps.PARALLEL_BATCH_BYTES,
                                       max_files=steps.PARALLEL_BATCH_FILES), start=1)
    window: deque = deque()
    for batch_no, batch in numbered:
        window.append((batch_no, batch, prepare_task.submit(batch, settings)))
        if len(window) >= PARALLEL_WINDOW:
            n, b, fut = window.popleft()
            yield n, b, fut.result()
    while window:
        n, b, fut = window.popleft()
        yield n, b, fut.result()


def execute(flow_name: str, last_date: date, start_date: date | None = None,
            kecamatan: list[str] | None = None, force: bool = False,
            data_dir: str | None = None, lock_wait: float | None = None) -> dict:
    """The body shared by both flows; call it inside a flow run."""
    settings = load_settings(data_dir)
    resolve_key(settings)  # fail early and clearly when there is no key
    logger = get_run_logger()
    progress = reporter()
    run_id = steps.new_run_id()
    wait = LOCK_WAIT_SECONDS if lock_wait is None else lock_wait
    with writer_lock(settings, wait, on_wait=progress.message):
        con = connect_writer(settings)
        try:
            steps.start_run(con, run_id, flow_name, last_date, start_date)
            plan = discover_task(settings, con, last_date, start_date, kecamatan, force)
            totals = steps.RunTotals()
            load_snapshots_task(con, plan, run_id, totals)
            logs = plan.logs
            progress.start(len(logs), sum(c.size for c in logs))
            for batch_no, batch, prepared in _prepared_batches(logs, settings):
                write_task(con, prepared, run_id, batch_no, totals)
                rows = prepared.rows.height if prepared.rows is not None else 0
                progress.advance(len(batch), sum(c.size for c in batch), rows)
            progress.stop()
            checks = build_task(con, run_id)
            summary = steps.finish_run(con, run_id, plan, totals, checks, last_date)
            con.execute("checkpoint")
        except BaseException as exc:
            progress.stop()
            scrub(exc)
            steps.fail_run(con, run_id, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            con.close()
        publish_task(settings, run_id)
        summary["report"] = str(report_task(settings, summary))
    logger.info("run %s: %d file(s) loaded, %d rejected, %d row(s) loaded, %d quarantined",
                run_id, summary["files_loaded"], summary["files_rejected"], summary["rows_loaded"],
                summary["rows_quarantined"])
    _artifact(summary)
    return summary


def _artifact(summary: dict) -> None:
    from prefect.artifacts import create_markdown_artifact

    try:
        create_markdown_artifact(key="ektp-run-report", markdown=run_markdown(summary, Path(summary["report"])),
                                 description=f"e-KTP run {summary['run_id']}")
    except Exception as exc:  # an artifact is a courtesy; never fail a completed run on it
        get_run_logger().warning("could not create the run artifact: %s", type(exc).__name__)


@flow(name="ektp-nightly", log_prints=False)
@redacted
def nightly(run_date: date | None = None, data_dir: str | None = None) -> dict:
    """Load every new or changed file dated on or before run_date (default: yesterday, Asia/Jakarta), rebuild the marts."""
    return execute("nightly", run_date or yesterday_jakarta(), data_dir=data_dir)


@flow(name="ektp-backfill", log_prints=False)
@redacted
def backfill(start: date, end: date, kecamatan: list[str] | None = None, force: bool = False,
             data_dir: str | None = None) -> dict:
    """Load the log dates start..end (optionally only some kecamatan; force reloads unchanged files)."""
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    return execute("backfill", end, start_date=start, kecamatan=kecamatan, force=force, data_dir=data_dir)
