"""Behaviour check for refactors: build the demo and a generated year, dump every mart, compare.

    .venv/bin/python tests/bench/marts_snapshot.py dump bench-out/marts-before
    ... change the code ...
    .venv/bin/python tests/bench/marts_snapshot.py dump bench-out/marts-after
    .venv/bin/python tests/bench/marts_snapshot.py compare bench-out/marts-before bench-out/marts-after

``dump`` runs the real ``ektp demo`` and ``ektp generate`` + ``ektp backfill`` of 2024 (the
generator's defaults, dirty) in temporary data directories, and writes every table of the ``mart``
schema of both warehouses (ordered by all columns) as CSV, plus the demo's printed summary and
the file audit, to the output folder. ``compare`` prints, per table, whether the two dumps are
identical (row count and a SHA-256 of the CSV) and exits 1 when one differs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

EKTP = str(Path(sys.executable).with_name("ektp"))
ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
       "EKTP_NIK_KEY": os.environ.get("EKTP_NIK_KEY", "bench-key-not-secret-0123456789abcdef")}


def _run(*args: str) -> str:
    res = subprocess.run([EKTP, *args], env=ENV, capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        raise SystemExit(f"ektp {' '.join(args)} failed: {res.stderr[-2000:]}")
    return res.stdout


def _dump_warehouse(db: Path, out: Path, prefix: str) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.execute("""select table_name from information_schema.tables
                                               where table_schema = 'mart' order by 1""").fetchall()]
        for t in tables:
            con.execute(f"copy (select * from mart.{t} order by all) to '{out / f'{prefix}.mart.{t}.csv'}' (header)")
        con.execute(f"""copy (select source_file, sha256, status, rows_loaded, rows_quarantined, error
                              from audit.file_loads where status <> 'superseded' order by all)
                        to '{out / f'{prefix}.audit.file_loads.csv'}' (header)""")
    finally:
        con.close()


def dump(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        printed = _run("demo", "--data-dir", str(demo))
        # from the area's summary on ("<area>, as of <date>:", flows.outputs.summary.regency_text; the area's
        # name comes from the region list since issue 18), after the run's id and paths
        summary = printed[printed.rindex("\n", 0, printed.index(", as of ")) + 1:]
        summary = summary.split("\nPortal (")[0]   # the demo accounts' one-time passwords differ every run
        (out / "demo.summary.txt").write_text(summary)
        _dump_warehouse(demo / "warehouse" / "ektp.duckdb", out, "demo")
        year = Path(tmp) / "year"
        _run("generate", "--out", str(year / "raw"), "--start", "2024-01-01", "--end", "2024-12-31")
        _run("backfill", "--data-dir", str(year), "--start", "2024-01-01", "--end", "2024-12-31")
        _dump_warehouse(year / "warehouse" / "ektp.duckdb", out, "year")
    print(f"dumped {len(list(out.glob('*.csv')))} tables to {out}")


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    bad = 0
    for name in names:
        pa, pb = a / name, b / name
        if not pa.exists() or not pb.exists():
            print(f"{name}: only in {'after' if not pa.exists() else 'before'}")
            bad += 1
            continue
        da, db = pa.read_bytes(), pb.read_bytes()
        same = da == db
        bad += not same
        rows = da.count(b"\n") - 1
        print(f"{name}: {rows:,} rows, {'identical' if same else 'DIFFERENT'} "
              f"(sha256 {hashlib.sha256(da).hexdigest()[:12]} / {hashlib.sha256(db).hexdigest()[:12]})")
    print("all identical" if not bad else f"{bad} difference(s)")
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.out)
    else:
        raise SystemExit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
