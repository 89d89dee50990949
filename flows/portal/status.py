"""What the portal's pages show, read without the writer's warehouse.

In: settings, a kecamatan code, today's date (Asia/Jakarta). Out: plain values for the templates.
- Each log of the last 30 days (``log_days``): its current version in ``audit.file_loads`` of the
  analysts' copy (read-only) and the landing file on disk. A landing file not yet loaded, or whose
  bytes differ from the loaded version's sha256, is ``waiting`` (for the next run); no file and no
  version is ``missing``; otherwise the version's ``loaded`` or ``rejected``.
- Quarantined lines and file-level rejections of loaded versions: the kecamatan's feedback files
  ``feedback/<kode>/<date>.csv`` (written by each run; line, reason, sentence, never a value).
- Backlog and pace: ``mart.backlog_kecamatan`` and ``mart.participation_trend`` at their latest date.
An absent analysts' copy, or a mart not there yet, is "no data yet", never an error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from flows.reference.wilayah import DEFAULT_AREA, kecamatan_codes, wilayah
from flows.settings import Settings

DAYS = 30
DATE_FILE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})\.csv$")
LABELS = {"loaded": "dimuat", "rejected": "ditolak", "missing": "belum ada", "waiting": "menunggu proses berikutnya"}


@dataclass
class LogDay:
    tanggal: date
    status: str                  # loaded / rejected / missing / waiting
    rows_loaded: int = 0
    rows_quarantined: int = 0
    feedback: bool = False

    @property
    def label(self) -> str:
        return LABELS[self.status]


@dataclass
class Pace:
    as_of: date | None = None
    wajib_ktp: int | None = None
    sudah_rekam: int | None = None
    belum_rekam: int | None = None
    pct_rekam: float | None = None
    laju_7h: float | None = None
    proyeksi: date | None = None


@dataclass
class KecamatanView:
    kode: str
    nama: str
    days: list[LogDay] = field(default_factory=list)
    feedback: list[date] = field(default_factory=list)
    pace: Pace = field(default_factory=Pace)


def kecamatan_names(area: tuple[str, ...] = DEFAULT_AREA) -> dict[str, str]:
    w = wilayah(area)
    return {k: n for k, n, j in w.select("kode", "nama", "jenis").iter_rows() if j == "kecamatan"}


def desa_choices(area: tuple[str, ...] = DEFAULT_AREA) -> list[tuple[str, str, str]]:
    """(kode_desa, nama_desa, nama_kecamatan) of the area, in code order."""
    names = kecamatan_names(area)
    w = wilayah(area)
    w = w.filter(w["jenis"].is_in(["desa", "kelurahan"])).sort("kode")
    return [(k, n, names.get(kc, kc)) for k, n, kc in w.select("kode", "nama", "kode_kecamatan").iter_rows()]


def analysts_copy(settings: Settings) -> duckdb.DuckDBPyConnection | None:
    """The analysts' copy, read-only; None when there is none yet (or it is not a regular file)."""
    path = settings.published_path
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
    except OSError:
        return None
    try:
        return duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
    except duckdb.Error:
        return None


def _versions(con, kode: str, first: date, last: date) -> dict[date, tuple]:
    if con is None:
        return {}
    try:
        rows = con.execute("""select log_date, status, sha256, bytes, mtime_ns, rows_loaded, rows_quarantined
                              from audit.file_loads
                              where status <> 'superseded' and kind = 'rekam' and kode_kecamatan = ?
                                and source_file = 'rekam/' || strftime(log_date, '%Y-%m-%d') || '/' || kode_kecamatan || '.csv'
                                and log_date between ? and ?""", [kode, first, last]).fetchall()
    except duckdb.Error:
        return {}
    return {r[0]: r[1:] for r in rows}


def _sha256(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _day(settings: Settings, kode: str, day: date, version: tuple | None, fb: set[date]) -> LogDay:
    path = settings.raw_dir / "rekam" / day.isoformat() / f"{kode}.csv"
    try:
        st = os.lstat(path)
        present = stat.S_ISREG(st.st_mode)
    except OSError:
        present, st = False, None
    if version is None:
        return LogDay(day, "waiting" if present else "missing", feedback=day in fb)
    status, sha, size, mtime_ns, loaded, quarantined = version
    if present and not (size == st.st_size and mtime_ns == st.st_mtime_ns) and _sha256(path) != sha:
        return LogDay(day, "waiting", feedback=day in fb)
    return LogDay(day, status, int(loaded or 0), int(quarantined or 0), day in fb)


def feedback_dates(settings: Settings, kode: str) -> list[date]:
    """Dates of the kecamatan's feedback files, newest first."""
    folder = settings.feedback_dir / kode
    out = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for e in entries:
        m = DATE_FILE.match(e.name)
        if m and e.is_file(follow_symlinks=False):
            try:
                out.append(date.fromisoformat(m.group(1)))
            except ValueError:
                continue
    return sorted(out, reverse=True)


def feedback_file(settings: Settings, kode: str, day: date) -> bytes | None:
    """The bytes of ``feedback/<kode>/<day>.csv`` (kode checked against the area, day a date)."""
    if kode not in kecamatan_codes(settings.wilayah):
        return None
    path = settings.feedback_dir / kode / f"{day.isoformat()}.csv"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(8 * 2 ** 20)


def feedback_rows(data: bytes) -> list[tuple[str, str, str]]:
    """(baris, alasan, penjelasan) of a feedback file."""
    text = data.decode("utf-8-sig", "replace")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    return [tuple((r + ["", "", ""])[:3]) for r in rows[1:] if r]


def _pace(con, kode: str) -> Pace:
    if con is None:
        return Pace()
    try:
        b = con.execute("""select as_of_date, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam from mart.backlog_kecamatan
                           where kode_kecamatan = ? order by as_of_date desc limit 1""", [kode]).fetchone()
        t = con.execute("""select laju_rekam_7h, proyeksi_tuntas from mart.participation_trend
                           where kode_kecamatan = ? order by tanggal desc limit 1""", [kode]).fetchone()
    except duckdb.Error:
        return Pace()
    if b is None:
        return Pace()
    return Pace(b[0], b[1], b[2], b[3], b[4], t[0] if t else None, t[1] if t else None)


def kecamatan_view(settings: Settings, kode: str, today: date, con=None) -> KecamatanView:
    """The page of one kecamatan: its last 30 days (today first), feedback files, backlog and pace."""
    own = con is None
    con = analysts_copy(settings) if own else con
    try:
        first = today - timedelta(days=DAYS)
        versions = _versions(con, kode, first, today)
        fb = feedback_dates(settings, kode)
        fbset = set(fb)
        days = [_day(settings, kode, today - timedelta(days=i), versions.get(today - timedelta(days=i)), fbset)
                for i in range(DAYS + 1)]
        return KecamatanView(kode, kecamatan_names(settings.wilayah).get(kode, kode), days, fb, _pace(con, kode))
    finally:
        if own and con is not None:
            con.close()


def overview(settings: Settings, today: date) -> list[KecamatanView]:
    """Every kecamatan of the area (the office's page), one connection for all."""
    con = analysts_copy(settings)
    try:
        return [kecamatan_view(settings, k, today, con) for k in sorted(kecamatan_codes(settings.wilayah))]
    finally:
        if con is not None:
            con.close()
