"""Deployments: `ektp serve` serves `nightly` (01:00 Asia/Jakarta) and `backfill` (on demand).

Both are bound to the data directory `ektp serve` was started with: it is not a run parameter
(whoever reaches the Prefect API can trigger runs, never choose what they read or write). The
serving process puts the resolved directory in its environment (EKTP_DATA_DIR), which the runs it
starts inherit, and checks the key before serving.

Both deployments allow one run at a time (Prefect concurrency limit 1, collision strategy
ENQUEUE: a second run waits in the queue); the file lock in flows/warehouse/database.py guarantees a single
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
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from prefect import serve as prefect_serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron
from prefect.utilities.callables import ParameterSchema

from flows.errors import UserError
from flows.orchestration.pipeline import backfill, nightly
from flows.settings import Settings, load_settings, resolve_key


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


@dataclass(frozen=True)
class Spec:
    """One deployment, defined once: `ektp serve` and prefect.yaml (`prefect deploy`) both come from it."""
    name: str
    flow: object
    entrypoint: str
    description: str
    scheduled: bool


TAGS = ("ektp",)
RUNS_AT_A_TIME = 1


def nightly_time(settings: Settings) -> str:
    """``HH:MM`` of the nightly cron (``M H * * *``), for descriptions."""
    minute, hour = settings.nightly_cron.split()[:2]
    return f"{int(hour):02d}:{int(minute):02d}"


def specs(settings: Settings) -> tuple[Spec, ...]:
    return (
        Spec("nightly", nightly, "flows/orchestration/pipeline.py:nightly",
             f"Every night at {nightly_time(settings)} ({settings.timezone}): load new or changed logs dated up to "
             "yesterday, rebuild the marts.", True),
        Spec("backfill", backfill, "flows/orchestration/pipeline.py:backfill",
             "On demand: load the log dates start..end (optionally some kecamatan). Reloading unchanged files "
             "is for the operator at the command line only (`ektp backfill --force`).", False),
    )


def deployments(settings: Settings, schedule: bool = True) -> list:
    """The two RunnerDeployments (also used by tests); no parameter names a directory."""
    one_at_a_time = ConcurrencyLimitConfig(limit=RUNS_AT_A_TIME, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    return [_closed(spec.flow.to_deployment(
        name=spec.name,
        schedule=Cron(settings.nightly_cron, timezone=settings.timezone) if spec.scheduled and schedule else None,
        concurrency_limit=one_at_a_time,
        enforce_parameter_schema=True,
        description=spec.description,
        tags=list(TAGS),
    )) for spec in specs(settings)]


PREFECT_YAML_HEADER = """\
# Generated from flows/orchestration/deploy.py (`.venv/bin/python -m flows.orchestration.deploy > prefect.yaml`); do not edit by hand:
# tests/test_deploy.py fails when this file and the deployments `ektp serve` serves differ.
# Deployments for teams that run workers: `prefect deploy --all` (see docs/operators.md).
# `ektp serve` is the serverless-worker alternative and serves the same two deployments.
# The workers' environment sets EKTP_DATA_DIR and EKTP_NIK_KEY_FILE: no run parameter names a directory.
"""


def prefect_yaml(settings: Settings) -> str:
    """prefect.yaml for `prefect deploy --all`, from the same specs as `ektp serve`."""
    import prefect
    import yaml

    def one(spec: Spec) -> dict:
        schedules = [{"cron": settings.nightly_cron, "timezone": settings.timezone, "active": True}] if spec.scheduled else []
        return {"name": spec.name, "entrypoint": spec.entrypoint, "description": spec.description,
                "tags": list(TAGS), "parameters": {}, "schedules": schedules, "enforce_parameter_schema": True,
                "concurrency_limit": {"limit": RUNS_AT_A_TIME, "collision_strategy": "ENQUEUE"},
                "work_pool": {"name": "ektp-process", "work_queue_name": "default", "job_variables": {}}}

    doc = {"name": "ektp", "prefect-version": prefect.__version__,
           "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $EKTP_PROJECT_DIR }}"}}],
           "deployments": [one(spec) for spec in specs(settings)]}
    return PREFECT_YAML_HEADER + yaml.safe_dump(doc, sort_keys=False, width=1000)


NIGHTLY_DEPLOYMENT = "ektp-nightly/nightly"


def cancel_missed_nightly_runs(now: datetime | None = None) -> tuple[int, str | None]:
    """Cancel every nightly run still waiting although its start time has passed (Scheduled or
    Late), except the newest, and except runs with an explicit run_date. Returns (number
    cancelled, name of the run kept or None)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled

    now = now or datetime.now(UTC)
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


AUTH_HELP = ("start the server with PREFECT_SERVER_API_AUTH_STRING and give ektp PREFECT_API_AUTH_STRING "
             "(docs/operators.md), or pass --insecure-api on purpose")


def check_api_asks_for_credentials() -> str:
    """The API URL (PREFECT_API_URL) when that Prefect API answers 401 to a request without
    credentials and accepts this process's PREFECT_API_AUTH_STRING; one-line UserError otherwise
    (no URL: a throw-away server nobody else should reach either; unreachable; open; or refusing us).
    The probe is ``GET /admin/version``: the server's auth middleware leaves only /health and /ready open."""
    import base64

    import httpx
    from prefect.settings import get_current_settings

    api = get_current_settings().api
    if not api.url:
        raise UserError(f"PREFECT_API_URL is not set: `ektp serve` serves the operators' Prefect server; {AUTH_HELP}.")
    url = str(api.url).rstrip("/")
    secret = api.auth_string.get_secret_value() if api.auth_string else None
    try:
        with httpx.Client(timeout=15) as client:
            anonymous = client.get(f"{url}/admin/version").status_code
            ours = None if secret is None else client.get(f"{url}/admin/version", headers={
                "Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}).status_code
    except httpx.HTTPError as exc:
        raise UserError(f"The Prefect API at {url} does not answer ({type(exc).__name__}); start it first "
                        "(docs/operators.md).") from None
    if anonymous != 401:
        raise UserError(f"The Prefect API at {url} answers without credentials (HTTP {anonymous}): anyone on this "
                        f"host could start, change or read runs; {AUTH_HELP}.")
    if ours != 200:
        raise UserError(f"The Prefect API at {url} refuses ektp's credentials (PREFECT_API_AUTH_STRING "
                        f"{'is not set' if secret is None else f'gives HTTP {ours}'}).")
    return url


def serve(settings: Settings, schedule: bool = True, insecure_api: bool = False) -> None:
    """Serve both deployments to the Prefect API in PREFECT_API_URL until interrupted, bound to
    ``settings.data_dir`` (the runs this process starts inherit EKTP_DATA_DIR). Refuses (one-line
    UserError) an API that answers without credentials, unless ``insecure_api``."""
    if not insecure_api:
        check_api_asks_for_credentials()
    resolve_key(settings)       # a missing or exposed key stops here, not at 01:00
    os.environ["EKTP_DATA_DIR"] = str(settings.data_dir)
    cancelled, kept = cancel_missed_nightly_runs()
    if cancelled:
        print(f"Cancelled {cancelled} missed nightly run(s); {kept} runs now and catches up on every new file.",
              flush=True)
    prefect_serve(*deployments(settings, schedule))


if __name__ == "__main__":
    sys.stdout.write(prefect_yaml(load_settings()))
