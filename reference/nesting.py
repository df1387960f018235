"""Where a JSON text nests too deeply to be read.

Python's JSON readers (``json``, ``msgspec``, ``json-source-map``, ``jsonschema``) recurse once per level
and end in ``RecursionError`` on a text of thousands of nested arrays, at a depth that depends on how deep
the caller's stack already is: the compiled build (setup.py) and the Python source reached different
depths, and answered the same line differently (tests/test_installed.py found it).  No IAM policy or case
comes near that depth (a case with a conditioned policy nests about a dozen levels), so a text nested
deeper than ``MAX_DEPTH`` is refused as malformed JSON, located at the first bracket past it, before any
reader recurses into it (``too_deep``): a policy text before it is parsed; a case line's policy documents
once msgspec has decoded the line's typed fields, which nest at most six levels (reference.caseio); a line
that is refused, before its error is explained.  ``RecursionError`` is only a fallback.
"""

from __future__ import annotations

from typing import Final

MAX_DEPTH: Final = 200


def too_deep(text: str | bytes, max_depth: int = MAX_DEPTH) -> tuple[int, int] | None:
    """``too_deep_at``, where a text with no more than ``max_depth`` brackets in all (every generated line
    and policy, in practice) is known not to be too deep after two counts in C, and any other text (a case
    line of a hundred requests has thousands of brackets) after ``nests_deeper_than`` reads its structure;
    only a text that reading finds too deep is scanned character by character, to locate the bracket."""
    if isinstance(text, bytes):
        data = text
        if len(data) < _LONG and data.count(b"[") + data.count(b"{") <= max_depth:
            return None
    else:
        if text.count("[") + text.count("{") <= max_depth:
            return None
        data = text.encode("utf-8", "surrogatepass")
    if not nests_deeper_than(data, max_depth):
        return None
    return too_deep_at(text if isinstance(text, str) else text.decode("utf-8", "replace"), max_depth)


_LONG: Final = 8192  # bytes from which counting the brackets costs more than reading the structure


def nests_deeper_than(data: bytes, max_depth: int) -> bool:
    """Whether the UTF-8 bytes of a text nest deeper than ``max_depth``, read as ``too_deep_at`` reads them,
    in C but for one step per quote and bracket (50x faster than ``too_deep_at`` on a case line of a hundred
    requests).  Escape pairs (``\\\\`` and ``\\"``) are deleted first, then everything but quotes and brackets:
    every quote left opens or closes a string.

    The two readings are the same on JSON text.  They may differ only after a backslash outside any string,
    which no JSON reader passes: the readers stop there, at a depth both readings agree on."""
    if b"\\" in data:
        if b"\\\\" in data:
            data = data.replace(b"\\\\", b"")
        data = data.replace(b'\\"', b"")
    structure = data.translate(None, _NOT_QUOTE_OR_BRACKET)
    if len(structure) - structure.count(b'"') <= max_depth:  # no more brackets than that in all
        return False
    depth = 0
    in_string = False
    for i in range(len(structure)):  # by index: compiled, 5x faster than iterating over the bytes
        c = structure[i]
        if c == 34:  # '"'
            in_string = not in_string
        elif in_string:
            continue
        elif c == 91 or c == 123:  # "[" or "{"
            depth += 1
            if depth > max_depth:
                return True
        else:  # "]" or "}"
            depth -= 1
    return False


_NOT_QUOTE_OR_BRACKET: Final = bytes(b for b in range(256) if b not in b'"[]{}')


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
