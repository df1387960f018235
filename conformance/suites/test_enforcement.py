"""The enforcement suite: cases aimed at the probes, answered by real calls (enforcement targets only).

A target whose capabilities name probed actions (``moto-enforcement``,
``localstack-enforcement``) is checked here on allowed/denied; every other
target is skipped here (it is checked by ``test_features.py``).
"""

from __future__ import annotations

import pytest

from conformance.pytest_plugin import HarnessState
from conformance.suites.probed_cases import probed_cases
from conformance.suites.test_features import _run
from conformance.targets.base import Target


def test_enforced_calls(conformance_target: Target, harness: HarnessState, request: pytest.FixtureRequest) -> None:
    if not conformance_target.capabilities.probed_actions:
        pytest.skip(f"{conformance_target.name} is not an enforcement target")
    account = getattr(conformance_target, "account_id", None)
    if not isinstance(account, str):
        pytest.fail(f"{conformance_target.name} claims probed actions but names no account")
    # boundaries only where the emulator can be given one (moto cannot): the rest would be unsupported
    boundaries = "policy:boundary" in conformance_target.capabilities.features
    _run(harness, conformance_target, request, probed_cases(account, boundaries=boundaries))
