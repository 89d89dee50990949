#!/usr/bin/env python
"""Benchmarks for issues 6 and 19: whole-process figures of `ektp` against the floor, in one run.

    .venv/bin/python tests/bench/bench.py [--quick] [--only FIX,W0,W1,W2,W3,W4] [--no-dask] [--w4-end DATE]
    .venv/bin/python tests/bench/bench.py --only W2 --no-dask --against <git ref>

``--against REF`` measures W2 also with the code of REF (a git worktree under bench-out/), the runs
of both interleaved in the same benchmark run, and prints the ratio: a before/after figure.

Every figure is the wall time of a whole `ektp` process (median of several runs) and its peak
memory, next to the *floor* measured in the same run: a fresh Python process that does a plain
DuckDB ``read_csv`` of the same files into one table (no validation, no pseudonyms, no marts).

  W0  fixed cost: `ektp run` with nothing new to load (with an ephemeral Prefect API and with a
      running local `prefect server start`).
  W1  nightly: one new day on top of a year of history vs the same day into an empty warehouse.
  W2  many files: `ektp generate` over a whole year (19 kecamatan x 366 days, default rows per
      day), then `ektp backfill` over it; default runner and `--dask` (two-worker local cluster).
  W3  volume: one day of 1,000,000 rows, marginal cost (1M-row day minus 1,000-row day) against
      the same difference for the floor; default runner and `--dask`.
  FIX fixed cost of a loading run: `ektp run` of one regency day into an empty warehouse against a
      fresh process making an empty Prefect flow run with five no-op tasks on the same server.
  W4  a province year: `ektp generate --wilayah 16` (241 kecamatan), `EKTP_WILAYAH=16 ektp backfill`
      against `read_csv(union_by_name=true, all_varchar=true)` of the same files; then one more
      day on top of it against that day into an empty warehouse (W4 nightly), then `ektp run` with
      nothing new (W4 W0). ``--w4-end`` cuts the year short when the time is not there.

Data is generated with `--clean` (no dirt): dirty files use every CSV dialect, quoted fields go
through Python's csv module and ~3 % of rows are quarantined, none of which the floor would do,
so the comparison would no longer be like for like. Everything goes under bench-out/ (git-ignored).

Peak memory: ``peak_proc`` is the largest RSS of any single process of the run (os.wait4's
ru_maxrss, which covers the process and its reaped children); ``peak_tree`` is the largest sum of
RSS over the whole process tree (the ektp process, its ephemeral Prefect server, Dask scheduler
and workers), sampled every 50 ms.

Unless --ephemeral-only, the benchmark starts one `prefect server start` (temporary PREFECT_HOME)
for its duration and points W1-W3 at it; W0 is reported both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PY = str(VENV_BIN / "python")
EKTP = str(VENV_BIN / "ektp")
OUT = ROOT / "bench-out"
BENCH_KEY = "bench-key-not-secret-0123456789abcdef0123"

YEAR_START, YEAR_END = date(2024, 1, 1), date(2024, 12, 31)   # 366 days (leap year)
NEW_DAY = date(2025, 1, 1)                                    # W1's new night
VOLUME_DAY = date(2025, 1, 1)
W4_AREA = "16"                                                # Sumatera Selatan: 241 kecamatan

# The fixed cost of any Prefect flow-run process: import Prefect, one flow with five no-op tasks
# against the same API (what `ektp run` cannot go below while every run is a Prefect flow run).
PREFECT_FLOOR_SCRIPT = """
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

@task(cache_policy=NO_CACHE)
def step():
    return 1

@flow(name="bench-empty-flow")
def empty():
    for _ in range(5):
        step()

empty()
"""

FLOOR_SCRIPT = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
files = open(sys.argv[2]).read().splitlines()
options = sys.argv[3] if len(sys.argv) > 3 else ""
chunk = 10000   # union_by_name opens every file of a call at once: 20,000 open files is this host's hard limit
for i in range(0, len(files), chunk):
    head = "create table t as" if i == 0 else "insert into t by name"
    con.execute(head + " select * from read_csv(" + repr(files[i:i + chunk]) + ", header = true" + options + ")")
print(con.execute("select count(*) from t").fetchone()[0])
"""
# W4's floor: the issue's "DuckDB read_csv(union_by_name=true, all_varchar=true) of the same files"
W4_FLOOR_OPTIONS = ", union_by_name = true, all_varchar = true"


# ---------------------------------------------------------------------------------------------
# measuring one process

@dataclass
class Sample:
    wall: float
    peak_proc_mb: float
    peak_tree_mb: float
    rc: int


@dataclass
class Figure:
    workload: str
    variant: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak_proc_mb(self) -> float:
        return max(s.peak_proc_mb for s in self.samples)

    @property
    def peak_tree_mb(self) -> float:
        return max(s.peak_tree_mb for s in self.samples)


def _tree_rss(pid: int) -> int:
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(cmd: list[str], env: dict, log: Path, cwd: Path = ROOT) -> Sample:
    """Run ``cmd`` to completion; its wall time, single-process peak RSS and process-tree peak RSS."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        peak = 0
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(0.05)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        th.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(f"  ! exit {proc.returncode}: {' '.join(cmd)} (see {log})", file=sys.stderr)
    return Sample(wall, ru.ru_maxrss / 1024.0, max(peak, ru.ru_maxrss * 1024) / 2**20, proc.returncode)


# ---------------------------------------------------------------------------------------------
# environment, Prefect server

def base_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "EKTP_"))}
    env.update({
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING", "EKTP_NIK_KEY": BENCH_KEY,
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    """One `prefect server start` for the benchmark's duration (temporary PREFECT_HOME)."""

    def __init__(self, home: Path, log: Path):
        self.home, self.log = home, log
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def __enter__(self) -> PrefectServer:
        env = base_env(self.home)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        fh = self.log.open("ab")
        self.proc = subprocess.Popen([str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                      "--port", str(self.port)], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited (see {self.log})")
            try:
                with urllib.request.urlopen(self.api_url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("prefect server did not become healthy in 240 s")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own session only
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# ---------------------------------------------------------------------------------------------
# data

def generate(out: Path, start: date, end: date, env: dict, log: Path, rows_per_day: int | None = None,
             cache: bool = True, wilayah: str | None = None) -> Sample | None:
    """`ektp generate --clean` into ``out`` (reused when ``cache`` and it is complete); ``wilayah``
    is the area (``--wilayah``), the regency's default when None."""
    marker = out / ".complete"
    if cache and marker.exists():
        return None
    shutil.rmtree(out, ignore_errors=True)
    cmd = [EKTP, "generate", "--out", str(out), "--start", start.isoformat(), "--end", end.isoformat(), "--clean"]
    if rows_per_day:
        cmd += ["--rows-per-day", str(rows_per_day)]
    if wilayah:
        cmd += ["--wilayah", wilayah]
    s = measure(cmd, env, log)
    if s.rc != 0:
        raise RuntimeError(f"generate failed (see {log})")
    marker.write_text(json.dumps(asdict(s)))
    return s


def day_files(raw: Path, days: list[date]) -> list[str]:
    out = []
    for d in days:
        out += sorted(str(p) for p in (raw / "rekam" / d.isoformat()).glob("*.csv"))
    return out


def data_dir(work: Path, name: str, raw: Path, days: list[date] | None = None, warehouse: Path | None = None,
             link: bool = False) -> Path:
    """A fresh data directory: the snapshot(s), the log folders of ``days`` (all when None),
    optionally a copy of an existing warehouse directory. With ``link`` the log files are hard
    links to the cache (a province year is 88,000 files; the pipeline only reads them)."""
    d = work / name
    shutil.rmtree(d, ignore_errors=True)
    (d / "raw" / "rekam").mkdir(parents=True)
    shutil.copytree(raw / "penduduk", d / "raw" / "penduduk")
    folders = sorted((raw / "rekam").iterdir()) if days is None else [raw / "rekam" / x.isoformat() for x in days]
    copy = os.link if link else shutil.copy2
    for f in folders:
        shutil.copytree(f, d / "raw" / "rekam" / f.name, copy_function=copy)
    if warehouse is not None:
        shutil.copytree(warehouse, d / "warehouse")
    return d


def floor(files: list[str], work: Path, env: dict, log: Path, options: str = "") -> Sample:
    """A fresh Python process: DuckDB ``read_csv`` of ``files`` into one table (plus ``options``)."""
    db = work / "floor.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    script = work / "floor.py"
    script.write_text(FLOOR_SCRIPT)
    # the file list goes through a file: 88,000 paths of a province year exceed ARG_MAX
    listing = work / "floor-files.txt"
    listing.write_text("\n".join(files) + "\n")
    s = measure([PY, str(script), str(db), str(listing), *([options] if options else [])], env, log)
    db.unlink(missing_ok=True)
    return s


# ---------------------------------------------------------------------------------------------
# the workloads

class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.work = OUT / "run"
        self.cache = OUT / "cache"
        self.logs = OUT / "logs"
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.home_eph = self.work / "prefect-home-ephemeral"
        self.env_eph = base_env(self.home_eph)
        self.env = self.env_eph            # replaced by the server env when a server runs
        self.figures: list[Figure] = []
        self.summary: list[tuple[str, str, str, str, str, str]] = []   # the verdict table
        self.extra: dict = {}
        self.reps = (lambda full, quick: quick if self.quick else full)
        self.deadline = time.monotonic() + args.budget_minutes * 60 if args.budget_minutes else None

    # helpers
    def over_budget(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def add(self, workload: str, variant: str, samples: list[Sample], note: str = "") -> Figure:
        f = Figure(workload, variant, samples, note)
        self.figures.append(f)
        print(f"  {workload:<4} {variant:<44} {f.wall:8.2f} s  peak {f.peak_proc_mb:7.0f} MB "
              f"(tree {f.peak_tree_mb:6.0f} MB)  n={len(samples)}", flush=True)
        return f

    def ektp(self, *argv: str, env: dict | None = None, log: str = "ektp", tree: Path | None = None) -> Sample:
        """A whole `ektp` process; with ``tree``, the `ektp` of that checkout (same venv)."""
        cmd = [EKTP] if tree is None else [PY, "-c", AGAINST_LAUNCHER, str(tree)]
        return measure([*cmd, *argv], env or self.env, self.logs / f"{log}.log")

    def repeat(self, n: int, prepare, run) -> list[Sample]:
        out = []
        for i in range(n):
            ctx = prepare(i) if prepare else None
            out.append(run(ctx))
        return out

    # data
    @property
    def year_raw(self) -> Path:
        return self.cache / ("month" if self.quick else "year")

    def year_range(self) -> tuple[date, date]:
        return (YEAR_START, date(2024, 1, 31)) if self.quick else (YEAR_START, YEAR_END)

    def volume_rows(self) -> int:
        return 100_000 if self.quick else 1_000_000

    # W2 first: its warehouse is W1's history and W0's "nothing new" state
    def w2(self) -> Path:
        start, end = self.year_range()
        print(f"W2 many files: {start}..{end}", flush=True)
        g = generate(self.year_raw, start, NEW_DAY, self.env_eph, self.logs / "generate.log",
                     cache=not self.args.regenerate)
        if g is not None:
            self.add("W2", f"ektp generate {start}..{NEW_DAY} --clean", [g])
        days = [start + timedelta(i) for i in range((end - start).days + 1)]
        files = day_files(self.year_raw, days)
        self.extra["w2_files"] = len(files)
        self.extra["w2_bytes"] = sum(os.path.getsize(f) for f in files)
        fl = self.add("W2", f"floor: read_csv of {len(files)} files",
                      [floor(files, self.work, self.env_eph, self.logs / "floor.log") for _ in range(self.reps(3, 1))])
        history = None

        def prep(i):
            return data_dir(self.work, "w2", self.year_raw)

        def run(d, dask=False):
            argv = ["backfill", "--start", start.isoformat(), "--end", end.isoformat(), "--data-dir", str(d)]
            return self.ektp(*argv, *(["--dask"] if dask else []), log="w2")

        def run_against(d):
            argv = ["backfill", "--start", start.isoformat(), "--end", end.isoformat(), "--data-dir", str(d)]
            return self.ektp(*argv, log="w2-against", tree=self.args.against_tree)

        samples, against = [], []
        for i in range(self.reps(5 if self.args.against else 3, 1)):
            if self.args.against:            # interleaved: the same machine state for both
                against.append(run_against(prep(i)))
            d = prep(i)
            samples.append(run(d))
            if history is None:
                history = self.work / "history-warehouse"
                shutil.rmtree(history, ignore_errors=True)
                shutil.copytree(d / "warehouse", history)
        if against:
            a = self.add("W2", f"ektp backfill at {self.args.against} (before)", against)
        f = self.add("W2", "ektp backfill (default runner)", samples)
        if against:
            f.note = f"{f.wall / a.wall:.3f}x the run at {self.args.against}"
            self.verdict("W2 this code vs " + self.args.against, f"{f.wall:.2f} s vs {a.wall:.2f} s", "-",
                         f.wall / a.wall, 1.10, "<= 1.10")
        f.note = f"ratio {f.wall / fl.wall:.2f}x floor"
        self.verdict("W2 many files, default", f"{f.wall:.2f} s, peak {f.peak_proc_mb:.0f} MiB", f"{fl.wall:.2f} s",
                     f.wall / fl.wall, 3.0, "<= 3x")
        if not self.args.no_dask and not self.over_budget():
            f = self.add("W2", "ektp backfill --dask (2-worker local cluster)",
                         [run(prep(0), dask=True) for _ in range(1)])
            f.note = f"ratio {f.wall / fl.wall:.2f}x floor"
            self.verdict("W2 many files, --dask", f"{f.wall:.2f} s, peak {f.peak_proc_mb:.0f} MiB "
                         f"(tree {f.peak_tree_mb:.0f})", f"{fl.wall:.2f} s", f.wall / fl.wall, 3.0, "<= 3x")
        self.w2_floor = fl
        return history

    def w1(self, history: Path) -> None:
        print("W1 nightly: one new day", flush=True)
        files = day_files(self.year_raw, [NEW_DAY])
        fl = self.add("W1", f"floor: read_csv of the day's {len(files)} files",
                      [floor(files, self.work, self.env_eph, self.logs / "floor.log") for _ in range(self.reps(3, 2))])
        n = self.reps(3, 2)
        argv = ["run", "--date", NEW_DAY.isoformat(), "--data-dir"]
        empty = [self.ektp(*argv, str(data_dir(self.work, "w1e", self.year_raw, [NEW_DAY])), log="w1")
                 for _ in range(n)]
        e = self.add("W1", "ektp run: one day into an empty warehouse", empty)
        start, end = self.year_range()
        all_days = [start + timedelta(i) for i in range((NEW_DAY - start).days + 1)]
        hist = []
        for _ in range(n):
            d = data_dir(self.work, "w1h", self.year_raw, all_days, warehouse=history)
            hist.append(self.ektp(*argv, str(d), log="w1"))
        h = self.add("W1", f"ektp run: one day on top of {len(all_days) - 1} days of history", hist)
        h.note = f"ratio history/empty {h.wall / e.wall:.2f} (target <= 1.3); {h.wall / fl.wall:.1f}x floor"
        self.verdict("W1 nightly", f"{h.wall:.2f} s on history vs {e.wall:.2f} s empty", f"{fl.wall:.2f} s",
                     h.wall / e.wall, 1.3, "history/empty <= 1.3")
        self.w1_dir = d

    def w0(self, server: PrefectServer | None) -> None:
        print("W0 fixed cost: nothing new to load", flush=True)
        d = self.w1_dir
        argv = ["run", "--date", NEW_DAY.isoformat(), "--data-dir", str(d)]
        n = self.reps(3, 2)
        f = self.add("W0", "ektp run, nothing new (ephemeral Prefect API)",
                     [self.ektp(*argv, env=self.env_eph, log="w0") for _ in range(n)])
        f.note = "subprocess API server started and stopped by the process"
        if server is not None:
            f = self.add("W0", "ektp run, nothing new (running prefect server)",
                         [self.ektp(*argv, env=self.env, log="w0") for _ in range(n)])
            f.note = "PREFECT_API_URL -> local `prefect server start`"
            self.verdict("W0 fixed cost (running server)", f"{f.wall:.2f} s, peak {f.peak_proc_mb:.0f} MiB", "-",
                         f.wall, 5.0, "< 5 s")
        if server is not None:
            self.prefect_floor(n)
        imp = [measure([PY, "-c", "import great_expectations"], self.env_eph, self.logs / "w0.log") for _ in range(3)]
        self.add("W0", "(reference) python -c 'import great_expectations'", imp)
        imp = [measure([PY, "-c", "import prefect, flows.orchestration.pipeline"], self.env_eph, self.logs / "w0.log") for _ in range(3)]
        self.add("W0", "(reference) python -c 'import prefect, flows.orchestration.pipeline'", imp)

    def w3(self) -> None:
        rows = self.volume_rows()
        print(f"W3 volume: one day of {rows:,} rows vs 1,000 rows", flush=True)
        big = self.cache / f"day{rows}"
        small = self.cache / "day1000"
        for out, n in ((big, rows), (small, 1000)):
            g = generate(out, VOLUME_DAY, VOLUME_DAY, self.env_eph, self.logs / "generate.log", rows_per_day=n,
                         cache=not self.args.regenerate)
            if g is not None:
                self.add("W3", f"ektp generate 1 day --rows-per-day {n} --clean", [g])
        fb = self.add("W3", f"floor: read_csv {rows:,}-row day",
                      [floor(day_files(big, [VOLUME_DAY]), self.work, self.env_eph, self.logs / "floor.log")
                       for _ in range(self.reps(3, 1))])
        fs = self.add("W3", "floor: read_csv 1,000-row day",
                      [floor(day_files(small, [VOLUME_DAY]), self.work, self.env_eph, self.logs / "floor.log")
                       for _ in range(self.reps(3, 1))])
        floor_marginal = fb.wall - fs.wall
        self.extra["w3_floor_marginal"] = floor_marginal
        argv = ["backfill", "--start", VOLUME_DAY.isoformat(), "--end", VOLUME_DAY.isoformat(), "--data-dir"]
        variants = [("default runner", [])]
        if not self.args.no_dask:
            variants.append(("--dask (2-worker local cluster)", ["--dask"]))
        for label, extra in variants:
            if self.over_budget():
                break
            nb = 1 if extra else self.reps(3, 1)
            pb = self.add("W3", f"ektp backfill {rows:,}-row day, {label}",
                          [self.ektp(*argv, str(data_dir(self.work, "w3b", big, [VOLUME_DAY])), *extra, log="w3")
                           for _ in range(nb)])
            ps = self.add("W3", f"ektp backfill 1,000-row day, {label}",
                          [self.ektp(*argv, str(data_dir(self.work, "w3s", small, [VOLUME_DAY])), *extra, log="w3")
                           for _ in range(self.reps(3, 1) if not extra else 1)])
            marginal = pb.wall - ps.wall
            pb.note = (f"marginal {marginal:.2f} s vs floor marginal {floor_marginal:.2f} s = "
                       f"{marginal / floor_marginal:.2f}x (target <= 2.5); peak {pb.peak_proc_mb:.0f} MB "
                       f"(target <= 2048)")
            self.verdict(f"W3 volume, {label}", f"marginal {marginal:.2f} s, peak {pb.peak_proc_mb:.0f} MiB "
                         f"(tree {pb.peak_tree_mb:.0f})", f"marginal {floor_marginal:.2f} s",
                         marginal / floor_marginal, 2.5, "<= 2.5x", mem=pb.peak_proc_mb)

    def prefect_floor(self, n: int) -> Figure:
        """The reference of W0 and FIX: a fresh process making an empty Prefect flow run with five
        no-op tasks against the running server (measured once per benchmark run, reused)."""
        if getattr(self, "_prefect_floor", None) is None:
            script = self.work / "prefect_floor.py"
            script.write_text(PREFECT_FLOOR_SCRIPT)
            f = self.add("W0", "(reference) empty Prefect flow, 5 no-op tasks (running server)",
                         [measure([PY, str(script)], self.env, self.logs / "w0.log") for _ in range(n)])
            f.note = "the floor of any process that makes a Prefect flow run"
            self.summary.append(("W0 reference: empty Prefect flow process", f"{f.wall:.2f} s", "-", "-", "-", "-"))
            self._prefect_floor = f
        return self._prefect_floor

    def fix(self) -> None:
        """FIX: `ektp run` of one regency day into an empty warehouse against the empty-flow process."""
        print("FIX fixed cost of a loading run: one day into an empty warehouse", flush=True)
        raw = self.cache / "fixday"
        generate(raw, NEW_DAY, NEW_DAY, self.env_eph, self.logs / "generate.log", cache=not self.args.regenerate)
        n = self.reps(3, 2)
        ref = self.prefect_floor(n)
        argv = ["run", "--date", NEW_DAY.isoformat(), "--data-dir"]
        runs = [self.ektp(*argv, str(data_dir(self.work, "fix", raw, [NEW_DAY])), log="fix") for _ in range(n)]
        f = self.add("FIX", f"ektp run: one day ({len(day_files(raw, [NEW_DAY]))} files) into an empty warehouse", runs)
        f.note = f"{f.wall / ref.wall:.2f}x the empty Prefect flow process"
        self.verdict("FIX loading run vs empty flow", f"{f.wall:.2f} s, peak {f.peak_proc_mb:.0f} MiB",
                     f"{ref.wall:.2f} s (empty flow)", f.wall / ref.wall, 1.5, "<= 1.5x")

    def w4(self) -> None:
        """W4: a province year (``--wilayah 16``), its floor, the backfill, one more night, nothing new."""
        start, end = YEAR_START, min(self.args.w4_end, YEAR_END)
        new = end + timedelta(1)      # the year's landing zone runs to NEW_DAY: a part of it has its next day
        raw = self.cache / f"w4-{W4_AREA}-{YEAR_START}-{NEW_DAY}"
        print(f"W4 province {W4_AREA}: {start}..{end}, then {new}", flush=True)
        g = generate(raw, YEAR_START, NEW_DAY, self.env_eph, self.logs / "generate.log",
                     cache=not self.args.regenerate, wilayah=W4_AREA)
        if g is not None:
            self.add("W4", f"ektp generate --wilayah {W4_AREA} {YEAR_START}..{NEW_DAY} --clean", [g])
        days = [start + timedelta(i) for i in range((end - start).days + 1)]
        files = day_files(raw, days)
        self.extra.update(w4_files=len(files), w4_bytes=sum(os.path.getsize(f) for f in files),
                          w4_range=f"{start}..{end}")
        fl = self.add("W4", f"floor: read_csv(union_by_name, all_varchar) of {len(files)} files",
                      [floor(files, self.work, self.env_eph, self.logs / "floor.log", W4_FLOOR_OPTIONS)
                       for _ in range(self.reps(3, 1))])
        env = self.env | {"EKTP_WILAYAH": W4_AREA}
        d = data_dir(self.work, "w4", raw, days, link=True)
        argv = ["backfill", "--start", start.isoformat(), "--end", end.isoformat(), "--data-dir", str(d)]
        f = self.add("W4", f"EKTP_WILAYAH={W4_AREA} ektp backfill {start}..{end}",
                     [self.ektp(*argv, env=env, log="w4")])
        f.note = f"ratio {f.wall / fl.wall:.2f}x floor"
        self.verdict(f"W4 province backfill ({len(files)} files)", f"{f.wall:.2f} s, peak {f.peak_proc_mb:.0f} MiB",
                     f"{fl.wall:.2f} s", f.wall / fl.wall, 1.0, "<= 1.0x", mem=f.peak_proc_mb)
        if not self.args.no_dask and not self.over_budget():
            dd = data_dir(self.work, "w4d", raw, days, link=True)
            argv_d = ["backfill", "--start", start.isoformat(), "--end", end.isoformat(), "--data-dir", str(dd),
                      "--dask"]
            fd = self.add("W4", f"EKTP_WILAYAH={W4_AREA} ektp backfill --dask (2-worker local cluster)",
                          [self.ektp(*argv_d, env=env, log="w4")])
            differ = marts_differ(d / "warehouse" / "ektp.duckdb", dd / "warehouse" / "ektp.duckdb")
            fd.note = (f"ratio {fd.wall / fl.wall:.2f}x floor; marts "
                       + ("equal to the default runner's" if not differ else "DIFFER: " + ", ".join(differ)))
            self.extra["w4_dask_marts_differ"] = differ
            self.verdict("W4 province backfill, --dask (marts equal to the default runner's: "
                         f"{'yes' if not differ else 'NO'})", f"{fd.wall:.2f} s, peak {fd.peak_proc_mb:.0f} MiB",
                         f"{fl.wall:.2f} s", fd.wall / fl.wall, 1.0, "reported (not expected to win on 2 cores)",
                         mem=fd.peak_proc_mb)
        self.w4_nights(raw, days, new, d / "warehouse", env)

    def w4_nights(self, raw: Path, days: list[date], new: date, history: Path, env: dict) -> None:
        """W4 nightly (one more day on the province year vs that day alone) and W4 W0 (nothing new)."""
        n = self.reps(2, 1)
        argv = ["run", "--date", new.isoformat(), "--data-dir"]
        empty = [self.ektp(*argv, str(data_dir(self.work, "w4e", raw, [new], link=True)), env=env, log="w4")
                 for _ in range(n)]
        e = self.add("W4", f"ektp run: {new} ({len(day_files(raw, [new]))} files) into an empty warehouse", empty)
        hist = []
        for _ in range(n):
            d = data_dir(self.work, "w4h", raw, [*days, new], warehouse=history, link=True)
            hist.append(self.ektp(*argv, str(d), env=env, log="w4"))
        h = self.add("W4", f"ektp run: {new} on top of the province's {len(days)} days", hist)
        h.note = f"ratio history/empty {h.wall / e.wall:.2f}"
        self.verdict("W4 nightly", f"{h.wall:.2f} s on history vs {e.wall:.2f} s empty", "-",
                     h.wall / e.wall, 1.3, "history/empty <= 1.3")
        w0 = self.add("W4", f"ektp run, nothing new ({len(day_files(raw, [*days, new]))} files to look at)",
                      [self.ektp(*argv, str(d), env=env, log="w4") for _ in range(n)])
        self.verdict("W4 W0 nothing new (running server)", f"{w0.wall:.2f} s, peak {w0.peak_proc_mb:.0f} MiB", "-",
                     w0.wall, 5.0, "< 5 s")

    def verdict(self, what: str, figure: str, floor_: str, ratio: float, limit: float, target: str,
                mem: float | None = None) -> None:
        met = "yes" if ratio <= limit else "no"
        if mem is not None:
            target += ", peak <= 2048 MiB"
            met += " / " + ("yes" if mem <= 2048 else "no")
        self.summary.append((what, figure, floor_, f"{ratio:.2f}", target, met))

    # report
    def verdicts(self) -> str:
        lines = ["| | figure | floor | ratio | target | met |", "| --- | --- | --- | --- | --- | --- |"]
        lines += ["| " + " | ".join(row) + " |" for row in self.summary]
        return "\n".join(lines)

    def table(self) -> str:
        lines = ["| workload | what | runs | wall (median) s | peak RSS, largest process MB | peak RSS, process tree MB | note |",
                 "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
        for f in self.figures:
            lines.append(f"| {f.workload} | {f.variant} | {len(f.samples)} | {f.wall:.2f} | {f.peak_proc_mb:.0f} | "
                         f"{f.peak_tree_mb:.0f} | {f.note} |")
        return "\n".join(lines)


def marts_differ(a: Path, b: Path) -> list[str]:
    """The mart tables whose rows differ between two warehouses (as multisets: EXCEPT ALL both ways),
    or that only one of them has."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        names = {}
        for db in ("a", "b"):
            names[db] = {t for (t,) in con.execute(
                "select table_name from duckdb_tables() where database_name = ? and schema_name = 'mart'",
                [db]).fetchall()}
        out = sorted(names["a"] ^ names["b"])
        for t in sorted(names["a"] & names["b"]):
            n = con.execute(f"""select (select count(*) from (select * from a.mart.{t} except all select * from b.mart.{t}))
                                     + (select count(*) from (select * from b.mart.{t} except all select * from a.mart.{t}))
                             """).fetchone()[0]
            if n:
                out.append(f"mart.{t} ({n} rows)")
        return out
    finally:
        con.close()


def machine() -> str:
    import platform

    import duckdb
    import polars

    load = os.getloadavg()
    return (f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPU, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
            f"duckdb {duckdb.__version__}, polars {polars.__version__}; load average at start "
            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


AGAINST_LAUNCHER = ("import sys; tree = sys.argv.pop(1); sys.path.insert(0, tree); import flows; "
                    "assert flows.__file__.startswith(tree), flows.__file__; sys.argv[0] = 'ektp'; "
                    "from flows.cli import entry; entry()")


def against_tree(ref: str) -> Path:
    """A clean checkout of ``ref`` under bench-out/ (a git worktree, replaced each run)."""
    tree = OUT / "against"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=True)
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), ref], check=True)
    return tree


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a month instead of a year, 100k rows instead of 1M, fewer runs")
    ap.add_argument("--only", default="FIX,W0,W1,W2,W3,W4",
                    help="comma-separated workloads (W0 and W1 need W2's warehouse; FIX and W0 need a server)")
    ap.add_argument("--w4-end", type=date.fromisoformat, default=YEAR_END,
                    help="last day of W4's province backfill (default 2024-12-31; earlier for a part of the year)")
    ap.add_argument("--no-dask", action="store_true", help="skip the --dask variants")
    ap.add_argument("--ephemeral-only", action="store_true", help="do not start a Prefect server")
    ap.add_argument("--regenerate", action="store_true", help="regenerate cached landing zones (bench-out/cache)")
    ap.add_argument("--budget-minutes", type=float, default=0, help="skip remaining Dask variants after this")
    ap.add_argument("--against", metavar="REF", help="also run W2 with the code of this git ref, interleaved (before/after)")
    args = ap.parse_args(argv)
    args.against_tree = against_tree(args.against) if args.against else None
    only = {w.strip().upper() for w in args.only.split(",")}
    b = Bench(args)
    started = datetime.now().astimezone()
    print(f"ektp benchmark {'(quick) ' if args.quick else ''}{started:%Y-%m-%d %H:%M %Z} on {machine()}", flush=True)
    server = None
    try:
        if not args.ephemeral_only:
            server = PrefectServer(b.work / "prefect-home-server", b.logs / "prefect-server.log").__enter__()
            b.env = base_env(b.work / "prefect-home-client") | {"PREFECT_API_URL": server.api_url}
        history = None
        if only & {"W0", "W1", "W2"}:
            history = b.w2()
        if only & {"W0", "W1"}:
            b.w1(history)
        if "W0" in only:
            b.w0(server)
        if "FIX" in only:
            if server is None:
                print("FIX skipped: it needs the running Prefect server (no --ephemeral-only)", flush=True)
            else:
                b.fix()
        if "W3" in only:
            b.w3()
        if "W4" in only:
            b.w4()
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    print()
    print(b.table())
    print()
    print(b.verdicts())
    result = {"started": started.isoformat(), "machine": machine(), "quick": args.quick,
              "prefect_api": "local prefect server" if server else "ephemeral", "extra": b.extra,
              "summary": b.summary,
              "figures": [{"workload": f.workload, "variant": f.variant, "wall_median_s": f.wall,
                           "peak_proc_mb": f.peak_proc_mb, "peak_tree_mb": f.peak_tree_mb, "note": f.note,
                           "samples": [asdict(s) for s in f.samples]} for f in b.figures]}
    path = OUT / f"results-{started:%Y%m%dT%H%M%S}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nextra: {json.dumps(b.extra)}\nresults: {path}")
    return 0 if all(s.rc == 0 for f in b.figures for s in f.samples) else 1


if __name__ == "__main__":
    sys.exit(main())
