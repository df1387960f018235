"""Where a JSON text nests too deeply to be read.

Python's JSON readers (``json``, ``msgspec``, ``json-source-map``, ``jsonschema``) recurse once per level
and end in ``RecursionError`` on a text of thousands of nested arrays, at a depth that depends on how deep
the caller's stack already is: the compiled build (setup.py) and the Python source reached different
depths, and answered the same line differently (tests/test_installed.py found it).  No IAM policy or case
comes near that depth (a case with a conditioned policy nests about a dozen levels), so a text nested
deeper than ``MAX_DEPTH`` is refused as malformed JSON, located at the first bracket past it, before any
reader sees it (``too_deep``); ``RecursionError`` is only a fallback.
"""

from __future__ import annotations

from typing import Final

MAX_DEPTH: Final = 200


def too_deep(text: str | bytes, max_depth: int = MAX_DEPTH) -> tuple[int, int] | None:
    """``too_deep_at``, where a text with no more than ``max_depth`` brackets in all (every line and policy
    of a batch, in practice) is known not to be too deep after two counts in C, without a scan."""
    if isinstance(text, bytes):
        if text.count(b"[") + text.count(b"{") <= max_depth:
            return None
        return too_deep_at(text.decode("utf-8", "replace"), max_depth)
    if text.count("[") + text.count("{") <= max_depth:
        return None
    return too_deep_at(text, max_depth)


def too_deep_at(text: str, max_depth: int = MAX_DEPTH) -> tuple[int, int] | None:
    """1-based (line, column) of the first ``[`` or ``{`` that opens level ``max_depth + 1``, outside strings."""
    depth = 0
    in_string = escaped = False
    line, line_start = 1, 0
    for offset, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > max_depth:
                return line, offset - line_start + 1
        elif c in "]}":
            depth -= 1
        if c == "\n":
            line, line_start = line + 1, offset + 1
    return None


def too_deep_message(max_depth: int = MAX_DEPTH) -> str:
    return f"malformed JSON: nested more than {max_depth} levels deep"
