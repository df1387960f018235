"""Feature families: what part of IAM a case exercises.

The conformance matrix is features down, targets across; known divergences
and target capabilities are stated in these names.  A case's features are read
off its policies (each parsed once, through the reference's compile cache).
"""

from __future__ import annotations

import functools
import re

from reference.compiled import compile_text
from reference.errors import PolicyError
from reference.fixtures import ANCHOR_VERSIONS, anchor_policy
from reference.model import Case, Policy
from reference.policy import PolicyKind, Statement

# Operator family of each condition operator's base name.
OPERATOR_FAMILIES = {
    "String": "conditions:string",
    "Numeric": "conditions:numeric",
    "Date": "conditions:date",
    "Bool": "conditions:bool",
    "Binary": "conditions:binary",
    "IpAddress": "conditions:ip",
    "NotIpAddress": "conditions:ip",
    "Arn": "conditions:arn",
    "Null": "conditions:null",
}

FEATURES: tuple[str, ...] = (
    "actions",
    "action-wildcards",
    "notaction",
    "resources",
    "resource-wildcards",
    "notresource",
    "conditions:string",
    "conditions:numeric",
    "conditions:date",
    "conditions:bool",
    "conditions:binary",
    "conditions:ip",
    "conditions:arn",
    "conditions:null",
    "conditions:ifexists",
    "conditions:set-operators",
    "conditions:multi-valued",
    "variables",
    "version-2008",
    "policy:multiple",
    "policy:boundary",
    "policy:session",
    "policy:resource",
    "policy:same-account",
    "policy:cross-account",
    "policy:scp",
    "policy:rcp",
    "principal:notprincipal",
    "anchor",
)

_VARIABLE = re.compile(r"\$\{")


def _family(operator: str) -> str | None:
    base = operator.split(":", 1)[-1]
    base = base.removesuffix("IfExists")
    for prefix, family in OPERATOR_FAMILIES.items():
        if base.startswith(prefix):
            return family
    return None


def _statement_features(s: Statement, out: set[str]) -> None:
    out.add("actions")
    out.add("resources")
    if s.action_negated:
        out.add("notaction")
    if s.resource_negated:
        out.add("notresource")
    if any("*" in a or "?" in a for a in s.actions if a != "*"):
        out.add("action-wildcards")
    if any(("*" in r or "?" in r) and r != "*" for r in s.resources):
        out.add("resource-wildcards")
    if any(_VARIABLE.search(r) for r in s.resources):
        out.add("variables")
    if s.principal_negated:
        out.add("principal:notprincipal")
    for operator, keys in (s.condition or {}).items():
        family = _family(operator)
        if family is not None:
            out.add(family)
        if operator.endswith("IfExists"):
            out.add("conditions:ifexists")
        if operator.startswith(("ForAllValues:", "ForAnyValue:")):
            out.add("conditions:set-operators")
        if any(_VARIABLE.search(v) for values in keys.values() for v in values):
            out.add("variables")


@functools.cache
def _anchor_texts() -> frozenset[str]:
    return frozenset(anchor_policy(v) for v in ANCHOR_VERSIONS)


def _policy_features(policy: Policy, kind: PolicyKind, out: set[str]) -> None:
    text = policy.text()
    if text in _anchor_texts():
        out.add("anchor")
    try:
        parsed = compile_text(text, kind).parsed
    except PolicyError:
        return
    if parsed.version != "2012-10-17":
        out.add("version-2008")
    for s in parsed.statements:
        _statement_features(s, out)


def _account(arn_or_account: str) -> str:
    """The account of an ARN (its fifth field) or a bare account id."""
    parts = arn_or_account.split(":")
    return parts[4] if len(parts) > 4 else arn_or_account


def features_of(case: Case) -> frozenset[str]:
    """The feature families a case exercises."""
    out: set[str] = set()
    for p in case.identity_policies:
        _policy_features(p, "identity", out)
    if len(case.identity_policies) > 1:
        out.add("policy:multiple")
    if case.permissions_boundary is not None:
        out.add("policy:boundary")
        _policy_features(case.permissions_boundary, "identity", out)
    if case.session_policy is not None:
        out.add("policy:session")
        _policy_features(case.session_policy, "identity", out)
    if case.resource_policy is not None:
        out.add("policy:resource")
        _policy_features(case.resource_policy, "resource", out)
        owner = case.resource_owner if isinstance(case.resource_owner, str) else None
        if owner is not None and _account(owner) != _account(case.caller):
            out.add("policy:cross-account")
        else:
            out.add("policy:same-account")
    for level in case.scps:
        out.add("policy:scp")
        for p in level:
            _policy_features(p, "scp", out)
    for level in case.rcps:
        out.add("policy:rcp")
        for p in level:
            _policy_features(p, "rcp", out)
    for r in case.requests:
        if any(e.type.endswith("List") or len(e.values) > 1 for e in r.context):
            out.add("conditions:multi-valued")
            break
    return frozenset(out)
