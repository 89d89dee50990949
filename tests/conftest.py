"""Shared fixtures: one real Prefect test server per session, tiny landing zones in tmp_path."""

from __future__ import annotations

import os

for _k, _v in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
               ("GX_ANALYTICS_ENABLED", "false"), ("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL"),
               ("PREFECT_SERVER_LOGGING_LEVEL", "WARNING"),
               ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")):
    os.environ.setdefault(_k, _v)
os.environ["EKTP_NIK_KEY"] = "test-key-not-secret-0123456789abcdef"

from tests.hostile.server import AUTH  # noqa: E402  (standard library only)

# Every Prefect server of the suite asks for credentials, as the operators' does (contract section
# 5): the test harness's subprocess server inherits this environment, and so does every client.
os.environ["PREFECT_SERVER_API_AUTH_STRING"] = AUTH
os.environ["PREFECT_API_AUTH_STRING"] = AUTH

import pytest  # noqa: E402

from tests.helpers import Landing  # noqa: E402


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API (temporary database, subprocess server) for the whole session; it
    answers 401 to a request without credentials (PREFECT_SERVER_API_AUTH_STRING above)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def landing(tmp_path) -> Landing:
    """An empty data directory with raw/rekam and raw/penduduk."""
    return Landing(tmp_path / "data")


@pytest.fixture
def key() -> bytes:
    return os.environ["EKTP_NIK_KEY"].encode()


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """A real server, a tiny landing zone and `ektp serve --data-dir` against it (tests/served.py)."""
    import subprocess

    from tests.served import VENV_BIN, deployment, prefect_server, stop, tiny_landing

    tmp = tmp_path_factory.mktemp("orch")
    land = tiny_landing(tmp / "data")
    with prefect_server(tmp) as (api, env):
        slog = open(tmp / "serve.log", "wb")
        serve = subprocess.Popen([str(VENV_BIN / "ektp"), "serve", "--data-dir", str(land.data_dir)], env=env,
                                 stdout=slog, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deployment(api, "ektp-nightly", "nightly")
            deployment(api, "ektp-backfill", "backfill")
            yield api, land, tmp
        finally:
            stop(serve)
            slog.close()
