"""Issue 11: feedback files for the kecamatan, and the village-request feed, through the real flow.

Feedback (contract section 9): a quarantined line appears in the file; a rejected log gives one
row with an empty line number; a corrected re-send removes the file; versions loaded before the
feedback existed get theirs; only what changed is rewritten; the file holds no NIK, name or birth
date; it opens like a spreadsheet in the Indonesian locale reads it (BOM, ';'). Requests: every
row rule quarantines with its reason; a re-sent request file replaces the old one.
"""

from __future__ import annotations

import csv
import io
import os

import polars as pl
import pytest

from flows.outputs.feedback import sentences
from tests.helpers import HEADER, Landing, row

pytestmark = pytest.mark.usefixtures("prefect_api")

NIK, NAME, BORN = "1609014501900001", "Siti Aminah", "1990-01-05"
REQUEST_HEADER = "kode_desa,tanggal_surat,nomor_surat,perkiraan_warga"


def _zone(landing: Landing) -> Landing:
    landing.snapshot()
    landing.log("2025-01-02", "16.09.01", [
        row(nik=NIK, nama=NAME, lahir=BORN, waktu="2025-01-02 08:00:00"),
        row(nik="1609014501900002", nama=NAME, lahir=BORN, jk="X", waktu="2025-01-02 08:05:00"),      # line 3
        row(nik="16090145019000", nama=NAME, lahir=BORN, waktu="2025-01-02 08:10:00"),                 # line 4
    ])
    landing.log("2025-01-02", "16.09.02", text="nik;nama\n" + NIK + ";" + NAME + "\n")                 # rejected
    landing.log("2025-01-02", "16.09.03", [row(nik="1609014501900003", waktu="2025-01-02 09:00:00")])  # clean
    return landing


def _feedback(landing: Landing, kode: str, day: str):
    return landing.data_dir / "feedback" / kode / f"{day}.csv"


def test_a_quarantined_line_and_a_rejected_log_get_feedback_and_a_clean_log_none(landing):
    _zone(landing)
    summary = landing.run("2025-01-02")
    rows = list(csv.reader(io.StringIO(_feedback(landing, "16.09.01", "2025-01-02").read_text("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["baris", "alasan", "penjelasan"]
    assert [r[:2] for r in rows[1:]] == [["3", "jenis_kelamin_invalid"], ["4", "nik_not_16_digits"]]
    assert rows[1][2] == sentences()["jenis_kelamin_invalid"] and "L atau P" in rows[1][2]
    rejected = list(csv.reader(io.StringIO(_feedback(landing, "16.09.02", "2025-01-02").read_text("utf-8-sig")), delimiter=";"))
    assert rejected[1:] == [["", "missing_columns", sentences()["missing_columns"]]]
    assert not _feedback(landing, "16.09.03", "2025-01-02").exists()
    assert sorted(summary.feedback.files) == ["16.09.01/2025-01-02.csv", "16.09.02/2025-01-02.csv"]


def test_a_feedback_file_holds_no_nik_name_or_birth_date(landing):
    _zone(landing)
    landing.run("2025-01-02")
    texts = [p.read_text("utf-8-sig") for p in (landing.data_dir / "feedback").rglob("*.csv")]
    assert len(texts) == 2
    for text in texts:
        for secret in (NIK, "16090145019000", "1609014501900002", NAME, "Siti", BORN, "05-01-1990"):
            assert secret not in text, secret


def test_a_spreadsheet_in_the_indonesian_locale_opens_the_feedback_file(landing):
    """The way a spreadsheet set to Bahasa Indonesia reads a CSV: the byte-order mark says UTF-8,
    ';' separates the fields (',' is the decimal separator there), every row has three columns."""
    _zone(landing)
    landing.run("2025-01-02")
    raw = _feedback(landing, "16.09.01", "2025-01-02").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    frame = pl.read_csv(raw, separator=";", encoding="utf8", decimal_comma=True, infer_schema=False)
    assert frame.columns == ["baris", "alasan", "penjelasan"] and frame.height == 2
    assert frame["penjelasan"][1] == sentences()["nik_not_16_digits"] and "," in frame["penjelasan"][1]


def test_a_corrected_re_send_removes_the_feedback_and_only_what_changed_is_rewritten(landing):
    _zone(landing)
    landing.run("2025-01-02")
    kept = _feedback(landing, "16.09.02", "2025-01-02")
    stamp = kept.stat().st_mtime_ns
    os.utime(kept, ns=(stamp - 10**9, stamp - 10**9))
    landing.log("2025-01-02", "16.09.01", [row(nik=NIK, nama=NAME, lahir=BORN, waktu="2025-01-02 08:00:00")])
    summary = landing.run("2025-01-02")
    assert not _feedback(landing, "16.09.01", "2025-01-02").exists()
    assert kept.stat().st_mtime_ns == stamp - 10**9                      # unchanged: not rewritten
    assert (summary.feedback.written, summary.feedback.removed) == (0, 1)


def test_versions_loaded_before_feedback_existed_get_theirs_at_the_next_run(landing):
    import shutil

    _zone(landing)
    landing.run("2025-01-02")
    shutil.rmtree(landing.data_dir / "feedback")        # as a warehouse built before this feature
    summary = landing.run("2025-01-02")
    assert summary.files_loaded == 0 and summary.feedback.written == 2
    assert _feedback(landing, "16.09.01", "2025-01-02").exists()


def test_a_file_rejected_for_its_name_belongs_to_no_kecamatan_and_gets_no_feedback(landing):
    landing.snapshot()
    bad = landing.raw / "rekam" / "2025-01-02" / "16.09.01 (1).csv"
    bad.parent.mkdir(parents=True)
    bad.write_text(HEADER + "\n")
    landing.log("2025-01-02", "16.09.03", [row(waktu="2025-01-02 09:00:00")])
    summary = landing.run("2025-01-02")
    assert summary.files_rejected == 1 and summary.feedback.files == []
    assert not (landing.data_dir / "feedback").exists() or not list((landing.data_dir / "feedback").rglob("*.csv"))


def _requests(landing: Landing, day: str, lines: list[str], header: str = REQUEST_HEADER):
    path = landing.raw / "permohonan" / f"{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_each_request_rule_quarantines_with_its_reason_and_valid_requests_load(landing):
    landing.snapshot()
    landing.log("2025-01-02", "16.09.01", [row(waktu="2025-01-02 08:00:00")])
    _requests(landing, "2025-01-02", [
        "16.09.01.1013,2025-01-01,140/1/DS.1013/2025,120",   # 2 valid
        "16.09.01.1013,2025-01-01,140/1/ds.1013/2025,",      # 3 the same letter, other case: duplicate_row
        "16.09.99.9999,2025-01-01,140/2/2025,",              # 4 kode_desa_unknown
        "16.09.01.1013,2025-01-03,140/3/2025,",              # 5 letter after registration
        "16.09.01.1013,30/02/2025,140/4/2025,",              # 6 not a date
        "16.09.01.1013,2025-01-01,140 5,",                   # 7 space in the number
        "16.09.01.1013,2025-01-01,140/6/2025,1.500",         # 8 separator in the count
        "16.09.01.1013,2025-01-01,140/7/2025,100001",        # 9 over 100000
        "16.09.02.2012,02/01/2025,7/DS/2025,",               # 10 valid, DD/MM/YYYY, empty count
    ])
    _requests(landing, "2025-01-01", ["16.09.01.1013,2025-01-01,140/1/2025"], header="kode_desa,tanggal_surat,nomor_surat")
    summary = landing.run("2025-01-02")
    assert landing.query("""select line_number, reason from audit.quarantine
                            where source_file = 'permohonan/2025-01-02.csv' order by 1""") == [
        (3, "duplicate_row"), (4, "kode_desa_unknown"), (5, "tanggal_surat_invalid"), (6, "tanggal_surat_invalid"),
        (7, "nomor_surat_invalid"), (8, "perkiraan_warga_invalid"), (9, "perkiraan_warga_invalid")]
    assert landing.query("""select tanggal_daftar::varchar, kode_desa, tanggal_surat::varchar, nomor_surat, perkiraan_warga
                            from landing.permohonan order by all""") == [
        ("2025-01-01", "16.09.01.1013", "2025-01-01", "140/1/2025", None),
        ("2025-01-02", "16.09.01.1013", "2025-01-01", "140/1/DS.1013/2025", 120),
        ("2025-01-02", "16.09.02.2012", "2025-01-02", "7/DS/2025", None)]
    assert summary.requests_loaded == 3 and summary.quarantine_by_reason["permohonan perkiraan_warga_invalid"] == 2
    assert landing.query("select count(*) from mart.outreach_requests") == [(3,)]
    # requests never get feedback files (the office registers them itself)
    assert not (landing.data_dir / "feedback").exists() or not list((landing.data_dir / "feedback").rglob("*.csv"))


def test_a_re_sent_request_file_replaces_the_old_requests(landing):
    landing.snapshot()
    landing.log("2025-01-02", "16.09.01", [row(waktu="2025-01-02 08:00:00")])
    _requests(landing, "2025-01-02", ["16.09.01.1013,2025-01-01,140/1/2025,", "16.09.01.1014,2025-01-01,140/2/2025,"])
    landing.run("2025-01-02")
    _requests(landing, "2025-01-02", ["16.09.01.1013,2025-01-01,140/1/2025,50"])
    summary = landing.run("2025-01-02")
    assert summary.files_replaced == 1
    assert landing.query("select kode_desa, perkiraan_warga from landing.permohonan") == [("16.09.01.1013", 50)]


def test_the_run_artifact_gives_a_short_version_of_the_outreach_sections_and_links_the_feedback(landing):
    from flows.outputs.artifact import run_markdown

    _zone(landing)
    _requests(landing, "2025-01-02", ["16.09.02.2012,2025-01-01,140/9/2025,30"])
    summary = landing.run("2025-01-02")
    text = run_markdown(summary)
    assert "## Jemput bola: desa to visit first (2025\\-01\\-02)" in text
    assert "| 1 | Tanjung Bulan | Pulau Beringin |" in text          # the open request puts it first
    assert "## Village requests waiting (1 open)" in text and "| 2025\\-01\\-02 | Tanjung Bulan | 0 |" in text
    assert "## Feedback for the kecamatan (2 file(s))" in text
    assert f"]({(landing.data_dir / 'feedback' / '16.09.01' / '2025-01-02.csv').as_uri()})" in text
