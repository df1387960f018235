"""``iamconf serve``: boto3 and the AWS CLI get the reference's decisions over the IAM Query protocol.

Every server here binds 127.0.0.1, is started and stopped by the test, and no
test uses real credentials.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conformance.serve import ServerOptions, SimulatorServer, running_server
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.fixtures import anchor_policy
from reference.model import Case, ContextEntry, ContextKeyType, Policy, Request, RequestResult

ROOT = Path(__file__).resolve().parent.parent
CALLER = "arn:aws:iam::111122223333:user/alice"
ANCHOR = anchor_policy("v3")
GUARDS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyFromCorp",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
            {
                "Sid": "NeedMfa",
                "Effect": "Deny",
                "Action": "lambda:DeleteFunction",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
            {
                "Sid": "Until2030",
                "Effect": "Deny",
                "Action": "glue:*",
                "Resource": "*",
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            },
            {
                "Sid": "FreshMfa",
                "Effect": "Deny",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}},
            },
        ],
    },
    indent=2,
)
BOUNDARY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "lambda:*", "glue:*", "ecr:*"], "Resource": "*"}],
    },
    indent=2,
)
RESOURCE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Shared",
                "Effect": "Allow",
                "Principal": {"AWS": CALLER},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::shared/*",
            }
        ],
    },
    indent=2,
)
ACTIONS = [
    "s3:GetObject",
    "s3:CreateBucket",
    "lambda:DeleteFunction",
    "glue:CreateJob",
    "ecr:CreateRepository",
    "iam:PassRole",
    "apigateway:GET",
]
RESOURCES = [
    "arn:aws:s3:::sagemaker-data",
    "arn:aws:s3:::shared/report.csv",
    "arn:aws:lambda:us-east-1:111122223333:function:sagemaker-f",
    "arn:aws:glue:us-east-1:111122223333:job/sagemaker-j",
]
CONTEXTS: list[list[tuple[str, ContextKeyType, list[str]]]] = [
    [
        ("aws:SourceIp", "ip", ["10.1.2.3"]),
        ("aws:MultiFactorAuthPresent", "boolean", ["true"]),
        ("aws:CurrentTime", "date", ["2026-11-01T12:00:00Z"]),
        ("aws:MultiFactorAuthAge", "numeric", ["120"]),
        ("aws:TagKeys", "stringList", ["sagemaker:launch-source", "team"]),
        ("aws:ResourceTag/sagemaker:launch-source", "string", ["jumpstart"]),
    ],
    [
        ("aws:SourceIp", "ip", ["192.0.2.7"]),
        ("aws:MultiFactorAuthPresent", "boolean", ["false"]),
        ("aws:CurrentTime", "date", ["2031-01-01T00:00:00Z"]),
        ("aws:MultiFactorAuthAge", "numeric", ["7200"]),
    ],
]


def _client(url: str, attempts: int = 1) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="dummy",
        aws_secret_access_key="dummy",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}, read_timeout=30, connect_timeout=5),
    )


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def iam(endpoint: str) -> Any:
    return _client(endpoint)


def _entries(context: list[tuple[str, ContextKeyType, list[str]]]) -> list[dict[str, Any]]:
    return [{"ContextKeyName": k, "ContextKeyType": t, "ContextKeyValues": v} for k, t, v in context]


def _reference(
    actions: list[str],
    resources: list[str],
    context: list[tuple[str, ContextKeyType, list[str]]],
    *,
    policies: list[str],
    boundary: str | None = None,
    resource_policy: str | None = None,
) -> dict[tuple[str, str], RequestResult]:
    ctx = [ContextEntry(key=k, type=t, values=v) for k, t, v in context]
    case = Case(
        identity_policies=[Policy.of(f"PolicyInputList.{i}", p) for i, p in enumerate(policies, 1)],
        permissions_boundary=Policy.of("PermissionsBoundaryPolicyInputList.1", boundary) if boundary else None,
        resource_policy=Policy.of("ResourcePolicy", resource_policy) if resource_policy else None,
        caller_arn=CALLER,
        requests=[Request(action=a, resource=r, context=ctx) for a in actions for r in resources],
    )
    return {(r.action, r.resource): r for r in evaluate_case(case, PolicyCache()).results}


def _wire_statements(result: RequestResult) -> list[dict[str, Any]]:
    out = []
    for m in result.matched_statements:
        st: dict[str, Any] = {"SourcePolicyId": m.policy_id}
        if m.policy_type == "resource":
            st["SourcePolicyType"] = "resource"
        st["StartPosition"] = {"Line": m.start.line, "Column": m.start.column}
        st["EndPosition"] = {"Line": m.end.line, "Column": m.end.column}
        out.append(st)
    return out


@pytest.mark.parametrize(
    ("context", "seen"),
    [(CONTEXTS[0], {"allowed", "implicitDeny"}), (CONTEXTS[1], {"implicitDeny", "explicitDeny"})],
    ids=["inside", "outside"],
)
def test_simulate_matches_the_reference_for_the_anchor_policy(iam: Any, context: Any, seen: set[str]) -> None:
    response = iam.simulate_custom_policy(
        PolicyInputList=[ANCHOR, GUARDS],
        PermissionsBoundaryPolicyInputList=[BOUNDARY],
        ResourcePolicy=RESOURCE_POLICY,
        CallerArn=CALLER,
        ActionNames=ACTIONS,
        ResourceArns=RESOURCES,
        ContextEntries=_entries(context),
        MaxItems=1000,
    )
    expected = _reference(
        ACTIONS, RESOURCES, context, policies=[ANCHOR, GUARDS], boundary=BOUNDARY, resource_policy=RESOURCE_POLICY
    )
    results = response["EvaluationResults"]
    assert response["IsTruncated"] is False
    assert [r["EvalActionName"] for r in results] == ACTIONS  # one EvaluationResult per action
    decisions = set()
    for top in results:
        per = top["ResourceSpecificResults"]
        assert [s["EvalResourceName"] for s in per] == RESOURCES
        for s in per:
            want = expected[(top["EvalActionName"], s["EvalResourceName"])]
            decisions.add(want.decision.value)
            assert s["EvalResourceDecision"] == want.decision.value
            assert s.get("MatchedStatements", []) == _wire_statements(want)
            assert s.get("MissingContextValues", []) == want.missing_context_values
            assert s["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] is bool(
                want.details.boundary_allowed
            )
        # The action's decision is the most restrictive of its resources.
        order = ["allowed", "implicitDeny", "explicitDeny"]
        assert top["EvalDecision"] == max((s["EvalResourceDecision"] for s in per), key=order.index)
    assert len(expected) == 28
    assert decisions == seen


def test_resource_policy_statement_is_reported_as_resource(iam: Any) -> None:
    response = iam.simulate_custom_policy(
        PolicyInputList=[GUARDS],
        ResourcePolicy=RESOURCE_POLICY,
        CallerArn=CALLER,
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::shared/k"],
        ContextEntries=_entries(CONTEXTS[0][:1]),
    )
    (specific,) = response["EvaluationResults"][0]["ResourceSpecificResults"]
    assert specific["EvalResourceDecision"] == "allowed"
    assert specific["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    assert specific["MatchedStatements"][0]["SourcePolicyType"] == "resource"


def test_without_resource_arns_the_action_is_evaluated_on_star(iam: Any) -> None:
    response = iam.simulate_custom_policy(PolicyInputList=[ANCHOR], ActionNames=["codecommit:ListRepositories"])
    (top,) = response["EvaluationResults"]
    assert top["EvalResourceName"] == "*"
    assert top["EvalDecision"] == "allowed"
    assert "ResourceSpecificResults" not in top
    assert "EvalDecisionDetails" not in top  # same account, all resources: "not returned"


def test_pagination_with_max_items_one(iam: Any) -> None:
    kwargs: dict[str, Any] = {
        "PolicyInputList": [ANCHOR],
        "ActionNames": ACTIONS[:3],
        "ResourceArns": RESOURCES[:2],
    }
    whole = iam.simulate_custom_policy(**kwargs)["EvaluationResults"]
    pages = []
    marker = None
    while True:
        page = iam.simulate_custom_policy(**kwargs, MaxItems=1, **({"Marker": marker} if marker else {}))
        pages.append(page)
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert len(pages) == 3
    assert [r for p in pages for r in p["EvaluationResults"]] == whole
    paginated = iam.get_paginator("simulate_custom_policy").paginate(**kwargs, PaginationConfig={"PageSize": 1})
    assert [r for p in paginated for r in p["EvaluationResults"]] == whole


def test_a_marker_of_another_simulation_is_refused(iam: Any) -> None:
    page = iam.simulate_custom_policy(PolicyInputList=[ANCHOR], ActionNames=ACTIONS[:2], MaxItems=1)
    with pytest.raises(ClientError) as info:
        iam.simulate_custom_policy(PolicyInputList=[GUARDS], ActionNames=ACTIONS[:2], Marker=page["Marker"])
    assert info.value.response["Error"]["Code"] == "InvalidInput"


def test_malformed_policy_is_malformed_policy_document(iam: Any) -> None:
    with pytest.raises(ClientError) as info:
        iam.simulate_custom_policy(PolicyInputList=[ANCHOR, '{"Statement": {"Effect": "Allow"'], ActionNames=["s3:Get"])
    error = info.value.response["Error"]
    assert error["Code"] == "MalformedPolicyDocument"
    assert error["Type"] == "Sender"
    assert "PolicyInputList.2" in error["Message"] and "line 1" in error["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_invalid_policy_grammar_is_malformed_policy_document(iam: Any) -> None:
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]})
    with pytest.raises(ClientError) as info:
        iam.simulate_custom_policy(PolicyInputList=[bad], ActionNames=["s3:GetObject"])
    assert info.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    assert "Effect" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"ActionNames": ["s3:*"]}, "InvalidInput"),  # "does not support using wildcards"
        ({"ActionNames": ["s3:GetObject"], "ResourcePolicy": RESOURCE_POLICY}, "InvalidInput"),  # no CallerArn
        ({"ActionNames": ["s3:GetObject"], "CallerArn": "arn:aws:sts::111122223333:assumed-role/r/s"}, "InvalidInput"),
        ({"ActionNames": ["s3:GetObject"], "PermissionsBoundaryPolicyInputList": [BOUNDARY, BOUNDARY]}, "InvalidInput"),
        ({"ActionNames": ["s3:GetObject"], "MaxItems": 1001}, "ValidationError"),
        (
            {
                "ActionNames": ["s3:GetObject"],
                "ContextEntries": [{"ContextKeyName": "aws:SourceIp", "ContextKeyType": "arn", "ContextKeyValues": []}],
            },
            "ValidationError",
        ),
    ],
)
def test_invalid_input(endpoint: str, params: dict[str, Any], code: str) -> None:
    # botocore checks neither maximums nor enums: the server must.
    with pytest.raises(ClientError) as info:
        _client(endpoint).simulate_custom_policy(PolicyInputList=[ANCHOR], **params)
    assert info.value.response["Error"]["Code"] == code


def test_get_context_keys_for_custom_policy(iam: Any) -> None:
    response = iam.get_context_keys_for_custom_policy(PolicyInputList=[ANCHOR, GUARDS])
    assert response["ContextKeyNames"] == [
        "aws:CurrentTime",
        "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent",
        "aws:ResourceTag/sagemaker:launch-source",
        "aws:SourceIp",
        "aws:TagKeys",
        "cloudformation:RoleArn",
        "codestar-connections:PassedToService",
        "s3:ExistingObjectTag/servicecatalog:provisioning",
    ]
    with pytest.raises(ClientError) as info:
        iam.get_context_keys_for_custom_policy(PolicyInputList=["not json"])
    assert info.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_cross_account_simulation_has_eval_decision_details(iam: Any) -> None:
    response = iam.simulate_custom_policy(
        PolicyInputList=[ANCHOR],
        ResourcePolicy=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": CALLER}, "Action": "s3:GetObject", "Resource": "*"}
                ]
            }
        ),
        ResourceOwner="arn:aws:iam::444455556666:root",
        CallerArn=CALLER,
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::sagemaker-x/k", "arn:aws:s3:::other/k"],
    )
    (top,) = response["EvaluationResults"]
    specific = {s["EvalResourceName"]: s for s in top["ResourceSpecificResults"]}
    assert specific["arn:aws:s3:::sagemaker-x/k"]["EvalResourceDecision"] == "allowed"
    assert specific["arn:aws:s3:::sagemaker-x/k"]["EvalDecisionDetails"] == {
        "IAM Policy": "allowed",
        "Resource Policy": "allowed",
    }
    assert specific["arn:aws:s3:::other/k"]["EvalDecisionDetails"] == {
        "IAM Policy": "implicitDeny",
        "Resource Policy": "allowed",
    }
    assert top["EvalDecision"] == "implicitDeny"
    assert top["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}


def test_scps_give_organizations_detail_and_no_matched_statements(iam: Any) -> None:
    deny = json.dumps({"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
    allow = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    response = iam.simulate_custom_policy(
        PolicyInputList=[ANCHOR],
        OrderedOrganizationPolicyInputList=[
            {"ServiceControlPolicyInputList": [allow]},
            {"ServiceControlPolicyInputList": [allow, deny]},
        ],
        ActionNames=["s3:GetObject", "codecommit:ListRepositories"],
    )
    s3, codecommit = response["EvaluationResults"]
    assert s3["EvalDecision"] == "explicitDeny"
    assert s3["MatchedStatements"] == []  # "doesn't include statements from service control policies"
    assert s3["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}
    assert codecommit["EvalDecision"] == "allowed"
    assert codecommit["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": True}


def test_per_resource_shape(endpoint: str) -> None:
    with running_server(options=ServerOptions(result_shape="per-resource")) as url:
        response = _client(url).simulate_custom_policy(
            PolicyInputList=[ANCHOR], ActionNames=ACTIONS[:2], ResourceArns=RESOURCES[:3]
        )
    results = response["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalResourceName"]) for r in results] == [
        (a, r) for a in ACTIONS[:2] for r in RESOURCES[:3]
    ]
    expected = _reference(ACTIONS[:2], RESOURCES[:3], [], policies=[ANCHOR])
    for r in results:
        assert r["EvalDecision"] == expected[(r["EvalActionName"], r["EvalResourceName"])].decision.value
        assert len(r["ResourceSpecificResults"]) == 1


def test_throttling_option_answers_throttling_first() -> None:
    with SimulatorServer("127.0.0.1", 0, ServerOptions(throttle_first=1)) as server:
        with pytest.raises(ClientError) as info:
            _client(server.url).simulate_custom_policy(PolicyInputList=[ANCHOR], ActionNames=["s3:GetObject"])
        assert info.value.response["Error"]["Code"] == "Throttling"
        ok = _client(server.url).simulate_custom_policy(PolicyInputList=[ANCHOR], ActionNames=["s3:GetObject"])
        assert ok["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
        assert server.simulator.calls == {"SimulateCustomPolicy": 2}


def test_unknown_action_and_raw_query_protocol(endpoint: str) -> None:
    request = urllib.request.Request(
        endpoint,
        data=b"Action=ListUsers&Version=2010-05-08",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    body = info.value.read().decode()
    assert "<Code>InvalidAction</Code>" in body and "<Type>Sender</Type>" in body
    query = (
        "Action=SimulateCustomPolicy&Version=2010-05-08&ActionNames.member.1=s3%3AGetObject&PolicyInputList.member.1="
    )
    policy = '{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}'
    with urllib.request.urlopen(f"{endpoint}/?{query}{urllib.parse.quote(policy)}", timeout=10) as response:
        xml = response.read().decode()
    assert 'xmlns="https://iam.amazonaws.com/doc/2010-05-08/"' in xml
    assert "<SimulateCustomPolicyResult>" in xml and "<EvalDecision>allowed</EvalDecision>" in xml
    assert "<member>" in xml


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="dummy",
        AWS_SECRET_ACCESS_KEY="dummy",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(tmp_path),
    )
    return env


@pytest.mark.skipif(importlib.util.find_spec("awscli") is None, reason="awscli is not installed (test extra)")
def test_aws_cli_simulate_custom_policy(endpoint: str, tmp_path: Path) -> None:
    # For a list parameter given as file://, the AWS CLI (v1) expects a JSON list in the file: a plain
    # policy document would be split into one "policy" per character.
    policy = tmp_path / "policies.json"
    policy.write_text(json.dumps([ANCHOR]), encoding="utf-8")
    actions = ["s3:GetObject", "glue:CreateJob", "codecommit:ListRepositories", "iam:PassRole"]
    resources = [
        "arn:aws:s3:::sagemaker-x/k",
        "arn:aws:iam::111122223333:role/service-role/AmazonSageMakerServiceCatalogX",
    ]
    argv = [sys.executable, "-m", "awscli", "iam", "simulate-custom-policy", "--endpoint-url", endpoint]
    argv += ["--policy-input-list", f"file://{policy}", "--action-names", *actions, "--resource-arns", *resources]
    argv += ["--output", "json"]
    done = subprocess.run(argv, env=_cli_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    expected = _reference(actions, resources, [], policies=[ANCHOR])
    got = {
        (top["EvalActionName"], s["EvalResourceName"]): s["EvalResourceDecision"]
        for top in output["EvaluationResults"]
        for s in top["ResourceSpecificResults"]
    }
    assert got == {k: v.decision.value for k, v in expected.items()}
    assert set(got.values()) == {"allowed", "implicitDeny"}


@pytest.mark.skipif(importlib.util.find_spec("awscli") is None, reason="awscli is not installed (test extra)")
def test_aws_cli_sees_malformed_policy_document(endpoint: str, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "awscli", "iam", "simulate-custom-policy", "--endpoint-url", endpoint]
    argv += ["--policy-input-list", "{not json", "--action-names", "s3:GetObject"]
    done = subprocess.run(argv, env=_cli_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "MalformedPolicyDocument" in done.stderr


def test_serve_main_runs_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "conformance.serve", "--host", "127.0.0.1", "--port", "0"]
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stderr, selectors.EVENT_READ)
        assert selector.select(timeout=30), "the server did not say where it listens"
        line = process.stderr.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        response = _client(url).simulate_custom_policy(PolicyInputList=[ANCHOR], ActionNames=["ecr:CreateRepository"])
        assert response["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


def test_short_resource_arn_is_accepted_and_matches_past_colons(iam: Any) -> None:
    """Issue 11: ``"Resource": "arn:aws:logs:*"`` is a policy IAM accepts (moto's CreatePolicy records
    take ``arn:aws:fdsasf``); its segment-final ``*`` covers a log stream in any region."""
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:*"},
        }
    )
    streams = [f"arn:aws:logs:{r}:111122223333:log-group:g:log-stream:s" for r in ("us-east-1", "eu-west-1")]
    response = iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["logs:PutLogEvents"], ResourceArns=streams
    )
    (result,) = response["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert [r["EvalResourceDecision"] for r in result["ResourceSpecificResults"]] == ["allowed", "allowed"]
