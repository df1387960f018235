"""Policy text -> JSON value plus the position of every element.

The JSON is read by the standard library (strict, with duplicate keys
refused).  Positions are computed only when asked for: the spans of the
statements (what matched statements report) by ``_statement_spans``, which
steps over values with the standard library's scanner, and every other
position (errors) by
``json-source-map``, which maps each JSON pointer to the start and end of its
key and value but walks the text one character at a time in Python, too slow
for every fresh policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, cast

import msgspec

from reference.errors import PolicyError
from reference.model import JsonNumber, Position
from reference.nesting import MAX_DEPTH, too_deep, too_deep_at, too_deep_message

# IAM API limits for a policy document (the PolicyDocument parameter of
# CreatePolicy / SimulateCustomPolicy: length 1-131072, pattern
# [\u0009\u000A\u000D\u0020-\u00FF]+).
MAX_POLICY_CHARS: Final = 131_072


_NOT_ALLOWED: Final = re.compile("[^\t\n\r\u0020-\u00ff]")
_ALLOWED_BYTES: Final = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x100)])


def _only_allowed(text: str) -> bool:
    """No character outside ``_NOT_ALLOWED``'s set, tested in C: a text in U+0000-U+00FF is its Latin-1
    bytes, and deleting the allowed bytes leaves nothing (5x faster than the search on policy text)."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not raw.translate(None, _ALLOWED_BYTES)


def _tokens_allowed(tokens: str) -> bool:
    """``_only_allowed`` of a text's JSON tokens as msgspec's formatter writes them (``parse_document``): they
    hold no character below U+0020 (the formatter leaves out the white space between tokens and refuses such
    a character in a string, escaped or not), so an ASCII text of tokens (known in O(1)) holds only allowed
    characters; any other is tested."""
    return tokens.isascii() or _only_allowed(tokens)


PathPart = str | int


# A key written as ``.key`` in a JSON path: what policies use (``aws:SourceIp``, ``s3:prefix``, ``Statement``).
# Any other key is written ``["..."]`` with JSON escapes, so that a path stays on one line.
_PLAIN_KEY: Final = re.compile(r"[A-Za-z0-9_:/*?${}@+=,-]+")


def json_path(parts: Iterable[PathPart]) -> str:
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if _PLAIN_KEY.fullmatch(p) else f"[{json.dumps(p)}]"
    return out


def _pointer(parts: Sequence[PathPart]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_PLAIN_DECODER: Final = json.JSONDecoder()
# The standard library's scanner in C, which ``JSONDecoder.raw_decode`` calls from a Python frame of its own
# (that frame was a third of the cost of finding a statement's position): called here directly.
_SCAN_ONCE: Final[Callable[[str, int], tuple[Any, int]]] = cast(Any, _PLAIN_DECODER).scan_once  # (not in typeshed)


def _scan(text: str, i: int) -> tuple[Any, int]:
    """The JSON value that starts at offset ``i`` and the offset just after it; ``_Unreadable`` where none
    starts there (the scanner's StopIteration, which would end a generator that called it)."""
    try:
        return _SCAN_ONCE(text, i)
    except StopIteration:
        raise _Unreadable from None


def _skip(text: str, i: int) -> int:
    """The offset of the first character at or after ``i`` that is not JSON whitespace (RFC 8259, section 2:
    space, tab, line feed, carriage return).  A loop, compiled: a regular expression's call costs more than
    the few characters between two tokens."""
    n = len(text)
    while i < n and text[i] in " \t\n\r":
        i += 1
    return i


class _Unreadable(Exception):
    """The text is not laid out as the statement scanner reads it (the full source map is used instead)."""


Span = tuple[tuple[PathPart, ...], tuple[int, int]]


def has_statements(value: Any) -> bool:
    """A policy value whose Statement element is an object or a list (what ``_statement_spans`` reads)."""
    return isinstance(value, dict) and isinstance(value.get("Statement"), (dict, list))


def _statement_spans(text: str, statements: bool) -> Iterator[Span]:
    """Character offsets (start of "{", just after "}") of each statement object, keyed by its path
    (``("Statement",)`` or ``("Statement", i)``), in order, found as they are asked for; raises
    ``_Unreadable`` (or the scanner's ValueError or IndexError) when the text cannot be read so.

    The top-level keys and each statement are stepped over by the standard library's JSON scanner
    (``_scan`` gives where a value ends, in C), so the cost is a few steps per statement, whatever
    the layout of the text; the text is known to be valid JSON (the document was decoded from it), with a
    Statement object or list (``statements``: ``has_statements``).  A result reports one or two statements
    of a policy: the scan stops at the last one asked for."""
    if not statements:
        return
    decode = _scan
    i = _skip(text, 0)
    if text[i] != "{":
        raise _Unreadable
    i = _skip(text, i + 1)
    while text[i] != "}":
        key, i = decode(text, i)
        i = _skip(text, i)
        if text[i] != ":":
            raise _Unreadable
        i = _skip(text, i + 1)
        if key == "Statement":
            yield from _statements_at(text, i)
            return
        _, i = decode(text, i)
        i = _skip(text, i)
        if text[i] == ",":
            i = _skip(text, i + 1)


def _statements_at(text: str, i: int) -> Iterator[Span]:
    """The spans of the Statement value that starts at offset ``i`` (an object, or a list of them)."""
    decode = _scan
    if text[i] == "{":
        _, end = decode(text, i)
        yield ("Statement",), (i, end)
        return
    if text[i] != "[":
        raise _Unreadable
    j = _skip(text, i + 1)
    index = 0
    while text[j] != "]":
        _, end = decode(text, j)
        yield ("Statement", index), (j, end)
        index += 1
        j = _skip(text, end)
        if text[j] == ",":
            j = _skip(text, j + 1)


class ParsedDocument:
    """A decoded policy document; positions in its text are computed when first asked for."""

    # A plain class, not a dataclass: compiled, a dataclass's __init__ runs in Python (see evaluator.Slot).
    def __init__(self, text: str, value: Any, statements: bool | None = None) -> None:
        self.text: Final = text
        self.value: Any = value  # None once forgotten (forget_value), or never decoded (``statements`` given)
        # What the statement scanner needs of the value (has_statements): given by a caller that knows it
        # without the value (a text of a policy compiled before in another layout: reference.compiled).
        self.has_statements: Final = has_statements(value) if statements is None else statements
        self._full_map: dict[str, Any] | None = None
        self._spans: dict[tuple[PathPart, ...], tuple[int, int]] = {}  # found by the scanner so far
        self._scanner: Iterator[Span] | None = None  # the statement scanner while it has more to give
        self._scanned = False  # the scanner was started (or found unusable: a "\r" in the text)
        self._positions: dict[tuple[PathPart, ...], tuple[Position, Position]] = {}
        self._counted = (0, 0)  # an offset and the line breaks before it (``_position``)

    def forget_value(self) -> None:
        """Drop the decoded value (a compiled policy keeps what it needs from it): a cached policy holds
        about 15% less memory, so more of them fit in the memory budget of reference.batch.  The positions
        are still found from the text."""
        self.value = None

    @property
    def _map(self) -> dict[str, Any]:
        if self._full_map is None:
            from json_source_map import calculate  # imported when an error needs a position: it is slow to import

            try:
                self._full_map = calculate(self.text)
            except RecursionError:  # deeper than json-source-map's recursion reaches: positions unknown
                self._full_map = {}
        return self._full_map

    def _position(self, offset: int) -> Position:
        """1-based line and column of a character offset (lines end with "\n": the scanner is only used
        on text without "\r"), by two searches in C.  The line breaks are counted from the offset asked for
        before when it is not after this one (a statement's end after its start, a later statement after an
        earlier one), else from the start of the text."""
        text = self.text
        counted_to, breaks = self._counted
        if offset < counted_to:
            counted_to = breaks = 0
        breaks += text.count("\n", counted_to, offset)
        self._counted = (offset, breaks)
        return Position(breaks + 1, offset - text.rfind("\n", 0, offset))

    def span(self, parts: Sequence[PathPart]) -> tuple[Position, Position]:
        """1-based start of the value and the position just after its end."""
        key = parts if isinstance(parts, tuple) else tuple(parts)
        found = self._positions.get(key)
        if found is None:
            found = self._positions[key] = self._span(key)
        return found

    def _span(self, parts: tuple[PathPart, ...]) -> tuple[Position, Position]:
        if not self._scanned:
            self._scanned = True
            # The scanners count lines by "\n" alone; other line breaks go to the full source map.
            if "\r" not in self.text:
                self._scanner = _statement_spans(self.text, self.has_statements)
        hit = self._spans.get(parts)
        while hit is None and self._scanner is not None:
            try:
                path, found = next(self._scanner)
            except StopIteration:
                self._scanner = None
                break
            except (_Unreadable, ValueError, IndexError):
                self._scanner = None
                self._spans.clear()
                break
            self._spans[path] = found
            if path == parts:
                hit = found
        if hit is not None:
            return self._position(hit[0]), self._position(hit[1])
        entry = self._map.get(_pointer(parts))
        if entry is None:
            return Position(1, 1), Position(1, 1)
        s, e = entry.value_start, entry.value_end
        return Position(s.line + 1, s.column + 1), Position(e.line + 1, e.column + 1)

    def error(self, code: str, message: str, parts: Sequence[PathPart], *, at_key: bool = False) -> PolicyError:
        """A PolicyError located at ``parts`` (the key when ``at_key``)."""
        entry = None
        for n in range(len(parts), -1, -1):  # nearest existing ancestor
            entry = self._map.get(_pointer(parts[:n]))
            if entry is not None:
                break
        line = column = None
        if entry is not None:
            loc = entry.key_start if at_key and entry.key_start is not None else entry.value_start
            line, column = loc.line + 1, loc.column + 1
        return PolicyError(code, message, json_path(parts), line, column)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            # Choice (see reference/UNDOCUMENTED.md): a repeated key is refused
            # rather than silently letting the last one win.
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_int=JsonNumber, parse_float=JsonNumber)
_PLAIN_TEXT_DECODER: Final = msgspec.json.Decoder()
_SPACE_BEFORE_COLON: Final = re.compile(r'"[ \t\n\r]+:')
_NOT_PLAIN: Final = object()


def _plain_value(text: str) -> Any:
    """The value of a policy text as ``_DECODER`` gives it, by msgspec's decoder (2-3x faster: the standard
    library's calls a Python hook for every object), when that is the same value: a text with no number
    (``_DECODER`` keeps a number's spelling: JsonNumber) and no repeated key (``_DECODER`` refuses it:
    ``_no_duplicates``).  ``_NOT_PLAIN`` otherwise, and for any text msgspec refuses (NaN, a lone surrogate
    in an escape, malformed JSON): the caller decodes it with ``_DECODER``, which decides.

    A repeated key is ruled out by counting.  When no key has white space before its colon (no match of
    ``_SPACE_BEFORE_COLON``), each key ends where the text has '":', so the text holds at least as many '":'
    as keys (a string can hold more); and there are at least as many keys as entries in the decoded objects,
    as many only if no key is repeated.  So the two counts are equal only if no key is repeated."""
    if _SPACE_BEFORE_COLON.search(text) is not None:
        return _NOT_PLAIN
    return _plain_tokens_value(text)


def _plain_tokens_value(text: str, *, depth_unknown: bool = False) -> Any:
    """``_plain_value`` of a text known to have no white space before a colon after a key (the tokens of a
    text have none at all).  ``depth_unknown``: the text was not measured against ``MAX_DEPTH`` before
    (reference.nesting); a value of no more objects and arrays than that cannot nest deeper, and one of
    more is measured here (counting them is part of the walk that counts the entries; measuring every
    text cost two counts of its brackets, 2% of a batch of generated cases).  Decoded first: the tokens
    exist, so msgspec's formatter read their depth without running out of stack, and a decoder that does
    gives ``_NOT_PLAIN`` (the caller measures the text, then reads it the slow way)."""
    try:
        value = _PLAIN_TEXT_DECODER.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return _NOT_PLAIN
    entries, containers = _entries(value)
    if entries < 0 or entries != text.count('":'):
        return _NOT_PLAIN
    if depth_unknown and containers > MAX_DEPTH and too_deep(text) is not None:
        return _NOT_PLAIN
    return value


def _entries(value: Any) -> tuple[int, int]:
    """The entries of every object in a decoded JSON value (-1 if it holds a number), and how many objects
    and arrays it holds.  A walk with a stack of typed lists and dictionaries (compiled, their loops index
    and step in C; a recursive walk over any iterable went through the iterator protocol for every value)."""
    total = 0
    containers = 0
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            containers += 1
            entries: dict[str, Any] = node
            total += len(entries)
            for item in entries.values():
                if type(item) is not str:
                    stack.append(item)
        elif kind is list:
            containers += 1
            items: list[Any] = node
            for item in items:
                if type(item) is not str:
                    stack.append(item)
        elif kind is int or kind is float:
            return -1, containers
    return total, containers


def parse_document(text: str, tokens: str | None = None) -> ParsedDocument:
    """The decoded text, or a ``PolicyError`` located in it.  ``tokens``: the text's JSON tokens without
    the white space between them, when the caller has them (``reference.compiled._json_tokens``, msgspec's
    formatter: the tokens as written, strings and numbers verbatim): the checks and the decoder read them
    in place of the text (each answers the same, as the white space left out is what IAM accepts and JSON
    skips, and the decoder needs no look for white space before a colon), and the text is read only when
    one of them fails, to locate the error."""
    if tokens is not None and len(text) <= MAX_POLICY_CHARS and _tokens_allowed(tokens):
        value = _plain_tokens_value(tokens, depth_unknown=True)
        if value is not _NOT_PLAIN:
            return ParsedDocument(text=text, value=value)
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(
            "policy-too-large",
            f"policy has {len(text):,} characters; IAM accepts at most {MAX_POLICY_CHARS:,}",
            "$",
        )
    if not text.strip():
        raise PolicyError("empty-policy", "policy document is empty", "$", 1, 1)
    bad = None if _only_allowed(text) else _NOT_ALLOWED.search(text)
    if bad is not None:
        offset, c = bad.start(), bad.group()
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise PolicyError(
            "invalid-character",
            f"character U+{ord(c):04X} is outside what IAM accepts (tab, newline, carriage return, U+0020-U+00FF)",
            "$",
            line,
            column,
        )
    where = too_deep(text)
    if where is not None:  # before the readers that recurse (reference/nesting.py)
        raise PolicyError("malformed-json", too_deep_message(), "$", *where)
    value = _plain_value(text)
    if value is not _NOT_PLAIN:
        return ParsedDocument(text=text, value=value)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("malformed-json", f"malformed JSON: {exc.msg}", "$", exc.lineno, exc.colno) from None
    except ValueError as exc:  # duplicate key, from _no_duplicates
        raise PolicyError("duplicate-key", str(exc), "$") from None
    except RecursionError:  # thousands of nested arrays or objects: no policy is like that
        line, column = too_deep_at(text) or (1, 1)
        raise PolicyError("malformed-json", too_deep_message(), "$", line, column) from None
    return ParsedDocument(text=text, value=value)
