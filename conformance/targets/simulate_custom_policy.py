"""SimulateCustomPolicy, as a protocol: a case planned into calls, and the calls' pages read back.

Shared by the live ``aws-simulator`` target (``conformance.targets.aws_simulator``),
which sends the calls through boto3, and the ``replay`` target
(``conformance.targets.replay``), which reads the recorded pages: a replayed
result is read by the same code as the live one.

A case becomes as few calls as possible: every request of a case shares the
case's policies, so the requests that also share a context go into one call,
``ActionNames`` x ``ResourceArns`` (SimulateCustomPolicy evaluates "each
operation ... against each resource"), and only the pairs the case asked for
are kept.  Results are read in both shapes the API has had: one
``EvaluationResult`` per action x resource (``EvalResourceName`` the resource),
and one per action with the per-resource decisions in
``ResourceSpecificResults`` (the current model text).  ``MatchedStatements``
come back as ``SourcePolicyId`` (``PolicyInputList.N``,
``PermissionsBoundaryPolicyInputList.1``, ``ResourcePolicy``) plus positions,
and are mapped to the case's policy ids and statement indices by the position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.features import FEATURES
from conformance.targets.base import Capabilities, Check, TargetAnswer, TargetFailure, Unsupported
from reference.compiled import compile_text
from reference.errors import PolicyError
from reference.evaluator import case_policies
from reference.model import (
    Case,
    CaseResult,
    ContextEntry,
    Decision,
    Details,
    MatchedStatement,
    Policy,
    Position,
    RequestResult,
)
from reference.policy import PolicyKind

PAGE_SIZE = 1000  # MaxItems: 1-1000
MAX_SCP_LEVELS = 7  # OrderedOrganizationPolicyInputList: max 7
# Errors that are the simulator's answer about the case (recorded, replayed); others are transient.
DEFINITE_ERRORS = frozenset({"MalformedPolicyDocument", "InvalidInput", "ValidationError", "PolicyEvaluation"})
CAPABILITIES = Capabilities(
    checks=frozenset({Check.DECISION, Check.MATCHED_STATEMENTS, Check.MISSING_CONTEXT_VALUES}),
    features=frozenset(FEATURES) - {"policy:session", "policy:rcp"},
    simulator_safe=True,
)


# Where the simulator answers differently from the reference: conformance/divergences/aws-simulator.toml.


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class SimCall:
    """One SimulateCustomPolicy request (without MaxItems/Marker) and the pairs it answers."""

    params: dict[str, Any]
    wanted: dict[tuple[str, str], tuple[int, ...]]  # (action lower-cased, resource) -> request indices

    @property
    def resources(self) -> list[str]:
        return list(self.params["ResourceArns"])

    def summary(self) -> dict[str, Any]:
        """What differs between the calls of one case (recorded beside the answer)."""
        return {k: self.params[k] for k in ("ActionNames", "ResourceArns", "ContextEntries") if k in self.params}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One call as it went: its summary and the pages it returned, or the error."""

    request: dict[str, Any]
    pages: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None


# CallerArn: "You can specify only the ARN of an IAM user. You cannot specify the ARN of an assumed role,
# federated user, or a service principal." (IAM API Reference, SimulateCustomPolicy)
_CALLER = re.compile(r"^arn:[a-z-]+:iam::\d{12}:user/")


def unsupported_reason(case: Case) -> str | None:
    """Why SimulateCustomPolicy cannot express the case, or None."""
    if case.session_policy is not None:
        return "the AWS simulator has no session policies"
    if case.rcps:
        return "the AWS simulator has no resource control policies (SimulateCustomPolicy has no RCP parameter)"
    if len(case.scps) > MAX_SCP_LEVELS:
        return f"OrderedOrganizationPolicyInputList takes at most {MAX_SCP_LEVELS} SCP levels"
    if not _CALLER.match(case.caller):
        return f"CallerArn must be the ARN of an IAM user, not {case.caller!r}"
    if case.resource_policy is not None and any(
        ":iam::" in r.resource and ":role/" in r.resource for r in case.requests
    ):
        return "SimulateCustomPolicy: simulation of resource-based policies isn't supported for IAM roles"
    for r in case.requests:
        for e in r.context:
            if not 5 <= len(e.key) <= 256:  # ContextKeyNameType: length 5-256
                return f"context key {e.key!r}: the simulator takes names of 5 to 256 characters"
    return None


def _base_params(case: Case) -> dict[str, Any]:
    params: dict[str, Any] = {"PolicyInputList": [p.text() for p in case.identity_policies], "CallerArn": case.caller}
    if case.permissions_boundary is not None:
        params["PermissionsBoundaryPolicyInputList"] = [case.permissions_boundary.text()]
    if case.scps:
        # Root first, the account last, as the case lists them.
        params["OrderedOrganizationPolicyInputList"] = [
            {"ServiceControlPolicyInputList": [p.text() for p in level]} for level in case.scps
        ]
    if case.resource_policy is not None:
        params["ResourcePolicy"] = case.resource_policy.text()
    if isinstance(case.resource_owner, str):
        params["ResourceOwner"] = case.resource_owner
    return params


def _keys_read(case: Case) -> frozenset[str]:
    """Lower-cased context keys read by any policy of the case (conditions, variables)."""
    keys: set[str] = set()
    for placed in case_policies(case):
        try:
            compiled = compile_text(placed.policy.text(), placed.kind)
        except PolicyError:
            continue
        for st in compiled.statements:
            keys.update(k.lower() for k in st.keys)
    return frozenset(keys)


def plan(case: Case, page_size: int = PAGE_SIZE) -> list[SimCall] | Unsupported:
    """The calls that answer every request of the case.

    Requests are grouped by context.  A group is one call over all its actions
    and resources unless splitting it by resource (resources asked for the same
    set of actions share a call) needs fewer pages of ``page_size`` results.
    """
    reason = unsupported_reason(case)
    if reason is not None:
        return Unsupported(reason)
    base = _base_params(case)
    relevant = _keys_read(case)
    groups: dict[tuple[Any, ...], list[int]] = {}
    contexts: dict[tuple[Any, ...], list[ContextEntry]] = {}
    for i, r in enumerate(case.requests):
        # Only the keys some policy reads can change an answer (decision or MissingContextValues),
        # so requests that differ elsewhere share a call.
        context = [e for e in r.context if e.key.lower() in relevant]
        key = tuple((e.key, e.type, tuple(e.values)) for e in context)
        groups.setdefault(key, []).append(i)
        contexts.setdefault(key, context)
    calls: list[SimCall] = []
    for group_key, indices in groups.items():
        context = contexts[group_key]
        entries = [
            {"ContextKeyName": e.key, "ContextKeyValues": list(e.values), "ContextKeyType": e.type} for e in context
        ]
        spelled: dict[str, str] = {}
        by_resource: dict[str, dict[str, None]] = {}
        wanted: dict[tuple[str, str], list[int]] = {}
        for i in indices:
            r = case.requests[i]
            a = r.action.lower()
            spelled.setdefault(a, r.action)
            by_resource.setdefault(r.resource, {})[a] = None
            wanted.setdefault((a, r.resource), []).append(i)
        buckets: dict[tuple[str, ...], list[str]] = {}
        for resource, asked in by_resource.items():
            buckets.setdefault(tuple(sorted(asked)), []).append(resource)
        one = math.ceil(len(spelled) * len(by_resource) / page_size)
        split = sum(math.ceil(len(a) * len(rs) / page_size) for a, rs in buckets.items())
        parts = list(buckets.items()) if split < one else [(tuple(spelled), list(by_resource))]
        for acts, resources in parts:
            params = {**base, "ActionNames": [spelled[a] for a in acts], "ResourceArns": resources}
            if entries:
                params["ContextEntries"] = entries
            mine = {(a, r): tuple(wanted[(a, r)]) for a in acts for r in resources if (a, r) in wanted}
            calls.append(SimCall(params, mine))
    return calls


# --------------------------------------------------------------------------- reading the answer


@dataclass(frozen=True, slots=True)
class _Source:
    order: int
    policy: Policy
    kind: PolicyKind
    default_type: str


def _sources(case: Case) -> dict[str, _Source]:
    """SourcePolicyId -> the case's policy (IAM names input policies by parameter and position)."""
    out: dict[str, _Source] = {}
    for i, p in enumerate(case.identity_policies, 1):
        out[f"PolicyInputList.{i}"] = _Source(len(out), p, "identity", "user")
    if case.permissions_boundary is not None:
        out["PermissionsBoundaryPolicyInputList.1"] = _Source(
            len(out), case.permissions_boundary, "identity", "boundary"
        )
    if case.resource_policy is not None:
        out["ResourcePolicy"] = _Source(len(out), case.resource_policy, "resource", "resource")
    for lvl, level in enumerate(case.scps, 1):
        for i, p in enumerate(level, 1):
            sid = f"OrderedOrganizationPolicyInputList.{lvl}.ServiceControlPolicyInputList.{i}"
            out[sid] = _Source(len(out), p, "scp", "scp")
    return out


def _statement_at(source: _Source, start: Position) -> tuple[int, str | None]:
    """The statement whose span holds ``start`` (positions as IAM reports them); (-1, None) if none."""
    try:
        parsed = compile_text(source.policy.text(), source.kind).parsed
    except PolicyError:
        return -1, None
    at = (start.line, start.column)
    for s in parsed.statements:
        first, end = parsed.span(s)
        if (first.line, first.column) <= at <= (end.line, end.column):
            return s.index, s.sid
    return -1, None


def _position(raw: Mapping[str, Any] | None) -> Position:
    raw = raw or {}
    return Position(int(raw.get("Line", 0)), int(raw.get("Column", 0)))


def _matched(raw: Sequence[Mapping[str, Any]], sources: dict[str, _Source]) -> list[MatchedStatement]:
    out: list[tuple[tuple[int, int, int, int], MatchedStatement]] = []
    seen: set[tuple[str, int, int, int]] = set()
    for st in raw:
        pid = str(st.get("SourcePolicyId", ""))
        start, end = _position(st.get("StartPosition")), _position(st.get("EndPosition"))
        if (pid, start.line, start.column, end.line) in seen:
            continue
        seen.add((pid, start.line, start.column, end.line))
        source = sources.get(pid)
        if source is None:
            ptype = str(st.get("SourcePolicyType", "none"))
            m = MatchedStatement(pid, ptype, -1, None, start, end)
            out.append(((len(sources), -1, start.line, start.column), m))
            continue
        index, sid = _statement_at(source, start)
        ptype = source.policy.type if isinstance(source.policy.type, str) else source.default_type
        m = MatchedStatement(source.policy.id, ptype, index, sid, start, end)
        out.append(((source.order, index, start.line, start.column), m))
    return [m for _, m in sorted(out, key=lambda x: x[0])]


def _pick(specific: Mapping[str, Any] | None, top: Mapping[str, Any], name: str, single: bool) -> Any:
    """A field of the resource-specific result, else of the action's result when it is about one resource."""
    if specific is not None and name in specific:
        return specific[name]
    return top.get(name) if single or specific is None else None


def _result(
    case: Case,
    index: int,
    sources: dict[str, _Source],
    top: Mapping[str, Any],
    specific: Mapping[str, Any] | None,
    single: bool,
) -> RequestResult:
    request = case.requests[index]
    decision = specific["EvalResourceDecision"] if specific is not None else top["EvalDecision"]
    boundary = _pick(specific, top, "PermissionsBoundaryDecisionDetail", single)
    orgs = top.get("OrganizationsDecisionDetail")
    orgs_allowed = None
    if orgs is not None:
        if single or specific is None or orgs.get("AllowedByOrganizations"):
            orgs_allowed = orgs.get("AllowedByOrganizations")
        elif decision == "allowed":  # nothing is allowed that the SCPs do not allow
            orgs_allowed = True
    missing = _pick(specific, top, "MissingContextValues", single) or []
    return RequestResult(
        action=request.action,
        resource=request.resource,
        decision=Decision(decision),
        matched_statements=_matched(_pick(specific, top, "MatchedStatements", single) or [], sources),
        missing_context_values=sorted(dict.fromkeys(missing), key=str.lower),
        details=Details(
            boundary_allowed=None if boundary is None else boundary.get("AllowedByPermissionsBoundary"),
            organizations_allowed=orgs_allowed,
        ),
    )


def read_pages(case: Case, call: SimCall, pages: Sequence[Mapping[str, Any]], into: dict[int, RequestResult]) -> int:
    """Fill ``into`` (request index -> result) from the pages of one call; returns the decisions read."""
    sources = _sources(case)
    resources = call.resources
    single = len(resources) == 1
    decisions = 0
    for page in pages:
        for top in page.get("EvaluationResults", []):
            action = str(top["EvalActionName"]).lower()
            specifics = top.get("ResourceSpecificResults") or []
            pairs: list[tuple[str, Mapping[str, Any] | None]] = []
            if specifics:
                pairs = [(str(s["EvalResourceName"]), s) for s in specifics]
            elif single:
                pairs = [(resources[0], None)]  # old shape, or the action over its only resource
            elif top.get("EvalResourceName") in resources:
                pairs = [(str(top["EvalResourceName"]), None)]
            for resource, specific in pairs:
                decisions += 1
                for i in call.wanted.get((action, resource), ()):
                    into[i] = _result(case, i, sources, top, specific, single)
    return decisions


def interpret(case: Case, calls: Sequence[SimCall], exchanges: Sequence[Exchange]) -> TargetAnswer:
    """The case's answer from what the simulator returned for ``calls``."""
    results: dict[int, RequestResult] = {}
    for call, exchange in zip(calls, exchanges, strict=True):
        if exchange.error is not None:
            return TargetFailure(f"{exchange.error.get('code')}: {exchange.error.get('message')}")
        read_pages(case, call, exchange.pages, results)
    for i, r in enumerate(case.requests):
        if i not in results:
            return TargetFailure(f"the simulator returned no result for {r.action} on {r.resource}")
    return CaseResult(
        id=case.id if isinstance(case.id, str) else None, results=[results[i] for i in range(len(case.requests))]
    )
