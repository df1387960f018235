"""A policy as requests are aimed at it: its statements' actions, resources and condition clauses.

``target_of_text`` parses a policy text with ``reference.policy.parse_policy``;
``target_of_document`` reads a document the generators made (no text, no
parse).  Condition operators are taken apart by ``reference.conditions.parse_operator``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis.errors import InvalidArgument

from reference.compiled import compile_text
from reference.conditions import parse_operator
from reference.errors import PolicyError
from reference.policy import PolicyKind, parse_policy
from strategies._catalog import services


@dataclass(frozen=True, slots=True)
class AimClause:
    written: str
    qualifier: str | None
    family: str
    kind: str
    negated: bool
    if_exists: bool
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AimStatement:
    effect: str
    actions: tuple[str, ...]
    action_negated: bool
    resources: tuple[str, ...]
    resource_negated: bool
    clauses: tuple[AimClause, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """What requests are aimed at: the statements of one policy, normalised."""

    statements: tuple[AimStatement, ...]
    variables: bool
    services: tuple[str, ...]
    """Catalog services named by the policy's Action/NotAction values (for filler actions)."""


# --------------------------------------------------------------------------- building a target


def _clauses(condition: Mapping[str, Mapping[str, tuple[str, ...]]] | None) -> tuple[AimClause, ...]:
    out: list[AimClause] = []
    for written, entries in (condition or {}).items():
        op = parse_operator(written)
        if isinstance(op, tuple):
            continue
        for key, values in entries.items():
            out.append(
                AimClause(
                    written,
                    op.qualifier,
                    op.spec.family,
                    op.spec.kind,
                    op.spec.negated,
                    op.if_exists,
                    key,
                    tuple(values),
                )
            )
    return tuple(out)


def _services_of(statements: tuple[AimStatement, ...]) -> tuple[str, ...]:
    known = frozenset(services())
    found = {a.split(":", 1)[0].lower() for st in statements for a in st.actions if ":" in a}
    return tuple(sorted(found & known)) or ("s3", "iam", "lambda")


@functools.lru_cache(maxsize=256)
def target_of_text(text: str, kind: PolicyKind = "identity") -> Target:
    """Parse a policy text (``reference.policy.parse_policy``) into a :class:`Target`; PolicyError if invalid."""
    parsed = parse_policy(text, kind=kind)
    statements = tuple(
        AimStatement(
            s.effect,
            s.actions,
            s.action_negated,
            s.resources,
            s.resource_negated,
            _clauses(s.condition),
        )
        for s in parsed.statements
    )
    return Target(statements, parsed.variables_enabled, _services_of(statements))


def _as_strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, (int, float)):
            out.append(repr(v))
        else:
            out.append(str(v))
    return tuple(out)


def target_of_document(doc: Mapping[str, Any]) -> Target:
    """A :class:`Target` straight from a generated document (no text parse; the document is trusted)."""
    raw = doc["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    statements = []
    for s in items:
        condition = {op: {k: _as_strings(v) for k, v in keys.items()} for op, keys in s.get("Condition", {}).items()}
        statements.append(
            AimStatement(
                s["Effect"],
                _as_strings(s["Action"] if "Action" in s else s["NotAction"]),
                "NotAction" in s,
                _as_strings(s["Resource"] if "Resource" in s else s["NotResource"]),
                "NotResource" in s,
                _clauses(condition),
            )
        )
    st = tuple(statements)
    return Target(st, doc.get("Version") == "2012-10-17", _services_of(st))


class PolicyDoesNotCompile(InvalidArgument):
    """A policy given to aim the strategies that the reference refuses; ``error`` says where."""

    def __init__(self, error: PolicyError, index: int | None = None):
        super().__init__(f"policy does not compile: [{error.code}] {error.path}: {error.message}")
        self.error = error
        self.index = index  # which of the policies given, when known


def policy_kind_of(text: str, kind: PolicyKind | None) -> PolicyKind:
    """Check the policy eagerly; with no kind, an identity policy unless it names principals."""
    kinds: tuple[PolicyKind, ...] = (kind,) if kind is not None else ("identity", "resource")
    error: PolicyError | None = None
    for k in kinds:
        try:
            compile_text(text, k)
            return k
        except PolicyError as e:
            error = e if error is None else error
    assert error is not None
    raise PolicyDoesNotCompile(error)
