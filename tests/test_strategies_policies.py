"""Policy documents, mutations and requests aimed at a policy."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis.errors import InvalidArgument

import strategies as S
from reference.compiled import PolicyCache, compile_text
from reference.document import MAX_POLICY_CHARS
from reference.evaluator import evaluate_case
from reference.fixtures import anchor_policy
from reference.model import Case, Policy, Request
from reference.policy import PolicyKind, parse_policy
from strategies._catalog import services
from strategies._choice import RandomChooser
from strategies.policies import gen_policy_text

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
V3 = anchor_policy("v3")


def _allowed_text(text: str) -> bool:
    return all(c in "\t\n\r" or "\u0020" <= c <= "\u00ff" for c in text)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    return []


@pytest.mark.parametrize(
    "make",
    [
        lambda: S.policy_texts(kind="trust"),  # type: ignore[arg-type]
        lambda: S.policy_texts(max_statements=0),
        lambda: S.policy_documents(principals=["arn:aws:iam::1111:user/a*"]),
        lambda: S.policy_mutations(policy="{"),
        lambda: S.policy_mutations(policy=V3, operators=["explode"]),
        lambda: S.aimed_requests(policy='{"Statement": []}'),
        lambda: S.aimed_requests(policy=V3, kind="resource"),  # no Principal: not a resource policy
        lambda: S.aimed_cases(policy=V3, max_requests=0),
        lambda: S.cases(max_requests=0),
        lambda: S.cases(services=[]),
    ],
)
def test_bad_arguments_fail_at_call_time(make: object) -> None:
    with pytest.raises(InvalidArgument):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["identity", "resource", "scp", "rcp"])
def test_policy_texts_parse_and_compile(kind: PolicyKind) -> None:
    @given(S.policy_texts(kind=kind, max_statements=6))
    @SLOW
    def check(text: str) -> None:
        assert len(text) <= MAX_POLICY_CHARS
        assert _allowed_text(text)
        parsed = parse_policy(text, kind=kind)
        assert 1 <= len(parsed.statements) <= 6
        compile_text(text, kind)

    check()


@given(S.policy_texts(kind="resource", simulator_safe=True))
@SLOW
def test_simulator_safe_policies_keep_every_value_in_latin1(text: str) -> None:
    assert _allowed_text(text)
    for s in _strings(json.loads(text)):
        assert _allowed_text(s), s


@given(S.policy_documents(kind="identity", services=["s3", "iam"]))
@example({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}})
@SLOW
def test_policy_documents_compile_as_objects(doc: dict[str, Any]) -> None:
    # A document object stands for json.dumps(document, indent=2) (case-format v1).
    text = Policy.of("p", doc).text()
    compile_text(text, "identity")


def test_many_policies_compile_and_cover_the_grammar() -> None:
    c = RandomChooser(random.Random(11))
    seen: set[str] = set()
    for i in range(1500):
        kind: PolicyKind = ("identity", "resource", "scp", "rcp")[i % 4]
        text = gen_policy_text(c, kind=kind, pool=services(), max_statements=5, simulator_safe=i % 3 == 0)
        compile_text(text, kind)
        doc = json.loads(text)
        raw = doc["Statement"]
        for st in raw if isinstance(raw, list) else [raw]:
            seen.update(st)
            for op in st.get("Condition", {}):
                seen.add(op.split(":")[0] if ":" in op else "plain-operator")
        if "${" in text:
            seen.add("variable")
        if "Version" not in doc:
            seen.add("no-version")
    expected = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal"}
    assert expected | {"Condition", "ForAllValues", "ForAnyValue", "variable", "no-version"} <= seen


def test_max_statements_bounds_the_size() -> None:
    c = RandomChooser(random.Random(2))
    for _ in range(20):
        text = gen_policy_text(c, kind="identity", pool=services(), max_statements=1000)
        assert len(text) <= MAX_POLICY_CHARS
        compile_text(text, "identity")


# --------------------------------------------------------------------------- mutations


@given(S.policy_mutations(policy=V3))
@SLOW
def test_mutations_of_the_anchor_policy_compile_and_differ(m: S.Mutation) -> None:
    assert m.operator in S.mutations.OPERATORS  # type: ignore[attr-defined]
    assert json.loads(m.text) != json.loads(V3)
    compile_text(m.text, "identity")


@pytest.mark.parametrize("operator", ["flip-effect", "drop-statement", "narrow-action", "widen-resource"])
def test_each_mutation_operator(operator: str) -> None:
    @given(S.policy_mutations(policy=V3, operators=[operator]))
    @SLOW
    def check(m: S.Mutation) -> None:
        assert m.operator == operator
        compile_text(m.text, "identity")

    check()


def test_mutation_falls_back_when_nothing_applies() -> None:
    one = '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}'

    @given(S.policy_mutations(policy=one, operators=["drop-statement"]))
    @SLOW
    def check(m: S.Mutation) -> None:
        assert m.operator == "add-statement"
        assert len(json.loads(m.text)["Statement"]) == 2

    check()


# --------------------------------------------------------------------------- aimed requests


@given(S.aimed_requests(policy=V3))
@SLOW
def test_aimed_requests_are_well_formed(request: Request) -> None:
    assert "*" not in request.action and "?" not in request.action
    assert len({e.key.lower() for e in request.context}) == len(request.context)
    case = Case(requests=[request], identity_policies=[Policy.of("v3", V3)])
    evaluate_case(case, PolicyCache())


CONDITIONS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bucket/${aws:username}/*",
                "Condition": {
                    "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
                    "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]},
                    "DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
                    "Bool": {"aws:SecureTransport": "true"},
                    "StringLike": {"aws:PrincipalTag/team": "data-*"},
                    "ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "owner"]},
                },
            },
            {
                "Effect": "Deny",
                "NotAction": "s3:*",
                "NotResource": "arn:aws:s3:::bucket/*",
                "Condition": {
                    "ArnNotLikeIfExists": {"aws:SourceArn": "arn:aws:lambda:*:111122223333:function:*"},
                    "ForAllValues:StringNotEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"},
                    "Null": {"aws:SourceVpc": "true"},
                    "BinaryEquals": {"k:bin": "aGVsbG8="},
                },
            },
        ],
    },
    indent=2,
)


@pytest.mark.parametrize("policy", [V3, CONDITIONS], ids=["anchor-v3", "conditions"])
def test_aimed_cases_give_every_decision_kind(policy: str) -> None:
    decisions: dict[str, int] = {}

    @given(S.aimed_cases(policy=policy))
    @settings(max_examples=150, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def collect(case: Case) -> None:
        for r in evaluate_case(case, PolicyCache()).results:
            decisions[r.decision.value] = decisions.get(r.decision.value, 0) + 1

    collect()
    assert decisions.get("allowed", 0) > 0
    assert decisions.get("implicitDeny", 0) > 0
    if policy is CONDITIONS:
        assert decisions.get("explicitDeny", 0) > 0


def test_aimed_cases_put_resource_policies_in_the_resource_slot() -> None:
    text = json.dumps(
        {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}}
    )

    @given(S.aimed_cases(policy=text))
    @SLOW
    def check(case: Case) -> None:
        assert case.resource_policy is not None and not case.identity_policies

    check()


@given(S.cases(services=["s3", "iam", "sagemaker", "lambda"]))
@SLOW
def test_cases_evaluate(case: Case) -> None:
    result = evaluate_case(case, PolicyCache())
    assert len(result.results) == len(case.requests)


@given(S.cases(simulator_safe=True))
@SLOW
def test_simulator_safe_cases(case: Case) -> None:
    assert case.session_policy is None and not case.rcps
    for policy in [*case.identity_policies, case.permissions_boundary, case.resource_policy]:
        if policy is not None:
            text = policy.text()
            assert _allowed_text(text)
            assert all(_allowed_text(s) for s in _strings(json.loads(text)))
    for request in case.requests:
        assert all(_allowed_text(v) for e in request.context for v in [e.key, *e.values])
