"""The region list the generator writes for, with its stable per-desa draws (population, coverage, weights).

In: a numpy generator (the plan's first child of the seed). Out: ``_Regions``, arrays sorted by code.
Fails: OSError when the BPS spelling table cannot be read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from flows.synth.calendar import DEFAULT_COVERAGE, KEC_DEVICES


MUARA_DUA = 0  # index of 16.09.01 among the sorted kecamatan


# The generator's own data: OKU Selatan's kecamatan and desa with their BPS codes and spellings
# (kode_bps, nama_bps), which name the synthetic files the way kecamatan offices do. The BPS
# numbering is not part of the Kepmendagri list the pipeline uses (flows/wilayah.py) and never
# reaches the warehouse; tests/test_wilayah.py checks that this table's codes and names are the
# package's.
BPS_TABLE = Path(__file__).resolve().parent.parent / "reference" / "wilayah_okus.csv"


def bps_table() -> pl.DataFrame:
    """The BPS spelling table: kode, nama, jenis, kode_kecamatan, kode_bps, nama_bps."""
    return pl.read_csv(BPS_TABLE, infer_schema=False)


class _Regions:
    """Desa/kecamatan arrays (sorted by code) with a stable population and coverage draw per desa."""

    def __init__(self, rng: np.random.Generator):
        w = bps_table().sort("kode")
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
