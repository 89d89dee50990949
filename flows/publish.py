"""Publish what analysts read, only after a run succeeded, and keep a few good generations.

The writer's file (``ektp.duckdb``) is copied to a temporary file, fsynced, and renamed over
``ektp_analyst.duckdb`` (atomic on one filesystem): a reader holding the old copy open keeps
reading it undisturbed, and never sees a half-built warehouse. Each published copy is also
hard-linked into ``backups/`` (it is never modified in place), keeping the newest ``KEEP``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flows.settings import Settings

KEEP = 3


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(settings: Settings, run_id: str) -> Path:
    """Copy the (closed, checkpointed) warehouse to the analysts' file; returns its path."""
    src = settings.warehouse_path
    dst = settings.published_path
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    for stale in dst.parent.glob(f".{dst.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    shutil.copyfile(src, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o444)
    os.replace(tmp, dst)
    _fsync_dir(dst.parent)
    backup(settings, run_id)
    return dst


def backup(settings: Settings, run_id: str) -> Path:
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    target = settings.backup_dir / f"ektp-{run_id}.duckdb"
    if not target.exists():
        try:
            os.link(settings.published_path, target)
        except OSError:
            shutil.copyfile(settings.published_path, target)
    generations = sorted(settings.backup_dir.glob("ektp-*.duckdb"))
    for old in generations[:-KEEP]:
        old.unlink(missing_ok=True)
    return target


def list_backups(settings: Settings) -> list[Path]:
    return sorted(settings.backup_dir.glob("ektp-*.duckdb"), reverse=True)


def restore(settings: Settings, backup_path: Path) -> None:
    """Make a backup the writer's warehouse again (and republish it). Caller holds the lock."""
    if not backup_path.exists():
        raise FileNotFoundError(backup_path)
    tmp = settings.warehouse_path.with_name(".ektp.duckdb.restore.tmp")
    shutil.copyfile(backup_path, tmp)
    os.chmod(tmp, 0o644)
    wal = settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal")
    wal.unlink(missing_ok=True)
    os.replace(tmp, settings.warehouse_path)
    pub_tmp = settings.published_path.with_name(".restore.tmp")
    shutil.copyfile(backup_path, pub_tmp)
    os.chmod(pub_tmp, 0o444)
    os.replace(pub_tmp, settings.published_path)
