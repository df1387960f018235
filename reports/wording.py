"""Words every renderer shares: a deciding statement, a decision, a request as case-format v1 JSON."""

from __future__ import annotations

import json

import msgspec

from reference.model import Request
from reports.model import StatementRef

VERB = {"allowed": "allowed", "explicitDeny": "explicitly denied", "implicitDeny": "implicitly denied"}


def where(ref: StatementRef | None) -> str:
    """``v3.json statement 28 (Sid "X") at v3.json:359:5``; no statement: the implicit deny."""
    if ref is None:
        return "no statement applies"
    sid = f' (Sid "{ref.sid}")' if ref.sid else ""
    return f"{ref.policy} statement {ref.index}{sid} at {ref.file}:{ref.line}:{ref.column}"


def request_json(request: Request) -> str:
    """The request as a case-format v1 request entry."""
    return json.dumps(msgspec.to_builtins(request), separators=(", ", ": "))
