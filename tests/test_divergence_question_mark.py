"""The iam-simulate entry ``question-mark-in-resource`` fires only where a '?' in a Resource pattern of a
statement covering the action decides whether the resource matches, and leaving that statement out gives the
peer's decision (witness: its corpus case).  The observed answer is therefore a decision other than the
reference's: with observed == expected there is no divergence to explain and every rule is silent."""

from __future__ import annotations

import json

import msgspec
import pytest

from conformance.divergence_rules import Observation, question_mark_in_resource
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, Decision, Policy, Request

RES = "arn:aws:codepipeline:us-east-1:111122223333:a/-/-"


def _observation(pattern: str, action: str = "codepipeline:DisableStageTransition", resource: str = RES) -> Observation:
    st = {"Effect": "Allow", "Action": "codepipeline:DisableStageTransition", "Resource": pattern}
    case = Case(
        identity_policies=[Policy.of("p", json.dumps({"Version": "2012-10-17", "Statement": [st]}))],
        requests=[Request(action, resource)],
    )
    expected = evaluate_case(case, PolicyCache()).results[0]
    # The peer reads '?' literally: where the reference allows, it denies implicitly, and vice versa.
    flipped = Decision.IMPLICIT_DENY if expected.decision == Decision.ALLOWED else Decision.ALLOWED
    observed = msgspec.structs.replace(expected, decision=flipped, matched_statements=[])
    return Observation(case, case.requests[0], expected, observed)


def test_fires_where_the_question_mark_decides() -> None:
    o = _observation("arn:aws:codepipeline:us-east-1:111122223333:?/-/-")
    assert o.expected.decision == Decision.ALLOWED  # '?' matches the one character 'a'
    assert question_mark_in_resource(o)


def test_silent_where_the_observed_decision_is_the_expected_one() -> None:
    o = _observation("arn:aws:codepipeline:us-east-1:111122223333:?/-/-")
    assert not question_mark_in_resource(Observation(o.case, o.request, o.expected, o.expected))


@pytest.mark.parametrize(
    ("pattern", "action", "resource"),
    [
        ("arn:aws:codepipeline:us-east-1:111122223333:a/-/-", "codepipeline:DisableStageTransition", RES),  # no '?'
        ("arn:aws:codepipeline:us-east-1:111122223333:*", "codepipeline:DisableStageTransition", RES),  # '*' only
        ("arn:aws:codepipeline:us-east-1:111122223333:?/-/-", "s3:GetObject", RES),  # action not covered
        ("arn:aws:codepipeline:us-east-1:111122223333:?/-/-", "codepipeline:DisableStageTransition", RES + "x"),
        ("arn:aws:codepipeline:us-east-1:111122223333:a/-/-?", "codepipeline:DisableStageTransition", RES + "?"),
    ],
)
def test_silent_where_no_question_mark_decides(pattern: str, action: str, resource: str) -> None:
    assert not question_mark_in_resource(_observation(pattern, action, resource))
