"""A synthetic landing zone an analyst would believe (``ektp generate``, ``ektp demo``, benchmarks).

In: a date range, a seed, optionally rows per day and the snapshot totals to calibrate to.
Out: ``out_dir/rekam/<date>/<kode_kecamatan>.csv`` for every day, one population snapshot
``out_dir/penduduk/<start - 1 day>.csv`` and ``out_dir/generator_manifest.json`` (what the pipeline
should find; no NIK or name). Deterministic: the same arguments give byte-identical files.

Realism: all 19 kecamatan, desa weighted by size; the Disdukcapil office (DINAS) in Muaradua
records people from every kecamatan (its rows are in the Muara Dua log, attributed by kode_desa);
jemput bola bursts in one desa; school visits of 16-17-year-olds; married minors; repeat captures
(ULANG) and second BARU recordings; busy Mondays, quiet weekends; broken kecamatan devices (no file
or a header-only file). With ``dirt``: a few per cent of rows each break exactly one contract rule
(reason codes of expectations/rekam_log.json, plus ``duplicate_row``), a handful of file-level
defects, spreadsheet dialects (``;``, BOM, CRLF, quotes, header case/order, extra columns).
Generation is vectorised (numpy/Polars), so ``rows_per_day`` can reach a million.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from flows.wilayah import wilayah

COLUMNS = ["nik", "nama", "jenis_kelamin", "tanggal_lahir", "status_kawin", "kode_desa",
           "waktu_rekam", "jenis_rekam", "lokasi_rekam", "id_alat"]
DEFAULT_WAJIB = 270_764
MUARADUA = "16.09.01"

FIRST_L = ["Ahmad", "Muhammad", "Rudi", "Budi", "Hendra", "Agus", "Joko", "Rahmat", "Dedi", "Fajar", "Irwan",
           "Yusuf", "Saipul", "Zulkifli", "Hasan", "Ridwan", "Arif", "Bambang", "Syahrul", "Taufik", "Andi",
           "Rizki", "Dimas", "Eko", "Firman", "Heri", "Imam", "Jamal", "Kurniawan", "Mulyadi", "Nasrul", "Suherman"]
FIRST_P = ["Siti", "Nur", "Dewi", "Sri", "Rina", "Yuni", "Aminah", "Fitri", "Lestari", "Wulan", "Ratna", "Indah",
           "Maya", "Novi", "Putri", "Rahmawati", "Sari", "Eka", "Desi", "Lina", "Mega", "Nurhayati", "Rosmala",
           "Yanti", "Zubaidah", "Halimah", "Juwita", "Kartika", "Marlina", "Suryani", "Cik Ayu", "Meli"]
FAMILY = ["Saputra", "Pratama", "Hidayat", "Susanto", "Wijaya", "Harahap", "Nasution", "Siregar", "Lubis",
          "Putra", "Anggraini", "Maharani", "Kusuma", "Syahputra", "Rangkuti", "Ramadhan", "Firmansyah",
          "Setiawan", "Marpaung", "bin Abdullah", "binti Ismail", "Ma'ruf", "Sani", "Hakim", "Rasyid", "Gunawan",
          "Oktaviani", "Purnama", "Sembiring", "Yusuf", "Zainal", "Alamsyah"]
OTHER_REGIONS = ["160101", "160201", "160301", "160701", "167101", "167201", "180101", "180401", "317401", "327301"]
CHANNELS = ["DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA"]
STATUS = ["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"]
WEEKDAY_FACTOR = [1.35, 1.2, 1.05, 1.0, 0.8, 0.25, 0.06]  # Monday .. Sunday
ROW_REASONS = ["nik_spreadsheet_damaged", "nik_not_16_digits", "nik_bad_province", "nik_bad_birth_day",
               "nik_bad_birth_month", "nik_zero_serial", "jenis_kelamin_invalid", "tanggal_lahir_invalid",
               "umur_out_of_range", "status_kawin_invalid", "kode_desa_unknown", "waktu_rekam_invalid",
               "waktu_rekam_not_log_date", "jenis_rekam_invalid", "lokasi_rekam_invalid", "id_alat_missing"]


@dataclass(frozen=True)
class GenerateSummary:
    out_dir: Path
    files_written: int
    rows_written: int
    dirty_rows: int
    rejected_files: int
    snapshot_date: date
    expected: dict = field(default_factory=dict)


class _Regions:
    def __init__(self, rng: np.random.Generator):
        w = wilayah()
        desa = w.filter(pl.col("jenis") != "kecamatan").sort("kode")
        self.desa = np.array(desa["kode"].to_list())
        self.desa_kec = np.array(desa["kode_kecamatan"].to_list())
        self.kecamatan = np.array(sorted(w.filter(pl.col("jenis") == "kecamatan")["kode"].to_list()))
        weight = rng.lognormal(0.0, 0.45, len(self.desa))
        weight[desa["jenis"].to_numpy() == "kelurahan"] *= 2.2
        self.weight = weight / weight.sum()
        near = np.where(self.desa_kec == MUARADUA, 4.0, 1.0)
        self.dinas_weight = self.weight * near / (self.weight * near).sum()
        # a few kecamatan with unreliable recording devices
        self.broken_rate = {k: 0.03 for k in self.kecamatan}
        for k in rng.choice(self.kecamatan[1:], 5, replace=False):
            self.broken_rate[k] = 0.25

    def desa_in(self, kec: str) -> tuple[np.ndarray, np.ndarray]:
        m = self.desa_kec == kec
        return self.desa[m], self.weight[m] / self.weight[m].sum()


def _ages(rng: np.random.Generator, n: int, channel: np.ndarray) -> np.ndarray:
    """Age in days at recording (the exact age in years is computed from the birth date)."""
    years = rng.choice([16, 17, 18, 19, 20, 22, 25, 30, 40, 55, 70], n,
                       p=[.07, .10, .16, .15, .12, .12, .09, .07, .06, .04, .02])
    years = years + rng.integers(0, 3, n) * (years >= 20)
    school = channel == "SEKOLAH"
    years = np.where(school, rng.choice([16, 17], n, p=[.55, .45]), years)
    return years * 365 + rng.integers(10, 355, n) + years // 4


def _status(rng: np.random.Generator, age_years: np.ndarray) -> np.ndarray:
    u = rng.random(len(age_years))
    kawin_p = np.select([age_years < 19, age_years < 26, age_years < 50], [0.04, 0.35, 0.8], 0.75)
    out = np.where(u < kawin_p, "KAWIN", "BELUM KAWIN").astype(object)
    old = (age_years >= 35) & (rng.random(len(age_years)) < 0.12)
    out[old] = np.where(rng.random(old.sum()) < 0.5, "CERAI HIDUP", "CERAI MATI")
    return out


def _exact_age(birth: pl.Expr, rec: pl.Expr) -> pl.Expr:
    """Completed years at the recording date (the pipeline's definition)."""
    return (rec.dt.year() - birth.dt.year()
            - ((rec.dt.month().cast(pl.Int32) * 100 + rec.dt.day())
               < (birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day())).cast(pl.Int32))


def _day_rows(rng: np.random.Generator, reg: _Regions, day: date, rows_per_day: int | None,
              serial_base: int) -> pl.DataFrame:
    """All clean rows of one day (before dirt), with the file (kecamatan) each belongs to."""
    if rows_per_day is None:
        n = int(rng.poisson(300 * WEEKDAY_FACTOR[day.weekday()] * (1 + 0.002 * day.timetuple().tm_yday)))
    else:
        n = int(rows_per_day)
    scale = max(n, 1) / 300
    # outreach bursts: jemput bola in a few desa, school visits in a kecamatan (weekdays only)
    weekday = day.weekday() < 5
    n_jb = int(rng.poisson(1.2 * scale)) if weekday else 0
    n_sch = int(rng.poisson(0.6 * scale)) if weekday else 0
    jb_sizes = rng.integers(20, 70, n_jb)
    sch_sizes = rng.integers(15, 45, n_sch)
    base = max(n - int(jb_sizes.sum()) - int(sch_sizes.sum()), 0) if rows_per_day is not None else n
    channel = rng.choice(["DINAS", "KECAMATAN", "LAINNYA"], base, p=[0.35, 0.62, 0.03]).astype(object)
    desa = np.empty(base, dtype=object)
    dinas = channel == "DINAS"
    desa[dinas] = rng.choice(reg.desa, dinas.sum(), p=reg.dinas_weight)
    desa[~dinas] = rng.choice(reg.desa, (~dinas).sum(), p=reg.weight)
    parts_desa, parts_channel = [desa], [channel]
    if n_jb:
        event_desa = rng.choice(reg.desa, n_jb, p=reg.weight)
        parts_desa.append(np.repeat(event_desa, jb_sizes))
        parts_channel.append(np.full(jb_sizes.sum(), "JEMPUT_BOLA", dtype=object))
    for size in sch_sizes:
        kec = rng.choice(reg.kecamatan)
        d, w = reg.desa_in(kec)
        parts_desa.append(rng.choice(d, size, p=w))
        parts_channel.append(np.full(size, "SEKOLAH", dtype=object))
    desa = np.concatenate(parts_desa) if parts_desa else np.empty(0, dtype=object)
    channel = np.concatenate(parts_channel)
    n = len(desa)
    kec_of = dict(zip(reg.desa, reg.desa_kec))
    desa_kec = np.array([kec_of[d] for d in desa], dtype=object) if n < 50_000 else \
        pl.Series(desa.astype(str)).str.slice(0, 8).to_numpy().astype(object)
    file_kec = np.where(channel == "DINAS", MUARADUA, desa_kec)

    age_days = _ages(rng, n, channel)
    sex = rng.choice(["L", "P"], n, p=[0.51, 0.49])
    jenis = rng.choice(["BARU", "ULANG"], n, p=[0.94, 0.06])
    jenis = np.where(channel == "SEKOLAH", "BARU", jenis)
    age_days = np.where(jenis == "ULANG", age_days + 365 * 5, age_days)  # repeat captures: recorded years ago
    seconds = rng.integers(8 * 3600, 16 * 3600, n)
    region = np.where(rng.random(n) < 0.86,
                      pl.Series(desa.astype(str)).str.slice(0, 8).str.replace_all(r"\.", "").to_numpy(),
                      rng.choice(OTHER_REGIONS, n))
    first = np.where(sex == "L", rng.choice(FIRST_L, n), rng.choice(FIRST_P, n))
    frame = pl.DataFrame({
        "jenis_kelamin": sex, "desa": desa.astype(str), "file_kec": file_kec.astype(str),
        "lokasi_rekam": channel.astype(str), "jenis_rekam": jenis, "age_days": age_days,
        "seconds": seconds, "region": region.astype(str),
        "nama": pl.Series(first.astype(str)) + " " + pl.Series(rng.choice(FAMILY, n)),
        "serial": (serial_base + np.arange(n)) % 9999 + 1,
        "device_no": rng.integers(1, 4, n),
    })
    rec = pl.lit(day)
    frame = frame.with_columns(
        tanggal=rec,
        tgl_lahir=(rec - pl.duration(days=pl.col("age_days"))),
    ).with_columns(
        # no birthdays on 29 February (keeps the NIK's DDMMYY unambiguous)
        tgl_lahir=pl.when((pl.col("tgl_lahir").dt.month() == 2) & (pl.col("tgl_lahir").dt.day() == 29))
        .then(pl.col("tgl_lahir") - pl.duration(days=1)).otherwise(pl.col("tgl_lahir")),
    ).with_columns(umur=_exact_age(pl.col("tgl_lahir"), rec))
    frame = frame.with_columns(status_kawin=pl.Series(_status(rng, frame["umur"].to_numpy()).astype(str)))
    day_num = pl.col("tgl_lahir").dt.day() + pl.when(pl.col("jenis_kelamin") == "P").then(40).otherwise(0)
    frame = frame.with_columns(
        nik=pl.col("region") + day_num.cast(pl.Utf8).str.zfill(2)
        + pl.col("tgl_lahir").dt.month().cast(pl.Utf8).str.zfill(2)
        + (pl.col("tgl_lahir").dt.year() % 100).cast(pl.Utf8).str.zfill(2)
        + pl.col("serial").cast(pl.Utf8).str.zfill(4),
        waktu=(pl.lit(day).cast(pl.Datetime) + pl.duration(seconds=pl.col("seconds"))),
        id_alat=pl.when(pl.col("lokasi_rekam") == "DINAS").then(pl.format("DINAS-0{}", pl.col("device_no")))
        .when(pl.col("lokasi_rekam") == "JEMPUT_BOLA").then(pl.format("MOBILE-0{}", pl.col("device_no")))
        .when(pl.col("lokasi_rekam") == "SEKOLAH").then(pl.lit("SEKOLAH-01"))
        .when(pl.col("lokasi_rekam") == "LAINNYA").then(pl.lit("LAIN-01"))
        .otherwise(pl.format("KEC-{}-01", pl.col("file_kec"))),
    )
    return frame.sort("file_kec", "waktu", "nik")


def _with_repeat_baru(rng: np.random.Generator, frame: pl.DataFrame, pool: pl.DataFrame | None, day: date) -> pl.DataFrame:
    """A few persons recorded BARU on an earlier day come back and are recorded BARU again."""
    if pool is None or pool.height == 0 or frame.height == 0:
        return frame
    k = min(pool.height, max(1, frame.height // 100))
    again = pool.sample(n=k, seed=int(rng.integers(0, 2**31)))
    seconds = rng.integers(8 * 3600, 16 * 3600, k)
    again = again.with_columns(
        tanggal=pl.lit(day), waktu=pl.lit(day).cast(pl.Datetime) + pl.duration(seconds=pl.Series(seconds)),
        lokasi_rekam=pl.lit("KECAMATAN"),
    ).with_columns(
        umur=_exact_age(pl.col("tgl_lahir"), pl.col("tanggal")),
        file_kec=pl.col("desa").str.slice(0, 8),
        id_alat=pl.format("KEC-{}-01", pl.col("desa").str.slice(0, 8)),
    )
    return pl.concat([frame, again.select(frame.columns)], how="vertical").sort("file_kec", "waktu", "nik")


def _dirty(rng: np.random.Generator, frame: pl.DataFrame, rate: float) -> pl.DataFrame:
    """Output columns as strings, with ~rate of rows breaking exactly one rule (``reason``)."""
    n = frame.height
    out = frame.with_columns(
        tanggal_lahir=pl.col("tgl_lahir").dt.strftime("%Y-%m-%d"),
        waktu_rekam=pl.col("waktu").dt.strftime("%Y-%m-%d %H:%M:%S"),
        reason=pl.lit(None, pl.Utf8),
    )
    if rate <= 0 or n == 0:
        return out
    pick = rng.random(n) < rate
    choice = pl.Series(rng.choice(ROW_REASONS, n).astype(str))
    variant = rng.integers(0, 3, n)
    out = out.with_columns(reason=pl.when(pl.Series(pick)).then(choice).otherwise(None), v=pl.Series(variant))
    r, v, nik = pl.col("reason"), pl.col("v"), pl.col("nik")
    tomorrow = (pl.col("waktu") + pl.duration(days=1)).dt.strftime("%Y-%m-%d %H:%M:%S")
    young = (pl.col("tanggal") - pl.duration(days=14 * 365 + 120)).dt.strftime("%Y-%m-%d")
    out = out.with_columns(
        nik=pl.when(r == "nik_spreadsheet_damaged").then(
                pl.when(v == 0).then(nik.str.slice(0, 1) + "," + nik.str.slice(1, 5) + "E+15")
                .otherwise(nik.str.slice(0, 1) + "." + nik.str.slice(1, 5) + "E+15"))
            .when(r == "nik_not_16_digits").then(
                pl.when(v == 0).then(nik.str.slice(0, 15)).when(v == 1).then(nik + "7").otherwise(nik.str.slice(0, 14) + "AB"))
            .when(r == "nik_bad_province").then(pl.when(v == 0).then(pl.lit("00")).otherwise(pl.lit("99")) + nik.str.slice(2))
            .when(r == "nik_bad_birth_day").then(nik.str.slice(0, 6) + pl.when(v == 0).then(pl.lit("00")).otherwise(pl.lit("35")) + nik.str.slice(8))
            .when(r == "nik_bad_birth_month").then(nik.str.slice(0, 8) + pl.when(v == 0).then(pl.lit("00")).otherwise(pl.lit("13")) + nik.str.slice(10))
            .when(r == "nik_zero_serial").then(nik.str.slice(0, 12) + "0000")
            .otherwise(nik),
        jenis_kelamin=pl.when(r == "jenis_kelamin_invalid").then(
            pl.when(v == 0).then(pl.lit("X")).when(v == 1).then(pl.lit("")).otherwise(pl.lit("LAKI-LAKI")))
            .otherwise(pl.col("jenis_kelamin")),
        tanggal_lahir=pl.when(r == "tanggal_lahir_invalid").then(
            pl.when(v == 0).then(pl.lit("2001-02-30")).when(v == 1).then(pl.lit("31/04/2003")).otherwise(pl.lit("kemarin")))
            .when(r == "umur_out_of_range").then(young)
            .otherwise(pl.col("tanggal_lahir")),
        status_kawin=pl.when(r == "status_kawin_invalid").then(pl.when(v == 0).then(pl.lit("JANDA")).otherwise(pl.lit("")))
            .otherwise(pl.col("status_kawin")),
        desa=pl.when(r == "kode_desa_unknown").then(
            pl.when(v == 0).then(pl.col("desa").str.slice(0, 9) + "9999").when(v == 1).then(pl.lit("16.08.01.2001")).otherwise(pl.lit("")))
            .otherwise(pl.col("desa")),
        waktu_rekam=pl.when(r == "waktu_rekam_invalid").then(
            pl.when(v == 0).then(pl.col("tanggal").dt.strftime("%Y-%m-%d") + " 25:61:00")
            .otherwise(pl.col("tanggal").dt.strftime("%d/%m/%Y") + " 09:00"))
            .when(r == "waktu_rekam_not_log_date").then(tomorrow)
            .otherwise(pl.col("waktu_rekam")),
        jenis_rekam=pl.when(r == "jenis_rekam_invalid").then(pl.lit("PERTAMA")).otherwise(pl.col("jenis_rekam")),
        lokasi_rekam=pl.when(r == "lokasi_rekam_invalid").then(pl.lit("BALAI DESA")).otherwise(pl.col("lokasi_rekam")),
        id_alat=pl.when(r == "id_alat_missing").then(pl.lit("")).otherwise(pl.col("id_alat")),
    )
    return out.drop("v")


def _quirks(rng: np.random.Generator, out: pl.DataFrame) -> pl.DataFrame:
    """Valid spreadsheet quirks on clean rows: NIK text marker, lower case, underscores, T, spaces."""
    n = out.height
    u = rng.random((5, n))
    clean = pl.col("reason").is_null()
    return out.with_columns(
        nik=pl.when(clean & pl.Series(u[0] < 0.02)).then("'" + pl.col("nik")).otherwise(pl.col("nik")),
        jenis_rekam=pl.when(pl.Series(u[1] < 0.03)).then(pl.col("jenis_rekam").str.to_lowercase()).otherwise(pl.col("jenis_rekam")),
        status_kawin=pl.when(clean & pl.Series(u[2] < 0.03)).then(pl.col("status_kawin").str.replace(" ", "_").str.to_lowercase())
        .otherwise(pl.col("status_kawin")),
        waktu_rekam=pl.when(clean & pl.Series(u[3] < 0.02)).then(pl.col("waktu_rekam").str.replace(" ", "T"))
        .otherwise(pl.col("waktu_rekam")),
        lokasi_rekam=pl.when(pl.Series(u[4] < 0.02)).then(" " + pl.col("lokasi_rekam").str.to_lowercase() + " ")
        .otherwise(pl.col("lokasi_rekam")),
    )


def _write_csv(path: Path, rows: pl.DataFrame, rng: np.random.Generator | None) -> None:
    """Write one log; with rng, in a random spreadsheet dialect (all valid per contract section 2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df = rows.select(pl.col("desa").alias("kode_desa") if "desa" in rows.columns else pl.col("kode_desa"),
                     *[c for c in COLUMNS if c != "kode_desa"]).select(COLUMNS)
    sep, eol, bom, quote = ",", "\n", False, "necessary"
    if rng is not None:
        sep = ";" if rng.random() < 0.4 else ","
        eol = "\r\n" if rng.random() < 0.3 else "\n"
        bom = rng.random() < 0.2
        quote = "always" if rng.random() < 0.1 else "necessary"
        if rng.random() < 0.1:
            df = df.with_columns(pl.lit("").alias("keterangan"), pl.int_range(1, pl.len() + 1).alias("no"))
        if rng.random() < 0.1:
            order = list(rng.permutation(df.columns))
            df = df.select(order).rename({c: (c.upper() if i % 2 else f" {c.title()} ") for i, c in enumerate(order)})
        if rng.random() < 0.1:  # dates as DD-MM-YYYY or DD/MM/YYYY
            fmt = "%d-%m-%Y" if rng.random() < 0.5 else "%d/%m/%Y"
            col = [c for c in df.columns if c.strip().lower() == "tanggal_lahir"][0]
            df = df.with_columns(pl.col(col).str.to_date("%Y-%m-%d", strict=False).dt.strftime(fmt)
                                 .fill_null(pl.col(col)).alias(col))
    text = df.write_csv(separator=sep, line_terminator=eol, quote_style=quote)
    data = text.encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def _allocate(total: int, weights: np.ndarray, caps: np.ndarray | None = None) -> np.ndarray:
    """Integers summing exactly to total, proportional to weights, never above caps."""
    w = weights / weights.sum()
    raw = w * total
    out = np.floor(raw).astype(np.int64)
    if caps is not None:
        out = np.minimum(out, caps)
    rest = total - int(out.sum())
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    while rest > 0:
        moved = False
        for i in order:
            if rest == 0:
                break
            if caps is None or out[i] < caps[i]:
                out[i] += 1
                rest -= 1
                moved = True
        if not moved:
            raise ValueError("cannot allocate: caps too small")
    return out


def _snapshot(rng: np.random.Generator, reg: _Regions, new_by_desa: dict[str, int],
              calibrate_to: tuple[int, int] | None) -> pl.DataFrame:
    new = np.array([new_by_desa.get(d, 0) for d in reg.desa], dtype=np.int64)
    if calibrate_to is not None:
        wajib_total, sudah_target = calibrate_to
        wajib = _allocate(wajib_total, reg.weight)
        if (wajib < new).any():
            raise ValueError("calibration impossible: a desa has more new recordings than wajib KTP")
        sudah_total = sudah_target - int(new.sum())
    else:
        wajib = np.maximum(_allocate(DEFAULT_WAJIB, reg.weight), new + 20)
        sudah_total = int(0.77 * int(wajib.sum())) - int(new.sum())
        sudah_total = max(0, min(sudah_total, int((wajib - new).sum())))
    caps = wajib - new
    rate = rng.uniform(0.6, 1.0, len(wajib))
    sudah = _allocate(sudah_total, np.maximum(caps * rate, 1e-9), caps)
    wajib_lk = np.round(wajib * rng.uniform(0.49, 0.53, len(wajib))).astype(np.int64)
    wajib_pr = wajib - wajib_lk
    sudah_lk = np.minimum(wajib_lk, np.round(sudah * wajib_lk / np.maximum(wajib, 1)).astype(np.int64))
    sudah_pr = sudah - sudah_lk
    over = np.maximum(sudah_pr - wajib_pr, 0)
    sudah_pr -= over
    sudah_lk += over
    return pl.DataFrame({"kode_desa": reg.desa, "wajib_ktp_lk": wajib_lk, "wajib_ktp_pr": wajib_pr,
                         "sudah_rekam_lk": sudah_lk, "sudah_rekam_pr": sudah_pr})


def generate(out_dir: Path, start: date, end: date, *, seed: int = 2025, rows_per_day: int | None = None,
             calibrate_to: tuple[int, int] | None = None, dirt: bool = True,
             progress: Callable[[int, int], None] | None = None) -> GenerateSummary:
    """Write a landing zone for log dates start..end (see module doc); returns what was written."""
    if end < start:
        raise ValueError("end is before start")
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    reg = _Regions(rng)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    total_days = len(days)
    # file-level defects: about one of each kind per month (dirt only)
    n_file_defects = max(1, round(total_days / 30)) if dirt else 0
    all_files = [(d, k) for d in days for k in reg.kecamatan]
    defect_idx = rng.choice(len(all_files), min(len(all_files), 2 * n_file_defects), replace=False) if dirt else []
    empty_files = {all_files[i] for i in defect_idx[:n_file_defects]}
    missing_col_files = {all_files[i] for i in defect_idx[n_file_defects:]}
    files_written = rows_written = dirty_rows = 0
    rejected: list[dict] = []
    missing: list[list[str]] = []
    q_expected: dict[str, int] = {}
    first_candidates: list[pl.DataFrame] = []  # clean BARU rows in loadable files
    pool: pl.DataFrame | None = None
    serial = int(rng.integers(0, 9999))
    for n_day, day in enumerate(days, start=1):
        frame = _day_rows(rng, reg, day, rows_per_day, serial)
        serial += frame.height
        frame = _with_repeat_baru(rng, frame, pool, day)
        out = _dirty(rng, frame, 0.03 if dirt else 0.0)
        if dirt:
            out = _quirks(rng, out)
        day_dir = out_dir / "rekam" / day.isoformat()
        weekday = day.weekday()
        for kec in reg.kecamatan:
            rows = out.filter(pl.col("file_kec") == kec)
            key = (day, kec)
            # broken devices / closed offices (realistic mode only: an explicit rows_per_day is for
            # benchmarks, where every kecamatan sends its full log)
            if rows_per_day is not None or kec == MUARADUA:
                broken = False
            else:
                broken = rng.random() < (0.6 if weekday == 6 else reg.broken_rate[kec])
            if broken:
                rows = rows.filter(pl.col("lokasi_rekam").str.strip_chars().str.to_uppercase() != "KECAMATAN")
                if rows.height == 0 and rng.random() < 0.5:
                    missing.append([day.isoformat(), kec])
                    continue
            path = day_dir / f"{kec}.csv"
            rel = path.relative_to(out_dir).as_posix()
            if key in empty_files:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
                rejected.append({"path": rel, "reason_code": "empty_file"})
                files_written += 1
                continue
            if dirt and rows.height > 2 and rng.random() < 0.15:  # a verbatim repeat later in the file
                dup = rows.filter(pl.col("reason").is_null()).head(1)
                if dup.height:
                    rows = pl.concat([rows, dup.with_columns(reason=pl.lit("duplicate_row"))], how="vertical")
            if key in missing_col_files:
                path.parent.mkdir(parents=True, exist_ok=True)
                df = rows.select(pl.col("desa").alias("kode_desa"), *[c for c in COLUMNS if c not in ("kode_desa", "id_alat")])
                path.write_text(df.write_csv(), encoding="utf-8")
                rejected.append({"path": rel, "reason_code": "missing_columns"})
                files_written += 1
                rows_written += rows.height
                continue
            _write_csv(path, rows, rng if dirt else None)
            files_written += 1
            rows_written += rows.height
            for reason, cnt in rows.filter(pl.col("reason").is_not_null()).group_by("reason").len().iter_rows():
                q_expected[reason] = q_expected.get(reason, 0) + cnt
                dirty_rows += cnt
            good = rows.filter(pl.col("reason").is_null() & (pl.col("jenis_rekam").str.to_uppercase() == "BARU"))
            if good.height:
                first_candidates.append(good.select("nik", "waktu", "desa", "umur", "status_kawin", "tgl_lahir",
                                                    "jenis_kelamin", "nama", "region", "serial", "jenis_rekam",
                                                    "age_days", "seconds", "device_no", "lokasi_rekam", "file_kec",
                                                    "id_alat", "tanggal"))
        if first_candidates:
            pool = first_candidates[-1].filter(pl.col("jenis_rekam") == "BARU").select(frame.columns)
        if progress:
            progress(n_day, total_days)
    february = [d for d in days if d.month == 2]
    if dirt and february:  # one file under a folder that is not a date (30 February)
        bad = out_dir / "rekam" / f"{february[0].year}-02-30" / "16.09.03.csv"
        _write_csv(bad, _dirty(rng, _day_rows(rng, reg, february[0], 5, serial), 0.0), None)
        rejected.append({"path": bad.relative_to(out_dir).as_posix(), "reason_code": "folder_not_a_date"})
        files_written += 1
    if dirt:  # a file whose name is not a kecamatan code
        bad = out_dir / "rekam" / days[-1].isoformat() / "MUARADUA.csv"
        _write_csv(bad, _dirty(rng, _day_rows(rng, reg, days[-1], 5, serial), 0.0), None)
        rejected.append({"path": bad.relative_to(out_dir).as_posix(), "reason_code": "unknown_kecamatan"})
        files_written += 1
    new_by_desa: dict[str, int] = {}
    if first_candidates:
        cand = pl.concat(first_candidates, how="vertical")
        cand = cand.with_columns(pl.col("nik").str.strip_prefix("'"))
        firsts = cand.sort("waktu", "file_kec").group_by("nik", maintain_order=True).first()
        wajib = firsts.filter((pl.col("umur") >= 17) | (pl.col("status_kawin").str.to_uppercase().str.replace("_", " ") != "BELUM KAWIN"))
        new_by_desa = dict(sorted(wajib.group_by("desa").len().iter_rows()))
    snapshot_date = start - timedelta(days=1)
    snap = _snapshot(rng, reg, new_by_desa, calibrate_to)
    snap_path = out_dir / "penduduk" / f"{snapshot_date.isoformat()}.csv"
    snap_path.parent.mkdir(parents=True, exist_ok=True)
    snap_path.write_text(snap.write_csv(), encoding="utf-8")
    files_written += 1
    expected = {
        "seed": seed, "start": start.isoformat(), "end": end.isoformat(), "snapshot_date": snapshot_date.isoformat(),
        "rows_written": rows_written, "files_written": files_written,
        "expected_quarantine_by_reason": dict(sorted(q_expected.items())),
        "expected_rejected_files": sorted(rejected, key=lambda r: r["path"]),
        "expected_missing": sorted(missing),
        "expected_new_wajib_by_desa": new_by_desa,
        "snapshot_totals": {"wajib_ktp": int(snap["wajib_ktp_lk"].sum() + snap["wajib_ktp_pr"].sum()),
                            "sudah_rekam": int(snap["sudah_rekam_lk"].sum() + snap["sudah_rekam_pr"].sum())},
    }
    (out_dir / "generator_manifest.json").write_text(json.dumps(expected, indent=1), encoding="utf-8")
    return GenerateSummary(out_dir, files_written, rows_written, dirty_rows, len(rejected), snapshot_date, expected)
