"""A function's answers kept for the values it was asked about: ``Memo``."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Memo(Generic[K, T]):
    """``answer`` of a value, computed once and kept; emptied whole when it holds ``limit`` answers.

    For what fresh policies ask again and again: the grammar checks of single Action and Resource values
    (tens of thousands of times in a batch of generated cases) and a clause's renderings of its policy
    variables (once per distinct set of the variables' values).  ``functools.lru_cache`` did the same through
    Python's call protocol, built a key and kept its entries in recency order at every call: a third of the
    cost of a check that hits (measured on generated cases); made per clause, it ran
    ``functools.update_wrapper`` in Python.  Here, compiled, a hit is one dictionary lookup."""

    def __init__(self, answer: Callable[[K], T], limit: int) -> None:
        self._answer: Final = answer
        self._limit: Final = limit
        self._kept: dict[K, T] = {}

    def __call__(self, value: K) -> T:
        return self.get(value)

    def get(self, value: K) -> T:
        kept = self._kept
        if value in kept:
            return kept[value]
        found = self._answer(value)
        if len(kept) >= self._limit:
            kept.clear()
        kept[value] = found
        return found

    def __len__(self) -> int:
        """How many answers are kept."""
        return len(self._kept)

    def clear(self) -> None:
        self._kept.clear()
