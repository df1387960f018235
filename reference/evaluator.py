"""The decision: which policies apply, and how their answers combine.

IAM User Guide:
- reference_policies_evaluation-logic_policy-eval-denyallow.html — the order:
  explicit deny in any policy; RCPs; SCPs; resource-based policies; identity-
  based policies; permissions boundaries; session policies.
- reference_policies_evaluation-logic_policy-eval-basics.html — same account:
  "If either the identity-based policy or the resource-based policy within the
  same account allows the request and the other doesn't, the request is still
  allowed."
- reference_policies_evaluation-logic-cross-account.html — cross account: the
  caller's identity-based policy and the owner's resource-based policy must
  both allow.
- access_policies_boundaries.html and access_policies.html#policies_session —
  which grants of a resource-based policy a boundary or a session policy limits
  (see ``_resource_grant``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from reference import service_rules
from reference.catalog import get_catalog
from reference.compiled import CompiledPolicy, CompiledStatement, PolicyCache
from reference.context import EMPTY_CONTEXT, RequestContext
from reference.errors import PolicyError
from reference.model import (
    DEFAULT_CALLER_ARN,
    Case,
    CaseError,
    CaseResult,
    ContextEntry,
    Decision,
    Details,
    MatchedStatement,
    Policy,
    Request,
    RequestResult,
)
from reference.policy import PolicyKind
from reference.principals import Caller, PrincipalMatch

# Where each policy of a case sits in the evaluation.
IDENTITY, BOUNDARY, SESSION, RESOURCE, SCP, RCP = "identity", "boundary", "session", "resource", "scp", "rcp"
# The policy type reported when a Policy has none (case-format v1: optional).
_DEFAULT_TYPE: Final = {
    IDENTITY: "user",
    BOUNDARY: "boundary",
    SESSION: "session",
    RESOURCE: "resource",
    SCP: "scp",
    RCP: "rcp",
}


class CaseInputError(Exception):
    """A case that cannot be answered; ``policy_error`` is set when a policy caused it."""

    def __init__(self, error: CaseError, policy_id: str | None = None, policy_error: PolicyError | None = None):
        super().__init__(error.message)
        self.error = error
        self.policy_id = policy_id
        self.policy_error = policy_error


class Slot:
    """One policy of the case, compiled, with its place in the evaluation.

    Slots are kept in the case's field order (identity policies, boundary,
    session policy, resource policy, SCP levels, RCP levels), which is the
    "policy order" matched statements are sorted by.
    """

    # Plain classes with their own __init__ rather than dataclasses, here and in the other classes built
    # per case or per policy: compiled (setup.py), a dataclass keeps the __init__ that the dataclasses
    # module generates in Python (~6x the cost of a native one; 9% of answering fresh cases).
    def __init__(self, role: str, level: int, policy_id: str, policy_type: str, compiled: CompiledPolicy) -> None:
        self.role: Final = role
        self.level: Final = level  # SCP/RCP level, root first; 0 otherwise
        self.policy_id: Final = policy_id
        self.policy_type: Final = policy_type
        self.compiled: Final = compiled


class Hit:
    def __init__(self, slot: Slot, statement: CompiledStatement, principal: PrincipalMatch) -> None:
        self.slot: Final = slot
        self.statement: Final = statement
        self.principal: Final = principal
        self.reported: MatchedStatement | None = None  # what matched() gives, kept once built
        # Read for every applying statement of every request: kept here rather than two attributes away.
        self.role: Final = slot.role
        self.allow: Final = statement.allow

    def matched(self) -> MatchedStatement:
        found = self.reported
        if found is None:
            slot = self.slot
            found = self.reported = slot.compiled.reported(self.statement, slot.policy_id, slot.policy_type)
        return found


class PreparedCase:
    def __init__(
        self,
        *,
        case: Case,
        slots: tuple[Slot, ...],
        caller: Caller,
        same_account: bool,
        has_boundary: bool,
        has_session: bool,
        scp_levels: int,
        rcp_levels: int,
        plain: bool,
        plans: ActionPlans,
        service_rules: bool = True,
    ) -> None:
        self.case: Final = case
        self.slots: Final = slots
        self.caller: Final = caller
        self.same_account: Final = same_account
        self.has_boundary: Final = has_boundary
        self.has_session: Final = has_session
        self.scp_levels: Final = scp_levels
        self.rcp_levels: Final = rcp_levels
        # identity policies alone: no boundary, session policy, resource policy, SCP or RCP
        self.plain: Final = plain
        self.plans: Final = plans  # shared by the cases with the same policies and caller (prepare)
        # reference.service_rules: on unless the run or the case switches them off
        self.service_rules: Final = service_rules


def _account_of(owner: str) -> str:
    parts = owner.split(":")
    if len(parts) >= 5 and parts[0] == "arn":
        return parts[4]
    return owner  # a bare account id


class PlacedPolicy:
    """A policy of a case with its place: role, how to read it, SCP/RCP level, and where it is in the case
    (its field and index in it, -1 for a field holding one policy)."""

    def __init__(self, role: str, kind: PolicyKind, level: int, field: str, index: int, policy: Policy) -> None:
        self.role: Final = role
        self.kind: Final = kind
        self.level: Final = level
        self.field: Final = field
        self.index: Final = index
        self.policy: Final = policy

    @property
    def path(self) -> str:
        """Its JSON path in the case (built when an error or a depth check needs it, not for every case)."""
        if self.index < 0:
            return f"$.{self.field}"
        if self.role in (SCP, RCP):
            return f"$.{self.field}[{self.level}][{self.index}]"
        return f"$.{self.field}[{self.index}]"


def case_policies(case: Case) -> Iterator[PlacedPolicy]:
    """Every policy of the case, in case order (the order matched statements are sorted by)."""
    for i, p in enumerate(case.identity_policies):
        yield PlacedPolicy(IDENTITY, "identity", 0, "identity_policies", i, p)
    if case.permissions_boundary is not None:
        yield PlacedPolicy(BOUNDARY, "identity", 0, "permissions_boundary", -1, case.permissions_boundary)
    if case.session_policy is not None:
        yield PlacedPolicy(SESSION, "identity", 0, "session_policy", -1, case.session_policy)
    if case.resource_policy is not None:
        yield PlacedPolicy(RESOURCE, "resource", 0, "resource_policy", -1, case.resource_policy)
    for role, kind, field_name, levels in ((SCP, "scp", "scps", case.scps), (RCP, "rcp", "rcps", case.rcps)):
        for lvl, level in enumerate(levels):
            for i, p in enumerate(level):
                yield PlacedPolicy(role, kind, lvl, field_name, i, p)  # type: ignore[arg-type]


def prepare(case: Case, cache: PolicyCache, *, service_rules: bool = True) -> PreparedCase:
    """Compile every policy of the case (cached); a bad policy raises CaseInputError."""
    slots: list[Slot] = []
    for placed in case_policies(case):
        policy = placed.policy
        try:
            compiled = cache.get(policy, placed.kind)
        except PolicyError as e:
            inner = e.path[1:] if e.path.startswith("$") else e.path
            path = f"{placed.path}.document{inner}"
            error = CaseError(e.code, f"policy {policy.id!r}: {e.message}", path, e.line, e.column)
            raise CaseInputError(error, policy.id, e) from None
        ptype = policy.type if isinstance(policy.type, str) else _DEFAULT_TYPE[placed.role]
        slots.append(Slot(placed.role, placed.level, policy.id, ptype, compiled))

    caller_arn = case.caller_arn if isinstance(case.caller_arn, str) else DEFAULT_CALLER_ARN  # Case.caller, compiled
    caller = Caller.parse(caller_arn)
    owner = case.resource_owner if isinstance(case.resource_owner, str) else None
    same_account = owner is None or _account_of(owner) == caller.account
    has_boundary = case.permissions_boundary is not None
    # The statements that can apply to an action depend on the policies and the caller alone: cases that
    # share both (a batch of requests against one policy) share the memo of them.
    key = (
        caller_arn,
        has_boundary,
        tuple((s.role, s.level, s.policy_id, s.policy_type, id(s.compiled)) for s in slots),
    )
    plans = cache.plans.get(key)
    if not isinstance(plans, ActionPlans):
        plans = ActionPlans(tuple(slots), caller, has_boundary)
        cache.remember_plans(key, plans)
    return PreparedCase(
        case=case,
        slots=tuple(slots),
        caller=caller,
        same_account=same_account,
        has_boundary=has_boundary,
        has_session=case.session_policy is not None,
        scp_levels=len(case.scps),
        rcp_levels=len(case.rcps),
        service_rules=service_rules and case.service_rules is not False,
        plain=not (has_boundary or case.session_policy or case.resource_policy or case.scps or case.rcps),
        plans=plans,
    )


# A statement that can apply to a request for some action: (position of its slot, the statement in its
# slot with how it names the caller, as a result reports it when it applies, and the statement's parts
# that _scan reads for every request, taken out once).
Candidate = tuple[
    int,
    Hit,
    CompiledStatement,
    Callable[[str], bool] | None,  # CompiledStatement.resource_test
    tuple[tuple[str, str], ...],  # CompiledStatement.key_pairs
    Callable[[RequestContext], bool] | None,  # CompiledStatement.condition_test
]


class ActionPlans:
    """For one list of compiled policies and one caller: per action (and whether RCPs cover its
    service), the statements whose Action/NotAction covers the action and whose Principal names the
    caller, in case order.  Built once per action, then every request for it only matches Resource and
    Condition.  The memo holds the slots (and so the compiled policies) its key names by identity."""

    __slots__ = ("_by_action", "_by_action_with_rcps", "caller", "has_boundary", "slots")

    def __init__(self, slots: tuple[Slot, ...], caller: Caller, has_boundary: bool) -> None:
        self.slots = slots
        self.caller = caller
        self.has_boundary = has_boundary
        self._by_action: dict[str, tuple[Candidate, ...]] = {}  # RCPs left out
        self._by_action_with_rcps: dict[str, tuple[Candidate, ...]] = {}

    def candidates(self, action_lower: str, rcps: bool) -> tuple[Candidate, ...]:
        memo = self._by_action_with_rcps if rcps else self._by_action
        found = memo.get(action_lower)
        if found is None:
            out: list[Candidate] = []
            for position, slot in enumerate(self.slots):
                if slot.role == RCP and not rcps:
                    continue
                for st in slot.compiled.candidates(action_lower):
                    pm = (
                        PrincipalMatch.SESSION
                        if st.names_any_caller
                        else _principal(self.caller, self.has_boundary, st)
                    )
                    if pm != PrincipalMatch.NONE:
                        hit = Hit(slot, st, pm)
                        out.append((position, hit, st, st.resource_test, st.key_pairs, st.condition_test))
            found = tuple(out)
            if len(memo) >= _PLANS_PER_POLICY_SET:
                memo.clear()
            memo[action_lower] = found
        return found


_PLANS_PER_POLICY_SET: Final = 20_000


def _levels_allow(allows: Iterable[Hit], role: str, levels: int) -> bool:
    """SCPs / RCPs: "If the enforcement code does not find any applicable Allow
    statements in the [SCPs/RCPs], the request is denied" — at every level from
    the root to the account (reference_policies_evaluation-logic_policy-eval-denyallow.html)."""
    allowed = {h.slot.level for h in allows if h.slot.role == role}
    return all(lvl in allowed for lvl in range(levels))


def _rcps_apply(action: str) -> bool:
    """RCPs apply only to the services that support them
    (access_policies_rcps.html, "List of AWS services that support RCPs")."""
    return action.split(":", 1)[0].lower() in get_catalog().rcp_supported_services()


def _principal(caller: Caller, has_boundary: bool, st: CompiledStatement) -> PrincipalMatch:
    """How the statement names the caller (NONE: it does not apply to the caller)."""
    pm = st.principal(caller)
    # access_policies_boundaries.html: "The NotPrincipal element with a
    # Deny effect will always deny any IAM principal that has a
    # permissions boundary policy attached, regardless of the values
    # specified in the NotPrincipal element."
    if pm == PrincipalMatch.NONE and has_boundary and st.statement.principal_negated and not st.allow:
        return PrincipalMatch.SESSION
    return pm


# A statement named by (position of its slot in PreparedCase.slots, statement index).
StatementRef = tuple[int, int]


def _scan(
    prepared: PreparedCase,
    action_lower: str,
    resource: str,
    context: Sequence[ContextEntry],
    rcps: bool,
    negated: frozenset[StatementRef] = frozenset(),
) -> tuple[list[Hit], dict[str, str]]:
    """Every statement that applies to the request, and the context keys
    that relevant statements needed and did not get.  The Condition result of
    each statement in ``negated`` is taken the other way (``what_if_negated``).
    The request's context is read only when a statement needs it."""
    hits: list[Hit] = []
    missing: dict[str, str] = {}  # lower -> as written
    ctx = EMPTY_CONTEXT if not context else RequestContext(None, context)
    for position, hit, st, test, key_pairs, condition in prepared.plans.candidates(action_lower, rcps):
        if not (test(resource) if test is not None else st.resources.matches(resource, ctx)):
            if st.resources.templates:
                # A variable with no value is why a Resource missed: say so.
                for key in st.resources.missing_variable_keys(ctx):
                    missing.setdefault(key.lower(), key)
            continue
        if key_pairs:
            given = ctx.table()
            for key, lower in key_pairs:
                if lower not in given:
                    missing.setdefault(lower, key)
        if negated:
            holds = condition is None or condition(ctx)
            if holds == ((position, st.statement.index) in negated):
                continue
        elif condition is not None and not condition(ctx):
            continue
        hits.append(hit)
    return hits, missing


@dataclass(frozen=True, slots=True)
class Applicable:
    """A statement whose Action, Resource and Principal cover a request, its Condition aside."""

    ref: StatementRef
    slot: Slot
    statement: CompiledStatement
    principal: PrincipalMatch
    condition_holds: bool
    in_force: bool  # False for an RCP statement when RCPs do not cover the requested service


def applicable_statements(prepared: PreparedCase, request: Request) -> list[Applicable]:
    """The statements that apply to the request (action, resource and principal matched), in case order,
    whether or not their Condition holds: the statements whose evaluation can decide it."""
    action_lower = request.action.lower()
    ctx = RequestContext.of(request.context)
    rcps = bool(prepared.rcp_levels) and _rcps_apply(action_lower)
    out: list[Applicable] = []
    for position, hit, st, _, _, _ in prepared.plans.candidates(action_lower, True):
        if not st.resources.matches(request.resource, ctx):
            continue
        holds = st.condition is None or st.condition.matches(ctx)
        in_force = hit.slot.role != RCP or rcps
        out.append(Applicable((position, st.statement.index), hit.slot, st, hit.principal, holds, in_force))
    return out


def _resource_grant(best: PrincipalMatch | None, boundary_ok: bool, session_ok: bool) -> bool:
    """Does an Allow in the resource-based policy grant the request on its own?

    ``best`` is the strongest way an applying Allow of the resource-based
    policy named the caller.  Same account
    (reference_policies_evaluation-logic_policy-eval-basics.html,
    access_policies_boundaries.html, access_policies.html#policies_session):
    - naming the role session ARN (or "*"): not limited by an implicit deny in
      identity-based policies, boundaries or session policies;
    - naming the IAM user ARN: not limited by identity-based policies or the
      boundary; a session policy (federated user session) still limits it;
    - naming the role ARN: not limited by identity-based policies; the boundary
      and the session policy limit it;
    - naming the account: the account delegates to its identity-based
      policies, so it grants nothing on its own (UNDOCUMENTED.md).
    """
    if best is None:
        return False
    if best == PrincipalMatch.SESSION:
        return True
    if best == PrincipalMatch.USER:
        return session_ok
    if best == PrincipalMatch.ROLE:
        return boundary_ok and session_ok
    return False


_NOT_APPLICABLE: Final = Details()


_NOTHING_NEGATED: Final[frozenset[StatementRef]] = frozenset()


def decide(prepared: PreparedCase, request: Request) -> RequestResult:
    return _decide(prepared, request, _NOTHING_NEGATED)


def what_if_negated(prepared: PreparedCase, request: Request, negated: frozenset[StatementRef]) -> RequestResult:
    """The result the request would get if the Condition of each statement in ``negated`` came out the
    other way: what a peer that reads those conditions differently would answer."""
    return _decide(prepared, request, negated)


def _decide(prepared: PreparedCase, request: Request, negated: frozenset[StatementRef]) -> RequestResult:
    action_lower = request.action.lower()
    rule = (
        service_rules.applicable(action_lower, request.resource)
        if prepared.service_rules and action_lower[:4] in service_rules.SERVICES_WITH_RULES
        else None
    )
    if rule is service_rules.STS_GET_CALLER_IDENTITY:
        # "No permissions are required ... you can still perform this operation" (API_GetCallerIdentity).
        return RequestResult(
            action=request.action,
            resource=request.resource,
            decision=Decision.ALLOWED,
            matched_statements=[],
            missing_context_values=[],
        )
    rcps_apply = bool(prepared.rcp_levels) and _rcps_apply(action_lower)
    hits, missing_keys = _scan(prepared, action_lower, request.resource, request.context, rcps_apply, negated)
    missing = sorted(missing_keys.values(), key=str.lower) if missing_keys else []
    if not hits and prepared.plain:
        # No statement applies and the case has identity policies alone: the implicit deny
        # (reference_policies_evaluation-logic_policy-eval-denyallow.html), without the combination below.
        return RequestResult(request.action, request.resource, Decision.IMPLICIT_DENY, [], missing, _NOT_APPLICABLE)

    # One pass over the applying statements: sort them by effect and role.
    denies: list[Hit] = []
    allows: list[Hit] = []
    allowing_roles: set[str] = set()
    denying_roles: set[str] = set()
    resource_best: PrincipalMatch | None = None
    for h in hits:
        role = h.role
        if h.allow:
            allows.append(h)
            allowing_roles.add(role)
            if role == RESOURCE and (resource_best is None or h.principal > resource_best):
                resource_best = h.principal
        else:
            denies.append(h)
            denying_roles.add(role)

    organizations_allowed = boundary_allowed = None
    if prepared.scp_levels:
        organizations_allowed = SCP not in denying_roles and _levels_allow(allows, SCP, prepared.scp_levels)
    if prepared.has_boundary:
        boundary_allowed = BOUNDARY not in denying_roles and BOUNDARY in allowing_roles
    details = (
        _NOT_APPLICABLE
        if organizations_allowed is None and boundary_allowed is None
        else Details(boundary_allowed=boundary_allowed, organizations_allowed=organizations_allowed)
    )

    rcps_deny = rcps_apply and not _levels_allow(allows, RCP, prepared.rcp_levels)
    scps_deny = bool(prepared.scp_levels) and not organizations_allowed
    # 1. An explicit Deny in any policy wins.
    if denies:
        decision, deciding = Decision.EXPLICIT_DENY, denies
    # 2. RCPs, then SCPs: an Allow at every level.
    elif rcps_deny or scps_deny:
        decision, deciding = Decision.IMPLICIT_DENY, []
    else:
        # 3-6. Resource-based, identity-based, boundary, session policy.
        boundary_ok = not prepared.has_boundary or bool(boundary_allowed)
        session_ok = not prepared.has_session or SESSION in allowing_roles
        identity_ok = IDENTITY in allowing_roles and boundary_ok and session_ok
        if rule is not None and rule.effect == "not-changeable":
            granted = False  # reference.service_rules: AWS managed policies, service-linked roles
        elif (
            rule is not None
            and rule.effect == "resource-policy-required"
            and not (rule is service_rules.KMS_KEY_POLICY and prepared.case.resource_policy is None)
        ):
            # Key policy / trust policy must allow (reference.service_rules); an Allow naming the account
            # delegates to the identity policies, which must then allow as well (_resource_grant).
            resource_ok = RESOURCE in allowing_roles
            if prepared.same_account:
                granted = resource_ok and (identity_ok or _resource_grant(resource_best, boundary_ok, session_ok))
            else:
                granted = identity_ok and resource_ok
        elif prepared.same_account:
            granted = identity_ok or _resource_grant(resource_best, boundary_ok, session_ok)
        else:
            # Cross-account: both sides must allow; any principal form counts.
            granted = identity_ok and RESOURCE in allowing_roles
        decision, deciding = (Decision.ALLOWED, allows) if granted else (Decision.IMPLICIT_DENY, [])
    return RequestResult(
        request.action, request.resource, decision, [h.reported or h.matched() for h in deciding], missing, details
    )


def evaluate_case(case: Case, cache: PolicyCache, *, service_rules: bool = True) -> CaseResult:
    """Answer every request of a case; raises CaseInputError for a bad policy.  ``service_rules=False``
    leaves out the service-specific rules (reference.service_rules) for the run."""
    prepared = prepare(case, cache, service_rules=service_rules)
    return CaseResult(
        id=case.id if isinstance(case.id, str) else None,
        results=[_decide(prepared, r, _NOTHING_NEGATED) for r in case.requests],
    )
