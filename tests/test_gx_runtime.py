"""How Great Expectations is run (issue 19): its import leaves out what pandas validation does not
need, and an expectation's configuration is built once per GX call. Neither changes an outcome."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from flows.ingest import validate
from flows.ingest.feeds import REKAM
from flows.ingest.read import parse_files

FIXTURES = Path(__file__).parent / "fixtures" / "rekam"


@pytest.fixture(autouse=True)
def in_this_process():
    """These tests are about Great Expectations in this process: no companion process (an
    in-process `ektp run` of another test may have started one)."""
    from flows import companion

    companion.stop()


def _fixture_rows() -> pl.DataFrame:
    """Every readable row fixture (each breaks one or more rules, or none), in one batch."""
    files = sorted(p for p in FIXTURES.glob("[dr]*.csv"))
    got = parse_files([p.read_bytes() for p in files], REKAM.columns, REKAM.optional)
    names = [p.name for p in files]
    idx = got.rows["file_index"]
    return got.rows.drop("file_index").with_columns(
        source_file=pl.Series([f"rekam/2025-01-02/{n}" for n in names]).gather(idx),
        log_date=pl.lit("2025-01-02"), file_sha256=pl.lit("0" * 64))


def test_validation_gives_the_same_outcome_with_configurations_built_once(monkeypatch):
    rows = _fixture_rows()
    once, once_summary = validate.validate_rekam(rows)
    assert once["reason"].null_count() < once.height, "the fixtures must break some rules"
    assert once["reason"].null_count() > 0, "and keep some rows"
    monkeypatch.setattr(validate, "_configurations_built_once", contextlib.nullcontext)
    every_time, every_time_summary = validate.validate_rekam(rows)
    assert once.select("line_number", "source_file", "reason", "detail").equals(
        every_time.select("line_number", "source_file", "reason", "detail"))
    assert once_summary == every_time_summary


def test_the_configuration_property_is_restored_after_a_gx_call():
    from great_expectations.expectations.expectation import Expectation

    before = Expectation.__dict__["configuration"]
    validate.validate_rekam(_fixture_rows())
    assert Expectation.__dict__["configuration"] is before


def test_validation_runs_without_loading_sqlalchemy_scipy_stats_or_altair():
    """In a fresh process: validating a batch does not load SQLAlchemy, and scipy.stats and altair
    stay unloaded (lazy placeholders); the import finder is gone afterwards; the import's objects
    are frozen (gc.freeze: full collections no longer walk them)."""
    code = (
        "import sys, importlib.util\n"
        "from tests.test_gx_runtime import _fixture_rows\n"
        "from flows.ingest import validate\n"
        "frame, _ = validate.validate_rekam(_fixture_rows())\n"
        "assert frame['reason'].null_count() < frame.height\n"
        "lazy = importlib.util._LazyModule\n"
        "print('sqlalchemy' in sys.modules,"
        " [m for m in ('scipy.stats', 'altair') if m in sys.modules and type(sys.modules[m]) is not lazy],"
        " any(type(f).__name__ == '_DeferredImports' for f in sys.meta_path))\n"
        "import gc; print(gc.get_freeze_count() > 100_000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split("\n")
    assert lines[-3] == "False [] False"
    assert lines[-2] == "True", "the import's objects are frozen out of later full collections"


def test_an_expectation_great_expectations_cannot_evaluate_stops_the_run_instead_of_passing():
    """GX 1.x reports an exception per metric; a rule on a column the frame lacks must raise
    ValidationError (it used to pass silently: success false, no row unexpected)."""
    with pytest.raises(validate.ValidationError, match="could not evaluate"):
        validate.run_suite_here(validate.REKAM_SUITE, pl.DataFrame({"nik": ["1"]}))
