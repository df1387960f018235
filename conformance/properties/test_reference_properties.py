"""Properties of the reference evaluator, checked on generated cases.

Each property is a consequence of a rule of the IAM User Guide that must hold
whatever the policy; a counterexample is a bug in the reference (or in the
rule as we read it).  Every test labels what it covered with
``hypothesis.event`` (see ``pytest --hypothesis-show-statistics``).
"""

from __future__ import annotations

import json
import random
from typing import Any

import msgspec
from hypothesis import event, given
from hypothesis import strategies as st

from reference.caseio import answer_lines, encode
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, ContextEntry, ContextKeyType, Decision, Policy, Request
from strategies import actions, arns, boundary_values, cases, condition_blocks, contexts, policy_documents

CACHE = PolicyCache()


def decisions(case: Case) -> list[Decision]:
    return [r.decision for r in evaluate_case(case, CACHE).results]


def doc_of(policy: Policy) -> dict[str, Any]:
    value = json.loads(policy.text())
    assert isinstance(value, dict)
    return value


def with_identity(case: Case, documents: list[dict[str, Any]]) -> Case:
    policies = [Policy.of(f"p{i}", d) for i, d in enumerate(documents)]
    return msgspec.structs.replace(case, identity_policies=policies)


def statements_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    s = document["Statement"]
    return [s] if isinstance(s, dict) else list(s)


def label(case: Case, outcome: list[Decision]) -> None:
    for d in outcome:
        event(f"decision: {d.value}")
    if case.permissions_boundary is not None:
        event("with a boundary")
    if case.resource_policy is not None:
        event("with a resource policy")
    if case.scps:
        event("with SCPs")


# reference_policies_evaluation-logic_policy-eval-denyallow.html: "An explicit deny overrides an explicit allow."
@given(cases())
def test_an_explicit_deny_always_wins(case: Case) -> None:
    deny = {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}
    denied = msgspec.structs.replace(case, identity_policies=[*case.identity_policies, Policy.of("deny", deny)])
    before = decisions(case)
    label(case, before)
    assert decisions(denied) == [Decision.EXPLICIT_DENY] * len(case.requests)


@given(cases(), policy_documents(max_statements=2), st.booleans())
def test_adding_an_allow_never_removes_and_a_deny_never_adds(case: Case, extra: dict[str, Any], as_deny: bool) -> None:
    effect = "Deny" if as_deny else "Allow"
    for s in statements_of(extra):
        s["Effect"] = effect
    grown = msgspec.structs.replace(case, identity_policies=[*case.identity_policies, Policy.of("extra", extra)])
    before, after = decisions(case), decisions(grown)
    label(case, before)
    event(f"added {effect}")
    for b, a in zip(before, after, strict=True):
        if as_deny:
            assert not (a == Decision.ALLOWED and b != Decision.ALLOWED)
        else:
            assert not (b == Decision.ALLOWED and a != Decision.ALLOWED)
            assert not (b == Decision.IMPLICIT_DENY and a == Decision.EXPLICIT_DENY)


@given(cases(), st.randoms(use_true_random=False))
def test_statement_order_and_splitting_do_not_change_decisions(case: Case, rnd: random.Random) -> None:
    docs = [doc_of(p) for p in case.identity_policies]
    reshaped = []
    for d in docs:
        split = []
        for s in statements_of(d):
            actions_ = s.get("Action")
            if isinstance(actions_, list) and len(actions_) > 1:
                event("split a multi-action statement")
                sid = s.get("Sid")
                split += [
                    {**s, "Action": a, **({"Sid": f"{sid}Part{n}"} if sid else {})} for n, a in enumerate(actions_)
                ]
            else:
                split.append(s)
        rnd.shuffle(split)
        reshaped.append({**d, "Statement": split})
    before = decisions(case)
    label(case, before)
    assert decisions(with_identity(case, reshaped)) == before


@given(cases())
def test_action_case_never_matters(case: Case) -> None:
    swapped = [msgspec.structs.replace(r, action=r.action.swapcase()) for r in case.requests]
    before = decisions(case)
    label(case, before)
    assert decisions(msgspec.structs.replace(case, requests=swapped)) == before


@given(arns(), actions())
def test_resource_case_matters(arn: str, action: str) -> None:
    """reference_policies_elements_resource.html: Resource matching is case-sensitive."""
    document = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": action, "Resource": arn}}
    case = Case(identity_policies=[Policy.of("p", document)], requests=[Request(action=action, resource=arn)])
    assert decisions(case) == [Decision.ALLOWED]
    resource_part = arn.split(":", 5)[5]
    if resource_part.swapcase() != resource_part:
        event("resource case changed")
        changed = arn[: len(arn) - len(resource_part)] + resource_part.swapcase()
        other = msgspec.structs.replace(case, requests=[Request(action=action, resource=changed)])
        assert decisions(other) == [Decision.IMPLICIT_DENY]


@given(st.lists(actions(), min_size=1, max_size=3), actions(), st.lists(arns(), min_size=1, max_size=2), arns())
def test_not_action_and_not_resource_are_the_complement(
    listed: list[str], action: str, listed_arns: list[str], arn: str
) -> None:
    """reference_policies_elements_notaction.html / _notresource.html: everything except the listed values."""
    if action in listed:
        event("action listed")
    if arn in listed_arns:
        event("resource listed")

    def allowed(statement: dict[str, Any], request: Request) -> bool:
        document = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", **statement}}
        case = Case(identity_policies=[Policy.of("p", document)], requests=[request])
        return decisions(case) == [Decision.ALLOWED]

    request = Request(action=action, resource=arn)
    assert allowed({"NotAction": listed, "Resource": "*"}, request) != allowed(
        {"Action": listed, "Resource": "*"}, request
    )
    assert allowed({"Action": "*", "NotResource": listed_arns}, request) != allowed(
        {"Action": "*", "Resource": listed_arns}, request
    )


def _holds(condition: dict[str, Any], context: list[ContextEntry]) -> bool:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}
    case = Case(
        identity_policies=[Policy.of("p", {"Version": "2012-10-17", "Statement": statement})],
        requests=[Request(action="s3:GetObject", resource="*", context=context)],
    )
    return decisions(case) == [Decision.ALLOWED]


def _first_clause(block: dict[str, dict[str, Any]]) -> tuple[str, str, Any]:
    operator, keys = next(iter(block.items()))
    key, value = next(iter(keys.items()))
    return operator, key, value


_TYPE_OF_FAMILY: dict[str, ContextKeyType] = {
    "Numeric": "numeric",
    "Date": "date",
    "Bool": "boolean",
    "Binary": "binary",
    "IpAddress": "ip",
}


@st.composite
def clause_and_context(draw: st.DrawFn) -> tuple[str, str, Any, list[ContextEntry]]:
    """One condition clause and a context that, half the time, carries its key with a value on the
    clause's boundary (equal, just above or below, in another case, inside or outside a range)."""
    block = draw(condition_blocks(max_operators=1))
    operator, key, value = _first_clause(block)
    base = operator.split(":")[-1].removesuffix("IfExists")
    context = draw(contexts(max_size=2))
    context = [e for e in context if e.key.lower() != key.lower()]
    values = value if isinstance(value, list) else [value]
    first = values[0] if isinstance(values[0], str) else json.dumps(values[0])
    if (
        base != "Null"
        and "${" not in first
        and draw(st.sampled_from(["on the boundary", "on the boundary", "absent"])) != "absent"
    ):
        near = draw(boundary_values(operator=base, value=first))
        family: ContextKeyType = next(
            (t for f, t in _TYPE_OF_FAMILY.items() if base.startswith(f) or base.endswith(f)), "string"
        )
        spelled = draw(st.sampled_from([key, key.upper(), key.lower()]))
        context.append(ContextEntry(key=spelled, type=family, values=[near]))
    return operator, key, value, context


@given(clause_and_context())
def test_if_exists_is_absent_or_the_operator(clause: tuple[str, str, Any, list[ContextEntry]]) -> None:
    """reference_policies_elements_condition_operators.html#Conditions_IfExists: "If the policy key is
    present in the context of the request, process the key as specified in the policy. If the key is not
    present, evaluate the condition element as true." (A key given with no value counts as not present;
    see UNDOCUMENTED.md.)"""
    operator, key, value, context = clause
    base = operator.removesuffix("IfExists")
    if base == "Null":
        return
    present = any(e.key.lower() == key.lower() and e.values for e in context)
    event(f"key {'present' if present else 'absent'}")
    event(f"operator family: {base.split(':')[-1]}")
    holds = _holds({base: {key: value}}, context)
    if present:
        event(f"plain operator {'holds' if holds else 'fails'}")
    assert _holds({base + "IfExists": {key: value}}, context) == (not present or holds)


@given(condition_blocks(max_operators=1), st.text(alphabet="abcXYZ019*:/.-", min_size=0, max_size=8))
def test_for_any_value_over_a_single_value_is_the_plain_operator(block: dict[str, dict[str, Any]], raw: str) -> None:
    """reference_policies_condition-single-vs-multi-valued-context-keys.html: a set operator on a key
    with one value tests that value."""
    operator, key, value = _first_clause(block)
    base = operator.split(":")[-1]
    if base.startswith("Null") or base.endswith("IfExists"):
        return
    values = value if isinstance(value, list) else [value]
    one = str(values[0]) if values and raw == "" else raw
    context = [ContextEntry(key=key, type="stringList", values=[one])]
    plain = [ContextEntry(key=key, type="string", values=[one])]
    event(f"operator family: {base}")
    if one == "":
        # The same page: "If the key values in the request resolve to an empty data set (for example, an
        # empty string), ... ForAnyValue returns false", whatever the plain operator says of "".
        event("empty data set")
        assert not _holds({f"ForAnyValue:{base}": {key: value}}, context)
        return
    assert _holds({f"ForAnyValue:{base}": {key: value}}, context) == _holds({base: {key: value}}, plain)


@given(
    st.sampled_from(["aws:username", "aws:PrincipalTag/team", "aws:userid", "s3:prefix"]),
    st.text(alphabet="abcdefXYZ0189-_.@=+", min_size=1, max_size=12),
    st.sampled_from(["bucket", "data"]),
    st.text(alphabet="abcdefXYZ0189-_.@=+", min_size=1, max_size=12),
)
def test_a_variable_with_its_value_equals_the_literal(key: str, value: str, bucket: str, asked: str) -> None:
    """reference_policies_variables.html: the variable is replaced by the key's value."""
    resource = f"arn:aws:s3:::{bucket}/home/{asked}/file"
    context = [ContextEntry(key=key, type="string", values=[value])]

    def decide(pattern: str, condition: dict[str, Any] | None) -> list[Decision]:
        statement: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": pattern}
        if condition:
            statement["Condition"] = condition
        document = {"Version": "2012-10-17", "Statement": statement}
        case = Case(
            identity_policies=[Policy.of("p", document)],
            requests=[Request(action="s3:GetObject", resource=resource, context=context)],
        )
        return decisions(case)

    variable = f"arn:aws:s3:::{bucket}/home/${{{key}}}/*"
    literal = f"arn:aws:s3:::{bucket}/home/{value}/*"
    event("matches" if value == asked else "differs")
    assert decide(variable, None) == decide(literal, None)
    in_condition = {"StringEquals": {"aws:RequestTag/x": f"${{{key}}}"}}
    context.append(ContextEntry(key="aws:RequestTag/x", type="string", values=[asked]))
    assert decide("*", in_condition) == decide("*", {"StringEquals": {"aws:RequestTag/x": value}})


@given(cases(), st.sampled_from([None, 0, 1, 4, "\t"]), st.booleans())
def test_a_json_round_trip_keeps_every_decision(case: Case, indent: int | str | None, sort_keys: bool) -> None:
    texts = [json.dumps(doc_of(p), indent=indent, sort_keys=sort_keys) for p in case.identity_policies]
    moved = msgspec.structs.replace(
        case, identity_policies=[Policy.of(p.id, t) for p, t in zip(case.identity_policies, texts, strict=True)]
    )
    before = decisions(case)
    label(case, before)
    assert decisions(moved) == before


@given(st.lists(cases(), min_size=1, max_size=5))
def test_a_batch_equals_each_case_alone(batch: list[Case]) -> None:
    lines = [msgspec.json.encode(c) for c in batch]
    together = [a.output for a in answer_lines(lines)]
    alone = [next(iter(answer_lines([line]))).output for line in lines]
    event(f"batch of {len(batch)}")
    assert together == alone
    assert together == [encode(evaluate_case(c, PolicyCache())) for c in batch]
