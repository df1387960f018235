"""The report model: one for ``diff`` and one for ``check``, rendered by every format.

A report says what changed (or which claims broke), with one concrete request
each (case-format v1 entries: ``reference.model.Request``), the statement that
decides it, and what was searched.  Renderers (``reports.render``) only read
these structs; JSON is ``msgspec.to_builtins`` of them and follows
``reports/schema/diff.schema.json`` and ``reports/schema/check.schema.json``.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import Struct

from reference.model import ContextEntry, Request

Direction = Literal["newly_allowed", "newly_denied"]
Format = Literal["text", "md", "html", "json", "sarif"]  # what reports.render writes
FORMATS: tuple[Format, ...] = ("text", "md", "html", "json", "sarif")
PROOF_TIMEOUT = 10.0  # seconds per solver query of reports.prove (here: the CLI names it without loading z3)


class StatementRef(Struct, frozen=True, kw_only=True):
    """A statement of one version: its policy, place in the policy and position in the file."""

    policy: str
    file: str
    index: int
    sid: str | None
    effect: str
    line: int  # in ``file`` (for an embedded document: the document's first line)
    column: int
    policy_line: int  # in the policy text
    policy_column: int


class Change(Struct, frozen=True, kw_only=True):
    """One action whose decision changed, with its smallest witness request."""

    service: str
    action: str
    resource: str
    context: list[ContextEntry]
    old: str  # Decision values: allowed, explicitDeny, implicitDeny
    new: str
    old_statement: StatementRef | None  # None: no statement decides (implicit deny)
    new_statement: StatementRef | None
    count: int  # requests of this action searched whose decision changed this way
    resource_types: list[str]  # catalog resource types of the changed requests ("(no ARN template)": none matched)
    found_by: str  # "enumeration", "hypothesis", or "proof" (a model of the SMT query, checked by the reference)

    def request(self) -> Request:
        return Request(action=self.action, resource=self.resource, context=self.context)


class KeyNote(Struct, frozen=True):
    key: str
    reason: str


class Searched(Struct, frozen=True, kw_only=True):
    """What the search covered."""

    actions: int
    services: list[str]
    resource_types: int
    resources: int
    contexts: int
    requests: int  # distinct requests evaluated under both versions
    hypothesis_examples: int
    seed: int
    every_action: bool  # every action either version names (wildcards and NotAction expanded)
    every_resource_pattern: bool  # a matching request for every Resource/NotResource pattern
    actions_sampled: list[str]  # why every_action is False (open-ended Action/NotAction)
    patterns_not_matched: list[str]
    contexts_cut: list[str]  # actions whose combinations of condition values passed the cap (some not searched)
    condition_keys: list[str]
    keys_partly_searched: list[KeyNote]


class NameWarning(Struct, frozen=True, kw_only=True):
    """A name neither the catalog nor the global-key table knows."""

    version: str  # "old", "new", or a policy label for check
    kind: Literal["service", "action", "resource-type", "condition-key"]
    name: str
    nearest: str | None
    policy: str
    file: str
    line: int
    column: int

    def text(self) -> str:
        near = f"; nearest known: {self.nearest}" if self.nearest else ""
        return f"unknown {self.kind} {self.name!r} ({self.file}:{self.line}:{self.column}){near}"


class VersionInfo(Struct, frozen=True, kw_only=True):
    source: str
    policies: list[str]
    files: list[str]  # where the policies are shown (for REV:PATH, the PATH)
    sha256: str


ProofStatus = Literal["proved", "new_witnesses", "not_proved"]


class DirectionProof(Struct, frozen=True, kw_only=True):
    """The SMT proof of one direction (``reports.prove``)."""

    direction: Direction
    status: ProofStatus  # new_witnesses: the proof found changes the search had not, and then proved the rest
    reason: str | None  # not_proved: why (a timeout, an element outside the encoding, a disagreement)
    new_actions: list[str]  # actions the proof added to the report (their changes say found_by "proof")
    queries: int  # solver queries made

    def summary(self) -> str:
        if self.status == "proved":
            return "proved: no other change"
        found = f"{len(self.new_actions)} more action(s) found by the proof ({', '.join(self.new_actions)})"
        if self.status == "new_witnesses":
            return f"{found}; with them, proved: no other change"
        before = f"; {found}" if self.new_actions else ""
        return f"not proved: {self.reason}{before}"


class DiffProof(Struct, frozen=True, kw_only=True):
    """What the SMT proof says beyond the search: per direction, whether any request outside the reported
    changes changes its decision."""

    covered: str  # what "covered by a reported change" means
    scope: str  # the requests the proof ranges over
    timeout_seconds: float  # per solver query
    newly_allowed: DirectionProof
    newly_denied: DirectionProof

    @property
    def directions(self) -> list[DirectionProof]:
        return [self.newly_allowed, self.newly_denied]


class DiffReport(Struct, frozen=True, kw_only=True):
    newly_allowed: list[Change]
    newly_denied: list[Change]
    searched: Searched
    versions: dict[str, VersionInfo]
    warnings: list[NameWarning]
    proved: DiffProof | None = None  # None: no proof asked for (--no-prove)

    @property
    def changes(self) -> list[Change]:
        return [*self.newly_allowed, *self.newly_denied]


# --------------------------------------------------------------------------- check


class Claim(Struct, frozen=True, kw_only=True):
    id: str
    expect: Literal["allow", "deny"]
    actions: list[str]
    resources: list[str]
    not_resources: list[str] = []
    context: list[ContextEntry] = []
    absent: list[str] = []  # context keys no request of the claim carries
    source: str = ""  # the documentation text the claim was written from
    note: str = ""
    line: int = 1  # position of the claim in the spec file
    column: int = 1


class Counterexample(Struct, frozen=True, kw_only=True):
    request: Request
    decision: str
    statement: StatementRef | None
    found_by: str = "search"  # or "proof": a model of the SMT query, checked by the reference


class ClaimResult(Struct, frozen=True, kw_only=True):
    claim: Claim
    held: bool
    requests: int
    counterexamples: list[Counterexample]


class ClaimProof(Struct, frozen=True, kw_only=True):
    """The SMT proof of one claim: no request in its scope gets the other decision (proved), or one does
    (refuted: its counterexample says found_by "proof"), or neither was shown (not_proved, with the reason)."""

    claim: str  # the claim's id
    status: Literal["proved", "refuted", "not_proved"]
    reason: str | None

    def summary(self) -> str:
        if self.status == "proved":
            return "proved: no request in its scope breaks it"
        if self.status == "refuted":
            return "refuted: the proof found a request that breaks it (checked by the reference)"
        return f"not proved: {self.reason}"


class CheckProof(Struct, frozen=True, kw_only=True):
    scope: str
    timeout_seconds: float
    claims: list[ClaimProof]


class CheckReport(Struct, frozen=True, kw_only=True):
    spec: str
    title: str
    policies: VersionInfo
    results: list[ClaimResult]
    warnings: list[NameWarning]
    proved: CheckProof | None = None  # None: no proof asked for (--no-prove)

    @property
    def broken(self) -> list[ClaimResult]:
        return [r for r in self.results if not r.held]


# --------------------------------------------------------------------------- masking

_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
MASK = "************"
R = TypeVar("R", DiffReport, CheckReport)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _ACCOUNT.sub(MASK, value)
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    return value


def mask_accounts(report: R) -> R:
    """The report with every 12-digit account id replaced, in every string it holds."""
    return msgspec.convert(_mask(msgspec.to_builtins(report)), type(report))


def to_json(report: DiffReport | CheckReport) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(report)
    return out
