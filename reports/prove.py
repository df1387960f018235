"""``iamconf diff --prove`` and ``iamconf check --prove``: what the search reports, settled by an SMT proof.

Both versions of a policy set become formulas over one symbolic request (``reference.smt.encode``).

- diff: for each direction (newly allowed = new AND NOT old; newly denied = old AND NOT new) the solver is
  asked for a request whose action the report does not list in that direction.  A change is *covered* by
  the report when its action is listed there (the report groups changes by action).  The question is
  asked once per action class (``_per_class``).  All unsat: proved, no other change.  Sat: the model is
  turned into a request, every action of the model's action class is decided with the reference under
  both versions, and each becomes a change of the report (found_by "proof").  Unknown (a timeout): not
  proved, with the reason.
- check: for each claim, the solver is asked for a request in the claim's scope (its actions, resources,
  context and absent keys) that gets the other decision.  Unsat: proved.  Sat: the request, checked by the
  reference, is a counterexample (refuted).

A model the reference does not confirm is never reported as a change: the proof is then "not proved" with
the request named (the encoding and the reference disagree; tests/test_prove.py shows it with a broken
encoding).  Policies outside the encoding (``NotEncodable``) are "not proved: uses X".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import msgspec
import z3

from reference.evaluator import decide
from reference.model import Decision, Request
from reference.smt import regex
from reference.smt.encode import (
    SET_VALUES,
    NotEncodable,
    RequestSpace,
    allowed,
    catalog_actions,
    entry_constraint,
    request_of,
    space_for,
)
from reports.diff import deciding
from reports.inputs import PolicySet
from reports.model import (
    PROOF_TIMEOUT,
    Change,
    CheckProof,
    CheckReport,
    Claim,
    ClaimProof,
    ClaimResult,
    Counterexample,
    DiffProof,
    DiffReport,
    Direction,
    DirectionProof,
    ProofStatus,
)
from reports.search import resource_type_of
from reports.wording import request_json

DEFAULT_TIMEOUT = PROOF_TIMEOUT  # seconds per solver query
MAX_NEW_ACTIONS = 500  # per direction: changes the proof adds to the report

COVERED = (
    "a change is covered when the report lists its action in that direction; the proof asks whether any request "
    "for an action the report does not list there changes its decision that way"
)


def check_sat(solver: z3.Solver) -> tuple[z3.CheckSatResult, str | None]:
    """One solver query: the verdict, and z3's reason when it is unknown ("timeout", "canceled", ...).
    Tests replace it to force a timeout."""
    verdict = solver.check()
    return verdict, (solver.reason_unknown() if verdict == z3.unknown else None)


def scope_of(space: RequestSpace) -> str:
    step = 1 / space.numeric_scale
    sets = "sets of values as large as the clauses that read them can tell apart"
    if space.capped_keys:
        sets = f"sets of up to {SET_VALUES} values for {', '.join(space.capped_keys)} (their clauses could need more)"
    return (
        f"requests for any of {len(space.universe)} actions (the IAM catalog's and those the policies name), any "
        f"resource, and any values of the "
        f"{len(space.keys)} condition key(s) the policies read: strings of printable ASCII without backslash, "
        f"numbers in steps of {step:g} (finer than any policy value, so every gap between two is reached), "
        f"IPv4 addresses, dates from year 1 to 9999 to the microsecond, "
        f"{sets}; the caller of the policy set"
    )


def _unknown_reason(why: str | None, timeout: float) -> str:
    if why in ("timeout", "canceled"):
        return f"timeout after {timeout:g} s"
    return f"the solver gave up ({why})"


def _solver(timeout: float) -> z3.Solver:
    solver = z3.Solver()
    solver.set("timeout", max(1, round(timeout * 1000)))
    return solver


# --------------------------------------------------------------------------- diff


def with_named_actions(universe: list[str], policy_sets: Iterable[PolicySet], extra: Iterable[str]) -> list[str]:
    """The catalog's actions, plus every action a policy names without a wildcard and ``extra`` that the
    catalog does not know (the reference decides them like any other: a misspelt name is still a name)."""
    known = {a.lower() for a in universe}
    named = [
        a
        for ps in policy_sets
        for slot in ps.prepared.slots
        for st in slot.compiled.statements
        for a in st.statement.actions
        if "*" not in a and "?" not in a
    ]
    out = list(universe)
    for a in [*named, *extra]:
        if a.lower() not in known:
            known.add(a.lower())
            out.append(a)
    return out


@dataclass(slots=True)
class _Direction:
    direction: Direction
    changed: z3.BoolRef  # the formula of a request whose decision changes this way
    reported: set[str]  # actions the report lists this way


def _changes_this_way(direction: Direction, old: PolicySet, new: PolicySet, request: Request) -> Change | None:
    a, b = decide(old.prepared, request), decide(new.prepared, request)
    was, now = a.decision == Decision.ALLOWED, b.decision == Decision.ALLOWED
    if (direction == "newly_allowed" and not (now and not was)) or (
        direction == "newly_denied" and not (was and not now)
    ):
        return None
    return Change(
        service=request.action.split(":", 1)[0].lower(),
        action=request.action,
        resource=request.resource,
        context=list(request.context),
        old=a.decision.value,
        new=b.decision.value,
        old_statement=deciding(old, a),
        new_statement=deciding(new, b),
        count=1,
        resource_types=[resource_type_of(request.action, request.resource)],
        found_by="proof",
    )


def smaller(request: Request, keeps: Callable[[Request], bool]) -> Request:
    """The request without each context entry it does not need (greedy, in order): a model sets every key
    the policies read, a witness should carry only what its decision depends on."""
    for entry in list(request.context):
        trial = msgspec.structs.replace(request, context=[e for e in request.context if e is not entry])
        if keeps(trial):
            request = trial
    return request


@dataclass(slots=True)
class _Answer:
    action_class: int
    verdict: z3.CheckSatResult
    model: z3.ModelRef | None
    reason: str | None  # unknown: why


def _per_class(space: RequestSpace, formula: z3.BoolRef, classes: Iterable[int], timeout: float) -> Iterator[_Answer]:
    """The formula asked once per action class (the action fixed and the formula simplified first: most
    classes fall away without a query, and each query is small).  Classes whose formula simplifies to
    false are unsat without a query and are not yielded."""
    domain = space.domain()
    for k in classes:
        fixed = z3.simplify(z3.substitute(formula, (space.action, z3.IntVal(k))))
        if z3.is_false(fixed):
            continue
        solver = _solver(timeout)
        solver.add(domain, space.action == k, fixed)
        verdict, why = check_sat(solver)
        model = solver.model() if verdict == z3.sat else None
        reason = _unknown_reason(why, timeout) if verdict not in (z3.sat, z3.unsat) else None
        yield _Answer(k, verdict, model, reason)


def _prove_direction(
    space: RequestSpace, d: _Direction, old: PolicySet, new: PolicySet, timeout: float
) -> tuple[DirectionProof, list[Change]]:
    excluded = {k for a in d.reported if (k := space.class_of(a)) is not None and a.lower() in space.distinguished}
    classes = [k for k in range(len(space.classes)) if k not in excluded]
    found: list[Change] = []
    queries = 0
    unknown: list[str] = []
    disagreement: str | None = None
    for answer in _per_class(space, d.changed, classes, timeout):
        queries += 1
        if answer.reason is not None:
            unknown.append(f"{answer.reason} (actions such as {space.members[answer.action_class][0]})")
            continue
        if answer.model is None:
            continue
        base = request_of(space, answer.model)
        base = smaller(base, lambda r: _changes_this_way(d.direction, old, new, r) is not None)
        for action in space.members[answer.action_class]:
            request = msgspec.structs.replace(base, action=action)
            change = _changes_this_way(d.direction, old, new, request)
            if change is None:
                disagreement = f"the encoding and the reference disagree on {request_json(request)}"
                break
            if len(found) >= MAX_NEW_ACTIONS:
                disagreement = f"more than {MAX_NEW_ACTIONS} actions change beyond the report"
                break
            found.append(change)
        if disagreement is not None:
            break
    reason = disagreement or (unknown[0] if unknown else None)
    if reason is not None:
        status: ProofStatus = "not_proved"
    else:
        status = "new_witnesses" if found else "proved"
    proof = DirectionProof(
        direction=d.direction, status=status, reason=reason, new_actions=[c.action for c in found], queries=queries
    )
    return proof, found


def prove_diff(
    report: DiffReport,
    old: PolicySet,
    new: PolicySet,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    universe: Sequence[str] | None = None,
    encode: Callable[[RequestSpace, int], z3.BoolRef] | None = None,
) -> DiffReport:
    """The report with ``proved`` filled and the changes the proof found added (found_by "proof").
    ``encode`` replaces ``reference.smt.encode.allowed`` (tests give a broken one)."""
    reported: dict[Direction, set[str]] = {
        "newly_allowed": {c.action for c in report.newly_allowed},
        "newly_denied": {c.action for c in report.newly_denied},
    }
    distinguished = reported["newly_allowed"] | reported["newly_denied"]
    if universe is None:
        universe = with_named_actions(catalog_actions(), [old, new], distinguished)
    try:
        space = space_for([old.case, new.case], universe=universe, distinguished=distinguished)
        formula = encode or (lambda s, i: allowed(s, s.prepared[i]))
        f_old, f_new = formula(space, 0), formula(space, 1)
    except NotEncodable as e:
        outside = [
            DirectionProof(direction=d, status="not_proved", reason=f"uses {e.reason}", new_actions=[], queries=0)
            for d in ("newly_allowed", "newly_denied")
        ]
        unproved = DiffProof(
            covered=COVERED,
            scope="(the policies are outside the encoding)",
            timeout_seconds=timeout,
            newly_allowed=outside[0],
            newly_denied=outside[1],
        )
        return msgspec.structs.replace(report, proved=unproved)
    directions = [
        _Direction("newly_allowed", z3.And(f_new, z3.Not(f_old)), reported["newly_allowed"]),
        _Direction("newly_denied", z3.And(f_old, z3.Not(f_new)), reported["newly_denied"]),
    ]
    proofs: list[DirectionProof] = []
    lists = {"newly_allowed": list(report.newly_allowed), "newly_denied": list(report.newly_denied)}
    for d in directions:
        proof, found = _prove_direction(space, d, old, new, timeout)
        proofs.append(proof)
        lists[d.direction] = sorted([*lists[d.direction], *found], key=lambda c: c.action.lower())
    diff_proof = DiffProof(
        covered=COVERED,
        scope=scope_of(space),
        timeout_seconds=timeout,
        newly_allowed=proofs[0],
        newly_denied=proofs[1],
    )
    return msgspec.structs.replace(
        report, newly_allowed=lists["newly_allowed"], newly_denied=lists["newly_denied"], proved=diff_proof
    )


# --------------------------------------------------------------------------- check


def _claim_actions(claim: Claim) -> list[str]:
    from reports.check import _expand

    return list(dict.fromkeys(a for p in claim.actions for a in _expand(p)))


def _any_resource(space: RequestSpace, patterns: Iterable[str]) -> z3.BoolRef:
    hits = [z3.InRe(space.resource, regex.resource(p)) for p in patterns]
    return z3.Or(*hits) if hits else z3.BoolVal(False)


def _claim_scope(space: RequestSpace, claim: Claim, actions: list[str]) -> z3.BoolRef:
    """The claim's requests as a formula; raises NotEncodable when its context is outside the encoding."""
    parts = [space.is_action(actions), _any_resource(space, claim.resources)]
    if claim.not_resources:
        parts.append(z3.Not(_any_resource(space, claim.not_resources)))
    for entry in claim.context:
        constraint = entry_constraint(space, entry)
        if constraint is None:
            raise NotEncodable(
                f"the claim's context entry {entry.key} (more values, or values the encoding cannot hold)"
            )
        parts.append(constraint)
    # As the search reads a claim (reports.check.claim_requests): an allow claim's requests carry exactly its
    # context; a deny claim's may carry any values of the other keys, except the absent ones.
    given = {e.key.lower() for e in claim.context}
    absent = {k.lower() for k in claim.absent} if claim.expect == "deny" else set(space.keys) - given
    parts += [z3.Not(space.keys[key].present) for key in sorted(absent) if key in space.keys]
    return z3.And(*parts)


def _claim_request(space: RequestSpace, claim: Claim, model: z3.ModelRef, actions: list[str]) -> Request:
    """The model's request, with the claim's context entries for keys no policy reads."""
    request = request_of(space, model, prefer=actions)
    extra = [e for e in claim.context if e.key.lower() not in space.keys]
    return msgspec.structs.replace(request, context=[*request.context, *extra])


def _prove_claim(
    space: RequestSpace, formula: z3.BoolRef, policy_set: PolicySet, result: ClaimResult, timeout: float
) -> tuple[ClaimProof, ClaimResult]:
    from reports.check import _covers

    claim = result.claim
    actions = _claim_actions(claim)
    if not actions:
        return ClaimProof(claim=claim.id, status="not_proved", reason="its actions name no action"), result
    try:
        scope = _claim_scope(space, claim, actions)
    except NotEncodable as e:
        return ClaimProof(claim=claim.id, status="not_proved", reason=f"uses {e.reason}"), result
    breaking = z3.And(scope, z3.Not(formula) if claim.expect == "allow" else formula)
    classes = sorted({k for a in actions if (k := space.class_of(a)) is not None})
    model: z3.ModelRef | None = None
    unknown: str | None = None
    for answer in _per_class(space, breaking, classes, timeout):
        if answer.model is not None:
            model = answer.model
            break
        unknown = unknown or answer.reason
    if model is None:
        if unknown is not None:
            return ClaimProof(claim=claim.id, status="not_proved", reason=unknown), result
        return ClaimProof(claim=claim.id, status="proved", reason=None), result

    def breaks_claim(r: Request) -> bool:
        return (decide(policy_set.prepared, r).decision == Decision.ALLOWED) != (claim.expect == "allow")

    fixed = {e.key.lower() for e in claim.context}
    request = _claim_request(space, claim, model, actions)
    request = smaller(request, lambda r: breaks_claim(r) and {e.key.lower() for e in r.context} >= fixed)
    decided = decide(policy_set.prepared, request)
    breaks = breaks_claim(request)
    in_scope = request.action in actions and _covers(claim.resources, request.resource)
    in_scope = in_scope and not (claim.not_resources and _covers(claim.not_resources, request.resource))
    if not (breaks and in_scope):
        reason = f"the encoding and the reference disagree on {request_json(request)}"
        return ClaimProof(claim=claim.id, status="not_proved", reason=reason), result
    if result.held:
        example = Counterexample(
            request=request, decision=decided.decision.value, statement=deciding(policy_set, decided), found_by="proof"
        )
        result = msgspec.structs.replace(result, held=False, counterexamples=[example])
    return ClaimProof(claim=claim.id, status="refuted", reason=None), result


def prove_check(
    report: CheckReport,
    policy_set: PolicySet,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    encode: Callable[[RequestSpace, int], z3.BoolRef] | None = None,
) -> CheckReport:
    """The report with ``proved`` filled; a claim the search let hold and the proof refutes is broken, with
    the proof's request (checked by the reference) as its counterexample.  ``encode`` replaces
    ``reference.smt.encode.allowed`` (tests give a broken one)."""
    claim_actions = {a for r in report.results for a in _claim_actions(r.claim)}
    universe = with_named_actions(catalog_actions(), [policy_set], sorted(claim_actions))
    try:
        space = space_for([policy_set.case], universe=universe, distinguished=claim_actions)
        formula = encode(space, 0) if encode is not None else allowed(space, space.prepared[0])
    except NotEncodable as e:
        claims = [ClaimProof(claim=r.claim.id, status="not_proved", reason=f"uses {e.reason}") for r in report.results]
        unproved = CheckProof(scope="(the policies are outside the encoding)", timeout_seconds=timeout, claims=claims)
        return msgspec.structs.replace(report, proved=unproved)
    proofs: list[ClaimProof] = []
    results: list[ClaimResult] = []
    for r in report.results:
        proof, updated = _prove_claim(space, formula, policy_set, r, timeout)
        proofs.append(proof)
        results.append(updated)
    check_proof = CheckProof(scope=scope_of(space), timeout_seconds=timeout, claims=proofs)
    return msgspec.structs.replace(report, results=results, proved=check_proof)
