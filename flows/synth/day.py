"""One day's logs from the day's own seed: how many, where and when, who, the strings, and each log's fate.

In: the plan, the day's index and what the earlier days left (``_Carry``). Out: a ``_Day``.
Fails: ValueError when a NIK prefix runs out of 4-digit serials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from flows.synth.calendar import (
    DIRT_RATE,
    REPEAT_BARU_RATE,
    ULANG_RATE,
    WEEKDAY_FACTOR,
    WEEKDAY_MEAN,
    _choice,
    _closed,
    _school_break,
    _trend,
    _ymd,
    days_to_birthday,
)
from flows.synth.codes import DINAS, JEMPUT_BOLA, KECAMATAN, LAINNYA, ROW_REASONS, SEKOLAH, R
from flows.synth.dirt import _dialect, _file_flags, _strings, _with_duplicates
from flows.synth.people import _ages, _births, _bursts, _names, _office_seconds, _regions, _Serials, _status
from flows.synth.plan import _Plan
from flows.synth.regions import _Regions

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
    jb_sizes, sch_sizes, n_rep, n_base = _how_many(rng, day, rows_per_day, closed, len(visits), reg.volume)
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
        frame = _redirect(rng, frame, o.down[i], reg.capital_of)
    frame = frame.with_row_index("seq")
    if plan.outage[i].any():
        frame = frame.filter(~pl.col("file_kec").is_in(np.flatnonzero(plan.outage[i]).tolist()))
    return frame.sort("file_kec", "seconds", "seq")


def _redirect(rng: np.random.Generator, frame: pl.DataFrame, down: np.ndarray, capital_of: np.ndarray) -> pl.DataFrame:
    """The KECAMATAN rows of a log whose office device is broken (``down`` per kecamatan): 45 % of
    these persons go to the Disdukcapil office instead (DINAS, in Muara Dua's log, a DINAS device),
    the others wait (their rows are dropped)."""
    u, device = rng.random(frame.height), rng.choice([1, 1, 1, 2, 2, 3], frame.height)
    hit = (frame["channel"].to_numpy() == KECAMATAN) & down[frame["file_kec"].to_numpy()]
    move = hit & (u < 0.45)
    return frame.with_columns(
        channel=pl.Series(np.where(move, DINAS, frame["channel"].to_numpy()), dtype=pl.Int64),
        file_kec=pl.Series(np.where(move, capital_of[frame["file_kec"].to_numpy()], frame["file_kec"].to_numpy()), dtype=pl.Int64),
        device=pl.Series(np.where(move, device, frame["device"].to_numpy()), dtype=pl.Int64),
    ).filter(pl.Series(~hit | move))


def _how_many(rng: np.random.Generator, day: date, rows_per_day: int | None, closed: bool,
              planned: int = 0, reg_volume: float = 1.0) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    """The day's volume: the sizes of its jemput-bola visits (the ``planned`` ones take the place of
    drawn ones; with the realistic volume there are at least as many as planned) and school visits,
    how many persons recorded BARU before come back (at most), how many new persons come to an office
    (None for a fixed ``rows_per_day``: the rest of it, once the returns are known)."""
    if rows_per_day is None:
        lam = WEEKDAY_MEAN / 1.04 * WEEKDAY_FACTOR[day.weekday()] * _trend(day) * (0.03 if closed and day.weekday() < 5 else 1) * reg_volume
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
    file_kec = np.where(base_ch == DINAS, reg.capital_of[reg.desa_kec[desa]], reg.desa_kec[desa])
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
    r_file = np.where(ch == DINAS, reg.capital_of[reg.desa_kec[r_desa]], reg.desa_kec[r_desa])
    return rep.select(POOL_COLUMNS).with_columns(
        file_kec=pl.Series(r_file, dtype=pl.Int64), channel=pl.Series(ch, dtype=pl.Int64),
        seconds=pl.Series(_office_seconds(rng, n_rep, friday), dtype=pl.Int64),
        device=pl.lit(1, pl.Int64), ulang=pl.lit(False), reason=pl.lit(-1, pl.Int64),
        variant=pl.lit(0, pl.Int64), repeat=pl.lit(True))


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
