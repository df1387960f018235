"""Comparing a target's answer with the reference's prediction.

Strictness is per target: only the checks a target declares
(``Capabilities.checks``) are compared.  A request whose answers differ on a
compared check is a ``Divergence``; whether it is known is decided by
``conformance.divergences``.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.targets.base import Check
from reference.model import Decision, RequestResult


@dataclass(frozen=True, slots=True)
class Mismatch:
    check: Check
    expected: str
    observed: str


def _statements(result: RequestResult) -> str:
    items = sorted({(m.policy_id, m.statement_index) for m in result.matched_statements})
    return ", ".join(f"{pid}#{index}" for pid, index in items) or "none"


def _missing(result: RequestResult) -> str:
    return ", ".join(sorted({k.lower() for k in result.missing_context_values})) or "none"


_VIEWS = {
    Check.DECISION: lambda r: r.decision.value,
    Check.ENFORCED: lambda r: "allowed" if r.decision is Decision.ALLOWED else "denied",
    Check.MATCHED_STATEMENTS: _statements,
    Check.MISSING_CONTEXT_VALUES: _missing,
}


def compare(expected: RequestResult, observed: RequestResult, checks: frozenset[Check]) -> list[Mismatch]:
    """The compared checks on which the two answers differ, decision first."""
    out = []
    for check in (Check.DECISION, Check.ENFORCED, Check.MATCHED_STATEMENTS, Check.MISSING_CONTEXT_VALUES):
        if check in checks:
            e, o = _VIEWS[check](expected), _VIEWS[check](observed)
            if e != o:
                out.append(Mismatch(check, e, o))
    return out
