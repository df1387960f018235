"""iam-simulate's ``crash-on-key-without-values``: a set-operator clause on a key given with no values
throws even in a statement whose Action does not cover the request (measured witness:
corpus/iam-simulate/crash-on-key-without-values-action-not-matched.json); a plain operator there does not."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from conformance import corpus
from conformance.divergence_rules import Observation, context_key_without_values
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, ContextEntry, Policy, Request


def _observation(case: Case, observed_failure: bool = True) -> Observation:
    expected = evaluate_case(case, PolicyCache()).results[0]
    return Observation(case, case.requests[0], expected, None if observed_failure else expected)


def _case(operator: str) -> Case:
    st = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {operator: {"aws:PrincipalTag/t": "x"}},
    }
    return Case(
        identity_policies=[Policy.of("p", json.dumps({"Version": "2012-10-17", "Statement": [st]}))],
        requests=[Request("sqs:SendMessage", "*", context=[ContextEntry("aws:PrincipalTag/t", "string", [])])],
    )


def test_fires_on_the_measured_witness() -> None:
    path = Path(
        str(
            resources.files("conformance").joinpath(
                "corpus/iam-simulate/crash-on-key-without-values-action-not-matched.json"
            )
        )
    )
    (case,) = corpus.load(path)
    assert context_key_without_values(_observation(case))


def test_set_operator_elsewhere_fires_plain_operator_elsewhere_does_not() -> None:
    assert context_key_without_values(_observation(_case("ForAllValues:StringEquals")))
    assert not context_key_without_values(_observation(_case("StringEquals")))


def test_never_explains_a_decision() -> None:
    assert not context_key_without_values(_observation(_case("ForAllValues:StringEquals"), observed_failure=False))
