"""Issue 5.3: analysts connected while runs happen, and a run started while a backfill is going.

Real ``ektp`` processes against the session's Prefect API. A backfill is held at a deterministic
point inside its load transaction (tests/hostile/pause.py) so that the overlap is certain, not a
matter of timing. Two overlapping runs through Prefect deployments are in tests/test_orchestration.py.

Shown: an analyst process holding ``ektp_analyst.duckdb`` open (and one reconnecting in a loop)
never gets an error and never makes a run fail; a second writer does not write while a backfill
holds the writer lock (it fails at once with one line under ``--wait 0``, or waits its turn);
two runs started together take turns; the writer intervals in ``audit.runs`` never overlap; and
the marts end equal to those of one uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.hostile.server import EKTP, Paused, as_published, ektp, ektp_env, generated_zone, marts_and_versions, spawn

START, MID, END = "2025-01-01", "2025-01-03", "2025-01-06"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(prefect_api):
    import prefect.settings

    return prefect.settings.PREFECT_API_URL.value()


@pytest.fixture(scope="module")
def zone(tmp_path_factory, api):
    return generated_zone(api, tmp_path_factory.mktemp("czone"), START, END, 300, 11, "run", "--date", END)


@pytest.fixture
def data(zone, tmp_path):
    raw, _ = zone
    d = tmp_path / "data"
    shutil.copytree(raw, d / "raw")
    return d


ANALYST = textwrap.dedent("""
    import duckdb, json, sys, time, os
    path, stop, out, mode = sys.argv[1:5]
    q = "select count(*), sum(sudah_rekam) from mart.backlog_kecamatan"
    held = duckdb.connect(path, read_only=True) if mode == "held" else None   # an analyst's open session
    results, errors = set(), []
    while not os.path.exists(stop):
        try:
            if held is not None:
                results.add(tuple(held.execute(q).fetchone()))
            else:                                        # a notebook that reconnects each time
                con = duckdb.connect(path, read_only=True)
                results.add(tuple(con.execute(q).fetchone()))
                con.close()
        except Exception as exc:
            errors.append(str(exc).splitlines()[0])
        time.sleep(0.05)
    json.dump({"results": sorted(results), "errors": errors[:20]}, open(out, "w"))
""")
# Two processes: within ONE process DuckDB shares a database instance per path, so a fresh
# connect() next to a held one would see the held (old) generation too.


def _writer_intervals(wh: Path) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("""select started_at, finished_at, status from audit.runs
                              where status <> 'interrupted' order by started_at""").fetchall()
    finally:
        con.close()


def _no_overlap(intervals: list[tuple]) -> None:
    for (_, f1, _), (s2, _, _) in zip(intervals, intervals[1:]):
        assert f1 is not None and f1 <= s2, f"two writers overlapped: {intervals}"


def test_analysts_connected_while_runs_happen(zone, api, data, tmp_path):
    _, reference = zone
    res = ektp(api, "run", "--data-dir", str(data), "--date", MID)
    assert res.returncode == 0, res.stderr
    pub = data / "warehouse" / "ektp_analyst.duckdb"
    stop = tmp_path / "stop"
    analysts = {mode: subprocess.Popen([sys.executable, "-c", ANALYST, str(pub), str(stop), str(tmp_path / f"{mode}.json"), mode])
                for mode in ("held", "fresh")}
    try:
        time.sleep(1.0)
        first = ektp(api, "run", "--data-dir", str(data), "--date", END)        # loads days 4-6
        query = ektp(api, "query", "--data-dir", str(data), "select count(*) from mart.backlog")  # mid-session
        second = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", END, "--force")
        time.sleep(1.0)
    finally:
        stop.touch()
        for a in analysts.values():
            a.wait(60)
    seen = {mode: json.loads((tmp_path / f"{mode}.json").read_text()) for mode in analysts}
    print("analyst results: held connection", seen["held"]["results"], "| reconnecting", seen["fresh"]["results"])
    assert first.returncode == 0, first.stderr
    assert query.returncode == 0, query.stderr
    assert second.returncode == 0, second.stderr
    assert seen["held"]["errors"] == [] and seen["fresh"]["errors"] == []
    assert len(seen["held"]["results"]) == 1         # the open session keeps one consistent generation
    assert len(seen["fresh"]["results"]) == 2        # reconnecting picks up the new generation
    assert marts_and_versions(data / "warehouse" / "ektp.duckdb") == reference
    assert marts_and_versions(pub) == as_published(reference)
    _no_overlap(_writer_intervals(data / "warehouse" / "ektp.duckdb"))


def test_a_run_started_while_a_backfill_is_going(zone, api, data, tmp_path):
    _, reference = zone
    res = ektp(api, "run", "--data-dir", str(data), "--date", MID)
    assert res.returncode == 0, res.stderr
    before = marts_and_versions(data / "warehouse" / "ektp_analyst.duckdb")
    backfill = Paused(api, "load", tmp_path / "pause", "backfill", "--data-dir", str(data),
                      "--start", START, "--end", END, "--force")
    backfill.wait_paused()                           # holds the writer lock, mid load transaction
    try:
        now = ektp(api, "run", "--data-dir", str(data), "--date", END, "--wait", "0")
        later_err = tmp_path / "later.err"
        with open(later_err, "w") as fh:
            later = subprocess.Popen([EKTP, "run", "--data-dir", str(data), "--date", END, "--wait", "300"],
                                     env=ektp_env(api), stdout=subprocess.PIPE, stderr=fh, text=True)
        # an analyst meanwhile reads the previous generation undisturbed
        assert marts_and_versions(data / "warehouse" / "ektp_analyst.duckdb") == before
        deadline = time.monotonic() + 180
        while "Waiting for another run to finish" not in later_err.read_text():   # it reached the lock
            assert later.poll() is None and time.monotonic() < deadline, later_err.read_text()[-2000:]
            time.sleep(0.2)
        time.sleep(1.0)
        assert later.poll() is None                      # it waits its turn, it does not write
    finally:
        rc = backfill.resume()
    later.communicate(timeout=300)
    err = later_err.read_text()
    print("run with --wait 0 during the backfill:", now.stderr.strip().splitlines()[-1:])
    assert now.returncode == 1 and "Traceback" not in now.stderr
    assert [ln for ln in now.stderr.splitlines() if ln.startswith("ektp: ")] == [
        next(ln for ln in now.stderr.splitlines() if ln.startswith("ektp: Another run is writing the warehouse (pid "))]
    assert rc == 0, backfill.stderr[-3000:]
    assert later.returncode == 0, err
    assert "Waiting for another run to finish" in err
    intervals = _writer_intervals(data / "warehouse" / "ektp.duckdb")
    assert [s for _, _, s in intervals] == ["completed"] * 3
    _no_overlap(intervals)
    assert marts_and_versions(data / "warehouse" / "ektp.duckdb") == reference
    assert marts_and_versions(data / "warehouse" / "ektp_analyst.duckdb") == as_published(reference)


def test_two_runs_started_together(zone, api, data):
    _, reference = zone
    a = spawn(api, "run", "--data-dir", str(data), "--date", END)
    b = spawn(api, "run", "--data-dir", str(data), "--date", END)
    (oa, ea), (ob, eb) = a.communicate(timeout=300), b.communicate(timeout=300)
    assert a.returncode == 0, ea
    assert b.returncode == 0, eb
    loaded = sorted(int(line.split("files: ")[1].split(" loaded")[0].replace(",", ""))
                    for line in (oa + ob).splitlines() if "files: " in line)
    assert loaded[0] == 0 and loaded[1] > 0          # one run loaded everything, the other found it unchanged
    intervals = _writer_intervals(data / "warehouse" / "ektp.duckdb")
    assert [s for _, _, s in intervals] == ["completed", "completed"]
    _no_overlap(intervals)
    assert marts_and_versions(data / "warehouse" / "ektp.duckdb") == reference


def test_an_analyst_holding_the_writers_file_gets_a_clear_error_and_nothing_breaks(zone, api, data):
    """Analysts must read ektp_analyst.duckdb; one who opens ektp.duckdb itself blocks the writer
    (DuckDB's file lock). The run then stops with one line naming the fix, and loses nothing."""
    _, reference = zone
    res = ektp(api, "run", "--data-dir", str(data), "--date", MID)
    assert res.returncode == 0, res.stderr
    wh = data / "warehouse" / "ektp.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb,sys,time; c=duckdb.connect(sys.argv[1], read_only=True);"
                               " print('open', flush=True); time.sleep(600)", str(wh)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        blocked = ektp(api, "run", "--data-dir", str(data), "--date", END)
    finally:
        holder.kill()
        holder.wait()
    print("writer's file held open:", blocked.stderr.strip().splitlines()[-1:])
    assert blocked.returncode == 1 and "Traceback" not in blocked.stderr, blocked.stderr[-2000:]
    assert "open in another program" in blocked.stderr
    res = ektp(api, "run", "--data-dir", str(data), "--date", END)
    assert res.returncode == 0, res.stderr
    assert marts_and_versions(wh) == reference
