"""Contract sections 2-3: one tiny raw file per dialect quirk, row rule and file-level defect.

Each file in tests/fixtures/rekam/ goes through the real reader and the real GX suite; the test
asserts exactly which lines are quarantined with which reason, or which reject code the file gets.
Expected outcomes live beside the files in expected.json.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from flows.ingest.landing import LandingZone
from flows.ingest.load import fetch_files, prepare_logs
from flows.orchestration.run import plan_run
from flows.settings import load_settings
from flows.warehouse.database import connect_writer

FIXTURES = Path(__file__).parent / "fixtures" / "rekam"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
DEFAULT_PATH = "rekam/2025-01-02/16.09.01.csv"


def _prepare(tmp_path: Path, name: str, key: bytes):
    spec = EXPECTED[name]
    settings = load_settings(tmp_path / "data")
    target = settings.raw_dir / spec.get("path", DEFAULT_PATH)
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / name, target)
    con = connect_writer(settings)
    try:
        with LandingZone(settings.raw_dir) as zone:
            plan = plan_run(settings, con, zone, key, date(2025, 12, 31))
            assert len(plan.candidates) == 1, "the file must be discovered"
            files = fetch_files(zone, plan.candidates, plan, settings.max_file_bytes)
    finally:
        con.close()
    return spec, prepare_logs(files, key)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_raw_file_outcome(tmp_path, key, name):
    spec, prepared = _prepare(tmp_path, name, key)
    (outcome,) = prepared.files
    if spec["status"] == "rejected":
        assert outcome.status == "rejected"
        assert outcome.error.startswith(spec["code"] + ": "), outcome.error
        assert prepared.rows is None or prepared.rows.height == 0
        return
    assert outcome.status == "loaded", outcome.error
    quarantined = {str(ln): reason for ln, reason in
                   prepared.quarantine.select("line_number", "reason").iter_rows()}
    assert quarantined == spec["quarantined"]
    loaded = prepared.rows.height if prepared.rows is not None else 0
    assert loaded == spec["rows_loaded"] == outcome.rows_loaded
    assert outcome.rows_quarantined == len(spec["quarantined"])
    assert outcome.extra_columns == spec.get("extra_columns", 0)


def test_every_reason_code_of_the_suite_has_a_fixture():
    from flows.ingest.validate import rules

    covered = {r for spec in EXPECTED.values() for r in spec.get("quarantined", {}).values()}
    assert {r.reason for r in rules("rekam_log")} <= covered


def test_quarantine_detail_never_holds_the_raw_value(tmp_path, key):
    _, prepared = _prepare(tmp_path, "r02_nik_15_digits.csv", key)
    detail = prepared.quarantine["detail"][0]
    assert "160901520899000" not in detail and "Siti" not in detail
    assert detail.startswith("NIK is not exactly 16 digits")


def test_reading_all_fixtures_as_one_batch_gives_what_reading_each_alone_gives():
    """parse_files splits the quote-free files of a batch together (grouped by header); every
    file must still get exactly its own rows, line numbers, malformed records and rejection."""
    import polars as pl

    from flows.ingest.read import REKAM_COLUMNS, FileRejected, parse_file, parse_files

    paths = sorted(FIXTURES.glob("*.csv"))
    paths = paths + paths[:5]            # the same file twice in a batch stays two files
    batch = parse_files([p.read_bytes() for p in paths], REKAM_COLUMNS)
    assert len(batch.files) == len(paths)
    rejected = 0
    for i, path in enumerate(paths):
        got = batch.files[i]
        try:
            alone = parse_file(path.read_bytes(), REKAM_COLUMNS)
        except FileRejected as exc:
            assert got.rejected is not None and got.rejected.code == exc.code, path.name
            assert batch.rows.filter(pl.col("file_index") == i).height == 0
            rejected += 1
            continue
        assert got.rejected is None, path.name
        assert (got.malformed, got.extra_columns) == (alone.malformed, alone.extra_columns), path.name
        assert batch.rows.filter(pl.col("file_index") == i).drop("file_index").equals(alone.rows), path.name
    assert rejected >= 5 and batch.rows["file_index"].is_sorted()
