"""moto-enforcement through moto's server (a separate module: the in-process mock of test_target_moto.py
would intercept these calls): same answers, the server bound to loopback, and no process left behind, also
when the run is interrupted with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.harness import Status, check_cases
from conformance.targets.moto_enforcement import make_moto_enforcement_target
from tests.test_target_moto import ALLOW_ASSUME, ALLOW_OTHER, ALLOW_PROBED

ROOT = Path(__file__).resolve().parents[1]


def test_through_the_server_same_answers_and_the_process_ends() -> None:
    target = make_moto_enforcement_target("server")
    target.start()
    server = target.backend._server  # type: ignore[attr-defined]
    pid = server.pid
    try:
        assert server.url.startswith("http://127.0.0.1:")
        outcomes = check_cases(target, [ALLOW_PROBED, ALLOW_ASSUME, ALLOW_OTHER])
        known = [o.known.id for o in outcomes if o.status == Status.KNOWN and o.known]
        assert known == ["assume-role-trust-naming-the-account"]
        assert {o.status for o in outcomes} == {Status.AGREE, Status.KNOWN}
    finally:
        target.stop()
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def test_ctrl_c_during_a_run_leaves_no_server(tmp_path: Path) -> None:
    """SIGINT to `iamconf run` while moto's server runs: the run ends and its server with it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IAMCONF_MOTO_SERVER": "1", "IAMCONF_SUITE_EXAMPLES": "1000"}
    argv = [sys.executable, "-m", "conformance.cli", "run", "--target", "moto-enforcement"]
    # Output to a file, never an unread pipe: a run that fills the pipe's buffer blocks and never ends.
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [*argv, "--report-dir", str(tmp_path / "report")],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        # As from a terminal: a run started by a CI runner or a background shell job inherits SIGINT
        # ignored, and Python then installs no KeyboardInterrupt handler; Ctrl-C is what is tested here.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while time.monotonic() < deadline and not children:
            time.sleep(0.2)
            children = _children(run.pid)
        assert children, "the moto server never started"
        events = tmp_path / "report" / "events.ndjson"
        while time.monotonic() < deadline and '"target-started"' not in (events.read_text() if events.exists() else ""):
            time.sleep(0.2)  # until the suite runs against the started target
        time.sleep(0.5)
        run.send_signal(signal.SIGINT)
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail("the run did not end within 30 s of SIGINT: " + (tmp_path / "run.log").read_text()[-2000:])
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        log.close()
    assert run.returncode != 0
    assert [c for c in children if _alive(c)] == []
