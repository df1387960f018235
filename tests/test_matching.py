"""Action / NotAction / Resource / NotResource matching and policy variables in Resource.

Pages: reference_policies_elements_action.html, _notaction.html, _resource.html
(#reference_policies_elements_resource_wildcards), _notresource.html,
reference_policies_variables.html, reference_policies_elements_version.html.
"""

from __future__ import annotations

import pytest

from tests.support import allow, ctx, decision, deny, doc

B = "arn:aws:s3:::amzn-s3-demo-bucket"


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        # elements_action: "action names are not case-sensitive" (prefix and name)
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:GetObject", "S3:GETOBJECT", True),
        ("S3:getobject", "s3:GetObject", True),
        ("s3:GetObject", "s3:GetObjectAcl", False),
        ("s3:Get*", "s3:GetObjectAcl", True),
        ("s3:*Object", "s3:PutObject", True),
        ("s3:*Object", "s3:PutObjectAcl", False),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetOObject", False),
        ("iam:*AccessKey*", "iam:ListAccessKeys", True),
        ("*", "ec2:RunInstances", True),
        ("s3:*", "s3express:CreateSession", False),
        ("s3:*", "S3:anything", True),
    ],
)
def test_action(pattern: str, action: str, expected: bool) -> None:
    got = decision(doc(allow(pattern, "*")), action=action, resource="*")
    assert got == ("allowed" if expected else "implicitDeny")


@pytest.mark.parametrize(
    ("not_action", "action", "expected"),
    [
        # elements_notaction: everything except the listed actions
        ("iam:*", "s3:GetObject", "allowed"),
        ("iam:*", "iam:CreateUser", "implicitDeny"),
        ("IAM:createuser", "iam:CreateUser", "implicitDeny"),
        ("iam:CreateUser", "iam:DeleteUser", "allowed"),
    ],
)
def test_not_action(not_action: str, action: str, expected: str) -> None:
    policy = doc({"Effect": "Allow", "NotAction": not_action, "Resource": "*"})
    assert decision(policy, action=action, resource="*") == expected


def test_not_action_with_deny_denies_everything_else() -> None:
    policy = doc(allow("*", "*"), {"Effect": "Deny", "NotAction": ["s3:*"], "Resource": "*"})
    assert decision(policy, action="ec2:RunInstances", resource="*") == "explicitDeny"
    assert decision(policy, action="s3:GetObject", resource="*") == "allowed"


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        # elements_resource: case-sensitive ("the IAM user name is case sensitive")
        ("arn:aws:iam::123456789012:user/Bob", "arn:aws:iam::123456789012:user/Bob", True),
        ("arn:aws:iam::123456789012:user/Bob", "arn:aws:iam::123456789012:user/bob", False),
        ("arn:aws:iam::123456789012:user/accounting/*", "arn:aws:iam::123456789012:user/accounting/carol", True),
        ("arn:aws:iam::123456789012:user/accounting/*", "arn:aws:iam::123456789012:user/sales/carol", False),
        (f"{B}/*", f"{B}/key", True),
        (f"{B}/*", B, False),
        # elements_resource: "*" can expand to replace everything within a segment,
        # including characters like "/": the Guide's amzn-s3-demo-bucket/*/test/* example.
        (f"{B}/*/test/*", f"{B}/1/test/object.jpg", True),
        (f"{B}/*/test/*", f"{B}/1/2/test/3/object.jpg", True),
        (f"{B}/*/test/*", f"{B}/1/2/test.jpg", False),
        # "?" is any single character
        (f"{B}/obj?ct", f"{B}/object", True),
        (f"{B}/obj?ct", f"{B}/objct", False),
        # "If the * wildcard is the last character of a resource ARN segment, it can
        # expand to match beyond the colon boundaries."
        ("arn:aws:sagemaker:*:*:*", "arn:aws:sagemaker:us-east-1:111122223333:endpoint/x", True),
        ("arn:aws:logs:*:*:log-group:/aws/x/*", "arn:aws:logs:us-east-1:1:log-group:/aws/x/g:log-stream:s", True),
        ("arn:aws:lambda:*:*:function:sagemaker-*", "arn:aws:lambda:us-east-1:1:function:sagemaker-f:1", True),
        # ... while a "*" inside a segment stays in it (UNDOCUMENTED.md: our reading).
        ("arn:aws:s3:::a*b", "arn:aws:s3:::a:x:b", False),
        ("arn:aws:s3:::a*b", "arn:aws:s3:::a/x/b", True),
        ("arn:aws:ec2:us-east-?:*:instance/*", "arn:aws:ec2:us-east-1:1:instance/i-1", True),
        ("arn:aws:ec2:us-east-?:*:instance/*", "arn:aws:ec2:us-east-12:1:instance/i-1", False),
        # the segment count matters: an extra or missing segment misses
        ("arn:aws:codecommit:*:*:sagemaker-*", "arn:aws:codecommit:us-east-1:1:sagemaker-r", True),
        ("arn:aws:iam::*:role/x", "arn:aws:iam:us-east-1:1:role/x", False),
        ("arn:aws:iam::1:role/x", "arn:aws:iam:us-east-1:1:role/x", False),
        ("*", "arn:aws:anything:::at-all", True),
        ("*", "*", True),
        (B, "*", False),
    ],
)
def test_resource(pattern: str, resource: str, expected: bool) -> None:
    got = decision(doc(allow("s3:GetObject", pattern)), action="s3:GetObject", resource=resource)
    assert got == ("allowed" if expected else "implicitDeny")


def test_not_resource_is_the_complement() -> None:
    # elements_notresource: matches every resource except those listed
    policy = doc({"Effect": "Allow", "Action": "s3:*", "NotResource": [f"{B}/private/*"]})
    assert decision(policy, action="s3:GetObject", resource=f"{B}/public/x") == "allowed"
    assert decision(policy, action="s3:GetObject", resource=f"{B}/private/x") == "implicitDeny"
    deny_policy = doc(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": f"{B}/*"})
    assert decision(deny_policy, action="s3:GetObject", resource="arn:aws:s3:::other/x") == "explicitDeny"
    assert decision(deny_policy, action="s3:GetObject", resource=f"{B}/x") == "allowed"


HOME = f"{B}/home/${{aws:username}}/*"


@pytest.mark.parametrize(
    ("pattern", "version", "context", "resource", "expected"),
    [
        # policies_variables: the value of the key replaces the variable
        (HOME, "2012-10-17", ctx(aws__username=("string", ["alice"])), f"{B}/home/alice/x", "allowed"),
        (HOME, "2012-10-17", ctx(aws__username=("string", ["alice"])), f"{B}/home/bob/x", "implicitDeny"),
        # no value and no default: the Resource matches nothing
        (HOME, "2012-10-17", [], f"{B}/home/alice/x", "implicitDeny"),
        # key names are case-insensitive
        (HOME, "2012-10-17", ctx(AWS__UserName=("string", ["alice"])), f"{B}/home/alice/x", "allowed"),
        # elements_version: under 2008-10-17 a variable is literal text
        (HOME, "2008-10-17", ctx(aws__username=("string", ["alice"])), f"{B}/home/alice/x", "implicitDeny"),
        (HOME, "2008-10-17", [], f"{B}/home/${{aws:username}}/x", "allowed"),
        (HOME, None, [], f"{B}/home/${{aws:username}}/x", "allowed"),
        # defaults: ${key, 'default'}
        (f"{B}/${{aws:PrincipalTag/team, 'shared'}}/*", "2012-10-17", [], f"{B}/shared/x", "allowed"),
        (
            f"{B}/${{aws:PrincipalTag/team, 'shared'}}/*",
            "2012-10-17",
            ctx(**{"aws__PrincipalTag/team": ("string", ["red"])}),
            f"{B}/red/x",
            "allowed",
        ),
        # escapes: ${*} ${?} ${$} are literal characters
        (f"{B}/a${{*}}b", "2012-10-17", [], f"{B}/a*b", "allowed"),
        (f"{B}/a${{*}}b", "2012-10-17", [], f"{B}/axxb", "implicitDeny"),
        (f"{B}/a${{?}}b", "2012-10-17", [], f"{B}/a?b", "allowed"),
        (f"{B}/a${{$}}b", "2012-10-17", [], f"{B}/a$b", "allowed"),
        # a substituted value is literal: a "*" in the value is not a wildcard
        (HOME, "2012-10-17", ctx(aws__username=("string", ["*"])), f"{B}/home/alice/x", "implicitDeny"),
        # substitute before splitting into segments: a value may contain ":"
        (
            "arn:aws:s3:::${aws:PrincipalTag/path}",
            "2012-10-17",
            ctx(**{"aws__PrincipalTag/path": ("string", ["b:c"])}),
            "arn:aws:s3:::b:c",
            "allowed",
        ),
    ],
)
def test_variables_in_resource(pattern: str, version: str | None, context: list, resource: str, expected: str) -> None:
    policy = doc(allow("s3:GetObject", pattern), version=version)
    assert decision(policy, action="s3:GetObject", resource=resource, context=context) == expected


def test_missing_variable_key_is_reported() -> None:
    from tests.support import evaluate

    result = evaluate(doc(allow("s3:GetObject", HOME)), action="s3:GetObject", resource=f"{B}/home/alice/x")
    assert result.missing_context_values == ["aws:username"]


def test_deny_with_wildcard_action_and_resource() -> None:
    assert decision(doc(allow(), deny("s3:Delete*", f"{B}/*")), action="s3:DeleteObject", resource=f"{B}/k") == (
        "explicitDeny"
    )
    assert decision(doc(allow(), deny("s3:Delete*", f"{B}/*")), action="s3:GetObject", resource=f"{B}/k") == "allowed"
