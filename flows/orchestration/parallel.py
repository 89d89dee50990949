"""Parsing and validation on Dask (prefect-dask), for province-size nights.

The warehouse keeps a single writer: the flow's process reads every file once and ships the bytes;
only ``prepare-batch`` tasks (parse, validate with GX, pseudonymise) run on the workers. NIKs
travel in those bytes, so Dask traffic must be encrypted: the only accepted schedulers are a
``tls://`` address (with the certificates of Dask's ``Security``, from the Dask configuration or
``DASK_DISTRIBUTED__COMM__TLS__*``) and a local cluster, which runs on TLS with a temporary
certificate (no other user of the machine can connect to it). Workers compute pseudonyms: they need
the key in their own environment (EKTP_NIK_KEY or EKTP_NIK_KEY_FILE); it never crosses the wire.

The local cluster's workers spill to disk and keep scratch files (parsed batches: NIKs). Dask's
default place is ``/tmp/dask-scratch-space``, a fixed path another user of the host can create
first (and read or swap). So the run creates a private folder of its own (``tempfile.mkdtemp``:
mode 700, a new random name), starts the cluster on it (``local_directory`` and Dask's
``temporary-directory``) under umask 077, and removes it when the cluster stops
(``private_local_cluster``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from flows.errors import UserError

SCRATCH_PREFIX = "ektp-dask-"


def check_address(address: str) -> str:
    """The scheduler address when it is ``tls://``; one-line UserError for anything else."""
    if not address.startswith("tls://") or len(address) <= len("tls://"):
        raise UserError("Only a tls:// Dask scheduler address (with Dask's TLS certificates) or the local cluster "
                        "(--dask alone) is accepted: NIKs would cross the network in clear over tcp:// or ws://.")
    return address


@contextlib.contextmanager
def private_local_cluster(**cluster_kwargs) -> Iterator[object]:
    """A ``distributed.LocalCluster(**cluster_kwargs)`` whose workers' local directory (scratch and
    spill) lies in a folder this call creates (mode 700, under the system's temporary directory),
    started under umask 077 (the worker processes inherit it); the folder is removed after the
    cluster closes. The ``cluster_class`` of the local DaskTaskRunner: Prefect enters it when the
    run first submits work and leaves it when the run ends."""
    import dask
    from distributed import LocalCluster

    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    try:
        old = os.umask(0o077)
        try:
            with dask.config.set({"temporary-directory": scratch}):
                cluster = LocalCluster(local_directory=scratch, **cluster_kwargs)
        finally:
            os.umask(old)
        with cluster:
            yield cluster
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def dask_task_runner(address: str | None = None, n_workers: int = 2):
    """A DaskTaskRunner: an existing ``tls://`` scheduler at ``address`` (certificates from the Dask
    configuration, encryption required), or a local TLS cluster of ``n_workers`` single-threaded
    worker processes with a temporary certificate, no dashboard and a private scratch folder
    (``private_local_cluster``)."""
    from distributed.security import Security
    from prefect_dask import DaskTaskRunner

    if address:
        security = Security(require_encryption=True)
        if not (security.tls_client_cert or security.tls_ca_file):
            raise UserError("No Dask TLS certificates are configured for the tls:// scheduler: set "
                            "distributed.comm.tls (ca-file, client cert and key) in the Dask configuration "
                            "(docs/performance.md).")
        return DaskTaskRunner(address=check_address(address), client_kwargs={"security": security})
    security = Security.temporary()
    return DaskTaskRunner(cluster_class=private_local_cluster,
                          cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None, "protocol": "tls://", "security": security},
                          client_kwargs={"security": security})
