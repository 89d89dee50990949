"""A loading command's fixed cost (issue 19): Great Expectations in a validation process started
with the command (flows/ingest/gx_process.py), and a flow run's end that does not wait for
Prefect's heartbeat thread (flows/cli.py). Neither changes an outcome nor what reaches the server."""

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

from flows.ingest import gx_process, validate
from tests.test_gx_runtime import _fixture_rows

ROOT = Path(__file__).parents[1]


@pytest.fixture
def validation_process():
    gx_process.stop()
    gx_process.start()
    yield
    gx_process.stop()


def _outcome(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("source_file", "line_number", "reason", "detail")


def test_the_validation_process_gives_the_outcome_of_this_process(validation_process):
    rows = _fixture_rows()
    there, there_summary = validate.validate_rekam(rows)
    assert gx_process.served() == 1, "the batch went to the validation process"
    here_failed, here_summary = validate.run_suite_here(
        validate.REKAM_SUITE,
        validate.derive_rekam(rows).select(validate.REKAM_GX_COLUMNS).with_columns(pl.col("umur").cast(pl.Int64)))
    assert there_summary == here_summary
    assert there["reason"].null_count() < there.height, "the fixtures break rules"
    gx_process.stop()
    alone, alone_summary = validate.validate_rekam(rows)
    assert _outcome(there).equals(_outcome(alone)) and there_summary == alone_summary


def test_a_frame_above_the_limit_is_validated_in_this_process(validation_process, monkeypatch):
    monkeypatch.setattr(gx_process, "REMOTE_MAX_ROWS", 3)
    frame, _ = validate.validate_rekam(_fixture_rows())
    assert frame.height > 3 and gx_process.served() == 0


def test_a_dead_validation_process_is_replaced_by_this_process_for_the_rest_of_the_command(validation_process):
    rows = _fixture_rows()
    first, _ = validate.validate_rekam(rows)
    os.kill(gx_process.pid(), signal.SIGKILL)
    time.sleep(0.2)
    again, _ = validate.validate_rekam(rows)
    assert _outcome(first).equals(_outcome(again))
    assert not gx_process.running() and gx_process.pid() is None


def test_the_validation_process_gets_neither_the_pseudonym_key_nor_prefect_credentials(validation_process):
    assert os.environ.get("EKTP_NIK_KEY") and os.environ.get("PREFECT_API_AUTH_STRING")
    environ = Path(f"/proc/{gx_process.pid()}/environ").read_bytes().split(b"\0")
    names = {e.split(b"=", 1)[0].decode() for e in environ if e}
    assert not {n for n in names if n.startswith(("EKTP_", "PREFECT_"))}
    assert "PATH" in names


def test_the_validation_process_ends_with_the_command_however_it_ends():
    """A command that starts it and exits at once, without the interpreter's teardown (as `ektp`
    does): the validation process sees end-of-file and is gone."""
    code = ("import os, sys\nfrom flows.ingest import gx_process\ngx_process.start()\n"
            "print(gx_process.pid(), flush=True)\nos._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the validation process outlived its command"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_rule_great_expectations_cannot_evaluate_stops_the_run_from_the_validation_process(validation_process):
    """GX's own failure is not a fallback: it is raised in the command as ValidationError (here a
    suite asked of a frame without its columns)."""
    with pytest.raises(validate.ValidationError):
        validate.run_suite(validate.REKAM_SUITE, pl.DataFrame({"nik": ["1"]}))
    assert gx_process.running(), "the validation process keeps serving"


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
