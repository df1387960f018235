"""Which worker answers a case: the one that already compiled its policies (reference.batch splits a batch
of case lines between worker processes with this).

Generated batches bring a policy back a few hundred cases later.  Sent in turn to two workers, a case lands
where its policy was compiled about half the time, and the other worker compiles it again: 16,500
compilations instead of 12,300 in one process on 10,000 cases of ``iamconf generate --seed 5``; routed
here, 14,200.  The answers do not depend on the route (tests/test_batch.py), only the work does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from reference.caseio import policy_keys

Numbered = list[tuple[int, bytes]]  # lines of the input with their numbers


class Router:
    """Chooses the worker for each case: the one that already compiled most of its policy text (by bytes),
    unless that worker is ``slack`` lines ahead of the least loaded one (then the least loaded).  Where each
    policy went is remembered for the last ``remember`` policies (the workers' caches hold fewer)."""

    def __init__(self, workers: int, slack: int = 16, remember: int = 100_000) -> None:
        self._load = [0] * workers
        self._slack = slack
        self._remember = remember
        self._owner: dict[bytes, int] = {}

    def worker_for(self, line: bytes) -> int:
        load = self._load
        least = load.index(min(load))
        keys = policy_keys(line)
        score = [0] * len(load)
        for key in keys:
            owner = self._owner.get(key)
            if owner is not None:
                score[owner] += len(key)
        best = score.index(max(score))
        chosen = best if score[best] > 0 and load[best] - load[least] <= self._slack else least
        load[chosen] += 1
        if len(self._owner) > self._remember:
            self._owner.clear()
        for key in keys:
            self._owner.setdefault(key, chosen)
        return chosen


def rounds(lines: Iterable[bytes], workers: int, round_lines: int, round_bytes: int) -> Iterator[list[Numbered]]:
    """The input in rounds of consecutive lines (``round_lines``, or fewer once they hold ``round_bytes``),
    each round split between the workers by a ``Router``.  Blank lines are not sent (they have no answer);
    every line keeps its number in the input."""
    router = Router(workers)
    parts: list[Numbered] = [[] for _ in range(workers)]
    taken = size = 0
    for number, line in enumerate(lines, start=1):
        taken += 1
        if line.strip():
            parts[router.worker_for(line)].append((number, line))
            size += len(line)
        if taken >= round_lines or size >= round_bytes:
            yield parts
            parts = [[] for _ in range(workers)]
            taken = size = 0
    if taken:
        yield parts
