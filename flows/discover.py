"""Find the raw files a run must handle and decide, per file, what to do with it.

In: the landing zone (``<data dir>/raw``), the warehouse's ``audit.file_loads`` and the run's date
window. Out: a Plan of candidates (new or changed files, each with its SHA-256 and a file-level
rejection if its path alone is wrong) plus the count of unchanged files.

Upload convention (safe against files still being written): a sender writes to a hidden or
temporary name (``.16.09.01.csv``, ``16.09.01.csv.part``, ``.tmp``, ``.filepart``, ``~$`` lock files)
and renames it into place when complete; those names are never read. Symlinks that point outside
the landing zone are rejected without being opened; so are pipes, sockets and devices. A file that
disappears between the walk and its classification has left the landing zone (its rows stay).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from flows.wilayah import kecamatan_codes

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".uploading", ".filepart")


@dataclass
class Candidate:
    path: Path
    source_file: str            # path under raw/, '/'-separated
    kind: str                   # rekam / penduduk
    log_date: date | None
    kode_kecamatan: str | None
    size: int
    mtime_ns: int
    sha256: str = ""
    reject: tuple[str, str] | None = None   # (code, sentence) when the path alone rejects it
    replaces: bool = False      # an earlier version of this path is in the warehouse


@dataclass
class Plan:
    candidates: list[Candidate] = field(default_factory=list)
    unchanged: int = 0
    later: int = 0              # files dated after the run's last date, left untouched
    touched: list[tuple[str, int]] = field(default_factory=list)  # (source_file, new mtime_ns): same bytes, new mtime

    @property
    def snapshots(self) -> list[Candidate]:
        return sorted((c for c in self.candidates if c.kind == "penduduk"), key=lambda c: c.source_file)

    @property
    def logs(self) -> list[Candidate]:
        return sorted((c for c in self.candidates if c.kind == "rekam"), key=lambda c: c.source_file)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_date(text: str) -> date | None:
    if not DATE_RE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$") or name.lower().endswith(IGNORED_SUFFIXES)


def _walk(root: Path) -> list[Path]:
    """Every file under root (not following directory symlinks), sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for name in sorted(filenames):
            if not _ignored(name):
                out.append(Path(dirpath) / name)
        for d in dirnames:
            p = Path(dirpath) / d
            if p.is_symlink():
                out.append(p)  # a symlinked folder: reported, never followed
    return out


def classify(raw_dir: Path, path: Path) -> Candidate:
    """Work out kind, date and kecamatan from the path; set ``reject`` when the path is wrong."""
    rel = path.relative_to(raw_dir).as_posix()
    parts = rel.split("/")
    st = path.lstat()
    cand = Candidate(path, rel, parts[0], None, None, st.st_size, st.st_mtime_ns)
    if path.is_symlink():
        target = os.path.realpath(path)
        root = os.path.realpath(raw_dir)
        if os.path.isdir(target):
            cand.reject = ("unexpected_path", "a symbolic link to a folder; folders are not followed")
            return cand
        if os.path.commonpath([target, root]) != root:
            cand.reject = ("symlink_outside", "a symbolic link that points outside the landing zone")
            return cand
        try:
            st = path.stat()
        except OSError:
            cand.reject = ("unreadable", "a symbolic link whose target does not exist")
            return cand
        cand.size, cand.mtime_ns = st.st_size, st.st_mtime_ns
    if not stat.S_ISREG(st.st_mode):
        # a named pipe, socket or device would block or never end when read
        cand.reject = ("not_a_regular_file", "not a regular file (a pipe, socket or device); only plain files are read")
        return cand
    if parts[0] == "rekam":
        if len(parts) != 3:
            cand.reject = ("folder_not_a_date", "expected rekam/<YYYY-MM-DD>/<kode_kecamatan>.csv")
            return cand
        folder, name = parts[1], parts[2]
        cand.log_date = parse_date(folder)
        if cand.log_date is None:
            cand.reject = ("folder_not_a_date", f"the folder '{folder}' is not a date (YYYY-MM-DD)")
            return cand
        if not name.endswith(".csv"):
            cand.reject = ("not_csv", "expected a file named <kode_kecamatan>.csv")
            return cand
        stem = name[: -len(".csv")]
        if stem not in kecamatan_codes():
            cand.reject = ("unknown_kecamatan", f"the file name '{stem}' is not a kecamatan code of OKU Selatan (16.09.01 to 16.09.19)")
            return cand
        cand.kode_kecamatan = stem
        return cand
    if parts[0] == "penduduk":
        name = parts[-1]
        cand.log_date = parse_date(name[:-4]) if name.endswith(".csv") and len(parts) == 2 else None
        if cand.log_date is None:
            cand.reject = ("name_not_a_date", "expected penduduk/<YYYY-MM-DD>.csv (the cut-off date)")
        return cand
    cand.kind = "other"
    return cand


def current_versions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int | None, int | None]]:
    """source_file -> (sha256, bytes, mtime_ns) of its current (not superseded) version."""
    rows = con.execute(
        "select source_file, sha256, bytes, mtime_ns from audit.file_loads where status <> 'superseded'"
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def discover(raw_dir: Path, con: duckdb.DuckDBPyConnection, last_date: date,
             start_date: date | None = None, kecamatan: frozenset[str] | None = None,
             force: bool = False) -> Plan:
    """Plan a run over log dates [start_date, last_date] (all snapshots up to last_date).

    A file whose (size, mtime) match its loaded version is unchanged without re-hashing; any
    other file is hashed and compared by SHA-256. ``force`` reloads files in the window anyway.
    """
    plan = Plan()
    if not raw_dir.is_dir():
        return plan
    known = current_versions(con)
    for sub in ("rekam", "penduduk"):
        if not (raw_dir / sub).is_dir():
            continue
        for path in _walk(raw_dir / sub):
            try:
                cand = classify(raw_dir, path)
            except FileNotFoundError:
                continue  # removed (or renamed away) since the walk: it left the landing zone
            if cand.log_date is not None and cand.log_date > last_date:
                plan.later += 1
                continue
            in_window = True
            if cand.kind == "rekam" and cand.log_date is not None:
                if start_date is not None and cand.log_date < start_date:
                    in_window = False
                if kecamatan is not None and cand.kode_kecamatan not in kecamatan:
                    in_window = False
            if not in_window:
                continue
            prev = known.get(cand.source_file)
            if prev and not force and prev[1] == cand.size and prev[2] == cand.mtime_ns:
                plan.unchanged += 1
                continue
            if cand.reject and cand.reject[0] in ("symlink_outside", "unexpected_path", "not_a_regular_file") or (
                    cand.reject and path.is_symlink()):
                # never open these (a pipe would block; a link outside must not be read): identify by the link text
                ident = ("link:" + os.readlink(path)) if path.is_symlink() else (cand.reject[0] + ":" + cand.source_file)
                cand.sha256 = hashlib.sha256(ident.encode()).hexdigest()
            else:
                try:
                    cand.sha256 = sha256_file(path)
                except OSError as exc:
                    cand.reject = ("unreadable", f"the file cannot be read ({exc.strerror})")
                    cand.sha256 = hashlib.sha256(b"unreadable").hexdigest()
            if prev and prev[0] == cand.sha256 and not force:
                plan.unchanged += 1
                plan.touched.append((cand.source_file, cand.mtime_ns))  # remembered, so not hashed again
                continue
            cand.replaces = prev is not None
            plan.candidates.append(cand)
    return plan
