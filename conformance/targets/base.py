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
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from reference.model import Case, CaseResult


class Check(enum.StrEnum):
    """What of a result can be compared with the reference."""

    ANSWER = "answer"  # the target answered at all (a crash or an error instead is a mismatch here)
    DECISION = "decision"
    # Allowed or denied, as a real API call ends (an enforcement target cannot tell explicit from implicit deny).
    ENFORCED = "enforced"
    MATCHED_STATEMENTS = "matched_statements"
    MISSING_CONTEXT_VALUES = "missing_context_values"


_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


@functools.lru_cache(maxsize=8192)
def _template_components(template: str) -> tuple[re.Pattern[str], ...]:
    """An ARN template of the Service Authorization Reference as one pattern per ARN component, matched
    the way iam-simulate's catalogue matcher does (measured against it in tests/test_target_catalogue.py):
    the ARN is split into partition, service, region, account and the resource (the rest, colons
    included); within a component literals match in any case and a placeholder stands for one character
    or more of any kind, except that a component which is one placeholder alone (``${BucketName}``,
    ``${ConnectionArn}``) holds no ``:`` or ``/`` (so ``arn:aws:s3:::b/k`` is an object, never a bucket)."""
    out = []
    for component in template.split(":", 5):
        if _PLACEHOLDER.fullmatch(component):
            out.append(re.compile("[^:/]+"))
        else:
            out.append(re.compile(".+".join(re.escape(p) for p in _PLACEHOLDER.split(component)), re.I | re.S))
    return tuple(out)


def _template_takes(template: str, arn: str) -> bool:
    components = arn.split(":", 5)
    patterns = _template_components(template)
    return len(components) == len(patterns) and all(p.fullmatch(c) for p, c in zip(patterns, components, strict=True))


def _literal_text(template: str) -> str:
    return "".join(_PLACEHOLDER.split(template)).lower()


def _more_specific(child: str, parent: str) -> bool:
    """``child`` holds all of ``parent``'s literal text as a prefix, and more (a migration task of a
    progress-update stream, say): iam-simulate then takes the ARN to be of the child's type only."""
    c, p = _literal_text(child), _literal_text(parent)
    return len(c) > len(p) and c.startswith(p)


@dataclass(frozen=True, slots=True)
class TargetCatalogue:
    """The part of the IAM catalogue a target knows: what it compares, so that strategies can aim at it.

    A target refusing requests outside its own catalogue (an action it does not know, an ARN of none of
    the action's resource types) declares it here; a request it refuses is ``Unsupported`` and not
    compared, and a suite comparing too few fails its health check (``conformance.health``).
    """

    # Lower-cased "service:action" -> the ARN templates of the action's resource types, as the Service
    # Authorization Reference writes them (``arn:${Partition}:s3:::${BucketName}/${ObjectName}``);
    # () for an action that takes only "*".
    actions: Mapping[str, tuple[str, ...]]
    # The target compares an action with resource types only on a literal ARN, not on a pattern with "*".
    literal_resources_only: bool = True

    def knows_action(self, action: str) -> bool:
        return action.lower() in self.actions

    def resource_templates(self, action: str) -> tuple[str, ...] | None:
        """The action's resource-type ARN templates; None for an action the target does not know."""
        return self.actions.get(action.lower())

    def accepts(self, action: str, resource: str) -> bool:
        """Would the target compare this request (rather than refuse it as unsupported)?"""
        templates = self.resource_templates(action)
        if templates is None:
            return False
        if not templates:
            return resource == "*"
        wildcard = "*" in resource or "?" in resource
        if self.literal_resources_only and wildcard:
            return False
        matching = [t for t in templates if _template_takes(t, resource)]
        if wildcard:
            return bool(matching)
        # Of an ARN of several of the action's types, iam-simulate keeps the most specific ones, and
        # refuses an ARN that is still of several (multiple.resource.types).
        specific = {t for t in matching if not any(o != t and _more_specific(o, t) for o in matching)}
        return len(specific) == 1


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
    # The catalogue the target knows, loaded on demand (None: it declares none, and is taken to know
    # whatever the reference's catalogue holds).  Strategies aim at it; see TargetCatalogue.
    catalogue: Callable[[], TargetCatalogue] | None = None
    # An enforcement target answers only requests for these actions (probes) and is checked by the
    # suites aimed at them (conformance/suites/test_enforcement.py), not by the generic ones.
    probed_actions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Unsupported:
    """The target cannot express this case; never counted as agreement."""

    reason: str


@dataclass(frozen=True, slots=True)
class TargetFailure:
    """The target was asked and failed to answer.

    ``retryable``: the failure says nothing about the case (a worker that died or hung, a dropped
    connection) and asking again has no side effect, so the harness asks once more before it reports it.
    """

    message: str
    retryable: bool = False


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
