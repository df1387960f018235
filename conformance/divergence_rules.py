"""Predicates that recognise one known divergence in one request.

A known-divergence entry (``conformance/divergences/<target>.toml``) names one
of these rules; the rule looks at the case and both answers and says whether
this entry explains the difference.  Rules are narrow on purpose: an entry
must not hide a different bug that happens to share a feature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from reference.compiled import ActionMatcher, compile_text
from reference.errors import PolicyError
from reference.evaluator import case_policies
from reference.model import Case, Policy, Request, RequestResult
from reference.patterns import resource as resource_pattern
from reference.policy import PolicyKind, Statement
from reference.variables import Escaped, Literal


@dataclass(frozen=True, slots=True)
class Observation:
    case: Case
    request: Request
    expected: RequestResult
    observed: RequestResult | None  # None when the target failed to answer


Rule = Callable[[Observation], bool]
RULES: dict[str, Rule] = {}


def rule(fn: Rule) -> Rule:
    RULES[fn.__name__] = fn
    return fn


def _policies(case: Case) -> list[tuple[Policy, PolicyKind]]:
    return [(placed.policy, placed.kind) for placed in case_policies(case)]


def _statements(case: Case) -> list[Statement]:
    out: list[Statement] = []
    for policy, kind in _policies(case):
        try:
            out.extend(compile_text(policy.text(), kind).parsed.statements)
        except PolicyError:
            continue
    return out


def _multi_valued_keys(request: Request) -> set[str]:
    """Keys given with a multi-valued (``...List``) type."""
    return {e.key.lower() for e in request.context if e.type.endswith("List")}


def _catalog_multivalued(key: str) -> bool | None:
    from reference.catalog import get_catalog

    found = get_catalog().condition_key(key)
    return None if found is None else found.multivalued


@rule
def plain_operator_on_multivalued_key(o: Observation) -> bool:
    """A condition without ForAllValues/ForAnyValue reads a key that the IAM catalog says is multivalued
    (or does not know) and that the request gives as a ``...List``."""
    multi = _multi_valued_keys(o.request)
    for s in _statements(o.case):
        for operator, keys in (s.condition or {}).items():
            if operator.startswith(("ForAllValues:", "ForAnyValue:")):
                continue
            if any(k.lower() in multi and _catalog_multivalued(k) is not False for k in keys):
                return True
    return False


def _conditions(case: Case) -> list[tuple[str, str, tuple[str, ...], str | None]]:
    """(operator, key, values, policy Version) of every condition clause of the case."""
    out = []
    for policy, kind in _policies(case):
        try:
            parsed = compile_text(policy.text(), kind).parsed
        except PolicyError:
            continue
        for s in parsed.statements:
            for operator, keys in (s.condition or {}).items():
                for key, values in keys.items():
                    out.append((operator, key, values, parsed.version))
    return out


def _base(operator: str) -> str:
    return operator.split(":")[-1].removesuffix("IfExists")


def _values_of(request: Request, key: str) -> list[str] | None:
    for e in request.context:
        if e.key.lower() == key.lower():
            return list(e.values)
    return None


@rule
def single_valued_key_with_several_values(o: Observation) -> bool:
    """A key the IAM catalog says is single-valued, given several values by the request."""
    return any(len(e.values) > 1 and _catalog_multivalued(e.key) is False for e in o.request.context)


@rule
def epoch_seconds_date_value(o: Observation) -> bool:
    """A Date operator where the policy value or the request value is written as epoch seconds."""
    for op, key, values, _ in _conditions(o.case):
        if _base(op).startswith("Date"):
            asked = _values_of(o.request, key) or []
            if any(v.isdigit() for v in (*values, *asked)):
                return True
    return False


_FRACTION = re.compile(r"\.(\d{4,})")


@rule
def sub_millisecond_date(o: Observation) -> bool:
    """A Date operator where the policy or request value has more than millisecond precision."""
    for op, key, values, _ in _conditions(o.case):
        asked = _values_of(o.request, key) or []
        if _base(op).startswith("Date") and any(_FRACTION.search(v) for v in (*values, *asked)):
            return True
    return False


@rule
def context_key_without_values(o: Observation) -> bool:
    """The request gives a context key with an empty list of values."""
    return any(not e.values for e in o.request.context)


@rule
def escape_outside_like(o: Observation) -> bool:
    """A ``${*}``/``${?}``/``${$}`` escape in the value of a String or Arn operator other than ...Like."""
    escapes = ("${*}", "${?}", "${$}")
    return any(
        version == "2012-10-17"
        and _base(op).startswith(("String", "Arn"))
        and "Like" not in op
        and any(e in v for v in vs for e in escapes)
        for op, _, vs, version in _conditions(o.case)
    )


@rule
def exponent_number(o: Observation) -> bool:
    """A Numeric operator's policy value in exponent form (``1e1``)."""
    return any(
        _base(op).startswith("Numeric") and any("e" in v.lower() for v in vs) for op, _, vs, _ in _conditions(o.case)
    )


@rule
def negated_operator_with_unreadable_value(o: Observation) -> bool:
    """A negated Numeric/Date operator whose key's request value cannot be read as its type."""
    from reference.conditions import read_instant, read_number

    readers = {"NumericNotEquals": read_number, "DateNotEquals": read_instant}
    for op, key, _, _ in _conditions(o.case):
        reader = readers.get(_base(op))
        values = _values_of(o.request, key)
        if reader is not None and values and any(reader(v) is None for v in values):
            return True
    return False


@rule
def set_operator_if_exists_without_key(o: Observation) -> bool:
    """``ForAllValues:/ForAnyValue:...IfExists`` on a key the request does not carry (or carries empty)."""
    return any(
        op.startswith(("ForAllValues:", "ForAnyValue:")) and op.endswith("IfExists") and not _values_of(o.request, key)
        for op, key, _, _ in _conditions(o.case)
    )


def _unknown_keys(o: Observation) -> tuple[bool, bool]:
    """(a condition key unknown to the catalog, a known service key not listed for the requested action)."""
    from reference.catalog import get_catalog

    catalog = get_catalog()
    action = catalog.action(o.request.action)
    listed: set[str] = set()
    if action is not None:
        listed = {k.lower() for k in action.condition_keys}
        for rt in action.resource_types:
            listed |= {k.lower() for k in rt.condition_keys}
    unknown = other_action = False
    for _, key, _, _ in _conditions(o.case):
        found = catalog.condition_key(key)
        if found is None:
            unknown = True
        elif not found.is_global and found.name.lower() not in listed:
            other_action = True
    return unknown, other_action


@rule
def key_unknown_to_the_catalog(o: Observation) -> bool:
    """A condition key that neither the global key table nor any service of the IAM catalog knows."""
    return _unknown_keys(o)[0]


@rule
def global_key_unknown_to_iam_simulate(o: Observation) -> bool:
    """A global condition key (in the User Guide's list) that iam-simulate's installed catalogue lacks."""
    from conformance.targets.iam_simulate import known_global_keys

    theirs = known_global_keys()
    if not theirs:
        return False
    for _, key, _, _ in _conditions(o.case):
        lower = key.lower()
        prefix = lower.split("/")[0] + "/" if "/" in lower else lower
        if lower.startswith("aws:") and prefix not in theirs:
            return True
    return False


@rule
def key_of_another_action(o: Observation) -> bool:
    """A service condition key the IAM catalog does not list for the requested action or its resource types."""
    return _unknown_keys(o)[1]


@rule
def variables_under_old_version(o: Observation) -> bool:
    """A policy without ``"Version": "2012-10-17"`` whose text holds ``${``."""
    for policy, kind in _policies(o.case):
        try:
            parsed = compile_text(policy.text(), kind).parsed
        except PolicyError:
            continue
        if parsed.version != "2012-10-17" and "${" in parsed.document.text:
            return True
    return False


@rule
def resource_policy_grants_session_with_session_policy(o: Observation) -> bool:
    """A resource policy names the caller's session ARN (or ``*``) while a session policy is present."""
    if o.case.session_policy is None or o.case.resource_policy is None:
        return False
    text = o.case.resource_policy.text()
    return o.case.caller in text or '"*"' in text


@rule
def rcp_level_without_allow(o: Observation) -> bool:
    """An RCP level none of whose policies has an Allow statement."""
    for level in o.case.rcps:
        statements: list[Statement] = []
        for policy in level:
            try:
                statements += compile_text(policy.text(), "rcp").parsed.statements
            except PolicyError:
                continue
        if not any(s.effect == "Allow" for s in statements):
            return True
    return False


@rule
def rcp_on_unsupported_service(o: Observation) -> bool:
    """RCPs are present and the requested service does not support them."""
    from reference.catalog import get_catalog

    service = o.request.action.split(":", 1)[0].lower()
    return bool(o.case.rcps) and service not in get_catalog().rcp_supported_services()


@rule
def not_ip_address_bare_address_other_version(o: Observation) -> bool:
    """NotIpAddress with a bare address (no ``/prefix``) of the other IP version than a request value."""
    for op, key, values, _ in _conditions(o.case):
        if _base(op) != "NotIpAddress":
            continue
        asked = _values_of(o.request, key) or []
        for v in values:
            if "/" not in v and any((":" in v) != (":" in a) for a in asked):
                return True
    return False


@rule
def null_on_empty_value(o: Observation) -> bool:
    """A Null condition on a key the request carries with no value or only empty strings."""
    for op, key, _, _ in _conditions(o.case):
        asked = _values_of(o.request, key)
        if _base(op) == "Null" and asked is not None and all(v == "" for v in asked):
            return True
    return False


@rule
def ipv4_zero_prefix(o: Observation) -> bool:
    """An IpAddress/NotIpAddress value that is an IPv4 range with prefix length 0 (``0.0.0.0/0``)."""
    return any(
        _base(op) in ("IpAddress", "NotIpAddress") and any(v.endswith("/0") and ":" not in v for v in values)
        for op, _, values, _ in _conditions(o.case)
    )


@rule
def resource_prefix_not_lower_case(o: Observation) -> bool:
    """The request resource's partition, service or region segment has upper-case letters."""
    parts = o.request.resource.split(":", 5)
    return len(parts) == 6 and any(p != p.lower() for p in parts[1:4])


@rule
def arn_operator_on_non_arn_value(o: Observation) -> bool:
    """An Arn operator reads a key whose request value does not start with ``arn:``."""
    for op, key, _, _ in _conditions(o.case):
        if _base(op).startswith("Arn") and any(not v.startswith("arn:") for v in _values_of(o.request, key) or []):
            return True
    return False


@rule
def kms_without_key_policy(o: Observation) -> bool:
    """A KMS request in a case without a resource (key) policy."""
    return o.request.action.lower().startswith("kms:") and o.case.resource_policy is None


@rule
def scp_statements_left_out(o: Observation) -> bool:
    """The observed matched statements are the expected ones without those of SCPs."""
    if o.observed is None:
        return False
    expected = {(m.policy_id, m.statement_index) for m in o.expected.matched_statements}
    observed = {(m.policy_id, m.statement_index) for m in o.observed.matched_statements}
    extra = {(m.policy_id, m.statement_index) for m in o.expected.matched_statements if m.policy_type == "scp"}
    return bool(extra) and observed == expected - extra


@rule
def scp_keys_left_out(o: Observation) -> bool:
    """The observed missing context values are the expected ones without keys only SCPs read."""
    if o.observed is None:
        return False
    scp_keys: set[str] = set()
    other_keys: set[str] = set()
    for policy, kind in _policies(o.case):
        try:
            compiled = compile_text(policy.text(), kind)
        except PolicyError:
            continue
        for st in compiled.statements:
            (scp_keys if kind == "scp" else other_keys).update(k.lower() for k in st.keys)
    only_scp = scp_keys - other_keys
    expected = {k.lower() for k in o.expected.missing_context_values}
    observed = {k.lower() for k in o.observed.missing_context_values}
    return bool(expected & only_scp) and observed == expected - only_scp


def _question_marks_literal(pattern: str) -> tuple[Literal | Escaped, ...]:
    """The Resource pattern with every ``?`` literal (its ``*`` still wildcards)."""
    out: list[Literal | Escaped] = []
    for i, piece in enumerate(pattern.split("?")):
        if i:
            out.append(Escaped("?"))
        if piece:
            out.append(Literal(piece))
    return tuple(out)


@rule
def question_mark_in_resource(o: Observation) -> bool:
    """A statement whose Action covers the request has a Resource/NotResource pattern that matches the
    request's resource only because its ``?`` stands for one character (read literally, it would not)."""
    action = o.request.action.lower()
    for s in _statements(o.case):
        if not ActionMatcher.of(s.actions, s.action_negated).matches(action):
            continue
        for pattern in s.resources:
            if "?" not in pattern or "${" in pattern:
                continue
            wild = resource_pattern(pattern).fullmatch(o.request.resource) is not None
            literal = resource_pattern(_question_marks_literal(pattern)).fullmatch(o.request.resource) is not None
            if wild and not literal:
                return True
    return False
