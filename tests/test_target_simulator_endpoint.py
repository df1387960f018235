"""simulator-endpoint: the aws-simulator target's code against any SimulateCustomPolicy endpoint.

Against ``iamconf serve`` it agrees fully (in process and through ``iamconf run``); against a serve whose
answers are flipped, the same check reports unexpected divergences.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.harness import Status, check_cases
from conformance.registry import TargetOptions, make_target
from conformance.serve import Simulator, running_server
from conformance.targets.base import TargetUnavailable
from tests.test_target_aws_simulator import generated_cases

ROOT = Path(__file__).resolve().parents[1]
FLIP = {"allowed": "implicitDeny", "implicitDeny": "allowed", "explicitDeny": "allowed"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with running_server() as url:
        yield url


def _target(url: str | None) -> Any:
    return make_target("simulator-endpoint", TargetOptions(aws_endpoint_url=url))


def test_needs_an_endpoint() -> None:
    with pytest.raises(TargetUnavailable, match="--endpoint-url"):
        _target(None).start()


def test_a_loopback_endpoint_needs_no_aws_opt_in(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.delenv("IAMCONF_AWS", raising=False)
    target = _target(endpoint)
    target.start()
    target.stop()
    assert target.name == "simulator-endpoint"


def test_agrees_with_iamconf_serve(endpoint: str) -> None:
    target = _target(endpoint)
    target.start()
    try:
        outcomes = check_cases(target, generated_cases(seed=7, n=3, requests=20))
    finally:
        target.stop()
    assert outcomes and {o.status for o in outcomes} <= {Status.AGREE, Status.UNSUPPORTED}
    assert sum(o.status == Status.AGREE for o in outcomes) >= 20


def test_a_serve_with_flipped_answers_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Simulator._result

    def flipped(self: Simulator, sim: Any, action: str, resources: list[str]) -> dict[str, Any]:
        out = real(self, sim, action, resources)
        out["EvalDecision"] = FLIP[out["EvalDecision"]]
        for specific in out.get("ResourceSpecificResults") or []:
            specific["EvalResourceDecision"] = FLIP[specific["EvalResourceDecision"]]
        return out

    monkeypatch.setattr(Simulator, "_result", flipped)
    with running_server() as url:
        target = _target(url)
        target.start()
        try:
            outcomes = check_cases(target, generated_cases(seed=7, n=3, requests=20))
        finally:
            target.stop()
    assert sum(o.status == Status.UNEXPECTED for o in outcomes) >= 20


def test_iamconf_run_reports_full_agreement(endpoint: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("IAMCONF_AWS", None)
    argv = [sys.executable, "-m", "conformance.cli", "run", "--target", "simulator-endpoint"]
    argv += ["--endpoint-url", endpoint, "--max-examples", "2", "--report-dir", str(tmp_path), "--seed", "1"]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    row = next(line for line in done.stdout.splitlines() if "simulator-endpoint" in line and "│" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    # Every decision agrees; the only known divergences allowed are the simulator API's documented ones
    # (SCP statements and SCP-only keys left out of its answers: divergences/aws-simulator.toml, shared).
    assert cells[0] == "simulator-endpoint" and int(cells[1]) > 0 and cells[3:5] == ["0", "0"]
    from conformance.events import CheckEvent, read_events

    known = {e.known for e in read_events(tmp_path) if isinstance(e, CheckEvent)} - {None}
    assert known <= {"scp-statements-left-out", "scp-keys-left-out"}, known


def test_run_without_endpoint_url_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "conformance.cli", "run", "--target", "simulator-endpoint"]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "needs --endpoint-url" in done.stderr
    assert "Traceback" not in done.stderr
