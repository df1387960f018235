"""The iam-simulate target: its case mapping, its worker process, and what it answers.

Most tests talk to the real worker (``node conformance/targets/iam_simulate_worker.mjs``
and the npm package installed by ``npm ci`` in ``conformance/``).  They are skipped
when node or the package is missing, unless ``IAMCONF_REQUIRE_NODE=1`` (the CI sets
it), in which case they fail.  Process-control tests use small fake workers written
in Python, and the mapping helpers are tested without any process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.features import FEATURES
from conformance.targets import iam_simulate
from conformance.targets.base import Check, Target, TargetAnswer, TargetFailure, TargetUnavailable, Unsupported
from conformance.targets.iam_simulate import IamSimulateTarget
from reference.compiled import PolicyCache
from reference.evaluator import CaseInputError, evaluate_case
from reference.fixtures import anchor_policy
from reference.model import Case, CaseResult, ContextEntry, ContextKeyType, Policy, Request
from tests.support import ROLE, SESSION, USER, allow, deny, doc, policy

PINNED = "0.1.173"
ACCOUNT = "111122223333"
OTHER = "444455556666"
OBJECT = "arn:aws:s3:::bucket/key"
REQUIRE_NODE = os.environ.get("IAMCONF_REQUIRE_NODE") == "1"


# -- helpers ----------------------------------------------------------------------


def case(
    *identity: dict[str, Any] | str,
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    context: list[ContextEntry] | None = None,
    **fields: Any,
) -> Case:
    for name in ("permissions_boundary", "session_policy", "resource_policy"):
        if isinstance(fields.get(name), (dict, str)):
            fields[name] = policy(fields[name], id=name)
    for name in ("scps", "rcps"):
        if name in fields:
            fields[name] = [
                [policy(d, id=f"{name}-{lvl}-{i}") for i, d in enumerate(level)]
                for lvl, level in enumerate(fields[name])
            ]
    return Case(
        identity_policies=[policy(d, id=f"id{i}") for i, d in enumerate(identity)],
        requests=[Request(action=action, resource=resource, context=context or [])],
        **fields,
    )


def entry(key: str, type_: ContextKeyType, *values: str) -> ContextEntry:
    return ContextEntry(key=key, type=type_, values=list(values))


def cond(operator: str, key: str, value: str | list[str], action: str = "s3:GetObject") -> dict[str, Any]:
    return doc(allow(action, "*", Condition={operator: {key: value}}))


def rp(principal: str, action: str = "s3:GetObject") -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": "*"})


FULL_RCP = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})


def rcp_deny(action: str, **extra: Any) -> dict[str, Any]:
    return doc({"Effect": "Deny", "Principal": "*", "Action": action, "Resource": "*", **extra})


def outcome(answer: TargetAnswer) -> str:
    """A decision, or ``failure: message`` / ``unsupported: reason``."""
    if isinstance(answer, CaseResult):
        assert len(answer.results) == 1
        return answer.results[0].decision.value
    if isinstance(answer, TargetFailure):
        return f"failure: {answer.message}"
    return f"unsupported: {answer.reason}"


_CACHE = PolicyCache()


def reference(c: Case) -> str:
    try:
        return evaluate_case(c, _CACHE).results[0].decision.value
    except CaseInputError as e:
        return f"rejected: {e.error.code}"


# -- the real worker ----------------------------------------------------------------


def _real_worker_or_skip() -> None:
    try:
        iam_simulate.find_node()
        iam_simulate.installed_version()
    except TargetUnavailable as e:
        if REQUIRE_NODE:
            pytest.fail(f"IAMCONF_REQUIRE_NODE=1 but the iam-simulate target cannot run: {e.reason}")
        pytest.skip(f"iam-simulate target unavailable: {e.reason}")


@pytest.fixture(scope="module")
def target() -> Iterator[IamSimulateTarget]:
    _real_worker_or_skip()
    t = IamSimulateTarget(timeout=60)
    t.start()
    yield t
    t.stop()


def sim(t: IamSimulateTarget, c: Case) -> str:
    [answer] = t.answer([c])
    return outcome(answer)


def test_node_and_package_installed_when_required() -> None:
    """Fails, never skips, when IAMCONF_REQUIRE_NODE=1 and node or the npm package is missing."""
    if not REQUIRE_NODE:
        pytest.skip("set IAMCONF_REQUIRE_NODE=1 to require node and the npm package")
    assert iam_simulate.find_node()
    assert iam_simulate.installed_version() == PINNED


def test_target_protocol_and_capabilities() -> None:
    t = IamSimulateTarget()
    assert isinstance(t, Target)
    assert t.name == "iam-simulate"
    assert t.capabilities.checks == frozenset({Check.DECISION})
    assert t.capabilities.features <= set(FEATURES)
    assert "version-2008" not in t.capabilities.features


def test_package_json_pins_exact_version() -> None:
    package_dir = iam_simulate.PACKAGE_DIR
    manifest = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    assert manifest["private"] is True
    assert manifest["dependencies"] == {iam_simulate.PACKAGE: PINNED}
    lock = json.loads((package_dir / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][f"node_modules/{iam_simulate.PACKAGE}"]["version"] == PINNED


# -- hand cases: iam-simulate and the reference agree --------------------------------

AGREED: dict[str, tuple[Case, str]] = {
    "allow": (case(doc(allow("s3:GetObject"))), "allowed"),
    "explicit deny": (case(doc(allow("s3:*"), deny("s3:GetObject", "arn:aws:s3:::bucket/*"))), "explicitDeny"),
    "implicit deny": (case(doc(allow("s3:PutObject"))), "implicitDeny"),
    "no policies": (case(), "implicitDeny"),
    "action wildcard ?": (case(doc(allow("s3:GetObjec?"))), "allowed"),
    "action case": (case(doc(allow("S3:getobject"))), "allowed"),
    "resource case": (case(doc(allow("s3:GetObject", "arn:aws:s3:::Bucket/*"))), "implicitDeny"),
    "NotAction allow": (case(doc({"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": "*"})), "allowed"),
    "NotAction allow excludes": (
        case(doc({"Effect": "Allow", "NotAction": "s3:Get*", "Resource": "*"})),
        "implicitDeny",
    ),
    "NotAction deny": (
        case(doc(allow("*"), {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}), action="s3:PutObject"),
        "explicitDeny",
    ),
    "NotResource": (
        case(doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::o/*"})),
        "allowed",
    ),
    "variable": (
        case(
            doc(allow("s3:GetObject", "arn:aws:s3:::${aws:username}/*")),
            context=[entry("aws:username", "string", "bucket")],
        ),
        "allowed",
    ),
    "variable default": (case(doc(allow("s3:GetObject", "arn:aws:s3:::${aws:username, 'bucket'}/*"))), "allowed"),
    # one condition per context type
    "string": (
        case(cond("StringEquals", "aws:username", "alice"), context=[entry("aws:username", "string", "alice")]),
        "allowed",
    ),
    "string mismatch": (
        case(cond("StringEquals", "aws:username", "alice"), context=[entry("aws:username", "string", "bob")]),
        "implicitDeny",
    ),
    "stringList": (
        case(
            cond("ForAnyValue:StringEquals", "aws:TagKeys", "team"),
            context=[entry("aws:TagKeys", "stringList", "owner", "team")],
        ),
        "allowed",
    ),
    "stringList ForAllValues": (
        case(
            cond("ForAllValues:StringEquals", "aws:TagKeys", ["team", "owner"]),
            context=[entry("aws:TagKeys", "stringList", "owner", "cost")],
        ),
        "implicitDeny",
    ),
    "numeric": (
        case(
            cond("NumericLessThan", "aws:MultiFactorAuthAge", "3600"),
            context=[entry("aws:MultiFactorAuthAge", "numeric", "10")],
        ),
        "allowed",
    ),
    "numericList": (
        case(
            cond("NumericEquals", "aws:MultiFactorAuthAge", "10"),
            context=[entry("aws:MultiFactorAuthAge", "numericList", "10.0")],
        ),
        "allowed",
    ),
    "boolean": (
        case(cond("Bool", "aws:SecureTransport", "true"), context=[entry("aws:SecureTransport", "boolean", "TRUE")]),
        "allowed",
    ),
    "booleanList": (
        case(
            cond("Bool", "aws:SecureTransport", "true"), context=[entry("aws:SecureTransport", "booleanList", "false")]
        ),
        "implicitDeny",
    ),
    "ip": (
        case(cond("IpAddress", "aws:SourceIp", "203.0.113.0/24"), context=[entry("aws:SourceIp", "ip", "203.0.113.7")]),
        "allowed",
    ),
    "ipList": (
        case(
            cond("NotIpAddress", "aws:SourceIp", "203.0.113.0/24"),
            context=[entry("aws:SourceIp", "ipList", "10.0.0.1")],
        ),
        "allowed",
    ),
    "ipv6": (
        case(cond("IpAddress", "aws:SourceIp", "2001:db8::/32"), context=[entry("aws:SourceIp", "ip", "2001:db8::1")]),
        "allowed",
    ),
    "binary": (
        case(cond("BinaryEquals", "aws:username", "QQ=="), context=[entry("aws:username", "binary", "QQ==")]),
        "allowed",
    ),
    "binaryList": (
        case(cond("BinaryEquals", "aws:username", "QQ=="), context=[entry("aws:username", "binaryList", "Qg==")]),
        "implicitDeny",
    ),
    "date": (
        case(
            cond("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"),
            context=[entry("aws:CurrentTime", "date", "2024-06-01T12:00:00Z")],
        ),
        "allowed",
    ),
    "date epoch both sides": (
        case(
            cond("DateGreaterThan", "aws:EpochTime", "1577836800"),
            context=[entry("aws:EpochTime", "date", "1560000000")],
        ),
        "implicitDeny",
    ),
    "dateList": (
        case(
            cond("DateEquals", "aws:CurrentTime", "2020-01-01"),
            context=[entry("aws:CurrentTime", "dateList", "2020-01-01T00:00:00Z")],
        ),
        "allowed",
    ),
    "arn (string type)": (
        case(
            cond("ArnLike", "aws:SourceArn", "arn:aws:sns:*:*:topic"),
            context=[entry("aws:SourceArn", "string", f"arn:aws:sns:us-east-1:{ACCOUNT}:topic")],
        ),
        "allowed",
    ),
    "resource tag of an S3 object": (
        case(
            cond("StringEquals", "aws:ResourceTag/env", "prod"),
            context=[entry("aws:ResourceTag/env", "string", "prod")],
        ),
        "allowed",
    ),
    "tag key in key name": (
        case(
            cond("StringEquals", "aws:PrincipalTag/team", "x"), context=[entry("aws:PrincipalTag/team", "string", "x")]
        ),
        "allowed",
    ),
    "key name case": (
        case(cond("StringEquals", "aws:username", "x"), context=[entry("AWS:UserName", "string", "x")]),
        "allowed",
    ),
    "IfExists absent": (case(cond("StringEqualsIfExists", "aws:username", "x")), "allowed"),
    "Null absent": (case(cond("Null", "aws:username", "true")), "allowed"),
    "condition key absent": (case(cond("StringEquals", "aws:username", "x")), "implicitDeny"),
    "ForAllValues absent": (case(cond("ForAllValues:StringEquals", "aws:TagKeys", "x")), "allowed"),
    "ForAnyValue absent": (case(cond("ForAnyValue:StringEquals", "aws:TagKeys", "a")), "implicitDeny"),
    "ForAnyValue empty list": (
        case(cond("ForAnyValue:StringEquals", "aws:TagKeys", "a"), context=[entry("aws:TagKeys", "stringList")]),
        "implicitDeny",
    ),
    "no context derived from the caller": (
        case(cond("StringEquals", "aws:PrincipalArn", USER), caller_arn=USER),
        "implicitDeny",
    ),
    # permissions boundary
    "boundary allows": (case(doc(allow("s3:GetObject")), permissions_boundary=doc(allow("s3:*"))), "allowed"),
    "boundary does not allow": (
        case(doc(allow("s3:GetObject")), permissions_boundary=doc(allow("s3:PutObject"))),
        "implicitDeny",
    ),
    "boundary denies": (
        case(doc(allow("s3:GetObject")), permissions_boundary=doc(allow("*"), deny("s3:GetObject"))),
        "explicitDeny",
    ),
    # session policy (a role session)
    "session allows": (
        case(doc(allow("s3:GetObject")), session_policy=doc(allow("s3:*")), caller_arn=SESSION),
        "allowed",
    ),
    "session does not allow": (
        case(doc(allow("s3:GetObject")), session_policy=doc(allow("s3:PutObject")), caller_arn=SESSION),
        "implicitDeny",
    ),
    "session alone grants nothing": (case(session_policy=doc(allow("*")), caller_arn=SESSION), "implicitDeny"),
    # resource policy, same account
    "rp names user, no identity policy": (case(resource_policy=rp(USER), caller_arn=USER), "allowed"),
    "rp names user, boundary does not allow": (
        case(resource_policy=rp(USER), permissions_boundary=doc(allow("s3:PutObject")), caller_arn=USER),
        "allowed",
    ),
    "rp names role, session caller": (case(resource_policy=rp(ROLE), caller_arn=SESSION), "allowed"),
    "rp names role, session policy does not allow": (
        case(resource_policy=rp(ROLE), session_policy=doc(allow("s3:PutObject")), caller_arn=SESSION),
        "implicitDeny",
    ),
    "rp names session, boundary does not allow": (
        case(resource_policy=rp(SESSION), permissions_boundary=doc(allow("s3:PutObject")), caller_arn=SESSION),
        "allowed",
    ),
    "rp names account, no identity policy": (case(resource_policy=rp(ACCOUNT), caller_arn=USER), "implicitDeny"),
    "rp names other user": (
        case(resource_policy=rp(f"arn:aws:iam::{ACCOUNT}:user/bob"), caller_arn=USER),
        "implicitDeny",
    ),
    "rp denies": (
        case(
            doc(allow("s3:GetObject")),
            resource_policy=doc({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}),
        ),
        "explicitDeny",
    ),
    "NotPrincipal deny with boundary": (
        case(
            doc(allow("s3:GetObject")),
            permissions_boundary=doc(allow("*")),
            resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "*", "Resource": "*"}),
            caller_arn=USER,
        ),
        "explicitDeny",
    ),
    # resource policy, cross account
    "cross-account both allow": (
        case(
            doc(allow("s3:GetObject")),
            resource_policy=rp(USER),
            caller_arn=USER,
            resource_owner=f"arn:aws:iam::{OTHER}:root",
        ),
        "allowed",
    ),
    "cross-account only rp": (
        case(resource_policy=rp(USER), caller_arn=USER, resource_owner=f"arn:aws:iam::{OTHER}:root"),
        "implicitDeny",
    ),
    "cross-account only identity": (
        case(doc(allow("s3:GetObject")), caller_arn=USER, resource_owner=f"arn:aws:iam::{OTHER}:root"),
        "implicitDeny",
    ),
    "cross-account rp names caller account (bare owner id)": (
        case(doc(allow("s3:GetObject")), resource_policy=rp(ACCOUNT), caller_arn=USER, resource_owner=OTHER),
        "allowed",
    ),
    # SCP levels, root first
    "scp allow at every level": (
        case(doc(allow("s3:GetObject")), scps=[[doc(allow("*"))], [doc(allow("s3:*"))]]),
        "allowed",
    ),
    "scp level without allow": (
        case(doc(allow("s3:GetObject")), scps=[[doc(allow("*"))], [doc(allow("ec2:*"))]]),
        "implicitDeny",
    ),
    "scp empty level": (case(doc(allow("s3:GetObject")), scps=[[]]), "implicitDeny"),
    "scp denies": (
        case(doc(allow("s3:GetObject")), scps=[[doc(allow("*"))], [doc(allow("*")), doc(deny("s3:GetObject"))]]),
        "explicitDeny",
    ),
    "scp condition": (
        case(
            doc(allow("s3:GetObject")),
            scps=[[doc(allow("*"), deny("s3:*", Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}))]],
            context=[entry("aws:RequestedRegion", "string", "us-east-1")],
        ),
        "explicitDeny",
    ),
    "scp does not grant": (case(scps=[[doc(allow("*"))]]), "implicitDeny"),
    # RCP levels (RCPFullAWSAccess at each level, as AWS attaches it)
    "rcp full access": (case(doc(allow("s3:GetObject")), rcps=[[FULL_RCP], [FULL_RCP]]), "allowed"),
    "rcp denies at account level": (
        case(doc(allow("s3:GetObject")), rcps=[[FULL_RCP], [FULL_RCP, rcp_deny("s3:GetObject")]]),
        "explicitDeny",
    ),
    "rcp deny with condition not met": (
        case(
            doc(allow("s3:GetObject")),
            rcps=[[FULL_RCP, rcp_deny("s3:*", Condition={"BoolIfExists": {"aws:SecureTransport": "false"}})]],
            context=[entry("aws:SecureTransport", "boolean", "true")],
        ),
        "allowed",
    ),
    "rcp does not grant": (case(rcps=[[FULL_RCP]]), "implicitDeny"),
}


@pytest.mark.parametrize("name", list(AGREED))
def test_agrees_with_reference(target: IamSimulateTarget, name: str) -> None:
    c, expected = AGREED[name]
    assert reference(c) == expected, "the hand case's expectation no longer matches the reference"
    assert sim(target, c) == expected


def test_all_agreed_cases_in_one_call(target: IamSimulateTarget) -> None:
    """One batch, many cases: answers come back in order."""
    names = list(AGREED)
    answers = target.answer([AGREED[n][0] for n in names])
    assert [outcome(a) for a in answers] == [AGREED[n][1] for n in names]


def test_batches_split_and_keep_order() -> None:
    _real_worker_or_skip()
    cases = [AGREED[n][0] for n in AGREED] * 3
    with IamSimulateTarget(max_batch_requests=7) as t:
        answers = t.answer(cases)
    assert [outcome(a) for a in answers] == [AGREED[n][1] for n in AGREED] * 3


def test_result_shape(target: IamSimulateTarget) -> None:
    c = case(
        doc(allow("s3:GetObject")),
        permissions_boundary=doc(allow("s3:*")),
        scps=[[doc(allow("*"))], [doc(allow("ec2:*"))]],
    )
    c = Case(
        id="shape",
        identity_policies=c.identity_policies,
        permissions_boundary=c.permissions_boundary,
        scps=c.scps,
        requests=[Request("s3:GetObject", OBJECT), Request("s3:PutObject", OBJECT)],
    )
    [answer] = target.answer([c])
    assert isinstance(answer, CaseResult)
    assert answer.id == "shape"
    assert [(r.action, r.resource) for r in answer.results] == [("s3:GetObject", OBJECT), ("s3:PutObject", OBJECT)]
    first = answer.results[0]
    assert first.matched_statements == [] and first.missing_context_values == []
    assert first.details.boundary_allowed is True
    assert first.details.organizations_allowed is False
    assert answer.results[1].details.boundary_allowed is True


# -- the anchor policy v3 -------------------------------------------------------------------

_R = f"us-east-1:{ACCOUNT}"
ANCHOR_REQUESTS: list[tuple[str, str, list[ContextEntry]]] = [
    (
        "apigateway:GET",
        "arn:aws:apigateway:us-east-1::/restapis/a",
        [entry("aws:ResourceTag/sagemaker:launch-source", "string", "SC")],
    ),
    ("apigateway:GET", "arn:aws:apigateway:us-east-1::/restapis/a", []),
    (
        "apigateway:POST",
        "arn:aws:apigateway:us-east-1::/restapis",
        [entry("aws:TagKeys", "stringList", "sagemaker:launch-source", "x")],
    ),
    ("apigateway:POST", "arn:aws:apigateway:us-east-1::/restapis", [entry("aws:TagKeys", "stringList", "other")]),
    ("apigateway:PATCH", "arn:aws:apigateway:eu-west-1::/account", []),
    ("cloudformation:CreateStack", f"arn:aws:cloudformation:{_R}:stack/SC-1/a", []),
    (
        "cloudformation:CreateStack",
        f"arn:aws:cloudformation:{_R}:stack/SC-1/a",
        [
            entry(
                "cloudformation:RoleArn",
                "string",
                f"arn:aws:sts::{ACCOUNT}:assumed-role/AmazonSageMakerServiceCatalogX/s",
            )
        ],
    ),
    (
        "cloudformation:CreateStack",
        f"arn:aws:cloudformation:{_R}:stack/SC-1/a",
        [entry("cloudformation:RoleArn", "string", f"arn:aws:iam::{ACCOUNT}:role/Other")],
    ),
    ("cloudformation:DescribeStacks", f"arn:aws:cloudformation:{_R}:stack/Other/a", []),
    ("cloudformation:ValidateTemplate", "*", []),
    ("codebuild:CreateProject", f"arn:aws:codebuild:{_R}:project/sagemaker-x", []),
    ("codebuild:CreateProject", f"arn:aws:codebuild:{_R}:project/other", []),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole", []),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/AmazonSageMakerServiceCatalogProductsUseRole", []),
    ("lambda:InvokeFunction", f"arn:aws:lambda:{_R}:function:sagemaker-fn", []),
    ("lambda:invokefunction", f"arn:aws:lambda:{_R}:function:SageMaker-fn", []),
    ("s3:GetObject", "arn:aws:s3:::sagemaker-bucket/key", []),
    (
        "s3:GetObject",
        "arn:aws:s3:::other/key",
        [entry("s3:ExistingObjectTag/servicecatalog:provisioning", "string", "true")],
    ),
    (
        "s3:GetObject",
        "arn:aws:s3:::other/key",
        [entry("s3:ExistingObjectTag/servicecatalog:provisioning", "string", "false")],
    ),
    ("s3:PutObject", "arn:aws:s3:::sagemaker-new/key", []),
    ("sagemaker:CreateModel", f"arn:aws:sagemaker:{_R}:model/m", []),
    (
        "codestar-connections:PassConnection",
        f"arn:aws:codestar-connections:{_R}:connection/c",
        [entry("codestar-connections:PassedToService", "string", "codepipeline.amazonaws.com")],
    ),
    (
        "codestar-connections:PassConnection",
        f"arn:aws:codestar-connections:{_R}:connection/c",
        [entry("codestar-connections:PassedToService", "string", "codebuild.amazonaws.com")],
    ),
    ("logs:CreateLogGroup", f"arn:aws:logs:{_R}:log-group:/aws/apigateway/AccessLogs/x", []),
]


def test_anchor_v3_matches_reference(target: IamSimulateTarget) -> None:
    anchor = Policy.of("anchor-v3", anchor_policy("v3"), "aws-managed")
    requests = [Request(action=a, resource=r, context=c) for a, r, c in ANCHOR_REQUESTS]
    c = Case(id="anchor", identity_policies=[anchor], requests=requests)
    expected = evaluate_case(c, PolicyCache())
    [answer] = target.answer([c])
    assert isinstance(answer, CaseResult), answer
    got = [(r.action, r.resource, r.decision.value) for r in answer.results]
    assert got == [(r.action, r.resource, r.decision.value) for r in expected.results]
    decisions = {r.decision.value for r in expected.results}
    assert decisions == {"allowed", "implicitDeny"}  # the hand-picked requests exercise both ways


# -- documented divergences (IAM_SIMULATE.md): pinned so a new version that changes them is noticed --

DIVERGENCES: dict[str, tuple[Case, str, str]] = {
    # name: (case, iam-simulate's answer (prefix), the reference's answer)
    "multi-valued key without set operator": (
        case(cond("StringEquals", "aws:TagKeys", "x"), context=[entry("aws:TagKeys", "stringList", "x")]),
        "implicitDeny",
        "allowed",
    ),
    "single-valued key given two values": (
        case(cond("StringEquals", "aws:username", "y"), context=[entry("aws:username", "stringList", "x", "y")]),
        "implicitDeny",
        "allowed",
    ),
    "date: epoch seconds against an ISO 8601 time": (
        case(
            cond("DateGreaterThan", "aws:CurrentTime", "1577836800"),
            context=[entry("aws:CurrentTime", "date", "2019-06-01T00:00:00Z")],
        ),
        "allowed",
        "implicitDeny",
    ),
    "variable escape ${*} in StringEquals": (
        case(cond("StringEquals", "aws:username", "a${*}b"), context=[entry("aws:username", "string", "a*b")]),
        "implicitDeny",
        "allowed",
    ),
    "NumericNotEquals with a non-number context value": (
        case(
            cond("NumericNotEquals", "aws:MultiFactorAuthAge", "10"),
            context=[entry("aws:MultiFactorAuthAge", "numeric", "abc")],
        ),
        "implicitDeny",
        "allowed",
    ),
    "ForAnyValue with IfExists, key absent": (
        case(cond("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", "a")),
        "implicitDeny",
        "allowed",
    ),
    "number in exponent form": (
        case(
            cond("NumericEquals", "aws:MultiFactorAuthAge", "1e1"),
            context=[entry("aws:MultiFactorAuthAge", "numeric", "10")],
        ),
        "implicitDeny",
        "allowed",
    ),
    "BinaryEquals value without padding": (
        case(cond("BinaryEquals", "aws:username", "QQ"), context=[entry("aws:username", "binary", "QQ==")]),
        "implicitDeny",
        "rejected: invalid-condition-value",
    ),
    "NotPrincipal with Allow": (
        case(
            resource_policy=doc(
                {
                    "Effect": "Allow",
                    "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:user/x"},
                    "Action": "*",
                    "Resource": "*",
                }
            ),
            caller_arn=USER,
        ),
        "allowed",
        "rejected: notprincipal-with-allow",
    ),
    "wildcard in a principal ARN": (
        case(resource_policy=rp(f"arn:aws:iam::{ACCOUNT}:user/*"), caller_arn=USER),
        "implicitDeny",
        "rejected: wildcard-in-principal",
    ),
    "empty Statement list": (case(doc()), "implicitDeny", "rejected: empty-statement"),
    "unknown condition operator": (
        case(cond("StringFoo", "aws:username", "x"), context=[entry("aws:username", "string", "x")]),
        "implicitDeny",
        "rejected: unknown-operator",
    ),
    "operator name in lower case": (
        case(cond("stringequals", "aws:username", "x"), context=[entry("aws:username", "string", "x")]),
        "allowed",
        "rejected: unknown-operator",
    ),
    "unknown global key is dropped": (
        case(cond("StringEquals", "aws:FooBar", "x"), context=[entry("aws:FooBar", "string", "x")]),
        "implicitDeny",
        "allowed",
    ),
    "key of another action is dropped": (
        case(cond("StringEquals", "s3:prefix", "x"), context=[entry("s3:prefix", "string", "x")]),
        "implicitDeny",
        "allowed",
    ),
    "variables in a 2008-10-17 policy": (
        case(
            {"Version": "2008-10-17", "Statement": [allow("s3:GetObject", "arn:aws:s3:::${aws:username}/*")]},
            context=[entry("aws:username", "string", "bucket")],
        ),
        "allowed",
        "implicitDeny",
    ),
    "variables in a policy without Version": (
        case(
            {"Statement": [allow("s3:GetObject", "arn:aws:s3:::${aws:username}/*")]},
            context=[entry("aws:username", "string", "bucket")],
        ),
        "allowed",
        "implicitDeny",
    ),
    "rp names the session, session policy does not allow": (
        case(resource_policy=rp(SESSION), session_policy=doc(allow("s3:PutObject")), caller_arn=SESSION),
        "implicitDeny",
        "allowed",
    ),
    "rcp level without an allow": (
        case(doc(allow("s3:GetObject")), rcps=[[rcp_deny("s3:PutObject")]]),
        "allowed",
        "implicitDeny",
    ),
    "rcp on a service without RCP support": (
        case(doc(allow("*")), action="ec2:DescribeInstances", resource="*", rcps=[[FULL_RCP, rcp_deny("ec2:*")]]),
        "explicitDeny",
        "allowed",
    ),
    "rcp with a narrower Allow": (
        case(
            doc(allow("s3:GetObject")),
            rcps=[[doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})]],
        ),
        "unsupported: iam-simulate refuses RCPs with an Allow other than RCPFullAWSAccess",
        "allowed",
    ),
    "rcp Deny with Action *": (
        case(doc(allow("s3:GetObject")), rcps=[[FULL_RCP, rcp_deny("*")]]),
        "unsupported: iam-simulate refuses RCPs with an Allow other than RCPFullAWSAccess",
        "explicitDeny",
    ),
    "unknown service": (
        case(doc(allow("*")), action="foo:Bar"),
        "unsupported: request 0 (foo:Bar on arn:aws:s3:::bucket/key): iam-simulate refuses a service outside",
        "allowed",
    ),
    "session policy for an IAM user": (
        case(doc(allow("s3:GetObject")), session_policy=doc(allow("*")), caller_arn=USER),
        "unsupported: request 0 (s3:GetObject on arn:aws:s3:::bucket/key): iam-simulate refuses a session policy",
        "allowed",
    ),
    "resource of another type than the action's": (
        case(doc(allow("s3:GetObject")), resource="arn:aws:s3:::bucket"),
        "unsupported: request 0 (s3:GetObject on arn:aws:s3:::bucket): iam-simulate refuses a resource of none",
        "allowed",
    ),
    "wildcard-only action with a resource ARN": (
        case(doc(allow("s3:ListAllMyBuckets")), action="s3:ListAllMyBuckets", resource="arn:aws:s3:::bucket"),
        "unsupported: request 0 (s3:ListAllMyBuckets on arn:aws:s3:::bucket): iam-simulate refuses a specific ARN",
        "allowed",
    ),
    "unknown action": (
        case(doc(allow("s3:*")), action="s3:FooBar"),
        "unsupported: request 0 (s3:FooBar on arn:aws:s3:::bucket/key): iam-simulate refuses an action outside",
        "allowed",
    ),
    "resource * for an action with resource types": (
        case(doc(allow("s3:GetObject", "arn:aws:s3:::bucket/*")), resource="*"),
        "unsupported: request 0 (s3:GetObject on *)",
        "implicitDeny",
    ),
}


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_documented_divergence(target: IamSimulateTarget, name: str) -> None:
    c, simulated, referenced = DIVERGENCES[name]
    assert reference(c) == referenced
    assert sim(target, c).startswith(simulated)


def test_wildcard_answer_when_asked() -> None:
    _real_worker_or_skip()
    c, _, _ = DIVERGENCES["resource * for an action with resource types"]
    with IamSimulateTarget(answer_wildcards=True) as t:
        assert sim(t, c) == "allowed"


def test_wildcard_only_action_with_star_is_answered(target: IamSimulateTarget) -> None:
    c = case(doc(allow("s3:ListAllMyBuckets")), action="s3:ListAllMyBuckets", resource="*")
    assert sim(target, c) == reference(c) == "allowed"


# -- failures stay with their case ---------------------------------------------------------


def test_bad_request_fails_its_case_only(target: IamSimulateTarget) -> None:
    good = case(doc(allow("s3:GetObject")))
    bad_action = case(doc(allow("s3:GetObject")), action="s3:NoSuchAction")
    not_json = Case(identity_policies=[Policy.of("broken", "{not json")], requests=[Request("s3:GetObject", OBJECT)])
    invalid_policy = case(doc({"Effect": "Allow", "Action": "s3:GetObject"}))  # no Resource
    two_requests = Case(
        identity_policies=good.identity_policies,
        requests=[Request("s3:GetObject", OBJECT), Request("s3:GetObject", "arn:aws:s3:::bucket")],
    )
    answers = target.answer([good, bad_action, good, not_json, invalid_policy, two_requests, good])
    # A request iam-simulate's catalogue refuses is Unsupported (it cannot express it); a policy
    # it cannot read is a TargetFailure.
    assert [type(a) for a in answers] == [
        CaseResult,
        Unsupported,
        CaseResult,
        TargetFailure,
        TargetFailure,
        Unsupported,
        CaseResult,
    ]
    reasons = [a.reason for a in answers if isinstance(a, Unsupported)]
    assert "invalid.action" in reasons[0]
    assert "request 1" in reasons[1] and "no.resource.types" in reasons[1]
    messages = [a.message for a in answers if isinstance(a, TargetFailure)]
    assert "broken" in messages[0] and "not JSON" in messages[0]
    assert "policy.errors" in messages[1] and "id0" in messages[1]
    assert target.worker_process is not None and target.worker_process.poll() is None


def test_contexts_with_odd_keys_do_not_break_the_worker(target: IamSimulateTarget) -> None:
    c = case(
        doc(allow("s3:GetObject")),
        context=[entry("nocolon", "string", "x"), entry("aws:TagKeys", "stringList"), entry("a:b", "string")],
    )
    assert sim(target, c) == "allowed"


# -- process control (fake workers) ----------------------------------------------------------

_HANG_FOREVER = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)\n"
_NEVER_ANSWER = "import sys, time\nfor line in sys.stdin:\n    time.sleep(600)\n"
_EXIT_AT_ONCE = "import sys\nsys.stderr.write('boom\\n')\nsys.exit(3)\n"
# Answers every request "Allowed", but hangs on a batch that mentions the action x:Hang.
_FAKE = """
import json, sys, time
for line in sys.stdin:
    batch = json.loads(line)
    if "x:Hang" in line:
        time.sleep(600)
    answers = [{"results": [{"decision": "Allowed", "shape": "single"} for _ in c["requests"]]} for c in batch["cases"]]
    sys.stdout.write(json.dumps({"id": batch["id"], "answers": answers}) + "\\n")
    sys.stdout.flush()
"""


def fake(code: str, **kw: Any) -> IamSimulateTarget:
    return IamSimulateTarget(command=[sys.executable, "-c", code], **kw)


def test_stop_kills_a_hung_worker() -> None:
    t = fake(_HANG_FOREVER, grace=0.3, handshake=False)
    t.start()
    proc = t.worker_process
    assert proc is not None and proc.poll() is None
    started = time.monotonic()
    t.stop()
    assert time.monotonic() - started < 5
    assert proc.returncode is not None and proc.returncode != 0
    assert t.worker_process is None
    t.stop()  # idempotent


def test_stop_before_start_is_a_no_op() -> None:
    IamSimulateTarget().stop()


def test_batch_timeout_kills_the_worker_and_fails_the_batch() -> None:
    t = fake(_NEVER_ANSWER, timeout=0.5, handshake=False)
    t.start()
    proc = t.worker_process
    started = time.monotonic()
    answers = t.answer([case(doc(allow())), case(doc(allow()))])
    assert time.monotonic() - started < 5
    assert len(answers) == 2
    assert all(isinstance(a, TargetFailure) and "no answer within" in a.message for a in answers)
    assert proc is not None and proc.returncode is not None
    t.stop()


def test_a_fresh_worker_after_a_hang() -> None:
    with fake(_FAKE, timeout=0.5) as t:
        [hung] = t.answer([case(doc(allow()), action="x:Hang")])
        assert isinstance(hung, TargetFailure)
        [ok] = t.answer([case(doc(allow()))])
        assert outcome(ok) == "allowed"
        assert t.stats.extra["worker_failures"] == 1


def test_a_dead_worker_is_a_failure_with_its_stderr() -> None:
    t = fake(_EXIT_AT_ONCE, timeout=5, handshake=False)
    t.start()
    [answer] = t.answer([case(doc(allow()))])
    assert isinstance(answer, TargetFailure)
    assert "exit status 3" in answer.message and "boom" in answer.message
    t.stop()


def test_a_worker_that_cannot_start_is_unavailable() -> None:
    t = fake(_EXIT_AT_ONCE, timeout=5)
    with pytest.raises(TargetUnavailable, match=r"does not answer.*boom"):
        t.start()
    assert t.worker_process is None
    t.stop()


def test_out_of_protocol_answer_is_a_failure() -> None:
    code = 'import sys\nfor line in sys.stdin:\n    print(\'{"id": 999, "answers": []}\', flush=True)\n'
    with fake(code, timeout=5, handshake=False) as t:
        [answer] = t.answer([case(doc(allow()))])
    assert isinstance(answer, TargetFailure) and "out-of-protocol" in answer.message


# -- unavailable -----------------------------------------------------------------------------


def test_no_node_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("conformance.targets.iam_simulate.shutil.which", lambda name: None)
    with pytest.raises(TargetUnavailable, match="node is not on PATH"):
        IamSimulateTarget().start()


def test_no_package_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailable, match="not installed"):
        iam_simulate.installed_version(tmp_path)


def test_another_installed_version_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {iam_simulate.PACKAGE: PINNED}}))
    installed = tmp_path / "node_modules" / iam_simulate.PACKAGE
    installed.mkdir(parents=True)
    (installed / "package.json").write_text(json.dumps({"version": "0.0.1"}))
    with pytest.raises(TargetUnavailable, match=f"0.0.1 is installed but {PINNED} is pinned"):
        iam_simulate.installed_version(tmp_path)
    (installed / "package.json").write_text(json.dumps({"version": PINNED}))
    assert iam_simulate.installed_version(tmp_path) == PINNED


# -- the mapping, without a process -----------------------------------------------------------


def test_context_variables() -> None:
    entries = [
        entry("aws:username", "string", "a"),
        entry("aws:TagKeys", "stringList", "x"),
        entry("aws:SourceIp", "ip", "10.0.0.1", "10.0.0.2"),
        entry("aws:Empty", "string"),
        entry("AWS:USERNAME", "string", "b"),
    ]
    assert iam_simulate.context_variables(entries) == {
        "aws:TagKeys": ["x"],
        "aws:SourceIp": ["10.0.0.1", "10.0.0.2"],
        "aws:Empty": [],
        "AWS:USERNAME": "b",
    }


def test_accounts() -> None:
    assert iam_simulate.account_of(f"arn:aws:iam::{OTHER}:root") == OTHER
    assert iam_simulate.account_of(OTHER) == OTHER
    assert iam_simulate.resource_account(case()) == ACCOUNT
    assert iam_simulate.resource_account(case(caller_arn=SESSION, resource_owner=OTHER)) == OTHER


def test_rcp_full_access_is_recognised() -> None:
    assert iam_simulate.is_rcp_full_access(policy(FULL_RCP))
    assert iam_simulate.is_rcp_full_access(
        policy(
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["*"], "Resource": "*"},
            }
        )
    )
    assert not iam_simulate.is_rcp_full_access(policy(rcp_deny("*")))
    assert not iam_simulate.is_rcp_full_access(
        policy(
            doc(
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"Bool": {"a:b": "true"}},
                }
            )
        )
    )
    assert not iam_simulate.is_rcp_full_access(policy("{not json"))


def test_batches_group_cases_by_request_count() -> None:
    one = case(doc(allow()))
    three = Case(requests=[Request("s3:GetObject", OBJECT)] * 3)
    spans = [list(span) for span, _ in iam_simulate.batches([one, three, one, one, three], 4)]
    assert spans == [[0, 1], [2, 3], [4]]
    [(_, batch)] = list(iam_simulate.batches([one, one], 10))
    assert len(batch.texts) == 1  # the same policy text travels once a batch
