#!/usr/bin/env python
"""Issue 17: time from upload to verdict for a 1,000-row log through a real `ektp portal`.

    .venv/bin/python tests/bench/portal_upload.py [--rows 1000] [--repeat 5]

Starts the portal (uvicorn subprocess) on a fresh data directory under a temporary folder, logs
a kecamatan operator in, and times POST /unggah until the verdict page has arrived (the pipeline's
reader and Great Expectations suite run inside, and the file is written to its landing name).
Prints each time and the median. The first upload also pays for warming the suite's context, so
it is printed separately (the portal warms it at start; an upload arriving sooner waits for that). Not a test: a figure for the report and docs/portal.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers import HEADER, Landing, row  # noqa: E402
from tests.portal_server import add_user, csrf_of, portal_server, yesterday_wib  # noqa: E402


def log_of(n: int, day) -> bytes:
    """n valid rows (distinct NIKs) with one quarantined line in every hundred."""
    lines = [HEADER]
    for i in range(n):
        nik = f"16090145010{i:05d}" if i % 100 else "123"
        lines.append(row(nik=nik, waktu=f"{day.isoformat()} {8 + i % 9:02d}:{i % 60:02d}:00"))
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--settle", type=float, default=20.0, help="seconds to wait after start (the warm-up)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        land = Landing(Path(tmp) / "data")
        otp = add_user(land.data_dir, "bench", "--kecamatan", "16.09.01")
        with portal_server(land.data_dir) as srv, srv.client() as c:
            srv.login_changed(c, "bench", otp, "bench-sandi-baru-2026")
            day = yesterday_wib()
            data = log_of(args.rows, day)
            time.sleep(args.settle)
            times = []
            for _ in range(args.repeat + 1):
                token = csrf_of(c.get("/unggah").text)
                t0 = time.perf_counter()
                r = c.post("/unggah", data={"csrf": token, "tanggal": day.isoformat()},
                           files={"berkas": ("log.csv", data, "text/csv")})
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.status_code
            print(f"{args.rows:,} rows, {len(data):,} bytes: first upload {times[0]:.2f} s (after {args.settle:.0f} s); then "
                  + ", ".join(f"{t:.2f}" for t in times[1:]) + f" s; median {statistics.median(times[1:]):.2f} s")


if __name__ == "__main__":
    main()
