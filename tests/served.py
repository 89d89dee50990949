"""A real Prefect server (UI included) with `ektp serve` on a tiny landing zone, and the helpers the
end-to-end tests use against it (tests/test_orchestration.py, tests/test_security.py). The
session-scoped fixture ``served`` lives in conftest.py and starts once, when a test first needs it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flows.reference.wilayah import desa_codes
from tests.helpers import Landing, row
from tests.hostile import server as hostile_server
from tests.hostile.server import api as call

VENV_BIN = Path(sys.executable).parent
NIKS = ["1609014501010001", "1609015502020002", "1609010303990003"]
NAMES = ["Budi Santoso", "Siti Aminah", "Rahmat Hidayat"]


def base_env(home: Path) -> dict:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("PREFECT_") and k not in ("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL",):
            env.pop(k)
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               GX_ANALYTICS_ENABLED="false", EKTP_NIK_KEY=os.environ["EKTP_NIK_KEY"],
               PREFECT_API_AUTH_STRING=hostile_server.AUTH)
    return env


def stop(proc: subprocess.Popen) -> None:
    """End a subprocess we started, and its process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextlib.contextmanager
def prefect_server(tmp: Path):
    """A real `prefect server start` (UI included) on a free port with its own PREFECT_HOME;
    yields (api_url, the environment of a client process)."""
    home = tmp / "prefect-home"
    with hostile_server.prefect_server(home, ui=True) as api:
        yield api, dict(base_env(home), PREFECT_API_URL=api)


def tiny_landing(data_dir: Path) -> Landing:
    land = Landing(data_dir)
    land.snapshot("2024-12-31")
    land.log("2025-01-01", "16.09.01", [row(nik=NIKS[0], nama=NAMES[0], waktu="2025-01-01 08:00:00")])
    land.log("2025-01-02", "16.09.01", [row(nik=NIKS[1], nama=NAMES[1], jk="P", waktu="2025-01-02 09:00:00"),
                                        row(nik="123", nama=NAMES[2], waktu="2025-01-02 10:00:00")])
    land.log("2025-01-02", "16.09.02", [row(nik=NIKS[2], nama=NAMES[2], desa=sorted(c for c in desa_codes() if c.startswith("16.09.02."))[0],
                                            waktu="2025-01-02 11:00:00")])
    return land


def wait_run(api: str, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        fr = call("GET", f"{api}/flow_runs/{run_id}").json()
        if fr["state"] and fr["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return fr
        assert time.monotonic() < deadline, f"flow run {run_id} still {fr['state']}"
        time.sleep(1)


def deployment(api: str, flow: str, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = call("GET", f"{api}/deployments/name/{flow}/{name}")
        if r.status_code == 200:
            return r.json()
        assert time.monotonic() < deadline, f"deployment {flow}/{name} not registered: {r.status_code}"
        time.sleep(1)


def ui_login(session, ui: str, timeout_ms: int = 60000) -> None:
    """Sign in to the Prefect UI of a server that asks for credentials, as an operator does: the UI
    (served by the local server, offline) shows its login form, which takes the whole auth string
    ``user:password`` as the password and keeps it in the browser for the API calls."""
    session.goto(f"{ui}/login")
    field = session.page.locator("input[type=password]")
    field.wait_for(timeout=timeout_ms)
    field.fill(hostile_server.AUTH)
    field.press("Enter")
    session.page.wait_for_url(lambda url: "/login" not in url, timeout=timeout_ms)
