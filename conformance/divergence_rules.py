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
from typing import Any

import msgspec

from conformance.divergence_view import Observation
from reference.catalog import get_catalog
from reference.conditions import Clause, read_instant, read_number
from reference.evaluator import RCP, RESOURCE, SESSION, Applicable
from reference.model import Case, Decision, Policy, Request
from reference.principals import PrincipalMatch
from reference.variables import Escaped, Literal

__all__ = ["LENSES", "RULES", "Lens", "Observation", "Rule"]

Rule = Callable[[Observation], bool]
RULES: dict[str, Rule] = {}


def rule(fn: Rule) -> Rule:
    RULES[fn.__name__] = fn
    return fn


Lens = Callable[[Observation], "Observation | None"]
# Rules whose divergence is a way the peer reads the request (keys it drops) rather than a way it decides:
# another divergence may then happen on the request as the peer reads it (``conformance.divergences``
# tries the other rules through the lens, once).  Rule name -> the observation through the peer's eyes.
LENSES: dict[str, Lens] = {}


def lens(rule_name: str) -> Callable[[Lens], Lens]:
    def register(fn: Lens) -> Lens:
        LENSES[rule_name] = fn
        return fn

    return register


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
def set_operator_on_empty_value(o: Observation) -> bool:
    """A ForAllValues/ForAnyValue condition in an applying statement on a key the request carries with at
    least one value, all of them empty strings (an empty data set to the reference; the peer compares
    ``""`` as a value).  A key with no values at all is another entry's (``context_key_without_values``)."""

    def trigger(_: Applicable, c: Clause) -> bool:
        asked = o.values_of(c.key)
        return c.operator.qualifier is not None and bool(asked) and all(v == "" for v in asked or ())

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


def _keys_of_other_actions(o: Observation, *, read_only: bool = True) -> list[str]:
    """Service condition keys carried by the request (and read by the statements in force, with
    ``read_only``) that the IAM catalog does not list for the requested action or its resource types."""
    catalog = get_catalog()
    action = catalog.action(o.request.action)
    listed: set[str] = set()
    if action is not None:
        listed = {k.lower() for k in action.condition_keys}
        for rt in action.resource_types:
            listed |= {k.lower() for k in rt.condition_keys}

    def other(key: str) -> bool:
        # iam-simulate keeps the cross-service keys its catalogue lists beside the global ones
        # (ssm:SourceInstanceArn, lambda:SourceFunctionArn, ...): those are not another action's.
        found = catalog.condition_key(key)
        return (
            found is not None
            and not found.is_global
            and found.name.lower() not in listed
            and key.lower() not in _iam_simulate_global_keys()
        )

    if read_only:
        return _read_and_carried(o, other)
    return [e.key for e in o.request.context if other(e.key)]


@rule
def key_of_another_action(o: Observation) -> bool:
    """An applying statement reads a service condition key, carried by the request, that the IAM catalog
    does not list for the requested action or its resource types; dropping it (absent as iam-simulate
    reads absence) gives the observed decision."""
    return o.observed_without_keys(_keys_of_other_actions(o), _set_operator_if_exists)


@lens("key_of_another_action")
def without_keys_of_other_actions(o: Observation) -> Observation | None:
    """The request as a peer that drops keys of other actions reads it (None: it drops none).  Every such
    key: the peer drops it whoever reads it (an RCP the reference leaves out, say)."""
    return o.without_keys(_keys_of_other_actions(o, read_only=False))


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
    corpus/iam-simulate/crash-on-key-without-values-resource-not-matched.json, a NotResource "*" statement).
    A set-operator clause (ForAllValues / ForAnyValue) on such a key throws even in a statement whose Action
    does not cover the request (measured: corpus/iam-simulate/crash-on-key-without-values-action-not-matched.json;
    a plain operator there does not throw)."""
    empty = {e.key.lower() for e in o.request.context if not e.values}
    if o.observed is not None or not empty:  # it explains the throw, never a decision
        return False
    action = o.request.action.lower()
    for slot in o.prepared.slots:
        covering = {id(st) for st in slot.compiled.candidates(action)}
        for st in slot.compiled.statements:
            if st.condition is None:
                continue
            for c in st.condition.clauses:
                if c.key.lower() in empty and (id(st) in covering or c.operator.qualifier is not None):
                    return True
    return False


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

_VARIABLE = re.compile(r"\$\{[^}]*\}")
# Stands for a ':' of an ARN's resource part in the what-if below: a character no ARN segment rule treats
# as a separator (a private-use code point, in no real ARN or pattern).
_NOT_A_COLON = "\ue000"


def _resource_part(arn: str) -> str:
    """What follows the fifth ':' of an ARN ("" for a shorter one)."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 else ""


def _colons_hidden(arn: str) -> str:
    """``arn`` with the colons of its resource part (after the fifth ':', outside ``${...}``) replaced by a
    character that is not a separator."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return arn
    rest, out, at = parts[5], [], 0
    for m in _VARIABLE.finditer(rest):
        out.append(rest[at : m.start()].replace(":", _NOT_A_COLON))
        out.append(m.group())
        at = m.end()
    out.append(rest[at:].replace(":", _NOT_A_COLON))
    return ":".join([*parts[:5], "".join(out)])


def _mid_segment_star(pattern: str) -> bool:
    """A ``*`` in the resource part of an ARN pattern followed by more of its segment (not by ':' or the end)."""
    rest = _resource_part(_VARIABLE.sub("v", pattern))
    return any(c == "*" and i + 1 < len(rest) and rest[i + 1] != ":" for i, c in enumerate(rest))


def _resources_with_colons_hidden(document: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(document.get("Statement"), (dict, list)):
        return document
    statements = document["Statement"]
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict):
            continue
        for element in ("Resource", "NotResource"):
            value = st.get(element)
            if isinstance(value, str):
                st[element] = _colons_hidden(value)
            elif isinstance(value, list):
                st[element] = [_colons_hidden(v) if isinstance(v, str) else v for v in value]
    return document


@rule
def mid_segment_star_crosses_colons(o: Observation) -> bool:
    """A statement whose Action covers the request has a Resource pattern with a ``*`` inside a segment of
    the resource part (``.../home/*.txt``), the request's resource part holds a ':', and matching with
    every colon of the resource parts (request and patterns) taken as an ordinary character (what the peer
    does: its ``*`` crosses colons) gives the observed decision."""
    if ":" not in _resource_part(o.request.resource):
        return False
    action = o.request.action.lower()
    if not any(
        _mid_segment_star(pattern)
        for slot in o.prepared.slots
        for st in slot.compiled.candidates(action)
        for pattern in st.statement.resources
    ):
        return False
    changed: dict[str, Policy] = {}
    for slot in o.prepared.slots:
        document = json.loads(slot.compiled.parsed.document.text)
        if isinstance(document, dict):
            changed[slot.policy_id] = Policy.of(slot.policy_id, _resources_with_colons_hidden(document))
    request = msgspec.structs.replace(o.request, resource=_colons_hidden(o.request.resource))
    return o.observed_with(case=_replace_policies(o.case, changed), request=request)


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


# --------------------------------------------------------------------------- emulators (moto, LocalStack)
# These rules recognise an emulator's departure by what AWS would decide on a changed case: the
# observed decision must be the reference's answer once the emulator's simplification is applied
# (NotResource read as "*", the resource read as "*", ...), and differ from the expected one.


def _rewritten(case: Case, change: Callable[[dict[str, object]], dict[str, object]]) -> Case:
    """The case with ``change`` applied to every statement of its identity policies and boundary."""
    import json

    import msgspec

    def policy(p: Policy) -> Policy:
        try:
            document = json.loads(p.text())
        except ValueError:
            return p
        statements = document.get("Statement")
        if isinstance(statements, dict):
            document["Statement"] = change(dict(statements))
        elif isinstance(statements, list):
            document["Statement"] = [change(dict(s)) if isinstance(s, dict) else s for s in statements]
        return msgspec.structs.replace(p, document=msgspec.Raw(msgspec.json.encode(json.dumps(document, indent=2))))

    boundary = case.permissions_boundary
    return msgspec.structs.replace(
        case,
        identity_policies=[policy(p) for p in case.identity_policies],
        permissions_boundary=None if boundary is None else policy(boundary),
    )


def _decision(case: Case, request: Request) -> str | None:
    """The reference's allowed/denied on one request of a (changed) case."""
    import msgspec

    from reference.compiled import PolicyCache
    from reference.evaluator import CaseInputError, evaluate_case

    try:
        result = evaluate_case(msgspec.structs.replace(case, requests=[request]), PolicyCache()).results[0]
    except CaseInputError:
        return None
    return "allowed" if result.decision.value == "allowed" else "denied"


def _observed(o: Observation) -> str | None:
    if o.observed is None:
        return None
    return "allowed" if o.observed.decision.value == "allowed" else "denied"


def _explained_by(o: Observation, case: Case, request: Request | None = None) -> bool:
    """The observed outcome is the reference's on the changed case, and the change made the difference."""
    observed = _observed(o)
    expected = "allowed" if o.expected.decision.value == "allowed" else "denied"
    return observed is not None and observed != expected and _decision(case, request or o.request) == observed


NO_MATCH_ACTION = "iamconf:NoSuchAction"
NO_MATCH_RESOURCE = "arn:aws:iamconf:::no-such-resource"


def _regex_match(pattern: object, value: str) -> bool:
    """moto's statement matching (moto/iam/access_control.py, measured): the pattern as a regular
    expression with ``*`` as ``.*``, anchored, case-sensitive; ``?`` and ``.`` keep their regex meaning."""
    try:
        return re.match(f"^{str(pattern).replace('*', '.*')}$", value) is not None
    except re.error:
        return False


def _as_regex(s: dict[str, object], element: str, value: str, no_match: str) -> dict[str, object]:
    """The statement with each pattern of ``element`` replaced by ``value`` where moto's matching
    matches it, and by a value nothing matches elsewhere."""
    if element not in s:
        return s
    raw = s[element]
    patterns = raw if isinstance(raw, list) else [raw]
    s[element] = [value if _regex_match(p, value) else no_match for p in patterns]
    return s


def _moto_actions(request: Request) -> Callable[[dict[str, object]], dict[str, object]]:
    def change(s: dict[str, object]) -> dict[str, object]:
        s = _as_regex(s, "Action", request.action, NO_MATCH_ACTION)
        return _as_regex(s, "NotAction", request.action, NO_MATCH_ACTION)

    return change


def _moto_resources(request: Request) -> Callable[[dict[str, object]], dict[str, object]]:
    return lambda s: _as_regex(s, "Resource", request.resource, NO_MATCH_RESOURCE)


def _not_resource_as_star(s: dict[str, object]) -> dict[str, object]:
    """moto (access_control.py): a statement without ``Resource`` permits once its action matches, whatever
    its Effect; a NotResource statement has no ``Resource``."""
    if "NotResource" in s:
        s = {k: v for k, v in s.items() if k not in ("NotResource", "Effect")}
        s["Effect"] = "Allow"
        s["Resource"] = "*"
    return s


@rule
def action_matched_as_regex(o: Observation) -> bool:
    """moto: Action/NotAction patterns matched as case-sensitive regular expressions (``?`` is not a
    one-character wildcard, the action's letter case counts)."""
    return _explained_by(o, _rewritten(o.case, _moto_actions(o.request)))


@rule
def resource_matched_as_regex(o: Observation) -> bool:
    """moto: Resource patterns matched as regular expressions (``?`` is not a one-character wildcard)."""
    return _explained_by(o, _rewritten(o.case, _moto_resources(o.request)))


@rule
def moto_statement_matching(o: Observation) -> bool:
    """moto's statement matching as a whole: actions and resources as regular expressions, NotResource
    statements permitting, IAM user calls authorized against ``*`` (several at once)."""
    import msgspec

    request = o.request
    if request.action.lower().startswith("iam:") and ":user/" in request.resource:
        request = msgspec.structs.replace(request, resource="*")
    actions, resources = _moto_actions(request), _moto_resources(request)
    case = _rewritten(o.case, lambda s: _not_resource_as_star(resources(actions(s))))
    return _explained_by(o, case, request)


@rule
def not_resource_always_matches(o: Observation) -> bool:
    """moto: an Allow statement with NotResource allows whatever the resource (read as ``"Resource": "*"``)."""
    return _explained_by(o, _rewritten(o.case, _not_resource_as_star))


def _checked_as_star(o: Observation) -> bool:
    import msgspec

    return _explained_by(o, o.case, msgspec.structs.replace(o.request, resource="*"))


@rule
def user_call_checked_as_star(o: Observation) -> bool:
    """moto: IAM calls on users are authorized against the resource ``*``, not the user's ARN."""
    return o.request.action.lower().startswith("iam:") and ":user/" in o.request.resource and _checked_as_star(o)


@rule
def assume_role_trust_naming_the_account(o: Observation) -> bool:
    """moto: ``sts:AssumeRole`` of a role whose trust policy names the account (as the probes' roles do)
    is denied whatever the caller's identity policies allow: moto compares the trust policy's principal
    with the caller's ARN literally.  Only when the trust policy (the case's resource policy) lets the caller in
    through its account alone: an applying Allow names the account, none names the caller itself."""
    if not (
        o.request.action.lower() == "sts:assumerole"
        and o.expected.decision.value == "allowed"
        and o.observed is not None
        and o.observed.decision.value != "allowed"
    ):
        return False
    trust = [a.principal for a in o.in_force if a.slot.role == RESOURCE and a.statement.allow and a.condition_holds]
    return PrincipalMatch.ACCOUNT in trust and all(m <= PrincipalMatch.ACCOUNT for m in trust)


@rule
def identity_policy_version_2008(o: Observation) -> bool:
    """An identity policy or boundary of the case has ``"Version": "2008-10-17"``, or no Version (which means
    2008-10-17: Guide, reference_policies_elements_version.html)."""
    if o.observed is not None:  # a set-up refusal explains a failure, never a decision
        return False
    import json

    for p in [*o.case.identity_policies, *([o.case.permissions_boundary] if o.case.permissions_boundary else [])]:
        try:
            document = json.loads(p.text())
        except ValueError:
            continue
        if isinstance(document, dict) and document.get("Version", "2008-10-17") == "2008-10-17":
            return True
    return False


# LocalStack (free edition) SimulatePrincipalPolicy is a placeholder (localstack/services/iam/resources/
# policy_simulator.py, measured): the principal's own inline and attached policies (not its groups', not
# its boundary) are scanned for an Allow statement whose Action contains the action and whose Resource
# contains the resource (a substring test when the element is a string, membership when a list; no
# wildcards, no conditions, Deny ignored); anything else is explicitDeny; a statement without Action or
# (when its Action contains the action) without Resource crashes the call (HTTP 500).


def _raw_statements(policies: list[Policy]) -> list[dict[str, object]]:
    """The statements of these policies as their JSON objects (what an emulator reads)."""
    import json

    out: list[dict[str, object]] = []
    for p in policies:
        try:
            document = json.loads(p.text())
        except ValueError:
            continue
        statements = document.get("Statement") if isinstance(document, dict) else None
        if isinstance(statements, dict):
            out.append(statements)
        elif isinstance(statements, list):
            out.extend(s for s in statements if isinstance(s, dict))
    return out


def _placeholder_statements(case: Case) -> list[dict[str, object]]:
    """The principal's own inline and attached policies (not its groups'), as LocalStack's placeholder reads."""
    return _raw_statements([p for p in case.identity_policies if p.type != "group"])


def localstack_placeholder(case: Case, request: Request) -> str:
    """``allowed``, ``explicitDeny`` or ``crash``: what LocalStack's placeholder answers."""
    decision = "explicitDeny"
    for s in _placeholder_statements(case):
        if "Action" not in s:
            return "crash"
        action = s["Action"]
        if not (isinstance(action, (str, list)) and request.action in action):
            continue
        if "Resource" not in s:
            return "crash"
        resource = s["Resource"]
        if isinstance(resource, (str, list)) and request.resource in resource and s.get("Effect") == "Allow":
            decision = "allowed"
    return decision


def _placeholder_explains(o: Observation) -> bool:
    observed = "crash" if o.observed is None else o.observed.decision.value
    return observed == localstack_placeholder(o.case, o.request)


def _has(case: Case, test: Callable[[dict[str, object]], bool]) -> bool:
    return any(test(s) for s in _all_statements(case))


def _all_statements(case: Case) -> list[dict[str, object]]:
    return _raw_statements(
        [*case.identity_policies, *([case.permissions_boundary] if case.permissions_boundary else [])]
    )


def _patterns(s: dict[str, object], *elements: str) -> list[str]:
    out: list[str] = []
    for e in elements:
        v = s.get(e)
        out.extend(str(x) for x in (v if isinstance(v, list) else [v] if v is not None else []))
    return out


@rule
def localstack_crash_without_action_or_resource(o: Observation) -> bool:
    """LocalStack: a statement with NotAction (or NotResource, once its Action contains the action) makes
    SimulatePrincipalPolicy fail with HTTP 500."""
    return o.observed is None and localstack_placeholder(o.case, o.request) == "crash"


@rule
def localstack_implicit_deny_as_explicit(o: Observation) -> bool:
    """LocalStack answers explicitDeny where nothing allowed the request (never implicitDeny)."""
    return (
        o.observed is not None
        and o.expected.decision.value == "implicitDeny"
        and o.observed.decision.value == "explicitDeny"
        and localstack_placeholder(o.case, o.request) == "explicitDeny"
    )


def _covers(s: dict[str, object], request: Request) -> bool:
    """Does the statement's Action name the request's action, wildcards read as IAM reads them (case aside)?
    Only such statements can be the ones LocalStack's placeholder got wrong."""
    import fnmatch

    action = request.action.lower()
    return any(fnmatch.fnmatchcase(action, p.lower()) for p in _patterns(s, "Action"))


@rule
def localstack_deny_ignored(o: Observation) -> bool:
    """LocalStack: a Deny statement naming the action does not deny (the placeholder reads Allow statements only)."""
    return (
        o.expected.decision.value == "explicitDeny"
        and _placeholder_explains(o)
        and _has(o.case, lambda s: s.get("Effect") == "Deny" and _covers(s, o.request))
    )


@rule
def localstack_wildcards_not_matched(o: Observation) -> bool:
    """LocalStack: ``*`` and ``?`` in Action or Resource are not wildcards (substring or exact matching):
    a statement naming the action through a wildcard, or with a wildcard Resource, is missed."""

    def wildcard(s: dict[str, object]) -> bool:
        patterns = _patterns(s, "Action", "Resource")
        return _covers(s, o.request) and any("*" in p or "?" in p for p in patterns)

    return _placeholder_explains(o) and _has(o.case, wildcard)


@rule
def localstack_conditions_ignored(o: Observation) -> bool:
    """LocalStack: conditions are not evaluated (a statement naming the action has a Condition)."""
    return _placeholder_explains(o) and _has(o.case, lambda s: "Condition" in s and _covers(s, o.request))


@rule
def localstack_group_and_boundary_ignored(o: Observation) -> bool:
    """LocalStack: the principal's group policies and permissions boundary are not read."""
    group = any(p.type == "group" for p in o.case.identity_policies)
    return _placeholder_explains(o) and (group or o.case.permissions_boundary is not None)


def _placeholder_reads(s: dict[str, object], request: Request) -> bool:
    """The placeholder's own test of a statement's Action (substring of a string, member of a list)."""
    action = s.get("Action")
    return isinstance(action, (str, list)) and request.action in action


@rule
def localstack_placeholder_simulator(o: Observation) -> bool:
    """LocalStack's placeholder answer, whatever the combination of its simplifications, where a statement
    of the principal's policies names the action (as IAM or as the placeholder reads it)."""
    return _placeholder_explains(o) and _has(
        o.case, lambda s: _covers(s, o.request) or _placeholder_reads(s, o.request)
    )


@rule
def condition_value_not_a_string(o: Observation) -> bool:
    """A condition value of an identity policy or boundary is a JSON number or boolean, not a string."""
    if o.observed is not None:  # a set-up refusal explains a failure, never a decision
        return False
    for s in _all_statements(o.case):
        condition = s.get("Condition")
        if not isinstance(condition, dict):
            continue
        for keys in condition.values():
            if not isinstance(keys, dict):
                continue
            for values in keys.values():
                items = values if isinstance(values, list) else [values]
                if any(isinstance(v, (bool, int, float)) for v in items):
                    return True
    return False


@rule
def s3_resource_with_region(o: Observation) -> bool:
    """An identity policy or boundary names an S3 ARN with a region (access points, access grants,
    Multi-Region access points and other regional S3 resources)."""
    if o.observed is not None:  # a set-up refusal explains a failure, never a decision
        return False
    for s in _all_statements(o.case):
        for pattern in _patterns(s, "Resource", "NotResource"):
            parts = pattern.split(":", 5)
            if len(parts) == 6 and parts[2] == "s3" and parts[3]:
                return True
    return False


_LOCALSTACK_IAM_PATHS = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/", "policy/",
    "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/",
)  # fmt: skip


@rule
def iam_resource_type_outside_localstack_list(o: Observation) -> bool:
    """An identity policy or boundary names an IAM ARN whose resource is none of the types LocalStack's
    validator lists (``contextProvider/...``, say)."""
    if o.observed is not None:  # a set-up refusal explains a failure, never a decision
        return False
    for s in _all_statements(o.case):
        for pattern in _patterns(s, "Resource", "NotResource"):
            parts = pattern.split(":", 5)
            typed = len(parts) == 6 and parts[2] == "iam" and parts[5] not in ("*", "root")
            if typed and not parts[5].startswith(_LOCALSTACK_IAM_PATHS):
                return True
    return False


def _literal_wildcard(text: str, wildcard: str) -> list[Literal | Escaped]:
    """``text`` as pattern segments with every ``wildcard`` (``*`` or ``?``) literal, the other wildcard
    still one."""
    out: list[Literal | Escaped] = []
    for i, piece in enumerate(text.split(wildcard)):
        if i:
            out.append(Escaped(wildcard))
        if piece:
            out.append(Literal(piece))
    return out


def _question_marks_literal(pattern: str) -> tuple[Literal | Escaped, ...]:
    """The Resource pattern with every ``?`` literal (its ``*`` still wildcards)."""
    return tuple(_literal_wildcard(pattern, "?"))


def _covered_only_through_wildcards(
    o: Observation, peer_reading: Callable[[str], tuple[Literal | Escaped, ...] | None]
) -> bool:
    """Statements in force whose Condition holds cover the request's resource only through Resource patterns
    that stop matching when read as the peer reads them (``peer_reading``: the pattern with those wildcards
    literal, None when it has none), and leaving them out gives the observed decision."""
    from reference.patterns import resource as resource_pattern

    chosen = []
    for a in o.in_force:
        s = a.statement.statement
        if s.resource_negated or not a.condition_holds:
            continue
        covering = [r for r in s.resources if resource_pattern(r).fullmatch(o.request.resource)]
        still = [
            r
            for r in covering
            if (read := peer_reading(r)) is None or resource_pattern(read).fullmatch(o.request.resource)
        ]
        if covering and not still:
            chosen.append(a)
    return o.observed_by_negating(chosen)


@rule
def question_mark_in_resource(o: Observation) -> bool:
    """A statement in force whose Condition holds covers the request's resource only through Resource patterns
    whose ``?`` stands for one character (read literally, as the peer does, none would match), and leaving
    that statement out gives the observed decision."""
    return _covered_only_through_wildcards(o, lambda r: _question_marks_literal(r) if "?" in r else None)


def _not_resource_question_marks_literal(document: dict[str, Any]) -> dict[str, Any]:
    """The policy with every ``?`` of its NotResource patterns (outside ``${...}``) written as the ``${?}``
    escape: a literal question mark (reference_policies_variables.html, special characters)."""
    statements = document.get("Statement")
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict):
            continue
        value = st.get("NotResource")
        patterns = value if isinstance(value, list) else [value]
        out = []
        for p in patterns:
            if not isinstance(p, str):
                out.append(p)
                continue
            pieces, at = [], 0
            for m in _VARIABLE.finditer(p):
                pieces.append(p[at : m.start()].replace("?", "${?}"))
                pieces.append(m.group())
                at = m.end()
            pieces.append(p[at:].replace("?", "${?}"))
            out.append("".join(pieces))
        if value is not None:
            st["NotResource"] = out if isinstance(value, list) else out[0]
    return document


@rule
def question_mark_in_not_resource(o: Observation) -> bool:
    """A statement of a 2012-10-17 policy whose Action covers the request has a NotResource pattern with a
    ``?`` (outside ``${...}``), and reading every such ``?`` as a literal question mark (as the peer does, so
    the pattern stops matching and the NotResource statement applies) gives the observed decision."""
    action = o.request.action.lower()
    changed: dict[str, Policy] = {}
    for slot in o.prepared.slots:
        parsed = slot.compiled.parsed
        if not parsed.variables_enabled:  # no ${?} escape to write the literal with
            continue
        if not any(
            st.statement.resource_negated and any("?" in _VARIABLE.sub("", r) for r in st.statement.resources)
            for st in slot.compiled.candidates(action)
        ):
            continue
        document = json.loads(parsed.document.text)
        if isinstance(document, dict):
            changed[slot.policy_id] = Policy.of(slot.policy_id, _not_resource_question_marks_literal(document))
    return bool(changed) and o.observed_with(case=_replace_policies(o.case, changed))


@rule
def arn_operator_short_policy_value(o: Observation) -> bool:
    """An Arn condition in an applying statement, on a key whose request values are all ARNs (``arn:...``), with
    a policy value of fewer than six parts (``*``, ``arn:aws:iam::*``): the reference matches it against the
    whole value (its choice), the peer never matches it.  A request value that is not an ARN is another
    entry's (``arn_operator_on_non_arn_value``)."""

    def trigger(_: Applicable, c: Clause) -> bool:
        asked = o.values_of(c.key)
        return (
            _base(c).startswith("Arn")
            and bool(asked)
            and all(v.startswith("arn:") for v in asked or ())
            and any(v.count(":") < 5 for v in c.values)
        )

    return _negating(o, trigger)


_NEGATED_WITH_VARIABLES = (
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
)


@rule
def negated_operator_variable_without_value(o: Observation) -> bool:
    """A negated String/Arn condition (StringNotEquals, StringNotLike, ArnNotLike, ...) in an applying statement
    of a 2012-10-17 policy, on a key the request carries, with a policy value holding a variable (no default)
    whose key the request does not carry: true in the reference (variables#policy-vars-no-value), false in
    the peer."""
    from reference.variables import parse_template

    def trigger(a: Applicable, c: Clause) -> bool:
        return (
            a.slot.compiled.parsed.variables_enabled
            and _base(c) in _NEGATED_WITH_VARIABLES
            and bool(o.values_of(c.key))
            and any(parse_template(v, variables_enabled=True).missing_keys(o.context) for v in c.values)
        )

    return _negating(o, trigger)


def _type_part_stars_literal(pattern: str) -> tuple[Literal | Escaped, ...] | None:
    """The Resource pattern with every ``*`` of its resource-type part (the resource part up to its first
    '/' or ':') literal, or None when that part has no ``*`` (or the pattern has a variable, or is an S3
    ARN without region and account, which the peer does not split)."""
    parts = pattern.split(":", 5)
    if len(parts) != 6 or "${" in pattern or (parts[2] == "s3" and not parts[3] and not parts[4]):
        return None
    rest = parts[5]
    cuts = [i for i in (rest.find("/"), rest.find(":")) if i >= 0]
    cut = min(cuts, default=-1)
    if cut < 0 or "*" not in rest[:cut]:
        return None
    return (Literal(":".join(parts[:5]) + ":"), *_literal_wildcard(rest[:cut], "*"), Literal(rest[cut:]))


@rule
def star_in_resource_type_part(o: Observation) -> bool:
    """A statement in force whose Condition holds covers the request's resource only through Resource patterns
    with a ``*`` in the resource-type part (``...:*0/0``, ``...:inst*/i-1``; read literally, as the peer
    does, none would match), and leaving that statement out gives the observed decision."""
    return _covered_only_through_wildcards(o, _type_part_stars_literal)
