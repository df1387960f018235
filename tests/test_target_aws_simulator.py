"""The ``aws-simulator`` target: over real HTTP against ``iamconf serve`` (the nightly job's code path),
and with botocore's Stubber for the shapes and failures AWS can answer with.  No AWS credentials, only
loopback."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from conformance.serve import ServerOptions, SimulatorServer, running_server
from conformance.targets.aws_simulator import (
    AwsSimulatorTarget,
    Exchange,
    SimCall,
    plan,
)
from conformance.targets.base import Target, TargetFailure, TargetUnavailable, Unsupported
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.fixtures import anchor_policy
from reference.model import Case, CaseResult, ContextEntry, Decision, Policy, Request

ANCHOR = anchor_policy("v3")
CALLER = "arn:aws:iam::111122223333:user/alice"
ACTIONS = [
    "s3:GetObject",
    "s3:CreateBucket",
    "s3:PutObject",
    "glue:CreateJob",
    "glue:DeleteJob",
    "lambda:InvokeFunction",
    "lambda:DeleteFunction",
    "codecommit:ListRepositories",
    "codecommit:GetRepository",
    "apigateway:GET",
    "apigateway:POST",
    "iam:PassRole",
    "ecr:CreateRepository",
    "sagemaker:CreateModel",
    "sagemaker:DescribeImage",
    "cloudformation:CreateStack",
]
RESOURCES = [
    "*",
    "arn:aws:s3:::sagemaker-data",
    "arn:aws:s3:::sagemaker-data/key",
    "arn:aws:s3:::other",
    "arn:aws:glue:us-east-1:111122223333:job/sagemaker-j",
    "arn:aws:lambda:us-east-1:111122223333:function:sagemaker-f",
    "arn:aws:codecommit:us-east-1:111122223333:sagemaker-repo",
    "arn:aws:iam::111122223333:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole",
    "arn:aws:ecr:us-east-1:111122223333:repository/sagemaker-r",
    "arn:aws:sagemaker:us-east-1:111122223333:image/img",
    "arn:aws:cloudformation:us-east-1:111122223333:stack/SC-1/abc",
]
CONTEXTS = [
    [],
    [ContextEntry("aws:ResourceTag/sagemaker:launch-source", "string", ["x"])],
    [
        ContextEntry("aws:TagKeys", "stringList", ["sagemaker:launch-source"]),
        ContextEntry("s3:ExistingObjectTag/servicecatalog:provisioning", "string", ["true"]),
        ContextEntry("cloudformation:RoleArn", "string", ["arn:aws:sts::111122223333:assumed-role/Other/s"]),
    ],
]
DENY_S3_OUTSIDE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoPutOutsideCorp",
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ],
    },
    indent=2,
)


def generated_cases(seed: int, n: int = 3, requests: int = 150) -> list[Case]:
    """Cases like the strategies make: the anchor policy, many requests, a few contexts each."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        contexts = rng.sample(CONTEXTS, 2)
        out.append(
            Case(
                id=f"gen-{seed}-{k}",
                identity_policies=[
                    Policy.of("anchor", ANCHOR, "aws-managed"),
                    Policy.of("guard", DENY_S3_OUTSIDE, "user-managed"),
                ],
                caller_arn=CALLER,
                requests=[
                    Request(rng.choice(ACTIONS), rng.choice(RESOURCES), rng.choice(contexts)) for _ in range(requests)
                ],
            )
        )
    return out


def reference(cases: Sequence[Case]) -> list[CaseResult]:
    cache = PolicyCache()
    return [evaluate_case(c, cache) for c in cases]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with running_server() as url:
        yield url


@pytest.fixture
def live(endpoint: str) -> Iterator[AwsSimulatorTarget]:
    target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=endpoint)
    target.start()
    yield target
    target.stop()


# --------------------------------------------------------------------------- refusing to run


def test_is_a_target() -> None:
    assert isinstance(AwsSimulatorTarget(), Target)


def test_refuses_unless_explicitly_requested() -> None:
    with pytest.raises(TargetUnavailable) as info:
        AwsSimulatorTarget(environ={"IAMCONF_AWS": "1"}).start()
    assert "IAMCONF_AWS=1" in info.value.reason and "--target aws-simulator" in info.value.reason


def test_refuses_without_the_environment_opt_in() -> None:
    with pytest.raises(TargetUnavailable) as info:
        AwsSimulatorTarget(explicitly_requested=True, environ={}).start()
    assert "IAMCONF_AWS=1" in info.value.reason
    with pytest.raises(TargetUnavailable):
        AwsSimulatorTarget(explicitly_requested=True, environ={"IAMCONF_AWS": "yes"}).start()


def test_refuses_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    with pytest.raises(TargetUnavailable) as info:
        AwsSimulatorTarget(explicitly_requested=True, environ={"IAMCONF_AWS": "1"}).start()
    assert "credentials" in info.value.reason


def test_a_loopback_endpoint_needs_no_opt_in_and_no_credentials(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=endpoint, environ={})
    target.start()
    try:
        assert target.endpoint_kind == "local"
        # Throttling is retried by botocore's adaptive mode (10 retries).
        assert target.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}
    finally:
        target.stop()
        target.stop()  # safe twice
    with pytest.raises(TargetUnavailable):
        AwsSimulatorTarget(endpoint_url=endpoint).start()  # still has to be asked for


# --------------------------------------------------------------------------- what it cannot express


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"session_policy": Policy.of("s", '{"Statement":[]}')}, "the AWS simulator has no session policies"),
        ({"rcps": [[Policy.of("r", '{"Statement":[]}')]]}, "resource control policies"),
        ({"scps": [[Policy.of("s", "{}")]] * 8}, "at most 7"),
        ({"caller_arn": "arn:aws:sts::111122223333:assumed-role/app/s1"}, "CallerArn"),
    ],
)
def test_unsupported_cases(live: AwsSimulatorTarget, fields: dict[str, Any], reason: str) -> None:
    case = Case(identity_policies=[Policy.of("p", ANCHOR)], requests=[Request("s3:GetObject")], **fields)
    (answer,) = live.answer([case])
    assert isinstance(answer, Unsupported)
    assert reason in answer.reason
    assert live.stats.calls == 0


def test_unsupported_resource_policy_on_a_role_and_short_context_keys() -> None:
    role = Case(
        resource_policy=Policy.of("trust", '{"Statement":[]}'),
        requests=[Request("sts:AssumeRole", "arn:aws:iam::111122223333:role/r")],
    )
    short = Case(requests=[Request("s3:GetObject", context=[ContextEntry("a:b", "string", ["x"])])])
    assert isinstance(plan(role), Unsupported)
    assert isinstance(plan(short), Unsupported)


# --------------------------------------------------------------------------- over HTTP (the nightly job's path)


def test_generated_cases_match_the_reference_over_http(endpoint: str) -> None:
    cases = generated_cases(seed=11)
    with SimulatorServer("127.0.0.1", 0) as server:
        target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=server.url)
        target.start()
        try:
            answers = target.answer(cases)
        finally:
            target.stop()
        assert answers == reference(cases)
        # Requests sharing a context are batched: one call per context of each case.
        assert server.simulator.calls["SimulateCustomPolicy"] == target.stats.calls == 2 * len(cases)
    assert target.stats.requests == 450
    assert target.decisions_per_call >= 50  # the bench goal
    assert {r.decision for a in answers if isinstance(a, CaseResult) for r in a.results} == set(Decision)


def test_pagination_over_http(endpoint: str) -> None:
    cases = generated_cases(seed=5, n=1, requests=40)
    target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=endpoint, page_size=1)
    target.start()
    try:
        answers = target.answer(cases)
    finally:
        target.stop()
    assert answers == reference(cases)
    calls = plan(cases[0], page_size=1)
    assert isinstance(calls, list)
    # Per-action results, MaxItems=1: one page per action of each call.
    assert target.stats.calls == sum(len(c.params["ActionNames"]) for c in calls)


def test_the_per_resource_shape_over_http() -> None:
    cases = generated_cases(seed=3, n=2, requests=60)
    with running_server(options=ServerOptions(result_shape="per-resource")) as url:
        target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=url)
        target.start()
        try:
            assert target.answer(cases) == reference(cases)
        finally:
            target.stop()


def test_throttling_is_retried_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import standard

    # Keep botocore's retry loop, without its random backoff of up to seconds.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    # One context, so one call: after a throttle, adaptive mode also slows the calls that follow.
    cases = [Case(identity_policies=[Policy.of("anchor", ANCHOR)], requests=[Request(a) for a in ACTIONS])]
    with running_server(options=ServerOptions(throttle_first=2)) as url:
        target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=url)
        target.start()
        try:
            assert target.answer(cases) == reference(cases)
        finally:
            target.stop()
    assert target.stats.extra["retries"] == 2
    assert target.stats.calls == 1


def test_boundary_resource_policy_and_malformed_policy_over_http(live: AwsSimulatorTarget) -> None:
    boundary = Policy.of(
        "edge", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    shared = Policy.of(
        "bucket",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Alice", "Effect": "Allow", "Principal": {"AWS": CALLER}, "Action": "s3:*", "Resource": "*"}
            ],
        },
    )
    case = Case(
        id="mixed",
        identity_policies=[Policy.of("anchor", ANCHOR)],
        permissions_boundary=boundary,
        resource_policy=shared,
        caller_arn=CALLER,
        requests=[
            Request("s3:GetObject", "arn:aws:s3:::other/k"),
            Request("s3:CreateBucket", "arn:aws:s3:::sagemaker-b"),
            Request("glue:CreateJob", "arn:aws:glue:us-east-1:111122223333:job/sagemaker-j"),
        ],
    )
    bad = Case(
        id="bad", identity_policies=[Policy.of("p", '{"Statement": "nope"}')], requests=[Request("s3:GetObject")]
    )
    answer, failure = live.answer([case, bad])
    assert answer == reference([case])[0]
    assert isinstance(answer, CaseResult)
    assert [r.decision for r in answer.results] == [Decision.ALLOWED, Decision.ALLOWED, Decision.IMPLICIT_DENY]
    assert [m.policy_id for m in answer.results[0].matched_statements] == ["edge", "bucket"]
    assert answer.results[0].details.boundary_allowed is True
    assert answer.results[2].details.boundary_allowed is False
    assert isinstance(failure, TargetFailure) and failure.message.startswith("MalformedPolicyDocument: ")


def test_scps_decide_but_are_not_matched_statements(live: AwsSimulatorTarget) -> None:
    allow = Policy.of("root", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    deny = Policy.of("ou", {"Statement": [{"Sid": "NoS3", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
    case = Case(
        identity_policies=[Policy.of("anchor", ANCHOR)],
        scps=[[allow], [allow, deny]],
        requests=[Request("s3:GetObject", "arn:aws:s3:::sagemaker-x"), Request("codecommit:ListRepositories")],
    )
    (answer,) = live.answer([case])
    (expected,) = reference([case])
    assert isinstance(answer, CaseResult)
    assert [r.decision for r in answer.results] == [r.decision for r in expected.results]
    # The reference names the SCP's Deny; SimulateCustomPolicy leaves SCP statements out (known divergence).
    assert expected.results[0].matched_statements[0].policy_id == "ou"
    assert answer.results[0].matched_statements == []
    # Several resources in one call: OrganizationsDecisionDetail is the action's, so a deny is not
    # attributed to a resource (known divergence); an allowed resource was allowed by the SCPs.
    assert [r.details.organizations_allowed for r in answer.results] == [None, True]


# --------------------------------------------------------------------------- planning


def test_plan_batches_by_context_and_keeps_only_the_asked_pairs() -> None:
    ctx = [ContextEntry("aws:ResourceTag/sagemaker:launch-source", "string", ["p"])]  # the anchor reads it
    unread = [ContextEntry("aws:SourceIp", "ip", ["10.0.0.1"])]  # no policy reads it: it splits nothing
    case = Case(
        identity_policies=[Policy.of("p", ANCHOR)],
        requests=[
            Request("s3:GetObject", "arn:aws:s3:::a"),
            Request("s3:PutObject", "arn:aws:s3:::b", unread),
            Request("s3:GetObject", "arn:aws:s3:::b", ctx),
            Request("S3:GETOBJECT", "arn:aws:s3:::a"),  # the same pair, spelled otherwise
        ],
    )
    calls = plan(case)
    assert isinstance(calls, list) and len(calls) == 2
    first, second = calls
    assert first.params["ActionNames"] == ["s3:GetObject", "s3:PutObject"]
    assert first.params["ResourceArns"] == ["arn:aws:s3:::a", "arn:aws:s3:::b"]
    assert "ContextEntries" not in first.params
    assert first.wanted == {("s3:getobject", "arn:aws:s3:::a"): (0, 3), ("s3:putobject", "arn:aws:s3:::b"): (1,)}
    assert second.params["ContextEntries"] == [
        {
            "ContextKeyName": "aws:ResourceTag/sagemaker:launch-source",
            "ContextKeyValues": ["p"],
            "ContextKeyType": "string",
        }
    ]
    assert second.params["CallerArn"] == "arn:aws:iam::111122223333:user/conformance"


def test_plan_splits_a_sparse_group_when_that_needs_fewer_pages() -> None:
    # Every resource asked for its own action: the cross product would be mostly waste.
    requests = [Request(f"s3:Action{i}", f"arn:aws:s3:::bucket-{i}") for i in range(40)]
    case = Case(identity_policies=[Policy.of("p", ANCHOR)], requests=requests)
    sparse = plan(case, page_size=10)
    assert isinstance(sparse, list) and len(sparse) == 40
    dense = plan(case, page_size=1000)
    assert isinstance(dense, list) and len(dense) == 1


# --------------------------------------------------------------------------- with botocore's Stubber


def _stubbed(**kwargs: Any) -> tuple[AwsSimulatorTarget, Stubber]:
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    target = AwsSimulatorTarget(explicitly_requested=True, client=client, environ={"IAMCONF_AWS": "1"}, **kwargs)
    target.start()
    return target, Stubber(client)


TWO_STATEMENTS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::secret/*"},
        ],
    },
    indent=2,
)
READ_AT = {"StartPosition": {"Line": 4, "Column": 6}, "EndPosition": {"Line": 9, "Column": 6}}
DENY_AT = {"StartPosition": {"Line": 10, "Column": 6}, "EndPosition": {"Line": 15, "Column": 6}}
STUB_CASE = Case(
    id="stub",
    identity_policies=[Policy.of("reader", TWO_STATEMENTS, "user-managed")],
    requests=[
        Request("s3:GetObject", "arn:aws:s3:::open/k"),
        Request("s3:GetObject", "arn:aws:s3:::secret/k"),
        Request("s3:PutObject", "arn:aws:s3:::secret/k"),
    ],
)


def _expected_params(**extra: Any) -> dict[str, Any]:
    return {
        "PolicyInputList": [TWO_STATEMENTS],
        "CallerArn": "arn:aws:iam::111122223333:user/conformance",
        "ActionNames": ["s3:GetObject", "s3:PutObject"],
        "ResourceArns": ["arn:aws:s3:::open/k", "arn:aws:s3:::secret/k"],
        **extra,
    }


def _specific(resource: str, decision: str, *statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "EvalResourceName": resource,
        "EvalResourceDecision": decision,
        "MatchedStatements": [
            {"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none", **s} for s in statements
        ],
        "MissingContextValues": [],
    }


def test_stub_per_action_shape_with_pagination() -> None:
    target, stubber = _stubbed(page_size=2)
    # AWS's columns: the documented example reports one past the statement's "{" (READ_AT's column 6).
    stubber.add_response(
        "simulate_custom_policy",
        {
            "EvaluationResults": [
                {
                    "EvalActionName": "s3:GetObject",
                    "EvalResourceName": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
                    "EvalDecision": "explicitDeny",
                    "ResourceSpecificResults": [
                        _specific("arn:aws:s3:::open/k", "allowed", READ_AT),
                        _specific("arn:aws:s3:::secret/k", "explicitDeny", DENY_AT),
                    ],
                }
            ],
            "IsTruncated": True,
            "Marker": "page-2",
        },
        _expected_params(MaxItems=2),
    )
    stubber.add_response(
        "simulate_custom_policy",
        {
            "EvaluationResults": [
                {
                    "EvalActionName": "s3:PutObject",
                    "EvalResourceName": "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
                    "EvalDecision": "explicitDeny",
                    "ResourceSpecificResults": [
                        _specific("arn:aws:s3:::open/k", "implicitDeny"),
                        _specific("arn:aws:s3:::secret/k", "explicitDeny", DENY_AT),
                    ],
                }
            ],
            "IsTruncated": False,
        },
        _expected_params(MaxItems=2, Marker="page-2"),
    )
    with stubber:
        (answer,) = target.answer([STUB_CASE])
    stubber.assert_no_pending_responses()
    assert isinstance(answer, CaseResult)
    assert [r.decision for r in answer.results] == [Decision.ALLOWED, Decision.EXPLICIT_DENY, Decision.EXPLICIT_DENY]
    read = answer.results[0].matched_statements[0]
    assert (read.policy_id, read.policy_type, read.statement_index, read.sid) == ("reader", "user-managed", 0, "Read")
    assert (read.start.line, read.start.column) == (4, 6)  # positions as AWS gave them
    assert answer.results[2].matched_statements[0].sid == "NoSecrets"
    assert target.stats.calls == 2
    assert target.stats.extra["unrequested"] == 1  # s3:PutObject on open/k came with the cross product


def test_stub_per_resource_shape() -> None:
    target, stubber = _stubbed()
    results = []
    for action, resource, decision, at in [
        ("s3:GetObject", "arn:aws:s3:::open/k", "allowed", READ_AT),
        ("s3:GetObject", "arn:aws:s3:::secret/k", "explicitDeny", DENY_AT),
        ("s3:PutObject", "arn:aws:s3:::open/k", "implicitDeny", None),
        ("s3:PutObject", "arn:aws:s3:::secret/k", "explicitDeny", DENY_AT),
    ]:
        results.append(
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision,
                "MatchedStatements": [{"SourcePolicyId": "PolicyInputList.1", **at}] if at else [],
                "MissingContextValues": ["aws:SourceIp"] if decision == "implicitDeny" else [],
            }
        )
    stubber.add_response(
        "simulate_custom_policy", {"EvaluationResults": results, "IsTruncated": False}, _expected_params(MaxItems=1000)
    )
    with stubber:
        (answer,) = target.answer([STUB_CASE])
    assert isinstance(answer, CaseResult)
    assert [r.decision for r in answer.results] == [Decision.ALLOWED, Decision.EXPLICIT_DENY, Decision.EXPLICIT_DENY]
    assert [r.resource for r in answer.results] == [r.resource for r in STUB_CASE.requests]
    assert answer.results[1].matched_statements[0].statement_index == 1


def test_stub_a_missing_result_is_a_failure() -> None:
    target, stubber = _stubbed()
    stubber.add_response("simulate_custom_policy", {"EvaluationResults": [], "IsTruncated": False})
    with stubber:
        (answer,) = target.answer([STUB_CASE])
    assert isinstance(answer, TargetFailure) and "no result for s3:GetObject" in answer.message


class ListRecorder:
    def __init__(self) -> None:
        self.records: list[tuple[Case, list[Exchange]]] = []

    def record(self, case: Case, exchanges: Sequence[Exchange], *, region: str, endpoint_kind: str) -> None:
        assert (region, endpoint_kind) == ("us-east-1", "aws")
        self.records.append((case, list(exchanges)))


def test_stub_throttling_exhausted_is_a_failure_and_not_recorded() -> None:
    # The Stubber answers before botocore's retry loop, so retries themselves are tested over HTTP.
    recorder = ListRecorder()
    target, stubber = _stubbed(recorder=recorder)
    stubber.add_client_error("simulate_custom_policy", "Throttling", "Rate exceeded", 400)
    with stubber:
        (answer,) = target.answer([STUB_CASE])
    assert answer == TargetFailure("Throttling: Rate exceeded")
    assert recorder.records == []


def test_stub_malformed_policy_is_a_recorded_failure() -> None:
    recorder = ListRecorder()
    target, stubber = _stubbed(recorder=recorder)
    stubber.add_client_error("simulate_custom_policy", "MalformedPolicyDocument", "Syntax errors in policy.", 400)
    with stubber:
        (answer,) = target.answer([STUB_CASE])
    assert answer == TargetFailure("MalformedPolicyDocument: Syntax errors in policy.")
    ((case, exchanges),) = recorder.records
    assert case is STUB_CASE
    assert exchanges[0].error == {"code": "MalformedPolicyDocument", "message": "Syntax errors in policy."}


def test_simcall_summary_is_what_varies() -> None:
    call = SimCall({"PolicyInputList": ["x"], "ActionNames": ["a:b"], "ResourceArns": ["*"]}, {})
    assert call.summary() == {"ActionNames": ["a:b"], "ResourceArns": ["*"]}
