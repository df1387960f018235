"""The suites aim each target at the kinds of policy it claims (``Capabilities.features``) and at the
callers it accepts: ``test_policy_types`` against localstack-simulator draws only cases it can
express, where the unaimed generator draws many it refuses."""

from __future__ import annotations

import random

import pytest
from hypothesis.errors import InvalidArgument

import strategies as S
from conformance.suites.test_features import POLICY_TYPE_FEATURE, aim_of
from conformance.targets.localstack_process import LocalStack
from conformance.targets.localstack_simulator import CAPABILITIES as LOCALSTACK_CAPABILITIES
from conformance.targets.localstack_simulator import LocalStackSimulatorTarget
from reference.model import Case
from strategies._catalog import services
from strategies._choice import RandomChooser
from strategies.cases import BESIDE_TYPES, gen_case


def _target() -> LocalStackSimulatorTarget:
    return LocalStackSimulatorTarget(LocalStack(environ={}))


def _localstack_cases(policy_type: str, *, aimed: bool, count: int = 300) -> list[Case]:
    aim = aim_of(_target())
    c = RandomChooser(random.Random(11))
    return [
        gen_case(
            c,
            pool=services(),
            max_statements=3,
            min_requests=3,
            max_requests=6,
            policy_type=policy_type,
            simulator_safe=aim.simulator_safe if aimed else False,
            catalog_only=aim.catalog_only,
            besides=aim.besides if aimed else None,
        )
        for _ in range(count)
    ]


def _cases(besides: frozenset[str], count: int = 300) -> list[Case]:
    c = RandomChooser(random.Random(5))
    return [gen_case(c, pool=services(), besides=besides) for _ in range(count)]


def test_localstack_simulator_claims_no_resource_policy_case() -> None:
    features = LOCALSTACK_CAPABILITIES.features
    assert not features & {"policy:resource", "policy:same-account", "policy:cross-account", "policy:scp"}
    assert LOCALSTACK_CAPABILITIES.simulator_safe


def test_aim_of_localstack_draws_only_the_kinds_it_claims() -> None:
    aim = aim_of(_target())
    assert aim.simulator_safe
    assert aim.besides == frozenset({"boundary"})


@pytest.mark.parametrize(
    "policy_type",
    [t for t, feature in POLICY_TYPE_FEATURE.items() if feature in LOCALSTACK_CAPABILITIES.features],
)
def test_aimed_policy_type_cases_are_all_expressible_by_localstack_simulator(policy_type: str) -> None:
    target = _target()
    refused = [target.unsupported_reason(c) for c in _localstack_cases(policy_type, aimed=True)]
    assert [r for r in refused if r is not None] == []


def test_unaimed_policy_type_cases_are_often_refused_by_localstack_simulator() -> None:
    target = _target()
    cases = _localstack_cases("boundary", aimed=False)
    refused = [r for r in (target.unsupported_reason(c) for c in cases) if r is not None]
    assert len(refused) > len(cases) // 4
    reasons = " ".join(r.reason for r in refused)
    assert "caller must be an IAM user or role" in reasons and "resource policies" in reasons


def test_besides_limits_the_other_policy_kinds_drawn() -> None:
    only_boundary = _cases(frozenset({"boundary"}))
    assert not any(c.resource_policy or c.scps or c.rcps or c.session_policy for c in only_boundary)
    assert any(c.permissions_boundary for c in only_boundary)
    everything = _cases(BESIDE_TYPES)
    assert any(c.resource_policy for c in everything) and any(c.scps for c in everything)


def test_besides_rejects_unknown_kinds() -> None:
    with pytest.raises(InvalidArgument, match="besides"):
        S.cases(besides=frozenset({"identity"})).example()
