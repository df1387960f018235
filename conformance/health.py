"""Health checks of a suite, in the manner of Hypothesis's own: a suite that compared too little fails.

A target may answer "unsupported" to a request it cannot express; such a
request is not held against it, but neither does it say anything about it.  A
suite whose requests a target mostly refused would pass while checking almost
nothing, so it fails instead, saying why, when fewer than
:data:`MIN_COMPARED_SHARE` of its requests were compared for the target.
Requests the reference itself refuses (invalid cases) count neither way.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.harness import Outcome, Status

MIN_COMPARED_SHARE = 0.8
COMPARED = frozenset({Status.AGREE, Status.KNOWN, Status.UNEXPECTED, Status.FAILURE})


@dataclass(slots=True)
class SuiteTally:
    """Requests of one suite for one target: compared, refused as unsupported (with the reasons)."""

    compared: int = 0
    unsupported: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            requests = 1 if o.request_index is not None else len(o.case.requests)
            if o.status in COMPARED:
                self.compared += requests
            elif o.status == Status.UNSUPPORTED:
                self.unsupported += requests
                self.reasons[o.reason] += requests

    @property
    def share(self) -> float:
        total = self.compared + self.unsupported
        return self.compared / total if total else 0.0

    def passed(self, threshold: float = MIN_COMPARED_SHARE) -> bool:
        return self.compared > 0 and self.share >= threshold

    def failure_message(self, target: str, suite: str, threshold: float = MIN_COMPARED_SHARE) -> str:
        total = self.compared + self.unsupported
        top = "; ".join(f"{n}x {reason}" for reason, n in self.reasons.most_common(3)) or "none"
        return (
            f"health check failed: {target} compared {self.compared} of the {total} requests of {suite} "
            f"({self.share:.1%}, below {threshold:.0%}); it answered the rest unsupported. "
            f"Most common reasons: {top}. A suite that compares so little says nothing about the target: "
            "aim the suite's strategies at what the target supports, or stop the target claiming the feature."
        )
