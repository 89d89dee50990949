"""The companion process of a loading command: a second Python process for the second core (issue 19).

`ektp run`, `ektp backfill` and `ektp demo` start it first thing (``start()``). It imports Great Expectations
and builds its suites (~1.1 s of CPU, more than the rest of a regency night's loading run) while
the command imports Prefect, creates its flow run and reads the landing zone; while no job
waits it warms up (one made-up row through each suite, the report's templates). The command hands it jobs and waits for the answer, or does other work meanwhile:

- ``validate``: ``flows.ingest.validate.run_suite_here`` on a small frame (``validate.run_suite``
  decides which frames: crossing the process costs ~0.8 s per million rows);
- ``report_page`` / ``report_end``: a kab/kota page of the report, rendered from the analysts'
  copy while the command renders the others (``flows.outputs.report.write_report``).

A job runs the very function the command would run itself, so the outcome is the same. The jobs
are a fixed list of names (``JOBS``); the child runs nothing else. Requests and answers travel
through anonymous pipes inherited by the child (no named socket, no file). A large Polars frame in
a request (more than ``SHARED_MIN_ROWS`` rows: a batch of logs) does not: it is written once as an
Arrow IPC file into anonymous memory (a memfd, never on disk), whose descriptor crosses on an
anonymous socket pair inherited by the child, which maps it and reads the frame without a copy
(issue 19: 0.1 s of the command's CPU for a 707,000-row batch, where pickling it through the pipe
cost ~1 s in the two processes). The child gets the command's
environment without the pipeline's settings (the pseudonym key included) and Prefect's, and
writes nothing but the report pages it is asked for: its standard output and error go nowhere (a
GX message could quote a value from a raw file).

Failure: an exception a job raises comes back as its type's name and, for the types in
``TEXT_OF``, its text; the caller decides (a ``ValidationError`` is raised again in the command).
If the child is gone (it could not start, it died) ``call`` answers ``None`` and the command does
the job itself for the rest of the run. The child is started with ``python -P``: the working directory is not put first on its path,
so a ``flows`` folder where the command runs cannot replace the pipeline's code. The child ends
when the command does: it reads end-of-file
on its request pipe when the command exits, however it exits, and leaves without the interpreter's
teardown.

This module imports no stage of the pipeline: the child imports a job's module by name.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

# job -> "module:function" (run in the child, arguments as sent)
JOBS = {
    "validate": "flows.ingest.validate:run_suite_here",
    "report_page": "flows.outputs.report:write_kabupaten_page_from",
    "report_end": "flows.outputs.report:end_pages_from",
}
# what the child does before its first job: GX's import, its context and suites
WARM = ("flows.ingest.validate:build_here",)
# then, one step at a time while no job waits (a job never waits for more than one step): one
# made-up row through each suite (a suite's first GX call costs twice a later one), in the order a
# run needs them, and the report's templates compiled
IDLE = (("flows.ingest.validate:warm", ("penduduk",)), ("flows.ingest.validate:warm", ("rekam",)),
        ("flows.outputs.report:warm", ()), ("flows.ingest.validate:warm", ("permohonan",)))
# a frame of more rows crosses as an Arrow file in shared memory (``_Shared``), not through the pipe
SHARED_MIN_ROWS = 50_000
# exceptions whose text comes back with their name (texts written by this project, naming rules and
# columns, never a value); any other comes back by name only
TEXT_OF = frozenset({"ValidationError"})
# the environment the child does not get (least privilege: no pseudonym key, no Prefect credentials;
# it needs neither the pipeline's settings nor Prefect)
WITHHELD = ("EKTP_", "PREFECT_")


@dataclass(frozen=True)
class _Shared:
    """A frame's place in a request: its rows are the Arrow IPC file of the next descriptor on the
    socket pair."""


def _shareable(value) -> bool:
    pl = sys.modules.get("polars")
    return (pl is not None and isinstance(value, pl.DataFrame) and value.height > SHARED_MIN_ROWS
            and hasattr(os, "memfd_create") and hasattr(socket, "send_fds"))


def _to_memory(frame) -> int:
    """A descriptor of anonymous memory holding ``frame`` as an Arrow IPC file (uncompressed, in
    Polars' newest layout, which the child reads without converting a column)."""
    import polars as pl

    fd = os.memfd_create("ektp-frame")      # close-on-exec; gone when both sides have closed it
    try:
        with open(fd, "wb", closefd=False) as f:
            frame.write_ipc(f, compression="uncompressed", compat_level=pl.CompatLevel.newest())
    except BaseException:
        os.close(fd)
        raise
    return fd


def _in_memory(frame) -> int | None:
    """``_to_memory``, or None when this system gives no anonymous memory file (the frame then
    goes through the pipe: slower, same outcome; the companion is not given up for it)."""
    try:
        return _to_memory(frame)
    except OSError as exc:
        log.warning("a frame could not be put in shared memory (%s); it goes through the pipe", type(exc).__name__)
        return None


def _from_memory(fd: int):
    """The frame of ``_to_memory``'s descriptor, mapped read-only (its columns point into the
    mapping, which lives as long as they do); the descriptor is closed."""
    import mmap

    import polars as pl
    import pyarrow as pa
    import pyarrow.ipc

    try:
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    return pl.from_arrow(pa.ipc.open_file(pa.py_buffer(mapped)).read_all())


@dataclass(frozen=True)
class Answer:
    value: object = None
    raised: str | None = None     # the type name of the exception the job raised
    text: str | None = None       # its text, for the types of TEXT_OF


class _Child:
    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        self.frames, frames_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)   # descriptors of shared frames
        env = {k: v for k, v in os.environ.items() if not k.startswith(WITHHELD)}
        env.setdefault("GX_ANALYTICS_ENABLED", "false")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "flows.companion", str(req_r), str(resp_w), str(frames_child.fileno())],
                pass_fds=(req_r, resp_w, frames_child.fileno()), env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
            )
        except BaseException:
            self.frames.close()
            raise
        finally:
            os.close(req_r)
            os.close(resp_w)
            frames_child.close()
        self.requests = Connection(req_w, readable=False)
        self.replies = Connection(resp_r, writable=False)
        self.lock = threading.Lock()
        self.served: dict[str, int] = {}

    def call(self, job: str, args: tuple) -> Answer | None:
        with self.lock:
            shared: list[int] = []
            try:
                sent = []
                for a in args:
                    fd = _in_memory(a) if _shareable(a) else None
                    if fd is not None:
                        shared.append(fd)
                    sent.append(a if fd is None else _Shared())
                self.requests.send((job, tuple(sent)))
                for fd in shared:
                    socket.send_fds(self.frames, [b"f"], [fd])
                status, value, text = self.replies.recv()
            except (OSError, EOFError, ValueError) as exc:
                log.warning("the companion process is gone (%s); this process does its work", type(exc).__name__)
                return None
            finally:
                for fd in shared:
                    os.close(fd)
        if status == "ok":
            self.served[job] = self.served.get(job, 0) + 1
            return Answer(value=value)
        return Answer(raised=status, text=text)

    def close(self) -> None:
        for c in (self.requests, self.replies, self.frames):
            try:
                c.close()
            except OSError:
                pass
        if not self.served:
            # it never answered a job (a command that stopped on a bad argument or setting, or had
            # nothing for it): it may still be importing and would see the end of its pipe only
            # after that, so it is ended now instead of waited for
            self.proc.terminate()
        try:
            self.proc.wait(timeout=5)   # it ends on end-of-file
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_LOCK = threading.Lock()
_child: _Child | None = None


def start() -> None:
    """Start this process's companion (once; later calls keep the running one)."""
    global _child
    with _LOCK:
        if _child is None:
            try:
                _child = _Child()
            except OSError as exc:
                log.warning("could not start the companion process (%s); this process does its work",
                            type(exc).__name__)
                return
            atexit.register(stop)


def stop() -> None:
    """End the companion, if any (also at exit)."""
    global _child
    with _LOCK:
        child, _child = _child, None
    if child is not None:
        child.close()


def call(job: str, *args) -> Answer | None:
    """Run ``job`` (a name of ``JOBS``) in the companion and wait for its answer; None when there is
    no companion (or it is gone: then it is stopped, and the caller does the job itself)."""
    if job not in JOBS:
        raise ValueError(f"no such companion job: {job}")
    child = _child
    if child is None:
        return None
    got = child.call(job, args)
    if got is None:
        stop()
    return got


def running() -> bool:
    return _child is not None and _child.proc.poll() is None


def served(job: str) -> int:
    """How many ``job`` calls the current companion has answered (0 without one)."""
    child = _child
    return child.served.get(job, 0) if child is not None else 0


def pid() -> int | None:
    child = _child
    return child.proc.pid if child is not None else None


def _function(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _trim() -> None:
    """Give the memory of a large job's freed objects back to the system (glibc keeps it otherwise:
    the companion of a million-row night stayed at ~900 MB beside the command's own peak)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _received(args: tuple, frames: socket.socket) -> tuple:
    """A request's arguments with each shared frame read from its descriptor."""
    # the child runs as __main__: the marker it unpickles is the class of the module by its name
    shared = importlib.import_module("flows.companion")._Shared
    if not any(isinstance(a, shared) for a in args):
        return args
    out = []
    for a in args:
        if isinstance(a, shared):
            _, fds, _, _ = socket.recv_fds(frames, 1, 1)
            if len(fds) != 1:
                raise EOFError("a shared frame's descriptor did not arrive")
            a = _from_memory(fds[0])
        out.append(a)
    return tuple(out)


def _serve(requests: Connection, replies: Connection, frames: socket.socket) -> None:
    # Ctrl-C at the terminal reaches the whole process group: the command handles it (and its exit
    # ends this process through end-of-file); here it would only cut a job short
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for path in WARM:
        _function(path)()
    jobs = {job: _function(path) for job, path in JOBS.items()}
    idle = list(IDLE)
    while True:
        if idle and not requests.poll(0.01):
            path, args = idle.pop(0)
            try:
                _function(path)(*args)
            except Exception:   # noqa: BLE001 - a warm-up only: the job itself will say what fails
                pass
            continue
        try:
            job, args = requests.recv()
        except EOFError:
            # the command is done: end now, without the interpreter's teardown of GX's modules
            # (~1 s; nothing is left to write)
            os._exit(0)
        try:
            received = _received(args, frames)
        except (OSError, EOFError):
            os._exit(0)   # the command is gone mid-request
        try:
            replies.send(("ok", jobs[job](*received), None))
        except Exception as exc:   # noqa: BLE001 - reported by type (and text only for TEXT_OF)
            name = type(exc).__name__
            replies.send((name, None, str(exc) if name in TEXT_OF else None))
        shared = received is not args
        del args, received
        if shared:
            # a shared frame's memory is unmapped once nothing refers to it (Great Expectations'
            # objects of the call hold it in reference cycles), then given back to the system
            gc.collect()
            _trim()


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False),
           socket.socket(fileno=int(sys.argv[3])))
