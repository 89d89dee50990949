"""Builders for tiny landing zones and a way to run the real flows on them."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from flows.reference.wilayah import desa_codes

HEADER = "nik,nama,jenis_kelamin,tanggal_lahir,status_kawin,kode_desa,waktu_rekam,jenis_rekam,lokasi_rekam,id_alat"


def row(nik="1609014501010001", nama="Budi Santoso", jk="L", lahir="2001-01-05", kawin="KAWIN",
        desa="16.09.01.1013", waktu="2025-01-01 08:00:00", jenis="BARU", lokasi="DINAS", alat="DINAS-01") -> str:
    """One CSV line of a recording log (comma dialect); defaults are a valid row."""
    return ",".join([nik, nama, jk, lahir, kawin, desa, waktu, jenis, lokasi, alat])


@contextlib.contextmanager
def data_dir_env(data_dir: Path):
    """EKTP_DATA_DIR set to data_dir while the block runs (restored afterwards)."""
    old = os.environ.get("EKTP_DATA_DIR")
    os.environ["EKTP_DATA_DIR"] = str(data_dir)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("EKTP_DATA_DIR", None)
        else:
            os.environ["EKTP_DATA_DIR"] = old


@dataclass
class Landing:
    data_dir: Path

    def __post_init__(self):
        (self.data_dir / "raw" / "rekam").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "raw" / "penduduk").mkdir(parents=True, exist_ok=True)

    @property
    def raw(self) -> Path:
        return self.data_dir / "raw"

    def log(self, day: str, kecamatan: str, rows: list[str] | None = None, *, text: str | None = None,
            data: bytes | None = None) -> Path:
        """Write raw/rekam/<day>/<kecamatan>.csv from rows (with the header), text, or bytes."""
        path = self.raw / "rekam" / day / f"{kecamatan}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        else:
            path.write_text(text if text is not None else "\n".join([HEADER, *(rows or [])]) + "\n", encoding="utf-8")
        return path

    def snapshot(self, day: str = "2024-12-31", wajib: int = 100, sudah: int = 80,
                 overrides: dict[str, tuple[int, int, int, int]] | None = None, text: str | None = None,
                 area: tuple[str, ...] = ("16.09",), kabupaten: str | None = None) -> Path:
        """A population snapshot with every desa at (wajib, wajib, sudah, sudah) unless overridden:
        penduduk/<day>.csv with every desa of ``area``, or penduduk/<day>/<kabupaten>.csv with
        every desa of that kab/kota (contract section 4)."""
        path = self.raw / "penduduk" / (f"{day}/{kabupaten}.csv" if kabupaten else f"{day}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            lines = ["kode_desa,wajib_ktp_lk,wajib_ktp_pr,sudah_rekam_lk,sudah_rekam_pr"]
            for kode in sorted(desa_codes((kabupaten,) if kabupaten else area)):
                v = (overrides or {}).get(kode, (wajib, wajib, sudah, sudah))
                lines.append(",".join([kode, *map(str, v)]))
            text = "\n".join(lines) + "\n"
        path.write_text(text, encoding="utf-8")
        return path

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse" / "ektp.duckdb"

    @property
    def published(self) -> Path:
        return self.data_dir / "warehouse" / "ektp_analyst.duckdb"

    def query(self, sql: str, params=None, published: bool = False) -> list[tuple]:
        con = duckdb.connect(str(self.published if published else self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def run(self, last: str, start: str | None = None, flow=None, **kw) -> dict:
        """Run the real Prefect flow on this data directory (needs the prefect_api fixture). The
        flows take no directory: like `ektp` and `ektp serve`, the test sets EKTP_DATA_DIR."""
        from flows.orchestration import pipeline

        with data_dir_env(self.data_dir):
            if start is None:
                return (flow or pipeline.nightly)(run_date=last)
            return (flow or pipeline.backfill)(start=start, end=last, **kw)

    def loaded(self, current_only: bool = False) -> dict[str, list[tuple]]:
        """What the loads left, fully ordered, for equality comparisons: the file audit (its current
        versions only, with ``current_only``), the quarantine and the landed recordings (run ids aside)."""
        where = "where status <> 'superseded'" if current_only else ""
        return {
            "file_loads": self.query(f"""select source_file, sha256, status, rows_loaded, rows_quarantined, error
                                         from audit.file_loads {where} order by all"""),
            "quarantine": self.query("select source_file, line_number, reason, detail from audit.quarantine order by all"),
            "rekam": self.query("select * exclude (run_id) from landing.rekam order by all"),
        }

    def marts(self) -> dict[str, list[tuple]]:
        """Every mart, fully ordered, for equality comparisons."""
        out = {}
        for t in ("backlog", "backlog_kecamatan", "participation_trend", "log_completeness"):
            out[t] = self.query(f"select * from mart.{t} order by all")
        return out


def generated_zone(out: Path, start, end, seed: int, rows_per_day: int) -> Path:
    """A dirty generated landing zone (``flows.synth.generate``) at ``out``: quarantine and rejected
    files included; for tests that compare whole warehouses built two ways."""
    from flows.synth import generate

    generate(out, start, end, seed=seed, rows_per_day=rows_per_day, dirt=True)
    return out


def landing_copy(tmp_path: Path, raw: Path, name: str) -> Landing:
    """A data directory ``tmp_path/name`` with a copy of the landing zone ``raw``."""
    import shutil

    data = tmp_path / name
    shutil.copytree(raw, data / "raw")
    return Landing(data)

