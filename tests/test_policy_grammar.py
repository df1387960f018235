"""The policy grammar: what IAM accepts, what it refuses, and where.

Pages: reference_policies_grammar.html, reference_policies_elements_*.html,
reference_iam-quotas.html (policy size), and the PolicyDocument parameter of the
IAM API (length 1-131072, characters U+0009, U+000A, U+000D, U+0020-U+00FF).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reference.document import MAX_POLICY_CHARS
from reference.errors import PolicyError
from reference.fixtures import anchor_policy
from reference.policy import parse_policy

OK_STMT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


def policy_text(*statements: Any, **top: Any) -> str:
    return json.dumps({"Version": "2012-10-17", **top, "Statement": list(statements)}, indent=2)


def refused(text: str, kind: str = "identity") -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, kind=kind)  # type: ignore[arg-type]
    return info.value


def test_statement_as_object_or_list_and_positions() -> None:
    single = json.dumps({"Version": "2012-10-17", "Statement": OK_STMT}, indent=2)
    p = parse_policy(single)
    assert len(p.statements) == 1 and p.statements[0].path == ("Statement",)
    start, _ = p.span(p.statements[0])
    assert (start.line, start.column) == (3, 16)
    listed = parse_policy(policy_text(OK_STMT, {**OK_STMT, "Sid": "Two"}))
    first, second = listed.statements
    start, end = listed.span(first)
    assert (start.line, start.column) == (4, 5)
    # the end is the position just after the closing brace
    assert (end.line, end.column) == (8, 6)
    assert (listed.span(second)[0].line, second.sid) == (9, "Two")


def test_anchor_policy_statement_positions() -> None:
    p = parse_policy(anchor_policy("v3"))
    assert len(p.statements) == 31
    text_lines = anchor_policy("v3").splitlines()
    for s in p.statements:
        start, end = p.span(s)
        assert text_lines[start.line - 1][start.column - 1] == "{"
        assert text_lines[end.line - 1][end.column - 2] == "}"


@pytest.mark.parametrize(
    ("text", "code", "path"),
    [
        ('{"Version": "2012-10-17", "Statement": [', "malformed-json", "$"),
        ("[]", "not-an-object", "$"),
        ("", "empty-policy", "$"),
        (json.dumps({"Version": "2012-10-17"}), "missing-statement", "$"),
        (json.dumps({"Version": "2012-10-17", "Statement": []}), "empty-statement", "$.Statement"),
        (json.dumps({"Version": "2012-10-17", "Statement": "x"}), "invalid-statement", "$.Statement"),
        (policy_text(OK_STMT, Extra=1), "unknown-element", "$.Extra"),
        (json.dumps({"Version": "2012-10-18", "Statement": OK_STMT}), "invalid-version", "$.Version"),
        (json.dumps({"Version": "2012-10-17", "Id": 5, "Statement": OK_STMT}), "invalid-id", "$.Id"),
        (policy_text({"Action": "s3:*", "Resource": "*"}), "missing-effect", "$.Statement[0]"),
        (policy_text({**OK_STMT, "Effect": "allow"}), "invalid-effect", "$.Statement[0].Effect"),
        (policy_text({**OK_STMT, "NotAction": "s3:*"}), "both-action-and-notaction", "$.Statement[0]"),
        (policy_text({"Effect": "Allow", "Resource": "*"}), "missing-action", "$.Statement[0]"),
        (policy_text({**OK_STMT, "NotResource": "*"}), "both-resource-and-notresource", "$.Statement[0]"),
        (policy_text({"Effect": "Allow", "Action": "s3:*"}), "missing-resource", "$.Statement[0]"),
        (policy_text({**OK_STMT, "Action": "s*:GetObject"}), "wildcard-in-service-prefix", "$.Statement[0].Action"),
        (
            policy_text({**OK_STMT, "Action": ["s3:Get*", "*:Get"]}),
            "wildcard-in-service-prefix",
            "$.Statement[0].Action[1]",
        ),
        (policy_text({**OK_STMT, "Action": "GetObject"}), "invalid-action", "$.Statement[0].Action"),
        (policy_text({**OK_STMT, "Action": []}), "invalid-value", "$.Statement[0].Action"),
        (policy_text({**OK_STMT, "Action": [1]}), "invalid-value", "$.Statement[0].Action[0]"),
        (policy_text({**OK_STMT, "Resource": "bucket"}), "invalid-resource", "$.Statement[0].Resource"),
        (
            policy_text({**OK_STMT, "Resource": "arn:aws:s*:::b"}),
            "wildcard-in-service-prefix",
            "$.Statement[0].Resource",
        ),
        (policy_text({**OK_STMT, "Bogus": 1}), "unknown-element", "$.Statement[0].Bogus"),
        (policy_text({**OK_STMT, "Principal": "*"}), "principal-not-allowed", "$.Statement[0].Principal"),
        (policy_text(OK_STMT, {**OK_STMT, "Sid": "A"}, {**OK_STMT, "Sid": "A"}), "duplicate-sid", "$.Statement[2].Sid"),
        (policy_text({**OK_STMT, "Condition": []}), "invalid-condition", "$.Statement[0].Condition"),
        (
            policy_text({**OK_STMT, "Condition": {"StringEquals": {"aws:username": None}}}),
            "invalid-condition-value",
            "$.Statement[0].Condition.StringEquals.aws:username",
        ),
        ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', "duplicate-key", "$"),
        (policy_text(OK_STMT).replace('"*"', '"arn:aws:s3:::caf\u00e9\u0100"'), "invalid-character", "$"),
    ],
)
def test_refused(text: str, code: str, path: str) -> None:
    err = refused(text)
    assert (err.code, err.path) == (code, path)
    assert err.message


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ({**OK_STMT}, "missing-principal"),
        ({**OK_STMT, "Principal": {"AWS": "arn:aws:iam::1:user/*"}}, "wildcard-in-principal"),
        ({**OK_STMT, "Principal": {"Bogus": "x"}}, "invalid-principal"),
        ({**OK_STMT, "Principal": []}, "invalid-principal"),
        ({**OK_STMT, "NotPrincipal": {"AWS": "arn:aws:iam::1:user/a"}}, "notprincipal-with-allow"),
        ({**OK_STMT, "Principal": "*", "NotPrincipal": "*"}, "both-principal-and-notprincipal"),
    ],
)
def test_resource_policy_principal_rules(statement: dict[str, Any], code: str) -> None:
    assert refused(policy_text(statement), kind="resource").code == code


def test_resource_policy_principal_forms_accepted() -> None:
    p = parse_policy(
        policy_text(
            {**OK_STMT, "Principal": "*"},
            {**OK_STMT, "Principal": {"AWS": ["111122223333", "arn:aws:iam::1:role/r"], "Service": "s3.amazonaws.com"}},
            {**OK_STMT, "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:user/a"}},
        ),
        kind="resource",
    )
    assert p.statements[0].principals == {"*": ("*",)}
    assert p.statements[1].principals is not None and p.statements[1].principals["AWS"][0] == "111122223333"
    assert p.statements[2].principal_negated


def test_a_trust_policy_without_resource_is_accepted_only_as_a_resource_policy() -> None:
    """A role trust policy names Principal and Action, no Resource (reference_policies_elements_principal.html):
    in a resource-based policy the statement applies to the resource it is attached to; an identity
    policy's statement without Resource stays refused (moto refused 30, 32)."""
    trust = policy_text({"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"})
    p = parse_policy(trust, kind="resource")
    assert (p.statements[0].resources, p.statements[0].resource_negated) == (("*",), False)
    for kind in ("identity", "scp", "rcp"):
        statement = {"Effect": "Allow", "Action": "sts:AssumeRole"}
        if kind == "rcp":
            statement["Principal"] = "*"
        assert refused(policy_text(statement), kind=kind).code == "missing-resource"


def test_a_trust_policy_without_resource_decides_assume_role() -> None:
    """Evaluated: the trust policy of the role allows the caller's account, the caller's identity policy
    allows sts:AssumeRole: allowed; a trust policy naming another account: denied (the trust policy must
    allow, also in the same account: id_roles_compare-resource-policies.html)."""
    from reference.compiled import PolicyCache
    from reference.evaluator import evaluate_case
    from reference.model import Case, Decision, Policy, Request

    def case(trusted: str) -> Case:
        trust = {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
        return Case(
            caller_arn="arn:aws:iam::111122223333:user/alice",
            identity_policies=[
                Policy.of("i", policy_text({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
            ],
            resource_policy=Policy.of("trust", policy_text(trust)),
            requests=[Request("sts:AssumeRole", "arn:aws:iam::111122223333:role/r")],
        )

    cache = PolicyCache()
    assert evaluate_case(case("111122223333"), cache).results[0].decision == Decision.ALLOWED
    assert evaluate_case(case("444455556666"), cache).results[0].decision != Decision.ALLOWED


def test_error_positions_point_at_the_offending_value() -> None:
    text = policy_text(OK_STMT, {**OK_STMT, "Effect": "Maybe"})
    err = refused(text)
    line = text.splitlines()[err.line - 1]  # type: ignore[operator]
    assert line[err.column - 1 :].startswith('"Maybe"')  # type: ignore[operator]
    err = refused('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {,}\n  ]\n}')
    assert (err.code, err.line, err.column) == ("malformed-json", 4, 6)


def test_size_limit() -> None:
    padding = " " * (MAX_POLICY_CHARS - len(policy_text(OK_STMT)))
    parse_policy(policy_text(OK_STMT) + padding)  # exactly at the limit: accepted
    err = refused(policy_text(OK_STMT) + padding + " ")
    assert err.code == "policy-too-large"
    assert "131,072" in err.message


def test_versions_and_variables_flag() -> None:
    assert parse_policy(policy_text(OK_STMT)).variables_enabled
    old = json.dumps({"Version": "2008-10-17", "Statement": OK_STMT})
    assert not parse_policy(old).variables_enabled
    assert not parse_policy(json.dumps({"Statement": OK_STMT})).variables_enabled


def test_condition_values_are_normalised_to_strings() -> None:
    # JSON numbers keep the text the author wrote; booleans become "true"/"false".
    text = policy_text({**OK_STMT, "Condition": {"Bool": {"aws:SecureTransport": True}, "NumericLessThan": {"k:m": 0}}})
    text = text.replace('"k:m": 0', '"s3:max-keys": [10, 2.50, 1e3]')
    p = parse_policy(text)
    assert p.statements[0].condition == {
        "Bool": {"aws:SecureTransport": ("true",)},
        "NumericLessThan": {"s3:max-keys": ("10", "2.50", "1e3")},
    }
    assert refused(policy_text({**OK_STMT, "Sid": 5})).code == "invalid-sid"
    assert refused(policy_text(OK_STMT).replace('"2012-10-17"', "2012")).code == "invalid-version"
