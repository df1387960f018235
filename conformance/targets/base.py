"""The Target protocol every implementation under test speaks.

A target answers a batch of case-format v1 cases, one answer per case, in
order: a ``CaseResult`` (what it decided), an ``Unsupported`` (it cannot
express this case: a session policy for the AWS simulator, say), or a
``TargetFailure`` (it was asked and failed: a crash, a 500, a timeout).
It declares which parts of a result it can be checked on and which features
it claims, and it is started and stopped by the suite itself.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from reference.model import Case, CaseResult


class Check(enum.StrEnum):
    """What of a result can be compared with the reference."""

    ANSWER = "answer"  # the target answered at all (a crash or an error instead is a mismatch here)
    DECISION = "decision"
    MATCHED_STATEMENTS = "matched_statements"
    MISSING_CONTEXT_VALUES = "missing_context_values"


@dataclass(frozen=True, slots=True)
class Capabilities:
    checks: frozenset[Check]
    # Feature families (conformance.features.FEATURES) the target claims to
    # implement; cases exercising anything else are answered but not held
    # against it.
    features: frozenset[str]
    # The target refuses some requests on their own (an action outside its
    # catalogue, say): the harness then sends it one request per case, so one
    # refused request does not take the others of its case with it.
    one_request_per_case: bool = False
    # What the target can be asked at all, so that the suites aim their cases at it and the share
    # compared is high by construction (the rest would only come back Unsupported):
    # - simulator_safe: only what SimulateCustomPolicy takes (IAM user callers, no session policy,
    #   no RCPs, Latin-1 text; ``strategies.cases``);
    # - catalog_only: it refuses actions outside its IAM catalogue and resources of none (or several)
    #   of the action's resource types, so only catalog actions on resources of their own type are
    #   drawn (``strategies.within_catalog``).
    simulator_safe: bool = False
    catalog_only: bool = False


@dataclass(frozen=True, slots=True)
class Unsupported:
    """The target cannot express this case; never counted as agreement."""

    reason: str


@dataclass(frozen=True, slots=True)
class TargetFailure:
    """The target was asked and failed to answer."""

    message: str


TargetAnswer = CaseResult | Unsupported | TargetFailure


class TargetUnavailable(Exception):
    """The target cannot run here (no node, no credentials, no licence): it is
    reported as skipped with this reason, never as conforming."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class Target(Protocol):
    name: str
    capabilities: Capabilities

    def start(self) -> None:
        """Acquire what the target needs (a process, a server); raise TargetUnavailable if it cannot run."""

    def stop(self) -> None:
        """Release everything start() acquired; safe to call twice and after a failed start."""

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        """One answer per case, in order."""


@dataclass(slots=True)
class TargetStats:
    calls: int = 0
    cases: int = 0
    requests: int = 0
    extra: dict[str, int] = field(default_factory=dict)
