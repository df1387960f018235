"""Progress for long commands: a ``rich`` bar when stdout is a terminal, nothing otherwise.

Every command that may run longer than a second wraps its work in
:func:`progress`::

    with progress(len(cases), "evaluating cases") as tracker:
        for case in cases:
            ...
            tracker.advance()
            tracker.emit(line, sys.stdout.buffer)   # output that must not tear the bar

- Quiet unless stdout is a terminal (a pipe, a file, CI logs, pytest's capture:
  no bar, no escape code, output byte for byte as without it).
- The bar appears only once the work has lasted ``delay`` seconds (default 1,
  or ``IAMCONF_PROGRESS_DELAY``), so quick commands never flash one; it is
  transient (erased when done).
- Output written while the bar shows goes through :meth:`ProgressTracker.emit`,
  which prints it above the bar (the terminal) or writes it to the stream
  unchanged (anything else).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

# rich is imported when a bar may show (stdout a terminal): a command whose output goes to a pipe or a
# file, the common case in CI and in the benchmark, does not pay for importing it.

DEFAULT_DELAY = 1.0  # seconds of work before a bar is worth showing


def _default_delay() -> float:
    """``IAMCONF_PROGRESS_DELAY`` (seconds; tests set 0) or one second."""
    raw = os.environ.get("IAMCONF_PROGRESS_DELAY", "")
    try:
        return float(raw) if raw else DEFAULT_DELAY
    except ValueError:
        return DEFAULT_DELAY


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # closed stream
        return False


class ProgressTracker:
    """Counts steps; shows them on a terminal after ``delay`` seconds; a no-op otherwise."""

    def __init__(self, total: int | None, description: str, console: Console | None, delay: float):
        self.enabled = console is not None and console.is_terminal and not console.is_dumb_terminal
        self.console = console
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._timer: threading.Timer | None = None
        self._total = total
        self._description = description
        self._completed = 0
        if self.enabled:
            if delay <= 0:
                self._start()
            else:
                self._timer = threading.Timer(delay, self._start)
                self._timer.daemon = True
                self._timer.start()

    @property
    def showing(self) -> bool:
        """Whether a bar is on the terminal right now."""
        return self._bar is not None

    def _start(self) -> None:
        with self._lock:
            if self._bar is not None or self.console is None or not self.enabled:
                return
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            columns = [SpinnerColumn(), TextColumn("{task.description}")]
            if self._total is not None:
                columns += [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
            columns.append(TimeElapsedColumn())
            bar = Progress(*columns, console=self.console, transient=True, redirect_stdout=False, redirect_stderr=False)
            self._task = bar.add_task(self._description, total=self._total, completed=self._completed)
            bar.start()
            self._bar = bar

    def advance(self, steps: int = 1) -> None:
        with self._lock:
            self._completed += steps
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=self._completed)

    def describe(self, description: str) -> None:
        with self._lock:
            self._description = description
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, description=description)

    def emit(self, data: str | bytes, stream: IO[Any]) -> None:
        """Write ``data`` to ``stream`` (bytes to a text stream go to its ``buffer``); above the bar when one
        shows on the same terminal."""
        with self._lock:
            if self._bar is not None and self.console is not None and _is_tty(stream):
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
                self.console.out(text, highlight=False, end="")
                return
            if isinstance(data, bytes):
                getattr(stream, "buffer", stream).write(data)
            else:
                stream.write(data)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self.enabled = False
            if self._bar is not None:
                self._bar.stop()
                self._bar = None


@contextmanager
def progress(
    total: int | None,
    description: str,
    *,
    console: Console | None = None,
    delay: float | None = None,
) -> Iterator[ProgressTracker]:
    """A progress bar of ``total`` steps (a spinner when None), shown only on a terminal stdout.

    ``console`` is for tests (e.g. ``Console(file=buffer, force_terminal=True)``); by default the bar
    goes to stdout when, and only when, stdout is a terminal.
    """
    if console is None and _is_tty(sys.stdout):
        from rich.console import Console

        console = Console(file=sys.stdout)
    tracker = ProgressTracker(total, description, console, _default_delay() if delay is None else delay)
    try:
        yield tracker
    finally:
        tracker.close()
