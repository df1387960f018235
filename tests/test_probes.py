"""Enforcement probes: classification from the response alone, resource facts, aimed cases (no emulator)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.suites.probed_cases import probed_cases
from conformance.targets.enforcement import unsupported_reason
from conformance.targets.probes import BY_ACTION, KINDS, PROBES, classify, error_code, facts_of, probe_for
from reference.model import Case

GET = BY_ACTION["s3:getobject"]
TAGGING = BY_ACTION["s3:getbuckettagging"]
XML_403 = (
    '<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Errors><Error><Code>AccessDenied</Code>'
    "<Message>User: x is not authorized</Message></Error></Errors></ErrorResponse>"
)


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (200, None, "allowed"),
        (204, None, "allowed"),
        (403, {"Code": "AccessDenied", "Message": "Access Denied"}, "denied"),
        (400, {"Code": "AccessDeniedException"}, None),  # a denial code without 403 is neither
        (403, {"Code": "AccessDeniedException"}, "denied"),
        (403, {"Code": "403", "Message": XML_403}, "denied"),  # XML body on a JSON-protocol service
        (403, {"Code": "SignatureDoesNotMatch"}, None),  # authentication, not authorization
        (403, {"Code": "InvalidClientTokenId"}, None),
        (404, {"Code": "NoSuchKey"}, None),
        (500, {"Code": "InternalError"}, None),
        (302, None, None),
    ],
)
def test_classification(status: int, error: dict[str, str] | None, outcome: str | None) -> None:
    assert classify(GET, status, error) == outcome


def test_an_allowed_error_is_allowed_only_for_its_probe() -> None:
    assert classify(TAGGING, 404, {"Code": "NoSuchTagSet"}) == "allowed"
    assert classify(GET, 404, {"Code": "NoSuchTagSet"}) is None


def test_error_code_from_an_xml_body() -> None:
    assert error_code({"Code": "403", "Message": XML_403}) == "AccessDenied"
    assert error_code({"Code": "Throttling", "Message": XML_403}) == "Throttling"


def test_probes_cover_the_issue_services() -> None:
    services = {p.action.split(":")[0] for p in PROBES}
    assert {"s3", "iam", "sts", "sqs"} <= services
    assert {p.kind for p in PROBES} == set(KINDS) == {"bucket", "object", "user", "role", "queue"}
    assert probe_for("S3:GETOBJECT") is GET
    assert probe_for("s3:GetObjectAcl") is None


def test_facts_need_the_emulators_account_and_the_probes_kind() -> None:
    account = "123456789012"
    assert facts_of(GET, "arn:aws:s3:::bucket-a/data/x", account) == {
        "bucket": "bucket-a",
        "key": "data/x",
        "account": account,
    }
    assert facts_of(GET, "arn:aws:s3:::bucket-a", account) is None
    assert facts_of(GET, "arn:aws:s3:::bucket-a/*", account) is None
    user = BY_ACTION["iam:getuser"]
    assert facts_of(user, f"arn:aws:iam::{account}:user/alice", account) == {"account": account, "name": "alice"}
    assert facts_of(user, "arn:aws:iam::111122223333:user/alice", account) is None
    queue = BY_ACTION["sqs:sendmessage"]
    assert facts_of(queue, f"arn:aws:sqs:eu-west-1:{account}:q", account) is None


@settings(max_examples=60, derandomize=True, suppress_health_check=list(HealthCheck), deadline=None)
@given(probed_cases("123456789012"))
def test_aimed_cases_are_probeable(case: Case) -> None:
    """The enforcement suite's cases are all answerable by a real call (boundaries aside, per emulator)."""
    assert unsupported_reason(case, "123456789012") is None


def test_aimed_cases_include_assume_role_cases_with_the_trust_policy() -> None:
    """AssumeRole is probed in cases of its own, which carry the probe roles' trust policy."""
    from hypothesis import find

    from conformance.targets.probes import is_case_trust_policy

    account = "123456789012"
    case = find(probed_cases(account), lambda c: any(r.action == "sts:AssumeRole" for r in c.requests))
    assert {r.action for r in case.requests} == {"sts:AssumeRole"}
    assert case.resource_policy is not None and is_case_trust_policy(case.resource_policy.text(), account)


def test_the_trust_policy_case_rules() -> None:
    """A case of AssumeRole requests alone is accepted with the probe roles' trust policy (compared parsed, not
    as text), refused without it, with another resource policy, or with requests of another probe."""
    import json

    import msgspec

    from conformance.targets.probes import case_trust_policy
    from reference.model import Policy, Request

    account = "123456789012"
    trust = Policy.of("trust", case_trust_policy(account), "resource")
    case = Case(
        requests=[Request("sts:AssumeRole", f"arn:aws:iam::{account}:role/probe-role-a")],
        identity_policies=[Policy.of("p", {"Version": "2012-10-17", "Statement": []}, "user")],
        resource_policy=trust,
        caller_arn=f"arn:aws:iam::{account}:user/alice",
    )
    assert unsupported_reason(case, account) is None
    reformatted = Policy.of("trust", json.dumps(json.loads(trust.text()), indent=4), "resource")
    assert unsupported_reason(msgspec.structs.replace(case, resource_policy=reformatted), account) is None
    other_account = Policy.of("trust", case_trust_policy("111122223333"), "resource")
    s3 = Request("s3:GetObject", "arn:aws:s3:::bucket-a/k")
    variants = {
        "must carry that trust policy": msgspec.structs.replace(case, resource_policy=None),
        "without resource-based policies": msgspec.structs.replace(case, resource_policy=other_account),
        "AssumeRole requests only": msgspec.structs.replace(case, requests=[*case.requests, s3]),
    }
    for words, variant in variants.items():
        reason = unsupported_reason(variant, account)
        assert reason is not None and words in reason, (words, reason)
    no_assume = msgspec.structs.replace(case, requests=[s3])
    reason = unsupported_reason(no_assume, account)
    assert reason is not None and "AssumeRole requests only" in reason


def test_unsupported_reasons() -> None:
    import msgspec

    from reference.model import Policy, Request

    base = Case(
        requests=[Request("s3:GetObject", "arn:aws:s3:::bucket-a/k")],
        identity_policies=[Policy.of("p", {"Version": "2012-10-17", "Statement": []}, "user")],
        caller_arn="arn:aws:iam::123456789012:user/alice",
    )
    assert unsupported_reason(base, "123456789012") is None
    conditioned = Policy.of(
        "p",
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            },
        },
        "user",
    )
    variants = {
        "request context": msgspec.structs.replace(base, identity_policies=[conditioned]),
        "no session policy": msgspec.structs.replace(base, session_policy=base.identity_policies[0]),
        "no enforcement probe": msgspec.structs.replace(base, requests=[Request("ec2:RunInstances", "*")]),
        "cannot act on": msgspec.structs.replace(base, requests=[Request("s3:GetObject", "*")]),
        "emulator's account": msgspec.structs.replace(base, caller_arn="arn:aws:iam::111122223333:user/alice"),
        "administrator": msgspec.structs.replace(base, caller_arn="arn:aws:iam::123456789012:user/iamconf-admin"),
    }
    for words, case in variants.items():
        reason = unsupported_reason(case, "123456789012")
        assert reason is not None and words in reason, (words, reason)
