"""The backfill on the Dask task runner (prefect-dask, a local two-worker cluster) gives exactly
the warehouse the default runner gives: same marts, same quarantine, same audit counts.

Not a timing test (see tests/bench/bench.py for figures). The landing zone is generated (dirty, so
quarantine and rejected files are exercised) and cut into many small batches, so several
prepare-batch tasks run on the workers at once while the flow's process stays the single writer.
The writer reads every file and ships the bytes; the workers resolve EKTP_NIK_KEY themselves (a
local cluster inherits this process's environment; conftest sets the key before anything starts).
The local cluster runs on TLS with a temporary certificate.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from flows.ingest import pseudonym
from flows.orchestration import run as steps
from flows.settings import load_settings
from tests.helpers import generated_zone, landing_copy

START, END = date(2025, 1, 1), date(2025, 1, 2)


@pytest.fixture(scope="module")
def raw_zone(tmp_path_factory):
    return generated_zone(tmp_path_factory.mktemp("dask_raw") / "raw", START, END, seed=7, rows_per_day=200)


@pytest.mark.slow
def test_dask_backfill_matches_default_runner(prefect_api, raw_zone, tmp_path, monkeypatch):
    from flows.orchestration import pipeline
    from flows.orchestration.parallel import dask_task_runner

    assert os.environ.get("EKTP_NIK_KEY"), "the workers need the key in the inherited environment"
    # small batches: many prepare-batch tasks, more than the parallel window
    orig = steps.batches
    monkeypatch.setattr(steps, "batches", lambda cands, max_bytes, max_files: orig(cands, max_bytes, 6))

    plain = landing_copy(tmp_path, raw_zone, "plain")
    s_plain = plain.run(END.isoformat(), start=START.isoformat())

    dask = landing_copy(tmp_path, raw_zone, "dask")
    flow = pipeline.backfill.with_options(task_runner=dask_task_runner(n_workers=2))
    s_dask = dask.run(END.isoformat(), start=START.isoformat(), flow=flow)

    assert s_plain.files_loaded > 0 and s_plain.rows_quarantined > 0
    for k in ("files_loaded", "files_rejected", "rows_loaded", "rows_quarantined", "quarantine_by_reason", "backlog"):
        assert getattr(s_dask, k) == getattr(s_plain, k), k
    assert dask.marts() == plain.marts()
    assert dask.loaded() == plain.loaded()
    # more batches than the window: the Dask path really prepared ahead
    n_batches = dask.query("select count(distinct batch_no) from audit.validation_results")[0][0]
    assert n_batches > load_settings().parallel_window


def test_pseudonymise_is_hmac_sha256(key):
    import hashlib
    import hmac

    import polars as pl

    niks = [f"{1609014501010001 + i * 7919:016d}" for i in range(5000)] + ["1609014501010001"] * 3
    got = pseudonym.pseudonymise(pl.Series("nik", niks), key)
    assert got.to_list() == [hmac.new(key, n.encode("ascii"), hashlib.sha256).hexdigest() for n in niks]
    assert got.len() == len(niks)
    long_key = b"k" * 100  # keys longer than a SHA-256 block are hashed first
    got = pseudonym.pseudonymise(pl.Series("nik", niks[:50]), long_key)
    assert got.to_list() == [hmac.new(long_key, n.encode("ascii"), hashlib.sha256).hexdigest() for n in niks[:50]]
    assert pseudonym.pseudonymise(pl.Series("nik", [], dtype=pl.Utf8), key).len() == 0
