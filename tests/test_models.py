"""Issue 3: the marts' business rules, pinned on one small scenario run through the real flow.

Scenario (snapshot 2024-12-31: every desa wajib 200 / sudah 160; desa Z has 0 / 0; a second
snapshot 2025-01-02 where desa A has sudah 180), logs 2024-12-30 .. 2025-01-03:
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
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.helpers import Landing, row

A, B, Z, D5 = "16.09.01.1013", "16.09.02.2012", "16.09.03.2020", "16.09.05.2001"
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def scenario(prefect_api, tmp_path_factory) -> Landing:
    land = Landing(tmp_path_factory.mktemp("scenario") / "data")
    zero = {Z: (0, 0, 0, 0)}
    land.snapshot("2024-12-31", wajib=100, sudah=80, overrides=zero)
    land.snapshot("2025-01-02", wajib=100, sudah=80, overrides={**zero, A: (100, 100, 90, 90)})
    land.log("2024-12-30", "16.09.05", [row(nik="1609054505800001", desa=D5, waktu="2024-12-30 09:00:00")])
    land.log("2025-01-01", "16.09.01", [
        row(nik="1609014501900001", desa=A, waktu="2025-01-01 08:00:00", lokasi="DINAS"),
        row(nik="1609024501900002", desa=B, waktu="2025-01-01 08:30:00", lokasi="DINAS", kawin="BELUM KAWIN"),
        row(nik="1609014501080003", desa=A, lahir="2008-06-01", kawin="BELUM KAWIN", waktu="2025-01-01 09:00:00", lokasi="SEKOLAH"),
        row(nik="1609014501080004", desa=A, lahir="2008-06-01", kawin="KAWIN", waktu="2025-01-01 09:05:00", lokasi="SEKOLAH"),
        row(nik="1609014501700005", desa=A, lahir="1970-01-05", waktu="2025-01-01 10:00:00", jenis="ULANG", lokasi="KECAMATAN"),
    ])
    land.log("2025-01-02", "16.09.01", [
        row(nik="1609014501900001", desa=A, waktu="2025-01-02 08:00:00", lokasi="DINAS"),
        row(nik="1609014501900006", desa=A, waktu="2025-01-02 11:00:00", lokasi="JEMPUT_BOLA", alat="MOBILE-01"),
    ])
    land.log("2025-01-02", "16.09.03", [])
    land.log("2025-01-03", "16.09.02", [row(nik="1609034501900007", desa=Z, waktu="2025-01-03 08:00:00", lokasi="LAINNYA")])
    land.log("2025-01-03", "16.09.04", data=b"")
    land.summary = land.run("2025-01-03")
    return land


def backlog(s, day, desa):
    return s.query("select wajib_ktp, sudah_rekam, belum_rekam, pct_rekam from mart.backlog where as_of_date = ? and kode_desa = ?", [day, desa])


def trend(s, day, kec, cols):
    return s.query(f"select {cols} from mart.participation_trend where tanggal = ? and kode_kecamatan = ?", [day, kec])[0]


def test_first_recording_adds_to_sudah_rekam_after_the_snapshot(scenario):
    # P1 and P4 are wajib KTP at their first recording on 01-01; P3 (16, unmarried) is not.
    assert backlog(scenario, "2025-01-01", A) == [(200, 162, 38, 81.0)]


def test_a_second_baru_recording_does_not_count_twice(scenario):
    assert trend(scenario, "2025-01-02", "16.09.01", "rekam_baru, rekam_total") == (1, 2)


def test_ulang_is_a_recording_but_never_a_first_recording(scenario):
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
    assert scenario.summary["data_problems"] == {"negative_backlog": 1}


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


def test_mart_checks_all_pass_on_the_scenario(scenario):
    rows = scenario.query("select check_name, severity, violations from audit.check_results where run_id = ? and violations > 0",
                          [scenario.summary["run_id"]])
    assert rows == [("negative_backlog", "data", 1)]


GOLDEN_QUERIES = {
    "backlog": f"select * from mart.backlog where kode_desa in ('{A}', '{B}', '{Z}', '{D5}') order by as_of_date, kode_desa",
    "backlog_kecamatan": "select * from mart.backlog_kecamatan where kode_kecamatan in ('16.09.01', '16.09.02', '16.09.03') order by all",
    "participation_trend": "select * from mart.participation_trend where kode_kecamatan in ('16.09.01', '16.09.02', '16.09.03', '16.09.05') order by all",
    "log_completeness": "select * from mart.log_completeness where kode_kecamatan in ('16.09.01', '16.09.02', '16.09.03', '16.09.04') order by all",
}


@pytest.mark.parametrize("mart", sorted(GOLDEN_QUERIES))
def test_golden_output(scenario, mart):
    """tests/golden/<mart>.csv is the reviewed output; UPDATE_GOLDEN=1 rewrites it."""
    import duckdb

    con = duckdb.connect(str(scenario.published), read_only=True)
    try:
        cur = con.execute(GOLDEN_QUERIES[mart])
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(["" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in r] for r in rows)
    path = GOLDEN / f"{mart}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(buf.getvalue(), encoding="utf-8")
    assert buf.getvalue() == path.read_text(encoding="utf-8")
