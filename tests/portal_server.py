"""A real `ektp portal` server for the portal's tests: a subprocess on a free loopback port.

    with portal_server(data_dir) as srv:
        c = srv.client()                      # httpx client on the server's base URL
        srv.login(c, "kec01", password)       # fetches the form, posts it with its CSRF token
        srv.output()                          # everything the server printed so far

Accounts are created with the real `ektp portal user add` command (`add_user` returns the
one-time password it printed).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

VENV_BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def today_wib() -> date:
    return datetime.now(ZoneInfo("Asia/Jakarta")).date()


def yesterday_wib() -> date:
    return today_wib() - timedelta(days=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(data_dir: Path, **extra: str) -> dict:
    e = {**os.environ, "EKTP_DATA_DIR": str(data_dir), "DO_NOT_TRACK": "1", **extra}
    return e


def ektp(*args: str, data_dir: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "ektp"), *args], env=env(data_dir, **extra), capture_output=True,
                          text=True, timeout=600)


def add_user(data_dir: Path, name: str, *who: str) -> str:
    """`ektp portal user add NAME --kecamatan CODE | --kantor`; the one-time password it printed."""
    out = ektp("portal", "user", "add", name, *who, data_dir=data_dir)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().rsplit(" ", 1)[-1]


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path
    data_dir: Path

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kw)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def login(self, c: httpx.Client, name: str, password: str, headers: dict | None = None) -> httpx.Response:
        token = csrf_of(c.get("/masuk", headers=headers).text)
        return c.post("/masuk", data={"csrf": token, "pengguna": name, "sandi": password}, headers=headers)

    def login_changed(self, c: httpx.Client, name: str, otp: str, new: str) -> None:
        """Log in with the one-time password and change it (what the first login must do)."""
        r = self.login(c, name, otp)
        assert r.status_code == 303 and r.headers["location"] == "/sandi", r.text[:500]
        token = csrf_of(c.get("/sandi").text)
        r = c.post("/sandi", data={"csrf": token, "sandi_lama": otp, "sandi_baru": new, "sandi_ulang": new})
        assert r.status_code == 303 and r.headers["location"] == "/beranda", r.text[:500]


@contextlib.contextmanager
def portal_server(data_dir: Path, *args: str, **extra_env: str):
    """`ektp portal --port P [args]` in a subprocess; waits until it answers; stops it after."""
    port = free_port()
    log = data_dir.parent / f"portal-{port}.log"
    fh = open(log, "wb")
    proc = subprocess.Popen([str(VENV_BIN / "ektp"), "portal", "--port", str(port), *args],
                            env=env(data_dir, **extra_env), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/masuk", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the portal did not answer within 120 s"
            time.sleep(0.3)
        yield Server(url, proc, log, data_dir)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        fh.close()
