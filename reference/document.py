"""Policy text -> JSON value plus the position of every element.

The JSON is read by the standard library (strict, with duplicate keys
refused); positions come from ``json-source-map``, which maps each JSON
pointer to the start and end of its key and value.  Positions are computed
once per distinct policy text (compiled policies are cached by text), so the
cost of the source map is off the hot path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from json_source_map import calculate

from reference.errors import PolicyError
from reference.model import Position
from reference.nesting import too_deep_at, too_deep_message

# IAM API limits for a policy document (the PolicyDocument parameter of
# CreatePolicy / SimulateCustomPolicy: length 1-131072, pattern
# [\u0009\u000A\u000D\u0020-\u00FF]+).
MAX_POLICY_CHARS = 131_072


def _allowed_char(c: str) -> bool:
    return c in "\t\n\r" or "\u0020" <= c <= "\u00ff"


PathPart = str | int


# A key written as ``.key`` in a JSON path: what policies use (``aws:SourceIp``, ``s3:prefix``, ``Statement``).
# Any other key is written ``["..."]`` with JSON escapes, so that a path stays on one line.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_:/*?${}@+=,-]+")


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


@dataclass(frozen=True)
class ParsedDocument:
    """A decoded policy document and the source map of its text."""

    text: str
    value: Any
    _map: dict[str, Any]

    def span(self, parts: Sequence[PathPart]) -> tuple[Position, Position]:
        """1-based start of the value and the position just after its end."""
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


class JsonNumber(str):
    """A JSON number kept as the text the author wrote (``1.50`` stays ``"1.50"``):
    condition values are compared as written, and a String operator given a
    number must see the digits, not Python's ``repr`` of a float."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            # Choice (see reference/UNDOCUMENTED.md): a repeated key is refused
            # rather than silently letting the last one win.
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_document(text: str) -> ParsedDocument:
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(
            "policy-too-large",
            f"policy has {len(text):,} characters; IAM accepts at most {MAX_POLICY_CHARS:,}",
            "$",
        )
    if not text.strip():
        raise PolicyError("empty-policy", "policy document is empty", "$", 1, 1)
    for offset, c in enumerate(text):
        if not _allowed_char(c):
            line = text.count("\n", 0, offset) + 1
            column = offset - (text.rfind("\n", 0, offset) + 1) + 1
            raise PolicyError(
                "invalid-character",
                f"character U+{ord(c):04X} is outside what IAM accepts (tab, newline, carriage return, U+0020-U+00FF)",
                "$",
                line,
                column,
            )
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_int=JsonNumber, parse_float=JsonNumber)
        source_map = calculate(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("malformed-json", f"malformed JSON: {exc.msg}", "$", exc.lineno, exc.colno) from None
    except ValueError as exc:  # duplicate key, from _no_duplicates
        raise PolicyError("duplicate-key", str(exc), "$") from None
    except RecursionError:
        line, column = too_deep_at(text) or (1, 1)
        raise PolicyError("malformed-json", too_deep_message(), "$", line, column) from None
    return ParsedDocument(text=text, value=value, _map=source_map)
