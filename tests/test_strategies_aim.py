"""Strategies aimed at what a target can be asked: simulator-safe cases, catalog-only requests,
cases that hold one policy type, and Resource wildcards against ARNs with colons and slashes.

Each property is shown to fail on the unaimed generator (the ``..._without_...`` tests), so it is
the aiming that makes it hold."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis.errors import InvalidArgument

import strategies as S
from conformance.targets.aws_simulator import CAPABILITIES as AWS_CAPABILITIES
from conformance.targets.aws_simulator import unsupported_reason
from conformance.targets.iam_simulate import IamSimulateTarget
from reference.catalog import get_catalog
from reference.model import Case
from reference.patterns import resource as resource_pattern
from strategies._match import glob_match, resource_match
from strategies.cases import POLICY_TYPES
from strategies.targets import target_of_text
from strategies.within_catalog import askable, fits_catalog

SEED = 7
_IAM_USER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:user/")


# --------------------------------------------------------------------------- simulator-safe


def test_simulator_safe_cases_are_all_accepted_by_the_simulator_target() -> None:
    """--simulator-safe emits only what SimulateCustomPolicy accepts: IAM user callers, no session
    policy or RCP, no IAM role resource beside a resource policy (``unsupported_reason``)."""
    refused = [
        reason
        for case in S.generate_cases(count=1500, seed=SEED, simulator_safe=True)
        if (reason := unsupported_reason(case)) is not None
    ]
    assert refused == []


def test_simulator_safe_callers_are_iam_users() -> None:
    callers = Counter(
        case.caller.split(":")[5].split("/")[0] for case in S.generate_cases(count=1000, seed=SEED, simulator_safe=True)
    )
    assert set(callers) == {"user"}


def test_without_simulator_safe_the_simulator_refuses_many_cases() -> None:
    """The check above can fail: unaimed cases have callers the simulator refuses."""
    cases = list(S.generate_cases(count=500, seed=SEED))
    refused = [c for c in cases if unsupported_reason(c) is not None]
    assert len(refused) > len(cases) // 5
    assert any("CallerArn" in (unsupported_reason(c) or "") for c in refused)


@given(S.cases(simulator_safe=True, policy_type="resource-cross-account"))
@settings(max_examples=60)
def test_simulator_safe_strategy_cases_are_accepted(case: Case) -> None:
    assert _IAM_USER.match(case.caller)
    assert unsupported_reason(case) is None


# --------------------------------------------------------------------------- policy types


@pytest.mark.parametrize("policy_type", POLICY_TYPES)
def test_every_case_holds_the_policy_type(policy_type: str) -> None:
    safe = policy_type not in ("session", "rcp")

    @given(S.cases(policy_type=policy_type, simulator_safe=safe, min_requests=3, max_requests=5))
    @settings(max_examples=25)
    def check(case: Case) -> None:
        assert 3 <= len(case.requests) <= 5
        owner = case.resource_owner if isinstance(case.resource_owner, str) else None
        if policy_type == "boundary":
            assert case.permissions_boundary is not None
        elif policy_type == "session":
            assert case.session_policy is not None
            assert ":assumed-role/" in case.caller or ":federated-user/" in case.caller, case.caller
        elif policy_type == "scp":
            assert case.scps
        elif policy_type == "rcp":
            assert case.rcps
            for level in case.rcps:  # Allow only in RCPFullAWSAccess (AWS Organizations, RCP syntax)
                for p in level:
                    statements = json.loads(p.text())["Statement"]
                    for st in statements if isinstance(statements, list) else [statements]:
                        full = st.get("Action") == "*" and st.get("Resource") == "*" and st.get("Principal") == "*"
                        assert st["Effect"] == "Deny" or full, st
        elif policy_type == "resource-same-account":
            assert case.resource_policy is not None
            assert owner is None or owner.split(":")[4] == case.caller.split(":")[4]
        else:
            assert case.resource_policy is not None and owner is not None
            assert owner.split(":")[4] != case.caller.split(":")[4]

    check()


def test_policy_type_arguments_are_checked() -> None:
    with pytest.raises(InvalidArgument):
        S.cases(policy_type="nonsense").example()
    with pytest.raises(InvalidArgument):
        S.cases(policy_type="session", simulator_safe=True).example()
    with pytest.raises(InvalidArgument):
        S.cases(min_requests=5, max_requests=3).example()


# --------------------------------------------------------------------------- catalog-only


def _catalog_fit(cases: list[Case]) -> tuple[int, int]:
    fits = total = 0
    for case in cases:
        for r in case.requests:
            total += 1
            fits += get_catalog().action(r.action) is not None and fits_catalog(r.action, r.resource)
    return fits, total


def test_catalog_only_requests_are_catalog_actions_on_resources_of_their_type() -> None:
    @given(S.cases(catalog_only=True, max_requests=4))
    @settings(max_examples=80)
    def check(case: Case) -> None:
        for r in case.requests:
            assert get_catalog().action(r.action) is not None, r.action
            assert fits_catalog(r.action, r.resource) or not askable(r.action), (r.action, r.resource)

    check()


def test_catalog_only_aimed_requests_fit_the_catalog() -> None:
    from reference.fixtures import anchor_policy

    @given(S.aimed_requests(policy=anchor_policy("v3"), catalog_only=True))
    @settings(max_examples=80)
    def check(r: object) -> None:
        from reference.model import Request

        assert isinstance(r, Request)
        assert get_catalog().action(r.action) is not None
        assert fits_catalog(r.action, r.resource)

    check()


def test_without_catalog_only_many_requests_do_not_fit() -> None:
    """The check above can fail: unaimed requests name unknown actions and resources of other types."""

    @given(S.cases(max_requests=4))
    @settings(max_examples=80, derandomize=True, database=None)
    def collect(case: Case) -> None:
        seen.append(case)

    seen: list[Case] = []
    collect()
    fits, total = _catalog_fit(seen)
    assert fits < 0.8 * total


def test_targets_declare_what_they_can_be_asked() -> None:
    assert AWS_CAPABILITIES.simulator_safe and not AWS_CAPABILITIES.catalog_only
    assert IamSimulateTarget.capabilities.catalog_only and not IamSimulateTarget.capabilities.simulator_safe


# --------------------------------------------------------------------------- Resource wildcards


def _wildcard_pairs(cases: list[Case]) -> Counter[str]:
    """Pairs (Resource pattern, request ARN whose resource part holds colons) that tell the Resource
    rule apart from a rule where every '*' crosses colons, and from one where none does."""
    out: Counter[str] = Counter()
    for case in cases:
        patterns: list[str] = []
        for policy in case.identity_policies:
            for st in target_of_text(policy.text(), "identity").statements:
                patterns += [r for r in st.resources if "${" not in r and r != "*" and r.count(":") >= 5]
        for r in case.requests:
            parts = r.resource.split(":", 5)
            if len(parts) < 6 or ":" not in parts[5]:
                continue
            for p in patterns:
                rule = resource_match(p, r.resource)
                if rule != glob_match(p, r.resource):
                    out["mid-segment star told apart"] += 1
                in_segment = re.fullmatch(resource_pattern(p).pattern.replace(".*", "[^:]*"), r.resource, re.DOTALL)
                if rule != (in_segment is not None):
                    out["segment-final star told apart"] += 1
    return out


def test_resource_wildcards_meet_arns_with_colons_and_slashes() -> None:
    """Both readings of '*' are drawn against ARNs whose resource part holds colons, with requests
    that only the right reading answers correctly (reference_policies_elements_resource.html)."""
    found = _wildcard_pairs(list(S.generate_cases(count=1500, seed=SEED)))
    assert found["mid-segment star told apart"] >= 5, found
    assert found["segment-final star told apart"] >= 20, found


def test_wildcard_pairs_can_be_missing() -> None:
    """The counter above can come out empty: cases without such ARNs give nothing."""
    plain = [
        c
        for c in S.generate_cases(count=200, seed=SEED)
        if all(":" not in r.resource.split(":", 5)[-1] for r in c.requests)
    ]
    assert _wildcard_pairs(plain) == Counter()


def test_iamconf_generate_simulator_safe_emits_only_what_the_simulator_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from conformance.cli import main
    from reference.caseio import decode_case

    assert main(["generate", "--count", "400", "--seed", "3", "--simulator-safe"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 400
    refused = [r for line in lines if (r := unsupported_reason(decode_case(line.encode()))) is not None]
    assert refused == []


class _S3ObjectsOnly:
    """A target vocabulary: it knows s3:GetObject and s3:PutObject, on object (or access point object) ARNs."""

    def knows_action(self, action: str) -> bool:
        return action.lower() in ("s3:getobject", "s3:putobject")

    def accepts(self, action: str, resource: str) -> bool:
        obj = re.fullmatch(r"arn:aws[a-z-]*:s3:[^:]*:[^:]*:[^/]+/.+", resource, re.DOTALL) is not None
        return self.knows_action(action) and obj and "*" not in resource

    def __repr__(self) -> str:
        return "S3ObjectsOnly()"


def test_a_target_vocabulary_decides_what_is_drawn() -> None:
    statement = {"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::b/*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": statement})
    vocabulary = _S3ObjectsOnly()

    @given(S.aimed_requests(policy=policy, catalog_only=vocabulary))
    @settings(max_examples=60)
    def check(r: object) -> None:
        from reference.model import Request

        assert isinstance(r, Request)
        assert vocabulary.accepts(r.action, r.resource), (r.action, r.resource)

    check()
    with pytest.raises(InvalidArgument):
        S.aimed_requests(policy=policy, catalog_only="yes").example()  # type: ignore[arg-type]
