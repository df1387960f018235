"""A time bound on shrinking a divergence, per suite.

Hypothesis shrinks a failing example by running the test on smaller and
smaller candidates, up to 300 s a test (its own bound, not a setting); every
candidate here is a round trip to the target.  Once ``seconds`` have passed
since a suite's first failure, :meth:`ShrinkBudget.admit` stops letting new
candidates reach the target: a candidate not seen failing before is then not
checked (to Hypothesis, it did not fail, so the shrinker moves on quickly),
while a case already seen failing fails again the same way, so Hypothesis's
final replay of its smallest example still fails and is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class ShrinkBudget(Generic[T]):
    """Per suite (node id): when it first failed, and what failed (by the case's canonical bytes)."""

    seconds: float | None  # None: unbounded (Hypothesis's own bound only)
    clock: Callable[[], float] = time.monotonic
    first_failure: dict[str, float] = field(default_factory=dict)
    failed: dict[str, dict[bytes, T]] = field(default_factory=dict)

    def spent(self, node: str) -> bool:
        started = self.first_failure.get(node)
        return self.seconds is not None and started is not None and self.clock() - started > self.seconds

    def admit(self, node: str, key: bytes) -> tuple[bool, T | None]:
        """(check the case?, the failure it gave before if it is to fail again unchecked)."""
        if not self.spent(node):
            return True, None
        before = self.failed.get(node, {}).get(key)
        return False, before

    def record_failure(self, node: str, key: bytes, failure: T) -> None:
        self.first_failure.setdefault(node, self.clock())
        self.failed.setdefault(node, {})[key] = failure
