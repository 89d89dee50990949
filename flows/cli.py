"""The `ektp` command (contract section 8): a thin layer over the library.

Options become settings: ``--data-dir`` and ``--wait`` are written into this process's environment
(EKTP_DATA_DIR, EKTP_LOCK_WAIT), where ``flows.settings.load_settings`` reads them, in this process
and in the flow run it starts, exactly as for ``ektp serve`` and Prefect workers.

Exit status: 0 when the run completed (quarantined rows and rejected files included); 1 when the
pipeline failed or an expected condition stopped it; 2 for bad arguments. Expected failures print
one line on stderr, no traceback. An unexpected failure prints its stage and type in one line;
its full text is printed only with ``-v`` (it may quote a value from a raw file).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from flows.dates import check_range
from flows.errors import PipelineCheckFailed, StageFailed, UserError, storage_error

if TYPE_CHECKING:
    from flows.outputs.runsummary import RunSummary

QUIET = (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
         ("GX_ANALYTICS_ENABLED", "false"), ("PREFECT_SERVER_LOGGING_LEVEL", "WARNING"),
         ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"ektp: {message} (see `{self.prog} --help`)\n")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date as YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return n


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (default: $EKTP_DATA_DIR or ./data)")
    common.add_argument("--wilayah", metavar="CODES",
                        help="the area: province or kab/kota codes, comma-separated (default: $EKTP_WILAYAH or 16.09)")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show Prefect's log lines, and the full text of an unexpected failure (this terminal only)")
    p = _Parser(prog="ektp", description="e-KTP recording monitor for an area of kab/kota (default: Kabupaten OKU Selatan).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    dask_help = "parse and validate on Dask: a local TLS cluster, or a tls:// scheduler address"

    r = sub.add_parser("run", parents=[common], help="load new/changed files dated on or before --date; rebuild the marts")
    r.add_argument("--date", type=_date, help="last log date to cover (default: yesterday in Asia/Jakarta)")
    r.add_argument("--wait", type=float, default=None, help="seconds to wait for another run to finish (default 600)")
    r.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS", help=dask_help)

    b = sub.add_parser("backfill", parents=[common], help="the same for the log dates --start..--end")
    b.add_argument("--start", type=_date, required=True)
    b.add_argument("--end", type=_date, required=True)
    b.add_argument("--kecamatan", nargs="+", metavar="KODE", help="only these kecamatan of the area (e.g. 16.09.01)")
    b.add_argument("--force", action="store_true", help="reload files even if unchanged")
    b.add_argument("--wait", type=float, default=None)
    b.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS", help=dask_help)

    g = sub.add_parser("generate", parents=[common], help="write a synthetic landing zone")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--start", type=_date, required=True)
    g.add_argument("--end", type=_date, required=True)
    g.add_argument("--seed", type=int, default=2025)
    g.add_argument("--rows-per-day", type=_positive, default=None)
    g.add_argument("--clean", action="store_true", help="no dirt: only valid rows and canonical files")

    sub.add_parser("demo", parents=[common], help="generate the demo landing zone, run the pipeline, print the summary")

    q = sub.add_parser("query", parents=[common], help="run read-only SQL against the analysts' copy (sandboxed)")
    q.add_argument("sql")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")

    sub.add_parser("rejects", parents=[common],
                   help="list the local paths of rejected files (this terminal only; needs the key)")

    sv = sub.add_parser("serve", parents=[common], help="serve the nightly and backfill deployments to the Prefect API ($PREFECT_API_URL)")
    sv.add_argument("--no-schedule", action="store_true", help="serve nightly without its cron schedule")
    sv.add_argument("--insecure-api", action="store_true",
                    help="serve even to a Prefect API that answers without credentials (anyone on the host can start runs)")

    sub.add_parser("backups", parents=[common], help="list the kept generations of the warehouse")
    rs = sub.add_parser("restore", parents=[common], help="make a kept generation the warehouse again")
    rs.add_argument("backup", help="a file name from `ektp backups` (or 'latest')")

    _portal_parser(sub, common)

    k = sub.add_parser("keygen", parents=[common], help="create a pseudonym key file outside the data directory (mode 600)")
    k.add_argument("--out", type=Path, help="where (default: $EKTP_NIK_KEY_FILE, else ~/.config/ektp/nik.key)")
    k.add_argument("--print", action="store_true", help="print a new random key instead (for EKTP_NIK_KEY)")
    return p


def _portal_parser(sub, common) -> None:
    """`ektp portal [--host H] [--port P] [--trusted-proxy IP]` and `ektp portal user ...` (contract section 11)."""
    nested = argparse.ArgumentParser(add_help=False)   # options also accepted after `user ...`, not reset there
    nested.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory (default: $EKTP_DATA_DIR or ./data)")
    nested.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    nested.add_argument("--wilayah", metavar="CODES", default=argparse.SUPPRESS, help="the area (default: $EKTP_WILAYAH or 16.09)")
    pt = sub.add_parser("portal", parents=[common], help="serve the kecamatan portal; `portal user ...` manages its accounts")
    pt.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; put a TLS front before it)")
    pt.add_argument("--port", type=_positive, default=8765)
    pt.add_argument("--trusted-proxy", metavar="IP", help="the TLS front's address: only its X-Forwarded-For counts")
    us = pt.add_subparsers(dest="portal_command", parser_class=_Parser).add_parser("user", parents=[nested],
                                                                                   help="manage portal accounts")
    uc = us.add_subparsers(dest="user_command", required=True, parser_class=_Parser)
    add = uc.add_parser("add", parents=[nested], help="create an account; prints its one-time password")
    add.add_argument("name")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--kecamatan", metavar="CODE", help="an operator of this kecamatan (e.g. 16.09.01)")
    who.add_argument("--kantor", action="store_true", help="the office: every kecamatan of the area")
    uc.add_parser("list", parents=[nested], help="list the accounts")
    for name, text in (("reset", "a new one-time password (ends its sessions)"), ("disable", "disable an account")):
        uc.add_parser(name, parents=[nested], help=text).add_argument("name")


# What a command sets in its own environment for the flow it runs (restored when it returns, so
# that an in-process caller, a test, keeps its own environment).
COMMAND_ENV = ("EKTP_DATA_DIR", "EKTP_LOCK_WAIT", "EKTP_WILAYAH")


def main(argv: list[str] | None = None) -> int:
    saved = {k: os.environ.get(k) for k in COMMAND_ENV}
    try:
        return _main(argv)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# the commands that load logs (and validate them): their companion process starts first thing
LOADING = ("run", "backfill", "demo")


def _start_companion() -> None:
    """Start the companion process (flows/companion.py: Great Expectations imported there while this
    process imports Prefect and starts the flow run) as soon as the arguments are parsed, before
    this process imports anything large or reads its settings: a loading run waits for it at its
    first validation (it imports Great Expectations, ~1.5 s), so every 0.1 s before its start is
    0.1 s on a small run (issue 19, FIX). A command that then stops on a bad argument or setting
    ends it at exit without waiting for it."""
    from flows import companion

    companion.start()


def _main(argv: list[str] | None) -> int:
    for k, v in QUIET:
        os.environ.setdefault(k, v)
    args = build_parser().parse_args(argv)
    if args.command in LOADING and not getattr(args, "dask", None):
        _start_companion()
    if args.data_dir is not None:
        os.environ["EKTP_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    if getattr(args, "wait", None) is not None:
        os.environ["EKTP_LOCK_WAIT"] = str(args.wait)
    if not _set_area(args):
        return 2
    if args.command in ("run", "backfill"):
        try:
            _check_run_dates(args)
        except UserError as exc:      # bad arguments: one line, exit 2, before any work
            print(f"ektp: {exc}", file=sys.stderr)
            return 2
    if not args.verbose:
        # Prefect's console handler only (run logs still reach the Prefect API and UI): the
        # command prints its own progress, summary and one-line errors.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from flows.escape import terminal

    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"ektp: {terminal(exc)}", file=sys.stderr)
        return 1
    except StageFailed as exc:
        from flows.errors import original_text, originals

        if args.verbose:
            print(original_text(), file=sys.stderr, end="")
        reason = next((r for r in map(storage_error, originals()) if r), None)
        print(f"ektp: {reason or exc}", file=sys.stderr)
        return 1
    except PipelineCheckFailed:
        raise     # a bug: keep the traceback (its text names checks and counts only)
    except Exception as exc:
        reason = storage_error(exc)
        if reason is None:
            raise
        print(f"ektp: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ektp: interrupted; the warehouse is as before the batch in progress.", file=sys.stderr)
        return 130


def _check_run_dates(args) -> None:
    """``--date`` of run, ``--start``/``--end`` of backfill: each within 2011-01-01 .. tomorrow in the
    pipeline's timezone, and start on or before end (flows/dates.py, the rule the flows apply to
    the same parameters from Prefect). One-line UserError otherwise."""
    from flows.dates import check_run_dates
    from flows.settings import load_settings

    named = {"--date": args.date} if args.command == "run" else {"--start": args.start, "--end": args.end}
    check_run_dates(named, load_settings().tz)
    if args.command == "backfill":
        check_range(args.start, args.end, "--start", "--end")


def _set_area(args) -> bool:
    """Check the area (``--wilayah``, else EKTP_WILAYAH) before anything runs and write it into
    this process's environment for the flow; False (after one line on stderr) when a code is not
    a province or kab/kota of the region list."""
    from flows.escape import terminal
    from flows.reference.wilayah import AreaError, parse_area

    text = args.wilayah if args.wilayah is not None else os.environ.get("EKTP_WILAYAH")
    try:
        area = parse_area(text)
    except AreaError as exc:
        print(f"ektp: {terminal(exc)}", file=sys.stderr)
        return False
    os.environ["EKTP_WILAYAH"] = ",".join(area)
    return True


def _settings(must_exist: bool = True, need_key: bool = False):
    from flows.settings import load_settings, refuse_weak_key, resolve_key

    settings = load_settings()
    if must_exist and not settings.data_dir.is_dir():
        raise UserError(f"The data directory {settings.data_dir} does not exist (set --data-dir or EKTP_DATA_DIR).")
    if need_key:
        resolve_key(settings)  # fail before starting Prefect
        if not settings.warehouse_path.exists():
            refuse_weak_key(settings)  # a new warehouse: the flow would refuse it too, after Prefect's start-up
    return settings


def _use_reporter() -> None:
    from flows.progress import LineReporter, RichReporter, set_reporter

    set_reporter(RichReporter() if sys.stderr.isatty() else LineReporter())


def _run_flow(fn, **params) -> RunSummary:
    """Run a flow in this process; surface a UserError raised anywhere inside it as itself."""
    try:
        from flows.orchestration.pipeline import heartbeat_not_awaited

        with heartbeat_not_awaited():
            return fn(**params)
    except (UserError, PipelineCheckFailed, StageFailed):
        raise
    except Exception as exc:
        cause = exc
        while cause.__cause__ is not None or cause.__context__ is not None:
            nxt = cause.__cause__ or cause.__context__
            if isinstance(nxt, UserError):
                raise nxt from None
            cause = nxt
        raise


def print_summary(s: RunSummary, settings) -> None:
    from flows.outputs.summary import run_lines

    print("\n".join(run_lines(s, settings)))


def _flow(fn, dask: str | None):
    if not dask:
        return fn
    from flows.orchestration.parallel import check_address, dask_task_runner

    address = None if dask == "local" else check_address(dask)
    return fn.with_options(task_runner=dask_task_runner(address))


def _freeze_imports() -> None:
    """The objects of the imports so far (Prefect, Polars, DuckDB, the pipeline) live as long as the
    process: keep them out of the cyclic collector's full collections, which otherwise walk them
    again and again during a run (issue 19)."""
    import gc

    gc.freeze()


def _loading_pipeline(args, settings=None):
    """The pipeline module for a loading command (its companion process is running already:
    ``_start_companion``, not with --dask, whose workers validate in their own processes). With the
    command's ``settings`` (run, backfill: the landing zone is as the command found it), the
    listing of the landing zone begins too (flows.ingest.landing.walk_early), for the run to take."""
    import gc

    collecting = gc.isenabled()
    if settings is not None:
        from flows.ingest.landing import walk_early

        # no cyclic collection until the imports are frozen: the listing's ~86,000 new objects would
        # otherwise set off full passes over the whole heap the imports are building
        gc.disable()
        walk_early(settings.raw_dir, settings.max_depth)
    try:
        from flows.orchestration import pipeline

        _freeze_imports()
    finally:
        if collecting:
            gc.enable()
    return pipeline


def cmd_run(args) -> int:
    settings = _settings(need_key=True)
    pipeline = _loading_pipeline(args, settings)
    flow = _flow(pipeline.nightly, args.dask)
    _use_reporter()
    summary = _run_flow(flow, run_date=(args.date or settings.yesterday()).isoformat())
    print_summary(summary, settings)
    return 0


def cmd_backfill(args) -> int:
    from flows.reference.wilayah import kecamatan_codes
    from flows.settings import load_settings

    area = load_settings().wilayah
    unknown = sorted(set(args.kecamatan or []) - kecamatan_codes(area))
    if unknown:
        from flows.escape import terminal

        raise UserError(f"Unknown kecamatan code(s): {terminal(', '.join(unknown))} (not a kecamatan of the area "
                        f"{', '.join(area)}).")
    settings = _settings(need_key=True)
    pipeline = _loading_pipeline(args, settings)
    # --force is the operator's, here only: the deployed backfill takes no such parameter
    flow = _flow(pipeline.forced_backfill if args.force else pipeline.backfill, args.dask)
    _use_reporter()
    summary = _run_flow(flow, start=args.start.isoformat(), end=args.end.isoformat(), kecamatan=args.kecamatan)
    print_summary(summary, settings)
    return 0


def cmd_generate(args) -> int:
    from flows.settings import load_settings
    from flows.synth import generate

    check_range(args.start, args.end, "--start", "--end")
    area = load_settings().wilayah
    total = (args.end - args.start).days + 1

    tty = sys.stderr.isatty()

    def progress(done: int, _total: int) -> None:
        if tty:
            print(f"\r  generated {done}/{total} day(s)", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 30 == 0:
            print(f"  generated {done}/{total} day(s)", file=sys.stderr, flush=True)

    s = generate(args.out, args.start, args.end, seed=args.seed, rows_per_day=args.rows_per_day,
                 dirt=not args.clean, progress=progress, wilayah=area)
    print(f"Wrote {s.files_written:,} file(s), {s.rows_written:,} row(s) ({s.dirty_rows:,} dirty, "
          f"{s.rejected_files} file(s) meant to be rejected) to {s.out_dir}; snapshot {s.snapshot_date}.")
    return 0


def cmd_demo(args) -> int:
    pipeline = _loading_pipeline(args)
    from flows.outputs.summary import regency_text
    from flows.synth import demo
    from flows.warehouse.database import connect_reader

    settings = _settings(must_exist=False)
    with demo.demo_key():
        demo.prepare(settings)
        _use_reporter()
        summary = _run_flow(pipeline.backfill, start=demo.START.isoformat(), end=demo.END.isoformat())
    print_summary(summary, settings)
    print()
    con = connect_reader(settings.published_path)
    try:
        print(regency_text(con, demo.END))
    finally:
        con.close()
    print("\n" + "\n".join(demo.portal_lines(settings)))
    return 0


def cmd_query(args) -> int:
    from flows.outputs.query import run_query

    run_query(_settings(), args.sql, sys.stdout, args.format, err=sys.stderr)
    return 0


def cmd_rejects(args) -> int:
    from flows.escape import terminal
    from flows.outputs.rejects import rejected_files
    from flows.settings import resolve_key

    settings = _settings()
    found = rejected_files(settings, resolve_key(settings))
    if not found:
        print("No rejected file in the current versions.")
    for r in found:
        where = terminal(r.local_path) if r.local_path else "(no longer in the landing zone)"
        print(f"{terminal(r.source_file)}\t{terminal(r.error)}\t{where}")
    return 0


def cmd_keygen(args) -> int:
    from flows.settings import default_key_file, new_key, write_key_file

    if args.print:
        print(new_key())
        return 0
    settings = _settings(must_exist=False)
    target = (args.out or settings.key_file or default_key_file()).expanduser().resolve()
    write_key_file(target, settings)
    print(f"Created {target} (mode 600). Set EKTP_NIK_KEY_FILE={target} for every ektp command and the Prefect "
          "workers. Keep a copy in the office's safe: without it, pseudonyms cannot be matched to later recordings.")
    return 0


def cmd_portal(args) -> int:
    from flows.portal import admin

    if args.portal_command == "user":
        return admin.user_command(_settings(must_exist=False), args)
    return admin.serve(_settings(), args.host, args.port, args.trusted_proxy)


def cmd_serve(args) -> int:
    from flows.orchestration.deploy import serve

    serve(_settings(), schedule=not args.no_schedule, insecure_api=args.insecure_api)
    return 0


def cmd_backups(args) -> int:
    from flows.outputs.publish import list_backups

    settings = _settings()
    found = list_backups(settings)
    if not found:
        print(f"No backups in {settings.backup_dir} yet (one is kept per successful run).")
    for p in found:
        print(f"{p.name}  {p.stat().st_size / 2**20:8.1f} MiB")
    return 0


def cmd_restore(args) -> int:
    from flows.outputs.publish import list_backups, restore_backup

    settings = _settings()
    found = list_backups(settings)
    if args.backup == "latest":
        if not found:
            raise UserError(f"No backups in {settings.backup_dir}.")
        chosen = found[0]
    else:
        chosen = settings.backup_dir / Path(args.backup).name
        if chosen not in found:
            raise UserError(f"No backup named {args.backup} in {settings.backup_dir} (see `ektp backups`).")
    restore_backup(settings, chosen)
    print(f"Restored {chosen.name}: it is now {settings.warehouse_path}, and {settings.published_path} is republished "
          "from it. The next run reloads every file changed since that backup.")
    return 0


COMMANDS = {"run": cmd_run, "backfill": cmd_backfill, "generate": cmd_generate, "demo": cmd_demo,
            "query": cmd_query, "rejects": cmd_rejects, "keygen": cmd_keygen, "serve": cmd_serve,
            "backups": cmd_backups, "restore": cmd_restore, "portal": cmd_portal}


def entry() -> None:
    """The `ektp` console script: main(), then a quick exit.

    After a run that validated data the interpreter's own teardown (freeing the modules of Great
    Expectations, pandas, scipy, ...) takes ~2 s here, longer than many nightly runs' work. By
    the time main() returns every file and connection is closed; Prefect's queued logs and events
    are sent (``_send_prefect_backlog``), then the exit handlers run as at any exit (one of them
    stops a temporary API server), the streams are flushed, and the process ends without the
    teardown. An exception escaping main() (a bug) takes the normal path, traceback included."""
    code = main()
    code = code if isinstance(code, int) else 0
    import atexit

    try:
        _send_prefect_backlog()
        atexit._run_exitfuncs()   # includes logging.shutdown, registered by the logging module
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    finally:
        os._exit(code)


def _send_prefect_backlog(timeout: float = 10.0) -> None:
    """Send the log lines and events Prefect still queues for its API, and wait for them, before the
    exit handlers run. Without a configured server a command starts a temporary API server, which
    one exit handler stops; the handler that sends the queued logs ran after it, so such a run
    ended with "--- Error logging to API --- All connection attempts failed" on stderr and none of
    its log lines reached the API's database (0 of a night's 16). Nothing is imported for a command
    that did not use Prefect; a Prefect without these workers is left as it is."""
    for module, name in (("prefect.logging.handlers", "APILogWorker"), ("prefect.events.worker", "EventsWorker")):
        worker = getattr(sys.modules.get(module), name, None)
        if worker is None:
            continue
        try:
            worker.drain_all(timeout=timeout)
        except Exception:   # noqa: BLE001 - the exit handlers still send what is left, as before
            pass


if __name__ == "__main__":
    entry()
