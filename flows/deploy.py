"""Deployments: `ektp serve` serves `nightly` (01:00 Asia/Jakarta) and `backfill` (on demand).

Both deployments allow one run at a time (Prefect concurrency limit 1, collision strategy
ENQUEUE: a second run waits in the queue); the file lock in flows/warehouse.py guarantees a single
writer even without a server. Missed nights are caught up by data: every run loads all new or
changed files dated on or before its run date, so no pile of missed scheduled runs is replayed
(the scheduler only creates upcoming runs).
"""

from __future__ import annotations

from prefect import serve as prefect_serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

from flows.pipeline import backfill, nightly

NIGHTLY_CRON = "0 1 * * *"
TIMEZONE = "Asia/Jakarta"


def deployments(data_dir: str | None = None, schedule: bool = True) -> list:
    """The two RunnerDeployments (also used by tests)."""
    params = {"data_dir": data_dir} if data_dir else {}
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    return [
        nightly.to_deployment(
            name="nightly",
            schedule=Cron(NIGHTLY_CRON, timezone=TIMEZONE) if schedule else None,
            parameters=params,
            concurrency_limit=one_at_a_time,
            enforce_parameter_schema=True,
            description="Every night at 01:00 WIB: load new or changed logs dated up to yesterday, rebuild the marts.",
            tags=["ektp"],
        ),
        backfill.to_deployment(
            name="backfill",
            parameters=params,
            concurrency_limit=one_at_a_time,
            enforce_parameter_schema=True,
            description="On demand: load the log dates start..end (optionally some kecamatan; force reloads).",
            tags=["ektp"],
        ),
    ]


def serve(data_dir: str | None = None, schedule: bool = True) -> None:
    """Serve both deployments to the Prefect API in PREFECT_API_URL until interrupted."""
    prefect_serve(*deployments(data_dir, schedule))
