"""Issue 5.2: crash consistency of real ``ektp backfill`` processes.

A backfill is SIGKILLed at every stage of its life: reading, validating, inside the load
transaction, inside the mart-building transaction, after the run is recorded but before the
checkpoint, mid-copy of the analysts' file, after its rename but before the backup link, and
before the report. The kill points are deterministic: tests/hostile/pause.py runs the real
``ektp`` command with hooks that stop at a stage until the test kills the process (a stand-in
for the ``EKTP_TEST_PAUSE_AT`` hook proposed for flows/orchestration/pipeline.py in the issue-5 note).

The kills are chained on one data directory: each rerun starts from the state the previous kill
left and must itself get through every stage before its own kill point. After each kill the
warehouse opens and the analysts' file is either absent or a complete earlier generation; after
the last, a rerun finishes and every mart table plus the current file versions and quarantine
equal those of an uninterrupted run, row for row (``select * ... order by all``).

Disk full (a tmpfs filled up) and a read-only warehouse must give one clear line and lose nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.hostile.server import Paused, as_published, ektp, generated_zone, marts_and_versions, prefect_server

START, END = "2025-01-01", "2025-01-06"
KILL_POINTS = ("read", "validate", "load", "marts", "finish", "publish", "backup", "report")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with prefect_server(tmp_path_factory.mktemp("prefect-home")) as url:
        yield url


@pytest.fixture(scope="module")
def zone(tmp_path_factory, api):
    """A generated landing zone (with its dirt) and the marts of an uninterrupted backfill."""
    return generated_zone(api, tmp_path_factory.mktemp("zone"), START, END, 400, 7,
                          "backfill", "--start", START, "--end", END)


def _opens(path: Path) -> bool:
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("select count(*) from audit.file_loads").fetchone()
        return True
    finally:
        con.close()


@pytest.mark.slow
def test_kill_9_at_every_stage_then_rerun_equals_an_uninterrupted_run(zone, api, tmp_path):
    raw, reference = zone
    data = tmp_path / "data"
    shutil.copytree(raw, data / "raw")
    wh, pub = data / "warehouse" / "ektp.duckdb", data / "warehouse" / "ektp_analyst.duckdb"
    seen = []
    for stage in KILL_POINTS:
        p = Paused(api, stage, tmp_path / f"pause-{stage}", "backfill", "--data-dir", str(data),
                   "--start", START, "--end", END)
        p.wait_paused()
        p.kill()
        assert p.proc.returncode == -9
        assert _opens(wh), stage          # the writer's warehouse opens (DuckDB replays or drops its WAL)
        if pub.exists():                  # the analysts' file is never half-built
            assert _opens(pub), stage
            assert marts_and_versions(pub) == as_published(reference), stage
        assert stage not in ("read", "validate", "load", "marts", "finish", "publish") or not pub.exists(), stage
        files = duckdb.connect(str(wh), read_only=True).execute(
            "select count(*) from audit.file_loads where status <> 'superseded'").fetchone()[0]
        seen.append((stage, files, pub.exists()))
    print("kill points (stage, current file versions in the warehouse after the kill, analysts' file present):", seen)
    # before the 'marts' kill only the snapshot and the request files (their own transactions, before
    # the logs) were committed, never part of the log batch; from then on every file version is there
    before_logs = sum(1 for row in reference["audit.file_loads"] if not row[0].startswith("rekam/"))
    assert before_logs >= 2                 # the snapshot and at least one request file
    assert [s[1] for s in seen[:3]] == [before_logs] * 3 and all(s[1] == len(reference["audit.file_loads"]) for s in seen[3:])
    res = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", END)
    assert res.returncode == 0, res.stderr
    assert marts_and_versions(wh) == reference
    assert marts_and_versions(pub) == as_published(reference)
    assert not list(wh.parent.glob(".*.tmp*")), "a stale temporary copy was left behind"
    assert not list((wh.parent / "backups").glob(".*.tmp")), "a stale temporary backup was left behind"
    runs = duckdb.connect(str(wh), read_only=True).execute(
        "select status, count(*) from audit.runs group by all order by all").fetchall()
    # killed before the run was recorded as completed (read .. marts): 'interrupted' by the next run;
    # killed after (finish: the commit survives in the WAL; publish, backup, report) plus the final run: completed
    assert dict(runs) == {"interrupted": 4, "completed": 5}, runs


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _error_line(res: subprocess.CompletedProcess) -> str | None:
    """The one-line error of a failed command, or None when it printed a traceback instead."""
    assert res.returncode != 0
    if "Traceback" in res.stderr:
        return None
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("ektp: ")]
    return lines[-1] if lines else None


def _fill(mnt: Path, leave: int) -> Path:
    """Fill the filesystem at mnt until only about ``leave`` bytes are free."""
    filler = mnt / "filler"
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as fh:
        fh.truncate(0)
        chunk = b"\0" * (1 << 20)
        todo = max(0, free - leave)
        while todo > 0:
            n = fh.write(chunk[: min(len(chunk), todo)])
            todo -= n
    return filler


@pytest.mark.slow
def test_disk_full_is_a_clear_error_and_loses_nothing(zone, api, tmp_path):
    raw, reference = zone
    mnt = tmp_path / "small"
    # room for the whole backfill (about 49 MB at the end: the writer file, two backups, the copy)
    # but not for a second copy of it; the filler below takes the rest
    if not _mount_tmpfs(mnt, "64m"):
        pytest.skip("cannot mount a tmpfs here (not root or no CAP_SYS_ADMIN)")
    try:
        data = mnt / "data"
        shutil.copytree(raw, data / "raw")
        res = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", "2025-01-03")
        assert res.returncode == 0, res.stderr
        pub = data / "warehouse" / "ektp_analyst.duckdb"
        published, before = pub.read_bytes(), marts_and_versions(pub)
        filler = _fill(mnt, 256 * 1024)          # the rest of the backfill cannot fit
        res = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", END)
        line = _error_line(res)
        # nothing lost: the analysts' file is the previous good one, the landing zone is intact,
        # and once there is room again a rerun finishes and equals an uninterrupted run
        assert pub.read_bytes() == published and marts_and_versions(pub) == before
        filler.unlink()
        res2 = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", END)
        assert res2.returncode == 0, res2.stderr
        assert marts_and_versions(data / "warehouse" / "ektp.duckdb") == reference
        assert marts_and_versions(pub) == as_published(reference)
    finally:
        _umount(mnt)
    print("disk full:", line or res.stderr.strip().splitlines()[-1])
    assert line is not None, "disk full must be one clear line, not a traceback: " + res.stderr[-2000:]
    assert "space" in line.lower(), line


@pytest.mark.slow
def test_read_only_warehouse_is_a_clear_error_and_loses_nothing(zone, api, tmp_path):
    raw, reference = zone
    mnt = tmp_path / "ro"
    # room for the whole backfill (about 49 MB at the end: the writer file, two backups, the copy)
    # but not for a second copy of it; the filler below takes the rest
    if not _mount_tmpfs(mnt, "64m"):
        pytest.skip("cannot mount a tmpfs here (not root or no CAP_SYS_ADMIN)")
    try:
        data = mnt / "data"
        shutil.copytree(raw, data / "raw")
        res = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", "2025-01-03")
        assert res.returncode == 0, res.stderr
        pub = data / "warehouse" / "ektp_analyst.duckdb"
        published, before = pub.read_bytes(), marts_and_versions(pub)
        assert subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True).returncode == 0
        res = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", END)
        line = _error_line(res)
        assert pub.read_bytes() == published and marts_and_versions(pub) == before
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
        res2 = ektp(api, "backfill", "--data-dir", str(data), "--start", START, "--end", END)
        assert res2.returncode == 0, res2.stderr
        assert marts_and_versions(data / "warehouse" / "ektp.duckdb") == reference
    finally:
        _umount(mnt)
    print("read-only:", line or res.stderr.strip().splitlines()[-1])
    assert line is not None, "a read-only warehouse must be one clear line, not a traceback: " + res.stderr[-2000:]
    assert "read-only" in line.lower() or "cannot be written" in line.lower(), line
