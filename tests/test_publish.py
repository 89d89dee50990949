"""Issue 3: analysts read a published copy that is swapped in only after a run succeeds."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from flows.errors import StageFailed
from flows.warehouse import database as warehouse
from tests.helpers import row

pytestmark = pytest.mark.usefixtures("prefect_api")

HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    n = con.execute("select sum(rekam_total) from mart.participation_trend").fetchone()[0]
    print(n, flush=True)
    sys.stdin.readline()          # hold the connection open until told
    print(con.execute("select sum(rekam_total) from mart.participation_trend").fetchone()[0], flush=True)
""")


def test_an_analyst_holding_the_published_copy_open_does_not_stop_a_run(landing):
    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [row(waktu="2025-01-01 08:00:00")])
    landing.run("2025-01-01")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(landing.published)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "1"
        landing.log("2025-01-02", "16.09.01", [row(nik="1609014501010002", waktu="2025-01-02 08:00:00")])
        summary = landing.run("2025-01-02")  # must not fail or wait because of the reader
        assert summary.rows_loaded == 1
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "1"  # the reader keeps its consistent old copy
    finally:
        holder.kill()
        holder.wait()
    assert landing.query("select sum(rekam_total) from mart.participation_trend", published=True) == [(2,)]


def test_a_failed_run_leaves_the_published_copy_untouched(landing, tmp_path, monkeypatch):
    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [row(waktu="2025-01-01 08:00:00")])
    landing.run("2025-01-01")
    before = landing.published.read_bytes()
    broken = tmp_path / "sql"
    shutil.copytree(warehouse.SQL_DIR, broken)
    (broken / "mart" / "backlog.sql").write_text("select no_such_column from core.desa")
    monkeypatch.setattr(warehouse, "SQL_DIR", broken)
    landing.log("2025-01-02", "16.09.01", [row(nik="1609014501010002", waktu="2025-01-02 08:00:00")])
    with pytest.raises(StageFailed, match="stage build-marts failed with BinderException"):
        landing.run("2025-01-02")
    assert landing.published.read_bytes() == before
    assert landing.query("select status from audit.runs order by started_at") == [("completed",), ("failed",)]
    monkeypatch.undo()
    # the file's batch was committed before the marts failed: the rerun loads nothing again,
    # rebuilds the marts and publishes them (it finishes the job)
    summary = landing.run("2025-01-02")
    assert summary.files_loaded == 0 and summary.files_unchanged == 3
    assert landing.query("select sum(rekam_total) from mart.participation_trend", published=True) == [(2,)]


def test_query_refuses_to_write(landing, capsys):
    from flows.cli import main

    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [row(waktu="2025-01-01 08:00:00")])
    landing.run("2025-01-01")
    capsys.readouterr()  # drop the run's own progress lines (a CLI test may have installed a reporter)
    code = main(["query", "--data-dir", str(landing.data_dir), "delete from mart.backlog"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("ektp: query failed:") and err.count("\n") == 1
    assert landing.query("select count(*) from mart.backlog", published=True) == [(259,)]
    assert main(["query", "--data-dir", str(landing.data_dir), "--format", "csv",
                 "select count(*) as n from mart.backlog_kecamatan"]) == 0
    assert capsys.readouterr().out == "n\n19\n"


def test_the_copy_updates_audit_file_loads_row_by_row_and_holds_exactly_the_writers_rows(landing, monkeypatch):
    """Issue 19: a night's publish deletes and inserts only the rows of audit.file_loads that changed
    (a replaced file: its old version superseded, its new one added) rather than writing ~86,000 rows
    of a province year again; the copy still holds exactly the writer's rows."""
    from flows.outputs import publish as publishing

    taken = []
    original = publishing._rows_replaced

    def spy(con, rel, sql, wanted):
        got = original(con, rel, sql, wanted)
        taken.append((rel, got))
        return got

    monkeypatch.setattr(publishing, "_rows_replaced", spy)
    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [row(waktu="2025-01-01 08:00:00")])
    landing.log("2025-01-02", "16.09.01", [row(nik="1609014501010002", waktu="2025-01-02 08:00:00")])
    landing.run("2025-01-02")
    taken.clear()
    landing.log("2025-01-02", "16.09.01", [row(nik="1609014501010002", waktu="2025-01-02 09:00:00")])   # re-sent
    landing.log("2025-01-03", "16.09.01", [row(nik="1609014501010003", waktu="2025-01-03 08:00:00")])
    landing.run("2025-01-03")
    assert ("audit.file_loads", True) in taken                  # the second run's copy was updated row by row
    writer = landing.query("select * from audit.file_loads order by all")
    assert [r[2] for r in writer].count("superseded") == 1
    assert landing.query("select * from audit.file_loads order by all", published=True) == writer


def test_a_copy_whose_table_has_other_columns_is_written_whole(tmp_path):
    import duckdb

    from flows.outputs.publish import _rows_replaced

    con = duckdb.connect()
    con.execute("create schema audit")
    con.execute("create table audit.file_loads as select 'a' as source_file, 1 as n union all select 'b', 2")
    con.execute(f"attach '{tmp_path / 'copy.duckdb'}' as analyst_copy")
    con.execute("create schema analyst_copy.audit")
    con.execute("create table analyst_copy.audit.file_loads as select 'a' as source_file")       # an older shape
    wanted = con.execute("describe select * from audit.file_loads").fetchall()
    assert _rows_replaced(con, "audit.file_loads", "select * from audit.file_loads", wanted) is False
    assert con.execute("select * from analyst_copy.audit.file_loads").fetchall() == [("a",)]   # untouched
    con.execute("create or replace table analyst_copy.audit.file_loads as select 'a' as source_file, 9 as n "
                "union all select 'c', null")
    assert _rows_replaced(con, "audit.file_loads", "select * from audit.file_loads", wanted) is True
    assert con.execute("select * from analyst_copy.audit.file_loads order by all").fetchall() == [("a", 1), ("b", 2)]
    assert _rows_replaced(con, "audit.runs", "select * from audit.file_loads", wanted) is False          # not a DIFFED relation
