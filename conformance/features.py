"""Feature families: what part of IAM a case exercises, and which one decided a request.

The conformance matrix is features down, targets across; known divergences
and target capabilities are stated in these names.  A case's features are read
off its policies (each parsed once, through the reference's compile cache).
The matrix counts each request once, under the family that decided it
(:func:`deciding_feature`).
"""

from __future__ import annotations

import functools
import re

import msgspec

from reference.compiled import CompiledPolicy, PolicyCache, compile_text
from reference.context import RequestContext
from reference.errors import PolicyError
from reference.evaluator import (
    BOUNDARY,
    IDENTITY,
    RCP,
    RESOURCE,
    SCP,
    SESSION,
    CaseInputError,
    PlacedPolicy,
    case_policies,
    decide,
    prepare,
)
from reference.fixtures import ANCHOR_VERSIONS, anchor_policy
from reference.model import Case, Decision, Policy, Request, RequestResult
from reference.policy import PolicyKind, Statement
from reference.principals import Caller

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
        if _is_cross_account(case):
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


# --- The family that decided a request -------------------------------------------------------------
#
# One family a request, so that the matrix counts every request once:
# - statements decided it (an explicit Deny, or the Allows of an allowed request): a policy type other
#   than identity among them, in the order below, else the deciding statement's own most specific family;
# - an implicit deny no statement explains: the policy layer without which the request would have been
#   allowed (SCP levels, RCP levels, boundary, session policy, the cross-account rule), else the nearest
#   miss among the Allow statements (conditions failed after action and resource matched; else the
#   resource did not match; else no action matched).

_ROLE_ORDER = (SCP, RCP, BOUNDARY, SESSION, RESOURCE)
_ROLE_FEATURE = {
    SCP: "policy:scp",
    RCP: "policy:rcp",
    BOUNDARY: "policy:boundary",
    SESSION: "policy:session",
    RESOURCE: "policy:resource",
}


def _is_cross_account(case: Case) -> bool:
    """The resource's owner (an account id or an ARN) is not the caller's account."""
    owner = case.resource_owner if isinstance(case.resource_owner, str) else None
    if owner is None:
        return False
    parts = owner.split(":")
    account = parts[4] if len(parts) >= 5 and parts[0] == "arn" else owner
    return account != Caller.parse(case.caller).account


def _has_variable(s: Statement) -> bool:
    return any(_VARIABLE.search(r) for r in s.resources) or any(
        _VARIABLE.search(v) for keys in (s.condition or {}).values() for values in keys.values() for v in values
    )


def _statement_feature(placed: PlacedPolicy, s: Statement, version: str | None) -> str:
    """The most specific family of one statement."""
    if placed.policy.text() in _anchor_texts():
        return "anchor"
    if _has_variable(s):
        return "variables" if version == "2012-10-17" else "version-2008"
    operators = list(s.condition or {})
    if any(op.startswith(("ForAllValues:", "ForAnyValue:")) for op in operators):
        return "conditions:set-operators"
    if any(op.endswith("IfExists") for op in operators):
        return "conditions:ifexists"
    for op in operators:
        family = _family(op)
        if family is not None:
            return family
    if s.principal_negated:
        return "principal:notprincipal"
    return _resource_feature(s) if s.resource_negated else _action_feature([s])


def _resource_feature(s: Statement) -> str:
    if s.resource_negated:
        return "notresource"
    if any(_VARIABLE.search(r) for r in s.resources):
        return "variables"
    if any(("*" in r or "?" in r) and r != "*" for r in s.resources):
        return "resource-wildcards"
    return "resources"


def _action_feature(statements: list[Statement]) -> str:
    if any(s.action_negated for s in statements):
        return "notaction"
    if any(("*" in a or "?" in a) and a != "*" for s in statements for a in s.actions):
        return "action-wildcards"
    if any(("*" in r or "?" in r) and r != "*" for s in statements for r in s.resources):
        return "resource-wildcards"
    return "actions"


def _compiled(placed: PlacedPolicy, cache: PolicyCache) -> CompiledPolicy | None:
    try:
        return cache.get(placed.policy, placed.kind)
    except PolicyError:
        return None


def _decision(case: Case, request: Request, cache: PolicyCache) -> Decision | None:
    try:
        return decide(prepare(case, cache), request).decision
    except CaseInputError:
        return None


def _refusing_layer(case: Case, request: Request, result: RequestResult, cache: PolicyCache) -> str | None:
    """The policy layer without which an implicitly denied request would have been allowed."""
    if result.details.organizations_allowed is False:
        return "policy:scp"
    replace = msgspec.structs.replace
    single = replace(case, requests=[request])
    without: tuple[tuple[str, Case], ...] = ()
    if case.rcps:
        without += (("policy:rcp", replace(single, rcps=[])),)
    if result.details.boundary_allowed is False:
        without += (("policy:boundary", replace(single, permissions_boundary=None)),)
    if case.session_policy is not None:
        without += (("policy:session", replace(single, session_policy=None)),)
    if case.resource_policy is not None and _is_cross_account(case):
        without += (("policy:cross-account", replace(single, resource_owner=msgspec.UNSET)),)
    for feature, counterfactual in without:
        if _decision(counterfactual, request, cache) == Decision.ALLOWED:
            return feature
    return None


def _nearest_miss(case: Case, request: Request, cache: PolicyCache) -> str:
    """The family of the Allow statement that came nearest to applying."""
    ctx = RequestContext.of(request.context)
    action = request.action.lower()
    resource_misses: list[tuple[PlacedPolicy, Statement]] = []
    statements: list[Statement] = []
    for placed in case_policies(case):
        if placed.role not in (IDENTITY, RESOURCE):
            continue
        compiled = _compiled(placed, cache)
        if compiled is None:
            continue
        version = compiled.parsed.version
        for st in compiled.statements:
            if not st.allow:
                continue
            statements.append(st.statement)
            if not st.actions.matches(action):
                continue
            if not st.resources.matches(request.resource, ctx):
                resource_misses.append((placed, st.statement))
                continue
            if st.condition is not None and not st.condition.matches(ctx):
                return _statement_feature(placed, st.statement, version)
    if resource_misses:
        placed, statement = resource_misses[0]
        return "anchor" if placed.policy.text() in _anchor_texts() else _resource_feature(statement)
    if any(p.policy.text() in _anchor_texts() for p in case_policies(case) if p.role == IDENTITY):
        return "anchor"
    return _action_feature(statements)


def deciding_feature(case: Case, request: Request, result: RequestResult, cache: PolicyCache | None = None) -> str:
    """The one feature family that decided ``result`` (the reference's answer to ``request`` in ``case``)."""
    cache = cache if cache is not None else PolicyCache()
    placed: dict[str, PlacedPolicy] = {}
    for p in case_policies(case):
        placed.setdefault(p.policy.id, p)
    if result.matched_statements:
        roles = {placed[m.policy_id].role for m in result.matched_statements if m.policy_id in placed}
        for role in _ROLE_ORDER:
            if role in roles:
                return "policy:cross-account" if role == RESOURCE and _is_cross_account(case) else _ROLE_FEATURE[role]
        first = result.matched_statements[0]
        where = placed.get(first.policy_id)
        compiled = _compiled(where, cache) if where is not None else None
        if where is None or compiled is None:
            return "actions"
        parsed = compiled.parsed
        statement = next((s for s in parsed.statements if s.index == first.statement_index), None)
        return _statement_feature(where, statement, parsed.version) if statement is not None else "actions"
    if result.decision != Decision.IMPLICIT_DENY:
        return "actions"
    return _refusing_layer(case, request, result, cache) or _nearest_miss(case, request, cache)
