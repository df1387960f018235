"""reference.workers: forked workers, a queue each, results by ticket, no deadlock, deaths seen."""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from reference.workers import WorkerDied, Workers, can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="workers are forked processes: not on this platform")


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fails the test (instead of hanging it) if the block takes longer than ``seconds``."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s: a deadlock")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


_started_with: list[str] = []


def _remember(tag: str) -> None:
    _started_with.append(tag)


def _who(arg: int) -> tuple[int, int, list[str]]:
    return os.getpid(), arg, list(_started_with)


def _echo_large(data: bytes) -> bytes:
    return data[::-1] * 2


def _fail(arg: str) -> None:
    raise ValueError(f"bad {arg}")


class _Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("no pickling")


def _fail_unpicklable(arg: int) -> None:
    raise _Unpicklable("x")


def _die(arg: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _pipes() -> set[tuple[int, int]]:
    """The pipes this process has open, by (device, inode)."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            st = os.fstat(int(name))
        except OSError:  # the directory's own descriptor, closed by now
            continue
        if stat.S_ISFIFO(st.st_mode):
            found.add((st.st_dev, st.st_ino))
    return found


def _own_pipes(arg: int) -> set[tuple[int, int]]:
    return _pipes()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _all(pool: Workers, count: int) -> dict[int, Any]:
    got: dict[int, Any] = {}
    while len(got) < count:
        got.update(pool.wait())
    return got


def test_each_task_is_answered_by_the_worker_it_was_sent_to_after_the_initializer() -> None:
    with deadline(60), Workers(2, _remember, ("started",)) as pool:
        tickets = {pool.submit(i % 2, _who, i): i for i in range(10)}
        got = _all(pool, 10)
    assert set(got) == set(tickets)
    pids = {}
    for ticket, (pid, arg, started) in got.items():
        assert arg == tickets[ticket]
        assert started == ["started"]  # the initializer ran once, in the worker
        pids.setdefault(arg % 2, set()).add(pid)
    assert all(len(p) == 1 for p in pids.values()), pids  # one worker per index
    assert pids[0] != pids[1] and os.getpid() not in pids[0] | pids[1]


def test_large_tasks_and_results_in_both_directions_do_not_deadlock() -> None:
    """Tasks and results far larger than a pipe, sent without waiting: the worker blocks writing a result
    while the parent writes the next task; the parent, which never blocks on a pipe, reads it meanwhile.
    (With blocking writes in the parent this test hangs: checked, by making ``os.set_blocking`` a no-op.)"""
    data = os.urandom(1 << 16) * 48  # 3 MiB
    with deadline(60), Workers(1, _remember, ("x",)) as pool:
        tickets = [pool.submit(0, _echo_large, data) for _ in range(6)]
        got = _all(pool, len(tickets))
    assert all(got[t] == data[::-1] * 2 for t in tickets)


def test_a_task_that_raises_raises_in_the_parent() -> None:
    with deadline(60), Workers(1, _remember, ("x",)) as pool:
        pool.submit(0, _fail, "input")
        with pytest.raises(ValueError, match="bad input"):
            pool.wait()
        pool.submit(0, _fail_unpicklable, 0)
        with pytest.raises(RuntimeError, match="_Unpicklable: x"):
            pool.wait()
        ticket = pool.submit(0, _who, 7)  # the worker goes on after a task's error
        assert pool.wait()[0][0] == ticket


def test_a_worker_that_dies_is_an_error_naming_how() -> None:
    with deadline(60), Workers(2, _remember, ("x",)) as pool:
        pool.submit(1, _die, 0)
        with pytest.raises(WorkerDied, match="killed by signal 9"):
            pool.wait()


def test_close_stops_idle_workers_and_kills_busy_ones() -> None:
    with deadline(30):
        pool = Workers(3, _remember, ("x",))
        for i in range(3):
            pool.submit(i, _who, i)
        pids = [pid for _, (pid, _, _) in sorted(_all(pool, 3).items())]
        pool.submit(2, _sleep, 120.0)  # busy: killed, not waited for two minutes
        t0 = time.monotonic()
        pool.close()
        assert time.monotonic() - t0 < 10
    for pid in pids:  # every worker gone and reaped
        with pytest.raises((ChildProcessError, ProcessLookupError)):
            os.waitpid(pid, os.WNOHANG)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="lists open descriptors in /proc")
def test_a_worker_holds_no_other_workers_pipes() -> None:
    """A worker forked after another closes its copies of the other's pipes: held open, they would keep a
    pipe's end from being seen (a task pipe closed by the parent, a result pipe of a worker that died)."""
    with deadline(60), Workers(3, _remember, ("x",)) as pool:

        def pipe_of(fd: int) -> tuple[int, int]:
            st = os.fstat(fd)
            return st.st_dev, st.st_ino

        mine = [{pipe_of(w.tasks), pipe_of(w.results)} for w in pool._workers]
        seen = [pool.submit(i, _own_pipes, 0) for i in range(3)]
        got = _all(pool, 3)
    for i, ticket in enumerate(seen):
        assert mine[i] <= got[ticket], "a worker has its own two pipes"
        others = set().union(*(m for j, m in enumerate(mine) if j != i))
        assert not others & got[ticket], f"worker {i} holds another worker's pipe"
