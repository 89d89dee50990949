"""A wheel is a whole program: `pip install .` (not editable) into a fresh venv runs `ektp demo`.

The SQL models and the Great Expectations suites live in the checkout's top-level `sql/` and
`expectations/`; the wheel ships them as package data (flows/resources.py). This test builds the
wheel, installs it into a new virtual environment next to the pinned dependencies of
requirements.lock, and runs the demo from a folder that holds no checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # a new venv, the pinned tree installed from pip's cache, and the demo

REPO = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200, **kw)


def test_a_non_editable_install_runs_the_demo_without_the_checkout(tmp_path):
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    deps = _run(pip + ["-r", str(REPO / "requirements.lock")])
    assert deps.returncode == 0, deps.stderr[-2000:]
    # build from a copy of the sources: setuptools writes build/ next to the sources it builds
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", ".prefect", "data", "build", "*.egg-info",
                                                             "test-artifacts", "__pycache__", ".pytest_cache"))
    own = _run(pip + ["--no-deps", str(src)])
    assert own.returncode == 0, own.stderr[-2000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(venv / "bin" / "python"), "-c",
                  "import flows, flows.resources as r; print(flows.__file__); print(r.project_dir('sql'))"],
                 cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    module, sql_dir = where.stdout.split()
    assert module.startswith(str(venv)) and sql_dir.startswith(str(venv)), where.stdout
    assert Path(sql_dir, "order.txt").is_file()
    # the companion process of a loading run (`python -P -m flows.companion`) starts from the wheel
    # and answers a job (else a run would silently do its work alone)
    companion = _run([str(venv / "bin" / "python"), "-P", "-c",
                      "from flows import companion; companion.start(); "
                      "got = companion.call('report_end', None); print(got is not None and got.raised is None)"],
                     cwd=elsewhere)
    assert companion.stdout.strip() == "True", companion.stderr[-2000:]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("EKTP_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               GX_ANALYTICS_ENABLED="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    demo = _run([str(venv / "bin" / "ektp"), "demo", "--data-dir", str(tmp_path / "data")], cwd=elsewhere, env=env)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "270,764" in demo.stdout and "213,572" in demo.stdout and "57,192" in demo.stdout, demo.stdout[-2000:]
