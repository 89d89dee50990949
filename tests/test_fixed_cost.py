"""A loading command's fixed cost (issue 19): Great Expectations and the report's kab/kota pages in
a companion process started with the command (flows/companion.py), and a flow run's end that does
not wait for Prefect's heartbeat thread (flows/orchestration/pipeline.py). None of them changes an
outcome, a page or what reaches the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from flows import companion
from flows.ingest import validate
from tests.test_gx_runtime import _fixture_rows

ROOT = Path(__file__).parents[1]


@pytest.fixture
def companion_process():
    companion.stop()
    companion.start()
    yield
    companion.stop()


def _outcome(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("source_file", "line_number", "reason", "detail")


def test_the_companion_validates_with_the_outcome_of_this_process(companion_process):
    rows = _fixture_rows()
    there, there_summary = validate.validate_rekam(rows)
    assert companion.served("validate") == 1, "the batch went to the companion process"
    here_failed, here_summary = validate.run_suite_here(
        validate.REKAM_SUITE,
        validate.derive_rekam(rows).select(validate.REKAM_GX_COLUMNS).with_columns(pl.col("umur").cast(pl.Int64)))
    assert there_summary == here_summary
    assert there["reason"].null_count() < there.height, "the fixtures break rules"
    companion.stop()
    alone, alone_summary = validate.validate_rekam(rows)
    assert _outcome(there).equals(_outcome(alone)) and there_summary == alone_summary


def _frame_descriptors(pid: int | str) -> list[str]:
    """The shared frames (memfd) a process holds open or mapped."""
    fds = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir() if f.exists()]
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return [x for x in fds + maps if "ektp-frame" in x]


def test_a_large_frame_crosses_in_shared_memory_with_the_outcome_of_this_process(companion_process, monkeypatch):
    """A frame above the size limit (here 3 rows) travels as an Arrow file in a memfd: the outcome
    is the one of this process, and neither process keeps the memory once the answer is back."""
    sent = []
    to_memory = companion._to_memory
    monkeypatch.setattr(companion, "SHARED_MIN_ROWS", 3)
    monkeypatch.setattr(companion, "_to_memory", lambda frame: sent.append(frame.height) or to_memory(frame))
    rows = _fixture_rows()
    there, there_summary = validate.validate_rekam(rows)
    assert companion.served("validate") == 1 and sent == [rows.height], "the batch crossed in shared memory"
    assert _frame_descriptors("self") == []
    deadline = time.monotonic() + 10     # the companion lets it go once it has answered
    while _frame_descriptors(companion.pid()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _frame_descriptors(companion.pid()) == []
    companion.stop()
    alone, alone_summary = validate.validate_rekam(rows)
    assert there["reason"].null_count() < there.height, "the fixtures break rules"
    assert _outcome(there).equals(_outcome(alone)) and there_summary == alone_summary


def test_a_frame_that_cannot_be_put_in_shared_memory_goes_through_the_pipe(companion_process, monkeypatch):
    """No anonymous memory file (e.g. a sandbox without memfd_create): the frame is pickled through
    the pipe as a small one is, the companion keeps serving and the outcome is the same."""
    def no_memfd(*args, **kwargs):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(companion, "SHARED_MIN_ROWS", 3)
    monkeypatch.setattr(os, "memfd_create", no_memfd)
    rows = _fixture_rows()
    there, there_summary = validate.validate_rekam(rows)
    assert companion.served("validate") == 1 and companion.running()
    companion.stop()
    alone, alone_summary = validate.validate_rekam(rows)
    assert _outcome(there).equals(_outcome(alone)) and there_summary == alone_summary


@pytest.mark.parametrize("shared_min_rows", [3, companion.SHARED_MIN_ROWS], ids=["shared frame", "piped frame"])
def test_a_dead_companion_is_replaced_by_this_process_for_the_rest_of_the_command(companion_process, monkeypatch,
                                                                                   shared_min_rows):
    monkeypatch.setattr(companion, "SHARED_MIN_ROWS", shared_min_rows)
    rows = _fixture_rows()
    first, _ = validate.validate_rekam(rows)
    os.kill(companion.pid(), signal.SIGKILL)
    time.sleep(0.2)
    again, _ = validate.validate_rekam(rows)
    assert _outcome(first).equals(_outcome(again))
    assert not companion.running() and companion.pid() is None
    assert _frame_descriptors("self") == []


def test_the_companion_gets_neither_the_pseudonym_key_nor_prefect_credentials(companion_process):
    assert os.environ.get("EKTP_NIK_KEY") and os.environ.get("PREFECT_API_AUTH_STRING")
    environ = Path(f"/proc/{companion.pid()}/environ").read_bytes().split(b"\0")
    names = {e.split(b"=", 1)[0].decode() for e in environ if e}
    assert not {n for n in names if n.startswith(("EKTP_", "PREFECT_"))}
    assert "PATH" in names


def test_the_companion_ends_with_the_command_however_it_ends():
    """A command that starts it and exits at once, without the interpreter's teardown (as `ektp`
    does): the companion process sees end-of-file and is gone."""
    code = ("import os, sys\nfrom flows import companion\ncompanion.start()\n"
            "print(companion.pid(), flush=True)\nos._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the companion process outlived its command"


def test_a_loading_command_starts_its_companion_before_it_imports_or_reads_anything_large(tmp_path):
    """The companion starts as soon as the arguments are parsed: importing the command line loads
    neither DuckDB, Polars nor Prefect, and a run that then stops on a setting (no data directory)
    had started it already; it ends with the command."""
    code = ("import sys\nimport flows.cli as cli\n"
            "print(sorted(m for m in ('duckdb', 'polars', 'prefect') if m in sys.modules))\n"
            "from flows import companion\n"
            f"rc = cli.main(['run', '--data-dir', {str(tmp_path / 'missing')!r}])\n"
            "print(rc, companion.pid() is not None)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    imported, ended = out.stdout.splitlines()
    assert imported == "[]"
    assert ended == "1 True", out.stderr
    assert "does not exist" in out.stderr


def test_a_companion_asked_nothing_is_ended_at_stop_and_one_that_served_finishes(companion_process):
    """stop() ends a companion no job was asked of at once (it may still be importing Great
    Expectations: a command that stopped on a bad argument does not wait for that), and lets one
    that served end by itself on end-of-file."""
    child = companion._child
    companion.stop()
    assert child.proc.returncode == -signal.SIGTERM
    companion.start()
    child = companion._child
    assert companion.call("validate", validate.REKAM_SUITE, pl.DataFrame({c: [""] for c in validate.REKAM_GX_COLUMNS})
                          .with_columns(pl.lit(0, pl.Int64).alias("umur"), pl.lit(0, pl.Int32).alias("dup_seq")),
                          validate.DEFAULT_SLICE_ROWS, None).raised is None
    companion.stop()
    assert child.proc.returncode == 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_rule_great_expectations_cannot_evaluate_stops_the_run_from_the_companion(companion_process):
    """GX's own failure is not a fallback: it is raised in the command as ValidationError (here a
    suite asked of a frame without its columns)."""
    with pytest.raises(validate.ValidationError):
        validate.run_suite(validate.REKAM_SUITE, pl.DataFrame({"nik": ["1"]}))
    assert companion.running(), "the companion process keeps serving"


def test_a_command_run_does_not_wait_for_the_heartbeat_thread_which_still_beats(prefect_api):
    """Prefect's heartbeat thread runs during the flow (the server can still tell a crashed run);
    when the run leaves its heartbeat context the thread is not joined (still alive at that
    moment), it then stops on its own, and Prefect's function is restored afterwards. Without the
    change the thread is joined there (checked: dead when Prefect logs the context's end)."""
    import logging

    import prefect.flow_engine as engine
    from prefect import flow

    from flows.orchestration.pipeline import heartbeat_not_awaited

    def heartbeat_threads():
        return [t for t in threading.enumerate()
                if getattr(t, "_args", None) and getattr(t._args[0], "__name__", "") == "heartbeat_loop"]

    seen: dict = {}

    class AtContextEnd(logging.Handler):
        def emit(self, record):
            if "Stopped flow run heartbeat context" in record.getMessage():
                seen["alive_at_end"] = [t.is_alive() for t in seen.get("during", [])]

    @flow
    def tiny():
        seen["during"] = heartbeat_threads()

    def run(wrapped: bool) -> list[bool]:
        seen.clear()
        logger = logging.getLogger("prefect.flow_runs")
        handler, level = AtContextEnd(level=logging.DEBUG), logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            if wrapped:
                with heartbeat_not_awaited():
                    tiny()
            else:
                tiny()
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        assert len(seen["during"]) == 1, "a heartbeat thread runs while the flow runs"
        return seen["alive_at_end"]

    original = engine._send_heartbeats
    assert run(wrapped=False) == [False], "Prefect alone joins its heartbeat thread"
    assert run(wrapped=True) == [True], "the command's run does not wait for it"
    thread = seen["during"][0]
    thread.join(3)
    assert not thread.is_alive(), "the thread stops on its own at its next step"
    assert engine._send_heartbeats is original


def test_kab_kota_pages_rendered_by_the_companion_are_the_pages_this_process_renders(companion_process, tmp_path):
    """A report of two kab/kota written from an analysts' copy: with the companion rendering pages
    beside this process, every page is the page written without it (the minute of `dibuat` aside),
    the companion did render some, and its connection to the copy is closed at the end."""
    import re

    import duckdb

    from flows.orchestration.pipeline import CompanionPages
    from flows.outputs.report import write_report
    from flows.settings import Settings
    from tests.test_area_reports import _two_kab_kota

    wh = _two_kab_kota()
    settings = Settings(data_dir=tmp_path / "data")
    published = settings.published_path
    published.parent.mkdir(parents=True)
    wh.con.execute(f"attach '{published}' as copy")
    wh.con.execute("copy from database memory to copy")
    wh.con.execute("detach copy")
    wh.close()
    out = settings.report_path

    def pages() -> dict[str, str]:
        found = [out, *sorted((out.parent / "report").glob("*.html"))]
        return {p.name: re.sub(r"dibuat \d{4}-\d\d-\d\d \d\d:\d\d", "dibuat -", p.read_text()) for p in found}

    con = duckdb.connect(str(published), read_only=True)
    try:
        write_report(con, out)
        alone = pages()
        assert len(alone) == 3
        write_report(con, out, elsewhere=CompanionPages(settings))
    finally:
        con.close()
    assert pages() == alone
    assert companion.served("report_page") >= 1, "the companion rendered a page"
    assert companion.served("report_end") == 1


def test_a_flows_folder_where_the_command_runs_does_not_replace_the_companions_code(tmp_path):
    """The companion is started with `python -P -m flows.companion`: the working directory is not
    put first on its path, so a `flows/companion.py` planted where an operator runs `ektp` is never run."""
    planted = tmp_path / "flows"
    planted.mkdir()
    marker = tmp_path / "planted-ran"
    (planted / "__init__.py").write_text("")
    (planted / "companion.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    code = ("import time\nfrom flows import companion\ncompanion.start()\n"
            "got = companion.call('report_end', 'none')\nprint(got is not None and got.raised is None)\n")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "True", out.stderr[-2000:]
    assert not marker.exists(), "the planted module ran"


def test_pages_the_companion_cannot_write_are_written_by_this_process(companion_process, tmp_path):
    """The companion killed before the report: every page is still written, by this process."""
    import duckdb

    from flows.orchestration.pipeline import CompanionPages
    from flows.outputs.report import write_report
    from flows.settings import Settings
    from tests.test_area_reports import _two_kab_kota

    wh = _two_kab_kota()
    settings = Settings(data_dir=tmp_path / "data")
    settings.published_path.parent.mkdir(parents=True)
    wh.con.execute(f"attach '{settings.published_path}' as copy")
    wh.con.execute("copy from database memory to copy")
    wh.con.execute("detach copy")
    wh.close()
    os.kill(companion.pid(), signal.SIGKILL)
    time.sleep(0.2)
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        write_report(con, settings.report_path, elsewhere=CompanionPages(settings))
    finally:
        con.close()
    written = sorted(p.name for p in (settings.report_path.parent / "report").glob("*.html"))
    assert written == ["16.09.html", "16.72.html"] and settings.report_path.exists()
    assert not companion.running()


def test_ctrl_c_at_the_terminal_does_not_stop_the_companion(companion_process):
    rows = _fixture_rows()
    validate.validate_rekam(rows)       # ready: past its start
    os.kill(companion.pid(), signal.SIGINT)
    time.sleep(0.3)
    validate.validate_rekam(rows)
    assert companion.running() and companion.served("validate") == 2


def test_a_command_without_a_prefect_server_sends_its_logs_before_its_temporary_api_stops(tmp_path):
    """Without PREFECT_API_URL a command runs its flow against a temporary API server that an exit
    handler stops. Its queued log lines are sent before the exit handlers run (flows.cli.entry): the
    run's logs reach the API's database, and no "Error logging to API" ends the command's stderr
    (before, every such run lost its logs and printed it)."""
    import sqlite3

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               GX_ANALYTICS_ENABLED="false")
    ektp = str(Path(sys.executable).parent / "ektp")
    data = tmp_path / "data"
    made = subprocess.run([ektp, "generate", "--out", str(data / "raw"), "--start", "2025-01-01", "--end", "2025-01-01"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    ran = subprocess.run([ektp, "run", "--date", "2025-01-01", "--data-dir", str(data)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    assert "Error logging to API" not in ran.stderr and "connection attempts failed" not in ran.stderr, ran.stderr
    con = sqlite3.connect(tmp_path / "home" / "prefect.db")
    try:
        runs = con.execute("select id from flow_run").fetchall()
        messages = [m for (m,) in con.execute("select message from log where flow_run_id = ?", [runs[0][0]])]
    finally:
        con.close()
    assert len(runs) == 1
    assert any(m.startswith("run ") and "file(s) loaded" in m for m in messages), messages


# --- the listing begun at the command's start (flows.ingest.landing.walk_early) -------------------

def _log(raw: Path, day: str, kode: str) -> str:
    folder = raw / "rekam" / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{kode}.csv").write_text("nik,nama\n")
    return f"rekam/{day}/{kode}.csv"


def _listed(raw: Path, depth: int = 4, early: bool = True) -> set[str]:
    from flows.ingest.landing import LandingZone

    with LandingZone(raw) as zone:
        zone.walk_ahead(depth, early=early)
        return {e.rel for e in zone.walked(depth)}


@pytest.fixture
def early_raw(tmp_path):
    from flows.ingest import landing

    raw = tmp_path / "raw"
    first = _log(raw, "2025-01-01", "16.09.01")
    yield raw, first
    landing._EARLY.clear()


def test_the_run_takes_the_listing_its_command_began_of_the_same_folder_and_depth(early_raw):
    from flows.ingest.landing import walk_early

    raw, first = early_raw
    walk_early(raw, 4)
    time.sleep(0.2)
    later = _log(raw, "2025-01-02", "16.09.02")     # arrives after the command began: the next run's
    assert _listed(raw) == {first}
    assert _listed(raw) == {first, later}           # taken once: the next listing is made anew


@pytest.mark.parametrize("case", ["waited for the lock", "another depth", "folder replaced", "folder changed", "too old"])
def test_a_listing_begun_for_another_folder_depth_or_time_or_before_a_wait_is_not_taken(early_raw, monkeypatch, case):
    from flows.ingest import landing

    raw, first = early_raw
    landing.walk_early(raw, 4)
    time.sleep(0.2)
    later = _log(raw, "2025-01-02", "16.09.02")
    depth, early = 4, True
    if case == "waited for the lock":
        early = False
    elif case == "another depth":
        depth = 5
    elif case == "folder replaced":                 # same path, another folder (device and inode)
        raw.rename(raw.with_name("raw-before"))
        (raw / "rekam").mkdir(parents=True)
        (raw.with_name("raw-before") / "rekam").rename(raw / "rekam")
    elif case == "folder changed":                  # an entry added at its top since
        (raw / "permohonan").mkdir()
    else:
        monkeypatch.setattr(landing, "EARLY_MAX_AGE_S", 0.0)
    assert _listed(raw, depth, early) == {first, later}
    assert landing._EARLY == {}


def test_a_run_that_waited_for_the_writer_lock_lists_the_landing_zone_again(prefect_api, tmp_path):
    """The command's early listing is as of its start; a run that then waits for another writer
    lists again once it has the lock, so a log that arrived during the wait is loaded now."""
    import shutil

    import duckdb
    import prefect.settings

    from flows.settings import load_settings
    from flows.warehouse.database import writer_lock
    from tests.hostile.server import EKTP, ektp_env

    api = prefect.settings.PREFECT_API_URL.value()
    data = tmp_path / "data"
    made = subprocess.run([EKTP, "generate", "--out", str(data / "raw"), "--start", "2025-01-01", "--end", "2025-01-02",
                           "--rows-per-day", "40", "--seed", "5", "--clean"], capture_output=True, text=True,
                          env=ektp_env(api))
    assert made.returncode == 0, made.stderr
    held = data / "raw" / "rekam" / "2025-01-02" / "16.09.07.csv"
    aside = tmp_path / "aside.csv"
    shutil.move(held, aside)
    err = tmp_path / "run.err"
    with writer_lock(load_settings(data), 0):
        with open(err, "w") as fh:
            run = subprocess.Popen([EKTP, "run", "--data-dir", str(data), "--date",
                                    "2025-01-02", "--wait", "300"], env=ektp_env(api), stdout=subprocess.PIPE,
                                   stderr=fh, text=True)
        deadline = time.monotonic() + 120
        while "Waiting for another run to finish" not in err.read_text():
            assert run.poll() is None and time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.2)
        shutil.move(aside, held)                     # arrives while the run waits for the lock
    run.communicate(timeout=300)
    assert run.returncode == 0, err.read_text()[-3000:]
    con = duckdb.connect(str(data / "warehouse" / "ektp.duckdb"), read_only=True)
    try:
        status = con.execute("select status from audit.file_loads where source_file = ?",
                             ["rekam/2025-01-02/16.09.07.csv"]).fetchall()
    finally:
        con.close()
    assert status == [("loaded",)]
