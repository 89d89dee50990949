"""The region list the generator writes for, with its stable per-desa draws (population, coverage, weights).

In: a numpy generator (the plan's first child of the seed). Out: ``_Regions``, arrays sorted by code.
Fails: OSError when the BPS spelling table cannot be read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from flows.reference.wilayah import DEFAULT_AREA, kabupaten_codes, name, wilayah
from flows.synth.calendar import DEFAULT_COVERAGE, DEFAULT_WAJIB, KEC_DEVICES

# The generator's own data: OKU Selatan's kecamatan and desa with their BPS codes and spellings
# (kode_bps, nama_bps), which name the synthetic files the way kecamatan offices do. The BPS
# numbering is not part of the Kepmendagri list the pipeline uses (flows/reference/wilayah.py) and never
# reaches the warehouse; tests/test_wilayah.py checks that this table's codes and names are the
# package's.
BPS_TABLE = Path(__file__).resolve().parent / "wilayah_okus.csv"


def bps_table() -> pl.DataFrame:
    """The BPS spelling table: kode, nama, jenis, kode_kecamatan, kode_bps, nama_bps."""
    return pl.read_csv(BPS_TABLE, infer_schema=False)


# Populations for an area other than OKU Selatan (docs/generator.md, "Any area"). A kab/kota's wajib KTP is
# OKU Selatan's published 270,764 scaled by the ratio of its population to OKU Selatan's. The populations of
# Sumatera Selatan's kab/kota are the 2020 census (BPS, Sensus Penduduk 2020; their sum is
# 8,466,973), typed in, not checked against a BPS file here (docs/generator.md); elsewhere a kab/kota counts as many "OKU Selatan desa" as its weighted desa (TOWN_UNITS).
SP2020 = {"16.01": 367_603, "16.02": 769_348, "16.03": 612_900, "16.04": 430_071, "16.05": 395_570,
          "16.06": 622_206, "16.07": 836_914, "16.08": 649_394, "16.09": 408_981, "16.10": 416_549,
          "16.11": 333_622, "16.12": 194_900, "16.13": 188_861, "16.71": 1_668_848, "16.72": 143_844,
          "16.73": 234_166, "16.74": 193_196}
TOWN_UNITS = {"desa": 1.0, "kelurahan": 2.0, "kota": 3.0}  # a desa 1, a kelurahan 2, a kelurahan of a kota 3
REGENCY_KECAMATAN = 19  # OKU Selatan's kecamatan: the realistic volume scales with the area's kecamatan


def _table(area: tuple[str, ...]) -> pl.DataFrame:
    """The area's kecamatan and desa rows: kode, nama, jenis, kode_kecamatan, kode_bps, nama_bps,
    kode_kabupaten, kota (the desa's kab/kota is a kota). OKU Selatan alone: the BPS spelling table;
    any other area: the region list (``flows.reference.wilayah``), the code without dots standing for the BPS code."""
    if area == DEFAULT_AREA:
        return bps_table().sort("kode").with_columns(kode_kabupaten=pl.col("kode").str.slice(0, 5), kota=pl.lit(False))
    w = wilayah(area).sort("kode")
    kota = {k for k in kabupaten_codes(area) if (name(k) or "").lower().startswith("kota ")}
    return w.with_columns(kode_bps=pl.col("kode").str.replace_all(".", "", literal=True), nama_bps=pl.col("nama"),
                          kota=pl.col("kode_kabupaten").is_in(sorted(kota)))


def _units(kode_kabupaten: str) -> float:
    """A kab/kota's weighted number of desa (TOWN_UNITS)."""
    t = _table((kode_kabupaten,)).filter(pl.col("jenis") != "kecamatan")
    kind = np.where(t["jenis"].to_numpy() == "kelurahan", np.where(t["kota"].to_numpy(), "kota", "kelurahan"), "desa")
    return float(sum(TOWN_UNITS[k] for k in kind.tolist()))


def population(kode_kabupaten: str) -> float:
    """A kab/kota's population: the 2020 census for Sumatera Selatan (SP2020), else OKU Selatan's
    population per weighted desa times the kab/kota's weighted desa (an estimate, docs/generator.md)."""
    if kode_kabupaten in SP2020:
        return float(SP2020[kode_kabupaten])
    return SP2020["16.09"] / _units("16.09") * _units(kode_kabupaten)


class _Regions:
    """Desa/kecamatan arrays (sorted by code) with a stable population and coverage draw per desa.

    ``capital_of[k]``: the kecamatan whose log holds the DINAS rows of kecamatan k's kab/kota (its
    Disdukcapil office: OKU Selatan's Muara Dua; elsewhere the kecamatan with the most kelurahan, the
    lowest code on a tie); ``volume``: the realistic volume relative to OKU Selatan's; ``wajib_total``:
    the snapshot's wajib KTP when not calibrating; ``desa_other_kab``: a desa code with a wrong
    kab/kota number (dirt)."""

    def __init__(self, rng: np.random.Generator, area: tuple[str, ...] = DEFAULT_AREA):
        w = _table(area)
        kec = w.filter(pl.col("jenis") == "kecamatan")
        desa = w.filter(pl.col("jenis") != "kecamatan")
        self.area = area
        self.kec = np.array(kec["kode"].to_list())
        self.kec_file_name = [n.replace(" ", "").upper() for n in kec["nama_bps"].to_list()]
        index = {k: i for i, k in enumerate(self.kec)}
        self.desa = np.array(desa["kode"].to_list())
        self.desa_bps = np.array(desa["kode_bps"].to_list())
        self.desa_kec = np.array([index[k] for k in desa["kode_kecamatan"].to_list()], dtype=np.int64)
        self.kelurahan = desa["jenis"].to_numpy() == "kelurahan"
        self._kabupaten(desa)
        nd, nk = len(self.desa), len(self.kec)
        capital = self.desa_kec == self.capital_of[self.desa_kec]
        town = np.where(self.kelurahan, np.where(capital, 3.0, 2.0), 1.0)  # Muaradua is the capital
        pop = rng.lognormal(0.0, 0.5, nd) * town
        self.pop = pop / pop.sum() if area == DEFAULT_AREA else self._scaled(pop)
        self.coverage = np.clip(rng.normal(DEFAULT_COVERAGE, 0.06, nd) + 0.05 * self.kelurahan, 0.55, 0.93)
        self.male_share = rng.uniform(0.505, 0.535, nd)
        backlog = self.pop * (1.0 - self.coverage)
        self.rec_w = backlog / backlog.sum()
        near = np.where(capital, 4.0, 1.0)
        self.dinas_w = backlog * near / (backlog * near).sum()
        jb = self.pop * (1.0 - self.coverage) ** 2 * np.where(self.kelurahan, 0.2, 1.0)
        self.jb_cum = np.cumsum(jb / jb.sum())
        self.kec_pop = np.bincount(self.desa_kec, self.pop, minlength=nk)
        self.rec_cum = np.cumsum(self.rec_w)
        self.kec_lo = np.searchsorted(self.desa_kec, np.arange(nk), side="left")
        self.kec_hi = np.searchsorted(self.desa_kec, np.arange(nk), side="right")
        self.region = np.array([int(k.replace(".", "")) for k in self.kec], dtype=np.int64)  # 1609kk
        others = np.flatnonzero(~np.isin(np.arange(nk), self.capitals))
        self.fragile = np.sort(rng.choice(others, max(1, round(5 * nk / REGENCY_KECAMATAN)), replace=False))
        self.n_devices = np.ones(nk, dtype=np.int64)  # KEC-<kode>-01 .. -03: the largest kecamatan have more
        for members in self.kab_kec:
            top = members[np.argsort(-self.kec_pop[members], kind="stable")[:len(KEC_DEVICES)]]
            self.n_devices[top] = KEC_DEVICES[:len(top)]
        self.jb_w = np.diff(self.jb_cum, prepend=0.0)

    def _kabupaten(self, desa: pl.DataFrame) -> None:
        """The kab/kota of the area (``kab``, ``kab_kec``: the kecamatan indices of each), the capital
        kecamatan of each (``capitals``, ``capital_of`` per kecamatan), the volume, the default wajib
        KTP and the desa codes with a wrong kab/kota number."""
        kab_of_kec = np.array([k[:5] for k in self.kec])
        self.kab = sorted(set(kab_of_kec.tolist()))
        self.kab_kec = [np.flatnonzero(kab_of_kec == k) for k in self.kab]
        kel = np.bincount(self.desa_kec, self.kelurahan, minlength=len(self.kec))
        default = self.area == DEFAULT_AREA
        self.capitals = np.array([m[0] if default else m[np.argmax(kel[m])] for m in self.kab_kec], dtype=np.int64)
        self.capital_of = np.zeros(len(self.kec), dtype=np.int64)
        for members, cap in zip(self.kab_kec, self.capitals):
            self.capital_of[members] = cap
        self.volume = 1.0 if default else len(self.kec) / REGENCY_KECAMATAN
        share = sum(population(k) for k in self.kab) / population(DEFAULT_AREA[0])
        self.wajib_total = DEFAULT_WAJIB if default else int(round(DEFAULT_WAJIB * share))
        wrong = "16.08" if default else None  # OKU Selatan's BPS regency number; elsewhere kab/kota 00 (none has it)
        self.desa_other_kab = np.array([(wrong or d[:3] + "00") + d[5:] for d in self.desa.tolist()])

    def _scaled(self, pop: np.ndarray) -> np.ndarray:
        """Population shares with each kab/kota's sum in proportion to its ``population``."""
        kab_of_desa = np.searchsorted(np.array(self.kab), np.array([d[:5] for d in self.desa.tolist()]))
        target = np.array([population(k) for k in self.kab])
        have = np.bincount(kab_of_desa, pop, minlength=len(self.kab))
        scaled = pop * (target / have)[kab_of_desa]
        return scaled / scaled.sum()

    def desa_within(self, kec: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A desa of each row's kecamatan, drawn by recording weight (u uniform in [0, 1))."""
        lo = np.where(self.kec_lo[kec] > 0, self.rec_cum[self.kec_lo[kec] - 1], 0.0)
        hi = self.rec_cum[self.kec_hi[kec] - 1]
        idx = np.searchsorted(self.rec_cum, lo + u * (hi - lo), side="right")
        return np.clip(idx, self.kec_lo[kec], self.kec_hi[kec] - 1)
