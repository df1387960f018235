"""The case model of case-format v1, defined once for the whole project.

Every part of the suite speaks these types: strategies build them, the
reference evaluator and the targets answer them, the corpus stores them.
They are ``msgspec`` structs so that decoding a JSON line is typed and fast
(see the benchmark in ``bench/``); the same constraints are written in
``reference/schema/case.schema.json``, which ``reference.caseio`` uses to
explain a rejected line with its JSON path.  ``tests/test_model_schema.py``
checks that the structs and the schema accept and reject the same documents.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType


class JsonNumber(str):  # here, not in reference.document: compiled modules cannot subclass str (setup.py)
    """A JSON number kept as the text the author wrote (``1.50`` stays ``"1.50"``):
    condition values are compared as written, and a String operator given a
    number must see the digits, not Python's ``repr`` of a float."""


PolicyType = Literal[
    "user",
    "group",
    "role",
    "aws-managed",
    "user-managed",
    "resource",
    "boundary",
    "session",
    "scp",
    "rcp",
]

ContextKeyType = Literal[
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
]

DEFAULT_CALLER_ARN = "arn:aws:iam::111122223333:user/conformance"


class Decision(enum.StrEnum):
    """The simulator's ``EvalDecision``."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


_STRING = re.compile(rb'"[^"]*"')
_FLOAT = re.compile(rb"\d[.eE]|[.eE][-+]?\d|\d{16}")


class _HasFloat(Exception):
    """A JSON number with a fraction or an exponent (its spelling by msgspec and by json.dumps may differ)."""


def _refuse_float(text: str) -> Any:
    raise _HasFloat(text)


_WITHOUT_FLOATS = msgspec.json.Decoder(float_hook=_refuse_float)


# Every struct below has ``gc=False``: a case or a result is a tree (lists, strings, other structs), never a
# cycle, so the cyclic garbage collector need not track them (msgspec: "Struct types with gc=False ... are
# never tracked"), and building the millions of them a batch needs is cheaper.


class Policy(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """One policy in force.

    ``document`` keeps the raw JSON of the field: either a JSON string (the
    exact policy text) or a JSON object (standing for the text
    ``json.dumps(document, indent=2)``).  Keeping it raw lets the evaluator
    cache compiled policies by these bytes without decoding the policy again
    for every case.  Use :meth:`of` to build one from Python values.
    """

    id: str
    document: Raw
    type: PolicyType | UnsetType = UNSET

    @classmethod
    def of(cls, id: str, document: str | Mapping[str, Any], type: PolicyType | None = None) -> Policy:
        raw = Raw(msgspec.json.encode(document))
        return cls(id=id, document=raw, type=UNSET if type is None else type)

    def text(self) -> str:
        """The policy text that line and column positions refer to: the string, or ``json.dumps(document,
        indent=2)`` for an object (written by msgspec's C encoder where the two write the same text:
        json.dumps with an indent runs in Python, 5-30x slower)."""
        raw = bytes(self.document)
        plain = b"\\" not in raw  # no escape: the strings hold no quote, backslash or control character
        try:
            value = _WITHOUT_FLOATS.decode(raw) if plain else msgspec.json.decode(raw)
        except _HasFloat:  # a float's spelling by msgspec and by json.dumps may differ
            plain = False
            value = msgspec.json.decode(raw)
        if isinstance(value, str):
            return value
        if plain and msgspec.json.encode(value) == raw:
            # A compact object (as `iamconf generate` writes them) that msgspec writes back byte for byte: no
            # repeated key, no float, no escape.  json.dumps writes the same, but for the characters that
            # its ensure_ascii escapes (DEL and beyond ASCII).
            text = msgspec.json.format(raw, indent=2)
            if text.isascii() and b"\x7f" not in text:
                return text.decode("ascii")
            return _ESCAPED_BY_JSON_DUMPS.sub(_json_dumps_escape, text.decode("utf-8"))
        if raw.isascii() and plain and b"\x7f" not in raw and not _FLOAT.search(_STRING.sub(b"", raw)):
            # Spaced or with a repeated key: the object written again (tests/test_fast_paths.py).
            return msgspec.json.format(msgspec.json.encode(value), indent=2).decode("ascii")
        return json.dumps(value, indent=2)


# What json.dumps (ensure_ascii) writes as "\uXXXX" in a string that needs no other escape: DEL and every
# character beyond ASCII (in UTF-16 surrogate pairs beyond U+FFFF).  Written as the complement of what it
# leaves: the same set as "[\x7f-\U0010ffff]", which takes `re` 6.5 ms to compile (a charset that wide).
_ESCAPED_BY_JSON_DUMPS = re.compile("[^\x00-\x7e]")


def _json_dumps_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


class ContextEntry(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    key: Annotated[str, Meta(min_length=1)]
    type: ContextKeyType
    values: list[str]


class Request(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    action: Annotated[str, Meta(min_length=3)]
    resource: str = "*"
    context: list[ContextEntry] = []


class Case(Struct, forbid_unknown_fields=True, frozen=True, gc=False, omit_defaults=True):
    requests: Annotated[list[Request], Meta(min_length=1)]
    id: str | UnsetType = UNSET
    identity_policies: list[Policy] = []
    permissions_boundary: Policy | None = None
    session_policy: Policy | None = None
    resource_policy: Policy | None = None
    scps: list[list[Policy]] = []
    rcps: list[list[Policy]] = []
    caller_arn: str | UnsetType = UNSET
    resource_owner: str | UnsetType = UNSET
    # case-format v1, compatible extension (issue 11): false switches the service-specific rules
    # (reference.service_rules) off for this case; absent or true leaves them on.
    service_rules: bool | UnsetType = UNSET

    @property
    def caller(self) -> str:
        return DEFAULT_CALLER_ARN if isinstance(self.caller_arn, UnsetType) else self.caller_arn


class DocumentOnly(Struct, gc=False):
    document: Raw = Raw(b"")


class PolicyDocuments(Struct, gc=False):
    """The policy documents of a case line and nothing else (every other field skipped unread): how
    reference.batch chooses the worker for a case.  Not a validation: a line that is no case reads as
    no documents."""

    identity_policies: list[DocumentOnly] = []
    permissions_boundary: DocumentOnly | None = None
    session_policy: DocumentOnly | None = None
    resource_policy: DocumentOnly | None = None
    scps: list[list[DocumentOnly]] = []
    rcps: list[list[DocumentOnly]] = []


class Position(Struct, frozen=True, gc=False):
    """1-based line and column in the policy text."""

    line: int
    column: int


class MatchedStatement(Struct, frozen=True, gc=False):
    policy_id: str
    policy_type: str
    statement_index: int
    sid: str | None
    start: Position
    end: Position


class Details(Struct, frozen=True, gc=False):
    """``null`` means not applicable (no boundary, no SCPs)."""

    boundary_allowed: bool | None = None
    organizations_allowed: bool | None = None


class RequestResult(Struct, frozen=True, gc=False):
    action: str
    resource: str
    decision: Decision
    matched_statements: list[MatchedStatement]
    missing_context_values: list[str]
    details: Details = Details()


class CaseResult(Struct, frozen=True, gc=False):
    id: str | None
    results: list[RequestResult]


class CaseError(Struct, frozen=True, gc=False, omit_defaults=False):
    """Why a case could not be answered.

    ``path`` is a JSON path from the case root.  For an error inside a policy
    document ``line``/``column`` are 1-based positions in the policy text (the
    same text statement positions refer to); for an error in the case line
    itself they are positions in the input file.
    """

    code: str
    message: str
    path: str
    line: int | None = None
    column: int | None = None


class CaseErrorResult(Struct, frozen=True, gc=False):
    id: str | None
    error: CaseError
