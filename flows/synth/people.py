"""Who is recorded and when: ages, birth dates, marital status, NIK (unique serials), names, times of day.

In: a numpy generator and the rows' channels, desa, sexes. Out: numpy arrays or Polars series, one value a
row. Fails: ValueError when a NIK prefix runs out of 4-digit serials.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from flows.synth.calendar import _choice, _from_ymd, _ymd
from flows.synth.codes import JEMPUT_BOLA, LAINNYA, SEKOLAH
from flows.synth.regions import _Regions

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
