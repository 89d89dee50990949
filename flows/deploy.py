"""Deployments: `ektp serve` serves `nightly` (01:00 Asia/Jakarta) and `backfill` (on demand).

Both are bound to the data directory `ektp serve` was started with: it is not a run parameter
(whoever reaches the Prefect API can trigger runs, never choose what they read or write). The
serving process puts the resolved directory in its environment (EKTP_DATA_DIR), which the runs it
starts inherit, and checks the key before serving.

Both deployments allow one run at a time (Prefect concurrency limit 1, collision strategy
ENQUEUE: a second run waits in the queue); the file lock in flows/warehouse.py guarantees a single
writer even without a server. Missed nights are caught up by data: every run loads all new or
changed files dated on or before its run date. When `ektp serve` starts again after being down
(a crash, a power cut), the nightly runs the scheduler had already created for the missed nights
are Late; the runner would start them one after another, each a full run that finds nothing
new. So before serving, all but the newest of those missed nightly runs are cancelled
(``cancel_missed_nightly_runs``): one catch-up run, which loads everything that arrived. A
nightly run with an explicit ``run_date`` (started by an operator) is never cancelled.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from prefect import serve as prefect_serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron
from prefect.utilities.callables import ParameterSchema

from flows.pipeline import backfill, nightly
from flows.settings import Settings, resolve_key


class _ClosedParameters(ParameterSchema):
    """The flows' parameter schema, closed: with ``additionalProperties: false`` the API refuses a
    parameter the flows do not take (a ``data_dir`` above all) with 409, instead of starting a run."""

    additionalProperties: bool = False


def _closed(deployment):
    # RunnerDeployment keeps the generated schema in a private attribute (Prefect 3.9, pinned); the
    # deployment tests fail if that changes (tests/test_security.py).
    schema = deployment._parameter_openapi_schema
    deployment._parameter_openapi_schema = _ClosedParameters(**schema.model_dump(), additionalProperties=False)
    return deployment


def deployments(settings: Settings, schedule: bool = True) -> list:
    """The two RunnerDeployments (also used by tests); no parameter names a directory."""
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    return [_closed(d) for d in (
        nightly.to_deployment(
            name="nightly",
            schedule=Cron(settings.nightly_cron, timezone=settings.timezone) if schedule else None,
            concurrency_limit=one_at_a_time,
            enforce_parameter_schema=True,
            description="Every night at 01:00 WIB: load new or changed logs dated up to yesterday, rebuild the marts.",
            tags=["ektp"],
        ),
        backfill.to_deployment(
            name="backfill",
            concurrency_limit=one_at_a_time,
            enforce_parameter_schema=True,
            description="On demand: load the log dates start..end (optionally some kecamatan; force reloads).",
            tags=["ektp"],
        ),
    )]


NIGHTLY_DEPLOYMENT = "ektp-nightly/nightly"


def cancel_missed_nightly_runs(now: datetime | None = None) -> tuple[int, str | None]:
    """Cancel every nightly run still waiting although its start time has passed (Scheduled or
    Late), except the newest, and except runs with an explicit run_date. Returns (number
    cancelled, name of the run kept or None)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterExpectedStartTime,
        FlowRunFilterState, FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled

    now = now or datetime.now(timezone.utc)
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(NIGHTLY_DEPLOYMENT)
        except ObjectNotFound:
            return 0, None          # first start: nothing was scheduled yet
        waiting = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=now),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
        )
        missed = [r for r in waiting if (r.parameters or {}).get("run_date") is None]
        for run in missed[1:]:
            client.set_flow_run_state(run.id, Cancelled(
                message=f"missed while the server was down; the newer run {missed[0].name} catches up"), force=True)
    return max(0, len(missed) - 1), (missed[0].name if missed else None)


def serve(settings: Settings, schedule: bool = True) -> None:
    """Serve both deployments to the Prefect API in PREFECT_API_URL until interrupted, bound to
    ``settings.data_dir`` (the runs this process starts inherit EKTP_DATA_DIR)."""
    resolve_key(settings)       # a missing or exposed key stops here, not at 01:00
    os.environ["EKTP_DATA_DIR"] = str(settings.data_dir)
    cancelled, kept = cancel_missed_nightly_runs()
    if cancelled:
        print(f"Cancelled {cancelled} missed nightly run(s); {kept} runs now and catches up on every new file.",
              flush=True)
    prefect_serve(*deployments(settings, schedule))
