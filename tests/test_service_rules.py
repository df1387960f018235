"""Service-specific rules (reference/service_rules.py), one table per rule, each citing the service's page.

Every row is evaluated with the rules on (the default) and off (per run, and per case with
``"service_rules": false``): the "off" column is the IAM User Guide's general logic, so each row also
shows what the rule changes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reference.caseio import answer_lines
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, Policy, Request
from reference.service_rules import SERVICE_RULES, applicable

ACCOUNT = "111122223333"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy"


def allow(action: str, resource: str = "*", principal: Any = None, effect: str = "Allow") -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if principal is not None:
        st["Principal"] = principal
    return {"Version": "2012-10-17", "Statement": [st]}


def decide(
    action: str,
    resource: str,
    identity: list[dict[str, Any]],
    resource_policy: dict[str, Any] | None = None,
    *,
    rules: bool = True,
    caller: str = USER,
) -> str:
    case = Case(
        identity_policies=[Policy.of(f"id{i}", json.dumps(p)) for i, p in enumerate(identity)],
        resource_policy=Policy.of("resource", json.dumps(resource_policy)) if resource_policy else None,
        caller_arn=caller,
        requests=[Request(action=action, resource=resource)],
    )
    return evaluate_case(case, PolicyCache(), service_rules=rules).results[0].decision.value


ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}

# KMS Developer Guide, key-policies.html: "Unless the key policy explicitly allows it, you cannot use IAM
# policies to allow access to a KMS key."  key-policy-default.html: the default key policy "gives the AWS
# account that owns the KMS key permission to use IAM policies".  IAM User Guide,
# reference_policies_evaluation-logic_policy-eval-basics.html: "Role trust policies and KMS key policies are
# exceptions to this logic, because they must explicitly allow access for principals."
KMS_ROWS = [
    # (id, identity policies, key policy, with rules, without)
    (
        "identity-only-key-policy-silent",
        [allow("kms:Decrypt")],
        allow("kms:Encrypt", principal=ROOT),
        "implicitDeny",
        "allowed",
    ),
    ("key-policy-names-user", [], allow("kms:Decrypt", principal={"AWS": USER}), "allowed", "allowed"),
    (
        "key-policy-delegates-identity-allows",
        [allow("kms:Decrypt")],
        allow("kms:*", principal=ROOT),
        "allowed",
        "allowed",
    ),
    ("key-policy-delegates-identity-silent", [], allow("kms:*", principal=ROOT), "implicitDeny", "implicitDeny"),
    ("no-key-policy-is-default-key-policy", [allow("kms:Decrypt")], None, "allowed", "allowed"),
    (
        "key-policy-denies",
        [allow("kms:Decrypt")],
        allow("kms:Decrypt", principal="*", effect="Deny"),
        "explicitDeny",
        "explicitDeny",
    ),
]


@pytest.mark.parametrize(
    ("identity", "key_policy", "on", "off"), [r[1:] for r in KMS_ROWS], ids=[r[0] for r in KMS_ROWS]
)
def test_kms_key_policy(identity: list[dict[str, Any]], key_policy: dict[str, Any] | None, on: str, off: str) -> None:
    assert decide("kms:Decrypt", KEY, identity, key_policy) == on
    assert decide("kms:Decrypt", KEY, identity, key_policy, rules=False) == off


def test_kms_rule_is_for_keys_only() -> None:
    assert decide("kms:ListKeys", "*", [allow("kms:ListKeys")], allow("kms:Encrypt", principal=ROOT)) == "allowed"


# IAM User Guide, as above (role trust policies), and id_roles_update-role-trust-policy.html ("To change who
# can assume a role, you must modify the role's trust policy").  Same account: a trust policy naming the
# user grants on its own; naming the account delegates to identity policies.
STS_ROWS = [
    ("identity-only-no-trust-policy", [allow("sts:AssumeRole", ROLE)], None, "implicitDeny", "allowed"),
    ("trust-names-user", [], allow("sts:AssumeRole", principal={"AWS": USER}), "allowed", "allowed"),
    (
        "trust-names-account-identity-allows",
        [allow("sts:AssumeRole", ROLE)],
        allow("sts:AssumeRole", principal=ROOT),
        "allowed",
        "allowed",
    ),
    (
        "trust-names-account-identity-silent",
        [],
        allow("sts:AssumeRole", principal=ROOT),
        "implicitDeny",
        "implicitDeny",
    ),
    (
        "trust-names-someone-else",
        [allow("sts:AssumeRole", ROLE)],
        allow("sts:AssumeRole", principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}),
        "implicitDeny",
        "allowed",
    ),
]


@pytest.mark.parametrize(("identity", "trust", "on", "off"), [r[1:] for r in STS_ROWS], ids=[r[0] for r in STS_ROWS])
def test_sts_assume_role_needs_the_trust_policy(
    identity: list[dict[str, Any]], trust: dict[str, Any] | None, on: str, off: str
) -> None:
    assert decide("sts:AssumeRole", ROLE, identity, trust) == on
    assert decide("sts:AssumeRole", ROLE, identity, trust, rules=False) == off


# STS API Reference, API_GetCallerIdentity.html: "No permissions are required to perform this operation. If an
# administrator attaches a policy to your identity that explicitly denies access to the sts:GetCallerIdentity
# action, you can still perform this operation."
@pytest.mark.parametrize(
    ("identity", "off"),
    [
        ([], "implicitDeny"),
        ([allow("sts:GetCallerIdentity", effect="Deny")], "explicitDeny"),
        ([allow("*")], "allowed"),
    ],
    ids=["no-policy", "explicit-deny", "allowed-anyway"],
)
def test_get_caller_identity_needs_no_permission_and_cannot_be_denied(identity: list[dict[str, Any]], off: str) -> None:
    assert decide("sts:GetCallerIdentity", "*", identity) == "allowed"
    assert decide("sts:GetCallerIdentity", "*", identity, rules=False) == off


# IAM User Guide, access_policies_managed-vs-inline.html: "You cannot change the permissions defined in AWS
# managed policies."  id_roles_update-role-trust-policy.html: "You cannot modify the trust policy for a
# service-linked role."
MANAGED = "arn:aws:iam::aws:policy/AdministratorAccess"
SLR = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk"
CHANGE_ROWS = [
    ("create-version-of-aws-managed", "iam:CreatePolicyVersion", MANAGED, "implicitDeny", "allowed"),
    ("delete-aws-managed", "iam:DeletePolicy", MANAGED, "implicitDeny", "allowed"),
    ("read-aws-managed", "iam:GetPolicy", MANAGED, "allowed", "allowed"),
    ("change-customer-managed", "iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/mine", "allowed", "allowed"),
    ("trust-policy-of-slr", "iam:UpdateAssumeRolePolicy", SLR, "implicitDeny", "allowed"),
    ("attach-to-slr", "iam:AttachRolePolicy", SLR, "implicitDeny", "allowed"),
    ("change-ordinary-role", "iam:UpdateAssumeRolePolicy", ROLE, "allowed", "allowed"),
]


@pytest.mark.parametrize(
    ("action", "resource", "on", "off"), [r[1:] for r in CHANGE_ROWS], ids=[r[0] for r in CHANGE_ROWS]
)
def test_aws_managed_policies_and_service_linked_roles_cannot_be_changed(
    action: str, resource: str, on: str, off: str
) -> None:
    assert decide(action, resource, [allow("*")]) == on
    assert decide(action, resource, [allow("*")], rules=False) == off


def test_every_rule_quotes_its_page_and_is_tested() -> None:
    for rule in SERVICE_RULES:
        assert rule.page.startswith("https://docs.aws.amazon.com/") and len(rule.quote) > 40
    governed = {
        applicable(a.lower(), r)
        for a, r in (
            ("kms:Decrypt", KEY),
            ("sts:AssumeRole", ROLE),
            ("sts:GetCallerIdentity", "*"),
            ("iam:DeletePolicy", MANAGED),
        )
    }
    assert governed == set(SERVICE_RULES)


def test_switched_off_per_case() -> None:
    base = {
        "identity_policies": [{"id": "p", "document": allow("sts:AssumeRole", ROLE)}],
        "caller_arn": USER,
        "requests": [{"action": "sts:AssumeRole", "resource": ROLE}],
    }
    on, off = (json.dumps(base).encode(), json.dumps({**base, "service_rules": False}).encode())
    decisions = [json.loads(a.output)["results"][0]["decision"] for a in answer_lines([on, off])]
    assert decisions == ["implicitDeny", "allowed"]
    per_run = [json.loads(a.output)["results"][0]["decision"] for a in answer_lines([on], service_rules=False)]
    assert per_run == ["allowed"]
