"""Issue 5.1: a hostile input corpus, beyond the contract's rules, through the real Prefect flow.

Every case is one file (or folder) in ONE landing zone next to good control files; one run loads
them all. The parametrized test asserts each case's exact outcome: rejected with a reason code,
quarantined line by line with reason codes, loaded because it is actually fine, or never read
(upload convention). The control files prove nothing else in the run was affected. The huge-file
case runs a real ``ektp`` subprocess and measures its peak RSS.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import HEADER, Landing, row

LAST = "2025-01-10"


def _ok(i: int, day: str = "2025-01-01") -> str:
    """A valid row; i keeps NIKs (and so persons) distinct."""
    return row(nik=f"16090145010{i:05d}", waktu=f"{day} 08:{i % 60:02d}:00")


def _csv(day: str, rows: list[str], *, header: str = HEADER, sep: str = "\n", end: str = "\n") -> str:
    return sep.join([header, *rows]) + end


# name -> (day, kecamatan, builder(landing, path) , expected)
# expected: ("rejected", code) | ("loaded", rows_loaded, {line: reason}) | ("ignored",) | ("absent",)
CASES: dict[str, tuple] = {}


def case(name, day, kec, expected):
    def deco(fn):
        CASES[name] = (day, kec, fn, expected)
        return fn
    return deco


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


@case("nik_scientific_notation", "2025-01-02", "16.09.01",
      ("loaded", 1, {2: "nik_spreadsheet_damaged", 3: "nik_spreadsheet_damaged"}))
def _(path, day):
    _write(path, _csv(day, [row(nik="1.60901E+15", waktu=f"{day} 08:00:00"),
                            row(nik='"1,60901450101E+15"', waktu=f"{day} 08:01:00"), _ok(1, day)]))


@case("nik_precision_lost_last_digits_zeroed", "2025-01-02", "16.09.02",
      ("loaded", 1, {2: "nik_zero_serial"}))
def _(path, day):  # a spreadsheet keeps 15 significant digits: ...0001 becomes ...0000
    _write(path, _csv(day, [row(nik="1609014501010000", waktu=f"{day} 08:00:00"), _ok(2, day)]))


@case("leading_zeros_lost", "2025-01-02", "16.09.03",
      ("loaded", 1, {2: "tanggal_lahir_invalid", 3: "kode_desa_unknown", 4: "nik_not_16_digits"}))
def _(path, day):
    _write(path, _csv(day, [row(nik="1609014501010003", lahir="5/1/2001", waktu=f"{day} 08:00:00"),
                            row(nik="1609014501010004", desa="16.9.1.1013", waktu=f"{day} 08:01:00"),
                            row(nik="160901450101005", waktu=f"{day} 08:02:00"),
                            _ok(3, day)]))


@case("dates_as_spreadsheet_serials", "2025-01-02", "16.09.04",
      ("loaded", 1, {2: "tanggal_lahir_invalid", 3: "waktu_rekam_invalid"}))
def _(path, day):
    _write(path, _csv(day, [row(nik="1609014501010006", lahir="36896", waktu=f"{day} 08:00:00"),
                            row(nik="1609014501010007", waktu="45659.3333333333"), _ok(4, day)]))


@case("windows_1252_text", "2025-01-02", "16.09.05", ("rejected", "not_utf8"))
def _(path, day):
    _write(path, _csv(day, [row(nama="Nur\u2019aini Andr\u00e9", waktu=f"{day} 08:00:00")]).encode("cp1252"))


@case("latin1_semicolon_excel_export", "2025-01-02", "16.09.06", ("rejected", "not_utf8"))
def _(path, day):
    _write(path, _csv(day, [row(nama="J\u00f6rg", waktu=f"{day} 08:00:00").replace(",", ";")],
                      header=HEADER.replace(",", ";"), sep="\r\n", end="\r\n").encode("latin-1"))


@case("utf16_with_bom", "2025-01-02", "16.09.07", ("rejected", "not_utf8"))
def _(path, day):
    _write(path, _csv(day, [_ok(7, day)]).encode("utf-16"))


@case("utf16_without_bom", "2025-01-02", "16.09.08", ("rejected", "not_text"))
def _(path, day):
    _write(path, _csv(day, [_ok(8, day)]).encode("utf-16-le"))


@case("mixed_line_ends", "2025-01-02", "16.09.09", ("loaded", 3, {}))
def _(path, day):
    _write(path, HEADER + "\r\n" + _ok(9, day) + "\n" + _ok(10, day) + "\r\n" + _ok(11, day) + "\n")


@case("mixed_line_ends_quoted_with_form_feed_and_u2028_in_values", "2025-01-02", "16.09.10", ("loaded", 3, {}))
def _(path, day):
    _write(path, HEADER + "\r\n" + _ok(12, day).replace("Budi Santoso", '"Bu\x0cdi"') + "\n"
           + _ok(13, day).replace("Budi Santoso", '"Bu\u2028di"') + "\r\n" + _ok(14, day) + "\n")


@case("classic_mac_cr_only", "2025-01-02", "16.09.11", ("rejected", "not_csv"))
def _(path, day):
    _write(path, HEADER + "\r" + _ok(15, day) + "\r")


@case("unbalanced_quote_mid_file", "2025-01-02", "16.09.12", ("loaded", 2, {3: "malformed_row"}))
def _(path, day):
    bad = row(nik="1609014501010016", nama='"Budi', waktu=f"{day} 08:30:00")
    _write(path, _csv(day, [_ok(16, day), bad, _ok(17, day)]))


@case("stray_quote_inside_a_value", "2025-01-02", "16.09.13", ("loaded", 1, {}))
def _(path, day):
    _write(path, _csv(day, [_ok(18, day).replace("Budi Santoso", 'Bu"di')]))


@case("truncated_last_line", "2025-01-02", "16.09.14", ("loaded", 1, {3: "malformed_row"}))
def _(path, day):
    _write(path, HEADER + "\n" + _ok(19, day) + "\n" + _ok(20, day)[:60])


@case("truncated_inside_a_quoted_field", "2025-01-02", "16.09.15", ("loaded", 1, {3: "malformed_row"}))
def _(path, day):
    _write(path, HEADER + "\n" + _ok(21, day) + '\n"1609014501010022","Siti')


@case("field_of_3_megabytes_unquoted", "2025-01-02", "16.09.16", ("loaded", 1, {2: "malformed_row"}))
def _(path, day):
    _write(path, _csv(day, [row(nik="1609014501010023", nama="x" * (3 << 20), waktu=f"{day} 08:00:00"), _ok(24, day)]))


@case("field_of_3_megabytes_quoted", "2025-01-02", "16.09.17", ("loaded", 1, {2: "malformed_row"}))
def _(path, day):
    _write(path, _csv(day, [row(nik="1609014501010025", nama='"' + "y" * (3 << 20) + '"', waktu=f"{day} 08:00:00"),
                            _ok(26, day)]))


@case("binary_garbage", "2025-01-02", "16.09.18", ("rejected", "not_text"))
def _(path, day):
    _write(path, random.Random(5).randbytes(64 * 1024))


@case("binary_garbage_without_nul", "2025-01-02", "16.09.19", ("rejected", "not_utf8"))
def _(path, day):
    rnd = random.Random(6)
    _write(path, bytes(rnd.choice(range(0x80, 0x100)) for _ in range(8192)))


@case("pdf_renamed_to_csv", "2025-01-03", "16.09.01", ("rejected", "not_utf8"))
def _(path, day):
    _write(path, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")


@case("header_of_ten_thousand_columns", "2025-01-03", "16.09.02", ("loaded", 1, {}))
def _(path, day):
    extra = ",".join(f"c{i}" for i in range(10_000))
    _write(path, HEADER + "," + extra + "\n" + _ok(27, day) + "," * 10_000 + "\n")


@case("empty_folder", "2025-01-04", "16.09.01", ("absent",))
def _(path, day):
    path.parent.mkdir(parents=True, exist_ok=True)   # rekam/2025-01-04/ with nothing in it


@case("symlink_out_of_the_landing_zone", "2025-01-03", "16.09.03", ("rejected", "symlink"))
def _(path, day):
    outside = path.parents[3] / "outside-secret.csv"   # next to raw/, not under it
    outside.write_text(_csv(day, [_ok(28, day)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(outside)


@case("symlink_to_etc_passwd", "2025-01-03", "16.09.04", ("rejected", "symlink"))
def _(path, day):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/etc/passwd")


@case("dangling_symlink", "2025-01-03", "16.09.05", ("rejected", "symlink"))
def _(path, day):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(path.parent / "gone.csv.part")


@case("named_pipe_would_block_a_reader", "2025-01-03", "16.09.06", ("rejected", "not_a_regular_file"))
def _(path, day):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


@case("upload_in_progress_part_suffix", "2025-01-03", "16.09.07", ("ignored",))
def _(path, day):
    _write(path.with_name(path.name + ".part"), HEADER + "\n" + _ok(29, day)[:40])


@case("upload_in_progress_winscp_filepart", "2025-01-03", "16.09.12", ("ignored",))
def _(path, day):
    _write(path.with_name(path.name + ".filepart"), HEADER + "\n" + _ok(32, day)[:40])


@case("upload_in_progress_hidden_name", "2025-01-03", "16.09.08", ("ignored",))
def _(path, day):
    _write(path.with_name("." + path.name), HEADER + "\n" + _ok(30, day)[:40])


@case("spreadsheet_lock_file", "2025-01-03", "16.09.09", ("ignored",))
def _(path, day):
    _write(path.with_name("~$" + path.name), b"\x00\x01lock")


@case("only_a_bom", "2025-01-03", "16.09.10", ("rejected", "not_csv"))
def _(path, day):
    _write(path, b"\xef\xbb\xbf")


@case("nul_byte_in_the_middle_of_a_large_file", "2025-01-03", "16.09.11", ("rejected", "not_text"))
def _(path, day):
    rows = [_ok(31 + (i % 20), day).replace("08:", f"{8 + i // 60 % 10:02d}:") for i in range(4000)]
    text = _csv(day, rows)
    mid = len(text) // 2
    _write(path, text[:mid].encode() + b"\x00" + text[mid:].encode())


CONTROL = [("2025-01-01", f"16.09.{k:02d}") for k in range(1, 20)]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, prefect_api):
    landing = Landing(tmp_path_factory.mktemp("hostile") / "data")
    landing.snapshot()
    for n, (day, kec) in enumerate(CONTROL):       # every kecamatan sends a good log on day 1
        landing.log(day, kec, [_ok(100 + 3 * n + j, day) for j in range(3)])
    landing.log("2025-01-05", "16.09.02", [_ok(200, "2025-01-05")])   # the marts' range covers every case
    for day, kec, build, _ in CASES.values():
        build(landing.raw / "rekam" / day / f"{kec}.csv", day)
    summary = landing.run(LAST)
    return landing, summary


def test_the_control_files_are_unaffected(hostile_run):
    landing, summary = hostile_run
    rows = landing.query("""select source_file, status, rows_loaded, rows_quarantined from audit.file_loads
                            where source_file like 'rekam/2025-01-01/%' order by 1""")
    assert rows == [(f"rekam/2025-01-01/{kec}.csv", "loaded", 3, 0) for _, kec in CONTROL]
    assert landing.query("select count(*) from landing.rekam where source_file like 'rekam/2025-01-01/%'") == [(57,)]
    assert landing.query("select count(*) from mart.log_completeness where tanggal = '2025-01-01' and status = 'loaded'") == [(19,)]
    # the run completed and published
    assert landing.query("select status from audit.runs") == [("completed",)]
    assert landing.published.exists()


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_outcome(hostile_run, name):
    landing, summary = hostile_run
    day, kec, _, expected = CASES[name]
    source = f"rekam/{day}/{kec}.csv"
    got = landing.query("select status, rows_loaded, rows_quarantined, error from audit.file_loads where source_file = ?",
                        [source])
    kind = expected[0]
    if kind in ("ignored", "absent"):
        assert got == [], got
        assert landing.query("select count(*) from audit.file_loads where source_file like ?",
                             [f"rekam/{day}/{kec}%"]) == [(0,)]
        status = landing.query("select status from mart.log_completeness where tanggal = ? and kode_kecamatan = ?",
                               [day, kec])
        assert status == [("missing",)]
        return
    (status, loaded, quarantined, error), = got
    if kind == "rejected":
        assert status == "rejected" and error.startswith(expected[1] + ": "), error
        assert landing.query("select count(*) from landing.rekam where source_file = ?", [source]) == [(0,)]
        return
    assert status == "loaded", error
    want_rows, want_q = expected[1], expected[2]
    q = dict(landing.query("select line_number, reason from audit.quarantine where source_file = ?", [source]))
    assert q == want_q
    assert loaded == want_rows and quarantined == len(want_q)
    assert landing.query("select count(*) from landing.rekam where source_file = ?", [source]) == [(want_rows,)]


def test_rejections_are_recorded_with_a_sentence_and_no_content(hostile_run):
    landing, _ = hostile_run
    errors = [e for (e,) in landing.query("select error from audit.file_loads where status = 'rejected'")]
    assert errors and all(": " in e and len(e) < 300 for e in errors)
    assert not any("root:" in e or "Budi" in e or "1609014501" in e for e in errors)


# --- a file of hundreds of megabytes, through a real `ektp` process ------------------------------

MEASURE = textwrap.dedent("""
    import resource, subprocess, sys, json
    res = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": res.returncode, "peak_kib": peak_kib, "out": res.stdout, "err": res.stderr[-3000:]}))
""")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from tests.hostile.server import prefect_server

    with prefect_server(tmp_path_factory.mktemp("prefect-home-hostile")) as url:
        yield url


def _measured_run(api: str, data_dir: Path) -> dict:
    import json

    from tests.hostile.server import EKTP, ektp_env

    res = subprocess.run([sys.executable, "-c", MEASURE, EKTP, "run", "--data-dir", str(data_dir),
                          "--date", "2025-01-01"], env=ektp_env(api), capture_output=True, text=True, timeout=600)
    out = json.loads(res.stdout)
    assert out["rc"] == 0, out["err"]
    out["peak_mib"] = out["peak_kib"] / 1024
    return out


@pytest.mark.slow
def test_a_300_mb_file_is_rejected_with_bounded_memory(tmp_path, api):
    """EKTP_MAX_FILE_MB (default 64) bounds what the reader holds in memory: a 300 MiB log is
    rejected as file_too_large after being hashed in 1 MiB chunks; the process's peak RSS stays
    at the level of a run over a tiny landing zone (Prefect, GX, DuckDB and Polars loaded)."""
    landing = Landing(tmp_path / "data")
    landing.snapshot()
    landing.log("2025-01-01", "16.09.02", [_ok(1), _ok(2)])
    baseline = _measured_run(api, landing.data_dir)
    big = landing.raw / "rekam" / "2025-01-01" / "16.09.01.csv"
    line = (_ok(3) + "\n").encode()
    block = line * ((8 << 20) // len(line))
    with big.open("wb") as fh:
        fh.write((HEADER + "\n").encode())
        while fh.tell() < 300 << 20:
            fh.write(block)
    size_mib = big.stat().st_size / 2**20
    landing.log("2025-01-01", "16.09.03", [_ok(4), _ok(5)])    # this run validates a good file too
    out = _measured_run(api, landing.data_dir)
    print(f"\nfile {size_mib:.0f} MiB: peak RSS {out['peak_mib']:.0f} MiB; "
          f"tiny-zone run {baseline['peak_mib']:.0f} MiB")
    assert "rejected rekam/2025-01-01/16.09.01.csv: file_too_large" in out["out"]
    assert out["peak_mib"] < baseline["peak_mib"] + 64, (out["peak_mib"], baseline["peak_mib"])
    assert landing.query("select source_file, status, rows_loaded from audit.file_loads "
                         "where source_file like 'rekam/%' order by source_file") \
        == [("rekam/2025-01-01/16.09.01.csv", "rejected", 0), ("rekam/2025-01-01/16.09.02.csv", "loaded", 2),
            ("rekam/2025-01-01/16.09.03.csv", "loaded", 2)]


# --- privacy (issue 5.5): no NIK and no name anywhere the pipeline writes ---------------------

import re  # noqa: E402

NAMES = ["Budi Santoso", "Nur\u2019aini", "Andr\u00e9", "J\u00f6rg", "Siti", "Nama Rahasia Sekali"]


def _secrets(raw: Path) -> tuple[set[str], set[str]]:
    """Every NIK-like value of the inputs (16 digits, the damaged forms, the quarantined short
    ones) and every name the corpus uses."""
    niks: set[str] = set()
    for p in raw.rglob("*"):
        if p.is_file() and not p.is_symlink() and p.stat().st_size < 50 << 20:
            text = p.read_bytes().decode("utf-8", "replace")
            niks |= set(re.findall(r"(?<!\d)\d{15,16}(?!\d)", text))
            niks |= set(re.findall(r"\d[.,]\d+E\+\d+", text))
    return niks, set(NAMES)


def _leaks(text: str, niks: set[str], names: set[str]) -> list[str]:
    return sorted(s for s in niks | names if s in text)


def _warehouse_text(path: Path) -> str:
    """Every value of every text column of every table and view, newline-joined."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute("""select table_schema, table_name, column_name from information_schema.columns
                              where data_type in ('VARCHAR', 'JSON') or data_type like 'VARCHAR%'""").fetchall()
        parts = []
        for schema, table, column in cols:
            vals = con.execute(f'select distinct "{column}"::varchar from "{schema}"."{table}" where "{column}" is not null').fetchall()
            parts.extend(v for (v,) in vals)
        return "\n".join(parts)
    finally:
        con.close()


def test_no_nik_or_name_in_warehouse_quarantine_report_artifact_or_prefect_logs(hostile_run):
    from prefect.client.orchestration import get_client

    from flows.outputs.artifact import run_markdown

    landing, summary = hostile_run
    niks, names = _secrets(landing.raw)
    assert len(niks) > 50 and "1609014501010003" in niks     # the scan looks for real values
    for wh in (landing.warehouse, landing.published):
        assert _leaks(_warehouse_text(wh), niks, names) == []
    q = "\n".join(" ".join(map(str, r)) for r in landing.query("select * from audit.quarantine"))
    assert q and _leaks(q, niks, names) == []
    report = (landing.data_dir / "warehouse" / "report.html").read_text(encoding="utf-8")
    assert _leaks(report, niks, names) == []
    assert _leaks(run_markdown(summary, Path(summary.report)), niks, names) == []
    assert _leaks(repr(summary), niks, names) == []
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
        logs = client.read_logs()
    assert artifacts, "the run created its artifact"
    assert _leaks("\n".join(str(a.data) for a in artifacts), niks, names) == []
    assert _leaks("\n".join(lg.message for lg in logs), niks, names) == []


@pytest.mark.slow
def test_no_nik_or_name_on_the_console_of_a_verbose_run(tmp_path, api):
    from tests.hostile.server import EKTP, ektp_env

    landing = Landing(tmp_path / "data")
    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [
        row(nik="1609014501010001", nama="Nama Rahasia Sekali", waktu="2025-01-01 08:00:00"),
        row(nik="1609014501010001", nama="Nama Rahasia Sekali", waktu="2025-01-01 08:00:00"),   # duplicate
        row(nik="1.60901E+15", nama="Siti", waktu="2025-01-01 08:10:00"),
        row(nik="160901450101002", nama="Siti", waktu="2025-01-01 08:20:00"),
        '"1609014501010003","Siti ' + "x" * 70_000 + '",L,2001-01-05',                       # malformed
    ])
    landing.log("2025-01-01", "16.09.02", text="nik;nama\n1609014501010004;Siti\n")           # rejected
    res = subprocess.run([EKTP, "run", "-v", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"],
                         env=ektp_env(api), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    niks, names = _secrets(landing.raw)
    assert {"1609014501010001", "160901450101002", "1.60901E+15"} <= niks
    assert _leaks(res.stdout + res.stderr, niks, names) == []
    assert "quarantined" in res.stdout


def test_outside_the_demo_a_missing_or_exposed_key_is_a_one_line_error(tmp_path, monkeypatch):
    from tests.hostile.server import EKTP

    env = {k: v for k, v in os.environ.items() if k not in ("EKTP_NIK_KEY", "EKTP_NIK_KEY_FILE", "PREFECT_API_URL")}
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    res = subprocess.run([EKTP, "backfill", "--data-dir", str(data), "--start", "2025-01-01", "--end", "2025-01-02"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and res.stderr.startswith("ektp: No pseudonym key") and res.stderr.count("\n") == 1
    assert sorted(p.name for p in data.iterdir()) == ["raw"]          # never silently generated
    key_file = tmp_path / "keys" / "nik.key"
    key_file.parent.mkdir()
    key_file.write_text("k" * 64 + "\n")
    key_file.chmod(0o640)                                   # group-readable
    env["EKTP_NIK_KEY_FILE"] = str(key_file)
    res = subprocess.run([EKTP, "run", "--data-dir", str(data), "--date", "2025-01-01"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "readable by other users" in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert "k" * 16 not in res.stderr                       # the key itself is never printed
    assert not (data / "warehouse" / "ektp.duckdb").exists()
    from flows.errors import UserError
    from flows.settings import load_settings, resolve_key

    monkeypatch.delenv("EKTP_NIK_KEY")
    monkeypatch.setenv("EKTP_NIK_KEY_FILE", str(key_file))
    for mode in (0o604, 0o620, 0o660, 0o644, 0o700 | 0o010):
        key_file.chmod(mode)
        with pytest.raises(UserError, match="readable by other users"):
            resolve_key(load_settings(data))
    key_file.chmod(0o600)
    assert resolve_key(load_settings(data)) == b"k" * 64


def test_the_size_limit_is_configurable(tmp_path, monkeypatch):
    from flows.ingest.landing import LandingZone
    from flows.ingest.read import REKAM_COLUMNS, parse_file
    from flows.settings import load_settings

    p = tmp_path / "raw" / "16.09.01.csv"
    p.parent.mkdir()
    p.write_text(_csv("2025-01-01", [_ok(i) for i in range(40)]))      # ~4 KiB
    monkeypatch.setenv("EKTP_MAX_FILE_MB", "0.001")
    limit = load_settings(tmp_path).max_file_bytes
    with LandingZone(tmp_path / "raw") as zone:
        got = zone.read("16.09.01.csv", limit)
    assert got.data is None and got.reject[0] == "file_too_large" and "EKTP_MAX_FILE_MB" in got.reject[1]
    assert got.size == p.stat().st_size and len(got.sha256) == 64      # hashed all the same
    for bad in ("", "lots", "-5", "0"):
        monkeypatch.setenv("EKTP_MAX_FILE_MB", bad)
        assert load_settings(tmp_path).max_file_bytes == 64 << 20
    monkeypatch.setenv("EKTP_MAX_FILE_MB", "1")
    with LandingZone(tmp_path / "raw") as zone:
        got = zone.read("16.09.01.csv", load_settings(tmp_path).max_file_bytes)
    assert parse_file(got.data, REKAM_COLUMNS).rows.height == 40
