"""One real ``prefect server start`` per test module (own PREFECT_HOME, free port), so that the
``ektp`` subprocesses the tests spawn (and kill) talk to it instead of each starting an ephemeral
server (~10-15 s per process on the CI machine).

Every Prefect server of the suite asks for credentials, as the operators' server does (contract
section 5): the server gets ``PREFECT_SERVER_API_AUTH_STRING=AUTH``, the clients (``ektp`` and
Prefect's client, via ``ektp_env`` and conftest) ``PREFECT_API_AUTH_STRING=AUTH``, and ``api()``
sends it unless told ``auth=None``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]   # the checkout under test (children import its flows)
EKTP = str(VENV_BIN / "ektp")
KEY = "test-key-not-secret-0123456789abcdef"
AUTH = "ektp-test:not-a-secret-5b1f0c"      # user:password of the suite's Prefect servers
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
         "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL", "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def prefect_server(home: Path, ui: bool = False, auth: bool = True):
    """Yield the API URL of a freshly started Prefect server; stop it (only it) afterwards.
    ``ui``: serve the UI too, pointed at this port (PREFECT_UI_API_URL; the default is 4200).
    ``auth``: ask for the credentials AUTH (False only to show what an open server allows)."""
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, **QUIET, "PREFECT_HOME": str(home), "PREFECT_SERVER_API_AUTH_STRING": AUTH}
    env.pop("PREFECT_API_URL", None)
    if not auth:
        env.pop("PREFECT_SERVER_API_AUTH_STRING")
    if ui:
        env["PREFECT_UI_API_URL"] = f"http://127.0.0.1:{port}/api"
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen([str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Prefect server did not start: " + (home / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


RETRYABLE = {408, 429, 502, 503}


def api(method: str, url: str, attempts: int = 6, **kw):
    """One call to the Prefect REST API, retried the way Prefect's own client retries it.

    The server answers 503 "Service Unavailable" when its SQLite database was busy for a moment
    (SQLITE_BUSY_SNAPSHOT: a read transaction that must become a write fails at once, whatever the
    busy timeout), and asks the client to retry. The UI and ``prefect`` retry; a bare HTTP call
    must too, or a test fails on the server's normal back-pressure (CI stop 8)."""
    import httpx

    kw.setdefault("timeout", 30)
    kw.setdefault("auth", httpx.BasicAuth(*AUTH.split(":", 1)))
    for attempt in range(attempts):
        r = httpx.request(method, url, **kw)
        if r.status_code not in RETRYABLE or attempt == attempts - 1:
            return r
        time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")


def ektp_env(api_url: str, **extra: str) -> dict:
    env = {**os.environ, **QUIET, "PREFECT_API_URL": api_url, "PREFECT_API_AUTH_STRING": AUTH, "EKTP_NIK_KEY": KEY,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.update(extra)
    return env


def ektp(api_url: str, *args: str, env: dict | None = None, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``ektp <args>`` to completion against the module's Prefect server."""
    return subprocess.run([EKTP, *args], env=env or ektp_env(api_url), capture_output=True, text=True,
                          timeout=timeout, **kw)


def spawn(api_url: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([EKTP, *args], env=env or ektp_env(api_url), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def generated_zone(api_url: str, base: Path, start: str, end: str, rows_per_day: int, seed: int,
                   *reference_args: str) -> tuple[Path, dict[str, list[tuple]]]:
    """`ektp generate` a dirty landing zone under base/raw and run ``ektp <reference_args>`` on a
    copy of it; returns (raw, marts and file versions of that uninterrupted reference run)."""
    import shutil

    raw = base / "raw"
    res = subprocess.run([EKTP, "generate", "--out", str(raw), "--start", start, "--end", end,
                          "--rows-per-day", str(rows_per_day), "--seed", str(seed)],
                         capture_output=True, text=True, env=ektp_env(api_url))
    assert res.returncode == 0, res.stderr
    ref = base / "reference"
    shutil.copytree(raw, ref / "raw")
    res = ektp(api_url, *reference_args, "--data-dir", str(ref))
    assert res.returncode == 0, res.stderr
    return raw, marts_and_versions(ref / "warehouse" / "ektp.duckdb")


def marts_and_versions(warehouse: Path) -> dict[str, list[tuple]]:
    """Every mart table ``order by all`` plus the current file versions and, in the writer's file,
    every quarantined line (for equality comparisons)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'mart' order by 1").fetchall()]
        out = {t: con.execute(f"select * from mart.{t} order by all").fetchall() for t in tables}
        out["audit.file_loads"] = con.execute(
            """select source_file, sha256, status, rows_loaded, rows_quarantined, error from audit.file_loads
               where status <> 'superseded' order by all""").fetchall()
        # the writer's file: every quarantined line; the analysts' copy: per file and reason only
        has_lines = con.execute("""select count(*) from duckdb_tables()
                                   where schema_name = 'audit' and table_name = 'quarantine'""").fetchone()[0]
        if has_lines:
            out["audit.quarantine"] = con.execute(
                "select source_file, line_number, reason, detail from audit.quarantine order by all").fetchall()
        return out
    finally:
        con.close()


def as_published(state: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """What marts_and_versions gives for the analysts' copy of a warehouse in ``state`` (the copy
    keeps no line-level quarantine)."""
    return {k: v for k, v in state.items() if k != "audit.quarantine"}


PAUSE = str(Path(__file__).resolve().with_name("pause.py"))


class Paused:
    """An ``ektp`` process that stops at a stage (tests/hostile/pause.py) until killed or resumed."""

    def __init__(self, api_url: str, stage: str, marker: Path, *args: str, env: dict | None = None):
        self.marker = marker
        marker.unlink(missing_ok=True)
        self.go = marker.with_name(marker.name + ".go")
        self.go.unlink(missing_ok=True)
        self.err_path = marker.with_name(marker.name + ".err")
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen([sys.executable, PAUSE, stage, str(marker), *args], env=env or ektp_env(api_url),
                                     stdout=subprocess.DEVNULL, stderr=self._err)

    def wait_paused(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not self.marker.exists():
            if self.proc.poll() is not None:
                self._err.close()
                raise AssertionError(f"ektp exited ({self.proc.returncode}) before pausing: "
                                     + self.err_path.read_text()[-3000:])
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("ektp did not reach its pause point in time")
            time.sleep(0.05)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._err.close()

    def resume(self, timeout: float = 300) -> int:
        self.go.touch()
        rc = self.proc.wait(timeout)
        self._err.close()
        return rc

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()
