"""Two known divergences in one request: iam-simulate drops a condition key of another action (entry
``key-of-another-action-dropped``, a lens: the way it reads the request) and then applies an RCP to a
service that does not support RCPs (``rcp-on-unsupported-service``).  Neither entry explains the answer
alone; through the lens the second does (witness: ``corpus/iam-simulate/rcp-unsupported-service-with-
dropped-key.json``).  The composition stays as narrow as its parts: another decision, a key that is not
dropped, or a lens whose view no entry explains are all unexplained."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import msgspec

from conformance import corpus
from conformance.compare import compare
from conformance.divergence_rules import LENSES, RULES, Observation
from conformance.divergences import explain
from conformance.targets.base import Check
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, Decision, RequestResult

WITNESS = "corpus/iam-simulate/rcp-unsupported-service-with-dropped-key.json"


def _witness() -> Case:
    (case,) = corpus.load(Path(str(resources.files("conformance").joinpath(WITNESS))))
    return case


def _explained(case: Case, observed_decision: Decision) -> str | None:
    expected = evaluate_case(case, PolicyCache()).results[0]
    observed = msgspec.structs.replace(expected, decision=observed_decision)
    mismatches = compare(expected, observed, frozenset({Check.DECISION}))
    assert mismatches, "no divergence to explain"
    found = explain("iam-simulate", Observation(case, case.requests[0], expected, observed), mismatches)
    return None if found is None else found.id


def _observation(case: Case, observed: Decision) -> Observation:
    expected: RequestResult = evaluate_case(case, PolicyCache()).results[0]
    return Observation(case, case.requests[0], expected, msgspec.structs.replace(expected, decision=observed))


def test_the_witness_is_explained_by_both_entries_together() -> None:
    case = _witness()
    assert _explained(case, Decision.EXPLICIT_DENY) == "key-of-another-action-dropped+rcp-on-unsupported-service"
    o = _observation(case, Decision.EXPLICIT_DENY)
    # Neither rule alone explains it: the dropped key is read only by an RCP the reference leaves out,
    # and with the key the RCP's Deny does not hold (ArnNotEquals on the value it names).
    assert not RULES["key_of_another_action"](o)
    assert not RULES["rcp_on_unsupported_service"](o)


def test_another_decision_is_not_explained() -> None:
    """The lens and the RCP rule explain an explicit deny only: an allow is a bug, whatever the case holds."""
    assert _explained(_witness(), Decision.ALLOWED) is None


def test_without_the_key_to_drop_the_lens_sees_nothing() -> None:
    case = _witness()
    request = case.requests[0]
    kept = [e for e in request.context if e.key != "codebuild:ProjectArn"]
    without = msgspec.structs.replace(case, requests=[msgspec.structs.replace(request, context=kept)])
    o = _observation(without, Decision.EXPLICIT_DENY)
    assert LENSES["key_of_another_action"](o) is None
    # The key absent, the RCP's Deny holds in the reference too: the RCP rule alone explains it.
    assert _explained(without, Decision.EXPLICIT_DENY) == "rcp-on-unsupported-service"


def test_a_key_the_peer_keeps_is_not_dropped_by_the_lens() -> None:
    """ssm:SourceInstanceArn is a cross-service key iam-simulate's catalogue lists beside the global keys:
    the lens keeps it (dropping it would make the RCP's ArnEquals false and the Deny would not hold)."""
    o = _observation(_witness(), Decision.EXPLICIT_DENY)
    seen = LENSES["key_of_another_action"](o)
    assert seen is not None
    assert [e.key for e in seen.request.context] == ["aws:AssumedRoot", "aws:VpcSourceIp", "ssm:SourceInstanceArn"]


def test_a_lens_view_no_entry_explains_stays_unexplained() -> None:
    """Without RCPs the view through the lens has nothing the RCP rule could explain."""
    case = msgspec.structs.replace(_witness(), rcps=[])
    expected = evaluate_case(case, PolicyCache()).results[0]
    assert expected.decision == Decision.IMPLICIT_DENY
    assert _explained(case, Decision.EXPLICIT_DENY) is None
