"""Worker processes forked from this one: tasks in, results out, a pipe each way for every worker.

A batch (``reference.batch``) sends each task to the worker it chooses (the one that compiled a case's
policies, the one whose region of a file a piece is in) and takes every worker's results in the order it sent
them their tasks.  ``concurrent.futures.ProcessPoolExecutor`` has one queue for all its processes, so the
batch used to run a pool of one process per worker; importing it (multiprocessing, logging, socket) and
starting and stopping those pools and their threads cost 30 ms of every ``iamconf evaluate`` (measured: 15 ms
of imports and 18 ms to start and stop two pools, on 0.85 s for 10,000 generated cases).  No maintained
library gives a queue per worker process without them, hence this module.

A message is a pickle after its length (8 bytes).  The parent never blocks on a pipe: its ends are
non-blocking and it waits on all of them at once (``select``), so a worker that writes a large result while
the parent writes it a large task cannot deadlock them (``concurrent.futures`` has a thread for that).
A worker that dies is seen as the end of its result pipe: ``WorkerDied``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

_LENGTH = struct.Struct("<Q")
_READ = 1 << 20  # bytes read from a result pipe at a time
_PIPE_BYTES = (
    1 << 20
)  # pipe capacity asked for (Linux; unprivileged maximum by default): a piece's results in one write


class WorkerDied(RuntimeError):
    """A worker process ended before it answered every task sent to it (killed: out of memory, a signal)."""


class _Failure:
    """A task that raised in the worker: its exception, raised again in the parent."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def can_fork() -> bool:
    """Workers are forked (they inherit the imported reference).  macOS has fork, but its system libraries are
    not fork-safe: one process there."""
    return hasattr(os, "fork") and sys.platform != "darwin"


def _read_exact(fd: int, n: int) -> bytes | None:
    """``n`` bytes from a blocking pipe; None at its end before the first byte."""
    parts: list[bytes] = []
    while n > 0:
        part = os.read(fd, n)
        if not part:
            if parts:
                raise EOFError("pipe closed in the middle of a message")
            return None
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _serve(tasks: int, results: int) -> None:
    """A worker's life: each task read, called, its result (or its exception) written back, until the parent
    closes the task pipe."""
    while True:
        head = _read_exact(tasks, _LENGTH.size)
        if head is None:
            return
        body = _read_exact(tasks, _LENGTH.unpack(head)[0])
        if body is None:
            return
        fn, arg = pickle.loads(body)
        try:
            out = pickle.dumps(fn(arg), pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # the task's bug, raised in the parent (a worker does not print it)
            try:
                out = pickle.dumps(_Failure(e), pickle.HIGHEST_PROTOCOL)
            except Exception:  # an exception that cannot be pickled: its text
                out = pickle.dumps(_Failure(RuntimeError(f"{type(e).__name__}: {e}")), pickle.HIGHEST_PROTOCOL)
        _write_all(results, _LENGTH.pack(len(out)) + out)


def _widen(fd: int) -> None:
    if sys.platform == "linux":
        import fcntl

        with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size: the default size works, in more reads
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


class _Worker:
    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid = pid
        self.tasks = tasks  # write end, non-blocking
        self.results = results  # read end, non-blocking
        self.outbox = bytearray()  # task messages not written yet
        self.inbox = bytearray()  # result bytes read, not yet a whole message
        self.waiting: deque[int] = deque()  # tickets of the tasks sent and not answered, in order


class Workers:
    """``count`` forked worker processes, each running ``initializer(*initargs)`` first.  Use as a context
    manager, or call ``close``."""

    def __init__(self, count: int, initializer: Callable[..., None], initargs: tuple[Any, ...] = ()) -> None:
        self._workers: list[_Worker] = []
        self._tickets = 0
        try:
            for _ in range(count):
                self._workers.append(self._fork(initializer, initargs))
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._workers)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fork(self, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> _Worker:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: it never returns into the parent's code
            code = 0
            try:
                # Ctrl-C reaches the whole process group: the parent decides, a worker does not print a traceback.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                os.close(task_w)
                os.close(result_r)
                for other in self._workers:  # its copies of the others' pipes would keep them open
                    os.close(other.tasks)
                    os.close(other.results)
                initializer(*initargs)
                _serve(task_r, result_w)
            except BrokenPipeError:  # the parent went away
                code = 1
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(task_r)
        os.close(result_w)
        _widen(result_r)
        os.set_blocking(task_w, False)
        os.set_blocking(result_r, False)
        return _Worker(pid, task_w, result_r)

    def submit(self, worker: int, fn: Callable[[Any], Any], arg: Any) -> int:
        """Send ``fn(arg)`` to worker number ``worker``; its ticket (``wait`` gives the result with it).  ``fn``
        is pickled by name: a module-level function."""
        ticket = self._tickets
        self._tickets += 1
        body = pickle.dumps((fn, arg), pickle.HIGHEST_PROTOCOL)
        w = self._workers[worker]
        w.outbox += _LENGTH.pack(len(body))
        w.outbox += body
        w.waiting.append(ticket)
        self._send(w)
        return ticket

    def wait(self) -> list[tuple[int, Any]]:
        """The results that came back since the last call, (ticket, result), at least one: waits for it.  A
        task that raised raises its exception here; a worker that ended raises ``WorkerDied``."""
        while True:
            done: list[tuple[int, Any]] = []
            for w in self._workers:
                self._take(w, done)
            if done:
                return done
            readers = [w.results for w in self._workers if w.waiting]
            if not readers:
                raise ValueError("wait() with no task sent")
            writers = [w.tasks for w in self._workers if w.outbox]
            readable, writable, _ = select.select(readers, writers, [])
            for w in self._workers:
                if w.tasks in writable:
                    self._send(w)
                if w.results in readable:
                    self._receive(w)

    def _send(self, w: _Worker) -> None:
        while w.outbox:
            try:
                written = os.write(w.tasks, w.outbox)
            except BlockingIOError:
                return
            except BrokenPipeError:
                raise self._died(w) from None
            del w.outbox[:written]

    def _receive(self, w: _Worker) -> None:
        try:
            data = os.read(w.results, _READ)
        except BlockingIOError:
            return
        if not data:
            raise self._died(w)
        w.inbox += data

    def _take(self, w: _Worker, done: list[tuple[int, Any]]) -> None:
        inbox = w.inbox
        while len(inbox) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(inbox)
            end = _LENGTH.size + length
            if len(inbox) < end:
                return
            result = pickle.loads(inbox[_LENGTH.size : end])
            del inbox[:end]
            ticket = w.waiting.popleft()
            if isinstance(result, _Failure):
                raise result.error
            done.append((ticket, result))

    def _died(self, w: _Worker) -> WorkerDied:
        try:
            _, status = os.waitpid(w.pid, 0)
            how = (
                f"killed by signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exit {os.WEXITSTATUS(status)}"
            )
        except ChildProcessError:
            how = "already reaped"
        w.pid = 0
        return WorkerDied(f"worker process ended ({how}) with {len(w.waiting)} task(s) not answered")

    def close(self) -> None:
        """Every worker told to stop (the end of its task pipe) and waited for; a worker still busy with a
        task (the batch ended early: an error, Ctrl-C, a reader gone) is killed instead."""
        workers, self._workers = self._workers, []
        for w in workers:
            os.close(w.tasks)
            if w.pid and w.waiting:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGKILL)
        for w in workers:
            os.close(w.results)
            if w.pid:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(w.pid, 0)
