"""Issue 19: the incremental build and publish give exactly what a full rebuild gives.

A warehouse is built by four nightly runs of the real flow (each building its marts incrementally
and updating the analysts' copy in place): a re-sent log replacing an older day, a late log for an
old date, quarantined rows, a new population snapshot. A copy of its writer file is then rebuilt
in full (``build_models(full=True)``) and published whole: every core and mart table, and every
relation of the analysts' copy, must hold the same rows.
"""

from __future__ import annotations

import dataclasses
import shutil

import duckdb
import pytest

from flows.outputs.publish import publish
from flows.settings import load_settings
from flows.warehouse import database
from tests.helpers import Landing, row


def _nik(n: int) -> str:
    return f"160901450101{n:04d}"


def _rows(day: str, people: range, lokasi: str = "DINAS", jenis: str = "BARU") -> list[str]:
    return [row(nik=_nik(n), waktu=f"{day} {8 + n % 8:02d}:{n % 60:02d}:00", lokasi=lokasi, jenis=jenis)
            for n in people]


def _tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...], skip: frozenset = frozenset()) -> dict:
    names = con.execute(f"""select schema_name, table_name from duckdb_tables()
                            where database_name = current_database()
                              and schema_name in ({", ".join("'" + s + "'" for s in schemas)})
                            order by all""").fetchall()
    return {f"{s}.{t}": con.execute(f"select * from {s}.{t} order by all").fetchall()
            for s, t in names if f"{s}.{t}" not in skip}


@pytest.fixture
def scopes(monkeypatch):
    """The scope of every build the runs make (full or from which date)."""
    seen = []
    original = database.build_scope

    def spy(con, static):
        scope = original(con, static)
        seen.append(scope)
        return scope

    monkeypatch.setattr(database, "build_scope", spy)
    return seen


@pytest.mark.slow
def test_incremental_runs_give_what_a_full_rebuild_gives(tmp_path, prefect_api, scopes):
    landing = Landing(tmp_path / "data")
    landing.snapshot("2024-12-31", wajib=100, sudah=80)
    for i, day in enumerate(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]):
        base = 100 * i
        landing.log(day, "16.09.01", _rows(day, range(base + 1, base + 6)))
        landing.log(day, "16.09.02", _rows(day, range(base + 50, base + 53), lokasi="JEMPUT_BOLA")
                    + [row(nik=_nik(base + 60), jk="X", waktu=f"{day} 09:00:00")])      # quarantined
    landing.run("2025-01-04")

    # a re-sent log replaces 2025-01-02: persons 101 and 102 leave, 190 comes, 1 records again
    landing.log("2025-01-02", "16.09.01", _rows("2025-01-02", range(103, 106)) + _rows("2025-01-02", range(190, 191))
                + _rows("2025-01-02", range(1, 2), jenis="ULANG"))
    landing.log("2025-01-05", "16.09.01", _rows("2025-01-05", range(401, 404)))
    landing.run("2025-01-05")

    # a late log for an old date (a kecamatan that had sent nothing on 2025-01-03), a new snapshot,
    # and a person of 2025-01-04 recorded BARU earlier in the late file
    landing.log("2025-01-03", "16.09.03", _rows("2025-01-03", range(700, 704)) + _rows("2025-01-03", range(301, 302)))
    landing.snapshot("2025-01-05", wajib=110, sudah=85)
    landing.log("2025-01-06", "16.09.01", _rows("2025-01-06", range(501, 503)))
    landing.run("2025-01-06")

    landing.log("2025-01-07", "16.09.02", _rows("2025-01-07", range(601, 604), lokasi="JEMPUT_BOLA")
                + [row(nik=_nik(602), jk="X", waktu="2025-01-07 10:00:00")])
    landing.run("2025-01-07")

    # two weeks later, after days when no kecamatan sent a log (a holiday week): the dates of the gap
    # are new to the marts too; the devices of the first week are silent, and a rebuilt date's week
    # before reaches back over days that are not rebuilt (mart.device_activity sums them into one row)
    landing.log("2025-01-21", "16.09.02", _rows("2025-01-21", range(801, 803), lokasi="JEMPUT_BOLA"))
    landing.run("2025-01-21")

    runs = landing.query("select status from audit.runs order by started_at")
    assert runs == [("completed",)] * 5
    # the first build is full, the later ones incremental from the earliest changed date
    assert [s.first_date.isoformat() if s.first_date else None for s in scopes] == \
        [None, "2025-01-02", "2025-01-03", "2025-01-07", "2025-01-08"]
    # the gap of days without any log is in the marts (it was not rebuilt before this test had the run)
    assert landing.query("select count(*) from mart.log_completeness where tanggal = '2025-01-14' and status = 'missing'") \
        == landing.query("select count(*) from core.kecamatan")
    assert landing.query("select max(hari_diam) from mart.device_activity where as_of_date = '2025-01-20'") == [(13,)]
    assert landing.query("select count(*) from audit.changed_files") == [(0,)]
    assert landing.query("select count(*) from audit.quarantine") == [(5,)]

    full_dir = tmp_path / "full"
    (full_dir / "warehouse").mkdir(parents=True)
    shutil.copy(landing.warehouse, full_dir / "warehouse" / "ektp.duckdb")
    con = duckdb.connect(str(full_dir / "warehouse" / "ektp.duckdb"))
    try:
        database.build_models(con, full=True)
        settings = dataclasses.replace(load_settings(full_dir), wilayah=("16.09",))
        publish(con, settings)
        full_tables = _tables(con, ("core", "mart"), skip=frozenset({"core.build_scope"}))
    finally:
        con.close()
    inc = duckdb.connect(str(landing.warehouse), read_only=True)
    try:
        inc_tables = _tables(inc, ("core", "mart"), skip=frozenset({"core.build_scope"}))
    finally:
        inc.close()
    assert inc_tables.keys() == full_tables.keys()
    assert len(inc_tables["mart.backlog"]) > 0 and len(inc_tables["core.first_recording"]) > 0
    for name in full_tables:
        assert inc_tables[name] == full_tables[name], name

    published = {}
    for path in (landing.published, full_dir / "warehouse" / "ektp_analyst.duckdb"):
        c = duckdb.connect(str(path), read_only=True)
        try:
            published[path] = _tables(c, ("core", "mart", "audit"))
        finally:
            c.close()
    inc_pub, full_pub = published.values()
    assert inc_pub.keys() == full_pub.keys()
    for name in full_pub:
        assert inc_pub[name] == full_pub[name], name
