"""Parsing and validation on Dask (prefect-dask), for province-size nights.

The warehouse keeps a single writer: only ``prepare-batch`` tasks (read, validate with GX,
pseudonymise) run on the workers; the flow's own process writes every batch in order.
Workers need the same key: set EKTP_NIK_KEY in the workers' environment (a local cluster
inherits this process's environment) and give them the landing zone at the same path.
"""

from __future__ import annotations


def dask_task_runner(address: str | None = None, n_workers: int = 2):
    """A DaskTaskRunner: an existing scheduler at ``address`` (tcp://host:8786), or a local
    cluster of ``n_workers`` single-threaded worker processes with no dashboard."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})
