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
from conformance.targets.base import Target

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
