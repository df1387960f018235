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
    out = []
    for c, wild in _pieces(pattern):
        if wild and c == "*":
            out.append(".*")
        elif wild and c == "?":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


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


def has_wildcard(pattern: Rendered | str) -> bool:
    return any(wild and c in "*?" for c, wild in _pieces(pattern))


def literal(text: str) -> Rendered:
    return (Escaped(text),)


__all__ = ["Escaped", "Literal", "Pattern", "glob", "has_wildcard", "literal", "resource"]
