#!/usr/bin/env python
"""Where the time of one `ektp` run goes (issue 19, "measure first"): cProfile of a whole process.

    .venv/bin/python tests/bench/profile_run.py w3      # the 1,000,000-row day of W3 (w3-small: 1,000 rows)
    .venv/bin/python tests/bench/profile_run.py w4 --w4-end 2024-03-31
    .venv/bin/python tests/bench/profile_run.py w4-night --history bench-out/run/w4/warehouse   # after a full W4
    .venv/bin/python tests/bench/profile_run.py imports

``w3`` and ``w4`` run `ektp backfill` of the benchmark's cached landing zone (bench-out/cache,
made by tests/bench/bench.py) under cProfile (``main()`` of the CLI, imports included) against a running `prefect server
start`, and print: the wall time with and without the profiler; each pipeline stage (the Prefect
task bodies of flows/orchestration/pipeline.py) with its calls, seconds, seconds per call, per
file and per row; Prefect's own time per task call (its task engine minus the bodies); self time
per package (where the CPU went: great_expectations, pandas, polars, duckdb, prefect, flows...);
the flows/ functions by self time (DuckDB statements count there); the 25 slowest functions of flows/ by cumulative time.
``imports`` times, each in a fresh process, the imports and the Great Expectations context.

cProfile adds a cost per Python call: the split is what counts, the absolute seconds are inflated
(the unprofiled wall time is printed next to it). Output and .prof files go under bench-out/profile/.
"""

from __future__ import annotations

import argparse
import pstats
import re
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (  # noqa: E402
    EKTP,
    NEW_DAY,
    OUT,
    PY,
    VOLUME_DAY,
    W4_AREA,
    YEAR_END,
    YEAR_START,
    PrefectServer,
    base_env,
    data_dir,
    day_files,
    measure,
)

PROF = OUT / "profile"
# `ektp` = flows.cli.entry, which ends with os._exit (no profile would be written): profile main()
# from the interpreter's start (imports included) and write the profile when it returns
PROFILE_LAUNCHER = """
import cProfile, sys
out = sys.argv.pop(1)
sys.argv[0] = "ektp"
prof = cProfile.Profile()
prof.enable()
try:
    from flows.cli import main
    main()
finally:
    prof.disable()
    prof.dump_stats(out)
"""
STAGES = ("verify_key_task", "check_area_task", "upgrade_task", "discover_task", "load_feed_task", "_fetch",
          "prepare_task", "write_task", "build_task", "feedback_task", "publish_task", "backup_task", "report_task")

IMPORTS = {
    "import prefect": "import prefect",
    "import polars, duckdb": "import polars, duckdb",
    "import great_expectations": "import great_expectations",
    "import flows.orchestration.pipeline": "import flows.orchestration.pipeline",
    "GX: import + ephemeral context + suites": (
        "import time; t = time.perf_counter(); import great_expectations; t1 = time.perf_counter();"
        "from flows.ingest import validate as v; c = v._context(); t2 = time.perf_counter();"
        "[v._suite_and_batch_definition(s) for s in (v.REKAM_SUITE, v.PENDUDUK_SUITE, v.PERMOHONAN_SUITE)];"
        "t3 = time.perf_counter(); print(f'import {t1 - t:.2f} s, context {t2 - t1:.2f} s, suites {t3 - t2:.2f} s')"),
}


def _package(filename: str) -> str:
    """The package a profiled frame belongs to (self time is summed per package)."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    m = re.search(r"site-packages/([^/]+)", filename)
    if m:
        return m.group(1).split(".")[0]
    if "/flows/" in filename:
        return "flows/" + filename.split("/flows/", 1)[1].split("/")[0]
    return "python stdlib"


def _builtin_owner(func: str) -> str:
    m = re.search(r"of '([\w.]+)", func)
    return m.group(1).split(".")[0] if m else "builtins"


def summarise(prof: Path, files: int, rows: int, wall: float, plain_wall: float | None) -> str:
    """The report of one profile: stages, Prefect per call, packages, DuckDB callers, flows/ top."""
    st = pstats.Stats(str(prof)).stats
    out = [f"wall under cProfile {wall:.2f} s" + (f", without {plain_wall:.2f} s" if plain_wall else "")
           + f"; {files:,} files, {rows:,} rows"]
    total = max(ct for (_, _, _, ct, _) in st.values())
    out += ["", "| stage (task body) | calls | s | s/call | ms/file | us/row | share |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    bodies, body_calls = 0.0, 0
    for stage in STAGES:
        hits = [(v[1], v[3]) for (fn, _, name), v in st.items() if name == stage and "flows/orchestration" in fn]
        if not hits:
            continue
        nc, ct = sum(h[0] for h in hits), sum(h[1] for h in hits)
        if stage != "_fetch":
            bodies += ct
            body_calls += nc
        out.append(f"| {stage} | {nc} | {ct:.2f} | {ct / nc:.3f} | {1000 * ct / max(files, 1):.2f} | "
                   f"{1e6 * ct / max(rows, 1):.1f} | {100 * ct / total:.0f} % |")
    engine = [(v[1], v[3]) for (fn, _, name), v in st.items() if name == "run_task_sync" and "prefect" in fn]
    if engine:
        nc, ct = sum(e[0] for e in engine), sum(e[1] for e in engine)
        out.append(f"\nPrefect task engine: {nc} task calls, {ct:.2f} s in run_task_sync, of which task bodies "
                   f"{bodies:.2f} s: {1000 * (ct - bodies) / max(nc, 1):.1f} ms of Prefect per task call")
    by_pkg: dict[str, float] = {}
    for (fn, _, name), v in st.items():
        pkg = _package(fn)
        if pkg == "builtins":
            pkg = "builtin calls of " + _builtin_owner(name)
        by_pkg[pkg] = by_pkg.get(pkg, 0.0) + v[2]
    out += ["", "| self time by package | s | share |", "| --- | ---: | ---: |"]
    for pkg, tt in sorted(by_pkg.items(), key=lambda x: -x[1])[:16]:
        out.append(f"| {pkg} | {tt:.2f} | {100 * tt / total:.0f} % |")
    # DuckDB's methods (pybind11) are not seen by cProfile as calls of their own: a statement's
    # time is the self time of the flows/ function that runs it
    out += ["", "| flows/ function (top 12 by self time: DuckDB statements, Polars calls) | calls | s self |",
            "| --- | ---: | ---: |"]
    ours = [(k, v) for k, v in st.items() if "/flows/" in k[0]]
    for (fn, _line, name), v in sorted(ours, key=lambda x: -x[1][2])[:12]:
        out.append(f"| {fn.split('/flows/', 1)[1]}:{name} | {v[1]} | {v[2]:.2f} |")
    out += ["", "| flows/ function (top 25 by cumulative) | calls | s (incl.) | s self |", "| --- | ---: | ---: | ---: |"]
    for (fn, _line, name), v in sorted(ours, key=lambda x: -x[1][3])[:25]:
        out.append(f"| {fn.split('/flows/', 1)[1]}:{name} | {v[1]} | {v[3]:.2f} | {v[2]:.2f} |")
    return "\n".join(out)


def _count_rows(files: list[str]) -> int:
    n = 0
    for f in files:
        with open(f, "rb") as fh:
            n += sum(1 for _ in fh) - 1
    return n


def profile_backfill(name: str, raw: Path, start: date, end: date, wilayah: str | None, plain: bool,
                     history: Path | None = None) -> str:
    """Profile `ektp backfill start..end` of ``raw`` in a fresh data directory; the summary. With
    ``history`` (a warehouse directory), `ektp run --date end` on a copy of it instead, with the
    landing zone of ``start``..``end`` (W4 nightly: the year's days and the new one)."""
    days = [start + timedelta(i) for i in range((end - start).days + 1)]
    files = day_files(raw, [end] if history else days)
    work = PROF / name
    work.mkdir(parents=True, exist_ok=True)
    with PrefectServer(work / "prefect-home-server", work / "prefect-server.log") as server:
        env = base_env(work / "prefect-home-client") | {"PREFECT_API_URL": server.api_url}
        if wilayah:
            env["EKTP_WILAYAH"] = wilayah
        argv = ["backfill", "--start", start.isoformat(), "--end", end.isoformat(), "--data-dir"]
        if history:
            argv = ["run", "--date", end.isoformat(), "--data-dir"]
        plain_wall = None
        if plain:
            d = data_dir(work, "data", raw, days, warehouse=history, link=True)
            plain_wall = measure([EKTP, *argv, str(d)], env, work / "run.log").wall
        d = data_dir(work, "data", raw, days, warehouse=history, link=True)
        prof = work / f"{name}.prof"
        s = measure([PY, "-c", PROFILE_LAUNCHER, str(prof), *argv, str(d)], env, work / "run.log")
    if s.rc != 0:
        raise SystemExit(f"the profiled run failed (see {work / 'run.log'})")
    return summarise(prof, len(files), _count_rows(files), s.wall, plain_wall)


def imports() -> str:
    """Each import (and the GX context) in a fresh process, three times: the median wall time."""
    import statistics
    import subprocess
    import time

    env = base_env(PROF / "prefect-home-imports")
    out = ["| in a fresh process | wall s (median of 3) | printed |", "| --- | ---: | --- |"]
    for label, code in IMPORTS.items():
        walls, text = [], ""
        for _ in range(3):
            t = time.perf_counter()
            r = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - t)
            text = r.stdout.strip()
        out.append(f"| {label} | {statistics.median(walls):.2f} | {text} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["w3", "w3-small", "w4", "w4-night", "imports"])
    ap.add_argument("--history", type=Path, help="w4-night: the warehouse directory of W4's backfill "
                    "(bench-out/run/w4/warehouse after a benchmark run)")
    ap.add_argument("--w4-end", type=date.fromisoformat, default=YEAR_END)
    ap.add_argument("--no-plain", action="store_true", help="skip the unprofiled run")
    args = ap.parse_args(argv)
    if args.what == "imports":
        text = imports()
    elif args.what in ("w3", "w3-small"):
        raw = OUT / "cache" / ("day1000000" if args.what == "w3" else "day1000")
        text = profile_backfill(args.what, raw, VOLUME_DAY, VOLUME_DAY, None, not args.no_plain)
    elif args.what == "w4":
        raw = OUT / "cache" / f"w4-{W4_AREA}-{YEAR_START}-{NEW_DAY}"
        text = profile_backfill("w4", raw, YEAR_START, args.w4_end, W4_AREA, not args.no_plain)
    else:
        raw = OUT / "cache" / f"w4-{W4_AREA}-{YEAR_START}-{NEW_DAY}"
        new = min(args.w4_end, YEAR_END) + timedelta(1)
        text = profile_backfill("w4-night", raw, YEAR_START, new, W4_AREA, not args.no_plain, history=args.history)
    print(text)
    PROF.mkdir(parents=True, exist_ok=True)
    (PROF / f"{args.what}.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
