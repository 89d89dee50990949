"""The synthetic landing zone: deterministic, calibrated, structurally right, dirty on purpose."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import polars as pl

from flows.generate import generate
from flows.read import REKAM_COLUMNS, read_file
from flows.wilayah import desa_codes, kecamatan_codes

NIK_RULE = re.compile(r"^'?(1[1-9]|[2-8]\d|9[0-6])\d{4}(0[1-9]|[12]\d|3[01]|4[1-9]|[56]\d|7[01])(0[1-9]|1[0-2])\d{2}(?!0000)\d{4}$")


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    a = generate(tmp_path / "a", date(2025, 2, 3), date(2025, 2, 5), seed=7)
    b = generate(tmp_path / "b", date(2025, 2, 3), date(2025, 2, 5), seed=7)
    c = generate(tmp_path / "c", date(2025, 2, 3), date(2025, 2, 5), seed=8)
    assert a.rows_written == b.rows_written
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def test_calibrated_snapshot_leaves_room_for_the_new_recordings(tmp_path):
    s = generate(tmp_path, date(2025, 1, 1), date(2025, 1, 20), seed=3, calibrate_to=(270_764, 213_572))
    snap = pl.read_csv(tmp_path / "penduduk" / "2024-12-31.csv")
    new = s.expected["expected_new_wajib_by_desa"]
    assert set(snap["kode_desa"]) == desa_codes() and snap.height == 259
    assert int(snap["wajib_ktp_lk"].sum() + snap["wajib_ktp_pr"].sum()) == 270_764
    assert int(snap["sudah_rekam_lk"].sum() + snap["sudah_rekam_pr"].sum()) + sum(new.values()) == 213_572
    for r in snap.iter_rows(named=True):
        assert r["sudah_rekam_lk"] <= r["wajib_ktp_lk"] and r["sudah_rekam_pr"] <= r["wajib_ktp_pr"]
        assert r["wajib_ktp_lk"] + r["wajib_ktp_pr"] - r["sudah_rekam_lk"] - r["sudah_rekam_pr"] - new.get(r["kode_desa"], 0) >= 0


def test_dirt_covers_every_reason_and_file_defect(tmp_path):
    s = generate(tmp_path, date(2025, 1, 15), date(2025, 2, 28), seed=2025)
    reasons = set(s.expected["expected_quarantine_by_reason"])
    from flows.validate import rules

    assert {r.reason for r in rules("rekam_log")} | {"duplicate_row"} <= reasons
    codes = {f["reason_code"] for f in s.expected["expected_rejected_files"]}
    assert {"empty_file", "missing_columns", "unknown_kecamatan", "folder_not_a_date"} <= codes
    assert s.expected["expected_missing"], "broken devices leave some kecamatan-days without a file"


def test_clean_generation_has_only_valid_rows_in_canonical_files(tmp_path):
    s = generate(tmp_path, date(2025, 3, 3), date(2025, 3, 4), seed=1, dirt=False)
    assert s.dirty_rows == 0 and s.rejected_files == 0
    files = sorted((tmp_path / "rekam").rglob("*.csv"))
    assert {p.stem for p in files} <= kecamatan_codes()
    for p in files:
        assert p.read_bytes().startswith(b"nik,nama,jenis_kelamin,")
        rows = read_file(p, REKAM_COLUMNS).rows
        assert all(NIK_RULE.match(n) for n in rows["nik"].to_list())
        assert set(rows["kode_desa"].to_list()) <= desa_codes()


def test_rows_per_day_scales_vectorised(tmp_path):
    s = generate(tmp_path, date(2025, 3, 3), date(2025, 3, 3), seed=1, rows_per_day=20_000, dirt=False)
    assert 19_500 <= s.rows_written <= 20_600
