"""The targets the suite knows, by name, and which of them run by default.

Targets are imported lazily: naming one must not cost the start-up of the
others (boto3, a Node process).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from conformance.target_names import ALL_TARGETS, DEFAULT_TARGETS
from conformance.targets.base import Target, TargetUnavailable

__all__ = [
    "ALL_TARGETS",
    "DEFAULT_TARGETS",
    "TargetOptions",
    "UnknownTarget",
    "make_target",
    "register_test_target",
    "started_targets",
]


class UnknownTarget(Exception):
    pass


@dataclass(frozen=True, slots=True)
class TargetOptions:
    """What a run says about targets: whether AWS was explicitly asked for, and where to record."""

    explicitly_requested: tuple[str, ...] = ()
    recordings_dir: str | None = None
    aws_endpoint_url: str | None = None


# Targets the project's own test suite adds for one pytest process (wrong-answer targets that show the
# suites can fail): never listed in ALL_TARGETS, so ``iamconf run --target`` does not offer them.
_TEST_ONLY: dict[str, Callable[[], Target]] = {}


def register_test_target(name: str, factory: Callable[[], Target]) -> None:
    """Make ``name`` resolvable by ``make_target`` in this process (tests only)."""
    if name in ALL_TARGETS:
        raise ValueError(f"{name!r} is a real target")
    _TEST_ONLY[name] = factory


def _max_calls() -> int | None:
    """``IAMCONF_AWS_MAX_CALLS``: the aws-simulator target's call budget (``iamconf run --max-calls``)."""
    raw = os.environ.get("IAMCONF_AWS_MAX_CALLS", "")
    return int(raw) if raw.isdigit() else None


def make_target(name: str, options: TargetOptions | None = None) -> Target:
    options = options or TargetOptions()
    if name in _TEST_ONLY:
        return _TEST_ONLY[name]()
    if name == "iam-simulate":
        from conformance.targets.iam_simulate import IamSimulateTarget

        return IamSimulateTarget()
    if name == "replay":
        from conformance.targets.replay import make_replay_target

        return make_replay_target(options.recordings_dir)
    if name == "aws-simulator":
        from conformance.targets.aws_simulator import make_aws_simulator_target

        return make_aws_simulator_target(
            explicitly_requested="aws-simulator" in options.explicitly_requested,
            recordings_dir=options.recordings_dir,
            endpoint_url=options.aws_endpoint_url,
            max_calls=_max_calls(),
        )
    if name == "simulator-endpoint":
        from conformance.targets.aws_simulator import make_simulator_endpoint_target

        return make_simulator_endpoint_target(options.aws_endpoint_url)
    if name == "moto-enforcement":
        from conformance.targets.moto_enforcement import make_moto_enforcement_target

        return make_moto_enforcement_target()
    if name == "localstack-simulator":
        from conformance.targets.localstack_simulator import LocalStackSimulatorTarget

        return LocalStackSimulatorTarget()
    if name == "localstack-enforcement":
        from conformance.targets.localstack_enforcement import make_localstack_enforcement_target

        return make_localstack_enforcement_target()
    raise UnknownTarget(f"unknown target {name!r} (known: {', '.join(ALL_TARGETS)})")


@contextlib.contextmanager
def started_targets(names: Iterable[str], options: TargetOptions | None = None) -> Iterator[dict[str, Target | str]]:
    """Start each named target; a target that cannot run maps to the reason. All are stopped on exit."""
    out: dict[str, Target | str] = {}
    try:
        for name in names:
            target = make_target(name, options)
            try:
                target.start()
                out[name] = target
            except TargetUnavailable as e:
                out[name] = e.reason
        yield out
    finally:
        for t in out.values():
            if not isinstance(t, str):
                t.stop()
