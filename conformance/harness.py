"""The differential check: the reference's prediction against a target's answer.

``check_cases`` is the one place where a batch of cases goes to a target and
comes back compared, request by request.  Everything else (the pytest suites,
``iamconf run``, ``iamconf replay``, the benchmark) calls it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from conformance.compare import Mismatch, compare
from conformance.divergence_rules import Observation
from conformance.divergences import KnownDivergence, explain
from conformance.targets.base import Check, Target, TargetFailure, Unsupported
from reference.compiled import PolicyCache
from reference.evaluator import CaseInputError, evaluate_case
from reference.model import Case, RequestResult


class Status(enum.StrEnum):
    AGREE = "agree"
    KNOWN = "known divergence"
    UNEXPECTED = "unexpected divergence"
    UNSUPPORTED = "unsupported"  # the target cannot express the case: not counted either way
    FAILURE = "target failure"  # the target was asked and failed: counts as unexpected
    INVALID = "invalid case"  # the reference refuses the case: nothing to compare


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str
    case: Case
    request_index: int | None  # None for case-level outcomes (unsupported, failure, invalid)
    status: Status
    expected: RequestResult | None = None
    observed: RequestResult | None = None
    mismatches: tuple[Mismatch, ...] = ()
    known: KnownDivergence | None = None
    reason: str = ""

    @property
    def is_failure(self) -> bool:
        return self.status in (Status.UNEXPECTED, Status.FAILURE)

    def describe(self) -> str:
        """One line: what differed, or why nothing was compared."""
        where = f"{self.case.id if isinstance(self.case.id, str) else '<case>'}"
        if self.request_index is not None and self.expected is not None:
            where += f" request {self.request_index} ({self.expected.action} on {self.expected.resource})"
        if self.mismatches:
            diffs = "; ".join(f"{m.check}: expected {m.expected}, observed {m.observed}" for m in self.mismatches)
            extra = f" — {self.known.id}: {self.known.reason}" if self.known else ""
            return f"{self.target}: {where}: {self.status}: {diffs}{extra}"
        return f"{self.target}: {where}: {self.status}{': ' + self.reason if self.reason else ''}"


@dataclass(slots=True)
class Tally:
    by_status: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for o in outcomes:
            self.by_status[o.status] += 1


def _expected(case: Case, cache: PolicyCache) -> list[RequestResult] | str:
    try:
        return evaluate_case(case, cache).results
    except CaseInputError as e:
        return f"{e.error.code}: {e.error.path}: {e.error.message}"


def _failure(target: str, case: Case, expected: list[RequestResult], answer: TargetFailure) -> Outcome:
    """A target that failed to answer: known only when an entry covering the ``answer`` check names this
    failure's message (its ``failure_pattern``) and its rule holds for a request of the case."""
    mismatches = [Mismatch(Check.ANSWER, "an answer", answer.message)]
    for i, e in enumerate(expected):
        known = explain(target, Observation(case, case.requests[i], e, None), mismatches)
        if known is not None:
            return Outcome(target, case, None, Status.KNOWN, e, None, tuple(mismatches), known, answer.message)
    return Outcome(target, case, None, Status.FAILURE, reason=answer.message)


def _one_request_each(cases: Sequence[Case]) -> list[tuple[Case, int, Case]]:
    """(original case, request index, single-request case) for every request."""
    out = []
    for case in cases:
        for i, request in enumerate(case.requests):
            out.append((case, i, msgspec.structs.replace(case, requests=[request])))
    return out


def check_cases(target: Target, cases: Sequence[Case], *, cache: PolicyCache | None = None) -> list[Outcome]:
    """Ask ``target`` about every case in one batch and compare each request's answer."""
    cache = cache if cache is not None else PolicyCache()
    if target.capabilities.one_request_per_case and any(len(c.requests) > 1 for c in cases):
        split = _one_request_each(cases)
        outcomes = _check(target, [single for _, _, single in split], cache)
        # Report against the case as given, with the request's index in it.
        return [
            dataclasses.replace(o, case=case, request_index=index)
            for (case, index, _), o in zip(split, outcomes, strict=True)
        ]
    return _check(target, cases, cache)


def _check(target: Target, cases: Sequence[Case], cache: PolicyCache) -> list[Outcome]:
    expected = [_expected(c, cache) for c in cases]
    valid = [c for c, e in zip(cases, expected, strict=True) if not isinstance(e, str)]
    answers = iter(target.answer(valid) if valid else [])
    checks = target.capabilities.checks
    out: list[Outcome] = []
    for case, exp in zip(cases, expected, strict=True):
        if isinstance(exp, str):
            out.append(Outcome(target.name, case, None, Status.INVALID, reason=exp))
            continue
        answer = next(answers)
        if isinstance(answer, Unsupported):
            out.append(Outcome(target.name, case, None, Status.UNSUPPORTED, reason=answer.reason))
            continue
        if isinstance(answer, TargetFailure):
            out.append(_failure(target.name, case, exp, answer))
            continue
        if len(answer.results) != len(exp):
            reason = f"answered {len(answer.results)} requests of {len(exp)}"
            out.append(Outcome(target.name, case, None, Status.FAILURE, reason=reason))
            continue
        for i, (e, o) in enumerate(zip(exp, answer.results, strict=True)):
            mismatches = compare(e, o, checks)
            if not mismatches:
                out.append(Outcome(target.name, case, i, Status.AGREE, e, o))
                continue
            known = explain(target.name, Observation(case, case.requests[i], e, o), mismatches)
            status = Status.KNOWN if known else Status.UNEXPECTED
            out.append(Outcome(target.name, case, i, status, e, o, tuple(mismatches), known))
    return out
