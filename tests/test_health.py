"""The suite health check and the shrink budget, unit by unit."""

from __future__ import annotations

from conformance.harness import Outcome, Status
from conformance.health import SuiteTally
from conformance.shrink_budget import ShrinkBudget
from reference.model import Case, Request

CASE = Case(requests=[Request(action="s3:GetObject"), Request(action="s3:PutObject")])


def outcome(status: Status, request_index: int | None = 0, reason: str = "") -> Outcome:
    return Outcome("t", CASE, request_index, status, reason=reason)


def test_a_suite_of_refusals_fails_and_says_why() -> None:
    tally = SuiteTally()
    tally.add([outcome(Status.UNSUPPORTED, None, "no such action")] * 3 + [outcome(Status.AGREE)])
    assert (tally.compared, tally.unsupported) == (1, 6)  # a case-level refusal stands for its two requests
    assert not tally.passed()
    message = tally.failure_message("t", "suite")
    assert "compared 1 of the 7 requests of suite (14.3%, below 80%)" in message
    assert "6x no such action" in message


def test_the_threshold_is_inclusive_and_invalid_cases_count_neither_way() -> None:
    tally = SuiteTally()
    tally.add([outcome(Status.AGREE)] * 3 + [outcome(Status.KNOWN), outcome(Status.UNSUPPORTED, 1)])
    tally.add([outcome(Status.INVALID, None)] * 10)
    assert tally.share == 0.8 and tally.passed()
    tally.add([outcome(Status.UNSUPPORTED, 1)])
    assert not tally.passed()


def test_divergences_and_failures_count_as_compared() -> None:
    tally = SuiteTally()
    tally.add([outcome(Status.UNEXPECTED), outcome(Status.FAILURE, None)])
    assert tally.compared == 3 and tally.passed()


def test_nothing_compared_never_passes() -> None:
    assert not SuiteTally().passed()


def test_the_shrink_budget() -> None:
    now = [0.0]
    budget: ShrinkBudget[str] = ShrinkBudget(5.0, clock=lambda: now[0])
    assert budget.admit("n", b"a") == (True, None)
    budget.record_failure("n", b"a", "failed a")
    now[0] = 4.0
    assert budget.admit("n", b"b") == (True, None)  # still shrinking
    budget.record_failure("n", b"b", "failed b")
    now[0] = 6.0
    assert budget.admit("n", b"c") == (False, None)  # spent: a new candidate is not checked
    assert budget.admit("n", b"b") == (False, "failed b")  # a known failure fails again
    assert budget.admit("other", b"c") == (True, None)  # per suite
    assert ShrinkBudget[str](None, clock=lambda: now[0]).admit("n", b"c") == (True, None)
