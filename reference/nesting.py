"""Where a JSON text nests too deeply to be read.

Python's JSON readers (``json``, ``msgspec`` without a target type,
``json-source-map``) recurse once per level and end in ``RecursionError`` on a
text of thousands of nested arrays.  No IAM policy or case comes near that
depth (a case with a conditioned policy nests about a dozen levels), so such a
text is refused as malformed JSON, located at the first bracket past
``MAX_DEPTH``.  Only called after a reader has failed: it costs nothing on the
hot path.
"""

from __future__ import annotations

from typing import Final

MAX_DEPTH: Final = 200


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
