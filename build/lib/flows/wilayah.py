"""The official region list (Kepmendagri 300.2.2-2138/2025) shipped with the project."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import polars as pl

REFERENCE_CSV = Path(__file__).resolve().parent / "reference" / "wilayah_okus.csv"
# Kemendagri codes: the regency is 16.09 (BPS numbers it 1608 -- never mix the two).


@lru_cache(maxsize=1)
def wilayah() -> pl.DataFrame:
    """All rows of the reference list: kode, nama, jenis, kode_kecamatan, kode_bps, nama_bps."""
    return pl.read_csv(REFERENCE_CSV, infer_schema=False)


@lru_cache(maxsize=1)
def kecamatan_codes() -> frozenset[str]:
    return frozenset(wilayah().filter(pl.col("jenis") == "kecamatan")["kode"].to_list())


@lru_cache(maxsize=1)
def desa_codes() -> frozenset[str]:
    return frozenset(wilayah().filter(pl.col("jenis") != "kecamatan")["kode"].to_list())
