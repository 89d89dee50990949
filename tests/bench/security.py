"""Benchmark: how long a hostile file of broken quotes holds the reader and a run (issue 10).

    .venv/bin/python tests/bench/security.py [--lines 300000]

Prints, for 10k, 40k and 300k lines of ``"a"b`` (every record broken), the parse time alone
(``flows.ingest.read.parse_file``, best of 3), then the wall time of a whole ``ektp run`` (a fresh
process, temporary Prefect API, temporary data directory) over a landing zone holding that file
next to a snapshot. The correctness of the recovery is pinned by tests/test_security.py (work
counted, not timed); this script gives the figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HEADER = "nik,nama,jenis_kelamin,tanggal_lahir,status_kawin,kode_desa,waktu_rekam,jenis_rekam,lokasi_rekam,id_alat\n"


def parse_seconds(lines: int, pattern: str = '"a"b\n') -> float:
    from flows.ingest.read import REKAM_COLUMNS, parse_file

    data = (HEADER + pattern * lines).encode()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        parse_file(data, REKAM_COLUMNS)
        best = min(best, time.perf_counter() - t0)
    return best


def run_seconds(lines: int) -> tuple[float, int, str]:
    from flows.reference.wilayah import desa_codes

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        (data / "raw" / "rekam" / "2025-01-01").mkdir(parents=True)
        (data / "raw" / "penduduk").mkdir(parents=True)
        (data / "raw" / "penduduk" / "2024-12-31.csv").write_text(
            "kode_desa,wajib_ktp_lk,wajib_ktp_pr,sudah_rekam_lk,sudah_rekam_pr\n"
            + "".join(f"{k},100,100,80,80\n" for k in sorted(desa_codes())))
        big = data / "raw" / "rekam" / "2025-01-01" / "16.09.01.csv"
        big.write_bytes((HEADER + '"a"b\n' * lines).encode())
        env = {**os.environ, "EKTP_NIK_KEY": os.environ.get("EKTP_NIK_KEY", "bench-key-not-secret-0123456789"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false"}
        ektp = str(Path(sys.executable).with_name("ektp"))
        t0 = time.perf_counter()
        res = subprocess.run([ektp, "run", "--data-dir", str(data), "--date", "2025-01-01"], env=env,
                             capture_output=True, text=True, timeout=3600)
        wall = time.perf_counter() - t0
        rows = next((ln for ln in res.stdout.splitlines() if ln.strip().startswith("rows:")), res.stderr[-500:])
        return wall, res.returncode, rows.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000)
    args = ap.parse_args()
    for n in (10_000, 40_000, args.lines):
        print(f"parse {n:>9,} lines of broken quotes: {parse_seconds(n):6.2f} s", flush=True)
    wall, rc, rows = run_seconds(args.lines)
    print(f"ektp run over one {args.lines:,}-line file of broken quotes: {wall:.1f} s (exit {rc}; {rows})")


if __name__ == "__main__":
    main()
