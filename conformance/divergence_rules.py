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

from reference.compiled import compile_text
from reference.errors import PolicyError
from reference.evaluator import case_policies
from reference.model import Case, Policy, Request, RequestResult
from reference.policy import PolicyKind, Statement


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
    with the caller's ARN literally."""
    return (
        o.request.action.lower() == "sts:assumerole"
        and o.expected.decision.value == "allowed"
        and o.observed is not None
        and o.observed.decision.value != "allowed"
    )


@rule
def identity_policy_version_2008(o: Observation) -> bool:
    """An identity policy or boundary of the case has ``"Version": "2008-10-17"``, or no Version (which means
    2008-10-17: Guide, reference_policies_elements_version.html)."""
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


def _placeholder_statements(case: Case) -> list[dict[str, object]]:
    import json

    out: list[dict[str, object]] = []
    for p in case.identity_policies:
        if p.type == "group":
            continue
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
    import json

    out: list[dict[str, object]] = []
    policies = [*case.identity_policies, *([case.permissions_boundary] if case.permissions_boundary else [])]
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


@rule
def localstack_deny_ignored(o: Observation) -> bool:
    """LocalStack: a Deny statement does not deny (the placeholder looks at Allow statements only)."""
    return (
        o.expected.decision.value == "explicitDeny"
        and _placeholder_explains(o)
        and _has(o.case, lambda s: s.get("Effect") == "Deny")
    )


@rule
def localstack_wildcards_not_matched(o: Observation) -> bool:
    """LocalStack: ``*`` and ``?`` in Action or Resource are not wildcards (substring or exact matching)."""
    return _placeholder_explains(o) and _has(
        o.case, lambda s: any("*" in p or "?" in p for p in _patterns(s, "Action", "Resource"))
    )


@rule
def localstack_conditions_ignored(o: Observation) -> bool:
    """LocalStack: conditions are not evaluated."""
    return _placeholder_explains(o) and _has(o.case, lambda s: "Condition" in s)


@rule
def localstack_group_and_boundary_ignored(o: Observation) -> bool:
    """LocalStack: the principal's group policies and permissions boundary are not read."""
    group = any(p.type == "group" for p in o.case.identity_policies)
    return _placeholder_explains(o) and (group or o.case.permissions_boundary is not None)


@rule
def localstack_placeholder_simulator(o: Observation) -> bool:
    """LocalStack's placeholder answer, whatever the combination of its simplifications."""
    return _placeholder_explains(o)


@rule
def condition_value_not_a_string(o: Observation) -> bool:
    """A condition value of an identity policy or boundary is a JSON number or boolean, not a string."""
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
    for s in _all_statements(o.case):
        for pattern in _patterns(s, "Resource", "NotResource"):
            parts = pattern.split(":", 5)
            typed = len(parts) == 6 and parts[2] == "iam" and parts[5] not in ("*", "root")
            if typed and not parts[5].startswith(_LOCALSTACK_IAM_PATHS):
                return True
    return False
