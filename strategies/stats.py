"""What the generators produced: operator families, set operators, IfExists, policy elements,
resource types of the anchor policy's services, and the decisions the reference gives.

``case_features`` names the features of one case (the labels also suit
``hypothesis.event``: :func:`record_events` sends them from inside a test);
``GenerationStats`` counts them over many cases.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reference.catalog import ArnTemplate
from reference.compiled import PolicyCache
from reference.evaluator import CaseInputError, evaluate_case
from reference.model import Case, Policy
from strategies._catalog import ANCHOR_SERVICES, service_resource_types
from strategies.conditions import FAMILY_OF, split_operator

SLOTS: tuple[str, ...] = ("identity", "boundary", "session", "resource", "scp", "rcp")


@functools.cache
def anchor_resource_types() -> tuple[str, ...]:
    """``service/key`` of every resource type of the anchor policy's 17 services."""
    return tuple(f"{s}/{rt.key}" for s in ANCHOR_SERVICES for rt in service_resource_types(s))


@functools.cache
def _templates(service: str) -> tuple[tuple[int, ArnTemplate, str], ...]:
    """(literal length, template, service/key), most literal first: a log-stream ARN also fits the
    log-group template, whose name may hold colons; the more specific template wins."""
    out = []
    for rt in service_resource_types(service):
        for tpl in rt.arn_templates:
            literal = len(tpl.template) - sum(len(p) + 3 for p in tpl.placeholders())
            out.append((literal, tpl, f"{service}/{rt.key}"))
    out.sort(key=lambda t: (-t[0], t[2]))
    return tuple(out)


def resource_type_of(arn: str) -> str | None:
    """``service/key`` of the anchor-service resource type an ARN belongs to, or None."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[2] not in ANCHOR_SERVICES:
        return None
    for _, tpl, name in _templates(parts[2]):
        if tpl.match(arn) is not None:
            return name
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


@functools.lru_cache(maxsize=8192)
def policy_features(raw: bytes) -> tuple[str, ...]:
    """Features of one policy (by the raw bytes of its ``document`` field)."""
    value = json.loads(raw)
    doc = json.loads(value) if isinstance(value, str) else value
    out: list[str] = []
    if not isinstance(doc, dict):
        return ()
    version = doc.get("Version")
    out.append(f"Version:{version or 'none'}")
    if "Id" in doc:
        out.append("element:Id")
    raw_statements = doc.get("Statement")
    statements = raw_statements if isinstance(raw_statements, list) else [raw_statements]
    if len(statements) > 1:
        out.append("element:several-statements")
    if isinstance(raw_statements, dict):
        out.append("element:Statement-object")
    for st in statements:
        if not isinstance(st, dict):
            continue
        out.append(f"effect:{st.get('Effect')}")
        for element in (
            "Sid",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
        ):
            if element in st:
                out.append(f"element:{element}")
        for element in ("Principal", "NotPrincipal"):
            p = st.get(element)
            if p == "*":
                out.append("principal:*")
            elif isinstance(p, dict):
                out.extend(f"principal:{k}" for k in p)
        texts = _strings(st.get("Resource", st.get("NotResource"))) + _strings(st.get("Condition"))
        if any("${" in t for t in texts):
            out.append("element:variables" if version == "2012-10-17" else "element:literal-${...}")
            if any(", '" in t for t in texts):
                out.append("element:variable-default")
            if any(e in t for t in texts for e in ("${*}", "${?}", "${$}")):
                out.append("element:variable-escape")
        actions = _strings(st.get("Action", st.get("NotAction")))
        if any("*" in a or "?" in a for a in actions):
            out.append("element:action-wildcard")
        condition = st.get("Condition")
        if isinstance(condition, dict):
            for written in condition:
                qualifier, base, if_exists = split_operator(written)
                family = FAMILY_OF.get(base)
                if family is None:
                    continue
                out.append(f"family:{family}")
                out.append(f"operator:{base}")
                if if_exists:
                    out.append(f"if-exists:{base}IfExists")
                if qualifier:
                    out.append(f"set-operator:{qualifier}")
    return tuple(out)


def _slots(case: Case) -> Iterable[tuple[str, Policy]]:
    for p in case.identity_policies:
        yield "identity", p
    if case.permissions_boundary is not None:
        yield "boundary", case.permissions_boundary
    if case.session_policy is not None:
        yield "session", case.session_policy
    if case.resource_policy is not None:
        yield "resource", case.resource_policy
    for level in case.scps:
        for p in level:
            yield "scp", p
    for level in case.rcps:
        for p in level:
            yield "rcp", p


def case_features(case: Case) -> list[str]:
    """Labels for what a case holds: slots, policy features, resource types of its requests."""
    out: list[str] = []
    for slot, policy in _slots(case):
        out.append(f"slot:{slot}")
        out.extend(policy_features(bytes(policy.document)))
    if case.scps:
        out.append(f"scp-levels:{len(case.scps)}")
    if isinstance(case.caller_arn, str):
        out.append(
            "caller:" + case.caller_arn.split(":")[5].split("/")[0]
            if case.caller_arn.count(":") >= 5
            else "caller:other"
        )
    if isinstance(case.resource_owner, str):
        out.append("owner:set")
    for r in case.requests:
        rt = resource_type_of(r.resource)
        if rt is not None:
            out.append(f"resource-type:{rt}")
        if r.context:
            out.append("request:context")
    return out


def record_events(case: Case) -> None:
    """Send :func:`case_features` to ``hypothesis.event`` (inside a test; a no-op elsewhere)."""
    from hypothesis import event
    from hypothesis.errors import InvalidArgument

    try:
        for label in sorted(set(case_features(case))):
            event(label)
    except InvalidArgument:  # not inside a test
        return


@dataclass
class GenerationStats:
    """Counters over generated cases (issue item 9)."""

    cases: int = 0
    requests: int = 0
    features: Counter[str] = field(default_factory=Counter)
    resource_types: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    aimed_decisions: Counter[str] = field(default_factory=Counter)
    invalid_cases: int = 0

    def group(self, prefix: str) -> dict[str, int]:
        return {k[len(prefix) + 1 :]: v for k, v in sorted(self.features.items()) if k.startswith(prefix + ":")}

    @staticmethod
    def shares(counter: Counter[str]) -> dict[str, float]:
        total = sum(counter.values())
        keys = ("allowed", "explicitDeny", "implicitDeny")
        return {k: (counter[k] / total if total else 0.0) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "requests": self.requests,
            "invalid_cases": self.invalid_cases,
            "operator_families": self.group("family"),
            "operators": self.group("operator"),
            "if_exists": self.group("if-exists"),
            "set_operators": self.group("set-operator"),
            "elements": self.group("element"),
            "principals": self.group("principal"),
            "versions": self.group("Version"),
            "effects": self.group("effect"),
            "slots": self.group("slot"),
            "resource_types": dict(sorted(self.resource_types.items())),
            "resource_types_missing": sorted(k for k, v in self.resource_types.items() if v == 0),
            "decisions": dict(sorted(self.decisions.items())),
            "decision_shares": self.shares(self.decisions),
            "aimed_decisions": dict(sorted(self.aimed_decisions.items())),
            "aimed_decision_shares": self.shares(self.aimed_decisions),
        }


def collect_stats(cases: Iterable[Case], aimed_policy_texts: Iterable[str] = ()) -> GenerationStats:
    """Count features, anchor resource types and reference decisions over ``cases``.

    A case counts towards ``aimed_decisions`` when one of its policies has one of the
    ``aimed_policy_texts`` as its text.
    """
    aimed = frozenset(aimed_policy_texts)
    stats = GenerationStats()
    stats.resource_types.update(dict.fromkeys(anchor_resource_types(), 0))
    cache = PolicyCache()
    for case in cases:
        stats.cases += 1
        stats.requests += len(case.requests)
        features = case_features(case)
        for f in features:
            if f.startswith("resource-type:"):
                stats.resource_types[f[len("resource-type:") :]] += 1
            else:
                stats.features[f] += 1
        try:
            result = evaluate_case(case, cache)
        except CaseInputError:
            stats.invalid_cases += 1
            continue
        is_aimed = bool(aimed) and any(p.text() in aimed for _, p in _slots(case))
        for r in result.results:
            stats.decisions[r.decision.value] += 1
            if is_aimed:
                stats.aimed_decisions[r.decision.value] += 1
    return stats
