"""Run the real ``ektp`` command, but stop at a named stage until told to go on (or killed).

    python tests/hostile/pause.py <stage> <marker-file> <ektp args...>

At ``<stage>`` the process writes ``<marker-file>`` (its pid and the stage) and waits until
``<marker-file>.go`` exists; a test SIGKILLs it meanwhile, or creates the go file to let it finish.
Nothing of the pipeline is replaced: the hooks wrap the real functions and pause before or after
them, or (``load``, ``marts``) inside their transaction just before ``commit``. This stands in
for the ``EKTP_TEST_PAUSE_AT`` hook proposed for flows/orchestration/pipeline.py in the issue-5 note.

Stages, in the order a run reaches them:
  read      after the first batch of recording logs was parsed (nothing validated or written)
  validate  after a batch was validated with Great Expectations, before it is written
  load      inside the batch's write transaction, every insert done, before ``commit``
  marts     inside the model-building transaction, every model built, before ``commit``
  finish    run recorded as completed, before ``checkpoint`` (the commit is only in the WAL)
  publish   the analysts' copy written to its temporary file, not yet renamed into place
  backup    the new analysts' copy renamed into place, the backup of the writer's file not yet made
  report    published and backed up, before the HTML report is written
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

STAGES = ("read", "validate", "load", "marts", "finish", "publish", "backup", "report")


def _pause(marker: Path, stage: str) -> None:
    marker.write_text(f"{os.getpid()} {stage}\n")
    go = marker.with_name(marker.name + ".go")
    while not go.exists():
        time.sleep(0.05)


class _PauseBeforeCommit:
    """A connection proxy: executing ``commit`` pauses first."""

    def __init__(self, con, marker: Path, stage: str):
        self._con, self._marker, self._stage = con, marker, stage

    def execute(self, sql, *args, **kw):
        if isinstance(sql, str) and sql.strip().lower() == "commit":
            _pause(self._marker, self._stage)
        return self._con.execute(sql, *args, **kw)

    def __getattr__(self, name):
        return getattr(self._con, name)


def install(stage: str, marker: Path) -> None:
    import flows.ingest.load as load
    import flows.ingest.validate as validate
    import flows.orchestration.run as run
    import flows.outputs.publish as publish
    import flows.outputs.report as report
    from flows.ingest.feeds import REKAM

    if stage == "read":   # pause once the first batch of log files has been read and parsed
        real_parse = load.parse_files

        def parse_files(datas, columns, *a, **kw):
            res = real_parse(datas, columns, *a, **kw)
            if columns == REKAM.columns:      # recording logs, not the snapshot or request files
                _pause(marker, stage)
            return res
        load.parse_files = parse_files
    elif stage == "validate":
        real_validate = validate.validate_rekam   # flows.ingest.load looks the feed's function up when it calls it

        def validate_rekam(*a, **kw):
            res = real_validate(*a, **kw)
            _pause(marker, stage)
            return res
        validate.validate_rekam = validate_rekam
    elif stage == "load":
        real_write = run.write_batch

        def write_batch(con, run_id, batch_no, *a, **kw):
            if batch_no > 0:   # a batch of recording logs (0 is the snapshots)
                con = _PauseBeforeCommit(con, marker, stage)
            return real_write(con, run_id, batch_no, *a, **kw)
        run.write_batch = write_batch
    elif stage == "marts":
        real_build = run.build_models
        run.build_models = lambda con, *a, **kw: real_build(_PauseBeforeCommit(con, marker, stage), *a, **kw)
    elif stage == "finish":
        real_finish = run.finish_run

        def finish_run(*a, **kw):
            res = real_finish(*a, **kw)
            _pause(marker, stage)
            return res
        run.finish_run = finish_run
    elif stage == "publish":
        real_fsync = publish._fsync

        def fsync(path):
            if path.name.endswith(".tmp"):      # the temporary analysts' copy, complete, before the rename
                _pause(marker, stage)
            return real_fsync(path)
        publish._fsync = fsync
    elif stage == "backup":
        import flows.orchestration.pipeline as pipeline

        real_backup = pipeline.backup

        def backup(*a, **kw):
            _pause(marker, stage)
            return real_backup(*a, **kw)
        pipeline.backup = backup
    elif stage == "report":
        real_report = report.write_report

        def write_report(*a, **kw):
            _pause(marker, stage)
            return real_report(*a, **kw)
        report.write_report = write_report
    else:
        raise SystemExit(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")


if __name__ == "__main__":
    stage, marker, *argv = sys.argv[1:]
    install(stage, Path(marker))
    from flows.cli import main

    sys.exit(main(argv))
