"""The suite's server processes: loopback, waited for, stopped with SIGTERM, killed when they hang."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from conformance.targets.base import TargetUnavailable
from conformance.targets.process import ServerProcess, free_port

# A loopback HTTP server; with "ignore" it ignores SIGTERM (as LocalStack's shutdown hangs now and then).
SERVER = """
import http.server, signal, sys
if sys.argv[2] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _server(mode: str, grace: float = 0.5) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-c", SERVER, str(port), mode]
    return ServerProcess("test-server", argv, env=dict(os.environ), port=port, health_path="/", grace=grace)


def _gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_started_on_loopback_and_stopped() -> None:
    server = _server("term")
    server.start()
    pid = server.pid
    assert pid is not None and server.url.startswith("http://127.0.0.1:") and server.healthy()
    server.stop()
    server.stop()  # twice is fine
    assert _gone(pid)


def test_a_server_ignoring_sigterm_is_killed_after_the_grace_period() -> None:
    server = _server("ignore", grace=0.5)
    server.start()
    pid = server.pid
    assert pid is not None
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    assert _gone(pid)


def test_a_server_that_exits_at_start_is_unavailable_with_its_output() -> None:
    port = free_port()
    argv = [sys.executable, "-c", "import sys; print('no licence'); sys.exit(3)"]
    server = ServerProcess("quitter", argv, env=dict(os.environ), port=port, health_path="/")
    with pytest.raises(TargetUnavailable, match=re.escape("exited at start (code 3): no licence")):
        server.start()


def test_a_server_never_ready_is_stopped() -> None:
    port = free_port()
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = ServerProcess("sleeper", argv, env=dict(os.environ), port=port, health_path="/", start_timeout=1)
    with pytest.raises(TargetUnavailable, match="not ready"):
        server.start()
    assert server.process is None


def test_an_interrupt_while_waiting_for_the_server_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the suite waits for readiness: the process is stopped before the interrupt goes on."""
    server = _server("term")
    started: list[int] = []

    def interrupted(self: ServerProcess) -> bool:
        assert self.pid is not None
        started.append(self.pid)
        raise KeyboardInterrupt

    monkeypatch.setattr(ServerProcess, "healthy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        server.start()
    assert started and _gone(started[0]) and server.process is None


def test_a_server_dies_with_a_killed_suite(tmp_path: Path) -> None:
    """The suite's process killed outright (SIGKILL: no clean-up runs): its server is terminated anyway."""
    import signal
    import subprocess

    script = tmp_path / "suite.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from tests.test_server_process import _server\n"
        "s = _server('term'); s.start(); print(s.pid, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    suite = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert suite.stdout is not None
    pid = int(suite.stdout.readline())
    assert not _gone(pid)
    suite.send_signal(signal.SIGKILL)
    suite.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _gone(pid):
        time.sleep(0.1)
    assert _gone(pid)
