"""Contract section 8: expected failures are one line on stderr with a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flows.cli import main
from flows.settings import load_settings
from flows.warehouse.database import writer_lock


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_missing_data_directory_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["run", "--data-dir", str(tmp_path / "nope"), "--date", "2025-01-01"]) == 1
    assert "does not exist" in _one_line(capsys)


@pytest.mark.parametrize("argv", [
    ["run", "--date", "2025-13-01"],
    ["backfill", "--start", "2025-01-05"],
    ["generate", "--out", "x", "--start", "2025-01-01", "--end", "2025-01-02", "--rows-per-day", "-3"],
    ["frobnicate"],
])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert _one_line(capsys).startswith("ektp: ")


def test_backfill_end_before_start_and_unknown_kecamatan(tmp_path, capsys):
    assert main(["backfill", "--data-dir", str(tmp_path), "--start", "2025-01-05", "--end", "2025-01-01"]) == 2
    assert "before --start" in _one_line(capsys)
    assert main(["backfill", "--data-dir", str(tmp_path), "--start", "2025-01-01", "--end", "2025-01-02",
                 "--kecamatan", "1608050"]) == 1
    assert "Unknown kecamatan code(s): 1608050" in _one_line(capsys)


def test_missing_key_outside_the_demo_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EKTP_NIK_KEY")
    (tmp_path / "raw").mkdir()
    assert main(["run", "--data-dir", str(tmp_path), "--date", "2025-01-01"]) == 1
    assert "No pseudonym key" in _one_line(capsys)
    assert list(tmp_path.iterdir()) == [tmp_path / "raw"]        # nothing was created


def test_keygen_creates_an_owner_only_key_once_outside_the_data_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EKTP_NIK_KEY")
    data = tmp_path / "data"
    key_file = tmp_path / "secrets" / "nik.key"
    assert main(["keygen", "--data-dir", str(data), "--out", str(key_file)]) == 0
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert f"EKTP_NIK_KEY_FILE={key_file}" in capsys.readouterr().out
    before = key_file.read_text()
    assert main(["keygen", "--data-dir", str(data), "--out", str(key_file)]) == 1
    assert "never overwritten" in _one_line(capsys) and key_file.read_text() == before
    monkeypatch.setenv("EKTP_NIK_KEY_FILE", str(key_file))
    from flows.errors import UserError
    from flows.settings import resolve_key

    assert resolve_key(load_settings(data)) == before.strip().encode()
    key_file.chmod(0o644)
    with pytest.raises(UserError, match="readable by other users"):
        resolve_key(load_settings(data))


def test_locked_warehouse_is_one_line_and_exit_1(tmp_path, capsys, prefect_api):
    (tmp_path / "raw").mkdir()
    settings = load_settings(tmp_path)
    with writer_lock(settings):
        assert main(["run", "--data-dir", str(tmp_path), "--date", "2025-01-01", "--wait", "0"]) == 1
    assert "Another run is writing the warehouse (pid" in _one_line(capsys)


def test_query_without_a_published_warehouse(tmp_path, capsys):
    assert main(["query", "--data-dir", str(tmp_path), "select 1"]) == 1
    assert "No analysts' copy" in _one_line(capsys)


def test_installed_console_script_exits_nonzero_on_bad_input(tmp_path):
    ektp = os.path.join(os.path.dirname(sys.executable), "ektp")
    res = subprocess.run([ektp, "query", "--data-dir", str(tmp_path), "select 1"], capture_output=True, text=True)
    assert res.returncode == 1 and res.stderr.startswith("ektp: No analysts' copy")
