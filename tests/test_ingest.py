"""Issue 2 acceptance through the real Prefect flows: idempotent loads, re-sent files, late files,
date cut-off, privacy of every warehouse text column."""

from __future__ import annotations

import duckdb
import pytest

from tests.helpers import row

pytestmark = pytest.mark.usefixtures("prefect_api")

NAMES = ["Budi Santoso", "Siti Aminah", "Rahmat Hidayat", "Dewi Lestari"]
NIKS = ["1609014501010001", "1609015208990002", "1609020303030003", "1609036404040004"]


def _zone(landing):
    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [
        row(nik=NIKS[0], nama=NAMES[0], waktu="2025-01-01 08:00:00"),
        row(nik=NIKS[1], nama=NAMES[1], jk="P", lahir="1999-08-12", kawin="BELUM KAWIN", desa="16.09.02.2012",
            waktu="2025-01-01 09:00:00", lokasi="DINAS"),
        row(nik="12345", nama=NAMES[2], waktu="2025-01-01 09:10:00"),  # quarantined: nik_not_16_digits
    ])
    landing.log("2025-01-02", "16.09.02", [
        row(nik=NIKS[2], nama=NAMES[2], lahir="2003-03-03", desa="16.09.02.2013", waktu="2025-01-02 10:00:00",
            lokasi="JEMPUT_BOLA", alat="MOBILE-01"),
    ])


def _snapshot_of_tables(landing) -> dict:
    out = {}
    for t in ("landing.rekam", "landing.penduduk", "audit.quarantine", "mart.backlog", "mart.participation_trend",
              "mart.log_completeness"):
        cols = "* exclude (run_id)" if t.startswith(("landing", "audit")) else "*"
        out[t] = landing.query(f"select {cols} from {t} order by all")
    out["file_versions"] = landing.query("select source_file, sha256, status, rows_loaded, rows_quarantined from audit.file_loads order by all")
    return out


def test_loading_the_same_landing_zone_twice_changes_nothing(landing):
    _zone(landing)
    first = landing.run("2025-01-02")
    before = _snapshot_of_tables(landing)
    second = landing.run("2025-01-02")
    assert first.files_loaded == 3 and first.rows_loaded == 3 and first.rows_quarantined == 1
    assert second.files_loaded == 0 and second.files_unchanged == 3 and second.rows_loaded == 0
    assert _snapshot_of_tables(landing) == before


def test_marts_are_rebuilt_only_when_the_warehouse_changed(landing):
    _zone(landing)
    landing.run("2025-01-02")
    builds = lambda: landing.query("select run_id from audit.model_builds order by built_at")  # noqa: E731
    marts = landing.marts()
    assert len(builds()) == 1
    landing.run("2025-01-02")                       # nothing new: the marts are reused as built
    assert len(builds()) == 1 and landing.marts() == marts
    assert landing.query("select count(distinct run_id) from audit.check_results") == [(2,)]   # checks still run
    landing.log("2025-01-02", "16.09.03", [row(nik=NIKS[3], nama=NAMES[3], desa="16.09.03.2020",
                                               waktu="2025-01-02 11:00:00")])
    landing.run("2025-01-02")                       # a late file: rebuilt
    assert len(builds()) == 2 and landing.marts() != marts
    with duckdb.connect(str(landing.warehouse)) as con:   # a build that never finished leaves no record
        con.execute("delete from audit.model_builds")
    landing.run("2025-01-02")
    assert len(builds()) == 1


def test_a_touched_but_unchanged_file_is_hashed_once_then_known_by_its_mtime(landing, monkeypatch):
    import os

    from flows.ingest.landing import LandingZone

    _zone(landing)
    landing.run("2025-01-02")
    path = landing.raw / "rekam" / "2025-01-01" / "16.09.01.csv"
    before = _snapshot_of_tables(landing)
    new_mtime = path.stat().st_mtime_ns + 3_600 * 10**9
    os.utime(path, ns=(new_mtime, new_mtime))            # a copy that kept the bytes but not the time
    hashed = []
    real = LandingZone.read
    monkeypatch.setattr(LandingZone, "read", lambda self, rel, *a: hashed.append(rel.rsplit("/", 1)[-1]) or real(self, rel, *a))
    second = landing.run("2025-01-02")
    assert hashed == ["16.09.01.csv"] and second.files_unchanged == 3 and second.files_loaded == 0
    assert landing.query("select mtime_ns from audit.file_loads where source_file = 'rekam/2025-01-01/16.09.01.csv'"
                         " and status <> 'superseded'") == [(new_mtime,)]
    assert _snapshot_of_tables(landing) == before        # no new file version, same rows and marts
    hashed.clear()
    landing.run("2025-01-02")
    assert hashed == []                                  # recognised by (size, mtime) again


def test_resent_corrected_file_replaces_its_rows_and_quarantine(landing):
    _zone(landing)
    landing.run("2025-01-02")
    # the kecamatan fixes the bad NIK and re-sends the whole log
    landing.log("2025-01-01", "16.09.01", [
        row(nik=NIKS[0], nama=NAMES[0], waktu="2025-01-01 08:00:00"),
        row(nik=NIKS[1], nama=NAMES[1], jk="P", lahir="1999-08-12", kawin="BELUM KAWIN", desa="16.09.02.2012",
            waktu="2025-01-01 09:00:00"),
        row(nik=NIKS[3], nama=NAMES[3], jk="P", lahir="2004-04-24", waktu="2025-01-01 09:10:00"),
    ])
    summary = landing.run("2025-01-02")
    assert summary.files_loaded == 1 and summary.files_replaced == 1
    src = "rekam/2025-01-01/16.09.01.csv"
    assert landing.query("select count(*) from landing.rekam where source_file = ?", [src]) == [(3,)]
    assert landing.query("select count(*) from audit.quarantine where source_file = ?", [src]) == [(0,)]
    assert landing.query("select status, rows_loaded, rows_quarantined from audit.file_loads where source_file = ? order by loaded_at",
                         [src]) == [("superseded", 2, 1), ("loaded", 3, 0)]
    assert landing.query("select rekam_baru from mart.participation_trend where tanggal = '2025-01-01' and kode_kecamatan = '16.09.01'") == [(2,)]


def test_late_file_for_an_earlier_day_is_picked_up_by_the_next_run(landing):
    _zone(landing)
    landing.run("2025-01-02")
    assert landing.query("select status from mart.log_completeness where tanggal = '2025-01-01' and kode_kecamatan = '16.09.05'") == [("missing",)]
    landing.log("2025-01-01", "16.09.05", [row(nik="1609054505050005", desa="16.09.05.2001", waktu="2025-01-01 11:00:00")])
    summary = landing.run("2025-01-03")
    assert summary.files_loaded == 1
    assert landing.query("select status, rows_loaded from mart.log_completeness where tanggal = '2025-01-01' and kode_kecamatan = '16.09.05'") == [("loaded", 1)]


def test_logs_and_snapshots_dated_after_the_run_date_are_left_untouched(landing):
    _zone(landing)
    landing.snapshot("2025-01-02", wajib=200, sudah=150)
    landing.log("2025-01-03", "16.09.03", [row(nik="1609034505050007", desa="16.09.03.2020", waktu="2025-01-03 08:00:00")])
    summary = landing.run("2025-01-01")
    assert summary.files_later == 3  # the 2025-01-02 log, the 2025-01-02 snapshot, the 2025-01-03 log
    assert landing.query("select distinct log_date::varchar from audit.file_loads order by 1") == [("2024-12-31",), ("2025-01-01",)]
    assert landing.query("select max(tanggal)::varchar from mart.participation_trend") == [("2025-01-01",)]


def test_a_rejected_file_never_stops_the_other_files(landing):
    _zone(landing)
    landing.log("2025-01-02", "16.09.04", data=b"")
    summary = landing.run("2025-01-02")
    assert summary.files_rejected == 1 and summary.files_loaded == 3
    assert landing.query("select status, error from mart.log_completeness where tanggal = '2025-01-02' and kode_kecamatan = '16.09.04'") == [
        ("rejected", "empty_file: the file is empty (0 bytes)")]


def test_no_nik_or_name_in_any_text_column_of_any_warehouse_table(landing):
    _zone(landing)
    landing.run("2025-01-02")
    needles = NIKS + ["12345"] + NAMES + [n.split()[0] for n in NAMES]
    for path in (landing.warehouse, landing.published):
        con = duckdb.connect(str(path), read_only=True)
        try:
            cols = con.execute("""select table_schema, table_name, column_name from information_schema.columns
                                  where data_type = 'VARCHAR'""").fetchall()
            assert len(cols) > 30
            for schema, table, column in cols:
                values = {v for (v,) in con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall() if v}
                for needle in needles:
                    assert not any(needle in v for v in values), f"{needle!r} found in {schema}.{table}.{column}"
        finally:
            con.close()


def test_person_id_is_the_keyed_hmac_not_a_plain_hash(landing, key):
    import hashlib
    import hmac

    _zone(landing)
    landing.run("2025-01-02")
    ids = {r[0] for r in landing.query("select person_id from landing.rekam")}
    assert hmac.new(key, NIKS[0].encode(), hashlib.sha256).hexdigest() in ids
    assert hashlib.sha256(NIKS[0].encode()).hexdigest() not in ids


def test_validation_outcomes_are_kept_per_run(landing):
    _zone(landing)
    summary = landing.run("2025-01-02")
    rows = landing.query("select reason, element_count, unexpected_count from audit.validation_results where run_id = ? and suite = 'rekam_log'",
                         [summary.run_id])
    from flows.ingest.validate import rules

    assert len(rows) == len(rules("rekam_log")) == 19  # every expectation's outcome is kept
    assert ("nik_not_16_digits", 4, 1) in rows and ("jenis_kelamin_invalid", 4, 0) in rows
    snapshot_rows = landing.query("select count(*) from audit.validation_results where run_id = ? and suite = 'penduduk_snapshot' and success",
                                  [summary.run_id])
    assert snapshot_rows == [(len(rules("penduduk_snapshot")),)]


def test_a_library_error_quoting_a_nik_and_a_name_leaves_the_process_only_as_stage_and_type(landing, monkeypatch):
    """An unexpected failure whose text carries row values (real DuckDB and Polars messages)
    reaches Prefect (logs, flow and task states), audit.runs and the raised exception only as its
    stage, its type and a fixed sentence; the text itself stays in this process (for `ektp -v`)."""
    import polars as pl
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    from flows.errors import StageFailed, original_text
    from flows.orchestration import run as steps

    nik, name = NIKS[0], NAMES[0]

    flow_runs = []

    def load_log_batch(con, *args, **kwargs):
        from prefect.runtime import flow_run

        flow_runs.append(flow_run.id)
        try:
            pl.Series("nama", [name]).cast(pl.Int64)
        except pl.exceptions.PolarsError:
            con.execute("select cast(? as smallint)", [nik])

    _zone(landing)
    monkeypatch.setattr(steps, "load_log_batch", load_log_batch)
    with pytest.raises(StageFailed) as failure:
        landing.run("2025-01-02")
    assert str(failure.value).startswith("stage write-batch failed with ConversionException")
    assert failure.value.__context__ is None and failure.value.__cause__ is None   # nothing chained leads back
    assert nik in original_text() and "ConversionException" in original_text()    # kept for the terminal only

    [(status, message)] = landing.query("select status, message from audit.runs")
    assert status == "failed" and message.startswith("StageFailed: stage write-batch failed with ConversionException")
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        fr = client.read_flow_run(flow_runs[0])
        assert fr.state.is_failed()
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[fr.id])))
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr.id])))
    said = [fr.state.message or ""] + [t.state.message or "" for t in tasks] + [log.message for log in logs]
    assert any("ConversionException" in s for s in said), said    # the failure itself is reported
    for s in said:
        assert nik not in s and name not in s and name.split()[0] not in s and "smallint" not in s.lower(), s
