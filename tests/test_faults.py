"""Failing targets, injected: a worker killed mid-run, a worker that hangs, a simulator that throttles or
fails for a while.  The harness retries what is safe to retry; whatever still fails is a target failure,
never an agreement."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

import boto3
import pytest
from botocore.stub import Stubber

from conformance.harness import Status, check_cases
from conformance.serve import ServerOptions, running_server
from conformance.targets import iam_simulate
from conformance.targets.aws_simulator import AwsSimulatorTarget
from conformance.targets.base import Target, TargetAnswer, TargetFailure
from conformance.targets.iam_simulate import IamSimulateTarget, find_node
from reference.model import Case, Request
from tests.support import allow, deny, doc, policy

CASES = [
    Case(
        id=f"c{i}",
        identity_policies=[policy(doc(allow("s3:*"), deny("s3:DeleteObject")))],
        caller_arn="arn:aws:iam::111122223333:user/alice",
        requests=[Request("s3:GetObject", f"arn:aws:s3:::b{i}/k"), Request("s3:DeleteObject", "arn:aws:s3:::b/k")],
    )
    for i in range(3)
]


def statuses(outcomes: Sequence[object]) -> set[Status]:
    return {o.status for o in outcomes}  # type: ignore[attr-defined]


def _have_iam_simulate() -> bool:
    try:
        find_node()
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _have_iam_simulate() and not os.environ.get("IAMCONF_REQUIRE_NODE"), reason="no node")
def test_worker_killed_mid_run_is_retried_on_a_fresh_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Node worker gets SIGKILL while the first batch is in flight: the batch is asked again on a fresh
    worker and every request is compared."""
    original = iam_simulate._Worker.exchange
    killed: list[int] = []

    def kill_then_exchange(self: iam_simulate._Worker, line: bytes, timeout: float) -> bytes:
        if not killed:
            killed.append(self.proc.pid)
            os.kill(self.proc.pid, signal.SIGKILL)
        return original(self, line, timeout)

    target = IamSimulateTarget()
    target.start()
    monkeypatch.setattr(iam_simulate._Worker, "exchange", kill_then_exchange)  # after the start's handshake
    try:
        outcomes = check_cases(target, CASES)
    finally:
        target.stop()
    assert killed and statuses(outcomes) == {Status.AGREE}
    assert target.stats.extra["worker_failures"] == 1


_DIES = "import sys\nsys.exit(3)\n"
_NEVER_ANSWERS = "import sys, time\nfor line in sys.stdin:\n    time.sleep(600)\n"


@pytest.mark.parametrize(("code", "message"), [(_DIES, "exit status 3"), (_NEVER_ANSWERS, "no answer within")])
def test_a_worker_that_keeps_failing_is_a_target_failure_never_agreement(code: str, message: str) -> None:
    target = IamSimulateTarget(command=[sys.executable, "-c", code], timeout=0.5, handshake=False)
    target.start()
    try:
        outcomes = check_cases(target, CASES)
    finally:
        target.stop()
    assert statuses(outcomes) == {Status.FAILURE}
    assert all(message in o.reason for o in outcomes)
    assert target.stats.extra["worker_failures"] == 2  # asked, then asked once more


class AnswersOnceThenFails:
    """A wrong target for the retry itself: its failures are not retryable, so they must not be retried."""

    name = "fails"

    def __init__(self, capabilities: object) -> None:
        self.capabilities = capabilities
        self.calls = 0

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        self.calls += 1
        return [TargetFailure("500 from the target") for _ in cases]


def test_a_failure_that_is_not_retryable_is_asked_once() -> None:
    target = AnswersOnceThenFails(IamSimulateTarget().capabilities)
    assert isinstance(target, Target)
    outcomes = check_cases(target, CASES)
    assert target.calls == 1 and statuses(outcomes) == {Status.FAILURE}


def _loopback(url: str) -> AwsSimulatorTarget:
    return AwsSimulatorTarget(explicitly_requested=True, endpoint_url=url, environ={})


def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("options", [ServerOptions(throttle_first=2), ServerOptions(fail_first=2)])
def test_simulator_throttling_and_transient_errors_are_retried(
    monkeypatch: pytest.MonkeyPatch, options: ServerOptions
) -> None:
    _dummy_credentials(monkeypatch)
    with running_server(options=options) as url:
        target = _loopback(url)
        target.start()
        try:
            outcomes = check_cases(target, CASES[:1])
        finally:
            target.stop()
    assert statuses(outcomes) == {Status.AGREE}


def test_simulator_errors_past_the_retries_are_target_failures() -> None:
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    target = AwsSimulatorTarget(explicitly_requested=True, client=client, environ={"IAMCONF_AWS": "1"})
    target.start()
    stubber = Stubber(client)
    stubber.add_client_error("simulate_custom_policy", "Throttling", "Rate exceeded", 400)
    stubber.add_client_error("simulate_custom_policy", "ServiceUnavailable", "try later", 503)
    one = Case(
        id="one",
        identity_policies=[policy(doc(allow()))],
        caller_arn="arn:aws:iam::111122223333:user/alice",
        requests=[Request("s3:GetObject", "arn:aws:s3:::b/k")],
    )
    with stubber:
        outcomes = check_cases(target, [one, one])
    assert [o.status for o in outcomes] == [Status.FAILURE, Status.FAILURE]
    assert "Throttling" in outcomes[0].reason and "ServiceUnavailable" in outcomes[1].reason
