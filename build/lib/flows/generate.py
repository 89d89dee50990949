"""A synthetic landing zone an analyst would believe (``ektp generate``, ``ektp demo``, benchmarks).

In: a date range, a seed, optionally rows per day and the snapshot totals to calibrate to.
Out: ``out_dir/rekam/<date>/<kode_kecamatan>.csv`` for every day, ``out_dir/permohonan/<date>.csv`` on the
office days a village request was registered, one population snapshot
``out_dir/penduduk/<start - 1 day>.csv`` and ``out_dir/.generator_manifest.json`` (hidden; what the pipeline
should find; no NIK, no name). Deterministic: the same arguments give byte-identical files.
Raises UserError when the range ends before it starts, ValueError for a negative ``rows_per_day`` or
a calibration that cannot be met (found after the logs are written).

The module reads top-down in the order ``generate`` runs it:

1. plan: everything decided before the first day (``_plan``): the regions and their stable per-desa
   draws, the broken devices, the files that will be rejected whole, one seed per day, and the
   outreach (``_outreach``): the kecamatan whose office device stops for long, the village requests
   (their files, with dirt) and the jemput-bola visits planned for them.
2. day: one day's rows (``_day``): how many, where and when (channel, desa, file, time, device), who
   (age, sex, marital status, NIK, name), the strings a kecamatan sends, the dirt in them, and what
   becomes of each kecamatan's log. What a day leaves to the next (NIK serials in use, persons who
   may come back) is ``_Carry``.
3. write: each day's files (``_write_day``, ``_write_requests``), counted in a ``_Ledger``; after the
   last day the snapshot and the manifest (``_finish``), which says which requests were served when.

Realism: all 19 kecamatan, desa weighted by a stable population draw (the kelurahan of Muara Dua
larger); the Disdukcapil office (DINAS) logs in the Muara Dua file but records people from every
kecamatan (attribution is by kode_desa); kecamatan offices with 1-3 devices that break for a few days
(no file, or a header-only file), and two kecamatan whose office device stops for one to two weeks
(the log still comes, without KECAMATAN rows; its residents go to DINAS or to jemput-bola visits), one
of them until the end; jemput-bola bursts in one desa, some answering a village's letter; school visits of 16- and
17-year-olds; married minors; repeat captures (ULANG) of people recorded long ago; a few persons
recorded BARU again on a later day; busy Mondays, quiet weekends and public holidays, a gentle
trend. NIKs follow the Dukcapil structure and are unique per person.

With ``dirt``: about 3 % of rows each break exactly one contract rule (the validator's reason codes,
``ROW_REASONS`` plus ``duplicate_row``), valid spreadsheet quirks (device ids in lower case among them),
a few files rejected whole (``FILE_REASONS``), every CSV dialect of contract section 2, and a few
request rows that break one rule of contract section 9 each (``REQUEST_REASONS``).

Everything is vectorised (numpy, Polars), so ``rows_per_day`` can be a million.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from flows.dates import check_range
from flows.dates import days as log_dates
from flows.read import PENDUDUK_COLUMNS, REKAM_COLUMNS
from flows.wilayah import wilayah

COLUMNS = REKAM_COLUMNS  # the generator's old name for the log columns (tests/test_generate.py uses it)
MANIFEST = ".generator_manifest.json"   # hidden: the landing zone never reads hidden names

# Quarantine reasons of a row (the validator's codes, in its priority order), then the file-level ones.
ROW_REASONS = ("nik_spreadsheet_damaged", "nik_not_16_digits", "nik_bad_province", "nik_bad_birth_day",
               "nik_bad_birth_month", "nik_zero_serial", "jenis_kelamin_invalid", "tanggal_lahir_invalid",
               "umur_out_of_range", "status_kawin_invalid", "kode_desa_unknown", "waktu_rekam_invalid",
               "waktu_rekam_not_log_date", "jenis_rekam_invalid", "lokasi_rekam_invalid", "id_alat_empty",
               "id_alat_invalid")
DUPLICATE = "duplicate_row"
FILE_REASONS = ("empty_file", "missing_columns", "unknown_kecamatan", "folder_not_a_date")
R = {name: i for i, name in enumerate(ROW_REASONS)}
# Quarantine reasons of a village request row (expectations/permohonan.json, in its priority order).
REQUEST_REASONS = ("kode_desa_unknown", "tanggal_surat_invalid", "nomor_surat_invalid", "perkiraan_warga_invalid",
                   DUPLICATE)
REQUEST_COLUMNS = ("kode_desa", "tanggal_surat", "nomor_surat", "perkiraan_warga")  # contract section 9

CHANNELS = ("DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA")
DINAS, KECAMATAN, JEMPUT_BOLA, SEKOLAH, LAINNYA = range(5)
STATUS = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")
MUARA_DUA = 0  # index of 16.09.01 among the sorted kecamatan

DEFAULT_WAJIB = 270_764        # published wajib KTP of OKU Selatan (reference README)
DEFAULT_COVERAGE = 0.77        # share recorded at the snapshot when not calibrating
WEEKDAY_MEAN = 300             # recordings on an ordinary weekday, whole regency
WEEKDAY_FACTOR = (1.28, 1.22, 1.02, 0.98, 0.70, 0.10, 0.02)  # Monday .. Sunday
DIRT_RATE = 0.03               # share of rows that break one row rule
DUPLICATE_RATE = 0.004         # share of clean rows repeated verbatim later in their file
REPEAT_BARU_RATE = 0.006       # share of a day's rows that are persons recorded BARU on an earlier day
ULANG_RATE = 0.05
KEC_DEVICES = (3, 3, 3, 2, 2, 2, 2, 2, 2)  # devices of the kecamatan offices, largest first; the others have 1
REQUEST_RATE = 0.8             # village letters registered on an office day, whole regency (a few a week)
REQUEST_WAIT = 0.2             # share of letters no visit is planned for (they wait)
REQUEST_DIRT = 0.2             # bad request rows per good one (with dirt; at least one when there is a request)

# National holidays (fixed dates every year, movable ones for 2025): offices closed.
FIXED_HOLIDAYS = {(1, 1), (5, 1), (6, 1), (8, 17), (12, 25)}
HOLIDAYS_2025 = {date(2025, 1, 27), date(2025, 1, 29), date(2025, 3, 28), date(2025, 3, 31), date(2025, 4, 1),
                 date(2025, 4, 2), date(2025, 4, 18), date(2025, 5, 12), date(2025, 5, 29), date(2025, 6, 6),
                 date(2025, 6, 27), date(2025, 9, 5)}

# NIK regions of people who first registered outside the regency (migrants, returnees).
OTHER_KABUPATEN = np.array([1601, 1602, 1603, 1608, 1671, 1672, 1801, 1806, 1709, 3171, 3174, 3275])
OTHER_KABUPATEN_W = np.array([16, 6, 6, 10, 14, 3, 12, 6, 5, 4, 4, 4], dtype=float)

FIRST_L = ("Ahmad", "Muhammad", "Rudi", "Budi", "Hendra", "Agus", "Rahmat", "Dedi", "Fajar", "Irwan", "Yusuf",
           "Saipul", "Zulkifli", "Hasan", "Ridwan", "Arif", "Syahrul", "Taufik", "Andi", "Rizki", "Dimas", "Firman",
           "Heri", "Jamal", "Mulyadi", "Nasrul", "Suherman", "Iskandar", "Sofyan", "Herman", "Darmawan", "Romi",
           "Edi", "Jefri", "Reza", "Alpian", "Apriadi", "Candra", "Deki", "Ferdi", "Gilang", "Hendri", "Indra",
           "Juanda", "Kodri", "Marzuki", "Novri", "Pebri", "Rusdi", "Sahrial", "Toni", "Usman", "Wahyu", "Yogi",
           "Zainal", "Abdul", "Amri", "Bastian", "Darwis", "Effendi", "Fadli", "Hamdan", "Jumadi", "Khairul",
           "Lukman", "Mansur", "Riduan", "Samsul", "Syamsudin", "Hasbi", "Yudi", "Sopian", "Mat", "Ujang",
           "Ma'ruf", "Syafi'i", "Fu'ad", "Nu'man")
FIRST_P = ("Siti", "Nur", "Dewi", "Sri", "Rina", "Yuni", "Aminah", "Fitri", "Lestari", "Wulan", "Ratna", "Indah",
           "Maya", "Novi", "Putri", "Rahmawati", "Sari", "Eka", "Desi", "Lina", "Mega", "Nurhayati", "Rosmala",
           "Yanti", "Zubaidah", "Halimah", "Juwita", "Kartika", "Marlina", "Suryani", "Meli", "Anisa", "Ayu",
           "Dian", "Elvira", "Fatimah", "Herlina", "Intan", "Jumiati", "Komariah", "Leni", "Mardiana", "Nia",
           "Okta", "Pitri", "Rosita", "Salmah", "Tuti", "Umi", "Vera", "Winda", "Yulia", "Zahra", "Asmawati",
           "Erna", "Khadijah", "Maimunah", "Nurlela", "Rosdiana", "Syarifah", "Cik Ayu", "Ni'mah", "Sa'adah",
           "Mu'awanah")
SECOND_L = ("Saputra", "Pratama", "Syahputra", "Putra", "Ramadhan", "Firmansyah", "Setiawan", "Gunawan", "Hidayat",
            "Kurniawan", "Alamsyah", "Hakim", "Rasyid", "Fauzi", "Hermawan", "Irawan", "Kusnadi", "Ma'arif",
            "Mubarok", "Nugraha", "Prasetyo", "Rahman", "Saleh", "Wijaya")
SECOND_P = ("Anggraini", "Maharani", "Oktaviani", "Putri", "Sari", "Wati", "Yanti", "Safitri", "Apriani",
            "Agustina", "Febrianti", "Novita", "Herawati", "Rahmawati", "Lestari", "Hidayati", "Purnamasari",
            "Susanti", "Wulandari", "Yuliani", "Khairunnisa", "Aisyah", "Mu'minah", "Zahara")
SECOND_ANY = ("Purnama", "Kusuma", "Harahap", "Nasution", "Siregar", "Lubis", "Rangkuti", "Marpaung", "Sembiring",
              "Pohan", "Daulay", "Effendi", "Junaidi", "Hasibuan", "Zulkarnain", "Amin", "Ismail", "Yusuf",
              "Sanjaya", "Mahmud")
TITLE_L = ("Kemas", "Masagus", "Kiagus", "Raden")
TITLE_P = ("Nyimas", "Nyayu", "Raden Ayu", "Masayu")
DEGREES = (", S.Pd", ", S.E", ", S.Kom", ", S.H", ", S.Ag", ", A.Md", ", S.Kep", ", S.Pd.I")


@dataclass(frozen=True)
class GenerateSummary:
    """What ``generate`` wrote; ``expected`` is the manifest's content."""
    out_dir: Path
    files_written: int
    rows_written: int          # data rows in all rekam files
    dirty_rows: int            # rows written to break a contract row rule (incl. duplicates)
    rejected_files: int        # files written to be rejected at file level
    snapshot_date: date
    expected: dict             # same content as the manifest


def generate(out_dir: Path, start: date, end: date, *, seed: int = 2025, rows_per_day: int | None = None,
             calibrate_to: tuple[int, int] | None = None, dirt: bool = True,
             progress: Callable[[int, int], None] | None = None) -> GenerateSummary:
    """Write a landing zone for log dates start..end into ``out_dir`` (see the module doc).

    In: the folder (created as needed); the log dates; the seed; ``rows_per_day`` None for the
    realistic volume (weekdays, holidays, broken devices), else exactly that many recordings a day;
    ``calibrate_to`` the (wajib KTP, sudah rekam) the marts should show at ``end``; ``dirt`` False for
    canonical files; ``progress(days done, days)`` after each day.
    Out: the summary. Write into an empty directory: files of an earlier generation with other
    arguments are not removed.
    Fails: UserError when end is before start; ValueError for a negative ``rows_per_day``, a seed
    numpy refuses (negative), a NIK prefix out of 4-digit serials (lower ``rows_per_day``) or a
    calibration that cannot be met (after the logs are written: no snapshot, no manifest); OSError
    from the files.
    """
    _check_arguments(start, end, rows_per_day)
    out_dir = Path(out_dir)
    plan = _plan(start, end, seed, rows_per_day, calibrate_to, dirt)
    carry = _Carry(_Serials(seed), _Pool([]))
    ledger = _Ledger()
    for i in range(len(plan.days)):
        day = _day(plan, i, carry)
        ledger.count_rows(day)
        _write_day(out_dir, plan.reg, day, ledger)
        _write_requests(out_dir, plan, i, ledger)
        if progress is not None:
            progress(i + 1, len(plan.days))
    return _finish(out_dir, plan, ledger)


# ----------------------------------------------------------------------------------------------
# shared by the three parts: dates as numpy datetime64[D], the office calendar, weighted draws

def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of datetime64[D] values (integer civil-calendar arithmetic: fast for millions)."""
    z = d.astype("datetime64[D]").astype(np.int64) + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _from_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """datetime64[D] from year, month, day (valid dates only)."""
    y = np.asarray(y, dtype=np.int64) - (np.asarray(m) <= 2)
    m = np.asarray(m, dtype=np.int64)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + np.asarray(d, dtype=np.int64) - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146_097 + doe - 719_468).astype("datetime64[D]")


def exact_age(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years at ``at``: the pipeline's definition (minus one before the birthday)."""
    by, bm, bd = _ymd(birth)
    ay, am, ad = _ymd(at)
    return ay - by - ((am * 100 + ad) < (bm * 100 + bd)).astype(np.int64)


def days_to_birthday(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Days between ``at`` and the nearest anniversary of ``birth`` (births are never 29 February)."""
    _, bm, bd = _ymd(birth)
    ay, _, _ = _ymd(at)
    best = np.full(len(birth), 10_000, dtype=np.int64)
    for dy in (-1, 0, 1):
        anniv = _from_ymd(ay + dy, bm, bd)
        best = np.minimum(best, np.abs((at - anniv).astype(np.int64)))
    return best


def _closed(day: date) -> bool:
    """Offices closed: a weekend or a national holiday."""
    return day.weekday() >= 5 or (day.month, day.day) in FIXED_HOLIDAYS or day in HOLIDAYS_2025


def _school_break(day: date) -> bool:
    """School holidays (no school visits): 20 December - 5 January, 21 June - 13 July."""
    md = (day.month, day.day)
    return md >= (12, 20) or md <= (1, 5) or (6, 21) <= md <= (7, 13)


def _trend(day: date) -> float:
    """The gentle upward trend of the volume: 1.0 on 2025-01-01, +0.15 % a day, within 0.6..1.6."""
    return float(np.clip(1.0 + 0.0015 * (day - date(2025, 1, 1)).days, 0.6, 1.6))


def _choice(rng: np.random.Generator, n: int, cum: np.ndarray) -> np.ndarray:
    """``n`` indices drawn with the cumulative weights ``cum`` (need not end at 1)."""
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1)


# ==============================================================================================
# 1. plan: everything decided before the first day (regions, broken devices, rejected files, seeds)

@dataclass(frozen=True)
class _Plan:
    """The arguments of ``generate`` and what follows from them before the first day."""
    seed: int
    start: date
    end: date
    rows_per_day: int | None
    calibrate_to: tuple[int, int] | None
    dirt: bool
    reg: _Regions              # the region list and its stable per-desa draws
    days: list[date]           # the log dates, start..end
    outage: np.ndarray         # days x kecamatan: True where the kecamatan's device is broken
    defects: dict              # (day index, kecamatan index) -> (reason code, how): logs rejected whole
    day_seeds: list            # one numpy SeedSequence per day
    outreach: _Outreach        # long device breakdowns, village requests, planned jemput-bola visits

    @property
    def snapshot_date(self) -> date:
        """The snapshot's cut-off: the day before the first log date."""
        return self.start - timedelta(days=1)


def _check_arguments(start: date, end: date, rows_per_day: int | None) -> None:
    """Fails with UserError when end is before start, ValueError for a negative ``rows_per_day``."""
    check_range(start, end)
    if rows_per_day is not None and rows_per_day < 0:
        raise ValueError("rows_per_day must not be negative")


def _plan(start: date, end: date, seed: int, rows_per_day: int | None, calibrate_to: tuple[int, int] | None,
          dirt: bool) -> _Plan:
    """In: the checked arguments of ``generate``. Out: the plan. Every draw comes from a child of
    ``SeedSequence(seed)``: the first draws the regions (so they depend on the seed alone), the second
    the broken devices, then the rejected files (with dirt), the third spawns one seed per day, the
    fourth draws the outreach (long breakdowns, requests, visits).
    Fails: ValueError from numpy for a seed it refuses (negative)."""
    root = np.random.SeedSequence(seed)
    s_regions, s_plan, s_days, s_outreach = root.spawn(4)
    reg = _Regions(np.random.default_rng(s_regions))
    days = log_dates(start, end)
    plan_rng = np.random.default_rng(s_plan)
    realistic = rows_per_day is None
    outage = _outages(plan_rng, reg, days, realistic=realistic)
    defects = _defects(plan_rng, reg, days, outage) if dirt else {}
    outreach = _outreach(np.random.default_rng(s_outreach), reg, days, outage, defects, realistic, dirt)
    return _Plan(seed, start, end, rows_per_day, calibrate_to, dirt, reg, days, outage, defects,
                 s_days.spawn(len(days)), outreach)


class _Regions:
    """Desa/kecamatan arrays (sorted by code) with a stable population and coverage draw per desa."""

    def __init__(self, rng: np.random.Generator):
        w = wilayah().sort("kode")
        kec = w.filter(pl.col("jenis") == "kecamatan")
        desa = w.filter(pl.col("jenis") != "kecamatan")
        self.kec = np.array(kec["kode"].to_list())
        self.kec_file_name = [n.replace(" ", "").upper() for n in kec["nama_bps"].to_list()]
        index = {k: i for i, k in enumerate(self.kec)}
        self.desa = np.array(desa["kode"].to_list())
        self.desa_bps = np.array(desa["kode_bps"].to_list())
        self.desa_kec = np.array([index[k] for k in desa["kode_kecamatan"].to_list()], dtype=np.int64)
        self.kelurahan = desa["jenis"].to_numpy() == "kelurahan"
        nd, nk = len(self.desa), len(self.kec)
        town = np.where(self.kelurahan, np.where(self.desa_kec == MUARA_DUA, 3.0, 2.0), 1.0)  # Muaradua is the capital
        pop = rng.lognormal(0.0, 0.5, nd) * town
        self.pop = pop / pop.sum()
        self.coverage = np.clip(rng.normal(DEFAULT_COVERAGE, 0.06, nd) + 0.05 * self.kelurahan, 0.55, 0.93)
        self.male_share = rng.uniform(0.505, 0.535, nd)
        backlog = self.pop * (1.0 - self.coverage)
        self.rec_w = backlog / backlog.sum()
        near = np.where(self.desa_kec == MUARA_DUA, 4.0, 1.0)
        self.dinas_w = backlog * near / (backlog * near).sum()
        jb = self.pop * (1.0 - self.coverage) ** 2 * np.where(self.kelurahan, 0.2, 1.0)
        self.jb_cum = np.cumsum(jb / jb.sum())
        self.kec_pop = np.bincount(self.desa_kec, self.pop, minlength=nk)
        self.rec_cum = np.cumsum(self.rec_w)
        self.kec_lo = np.searchsorted(self.desa_kec, np.arange(nk), side="left")
        self.kec_hi = np.searchsorted(self.desa_kec, np.arange(nk), side="right")
        self.region = np.array([int(k.replace(".", "")) for k in self.kec], dtype=np.int64)  # 1609kk
        self.fragile = np.sort(rng.choice(np.arange(1, nk), 5, replace=False))
        self.n_devices = np.ones(nk, dtype=np.int64)  # KEC-<kode>-01 .. -03: the largest kecamatan have more
        self.n_devices[np.argsort(-self.kec_pop, kind="stable")[:len(KEC_DEVICES)]] = KEC_DEVICES
        self.jb_w = np.diff(self.jb_cum, prepend=0.0)

    def desa_within(self, kec: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A desa of each row's kecamatan, drawn by recording weight (u uniform in [0, 1))."""
        lo = np.where(self.kec_lo[kec] > 0, self.rec_cum[self.kec_lo[kec] - 1], 0.0)
        hi = self.rec_cum[self.kec_hi[kec] - 1]
        idx = np.searchsorted(self.rec_cum, lo + u * (hi - lo), side="right")
        return np.clip(idx, self.kec_lo[kec], self.kec_hi[kec] - 1)


def _outages(rng: np.random.Generator, reg: _Regions, days: list[date], realistic: bool) -> np.ndarray:
    """days x kecamatan: True where the kecamatan's device is broken (spells of 1-6 days)."""
    nk = len(reg.kec)
    out = np.zeros((len(days), nk), dtype=bool)
    if not realistic:
        return out
    p = np.full(nk, 0.006)
    p[reg.fragile] = 0.035
    p[MUARA_DUA] = 0.0  # the Disdukcapil office never stops
    for i in range(len(days) + 6):  # spells may start before the window
        starts = rng.random(nk) < p
        length = rng.integers(1, 7, nk)
        for k in np.flatnonzero(starts):
            lo, hi = i - 6, i - 6 + length[k]
            out[max(lo, 0):max(min(hi, len(days)), 0), k] = True
    return out


def _defects(rng: np.random.Generator, reg: _Regions, days: list[date], outage: np.ndarray) -> dict:
    """(day index, kecamatan index) -> (reason code, how): a handful of files rejected whole."""
    nk = len(reg.kec)
    per_kind = max(1, round(len(days) / 30))
    slots = [(i, k) for i, d in enumerate(days) if not _closed(d) for k in range(nk) if not outage[i, k]]
    if not slots:
        return {}
    chosen = rng.permutation(len(slots))
    out: dict = {}
    kinds = [("empty_file", j) for j in range(per_kind)] + [("missing_columns", j) for j in range(per_kind)] + \
            [("unknown_kecamatan", j) for j in range(per_kind)]
    for (kind, j), pos in zip(kinds, chosen):
        out[slots[pos]] = (kind, j)
    # one log saved under a folder that is not a date: the day typed backwards (03 -> 30)
    feb = [(i, d) for i, d in enumerate(days) if d.month == 2 and not _closed(d)]
    bad = [(i, d) for i, d in feb if _not_a_date(f"{d.year}-02-" + f"{d.day:02d}"[::-1])]
    if feb:
        i, d = bad[int(rng.integers(0, len(bad)))] if bad else feb[0]
        free = [k for k in range(1, nk) if not outage[i, k] and (i, k) not in out]
        folder = f"{d.year}-02-" + f"{d.day:02d}"[::-1] if bad else "februari"
        if free:
            out[(i, free[int(rng.integers(0, len(free)))])] = ("folder_not_a_date", folder)
    return out


def _not_a_date(text: str) -> bool:
    """True when ``text`` is not an ISO date (``2025-02-30``)."""
    try:
        date.fromisoformat(text)
        return False
    except ValueError:
        return True


# ----------------------------------------------------------------------------------------------
# plan: the outreach (devices that stop for long, village requests, the visits that answer them)

@dataclass(frozen=True)
class _Outreach:
    """What the plan decides about the outreach before the first day.

    ``down``: days x kecamatan, True where the kecamatan office's device is broken although its log
    still comes (``_breakdowns``); ``breakdowns``: [(kecamatan index, first, last day index)];
    ``visits``: day index -> desa indices of the jemput-bola visits planned that day; ``blocked``: days x
    desa, True where no other visit may go (a request waits for its planned visit, or for ever);
    ``letters``: [(registration day index, desa index, nomor_surat)], the valid requests;
    ``request_files``: day index -> (header, rows, reason of each row or None, dialect)."""
    down: np.ndarray
    breakdowns: list
    visits: dict
    blocked: np.ndarray
    letters: list
    request_files: dict


def _outreach(rng: np.random.Generator, reg: _Regions, days: list[date], outage: np.ndarray, defects: dict,
              realistic: bool, dirt: bool) -> _Outreach:
    """In: the regions, the log dates, the short outages and the rejected logs of the plan, whether the
    volume is realistic and dirty. Out: the outreach plan. Draws in a fixed order: the long breakdowns
    (realistic volume only), the visits during them, the letters, the request files."""
    loadable = ~outage
    for i, k in defects:
        loadable[i, k] = False
    down, breakdowns = _breakdowns(rng, reg, days, realistic)
    visits = _breakdown_visits(rng, reg, days, breakdowns, loadable)
    letters = _letters(rng, reg, days, loadable)
    visits |= {(v, desa) for _, desa, v in letters if v is not None}
    blocked = np.zeros((len(days), len(reg.desa)), dtype=bool)
    planned: dict[int, list[int]] = {}
    for v, desa in sorted(visits):
        planned.setdefault(desa, []).append(v)
    for r, desa, _ in letters:  # from registration to the first planned visit (or the end) nothing else comes
        later = [v for v in planned.get(desa, []) if v >= r]
        blocked[r:later[0] if later else len(days), desa] = True
    by_day: dict[int, list[int]] = {}
    for v, desa in sorted(visits):
        by_day.setdefault(v, []).append(desa)
    named, files = _request_files(rng, reg, days, letters, dirt)
    return _Outreach(down, breakdowns, by_day, blocked, named, files)


def _breakdowns(rng: np.random.Generator, reg: _Regions, days: list[date], realistic: bool) -> tuple[np.ndarray, list]:
    """Two one-device kecamatan (never Muara Dua) whose office device stops while the log still comes:
    one for 8-12 weekdays in the middle of the window (when it has 25 weekdays or more), the other from
    7-10 days before the end to the end (when the window has 21 days or more). Realistic volume only.
    Out: days x kecamatan (True: broken) and [(kecamatan index, first, last day index)]."""
    nk = len(reg.kec)
    down = np.zeros((len(days), nk), dtype=bool)
    if not realistic:
        return down, []
    single = np.flatnonzero((reg.n_devices == 1) & (np.arange(nk) != MUARA_DUA))
    a, b = (int(k) for k in rng.choice(single, 2, replace=False))
    length, back = int(rng.integers(8, 13)), int(rng.integers(7, 11))
    weekdays = [i for i, d in enumerate(days) if d.weekday() < 5]
    lo, hi = int(0.3 * len(weekdays)), min(int(0.55 * len(weekdays)), len(weekdays) - length - 8)
    first = int(rng.integers(lo, hi + 1)) if len(weekdays) >= 25 and hi >= lo else None
    spells = []
    if first is not None:  # in the middle, back well before the end
        spells.append((a, weekdays[first], weekdays[first + length - 1]))
    if len(days) >= 21:  # still broken at the end
        spells.append((b, len(days) - 1 - back, len(days) - 1))
    for k, lo_i, hi_i in spells:
        down[lo_i:hi_i + 1, k] = True
    return down, spells


def _breakdown_visits(rng: np.random.Generator, reg: _Regions, days: list[date], spells: list,
                      loadable: np.ndarray) -> set:
    """Jemput-bola visits to the desa of a kecamatan whose office device is broken: on about half of
    its office days (at least two) when its log will be loaded. Out: {(day index, desa index)}."""
    out = set()
    for k, first, last in spells:
        office = [i for i in range(first, last + 1) if not _closed(days[i]) and loadable[i, k]]
        if not office:
            continue
        n = min(len(office), max(2, int(rng.binomial(len(office), 0.5))))
        chosen = np.sort(rng.choice(office, n, replace=False))
        lo, hi = reg.kec_lo[k], reg.kec_hi[k]
        desa = lo + _choice(rng, n, np.cumsum(reg.jb_w[lo:hi]))
        out.update(zip(chosen.tolist(), desa.tolist()))
    return out


def _letters(rng: np.random.Generator, reg: _Regions, days: list[date], loadable: np.ndarray) -> list[list]:
    """The village letters: REQUEST_RATE a day on office days, from desa with a large backlog; most get a
    visit 2-15 days later (the first office day then on which the kecamatan's log will be loaded; none
    when that falls after the end), REQUEST_WAIT of them none; a desa still waiting after a week may
    write again (at least one does when one can). Out: [registration day, desa, planned visit day or None],
    by registration day."""
    letters = []
    for i, d in enumerate(days):
        n = int(rng.poisson(REQUEST_RATE)) if not _closed(d) else 0
        desa, wait, delay = _choice(rng, n, reg.jb_cum), rng.random(n) < REQUEST_WAIT, rng.integers(2, 16, n)
        for j in range(n):
            v = None if wait[j] else _visit_day(days, loadable, i + int(delay[j]), int(reg.desa_kec[desa[j]]))
            letters.append([i, int(desa[j]), v])
    waiting = [x for x in letters if x[2] is None or x[2] - x[0] > 10]
    pick, gap = rng.random(len(waiting)) < 0.3, rng.integers(7, 15, len(waiting))
    serve, delay = rng.random(len(waiting)) < 0.5, rng.integers(2, 16, len(waiting))
    again: list[list] = []
    office = np.ones((len(days), 1), dtype=bool)
    for force in (False, True):  # the second pass (one letter) makes sure one desa writes twice
        for j, (i, desa, v) in enumerate(waiting):
            if (force and again) or not (pick[j] or force):
                continue
            r = _visit_day(days, office, i + int(gap[j]), 0)
            if r is None or (v is not None and r >= v):
                continue
            served = v if v is not None else _visit_day(days, loadable, r + int(delay[j]), int(reg.desa_kec[desa]))
            again.append([r, desa, served if v is not None or serve[j] else None])
    return sorted(letters + again, key=lambda x: x[0])


def _visit_day(days: list[date], loadable: np.ndarray, start: int, k: int) -> int | None:
    """The first office day from day index ``start`` on which kecamatan ``k``'s log will be loaded; None
    when there is none in the window."""
    for i in range(start, len(days)):
        if not _closed(days[i]) and loadable[i, k]:
            return i
    return None


ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def _request_files(rng: np.random.Generator, reg: _Regions, days: list[date], letters: list,
                   dirt: bool) -> tuple[list, dict]:
    """The request files: a row per letter (``_letter_rows``), with dirt a few bad rows
    (``_bad_requests``), each file in its dialect (with dirt, one in ten without the optional
    ``perkiraan_warga`` when none of its rows breaks that rule). Out: the valid requests
    [(day index, desa index, nomor_surat)] and {day index: (header, rows, reasons, dialect)}."""
    rows, named = _letter_rows(rng, reg, days, letters, dirt)
    by_day: dict[int, list] = {}
    for (i, _, _), row in zip(letters, rows):
        by_day.setdefault(i, []).append((row, None))
    for i, at, row, reason in (_bad_requests(rng, reg, days, letters, rows) if dirt and letters else []):
        entries = by_day[i]
        entries.insert(len(entries) if at is None else at, (row, reason))
    files = {}
    for i in sorted(by_day):
        d = {"sep": ",", "eol": "\n", "bom": False, "estimate": True}
        if dirt:
            u = rng.random(4)
            d = {"sep": ";" if u[0] < 0.35 else ",", "eol": "\r\n" if u[1] < 0.25 else "\n", "bom": bool(u[2] < 0.15),
                 "estimate": bool(u[3] >= 0.1) or any(r == "perkiraan_warga_invalid" for _, r in by_day[i])}
        width = len(REQUEST_COLUMNS) - (not d["estimate"])
        files[i] = (list(REQUEST_COLUMNS[:width]), [r[:width] for r, _ in by_day[i]], [r for _, r in by_day[i]], d)
    return named, files


def _letter_rows(rng: np.random.Generator, reg: _Regions, days: list[date], letters: list,
                 dirt: bool) -> tuple[list, list]:
    """One valid row per letter: the letter written 0-10 days before its registration (with dirt as
    YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY), a number from the desa's own letter register
    (``_nomor``), the residents it expects (empty one time in five). Out: the rows
    (REQUEST_COLUMNS) and [(day index, desa index, nomor_surat)]."""
    n, nd = len(letters), len(reg.desa)
    style, first = rng.integers(0, 3, nd), rng.integers(1, 40, nd)  # each desa's own habit and register
    back, fmt, klass = rng.integers(0, 11, n), rng.integers(0, 5, n), rng.integers(0, 4, n)
    step, estimate, empty = rng.integers(1, 25, n), rng.integers(2, 41, n) * 10, rng.random(n) < 0.2
    seq: dict[int, int] = {}
    rows, named = [], []
    for j, (i, desa, _) in enumerate(letters):
        seq[desa] = seq.get(desa, int(first[desa])) + int(step[j])
        written = days[i] - timedelta(days=int(back[j]))
        nomor = _nomor(reg, desa, seq[desa], int(klass[j]), int(style[desa]), written)
        rows.append([str(reg.desa[desa]), _date_text(written, int(fmt[j]) if dirt else 0), nomor,
                     None if empty[j] else str(estimate[j])])
        named.append((i, desa, nomor))
    return rows, named


def _nomor(reg: _Regions, desa: int, seq: int, klass: int, style: int, written: date) -> str:
    """A letter number as a village office writes it, e.g. ``140/023/DS.2001/2025``: the archive
    class, the register's number, the desa (``KEL`` for a kelurahan), the month in roman numerals
    in one style, the year. Only letters, digits, '.', '/', '-'."""
    part = ("KEL." if reg.kelurahan[desa] else "DS.") + str(reg.desa[desa])[-4:]
    head = f"{('140', '470', '474', '005')[klass]}/{seq:03d}"
    return (f"{head}/{part}/{written.year}", f"{head}/{part}/{ROMAN[written.month - 1]}/{written.year}",
            f"{head}/{part.replace('.', '-')}/{written.year}")[style]


def _date_text(d: date, fmt: int) -> str:
    """``d`` as YYYY-MM-DD (fmt 0-2), DD-MM-YYYY (3) or DD/MM/YYYY (4)."""
    return d.strftime("%d-%m-%Y") if fmt == 3 else d.strftime("%d/%m/%Y") if fmt == 4 else d.isoformat()


def _bad_requests(rng: np.random.Generator, reg: _Regions, days: list[date], letters: list,
                  rows: list) -> list[tuple]:
    """About REQUEST_DIRT bad rows per letter (at least one), each breaking exactly one rule, the
    reasons REQUEST_REASONS in turn: a letter of another desa with a code that is no desa, a letter
    dated after its registration or on no date, a number with a space or a phone number, an estimate written ``1.500``
    (or above 100000); or a letter registered twice in its file (its number maybe in lower case).
    Out: [(day index, position in its file or None for the end, row, reason)]."""
    n_bad = max(1, round(REQUEST_DIRT * len(letters)))
    offset, host = int(rng.integers(0, len(REQUEST_REASONS))), rng.integers(0, len(letters), n_bad)
    variant, pos, other = rng.integers(0, 5, n_bad), rng.random(n_bad), _choice(rng, n_bad, reg.jb_cum)
    seq, back = rng.integers(100, 400, n_bad), rng.integers(0, 11, n_bad)
    files = Counter(i for i, _, _ in letters)
    out = []
    for j in range(n_bad):
        reason, v = REQUEST_REASONS[(offset + j) % len(REQUEST_REASONS)], int(variant[j])
        i = letters[host[j]][0]
        if reason == DUPLICATE:
            base = rows[host[j]]
            out.append((i, None, [base[0], base[1], base[2].lower() if v % 2 else base[2], base[3]], reason))
            continue
        day, kode = days[i], str(reg.desa[other[j]])
        nomor = _nomor(reg, int(other[j]), int(seq[j]), 0, v % 3, day)
        row = [kode, (day - timedelta(days=int(back[j]))).isoformat(), nomor, str(50 + 10 * v)]
        after = day + timedelta(days=1 + v)
        k, value = {
            "kode_desa_unknown": (0, [kode[:8], kode[:9] + "9999", str(reg.desa_bps[other[j]]), None,
                                      "16.08" + kode[5:]]),
            "tanggal_surat_invalid": (1, [after.isoformat(), f"{day.year}-02-30", f"31/04/{day.year}", None,
                                          after.strftime("%d/%m/%Y")]),
            "nomor_surat_invalid": (2, [f"{nomor} (susulan)", f"No. {nomor}", nomor.replace("/", " / ", 1),
                                        nomor.replace("/", "/ ", 2), f"{nomor}-081271234567"]),
            "perkiraan_warga_invalid": (3, ["1.500", "1,500", "150 orang", "250000", "2.000"]),
        }[reason]
        row[k] = value[v]
        out.append((i, int(pos[j] * (files[i] + 1)), row, reason))
        files[i] += 1
    return out


# ==============================================================================================
# 2. day: one day's rows (who, where, when, which strings, which dirt) and the fate of each log

LOADABLE, BROKEN, REJECTED = 0, 1, 2  # what becomes of a kecamatan's log on a day


@dataclass
class _Carry:
    """What one day leaves to the next: the NIK serials in use, the persons who may come back."""
    serials: _Serials
    pool: _Pool


@dataclass(frozen=True)
class _Day:
    """One day's logs, ready to write.

    ``rows``: every row of every log, sorted by file (``file_kec``, the kecamatan index) and order in
    it, the REKAM_COLUMNS as the file holds them plus metadata (``reason``: index of the broken rule,
    ``len(ROW_REASONS)`` for a duplicate, -1 clean; ``channel``, ``desa``, ``birth``, ``nik_int``, ...).
    Per kecamatan index k: ``dialects[k]``; ``fate[k]`` LOADABLE, BROKEN or REJECTED; for a BROKEN one
    ``header_only[k]`` (True: a header-only file, False: no file); for a REJECTED one ``defects[k]``,
    (reason code, how)."""
    day: date
    rows: pl.DataFrame
    dialects: list
    fate: np.ndarray
    header_only: dict
    defects: dict


def _day(plan: _Plan, i: int, carry: _Carry) -> _Day:
    """In: the plan, the day's index, what the earlier days left (updated: serials used, persons of
    the day who may come back). Out: the day's logs. Every draw comes from the day's own seed, in a
    fixed order: rows, dialects, file flags, strings and dirt, duplicates, pool, broken devices' files.
    Fails: ValueError when a NIK prefix runs out of 4-digit serials."""
    day, reg, dirt = plan.days[i], plan.reg, plan.dirt
    rng = np.random.default_rng(plan.day_seeds[i])
    rows = _day_rows(rng, plan, i, carry.serials, carry.pool.frame())
    dialects = [_dialect(rng, dirt) for _ in range(len(reg.kec))]
    flags = _file_flags(rng, len(reg.kec), dirt)
    rows = _strings(rng, reg, rows, day, flags, dirt)
    rows = _with_duplicates(rng, rows) if dirt else rows.with_columns(order=pl.col("seconds") * 2)
    carry.pool.remember(rng, rows)
    fate, header_only = _fates(rng, plan, i)
    defects = {int(k): plan.defects[(i, int(k))] for k in np.flatnonzero(fate == REJECTED)}
    return _Day(day, rows, dialects, fate, header_only, defects)


def _fates(rng: np.random.Generator, plan: _Plan, i: int) -> tuple[np.ndarray, dict]:
    """What becomes of each kecamatan's log on day ``i``: BROKEN where the device is (then no file
    60 % of the time, else a header-only one: one draw per broken device, in kecamatan order),
    REJECTED where a defect is planned, else LOADABLE. Out: the fates and {k: header only?}."""
    outage = plan.outage[i]
    fate = np.zeros(len(outage), dtype=np.int64)
    for k in range(len(outage)):
        fate[k] = BROKEN if outage[k] else REJECTED if (i, k) in plan.defects else LOADABLE
    header_only = {int(k): bool(rng.random() >= 0.6) for k in np.flatnonzero(fate == BROKEN)}
    return fate, header_only


def _day_rows(rng: np.random.Generator, plan: _Plan, i: int, serials: _Serials,
              pool: pl.DataFrame | None) -> pl.DataFrame:
    """Every recording of day ``i``, before strings, one row each, sorted by file and time.

    In: the day's generator, the plan (the day's planned and forbidden jemput-bola visits, the
    kecamatan whose office device is broken: ``_redirect``; the short outages: their kecamatan's rows
    are dropped), the NIK serials used so far (updated), the pool of earlier BARU persons (or None).
    Out: per row its file (``file_kec``), ``channel``, ``desa``, ``seconds`` after midnight, ``device``,
    the person (``nik_int``, ``nama``, ``female``, ``birth``, ``status``, ``ulang``, ``repeat``), the rule
    it will break (``reason``, -1 none) and how (``variant``), and ``seq``.
    Fails: ValueError when a NIK prefix runs out of 4-digit serials."""
    reg, day, rows_per_day, o = plan.reg, plan.days[i], plan.rows_per_day, plan.outreach
    closed = _closed(day) and rows_per_day is None  # a benchmark volume: every day an office day
    friday = day.weekday() == 4
    visits = np.asarray(o.visits.get(i, []), dtype=np.int64)
    jb_sizes, sch_sizes, n_rep, n_base = _how_many(rng, day, rows_per_day, closed, len(visits))
    rep = _coming_back(rng, pool, n_rep, day)
    n_rep = rep.height if rep is not None else 0
    if n_base is None:  # a fixed volume: new persons at offices make up the rest
        n_base = int(rows_per_day) - int(jb_sizes.sum()) - int(sch_sizes.sum()) - n_rep
    jb_cum = np.cumsum(reg.jb_w * ~o.blocked[i]) if o.blocked[i].any() else reg.jb_cum
    placed = _where_when(rng, reg, n_base, (jb_sizes, jb_cum, visits), sch_sizes, closed, friday)
    frame = _who(rng, reg, serials, day, placed, plan.dirt)
    if n_rep:
        frame = pl.concat([frame, _again(rng, reg, rep, closed, friday).select(frame.columns)], how="vertical")
    if o.down[i].any():
        frame = _redirect(rng, frame, o.down[i])
    frame = frame.with_row_index("seq")
    if plan.outage[i].any():
        frame = frame.filter(~pl.col("file_kec").is_in(np.flatnonzero(plan.outage[i]).tolist()))
    return frame.sort("file_kec", "seconds", "seq")


def _redirect(rng: np.random.Generator, frame: pl.DataFrame, down: np.ndarray) -> pl.DataFrame:
    """The KECAMATAN rows of a log whose office device is broken (``down`` per kecamatan): 45 % of
    these persons go to the Disdukcapil office instead (DINAS, in Muara Dua's log, a DINAS device),
    the others wait (their rows are dropped)."""
    u, device = rng.random(frame.height), rng.choice([1, 1, 1, 2, 2, 3], frame.height)
    hit = (frame["channel"].to_numpy() == KECAMATAN) & down[frame["file_kec"].to_numpy()]
    move = hit & (u < 0.45)
    return frame.with_columns(
        channel=pl.Series(np.where(move, DINAS, frame["channel"].to_numpy()), dtype=pl.Int64),
        file_kec=pl.Series(np.where(move, MUARA_DUA, frame["file_kec"].to_numpy()), dtype=pl.Int64),
        device=pl.Series(np.where(move, device, frame["device"].to_numpy()), dtype=pl.Int64),
    ).filter(pl.Series(~hit | move))


def _how_many(rng: np.random.Generator, day: date, rows_per_day: int | None, closed: bool,
              planned: int = 0) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    """The day's volume: the sizes of its jemput-bola visits (the ``planned`` ones take the place of
    drawn ones; with the realistic volume there are at least as many as planned) and school visits,
    how many persons recorded BARU before come back (at most), how many new persons come to an office
    (None for a fixed ``rows_per_day``: the rest of it, once the returns are known)."""
    if rows_per_day is None:
        lam = WEEKDAY_MEAN / 1.04 * WEEKDAY_FACTOR[day.weekday()] * _trend(day) * (0.03 if closed and day.weekday() < 5 else 1)
        visits = not closed
        n_jb = max(int(rng.poisson(lam * 0.15 / 45)), planned) if visits else 0
        n_sch = int(rng.poisson(lam * 0.07 / 30)) if visits and not _school_break(day) else 0
        jb_sizes, sch_sizes = rng.integers(20, 71, n_jb), rng.integers(15, 46, n_sch)
        n_rep = int(rng.poisson(lam * REPEAT_BARU_RATE))
        n_base = int(rng.poisson(lam * 0.78))
        return jb_sizes, sch_sizes, n_rep, n_base
    n = int(rows_per_day)
    jb_sizes = rng.integers(20, 71, int(rng.poisson(n * 0.15 / 45)))
    sch_sizes = rng.integers(15, 46, int(rng.poisson(n * 0.07 / 30)))
    jb_sizes = jb_sizes[np.cumsum(jb_sizes) <= 0.2 * n]
    sch_sizes = sch_sizes[np.cumsum(sch_sizes) <= 0.1 * n]
    return jb_sizes, sch_sizes, round(n * REPEAT_BARU_RATE), None


def _coming_back(rng: np.random.Generator, pool: pl.DataFrame | None, n_rep: int, day: date) -> pl.DataFrame | None:
    """Up to ``n_rep`` persons of the pool (POOL_COLUMNS) who are recorded BARU again today, none
    within a day of a birthday; None when there is no pool or nobody to bring back."""
    if pool is None or not pool.height or not n_rep:
        return None
    take = np.sort(rng.choice(pool.height, min(n_rep, pool.height), replace=False))
    rep = pool[take]
    ok = days_to_birthday(rep["birth"].to_numpy(), np.full(rep.height, np.datetime64(day, "D"))) > 1
    return rep.filter(pl.Series(ok))


def _where_when(rng: np.random.Generator, reg: _Regions, n_base: int, jb: tuple, sch_sizes: np.ndarray,
                closed: bool, friday: bool) -> dict[str, np.ndarray]:
    """Where and when each new person is recorded: ``n_base`` at an office (only the Disdukcapil duty
    desk on a closed day; a kecamatan office on one of its 1-3 devices), then the jemput-bola queues
    (``jb``: their sizes, the cumulative desa weights of the day, the desa of the planned visits, which
    take the first queues) and the school queues. Out: equal-length arrays ``channel``, ``desa``
    (domicile), ``file_kec`` (the log that lists the row), ``seconds``, ``device``."""
    jb_sizes, jb_cum, planned = jb
    if closed:  # only the Disdukcapil office has a duty desk
        base_ch = np.full(n_base, DINAS, dtype=np.int64)
    else:
        base_ch = _choice(rng, n_base, np.cumsum([0.38, 0.58, 0.04]))
        base_ch = np.array([DINAS, KECAMATAN, LAINNYA])[base_ch]
    desa = np.where(base_ch == DINAS, _choice(rng, n_base, np.cumsum(reg.dinas_w)), _choice(rng, n_base, reg.rec_cum))
    file_kec = np.where(base_ch == DINAS, MUARA_DUA, reg.desa_kec[desa])
    cross = (base_ch == KECAMATAN) & (rng.random(n_base) < 0.05)  # recorded at a neighbouring office
    file_kec = np.where(cross, rng.integers(0, len(reg.kec), n_base), file_kec)
    seconds = _office_seconds(rng, n_base, friday)
    device = np.select([base_ch == DINAS, base_ch == LAINNYA],
                       [rng.choice([1, 1, 1, 2, 2, 3], n_base), rng.integers(1, 5, n_base)],
                       1 + (rng.random(n_base) * reg.n_devices[file_kec]).astype(np.int64))

    jb_event, jb_sec = _bursts(rng, jb_sizes, (8 * 3600 + 1800, 10 * 3600 + 1800), (120, 420))
    jb_desa = _choice(rng, len(jb_sizes), jb_cum)
    jb_desa[:len(planned)] = planned[:len(jb_desa)]
    jb_dev = rng.integers(1, 5, len(jb_sizes))
    sch_event, sch_sec = _bursts(rng, sch_sizes, (8 * 3600, 10 * 3600), (90, 300))
    sch_kec = _choice(rng, len(sch_sizes), np.cumsum(reg.kec_pop))
    sch_dev = rng.integers(1, 3, len(sch_sizes))
    sch_desa = reg.desa_within(sch_kec[sch_event], rng.random(len(sch_event))) if len(sch_event) else np.zeros(0, np.int64)

    return {
        "channel": np.concatenate([base_ch, np.full(len(jb_event), JEMPUT_BOLA), np.full(len(sch_event), SEKOLAH)]),
        "desa": np.concatenate([desa, jb_desa[jb_event], sch_desa]).astype(np.int64),
        "file_kec": np.concatenate([file_kec, reg.desa_kec[jb_desa[jb_event]], reg.desa_kec[sch_desa]]).astype(np.int64),
        "seconds": np.concatenate([seconds, jb_sec, sch_sec]).astype(np.int64),
        "device": np.concatenate([device, jb_dev[jb_event], sch_dev[sch_event]]).astype(np.int64),
    }


def _who(rng: np.random.Generator, reg: _Regions, serials: _Serials, day: date, placed: dict[str, np.ndarray],
         dirt: bool) -> pl.DataFrame:
    """Who the new persons of ``placed`` (``_where_when``) are: ULANG or BARU, sex, age, marital
    status, the rule the row will break (with dirt, about DIRT_RATE of rows; -1 none) and its
    ``variant``, birth date, NIK (serials updated) and name. Out: one row per placed row, ``repeat``
    False. Fails: ValueError when a NIK prefix runs out of 4-digit serials."""
    channel, desa = placed["channel"], placed["desa"]
    n = len(channel)
    ulang = (channel != SEKOLAH) & (rng.random(n) < np.where(channel == JEMPUT_BOLA, 0.02, ULANG_RATE))
    female = rng.random(n) < 0.485
    years = _ages(rng, channel, ulang)
    status = _status(rng, years, female)
    status = np.where(channel == SEKOLAH, np.where(rng.random(n) < 0.002, 1, 0), status).astype(np.int8)
    reason = np.full(n, -1, dtype=np.int64)
    if dirt:
        reason = np.where(rng.random(n) < DIRT_RATE, rng.integers(0, len(ROW_REASONS), n), -1)
    variant = rng.integers(0, 5, n)
    # umur_out_of_range: 14-15 (a younger sibling, a 15-year-old student) or 121+ (birth year typed a century early)
    bad_age = reason == R["umur_out_of_range"]
    old = np.where(years + 100 >= 121, years + 100, 121 + variant)
    years = np.where(bad_age, np.where(variant % 2 == 0, 14 + variant % 4 // 2, old), years)
    years = np.where(bad_age & (channel == SEKOLAH), 15, years)
    birth = _births(rng, day, years)
    region = _regions(rng, reg, desa)
    by, bm, bd = _ymd(birth)
    prefix = region * 1_000_000 + (bd + 40 * female) * 10_000 + bm * 100 + by % 100
    nik = prefix * 10_000 + serials.assign(prefix)
    nama = _names(rng, female, years, commas=dirt)
    return pl.DataFrame({
        "file_kec": placed["file_kec"], "channel": channel, "desa": desa, "seconds": placed["seconds"],
        "device": placed["device"], "ulang": ulang, "female": female, "birth": birth, "status": status,
        "nik_int": nik, "reason": reason, "variant": variant, "repeat": np.zeros(n, dtype=bool),
    }).with_columns(nama)


def _again(rng: np.random.Generator, reg: _Regions, rep: pl.DataFrame, closed: bool, friday: bool) -> pl.DataFrame:
    """The rows of the persons who come back (``_coming_back``): at the Disdukcapil office (always on
    a closed day) or their kecamatan's, at an office time, device 1, clean, ``repeat`` True."""
    n_rep = rep.height
    ch = np.where(closed | (rng.random(n_rep) < 0.5), DINAS, KECAMATAN)
    r_desa = rep["desa"].to_numpy()
    r_file = np.where(ch == DINAS, MUARA_DUA, reg.desa_kec[r_desa])
    return rep.select(POOL_COLUMNS).with_columns(
        file_kec=pl.Series(r_file, dtype=pl.Int64), channel=pl.Series(ch, dtype=pl.Int64),
        seconds=pl.Series(_office_seconds(rng, n_rep, friday), dtype=pl.Int64),
        device=pl.lit(1, pl.Int64), ulang=pl.lit(False), reason=pl.lit(-1, pl.Int64),
        variant=pl.lit(0, pl.Int64), repeat=pl.lit(True))


# ----------------------------------------------------------------------------------------------
# day: when (office hours, queues at visits) and who comes back (the pool)

TIME_BINS = np.arange(7 * 3600 + 30 * 60, 17 * 3600, 900)  # 15-minute bins, 07:30 .. 16:45


def _time_cum(friday: bool) -> np.ndarray:
    """Cumulative weights of TIME_BINS at an office: busy mornings, a lunch break, Friday prayers."""
    h = TIME_BINS / 3600.0
    w = np.select([h < 8, h < 8.5, h < 11.5, h < 12, h < 13, h < 15, h < 16], [0.15, 1.5, 3.2, 2.0, 0.5, 2.0, 1.1], 0.08)
    if friday:  # Friday prayers
        w = np.where((h >= 11.25) & (h < 13.5), w * 0.12, w)
    return np.cumsum(w / w.sum())


TIME_CUM = (_time_cum(False), _time_cum(True))


def _office_seconds(rng: np.random.Generator, n: int, friday: bool) -> np.ndarray:
    """``n`` times of day (seconds after midnight) at an office, 07:30 .. 17:00."""
    b = _choice(rng, n, TIME_CUM[int(friday)])
    return TIME_BINS[b] + rng.integers(0, 900, n)


def _bursts(rng: np.random.Generator, sizes: np.ndarray, start: tuple[int, int], step: tuple[int, int]):
    """Event id and time of each row of consecutive bursts (a queue at a visit)."""
    event = np.repeat(np.arange(len(sizes)), sizes)
    n = len(event)
    if n == 0:
        return event, np.zeros(0, dtype=np.int64)
    t0 = rng.integers(start[0], start[1], len(sizes))
    gaps = rng.integers(step[0], step[1], n)
    csum = np.cumsum(gaps)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    offset = csum - (csum[first] - gaps[first])[event]
    return event, np.minimum(t0[event] + offset, 17 * 3600 + 59 * 60)


@dataclass
class _Pool:
    """Persons recorded BARU on earlier days (a sample), who may come back for a second BARU."""
    frames: list

    def frame(self) -> pl.DataFrame | None:
        """All remembered persons (POOL_COLUMNS), or None before the first day."""
        return pl.concat(self.frames) if self.frames else None

    def remember(self, rng: np.random.Generator, rows: pl.DataFrame) -> None:
        """Keep a sample (at most 2,000) of the day's BARU persons, never an age-dirty one, for 14 days."""
        r = rows["reason"].to_numpy()
        baru = np.flatnonzero(~rows["ulang"].to_numpy() & ~rows["repeat"].to_numpy()
                              & (r != R["umur_out_of_range"]) & (r < len(ROW_REASONS)))
        if len(baru):
            sample = np.sort(rng.choice(baru, min(len(baru), 2_000), replace=False))
            self.frames = (self.frames + [rows.select(POOL_COLUMNS)[sample]])[-14:]


POOL_COLUMNS = ("nik_int", "nama", "female", "birth", "status", "desa")


# ----------------------------------------------------------------------------------------------
# day: who they are (ages, birth dates, marital status, NIK, names)

AGES = np.arange(16, 96)


def _age_cum(knots: dict[int, float]) -> np.ndarray:
    """Cumulative weights over AGES, interpolated between {age: weight} knots."""
    w = np.interp(AGES, list(knots), list(knots.values()))
    return np.cumsum(w / w.sum())


AGE_CUM = {
    # most of the backlog is young people who just turned 17
    "base": _age_cum({16: 8, 17: 24, 18: 14, 19: 8, 20: 5, 24: 2.5, 29: 1.8, 30: 0.8, 39: 0.7, 40: 0.45,
                      59: 0.3, 60: 0.22, 79: 0.12, 80: 0.05, 95: 0.01}),
    "jemput_bola": _age_cum({16: 1.5, 17: 6, 18: 4, 19: 3, 20: 2, 30: 1.5, 45: 1.2, 60: 1.1, 75: 0.7, 85: 0.2, 95: 0.03}),
    "lainnya": _age_cum({16: 0.3, 30: 0.4, 50: 0.7, 65: 1.2, 80: 1.0, 95: 0.15}),
    "ulang": _age_cum({16: 0, 19: 0, 20: 0.6, 30: 1.0, 50: 0.8, 70: 0.3, 85: 0.05, 95: 0}),
}


def _ages(rng: np.random.Generator, channel: np.ndarray, ulang: np.ndarray) -> np.ndarray:
    """Completed years of each row by channel and ULANG (students 16 or 17; AGE_CUM otherwise)."""
    n = len(channel)
    kind = np.where(ulang, 3, np.select([channel == JEMPUT_BOLA, channel == LAINNYA], [1, 2], 0))
    u = rng.random(n)
    out = np.empty(n, dtype=np.int64)
    for k, name in enumerate(("base", "jemput_bola", "lainnya", "ulang")):
        m = kind == k
        out[m] = AGES[np.minimum(np.searchsorted(AGE_CUM[name], u[m], side="right"), len(AGES) - 1)]
    school = (channel == SEKOLAH) & ~ulang
    out[school] = np.where(u[school] < 0.55, 16, 17)
    return out


def _births(rng: np.random.Generator, day: date, years: np.ndarray) -> np.ndarray:
    """Birth dates at exactly ``years`` completed years on ``day``, 3 to 362 days past the last
    birthday (so no birthday is within 2 days of the recording), never on 29 February."""
    n = len(years)
    s = rng.integers(3, 362, n)
    last = np.datetime64(day, "D") - s
    _, lm, ld = _ymd(last)
    last = np.where((lm == 2) & (ld == 29), last - 1, last)  # 28 February instead
    ly, lm, ld = _ymd(last)
    return _from_ymd(ly - years, lm, ld)


def _status(rng: np.random.Generator, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """BELUM KAWIN 0, KAWIN 1, CERAI HIDUP 2, CERAI MATI 3 by age and sex (a few married 16-year-olds)."""
    p_kawin = np.select([age < 17, age < 19, age < 22, age < 26, age < 35, age < 60],
                        [np.where(female, 0.03, 0.004), np.where(female, 0.07, 0.01), np.where(female, 0.25, 0.07),
                         np.where(female, 0.5, 0.3), 0.72, 0.84], np.where(female, 0.5, 0.7))
    p_hidup = np.select([age < 26, age < 35, age < 60], [0.004, 0.03, 0.05], 0.04)
    p_mati = np.select([age < 35, age < 60], [0.002, np.where(female, 0.07, 0.03)], np.where(female, 0.42, 0.22))
    u = rng.random(len(age))
    return np.select([u < p_kawin, u < p_kawin + p_hidup, u < p_kawin + p_hidup + p_mati], [1, 2, 3], 0).astype(np.int8)


class _Serials:
    """NIK serials (digits 13-16), unique per NIK prefix (region + birth DDMMYY) over the whole run."""

    def __init__(self, seed: int):
        self.keys = np.zeros(0, dtype=np.int64)   # sorted prefixes seen so far
        self.next = np.zeros(0, dtype=np.int64)   # the next free serial of each
        self.salt = np.uint64(seed & 0xFFFFFFFF)

    def assign(self, key: np.ndarray) -> np.ndarray:
        """A serial for each NIK prefix in ``key``, never given before to that prefix (remembered).
        Fails: ValueError when a prefix would need a serial above 9999."""
        n = len(key)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        order = np.argsort(key, kind="stable")
        ks = key[order]
        start = np.r_[True, ks[1:] != ks[:-1]]
        group_start = np.maximum.accumulate(np.where(start, np.arange(n), 0))
        rank = np.arange(n) - group_start
        with np.errstate(over="ignore"):
            mixed = (ks.astype(np.uint64) + self.salt) * np.uint64(0x9E3779B97F4A7C15)
        base = ((mixed >> np.uint64(40)) % np.uint64(25)).astype(np.int64) + 1  # a new prefix starts at 1..25
        if len(self.keys):
            pos = np.minimum(np.searchsorted(self.keys, ks), len(self.keys) - 1)
            seen = self.keys[pos] == ks
            base = np.where(seen, self.next[pos], base)
        serial_sorted = base + rank
        if serial_sorted.max() > 9999:
            raise ValueError("too many persons share a NIK prefix for 4-digit serials; lower rows_per_day")
        last = np.r_[ks[1:] != ks[:-1], True]
        new_keys, new_next = ks[last], serial_sorted[last] + 1
        keep = ~np.isin(self.keys, new_keys)
        keys = np.concatenate([self.keys[keep], new_keys])
        nxt = np.concatenate([self.next[keep], new_next])
        o = np.argsort(keys, kind="stable")
        self.keys, self.next = keys[o], nxt[o]
        serial = np.empty(n, dtype=np.int64)
        serial[order] = serial_sorted
        return serial


def _regions(rng: np.random.Generator, reg: _Regions, desa: np.ndarray) -> np.ndarray:
    """NIK digits 1-6: mostly the person's own kecamatan, some elsewhere in the regency or outside."""
    n = len(desa)
    u = rng.random(n)
    own = reg.region[reg.desa_kec[desa]]
    other_kec = reg.region[rng.integers(0, len(reg.kec), n)]
    w = np.cumsum(OTHER_KABUPATEN_W / OTHER_KABUPATEN_W.sum())
    outside = OTHER_KABUPATEN[_choice(rng, n, w)] * 100 + rng.integers(1, 13, n)
    return np.select([u < 0.85, u < 0.90], [own, other_kec], outside)


def _names(rng: np.random.Generator, female: np.ndarray, age: np.ndarray, commas: bool) -> pl.Series:
    """A name per row (``nama``): given and family names by sex, titles, bin/binti, some in capitals;
    with ``commas`` an academic degree after a comma for a few adults."""
    n = len(female)
    fem = pl.Series(female)

    def pick(seq_l, seq_p) -> pl.Series:
        a, b = pl.Series(seq_l, dtype=pl.Utf8), pl.Series(seq_p, dtype=pl.Utf8)
        return pl.select(pl.when(fem).then(b.gather(rng.integers(0, len(b), n)))
                         .otherwise(a.gather(rng.integers(0, len(a), n)))).to_series()

    def maybe(values: pl.Series, keep: np.ndarray) -> pl.Series:
        return pl.select(pl.when(pl.Series(keep)).then(values).otherwise(None)).to_series()

    first = pick(FIRST_L, FIRST_P)
    shape = rng.random(n)
    middle = pick(FIRST_L, FIRST_P)
    middle = maybe(middle, (shape < 0.2) & (middle != first).to_numpy())
    second = pick(SECOND_L, SECOND_P)
    anyname = pl.Series(SECOND_ANY, dtype=pl.Utf8).gather(rng.integers(0, len(SECOND_ANY), n))
    last = pl.select(pl.when(pl.Series(shape < 0.55)).then(second)
                     .when(pl.Series(shape < 0.85)).then(anyname).otherwise(None)).to_series()
    title = maybe(pick(TITLE_L, TITLE_P), rng.random(n) < 0.025)
    bin_ = maybe(pl.select(pl.when(fem).then(pl.lit("binti")).otherwise(pl.lit("bin"))).to_series(),
                 (rng.random(n) < 0.03) & (shape < 0.85))
    name = pl.select(pl.concat_str(title, first, middle, bin_, last, separator=" ", ignore_nulls=True)).to_series()
    upper = pl.Series(rng.random(n) < 0.15)
    name = pl.select(pl.when(upper).then(name.str.to_uppercase()).otherwise(name)).to_series()
    if commas:  # an academic degree after a comma: the field gets quoted
        degree = pl.Series(DEGREES, dtype=pl.Utf8).gather(rng.integers(0, len(DEGREES), n))
        name = pl.select(pl.when(pl.Series((age >= 23) & (rng.random(n) < 0.03))).then(name + degree)
                         .otherwise(name)).to_series()
    return name.alias("nama")


# ----------------------------------------------------------------------------------------------
# day: from values to the strings a kecamatan sends, with dirt and quirks, in its file's dialect

def _dialect(rng: np.random.Generator, dirt: bool) -> dict:
    """One file's CSV dialect (all valid per contract section 2): separator, line end, BOM, quoting,
    header style (0 as is, 1 upper case reversed, 2 title case padded), extra columns (0 none,
    1 ``no`` and ``keterangan``, 2 ``keterangan``). Clean: the canonical one, no draw."""
    if not dirt:
        return {"sep": ",", "eol": "\n", "bom": False, "quote": "necessary", "header": 0, "extra": 0}
    return {"sep": ";" if rng.random() < 0.35 else ",", "eol": "\r\n" if rng.random() < 0.25 else "\n",
            "bom": bool(rng.random() < 0.15), "quote": "always" if rng.random() < 0.06 else "necessary",
            "header": int(rng.integers(1, 3)) if rng.random() < 0.08 else 0,
            "extra": int(rng.integers(1, 3)) if rng.random() < 0.08 else 0}


def _file_flags(rng: np.random.Generator, nk: int, dirt: bool) -> dict:
    """Per kecamatan file: the birth-date format (``date_fmt`` 0 ISO, 1 DD-MM-YYYY, 2 DD/MM/YYYY),
    the whole file in lower case (``lower``), a T between date and time (``t_sep``); none when clean."""
    if not dirt:
        return {"date_fmt": [0] * nk, "lower": [False] * nk, "t_sep": [False] * nk}
    u = rng.random((3, nk))
    return {"date_fmt": np.where(u[0] < 0.1, 1, np.where(u[0] < 0.2, 2, 0)).tolist(),
            "lower": (u[1] < 0.05).tolist(), "t_sep": (u[2] < 0.04).tolist()}


def _pick(variant: pl.Expr, values: list) -> pl.Expr:
    """values[variant % len(values)] (values are literals or expressions)."""
    k = len(values)
    expr = None
    for i in reversed(range(k)):
        v = values[i] if isinstance(values[i], pl.Expr) else pl.lit(values[i], pl.Utf8)
        expr = v if expr is None else pl.when(variant % k == i).then(v).otherwise(expr)
    return expr


def _strings(rng: np.random.Generator, reg: _Regions, rows: pl.DataFrame, day: date, flags: dict, dirt: bool) -> pl.DataFrame:
    """In: the day's rows (``_day_rows``) and the file flags (``_file_flags``). Out: the same rows with
    the ten contract columns as the file will hold them; with dirt, each dirty row broken on its rule
    and valid quirks on a few clean rows (``_dirt_and_quirks``)."""
    n = rows.height
    fk = rows["file_kec"].to_numpy()
    desa_i, status_i, channel_i = rows["desa"], rows["status"].cast(pl.Int64), rows["channel"]
    rows = rows.with_columns(
        kec_code=pl.Series(reg.kec.tolist(), dtype=pl.Utf8).gather(rows["file_kec"]),
        desa_code=pl.Series(reg.desa.tolist(), dtype=pl.Utf8).gather(desa_i),
        desa_bps=pl.Series(reg.desa_bps.tolist(), dtype=pl.Utf8).gather(desa_i),
        status_s=pl.Series(STATUS, dtype=pl.Utf8).gather(status_i),
        channel_s=pl.Series(CHANNELS, dtype=pl.Utf8).gather(channel_i),
        date_fmt=pl.Series(np.asarray(flags["date_fmt"], dtype=np.int64)[fk]),
        lower_file=pl.Series(np.asarray(flags["lower"], dtype=bool)[fk]),
        t_file=pl.Series(np.asarray(flags["t_sep"], dtype=bool)[fk]),
    )
    day_s = day.isoformat()
    birth = pl.col("birth")
    t = pl.col("seconds")
    hms = pl.format("{}:{}:{}", (t // 3600).cast(pl.Utf8).str.zfill(2), (t % 3600 // 60).cast(pl.Utf8).str.zfill(2),
                    (t % 60).cast(pl.Utf8).str.zfill(2))
    date_fmt = pl.col("date_fmt")
    out = rows.with_columns(
        nik=pl.col("nik_int").cast(pl.Utf8),
        jenis_kelamin=pl.when(pl.col("female")).then(pl.lit("P")).otherwise(pl.lit("L")),
        tanggal_lahir=pl.when(date_fmt == 1).then(birth.dt.strftime("%d-%m-%Y"))
        .when(date_fmt == 2).then(birth.dt.strftime("%d/%m/%Y")).otherwise(birth.dt.strftime("%Y-%m-%d")),
        status_kawin=pl.col("status_s"),
        kode_desa=pl.col("desa_code"),
        waktu_rekam=pl.lit(day_s + " ") + hms,
        jenis_rekam=pl.when(pl.col("ulang")).then(pl.lit("ULANG")).otherwise(pl.lit("BARU")),
        lokasi_rekam=pl.col("channel_s"),
        id_alat=pl.when(pl.col("channel") == DINAS).then(pl.format("DINAS-0{}", "device"))
        .when(pl.col("channel") == JEMPUT_BOLA).then(pl.format("JB-0{}", "device"))
        .when(pl.col("channel") == LAINNYA).then(pl.format("MOBILE-0{}", "device"))
        .when(pl.col("channel") == SEKOLAH).then(pl.format("SEKOLAH-0{}", "device"))
        .otherwise(pl.format("KEC-{}-0{}", "kec_code", "device")),
    )
    helpers = ["kec_code", "desa_code", "desa_bps", "status_s", "channel_s", "date_fmt", "lower_file", "t_file"]
    if not dirt or n == 0:
        return out.drop(helpers)
    return _dirt_and_quirks(rng, reg, out, rows["reason"].to_numpy(), day, hms).drop(helpers)


def _dirt_and_quirks(rng: np.random.Generator, reg: _Regions, out: pl.DataFrame, reason: np.ndarray, day: date,
                     hms: pl.Expr) -> pl.DataFrame:
    """``out`` (clean strings, with the file flags ``lower_file`` and ``t_file``) with each row whose
    ``reason`` is a row rule broken on it (``_dirty``), then valid quirks on some clean rows (``_quirks``)."""
    n = out.height
    # dirt: computed on the dirty rows only, then put back in place
    idx = np.flatnonzero(reason >= 0)
    if len(idx):
        out = _patch(out, idx, _dirty(out[idx], reg, day, hms), DIRTY_COLUMNS)
    # valid quirks (never on a dirty row): text marker, lower case, underscores, T, spaces around values
    u = rng.random((7, n))
    col_pick = rng.integers(0, 4, n)
    clean = reason < 0
    lower_file, t_file = out["lower_file"].to_numpy(), out["t_file"].to_numpy()
    masks = {
        "q_quote": clean & (u[0] < 0.02),
        **{f"q_lower{k}": clean & (lower_file | ((u[1] < 0.02) & (col_pick == k))) for k in range(4)},
        "q_underscore": clean & (u[2] < 0.03),
        "q_t": clean & (t_file | (u[3] < 0.02)),
        **{f"q_pad{k}": clean & (u[4] < 0.015) & (col_pick == k) for k in range(4)},
        "q_name": clean & (u[5] < 0.01),
        "q_alat": clean & (lower_file | (u[6] < 0.01)),
    }
    idx = np.flatnonzero(np.logical_or.reduce(list(masks.values())))
    if len(idx):
        sub = out[idx].with_columns(**{k: pl.Series(m[idx]) for k, m in masks.items()})
        out = _patch(out, idx, _quirks(sub), QUIRK_COLUMNS)
    return out


DIRTY_COLUMNS = ("nik", "jenis_kelamin", "tanggal_lahir", "status_kawin", "kode_desa", "waktu_rekam",
                 "jenis_rekam", "lokasi_rekam", "id_alat")
QUIRK_COLUMNS = ("nik", "jenis_kelamin", "status_kawin", "kode_desa", "waktu_rekam", "jenis_rekam",
                 "lokasi_rekam", "nama", "id_alat")


def _patch(out: pl.DataFrame, idx: np.ndarray, sub: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """``out`` with the rows at positions ``idx`` of ``columns`` replaced by ``sub``'s."""
    return out.with_columns([out[c].scatter(idx, sub[c]) for c in columns])


def _dirty(sub: pl.DataFrame, reg: _Regions, day: date, hms: pl.Expr) -> pl.DataFrame:
    """Each row broken on exactly one rule: ``reason`` (an index into ROW_REASONS), value ``variant``."""
    r, v, nik = pl.col("reason"), pl.col("variant"), pl.col("nik")
    t = pl.col("seconds")
    day_s = day.isoformat()
    year = pl.col("birth").dt.year().cast(pl.Utf8)
    six = ((pl.col("nik_int") // 1_000_000_000 + 5) // 10).cast(pl.Utf8).str.strip_chars_end("0")  # 6 significant digits
    sci = pl.when(six.str.len_chars() > 1).then(
        six.str.slice(0, 1) + pl.when(v % 2 == 0).then(pl.lit(",")).otherwise(pl.lit(".")) + six.str.slice(1)
    ).otherwise(six) + pl.lit("E+15")
    other_day = pl.when(v % 2 == 0).then(pl.lit((day - timedelta(days=1)).isoformat())).otherwise(
        pl.lit((day + timedelta(days=1)).isoformat()))
    dmy = day.strftime("%d/%m/%Y")
    hh, mm = (t // 3600).cast(pl.Utf8).str.zfill(2), (t % 3600 // 60).cast(pl.Utf8).str.zfill(2)
    kode = pl.col("kode_desa")
    return sub.with_columns(
        nik=pl.when(r == R["nik_spreadsheet_damaged"]).then(sci)
        .when(r == R["nik_not_16_digits"]).then(_pick(v, [nik.str.slice(0, 15), nik + nik.str.slice(15, 1),
                                                          nik.str.slice(0, 13) + "O" + nik.str.slice(14), None]))
        .when(r == R["nik_bad_province"]).then(_pick(v, ["00", "99", "10", "97"]) + nik.str.slice(2))
        .when(r == R["nik_bad_birth_day"]).then(
            nik.str.slice(0, 6) + _pick(v, ["00", "32", "36", "40", "72", "99"]) + nik.str.slice(8))
        .when(r == R["nik_bad_birth_month"]).then(nik.str.slice(0, 8) + _pick(v, ["00", "13", "19", "99"]) + nik.str.slice(10))
        .when(r == R["nik_zero_serial"]).then(nik.str.slice(0, 12) + "0000")
        .otherwise(nik),
        jenis_kelamin=pl.when(r == R["jenis_kelamin_invalid"]).then(_pick(v, ["X", None, "LAKI-LAKI", "PEREMPUAN", "LK"]))
        .otherwise(pl.col("jenis_kelamin")),
        tanggal_lahir=pl.when(r == R["tanggal_lahir_invalid"]).then(
            _pick(v, [year + "-02-30", "31/04/" + year, "31-06-" + year, None, pl.lit("-")]))
        .otherwise(pl.col("tanggal_lahir")),
        status_kawin=pl.when(r == R["status_kawin_invalid"]).then(_pick(v, ["JANDA", "DUDA", None, "NIKAH"]))
        .otherwise(pl.col("status_kawin")),
        kode_desa=pl.when(r == R["kode_desa_unknown"]).then(
            _pick(v, [kode.str.slice(0, 9) + "9999", "16.08" + kode.str.slice(5),
                      pl.col("desa_bps"), None, kode.str.slice(0, 8)]))
        .otherwise(kode),
        waktu_rekam=pl.when(r == R["waktu_rekam_invalid"]).then(
            _pick(v, [pl.lit(day_s + " 2") + (v + 5).cast(pl.Utf8) + ":" + mm + ":00", pl.lit(dmy + " ") + hh + ":" + mm,
                      pl.lit(day_s), None, pl.lit(day_s + " ") + hh + "." + mm]))
        .when(r == R["waktu_rekam_not_log_date"]).then(other_day + " " + hms)
        .otherwise(pl.col("waktu_rekam")),
        jenis_rekam=pl.when(r == R["jenis_rekam_invalid"]).then(_pick(v, ["PERTAMA", "REKAM ULANG", "B", None]))
        .otherwise(pl.col("jenis_rekam")),
        lokasi_rekam=pl.when(r == R["lokasi_rekam_invalid"]).then(_pick(v, ["BALAI DESA", "JEMPUT BOLA", "KANTOR CAMAT", None]))
        .otherwise(pl.col("lokasi_rekam")),
        id_alat=pl.when(r == R["id_alat_empty"]).then(_pick(v, [None, "  "]))
        # typed by hand: spaces, a description, more than 32 characters, a character outside the rule,
        # the person's NIK, the operator's phone number, a birth date
        # (the second value of a pair on rows with an odd second: the same draws as without it)
        .when(r == R["id_alat_invalid"]).then(_pick(v, [
            "HP SAMSUNG A12", _pick(t, ["KEC 01", "HP-081271234567"]), "ALAT-PEREKAMAN-KELILING-KABUPATEN-01",
            _pick(t, ["kec#02", nik]), _pick(t, ["ALAT\u00b701", "OPR-" + pl.col("tanggal_lahir")])]))
        .otherwise(pl.col("id_alat")),
    )


def _quirks(sub: pl.DataFrame) -> pl.DataFrame:
    """Valid spreadsheet quirks where the q_* masks say so (all rows are clean), a device id in lower
    case among them."""

    def when(mask: str, value: pl.Expr, col: str) -> pl.Expr:
        return pl.when(pl.col(mask)).then(value).otherwise(pl.col(col)).alias(col)

    lower = [("jenis_kelamin", 0), ("jenis_rekam", 1), ("lokasi_rekam", 2), ("status_kawin", 3)]
    pad = [("jenis_kelamin", 0), ("kode_desa", 1), ("status_kawin", 2), ("nik", 3)]
    return sub.with_columns(
        when("q_quote", pl.lit("'") + pl.col("nik"), "nik"),
        *[when(f"q_lower{k}", pl.col(c).str.to_lowercase(), c) for c, k in lower],
    ).with_columns(
        when("q_underscore", pl.col("status_kawin").str.replace(" ", "_"), "status_kawin"),
        when("q_t", pl.col("waktu_rekam").str.replace(" ", "T"), "waktu_rekam"),
    ).with_columns(
        *[when(f"q_pad{k}", pl.lit(" ") + pl.col(c) + pl.lit(" "), c) for c, k in pad],
        when("q_name", pl.col("nama") + pl.lit(" "), "nama"),
        when("q_alat", pl.col("id_alat").str.to_lowercase(), "id_alat"),  # upper-cased by the pipeline
    )


def _with_duplicates(rng: np.random.Generator, rows: pl.DataFrame) -> pl.DataFrame:
    """Repeat a few clean rows verbatim later in their file (right after, or at the end)."""
    pick = (rows["reason"].to_numpy() < 0) & (rng.random(rows.height) < DUPLICATE_RATE)
    if not pick.any():
        return rows.with_columns(order=pl.col("seconds") * 2)
    at_end = pl.Series(rng.random(rows.height) < 0.5).filter(pl.Series(pick))
    dup = rows.filter(pl.Series(pick)).with_columns(reason=pl.lit(len(ROW_REASONS), pl.Int64), at_end=at_end)
    rows = rows.with_columns(order=pl.col("seconds") * 2)
    dup = dup.with_columns(
        order=pl.when(pl.col("at_end")).then(pl.lit(10**9)).otherwise(pl.col("seconds") * 2 + 1)).drop("at_end")
    return pl.concat([rows, dup.select(rows.columns)]).sort("file_kec", "order", "seq")


# ==============================================================================================
# 3. write: each day's logs (counted in the ledger), then the snapshot and the manifest

@dataclass
class _Ledger:
    """What the manifest will promise, counted as the days are written."""
    files_written: int = 0
    rows_written: int = 0
    dirty_rows: int = 0
    loaded_rows: int = 0
    quarantine: np.ndarray = field(default_factory=lambda: np.zeros(len(ROW_REASONS) + 1, dtype=np.int64))
    rejected: list = field(default_factory=list)      # {path, reason_code}
    missing: list = field(default_factory=list)       # [date, kode_kecamatan]: no file
    header_only: list = field(default_factory=list)   # [date, kode_kecamatan]: a valid file with no rows
    candidates: list = field(default_factory=list)    # frames: clean BARU rows of files that will be loaded
    jemput_bola: dict = field(default_factory=dict)   # desa index -> ordinals of the days with a loaded JEMPUT_BOLA row
    request_rows: int = 0
    request_quarantine: Counter = field(default_factory=Counter)  # reason -> request rows

    def count_rows(self, d: _Day) -> None:
        """Count the day's rows: written (not in a file lost or cut off), dirty, quarantined by reason
        and loaded (in files that will be loaded); keep the clean BARU rows of those files as
        (person, time, desa, wajib KTP at it, channel)."""
        rows = d.rows
        fk = rows["file_kec"].to_numpy()
        reason = rows["reason"].to_numpy()
        loadable = d.fate[fk] == LOADABLE
        lost = d.fate[fk] == BROKEN
        for k, (kind, _) in d.defects.items():
            if kind == "empty_file":
                lost |= fk == k
        self.rows_written += int((~lost).sum())
        self.dirty_rows += int(((reason >= 0) & ~lost).sum())
        self.quarantine += np.bincount(reason[loadable & (reason >= 0)], minlength=len(self.quarantine))
        self.loaded_rows += int((loadable & (reason < 0)).sum())
        visited = loadable & (reason < 0) & (rows["channel"].to_numpy() == JEMPUT_BOLA)  # any jenis_rekam
        for desa in np.unique(rows["desa"].to_numpy()[visited]).tolist():
            self.jemput_bola.setdefault(desa, []).append(d.day.toordinal())
        good = np.flatnonzero(loadable & (reason < 0) & ~rows["ulang"].to_numpy())
        if len(good):
            umur = exact_age(rows["birth"].to_numpy()[good], np.full(len(good), np.datetime64(d.day, "D")))
            self.candidates.append(pl.DataFrame({
                "nik_int": rows["nik_int"].to_numpy()[good],
                "ts": d.day.toordinal() * 86_400 + rows["seconds"].to_numpy()[good],
                "desa": rows["desa"].to_numpy()[good].astype(np.int16),
                "wajib": (umur >= 17) | (rows["status"].to_numpy()[good] != 0),
                "channel": rows["channel"].to_numpy()[good].astype(np.int8),
            }))

    def served(self, r: date, desa: int, end: date) -> date | None:
        """The first date in [r, end] with a loaded JEMPUT_BOLA row of ``desa``, or None (still open)."""
        days = self.jemput_bola.get(desa, [])
        j = bisect.bisect_left(days, r.toordinal())
        return date.fromordinal(days[j]) if j < len(days) and days[j] <= end.toordinal() else None

    def first_recordings(self, nd: int) -> tuple[np.ndarray, int, np.ndarray]:
        """The persons whose first clean BARU row falls in the window. Out: those wajib KTP at it per
        desa (``nd`` desa), all of them, all of them per channel."""
        new = np.zeros(nd, dtype=np.int64)
        first_any = 0
        by_channel = np.zeros(len(CHANNELS), dtype=np.int64)
        if self.candidates:
            c = pl.concat(self.candidates).sort("nik_int", "ts").unique("nik_int", keep="first", maintain_order=True)
            wajib = c["wajib"].to_numpy()
            new = np.bincount(c["desa"].to_numpy()[wajib].astype(np.int64), minlength=nd)
            first_any = c.height
            by_channel = np.bincount(c["channel"].to_numpy().astype(np.int64), minlength=len(CHANNELS))
        return new, first_any, by_channel


def _write_day(out_dir: Path, reg: _Regions, d: _Day, ledger: _Ledger) -> None:
    """Write the day's logs under ``out_dir``, kecamatan by kecamatan as its fate says, and note in
    the ledger each file written, missing, header-only or meant to be rejected. Fails: OSError."""
    parts, empty = _by_file(d.rows, len(reg.kec))
    day = d.day.isoformat()
    for k in range(len(reg.kec)):
        kec = str(reg.kec[k])
        rel = f"rekam/{day}/{kec}.csv"
        if d.fate[k] == BROKEN and not d.header_only[k]:  # broken device: nothing sent ...
            ledger.missing.append([day, kec])
            continue
        ledger.files_written += 1
        if d.fate[k] == BROKEN:  # ... or an export with no rows
            _write(out_dir / rel, empty, d.dialects[k])
            ledger.header_only.append([day, kec])
        elif d.fate[k] == LOADABLE:
            part = parts.get(k, empty)
            _write(out_dir / rel, part, d.dialects[k])
            if len(part) == 0:
                ledger.header_only.append([day, kec])
        else:
            kind = d.defects[k][0]
            if kind in ("unknown_kecamatan", "folder_not_a_date"):  # written elsewhere: its own log is missing
                ledger.missing.append([day, kec])
            rel = _write_rejected(out_dir, reg, d, k, parts.get(k, empty))
            ledger.rejected.append({"path": rel, "reason_code": kind})


def _write_requests(out_dir: Path, plan: _Plan, i: int, ledger: _Ledger) -> None:
    """Write the village requests registered on day ``i`` (if any) in their dialect, and count their
    rows and the reasons of the bad ones in the ledger. Fails: OSError."""
    planned = plan.outreach.request_files.get(i)
    if planned is None:
        return
    header, rows, reasons, d = planned
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=d["sep"], lineterminator=d["eol"])
    w.writerow(header)
    w.writerows(rows)
    path = out_dir / "permohonan" / f"{plan.days[i].isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if d["bom"] else b"") + buf.getvalue().encode("utf-8"))
    ledger.files_written += 1
    ledger.request_rows += len(rows)
    ledger.request_quarantine.update(r for r in reasons if r is not None)


def _by_file(rows: pl.DataFrame, nk: int) -> tuple[dict, list | pl.DataFrame]:
    """The day's rows (sorted by file) cut per kecamatan index, and an empty log's rows. A realistic
    day becomes tuples in REKAM_COLUMNS order once and is sliced; above SMALL_FILE_ROWS rows, frames."""
    if rows.height <= SMALL_FILE_ROWS:
        tuples = rows.select(REKAM_COLUMNS).rows()
        cut = np.searchsorted(rows["file_kec"].to_numpy(), np.arange(nk + 1))
        return {k: tuples[cut[k]:cut[k + 1]] for k in range(nk)}, []
    parts = rows.partition_by("file_kec", as_dict=True, maintain_order=True)
    return {int(k[0]): df for k, df in parts.items()}, rows.head(0)


def _write_rejected(out_dir: Path, reg: _Regions, d: _Day, k: int, part: pl.DataFrame | list[tuple]) -> str:
    """Write kecamatan ``k``'s log with its planned defect (``d.defects[k]``). Out: the path written,
    relative to ``out_dir``. Fails: OSError."""
    kec, day = str(reg.kec[k]), d.day.isoformat()
    kind, how = d.defects[k]
    rel = f"rekam/{day}/{kec}.csv"
    if kind == "empty_file":  # the upload broke off
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    elif kind == "missing_columns":  # an old export template without id_alat (or status_kawin)
        _write(out_dir / rel, part, d.dialects[k], drop="status_kawin" if how % 3 == 2 else "id_alat")
    elif kind == "unknown_kecamatan":  # saved under a wrong name
        name = [reg.kec_file_name[k], f"{kec} (1)", kec.replace(".09.", ".9.")][how % 3]
        rel = f"rekam/{day}/{name}.csv"
        _write(out_dir / rel, part, d.dialects[k])
    else:  # folder_not_a_date: the day typed backwards
        rel = f"rekam/{how}/{kec}.csv"
        _write(out_dir / rel, part, d.dialects[k])
    return rel


SMALL_FILE_ROWS = 20_000  # up to this many rows a log is written by the csv module (less overhead), above by Polars


def _write(path: Path, rows: pl.DataFrame | list[tuple], d: dict, drop: str | None = None,
           engine: str | None = None) -> None:
    """Write one log in dialect ``d`` (every dialect is valid per contract section 2). ``rows`` is a
    frame, or tuples in REKAM_COLUMNS order. Both engines give the same bytes (pinned by a test); ``engine``
    ("csv"/"polars") overrides the rule (tuples: csv; frames: csv up to SMALL_FILE_ROWS rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [c for c in REKAM_COLUMNS if c != drop]
    if isinstance(rows, list):
        engine = "csv"
    else:
        engine = engine or ("csv" if rows.height <= SMALL_FILE_ROWS else "polars")
    if engine == "polars":
        df = rows.select(names)
        if d["extra"] == 1:  # a row number in front and a remarks column at the end, as typed in a spreadsheet
            df = df.select(pl.int_range(1, pl.len() + 1).cast(pl.Utf8).alias("no"), pl.all(),
                           pl.when(pl.col("jenis_rekam").str.to_uppercase() == "ULANG").then(pl.lit(ULANG_NOTE))
                           .otherwise(None).alias("keterangan"))
        elif d["extra"] == 2:
            df = df.with_columns(pl.lit(None, pl.Utf8).alias("keterangan"))
        df = df.select(_header_order(df.columns, d)).rename(lambda c: _header_name(c, d))
        with path.open("wb") as fh:
            df.write_csv(fh, separator=d["sep"], line_terminator=d["eol"], include_bom=d["bom"], quote_style=d["quote"])
        return
    header = list(names)
    if isinstance(rows, list):
        keep = [j for j, c in enumerate(REKAM_COLUMNS) if c != drop]
        data = rows if drop is None else [tuple(r[j] for j in keep) for r in rows]
    else:
        data = rows.select(names).rows()
    if d["extra"] == 1:
        j = names.index("jenis_rekam")
        header = ["no", *header, "keterangan"]
        data = [(str(i), *r, ULANG_NOTE if (r[j] or "").upper() == "ULANG" else None) for i, r in enumerate(data, 1)]
    elif d["extra"] == 2:
        header = [*header, "keterangan"]
        data = [(*r, None) for r in data]
    order = [header.index(c) for c in _header_order(header, d)]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=d["sep"], lineterminator=d["eol"],
                   quoting=csv.QUOTE_ALL if d["quote"] == "always" else csv.QUOTE_MINIMAL)
    w.writerow([_header_name(header[j], d) for j in order])
    w.writerows([[r[j] for j in order] for r in data] if order != list(range(len(header))) else data)
    path.write_bytes((b"\xef\xbb\xbf" if d["bom"] else b"") + buf.getvalue().encode("utf-8"))


ULANG_NOTE = "rekam ulang, data rusak"


def _header_order(columns: list[str], d: dict) -> list[str]:
    """The header's column order in dialect ``d``."""
    return sorted(columns, reverse=True) if d["header"] == 1 else list(columns)


def _header_name(c: str, d: dict) -> str:
    """Column ``c`` as the header of dialect ``d`` spells it."""
    return c.upper() if d["header"] == 1 else f" {c.title()} " if d["header"] == 2 else c


# ----------------------------------------------------------------------------------------------
# write: after the last day, the snapshot and the manifest

def _allocate(total: int, weights: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Integers summing to ``total``, proportional to ``weights`` within [lower, upper] (water-filling,
    then largest remainders). Raises ValueError when the bounds cannot hold the total."""
    lower, upper = lower.astype(np.float64), upper.astype(np.float64)
    if lower.sum() > total or upper.sum() < total or (lower > upper).any():
        raise ValueError("cannot allocate the total within the bounds")
    x = lower.copy()
    free = upper > lower
    w = np.maximum(weights.astype(np.float64), 1e-12)
    for _ in range(len(x) + 1):
        rest = total - x[~free].sum()
        share = rest * w[free] / w[free].sum()
        lo, hi = lower[free], upper[free]
        below, above = share < lo, share > hi
        if not below.any() and not above.any():
            x[free] = share
            break
        idx = np.flatnonzero(free)
        fix = idx[below | above]
        x[fix] = np.where(below, lo, hi)[below | above]
        free[fix] = False
        if not free.any():
            break
    out = np.floor(x + 1e-9).astype(np.int64)
    rest = int(total - out.sum())
    room = out < np.floor(upper + 1e-9).astype(np.int64)
    order = np.lexsort((np.arange(len(x)), -(x - out)))
    order = order[room[order]][:rest]
    out[order] += 1
    assert out.sum() == total
    return out


def _snapshot(reg: _Regions, new: np.ndarray, calibrate_to: tuple[int, int] | None) -> pl.DataFrame:
    """The snapshot (PENDUDUK_COLUMNS, one row per desa): wajib/sudah per desa and sex at the cut-off,
    leaving room for the ``new`` wajib KTP recordings per desa of the window; with ``calibrate_to``
    (W, S) exactly W wajib and S - sum(new) sudah. Fails: ValueError when S > W or sum(new) > S."""
    nd = len(reg.desa)
    zero = np.zeros(nd, dtype=np.int64)
    if calibrate_to is not None:
        w_total, s_total = (int(x) for x in calibrate_to)
        if s_total > w_total:
            raise ValueError(f"calibrate_to: sudah rekam {s_total:,} is above wajib KTP {w_total:,}")
        if int(new.sum()) > s_total:
            raise ValueError(f"calibrate_to: the generated window records {int(new.sum()):,} new wajib KTP, "
                             f"more than sudah rekam {s_total:,}")
        wajib = _allocate(w_total, reg.pop, new, np.full(nd, w_total))
        sudah = _allocate(s_total - int(new.sum()), reg.pop * reg.coverage, zero, wajib - new)
    else:
        wajib = _allocate(DEFAULT_WAJIB, reg.pop, zero, np.full(nd, DEFAULT_WAJIB))
        sudah = np.round(wajib * reg.coverage).astype(np.int64)
        wajib = np.maximum(wajib, sudah + new)  # never a negative backlog at the end
    wajib_lk = np.round(wajib * reg.male_share).astype(np.int64)
    wajib_pr = wajib - wajib_lk
    sudah_lk = np.clip(np.round(sudah * reg.male_share).astype(np.int64), np.maximum(sudah - wajib_pr, 0), wajib_lk)
    sudah_pr = sudah - sudah_lk
    return pl.DataFrame(dict(zip(PENDUDUK_COLUMNS, [reg.desa, wajib_lk, wajib_pr, sudah_lk, sudah_pr])))


def _finish(out_dir: Path, plan: _Plan, ledger: _Ledger) -> GenerateSummary:
    """After the last day: the snapshot, calibrated on the new wajib KTP the logs hold, and the
    manifest. Out: the summary. Fails: ValueError for a calibration that cannot be met; OSError."""
    new, first_any, by_channel = ledger.first_recordings(len(plan.reg.desa))
    snap = _snapshot(plan.reg, new, plan.calibrate_to)
    snap_path = out_dir / "penduduk" / f"{plan.snapshot_date.isoformat()}.csv"
    snap_path.parent.mkdir(parents=True, exist_ok=True)
    with snap_path.open("wb") as fh:
        snap.write_csv(fh)
    ledger.files_written += 1
    expected = _manifest(plan, ledger, new, first_any, by_channel, snap)
    (out_dir / MANIFEST).write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return GenerateSummary(out_dir, ledger.files_written, ledger.rows_written, ledger.dirty_rows,
                           len(ledger.rejected), plan.snapshot_date, expected)


def _manifest(plan: _Plan, ledger: _Ledger, new: np.ndarray, first_any: int, by_channel: np.ndarray,
              snap: pl.DataFrame) -> dict:
    """The manifest's content (docs/generator.md lists its keys): the arguments, the ledger's counts
    and lists (sorted), the first recordings and the snapshot's totals."""
    reg, reasons, q = plan.reg, list(ROW_REASONS) + [DUPLICATE], ledger.quarantine
    return {
        "seed": plan.seed, "start": plan.start.isoformat(), "end": plan.end.isoformat(),
        "snapshot_date": plan.snapshot_date.isoformat(), "rows_per_day": plan.rows_per_day, "dirt": plan.dirt,
        "calibrate_to": list(plan.calibrate_to) if plan.calibrate_to else None,
        "rows_written": ledger.rows_written, "files_written": ledger.files_written, "dirty_rows": ledger.dirty_rows,
        "expected_rows_loaded": ledger.loaded_rows,
        "expected_quarantine_by_reason": {reasons[j]: int(q[j]) for j in range(len(reasons)) if q[j]},
        "expected_rejected_files": sorted(ledger.rejected, key=lambda r: r["path"]),
        "expected_missing": sorted(ledger.missing),
        "expected_header_only": sorted(ledger.header_only),
        "expected_first_recordings": first_any,
        "expected_first_recordings_by_lokasi": {CHANNELS[j]: int(by_channel[j]) for j in range(len(CHANNELS))},
        "expected_new_wajib_total": int(new.sum()),
        "expected_new_wajib_by_desa": {str(reg.desa[j]): int(new[j]) for j in range(len(reg.desa))},
        "snapshot_totals": {"wajib_ktp": int(snap["wajib_ktp_lk"].sum() + snap["wajib_ktp_pr"].sum()),
                            "sudah_rekam": int(snap["sudah_rekam_lk"].sum() + snap["sudah_rekam_pr"].sum())},
        "device_breakdowns": [{"kode_kecamatan": str(reg.kec[k]), "first_date": plan.days[a].isoformat(),
                               "last_date": plan.days[b].isoformat(), "broken_at_end": b == len(plan.days) - 1}
                              for k, a, b in plan.outreach.breakdowns],
        "request_rows_written": ledger.request_rows,
        "expected_requests": _expected_requests(plan, ledger),
        "expected_request_quarantine_by_reason": {r: ledger.request_quarantine[r] for r in REQUEST_REASONS
                                                  if ledger.request_quarantine[r]},
    }


def _expected_requests(plan: _Plan, ledger: _Ledger) -> list[dict]:
    """The valid requests, sorted by registration date, kode_desa and nomor_surat, each with the date it
    is served on (``tanggal_dilayani``: the first date from its registration on with a loaded
    JEMPUT_BOLA row of its desa; None while it is open at the end)."""
    out = []
    for i, desa, nomor in plan.outreach.letters:
        served = ledger.served(plan.days[i], desa, plan.end)
        out.append({"tanggal_daftar": plan.days[i].isoformat(), "kode_desa": str(plan.reg.desa[desa]),
                    "nomor_surat": nomor, "tanggal_dilayani": served.isoformat() if served else None})
    return sorted(out, key=lambda r: (r["tanggal_daftar"], r["kode_desa"], r["nomor_surat"]))
