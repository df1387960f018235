"""Progress: a rich bar on a terminal stdout, nothing at all otherwise."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from conformance.cli import main
from reports.progress import progress

ESC = "\x1b["
ROOT = Path(__file__).resolve().parent.parent


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_the_console_is_not_a_terminal() -> None:
    screen = io.StringIO()
    stream = io.StringIO()
    with progress(3, "working", console=Console(file=screen), delay=0) as tracker:
        assert not tracker.enabled and not tracker.showing
        for _ in range(3):
            tracker.advance()
            tracker.emit("line\n", stream)
    assert screen.getvalue() == ""
    assert stream.getvalue() == "line\n" * 3


def test_a_bar_on_a_terminal() -> None:
    screen = io.StringIO()
    with progress(4, "checking things", console=Console(file=screen, force_terminal=True, width=100), delay=0) as t:
        assert t.showing
        t.advance(2)
        t.describe("checking more things")
        t.advance(2)
    shown = screen.getvalue()
    assert ESC in shown and "checking" in shown
    assert not t.showing  # stopped (and, being transient, erased)


def test_output_goes_above_the_bar_on_the_same_terminal() -> None:
    screen = io.StringIO()
    terminal_stream = FakeTty()
    with progress(1, "working", console=Console(file=screen, force_terminal=True), delay=0) as tracker:
        tracker.emit('{"id": "c1"}\n', terminal_stream)
        tracker.emit(b'{"id": "c2"}\n', terminal_stream)
    assert terminal_stream.getvalue() == ""
    assert '{"id": "c1"}' in screen.getvalue() and '{"id": "c2"}' in screen.getvalue()


def test_no_bar_before_the_delay() -> None:
    screen = io.StringIO()
    with progress(1, "quick", console=Console(file=screen, force_terminal=True), delay=30) as tracker:
        assert tracker.enabled and not tracker.showing
        tracker.advance()
    assert screen.getvalue() == ""


def test_the_bar_appears_after_the_delay() -> None:
    screen = io.StringIO()
    with progress(None, "slow", console=Console(file=screen, force_terminal=True), delay=0.01) as tracker:
        deadline = time.monotonic() + 10
        while not tracker.showing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert tracker.showing
    assert "slow" in screen.getvalue()


def test_default_is_quiet_when_stdout_is_captured(capsys: pytest.CaptureFixture[str]) -> None:
    with progress(2, "captured", delay=0) as tracker:
        assert not tracker.enabled
        tracker.advance(2)
    assert capsys.readouterr().out == ""


def _cases_file(tmp_path: Path, n: int) -> Path:
    policy = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
    lines = [
        json.dumps(
            {
                "id": f"c{i}",
                "identity_policies": [{"id": "p", "document": policy}],
                "requests": [{"action": "s3:GetObject", "resource": f"arn:aws:s3:::b/{i}"}],
            }
        )
        for i in range(n)
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_evaluate_cases_is_byte_for_byte_quiet_when_piped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMCONF_PROGRESS_DELAY", "0")
    assert main(["evaluate", "--cases", str(_cases_file(tmp_path, 5))]) == 0
    out = capsys.readouterr().out
    assert ESC not in out
    assert [json.loads(line)["id"] for line in out.splitlines()] == [f"c{i}" for i in range(5)]


def test_generate_is_quiet_when_piped(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAMCONF_PROGRESS_DELAY", "0")
    assert main(["generate", "--count", "3", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert ESC not in captured.out and ESC not in captured.err
    assert len(captured.out.splitlines()) == 3


def _run_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run ``iamconf ARGS`` with stdout on a pseudo-terminal; everything it showed there."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", *args],
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    os.close(terminal)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(controller)
    return b"".join(chunks).decode("utf-8", "replace")


def test_evaluate_cases_shows_a_bar_on_a_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "IAMCONF_PROGRESS_DELAY": "0", "TERM": "xterm", "PYTHONPATH": str(ROOT)}
    env.pop("FORCE_COLOR", None)
    env.pop("TTY_COMPATIBLE", None)
    shown = _run_on_a_terminal(["evaluate", "--cases", str(_cases_file(tmp_path, 20))], env)
    assert "evaluating cases" in shown and ESC in shown
    for i in range(20):
        assert f'"id":"c{i}"' in shown.replace(" ", "")
