"""A function's answers kept for the strings it was asked about: ``Memo``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Generic, TypeVar

T = TypeVar("T")


class Memo(Generic[T]):
    """``answer`` of a string, computed once and kept; emptied whole when it holds ``limit`` answers.

    For the grammar checks of single Action and Resource values, asked once for every value of every new
    policy (tens of thousands of times in a batch of generated cases).  ``functools.lru_cache`` did the same
    through Python's call protocol, built a key and kept its entries in recency order at every call: a
    third of the cost of a check that hits (measured on generated cases); here, compiled, a hit is one
    dictionary lookup."""

    def __init__(self, answer: Callable[[str], T], limit: int) -> None:
        self._answer: Final = answer
        self._limit: Final = limit
        self._kept: dict[str, T] = {}

    def __call__(self, value: str) -> T:
        return self.get(value)

    def get(self, value: str) -> T:
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
