"""Target ``replay``: what the AWS IAM policy simulator answered, read back offline.

It answers a case from its recording (``conformance.targets.recordings``) with
the same code that read the live answer
(``conformance.targets.simulate_custom_policy``), so a replayed result is the
result the live run gave; a case without a recording is ``Unsupported`` and
listed by :meth:`ReplayTarget.missing`.  Only recordings of AWS itself are
answers of AWS: by default the target reads only those (``endpoint_kind`` "aws").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from conformance.targets.base import Capabilities, TargetAnswer, TargetStats, TargetUnavailable, Unsupported
from conformance.targets.recordings import (
    DEFAULT_DIRECTORY,
    FORMAT,
    Recording,
    RecordingStore,
    account_mapping,
    case_key,
    normalise_case,
    scrub,
)
from conformance.targets.simulate_custom_policy import CAPABILITIES, interpret, plan
from reference.model import Case

__all__ = [
    "DEFAULT_DIRECTORY",
    "FORMAT",
    "NAME",
    "Recording",
    "RecordingStore",
    "ReplayTarget",
    "account_mapping",
    "case_key",
    "make_replay_target",
    "normalise_case",
    "scrub",
]

NAME = "replay"


def _label(case: Case, key: str) -> str:
    return case.id if isinstance(case.id, str) else f"sha256:{key[:16]}"


class ReplayTarget:
    """Answers from recordings of the aws-simulator target; offline."""

    name = NAME
    # The same checks as the live target, but no feature family: replay answers only the cases that
    # were recorded, so generated suites skip it; conformance/suites/test_recordings.py drives it.
    capabilities = Capabilities(checks=CAPABILITIES.checks, features=frozenset())

    def __init__(self, directory: str | Path = DEFAULT_DIRECTORY, endpoint_kinds: Collection[str] | None = ("aws",)):
        self.store = RecordingStore(directory)
        # Only answers of AWS itself by default: a recording of `iamconf serve` ("local") is the reference's.
        self.endpoint_kinds = None if endpoint_kinds is None else frozenset(endpoint_kinds)
        self.stats = TargetStats()
        self._index: dict[str, Recording] | None = None
        self._missing: dict[str, Case] = {}

    def start(self) -> None:
        if not self.store.directory.is_dir():
            raise TargetUnavailable(f"no recordings directory {self.store.directory}")
        self._index = self.store.load(self.endpoint_kinds)

    def stop(self) -> None:
        self._index = None

    def missing(self) -> list[Case]:
        """The cases asked for that have no recording (record them with the aws-simulator target)."""
        return list(self._missing.values())

    def missing_ids(self) -> list[str]:
        """Their ids (``sha256:...`` of the normalised case when a case has none)."""
        return list(self._missing)

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        if self._index is None:
            self.start()
        return [self._answer_one(c) for c in cases]

    def _answer_one(self, case: Case) -> TargetAnswer:
        assert self._index is not None
        normalised, _ = normalise_case(case)
        calls = plan(normalised)
        if isinstance(calls, Unsupported):
            return calls
        key = case_key(normalised)
        rec = self._index.get(key)
        if rec is None:
            self._missing.setdefault(_label(case, key), case)
            return Unsupported("no recording for this case")
        if [e.request for e in rec.exchanges] != [c.summary() for c in calls[: len(rec.exchanges)]]:
            return Unsupported(f"the recording {rec.path.name} was made with another call plan: record it again")
        self.stats.cases += 1
        self.stats.requests += len(case.requests)
        # Positions and the call plan are the same for the case and its normalised form; the
        # results take their actions, resources and policy ids from the case as given.
        return interpret(case, calls[: len(rec.exchanges)], rec.exchanges)


def make_replay_target(recordings_dir: str | None = None) -> ReplayTarget:
    """The target as ``--target replay`` builds it: AWS recordings from ``recordings_dir`` or the shipped ones."""
    return ReplayTarget(DEFAULT_DIRECTORY if recordings_dir is None else recordings_dir)
