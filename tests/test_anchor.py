"""The anchor policy's edges: AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy v1-v3.

For every statement without a condition, each Resource pattern is filled in
(so it must be granted) and nudged just outside (so it must not be, unless the
same action is granted on "*" elsewhere). The conditional statements have a
hand-written table: each condition met, violated and absent. Expected decisions
come from the policy text and the Guide's rules, never from the evaluator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from reference.fixtures import anchor_policy
from reference.model import ContextEntry, ContextKeyType
from tests.support import evaluate

ACCOUNT = "111122223333"
V3 = json.loads(anchor_policy("v3"))["Statement"]


def _fill(pattern: str) -> str:
    """Replace each wildcard by a plausible value for its ARN segment."""
    parts = pattern.split(":", 5)
    fill = {3: "us-east-1", 4: ACCOUNT}
    return ":".join(
        p.replace("*", fill.get(i, "x")) if p != "*" or i == 5 else fill.get(i, "x") for i, p in enumerate(parts)
    )


def _near_miss(pattern: str) -> str | None:
    """The filled ARN with the case of the first literal letter of its resource part flipped."""
    filled = _fill(pattern)
    head, _, tail = filled.rpartition(":")
    pattern_tail = pattern.rpartition(":")[2]
    m = re.search(r"[A-Za-z]", pattern_tail)
    if m is None:
        return None
    i = m.start()  # index in the pattern's tail: letters before the first "*" keep their place
    if "*" in pattern_tail[:i]:
        return None
    return f"{head}:{tail[:i]}{tail[i].swapcase()}{tail[i + 1 :]}"


def _as_list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else v


def _granted_on_star(action: str) -> bool:
    return any("Condition" not in s and action in _as_list(s["Action"]) and "*" in _as_list(s["Resource"]) for s in V3)


def _unconditional_edges() -> Iterator[object]:
    for index, s in enumerate(V3):
        if "Condition" in s:
            continue
        for action in _as_list(s["Action"]):
            for pattern in _as_list(s["Resource"]):
                if pattern == "*":
                    yield pytest.param(action, "*", "allowed", id=f"s{index}-{action}-star")
                    continue
                yield pytest.param(action, _fill(pattern), "allowed", id=f"s{index}-{action}-match")
                miss = _near_miss(pattern)
                if miss is not None:
                    expected = "allowed" if _granted_on_star(action) else "implicitDeny"
                    yield pytest.param(action, miss, expected, id=f"s{index}-{action}-case-miss")


@pytest.mark.parametrize(("action", "resource", "expected"), list(_unconditional_edges()))
def test_unconditional_statement_edges(action: str, resource: str, expected: str) -> None:
    policy = anchor_policy("v3")
    assert evaluate(policy, action=action, resource=resource).decision.value == expected
    # "Action names are not case-sensitive" (reference_policies_elements_action.html)
    for variant in (action.upper(), action.lower(), action.swapcase()):
        assert evaluate(policy, action=variant, resource=resource).decision.value == expected


def c(key: str, type: ContextKeyType, *values: str) -> ContextEntry:
    return ContextEntry(key=key, type=type, values=list(values))


API = "arn:aws:apigateway:us-east-1::/restapis/abc"
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/SC-123/guid"
LAUNCH = "aws:ResourceTag/sagemaker:launch-source"
ROLE_ARN = "cloudformation:RoleArn"
OBJ_TAG = "s3:ExistingObjectTag/servicecatalog:provisioning"
CONN = f"arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/c1"


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        # s0: StringLike aws:ResourceTag/sagemaker:launch-source "*"
        ("apigateway:GET", API, [c(LAUNCH, "string", "project-1")], "allowed"),
        ("apigateway:GET", API, [c(LAUNCH, "string", "")], "allowed"),  # "*" matches the empty string
        ("apigateway:GET", API, [c("AWS:resourcetag/SageMaker:Launch-Source", "string", "x")], "allowed"),  # key case
        ("apigateway:GET", API, [], "implicitDeny"),  # absent: a positive operator fails
        ("apigateway:GET", API, [c("aws:ResourceTag/other", "string", "x")], "implicitDeny"),
        # s1: ForAnyValue:StringLike aws:TagKeys ["sagemaker:launch-source"]
        ("apigateway:POST", API, [c("aws:TagKeys", "stringList", "a", "sagemaker:launch-source")], "allowed"),
        ("apigateway:POST", API, [c("aws:TagKeys", "stringList", "a", "b")], "implicitDeny"),
        ("apigateway:POST", API, [c("aws:TagKeys", "stringList", "SageMaker:launch-source")], "implicitDeny"),
        ("apigateway:POST", API, [c("aws:TagKeys", "stringList")], "implicitDeny"),  # empty: ForAnyValue false
        ("apigateway:POST", API, [], "implicitDeny"),  # missing: ForAnyValue false
        # s2: apigateway:PATCH on arn:aws:apigateway:*::/account
        ("apigateway:PATCH", "arn:aws:apigateway:eu-west-1::/account", [], "allowed"),
        ("apigateway:PATCH", "arn:aws:apigateway:eu-west-1::/accounts", [], "implicitDeny"),
        ("apigateway:PATCH", "arn:aws:apigateway:eu-west-1:1:/account", [], "implicitDeny"),
        ("apigateway:DELETE", "arn:aws:apigateway:eu-west-1::/account", [], "implicitDeny"),
        # s3: ArnLikeIfExists cloudformation:RoleArn arn:aws:sts::*:assumed-role/AmazonSageMakerServiceCatalog*
        ("cloudformation:CreateStack", STACK, [], "allowed"),  # absent: IfExists holds
        (
            "cloudformation:UpdateStack",
            STACK,
            [
                c(
                    ROLE_ARN,
                    "string",
                    f"arn:aws:sts::{ACCOUNT}:assumed-role/AmazonSageMakerServiceCatalogProductsLaunchRole/s",
                )
            ],
            "allowed",
        ),
        (
            "cloudformation:DeleteStack",
            STACK,
            [c(ROLE_ARN, "string", f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/s")],
            "implicitDeny",
        ),
        # ARN operators compare the service segment: iam is not sts
        (
            "cloudformation:CreateStack",
            STACK,
            [c(ROLE_ARN, "string", f"arn:aws:iam::{ACCOUNT}:role/AmazonSageMakerServiceCatalogProductsLaunchRole")],
            "implicitDeny",
        ),
        ("cloudformation:CreateStack", STACK.replace("SC-", "sc-"), [], "implicitDeny"),
        (
            "cloudformation:DescribeStacks",
            STACK,
            [c(ROLE_ARN, "string", "arn:aws:sts::1:assumed-role/Admin/s")],
            "allowed",
        ),
        # s10: cognito-idp:CreateUserPool with ForAnyValue:StringLike aws:TagKeys
        ("cognito-idp:CreateUserPool", "*", [c("aws:TagKeys", "stringList", "sagemaker:launch-source")], "allowed"),
        ("cognito-idp:CreateUserPool", "*", [], "implicitDeny"),
        # s11: cognito-idp management with StringLike aws:ResourceTag/sagemaker:launch-source "*"
        ("cognito-idp:DeleteUserPool", "*", [c(LAUNCH, "string", "x")], "allowed"),
        ("cognito-idp:DeleteUserPool", "*", [], "implicitDeny"),
        ("cognito-idp:CreateUserPool", "*", [c(LAUNCH, "string", "x")], "implicitDeny"),  # not in s11
        # s24: s3:GetObject on "*" with StringEquals s3:ExistingObjectTag/servicecatalog:provisioning "true"
        ("s3:GetObject", "arn:aws:s3:::templates/t.zip", [c(OBJ_TAG, "string", "true")], "allowed"),
        ("s3:GetObject", "arn:aws:s3:::templates/t.zip", [c(OBJ_TAG, "string", "True")], "implicitDeny"),  # case
        ("s3:GetObject", "arn:aws:s3:::templates/t.zip", [], "implicitDeny"),
        ("s3:GetObject", "arn:aws:s3:::sagemaker-templates/t.zip", [], "allowed"),  # s25, no condition
        # s30: codestar-connections:PassConnection, StringEquals PassedToService codepipeline.amazonaws.com
        (
            "codestar-connections:PassConnection",
            CONN,
            [c("codestar-connections:PassedToService", "string", "codepipeline.amazonaws.com")],
            "allowed",
        ),
        (
            "codestar-connections:PassConnection",
            CONN,
            [c("codestar-connections:PassedToService", "string", "codebuild.amazonaws.com")],
            "implicitDeny",
        ),
        ("codestar-connections:PassConnection", CONN, [], "implicitDeny"),
        (
            "codestar-connections:PassConnection",
            CONN.replace("connection/", "host/"),
            [c("codestar-connections:PassedToService", "string", "codepipeline.amazonaws.com")],
            "implicitDeny",
        ),
    ],
)
def test_conditional_statement_edges(action: str, resource: str, context: list[ContextEntry], expected: str) -> None:
    assert evaluate(anchor_policy("v3"), action=action, resource=resource, context=context).decision.value == expected


@pytest.mark.parametrize(
    "action",
    [
        "s3:PutObject",
        "iam:CreateUser",
        "iam:PassRoles",
        "sagemaker:CreateTrainingJob",
        "glue:GetDatabase",
        "ec2:RunInstances",
        "states:StartExecution",
    ],
)
def test_actions_it_does_not_grant(action: str) -> None:
    for resource in ("*", "arn:aws:s3:::sagemaker-x", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/x"):
        assert evaluate(anchor_policy("v3"), action=action, resource=resource).decision.value == "implicitDeny"


IMAGE = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/i"
CODE_REPO = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:code-repository/r"


@pytest.mark.parametrize(
    ("action", "resource", "context", "by_version"),
    [
        # v3 added the SageMaker image statement (sagemaker:ListTags is new too)
        ("sagemaker:CreateImage", IMAGE, [], ("implicitDeny", "implicitDeny", "allowed")),
        ("sagemaker:ListTags", IMAGE, [], ("implicitDeny", "implicitDeny", "allowed")),
        # v2 added the code-repository actions and the codestar-connections statement
        ("sagemaker:CreateCodeRepository", CODE_REPO, [], ("implicitDeny", "allowed", "allowed")),
        (
            "codestar-connections:PassConnection",
            CONN,
            [c("codestar-connections:PassedToService", "string", "codepipeline.amazonaws.com")],
            ("implicitDeny", "allowed", "allowed"),
        ),
        # unchanged across versions
        ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/e", [], ("allowed",) * 3),
        ("sagemaker:DescribeImage", "*", [], ("implicitDeny",) * 3),
    ],
)
def test_versions_differ_where_the_change_history_says(
    action: str, resource: str, context: list[ContextEntry], by_version: tuple[str, str, str]
) -> None:
    got = tuple(
        evaluate(anchor_policy(v), action=action, resource=resource, context=context).decision.value
        for v in ("v1", "v2", "v3")
    )
    assert got == by_version
