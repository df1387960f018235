"""Predicates that recognise one known divergence in one request.

A known-divergence entry (``conformance/divergences/<target>.toml``) names one
of these rules; the rule looks at the case and both answers and says whether
this entry explains the difference.  Rules are narrow on purpose: an entry
must not hide a different bug that happens to share a feature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reference.compiled import compile_text
from reference.errors import PolicyError
from reference.model import Case, Policy, Request, RequestResult
from reference.policy import PolicyKind, Statement


@dataclass(frozen=True, slots=True)
class Observation:
    case: Case
    request: Request
    expected: RequestResult
    observed: RequestResult


Rule = Callable[[Observation], bool]
RULES: dict[str, Rule] = {}


def rule(fn: Rule) -> Rule:
    RULES[fn.__name__] = fn
    return fn


def _policies(case: Case) -> list[tuple[Policy, PolicyKind]]:
    out: list[tuple[Policy, PolicyKind]] = [(p, "identity") for p in case.identity_policies]
    for p in (case.permissions_boundary, case.session_policy):
        if p is not None:
            out.append((p, "identity"))
    if case.resource_policy is not None:
        out.append((case.resource_policy, "resource"))
    out += [(p, "scp") for level in case.scps for p in level]
    out += [(p, "rcp") for level in case.rcps for p in level]
    return out


def _statements(case: Case) -> list[Statement]:
    out: list[Statement] = []
    for policy, kind in _policies(case):
        try:
            out.extend(compile_text(policy.text(), kind).parsed.statements)
        except PolicyError:
            continue
    return out


def _multi_valued_keys(request: Request) -> set[str]:
    return {e.key.lower() for e in request.context if e.type.endswith("List") or len(e.values) > 1}


@rule
def plain_operator_on_multivalued_key(o: Observation) -> bool:
    """A condition without ForAllValues/ForAnyValue reads a key the request gives several values
    (or a ``...List`` type)."""
    multi = _multi_valued_keys(o.request)
    for s in _statements(o.case):
        for operator, keys in (s.condition or {}).items():
            if operator.startswith(("ForAllValues:", "ForAnyValue:")):
                continue
            if any(k.lower() in multi for k in keys):
                return True
    return False


@rule
def set_operator_on_single_valued_key(o: Observation) -> bool:
    """A ForAllValues/ForAnyValue condition reads a key the request gives as a single-valued type."""
    single = {e.key.lower() for e in o.request.context if not e.type.endswith("List")}
    for s in _statements(o.case):
        for operator, keys in (s.condition or {}).items():
            if operator.startswith(("ForAllValues:", "ForAnyValue:")) and any(k.lower() in single for k in keys):
                return True
    return False


@rule
def request_resource_is_star(o: Observation) -> bool:
    """The request names no resource (``*``, the simulator's default)."""
    return o.request.resource == "*"
