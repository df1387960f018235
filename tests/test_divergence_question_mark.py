"""The iam-simulate entry ``question-mark-in-resource`` fires only where a '?' in a Resource pattern of a
statement covering the action decides whether the resource matches (witness: its corpus case)."""

from __future__ import annotations

import json

import pytest

from conformance.divergence_rules import Observation, question_mark_in_resource
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, Policy, Request

RES = "arn:aws:codepipeline:us-east-1:111122223333:a/-/-"


def _observation(pattern: str, action: str = "codepipeline:DisableStageTransition", resource: str = RES) -> Observation:
    st = {"Effect": "Allow", "Action": "codepipeline:DisableStageTransition", "Resource": pattern}
    case = Case(
        identity_policies=[Policy.of("p", json.dumps({"Version": "2012-10-17", "Statement": [st]}))],
        requests=[Request(action, resource)],
    )
    expected = evaluate_case(case, PolicyCache()).results[0]
    return Observation(case, case.requests[0], expected, expected)


def test_fires_where_the_question_mark_decides() -> None:
    assert question_mark_in_resource(_observation("arn:aws:codepipeline:us-east-1:111122223333:?/-/-"))


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
