"""Issue 11: the outreach, device and kecamatan-service marts (contract section 9), rule by rule.

Each test builds the real models (sql/order.txt) in memory from the landing rows it states
(tests/harness.py: ``rec`` for a loaded log row, ``request`` for a loaded village request, file
versions with ``header_only`` / ``rejected`` / ``request_file``), and is named after the rule of
contract section 9 or docs/data_dictionary.md ("Outreach, devices and feedback") it pins. Where
the SQL disagrees with the contract, the test states the contract and fails.

Calendar used throughout: 2025-01-01 is a Wednesday and a national holiday (Tahun Baru Masehi); 01-04 / 01-05
and 01-11 / 01-12 are weekends; 01-27 (Mon, Isra Mikraj), 01-28 (Tue, cuti bersama Imlek), 01-29 (Wed, Imlek) are
days off; so are 2025-03-31 / 04-01 (Idul Fitri) and the cuti bersama 04-02, 04-03, 04-04, 04-07 (mart.kalender,
from the pinned holiday package). Working days are the other Mondays to Fridays.

The golden scenario (``golden`` fixture; tests/golden/outreach_priority.csv, outreach_requests.csv,
device_activity.csv, kecamatan_service.csv). Logs 2025-01-01 (Wed) .. 2025-01-10 (Fri); one snapshot
2024-12-31: every desa wajib 200 / sudah 160 (belum 40), except
    A  16.09.01.1013 Batu Belang Jaya  300 / 200 (belum 100)    A2 16.09.01.1014 Bumi Agung     300 / 240 (60)
    B  16.09.02.2012 Tanjung Bulan     300 / 220 (belum 80)     B2 16.09.02.2013 Pulau Beringin 250 / 200 (50)
    C  16.09.05.2001 Karang Agung      300 / 240 (belum 60)
Rows (all adults, KAWIN; B = BARU, U = ULANG; KEC = KECAMATAN, JB = JEMPUT_BOLA, SEK = SEKOLAH):
  file 16.09.01 (Muara Dua)  01-01 P01 A B KEC KEC01-A; P02 A U KEC KEC01-A
                             01-02 P03 A U KEC KEC01-A; P04 A2 B JB MOBIL-01
                             01-03 P05 C U KEC KEC01-A   (a resident of 16.09.05 at the Muara Dua office)
                             01-06 header only; 01-08 rejected; 01-09 P07 A2 U JB MOBIL-01; 01-10 header only
                             (01-04, 01-05, 01-07 missing). The office device KEC01-A stops after Friday 01-03.
  file 16.09.02 (Pulau B.)   01-02 P11 B B KEC KEC02-A; P12 B U JB MOBIL-01
                             01-03 header only; 01-04 (Saturday) P13 B2 U KEC KEC02-A; 01-06 rejected
                             01-07 P14 B U JB MOBIL-01; 01-08 P15 B2 B KEC KEC02-B (a new device)
                             01-09 P16 B U JB MOBIL-01; 01-10 header only (01-01, 01-05 missing)
  file 16.09.05 (Simpang)    01-01 P21 C B SEK SEK05-01; 01-10 P23 C U SEK SEK05-01 (never a KECAMATAN row)
Requests (registration date, desa, letter number):
  R1 01-01 A2 470/015/BA/2025   R2 01-03 B 045/TB/I/2025   R3 01-06 B2 12/PB/2025
  R4 01-08 B2 13/PB/2025        R5 01-12 C 7/KA/2025 (registered after the last log date)

The golden files: outreach_priority.csv holds the rows of A, A2, A3, B, B2, C on 01-01, 01-03, 01-06,
01-08 and 01-10 (the first six ranks on those dates); outreach_requests.csv every request;
device_activity.csv every device by id_alat then date; kecamatan_service.csv 16.09.01, 16.09.02, 16.09.05.

Hand arithmetic (each value is also asserted by a test below, and the golden files match it):

belum_rekam (BARU rows of adults after the snapshot lower it): A 100-1 = 99 from 01-01 (P01);
A2 60, 59 from 01-02 (P04); B 80, 79 from 01-02 (P11); B2 50, 49 from 01-08 (P15); C 59 from 01-01 (P21).
pct_rekam: A 201/300 = 67.00; A2 240/300 = 80.00, then 80.33; B 220/300 = 73.33, then 221/300 = 73.67;
B2 200/250 = 80.00, then 201/250 = 80.40; C 241/300 = 80.33; the others 160/200 = 80.00.
Jemput bola visits (JB rows by the resident's desa): A2 on 01-02, 01-09; B on 01-02, 01-07, 01-09.

outreach_requests (range ends 01-10):
  R1 served 01-02 (P04)                         hari_menunggu 01-02 - 01-01 = 1
  R2 not served by P12 (01-02, before 01-03); served 01-07 (P14): 01-07 - 01-03 = 4
  R3 open: 01-10 - 01-06 = 4      R4 open: 01-10 - 01-08 = 2      R5 open: max(01-10 - 01-12, 0) = 0

outreach_priority, 6 first ranks (the 254 other desa: belum 40, never visited, by kode_desa from
16.09.01.1015 Pancur Pungah at rank 6):
  01-01  1 A2 (open R1, 60)  2 A 99  3 B 80  4 C 59  5 B2 50  6 Pancur Pungah 40
  01-03  1 B (open R2, 79)   2 A 99  3 C 59 never visited  4 A2 59 visited 1 day ago  5 B2 50  6 Pancur Pungah
  01-06  1 B (open R2, 79)   2 B2 (open R3, 50)  3 A 99  4 C 59 never  5 A2 59 (4 days)  6 Pancur Pungah
  01-08  1 B2 (R3 + R4 open: permohonan_terbuka 2, tertua 01-06; belum 49)  2 A 99  3 B 79 (1 day)
         4 C 59 never  5 A2 59 (6 days)  6 Pancur Pungah
  01-10  1 B2 (2 open, 49)  2 A 99  3 B 79 (1 day)  4 C 59 never  5 A2 59 (1 day)  6 Pancur Pungah

kecamatan_service, hari_kerja_tanpa_rekam on 01-01 .. 01-10 (W T F S S M T W T F; 01-01 a holiday: the working
days are 01-02, 01-03, 01-06 .. 01-10):
  16.09.01: last KECAMATAN row 01-01 (a recording on the holiday counts), 01-02, 01-03 (P05 counts: the row is
            in 16.09.01's own file), then working days after Fri 01-03: Mon 1, Tue 2, Wed 3, Thu 4, Fri 5
            -> 0 0 0 0 0 1 2 3 4 5; diduga_alat_rusak only on 01-10
  16.09.02: none yet on 01-01 (0: from the first date of the range, 01-01 itself is a day off); 01-02 0;
            01-03 1; Saturday 01-04 recording 0; 01-05 0; 01-06 1 (rejected file); 01-07 2; 01-08 0 (KEC02-B);
            01-09 1; 01-10 2  -> 0 0 1 0 0 1 2 0 1 2
  16.09.05: no KECAMATAN row in its files ever (P05 is in 16.09.01's file) -> from 01-01 (a day off):
            0 1 2 2 2 3 4 5 6 7; diduga_alat_rusak from 01-08 (its fifth working day)
  perangkat_aktif_7h: 16.09.01 1 on 01-01 .. 01-09 (KEC01-A, last on site 01-03), 0 on 01-10 (01-04..01-10);
                      16.09.02 0, 1 x6 (KEC02-A), 2 on 01-08 .. 01-10 (KEC02-A of Saturday 01-04, KEC02-B)

device_activity:
  KEC01-A rows 01-01 x2, 01-02, 01-03. rekam_7h 01-01..01-10: 2 3 4 4 4 4 4 (01-07: window 01-01..01-07)
          2 (01-02..01-08) 1 (01-03..01-09) 0; hari_diam 0 0 0 1 2 3 4 5 6 7; kode_kecamatan 16.09.01
  MOBIL-01 rows 01-02 (files 16.09.01 and 16.09.02), 01-07 (16.09.02), 01-09 (16.09.01 and 16.09.02).
          kode_kecamatan: 16.09.01 on 01-02..01-06 (two files on its last day: the smallest), 16.09.02 on
          01-07, 01-08, 16.09.01 on 01-09, 01-10. rekam_7h 2 2 2 2 2 3 3 (01-02..01-08) 3 (01-03..01-09: 1 + 2) 3
  KEC02-A rows 01-02, 01-04: rekam_7h 1 1 2 2 2 2 2 (01-02..01-08) 1 (01-03..01-09) 1; hari_diam 0 1 0 1 2 3 4 5 6
  KEC02-B row 01-08: no row before 01-08; SEK05-01 rows 01-01, 01-10: rekam_7h 1 x7, 0, 0, 1
  diam (hari_diam >= 7, mart.ambang_batas): KEC01-A on 01-10 (7), SEK05-01 on 01-08 (7) and 01-09 (8); no other row
"""

from __future__ import annotations

import csv
import io
import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.reference.wilayah import desa_codes
from flows.warehouse.database import SQL_DIR
from tests.harness import (
    build,
    header_only,
    load_landing,
    rec,
    recs,
    rejected,
    request,
    request_file,
    snapshot,
)

A, A2, A3 = "16.09.01.1013", "16.09.01.1014", "16.09.01.1015"     # Muara Dua: Batu Belang Jaya, Bumi Agung, Pancur Pungah
B, B2 = "16.09.02.2012", "16.09.02.2013"                           # Pulau Beringin: Tanjung Bulan, Pulau Beringin
C = "16.09.05.2001"                                                # Simpang: Karang Agung
Z = "16.09.03.2020"                                                # Banding Agung: Way Timah
KEC, JB = "KECAMATAN", "JEMPUT_BOLA"
GOLDEN = Path(__file__).parent / "golden"
OUTREACH_CHECKS = ("outreach_priority_ranks", "outreach_requests_grain_unique", "device_activity_grain_unique",
                   "kecamatan_service_every_kecamatan_every_date")


def d(day: str) -> date:
    return date.fromisoformat(day)


def days(first: str, last: str) -> list[date]:
    n = (d(last) - d(first)).days
    return [d(first) + timedelta(days=i) for i in range(n + 1)]


def extend_to(day: str, kecamatan: str = "16.09.07") -> dict:
    """A header-only log that makes ``day`` part of the range and records nothing."""
    return header_only(day, kecamatan)


def served_as(wh) -> list[tuple]:
    """(tanggal_dilayani, hari_menunggu) of every request, in registration order."""
    return wh.query("select tanggal_dilayani, hari_menunggu from mart.outreach_requests "
                    "order by tanggal_daftar, kode_desa, nomor_surat")


def priority(wh, day: str, desa: str, cols: str = "peringkat, permohonan_terbuka, permohonan_tertua") -> tuple:
    return wh.one("mart.outreach_priority", cols, as_of_date=day, kode_desa=desa)


def service(wh, kec: str, cols: str = "as_of_date, rekam_kecamatan_terakhir, hari_kerja_tanpa_rekam, diduga_alat_rusak"):
    """``cols`` of mart.kecamatan_service for one kecamatan, by as_of_date."""
    return wh.query(f"select {cols} from mart.kecamatan_service where kode_kecamatan = ? order by as_of_date", [kec])


def device(wh, alat: str, cols: str = "as_of_date, kode_kecamatan, pertama_aktif, terakhir_aktif, hari_diam, rekam_7h"):
    """``cols`` of mart.device_activity for one device, by as_of_date."""
    return wh.query(f"select {cols} from mart.device_activity where id_alat = ? order by as_of_date", [alat])


# --- requests: open and served -----------------------------------------------------------------------

def _one_request(rows: list[dict], end: str = "2025-01-06", daftar: str = "2025-01-03") -> list[tuple]:
    """(tanggal_dilayani, hari_menunggu) of one request of desa A registered on ``daftar``, range to ``end``."""
    wh = build([rec(person="START", desa=Z, at="2025-01-01"), *rows], files=[extend_to(end)],
               requests=[request(A, daftar, "001/BBJ/I/2025")])
    return served_as(wh)


def test_a_request_is_served_by_a_jemput_bola_recording_of_a_resident_of_its_desa_on_or_after_registration():
    assert _one_request([rec(person="P1", desa=A, at="2025-01-04", lokasi=JB)]) == [(d("2025-01-04"), 1)]


def test_a_jemput_bola_recording_on_the_registration_date_serves_the_request():
    assert _one_request([rec(person="P1", desa=A, at="2025-01-03 15:00:00", lokasi=JB)]) == [(d("2025-01-03"), 0)]


def test_a_jemput_bola_recording_before_the_registration_date_does_not_serve_the_request():
    assert _one_request([rec(person="P1", desa=A, at="2025-01-02", lokasi=JB)]) == [(None, 3)]


def test_a_jemput_bola_recording_of_another_desa_does_not_serve_the_request():
    # A2 is a desa of the same kecamatan, listed in the same file as A's residents
    assert _one_request([rec(person="P1", desa=A2, at="2025-01-04", lokasi=JB),
                         rec(person="P2", desa=A, at="2025-01-04", lokasi="DINAS")]) == [(None, 3)]


@pytest.mark.parametrize("lokasi", ["DINAS", "KECAMATAN", "SEKOLAH", "LAINNYA"])
def test_a_recording_of_the_desa_at_another_place_does_not_serve_the_request(lokasi):
    assert _one_request([rec(person="P1", desa=A, at="2025-01-04", lokasi=lokasi)]) == [(None, 3)]


def test_a_jemput_bola_recording_of_any_jenis_rekam_serves_the_request_ulang_too():
    assert _one_request([rec(person="P1", desa=A, at="2025-01-05", lokasi=JB, jenis="ULANG")]) == [(d("2025-01-05"), 2)]


def test_a_jemput_bola_recording_of_a_resident_listed_by_another_kecamatan_serves_the_request():
    assert _one_request([rec(person="P1", desa=A, at="2025-01-04", lokasi=JB, sent_by="16.09.05")]) == [
        (d("2025-01-04"), 1)]


def test_a_request_is_served_on_the_first_jemput_bola_date_on_or_after_registration():
    assert _one_request([rec(person="P1", desa=A, at="2025-01-06", lokasi=JB),
                         rec(person="P2", desa=A, at="2025-01-04", lokasi=JB, jenis="ULANG"),
                         rec(person="P3", desa=A, at="2025-01-01", lokasi=JB)]) == [(d("2025-01-04"), 1)]


def test_two_requests_of_one_desa_are_both_open_then_both_served_by_one_visit():
    wh = build([rec(person="START", desa=Z, at="2025-01-01", jenis="ULANG"),
                rec(person="P1", desa=A, at="2025-01-04", lokasi=JB, jenis="ULANG")],
               snapshots=[snapshot("2024-12-31")], files=[extend_to("2025-01-05")],
               requests=[request(A, "2025-01-01", "10/BBJ/2025"), request(A, "2025-01-02", "11/BBJ/2025")])
    assert priority(wh, "2025-01-01", A) == (1, 1, d("2025-01-01"))
    assert priority(wh, "2025-01-02", A) == (1, 2, d("2025-01-01"))
    assert priority(wh, "2025-01-03", A) == (1, 2, d("2025-01-01"))
    assert priority(wh, "2025-01-04", A)[1:] == (0, None)
    assert wh.rows("mart.outreach_requests", "tanggal_daftar, nomor_surat, tanggal_dilayani, hari_menunggu") == [
        (d("2025-01-01"), "10/BBJ/2025", d("2025-01-04"), 3), (d("2025-01-02"), "11/BBJ/2025", d("2025-01-04"), 2)]


def test_the_same_letter_registered_on_two_dates_is_two_requests():
    wh = build([rec(person="START", desa=Z, at="2025-01-01", jenis="ULANG"),
                rec(person="P1", desa=A, at="2025-01-04", lokasi=JB, jenis="ULANG")],
               snapshots=[snapshot("2024-12-31")], files=[extend_to("2025-01-05")],
               requests=[request(A, "2025-01-01", "005/BBJ/2025", surat="2024-12-30", warga=30),
                         request(A, "2025-01-03", "005/BBJ/2025", surat="2024-12-30", warga=30)])
    assert wh.rows("mart.outreach_requests", "tanggal_daftar, tanggal_surat, nomor_surat, perkiraan_warga, "
                                             "tanggal_dilayani, hari_menunggu") == [
        (d("2025-01-01"), d("2024-12-30"), "005/BBJ/2025", 30, d("2025-01-04"), 3),
        (d("2025-01-03"), d("2024-12-30"), "005/BBJ/2025", 30, d("2025-01-04"), 1)]
    assert priority(wh, "2025-01-03", A) == (1, 2, d("2025-01-01"))
    assert wh.check("outreach_requests_grain_unique") == []


def test_a_request_carries_its_desa_kecamatan_letter_and_expected_residents():
    wh = build([rec(person="START", desa=Z, at="2025-01-01")],
               requests=[request(B, "2025-01-01", "045/tb/I/2025", surat="2024-12-20", warga=25),
                         request(C, "2025-01-01", "7/KA/2025")])
    assert wh.rows("mart.outreach_requests", "tanggal_daftar, tanggal_surat, nomor_surat, kode_kecamatan, kode_desa, "
                                             "nama_desa, perkiraan_warga") == [
        (d("2025-01-01"), d("2024-12-20"), "045/tb/I/2025", "16.09.02", B, "Tanjung Bulan", 25),   # as sent
        (d("2025-01-01"), d("2025-01-01"), "7/KA/2025", "16.09.05", C, "Karang Agung", None)]


# --- requests: hari_menunggu ------------------------------------------------------------------------

def test_hari_menunggu_of_a_served_request_is_the_served_date_minus_registration():
    assert _one_request([rec(person="P1", desa=A, at="2025-01-05", lokasi=JB)], end="2025-01-09",
                        daftar="2025-01-02") == [(d("2025-01-05"), 3)]


def test_hari_menunggu_of_an_open_request_is_the_last_date_of_the_range_minus_registration():
    assert _one_request([], end="2025-01-09", daftar="2025-01-02") == [(None, 7)]
    assert _one_request([], end="2025-01-09", daftar="2025-01-09") == [(None, 0)]


def test_a_request_registered_after_the_last_log_date_is_open_with_0_days_of_waiting():
    wh = build([rec(person="P1", desa=A, at="2025-01-01", lokasi=JB)], snapshots=[snapshot("2024-12-31")],
               files=[extend_to("2025-01-03")], requests=[request(A, "2025-01-06", "20/BBJ/2025")])
    assert served_as(wh) == [(None, 0)]      # not max(01-03 - 01-06) = -3; the 01-01 visit is before it
    assert wh.rows("mart.outreach_priority", "max(permohonan_terbuka)") == [(0,)]   # not open at any date yet


def test_request_files_do_not_extend_the_range():
    wh = build([rec(person="P1", at="2025-01-01"), rec(person="P2", at="2025-01-02")],
               requests=[request(A, "2024-12-20", "1/X/2024"), request(A, "2025-01-09", "2/X/2025")])
    assert [r[0] for r in wh.query("select tanggal from core.date_spine order by 1")] == days("2025-01-01", "2025-01-02")
    assert served_as(wh) == [(None, 13), (None, 0)]    # 01-02 - 12-20; 01-02 - 01-09 below 0


def test_hari_menunggu_is_null_while_no_log_is_loaded():
    """docs/data_dictionary.md: open requests wait 'the last date of the marts' range minus tanggal_daftar,
    at least 0 (null when no log was loaded yet)': with no range there is no last date."""
    wh = build(requests=[request(A, "2025-01-02", "1/BBJ/2025")], files=[rejected("2025-01-02", "16.09.01")])
    assert wh.rows("mart.outreach_requests", "tanggal_daftar, tanggal_dilayani, hari_menunggu") == [
        (d("2025-01-02"), None, None)]


def test_a_rejected_request_file_gives_no_request():
    wh = build([rec(person="P1")], files=[request_file("2025-01-01", status="rejected", rows=0,
                                                       error="missing_columns: required column(s) missing: nomor_surat")])
    assert wh.rows("mart.outreach_requests") == []
    assert wh.rows("staging.file_loads", "source_file, kind, log_date, status", kind="permohonan") == [
        ("permohonan/2025-01-01.csv", "permohonan", d("2025-01-01"), "rejected")]


# --- outreach_priority ------------------------------------------------------------------------------

OPEN = "16.09.19.2001"                    # belum 5 (the smallest), a request registered 01-02, never visited
BIG = "16.09.10.2001"                     # belum 90
S_OLD, S_NEW, S_NEVER = "16.09.04.2001", "16.09.07.2001", "16.09.18.2001"   # belum 70: visited 01-02, 01-04, never
NEVER_1, NEVER_2 = "16.09.16.2001", "16.09.06.2007"                          # belum 60, never visited
TIE_1, TIE_2 = "16.09.14.2001", "16.09.08.2001"                              # belum 60, both visited 01-03
RANKED = [OPEN, BIG, S_NEVER, S_OLD, S_NEW, NEVER_2, NEVER_1, TIE_2, TIE_1]  # the order at 01-05


@pytest.fixture(scope="module")
def ranking():
    over = {OPEN: (200, 195), BIG: (200, 110), S_OLD: (200, 130), S_NEW: (200, 130), S_NEVER: (200, 130),
            NEVER_1: (200, 140), NEVER_2: (200, 140), TIE_1: (200, 140), TIE_2: (200, 140)}
    visit = {"lokasi": JB, "jenis": "ULANG"}    # ULANG: the backlog stays as the snapshot says
    wh = build([rec(person="START", desa=A, at="2025-01-01", jenis="ULANG"),
                rec(person="V1", desa=S_OLD, at="2025-01-02", **visit),
                rec(person="V2", desa=TIE_1, at="2025-01-03", **visit),
                rec(person="V3", desa=TIE_2, at="2025-01-03", **visit),
                rec(person="V4", desa=S_NEW, at="2025-01-04", **visit)],
               snapshots=[snapshot("2024-12-31", overrides=over)], files=[extend_to("2025-01-05")],
               requests=[request(OPEN, "2025-01-02", "3/RP/2025")])
    yield wh
    wh.close()


def _order(wh, day: str) -> list[str]:
    return [r[0] for r in wh.query("select kode_desa from mart.outreach_priority where as_of_date = ? order by peringkat",
                                   [day])]


def test_peringkat_puts_a_desa_with_an_open_request_first(ranking):
    assert priority(ranking, "2025-01-05", OPEN, "peringkat, belum_rekam, permohonan_terbuka") == (1, 5, 1)
    assert priority(ranking, "2025-01-01", OPEN, "peringkat, belum_rekam, permohonan_terbuka") == (259, 5, 0)


def test_peringkat_then_ranks_larger_belum_rekam_first(ranking):
    order = _order(ranking, "2025-01-05")
    assert order[1] == BIG
    belum = [r[0] for r in ranking.query("select belum_rekam from mart.outreach_priority where as_of_date = '2025-01-05' "
                                         "and peringkat > 1 order by peringkat")]
    assert belum == sorted(belum, reverse=True)


def test_peringkat_then_ranks_a_never_visited_desa_above_any_number_of_days(ranking):
    assert _order(ranking, "2025-01-05")[2:7] == [S_NEVER, S_OLD, S_NEW, NEVER_2, NEVER_1]
    # on 01-03, S_NEW has not been visited yet: it ranks above S_OLD (visited 1 day ago) and S_NEVER by kode_desa
    assert _order(ranking, "2025-01-03")[1:5] == [BIG, S_NEW, S_NEVER, S_OLD]


def test_peringkat_then_ranks_a_longer_time_since_the_last_visit_first(ranking):
    assert [priority(ranking, "2025-01-05", k, "peringkat, hari_sejak_jemput_bola") for k in (S_OLD, S_NEW)] == [
        (4, 3), (5, 1)]


def test_peringkat_breaks_remaining_ties_by_kode_desa(ranking):
    assert _order(ranking, "2025-01-05")[:9] == RANKED
    # TIE_1 and TIE_2: belum 60, both visited 2 days ago; the rest: belum 40, never visited
    assert [priority(ranking, "2025-01-05", k, "peringkat, hari_sejak_jemput_bola") for k in (TIE_2, TIE_1)] == [
        (8, 2), (9, 2)]
    rest = sorted(set(desa_codes()) - set(RANKED))
    assert _order(ranking, "2025-01-05")[9:] == rest


def test_peringkat_is_1_to_259_at_each_date(ranking):
    assert ranking.query("""select as_of_date::varchar, count(*), count(distinct kode_desa), count(distinct peringkat),
                                   min(peringkat), max(peringkat)
                            from mart.outreach_priority group by 1 order by 1""") == [
        (str(day), 259, 259, 259, 1, 259) for day in days("2025-01-01", "2025-01-05")]
    assert ranking.check("outreach_priority_ranks") == []


def test_outreach_priority_carries_the_backlog_of_its_desa_and_date(ranking):
    assert ranking.query("""select count(*) from mart.outreach_priority p join mart.backlog b using (as_of_date, kode_desa)
                            where (p.belum_rekam, p.pct_rekam, p.kode_kecamatan, p.nama_kecamatan, p.nama_desa)
                                  is not distinct from (b.belum_rekam, b.pct_rekam, b.kode_kecamatan, b.nama_kecamatan,
                                                        b.nama_desa)""") == [(5 * 259,)]


def test_jemput_bola_terakhir_is_the_latest_visit_on_or_before_the_date_and_hari_sejak_the_days_since():
    wh = build([rec(person="P1", desa=A, at="2025-01-02", lokasi=JB),                          # BARU
                rec(person="P2", desa=A, at="2025-01-05", lokasi=JB, jenis="ULANG", sent_by="16.09.05"),
                rec(person="P3", desa=A, at="2025-01-06", lokasi="DINAS"),                      # not a visit
                rec(person="P4", desa=A2, at="2025-01-07", lokasi=JB)],                         # another desa
               snapshots=[snapshot("2024-12-31")], files=[extend_to("2025-01-01")])
    got = wh.rows("mart.outreach_priority", "as_of_date, jemput_bola_terakhir, hari_sejak_jemput_bola", kode_desa=A)
    v2, v5 = d("2025-01-02"), d("2025-01-05")
    assert got == [(d("2025-01-01"), None, None), (v2, v2, 0), (d("2025-01-03"), v2, 1), (d("2025-01-04"), v2, 2),
                   (v5, v5, 0), (d("2025-01-06"), v5, 1), (d("2025-01-07"), v5, 2)]
    assert "belum pernah dikunjungi jemput bola" in priority(wh, "2025-01-01", A, "alasan")[0]


def test_outreach_priority_has_the_as_of_dates_of_the_backlog_none_before_the_first_snapshot():
    wh = build([rec(person="P1", at="2025-01-01"), rec(person="P2", at="2025-01-05")],
               snapshots=[snapshot("2025-01-03")], requests=[request(A, "2025-01-01", "1/BBJ/2025")])
    backlog_dates = [r[0] for r in wh.query("select distinct as_of_date from mart.backlog order by 1")]
    assert backlog_dates == days("2025-01-03", "2025-01-05")
    assert [r[0] for r in wh.query("select distinct as_of_date from mart.outreach_priority order by 1")] == backlog_dates
    # without a snapshot: no ranking at all, while the device and service marts have their rows
    wh = build([rec(person="P1", at="2025-01-01")], requests=[request(A, "2025-01-01", "1/BBJ/2025")])
    assert wh.rows("mart.outreach_priority") == []
    assert wh.query("select count(*) from mart.kecamatan_service") == [(19,)]
    assert wh.query("select count(*) from mart.device_activity") == [(1,)]


# --- device_activity --------------------------------------------------------------------------------

def test_every_loaded_row_counts_for_its_device_whatever_its_place_or_kind():
    rows = [rec(person=f"{lokasi}-{jenis}", desa=Z, lokasi=lokasi, jenis=jenis, alat="TAB-03")
            for lokasi in ("DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA") for jenis in ("BARU", "ULANG")]
    rows.append(rec(person="DINAS-BARU", desa=Z, at="2025-01-01 15:00:00", alat="TAB-03"))   # a second BARU
    rows.append(rec(person="16", desa=Z, umur=16, kawin="BELUM KAWIN", alat="TAB-03"))       # not wajib KTP
    wh = build(rows)
    assert device(wh, "TAB-03", "as_of_date, rekam_7h") == [(d("2025-01-01"), 12)]


def test_a_device_belongs_to_the_kecamatan_of_the_file_that_listed_it_not_the_residents_desa():
    wh = build([rec(person="P1", desa=B, lokasi=KEC, alat="TAB-05", sent_by="16.09.05"),
                rec(person="P2", desa=A, lokasi=JB, alat="TAB-05", sent_by="16.09.05")])
    assert device(wh, "TAB-05", "kode_kecamatan, rekam_7h") == [("16.09.05", 2)]


def test_a_device_listed_by_two_kecamatan_on_its_last_day_gets_the_smallest_code():
    wh = build([rec(person="P1", desa=A, at="2025-01-01", alat="MOBIL-09"),                    # 16.09.01 only
                rec(person="P2", desa=Z, at="2025-01-02", alat="MOBIL-09", sent_by="16.09.07"),
                rec(person="P3", desa=Z, at="2025-01-02", alat="MOBIL-09", sent_by="16.09.03")],
               files=[extend_to("2025-01-03", "16.09.02")])
    # the smallest code of the files of terakhir_aktif (16.09.03), not of every file ever (16.09.01)
    assert device(wh, "MOBIL-09", "as_of_date, terakhir_aktif, kode_kecamatan") == [
        (d("2025-01-01"), d("2025-01-01"), "16.09.01"), (d("2025-01-02"), d("2025-01-02"), "16.09.03"),
        (d("2025-01-03"), d("2025-01-02"), "16.09.03")]


@pytest.fixture(scope="module")
def two_days():
    """Device TAB-04 recorded on 01-02 and 01-04; the range is 01-01 .. 01-06."""
    wh = build([rec(person="P0", desa=A, at="2025-01-01", alat="DINAS-01"),
                rec(person="P1", desa=A, at="2025-01-02", alat="TAB-04"),
                rec(person="P2", desa=A, at="2025-01-04", alat="TAB-04")], files=[extend_to("2025-01-06")])
    yield wh
    wh.close()


def test_pertama_and_terakhir_aktif_are_the_first_and_latest_rows_on_or_before_the_date(two_days):
    j2, j4 = d("2025-01-02"), d("2025-01-04")
    assert device(two_days, "TAB-04", "as_of_date, pertama_aktif, terakhir_aktif") == [
        (j2, j2, j2), (d("2025-01-03"), j2, j2), (j4, j2, j4), (d("2025-01-05"), j2, j4), (d("2025-01-06"), j2, j4)]


def test_no_device_row_before_the_device_is_first_seen(two_days):
    assert [r[0] for r in device(two_days, "TAB-04", "as_of_date")] == days("2025-01-02", "2025-01-06")
    assert [r[0] for r in device(two_days, "DINAS-01", "as_of_date")] == days("2025-01-01", "2025-01-06")


def test_hari_diam_is_the_date_minus_terakhir_aktif(two_days):
    assert [r[0] for r in device(two_days, "TAB-04", "hari_diam")] == [0, 1, 0, 1, 2]
    assert [r[0] for r in device(two_days, "DINAS-01", "hari_diam")] == [0, 1, 2, 3, 4, 5]


def test_rekam_7h_counts_the_devices_rows_dated_d_minus_6_to_d():
    wh = build([*recs(3, person="J1-", at="2025-01-01", alat="TAB-01"),
                rec(person="J7", at="2025-01-07", alat="TAB-01"),
                *recs(2, person="J8-", at="2025-01-08", alat="TAB-01")], files=[extend_to("2025-01-14")])
    # 01-07: 01-01..01-07 = 3 + 1; 01-08: 01-02..01-08 = 1 + 2; 01-13: 01-07..01-13 = 3; 01-14: 01-08..01-14 = 2
    assert [r[0] for r in device(wh, "TAB-01", "rekam_7h")] == [3, 3, 3, 3, 3, 3, 4, 3, 3, 3, 3, 3, 3, 2]


def test_an_id_alat_sent_in_lower_case_counts_with_its_upper_case_form(landing):
    """Through the raw path: the id_alat rule checks the value as sent (lower case is valid), landing
    stores it upper-cased, and the device is one device."""
    from tests.helpers import row

    landing.log("2025-01-01", "16.09.01", [row(nik="1609014501010001", alat="tab-okus-07"),
                                           row(nik="1609014501010002", waktu="2025-01-01 09:00:00", alat="TAB-OKUS-07")])
    landing.log("2025-01-02", "16.09.02", [row(nik="1609014501010003", desa=B, waktu="2025-01-02 08:00:00",
                                               alat="Tab-Okus-07")])
    wh = load_landing(landing.data_dir, date(2025, 1, 2))
    assert wh.query("select * from audit.quarantine") == []
    assert wh.rows("landing.rekam", "id_alat") == [("TAB-OKUS-07",)] * 3
    assert wh.rows("staging.rekam", "distinct id_alat") == [("TAB-OKUS-07",)]
    assert device(wh, "TAB-OKUS-07", "as_of_date, kode_kecamatan, rekam_7h") == [
        (d("2025-01-01"), "16.09.01", 2), (d("2025-01-02"), "16.09.02", 3)]
    assert wh.query("select count(distinct id_alat) from mart.device_activity") == [(1,)]


def test_device_activity_has_one_row_per_date_and_device(two_days):
    assert two_days.check("device_activity_grain_unique") == []
    assert two_days.query("select count(*), count(distinct (as_of_date, id_alat)) from mart.device_activity") == [(11, 11)]


# --- kecamatan_service ------------------------------------------------------------------------------

def test_rekam_kecamatan_terakhir_counts_only_kecamatan_rows_in_the_kecamatans_own_files():
    wh = build([rec(person="P1", desa=C, at="2025-01-01", lokasi=KEC, sent_by="16.09.02"),   # K's file, other desa: counts
                rec(person="P2", desa=B, at="2025-01-02", lokasi=KEC, sent_by="16.09.01"),   # K's resident, other file
                *[rec(person=f"P3{lokasi}", desa=B, at="2025-01-03", lokasi=lokasi)          # K's file, other places
                  for lokasi in ("DINAS", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA")]])
    at_03 = "rekam_kecamatan_terakhir, hari_kerja_tanpa_rekam"
    assert wh.one("mart.kecamatan_service", at_03, as_of_date="2025-01-03", kode_kecamatan="16.09.02") == (
        d("2025-01-01"), 2)
    assert wh.one("mart.kecamatan_service", at_03, as_of_date="2025-01-03", kode_kecamatan="16.09.01") == (
        d("2025-01-02"), 1)
    # no KECAMATAN row in 16.09.05's files: from the first date, 01-01 (a holiday) .. 01-03 = 2 working days
    assert wh.one("mart.kecamatan_service", at_03, as_of_date="2025-01-03", kode_kecamatan="16.09.05") == (None, 2)


def test_weekdays_without_an_office_recording_are_counted_across_the_weekend():
    # last on-site recording Friday 01-03: Thursday 01-09 is 4 weekdays later, Friday 01-10 is 5
    wh = build([rec(person="P1", desa=A, at="2025-01-03", lokasi=KEC)], files=[extend_to("2025-01-10")])
    fri = d("2025-01-03")
    assert service(wh, "16.09.01") == [(day, fri, n, n >= 5) for day, n in zip(days("2025-01-03", "2025-01-10"),
                                                                                 [0, 0, 0, 1, 2, 3, 4, 5])]
    assert service(wh, "16.09.01")[-2:] == [(d("2025-01-09"), fri, 4, False), (d("2025-01-10"), fri, 5, True)]


def test_a_weekend_recording_counts_as_a_recording():
    wh = build([rec(person="P1", desa=A, at="2025-01-02", lokasi=KEC),
                rec(person="P2", desa=A, at="2025-01-04", lokasi=KEC)], files=[extend_to("2025-01-10")])
    got = [(r[1], r[2]) for r in service(wh, "16.09.01")]
    j2, j4 = d("2025-01-02"), d("2025-01-04")
    assert got == [(j2, 0), (j2, 1), (j4, 0), (j4, 0), (j4, 1), (j4, 2), (j4, 3), (j4, 4), (j4, 5)]


def test_a_public_holiday_inside_a_device_gap_does_not_count_as_a_working_day():
    # last on-site recording Fri 01-24; Mon 01-27 Isra Mikraj, Tue 01-28 cuti bersama Imlek, Wed 01-29 Imlek are
    # days off: the working days after it are 01-30, 01-31, 02-03, 02-04, 02-05 (by Monday-Friday: 01-27 .. 01-31)
    wh = build([rec(person="P1", desa=A, at="2025-01-24", lokasi=KEC)], files=[extend_to("2025-02-05")])
    got = {day: (n, flag) for day, _, n, flag in service(wh, "16.09.01")}
    assert [got[day] for day in days("2025-01-27", "2025-01-31")] == [(0, False), (0, False), (0, False), (1, False),
                                                                     (2, False)]
    assert [got[day] for day in days("2025-02-03", "2025-02-05")] == [(3, False), (4, False), (5, True)]


def test_a_collective_leave_day_does_not_count_as_a_working_day():
    # last on-site recording Tue 04-01 (Idul Fitri's second day: a recording on a holiday); the cuti bersama
    # Wed 04-02 .. Fri 04-04 and Mon 04-07 are days off, Tue 04-08 is the first working day after it
    wh = build([rec(person="P1", desa=A, at="2025-04-01", lokasi=KEC)], files=[extend_to("2025-04-14")])
    got = [(day, n) for day, _, n, _ in service(wh, "16.09.01")]
    assert got == list(zip(days("2025-04-01", "2025-04-14"), [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 5]))


def test_idul_fitri_and_its_collective_leave_flag_no_kecamatan():
    # every office records on Thu 03-27; Fri 03-28 (cuti bersama Nyepi) .. Mon 04-07 holds no working day (by
    # Monday-Friday 7: 03-28, 03-31 .. 04-04, 04-07), so no kecamatan is flagged on 04-07
    first_desa = {}
    for code in sorted(desa_codes()):
        first_desa.setdefault(code[:8], code)
    wh = build([rec(person=f"P{k}", desa=desa, at="2025-03-27", lokasi=KEC) for k, desa in first_desa.items()],
               files=[extend_to("2025-04-07")])
    assert wh.query("select hari_kerja_tanpa_rekam, count(*) from mart.kecamatan_service "
                    "where as_of_date = '2025-04-07' group by 1") == [(0, 19)]
    assert wh.query("select count(*) from mart.kecamatan_service where diduga_alat_rusak") == [(0,)]


def test_a_recording_on_a_holiday_counts_as_a_recording():
    # the only on-site recording is on Mon 01-27 (Isra Mikraj): it is the last recording, and the count starts after it
    wh = build([rec(person="P1", desa=A, at="2025-01-27", lokasi=KEC)], files=[extend_to("2025-01-31")])
    j27 = d("2025-01-27")
    assert [r[1:] for r in service(wh, "16.09.01")] == [(j27, 0, False), (j27, 0, False), (j27, 0, False),
                                                        (j27, 1, False), (j27, 2, False)]


def test_in_a_year_the_holiday_package_does_not_know_only_weekends_are_days_off():
    # 2030 has no collective leave decree in the pinned package: Tue 2030-01-01 (New Year) counts as a working day
    wh = build(files=[extend_to("2030-01-01"), extend_to("2030-01-07")])
    assert [r[2] for r in service(wh, "16.09.05")] == [1, 2, 3, 4, 4, 4, 5]
    assert wh.query("select count(*) filter (where not kalender_dikenal), count(keterangan) from mart.kalender") == [(7, 0)]


def test_a_missing_or_rejected_file_counts_as_no_recording():
    wh = build([rec(person="P1", desa=A, at="2025-01-03", lokasi=KEC),
                rec(person="P2", desa=A, at="2025-01-09", lokasi="DINAS")],       # Thursday: a log, no office row
               files=[rejected("2025-01-06", "16.09.01"), header_only("2025-01-08", "16.09.01"),
                      extend_to("2025-01-10")])                                # 01-07 and 01-10 missing
    assert [r[2:] for r in service(wh, "16.09.01")][-5:] == [(1, False), (2, False), (3, False), (4, False), (5, True)]


def test_without_a_kecamatan_row_weekdays_count_from_the_first_date_of_the_range():
    wh = build(files=[extend_to("2025-01-04"), extend_to("2025-01-10")])       # Saturday .. Friday
    assert service(wh, "16.09.05") == [(day, None, n, n >= 5) for day, n in zip(days("2025-01-04", "2025-01-10"),
                                                                                  [0, 0, 1, 2, 3, 4, 5])]
    wh = build(files=[extend_to("2025-01-02"), extend_to("2025-01-08")])       # Thursday .. Wednesday
    assert [r[2:] for r in service(wh, "16.09.05")] == [(1, False), (2, False), (2, False), (2, False), (3, False),
                                                        (4, False), (5, True)]


def test_perangkat_aktif_7h_counts_distinct_devices_of_kecamatan_rows_in_its_files_over_d_minus_6_to_d():
    wh = build([*recs(2, person="X", desa=B, at="2025-01-01", lokasi=KEC, alat="KEC02-X"),
                rec(person="Y", desa=B, at="2025-01-03", lokasi=KEC, alat="KEC02-Y"),
                rec(person="Z", desa=B, at="2025-01-03", lokasi=JB, alat="MOBIL-Z"),          # not at the office
                rec(person="W", desa=B, at="2025-01-03", lokasi="DINAS", alat="DINAS-W"),     # not at the office
                rec(person="V", desa=B, at="2025-01-03", lokasi=KEC, alat="KEC01-V", sent_by="16.09.01")],
               files=[extend_to("2025-01-10")])
    assert [r[0] for r in service(wh, "16.09.02", "perangkat_aktif_7h")] == [1, 1, 2, 2, 2, 2, 2, 1, 1, 0]
    assert [r[0] for r in service(wh, "16.09.01", "perangkat_aktif_7h")] == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0]


def test_every_kecamatan_has_a_service_row_on_every_date():
    wh = build([rec(person="P1", at="2025-01-01"), rec(person="P2", desa=B, at="2025-01-03")])
    assert wh.query("select as_of_date, count(*), count(distinct kode_kecamatan), count(nama_kecamatan) "
                    "from mart.kecamatan_service group by 1 order by 1") == [(day, 19, 19, 19) for day in
                                                                              days("2025-01-01", "2025-01-03")]
    assert wh.check("kecamatan_service_every_kecamatan_every_date") == []


# --- the golden scenario ----------------------------------------------------------------------------

def golden_build():
    return build(
        [rec(person="P01", desa=A, at="2025-01-01 08:00:00", lokasi=KEC, alat="KEC01-A"),
         rec(person="P02", desa=A, at="2025-01-01 09:00:00", jenis="ULANG", lokasi=KEC, alat="KEC01-A"),
         rec(person="P03", desa=A, at="2025-01-02 08:00:00", jenis="ULANG", lokasi=KEC, alat="KEC01-A"),
         rec(person="P04", desa=A2, at="2025-01-02 10:00:00", lokasi=JB, alat="MOBIL-01"),
         rec(person="P05", desa=C, at="2025-01-03 08:00:00", jenis="ULANG", lokasi=KEC, alat="KEC01-A", sent_by="16.09.01"),
         rec(person="P07", desa=A2, at="2025-01-09 10:00:00", jenis="ULANG", lokasi=JB, alat="MOBIL-01"),
         rec(person="P11", desa=B, at="2025-01-02 08:00:00", lokasi=KEC, alat="KEC02-A"),
         rec(person="P12", desa=B, at="2025-01-02 13:00:00", jenis="ULANG", lokasi=JB, alat="MOBIL-01"),
         rec(person="P13", desa=B2, at="2025-01-04 09:00:00", jenis="ULANG", lokasi=KEC, alat="KEC02-A"),
         rec(person="P14", desa=B, at="2025-01-07 10:00:00", jenis="ULANG", lokasi=JB, alat="MOBIL-01"),
         rec(person="P15", desa=B2, at="2025-01-08 08:00:00", lokasi=KEC, alat="KEC02-B"),
         rec(person="P16", desa=B, at="2025-01-09 14:00:00", jenis="ULANG", lokasi=JB, alat="MOBIL-01"),
         rec(person="P21", desa=C, at="2025-01-01 09:00:00", lokasi="SEKOLAH", alat="SEK05-01"),
         rec(person="P23", desa=C, at="2025-01-10 09:00:00", jenis="ULANG", lokasi="SEKOLAH", alat="SEK05-01")],
        snapshots=[snapshot("2024-12-31", overrides={A: (300, 200), A2: (300, 240), B: (300, 220), B2: (250, 200),
                                                     C: (300, 240)})],
        files=[header_only("2025-01-06", "16.09.01"), rejected("2025-01-08", "16.09.01"),
               header_only("2025-01-10", "16.09.01"), header_only("2025-01-03", "16.09.02"),
               rejected("2025-01-06", "16.09.02"), header_only("2025-01-10", "16.09.02")],
        requests=[request(A2, "2025-01-01", "470/015/BA/2025", surat="2024-12-27", warga=40),
                  request(B, "2025-01-03", "045/TB/I/2025", surat="2025-01-02", warga=25),
                  request(B2, "2025-01-06", "12/PB/2025", surat="2025-01-03"),
                  request(B2, "2025-01-08", "13/PB/2025", warga=60),
                  request(C, "2025-01-12", "7/KA/2025", surat="2025-01-10", warga=15)],
    )


@pytest.fixture(scope="module")
def golden():
    wh = golden_build()
    yield wh
    wh.close()


@pytest.fixture
def tamper():
    """The golden scenario, built afresh for a test that changes a mart."""
    wh = golden_build()
    yield wh
    wh.close()


GOLDEN_DATES = ("2025-01-01", "2025-01-03", "2025-01-06", "2025-01-08", "2025-01-10")
GOLDEN_QUERIES = {
    # the scenario's desa and the first of the 254 others (rank 6), on five dates (section "outreach_priority" above)
    "outreach_priority": f"select * from mart.outreach_priority where kode_desa in ('{A}', '{A2}', '{A3}', '{B}', '{B2}', "
                         f"'{C}') and as_of_date in ({', '.join(repr(day) for day in GOLDEN_DATES)}) "
                         "order by as_of_date, peringkat",
    "outreach_requests": "select * from mart.outreach_requests order by all",
    "device_activity": "select * from mart.device_activity order by id_alat, as_of_date",
    "kecamatan_service": "select * from mart.kecamatan_service where kode_kecamatan in ('16.09.01', '16.09.02', '16.09.05') "
                         "order by kode_kecamatan, as_of_date",
}


@pytest.mark.parametrize("mart", sorted(GOLDEN_QUERIES))
def test_golden_output(golden, mart):
    """tests/golden/<mart>.csv is the reviewed output of the golden scenario; UPDATE_GOLDEN=1 rewrites it."""
    cur = golden.con.execute(GOLDEN_QUERIES[mart])
    cols = [c[0] for c in cur.description]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(["" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in r] for r in cur.fetchall())
    path = GOLDEN / f"{mart}.csv"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(buf.getvalue(), encoding="utf-8")
    assert buf.getvalue() == path.read_text(encoding="utf-8")


# The hand arithmetic of the module docstring, value by value (so the golden files are checked against it).

def test_golden_hand_arithmetic_outreach_requests(golden):
    assert golden.rows("mart.outreach_requests", "kode_desa, tanggal_daftar, tanggal_dilayani, hari_menunggu") == [
        (A2, d("2025-01-01"), d("2025-01-02"), 1), (B, d("2025-01-03"), d("2025-01-07"), 4),
        (B2, d("2025-01-06"), None, 4), (B2, d("2025-01-08"), None, 2), (C, d("2025-01-12"), None, 0)]
    assert priority(golden, "2025-01-08", B2) == (1, 2, d("2025-01-06"))     # R3 and R4 open, the older from 01-06


GOLDEN_RANKS = {   # date: the first six desa, and (belum_rekam, hari_sejak_jemput_bola, permohonan_terbuka) of each
    "2025-01-01": [(A2, 60, None, 1), (A, 99, None, 0), (B, 80, None, 0), (C, 59, None, 0), (B2, 50, None, 0),
                   (A3, 40, None, 0)],
    "2025-01-03": [(B, 79, 1, 1), (A, 99, None, 0), (C, 59, None, 0), (A2, 59, 1, 0), (B2, 50, None, 0),
                   (A3, 40, None, 0)],
    "2025-01-06": [(B, 79, 4, 1), (B2, 50, None, 1), (A, 99, None, 0), (C, 59, None, 0), (A2, 59, 4, 0),
                   (A3, 40, None, 0)],
    "2025-01-08": [(B2, 49, None, 2), (A, 99, None, 0), (B, 79, 1, 0), (C, 59, None, 0), (A2, 59, 6, 0),
                   (A3, 40, None, 0)],
    "2025-01-10": [(B2, 49, None, 2), (A, 99, None, 0), (B, 79, 1, 0), (C, 59, None, 0), (A2, 59, 1, 0),
                   (A3, 40, None, 0)],
}


@pytest.mark.parametrize("day", sorted(GOLDEN_RANKS))
def test_golden_hand_arithmetic_ranks(golden, day):
    got = golden.query("""select kode_desa, belum_rekam, hari_sejak_jemput_bola, permohonan_terbuka
                          from mart.outreach_priority where as_of_date = ? and peringkat <= 6 order by peringkat""", [day])
    assert got == GOLDEN_RANKS[day]


def test_golden_hand_arithmetic_kecamatan_service(golden):
    assert [r[0] for r in service(golden, "16.09.01", "hari_kerja_tanpa_rekam")] == [0, 0, 0, 0, 0, 1, 2, 3, 4, 5]
    assert [r[0] for r in service(golden, "16.09.02", "hari_kerja_tanpa_rekam")] == [0, 0, 1, 0, 0, 1, 2, 0, 1, 2]
    assert [r[0] for r in service(golden, "16.09.05", "hari_kerja_tanpa_rekam")] == [0, 1, 2, 2, 2, 3, 4, 5, 6, 7]
    assert [r[0] for r in service(golden, "16.09.01", "rekam_kecamatan_terakhir")] == [
        d("2025-01-01"), d("2025-01-02")] + [d("2025-01-03")] * 8
    assert [r[0] for r in service(golden, "16.09.01", "diduga_alat_rusak")] == [False] * 9 + [True]
    assert [r[0] for r in service(golden, "16.09.05", "diduga_alat_rusak")] == [False] * 7 + [True] * 3
    assert [r[0] for r in service(golden, "16.09.01", "perangkat_aktif_7h")] == [1] * 9 + [0]
    assert [r[0] for r in service(golden, "16.09.02", "perangkat_aktif_7h")] == [0] + [1] * 6 + [2] * 3


def test_golden_hand_arithmetic_device_activity(golden):
    assert [r[0] for r in device(golden, "KEC01-A", "rekam_7h")] == [2, 3, 4, 4, 4, 4, 4, 2, 1, 0]
    assert [r[0] for r in device(golden, "KEC01-A", "hari_diam")] == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]
    assert [r[0] for r in device(golden, "KEC01-A", "diam")] == [False] * 9 + [True]  # silent from 7 days
    assert [r[0] for r in device(golden, "SEK05-01", "diam")] == [False] * 7 + [True, True, False]
    assert golden.query("select count(*) from mart.device_activity where diam") == [(3,)]
    assert [r[0] for r in device(golden, "MOBIL-01", "rekam_7h")] == [2, 2, 2, 2, 2, 3, 3, 3, 3]
    assert [r[0] for r in device(golden, "MOBIL-01", "kode_kecamatan")] == ["16.09.01"] * 5 + ["16.09.02"] * 2 + [
        "16.09.01"] * 2
    assert [r[0] for r in device(golden, "KEC02-A", "rekam_7h")] == [1, 1, 2, 2, 2, 2, 2, 1, 1]
    assert [r[0] for r in device(golden, "KEC02-B", "as_of_date")] == days("2025-01-08", "2025-01-10")
    assert [r[0] for r in device(golden, "SEK05-01", "rekam_7h")] == [1] * 7 + [0, 0, 1]


# --- sql/checks on these marts ----------------------------------------------------------------------

def test_every_check_returns_nothing_on_the_golden_scenario(golden):
    assert golden.checks() == {path.stem: [] for path in (SQL_DIR / "checks").glob("*.sql")}
    assert set(OUTREACH_CHECKS) <= set(golden.checks())


def test_the_ranks_check_returns_a_date_with_a_broken_or_doubled_rank_or_no_ranking(tamper):
    tamper.con.execute("update mart.outreach_priority set peringkat = 2 where as_of_date = '2025-01-03' and peringkat = 1")
    tamper.con.execute("insert into mart.outreach_priority select * from mart.outreach_priority "
                       "where as_of_date = '2025-01-05' and kode_desa = ?", [A])
    tamper.con.execute("delete from mart.outreach_priority where as_of_date = '2025-01-08'")
    assert tamper.check("outreach_priority_ranks") == [
        (d("2025-01-03"), "16.09", "ranks are not 1..N over every desa of the kab/kota"),
        (d("2025-01-05"), "16.09", "ranks are not 1..N over every desa of the kab/kota"),
        (d("2025-01-08"), "16.09", "an as-of date of mart.backlog has no ranking for the kab/kota")]


def _ranks_check(groups: dict[tuple[str, str], list[int | None]]) -> list[tuple]:
    """The ranks check over a mart.outreach_priority of the given ranks per (as_of_date, kode_kabupaten),
    each rank a desa of its own, and a mart.backlog of as many desa per group (in memory)."""
    import duckdb

    con = duckdb.connect()
    con.execute("create schema mart")
    con.execute("create table mart.outreach_priority (as_of_date date, kode_kabupaten varchar, kode_desa varchar, peringkat integer)")
    con.execute("create table mart.backlog (as_of_date date, kode_kabupaten varchar, kode_desa varchar)")
    for (day, kab), ranks in groups.items():
        desa = [f"{kab}.01.{2000 + i}" for i in range(len(ranks))]
        con.executemany("insert into mart.outreach_priority values (?, ?, ?, ?)", [(day, kab, k, r) for k, r in zip(desa, ranks)])
        con.executemany("insert into mart.backlog values (?, ?, ?)", [(day, kab, k) for k in desa])
    return con.execute((SQL_DIR / "checks" / "outreach_priority_ranks.sql").read_text()).fetchall()


def test_the_ranks_check_counts_distinct_ranks_exactly_beyond_the_range_of_its_bits():
    """The check counts ranks 1..4096 as bits (issue 19) and any other with count(distinct): a kab/kota of
    more than 4096 desa is ranked correctly, and a rank doubled beyond 4096, or below 1, is still found."""
    n = 5000
    good = list(range(1, n + 1))
    assert _ranks_check({("2025-01-01", "16.09"): good}) == []
    doubled_high = good[:4500] + [4500] + good[4501:]           # 4500 twice, 4501 missing: still 1..5000, n rows
    doubled_low = good[:99] + [99] + good[100:]                 # 99 twice, 100 missing
    below = [0] + good[1:-1] + [n + 1]                           # 0 and n + 1 instead of 1 and n
    with_null = [None] + good[1:]                                # one rank missing (NULL)
    got = _ranks_check({("2025-01-02", "16.09"): doubled_high, ("2025-01-03", "16.09"): doubled_low,
                        ("2025-01-04", "16.09"): below, ("2025-01-05", "16.09"): with_null,
                        ("2025-01-06", "16.09"): good, ("2025-01-06", "16.10"): [1, 2, 3]})
    assert sorted(r[0].isoformat() for r in got) == ["2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"]
    assert {r[2] for r in got} == {"ranks are not 1..N over every desa of the kab/kota"}


def test_the_requests_grain_check_returns_a_doubled_request(tamper):
    tamper.con.execute("insert into mart.outreach_requests select * from mart.outreach_requests where kode_desa = ?", [B])
    tamper.con.execute("insert into mart.outreach_requests select * replace (lower(nomor_surat) as nomor_surat) "
                       "from mart.outreach_requests where kode_desa = ?", [C])
    assert tamper.check("outreach_requests_grain_unique") == [
        (B, "045/TB/I/2025", d("2025-01-03"), 2), (C, "7/KA/2025", d("2025-01-12"), 2)]


def test_the_device_check_returns_a_doubled_row_and_a_row_before_the_device_was_seen(tamper):
    tamper.con.execute("insert into mart.device_activity select * from mart.device_activity "
                       "where id_alat = 'KEC01-A' and as_of_date = '2025-01-04'")
    tamper.con.execute("insert into mart.device_activity select * replace (as_of_date - 1 as as_of_date) "
                       "from mart.device_activity where id_alat = 'KEC02-B' and as_of_date = '2025-01-08'")
    assert tamper.check("device_activity_grain_unique") == [
        (d("2025-01-04"), "16.09", "KEC01-A", "several rows"),
        (d("2025-01-07"), "16.09", "KEC02-B", "before first seen or after last")]


def test_the_service_check_returns_a_date_missing_or_doubling_a_kecamatan(tamper):
    tamper.con.execute("insert into mart.kecamatan_service select * from mart.kecamatan_service "
                       "where as_of_date = '2025-01-02' and kode_kecamatan = '16.09.02'")
    tamper.con.execute("delete from mart.kecamatan_service where as_of_date = '2025-01-09' and kode_kecamatan = '16.09.05'")
    assert tamper.check("kecamatan_service_every_kecamatan_every_date") == [
        (d("2025-01-02"), 20, 19), (d("2025-01-09"), 18, 18)]


def test_the_summary_and_the_artifact_state_the_thresholds_of_the_mart(tamper):
    from flows.outputs.artifact import run_markdown
    from flows.outputs.runsummary import Outreach, RunSummary, outreach

    def artifact(o: Outreach) -> str:
        return run_markdown(RunSummary(run_id="r", last_date="2025-01-10", outreach=o))
    from flows.outputs.summary import outreach_lines

    o = outreach(tamper.con)
    assert o.ambang == {"hari_kerja_alat_rusak": 5, "hari_diam_alat": 7}
    # on 01-10 every kecamatan but 16.09.02 is flagged: 16.09.01 at 5, the 17 that never recorded on site at 7
    assert len(o.flagged) == 18 and "16.09.02" not in {k["kode_kecamatan"] for k in o.flagged}
    assert [s["id_alat"] for s in o.silent] == ["KEC01-A"]          # diam on 01-10 (7 days); SEK05-01 recorded
    lines = outreach_lines(o)
    assert any(line.startswith("  device suspected broken (5 or more working days without a KECAMATAN recording): "
                               "Muara Dua (5), ") for line in lines)
    assert "  devices silent 7 or more days: 1" in lines
    markdown = artifact(o)
    assert "## Kecamatan device suspected broken (5 or more working days without a KECAMATAN recording)" in markdown
    assert "Devices silent 7 or more days: 1 (the longest: KEC01\\-A, 7 days)." in markdown  # Markdown-escaped
    tamper.con.execute("update mart.ambang_batas set hari_kerja_alat_rusak = 6, hari_diam_alat = 9")
    o = outreach(tamper.con)
    assert "devices silent 9 or more days" in "\n".join(outreach_lines(o)) and "(6 or more working days" in artifact(o)
