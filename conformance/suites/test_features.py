"""The conformance suites: one per feature family, every selected target, generated cases.

Each suite steers the strategies at one part of IAM (the rows of the
conformance matrix), asks the target and the reference, and fails on an
unexpected divergence; Hypothesis then shrinks the case, and the plugin saves
it to the corpus with a replay command (``conformance/pytest_plugin.py``).
A target that does not claim a family is skipped for it, never passed; a suite
whose requests the target mostly refused (below 80% compared) fails its health
check (``conformance.health``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.pytest_plugin import HarnessState, check_case, require_feature, run_suite
from conformance.targets.base import Target, TargetCatalogue
from reference.fixtures import ANCHOR_VERSIONS, anchor_policy
from reference.model import Case, Policy
from strategies import aimed_requests, cases, condition_blocks, policy_documents
from strategies.cases import BESIDE_TYPES
from strategies.conditions import FAMILIES
from strategies.edges import action_edge_cases, boundary_deny_cases, combined_edge_cases, scp_gap_cases
from strategies.within_catalog import CatalogOnly

FAMILY_FEATURE = {
    "String": "conditions:string",
    "Numeric": "conditions:numeric",
    "Date": "conditions:date",
    "Bool": "conditions:bool",
    "Binary": "conditions:binary",
    "Ip": "conditions:ip",
    "Arn": "conditions:arn",
    "Null": "conditions:null",
}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    s = document["Statement"]
    return [s] if isinstance(s, dict) else list(s)


@dataclass(frozen=True)
class _Catalogue:
    """A target's own catalogue as the strategies' vocabulary, with a short repr (Hypothesis prints it)."""

    target: str
    catalogue: TargetCatalogue

    def knows_action(self, action: str) -> bool:
        return self.catalogue.knows_action(action)

    def accepts(self, action: str, resource: str) -> bool:
        return self.catalogue.accepts(action, resource)

    def __repr__(self) -> str:
        return f"<catalogue of {self.target}>"


@dataclass(frozen=True)
class Aim:
    """What the strategies are aimed at for a target: what it declares it can be asked, so that few
    requests come back unsupported (issue 7, item 4)."""

    simulator_safe: bool
    catalog_only: CatalogOnly
    # The kinds of policy drawn beside the identity policies (strategies.cases.BESIDE_TYPES): those
    # whose feature the target claims, so that a target is not sent what it cannot express.
    besides: frozenset[str] = BESIDE_TYPES


# Each kind of policy a case may hold beside its identity policies, and the feature it needs.
BESIDE_FEATURE = {
    "boundary": "policy:boundary",
    "session": "policy:session",
    "resource": "policy:resource",
    "scp": "policy:scp",
    "rcp": "policy:rcp",
}


def aim_of(target: Target) -> Aim:
    """``Capabilities.simulator_safe``; ``catalog_only`` with the target's own catalogue when it declares one
    (``Capabilities.catalogue``), else the reference's IAM catalog."""
    caps = target.capabilities
    scope: CatalogOnly = caps.catalog_only
    if caps.catalog_only and caps.catalogue is not None:
        scope = _Catalogue(target.name, caps.catalogue())
    besides = frozenset(kind for kind, feature in BESIDE_FEATURE.items() if feature in caps.features)
    return Aim(caps.simulator_safe, scope, besides)


@st.composite
def aimed_case(draw: st.DrawFn, document: dict[str, Any], aim: Aim, max_requests: int = 3) -> Case:
    """A case holding ``document`` as its identity policy, with requests aimed at it."""
    text = json.dumps(document, indent=2)
    requests = draw(
        st.lists(
            aimed_requests(policy=text, simulator_safe=aim.simulator_safe, catalog_only=aim.catalog_only),
            min_size=1,
            max_size=max_requests,
        )
    )
    return Case(identity_policies=[Policy.of("policy", text, "user-managed")], requests=requests)


@st.composite
def unconditional_cases(draw: st.DrawFn, aim: Aim) -> Case:
    """Actions and resources alone: wildcards, NotAction, NotResource, several statements; one case in
    four on an edge of the matching rules with the request that shows it (``strategies.edges``)."""
    if draw(st.integers(min_value=0, max_value=3)) == 3:  # not the first (simplest) example
        edge, requests = draw(st.one_of(combined_edge_cases(), action_edge_cases()))
        return Case(
            identity_policies=[Policy.of("policy", json.dumps(edge, indent=2), "user-managed")], requests=requests
        )
    document = draw(policy_documents(max_statements=4, simulator_safe=aim.simulator_safe))
    for s in _statements(document):
        s.pop("Condition", None)
    return draw(aimed_case(document, aim))


@st.composite
def condition_cases(draw: st.DrawFn, family: str, aim: Aim, set_operator: str | None = None) -> Case:
    """Statements whose conditions all come from one operator family (with a set operator when given)."""
    safe = aim.simulator_safe
    document = draw(policy_documents(max_statements=3, simulator_safe=safe))
    variables = document.get("Version") == "2012-10-17"  # elsewhere ${...} is literal text
    for s in _statements(document):
        block = draw(condition_blocks(families=[family], max_operators=2, variables=variables, simulator_safe=safe))
        if set_operator is not None:
            block = {
                op if op.startswith(("For", "Null")) else f"{set_operator}:{op}": keys for op, keys in block.items()
            }
        s["Condition"] = block
    return draw(aimed_case(document, aim))


@st.composite
def variable_cases(draw: st.DrawFn, aim: Aim) -> Case:
    """Policy variables in Resource and condition values, with defaults and escapes."""
    key = draw(st.sampled_from(["aws:username", "aws:PrincipalTag/team", "aws:userid"]))
    default = draw(st.sampled_from(["", ", 'shared'"]))
    escape = draw(st.sampled_from(["", "${*}", "${?}", "${$}"]))
    resource = f"arn:aws:s3:::bucket/home/${{{key}{default}}}{escape}/*"
    statement: dict[str, Any] = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": resource}
    if draw(st.booleans()):
        statement["Condition"] = {"StringLike": {"s3:prefix": [f"home/${{{key}}}/*", "public/*"]}}
    document = {"Version": draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17"])), "Statement": statement}
    return draw(aimed_case(document, aim))


def _examples() -> int:
    """Examples per suite and target: IAMCONF_SUITE_EXAMPLES (``iamconf run --max-examples``, tox) or the profile's."""
    raw = os.environ.get("IAMCONF_SUITE_EXAMPLES")
    if raw:
        return int(raw)
    current = settings.default
    return current.max_examples if current is not None else 100


def _run(
    harness: HarnessState, target: Target, request: pytest.FixtureRequest, strategy: st.SearchStrategy[Case]
) -> None:
    suite = request.node.originalname

    @settings(max_examples=_examples())
    @given(strategy)
    def check(case: Case) -> None:
        check_case(harness, target, case, request.node.nodeid, suite)

    run_suite(harness, target, request.node.nodeid, check)


def test_actions_and_resources(
    conformance_target: Target, harness: HarnessState, request: pytest.FixtureRequest
) -> None:
    require_feature(conformance_target, "actions")
    _run(harness, conformance_target, request, unconditional_cases(aim_of(conformance_target)))


@pytest.mark.parametrize("family", FAMILIES)
def test_condition_operators(
    conformance_target: Target, harness: HarnessState, request: pytest.FixtureRequest, family: str
) -> None:
    require_feature(conformance_target, FAMILY_FEATURE[family])
    _run(harness, conformance_target, request, condition_cases(family, aim_of(conformance_target)))


@pytest.mark.parametrize("set_operator", ["ForAllValues", "ForAnyValue"])
def test_set_operators(
    conformance_target: Target, harness: HarnessState, request: pytest.FixtureRequest, set_operator: str
) -> None:
    require_feature(conformance_target, "conditions:set-operators")
    aim = aim_of(conformance_target)
    _run(
        harness,
        conformance_target,
        request,
        st.sampled_from(["String", "Arn", "Numeric"]).flatmap(
            lambda family: condition_cases(family, aim, set_operator)
        ),
    )


def test_variables(conformance_target: Target, harness: HarnessState, request: pytest.FixtureRequest) -> None:
    require_feature(conformance_target, "variables")
    _run(harness, conformance_target, request, variable_cases(aim_of(conformance_target)))


# Each policy type is its own suite, every case holding one, so that each gets its share of the
# examples (issue 7, item 6: at least 200 compared requests each in the ci profile).
POLICY_TYPE_FEATURE = {
    "boundary": "policy:boundary",
    "scp": "policy:scp",
    "resource-same-account": "policy:same-account",
    "resource-cross-account": "policy:cross-account",
    "session": "policy:session",
    "rcp": "policy:rcp",
}
POLICY_TYPE_REQUESTS = (3, 6)  # requests per case: 100 examples compare about 450 requests


@pytest.mark.parametrize("policy_type", list(POLICY_TYPE_FEATURE))
def test_policy_types(
    conformance_target: Target, harness: HarnessState, request: pytest.FixtureRequest, policy_type: str
) -> None:
    """Every case holds the policy type (identity policies, and now and then the other types, beside it)."""
    require_feature(conformance_target, POLICY_TYPE_FEATURE[policy_type])
    low, high = POLICY_TYPE_REQUESTS
    aim = aim_of(conformance_target)
    strategy = cases(
        max_statements=3,
        min_requests=low,
        max_requests=high,
        policy_type=policy_type,
        simulator_safe=aim.simulator_safe,
        catalog_only=aim.catalog_only,
        besides=aim.besides,
    )
    if policy_type == "boundary":
        strategy = st.integers(min_value=0, max_value=4).flatmap(lambda n: _boundary_deny() if n == 4 else strategy)
    if policy_type == "scp":
        # Generated SCPs rarely leave a level without an Allow: every level must allow (a mutant that
        # ignored SCPs, or let any level allow, survived the suite's draws).
        strategy = st.integers(min_value=0, max_value=4).flatmap(lambda n: _scp_gap() if n == 4 else strategy)
    _run(harness, conformance_target, request, strategy)


@st.composite
def _scp_gap(draw: st.DrawFn) -> Case:
    """SCP levels of which one does not allow the request (``strategies.edges.scp_gap_cases``)."""
    identity, scps, requests = draw(scp_gap_cases())
    return Case(
        identity_policies=[Policy.of("policy", json.dumps(identity), "user-managed")],
        scps=[[Policy.of(f"scp-{level}", json.dumps(scp), "scp")] for level, scp in enumerate(scps)],
        requests=requests,
    )


@st.composite
def _boundary_deny(draw: st.DrawFn) -> Case:
    """A Deny in the boundary over an identity Allow (``strategies.edges.boundary_deny_cases``)."""
    identity, boundary, requests = draw(boundary_deny_cases())
    return Case(
        identity_policies=[Policy.of("policy", json.dumps(identity), "user-managed")],
        permissions_boundary=Policy.of("boundary", json.dumps(boundary), "boundary"),
        requests=requests,
    )


@pytest.mark.parametrize("version", ANCHOR_VERSIONS)
def test_anchor_policy(
    conformance_target: Target, harness: HarnessState, request: pytest.FixtureRequest, version: str
) -> None:
    """AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy, each version, requests aimed at its edges."""
    require_feature(conformance_target, "anchor")
    text = anchor_policy(version)  # type: ignore[arg-type]
    aim = aim_of(conformance_target)

    @st.composite
    def anchor_cases(draw: st.DrawFn) -> Case:
        requests = draw(
            st.lists(
                aimed_requests(policy=text, simulator_safe=aim.simulator_safe, catalog_only=aim.catalog_only),
                min_size=1,
                max_size=4,
            )
        )
        policy = Policy.of(f"anchor-{version}", text, "aws-managed")
        return Case(id=f"anchor-{version}", identity_policies=[policy], requests=requests)

    _run(harness, conformance_target, request, anchor_cases())
