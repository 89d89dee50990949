"""The `ektp` command (contract section 8).

Exit status: 0 when the run completed (quarantined rows and rejected files included); 1 when the
pipeline failed; 2 for bad arguments. Expected failures print one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

for _k, _v in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
               ("GX_ANALYTICS_ENABLED", "false"), ("PREFECT_SERVER_LOGGING_LEVEL", "WARNING"),
               ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")):
    os.environ.setdefault(_k, _v)

from flows.errors import UserError  # noqa: E402

DEMO_START, DEMO_END, DEMO_SNAPSHOT = date(2025, 1, 1), date(2025, 2, 28), (270_764, 213_572)
DEMO_MARKER = ".ektp-demo"


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
    common.add_argument("-v", "--verbose", action="store_true", help="show Prefect's log lines")
    p = _Parser(prog="ektp", description="e-KTP recording monitor for Kabupaten OKU Selatan.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", parents=[common], help="load new/changed files dated on or before --date; rebuild the marts")
    r.add_argument("--date", type=_date, help="last log date to cover (default: yesterday in Asia/Jakarta)")
    r.add_argument("--wait", type=float, default=None, help="seconds to wait for another run to finish (default 600)")
    r.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS",
                   help="parse and validate on Dask: a local 2-worker cluster, or a scheduler address")

    b = sub.add_parser("backfill", parents=[common], help="the same for the log dates --start..--end")
    b.add_argument("--start", type=_date, required=True)
    b.add_argument("--end", type=_date, required=True)
    b.add_argument("--kecamatan", nargs="+", metavar="KODE", help="only these kecamatan (e.g. 16.09.01)")
    b.add_argument("--force", action="store_true", help="reload files even if unchanged")
    b.add_argument("--wait", type=float, default=None)
    b.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS",
                   help="parse and validate on Dask: a local 2-worker cluster, or a scheduler address")

    g = sub.add_parser("generate", parents=[common], help="write a synthetic landing zone")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--start", type=_date, required=True)
    g.add_argument("--end", type=_date, required=True)
    g.add_argument("--seed", type=int, default=2025)
    g.add_argument("--rows-per-day", type=_positive, default=None)
    g.add_argument("--clean", action="store_true", help="no dirt: only valid rows and canonical files")

    sub.add_parser("demo", parents=[common], help="generate the demo landing zone, run the pipeline, print the summary")

    q = sub.add_parser("query", parents=[common], help="run read-only SQL against the published warehouse")
    q.add_argument("sql")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")

    sv = sub.add_parser("serve", parents=[common], help="serve the nightly and backfill deployments to the Prefect API ($PREFECT_API_URL)")
    sv.add_argument("--no-schedule", action="store_true", help="serve nightly without its cron schedule")

    bk = sub.add_parser("backups", parents=[common], help="list the kept generations of the published warehouse")
    rs = sub.add_parser("restore", parents=[common], help="make a kept generation the warehouse again")
    rs.add_argument("backup", help="a file name from `ektp backups` (or 'latest')")

    k = sub.add_parser("keygen", parents=[common], help="create the pseudonym key file in the data directory (mode 600)")
    k.add_argument("--print", action="store_true", help="print a new random key instead (for EKTP_NIK_KEY)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        # Prefect's console handler only (run logs still reach the Prefect API and UI): the
        # command prints its own progress, summary and one-line errors.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"ektp: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        reason = storage_error(exc)
        if reason is None:
            raise
        print(f"ektp: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ektp: interrupted; the warehouse is as before the batch in progress.", file=sys.stderr)
        return 130


def storage_error(exc: BaseException) -> str | None:
    """One line for a full disk or a read-only warehouse (anywhere in the exception chain), else None.

    Every batch is one transaction and publishing is a rename, so after either failure the
    warehouse and the analysts' copy are as before the failed step; the next run redoes it."""
    import errno

    seen = 0
    while exc is not None and seen < 20:
        text = str(exc)
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        code = getattr(exc, "errno", None)
        if code == errno.ENOSPC or "No space left on device" in text:
            return ("the disk is full (No space left on device); nothing was lost: free some space "
                    "and run again (the warehouse is as before the failed step).")
        if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "Read-only file system" in text:
            return (f"the warehouse cannot be written ({first}); nothing was lost: make the data "
                    "directory writable and run again.")
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _settings(args, must_exist: bool = True, need_key: bool = False):
    from flows.settings import load_settings, resolve_key

    settings = load_settings(args.data_dir)
    if must_exist and not settings.data_dir.is_dir():
        raise UserError(f"The data directory {settings.data_dir} does not exist (set --data-dir or EKTP_DATA_DIR).")
    if need_key:
        resolve_key(settings)  # fail before starting Prefect
    return settings


def _use_reporter() -> None:
    from flows.progress import LineReporter, RichReporter, set_reporter

    set_reporter(RichReporter() if sys.stderr.isatty() else LineReporter())


def _run_flow(fn, **params) -> dict:
    """Run a flow in this process; turn expected failures into UserError."""
    from flows.errors import PipelineCheckFailed

    try:
        return fn(**params)
    except (UserError, PipelineCheckFailed):
        raise
    except Exception as exc:
        cause = exc
        while cause.__cause__ is not None or cause.__context__ is not None:
            nxt = cause.__cause__ or cause.__context__
            if isinstance(nxt, UserError):
                raise nxt from None
            cause = nxt
        raise


def print_summary(s: dict, settings) -> None:
    out = sys.stdout
    print(f"Run {s['run_id']}: log dates up to {s['last_date']}", file=out)
    print(f"  files: {s['files_loaded']:,} loaded, {s['files_rejected']:,} rejected, "
          f"{s['files_replaced']:,} replaced an earlier version, {s['files_unchanged']:,} unchanged", file=out)
    print(f"  rows:  {s['rows_loaded']:,} loaded, {s['rows_quarantined']:,} quarantined", file=out)
    if s["quarantine_by_reason"]:
        print("  quarantined by reason: " + ", ".join(f"{k} {v:,}" for k, v in s["quarantine_by_reason"].items()), file=out)
    for r in s["rejected_files"][:20]:
        print(f"  rejected {r['source_file']}: {r['error']}", file=out)
    if len(s["rejected_files"]) > 20:
        print(f"  ... and {len(s['rejected_files']) - 20} more rejected file(s) (see audit.file_loads)", file=out)
    b = s.get("backlog")
    if b:
        ch = s.get("backlog_change")
        change = f"; {'+' if ch > 0 else ''}{ch:,} since the previous run" if ch is not None else ""
        print(f"  backlog as of {b['as_of_date']}: wajib KTP {b['wajib_ktp']:,}, sudah rekam {b['sudah_rekam']:,}, "
              f"belum rekam {b['belum_rekam']:,} ({b['pct_rekam']:.2f} %){change}", file=out)
    if s["data_problems"]:
        print("  data problems: " + ", ".join(f"{k} ({v})" for k, v in s["data_problems"].items()), file=out)
    print(f"  analysts read {settings.published_path}; report {settings.report_path}", file=out)


def _flow(fn, dask: str | None):
    if not dask:
        return fn
    from flows.parallel import dask_task_runner

    return fn.with_options(task_runner=dask_task_runner(None if dask == "local" else dask))


def cmd_run(args) -> int:
    from flows import pipeline
    from flows.settings import yesterday_jakarta

    settings = _settings(args, need_key=True)
    _use_reporter()
    if args.wait is not None:
        pipeline.LOCK_WAIT_SECONDS = args.wait
    summary = _run_flow(_flow(pipeline.nightly, args.dask), run_date=args.date or yesterday_jakarta(), data_dir=str(settings.data_dir))
    print_summary(summary, settings)
    return 0


def cmd_backfill(args) -> int:
    from flows import pipeline
    from flows.wilayah import kecamatan_codes

    if args.end < args.start:
        raise UserError(f"--end {args.end} is before --start {args.start}.")
    unknown = sorted(set(args.kecamatan or []) - kecamatan_codes())
    if unknown:
        raise UserError(f"Unknown kecamatan code(s): {', '.join(unknown)} (expected 16.09.01 to 16.09.19).")
    settings = _settings(args, need_key=True)
    _use_reporter()
    if args.wait is not None:
        pipeline.LOCK_WAIT_SECONDS = args.wait
    summary = _run_flow(_flow(pipeline.backfill, args.dask), start=args.start, end=args.end, kecamatan=args.kecamatan,
                        force=args.force, data_dir=str(settings.data_dir))
    print_summary(summary, settings)
    return 0


def cmd_generate(args) -> int:
    from flows.generate import generate

    if args.end < args.start:
        raise UserError(f"--end {args.end} is before --start {args.start}.")
    total = (args.end - args.start).days + 1

    tty = sys.stderr.isatty()

    def progress(done: int, _total: int) -> None:
        if tty:
            print(f"\r  generated {done}/{total} day(s)", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 30 == 0:
            print(f"  generated {done}/{total} day(s)", file=sys.stderr, flush=True)

    s = generate(args.out, args.start, args.end, seed=args.seed, rows_per_day=args.rows_per_day,
                 dirt=not args.clean, progress=progress)
    print(f"Wrote {s.files_written:,} file(s), {s.rows_written:,} row(s) ({s.dirty_rows:,} dirty, "
          f"{s.rejected_files} file(s) meant to be rejected) to {s.out_dir}; snapshot {s.snapshot_date}.")
    return 0


def cmd_demo(args) -> int:
    from flows import pipeline
    from flows.generate import generate
    from flows.settings import resolve_key

    settings = _settings(args, must_exist=False)
    raw = settings.raw_dir
    marker = raw / DEMO_MARKER
    if raw.exists() and any(p.name not in (".gitkeep", DEMO_MARKER) for p in raw.iterdir()) and not marker.exists():
        raise UserError(f"{raw} already holds a landing zone that is not the demo's; use --data-dir for the demo.")
    raw.mkdir(parents=True, exist_ok=True)
    marker.write_text("generated by `ektp demo`\n", encoding="utf-8")
    print(f"Generating the demo landing zone in {raw} (snapshot 2024-12-31, logs {DEMO_START} to {DEMO_END})", file=sys.stderr)
    generate(raw, DEMO_START, DEMO_END, seed=2025, calibrate_to=DEMO_SNAPSHOT)
    resolve_key(settings, create=True)
    _use_reporter()
    summary = _run_flow(pipeline.backfill, start=DEMO_START, end=DEMO_END, data_dir=str(settings.data_dir))
    print_summary(summary, settings)
    print()
    print(demo_summary(settings.published_path, DEMO_END))
    return 0


def demo_summary(published: Path, as_of: date) -> str:
    """The regency summary of the demo, read from the published warehouse."""
    from flows.warehouse import connect_reader

    con = connect_reader(published)
    try:
        w, s, b = con.execute("""select sum(wajib_ktp), sum(sudah_rekam), sum(belum_rekam)
                                 from mart.backlog_kecamatan where as_of_date = ?""", [as_of]).fetchone()
        top = con.execute("""select nama_kecamatan, belum_rekam, pct_rekam from mart.backlog_kecamatan
                             where as_of_date = ? order by belum_rekam desc limit 1""", [as_of]).fetchone()
        channels = con.execute("""select sum(rekam_dinas), sum(rekam_kecamatan), sum(rekam_jemput_bola),
                                         sum(rekam_sekolah), sum(rekam_lainnya), sum(rekam_baru)
                                  from mart.participation_trend where tanggal <= ?""", [as_of]).fetchone()
        missing = con.execute("""select nama_kecamatan, count(*) as days from mart.log_completeness
                                 where status = 'missing' and tanggal <= ? group by all order by days desc, 1""",
                              [as_of]).fetchall()
    finally:
        con.close()
    pct = 100.0 * s / w if w else 0.0
    lines = [f"Kabupaten OKU Selatan, as of {as_of}:",
             f"  wajib KTP   {w:>9,}", f"  sudah rekam {s:>9,}", f"  belum rekam {b:>9,} ({pct:.2f} %)"]
    if top:
        lines.append(f"Largest backlog: Kecamatan {top[0]}, {top[1]:,} belum rekam ({top[2]:.2f} % recorded)")
    total = channels[5] or 0
    if total:
        names = ("DINAS", "KECAMATAN", "JEMPUT_BOLA", "SEKOLAH", "LAINNYA")
        lines.append("New recordings by channel: " + ", ".join(
            f"{n} {100.0 * (v or 0) / total:.1f} %" for n, v in zip(names, channels[:5])) + f" (of {total:,})")
    if missing:
        lines.append("Kecamatan with missing logs (days): " + ", ".join(f"{n} {d}" for n, d in missing))
    else:
        lines.append("No kecamatan missed a log.")
    return "\n".join(lines)


def cmd_query(args) -> int:
    import duckdb

    from flows.warehouse import connect_reader

    settings = _settings(args)
    con = connect_reader(settings.published_path)
    try:
        try:
            cur = con.execute(args.sql)
        except duckdb.Error as exc:
            raise UserError(f"query failed: {str(exc).splitlines()[0]}") from None
        if cur.description is None:
            return 0
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    if args.format == "json":
        print(json.dumps([dict(zip(cols, r)) for r in rows], default=str, ensure_ascii=False, indent=1))
    elif args.format == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(cols)
        w.writerows(rows)
    else:
        print(format_table(cols, rows))
    return 0


def format_table(cols: list[str], rows: list[tuple]) -> str:
    def cell(v) -> str:
        if v is None:
            return ""
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:,.2f}"
        return str(v)

    body = [[cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(cols)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) and rows for i in range(len(cols))]
    fmt = lambda vals: "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))).rstrip()  # noqa: E731
    lines = [fmt(cols), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]
    lines.append(f"({len(rows):,} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def cmd_keygen(args) -> int:
    from flows.settings import new_key, write_key_file

    if args.print:
        print(new_key())
        return 0
    settings = _settings(args, must_exist=False)
    if settings.key_file.exists():
        raise UserError(f"A key file already exists at {settings.key_file}; it is never overwritten (pseudonyms would change).")
    write_key_file(settings.key_file)
    print(f"Created {settings.key_file} (mode 600). Back it up: without it, pseudonyms cannot be matched to later recordings.")
    return 0


def cmd_serve(args) -> int:
    from flows.deploy import serve

    serve(data_dir=args.data_dir, schedule=not args.no_schedule)
    return 0


def cmd_backups(args) -> int:
    from flows.publish import list_backups

    settings = _settings(args)
    found = list_backups(settings)
    if not found:
        print(f"No backups in {settings.backup_dir} yet (one is kept per successful run).")
    for p in found:
        print(f"{p.name}  {p.stat().st_size / 2**20:8.1f} MiB")
    return 0


def cmd_restore(args) -> int:
    from flows.publish import list_backups, restore
    from flows.warehouse import writer_lock

    settings = _settings(args)
    found = list_backups(settings)
    if args.backup == "latest":
        if not found:
            raise UserError(f"No backups in {settings.backup_dir}.")
        chosen = found[0]
    else:
        chosen = settings.backup_dir / Path(args.backup).name
        if chosen not in found:
            raise UserError(f"No backup named {args.backup} in {settings.backup_dir} (see `ektp backups`).")
    with writer_lock(settings, 0):
        restore(settings, chosen)
    print(f"Restored {chosen.name}: it is now {settings.warehouse_path} and {settings.published_path}. "
          "The next run reloads every file changed since that backup.")
    return 0


COMMANDS = {"run": cmd_run, "backfill": cmd_backfill, "generate": cmd_generate, "demo": cmd_demo,
            "query": cmd_query, "keygen": cmd_keygen, "serve": cmd_serve, "backups": cmd_backups,
            "restore": cmd_restore}

def entry() -> None:
    """The `ektp` console script: main(), then a quick exit.

    After a run that validated data the interpreter's own teardown (freeing the modules of Great
    Expectations, pandas, scipy, ...) takes ~2 s here, longer than many nightly runs' work. By
    the time main() returns every file and connection is closed, so the exit handlers run as at
    any exit (Prefect sends its remaining logs and events and stops an ephemeral API server),
    the streams are flushed, and the process ends without the teardown. An exception escaping
    main() (a bug) takes the normal path, traceback included."""
    code = main()
    code = code if isinstance(code, int) else 0
    import atexit

    try:
        atexit._run_exitfuncs()   # includes logging.shutdown, registered by the logging module
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    finally:
        os._exit(code)


if __name__ == "__main__":
    entry()
