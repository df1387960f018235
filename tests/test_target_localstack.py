"""LocalStack: the process the suite owns (loopback, temp dir removed, stopped), an instance named by
LOCALSTACK_ENDPOINT left running, the localstack-simulator target, and the enforcement target's skip.

Tests that need LocalStack run where ``IAMCONF_LOCALSTACK_PYTHON`` names its Python 3.13 environment
(``tox -e localstack`` sets it and ``IAMCONF_REQUIRE_LOCALSTACK=1``, which turns their skip into a failure).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from conformance.harness import Status, check_cases
from conformance.registry import make_target
from conformance.targets.base import TargetFailure, TargetUnavailable, Unsupported
from conformance.targets.localstack_enforcement import NOT_ENFORCING, LocalStackBackend
from conformance.targets.localstack_process import ENV_ENDPOINT, ENV_PYTHON, LocalStack
from conformance.targets.localstack_simulator import LocalStackSimulatorTarget
from reference.model import Case, Policy, Request

HAVE_LOCALSTACK = bool(os.environ.get(ENV_PYTHON))
needs_localstack = pytest.mark.skipif(
    not HAVE_LOCALSTACK and os.environ.get("IAMCONF_REQUIRE_LOCALSTACK") != "1",
    reason=f"{ENV_PYTHON} is not set (LocalStack's Python 3.13 environment: tox -e localstack)",
)
CALLER = "arn:aws:iam::111122223333:user/alice"


def _policy(*statements: dict[str, object], type: str = "user") -> Policy:
    return Policy.of("p", {"Version": "2012-10-17", "Statement": list(statements)}, type)  # type: ignore[arg-type]


ALLOW = Case(
    requests=[Request("s3:GetObject", "arn:aws:s3:::bucket/key"), Request("s3:PutObject", "arn:aws:s3:::bucket/key")],
    identity_policies=[_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/key"})],
    caller_arn=CALLER,
)


def test_enforcement_without_licence_or_endpoint_says_exactly_why() -> None:
    target = make_target("localstack-enforcement")
    environ: dict[str, str] = {}
    target.backend = LocalStackBackend(environ)  # type: ignore[attr-defined]
    with pytest.raises(TargetUnavailable) as raised:
        target.start()
    assert raised.value.reason == NOT_ENFORCING
    assert "LOCALSTACK_AUTH_TOKEN" in NOT_ENFORCING and "does not enforce" in NOT_ENFORCING
    print(f"localstack-enforcement: skipped: {raised.value.reason}")


def test_an_endpoint_that_does_not_enforce_is_refused_by_the_probe_that_must_be_denied() -> None:
    """The enforcement target's own code path against an endpoint without enforcement (moto's server with
    enforcement off): the one probe that must be denied is allowed, so the target does not run."""
    from conformance.targets.process import ServerProcess, free_port

    port = free_port()
    import sys

    server = ServerProcess(
        "moto-server",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={k: v for k, v in os.environ.items() if k != "INITIAL_NO_AUTH_ACTION_COUNT"},
        port=port,
        health_path="/moto-api/",
    )
    server.start()
    try:
        backend = LocalStackBackend({ENV_ENDPOINT: server.url})
        with pytest.raises(
            TargetUnavailable, match=re.escape("does not enforce IAM (a call with no permission was allowed)")
        ):
            backend.start()
        assert server.healthy(), "an instance named by LOCALSTACK_ENDPOINT is left running"
    finally:
        server.stop()


def test_without_its_python_localstack_is_unavailable() -> None:
    with pytest.raises(TargetUnavailable, match="tox -e localstack"):
        LocalStack(environ={}).start()


@pytest.fixture(scope="module")
def simulator() -> Iterator[LocalStackSimulatorTarget]:
    target = LocalStackSimulatorTarget()
    target.start()
    yield target
    target.stop()


@needs_localstack
def test_owned_process_loopback_temp_dir_and_stop() -> None:
    ls = LocalStack()
    ls.start()
    pid, root = ls.pid, ls.root_dir
    try:
        assert ls.endpoint_url is not None and ls.endpoint_url.startswith("http://127.0.0.1:")
        assert root is not None and root.is_dir()
        # an instance named by LOCALSTACK_ENDPOINT is used and left running
        other = LocalStack(environ={ENV_ENDPOINT: ls.endpoint_url})
        other.start()
        assert other.endpoint_url == ls.endpoint_url and not other.owned
        other.stop()
        import urllib.request

        with urllib.request.urlopen(f"{ls.endpoint_url}/_localstack/health", timeout=5) as response:
            assert response.status == 200
    finally:
        ls.stop()
    assert (pid is not None and not Path(f"/proc/{pid}").exists()) or _zombie(pid)
    assert root is not None and not root.exists()


def _zombie(pid: int | None) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


@needs_localstack
def test_simulator_answers_and_removes_what_it_created(simulator: LocalStackSimulatorTarget) -> None:
    outcomes = check_cases(simulator, [ALLOW])
    assert [o.observed.decision.value for o in outcomes if o.observed] == ["allowed", "explicitDeny"]
    assert outcomes[0].status == Status.AGREE
    # LocalStack never answers implicitDeny: a known divergence, not an agreement
    assert outcomes[1].status == Status.KNOWN and outcomes[1].known is not None
    iam = simulator.iam("111122223333")
    assert iam.list_users()["Users"] == [] and iam.list_policies(Scope="Local")["Policies"] == []


@needs_localstack
def test_a_wrong_answer_is_an_unexpected_divergence(simulator: LocalStackSimulatorTarget) -> None:
    """The comparison can fail: a grant LocalStack reads as allowed, checked against a Deny it ignores but
    outside every known divergence's rule (the rules are switched off here)."""
    from conformance import divergences

    denied = msgspec.structs.replace(
        ALLOW,
        requests=ALLOW.requests[:1],
        identity_policies=[
            *ALLOW.identity_policies,
            _policy({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}),
        ],
    )
    saved = divergences.known_divergences
    divergences.known_divergences = lambda target: ()  # type: ignore[assignment]
    try:
        outcomes = check_cases(simulator, [denied])
    finally:
        divergences.known_divergences = saved  # type: ignore[assignment]
    assert [o.status for o in outcomes] == [Status.UNEXPECTED]


@needs_localstack
def test_notaction_crash_is_a_target_failure_and_cleaned_up(simulator: LocalStackSimulatorTarget) -> None:
    crash = msgspec.structs.replace(
        ALLOW, identity_policies=[_policy({"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": "*"})]
    )
    [answer] = simulator.answer([crash])
    assert isinstance(answer, TargetFailure) and "HTTP 500" in answer.message
    assert simulator.iam("111122223333").list_users()["Users"] == []


@needs_localstack
def test_simulate_custom_policy_not_implemented_is_said_once(simulator: LocalStackSimulatorTarget) -> None:
    assert simulator.custom_policy_support is not None and "SimulateCustomPolicy" in simulator.custom_policy_support
    with_scp = msgspec.structs.replace(ALLOW, scps=[[_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})]])
    [answer] = simulator.answer([with_scp])
    assert isinstance(answer, Unsupported) and simulator.custom_policy_support in answer.reason


@needs_localstack
def test_groups_and_boundaries_are_created(simulator: LocalStackSimulatorTarget) -> None:
    grouped = msgspec.structs.replace(
        ALLOW,
        identity_policies=[
            _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, type="group"),
            _policy(
                {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/key"},
                type="user-managed",
            ),
        ],
        permissions_boundary=_policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, type="boundary"),
    )
    outcomes = check_cases(simulator, [grouped])
    assert all(o.observed is not None for o in outcomes)
    iam = simulator.iam("111122223333")
    assert iam.list_groups()["Groups"] == [] and iam.list_users()["Users"] == []


def _kill(ls: LocalStack) -> None:
    """SIGKILL to the LocalStack process group, as an OOM killer or a crash would end it."""
    import os
    import signal
    import time

    pid = ls.pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not ls.died() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ls.died()


@needs_localstack
def test_localstack_killed_mid_run_is_restarted_and_the_case_asked_again() -> None:
    """LocalStack dies between cases and while a case is in flight: the case is a retryable failure, a
    fresh LocalStack is started, and the harness's retry compares every request (never an agreement
    made up from a dead endpoint)."""
    target = LocalStackSimulatorTarget()
    target.start()
    try:
        first = check_cases(target, [ALLOW])
        assert [o.status for o in first] == [Status.AGREE, Status.KNOWN]
        old_pid = target.localstack.pid
        _kill(target.localstack)
        again = check_cases(target, [ALLOW])  # killed between cases: restarted before the case is asked
        assert [o.status for o in again] == [Status.AGREE, Status.KNOWN], [o.describe() for o in again]
        assert target.localstack.pid not in (None, old_pid)

        # Killed while the case is in flight (during its first call): a retryable failure, then the retry.
        original = target._simulate
        killed: list[bool] = []

        def kill_then_simulate(*args: object, **kwargs: object) -> object:
            if not killed:
                killed.append(True)
                _kill(target.localstack)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        target._simulate = kill_then_simulate  # type: ignore[method-assign,assignment]
        answer = target.answer([ALLOW])[0]
        assert isinstance(answer, TargetFailure) and answer.retryable and "LocalStack exited" in answer.message
        retried = check_cases(target, [ALLOW])
        assert [o.status for o in retried] == [Status.AGREE, Status.KNOWN], [o.describe() for o in retried]
        assert target.stats.extra["localstack_deaths"] == 1
    finally:
        target.stop()


@needs_localstack
def test_localstack_that_cannot_be_started_again_fails_every_later_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed, and the restart fails: each case is a target failure naming why, never an answer."""
    target = LocalStackSimulatorTarget()
    target.start()
    try:
        _kill(target.localstack)

        def no_start() -> None:
            raise TargetUnavailable("injected: no port left")

        monkeypatch.setattr(target.localstack, "start", no_start)
        outcomes = check_cases(target, [ALLOW, ALLOW])
        assert {o.status for o in outcomes} == {Status.FAILURE}, [o.describe() for o in outcomes]
        assert all("could not be started again: injected" in o.reason for o in outcomes)
    finally:
        target.stop()
