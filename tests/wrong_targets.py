"""Two wrong targets, for the project's own tests only: ``flip`` answers the opposite of the reference for
every request, ``random`` a decision drawn from a hash of the request (deterministic, so Hypothesis sees
the same answer when it replays a case).  Every suite must fail against both, and the known divergences
must excuse almost none of their wrong answers (``tests/test_wrong_targets.py``).

Loaded as a pytest plugin (``-p tests.wrong_targets``) it registers both with the conformance registry
for that pytest process only; ``iamconf run --target`` never offers them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence

import msgspec
import pytest
from hypothesis import Phase, settings

from conformance.features import FEATURES
from conformance.registry import register_test_target
from conformance.targets.base import Capabilities, Check, Target, TargetAnswer, TargetFailure
from reference.compiled import PolicyCache
from reference.evaluator import CaseInputError, evaluate_case
from reference.model import Case, CaseResult, Decision, RequestResult

WRONG_TARGETS = ("flip", "random")
# The control: answers what the reference answers, so the suites pass against it (the harness is not
# what makes them fail against the wrong targets).
CONTROL_TARGET = "truth"
_FLIPPED = {
    Decision.ALLOWED: Decision.IMPLICIT_DENY,
    Decision.IMPLICIT_DENY: Decision.ALLOWED,
    Decision.EXPLICIT_DENY: Decision.ALLOWED,
}
_DECISIONS = tuple(Decision)


def flipped(result: RequestResult, case: Case, index: int) -> Decision:
    return _FLIPPED[result.decision]


def drawn(result: RequestResult, case: Case, index: int) -> Decision:
    digest = hashlib.sha256(msgspec.json.encode(case) + index.to_bytes(4, "big")).digest()
    return _DECISIONS[digest[0] % len(_DECISIONS)]


class WrongTarget:
    """Answers every request of every case with ``choose``'s decision; claims every feature family."""

    capabilities = Capabilities(checks=frozenset({Check.DECISION}), features=frozenset(FEATURES))

    def __init__(self, name: str, choose: Callable[[RequestResult, Case, int], Decision]):
        self.name = name
        self._choose = choose
        self._cache = PolicyCache()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        out: list[TargetAnswer] = []
        for case in cases:
            try:
                truth = evaluate_case(case, self._cache)
            except CaseInputError as e:  # the harness never sends a case the reference refuses
                out.append(TargetFailure(f"invalid case: {e}"))
                continue
            results = [
                msgspec.structs.replace(r, decision=self._choose(r, case, i)) for i, r in enumerate(truth.results)
            ]
            out.append(CaseResult(truth.id, results))
        return out


def truthful(result: RequestResult, case: Case, index: int) -> Decision:
    return result.decision


def make(name: str) -> Target:
    choose = {"flip": flipped, "random": drawn, CONTROL_TARGET: truthful}[name]
    return WrongTarget(name, choose)


@pytest.hookimpl(trylast=True)  # after the harness plugin has loaded the run's profile
def pytest_configure(config: pytest.Config) -> None:
    for name in (*WRONG_TARGETS, CONTROL_TARGET):
        register_test_target(name, functools.partial(make, name))
    # A wrong target fails at once; shrinking its failures would only cost time.
    base = settings.default
    settings.register_profile("wrong-targets", base, phases=[Phase.explicit, Phase.generate], print_blob=False)
    settings.load_profile("wrong-targets")
