"""Issue 5.4: the last good warehouses are kept (flows/outputs/publish.py, KEEP generations) and
``ektp restore`` brings one back; the next run catches up from there.

Runs go through the real Prefect flow in-process (session test server); ``ektp backups`` and
``ektp restore`` run as the installed console script (they do not start Prefect).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flows.outputs.publish import KEEP
from tests.helpers import row
from tests.hostile.server import marts_and_versions

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]   # four runs and ektp subprocesses

EKTP = os.path.join(os.path.dirname(sys.executable), "ektp")
DAYS = ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]   # KEEP + 1 runs: one generation pruned


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EKTP, *args], capture_output=True, text=True, timeout=120)


def _day_rows(i: int, day: str) -> list[str]:
    return [row(nik=f"16090145010{i:03d}{j:02d}", waktu=f"{day} 0{8 + j}:00:00",
                desa=("16.09.01.1013", "16.09.02.2012")[j % 2]) for j in range(1, 4)]


@pytest.fixture
def history(landing):
    """KEEP + 1 good runs, one new day each; the published state after each one."""
    landing.snapshot()
    states = []
    for i, day in enumerate(DAYS, start=1):
        landing.log(day, "16.09.01", _day_rows(i, day))
        landing.run(day)
        states.append((marts_and_versions(landing.warehouse), marts_and_versions(landing.published)))
    return landing, states


def test_restore_a_kept_generation_then_a_run_catches_up(history):
    landing, states = history
    d = str(landing.data_dir)
    backups_dir = landing.data_dir / "warehouse" / "backups"
    kept = sorted(p.name for p in backups_dir.glob("ektp-*.duckdb"))
    assert len(kept) == KEEP == 3                       # the newest KEEP generations, older ones pruned
    listing = _cli("backups", "--data-dir", d)
    assert listing.returncode == 0
    assert [ln.split()[0] for ln in listing.stdout.splitlines()] == kept[::-1]   # newest first
    # every kept generation is a complete warehouse equal to the state published by its run
    for name, (state, _) in zip(kept, states[-KEEP:]):
        assert marts_and_versions(backups_dir / name) == state
    _refusals(landing, states)
    # restore the oldest kept generation (the run of day 2)
    chosen = kept[0]
    res = _cli("restore", "--data-dir", d, chosen)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"Restored {chosen}")
    assert landing.warehouse.read_bytes() == (backups_dir / chosen).read_bytes()
    assert marts_and_versions(landing.warehouse) == states[1][0]
    assert marts_and_versions(landing.published) == states[1][1]
    # the next run reloads what changed since that generation and ends where the last run ended
    summary = landing.run(DAYS[-1])
    assert summary.files_loaded == 2 and summary.files_unchanged == 3
    assert marts_and_versions(landing.warehouse) == states[-1][0]
    assert marts_and_versions(landing.published) == states[-1][1]


def _refusals(landing, states) -> None:
    """Unknown names, paths and a held writer lock are refused in one line and change nothing."""
    from flows.settings import load_settings
    from flows.warehouse.database import writer_lock

    d = str(landing.data_dir)
    before = landing.warehouse.read_bytes()
    res = _cli("restore", "--data-dir", d, "ektp-nope.duckdb")
    assert res.returncode == 1 and res.stderr.startswith("ektp: No backup named") and res.stderr.count("\n") == 1
    res = _cli("restore", "--data-dir", d, "../../ektp.duckdb")
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    with writer_lock(load_settings(landing.data_dir)):
        res = _cli("restore", "--data-dir", d, "latest")
    assert res.returncode == 1 and res.stderr.startswith("ektp: Another run is writing") and res.stderr.count("\n") == 1
    assert landing.warehouse.read_bytes() == before
    assert marts_and_versions(landing.published) == states[-1][1]
