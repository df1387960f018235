"""The SMT encoding (``reference.smt``) against the reference evaluator.

Two properties over generated cases:
- evaluated on a concrete request, the formula is true exactly when the reference decides ``allowed``;
- every model the solver returns, turned into a case-format v1 request, gets the decision the solver
  claims from the reference (allowed when the formula held, not allowed when its negation did).
A request outside the encoding's domain, or a policy outside the encoding (``NotEncodable``), is labelled
with ``event()`` and skipped; the share that was compared is asserted so the properties cannot go vacuous.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
import z3
from hypothesis import Phase, event, given, note, settings

from reference.compiled import PolicyCache
from reference.evaluator import PreparedCase, evaluate_case
from reference.model import Case, Decision, Request
from reference.smt.encode import NotEncodable, RequestSpace, allowed, holds_on, request_of, space_for
from strategies import cases
from tests.support import allow, deny, doc, policy

COUNTS = {"compared": 0, "outside": 0, "not-encodable": 0}


def _reference_allows(case: Case, request: Request) -> bool:
    one = msgspec.structs.replace(case, requests=[request])
    return evaluate_case(one, PolicyCache()).results[0].decision == Decision.ALLOWED


Encoding = Callable[[RequestSpace, PreparedCase], z3.BoolRef]


def _space(case: Case, encode: Encoding = allowed) -> tuple[RequestSpace, z3.BoolRef] | None:
    try:
        space = space_for([case], universe=sorted({r.action for r in case.requests}))
        return space, encode(space, space.prepared[0])
    except NotEncodable as e:
        event(f"not encodable: {e.reason.split(' (')[0]}")
        COUNTS["not-encodable"] += 1
        return None


def _with_variants(requests: list[Request]) -> list[Request]:
    """Each request, then the same request with each context key left out and with no context at all
    (absent keys are where IfExists, negated operators and Null differ)."""
    out: list[Request] = []
    for r in requests:
        out.append(r)
        out += [msgspec.structs.replace(r, context=[e for e in r.context if e is not left]) for left in r.context]
        if r.context:
            out.append(msgspec.structs.replace(r, context=[]))
    return out


def _formula_equals_the_reference(case: Case, encode: Encoding = allowed) -> None:
    built = _space(case, encode)
    if built is None:
        return
    space, formula = built
    for request in _with_variants(case.requests):
        got = holds_on(space, formula, request)
        if got is None:
            event("request outside the encoding's domain")
            COUNTS["outside"] += 1
            continue
        COUNTS["compared"] += 1
        note(f"request: {request}")
        assert got == _reference_allows(case, request)


@settings(max_examples=40)
@given(cases())
def test_every_model_gets_the_claimed_decision(case: Case) -> None:
    built = _space(case)
    if built is None:
        return
    space, formula = built
    for claim in (True, False):
        solver = z3.Solver()
        solver.set("timeout", 5000)
        solver.add(space.domain(), formula if claim else z3.Not(formula))
        if solver.check() != z3.sat:
            event(f"no request {'allowed' if claim else 'denied'}")
            continue
        request = request_of(space, solver.model())
        note(f"model request ({'allowed' if claim else 'not allowed'}): {request}")
        assert _reference_allows(case, request) == claim


def test_formula_equals_the_reference_on_generated_requests() -> None:
    """The property, then the guard against a vacuous pass in the same test (pytest-xdist used to run a
    separate guard on another worker, where it skipped): most generated requests were compared."""
    for k in COUNTS:
        COUNTS[k] = 0

    def right(case: Case) -> None:
        _formula_equals_the_reference(case)

    settings(max_examples=300)(given(cases())(right))()
    total = sum(COUNTS.values())
    assert total > 0 and COUNTS["compared"] >= 0.5 * total, COUNTS


def test_the_equivalence_property_fails_on_a_wrong_encoding() -> None:
    """The property can fail: an encoding that reads every request's resource as "*" disagrees with the
    reference on some generated request."""

    def resource_ignored(space: RequestSpace, prepared: PreparedCase) -> z3.BoolRef:
        return z3.substitute(allowed(space, prepared), (space.resource, z3.StringVal("*")))

    def wrong(case: Case) -> None:
        _formula_equals_the_reference(case, resource_ignored)

    run = settings(max_examples=300, phases=[Phase.generate], database=None)(given(cases())(wrong))
    with pytest.raises(AssertionError):
        run()


# ---------------------------------------------------------------- the encoding catches what it must


def _solve(case: Case, extra: z3.BoolRef | None = None) -> Request | None:
    space = space_for([case], universe=["s3:GetObject", "s3:PutObject", "ec2:RunInstances"])
    solver = z3.Solver()
    solver.add(space.domain(), allowed(space, space.prepared[0]))
    if solver.check() != z3.sat:
        return None
    return request_of(space, solver.model())


def _case(*docs: dict[str, object], **fields: object) -> Case:
    return Case(identity_policies=[policy(d) for d in docs], requests=[Request("s3:GetObject", "*")], **fields)  # type: ignore[arg-type]


def test_a_numeric_edge_is_found() -> None:
    c = _case(
        doc(allow("s3:GetObject", "*", Condition={"NumericGreaterThan": {"s3:max-keys": "10"}})),
        doc(deny("s3:GetObject", "*", Condition={"NumericGreaterThan": {"s3:max-keys": "10.5"}})),
    )
    request = _solve(c)
    assert request is not None
    (entry,) = request.context
    assert 10 < float(entry.values[0]) <= 10.5 and _reference_allows(c, request)


def test_an_ip_range_edge_is_found() -> None:
    c = _case(
        doc(allow("s3:*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        doc(deny("s3:*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/9"}})),
    )
    request = _solve(c)
    assert request is not None and request.context[0].values[0].startswith("10.") and _reference_allows(c, request)


def test_nothing_allowed_is_unsat() -> None:
    c = _case(doc(allow("s3:*", "arn:aws:s3:::b/*")), doc(deny("s3:*", "*")))
    assert _solve(c) is None


def test_a_policy_variable_in_a_resource_is_solved_for() -> None:
    c = _case(doc(allow("s3:*", "arn:aws:s3:::b/${aws:username}/*")))
    request = _solve(c)
    assert request is not None and _reference_allows(c, request)
    (entry,) = request.context
    assert request.resource.startswith(f"arn:aws:s3:::b/{entry.values[0]}/")


def test_what_is_outside_the_encoding_is_named() -> None:
    c = _case(doc(allow("s3:*", "arn:aws:s3:::b/*${aws:username}")))
    with pytest.raises(NotEncodable, match="wildcard right before a policy variable"):
        space = space_for([c], universe=["s3:GetObject"])
        allowed(space, space.prepared[0])
