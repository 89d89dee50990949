"""Shared fixtures: one real Prefect test server per session, tiny landing zones in tmp_path."""

from __future__ import annotations

import os

for _k, _v in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
               ("GX_ANALYTICS_ENABLED", "false"), ("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL"),
               ("PREFECT_SERVER_LOGGING_LEVEL", "WARNING"),
               ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")):
    os.environ.setdefault(_k, _v)
os.environ["EKTP_NIK_KEY"] = "test-key-not-secret-0123456789abcdef"

import pytest  # noqa: E402

from tests.helpers import Landing  # noqa: E402


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API (temporary database, subprocess server) for the whole session."""
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
