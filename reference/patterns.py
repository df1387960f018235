"""Wildcard patterns compiled to regular expressions, once per pattern.

Three matching rules, each from its page of the IAM User Guide:

- ``glob``: ``*`` is any run of characters, ``?`` any one character, across
  the whole string.  Action/NotAction (case-insensitive,
  reference_policies_elements_action.html) and the ``StringLike`` family
  (reference_policies_elements_condition_operators.html#Conditions_String).
- ``resource``: the Resource/NotResource rule
  (reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards):
  "You can use wildcard characters (* and ?) within the individual segments of
  an ARN (the parts separated by colons) ... If the * wildcard is the last
  character of a resource ARN segment, it can expand to match beyond the colon
  boundaries."  So a ``*`` followed by ``:`` or by the end of the pattern
  matches anything, colons included; any other ``*`` and every ``?`` stay
  inside their segment.  Case-sensitive.
- ARN condition operators split both sides into the six ARN parts first and
  use ``glob`` on each part (``reference.conditions``).

Wildcards only have meaning in text the policy author wrote; characters that
come from ``${*}``-style escapes or from a substituted variable value are
literal (``reference.variables.Escaped``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Final

from reference.variables import Escaped, Literal, Rendered

Pattern = re.Pattern[str]

# Matches of a pattern by string search or by the automaton (``nfa_match``) before its regular expression is
# compiled: compiling costs more than a fresh policy's few matches; for a policy that serves many requests,
# the expression matches faster.
WARM = 64


def _pieces(rendered: Rendered | str) -> Iterable[tuple[str, bool]]:
    """(character, is_wildcard_capable) pairs."""
    if isinstance(rendered, str):
        for c in rendered:
            yield c, True
        return
    for seg in rendered:
        wild = isinstance(seg, Literal)
        for c in seg.text:
            yield c, wild


@functools.lru_cache(maxsize=65536)
def glob(pattern: Rendered | str, *, ignore_case: bool = False) -> Pattern:
    return re.compile(glob_source(pattern), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_source(pattern: Rendered | str) -> str:
    """The regular expression ``glob`` compiles (for callers that join several into one)."""
    out = []
    for c, wild in _pieces(pattern):
        if wild and c == "*":
            out.append(".*")
        elif wild and c == "?":
            out.append(".")
        else:
            out.append(re.escape(c))
    return "".join(out)


@functools.lru_cache(maxsize=65536)
def resource(pattern: Rendered | str) -> Pattern:
    chars = list(_pieces(pattern))
    out = []
    for i, (c, wild) in enumerate(chars):
        if wild and c == "*":
            at_segment_end = i + 1 == len(chars) or chars[i + 1][0] == ":"
            out.append(".*" if at_segment_end else "[^:]*")
        elif wild and c == "?":
            out.append("[^:]")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


Token = tuple[str, str, bool]


@functools.lru_cache(maxsize=65536)
def _tokens(pattern: Rendered | str, segmented: bool) -> tuple[Token, ...]:
    """(kind, character, free) per pattern character: kind "lit", "one" (``?``) or "any" (``*``); ``free``:
    the wildcard may match ":" (glob: always; resource: a segment-final ``*`` only, as ``resource``
    reads it).  A ``*`` or ``?`` that is literal in a rendered pattern is a "lit"."""
    chars = list(_pieces(pattern))
    out = []
    for i, (c, wild) in enumerate(chars):
        if wild and c == "*":
            out.append(("any", c, not segmented or i + 1 == len(chars) or chars[i + 1][0] == ":"))
        elif wild and c == "?":
            out.append(("one", c, not segmented))
        else:
            out.append(("lit", c, False))
    return tuple(out)


@functools.lru_cache(maxsize=65536)
def _literal_ends(pattern: str) -> tuple[str, str, bool]:
    """(text before the first wildcard, text after the last one, whether there is a "*")."""
    wild = [i for i, c in enumerate(pattern) if c in "*?"]
    if not wild:
        return pattern, "", False
    return pattern[: wild[0]], pattern[wild[-1] + 1 :], "*" in pattern


def nfa_match(pattern: str, text: str, *, segmented: bool) -> bool:
    """``pattern`` (a plain string, every ``*``/``?`` a wildcard) against the whole of ``text`` without a
    regular expression: the same answer as ``resource(pattern)`` (``segmented``) or ``glob(pattern)``
    (otherwise) would give, by running the pattern as a small automaton.  Compiling an expression costs
    far more than matching a fresh policy's pattern a few times."""
    prefix, suffix, stars = _literal_ends(pattern)
    # Cheap refusals first: the literal text before the first wildcard and after the last one must be
    # there, and a pattern without "*" matches text of its own length only.
    if (
        len(text) < len(prefix) + len(suffix)
        or not text.startswith(prefix)
        or not text.endswith(suffix)
        or (not stars and len(text) != len(pattern))
    ):
        return False
    if len(prefix) == len(pattern):  # no wildcard at all, and the text starts with it and is as long
        return True
    if not stars:  # "?" only: one character each, ":" excepted in an ARN segment
        for p, c in zip(pattern, text, strict=True):  # noqa: SIM110 - a plain loop: this runs per request
            if p != c and (p != "?" or (segmented and c == ":")):
                return False
        return True
    return _automaton(pattern, segmented).matches(text)


def rendered_match(rendered: Rendered, text: str, *, segmented: bool) -> bool:
    """``rendered`` against the whole of ``text``, as ``resource(rendered)`` (``segmented``) or
    ``glob(rendered)`` would match, without a regular expression: ``nfa_match`` when every ``*`` and ``?``
    in it is a wildcard, else the automaton with the literal ones as characters (from ``${*}``, ``${?}``
    or a substituted value)."""
    plain = as_plain_pattern(rendered)
    if plain is not None:
        return nfa_match(plain, text, segmented=segmented)
    return _automaton(rendered, segmented).matches(text)


class _Automaton:
    """The automaton of a pattern's tokens, run as bits of one integer (the shift-and way): bit ``i`` set
    means the first ``i`` tokens have matched the text read so far.  A character moves every state before
    a token that reads it one bit up (a "lit" of that character, a "one" that may read it), keeps every
    state before an "any" that may read it, and each "any" may also be passed without reading anything.
    A few integer operations a character, where a set of states cost a set and a loop over it."""

    def __init__(self, tokens: tuple[Token, ...]) -> None:
        lits: dict[str, int] = {}
        ones = free_ones = anys = free_anys = 0
        for i, (kind, ch, free) in enumerate(tokens):
            bit = 1 << i
            if kind == "lit":
                lits[ch] = lits.get(ch, 0) | bit
            elif kind == "one":
                ones |= bit
                if free:
                    free_ones |= bit
            else:
                anys |= bit
                if free:
                    free_anys |= bit
        self._lits: Final = lits
        self._ones: Final = ones  # "?" reads any character but ":" (every one of them, when free)
        self._anys: Final = anys
        self._on_colon: Final = lits.get(":", 0) | free_ones  # who moves up on ":"
        self._free_anys: Final = free_anys  # who stays on ":"
        self._accept: Final = 1 << len(tokens)

    def _passed(self, states: int) -> int:
        """``states`` with every "any" after a state passed (reading nothing), runs of them too."""
        anys = self._anys
        while states & anys:
            more = states | ((states & anys) << 1)
            if more == states:
                break
            states = more
        return states

    def matches(self, text: str) -> bool:
        states = self._passed(1)
        for c in text:
            if c == ":":
                states = ((states & self._on_colon) << 1) | (states & self._free_anys)
            else:
                states = ((states & (self._lits.get(c, 0) | self._ones)) << 1) | (states & self._anys)
            if not states:
                return False
            states = self._passed(states)
        return bool(states & self._accept)


@functools.lru_cache(maxsize=65536)
def _automaton(pattern: Rendered | str, segmented: bool) -> _Automaton:
    return _Automaton(_tokens(pattern, segmented))


def forget_patterns(*, automata: bool = True) -> None:
    """Empty the caches of compiled patterns (and the ``re`` module's own); ``automata=False`` keeps the
    automata and the literal ends of patterns (a batch's aging: they are small, and a generated batch
    brings each Resource pattern back in policy after policy)."""
    for cached in (glob, resource, _tokens, _automaton, _literal_ends) if automata else (glob, resource):
        cached.cache_clear()
    re.purge()


def as_plain_pattern(rendered: Rendered) -> str | None:
    """The rendered pattern as plain text (for ``nfa_match``, where every ``*`` and ``?`` is a wildcard), or
    None when a ``*`` or ``?`` in it is literal (from ``${*}``, ``${?}`` or a substituted value): only the
    expressions built from the rendered pattern tell those apart."""
    if any(isinstance(seg, Escaped) and ("*" in seg.text or "?" in seg.text) for seg in rendered):
        return None
    return "".join(seg.text for seg in rendered)


def has_wildcard(pattern: Rendered | str) -> bool:
    return any(wild and c in "*?" for c, wild in _pieces(pattern))


def literal(text: str) -> Rendered:
    return (Escaped(text),)


__all__ = [
    "WARM",
    "Escaped",
    "Literal",
    "Pattern",
    "as_plain_pattern",
    "forget_patterns",
    "glob",
    "glob_source",
    "has_wildcard",
    "literal",
    "nfa_match",
    "rendered_match",
    "resource",
]
