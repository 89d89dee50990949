"""Great Expectations in a process of its own, started with a loading command (issue 19).

Importing Great Expectations and building its context and suites costs ~1.1 s of CPU, more than
the rest of a regency night's loading run. `ektp run` and `ektp backfill` therefore start this
validation process first thing (``start()``): it imports GX and builds the three suites on the
second core while the command imports Prefect, creates its flow run and reads the landing zone.
``flows.ingest.validate.run_suite`` then sends each batch here and waits for the outcome; while it
waits, the command's other threads (the pseudonyms hashed by DuckDB, the previous batch's insert)
have the GIL to themselves.

What runs here is ``validate.run_suite_here``, the very function a process without a validation
process calls: same suites (``expectations/``), every rule on every row, same result. The frame
travels through an anonymous pipe inherited by the child (no socket, no file, nothing on disk);
the child gets the command's environment without the pipeline's settings (the pseudonym key
included) and Prefect's, and writes nothing: its
standard output and error go nowhere (a GX message could quote a value from a raw file).

Failure: a ``ValidationError`` raised here (GX could not evaluate a rule) is raised again in the
command. Any other failure of this process (it could not start, it died, it raised anything else)
stops using it for the rest of the command, and the batch is validated in the command's own
process, where the same error, if any, surfaces with its own traceback. The process ends when
the command does: it reads end-of-file on its request pipe when the command exits, however it exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

# the environment the child does not get (least privilege: no pseudonym key, no Prefect credentials;
# it needs neither the pipeline's settings nor Prefect)
_WITHHELD = ("EKTP_", "PREFECT_")


class _Child:
    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        env = {k: v for k, v in os.environ.items() if not k.startswith(_WITHHELD)}
        env.setdefault("GX_ANALYTICS_ENABLED", "false")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flows.ingest.gx_process", str(req_r), str(resp_w)],
                pass_fds=(req_r, resp_w), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            os.close(req_r)
            os.close(resp_w)
        self.requests = Connection(req_w, readable=False)
        self.replies = Connection(resp_r, writable=False)
        self.lock = threading.Lock()
        self.served = 0   # frames validated here (tests, figures)

    def run_suite(self, name: str, frame, slice_rows: int, desa: frozenset[str] | None):
        """The outcome of ``run_suite_here`` in the child, or None when the child cannot give it."""
        with self.lock:
            try:
                self.requests.send((name, frame, slice_rows, desa))
                status, payload = self.replies.recv()
            except (OSError, EOFError, ValueError) as exc:
                log.warning("the validation process is gone (%s); validating in this process", type(exc).__name__)
                return None
        if status == "ok":
            self.served += 1
            return payload
        if status == "ValidationError":
            from flows.ingest.validate import ValidationError

            raise ValidationError(payload)
        log.warning("the validation process failed (%s); validating in this process", status)
        return None

    def close(self) -> None:
        for c in (self.requests, self.replies):
            try:
                c.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)   # it ends on end-of-file
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_LOCK = threading.Lock()
_child: _Child | None = None

# Crossing the process boundary costs ~0.8 s per million rows (Arrow serialisation both ways and
# the pipe: measured 0.42 s for a 500,000-row batch of the log suite's columns), more than it
# saves once Great Expectations' import is paid. So the validation process takes the small
# frames of a small run (a night of a regency or a province: 9 to 10,000 rows), and a run whose
# logs are large validates in its own process, GX imported there in a thread while the first
# batch is read and parsed (``expect``).
REMOTE_MAX_ROWS = 50_000
REMOTE_MAX_LOG_BYTES = 5 * 1024 * 1024


def start() -> None:
    """Start this process's validation process (once; later calls keep the running one)."""
    global _child
    with _LOCK:
        if _child is None:
            try:
                _child = _Child()
            except OSError as exc:
                log.warning("could not start the validation process (%s); validating in this process",
                            type(exc).__name__)
                return
            atexit.register(stop)


def stop() -> None:
    """End the validation process, if any (also at exit)."""
    global _child
    with _LOCK:
        child, _child = _child, None
    if child is not None:
        child.close()


def expect(log_bytes: int) -> None:
    """Told how many bytes of logs this run will validate (after discovery): above
    ``REMOTE_MAX_LOG_BYTES`` Great Expectations is imported in this process too, in a background
    thread, while the validation process checks the snapshot and the run reads and parses its first
    batch of logs (Polars and DuckDB release the GIL; the import waits for nothing else)."""
    if log_bytes <= REMOTE_MAX_LOG_BYTES:
        return
    from flows.ingest import validate

    if not validate.built_here():
        threading.Thread(target=validate.build_here, name="ektp-gx-import", daemon=True).start()


def run_suite(name: str, frame, slice_rows: int, desa: frozenset[str] | None):
    """``validate.run_suite_here`` in the validation process; None when there is none, when the
    frame is larger than ``REMOTE_MAX_ROWS`` (or it failed: then it is stopped and this process
    validates from now on)."""
    child = _child
    if child is None or frame.height > REMOTE_MAX_ROWS:
        return None
    got = child.run_suite(name, frame, slice_rows, desa)
    if got is None:
        stop()
    return got


def running() -> bool:
    return _child is not None and _child.proc.poll() is None


def served() -> int:
    """How many frames the current validation process has validated (0 without one)."""
    child = _child
    return child.served if child is not None else 0


def pid() -> int | None:
    child = _child
    return child.proc.pid if child is not None else None


def _serve(requests: Connection, replies: Connection) -> None:
    from flows.ingest import validate

    validate.warm()   # import GX, build the context and every suite before the first batch arrives
    while True:
        try:
            name, frame, slice_rows, desa = requests.recv()
        except EOFError:
            # the command is done: end now, without the interpreter's teardown of GX's modules
            # (~1 s; nothing is left to write)
            os._exit(0)
        try:
            replies.send(("ok", validate.run_suite_here(name, frame, slice_rows, desa)))
        except validate.ValidationError as exc:
            replies.send(("ValidationError", str(exc)))
        except Exception as exc:   # noqa: BLE001 - reported by type only: its text may quote a value
            replies.send((type(exc).__name__, None))
        del frame


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
