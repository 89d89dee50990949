"""Progress of long work, reported to whoever is watching (the CLI sets a terminal reporter)."""

from __future__ import annotations

import sys
import time


class Reporter:
    """Default: silent. Methods are called from the pipeline's main thread."""

    def start(self, total_files: int, total_bytes: int) -> None: ...
    def advance(self, files: int, rows: int) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...


class LineReporter(Reporter):
    """Plain lines on stderr, at most every few seconds (logs, CI, pipes)."""

    def __init__(self, stream=None, every: float = 5.0):
        self._stream, self.every = stream, every
        self.total = self.done = self.rows = 0
        self.t0 = self.last = 0.0

    @property
    def stream(self):
        return self._stream or sys.stderr

    def start(self, total_files: int, total_bytes: int) -> None:
        self.total, self.done, self.rows = total_files, 0, 0
        self.t0 = self.last = time.monotonic()
        if total_files:
            print(f"Loading {total_files:,} file(s), {total_bytes / 2**20:,.1f} MiB", file=self.stream, flush=True)

    def advance(self, files: int, rows: int) -> None:
        self.done += files
        self.rows += rows
        now = time.monotonic()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            pct = 100.0 * self.done / self.total if self.total else 100.0
            print(f"  {self.done:,}/{self.total:,} files ({pct:.0f}%), {self.rows:,} rows, {now - self.t0:.1f}s",
                  file=self.stream, flush=True)

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


class RichReporter(Reporter):
    """A progress bar for an interactive terminal."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("files, {task.fields[rows]:,} rows"), TimeElapsedColumn(),
                                 console=self.console, transient=False)
        self.task = None

    def start(self, total_files: int, total_bytes: int) -> None:
        if not total_files:
            return
        self.progress.start()
        self.task = self.progress.add_task("Loading", total=total_files, rows=0)

    def advance(self, files: int, rows: int) -> None:
        if self.task is not None:
            t = self.progress.tasks[0]
            self.progress.update(self.task, advance=files, rows=t.fields["rows"] + rows)

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


_current: Reporter = Reporter()


def set_reporter(reporter: Reporter) -> None:
    global _current
    _current = reporter


def reporter() -> Reporter:
    return _current
