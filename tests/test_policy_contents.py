"""One policy in several layouts is compiled once (``reference.compiled.PolicyContent``), and each text
keeps its own positions, refusals and answers: what answering it alone in a new process gives."""

from __future__ import annotations

import json
import lzma
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from json_source_map import calculate

from reference.caseio import answer_lines
from reference.compiled import PolicyCache, compile_text, forget_compiled
from reference.document import MAX_POLICY_CHARS
from reference.errors import PolicyError
from reference.policy import PolicyKind

BASELINE = Path(__file__).parent / "fixtures" / "baseline"

LAYOUTS: dict[str, Callable[[Any], str]] = {
    "compact": lambda v: json.dumps(v, separators=(",", ":")),
    "spaced": json.dumps,
    "indent 4": lambda v: json.dumps(v, indent=4),
    "tabs": lambda v: json.dumps(v, indent="\t"),
}

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ],
}


@pytest.fixture(autouse=True)
def _fresh() -> None:
    forget_compiled()


def _source_map_start(text: str, index: int) -> tuple[int, int]:
    e = calculate(text)[f"/Statement/{index}"].value_start
    return e.line + 1, e.column + 1


def test_layouts_of_one_policy_share_its_content_and_each_keeps_its_positions() -> None:
    compiled = {name: compile_text(layout(POLICY), "identity") for name, layout in LAYOUTS.items()}
    contents = {id(c.content) for c in compiled.values()}
    assert len(contents) == 1  # compiled once
    for name, c in compiled.items():
        text = c.parsed.document.text
        assert text == LAYOUTS[name](POLICY)
        for i, s in enumerate(c.parsed.statements):
            start, _ = c.parsed.span(s)
            assert (start.line, start.column) == _source_map_start(text, i), name
            reported = c.reported(c.statements[i], "p", "IAM Policy")
            assert (reported.start.line, reported.start.column) == _source_map_start(text, i), name


def test_white_space_inside_a_string_is_part_of_the_content() -> None:
    one = compile_text(json.dumps({**POLICY, "Statement": [{**POLICY["Statement"][0], "Sid": "a b"}]}), "identity")
    two = compile_text(json.dumps({**POLICY, "Statement": [{**POLICY["Statement"][0], "Sid": "a  b"}]}), "identity")
    assert one.content is not two.content
    assert (one.parsed.statements[0].sid, two.parsed.statements[0].sid) == ("a b", "a  b")


def test_a_layout_over_the_size_limit_is_refused_though_its_content_was_compiled() -> None:
    compact = LAYOUTS["compact"](POLICY)
    compile_text(compact, "identity")
    padded = compact[:-1] + " " * (MAX_POLICY_CHARS - len(compact) + 1) + "}"
    with pytest.raises(PolicyError) as info:
        compile_text(padded, "identity")
    assert info.value.code == "policy-too-large"


@pytest.mark.parametrize(("first", "then"), [("identity", "resource"), ("resource", "identity")])
def test_a_content_is_kept_per_kind_of_policy(first: PolicyKind, then: PolicyKind) -> None:
    """Valid as one kind, refused as the other (a Principal is required in a resource-based policy and not
    allowed in an identity-based one): the second kind is validated on its own."""
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    if first == "resource":
        statement["Principal"] = "*"
    text = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    compile_text(text, first)
    with pytest.raises(PolicyError) as info:
        compile_text(json.dumps(json.loads(text), indent=2), then)
    assert info.value.code in ("missing-principal", "principal-not-allowed")


def test_an_invalid_policy_is_located_in_each_of_its_layouts() -> None:
    bad = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Maybe"}]}
    places = set()
    for layout in LAYOUTS.values():
        with pytest.raises(PolicyError) as info:
            compile_text(layout(bad), "identity")
        assert info.value.code == "invalid-effect"
        places.add((info.value.line, info.value.column))
    assert len(places) == len(LAYOUTS)


def _cases(limit: int) -> list[dict[str, Any]]:
    out = []
    for name in ("shipped", "generated"):
        lines = lzma.decompress((BASELINE / f"{name}.cases.jsonl.xz").read_bytes()).splitlines()[:limit]
        out += [json.loads(line) for line in lines]
    return out


def _relaid(case: dict[str, Any], layout: Callable[[Any], str]) -> dict[str, Any] | None:
    """The case with each policy written as its text in ``layout``; None if a policy is not JSON text."""
    out = dict(case)

    def again(policy: dict[str, Any]) -> dict[str, Any]:
        doc = policy["document"]
        value = json.loads(doc) if isinstance(doc, str) else doc
        return {**policy, "document": layout(value)}

    try:
        for key in ("identity_policies",):
            out[key] = [again(p) for p in case.get(key, [])]
        for key in ("permissions_boundary", "session_policy", "resource_policy"):
            if case.get(key):
                out[key] = again(case[key])
        for key in ("scps", "rcps"):
            out[key] = [[again(p) for p in level] for level in case.get(key, [])]
    except (ValueError, TypeError, KeyError):
        return None
    return out


def test_answers_with_contents_shared_are_the_answers_of_each_case_alone() -> None:
    """Every shipped and generated case, its policies written in each layout one after the other, answered
    in one batch: each answer (statement positions included) is what the case gets alone, in a process
    that compiled nothing before."""
    lines = []
    for case in _cases(150):
        for layout in LAYOUTS.values():
            relaid = _relaid(case, layout)
            if relaid is not None:
                lines.append(json.dumps(relaid).encode())
    assert len(lines) > 1000
    together = [a.output for a in answer_lines(lines, PolicyCache())]
    alone = []
    for line in lines:
        forget_compiled()
        [answer] = answer_lines([line], PolicyCache())
        alone.append(answer.output)
    assert sum(b'"matched_statements":[{' in a for a in alone) > 200  # positions are compared
    assert together == alone


def test_aging_keeps_the_checked_values_and_the_recent_contents_and_forgetting_empties_them() -> None:
    """A batch ages its caches every ``reference.batch.AGE_EVERY`` lines: the grammar answers for single
    Action and Resource values are kept (bounded caches), and so are the contents used since the aging
    before; ``forget_compiled`` (a new process, the memory guard) empties everything."""
    from reference.arns import resource_problem
    from reference.compiled import age_compiled
    from reference.conditions import _network_range
    from reference.patterns import _automaton, nfa_match
    from reference.policy import action_problem

    first = compile_text(LAYOUTS["spaced"](POLICY), "identity")
    assert nfa_match("arn:aws:s3:::b*x/?", "arn:aws:s3:::bax/y", segmented=True)
    assert _network_range("192.0.2.0/24") is not None
    age_compiled()
    assert len(action_problem) > 0 and len(resource_problem) > 0
    assert _automaton.cache_info().currsize > 0 and _network_range.cache_info().currsize > 0
    assert compile_text(LAYOUTS["tabs"](POLICY), "identity").content is first.content
    age_compiled()
    age_compiled()  # not used since the aging before the last: forgotten
    assert compile_text(LAYOUTS["compact"](POLICY), "identity").content is not first.content
    forget_compiled()
    assert len(action_problem) == 0 and len(resource_problem) == 0
    assert _automaton.cache_info().currsize == 0 and _network_range.cache_info().currsize == 0
