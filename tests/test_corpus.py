"""Every minimal divergent case ever saved under conformance/corpus/<target>/ is replayed against its
target: it must now agree, or be explained by a known-divergence entry (conformance/divergences/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import corpus
from conformance.harness import check_cases
from conformance.registry import ALL_TARGETS, started_targets
from conformance.targets.base import Target

FILES = [(name, path) for name in ALL_TARGETS for path in corpus.files(name)]


def test_the_corpus_is_not_empty() -> None:
    assert FILES, "conformance/corpus/ holds no case: the regression replay would check nothing"


@pytest.fixture(scope="module")
def started() -> Iterator[dict[str, Target | str]]:
    with started_targets({n for n, _ in FILES}) as out:
        yield out


@pytest.mark.parametrize(("name", "path"), FILES, ids=[f"{n}/{p.name}" for n, p in FILES])
def test_corpus_case_agrees_or_is_known(name: str, path: Path, started: dict[str, Target | str]) -> None:
    target = started[name]
    if isinstance(target, str):
        pytest.skip(f"{name} cannot run here: {target}")
    outcomes = check_cases(target, corpus.load(path))
    assert outcomes, f"{path}: nothing was compared"
    unexpected = [o.describe() for o in outcomes if o.is_failure]
    assert not unexpected, f"replay with: iamconf replay {path} --target {name}\n" + "\n".join(unexpected)
