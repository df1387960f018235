"""Known divergences stay true: every entry parses, names a known rule and feature, has a witness in
the corpus, and the witness still diverges in exactly the way the entry says (strict)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from conformance import corpus
from conformance.divergences import KnownDivergence, known_divergences
from conformance.harness import Status, check_cases
from conformance.registry import ALL_TARGETS, started_targets
from conformance.targets.base import Check, Target

ENTRIES = [e for name in ALL_TARGETS for e in known_divergences(name)]


def test_every_target_file_loads() -> None:
    assert known_divergences("iam-simulate"), "iam-simulate's known divergences are missing"


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, Target | str]]:
    with started_targets({e.target for e in ENTRIES}) as out:
        yield out


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e.target}:{e.id}" for e in ENTRIES])
def test_witness_still_diverges_as_listed(entry: KnownDivergence, targets: dict[str, Target | str]) -> None:
    path = resources.files("conformance").joinpath(entry.witness)
    assert path.is_file(), f"{entry.id}: witness {entry.witness} is missing"
    target = targets[entry.target]
    if isinstance(target, str):
        pytest.skip(f"{entry.target} cannot run here: {target}")
    outcomes = check_cases(target, corpus.load(Path(str(path))))
    explained = [o for o in outcomes if o.status == Status.KNOWN and o.known is not None and o.known.id == entry.id]
    assert explained, (
        f"{entry.id} no longer happens (or another entry explains it): "
        + "; ".join(o.describe() for o in outcomes)
        + " — remove the entry or fix its rule"
    )
    assert not [o for o in outcomes if o.is_failure], [o.describe() for o in outcomes]


AWS_ENTRIES = known_divergences("aws-simulator")


@pytest.mark.parametrize("entry", AWS_ENTRIES, ids=[e.id for e in AWS_ENTRIES])
def test_aws_simulator_rules_recognise_the_apis_documented_behaviour(entry: KnownDivergence) -> None:
    """Offline, the aws-simulator target runs against `iamconf serve`, which answers as the API reference
    documents (SCP statements and SCP-only keys left out): the rules must recognise that answer."""
    from conformance.serve import running_server
    from conformance.targets.aws_simulator import AwsSimulatorTarget

    path = Path(str(resources.files("conformance").joinpath(entry.witness)))
    with running_server() as url:
        target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=url)
        target.start()
        try:
            outcomes = check_cases(target, corpus.load(path))
        finally:
            target.stop()
    assert any(o.status == Status.KNOWN and o.known is not None for o in outcomes), [o.describe() for o in outcomes]
    assert not [o for o in outcomes if o.is_failure], [o.describe() for o in outcomes]


# -- entries excuse only what they name ----------------------------------------------------------------------

_ENTRY = """
[[divergence]]
id = "x"
feature = "actions"
rule = "kms_without_key_policy"
reason = "r"
source = "s"
witness = "corpus/iam-simulate/kms-requires-key-policy.json"
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('checks = ["decision"]', "says which way it goes"),
        ('checks = ["decision"]\nexpected = "allowed"', "expected and observed go together"),
        ('checks = ["decision"]\nexpected = "allowed"\nobserved = "allowed"', "says which way it goes"),
        ('checks = ["decision"]\nexpected = "allow"\nobserved = "implicitDeny"', "must be a decision"),
        ('checks = ["decision"]\ndirections = [["allowed"]]', "pairs"),
        ('checks = ["answer"]', "failure_pattern"),
        ('checks = ["answer"]\nfailure_pattern = "("', "failure_pattern:"),
        ('checks = ["decision"]\nexpected = "allowed"\nobserved = "implicitDeny"\nfailure_pattern = "x"', "only"),
        ('checks = ["matched_statements"]\nexpected = "allowed"\nobserved = "implicitDeny"', "only meaningful"),
    ],
)
def test_an_entry_must_name_its_direction_or_failure(extra: str, message: str) -> None:
    from conformance.divergences import DivergenceFileError, parse_divergence_file

    with pytest.raises(DivergenceFileError, match=message):
        parse_divergence_file("t", _ENTRY + extra)


def test_directions_combine_expected_and_observed_lists() -> None:
    from conformance.divergences import parse_divergence_file

    (entry,) = parse_divergence_file(
        "t", _ENTRY + 'checks = ["decision"]\nexpected = ["allowed", "explicitDeny"]\nobserved = "implicitDeny"'
    )
    assert entry.directions == {("allowed", "implicitDeny"), ("explicitDeny", "implicitDeny")}


DECISION_ENTRIES = [e for e in ENTRIES if e.directions and Check.DECISION in e.checks]
ENFORCED_ENTRIES = [e for e in ENTRIES if Check.ENFORCED in e.checks]


@pytest.mark.parametrize("entry", ENFORCED_ENTRIES, ids=[e.id for e in ENFORCED_ENTRIES])
def test_enforced_entry_refuses_a_direction_it_does_not_name(entry: KnownDivergence) -> None:
    """allowed/denied for the enforced check: an entry naming allowed -> implicitDeny excuses allowed -> denied
    only; no entry of the enforced check excuses a decision or a failure."""
    from conformance.compare import Mismatch

    denied = {"implicitDeny": "denied", "explicitDeny": "denied", "allowed": "allowed"}
    named = {(denied[e], denied[o]) for e, o in entry.directions}
    assert named and all(e != o for e, o in named)
    for pair in (("allowed", "denied"), ("denied", "allowed")):
        assert entry.covers(Mismatch(Check.ENFORCED, *pair)) == (pair in named)
    assert not entry.covers(Mismatch(Check.DECISION, "allowed", "implicitDeny"))
    assert not entry.covers(Mismatch(Check.ANSWER, "an answer", "boom"))


@pytest.mark.parametrize("entry", DECISION_ENTRIES, ids=[e.id for e in DECISION_ENTRIES])
def test_entry_refuses_a_direction_it_does_not_name(entry: KnownDivergence) -> None:
    from conformance.compare import Mismatch
    from conformance.targets.base import Check
    from reference.model import Decision

    pairs = {(e.value, o.value) for e in Decision for o in Decision if e != o}
    for expected, observed in pairs:
        named = (expected, observed) in entry.directions
        assert entry.covers(Mismatch(Check.DECISION, expected, observed)) == named
    assert not entry.covers(Mismatch(Check.ANSWER, "an answer", "boom"))


def test_no_failure_is_excused_without_an_entry_naming_its_message() -> None:
    """The crash witness: its message is excused; any other failure of the same case is a failure."""
    from conformance.harness import _failure
    from conformance.targets.base import TargetFailure
    from reference.compiled import PolicyCache
    from reference.evaluator import evaluate_case

    (entry,) = [e for e in ENTRIES if e.failure_pattern is not None and e.target == "iam-simulate"]
    (case,) = corpus.load(Path(str(resources.files("conformance").joinpath(entry.witness))))
    expected = evaluate_case(case, PolicyCache()).results
    crash = _failure("iam-simulate", case, expected, TargetFailure("Error: Key value is not an array, this is a bug."))
    assert crash.status == Status.KNOWN and crash.known is not None and crash.known.id == entry.id
    for message in ("worker timed out after 120 s", "worker killed (signal 9)", "TypeError: x is undefined"):
        outcome = _failure("iam-simulate", case, expected, TargetFailure(message))
        assert outcome.status == Status.FAILURE and outcome.is_failure, message


def test_a_failure_is_not_excused_by_entries_covering_decisions() -> None:
    """A case whose request matches a decision entry (the KMS witness) still fails when the target crashes."""
    from conformance.harness import _failure
    from conformance.targets.base import TargetFailure
    from reference.compiled import PolicyCache
    from reference.evaluator import evaluate_case

    (entry,) = [e for e in ENTRIES if e.id == "kms-requires-key-policy"]
    (case,) = corpus.load(Path(str(resources.files("conformance").joinpath(entry.witness))))
    expected = evaluate_case(case, PolicyCache()).results
    outcome = _failure("iam-simulate", case, expected, TargetFailure("Key value is not an array"))
    assert outcome.status == Status.FAILURE
