"""IAM wildcard patterns as z3 regular expressions, rule for rule beside ``reference.patterns``.

- ``glob``: ``*`` any run of characters, ``?`` any one (Action, StringLike family;
  reference_policies_elements_condition_operators.html#Conditions_String).
- ``resource``: Resource/NotResource; a ``*`` that ends an ARN segment matches beyond colons, every other
  wildcard stays inside its segment (reference_policies_elements_resource.html, "wildcards").
- ``arn``: the ARN condition operators, part by part (operators#Conditions_ARN; the reference's choice for
  values with fewer than six parts is in ``reference.conditions._arn_source``).

Characters that come from ``${*}``-style escapes are literal (``reference.variables.Escaped``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TypeAlias

import z3

from reference.variables import Literal, Rendered

RE = z3.ReSort(z3.StringSort())

# The string domain of the encoding: printable ASCII without the backslash (z3 prints other characters as
# escapes).  Sound for finding a witness: a decision depends on a character only through equality with
# pattern text, ':' and case folding, so any witness has a counterpart within this alphabet.
CHAR = z3.Union(z3.Range(" ", "["), z3.Range("]", "~"))
NOT_COLON = z3.Union(z3.Range(" ", "9"), z3.Range(";", "["), z3.Range("]", "~"))
ANY = z3.Star(CHAR)
IN_SEGMENT = z3.Star(NOT_COLON)


def _pieces(pattern: Rendered | str) -> list[tuple[str, bool]]:
    if isinstance(pattern, str):
        return [(c, True) for c in pattern]
    return [(c, isinstance(seg, Literal)) for seg in pattern for c in seg.text]


def _concat(parts: Iterable[z3.ReRef]) -> z3.ReRef:
    items = list(parts)
    if not items:
        return z3.Re(z3.StringVal(""))
    return items[0] if len(items) == 1 else z3.Concat(*items)


def _char(c: str, ignore_case: bool) -> z3.ReRef:
    if not ignore_case:
        return z3.Re(z3.StringVal(c))
    # str.lower on both sides, as the reference compares (operators#Conditions_String, IgnoreCase).
    same = sorted({x for x in (c, c.lower(), c.upper(), c.swapcase()) if len(x) == 1 and x.lower() == c.lower()})
    return z3.Union(*[z3.Re(z3.StringVal(x)) for x in same]) if len(same) > 1 else z3.Re(z3.StringVal(same[0]))


@functools.lru_cache(maxsize=16384)
def glob(pattern: Rendered | str, ignore_case: bool = False) -> z3.ReRef:
    out: list[z3.ReRef] = []
    for c, wild in _pieces(pattern):
        if wild and c == "*":
            out.append(ANY)
        elif wild and c == "?":
            out.append(CHAR)
        else:
            out.append(_char(c, ignore_case))
    return _concat(out)


def literal(text: str, ignore_case: bool = False) -> z3.ReRef:
    return _concat(_char(c, ignore_case) for c in text)


@functools.lru_cache(maxsize=16384)
def resource(pattern: Rendered | str) -> z3.ReRef:
    chars = _pieces(pattern)
    out: list[z3.ReRef] = []
    for i, (c, wild) in enumerate(chars):
        if wild and c == "*":
            at_segment_end = i + 1 == len(chars) or chars[i + 1][0] == ":"
            out.append(ANY if at_segment_end else IN_SEGMENT)
        elif wild and c == "?":
            out.append(NOT_COLON)
        else:
            out.append(_char(c, False))
    return _concat(out)


_SIX_PARTS = z3.Concat(*([z3.Concat(IN_SEGMENT, z3.Re(z3.StringVal(":")))] * 5), ANY)


@functools.lru_cache(maxsize=16384)
def arn(pattern: Rendered | str) -> z3.ReRef:
    chars = _pieces(pattern)
    if sum(1 for c, _ in chars if c == ":") < 5:
        return z3.Intersect(_SIX_PARTS, glob(pattern))
    out: list[z3.ReRef] = []
    part = 0
    for c, wild in chars:
        if c == ":" and part < 5:
            out.append(z3.Re(z3.StringVal(":")))
            part += 1
        elif wild and c == "*":
            out.append(ANY if part == 5 else IN_SEGMENT)
        elif wild and c == "?":
            out.append(CHAR if part == 5 else NOT_COLON)
        else:
            out.append(_char(c, False))
    return _concat(out)


# A pattern with policy variables: characters (with whether they may be wildcards) and the symbolic value
# of each variable, in order (reference_policies_variables.html: the value is substituted before matching,
# and characters of a substituted value are literal).
Atom: TypeAlias = tuple[str, bool] | z3.SeqRef


class WildcardBeforeVariable(Exception):
    """A ``*`` right before a variable: whether it ends an ARN segment depends on the value."""


def with_values(atoms: list[Atom], rule: str) -> z3.ReRef:
    """``rule`` is ``glob`` or ``resource``; each variable value is matched literally."""
    out: list[z3.ReRef] = []
    for i, atom in enumerate(atoms):
        if not isinstance(atom, tuple):
            out.append(z3.Re(atom))
            continue
        c, wild = atom
        if wild and c == "*":
            if rule == "glob":
                out.append(ANY)
                continue
            following = atoms[i + 1] if i + 1 < len(atoms) else None
            if following is not None and not isinstance(following, tuple):
                raise WildcardBeforeVariable(c)
            out.append(ANY if following is None or following[0] == ":" else IN_SEGMENT)
        elif wild and c == "?":
            out.append(CHAR if rule == "glob" else NOT_COLON)
        else:
            out.append(_char(c, False))
    return _concat(out)
