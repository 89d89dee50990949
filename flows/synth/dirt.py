"""From values to the strings a kecamatan sends: the file's dialect, valid quirks, and the dirt (one broken rule a row).

In: a day's rows (``flows.synth.day``) and its generator. Out: the rows with the ten contract columns as
the file holds them. Nothing here fails on the frames the day builds.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from flows.synth.calendar import DUPLICATE_RATE
from flows.synth.codes import (
    BARU,
    CHANNELS,
    DINAS,
    FEMALE,
    JEMPUT_BOLA,
    JENIS_REKAM,
    LAINNYA,
    MALE,
    ROW_REASONS,
    SEKOLAH,
    SEXES,
    STATUS,
    ULANG,
    R,
)
from flows.synth.regions import _Regions


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
        desa_other_kab=pl.Series(reg.desa_other_kab.tolist(), dtype=pl.Utf8).gather(desa_i),
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
        jenis_kelamin=pl.when(pl.col("female")).then(pl.lit(SEXES[FEMALE])).otherwise(pl.lit(SEXES[MALE])),
        tanggal_lahir=pl.when(date_fmt == 1).then(birth.dt.strftime("%d-%m-%Y"))
        .when(date_fmt == 2).then(birth.dt.strftime("%d/%m/%Y")).otherwise(birth.dt.strftime("%Y-%m-%d")),
        status_kawin=pl.col("status_s"),
        kode_desa=pl.col("desa_code"),
        waktu_rekam=pl.lit(day_s + " ") + hms,
        jenis_rekam=pl.when(pl.col("ulang")).then(pl.lit(JENIS_REKAM[ULANG])).otherwise(pl.lit(JENIS_REKAM[BARU])),
        lokasi_rekam=pl.col("channel_s"),
        id_alat=pl.when(pl.col("channel") == DINAS).then(pl.format("DINAS-0{}", "device"))
        .when(pl.col("channel") == JEMPUT_BOLA).then(pl.format("JB-0{}", "device"))
        .when(pl.col("channel") == LAINNYA).then(pl.format("MOBILE-0{}", "device"))
        .when(pl.col("channel") == SEKOLAH).then(pl.format("SEKOLAH-0{}", "device"))
        .otherwise(pl.format("KEC-{}-0{}", "kec_code", "device")),
    )
    helpers = ["kec_code", "desa_code", "desa_bps", "desa_other_kab", "status_s", "channel_s", "date_fmt", "lower_file", "t_file"]
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
            _pick(v, [kode.str.slice(0, 9) + "9999", pl.col("desa_other_kab"),
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
