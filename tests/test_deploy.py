"""Missed nightly runs after `ektp serve` was down: one catch-up run, not a replayed pile
(against the real Prefect API of the test harness)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_missed_nightly_runs_are_cancelled_except_the_newest_and_operator_runs(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Scheduled

    from flows.orchestration.deploy import cancel_missed_nightly_runs, deployments
    from flows.settings import load_settings

    assert cancel_missed_nightly_runs() == (0, None)        # no deployment yet: nothing to do
    deployment_id = deployments(load_settings(tmp_path))[0].apply()
    now = datetime.now(UTC)
    with get_client(sync_client=True) as client:
        def scheduled(at, **kw):
            return client.create_flow_run_from_deployment(deployment_id, state=Scheduled(scheduled_time=at), **kw)

        missed = [scheduled(now - timedelta(days=d)) for d in (3, 2, 1)]       # three nights while down
        operator = scheduled(now - timedelta(days=2), parameters={"run_date": "2025-01-05"})
        upcoming = scheduled(now + timedelta(hours=5))
        cancelled, kept = cancel_missed_nightly_runs()
        state = {run.name: client.read_flow_run(run.id).state.type for run in [*missed, operator, upcoming]}
    assert (cancelled, kept) == (2, missed[-1].name)
    assert [state[r.name] for r in missed] == [StateType.CANCELLED, StateType.CANCELLED, StateType.SCHEDULED]
    assert state[operator.name] == StateType.SCHEDULED and state[upcoming.name] == StateType.SCHEDULED
    assert cancel_missed_nightly_runs() == (0, missed[-1].name)   # a second start changes nothing


def test_prefect_yaml_is_generated_from_the_deployments_ektp_serve_serves(tmp_path):
    """Cron, timezone, names, entrypoints, descriptions and limits are defined once (flows/orchestration/deploy.py,
    flows/settings.py); prefect.yaml is their generated form and must not drift."""
    from pathlib import Path

    import yaml

    from flows.orchestration.deploy import deployments, prefect_yaml
    from flows.settings import load_settings

    settings = load_settings(tmp_path)
    committed = (Path(__file__).parent.parent / "prefect.yaml").read_text()
    assert committed == prefect_yaml(settings), "regenerate: .venv/bin/python -m flows.orchestration.deploy > prefect.yaml"
    doc = {d["name"]: d for d in yaml.safe_load(committed)["deployments"]}
    served = {d.name: d for d in deployments(settings)}
    assert set(doc) == set(served) == {"nightly", "backfill"}
    for name, dep in served.items():
        assert doc[name]["description"] == dep.description
        assert doc[name]["entrypoint"].endswith(":" + dep.flow_name.removeprefix("ektp-"))
        assert doc[name]["concurrency_limit"]["limit"] == dep.concurrency_limit
        assert doc[name]["enforce_parameter_schema"] is dep.enforce_parameter_schema is True
        crons = [(s.schedule.cron, s.schedule.timezone) for s in dep.schedules or []]
        assert crons == [(s["cron"], s["timezone"]) for s in doc[name]["schedules"]]
    assert [(s["cron"], s["timezone"]) for s in doc["nightly"]["schedules"]] == [(settings.nightly_cron, settings.timezone)]


def test_the_test_api_answers_401_without_credentials_so_every_orchestration_test_passes_through_auth():
    """The session's Prefect API (prefect_test_harness's subprocess server) runs with
    PREFECT_SERVER_API_AUTH_STRING, as the operators' server does: a request without credentials,
    or with wrong ones, is refused; Prefect's own client (PREFECT_API_AUTH_STRING) gets through."""
    import httpx
    import prefect.settings
    from prefect.client.orchestration import get_client

    from tests.hostile.server import AUTH

    api = prefect.settings.PREFECT_API_URL.value()
    assert httpx.get(f"{api}/admin/version", timeout=30).status_code == 401
    assert httpx.post(f"{api}/flow_runs/filter", json={}, timeout=30).status_code == 401
    assert httpx.post(f"{api}/deployments/filter", json={}, auth=("ektp-test", "guess"), timeout=30).status_code == 401
    assert httpx.get(f"{api}/admin/version", auth=tuple(AUTH.split(":", 1)), timeout=30).status_code == 200
    with get_client(sync_client=True) as client:
        assert client.read_flow_runs(limit=1) is not None       # the suite's client sends the credentials
