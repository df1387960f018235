"""Cases aimed at the enforcement probes: every request is one a probe can make.

Requests name a probed action (``conformance.targets.probes``) on a resource
of the probe's kind in the emulator's account; policies name those actions
and resources exactly, by wildcards (``*``, ``?``, service and prefix
wildcards, another letter case), by ``NotAction``/``NotResource``, with
Allow and Deny, in several policies and sometimes a boundary, and no
conditions (a real call carries its own request context).  About one case in six is
``sts:AssumeRole`` requests alone, with the probe roles' trust policy as its resource policy
(``conformance.targets.probes.case_trust_policy``): AWS decides AssumeRole by the trust policy too.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from conformance.targets.probes import PROBES, REGION, Probe, case_trust_policy
from reference.model import Case, Policy, Request

BUCKETS = ("probe-bucket-a", "probe-bucket-b")
KEYS = ("data/report.txt", "data/other.txt", "public/index.html")
USERS = ("probe-alice", "probe-bob")
ROLES = ("probe-role-a", "probe-role-b")
QUEUES = ("probe-queue-a", "probe-queue-b")
CALLER_NAME = "probe-caller"


def resources_of(kind: str, account: str) -> list[str]:
    if kind == "bucket":
        return [f"arn:aws:s3:::{b}" for b in BUCKETS]
    if kind == "object":
        return [f"arn:aws:s3:::{b}/{k}" for b in BUCKETS for k in KEYS]
    if kind == "user":
        return [f"arn:aws:iam::{account}:user/{u}" for u in USERS]
    if kind == "role":
        return [f"arn:aws:iam::{account}:role/{r}" for r in ROLES]
    if kind == "queue":
        return [f"arn:aws:sqs:{REGION}:{account}:{q}" for q in QUEUES]
    raise ValueError(kind)


ASSUME_ROLE = "sts:AssumeRole"
# AssumeRole cases are cases of their own: they carry the probe roles' trust policy as resource policy,
# which would otherwise be read as the resource policy of the case's other requests too.
_NOT_ASSUME = tuple(p for p in PROBES if p.action != ASSUME_ROLE)


@st.composite
def probed_requests(draw: st.DrawFn, account: str, probes: tuple[Probe, ...] = PROBES) -> Request:
    probe = draw(st.sampled_from(probes))
    return Request(probe.action, draw(st.sampled_from(resources_of(probe.kind, account))))


def _assume_role_requests(account: str) -> st.SearchStrategy[Request]:
    return st.builds(Request, st.just(ASSUME_ROLE), st.sampled_from(resources_of("role", account)))


def _action_patterns(probe: Probe) -> st.SearchStrategy[str]:
    service, name = probe.action.split(":")
    return st.sampled_from(
        [
            probe.action,
            f"{service}:*",
            f"{service}:{name[:3]}*",
            f"{service}:{name[:-1]}?",
            probe.action.lower(),
            "*",
        ]
    )


def _resource_patterns(resource: str) -> st.SearchStrategy[str]:
    head, _, tail = resource.rpartition("/") if "/" in resource else resource.rpartition(":")
    sep = "/" if "/" in resource else ":"
    return st.sampled_from([resource, f"{head}{sep}*", f"{head}{sep}{tail[:-1]}?", f"{head}{sep}{tail.upper()}", "*"])


@st.composite
def probed_statement(draw: st.DrawFn, account: str, requests: list[Request]) -> dict[str, Any]:
    """A statement about one of the requests (or another probed action / resource)."""
    aim = draw(st.sampled_from(requests)) if draw(st.integers(0, 4)) else draw(probed_requests(account))
    probe = next(p for p in PROBES if p.action == aim.action)
    actions = draw(st.lists(_action_patterns(probe), min_size=1, max_size=2, unique=True))
    resources = draw(st.lists(_resource_patterns(aim.resource), min_size=1, max_size=2, unique=True))
    effect = draw(st.sampled_from(["Allow", "Allow", "Allow", "Deny"]))
    statement: dict[str, Any] = {"Effect": effect}
    action_key = "NotAction" if draw(st.integers(0, 7)) == 0 else "Action"
    resource_key = "NotResource" if draw(st.integers(0, 7)) == 0 else "Resource"
    statement[action_key] = actions[0] if len(actions) == 1 else actions
    statement[resource_key] = resources[0] if len(resources) == 1 else resources
    return statement


@st.composite
def probed_cases(draw: st.DrawFn, account: str, max_requests: int = 3, boundaries: bool = True) -> Case:
    assume = draw(st.integers(0, 5)) == 0
    some = _assume_role_requests(account) if assume else probed_requests(account, _NOT_ASSUME)
    requests = draw(st.lists(some, min_size=1, max_size=max_requests))
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2012-10-17", "2008-10-17"]))

    def document() -> str:
        statements = draw(st.lists(probed_statement(account, requests), min_size=1, max_size=3))
        return json.dumps({"Version": version, "Statement": statements}, indent=2)

    types = ["user", "user-managed", "group"]
    policies = [
        Policy.of(f"policy-{i}", document(), draw(st.sampled_from(types))) for i in range(draw(st.integers(1, 2)))
    ]
    boundary = Policy.of("boundary", document(), "boundary") if boundaries and draw(st.integers(0, 4)) == 0 else None
    return Case(
        requests=requests,
        identity_policies=policies,
        permissions_boundary=boundary,
        resource_policy=Policy.of("trust-policy", case_trust_policy(account), "resource") if assume else None,
        caller_arn=f"arn:aws:iam::{account}:user/{CALLER_NAME}",
    )
