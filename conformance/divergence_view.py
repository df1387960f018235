"""What a known-divergence rule may look at: one request, the statements that apply to it, and what-ifs.

A rule must not excuse a difference because of something in the case that
cannot decide the request.  So it sees the request through the reference's own
evaluation (``reference.evaluator.applicable_statements``): the statements whose
Action, Resource and Principal cover the request, with whether their Condition
holds, and the clauses and keys they read.  And it can ask what the reference
would answer if the peer's documented difference were true (a condition read
the other way, a context key dropped, a Version read as 2012-10-17): a rule
that models a divergence excuses an observed answer only when that model gives
it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import msgspec

from reference.compiled import PolicyCache
from reference.conditions import Clause
from reference.context import RequestContext
from reference.evaluator import (
    Applicable,
    CaseInputError,
    PreparedCase,
    applicable_statements,
    decide,
    prepare,
    what_if_negated,
)
from reference.model import Case, ContextEntry, Decision, Request, RequestResult

_CACHE = PolicyCache()


@dataclass(frozen=True)
class Observation:
    """One request of a case, the reference's answer, and the target's (None when it failed to answer)."""

    case: Case
    request: Request
    expected: RequestResult
    observed: RequestResult | None

    @functools.cached_property
    def prepared(self) -> PreparedCase:
        return prepare(self.case, _CACHE)

    @functools.cached_property
    def applicable(self) -> tuple[Applicable, ...]:
        """Statements that apply to the request (RCPs the service does not take included, ``in_force`` False)."""
        return tuple(applicable_statements(self.prepared, self.request))

    @functools.cached_property
    def in_force(self) -> tuple[Applicable, ...]:
        return tuple(a for a in self.applicable if a.in_force)

    @functools.cached_property
    def context(self) -> RequestContext:
        return RequestContext.of(self.request.context)

    def clauses(self) -> Iterator[tuple[Applicable, Clause]]:
        """Every condition clause of the statements in force for the request."""
        for a in self.in_force:
            if a.statement.condition is not None:
                for clause in a.statement.condition.clauses:
                    yield a, clause

    def read_keys(self) -> dict[str, str]:
        """Context keys (lower case -> as written) read by the statements in force: conditions and variables."""
        out: dict[str, str] = {}
        for a in self.in_force:
            for key in a.statement.keys:
                out.setdefault(key.lower(), key)
        return out

    def values_of(self, key: str) -> tuple[str, ...] | None:
        found = self.context.get(key)
        return None if found is None else found.values

    # -- what-ifs ---------------------------------------------------------------------------------

    def observed_by_negating(self, statements: Iterable[Applicable]) -> bool:
        """Does reading the Condition of these statements the other way give the observed decision (and
        not the expected one)?  Each statement alone, then all of them.  A failure (no observed answer) is
        never explained this way."""
        chosen = list({a.ref: a for a in statements}.values())
        wanted = self.observed_decision()
        if not chosen or wanted is None or wanted == self.expected.decision:
            return False
        trials = [frozenset({a.ref}) for a in chosen]
        if len(chosen) > 1:
            trials.append(frozenset(a.ref for a in chosen))
        return any(what_if_negated(self.prepared, self.request, refs).decision == wanted for refs in trials)

    def observed_with(self, case: Case | None = None, request: Request | None = None) -> bool:
        """Does the reference give the observed decision (not the expected one) for this case and request
        with the given changes?  False when nothing changed, when the changed case is not valid, and for a
        failure (no observed answer)."""
        case = self.case if case is None else case
        request = self.request if request is None else request
        wanted = self.observed_decision()
        if (case == self.case and request == self.request) or wanted is None or wanted == self.expected.decision:
            return False
        try:
            answer = decide(prepare(case, _CACHE), request)
        except CaseInputError:
            return False
        return answer.decision == wanted

    def observed_without_keys(
        self, keys: Iterable[str], absent_differs: Callable[[Clause], bool] | None = None
    ) -> bool:
        """Does dropping these context keys from the request give the observed decision?

        A peer that drops a key then reads it as absent in its own way: ``absent_differs`` names the clauses
        on a dropped key that it reads the other way when the key is absent (a known divergence of its own);
        the statements holding them are also tried negated on the request without the keys."""
        drop = {k.lower() for k in keys}
        kept = [e for e in self.request.context if e.key.lower() not in drop]
        if len(kept) == len(self.request.context):
            return False
        request = msgspec.structs.replace(self.request, context=kept)
        if self.observed_with(request=request):
            return True
        wanted = self.observed_decision()
        if absent_differs is None or wanted is None or wanted == self.expected.decision:
            return False
        refs = frozenset(a.ref for a, clause in self.clauses() if clause.key.lower() in drop and absent_differs(clause))
        return bool(refs) and what_if_negated(self.prepared, request, refs).decision == wanted

    def without_keys(self, keys: Iterable[str]) -> Observation | None:
        """This observation with these context keys dropped from the request and the reference's answer
        to that request as the expected one (None: the request carries none of them, or the reference
        refuses the changed case)."""
        drop = {k.lower() for k in keys}
        kept = [e for e in self.request.context if e.key.lower() not in drop]
        if len(kept) == len(self.request.context):
            return None
        request = msgspec.structs.replace(self.request, context=kept)
        try:
            expected = decide(self.prepared, request)
        except CaseInputError:
            return None
        return Observation(self.case, request, expected, self.observed)

    def observed_with_context(self, context: list[ContextEntry]) -> bool:
        return self.observed_with(request=msgspec.structs.replace(self.request, context=context))

    def observed_decision(self) -> Decision | None:
        return None if self.observed is None else self.observed.decision
