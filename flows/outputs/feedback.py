"""Feedback to the kecamatan (contract section 9): what to fix in the log they sent.

For every current log version ``raw/rekam/<date>/<kode>.csv`` (loaded or rejected) with at least
one quarantined row or a file-level rejection, the folder ``feedback/<kode>/<date>.csv`` holds one
row per problem: ``baris;alasan;penjelasan`` (the physical line, empty for a rejection of the
whole file; the reason code; a fixed Indonesian sentence saying what is wrong and how to fix it).
A version with neither has no feedback file, so a corrected re-send removes the old one. A file
rejected for its name belongs to no kecamatan and gets none. UTF-8 with a byte-order mark and
``;``: it opens in a spreadsheet in the Indonesian locale. No value of the row is ever written: the
kecamatan has its own file and finds the line.

Every run recomputes the whole folder from the warehouse (so versions loaded before feedback
existed get theirs too) and rewrites only the files whose bytes change. The sentences live next
to the rules that define the reasons: ``meta.penjelasan`` in expectations/rekam_log.json, and
expectations/file_reasons.json for ``malformed_row`` and the rejections of a whole file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

from flows.files import atomic_write
from flows.ingest.validate import EXPECTATIONS_DIR, REKAM_SUITE, suite_spec

HEADER = ("baris", "alasan", "penjelasan")
BOM = "\ufeff"
FALLBACK = "Baris ini ditolak oleh pemeriksaan data. Periksa isian baris ini sesuai templat log, lalu kirim ulang log hari itu."
_NAME = re.compile(r"^16\.09\.[0-9]{2}$")
_DATE_FILE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\.csv$")


@lru_cache(maxsize=1)
def sentences() -> dict[str, str]:
    """reason code -> the Indonesian sentence of the feedback file."""
    out = {e["meta"]["reason"]: e["meta"]["penjelasan"] for e in suite_spec(REKAM_SUITE)["expectations"]}
    files = json.loads((EXPECTATIONS_DIR / "file_reasons.json").read_text(encoding="utf-8"))
    out.update(files["penjelasan"])
    return out


def render(problems: list[tuple[int | None, str]]) -> bytes:
    """The bytes of one feedback file: BOM, ';'-separated, CRLF (what a spreadsheet writes)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(HEADER)
    for line, reason in problems:
        w.writerow(["" if line is None else line, reason, sentences().get(reason, FALLBACK)])
    return (BOM + buf.getvalue()).encode("utf-8")


def wanted(con: duckdb.DuckDBPyConnection) -> dict[str, bytes]:
    """``<kode>/<date>.csv`` -> bytes, for every current log version that has something to fix."""
    versions = con.execute("""
        select source_file, kode_kecamatan, log_date, status, split_part(error, ':', 1) as code
        from audit.file_loads
        where status <> 'superseded' and kind = 'rekam' and kode_kecamatan is not null and log_date is not null
          and (status = 'rejected' or rows_quarantined > 0)
        order by source_file""").fetchall()
    lines: dict[str, list[tuple[int | None, str]]] = {}
    for source_file, line, reason in con.execute("""
            select q.source_file, q.line_number, q.reason from audit.quarantine q
            join audit.file_loads f on f.source_file = q.source_file and f.sha256 = q.file_sha256
                                   and f.status = 'loaded' and f.kind = 'rekam'
            order by q.source_file, q.line_number, q.reason""").fetchall():
        lines.setdefault(source_file, []).append((line, reason))
    out = {}
    for source_file, kode, log_date, status, code in versions:
        problems = [(None, code)] if status == "rejected" else lines.get(source_file, [])
        if problems:
            out[f"{kode}/{log_date.isoformat()}.csv"] = render(problems)
    return out


@dataclass(frozen=True)
class FeedbackResult:
    written: int            # files created or changed by this run
    removed: int            # files of versions that no longer have anything to fix
    files: tuple[str, ...]  # every feedback file now in the folder, as <kode>/<date>.csv


def _existing(folder: Path) -> set[str]:
    found = set()
    if not folder.is_dir():
        return found
    for kec in os.scandir(folder):
        if kec.is_dir(follow_symlinks=False) and _NAME.match(kec.name):
            found.update(f"{kec.name}/{f.name}" for f in os.scandir(kec.path)
                         if f.is_file(follow_symlinks=False) and _DATE_FILE.match(f.name))
    return found


def write_feedback(con: duckdb.DuckDBPyConnection, folder: Path) -> FeedbackResult:
    """Make ``folder`` hold exactly the wanted feedback files; rewrite only what changed."""
    want = wanted(con)
    have = _existing(folder)
    written = 0
    for rel, data in want.items():
        path = folder / rel
        if rel in have and path.read_bytes() == data:
            continue
        for d in (folder, path.parent):
            if not d.is_dir():
                d.mkdir(parents=True, exist_ok=True)
                os.chmod(d, 0o755)        # the kecamatan read their own folder
        atomic_write(path, data, 0o644)
        written += 1
    stale = have - set(want)
    for rel in stale:
        (folder / rel).unlink(missing_ok=True)
    return FeedbackResult(written, len(stale), tuple(sorted(want)))
