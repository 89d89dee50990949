"""Issue 3: `ektp demo` reproduces the published February figures exactly, and the analysts'
example queries run against the demo warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow   # generates two months and runs the whole pipeline

EXAMPLES = sorted((Path(__file__).parent.parent / "sql" / "examples").glob("*.sql"))


@pytest.fixture(scope="module")
def demo(prefect_api, tmp_path_factory):
    from flows.cli import main

    data_dir = tmp_path_factory.mktemp("demo") / "data"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["demo", "--data-dir", str(data_dir)])
    assert code == 0
    return data_dir, out.getvalue()


def test_demo_reproduces_the_published_february_figures(demo):
    data_dir, printed = demo
    con = duckdb.connect(str(data_dir / "warehouse" / "ektp_analyst.duckdb"), read_only=True)
    try:
        w, s, b = con.execute("""select sum(wajib_ktp), sum(sudah_rekam), sum(belum_rekam)
                                 from mart.backlog_kecamatan where as_of_date = '2025-02-28'""").fetchone()
    finally:
        con.close()
    assert (w, s, b) == (270_764, 213_572, 57_192)
    assert round(100 * s / w, 2) == 78.88
    assert "wajib KTP     270,764" in printed and "belum rekam    57,192 (78.88 %)" in printed
    assert "Largest backlog: Kecamatan" in printed and "New recordings by channel: DINAS" in printed


def test_demo_has_realistic_dirt_quarantined_and_rejected(demo):
    data_dir, printed = demo
    con = duckdb.connect(str(data_dir / "warehouse" / "ektp_analyst.duckdb"), read_only=True)
    try:
        reasons = dict(con.execute("select reason, sum(rows) from audit.quarantine_summary group by all").fetchall())
        rejected = con.execute("select count(*) from audit.file_loads where status = 'rejected'").fetchone()[0]
        missing = con.execute("select count(*) from mart.log_completeness where status = 'missing'").fetchone()[0]
        days = con.execute("select count(distinct tanggal) from mart.participation_trend").fetchone()[0]
    finally:
        con.close()
    assert len(reasons) >= 10 and rejected >= 1 and missing >= 1
    assert days == 59


def test_running_the_demo_again_reloads_nothing(demo):
    from flows.cli import main

    data_dir, _ = demo
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo", "--data-dir", str(data_dir)]) == 0
    assert "0 loaded" in out.getvalue() and "57,192" in out.getvalue()


@pytest.mark.parametrize("query", EXAMPLES, ids=lambda p: p.stem)
def test_example_query_runs_on_the_demo_warehouse(demo, query):
    data_dir, _ = demo
    con = duckdb.connect(str(data_dir / "warehouse" / "ektp_analyst.duckdb"), read_only=True)
    try:
        rows = con.execute(query.read_text()).fetchall()
    finally:
        con.close()
    assert query.read_text().startswith("-- ")
    if query.stem != "kecamatan_silent_3_days":
        assert rows, f"{query.name} returned nothing on the demo"
