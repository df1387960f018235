"""A local server process owned by the suite: started on 127.0.0.1, waited for, always stopped.

Used for moto's server and LocalStack.  The process gets its own session (a
Ctrl-C in the terminal reaches the suite, which then stops it) and is
stopped with SIGTERM, then SIGKILL after a grace period (LocalStack's
shutdown hangs now and then).  Every live process is also stopped at
interpreter exit, so an interrupted or failing
run leaves nothing behind (a Ctrl-C ends pytest, whose session end stops the targets).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from conformance.targets.base import TargetUnavailable

_LIVE: set[ServerProcess] = set()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it when the suite's process dies, however it dies (SIGKILL,
    or an interrupt landing before the suite could record the child): no server outlives its run."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop_all() -> None:
    for p in list(_LIVE):
        p.stop()


atexit.register(_stop_all)


class ServerProcess:
    """One server: ``argv`` run with ``env``, ready when ``health_path`` answers 200."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        port: int,
        health_path: str,
        start_timeout: float = 60.0,
        grace: float = 5.0,
        workdir: Path | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.port = port
        self.health_path = health_path
        self.start_timeout = start_timeout
        self.grace = grace
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix=f"iamconf-{self.name}-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        _LIVE.add(self)
        try:
            self._wait_ready()
        except BaseException:  # not ready, exited, or interrupted (Ctrl-C) while waiting: nothing stays behind
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                tail = self.log_tail()
                self.stop()
                raise TargetUnavailable(f"{self.name} exited at start (code {code}): {tail}")
            if self.healthy():
                return
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise TargetUnavailable(f"{self.name} not ready on {self.url} after {self.start_timeout:.0f} s: {tail}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.health_path, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, size: int = 600) -> str:
        if self._log is None:
            return ""
        try:
            data = Path(self._log.name).read_bytes()
        except OSError:
            return ""
        return data[-size:].decode("utf-8", "replace").strip().replace("\n", " | ")

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after the grace period; safe to call twice."""
        process, self.process = self.process, None
        _LIVE.discard(self)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(self.grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process is not None:
            # children that outlived their parent (the group id is the leader's pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def emulator_client_config() -> Any:
    """botocore's client settings for an emulator on loopback: a call answers in milliseconds, so one
    that hangs (an emulator stuck on a request) becomes a target failure within seconds, and Ctrl-C is
    not held up by a read that botocore would wait on for a minute (its default), then retry."""
    from botocore.config import Config

    return Config(connect_timeout=5, read_timeout=15, retries={"mode": "standard", "max_attempts": 2})


INTERRUPT_GRACE_SECONDS = 10.0


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C ends the run, whatever it is doing: the first SIGINT raises KeyboardInterrupt as usual (the
    run winds down, events already flushed), and arms a watchdog that, if the process is still running
    after INTERRUPT_GRACE_SECONDS (a library on the way swallowed the interrupt, say), stops every server
    the suite started and exits with 130.  A second SIGINT exits at once the same way.  A run started
    with Ctrl-C ignored (nohup, a background job) is left so."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    armed: list[threading.Timer] = []

    def on_sigint(signum: int, frame: object) -> None:
        if armed:
            _hard_exit()
        timer = threading.Timer(INTERRUPT_GRACE_SECONDS, _hard_exit)
        timer.daemon = True
        timer.start()
        armed.append(timer)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        for timer in armed:
            timer.cancel()


def _hard_exit() -> None:
    with contextlib.suppress(Exception):
        _stop_all()
    os._exit(130)
