"""Issues 3 and 12: the business rules of every SQL model, as given rows -> expected rows.

Each test builds the real models (sql/order.txt) from the rows it states, in memory, through
tests/harness.py: no Prefect server, no Great Expectations, no file. Rows are landing rows
(pseudonymised persons, ages at recording), not raw CSV; the raw path is tested elsewhere.

The scenario (the golden outputs in tests/golden/ and the tests marked "scenario") is the one
the real flow was run on: snapshot 2024-12-31: every desa wajib 200 / sudah 160, desa Z 0 / 0;
a second snapshot 2025-01-02 where desa A has sudah 180. Logs 2024-12-30 .. 2025-01-03:
  12-30  16.09.05: P0 BARU (first recording before the first snapshot)
  01-01  16.09.01: P1 BARU DINAS desa A adult; P2 BARU DINAS desa B (Pulau Beringin, other kecamatan);
                   P3 BARU SEKOLAH desa A age 16 unmarried (not wajib); P4 BARU SEKOLAH desa A age 16 married;
                   P5 ULANG KECAMATAN desa A
  01-02  16.09.01: P1 BARU again (second BARU); P6 BARU JEMPUT_BOLA desa A adult
         16.09.03: header only; 16.09.02: missing
  01-03  16.09.02: P7 BARU LAINNYA desa Z adult (desa Z has wajib 0: negative backlog)
         16.09.04: 0-byte file (rejected)
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.outputs.runsummary import Backlog, regency_backlog
from flows.reference.wilayah import desa_codes
from flows.warehouse.database import SQL_DIR, run_checks
from tests.harness import build, header_only, log_file, rec, rejected, snapshot

A, B, Z, D5 = "16.09.01.1013", "16.09.02.2012", "16.09.03.2020", "16.09.05.2001"
A2 = "16.09.01.1014"                     # another desa of kecamatan 16.09.01 (Muara Dua)
KEC_05 = sorted(d for d in desa_codes() if d.startswith("16.09.05."))   # the 7 desa of Simpang
GOLDEN = Path(__file__).parent / "golden"
BACKLOG = "wajib_ktp, sudah_rekam, belum_rekam, pct_rekam"


def backlog(wh, day, desa):
    return wh.rows("mart.backlog", BACKLOG, as_of_date=day, kode_desa=desa)


def trend(wh, day, kec, cols):
    return wh.one("mart.participation_trend", cols, tanggal=day, kode_kecamatan=kec)


def dates(wh, relation, col="tanggal"):
    return [r[0] for r in wh.query(f"select distinct {col}::varchar from {relation} order by 1")]


# --- the scenario ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scenario():
    zero = {Z: (0, 0)}
    wh = build(
        [rec(person="P0", desa=D5, at="2024-12-30 09:00:00", umur=23),
         rec(person="P1", desa=A, at="2025-01-01 08:00:00", lokasi="DINAS", umur=23),
         rec(person="P2", desa=B, at="2025-01-01 08:30:00", lokasi="DINAS", kawin="BELUM KAWIN", umur=23, sent_by="16.09.01"),
         rec(person="P3", desa=A, at="2025-01-01 09:00:00", lokasi="SEKOLAH", kawin="BELUM KAWIN", umur=16),
         rec(person="P4", desa=A, at="2025-01-01 09:05:00", lokasi="SEKOLAH", kawin="KAWIN", umur=16),
         rec(person="P5", desa=A, at="2025-01-01 10:00:00", jenis="ULANG", lokasi="KECAMATAN", umur=54),
         rec(person="P1", desa=A, at="2025-01-02 08:00:00", lokasi="DINAS", umur=23),
         rec(person="P6", desa=A, at="2025-01-02 11:00:00", lokasi="JEMPUT_BOLA", alat="MOBILE-01", umur=23),
         rec(person="P7", desa=Z, at="2025-01-03 08:00:00", lokasi="LAINNYA", umur=23, sent_by="16.09.02")],
        snapshots=[snapshot("2024-12-31", wajib=200, sudah=160, overrides=zero),
                   snapshot("2025-01-02", wajib=200, sudah=160, overrides={**zero, A: (200, 180)})],
        files=[header_only("2025-01-02", "16.09.03"), rejected("2025-01-03", "16.09.04")],
    )
    yield wh
    wh.close()


def test_first_recording_adds_to_sudah_rekam_after_the_snapshot(scenario):
    # P1 and P4 are wajib KTP at their first recording on 01-01; P3 (16, unmarried) is not.
    assert backlog(scenario, "2025-01-01", A) == [(200, 162, 38, 81.0)]


def test_a_second_baru_recording_does_not_count_twice_in_the_scenario(scenario):
    assert trend(scenario, "2025-01-02", "16.09.01", "rekam_baru, rekam_total") == (1, 2)


def test_ulang_is_a_recording_but_never_a_first_recording_in_the_scenario(scenario):
    assert trend(scenario, "2025-01-01", "16.09.01", "rekam_baru, rekam_total, rekam_kecamatan") == (3, 4, 0)


def test_recording_at_the_office_is_attributed_to_the_domicile_desa(scenario):
    assert trend(scenario, "2025-01-01", "16.09.02", "rekam_baru, rekam_dinas, rekam_total") == (1, 1, 1)
    assert backlog(scenario, "2025-01-01", B) == [(200, 161, 39, 80.5)]


def test_sixteen_year_olds_count_as_participation_but_only_married_ones_as_wajib(scenario):
    assert trend(scenario, "2025-01-01", "16.09.01", "rekam_sekolah, rekam_baru_wajib") == (2, 2)


def test_the_latest_snapshot_on_or_before_the_date_is_the_base(scenario):
    # 01-02 uses the 01-02 snapshot: desa A 180; P2's earlier recording is inside it (B back to 160)
    assert backlog(scenario, "2025-01-02", A) == [(200, 180, 20, 90.0)]
    assert backlog(scenario, "2025-01-02", B) == [(200, 160, 40, 80.0)]
    assert backlog(scenario, "2025-01-03", A) == [(200, 180, 20, 90.0)]


def test_no_backlog_before_the_first_snapshot(scenario):
    assert scenario.query("select count(*) from mart.backlog where as_of_date = '2024-12-30'") == [(0,)]
    assert trend(scenario, "2024-12-30", "16.09.05", "rekam_baru, wajib_ktp, proyeksi_tuntas") == (1, None, None)


def test_a_first_recording_before_the_snapshot_is_not_added_again(scenario):
    assert backlog(scenario, "2024-12-31", D5) == [(200, 160, 40, 80.0)]


def test_negative_backlog_is_kept_not_clamped_and_reported(scenario):
    assert backlog(scenario, "2025-01-03", Z) == [(0, 1, -1, None)]
    data_problems = {c.name: c.violations for c in run_checks(scenario.con) if c.severity == "data" and c.violations}
    assert data_problems == {"negative_backlog": 1}   # what the run summary reports as data_problems


def test_days_without_recordings_are_rows_with_zeros_for_every_kecamatan(scenario):
    rows = scenario.query("select tanggal::varchar, count(*), sum(rekam_baru) from mart.participation_trend group by 1 order by 1")
    assert rows == [("2024-12-30", 19, 1), ("2024-12-31", 19, 0), ("2025-01-01", 19, 4), ("2025-01-02", 19, 1), ("2025-01-03", 19, 1)]


def test_seven_day_mean_uses_only_days_inside_the_range(scenario):
    got = [r[0] for r in scenario.query("select rekam_baru_7h from mart.participation_trend where kode_kecamatan = '16.09.01' order by tanggal")]
    assert got == pytest.approx([0.0, 0.0, 1.0, 1.0, 0.8])  # (0+0+3)/3, (0+0+3+1)/4, (0+0+3+1+0)/5


def test_projected_completion_is_the_backlog_over_the_recent_pace(scenario):
    belum, laju, proyeksi = trend(scenario, "2025-01-02", "16.09.01", "belum_rekam, laju_rekam_7h, proyeksi_tuntas")
    assert belum == 13 * 40 + 20 and laju == pytest.approx(3 / 4)
    assert proyeksi == date(2025, 1, 2) + timedelta(days=math.ceil(belum / laju))
    assert trend(scenario, "2025-01-03", "16.09.19", "proyeksi_tuntas") == (None,)  # pace 0: no projection


def test_log_completeness_reports_loaded_rejected_and_missing(scenario):
    q = "select status, rows_loaded, rows_quarantined from mart.log_completeness where tanggal = ? and kode_kecamatan = ?"
    assert scenario.query(q, ["2025-01-01", "16.09.01"]) == [("loaded", 5, 0)]
    assert scenario.query(q, ["2025-01-02", "16.09.03"]) == [("loaded", 0, 0)]
    assert scenario.query(q, ["2025-01-02", "16.09.02"]) == [("missing", 0, 0)]
    assert scenario.query(q, ["2025-01-03", "16.09.04"]) == [("rejected", 0, 0)]
    assert scenario.query("select count(*) from mart.log_completeness") == [(5 * 19,)]


def test_kecamatan_rows_are_the_sum_of_their_desa(scenario):
    rows = scenario.query("""select count(*) from mart.backlog_kecamatan k join (
                               select as_of_date, kode_kecamatan, sum(belum_rekam) b from mart.backlog group by all) d
                             using (as_of_date, kode_kecamatan) where d.b = k.belum_rekam""")
    assert rows == [(4 * 19,)]


def test_the_regency_backlog_is_the_sum_of_its_kecamatan(scenario):
    # 258 desa at 200 / 160 (desa Z: 0 / 0); +P1, P2, P4 on 01-01; desa A at 180 from 01-02; +P7 on 01-03
    assert scenario.rows("mart.backlog_kabupaten", "as_of_date::varchar, " + BACKLOG) == [
        ("2024-12-31", 51600, 41280, 10320, 80.0), ("2025-01-01", 51600, 41283, 10317, 80.01),
        ("2025-01-02", 51600, 41300, 10300, 80.04), ("2025-01-03", 51600, 41301, 10299, 80.04)]
    assert regency_backlog(scenario.con) == Backlog(as_of_date="2025-01-03", wajib_ktp=51600, sudah_rekam=41301,
                                                    belum_rekam=10299, pct_rekam=80.04)


def test_participation_carries_the_backlog_of_its_kecamatan_and_date(scenario):
    assert scenario.query("""select p.tanggal, p.kode_kecamatan from mart.participation_trend p
                             left join mart.backlog_kecamatan k on k.as_of_date = p.tanggal and k.kode_kecamatan = p.kode_kecamatan
                             where (p.wajib_ktp, p.sudah_rekam, p.belum_rekam, p.pct_rekam)
                                   is distinct from (k.wajib_ktp, k.sudah_rekam, k.belum_rekam, k.pct_rekam)""") == []


def test_mart_checks_all_pass_on_the_scenario(scenario):
    run_checks(scenario.con, run_id="scenario")
    rows = scenario.query("select check_name, severity, violations from audit.check_results where run_id = ? and violations > 0",
                          ["scenario"])
    assert rows == [("negative_backlog", "data", 1)]


GOLDEN_QUERIES = {
    "backlog": f"select * from mart.backlog where kode_desa in ('{A}', '{B}', '{Z}', '{D5}') order by as_of_date, kode_desa",
    "backlog_kecamatan": "select * from mart.backlog_kecamatan where kode_kecamatan in ('16.09.01', '16.09.02', '16.09.03') order by all",
    "participation_trend": "select * from mart.participation_trend where kode_kecamatan in ('16.09.01', '16.09.02', '16.09.03', '16.09.05') order by all",
    "log_completeness": "select * from mart.log_completeness where kode_kecamatan in ('16.09.01', '16.09.02', '16.09.03', '16.09.04') order by all",
}


@pytest.mark.parametrize("mart", sorted(GOLDEN_QUERIES))
def test_golden_output(scenario, mart):
    """tests/golden/<mart>.csv is the reviewed output of the scenario; UPDATE_GOLDEN=1 rewrites it."""
    cur = scenario.con.execute(GOLDEN_QUERIES[mart])
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(["" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in r] for r in rows)
    path = GOLDEN / f"{mart}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(buf.getvalue(), encoding="utf-8")
    assert buf.getvalue() == path.read_text(encoding="utf-8")


# --- staging ---------------------------------------------------------------------------------------

def test_a_recording_counts_on_the_date_of_its_local_time():
    wh = build([rec(person="P1", at="2025-01-01 23:59:59"), rec(person="P2", at="2025-01-02 00:00:00")])
    assert wh.rows("staging.rekam", "person_id, tanggal_rekam::varchar, umur") == [("P1", "2025-01-01", 30),
                                                                                    ("P2", "2025-01-02", 30)]
    assert [r[0] for r in wh.rows("mart.participation_trend", "rekam_baru", kode_kecamatan="16.09.01")] == [1, 1]


def test_only_the_current_version_of_a_file_is_staged():
    old = log_file("2025-01-01", "16.09.01", status="superseded", rows=9, quarantined=4, sha256="old")
    wh = build([rec(person="P1")], files=[old])
    assert wh.rows("staging.file_loads", "source_file, status, rows_loaded") == [
        ("rekam/2025-01-01/16.09.01.csv", "loaded", 1)]


# --- core: dimensions and snapshot ----------------------------------------------------------------

def test_the_region_list_has_259_desa_in_19_kecamatan():
    wh = build()
    assert wh.query("select count(*) from core.desa") == [(259,)]
    assert wh.query("select count(*) from core.kecamatan") == [(19,)]
    assert wh.one("core.desa", "nama_desa, kode_kecamatan, nama_kecamatan", kode_desa=A) == (
        "Batu Belang Jaya", "16.09.01", "Muara Dua")


def test_snapshot_wajib_and_sudah_add_both_sexes():
    wh = build([rec(person="P1", desa=B)], snapshots=[snapshot(overrides={A: (120, 80, 70, 50)})])
    assert wh.one("core.snapshot", "wajib_ktp, sudah_rekam", kode_desa=A) == (200, 120)
    assert backlog(wh, "2025-01-01", A) == [(200, 120, 80, 60.0)]


# --- core: recording and first recording ----------------------------------------------------------

def test_wajib_ktp_at_17_or_married():
    wh = build([rec(person="16 belum kawin", umur=16, kawin="BELUM KAWIN"),
                rec(person="17 belum kawin", umur=17, kawin="BELUM KAWIN"),
                rec(person="16 kawin", umur=16, kawin="KAWIN"),
                rec(person="16 cerai hidup", umur=16, kawin="CERAI HIDUP"),
                rec(person="16 cerai mati", umur=16, kawin="CERAI MATI")])
    assert wh.rows("core.recording", "person_id, wajib_ktp") == [
        ("16 belum kawin", False), ("16 cerai hidup", True), ("16 cerai mati", True), ("16 kawin", True),
        ("17 belum kawin", True)]


def test_a_recording_belongs_to_the_kecamatan_of_its_domicile_desa_not_to_the_sending_kecamatan():
    wh = build([rec(person="P2", desa=B, sent_by="16.09.01")])
    assert wh.rows("core.recording", "kode_desa, kode_kecamatan, source_file") == [
        (B, "16.09.02", "rekam/2025-01-01/16.09.01.csv")]


def test_the_first_recording_is_the_earliest_baru():
    wh = build([rec(person="P1", desa=A2, at="2025-01-03 08:00:00", lokasi="DINAS", umur=31),
                rec(person="P1", desa=A, at="2025-01-01 09:00:00", lokasi="SEKOLAH", umur=30),
                rec(person="P1", desa=A, at="2025-01-02 08:00:00", lokasi="KECAMATAN", umur=30)])
    assert wh.rows("core.first_recording", "person_id, waktu_rekam::varchar, kode_desa, lokasi_rekam, umur") == [
        ("P1", "2025-01-01 09:00:00", A, "SEKOLAH", 30)]


def test_a_second_baru_recording_does_not_count_twice():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P1", at="2025-01-02 08:00:00")],
               snapshots=[snapshot()])
    assert wh.query("select count(*) from core.first_recording") == [(1,)]
    assert trend(wh, "2025-01-02", "16.09.01", "rekam_baru, rekam_total, rekam_baru_wajib") == (0, 1, 0)
    assert backlog(wh, "2025-01-02", A) == [(200, 161, 39, 80.5)]


def test_ulang_is_never_a_first_recording():
    wh = build([rec(person="only ulang", at="2025-01-01 08:00:00", jenis="ULANG"),
                rec(person="ulang then baru", at="2025-01-01 09:00:00", jenis="ULANG", lokasi="KECAMATAN"),
                rec(person="ulang then baru", at="2025-01-02 09:00:00", jenis="BARU", lokasi="SEKOLAH")],
               snapshots=[snapshot()])
    assert wh.rows("core.first_recording", "person_id, tanggal_rekam::varchar, lokasi_rekam") == [
        ("ulang then baru", "2025-01-02", "SEKOLAH")]
    assert trend(wh, "2025-01-01", "16.09.01", "rekam_baru, rekam_total, rekam_kecamatan") == (0, 2, 0)
    assert backlog(wh, "2025-01-01", A) == [(200, 160, 40, 80.0)]
    assert backlog(wh, "2025-01-02", A) == [(200, 161, 39, 80.5)]


def test_first_recordings_at_the_same_instant_are_ordered_by_file_then_line():
    at = "2025-01-01 08:00:00"
    wh = build([rec(person="P1", desa=B, at=at, sent_by="16.09.02"),    # rekam/.../16.09.02.csv
                rec(person="P1", desa=A, at=at, sent_by="16.09.01"),    # rekam/.../16.09.01.csv: first file
                rec(person="P2", desa=A, at=at, lokasi="SEKOLAH"),      # line 3 of 16.09.01.csv
                rec(person="P2", desa=A2, at=at, lokasi="DINAS")])      # line 4
    assert wh.rows("core.first_recording", "person_id, kode_desa, lokasi_rekam") == [("P1", A, "DINAS"),
                                                                                     ("P2", A, "SEKOLAH")]


def test_a_pseudonym_is_stored_uncompressed_and_the_first_recordings_are_the_models_rows(tmp_path):
    """Issue 19 (seventh pass): DuckDB's compression analysis of 64 random hex digits cost more than
    writing them, so every person_id column is declared uncompressed (sql/schema.sql; the model
    runner for a model that outputs one). The model's table keeps the columns and rows its SELECT
    gives, as `create table ... as` would."""
    import hashlib

    people = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)]
    wh = build([rec(person=p, desa=A if i % 2 else B, at=f"2025-01-0{1 + i % 3} 08:00:00", umur=17 + i % 50,
                    line=2 + i) for i, p in enumerate(people)], path=str(tmp_path / "w.duckdb"))
    wh.con.execute("checkpoint")
    for table in ("landing.rekam", "core.first_recording"):
        kinds = {c for (c,) in wh.con.execute(
            f"""select distinct compression from pragma_storage_info('{table}')
                where column_name = 'person_id' and segment_type = 'VARCHAR'""").fetchall()}
        assert kinds == {"Uncompressed"}, (table, kinds)
    sql = (SQL_DIR / "core" / "first_recording.sql").read_text(encoding="utf-8")
    wh.con.execute("create table core.build_persons (person_id varchar)")   # as during a (full) build
    assert wh.con.execute("select rebuild_all from core.build_scope").fetchall() == [(True,)]
    assert wh.con.execute("describe core.first_recording").fetchall() == wh.con.execute(f"describe {sql}").fetchall()
    assert sorted(wh.con.execute("select * from core.first_recording").fetchall()) == sorted(
        wh.con.execute(sql).fetchall())
    assert wh.con.execute("select count(*) from core.first_recording").fetchone() == (3000,)


# --- core: date spine and cumulative --------------------------------------------------------------

def test_the_range_runs_from_the_earliest_to_the_latest_loaded_log_date():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-04 08:00:00")])
    assert dates(wh, "core.date_spine") == ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]
    assert dates(wh, "mart.participation_trend") == dates(wh, "mart.log_completeness") == dates(wh, "core.date_spine")


def test_snapshots_and_rejected_logs_do_not_extend_the_range():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-02 08:00:00")],
               snapshots=[snapshot("2024-12-20")],
               files=[rejected("2024-12-30", "16.09.04"), rejected("2025-01-05", "16.09.04")])
    assert dates(wh, "core.date_spine") == ["2025-01-01", "2025-01-02"]


def test_a_header_only_log_extends_the_range():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00")], files=[header_only("2025-01-03", "16.09.07")])
    assert dates(wh, "core.date_spine") == ["2025-01-01", "2025-01-02", "2025-01-03"]


def test_without_a_loaded_log_the_marts_are_empty():
    wh = build(snapshots=[snapshot()], files=[rejected("2025-01-01", "16.09.01")])
    assert wh.query("select count(*) from core.date_spine") == [(0,)]
    for mart in ("backlog", "backlog_kecamatan", "backlog_kabupaten", "participation_trend", "log_completeness"):
        assert wh.rows(f"mart.{mart}") == [], mart


def test_wajib_recorded_cumulative_is_a_running_total_of_wajib_first_recordings_per_desa():
    wh = build([rec(person="P1", desa=A, at="2025-01-01 08:00:00"),
                rec(person="P2", desa=A, at="2025-01-01 09:00:00", kawin="CERAI MATI", umur=40),
                rec(person="P3", desa=A, at="2025-01-01 10:00:00", kawin="BELUM KAWIN", umur=16),   # not wajib
                rec(person="P1", desa=A, at="2025-01-02 08:00:00"),                                 # second BARU
                rec(person="P4", desa=A2, at="2025-01-02 08:00:00"),
                rec(person="P5", desa=A, at="2025-01-03 08:00:00", jenis="ULANG"),                  # not a first
                rec(person="P6", desa=A, at="2025-01-03 09:00:00")])
    assert wh.rows("core.wajib_recorded_cumulative", "kode_desa, tanggal::varchar, rekam_wajib, rekam_wajib_kumulatif") == [
        (A, "2025-01-01", 2, 2), (A, "2025-01-03", 1, 3), (A2, "2025-01-02", 1, 1)]


# --- mart.backlog --------------------------------------------------------------------------------

def test_a_snapshot_is_the_base_from_its_own_cut_off_date():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"),
                rec(person="P2", at="2025-01-02 08:00:00"),      # on the cut-off date: inside the snapshot
                rec(person="P3", at="2025-01-03 08:00:00")],
               snapshots=[snapshot("2024-12-31"), snapshot("2025-01-02", overrides={A: (200, 180)})])
    assert backlog(wh, "2025-01-01", A) == [(200, 161, 39, 80.5)]
    assert backlog(wh, "2025-01-02", A) == [(200, 180, 20, 90.0)]
    assert backlog(wh, "2025-01-03", A) == [(200, 181, 19, 90.5)]


def test_no_backlog_row_before_the_first_snapshot():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-03 08:00:00")],
               snapshots=[snapshot("2025-01-02")])
    assert dates(wh, "mart.backlog", "as_of_date") == ["2025-01-02", "2025-01-03"]
    assert dates(wh, "mart.backlog_kecamatan", "as_of_date") == dates(wh, "mart.backlog_kabupaten", "as_of_date") == [
        "2025-01-02", "2025-01-03"]
    assert backlog(wh, "2025-01-02", A) == [(200, 160, 40, 80.0)]     # P1 is before the snapshot: inside it
    assert backlog(wh, "2025-01-03", A) == [(200, 161, 39, 80.5)]
    assert trend(wh, "2025-01-01", "16.09.01", "rekam_baru, wajib_ktp, sudah_rekam, belum_rekam, pct_rekam, proyeksi_tuntas") == (
        1, None, None, None, None, None)


def test_every_desa_has_a_backlog_row_on_every_date_from_the_first_snapshot():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-03 08:00:00")],
               snapshots=[snapshot("2024-12-31")])
    assert wh.query("select as_of_date::varchar, count(*) from mart.backlog group by 1 order by 1") == [
        ("2025-01-01", 259), ("2025-01-02", 259), ("2025-01-03", 259)]


def test_only_first_recordings_of_persons_wajib_at_them_add_to_sudah_rekam():
    wh = build([rec(person="adult", umur=40, kawin="BELUM KAWIN"),
                rec(person="17", umur=17, kawin="BELUM KAWIN"),
                rec(person="16 married", umur=16, kawin="KAWIN"),
                rec(person="16", umur=16, kawin="BELUM KAWIN")],
               snapshots=[snapshot()])
    assert backlog(wh, "2025-01-01", A) == [(200, 163, 37, 81.5)]


def test_a_person_not_wajib_at_the_first_recording_is_not_added_when_recorded_again_later():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00", umur=16, kawin="BELUM KAWIN"),
                rec(person="P1", at="2025-01-03 08:00:00", umur=17, kawin="BELUM KAWIN")],
               snapshots=[snapshot()])
    assert backlog(wh, "2025-01-03", A) == [(200, 160, 40, 80.0)]


def test_a_first_recording_counts_for_its_domicile_desa_not_the_sending_kecamatan():
    wh = build([rec(person="P2", desa=B, sent_by="16.09.01")], snapshots=[snapshot()])
    assert backlog(wh, "2025-01-01", B) == [(200, 161, 39, 80.5)]
    assert backlog(wh, "2025-01-01", A) == [(200, 160, 40, 80.0)]
    assert wh.rows("mart.backlog_kecamatan", "kode_kecamatan, sudah_rekam", as_of_date="2025-01-01")[:2] == [
        ("16.09.01", 14 * 160), ("16.09.02", 13 * 160 + 1)]
    assert trend(wh, "2025-01-01", "16.09.01", "rekam_baru, rekam_total") == (0, 0)
    assert trend(wh, "2025-01-01", "16.09.02", "rekam_baru, rekam_total, rekam_baru_wajib") == (1, 1, 1)
    assert wh.one("mart.log_completeness", "status, rows_loaded", tanggal="2025-01-01", kode_kecamatan="16.09.01") == (
        "loaded", 1)


def test_belum_rekam_is_not_clamped_below_zero():
    wh = build([rec(person="P1", desa=Z), rec(person="P2", desa=A, kawin="BELUM KAWIN", umur=20)],
               snapshots=[snapshot(overrides={Z: (0, 0), A: (1, 1)})])
    assert backlog(wh, "2025-01-01", Z) == [(0, 1, -1, None)]
    assert backlog(wh, "2025-01-01", A) == [(1, 2, -1, 200.0)]


def test_pct_rekam_is_rounded_to_two_decimals():
    wh = build([rec(person="P1", desa=A)], snapshots=[snapshot(overrides={A: (3, 1), A2: (7, 1)})])
    assert backlog(wh, "2025-01-01", A) == [(3, 2, 1, 66.67)]
    assert backlog(wh, "2025-01-01", A2) == [(7, 1, 6, 14.29)]


def test_pct_rekam_is_null_where_wajib_ktp_is_0():
    wh = build([rec(person="P1", desa=D5)], snapshots=[snapshot(overrides={d: (0, 0) for d in KEC_05})])
    assert backlog(wh, "2025-01-01", D5) == [(0, 1, -1, None)]
    assert wh.one("mart.backlog_kecamatan", BACKLOG, as_of_date="2025-01-01", kode_kecamatan="16.09.05") == (0, 1, -1, None)
    assert trend(wh, "2025-01-01", "16.09.05", "pct_rekam, proyeksi_tuntas") == (None, date(2025, 1, 1))


# --- mart.backlog_kecamatan and backlog_kabupaten --------------------------------------------------

def test_kecamatan_pct_rekam_is_recomputed_from_the_summed_desa():
    wh = build([rec(person="P1", desa=A2)], snapshots=[snapshot(overrides={A: (3, 0)})])
    # 13 desa at 200 / 160 (one of them +1 new) and desa A at 3 / 0: 2081 / 2603, not a mean of percentages
    assert wh.one("mart.backlog_kecamatan", BACKLOG, as_of_date="2025-01-01", kode_kecamatan="16.09.01") == (
        2603, 2081, 522, 79.95)


def test_the_regency_row_is_the_sum_of_the_kecamatan_rows_on_each_date():
    wh = build([rec(person="P1", desa=A, at="2025-01-01 08:00:00"), rec(person="P2", desa=D5, at="2025-01-02 08:00:00")],
               snapshots=[snapshot(overrides={A: (3, 0)})])
    assert wh.rows("mart.backlog_kabupaten", "as_of_date::varchar, " + BACKLOG) == [
        ("2025-01-01", 258 * 200 + 3, 258 * 160 + 1, 258 * 40 + 2, 80.0),     # 41281 / 51603 = 79.997 %
        ("2025-01-02", 258 * 200 + 3, 258 * 160 + 2, 258 * 40 + 1, 80.0)]


# --- mart.participation_trend ----------------------------------------------------------------------

def test_every_kecamatan_has_a_participation_row_on_every_date_zeros_included():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-03 08:00:00")])
    assert wh.query("select tanggal::varchar, count(*), sum(rekam_baru), sum(rekam_total) from mart.participation_trend "
                    "group by 1 order by 1") == [("2025-01-01", 19, 1, 1), ("2025-01-02", 19, 0, 0), ("2025-01-03", 19, 1, 1)]
    assert trend(wh, "2025-01-02", "16.09.01", "rekam_baru, rekam_total, rekam_dinas, rekam_baru_7h, laju_rekam_7h") == (
        0, 0, 0, 0.5, 0.5)


def test_rekam_total_counts_every_loaded_row_baru_ulang_and_repeats():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P1", at="2025-01-01 09:00:00"),
                rec(person="P2", at="2025-01-01 10:00:00", jenis="ULANG"), rec(person="P3", desa=B, sent_by="16.09.01")])
    assert trend(wh, "2025-01-01", "16.09.01", "rekam_baru, rekam_total") == (1, 3)


def test_rekam_baru_counts_persons_of_any_age_the_pace_only_wajib_ones():
    wh = build([rec(person="P1", umur=16, kawin="BELUM KAWIN"), rec(person="P2", umur=17, kawin="BELUM KAWIN")],
               snapshots=[snapshot()])
    assert trend(wh, "2025-01-01", "16.09.01", "rekam_baru, rekam_baru_wajib, rekam_baru_7h, laju_rekam_7h") == (2, 1, 2.0, 1.0)


def test_the_channel_split_adds_up_to_rekam_baru():
    wh = build([rec(person="P1", lokasi="DINAS"), rec(person="P2", lokasi="KECAMATAN"),
                rec(person="P3", lokasi="JEMPUT_BOLA"), rec(person="P4", lokasi="SEKOLAH"),
                rec(person="P5", lokasi="LAINNYA"), rec(person="P6", lokasi="DINAS", jenis="ULANG"),
                rec(person="P4", lokasi="DINAS", at="2025-01-01 15:00:00")])
    assert trend(wh, "2025-01-01", "16.09.01", "rekam_baru, rekam_dinas, rekam_kecamatan, rekam_jemput_bola, "
                                               "rekam_sekolah, rekam_lainnya, rekam_total") == (5, 1, 1, 1, 1, 1, 7)
    assert wh.query("""select count(*) from mart.participation_trend where rekam_baru <>
                       rekam_dinas + rekam_kecamatan + rekam_jemput_bola + rekam_sekolah + rekam_lainnya""") == [(0,)]


def test_the_channel_is_the_place_of_the_first_recording():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00", lokasi="SEKOLAH"),
                rec(person="P1", at="2025-01-02 08:00:00", lokasi="DINAS")])
    assert trend(wh, "2025-01-01", "16.09.01", "rekam_sekolah, rekam_dinas") == (1, 0)
    assert trend(wh, "2025-01-02", "16.09.01", "rekam_baru, rekam_sekolah, rekam_dinas") == (0, 0, 0)


def test_rekam_baru_7h_is_the_mean_over_the_days_of_the_window_inside_the_range():
    day1 = [rec(person=f"P{i}", at="2025-01-01 08:00:00") for i in range(6)] + [
        rec(person="P16", at="2025-01-01 09:00:00", umur=16, kawin="BELUM KAWIN")]
    wh = build([*day1, rec(person="P9", at="2025-01-10 08:00:00")])
    got = wh.query("select rekam_baru, rekam_baru_7h, laju_rekam_7h from mart.participation_trend "
                   "where kode_kecamatan = '16.09.01' order by tanggal")
    assert [r[0] for r in got] == [7, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    #  01-01..01-07 average 1..7 days (7 new persons on 01-01, 6 of them wajib); 01-08 on: 01-01 left the window
    assert [r[1] for r in got] == pytest.approx([7, 7 / 2, 7 / 3, 7 / 4, 7 / 5, 7 / 6, 1, 0, 0, 1 / 7])
    assert [r[2] for r in got] == pytest.approx([6, 6 / 2, 6 / 3, 6 / 4, 6 / 5, 6 / 6, 6 / 7, 0, 0, 1 / 7])


def test_projected_completion_is_the_date_plus_the_days_the_backlog_needs_at_the_pace():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-01 09:00:00"),
                rec(person="P3", at="2025-01-02 08:00:00")],
               snapshots=[snapshot()])
    # 01-01: belum 14*40 - 2 = 558 at 2 a day -> 279 days; 01-02: 557 at 1.5 a day -> ceil(371.33) = 372 days
    assert trend(wh, "2025-01-01", "16.09.01", "belum_rekam, laju_rekam_7h, proyeksi_tuntas") == (
        558, 2.0, date(2025, 1, 1) + timedelta(days=279))
    assert trend(wh, "2025-01-02", "16.09.01", "belum_rekam, laju_rekam_7h, proyeksi_tuntas") == (
        557, 1.5, date(2025, 1, 2) + timedelta(days=372))


def test_projected_completion_is_the_date_itself_when_the_backlog_is_gone():
    # 16.09.05: one wajib left, recorded on 01-01; 16.09.16: all recorded at the snapshot, nobody new (pace 0)
    kec_16 = sorted(d for d in desa_codes() if d.startswith("16.09.16."))
    done = {**{d: (0, 0) for d in KEC_05 + kec_16}, D5: (1, 0), kec_16[0]: (2, 2)}
    wh = build([rec(person="P1", desa=D5, at="2025-01-01 08:00:00"), rec(person="P2", desa=A, at="2025-01-02 08:00:00")],
               snapshots=[snapshot(overrides=done)])
    assert trend(wh, "2025-01-01", "16.09.05", "belum_rekam, proyeksi_tuntas") == (0, date(2025, 1, 1))
    assert trend(wh, "2025-01-02", "16.09.05", "belum_rekam, laju_rekam_7h, proyeksi_tuntas") == (0, 0.5, date(2025, 1, 2))
    assert trend(wh, "2025-01-02", "16.09.16", "belum_rekam, laju_rekam_7h, proyeksi_tuntas") == (0, 0.0, date(2025, 1, 2))


def test_no_projected_completion_without_a_pace_or_a_backlog():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-02 08:00:00")],
               snapshots=[snapshot("2025-01-02")])
    assert trend(wh, "2025-01-01", "16.09.01", "laju_rekam_7h, belum_rekam, proyeksi_tuntas") == (1.0, None, None)
    assert trend(wh, "2025-01-02", "16.09.02", "laju_rekam_7h, belum_rekam, proyeksi_tuntas") == (0.0, 520, None)
    assert trend(wh, "2025-01-02", "16.09.01", "laju_rekam_7h, belum_rekam, proyeksi_tuntas") == (
        1.0, 560, date(2025, 1, 2) + timedelta(days=560))


# --- mart.log_completeness -------------------------------------------------------------------------

def test_a_log_nobody_sent_is_missing():
    wh = build([rec(person="P1")])
    assert wh.query("select status, count(*), sum(rows_loaded) from mart.log_completeness group by 1 order by 1") == [
        ("loaded", 1, 1), ("missing", 18, 0)]


def test_a_header_only_log_is_loaded_with_zero_rows():
    wh = build([rec(person="P1")], files=[header_only("2025-01-01", "16.09.02")])
    assert wh.one("mart.log_completeness", "status, rows_loaded, rows_quarantined, error",
                  tanggal="2025-01-01", kode_kecamatan="16.09.02") == ("loaded", 0, 0, None)


def test_a_rejected_log_has_its_error_and_no_rows():
    error = "missing_columns: required column(s) missing: kode_desa"
    wh = build([rec(person="P1")], files=[rejected("2025-01-01", "16.09.04", error=error)])
    assert wh.one("mart.log_completeness", "status, rows_loaded, rows_quarantined, error",
                  tanggal="2025-01-01", kode_kecamatan="16.09.04") == ("rejected", 0, 0, error)


def test_log_completeness_counts_the_rows_of_the_current_version():
    old = log_file("2025-01-01", "16.09.01", status="superseded", rows=9, quarantined=4, sha256="old")
    wh = build([rec(person="P1"), rec(person="P2")], files=[old, log_file("2025-01-01", "16.09.01", quarantined=2)])
    assert wh.rows("mart.log_completeness", "status, rows_loaded, rows_quarantined", kode_kecamatan="16.09.01") == [
        ("loaded", 2, 2)]


def test_log_completeness_has_every_kecamatan_on_every_date_of_the_range():
    wh = build([rec(person="P1", at="2025-01-01 08:00:00"), rec(person="P2", at="2025-01-03 08:00:00")])
    assert wh.query("select tanggal::varchar, count(*), count(distinct kode_kecamatan) from mart.log_completeness "
                    "group by 1 order by 1") == [("2025-01-01", 19, 19), ("2025-01-02", 19, 19), ("2025-01-03", 19, 19)]
    assert wh.one("mart.log_completeness", "status", tanggal="2025-01-02", kode_kecamatan="16.09.01") == ("missing",)


# --- sql/checks ------------------------------------------------------------------------------------

@pytest.fixture
def clean():
    """Good data: two snapshots, logs across kecamatan, a header-only log, a rejected one, a re-sent one."""
    return build([rec(person="P1", desa=A, at="2025-01-01 08:00:00"),
                  rec(person="P2", desa=B, at="2025-01-01 09:00:00", sent_by="16.09.01"),
                  rec(person="P3", desa=D5, at="2025-01-02 08:00:00", jenis="ULANG"),
                  rec(person="P1", desa=A, at="2025-01-03 08:00:00"),
                  rec(person="P4", desa=A2, at="2025-01-03 09:00:00", umur=16, kawin="BELUM KAWIN")],
                 snapshots=[snapshot("2024-12-31"), snapshot("2025-01-02", overrides={A: (200, 170)})],
                 files=[header_only("2025-01-02", "16.09.07"), rejected("2025-01-02", "16.09.04"),
                        log_file("2025-01-03", "16.09.01", status="superseded", rows=5, sha256="old")])


def test_every_check_returns_nothing_on_good_data(clean):
    assert clean.checks() == {path.stem: [] for path in (SQL_DIR / "checks").glob("*.sql")}


def test_the_negative_backlog_check_returns_each_desa_below_zero():
    wh = build([rec(person="P1", desa=Z)], snapshots=[snapshot(overrides={Z: (0, 0)})])
    assert wh.check("negative_backlog") == [(date(2025, 1, 1), "16.09.03", Z, "Way Timah", 0, 1, -1)]


def test_the_lineage_check_returns_a_row_loaded_twice():
    wh = build([rec(person="P1", line=2), rec(person="P2", line=2), rec(person="P3")])
    assert wh.check("landing_lineage_unique") == [("rekam/2025-01-01/16.09.01.csv", 2, 2)]


def test_the_current_version_check_returns_rows_of_an_old_version_and_doubled_versions():
    wh = build([rec(person="P1"), rec(person="P2", desa=B)],
               files=[log_file("2025-01-01", "16.09.01", sha256="new"),
                      log_file("2025-01-01", "16.09.02"), log_file("2025-01-01", "16.09.02", sha256="other")])
    assert wh.check("one_current_version_per_file") == [
        ("rekam/2025-01-01/16.09.01.csv", "rows of a version that is not current"),
        ("rekam/2025-01-01/16.09.02.csv", "several current versions")]


def test_the_backlog_checks_return_a_date_missing_a_desa(clean):
    clean.con.execute(f"delete from mart.backlog where as_of_date = '2025-01-02' and kode_desa = '{A2}'")
    assert clean.check("backlog_every_desa") == [(date(2025, 1, 2), "16.09", 258)]
    assert clean.check("desa_sums_equal_kecamatan") == [(date(2025, 1, 2), "16.09.01")]


def test_the_grain_checks_return_a_doubled_row(clean):
    clean.con.execute("insert into mart.participation_trend select * from mart.participation_trend "
                      "where tanggal = '2025-01-01' and kode_kecamatan = '16.09.02'")
    assert clean.check("participation_grain_unique") == [(date(2025, 1, 1), "16.09.02", 2)]
    assert clean.check("every_kecamatan_every_date") == [(date(2025, 1, 1), 20, 19)]


def test_the_regency_and_trend_checks_return_rows_that_differ(clean):
    clean.con.execute("update mart.backlog_kabupaten set sudah_rekam = sudah_rekam + 1 where as_of_date = '2025-01-03'")
    clean.con.execute("update mart.participation_trend set sudah_rekam = sudah_rekam + 1 "
                      "where tanggal = '2025-01-03' and kode_kecamatan = '16.09.02'")
    assert clean.check("backlog_kabupaten_matches_kecamatan") == [
        (date(2025, 1, 3), "16.09", "differs from the sum of its kecamatan")]
    assert clean.check("trend_matches_backlog") == [
        (date(2025, 1, 3), "16.09.02", "backlog columns differ"),
        (date(2025, 1, 3), "16.09.02", "sudah_rekam step differs from new wajib recordings")]


# --- working days: flows/reference/workdays.py and mart.kalender (contract section 10) ----------------------

def kalender(wh, cols="tanggal::varchar, hari_kerja, keterangan, jenis_libur"):
    return wh.query(f"select {cols} from mart.kalender order by tanggal")


def test_mart_kalender_marks_isra_mikraj_2025_01_27_as_a_day_off_named_in_indonesian():
    wh = build([rec(person="P1", at="2025-01-24"), rec(person="P2", at="2025-01-30")])    # Friday .. Thursday
    assert kalender(wh) == [
        ("2025-01-24", True, None, None),
        ("2025-01-25", False, None, None),                                                 # Saturday
        ("2025-01-26", False, None, None),                                                 # Sunday
        ("2025-01-27", False, "Isra Mikraj Nabi Muhammad", "libur nasional"),
        ("2025-01-28", False, "Cuti Bersama Tahun Baru Imlek", "cuti bersama"),
        ("2025-01-29", False, "Tahun Baru Imlek", "libur nasional"),
        ("2025-01-30", True, None, None),
    ]


def test_mart_kalender_has_every_date_of_the_range_and_no_other():
    wh = build([rec(person="P1", at="2025-01-01")], files=[header_only("2025-01-05", "16.09.07")],
               snapshots=[snapshot("2024-12-20")])
    assert dates(wh, "mart.kalender") == dates(wh, "core.date_spine") == [f"2025-01-0{n}" for n in range(1, 6)]
    assert wh.check("kalender_grain_unique") == [] and wh.check("kalender_every_date") == []


def test_idul_fitri_and_its_collective_leave_are_days_off():
    wh = build([rec(person="P1", at="2025-03-27"), rec(person="P2", at="2025-04-08")])
    off = [r for r in kalender(wh) if not r[1]]
    assert off == [
        ("2025-03-28", False, "Cuti Bersama Hari Suci Nyepi", "cuti bersama"),
        ("2025-03-29", False, "Hari Suci Nyepi", "libur nasional"),                       # a Saturday holiday: named
        ("2025-03-30", False, None, None),
        ("2025-03-31", False, "Hari Raya Idul Fitri", "libur nasional"),
        ("2025-04-01", False, "Hari kedua dari Hari Raya Idul Fitri", "libur nasional"),
        ("2025-04-02", False, "Cuti Bersama Hari Raya Idul Fitri", "cuti bersama"),
        ("2025-04-03", False, "Cuti Bersama Hari Raya Idul Fitri", "cuti bersama"),
        ("2025-04-04", False, "Cuti Bersama Hari Raya Idul Fitri", "cuti bersama"),
        ("2025-04-05", False, None, None),
        ("2025-04-06", False, None, None),
        ("2025-04-07", False, "Cuti Bersama Hari Raya Idul Fitri", "cuti bersama"),
    ]


def test_2025_has_the_17_public_holidays_and_11_collective_leave_days_of_the_contract():
    wh = build(files=[header_only("2025-01-01", "16.09.07"), header_only("2025-12-31", "16.09.07")])
    # 261 Mondays to Fridays; 13 of the public holidays fall on one (03-29, 04-20, 06-01, 08-17 are weekends), all 11 leave days
    assert wh.query("select count(*), count(*) filter (where hari_kerja) from mart.kalender") == [(365, 261 - 13 - 11)]
    assert wh.query("select jenis_libur, count(*) from mart.kalender where keterangan is not null group by 1 order by 1") == [
        ("cuti bersama", 11), ("libur nasional", 17)]
    named = dict(wh.query("select tanggal::varchar, keterangan from mart.kalender where keterangan is not null"))
    assert {day: named[day] for day in ("2025-01-27", "2025-03-31", "2025-04-01")} == {
        "2025-01-27": "Isra Mikraj Nabi Muhammad", "2025-03-31": "Hari Raya Idul Fitri",
        "2025-04-01": "Hari kedua dari Hari Raya Idul Fitri"}
    assert all(named[day].startswith("Cuti Bersama") for day in ("2025-04-02", "2025-04-03", "2025-04-04", "2025-04-07"))


def test_the_package_gives_the_2025_days_off_by_kind_in_indonesian():
    from flows.reference.workdays import COLLECTIVE_LEAVE, PUBLIC_HOLIDAY, days_off, known_year

    year = days_off(date(2025, 1, 1), date(2025, 12, 31))
    assert [sum(1 for d in year if d.jenis == kind) for kind in (PUBLIC_HOLIDAY, COLLECTIVE_LEAVE)] == [17, 11]
    assert len({d.tanggal for d in year}) == 28 and all(d.tanggal.year == 2025 for d in year)
    assert [d for d in year if d.tanggal == date(2025, 12, 25)][0].keterangan == "Hari Raya Natal"   # not "Christmas Day"
    assert days_off(date(2025, 1, 27), date(2025, 1, 27))[0].keterangan == "Isra Mikraj Nabi Muhammad"
    assert days_off(date(2025, 2, 1), date(2025, 1, 1)) == []
    assert [known_year(y) for y in (2001, 2024, 2025, 2027, 2028)] == [False, True, True, True, False]


def test_regional_holidays_are_not_counted():
    # Hari Raya Galungan is a holiday in Bali only (2025-04-23, a Wednesday): a working day here
    wh = build([rec(person="P1", at="2025-04-22"), rec(person="P2", at="2025-04-24")])
    assert kalender(wh) == [("2025-04-22", True, None, None), ("2025-04-23", True, None, None),
                            ("2025-04-24", True, None, None)]


def test_in_a_year_the_package_does_not_know_only_saturday_and_sunday_are_days_off():
    # 2027-12-30 .. 2028-01-04: the package has the 2027 decree, none for 2028: New Year 2028 (Saturday) is
    # a plain weekend day, Monday 2028-01-03 a working day, and every 2028 date says kalender_dikenal false
    wh = build(files=[header_only("2027-12-30", "16.09.07"), header_only("2028-01-04", "16.09.07")])
    assert kalender(wh, "tanggal::varchar, hari_kerja, keterangan, kalender_dikenal") == [
        ("2027-12-30", True, None, True), ("2027-12-31", True, None, True),
        ("2028-01-01", False, None, False), ("2028-01-02", False, None, False),
        ("2028-01-03", True, None, False), ("2028-01-04", True, None, False)]
    assert wh.query("select * from core.kalender_tahun order by 1") == [(2027, True), (2028, False)]


def test_the_calendar_is_computed_offline_nothing_is_downloaded(monkeypatch):
    import socket

    from flows.reference import workdays

    def refuse(*args, **kwargs):
        raise AssertionError("the calendar tried to open a network connection")

    workdays._year.cache_clear()
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    wh = build([rec(person="P1", at="2026-01-01")])
    assert kalender(wh) == [("2026-01-01", False, "Tahun Baru Masehi", "libur nasional")]


def test_without_a_loaded_log_the_calendar_is_empty():
    wh = build(snapshots=[snapshot()], files=[rejected("2025-01-01", "16.09.01")])
    assert wh.rows("mart.kalender") == [] and wh.rows("core.hari_libur") == [] and wh.rows("core.kalender_tahun") == []


def test_the_calendar_checks_return_a_doubled_and_a_missing_date():
    wh = build([rec(person="P1", at="2025-01-01"), rec(person="P2", at="2025-01-03")])
    wh.con.execute("insert into mart.kalender select * from mart.kalender where tanggal = '2025-01-01'")
    wh.con.execute("delete from mart.kalender where tanggal = '2025-01-02'")
    wh.con.execute("insert into mart.kalender select * replace (date '2025-01-09' as tanggal) from mart.kalender "
                   "where tanggal = '2025-01-03'")
    assert wh.check("kalender_grain_unique") == [(date(2025, 1, 1), 2)]
    assert wh.check("kalender_every_date") == [(date(2025, 1, 2), False), (date(2025, 1, 9), True)]


def test_the_thresholds_are_one_row_and_the_check_returns_a_second():
    wh = build([rec(person="P1", at="2025-01-01")])
    assert wh.rows("mart.ambang_batas") == [(5, 7)]
    assert wh.check("ambang_batas_one_row") == []
    wh.con.execute("insert into mart.ambang_batas values (3, 3)")
    assert wh.check("ambang_batas_one_row") == [(2,)]


def test_each_threshold_of_days_is_written_once():
    # the 5 working days of diduga_alat_rusak and the 7 days of a silent device live in sql/mart/ambang_batas.sql;
    # the SQL, the page, the artifact and the summaries read it (a number restated anywhere fails here)
    repo = SQL_DIR.parent
    restated = re.compile(r"hari_diam\s*>=\s*\d|hari_kerja_tanpa_rekam\s*>=\s*\d|silent (?:for )?\d+\+? days|"
                          r"\d+\+? (?:weekdays|working days) without|diam (?:≥ )?\d+ hari|\d+ hari kerja|SILENT_DAYS\s*=")
    files = [*SQL_DIR.rglob("*.sql"), *(repo / "flows").rglob("*.py"), *(repo / "flows" / "outputs" / "report" / "templates").glob("*")]
    found = [f"{p.relative_to(repo)}: {m.group(0)}" for p in files if p.name != "ambang_batas.sql"
             for m in restated.finditer(p.read_text(encoding="utf-8"))]
    assert found == []
