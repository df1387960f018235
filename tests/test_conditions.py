"""Tests for reference.conditions: the Condition element and every condition operator.

Tables named after an IAM User Guide page encode that page's rows as printed (policy condition,
request context, result); the other tables cover each operator family and the choices recorded
in reference/UNDOCUMENTED.md (section "Conditions").  Page names are the Guide's own:

- operators: reference_policies_elements_condition_operators.html
- logic: reference_policies_condition-logic-multiple-context-keys-or-values.html
- single-vs-multi: reference_policies_condition-single-vs-multi-valued-context-keys.html
- single-examples: reference_policies_condition_examples-single-valued-context-keys.html
- multi-examples: reference_policies_condition_examples-multi-valued-context-keys.html
- variables: reference_policies_variables.html
- elements_condition: reference_policies_elements_condition.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference.conditions import ConditionBlock, compile_conditions, read_instant
from reference.context import RequestContext
from reference.errors import PolicyError
from reference.model import ContextEntry, ContextKeyType
from reference.policy import parse_policy

V2012 = "2012-10-17"
V2008 = "2008-10-17"

# A context written as {key: value}: a str is one "string" value, a list a "stringList",
# a (type, [values]) pair anything else.
CtxValue = str | list[str] | tuple[ContextKeyType, list[str]]
Ctx = Mapping[str, CtxValue]


def policy_text(condition: Any, version: str | None = V2012) -> str:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}
    doc: dict[str, Any] = {"Statement": [statement]}
    if version is not None:
        doc = {"Version": version, **doc}
    return json.dumps(doc, indent=2)


def compile_text(text: str) -> ConditionBlock:
    parsed = parse_policy(text)
    stmt = parsed.statements[0]
    assert stmt.condition is not None
    return compile_conditions(
        stmt.condition,
        doc=parsed.document,
        path=(*stmt.path, "Condition"),
        variables_enabled=parsed.variables_enabled,
    )


def compile_block(condition: Any, version: str | None = V2012) -> ConditionBlock:
    return compile_text(policy_text(condition, version))


def context(values: Ctx) -> RequestContext:
    entries = []
    for key, value in values.items():
        if isinstance(value, str):
            entries.append(ContextEntry(key=key, type="string", values=[value]))
        elif isinstance(value, list):
            entries.append(ContextEntry(key=key, type="stringList", values=value))
        else:
            entries.append(ContextEntry(key=key, type=value[0], values=value[1]))
    return RequestContext.of(entries)


def evaluate(condition: Any, values: Ctx, version: str | None = V2012) -> bool:
    return compile_block(condition, version).matches(context(values))


def rows(condition: Any, table: Sequence[tuple[str, Ctx, bool]]) -> list[Any]:
    """pytest params for one condition and its (id, context, expected) rows."""
    return [pytest.param(condition, ctx, expected, id=row_id) for row_id, ctx, expected in table]


# ---------------------------------------------------------------------------
# logic, #reference_policies_multiple-conditions-eval: the S3 bucket policy table
# (StringEquals on two principal tags AND ArnLike on aws:PrincipalArn).
# ---------------------------------------------------------------------------
ANA = "arn:aws:iam::222222222222:user/Ana"
MARY = "arn:aws:iam::222222222222:user/Mary"
NIKKI = "arn:aws:iam::222222222222:user/Nikki"
_TAGS = {"aws:PrincipalTag/department": ["finance", "hr", "legal"], "aws:PrincipalTag/role": ["audit", "security"]}
LOGIC_AND = {"StringEquals": _TAGS, "ArnLike": {"aws:PrincipalArn": [ANA, MARY]}}
LOGIC_AND_ROWS = rows(
    LOGIC_AND,
    [
        (
            "legal-audit-Mary",
            {"aws:PrincipalTag/department": "legal", "aws:PrincipalTag/role": "audit", "aws:PrincipalArn": MARY},
            True,
        ),
        (
            "hr-audit-Nikki",
            {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit", "aws:PrincipalArn": NIKKI},
            False,
        ),
        (
            "hr-payroll-Mary",
            {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "payroll", "aws:PrincipalArn": MARY},
            False,
        ),
        ("no-role-tag", {"aws:PrincipalTag/department": "hr", "aws:PrincipalArn": MARY}, False),
        ("no-principal-tags", {"aws:PrincipalArn": MARY}, False),
    ],
)

# logic, #reference_policies_multiple-conditions-negated-matching-eval: the same policy with ArnNotLike.
LOGIC_NOR = {"StringEquals": _TAGS, "ArnNotLike": {"aws:PrincipalArn": [ANA, MARY]}}
LOGIC_NOR_ROWS = rows(
    LOGIC_NOR,
    [
        (
            "legal-audit-Nikki",
            {"aws:PrincipalTag/department": "legal", "aws:PrincipalTag/role": "audit", "aws:PrincipalArn": NIKKI},
            True,
        ),
        (
            "hr-audit-Mary",
            {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit", "aws:PrincipalArn": MARY},
            False,
        ),
        (
            "hr-payroll-Nikki",
            {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "payroll", "aws:PrincipalArn": NIKKI},
            False,
        ),
        ("no-role-tag", {"aws:PrincipalTag/department": "hr", "aws:PrincipalArn": NIKKI}, False),
        ("no-principal-tags", {"aws:PrincipalArn": NIKKI}, False),
    ],
)

# single-examples, "One condition block with multiple single-valued context keys and values" (table).
ECS = "arn:aws:ecs:us-east-1:111122223333:cluster/"
SINGLE_ECS = {
    "StringEquals": {"aws:RequestTag/environment": ["production", "prod-backup"]},
    "ArnEquals": {"ecs:cluster": [ECS + "default1", ECS + "default2"]},
}
SINGLE_ECS_ROWS = rows(
    SINGLE_ECS,
    [
        ("production-default1", {"aws:RequestTag/environment": "production", "ecs:cluster": ECS + "default1"}, True),
        ("prod-backup-default2", {"aws:RequestTag/environment": "prod-backup", "ecs:cluster": ECS + "default2"}, True),
        ("webserver-tag", {"aws:RequestTag/webserver": "production", "ecs:cluster": ECS + "default2"}, False),
        ("no-request-tag", {"ecs:cluster": ECS + "default2"}, False),
    ],
)

# single-examples, "Multiple condition blocks with single-valued context keys": no table; the text
# says project Feature3 with environment QA is allowed and environment "can be anything except production".
SINGLE_BLOCKS_ROWS = [
    pytest.param(
        {"StringLike": {"aws:RequestTag/project": "*"}},
        {"aws:RequestTag/project": "Feature3"},
        True,
        id="project-any-value",
    ),
    pytest.param({"StringLike": {"aws:RequestTag/project": "*"}}, {}, False, id="project-missing"),
    pytest.param(
        {"StringNotEquals": {"aws:ResourceTag/environment": "production"}},
        {"aws:ResourceTag/environment": "QA"},
        True,
        id="environment-QA",
    ),
    pytest.param(
        {"StringNotEquals": {"aws:ResourceTag/environment": "production"}},
        {"aws:ResourceTag/environment": "production"},
        False,
        id="environment-production",
    ),
]

# single-vs-multi, #reference_policies_condition-multi-valued-context-keys, ForAllValues table.
SVM_ALL = {
    "ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]},
    "Null": {"aws:TagKeys": "false"},
}
SVM_ALL_ROWS = rows(
    SVM_ALL,
    [
        ("environment", {"aws:TagKeys": ["environment"]}, True),
        ("cost-center", {"aws:TagKeys": ["cost-center"]}, True),
        ("both", {"aws:TagKeys": ["environment", "cost-center"]}, True),
        ("environment-dept", {"aws:TagKeys": ["environment", "dept"]}, False),
        ("missing", {}, False),
    ],
)

# single-vs-multi, ForAnyValue table.
SVM_ANY = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
SVM_ANY_ROWS = rows(
    SVM_ANY,
    [
        ("environment", {"aws:TagKeys": ["environment"]}, True),
        ("cost-center", {"aws:TagKeys": ["cost-center"]}, True),
        ("both", {"aws:TagKeys": ["environment", "cost-center"]}, True),
        ("environment-dept", {"aws:TagKeys": ["environment", "dept"]}, True),
        ("dept", {"aws:TagKeys": ["dept"]}, False),
        ("missing", {}, False),
    ],
)

# multi-examples, "Deny a single policy condition value for a multivalued context key" (table).
MULTI_NOTLIKE_ONE = {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}
MULTI_NOTLIKE_ONE_ROWS = rows(
    MULTI_NOTLIKE_ONE,
    [
        ("key1-legal", {"aws:TagKeys": ["key1:legal"]}, False),
        ("key1-hr-personnel", {"aws:TagKeys": ["key1:hr", "key1:personnel"]}, False),
        ("key2-audit", {"aws:TagKeys": ["key2:audit"]}, True),
        ("missing", {}, True),
    ],
)

# multi-examples, "Deny multiple policy condition values for a multivalued context key" (table).
MULTI_NOTLIKE_TWO = {"ForAllValues:StringNotLike": {"aws:TagKeys": ["key1*", "key2*"]}}
MULTI_NOTLIKE_TWO_ROWS = rows(
    MULTI_NOTLIKE_TWO,
    [
        ("key1-legal", {"aws:TagKeys": ["key1:legal"]}, False),
        ("key1-hr-personnel", {"aws:TagKeys": ["key1:hr", "key1:personnel"]}, False),
        ("key1-hr-key2-audit", {"aws:TagKeys": ["key1:hr", "key2:audit"]}, False),
        ("key3-legal", {"aws:TagKeys": ["key3:legal"]}, True),
        ("missing", {}, True),
    ],
)

# multi-examples, "Deny policy with condition set operator ForAnyValue" (table).
MULTI_ANY = {"ForAnyValue:StringEquals": {"aws:TagKeys": "webserver"}}
MULTI_ANY_ROWS = rows(
    MULTI_ANY,
    [
        ("webserver", {"aws:TagKeys": ["webserver"]}, True),
        ("environment-webserver-test", {"aws:TagKeys": ["environment", "webserver", "test"]}, True),
        ("environment-test", {"aws:TagKeys": ["environment", "test"]}, False),
        ("missing", {}, False),
    ],
)

# operators, #Conditions_String, "Example string condition operator" (table).
OPS_STRING = {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
OPS_STRING_ROWS = rows(
    OPS_STRING,
    [
        ("iamuser-admin", {"aws:PrincipalTag/job-category": "iamuser-admin"}, True),
        ("dev-ops", {"aws:PrincipalTag/job-category": "dev-ops"}, False),
        ("missing", {}, False),
    ],
)

# operators, #Conditions_String, "Example using a policy variable with a string condition operator".
# The table's result column shows the rendered condition for martha_rivera and nikki_wolf, and
# "No match" when aws:username is absent (for any prefix, so also for "home/").
OPS_VARIABLE = {"StringLike": {"s3:prefix": ["home/", "home/${aws:username}/"]}}
OPS_VARIABLE_ROWS = rows(
    OPS_VARIABLE,
    [
        ("martha-own-home", {"aws:username": "martha_rivera", "s3:prefix": "home/martha_rivera/"}, True),
        ("martha-home", {"aws:username": "martha_rivera", "s3:prefix": "home/"}, True),
        ("martha-other-home", {"aws:username": "martha_rivera", "s3:prefix": "home/nikki_wolf/"}, False),
        ("nikki-own-home", {"aws:username": "nikki_wolf", "s3:prefix": "home/nikki_wolf/"}, True),
        ("no-username", {"s3:prefix": "home/martha_rivera/"}, False),
        ("no-username-home", {"s3:prefix": "home/"}, False),
    ],
)

# operators, #Conditions_String, "Example using ForAnyValue with a string condition operator" (table).
OPS_ANY_IGNORECASE = {
    "StringEqualsIgnoreCase": {"aws:RequestTag/environment": ["preprod", "storage"]},
    "ForAnyValue:StringEquals": {"aws:TagKeys": "environment"},
}
OPS_ANY_IGNORECASE_ROWS = rows(
    OPS_ANY_IGNORECASE,
    [
        ("environment-preprod", {"aws:TagKeys": ["environment"], "aws:RequestTag/environment": "preprod"}, True),
        (
            "environment-costcenter-PreProd",
            {"aws:TagKeys": ["environment", "costcenter"], "aws:RequestTag/environment": "PreProd"},
            True,
        ),
        ("Environment-key", {"aws:TagKeys": ["Environment"], "aws:RequestTag/Environment": "preprod"}, False),
        ("costcenter-preprod", {"aws:TagKeys": ["costcenter"], "aws:RequestTag/environment": "preprod"}, False),
        ("no-tagkeys", {"aws:RequestTag/environment": "storage"}, False),
        ("no-request-tag", {"aws:TagKeys": ["environment"]}, False),
        ("neither", {}, False),
    ],
)

# operators, #Conditions_String, "Wildcard matching" (table).  That table's Result column reports whether
# the resource's OU path is one of the listed paths (the Deny statement applies on "No match"): the
# condition itself holds exactly on the "No match" rows, which is what these rows assert.
OPS_ORGPATHS = {
    "ForAllValues:StringNotLike": {
        "aws:ResourceOrgPaths": ["o-acorg/r-acroot/ou-acroot-mediaou/", "o-acorg/r-acroot/ou-acroot-sportsou/*"]
    }
}
OPS_ORGPATHS_ROWS = rows(
    OPS_ORGPATHS,
    [
        (
            "sportsou-costcenter(Match)",
            {"aws:ResourceOrgPaths": ["o-acorg/r-acroot/ou-acroot-sportsou/costcenter/"]},
            False,
        ),
        (
            "mediaou-costcenter(No-match)",
            {"aws:ResourceOrgPaths": ["o-acorg/r-acroot/ou-acroot-mediaou/costcenter/"]},
            True,
        ),
        ("missing(No-match)", {}, True),
    ],
)

# operators, #Conditions_Numeric: no table; "can list up to 10 objects", the key "always present".
OPS_NUMERIC = {"NumericLessThanEquals": {"s3:max-keys": "10"}}
OPS_NUMERIC_ROWS = rows(
    OPS_NUMERIC,
    [
        ("ten", {"s3:max-keys": ("numeric", ["10"])}, True),
        ("five", {"s3:max-keys": ("numeric", ["5"])}, True),
        ("eleven", {"s3:max-keys": ("numeric", ["11"])}, False),
        ("missing", {}, False),
    ],
)

# operators, #Conditions_Date: no table; credentials "issued in 2020" or later; key absent for access keys.
OPS_DATE = {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
OPS_DATE_ROWS = rows(
    OPS_DATE,
    [
        ("issued-2021", {"aws:TokenIssueTime": ("date", ["2021-06-01T12:00:00Z"])}, True),
        ("issued-2019", {"aws:TokenIssueTime": ("date", ["2019-12-31T23:59:59Z"])}, False),
        ("issued-at-the-second", {"aws:TokenIssueTime": ("date", ["2020-01-01T00:00:01Z"])}, False),
        ("access-keys", {}, False),
    ],
)

# operators, #Conditions_Boolean, "Example boolean condition operator" (table).
OPS_BOOL = {"Bool": {"aws:SecureTransport": "false"}}
OPS_BOOL_ROWS = rows(
    OPS_BOOL,
    [
        ("false", {"aws:SecureTransport": ("boolean", ["false"])}, True),
        ("true", {"aws:SecureTransport": ("boolean", ["true"])}, False),
        ("missing", {}, False),
    ],
)

# operators, #Conditions_BinaryEquals (table).
OPS_BINARY = {"BinaryEquals": {"aws:key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}
OPS_BINARY_ROWS = rows(
    OPS_BINARY,
    [
        ("same", {"aws:key": ("binary", ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="])}, True),
        ("other", {"aws:key": ("binary", ["ASIAIOSFODNN7EXAMPLE"])}, False),
        ("missing", {}, False),
    ],
)

# operators, #Conditions_IPAddress, "Example IP address condition operator" (table), and the IPv4+IPv6 example.
OPS_IP = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
OPS_IP_MIXED = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
OPS_IP_ROWS = rows(
    OPS_IP,
    [
        ("inside", {"aws:SourceIp": ("ip", ["203.0.113.1"])}, True),
        ("outside", {"aws:SourceIp": ("ip", ["198.51.100.1"])}, False),
        ("vpc-endpoint-no-key", {}, False),
    ],
) + rows(
    OPS_IP_MIXED,
    [
        ("mixed-ipv4", {"aws:SourceIp": ("ip", ["203.0.113.200"])}, True),
        ("mixed-ipv6", {"aws:SourceIp": ("ip", ["2001:db8:1234:5678:abcd::1"])}, True),
        ("mixed-ipv6-outside", {"aws:SourceIp": ("ip", ["2001:db8:1234:5679::1"])}, False),
    ],
)

# operators, #Conditions_ARN, "Example ARN condition operator" (table).
TOPIC = "arn:aws:sns:us-west-2:123456789012:TOPIC-ID"
OPS_ARN = {"ArnEquals": {"aws:SourceArn": TOPIC}}
OPS_ARN_ROWS = rows(
    OPS_ARN,
    [
        ("same-topic", {"aws:SourceArn": TOPIC}, True),
        ("other-account", {"aws:SourceArn": "arn:aws:sns:us-west-2:777788889999:TOPIC-ID"}, False),
        ("missing", {}, False),
    ],
)

# operators, #Conditions_ARN, "Example using ForAllValues with an ARN condition operator" (table, ARNs as printed).
CF = "arn:aws::cloudfront:123456789012:distribution/"
OPS_ARN_ALL = {"ForAllValues:ArnLike": {"logs:LogGeneratingResourceArns": [CF + "*", CF + "support*"]}}
OPS_ARN_ALL_ROWS = rows(
    OPS_ARN_ALL,
    [
        ("costcenter", {"logs:LogGeneratingResourceArns": [CF + "costcenter"]}, True),
        ("costcenter-support2025", {"logs:LogGeneratingResourceArns": [CF + "costcenter", CF + "support2025"]}, True),
        ("costcenter-admin", {"logs:LogGeneratingResourceArns": [CF + "costcenter", CF + "admin"]}, True),
        (
            "other-account",
            {"logs:LogGeneratingResourceArns": ["arn:aws::cloudfront:777788889999:distribution/costcenter"]},
            False,
        ),
        ("missing", {}, True),
    ],
)
# The third row of that table reads "No match" for costcenter + admin, but "distribution/*" (the first
# policy value) matches both ARNs; every rule on the page ("All of the ARNs in the request context must
# match at least one of the ARN patterns") gives Match.  The row above follows the rule; see
# UNDOCUMENTED.md ("Conditions": the Guide's own inconsistencies).

# operators, #Conditions_IfExists, "Example using IfExists" (table).
OPS_IFEXISTS = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
OPS_IFEXISTS_ROWS = rows(
    OPS_IFEXISTS,
    [
        ("t1.micro", {"ec2:InstanceType": "t1.micro"}, True),
        ("m2.micro", {"ec2:InstanceType": "m2.micro"}, False),
        ("missing", {}, True),
    ],
)

# operators, #Conditions_Null: "Null": {"aws:TokenIssueTime": "false"} needs temporary credentials
# (current edition); the earlier edition's example uses "true" (the key must be absent).
OPS_NULL_ROWS = rows(
    {"Null": {"aws:TokenIssueTime": "false"}},
    [
        ("false-temporary-credentials", {"aws:TokenIssueTime": ("date", ["2024-01-01T00:00:00Z"])}, True),
        ("false-long-term-credentials", {}, False),
    ],
) + rows(
    {"Null": {"aws:TokenIssueTime": "true"}},
    [
        ("true-temporary-credentials", {"aws:TokenIssueTime": ("date", ["2024-01-01T00:00:00Z"])}, False),
        ("true-long-term-credentials", {}, True),
    ],
)

# variables, #policy-vars-no-value: StringNotEquals s3:ExistingObjectTag/Team "${aws:PrincipalTag/Team}"
# in a Deny: "Access is explicitly denied when aws:principaltag/Team is not set."
VARS_NO_VALUE = {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}
VARS_NO_VALUE_ROWS = rows(
    VARS_NO_VALUE,
    [
        ("principal-tag-not-set", {"s3:ExistingObjectTag/Team": "blue"}, True),
        ("same-team", {"s3:ExistingObjectTag/Team": "blue", "aws:PrincipalTag/Team": "blue"}, False),
        ("other-team", {"s3:ExistingObjectTag/Team": "blue", "aws:PrincipalTag/Team": "red"}, True),
    ],
)

# elements_condition: values follow the operator's case rule; key names are not case-sensitive.
ELEMENTS_ROWS = [
    pytest.param({"StringEquals": {"aws:username": "johndoe"}}, {"aws:username": "johndoe"}, True, id="johndoe"),
    pytest.param({"StringEquals": {"aws:username": "johndoe"}}, {"aws:username": "JohnDoe"}, False, id="JohnDoe"),
    pytest.param(
        {"StringEqualsIgnoreCase": {"aws:username": "johndoe"}},
        {"aws:username": "JohnDoe"},
        True,
        id="JohnDoe-ignore-case",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIP": "203.0.113.0/24"}},
        {"AWS:SourceIp": ("ip", ["203.0.113.9"])},
        True,
        id="key-name-case",
    ),
    pytest.param(
        {"StringEquals": {"aws:PrincipalTag/TagKey1": "Value1"}},
        {"aws:principaltag/tagkey1": "Value1"},
        True,
        id="tag-key-case",
    ),
]

# Earlier edition of logic (reference_policies_multi-value-conditions.html, "Evaluation Logic for
# Condition Set Operators"): the DynamoDB tables.
EARLIER_SET_ROWS = rows(
    {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}},
    [
        ("all-PostDateTime-UserName", {"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]}, False),
        ("all-PostDateTime-Message", {"dynamodb:requestedAttributes": ["PostDateTime", "Message"]}, True),
    ],
) + rows(
    {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}},
    [
        (
            "any-UserName-Message-PostDateTime",
            {"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]},
            True,
        ),
        ("any-UserName", {"dynamodb:requestedAttributes": ["UserName"]}, False),
    ],
)

# operators, #Conditions_ARN, earlier edition: "arn:aws:someservice:*:111122223333:finance/*" against a
# value whose first asterisk would have to cross colons: StringLike matches, ArnLike does not.
CROSSING = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
EARLIER_ARN_ROWS = [
    pytest.param(
        {"StringLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        {"aws:SourceArn": CROSSING},
        True,
        id="StringLike-crosses-colons",
    ),
    pytest.param(
        {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        {"aws:SourceArn": CROSSING},
        False,
        id="ArnLike-stays-in-part",
    ),
]

GUIDE_TABLES = (
    LOGIC_AND_ROWS
    + LOGIC_NOR_ROWS
    + SINGLE_ECS_ROWS
    + SINGLE_BLOCKS_ROWS
    + SVM_ALL_ROWS
    + SVM_ANY_ROWS
    + MULTI_NOTLIKE_ONE_ROWS
    + MULTI_NOTLIKE_TWO_ROWS
    + MULTI_ANY_ROWS
    + OPS_STRING_ROWS
    + OPS_VARIABLE_ROWS
    + OPS_ANY_IGNORECASE_ROWS
    + OPS_ORGPATHS_ROWS
    + OPS_NUMERIC_ROWS
    + OPS_DATE_ROWS
    + OPS_BOOL_ROWS
    + OPS_BINARY_ROWS
    + OPS_IP_ROWS
    + OPS_ARN_ROWS
    + OPS_ARN_ALL_ROWS
    + OPS_IFEXISTS_ROWS
    + OPS_NULL_ROWS
    + VARS_NO_VALUE_ROWS
    + ELEMENTS_ROWS
    + EARLIER_SET_ROWS
    + EARLIER_ARN_ROWS
)


@pytest.mark.parametrize(("condition", "ctx", "expected"), GUIDE_TABLES)
def test_guide_tables(condition: Any, ctx: Ctx, expected: bool) -> None:
    assert evaluate(condition, ctx) is expected


# ---------------------------------------------------------------------------
# Every operator: met, violated, absent; IfExists; ForAllValues / ForAnyValue.
# Source: operators (each family's section) for the comparisons; operators "Important" box
# for the absent key (false, true for negated operators); #Conditions_IfExists; single-vs-multi
# for the set operators.
# (operator, key, policy value, a request value that meets it, one that violates it, context type)
# ---------------------------------------------------------------------------
ARN_PATTERN = "arn:aws:iam::*:role/app-?"
OPERATOR_CASES: list[tuple[str, str, str, str, str, ContextKeyType]] = [
    ("StringEquals", "aws:username", "abc", "abc", "ABC", "string"),
    ("StringNotEquals", "aws:username", "abc", "abd", "abc", "string"),
    ("StringEqualsIgnoreCase", "aws:username", "abc", "ABC", "abd", "string"),
    ("StringNotEqualsIgnoreCase", "aws:username", "abc", "abd", "aBc", "string"),
    ("StringLike", "aws:username", "a*c?", "abb:ccd", "abbc", "string"),
    ("StringNotLike", "aws:username", "a*c?", "abbc", "a:cd", "string"),
    ("NumericEquals", "s3:max-keys", "10", "10.0", "11", "numeric"),
    ("NumericNotEquals", "s3:max-keys", "10", "11", "010", "numeric"),
    ("NumericLessThan", "s3:max-keys", "10", "9.5", "10", "numeric"),
    ("NumericLessThanEquals", "s3:max-keys", "10", "10", "10.01", "numeric"),
    ("NumericGreaterThan", "s3:max-keys", "-1.5", "-1", "-2", "numeric"),
    ("NumericGreaterThanEquals", "s3:max-keys", "10", "1e1", "9.999", "numeric"),
    ("DateEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "1577836800", "2020-01-01T00:00:01Z", "date"),
    ("DateNotEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-02", "2020-01-01T01:00:00+01:00", "date"),
    ("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", "1577836800", "date"),
    ("DateLessThanEquals", "aws:CurrentTime", "1577836800", "2020-01-01", "2020-01-01T00:00:00.001Z", "date"),
    ("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00.5Z", "2020-01", "date"),
    ("DateGreaterThanEquals", "aws:EpochTime", "2020-01-01", "1577836800", "1577836799", "date"),
    ("Bool", "aws:SecureTransport", "true", "true", "false", "boolean"),
    ("BinaryEquals", "aws:key", "AAEC", "AAEC", "AAED", "binary"),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", "10.1.2.3", "11.0.0.1", "ip"),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", "11.0.0.1", "10.255.255.255", "ip"),
    (
        "ArnEquals",
        "aws:SourceArn",
        ARN_PATTERN,
        "arn:aws:iam::123456789012:role/app-1",
        "arn:aws:iam::123456789012:role/app-10",
        "string",
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        ARN_PATTERN,
        "arn:aws:iam::123456789012:role/app-x",
        "arn:aws:iam::123456789012:user/app-x",
        "string",
    ),
    (
        "ArnNotEquals",
        "aws:SourceArn",
        ARN_PATTERN,
        "arn:aws:iam::1:2:role/app-1",
        "arn:aws:iam::999:role/app-2",
        "string",
    ),
    (
        "ArnNotLike",
        "aws:SourceArn",
        ARN_PATTERN,
        "arn:aws:iam::999:role/App-2",
        "arn:aws:iam::999:role/app-2",
        "string",
    ),
]
NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "NotIpAddress",
    "ArnNotEquals",
    "ArnNotLike",
}
OPERATOR_IDS = [case[0] for case in OPERATOR_CASES]


def one(key: str, type_: ContextKeyType, values: list[str]) -> Ctx:
    return {key: (type_, values)}


def list_type(type_: ContextKeyType) -> ContextKeyType:
    return type_ if type_.endswith("List") else f"{type_}List"  # type: ignore[return-value]


@pytest.mark.parametrize(("op", "key", "value", "met", "violated", "type_"), OPERATOR_CASES, ids=OPERATOR_IDS)
def test_operator_met_violated_absent(
    op: str, key: str, value: str, met: str, violated: str, type_: ContextKeyType
) -> None:
    cond = {op: {key: value}}
    assert evaluate(cond, one(key, type_, [met])) is True
    assert evaluate(cond, one(key, type_, [violated])) is False
    # operators, "Important": a missing key is false, true for a negated operator.
    assert evaluate(cond, {}) is (op in NEGATED)
    # A present key with no values counts as missing (Choice, UNDOCUMENTED.md).
    assert evaluate(cond, one(key, list_type(type_), [])) is (op in NEGATED)


@pytest.mark.parametrize(("op", "key", "value", "met", "violated", "type_"), OPERATOR_CASES, ids=OPERATOR_IDS)
def test_operator_if_exists(op: str, key: str, value: str, met: str, violated: str, type_: ContextKeyType) -> None:
    cond = {op + "IfExists": {key: value}}
    assert evaluate(cond, one(key, type_, [met])) is True
    assert evaluate(cond, one(key, type_, [violated])) is False
    assert evaluate(cond, {}) is True  # operators#Conditions_IfExists: "If the key is not present ... true"


@pytest.mark.parametrize(("op", "key", "value", "met", "violated", "type_"), OPERATOR_CASES, ids=OPERATOR_IDS)
def test_operator_set_qualifiers(op: str, key: str, value: str, met: str, violated: str, type_: ContextKeyType) -> None:
    lt = list_type(type_)
    all_, any_ = {f"ForAllValues:{op}": {key: value}}, {f"ForAnyValue:{op}": {key: value}}
    # single-vs-multi#ForAllValues: every request value must match; true when missing or empty.
    assert evaluate(all_, one(key, lt, [met, met])) is True
    assert evaluate(all_, one(key, lt, [met, violated])) is False
    assert evaluate(all_, {}) is True
    assert evaluate(all_, one(key, lt, [])) is True
    # single-vs-multi#ForAnyValue: one request value must match; false when missing or empty.
    assert evaluate(any_, one(key, lt, [violated, met])) is True
    assert evaluate(any_, one(key, lt, [violated, violated])) is False
    assert evaluate(any_, {}) is False
    assert evaluate(any_, one(key, lt, [])) is False
    # IfExists goes with any operator but Null, set qualifiers included.
    assert evaluate({f"ForAnyValue:{op}IfExists": {key: value}}, {}) is True
    assert evaluate({f"ForAnyValue:{op}IfExists": {key: value}}, one(key, lt, [violated])) is False
    assert evaluate({f"ForAllValues:{op}IfExists": {key: value}}, one(key, lt, [violated])) is False


@pytest.mark.parametrize(("op", "key", "value", "met", "violated", "type_"), OPERATOR_CASES, ids=OPERATOR_IDS)
def test_plain_operator_on_multivalued_key(
    op: str, key: str, value: str, met: str, violated: str, type_: ContextKeyType
) -> None:
    """Choice (UNDOCUMENTED.md): without a set qualifier a key matches when any of its values
    matches; a negated operator holds when none does (so it is the negation of the positive form)."""
    lt = list_type(type_)
    assert evaluate({op: {key: value}}, one(key, lt, [met, met])) is True
    assert evaluate({op: {key: value}}, one(key, lt, [violated, violated])) is False
    mixed = evaluate({op: {key: value}}, one(key, lt, [met, violated]))
    assert mixed is (op not in NEGATED)


# ---------------------------------------------------------------------------
# Negated operators with several policy values combine as NOR (logic, negated-matching-eval).
# ---------------------------------------------------------------------------
NOR_ROWS = [
    pytest.param("StringNotEquals", ["a", "b"], "string", "a", False, id="StringNotEquals-first"),
    pytest.param("StringNotEquals", ["a", "b"], "string", "b", False, id="StringNotEquals-second"),
    pytest.param("StringNotEquals", ["a", "b"], "string", "c", True, id="StringNotEquals-neither"),
    pytest.param("StringNotEqualsIgnoreCase", ["a", "b"], "string", "B", False, id="StringNotEqualsIgnoreCase-second"),
    pytest.param("StringNotEqualsIgnoreCase", ["a", "b"], "string", "C", True, id="StringNotEqualsIgnoreCase-neither"),
    pytest.param("StringNotLike", ["a*", "*z"], "string", "xyz", False, id="StringNotLike-second"),
    pytest.param("StringNotLike", ["a*", "*z"], "string", "xyy", True, id="StringNotLike-neither"),
    pytest.param("NumericNotEquals", ["1", "2"], "numeric", "2", False, id="NumericNotEquals-second"),
    pytest.param("NumericNotEquals", ["1", "2"], "numeric", "3", True, id="NumericNotEquals-neither"),
    pytest.param("DateNotEquals", ["2020-01-01", "2021-01-01"], "date", "1609459200", False, id="DateNotEquals-second"),
    pytest.param("DateNotEquals", ["2020-01-01", "2021-01-01"], "date", "2022-01-01", True, id="DateNotEquals-neither"),
    pytest.param(
        "NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "ip", "192.168.1.1", False, id="NotIpAddress-second"
    ),
    pytest.param("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "ip", "172.16.0.1", True, id="NotIpAddress-neither"),
    pytest.param("ArnNotLike", [ANA, "arn:aws:iam::*:user/M*"], "string", MARY, False, id="ArnNotLike-second"),
    pytest.param("ArnNotLike", [ANA, "arn:aws:iam::*:user/M*"], "string", NIKKI, True, id="ArnNotLike-neither"),
    pytest.param("ArnNotEquals", [ANA, MARY], "string", ANA, False, id="ArnNotEquals-first"),
    # and the positive forms of the same lists are OR
    pytest.param("StringEquals", ["a", "b"], "string", "b", True, id="StringEquals-or"),
    pytest.param("IpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "ip", "192.168.1.1", True, id="IpAddress-or"),
    pytest.param("NumericEquals", ["1", "2"], "numeric", "3", False, id="NumericEquals-none"),
]


@pytest.mark.parametrize(("op", "values", "type_", "request_value", "expected"), NOR_ROWS)
def test_several_policy_values(
    op: str, values: list[str], type_: ContextKeyType, request_value: str, expected: bool
) -> None:
    assert evaluate({op: {"aws:k": values}}, one("aws:k", type_, [request_value])) is expected


# ---------------------------------------------------------------------------
# ARN operators (operators#Conditions_ARN): the six parts are matched separately.
# ---------------------------------------------------------------------------
ARN_ROWS = [
    pytest.param("ArnLike", "arn:aws:iam::*:role/x", "arn:aws:iam::123:456:role/x", False, id="star-stays-in-account"),
    pytest.param("StringLike", "arn:aws:iam::*:role/x", "arn:aws:iam::123:456:role/x", True, id="stringlike-crosses"),
    pytest.param("ArnLike", "arn:*:s3:::b", "arn:aws:x:s3:::b", False, id="star-stays-in-partition"),
    pytest.param("ArnLike", "arn:aws:s3:::b?", "arn:aws:s3:::b:", True, id="question-in-resource-part-any-char"),
    pytest.param("ArnLike", "arn:aws:s?::1:r", "arn:aws:s:::1:r", False, id="question-does-not-match-colon"),
    pytest.param(
        "ArnLike",
        "arn:aws:logs:*:*:log-group:*",
        "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s",
        True,
        id="resource-part-holds-colons",
    ),
    pytest.param("ArnEquals", "arn:aws:iam::123:role/X", "arn:aws:iam::123:role/x", False, id="case-sensitive"),
    pytest.param("ArnEquals", "arn:aws:iam::123:role/*", "arn:aws:iam::123:role/x", True, id="arnequals-is-arnlike"),
    pytest.param("ArnLike", "arn:aws:iam::123:role/x", "arn:aws:iam::123:role/x/", False, id="whole-part"),
    pytest.param("ArnLike", "arn:aws:s3:::*", "arn:aws:s3:::", True, id="empty-resource-part"),
    # The request value must be an ARN with six parts.
    pytest.param("ArnLike", "*", "not-an-arn", False, id="request-not-arn"),
    pytest.param("ArnLike", "arn:aws:s3:::*", "arn:aws:s3::bucket", False, id="request-five-parts"),
    pytest.param("ArnNotLike", "*", "not-an-arn", True, id="negated-request-not-arn"),
    # Choice: a policy value with fewer than six parts is matched as a whole (StringLike) against an ARN.
    pytest.param("ArnLike", "*", "arn:aws:s3:::bucket", True, id="policy-star-any-arn"),
    pytest.param("ArnLike", "arn:aws:iam::*", "arn:aws:iam::123:role/a:b", True, id="policy-five-parts-whole"),
    pytest.param("ArnLike", "arn:aws:iam", "arn:aws:iam::123:role/a", False, id="policy-short-literal"),
]


@pytest.mark.parametrize(("op", "pattern", "request_value", "expected"), ARN_ROWS)
def test_arn_parts(op: str, pattern: str, request_value: str, expected: bool) -> None:
    assert evaluate({op: {"aws:SourceArn": pattern}}, {"aws:SourceArn": request_value}) is expected


# ---------------------------------------------------------------------------
# IP addresses (operators#Conditions_IPAddress): IPv4 and IPv6, CIDR, bare address.
# ---------------------------------------------------------------------------
IP_ROWS = [
    pytest.param("2001:DB8:1234:5678::/64", "2001:db8:1234:5678:ffff:ffff:ffff:ffff", True, id="ipv6-cidr-last"),
    pytest.param("2001:DB8:1234:5678::/64", "2001:db8:1234:5679::", False, id="ipv6-cidr-outside"),
    pytest.param("2001:db8::1", "2001:db8::1", True, id="ipv6-bare-is-128"),
    pytest.param("2001:db8::1", "2001:db8::2", False, id="ipv6-bare-other"),
    pytest.param("203.0.113.5", "203.0.113.5", True, id="ipv4-bare-is-32"),
    pytest.param("203.0.113.5", "203.0.113.6", False, id="ipv4-bare-other"),
    pytest.param("203.0.113.7/24", "203.0.113.200", True, id="host-bits-ignored"),
    pytest.param("0.0.0.0/0", "2001:db8::1", False, id="ipv6-request-ipv4-range"),
    pytest.param("::/0", "10.0.0.1", False, id="ipv4-request-ipv6-range"),
    pytest.param("10.0.0.0/8", "not-an-ip", False, id="unreadable-request"),
    pytest.param("10.0.0.0/8", "10.0.0.0/24", False, id="cidr-request-unreadable"),
]


@pytest.mark.parametrize(("policy_value", "request_value", "expected"), IP_ROWS)
def test_ip_address(policy_value: str, request_value: str, expected: bool) -> None:
    ctx = one("aws:SourceIp", "ip", [request_value])
    assert evaluate({"IpAddress": {"aws:SourceIp": policy_value}}, ctx) is expected
    assert evaluate({"NotIpAddress": {"aws:SourceIp": policy_value}}, ctx) is (not expected)


# ---------------------------------------------------------------------------
# Dates (operators#Conditions_Date): W3C ISO 8601 forms and epoch seconds, compared as instants.
# ---------------------------------------------------------------------------
INSTANT_ROWS = [
    pytest.param("2020-01-01T00:00:00Z", 1577836800_000000, id="utc"),
    pytest.param("2020-01-01T01:00:00+01:00", 1577836800_000000, id="offset"),
    pytest.param("2019-12-31T19:00:00-05:00", 1577836800_000000, id="negative-offset"),
    pytest.param("2020-01-01", 1577836800_000000, id="date-only-midnight-utc"),
    pytest.param("2020-01", 1577836800_000000, id="month-only"),
    pytest.param("2020-01-01T00:00Z", 1577836800_000000, id="no-seconds"),
    pytest.param("2020-01-01T00:00:00", 1577836800_000000, id="no-zone-is-utc"),
    pytest.param("2020-01-01T00:00:00.25Z", 1577836800_250000, id="fraction"),
    pytest.param("2020-01-01T00:00:00.1234567Z", 1577836800_123456, id="fraction-truncated"),
    pytest.param("1577836800", 1577836800_000000, id="epoch"),
    pytest.param("1577836800.5", None, id="epoch-fraction-unreadable"),
    pytest.param("2020", 2020_000000, id="digits-are-epoch"),
    pytest.param("-1", -1_000000, id="negative-epoch"),
    pytest.param("2020-02-30", None, id="no-such-day"),
    pytest.param("2020-01-01T24:00:00Z", None, id="hour-24"),
    pytest.param("2020-01-01T00:00:00+01:60", None, id="zone-minutes"),
    pytest.param("yesterday", None, id="word"),
    pytest.param("2020-01-01 00:00:00Z", None, id="space-not-T"),
    pytest.param("", None, id="empty"),
]


@pytest.mark.parametrize(("text", "micros"), INSTANT_ROWS)
def test_read_instant(text: str, micros: int | None) -> None:
    assert read_instant(text) == micros


def test_epoch_and_iso_compare_as_instants() -> None:
    cond = {"DateEquals": {"aws:EpochTime": "1577836800"}}
    assert evaluate(cond, one("aws:EpochTime", "date", ["2020-01-01T00:00:00Z"])) is True
    assert evaluate(cond, one("aws:EpochTime", "date", ["2020-01-01T00:00:00.000001Z"])) is False
    cond = {"DateLessThan": {"aws:CurrentTime": "2020-06-01T12:00:00+02:00"}}
    assert evaluate(cond, one("aws:CurrentTime", "date", ["2020-06-01T09:59:59Z"])) is True
    assert evaluate(cond, one("aws:CurrentTime", "date", ["2020-06-01T10:00:00Z"])) is False


# ---------------------------------------------------------------------------
# Request values the operator cannot read (Choice, UNDOCUMENTED.md): they match no policy value, so a
# positive operator is false and a negated one is true.
# ---------------------------------------------------------------------------
UNREADABLE_ROWS = [
    pytest.param("NumericEquals", "10", "numeric", "abc", False, id="numeric-word"),
    pytest.param("NumericNotEquals", "10", "numeric", "abc", True, id="numeric-word-negated"),
    pytest.param("NumericLessThan", "10", "numeric", "", False, id="numeric-empty"),
    pytest.param("NumericEquals", "10", "numeric", "1,0", False, id="numeric-comma"),
    pytest.param("DateEquals", "2020-01-01", "date", "soon", False, id="date-word"),
    pytest.param("DateNotEquals", "2020-01-01", "date", "soon", True, id="date-word-negated"),
    pytest.param("Bool", "true", "boolean", "yes", False, id="bool-yes"),
    pytest.param("Bool", "false", "boolean", "1", False, id="bool-digit"),
    pytest.param("BinaryEquals", "AAEC", "binary", "#notbase64#", False, id="binary-not-base64"),
    pytest.param("BinaryEquals", "AAEC", "binary", "AAE", False, id="binary-unpadded"),
    pytest.param("NotIpAddress", "10.0.0.0/8", "ip", "ten", True, id="ip-word-negated"),
    # Choices: Bool reads true/false in any letter case; numbers are read whatever the context type says.
    pytest.param("Bool", "true", "boolean", "TRUE", True, id="bool-upper-case"),
    pytest.param("Bool", "false", "boolean", "False", True, id="bool-title-case"),
    pytest.param("NumericEquals", "10", "string", "10", True, id="numeric-from-string-typed-key"),
    pytest.param("StringEquals", "10", "numeric", "10", True, id="string-from-numeric-typed-key"),
]


@pytest.mark.parametrize(("op", "value", "type_", "request_value", "expected"), UNREADABLE_ROWS)
def test_unreadable_request_values(
    op: str, value: str, type_: ContextKeyType, request_value: str, expected: bool
) -> None:
    assert evaluate({op: {"aws:k": value}}, one("aws:k", type_, [request_value])) is expected


def test_json_boolean_and_number_policy_values() -> None:
    # policy.py turns JSON true into "true" and numbers into their repr.
    assert evaluate({"Bool": {"aws:SecureTransport": True}}, one("aws:SecureTransport", "boolean", ["true"])) is True
    assert evaluate({"Bool": {"aws:SecureTransport": "True"}}, one("aws:SecureTransport", "boolean", ["true"])) is True
    assert evaluate({"NumericEquals": {"s3:max-keys": 10}}, one("s3:max-keys", "numeric", ["10"])) is True
    assert evaluate({"NumericLessThan": {"s3:max-keys": 1.5}}, one("s3:max-keys", "numeric", ["1"])) is True
    assert evaluate({"NumericLessThan": {"s3:max-keys": 1.5}}, one("s3:max-keys", "numeric", ["1.5"])) is False


# ---------------------------------------------------------------------------
# String operators: wildcards only in StringLike/StringNotLike, case rules.
# ---------------------------------------------------------------------------
STRING_ROWS = [
    pytest.param("StringEquals", "a*", "abc", False, id="equals-star-is-literal"),
    pytest.param("StringEquals", "a*", "a*", True, id="equals-star-literal-match"),
    pytest.param("StringLike", "a*", "a", True, id="like-star-empty"),
    pytest.param("StringLike", "a?c", "abc", True, id="like-question"),
    pytest.param("StringLike", "a?c", "ac", False, id="like-question-needs-one"),
    pytest.param("StringLike", "a*", "Abc", False, id="like-case-sensitive"),
    pytest.param("StringLike", "a.c", "abc", False, id="like-dot-literal"),
    pytest.param("StringLike", "a*", "a\nb", True, id="like-star-newline"),
    pytest.param("StringLike", "", "", True, id="like-empty-string"),
    pytest.param("StringEquals", "", "", True, id="equals-empty-string-is-a-value"),
    pytest.param("StringEqualsIgnoreCase", "ÄBC", "äbc", True, id="ignore-case-latin1"),
]


@pytest.mark.parametrize(("op", "value", "request_value", "expected"), STRING_ROWS)
def test_string_operators(op: str, value: str, request_value: str, expected: bool) -> None:
    assert evaluate({op: {"aws:k": value}}, {"aws:k": request_value}) is expected


# ---------------------------------------------------------------------------
# Null (operators#Conditions_Null) and empty data sets (single-vs-multi, multi-examples).
# ---------------------------------------------------------------------------
NULL_ROWS = [
    pytest.param("true", {}, True, id="true-absent"),
    pytest.param("true", {"aws:k": "x"}, False, id="true-present"),
    pytest.param("true", {"aws:k": []}, True, id="true-no-values"),
    pytest.param("true", {"aws:k": [""]}, True, id="true-empty-string"),
    pytest.param("false", {"aws:k": "x"}, True, id="false-present"),
    pytest.param("false", {"aws:k": ["", "x"]}, True, id="false-one-non-empty"),
    pytest.param("false", {}, False, id="false-absent"),
    pytest.param("false", {"aws:k": []}, False, id="false-no-values"),
    pytest.param("TRUE", {}, True, id="upper-case-value"),
    pytest.param(["true", "false"], {}, True, id="both-absent"),
    pytest.param(["true", "false"], {"aws:k": "x"}, True, id="both-present"),
]


@pytest.mark.parametrize(("value", "ctx", "expected"), NULL_ROWS)
def test_null(value: Any, ctx: Ctx, expected: bool) -> None:
    assert evaluate({"Null": {"aws:k": value}}, ctx) is expected


def test_empty_string_is_an_empty_data_set_for_set_operators() -> None:
    # operators#Conditions_ARN note and single-vs-multi: a null data set "such as an empty string".
    assert evaluate({"ForAllValues:StringEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": [""]}) is True
    assert evaluate({"ForAnyValue:StringEquals": {"aws:TagKeys": ""}}, {"aws:TagKeys": [""]}) is False
    assert evaluate({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ""}}, {"aws:TagKeys": [""]}) is False
    # a plain operator compares the empty string as a value (the s3:prefix "" of operators#Conditions_String)
    assert evaluate({"StringLike": {"s3:prefix": ["", "home/"]}}, {"s3:prefix": ""}) is True


# ---------------------------------------------------------------------------
# Policy variables in condition values (variables#policy-vars-conditionelement, #policy-vars-default-values,
# #policy-vars-specialchars, #policy-vars-no-value; elements_version for 2008-10-17).
# ---------------------------------------------------------------------------
VARIABLE_ROWS = [
    pytest.param(
        {"StringEquals": {"aws:k": "${aws:username}"}}, {"aws:username": "bob", "aws:k": "bob"}, True, id="substituted"
    ),
    pytest.param(
        {"StringEquals": {"aws:k": "${aws:username}"}},
        {"aws:username": "bob", "aws:k": "alice"},
        False,
        id="substituted-other",
    ),
    pytest.param(
        {"StringEquals": {"aws:k": "${AWS:UserName}"}},
        {"aws:username": "bob", "aws:k": "bob"},
        True,
        id="variable-name-case-insensitive",
    ),
    pytest.param(
        {"StringEquals": {"aws:k": "${aws:PrincipalTag/team, 'company-wide'}"}},
        {"aws:k": "company-wide"},
        True,
        id="default-used",
    ),
    pytest.param(
        {"StringEquals": {"aws:k": "${aws:PrincipalTag/team, 'company-wide'}"}},
        {"aws:PrincipalTag/team": "blue", "aws:k": "company-wide"},
        False,
        id="default-not-used",
    ),
    pytest.param(
        {"StringEquals": {"aws:k": "${aws:PrincipalTag/team, 'company-wide'}"}},
        {"aws:PrincipalTag/team": "blue", "aws:k": "blue"},
        True,
        id="default-value-present",
    ),
    # no value, no default: positive operators fail, negated ones hold
    pytest.param({"StringEquals": {"aws:k": "${aws:username}"}}, {"aws:k": ""}, False, id="no-value-equals"),
    pytest.param({"StringLike": {"aws:k": "*${aws:username}"}}, {"aws:k": "x"}, False, id="no-value-like"),
    pytest.param({"StringNotEquals": {"aws:k": "${aws:username}"}}, {"aws:k": "x"}, True, id="no-value-not-equals"),
    pytest.param({"StringNotLike": {"aws:k": "${aws:username}*"}}, {"aws:k": "x"}, True, id="no-value-not-like"),
    pytest.param(
        {"ArnLike": {"aws:k": "arn:aws:iam::1:user/${aws:username}"}},
        {"aws:k": "arn:aws:iam::1:user/"},
        False,
        id="no-value-arnlike",
    ),
    pytest.param(
        {"ArnNotLike": {"aws:k": "arn:aws:iam::1:user/${aws:username}"}},
        {"aws:k": "arn:aws:iam::1:user/"},
        True,
        id="no-value-arnnotlike",
    ),
    pytest.param(
        {"StringEquals": {"aws:k": ["bob", "${aws:username}"]}},
        {"aws:k": "bob"},
        False,
        id="no-value-fails-the-whole-key",
    ),
    pytest.param(
        {"ForAnyValue:StringEquals": {"aws:k": "${aws:username}"}}, {"aws:k": ["x"]}, False, id="no-value-foranyvalue"
    ),
    pytest.param(
        {"ForAllValues:StringNotEquals": {"aws:k": "${aws:username}"}},
        {"aws:k": ["x"]},
        True,
        id="no-value-forallvalues-negated",
    ),
    pytest.param(
        {"StringEquals": {"aws:k": "${aws:username}"}},
        {"aws:username": ["a"], "aws:k": "a"},
        False,
        id="multivalued-key-has-no-value",
    ),
    # a substituted value is literal: its wildcards do not match
    pytest.param(
        {"StringLike": {"aws:k": "${aws:username}"}},
        {"aws:username": "a*", "aws:k": "abc"},
        False,
        id="substituted-star-literal",
    ),
    pytest.param(
        {"StringLike": {"aws:k": "${aws:username}"}},
        {"aws:username": "a*", "aws:k": "a*"},
        True,
        id="substituted-star-itself",
    ),
    pytest.param(
        {"StringLike": {"aws:k": "${aws:username}/*"}},
        {"aws:username": "a", "aws:k": "a/b/c"},
        True,
        id="written-star-still-wild",
    ),
    # escapes
    pytest.param({"StringLike": {"aws:k": "a${*}b"}}, {"aws:k": "a*b"}, True, id="escape-star"),
    pytest.param({"StringLike": {"aws:k": "a${*}b"}}, {"aws:k": "axb"}, False, id="escape-star-literal"),
    pytest.param({"StringLike": {"aws:k": "a${?}"}}, {"aws:k": "ab"}, False, id="escape-question-literal"),
    pytest.param({"StringEquals": {"aws:k": "${$}{x}"}}, {"aws:k": "${x}"}, True, id="escape-dollar"),
    # ARN values: substitute before splitting into parts
    pytest.param(
        {"ArnLike": {"aws:k": "arn:aws:${aws:userid}"}},
        {"aws:userid": "iam::123:role/x", "aws:k": "arn:aws:iam::123:role/x"},
        True,
        id="arn-variable-colons",
    ),
    pytest.param(
        {"ArnLike": {"aws:k": "arn:aws:iam::${aws:userid}:role/x"}},
        {"aws:userid": "*", "aws:k": "arn:aws:iam::123:role/x"},
        False,
        id="arn-variable-star-literal",
    ),
    # Bool reads variables (operators#Conditions_Boolean; Choice)
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": "${aws:SecureTransport}"}},
        {"aws:SecureTransport": ("boolean", ["true"]), "aws:MultiFactorAuthPresent": ("boolean", ["true"])},
        True,
        id="bool-variable",
    ),
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": "${aws:SecureTransport}"}},
        {"aws:SecureTransport": ("boolean", ["false"]), "aws:MultiFactorAuthPresent": ("boolean", ["true"])},
        False,
        id="bool-variable-other",
    ),
]


@pytest.mark.parametrize(("condition", "ctx", "expected"), VARIABLE_ROWS)
def test_variables(condition: Any, ctx: Ctx, expected: bool) -> None:
    assert evaluate(condition, ctx) is expected


@pytest.mark.parametrize("version", [V2008, None], ids=["2008-10-17", "no-version"])
def test_variables_are_literal_without_2012_version(version: str | None) -> None:
    # variables#policy-vars-intro: earlier versions "treat variables like ${aws:username} as literal strings".
    cond = {"StringEquals": {"aws:k": "${aws:username}"}}
    assert evaluate(cond, {"aws:username": "bob", "aws:k": "bob"}, version) is False
    assert evaluate(cond, {"aws:username": "bob", "aws:k": "${aws:username}"}, version) is True
    assert evaluate({"StringLike": {"aws:k": "${*}"}}, {"aws:k": "anything"}, version) is False
    assert evaluate({"StringNotEquals": {"aws:k": "${aws:username}"}}, {"aws:k": "x"}, version) is True
    assert compile_block(cond, version).keys == ("aws:k",)


# ---------------------------------------------------------------------------
# keys, missing_keys, explain.
# ---------------------------------------------------------------------------
def test_keys_in_order_deduplicated_with_variable_keys() -> None:
    block = compile_block(
        {
            "StringEquals": {"aws:PrincipalTag/team": ["a", "${aws:username}"], "AWS:SourceVpc": "vpc-1"},
            "ArnLike": {"aws:SourceArn": "arn:aws:iam::${aws:PrincipalAccount}:role/${AWS:USERNAME}"},
            "Null": {"aws:principaltag/TEAM": "false"},
            "StringLike": {"aws:k": "${aws:x, 'd'}"},
            "NumericLessThan": {"s3:max-keys": "10"},
        }
    )
    assert block.keys == (
        "aws:PrincipalTag/team",
        "aws:username",
        "AWS:SourceVpc",
        "aws:SourceArn",
        "aws:PrincipalAccount",
        "aws:k",
        "aws:x",
        "s3:max-keys",
    )


def test_missing_keys() -> None:
    block = compile_block({"StringEquals": {"aws:a": "${aws:b}"}, "Null": {"aws:c": "true"}})
    assert block.missing_keys(context({"AWS:A": "x"})) == ["aws:b", "aws:c"]
    assert block.missing_keys(context({"aws:a": "x", "aws:b": "y", "aws:c": "z"})) == []


def test_explain() -> None:
    block = compile_block({"StringEquals": {"aws:PrincipalTag/team": "a"}, "NumericLessThan": {"s3:max-keys": "10"}})
    lines = block.explain(context({"aws:PrincipalTag/team": "b"}))
    assert lines == [
        ("StringEquals aws:PrincipalTag/team in ['a'] -> request ['b']", False),
        ("NumericLessThan s3:max-keys in ['10'] -> request (absent)", False),
    ]
    assert block.explain(context({"aws:PrincipalTag/team": "a", "s3:max-keys": "3"}))[0][1] is True


def test_and_across_operators_and_keys() -> None:
    # logic: operators AND, keys AND.
    cond = {"StringEquals": {"aws:a": "1", "aws:b": "2"}, "StringLike": {"aws:c": "3*"}}
    assert evaluate(cond, {"aws:a": "1", "aws:b": "2", "aws:c": "33"}) is True
    assert evaluate(cond, {"aws:a": "1", "aws:b": "x", "aws:c": "33"}) is False
    assert evaluate(cond, {"aws:a": "1", "aws:b": "2", "aws:c": "43"}) is False
    assert compile_block({}).matches(context({})) is True


# ---------------------------------------------------------------------------
# Compile-time errors, with their JSON path and line/column in the policy text.
# ---------------------------------------------------------------------------
def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of needle."""
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def compile_error(condition: Any, version: str | None = V2012) -> tuple[PolicyError, str]:
    text = policy_text(condition, version)
    with pytest.raises(PolicyError) as info:
        compile_text(text)
    return info.value, text


C = "$.Statement[0].Condition"
ERROR_ROWS = [
    # (condition, code, JSON path, the text the line/column must point at)
    pytest.param(
        {"StringEqual": {"aws:k": "v"}}, "unknown-operator", f"{C}.StringEqual", '"StringEqual"', id="misspelt"
    ),
    pytest.param(
        {"stringequals": {"aws:k": "v"}},
        "unknown-operator",
        f"{C}.stringequals",
        '"stringequals"',
        id="lower-case-name",
    ),
    pytest.param(
        {"forallvalues:StringEquals": {"aws:k": "v"}},
        "unknown-operator",
        f"{C}.forallvalues:StringEquals",
        '"forallvalues:',
        id="lower-case-qualifier",
    ),
    pytest.param(
        {"ForAllValues:Foo": {"aws:k": "v"}},
        "unknown-operator",
        f"{C}.ForAllValues:Foo",
        '"ForAllValues:Foo"',
        id="qualifier-unknown-base",
    ),
    pytest.param(
        {"ForAnyValue:": {"aws:k": "v"}},
        "unknown-operator",
        f"{C}.ForAnyValue:",
        '"ForAnyValue:"',
        id="qualifier-alone",
    ),
    pytest.param({"IfExists": {"aws:k": "v"}}, "unknown-operator", f"{C}.IfExists", '"IfExists"', id="suffix-alone"),
    pytest.param(
        {"StringEqualsIfExistsIfExists": {"aws:k": "v"}},
        "unknown-operator",
        f"{C}.StringEqualsIfExistsIfExists",
        '"StringEqualsIfExistsIfExists"',
        id="suffix-twice",
    ),
    pytest.param(
        {"ForAllValues:ForAnyValue:StringEquals": {"aws:k": "v"}},
        "unknown-operator",
        f"{C}.ForAllValues:ForAnyValue:StringEquals",
        '"ForAllValues:ForAnyValue',
        id="two-qualifiers",
    ),
    pytest.param(
        {"StringEqualsifexists": {"aws:k": "v"}},
        "unknown-operator",
        f"{C}.StringEqualsifexists",
        '"StringEqualsifexists"',
        id="lower-case-suffix",
    ),
    pytest.param(
        {"NullIfExists": {"aws:k": "true"}},
        "invalid-operator",
        f"{C}.NullIfExists",
        '"NullIfExists"',
        id="null-ifexists",
    ),
    pytest.param(
        {"NumericEquals": {"aws:k": "abc"}},
        "invalid-condition-value",
        f"{C}.NumericEquals.aws:k",
        '"abc"',
        id="numeric-word",
    ),
    pytest.param(
        {"NumericEquals": {"aws:k": ["1", "1,5"]}},
        "invalid-condition-value",
        f"{C}.NumericEquals.aws:k[1]",
        '"1,5"',
        id="numeric-comma-in-list",
    ),
    pytest.param(
        {"NumericLessThan": {"aws:k": True}},
        "invalid-condition-value",
        f"{C}.NumericLessThan.aws:k",
        "true",
        id="numeric-json-boolean",
    ),
    pytest.param(
        {"NumericEquals": {"aws:k": "${aws:x}"}},
        "invalid-condition-value",
        f"{C}.NumericEquals.aws:k",
        '"${aws:x}"',
        id="numeric-variable-is-literal",
    ),
    pytest.param(
        {"DateEquals": {"aws:k": "yesterday"}},
        "invalid-condition-value",
        f"{C}.DateEquals.aws:k",
        '"yesterday"',
        id="date-word",
    ),
    pytest.param(
        {"DateLessThan": {"aws:k": "2020-13-01"}},
        "invalid-condition-value",
        f"{C}.DateLessThan.aws:k",
        '"2020-13-01"',
        id="date-month-13",
    ),
    pytest.param(
        {"DateEquals": {"aws:k": "2020-01-01T00:00:00Z*"}},
        "invalid-condition-value",
        f"{C}.DateEquals.aws:k",
        '"2020-01-01T00:00:00Z*"',
        id="date-wildcard",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": "10.0.0.256"}},
        "invalid-condition-value",
        f"{C}.IpAddress.aws:SourceIp",
        '"10.0.0.256"',
        id="ip-octet",
    ),
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/33"}},
        "invalid-condition-value",
        f"{C}.NotIpAddress.aws:SourceIp",
        '"10.0.0.0/33"',
        id="ip-prefix",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": ["::1", "2001:db8::/129"]}},
        "invalid-condition-value",
        f"{C}.IpAddress.aws:SourceIp[1]",
        '"2001:db8::/129"',
        id="ipv6-prefix",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": "10.0.*.*"}},
        "invalid-condition-value",
        f"{C}.IpAddress.aws:SourceIp",
        '"10.0.*.*"',
        id="ip-wildcard",
    ),
    pytest.param(
        {"Bool": {"aws:SecureTransport": "yes"}},
        "invalid-condition-value",
        f"{C}.Bool.aws:SecureTransport",
        '"yes"',
        id="bool-yes",
    ),
    pytest.param(
        {"Bool": {"aws:SecureTransport": "${*}"}},
        "invalid-condition-value",
        f"{C}.Bool.aws:SecureTransport",
        '"${*}"',
        id="bool-escape-only",
    ),
    pytest.param(
        {"Null": {"aws:k": "maybe"}}, "invalid-condition-value", f"{C}.Null.aws:k", '"maybe"', id="null-maybe"
    ),
    pytest.param(
        {"BinaryEquals": {"aws:k": "not base64!"}},
        "invalid-condition-value",
        f"{C}.BinaryEquals.aws:k",
        '"not base64!"',
        id="binary-not-base64",
    ),
    pytest.param(
        {"BinaryEquals": {"aws:k": "QQ"}},
        "invalid-condition-value",
        f"{C}.BinaryEquals.aws:k",
        '"QQ"',
        id="binary-unpadded",
    ),
]


@pytest.mark.parametrize(("condition", "code", "path", "needle"), ERROR_ROWS)
def test_compile_errors(condition: Any, code: str, path: str, needle: str) -> None:
    err, text = compile_error(condition)
    assert (err.code, err.path) == (code, path)
    assert (err.line, err.column) == position(text, needle)


def test_bool_variable_is_literal_under_2008() -> None:
    err, text = compile_error({"Bool": {"aws:SecureTransport": "${aws:x}"}}, V2008)
    assert err.code == "invalid-condition-value"
    assert (err.line, err.column) == position(text, '"${aws:x}"')


VALID_ROWS = [
    pytest.param({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64", "::1"]}}, id="ip"),
    pytest.param(
        {"DateEquals": {"aws:k": ["2020-01-01", "2020-01", "1577836800", "2020-01-01T00:00:00.5+05:30"]}}, id="dates"
    ),
    pytest.param({"NumericEquals": {"aws:k": [10, 1.5, "-3", "+4", ".5", "1e3"]}}, id="numbers"),
    pytest.param({"Bool": {"aws:k": [True, "FALSE"]}}, id="bools"),
    pytest.param({"Null": {"aws:k": [False, "True"]}}, id="null"),
    pytest.param({"ForAllValues:StringEqualsIfExists": {"aws:k": "v"}}, id="set-and-ifexists"),
    pytest.param({"ArnLike": {"aws:k": ["*", "not:an:arn", "arn:aws:s3:::b"]}}, id="arn-any-text"),
    pytest.param({"StringLike": {"ec2:ResourceTag/x": "${aws:username"}}, id="unclosed-variable-is-text"),
    pytest.param({"BinaryEquals": {"aws:k": ""}}, id="binary-empty"),
]


@pytest.mark.parametrize("condition", VALID_ROWS)
def test_valid_values_compile(condition: Any) -> None:
    assert compile_block(condition).keys


def test_unknown_operator_after_a_valid_one() -> None:
    err, _ = compile_error({"StringEquals": {"aws:k": "v"}, "Bogus": {"aws:k": "v"}})
    assert err.code == "unknown-operator"


# ---------------------------------------------------------------------------
# Properties.
# ---------------------------------------------------------------------------
@given(
    case=st.sampled_from(OPERATOR_CASES),
    present=st.lists(st.sampled_from(["met", "violated"]), max_size=3),
    carried=st.booleans(),
)
def test_if_exists_is_absent_or_base(
    case: tuple[str, str, str, str, str, ContextKeyType], present: list[str], carried: bool
) -> None:
    """operators#Conditions_IfExists: XIfExists == (key missing) or X."""
    op, key, value, met, violated, type_ = case
    values = [met if p == "met" else violated for p in present]
    ctx = context(one(key, list_type(type_), values) if carried else {})
    missing = not carried or not values
    base = compile_block({op: {key: value}}).matches(ctx)
    assert compile_block({op + "IfExists": {key: value}}).matches(ctx) is (missing or base)


POSITIVE_OF = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


@given(
    case=st.sampled_from([c for c in OPERATOR_CASES if c[0] in POSITIVE_OF]),
    picks=st.lists(st.sampled_from(["met", "violated"]), min_size=1, max_size=3),
    qualifier=st.sampled_from(["", "ForAllValues:", "ForAnyValue:"]),
)
def test_negated_is_complement_when_present(
    case: tuple[str, str, str, str, str, ContextKeyType], picks: list[str], qualifier: str
) -> None:
    """For a present key, a negated operator is the negation of its positive form per value:
    plain NOT(any); ForAllValues:Not == all(not); ForAnyValue:Not == any(not)."""
    op, key, value, met, violated, type_ = case
    values = [met if p == "met" else violated for p in picks]
    ctx = context(one(key, list_type(type_), values))
    positive = compile_block({POSITIVE_OF[op]: {key: value}})
    per_value = [positive.matches(context(one(key, type_, [v]))) for v in values]
    negated = compile_block({qualifier + op: {key: value}}).matches(ctx)
    if qualifier == "":
        assert negated is (not any(per_value))
    elif qualifier == "ForAllValues:":
        assert negated is all(not p for p in per_value)
    else:
        assert negated is any(not p for p in per_value)


def test_a_clause_with_a_variable_answers_every_context_past_its_kept_renderings() -> None:
    """A clause with a policy variable renders its values once per distinct set of the variables' context
    values and keeps a bounded number of renderings: past the bound (emptied, rendered again) every context
    still gets its own answer, and a value seen before its own."""
    from reference.conditions import _RENDERINGS_KEPT

    block = compile_block({"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}})
    for i in range(_RENDERINGS_KEPT + 200):
        same = context({"aws:username": f"u{i}", "aws:PrincipalTag/team": f"u{i}"})
        other = context({"aws:username": f"u{i}", "aws:PrincipalTag/team": f"u{i - 1}"})
        assert block.matches(same) and not block.matches(other), i
    assert block.matches(context({"aws:username": "u3", "aws:PrincipalTag/team": "u3"}))
    assert not block.matches(context({"aws:PrincipalTag/team": "u3"}))  # the variable has no value
