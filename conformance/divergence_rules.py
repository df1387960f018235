"""Predicates that recognise one known divergence in one request.

A known-divergence entry (``conformance/divergences/<target>.toml``) names one
of these rules; the rule says whether the entry's divergence explains the
difference between the reference's answer and the target's.  Rules are narrow
on purpose: an entry must not hide a different bug that happens to share a
feature.  So every rule

- looks only at the statements that apply to the request (action, resource and
  principal matched, ``Observation.applicable``) and at the clauses and keys
  those statements read, never at the rest of the case; and
- where the divergence can be modelled, asks the reference what it would
  answer if the peer's behaviour were true (a condition read the other way, a
  context key dropped, ...) and fires only when that gives the observed
  decision.

Which way the decision went is checked again by the entry itself (its
``directions``, ``conformance.divergences``).  ``tests/test_divergence_rules_negative.py``
shows each rule silent where its trigger is absent; the witnesses show it fires.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable

import msgspec

from conformance.divergence_view import Observation
from reference.catalog import get_catalog
from reference.conditions import Clause, read_instant, read_number
from reference.evaluator import RCP, RESOURCE, SESSION, Applicable
from reference.model import Case, Decision, Policy
from reference.principals import PrincipalMatch

__all__ = ["RULES", "Observation", "Rule"]

Rule = Callable[[Observation], bool]
RULES: dict[str, Rule] = {}


def rule(fn: Rule) -> Rule:
    RULES[fn.__name__] = fn
    return fn


def _catalog_multivalued(key: str) -> bool | None:
    found = get_catalog().condition_key(key)
    return None if found is None else found.multivalued


def _base(clause: Clause) -> str:
    return clause.operator.base


def _negating(o: Observation, trigger: Callable[[Applicable, Clause], bool]) -> bool:
    """A clause read the other way by the peer: fires when some statement in force has a clause with the
    trigger and reading that statement's Condition the other way gives the observed decision."""
    return o.observed_by_negating(a for a, clause in o.clauses() if trigger(a, clause))


# -- conditions read differently by the peer (modelled by negating the statement's Condition) ------------


@rule
def plain_operator_on_multivalued_key(o: Observation) -> bool:
    """A condition without ForAllValues/ForAnyValue, in a statement that applies, reads a key that the
    IAM catalog says is multivalued (or does not know) and that the request gives as a ``...List``."""

    def trigger(_: Applicable, c: Clause) -> bool:
        found = o.context.get(c.key)
        return (
            c.operator.qualifier is None
            and _base(c) != "Null"
            and found is not None
            and found.is_list
            and _catalog_multivalued(c.key) is not False
        )

    return _negating(o, trigger)


@rule
def epoch_seconds_date_value(o: Observation) -> bool:
    """A Date condition of an applying statement on a key the request carries, where the policy value or
    the request value is written as epoch seconds."""

    def trigger(_: Applicable, c: Clause) -> bool:
        asked = o.values_of(c.key)
        return _base(c).startswith("Date") and bool(asked) and any(v.isdigit() for v in (*c.values, *(asked or ())))

    return _negating(o, trigger)


_FRACTION = re.compile(r"\.(\d{4,})")


@rule
def sub_millisecond_date(o: Observation) -> bool:
    """A Date condition of an applying statement on a key the request carries, where the policy or request
    value has more than millisecond precision."""

    def trigger(_: Applicable, c: Clause) -> bool:
        asked = o.values_of(c.key) or ()
        return _base(c).startswith("Date") and bool(asked) and any(_FRACTION.search(v) for v in (*c.values, *asked))

    return _negating(o, trigger)


@rule
def escape_outside_like(o: Observation) -> bool:
    """A ``${*}``/``${?}``/``${$}`` escape in the value of a String or Arn condition other than ...Like, in an
    applying statement of a 2012-10-17 policy, on a key the request carries."""
    escapes = ("${*}", "${?}", "${$}")

    def trigger(a: Applicable, c: Clause) -> bool:
        return (
            a.slot.compiled.parsed.variables_enabled
            and _base(c).startswith(("String", "Arn"))
            and "Like" not in _base(c)
            and o.values_of(c.key) is not None
            and any(e in v for v in c.values for e in escapes)
        )

    return _negating(o, trigger)


@rule
def exponent_number(o: Observation) -> bool:
    """A Numeric condition of an applying statement, on a key the request carries, whose policy value is in
    exponent form (``1e1``)."""

    def trigger(_: Applicable, c: Clause) -> bool:
        return _base(c).startswith("Numeric") and bool(o.values_of(c.key)) and any("e" in v.lower() for v in c.values)

    return _negating(o, trigger)


@rule
def negated_operator_with_unreadable_value(o: Observation) -> bool:
    """A NumericNotEquals/DateNotEquals condition of an applying statement whose key's request value cannot
    be read as its type."""
    readers = {"NumericNotEquals": read_number, "DateNotEquals": read_instant}

    def trigger(_: Applicable, c: Clause) -> bool:
        reader = readers.get(_base(c))
        asked = o.values_of(c.key)
        return reader is not None and bool(asked) and any(reader(v) is None for v in asked or ())

    return _negating(o, trigger)


@rule
def set_operator_if_exists_without_key(o: Observation) -> bool:
    """``ForAllValues:/ForAnyValue:...IfExists`` in an applying statement, on a key the request does not
    carry (or carries empty)."""

    def trigger(_: Applicable, c: Clause) -> bool:
        return c.operator.qualifier is not None and c.operator.if_exists and not o.values_of(c.key)

    return _negating(o, trigger)


@rule
def not_ip_address_bare_address_other_version(o: Observation) -> bool:
    """NotIpAddress in an applying statement with a bare address (no ``/prefix``) of the other IP version
    than a request value of its key."""

    def trigger(_: Applicable, c: Clause) -> bool:
        asked = o.values_of(c.key) or ()
        return _base(c) == "NotIpAddress" and any(
            "/" not in v and any((":" in v) != (":" in a) for a in asked) for v in c.values
        )

    return _negating(o, trigger)


@rule
def null_on_empty_value(o: Observation) -> bool:
    """A Null condition in an applying statement on a key the request carries with only empty strings."""

    def trigger(_: Applicable, c: Clause) -> bool:
        asked = o.values_of(c.key)
        return _base(c) == "Null" and asked is not None and all(v == "" for v in asked)

    return _negating(o, trigger)


@rule
def ipv4_zero_prefix(o: Observation) -> bool:
    """An IpAddress/NotIpAddress condition in an applying statement, on a key the request carries, with an
    IPv4 range of prefix length 0 (``0.0.0.0/0``)."""

    def trigger(_: Applicable, c: Clause) -> bool:
        return (
            _base(c) in ("IpAddress", "NotIpAddress")
            and bool(o.values_of(c.key))
            and any(v.endswith("/0") and ":" not in v for v in c.values)
        )

    return _negating(o, trigger)


@rule
def arn_operator_on_non_arn_value(o: Observation) -> bool:
    """An Arn condition in an applying statement reads a key whose request value does not start with ``arn:``."""

    def trigger(_: Applicable, c: Clause) -> bool:
        return _base(c).startswith("Arn") and any(not v.startswith("arn:") for v in o.values_of(c.key) or ())

    return _negating(o, trigger)


# -- context keys the peer drops or cuts (modelled by changing the request) -----------------------------


def _set_operator_if_exists(clause: Clause) -> bool:
    """How iam-simulate reads a set-operator IfExists clause on an absent key: false, where the reference
    says true (entry ``set-operator-if-exists-without-key``).  A key it drops is absent to it in that way too."""
    return clause.operator.qualifier is not None and clause.operator.if_exists


def _read_and_carried(o: Observation, keep: Callable[[str], bool]) -> list[str]:
    """Keys read by the statements in force, carried by the request, for which ``keep`` holds."""
    return [k for k in o.read_keys().values() if o.context.has(k) and keep(k)]


@rule
def key_unknown_to_the_catalog(o: Observation) -> bool:
    """An applying statement reads a context key, carried by the request, that neither the global key
    table nor any service of the IAM catalog knows; dropping it (absent as iam-simulate reads absence)
    gives the observed decision."""
    catalog = get_catalog()
    return o.observed_without_keys(
        _read_and_carried(o, lambda k: catalog.condition_key(k) is None), _set_operator_if_exists
    )


@functools.cache
def _iam_simulate_global_keys() -> frozenset[str]:
    from conformance.targets.iam_simulate import known_global_keys

    return known_global_keys()


@rule
def global_key_unknown_to_iam_simulate(o: Observation) -> bool:
    """An applying statement reads a global key (``aws:``), carried by the request, that iam-simulate's
    installed catalogue lacks; dropping it (absent as iam-simulate reads absence) gives the observed decision."""
    theirs = _iam_simulate_global_keys()
    if not theirs:
        return False

    def unknown(key: str) -> bool:
        lower = key.lower()
        prefix = lower.split("/")[0] + "/" if "/" in lower else lower
        return lower.startswith("aws:") and prefix not in theirs

    return o.observed_without_keys(_read_and_carried(o, unknown), _set_operator_if_exists)


@rule
def key_of_another_action(o: Observation) -> bool:
    """An applying statement reads a service condition key, carried by the request, that the IAM catalog
    does not list for the requested action or its resource types; dropping it (absent as iam-simulate
    reads absence) gives the observed decision."""
    catalog = get_catalog()
    action = catalog.action(o.request.action)
    listed: set[str] = set()
    if action is not None:
        listed = {k.lower() for k in action.condition_keys}
        for rt in action.resource_types:
            listed |= {k.lower() for k in rt.condition_keys}

    def other(key: str) -> bool:
        found = catalog.condition_key(key)
        return found is not None and not found.is_global and found.name.lower() not in listed

    return o.observed_without_keys(_read_and_carried(o, other), _set_operator_if_exists)


@rule
def single_valued_key_with_several_values(o: Observation) -> bool:
    """An applying statement reads a key the IAM catalog says is single-valued, which the request gives
    several values; keeping only the first gives the observed decision."""
    read = o.read_keys()
    cut = [
        msgspec.structs.replace(e, values=e.values[:1])
        if e.key.lower() in read and len(e.values) > 1 and _catalog_multivalued(e.key) is False
        else e
        for e in o.request.context
    ]
    return o.observed_with_context(cut)


@rule
def context_key_without_values(o: Observation) -> bool:
    """A condition of a statement whose Action covers the request reads a context key the request gives
    with an empty list of values (a failure: the entry names its message).  Resource and Principal are not
    required to match: iam-simulate evaluates the condition of such a statement anyway and throws (measured:
    corpus/iam-simulate/crash-on-key-without-values-resource-not-matched.json, a NotResource "*" statement)."""
    empty = {e.key.lower() for e in o.request.context if not e.values}
    if not empty:
        return False
    action = o.request.action.lower()
    return any(
        st.condition is not None and any(c.key.lower() in empty for c in st.condition.clauses)
        for slot in o.prepared.slots
        for st in slot.compiled.candidates(action)
    )


# -- policy types ---------------------------------------------------------------------------------------


@rule
def variables_under_old_version(o: Observation) -> bool:
    """A policy without ``"Version": "2012-10-17"`` whose statements for the action hold ``${``; reading it
    as 2012-10-17 (variables substituted) gives the observed decision."""
    changed: dict[str, Policy] = {}
    for slot in o.prepared.slots:
        parsed = slot.compiled.parsed
        if parsed.variables_enabled:
            continue
        for st in slot.compiled.candidates(o.request.action.lower()):
            if "${" in json.dumps([st.statement.resources, st.statement.condition]):
                document = json.loads(parsed.document.text)
                if isinstance(document, dict):
                    document["Version"] = "2012-10-17"
                    changed[slot.policy_id] = Policy.of(slot.policy_id, document)
                break
    return bool(changed) and o.observed_with(case=_replace_policies(o.case, changed))


def _replace_policies(case: Case, changed: dict[str, Policy]) -> Case:
    def swap(p: Policy) -> Policy:
        new = changed.get(p.id)
        return p if new is None else msgspec.structs.replace(p, document=new.document)

    def one(p: Policy | None) -> Policy | None:
        return None if p is None else swap(p)

    return msgspec.structs.replace(
        case,
        identity_policies=[swap(p) for p in case.identity_policies],
        permissions_boundary=one(case.permissions_boundary),
        session_policy=one(case.session_policy),
        resource_policy=one(case.resource_policy),
        scps=[[swap(p) for p in level] for level in case.scps],
        rcps=[[swap(p) for p in level] for level in case.rcps],
    )


@rule
def resource_policy_grants_session_with_session_policy(o: Observation) -> bool:
    """An applying Allow of the resource policy names the caller's session (its ARN or ``*``) and holds,
    while the session policy has no applying Allow that holds: the grant the peer limits."""
    grants = any(
        a.slot.role == RESOURCE and a.statement.allow and a.condition_holds and a.principal == PrincipalMatch.SESSION
        for a in o.in_force
    )
    session_allows = any(a.slot.role == SESSION and a.statement.allow and a.condition_holds for a in o.in_force)
    return o.case.session_policy is not None and grants and not session_allows


_RCP_FULL_ACCESS = Policy.of(
    "RCPFullAWSAccess",
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]},
    "rcp",
)


@rule
def rcp_level_without_allow(o: Observation) -> bool:
    """RCPs apply to the request and a level has no applying Allow that holds; adding RCPFullAWSAccess to
    every level (what the peer does) gives the observed decision."""
    allowed = {a.slot.level for a in o.in_force if a.slot.role == RCP and a.statement.allow and a.condition_holds}
    if not o.case.rcps or not _rcps_cover(o) or all(level in allowed for level in range(len(o.case.rcps))):
        return False
    return o.observed_with(case=msgspec.structs.replace(o.case, rcps=[[*lvl, _RCP_FULL_ACCESS] for lvl in o.case.rcps]))


def _rcps_cover(o: Observation) -> bool:
    service = o.request.action.split(":", 1)[0].lower()
    return service in get_catalog().rcp_supported_services()


@rule
def rcp_on_unsupported_service(o: Observation) -> bool:
    """RCPs are present, the requested service does not support them, and applied they would deny the
    request the way the target did: explicitly when an applying RCP Deny holds, implicitly when a level has
    no applying Allow that holds."""
    if not o.case.rcps or _rcps_cover(o):
        return False
    rcp = [a for a in o.applicable if a.slot.role == RCP and a.condition_holds]
    allowed = {a.slot.level for a in rcp if a.statement.allow}
    if any(not a.statement.allow for a in rcp):
        denied: Decision | None = Decision.EXPLICIT_DENY
    elif not all(level in allowed for level in range(len(o.case.rcps))):
        denied = Decision.IMPLICIT_DENY
    else:
        denied = None
    return denied is not None and (o.observed is None or o.observed.decision == denied)


@rule
def resource_prefix_not_lower_case(o: Observation) -> bool:
    """The request resource's partition, service or region segment has upper-case letters, and matching it
    in lower case (as the peer does) gives the observed decision."""
    parts = o.request.resource.split(":", 5)
    if len(parts) != 6 or all(p == p.lower() for p in parts[1:4]):
        return False
    lowered = ":".join([parts[0], *(p.lower() for p in parts[1:4]), *parts[4:]])
    return o.observed_with(request=msgspec.structs.replace(o.request, resource=lowered))


@rule
def kms_without_key_policy(o: Observation) -> bool:
    """A KMS request, allowed by the reference through identity policies alone, in a case without a
    resource (key) policy; the peer denies it (the entry's direction)."""
    return (
        o.request.action.lower().startswith("kms:")
        and o.case.resource_policy is None
        and any(a.slot.role == "identity" and a.statement.allow and a.condition_holds for a in o.in_force)
    )


# -- the AWS simulator's reporting -----------------------------------------------------------------------


@rule
def scp_statements_left_out(o: Observation) -> bool:
    """The observed matched statements are exactly the expected ones without those of SCPs."""
    if o.observed is None:
        return False
    expected = {(m.policy_id, m.statement_index) for m in o.expected.matched_statements}
    observed = {(m.policy_id, m.statement_index) for m in o.observed.matched_statements}
    extra = {(m.policy_id, m.statement_index) for m in o.expected.matched_statements if m.policy_type == "scp"}
    return bool(extra) and observed == expected - extra


@rule
def scp_keys_left_out(o: Observation) -> bool:
    """The observed missing context values are exactly the expected ones without keys only SCPs read."""
    if o.observed is None:
        return False
    scp_keys: set[str] = set()
    other_keys: set[str] = set()
    for slot in o.prepared.slots:
        for st in slot.compiled.statements:
            (scp_keys if slot.role == "scp" else other_keys).update(k.lower() for k in st.keys)
    only_scp = scp_keys - other_keys
    expected = {k.lower() for k in o.expected.missing_context_values}
    observed = {k.lower() for k in o.observed.missing_context_values}
    return bool(expected & only_scp) and observed == expected - only_scp


# -- resources ------------------------------------------------------------------------------------------------


def _wildcard_in_type_part(pattern: str) -> bool:
    """A ``*`` or ``?`` before the first "/" of the ARN's resource part (``...:HAN?/app1``, ``...:inst*/i-1``)."""
    parts = pattern.split(":", 5)
    if len(parts) != 6 or "/" not in parts[5]:
        return False
    head = parts[5].split("/", 1)[0]
    return "*" in head or "?" in head


@rule
def wildcard_in_resource_type_part(o: Observation) -> bool:
    """A statement in force whose Condition holds covers the request's resource only through Resource patterns
    with a wildcard in the resource-type part, and leaving that statement out (the peer never matches such a
    pattern) gives the observed decision."""
    from reference.patterns import resource as resource_pattern

    chosen = []
    for a in o.in_force:
        s = a.statement.statement
        if s.resource_negated or not a.condition_holds:
            continue
        covering = [r for r in s.resources if resource_pattern(r).fullmatch(o.request.resource)]
        if covering and all(_wildcard_in_type_part(r) for r in covering):
            chosen.append(a)
    return o.observed_by_negating(chosen)


# -- service-specific rules the peer models differently (reference/service_rules.py) ---------------------------


def _without_service_rules_gives_observed(o: Observation, wanted: object) -> bool:
    """The request is governed by ``wanted`` (a reference.service_rules rule) and the reference without its
    service-specific rules gives the observed decision."""
    from reference import service_rules

    if service_rules.applicable(o.request.action.lower(), o.request.resource) is not wanted:
        return False
    return o.observed_with(case=msgspec.structs.replace(o.case, service_rules=False))


@rule
def assume_role_without_trust_policy(o: Observation) -> bool:
    """sts:AssumeRole on a role, no trust (resource) policy in the case, and the peer answers as if no trust
    policy were needed."""
    from reference import service_rules

    return o.case.resource_policy is None and _without_service_rules_gives_observed(o, service_rules.STS_TRUST_POLICY)


@rule
def service_linked_role_changed(o: Observation) -> bool:
    """An IAM action that changes a service-linked role, and the peer answers as if it could be changed."""
    from reference import service_rules

    return "aws-service-role/" in o.request.resource and _without_service_rules_gives_observed(
        o, service_rules.NOT_CHANGEABLE
    )
