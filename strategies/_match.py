"""Wildcard matching without compiling a regular expression.

The generators check many patterns that they have just made and will not see
again, where compiling a regex (100-200 microseconds) costs far more than one
match.  The rules are those of ``reference.patterns`` and
``reference.conditions``; ``tests/test_strategies.py`` checks them against the
reference's own regexes.
"""

from __future__ import annotations

from collections.abc import Sequence

Pieces = Sequence[tuple[str, bool]]
"""Pattern text in pieces: ``(text, wild)``; ``*``/``?`` in a piece with ``wild`` False are literal."""


def _tokens(pieces: Pieces) -> list[tuple[str, bool]]:
    return [(ch, wild) for text, wild in pieces for ch in text]


def glob_tokens(tokens: Sequence[tuple[str, bool]], text: str) -> bool:
    """``*`` any run of characters, ``?`` one, over the whole text (greedy with backtracking to the last star)."""
    p = t = 0
    star = -1
    mark = 0
    n = len(tokens)
    while t < len(text):
        if p < n and (
            (tokens[p][1] and tokens[p][0] == "?")
            or (tokens[p][0] == text[t] and not (tokens[p][1] and tokens[p][0] == "*"))
        ):
            p += 1
            t += 1
        elif p < n and tokens[p][1] and tokens[p][0] == "*":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < n and tokens[p][1] and tokens[p][0] == "*":
        p += 1
    return p == n


def glob_match(pattern: str | Pieces, text: str, *, ignore_case: bool = False) -> bool:
    """The ``glob`` rule (Action, StringLike)."""
    tokens = [(ch, True) for ch in pattern] if isinstance(pattern, str) else _tokens(pattern)
    if ignore_case:
        tokens = [(ch.lower(), wild) for ch, wild in tokens]
        text = text.lower()
    return glob_tokens(tokens, text)


def arn_match(pattern: str | Pieces, value: str) -> bool:
    """The ArnLike rule: six colon-separated fields matched one by one (the last takes the rest);
    a pattern with fewer than six fields is matched whole, but the value must have six."""
    tokens = [(ch, True) for ch in pattern] if isinstance(pattern, str) else _tokens(pattern)
    if value.count(":") < 5:
        return False
    if sum(1 for ch, _ in tokens if ch == ":") < 5:
        return glob_tokens(tokens, value)
    fields: list[list[tuple[str, bool]]] = [[]]
    for ch, wild in tokens:
        if ch == ":" and len(fields) < 6:
            fields.append([])
        else:
            fields[-1].append((ch, wild))
    parts = value.split(":", 5)
    return all(glob_tokens(f, v) for f, v in zip(fields, parts, strict=True))


def resource_match(pattern: str | Pieces, text: str) -> bool:
    """The Resource rule: ``?`` and a ``*`` inside a segment stay within it; a ``*`` that ends a
    segment (before a ``:`` or at the end) may run past colons."""
    tokens = [(ch, True) for ch in pattern] if isinstance(pattern, str) else _tokens(pattern)
    n = len(tokens)
    kinds: list[int] = []  # 0 literal, 1 '?', 2 star within the segment, 3 star across segments
    for i, (ch, wild) in enumerate(tokens):
        if wild and ch == "*":
            kinds.append(3 if i + 1 == n or tokens[i + 1][0] == ":" else 2)
        elif wild and ch == "?":
            kinds.append(1)
        else:
            kinds.append(0)
    size = len(text)
    failed: set[tuple[int, int]] = set()

    def match(p: int, t: int) -> bool:
        while p < n:
            kind = kinds[p]
            if kind >= 2:
                if (p, t) in failed:
                    return False
                for k in range(t, size + 1):
                    if match(p + 1, k):
                        return True
                    if k < size and kind == 2 and text[k] == ":":
                        break
                failed.add((p, t))
                return False
            if t >= size:
                return False
            if kind == 1:
                if text[t] == ":":
                    return False
            elif tokens[p][0] != text[t]:
                return False
            p += 1
            t += 1
        return t == size

    return match(0, 0)
