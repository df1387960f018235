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

from reference.variables import Escaped, Literal, Rendered

Pattern = re.Pattern[str]

# Matches of a pattern by string search or by the automaton (``nfa_match``) before its regular expression is
# compiled: compiling costs more than a fresh policy's few matches; for a policy that serves many requests,
# the expression matches faster.
WARM = 16


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
    return _run(_tokens(pattern, segmented), text)


def rendered_match(rendered: Rendered, text: str, *, segmented: bool) -> bool:
    """``rendered`` against the whole of ``text``, as ``resource(rendered)`` (``segmented``) or
    ``glob(rendered)`` would match, without a regular expression: ``nfa_match`` when every ``*`` and ``?``
    in it is a wildcard, else the automaton with the literal ones as characters (from ``${*}``, ``${?}``
    or a substituted value)."""
    plain = as_plain_pattern(rendered)
    if plain is not None:
        return nfa_match(plain, text, segmented=segmented)
    return _run(_tokens(rendered, segmented), text)


def _run(tokens: tuple[Token, ...], text: str) -> bool:
    """The automaton of ``tokens`` (a state per token) over ``text``: whether it ends past the last token."""
    n = len(tokens)

    def close(states: set[int]) -> set[int]:
        stack = list(states)
        while stack:
            i = stack.pop()
            if i < n and tokens[i][0] == "any" and i + 1 not in states:
                states.add(i + 1)
                stack.append(i + 1)
        return states

    states = close({0})
    for c in text:
        following: set[int] = set()
        for i in states:
            if i == n:
                continue
            kind, ch, free = tokens[i]
            if kind == "lit":
                if ch == c:
                    following.add(i + 1)
            elif free or c != ":":
                following.add(i + 1 if kind == "one" else i)
        if not following:
            return False
        states = close(following)
    return n in states


def forget_patterns() -> None:
    """Empty the caches of compiled patterns (and the ``re`` module's own)."""
    for cached in (glob, resource, _tokens, _literal_ends):
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
