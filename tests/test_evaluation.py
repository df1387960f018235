"""How policy types combine.

Rows cite the IAM User Guide page they encode:
- denyallow: reference_policies_evaluation-logic_policy-eval-denyallow.html
- basics: reference_policies_evaluation-logic_policy-eval-basics.html
- cross: reference_policies_evaluation-logic-cross-account.html
- boundaries: access_policies_boundaries.html
- session: access_policies.html#policies_session
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import OTHER_ACCOUNT_USER, ROLE, SESSION, USER, allow, decision, deny, doc, evaluate

A = "s3:GetObject"
R = "arn:aws:s3:::bucket/key"
ALLOW = doc(allow(A, R))
DENY = doc(deny(A, R))
OTHER = doc(allow("s3:PutObject", R))  # allows something else: an implicit deny for A


def rp(principal: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return doc({"Effect": effect, "Principal": principal, "Action": A, "Resource": R, **extra})


@pytest.mark.parametrize(
    ("identity", "fields", "expected"),
    [
        # denyallow: "By default, all requests are implicitly denied"
        pytest.param([], {}, "implicitDeny", id="no-policy-implicit-deny"),
        pytest.param([OTHER], {}, "implicitDeny", id="other-action-implicit-deny"),
        pytest.param([ALLOW], {}, "allowed", id="identity-allow"),
        # denyallow: "An explicit deny overrides an explicit allow"
        pytest.param([ALLOW, DENY], {}, "explicitDeny", id="deny-in-second-policy-wins"),
        pytest.param([doc(allow(A, R), deny(A, R))], {}, "explicitDeny", id="deny-in-same-policy-wins"),
        pytest.param([ALLOW], {"permissions_boundary": DENY}, "explicitDeny", id="deny-in-boundary"),
        pytest.param([ALLOW], {"session_policy": DENY}, "explicitDeny", id="deny-in-session-policy"),
        pytest.param([ALLOW], {"scps": [[DENY]]}, "explicitDeny", id="deny-in-scp"),
        pytest.param([ALLOW], {"resource_policy": rp("*", "Deny")}, "explicitDeny", id="deny-in-resource-policy"),
        # boundaries: "the effective permissions ... are the intersection"
        pytest.param([ALLOW], {"permissions_boundary": ALLOW}, "allowed", id="boundary-allows"),
        pytest.param([ALLOW], {"permissions_boundary": OTHER}, "implicitDeny", id="boundary-implicit-deny"),
        pytest.param([OTHER], {"permissions_boundary": ALLOW}, "implicitDeny", id="boundary-grants-nothing-alone"),
        # session: "The resulting session's permissions are the intersection"
        pytest.param([ALLOW], {"session_policy": ALLOW}, "allowed", id="session-allows"),
        pytest.param([ALLOW], {"session_policy": OTHER}, "implicitDeny", id="session-implicit-deny"),
        pytest.param([OTHER], {"session_policy": ALLOW}, "implicitDeny", id="session-grants-nothing-alone"),
        # denyallow: SCPs need an Allow at every level, root to account
        pytest.param([ALLOW], {"scps": [[ALLOW]]}, "allowed", id="scp-allows"),
        pytest.param([ALLOW], {"scps": [[ALLOW], [OTHER]]}, "implicitDeny", id="scp-second-level-lacks-allow"),
        pytest.param([ALLOW], {"scps": [[OTHER, ALLOW], [ALLOW]]}, "allowed", id="scp-any-policy-per-level"),
        pytest.param([OTHER], {"scps": [[ALLOW]]}, "implicitDeny", id="scp-grants-nothing-alone"),
    ],
)
def test_policy_types_combine(identity: list[dict[str, Any]], fields: dict[str, Any], expected: str) -> None:
    assert decision(*identity, action=A, resource=R, **fields) == expected


@pytest.mark.parametrize(
    ("caller", "principal", "fields", "expected"),
    [
        # basics: "If either the identity-based policy or the resource-based policy
        # within the same account allows the request and the other doesn't, the
        # request is still allowed."
        pytest.param(USER, {"AWS": USER}, {}, "allowed", id="user-arn-grants-without-identity-allow"),
        pytest.param(SESSION, {"AWS": SESSION}, {}, "allowed", id="session-arn-grants"),
        pytest.param(SESSION, {"AWS": ROLE}, {}, "allowed", id="role-arn-grants-session"),
        pytest.param(USER, "*", {}, "allowed", id="wildcard-principal-grants"),
        pytest.param(USER, {"AWS": "arn:aws:iam::111122223333:user/other"}, {}, "implicitDeny", id="other-user"),
        # boundaries: an implicit deny in a boundary does not limit a grant to the
        # user ARN or the session ARN, but does limit a grant to the role ARN.
        pytest.param(
            USER, {"AWS": USER}, {"permissions_boundary": OTHER}, "allowed", id="user-arn-not-limited-by-boundary"
        ),
        pytest.param(
            SESSION,
            {"AWS": SESSION},
            {"permissions_boundary": OTHER},
            "allowed",
            id="session-arn-not-limited-by-boundary",
        ),
        pytest.param(
            SESSION, {"AWS": ROLE}, {"permissions_boundary": OTHER}, "implicitDeny", id="role-arn-limited-by-boundary"
        ),
        # session: a grant to the session ARN is not limited by the session policy;
        # a grant to the role ARN is.
        pytest.param(SESSION, {"AWS": SESSION}, {"session_policy": OTHER}, "allowed", id="session-arn-not-limited"),
        pytest.param(
            SESSION, {"AWS": ROLE}, {"session_policy": OTHER}, "implicitDeny", id="role-arn-limited-by-session"
        ),
        # An account principal delegates to the account's identity policies (UNDOCUMENTED.md).
        pytest.param(USER, {"AWS": "111122223333"}, {}, "implicitDeny", id="account-principal-delegates"),
        pytest.param(
            USER, {"AWS": "arn:aws:iam::111122223333:root"}, {}, "implicitDeny", id="account-root-principal-delegates"
        ),
    ],
)
def test_same_account_resource_policy(caller: str, principal: Any, fields: dict[str, Any], expected: str) -> None:
    assert decision(action=A, resource=R, caller_arn=caller, resource_policy=rp(principal), **fields) == expected


@pytest.mark.parametrize(
    ("identity", "principal", "expected"),
    [
        # cross: both the identity-based policy and the resource-based policy must allow.
        pytest.param([ALLOW], {"AWS": OTHER_ACCOUNT_USER}, "allowed", id="both-allow"),
        pytest.param([ALLOW], {"AWS": "444455556666"}, "allowed", id="account-principal-counts-cross-account"),
        pytest.param([], {"AWS": OTHER_ACCOUNT_USER}, "implicitDeny", id="resource-policy-alone"),
        pytest.param([ALLOW], None, "implicitDeny", id="identity-alone"),
        pytest.param([ALLOW], {"AWS": USER}, "implicitDeny", id="resource-policy-names-someone-else"),
    ],
)
def test_cross_account(identity: list[dict[str, Any]], principal: Any, expected: str) -> None:
    fields: dict[str, Any] = {"caller_arn": OTHER_ACCOUNT_USER, "resource_owner": "arn:aws:iam::111122223333:root"}
    if principal is not None:
        fields["resource_policy"] = rp(principal)
    assert decision(*identity, action=A, resource=R, **fields) == expected


def test_notprincipal_deny_excludes_listed_principal() -> None:
    # reference_policies_elements_notprincipal.html: everyone except the listed principals.
    policy = doc(
        {"Effect": "Allow", "Principal": "*", "Action": A, "Resource": R},
        {"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": A, "Resource": R},
    )
    assert decision(action=A, resource=R, caller_arn=USER, resource_policy=policy) == "allowed"
    other = "arn:aws:iam::111122223333:user/mallory"
    assert decision(action=A, resource=R, caller_arn=other, resource_policy=policy) == "explicitDeny"


def test_notprincipal_deny_always_denies_principals_with_a_boundary() -> None:
    # access_policies_boundaries.html: "The NotPrincipal element with a Deny effect will
    # always deny any IAM principal that has a permissions boundary policy attached,
    # regardless of the values specified in the NotPrincipal element."
    policy = doc({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": A, "Resource": R})
    fields: dict[str, Any] = {"caller_arn": USER, "resource_policy": policy}
    assert decision(ALLOW, action=A, resource=R, **fields) == "allowed"
    assert decision(ALLOW, action=A, resource=R, permissions_boundary=ALLOW, **fields) == "explicitDeny"


def test_rcps_apply_only_to_supported_services() -> None:
    # access_policies_rcps.html: RCPs apply to the services that support them (S3 does, EC2 does not).
    rcp_other = doc({"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"})
    assert decision(ALLOW, action=A, resource=R, rcps=[[rcp_other]]) == "implicitDeny"
    ec2 = doc(allow("ec2:DescribeInstances", "*"))
    assert decision(ec2, action="ec2:DescribeInstances", resource="*", rcps=[[rcp_other]]) == "allowed"
    rcp_s3 = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    assert decision(ALLOW, action=A, resource=R, rcps=[[rcp_s3]]) == "allowed"
    rcp_deny = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    assert decision(ALLOW, action=A, resource=R, rcps=[[rcp_s3, rcp_deny]]) == "explicitDeny"


def test_matched_statements_and_details() -> None:
    result = evaluate(
        doc(allow(A, R), deny("s3:PutObject", R)),
        doc({"Sid": "Second", **allow("s3:*", "*")}),
        action=A,
        resource=R,
        permissions_boundary=ALLOW,
        scps=[[ALLOW]],
    )
    assert result.decision.value == "allowed"
    got = [(m.policy_id, m.statement_index, m.sid) for m in result.matched_statements]
    assert got == [("id0", 0, None), ("id1", 0, "Second"), ("permissions_boundary", 0, None), ("scps-0-0", 0, None)]
    assert result.details.boundary_allowed is True
    assert result.details.organizations_allowed is True
    first = result.matched_statements[0]
    # json.dumps(indent=2) puts the first statement's "{" on line 4, column 5.
    assert (first.start.line, first.start.column) == (4, 5)
    assert first.end.line > first.start.line

    denied = evaluate(ALLOW, DENY, action=A, resource=R)
    assert [(m.policy_id, m.statement_index) for m in denied.matched_statements] == [("id1", 0)]
    assert denied.details.boundary_allowed is None and denied.details.organizations_allowed is None

    implicit = evaluate(OTHER, action=A, resource=R, permissions_boundary=OTHER)
    assert implicit.matched_statements == [] and implicit.details.boundary_allowed is False


def test_missing_context_values_come_from_relevant_statements_only() -> None:
    cond = {"StringEquals": {"aws:PrincipalTag/team": "a"}}
    other_cond = {"Bool": {"aws:SecureTransport": "true"}}
    result = evaluate(
        doc(allow(A, R, Condition=cond), allow("s3:PutObject", R, Condition=other_cond)), action=A, resource=R
    )
    assert result.decision.value == "implicitDeny"
    assert result.missing_context_values == ["aws:PrincipalTag/team"]


def test_policy_type_reported_from_case_or_default() -> None:
    from reference.compiled import PolicyCache
    from reference.evaluator import evaluate_case
    from reference.model import Case, Policy, Request

    case = Case(
        identity_policies=[Policy.of("mine", ALLOW, "user-managed")],
        requests=[Request(action=A, resource=R)],
    )
    result = evaluate_case(case, PolicyCache()).results[0]
    assert result.matched_statements[0].policy_type == "user-managed"
    assert evaluate(ALLOW, action=A, resource=R).matched_statements[0].policy_type == "user"
