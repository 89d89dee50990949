"""Log batches on the default runner: a batch is written (DuckDB, in a task thread) while the next
one is prepared (issue 19). The warehouse is the same as with one batch, the writes keep their
order and never overlap, and a batch that fails while the one before it is being written fails
the run without losing or half-writing anything; the next run completes the load."""

from __future__ import annotations

from datetime import date

import pytest

from flows.orchestration import pipeline
from flows.orchestration import run as steps
from tests.helpers import Landing, generated_zone, landing_copy

START, END = date(2025, 1, 1), date(2025, 1, 2)


@pytest.fixture(scope="module")
def raw_zone(tmp_path_factory):
    return generated_zone(tmp_path_factory.mktemp("batches_raw") / "raw", START, END, seed=11, rows_per_day=150)


def _state(landing: Landing) -> dict:
    return {**landing.loaded(current_only=True), "marts": landing.marts()}


def _backfilled(tmp_path, raw_zone, name: str):
    """A copy of the generated zone after a backfill of START..END."""
    land = landing_copy(tmp_path, raw_zone, name)
    land.run(END.isoformat(), start=START.isoformat())
    return land


def _small_batches(monkeypatch, files: int = 5) -> None:
    orig = steps.batches
    monkeypatch.setattr(steps, "batches", lambda cands, max_bytes, max_files: orig(cands, max_bytes, files))


@pytest.mark.slow
def test_batches_written_while_the_next_is_prepared_give_the_warehouse_of_one_batch(
        prefect_api, raw_zone, tmp_path, monkeypatch):
    one = _backfilled(tmp_path, raw_zone, "one")

    _small_batches(monkeypatch)
    writes: list[tuple[int, str, str]] = []   # (batch_no, "start"/"end", thread name)
    orig_load = steps.load_log_batch

    def recorded(con, prepared, run_id, batch_no, totals):
        import threading

        writes.append((batch_no, "start", threading.current_thread().name))
        orig_load(con, prepared, run_id, batch_no, totals)
        writes.append((batch_no, "end", threading.current_thread().name))

    monkeypatch.setattr(steps, "load_log_batch", recorded)
    many = _backfilled(tmp_path, raw_zone, "many")

    n = many.query("select count(distinct batch_no) from audit.validation_results where suite = 'rekam_log'")[0][0]
    assert n >= 4, "the zone must be cut into several batches"
    order = [(b, what) for b, what, _ in writes]
    assert order == [(b, what) for b in range(1, n + 1) for what in ("start", "end")], \
        "the writes run one at a time, in batch order"
    assert any(thread != "MainThread" for _, _, thread in writes), "the writes ran in a task thread"
    assert _state(many) == _state(one)


@pytest.mark.slow
def test_a_batch_failing_while_the_previous_is_written_fails_the_run_and_the_next_run_completes(
        prefect_api, raw_zone, tmp_path, monkeypatch):
    clean = _backfilled(tmp_path, raw_zone, "clean")

    _small_batches(monkeypatch)
    calls = {"n": 0}
    orig_prepare = pipeline.prepare

    def failing(feed, files, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:      # batch 3 fails while batch 2 is being written
            raise RuntimeError("simulated failure while preparing batch 3")
        return orig_prepare(feed, files, *args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare", failing)
    broken = landing_copy(tmp_path, raw_zone, "broken")
    with pytest.raises(Exception, match="stage prepare-batch failed with RuntimeError"):
        broken.run(END.isoformat(), start=START.isoformat())
    assert broken.query("select status from audit.runs") == [("failed",)]
    # the batches written before the failure are whole: each file's rows all there, or none
    loaded = broken.query("""select f.source_file, f.rows_loaded, count(r.line_number)
                              from audit.file_loads f left join landing.rekam r using (source_file)
                              where f.kind = 'rekam' and f.status = 'loaded' group by all""")
    assert loaded, "the batches before the failure were committed"
    assert all(rows == n for _, rows, n in loaded)
    assert broken.query("select count(distinct batch_no) from audit.validation_results where suite = 'rekam_log'") \
        == [(2,)]

    monkeypatch.setattr(pipeline, "prepare", orig_prepare)
    broken.run(END.isoformat(), start=START.isoformat())
    assert _state(broken) == _state(clean)


@pytest.mark.slow
def test_the_backup_is_copied_while_the_report_renders_and_a_failed_backup_still_fails_the_run(
        prefect_api, raw_zone, tmp_path, monkeypatch):
    import threading

    from flows.outputs import publish as publishing

    seen: list[str] = []
    orig_backup = pipeline.backup

    def recorded(settings, run_id):
        seen.append(threading.current_thread().name)
        return orig_backup(settings, run_id)

    monkeypatch.setattr(pipeline, "backup", recorded)
    land = landing_copy(tmp_path, raw_zone, "backup")
    land.run(START.isoformat())
    report = land.data_dir / "warehouse" / "report.html"
    assert report.exists()
    assert seen and seen[0] != "MainThread", "the backup ran in a task thread, beside the report"
    from flows.settings import load_settings
    from tests.helpers import data_dir_env

    with data_dir_env(land.data_dir):
        assert len(publishing.list_backups(load_settings())) == 1

    def failing(settings, run_id):
        raise OSError("simulated: the backup disk is full")

    monkeypatch.setattr(pipeline, "backup", failing)
    before = report.stat().st_mtime_ns
    with pytest.raises(Exception, match="stage backup failed with OSError"):
        land.run(END.isoformat())
    assert report.stat().st_mtime_ns > before, "the report was still rendered while the backup failed"


def test_a_batch_of_new_paths_skips_the_replacement_and_a_resent_file_is_still_replaced(prefect_api, tmp_path, monkeypatch):
    """Issue 19: the deletes that replace earlier versions (each a scan of a whole landing table) run
    only when a path of the batch has a current version; a re-sent log still replaces its rows."""
    from flows.ingest import load
    from tests.helpers import row

    seen: list[bool] = []
    original = load._earlier_versions

    def spy(con):
        got = original(con)
        seen.append(got)
        return got

    monkeypatch.setattr(load, "_earlier_versions", spy)
    land = Landing(tmp_path / "data")
    land.snapshot()
    land.log("2025-01-01", "16.09.01", [row(waktu="2025-01-01 08:00:00"), row(nik="1609014501010002", waktu="2025-01-01 09:00:00")])
    land.run("2025-01-01")
    assert seen and not any(seen)                   # only new paths: nothing to replace
    seen.clear()
    land.log("2025-01-01", "16.09.01", [row(nik="1609014501010003", waktu="2025-01-01 10:00:00")])      # re-sent
    land.run("2025-01-01")
    assert seen == [True]
    assert land.query("select count(*) from landing.rekam") == [(1,)]
    assert land.query("select status from audit.file_loads where kind = 'rekam' order by loaded_at") == \
        [("superseded",), ("loaded",)]


def test_a_checkpoint_failing_beside_the_report_marks_the_run_failed_without_the_librarys_text(tmp_path):
    """The writer's checkpoint runs in the backup's thread (issue 19): when it fails, the run is
    marked failed in audit.runs with the exception's type only, never its text (a library message
    can quote a name or a path), and the connection is closed."""
    import duckdb

    from flows.errors import StageFailed
    from flows.warehouse.database import SQL_DIR

    path = tmp_path / "ektp.duckdb"
    real = duckdb.connect(str(path))
    real.execute((SQL_DIR / "schema.sql").read_text(encoding="utf-8"))
    steps.start_run(real, "r1", "nightly", date(2025, 1, 1), None)

    class CheckpointFails:      # the real connection, whose checkpoint meets a full disk
        closed = False

        def execute(self, sql, *args):
            if sql == "checkpoint":
                raise duckdb.IOException("could not write /data/SITI AMINAH 1609015205900001.wal: No space left")
            return real.execute(sql, *args)

        def close(self):
            self.closed = True

    con = CheckpointFails()
    with pytest.raises(StageFailed, match="stage backup failed with IOException"):
        pipeline.backup_task.fn(None, "r1", con)
    status, message = real.execute("select status, message from audit.runs where run_id = 'r1'").fetchone()
    real.close()
    assert status == "failed" and "IOException" in message
    assert "SITI" not in message and "1609015205900001" not in message and "No space" not in message
    assert con.closed
