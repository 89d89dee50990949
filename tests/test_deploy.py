"""Missed nightly runs after `ektp serve` was down: one catch-up run, not a replayed pile
(against the real Prefect API of the test harness)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_missed_nightly_runs_are_cancelled_except_the_newest_and_operator_runs(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Scheduled

    from flows.deploy import cancel_missed_nightly_runs, deployments
    from flows.settings import load_settings

    assert cancel_missed_nightly_runs() == (0, None)        # no deployment yet: nothing to do
    deployment_id = deployments(load_settings(tmp_path))[0].apply()
    now = datetime.now(timezone.utc)
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
