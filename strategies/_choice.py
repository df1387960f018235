"""One generator, two sources of choices: Hypothesis draws or a seeded ``random.Random``.

Every generator in this package is a plain function ``gen_x(c: Chooser, ...)``
that makes its choices through ``c``.  The public strategies run it with a
:class:`DrawChooser` inside ``@st.composite`` (so Hypothesis records, replays and
shrinks every choice, and ``@example`` works as usual); ``strategies.generate``
runs the very same functions with a :class:`RandomChooser` over
``random.Random(seed)``.

Why two sources: a whole case takes a few hundred choices, and a Hypothesis draw
costs 15-30 microseconds (measured on this machine with hypothesis 6.170, both
through ``@given`` and through its internal ``ConjectureData``), so bulk
generation through Hypothesis tops out at a few hundred cases a second -- the
generator must give 2,000.  A ``random.Random`` choice costs well under a
microsecond and is reproducible from the seed alone, with no private
Hypothesis API involved.

Shrinking: Hypothesis prefers fewer choices first, then smaller ones.  So a
strategy shrinks towards the value that needs the fewest choices (fewest
statements, requests, keys, wildcards ...), and then every choice towards its
first option -- ``integer(lo, hi)`` towards ``lo``, ``pick(seq)`` towards
``seq[0]``, ``chance(p)`` towards ``False`` (the rarer branch left out),
``weighted`` towards its first entry, ``text`` towards the shortest string of
the alphabet's first character.  The tables the generators pick from are
ordered so that the first entry is the plainest one.
"""

from __future__ import annotations

import abc
import functools
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import DrawFn, SearchStrategy

T = TypeVar("T")


class Chooser(abc.ABC):
    """The choices a generator may make."""

    __slots__ = ()

    @abc.abstractmethod
    def integer(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``; shrinks towards ``lo``."""

    @abc.abstractmethod
    def text(self, alphabet: str, lo: int, hi: int) -> str:
        """A string of ``lo``..``hi`` characters of ``alphabet``."""

    @abc.abstractmethod
    def chance(self, p: float) -> bool:
        """True with probability about ``p``; shrinks towards False."""

    def pick(self, seq: Sequence[T]) -> T:
        """One element; shrinks towards the first."""
        return seq[self.integer(0, len(seq) - 1)] if len(seq) > 1 else seq[0]

    def weighted(self, table: Sequence[tuple[int, T]]) -> T:
        """One value of ``(weight, value)`` pairs; shrinks towards the first."""
        total = 0
        for w, _ in table:
            total += w
        x = self.integer(0, total - 1)
        for w, v in table:
            if x < w:
                return v
            x -= w
        return table[-1][1]  # pragma: no cover - x < total

    def sample(self, seq: Sequence[T], lo: int, hi: int) -> list[T]:
        """``lo``..``hi`` distinct elements (by position), in the order drawn."""
        n = self.integer(lo, min(hi, len(seq)))
        pool = list(seq)
        out: list[T] = []
        for _ in range(n):
            out.append(pool.pop(self.integer(0, len(pool) - 1)))
        return out


class RandomChooser(Chooser):
    """Choices from a ``random.Random``: fast and reproducible from its seed."""

    __slots__ = ("_choices", "_random", "rnd")

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self._random = rnd.random
        self._choices = rnd.choices

    def integer(self, lo: int, hi: int) -> int:
        return lo + int(self._random() * (hi - lo + 1))

    def chance(self, p: float) -> bool:
        return self._random() < p

    def pick(self, seq: Sequence[T]) -> T:
        return seq[int(self._random() * len(seq))]

    def weighted(self, table: Sequence[tuple[int, T]]) -> T:
        total = 0
        for w, _ in table:
            total += w
        x = self._random() * total
        for w, v in table:
            if x < w:
                return v
            x -= w
        return table[-1][1]

    def text(self, alphabet: str, lo: int, hi: int) -> str:
        n = lo + int(self._random() * (hi - lo + 1))
        return "".join(self._choices(alphabet, k=n))


@functools.lru_cache(maxsize=4096)
def _integers(lo: int, hi: int) -> SearchStrategy[int]:
    return st.integers(lo, hi)


@functools.lru_cache(maxsize=1024)
def _texts(alphabet: str, lo: int, hi: int) -> SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=lo, max_size=hi)


_PERMILLE = st.integers(0, 999)


class DrawChooser(Chooser):
    """Choices drawn by Hypothesis inside ``@st.composite``."""

    __slots__ = ("_draw",)

    def __init__(self, draw: DrawFn) -> None:
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        if lo == hi:
            return lo
        return self._draw(_integers(lo, hi))

    def chance(self, p: float) -> bool:
        if p <= 0:
            return False
        if p >= 1:
            return True
        # 0 (the shrink target) means False.
        return self._draw(_PERMILLE) >= 1000 - round(p * 1000)

    def text(self, alphabet: str, lo: int, hi: int) -> str:
        return self._draw(_texts(alphabet, lo, hi))


def from_generator(name: str, gen: Callable[..., T], /, **kwargs: Any) -> SearchStrategy[T]:
    """A strategy that runs ``gen(chooser, **kwargs)`` with Hypothesis's draws.

    The strategy's repr (what a failing example's report shows) is ``name(**kwargs)``.
    """

    def strategy(draw: DrawFn, /, **kw: Any) -> T:
        return gen(DrawChooser(draw), **kw)

    strategy.__name__ = strategy.__qualname__ = name
    return st.composite(strategy)(**kwargs)


# --------------------------------------------------------------------------- argument checks


def check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}={value!r} must be an int")
    if value < lo or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise InvalidArgument(f"{name}={value!r} must be {bounds}")
    return value


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True or False")
    return value


def check_str(name: str, value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        raise InvalidArgument(f"{name}={value!r} must be a non-empty string")
    return value


def check_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgument(f"{name}={value!r} must be one of {', '.join(map(repr, allowed))}")
    return value


def check_subset(name: str, value: object, allowed: Sequence[str]) -> tuple[str, ...]:
    """A non-empty collection of strings from ``allowed`` (a bare string is refused), kept in ``allowed`` order."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)) or not value:
        raise InvalidArgument(f"{name}={value!r} must be a non-empty collection of strings")
    chosen = set()
    for v in value:
        if not isinstance(v, str) or v not in allowed:
            raise InvalidArgument(f"{name}: {v!r} is not one of {', '.join(map(repr, allowed))}")
        chosen.add(v)
    return tuple(a for a in allowed if a in chosen)
