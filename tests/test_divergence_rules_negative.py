"""Known-divergence rules do not over-match.

For every rule in ``conformance.divergence_rules``:

- **absent**: over generated cases, a request whose case holds nothing of the rule's trigger (judged
  broadly, over every policy of the case, as the old rules did) is never excused by it, whatever the
  target answered or if it failed;
- **elsewhere** (rules about statements): the trigger of its witness, put into the case in statements
  that do not apply to the request (another action) and with the witness's context keys carried by the
  request, changes nothing: the rule says what it says without it;
- **witness**: the rule fires on its own witness, for a direction its entry declares.

Then targeted negatives for the rules about whole policy types (RCPs, session and key policies, resource
prefixes), and the entries' own refusals (a direction not declared; a failure whose message no entry names).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from conformance import corpus
from conformance.divergence_rules import RULES, Observation
from conformance.divergences import KnownDivergence, known_divergences
from conformance.registry import ALL_TARGETS
from reference.catalog import get_catalog
from reference.compiled import PolicyCache
from reference.conditions import Clause
from reference.evaluator import CaseInputError, evaluate_case, prepare
from reference.model import Case, ContextEntry, Decision, Policy, Request, RequestResult
from strategies import cases

CACHE = PolicyCache()
ENTRIES: list[KnownDivergence] = [e for name in ALL_TARGETS for e in known_divergences(name)]
RULE_ENTRIES = {rule: [e for e in ENTRIES if e.rule == rule] for rule in RULES}
# Few examples each: there are two dozen rules (CI budget; the flip test covers thousands of cases).
NEGATIVE = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _load(entry: KnownDivergence) -> list[Case]:
    return corpus.load(Path(str(resources.files("conformance").joinpath(entry.witness))))


# -- the broad triggers: anywhere in the case, whether or not it applies ---------------------------------


def _clauses(case: Case) -> Iterator[Clause]:
    for slot in prepare(case, CACHE).slots:
        for s in slot.compiled.statements:
            if s.condition is not None:
                yield from s.condition.clauses


def _any_clause(case: Case, test: object) -> bool:
    return any(test(c) for c in _clauses(case))  # type: ignore[operator]


def _carried(request: Request) -> dict[str, ContextEntry]:
    return {e.key.lower(): e for e in request.context}


def _base(c: Clause) -> str:
    return c.operator.base


def _listed_keys(action_name: str) -> set[str]:
    action = get_catalog().action(action_name)
    if action is None:
        return set()
    listed = {k.lower() for k in action.condition_keys}
    for rt in action.resource_types:
        listed |= {k.lower() for k in rt.condition_keys}
    return listed


def _any_policy_text(case: Case, test: object) -> bool:
    return any(test(slot.compiled.parsed) for slot in prepare(case, CACHE).slots)  # type: ignore[operator]


def _read_anywhere(case: Case) -> set[str]:
    """Context keys any statement of the case reads (conditions and variables), applying or not."""
    return {k.lower() for slot in prepare(case, CACHE).slots for s in slot.compiled.statements for k in s.keys}


def trigger_anywhere(rule: str, case: Case, request: Request) -> bool:
    """Is anything of the rule's trigger in the case or the request (the old, case-wide reading)?

    Triggers about context keys count only keys some statement of the case reads: a key no policy
    reads cannot explain a decision (the old single-valued rule fired on any such key)."""
    read = _read_anywhere(case)
    carried = {k: e for k, e in _carried(request).items() if k in read}
    request = msgspec.structs.replace(request, context=list(carried.values()))
    values = [v for e in request.context for v in e.values]
    catalog = get_catalog()
    if rule == "plain_operator_on_multivalued_key":
        return any(e.type.endswith("List") for e in request.context)
    if rule == "epoch_seconds_date_value":
        return _any_clause(case, lambda c: _base(c).startswith("Date")) and (
            any(v.isdigit() for v in values) or _any_clause(case, lambda c: any(v.isdigit() for v in c.values))
        )
    if rule == "sub_millisecond_date":
        return _any_clause(case, lambda c: _base(c).startswith("Date"))
    if rule == "escape_outside_like":
        return _any_clause(case, lambda c: any("${" in v for v in c.values))
    if rule == "exponent_number":
        return _any_clause(case, lambda c: _base(c).startswith("Numeric") and any("e" in v.lower() for v in c.values))
    if rule == "negated_operator_with_unreadable_value":
        return _any_clause(case, lambda c: _base(c) in ("NumericNotEquals", "DateNotEquals"))
    if rule == "set_operator_if_exists_without_key":
        return _any_clause(case, lambda c: c.operator.qualifier is not None and c.operator.if_exists)
    if rule == "not_ip_address_bare_address_other_version":
        return _any_clause(case, lambda c: _base(c) == "NotIpAddress")
    if rule == "null_on_empty_value":
        return any(all(v == "" for v in e.values) for e in request.context)
    if rule == "set_operator_on_empty_value":
        return _any_clause(case, lambda c: c.operator.qualifier is not None) and any(
            e.values and all(v == "" for v in e.values) for e in request.context
        )
    if rule == "ipv4_zero_prefix":
        return _any_clause(case, lambda c: any(v.endswith("/0") for v in c.values))
    if rule == "arn_operator_on_non_arn_value":
        return _any_clause(case, lambda c: _base(c).startswith("Arn"))
    if rule == "arn_operator_short_policy_value":
        return _any_clause(case, lambda c: _base(c).startswith("Arn") and any(v.count(":") < 5 for v in c.values))
    if rule == "negated_operator_variable_without_value":
        return _any_clause(case, lambda c: "Not" in _base(c) and any("${" in v for v in c.values))
    if rule == "key_unknown_to_the_catalog":
        return any(catalog.condition_key(k) is None for k in carried)
    if rule == "global_key_unknown_to_iam_simulate":
        return any(k.startswith("aws:") for k in carried)
    if rule == "key_of_another_action":
        listed = _listed_keys(request.action)
        return any(
            (found := catalog.condition_key(k)) is not None and not found.is_global and k not in listed for k in carried
        )
    if rule == "single_valued_key_with_several_values":
        return any(len(e.values) > 1 for e in request.context)
    if rule == "context_key_without_values":
        return any(not e.values for e in request.context)
    if rule == "variables_under_old_version":
        return _any_policy_text(case, lambda p: not p.variables_enabled and "${" in p.document.text)
    if rule == "resource_policy_grants_session_with_session_policy":
        return case.session_policy is not None and case.resource_policy is not None
    if rule in ("rcp_level_without_allow", "rcp_on_unsupported_service"):
        return bool(case.rcps)
    if rule == "resource_prefix_not_lower_case":
        return request.resource != request.resource.lower()
    if rule == "question_mark_in_resource":
        return _any_policy_text(case, lambda p: any("?" in r for st in p.statements for r in st.resources))
    if rule == "question_mark_in_not_resource":
        return _any_policy_text(
            case, lambda p: any("?" in r for st in p.statements if st.resource_negated for r in st.resources)
        )
    if rule == "star_in_resource_type_part":
        from conformance.divergence_rules import _type_part_stars_literal

        return _any_policy_text(
            case, lambda p: any(_type_part_stars_literal(r) is not None for st in p.statements for r in st.resources)
        )
    if rule == "mid_segment_star_crosses_colons":
        return ":" in (request.resource.split(":", 5) + [""] * 6)[5] and _any_policy_text(
            case, lambda p: any("*" in r for st in p.statements for r in st.resources)
        )
    if rule == "assume_role_without_trust_policy":
        return request.action.lower().startswith("sts:assumerole")
    if rule == "service_linked_role_changed":
        return "aws-service-role/" in request.resource
    if rule == "kms_without_key_policy":
        return request.action.lower().startswith("kms:")
    if rule in ("scp_statements_left_out", "scp_keys_left_out"):
        return bool(case.scps)
    emulator = _emulator_trigger(rule, case, request)
    if emulator is not None:
        return emulator
    raise AssertionError(f"no trigger written for rule {rule!r}: add one (every rule needs its negative property)")


# -- emulator rules (moto-enforcement, localstack-simulator): their triggers, read off the policy texts ----------


def _documents(case: Case) -> list[dict[str, object]]:
    policies = [*case.identity_policies, *([case.permissions_boundary] if case.permissions_boundary else [])]
    out = []
    for p in policies:
        try:
            document = json.loads(p.text())
        except ValueError:
            continue
        if isinstance(document, dict):
            out.append(document)
    return out


def _statement_dicts(case: Case) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for document in _documents(case):
        st = document.get("Statement")
        out.extend(x for x in (st if isinstance(st, list) else [st]) if isinstance(x, dict))
    return out


def _texts(s: dict[str, object], *elements: str) -> list[str]:
    out: list[str] = []
    for e in elements:
        v = s.get(e)
        out.extend(str(x) for x in (v if isinstance(v, list) else [v] if v is not None else []))
    return out


def _regex_differs(pattern: str, value: str, case_sensitive: bool) -> bool:
    import fnmatch

    from conformance.divergence_rules import _regex_match
    from reference.patterns import resource

    if "${" in pattern:  # variables and escapes: moto reads them as regex text
        return True
    # IAM's reading: Resource patterns segment by segment (a "*" inside a segment stops at ":",
    # reference_policies_elements_resource.html), Action patterns as case-insensitive globs.
    iam = (
        bool(resource(pattern).fullmatch(value))
        if case_sensitive
        else fnmatch.fnmatchcase(value.lower(), pattern.lower())
    )
    return iam != _regex_match(pattern, value)


def _emulator_trigger(rule: str, case: Case, request: Request) -> bool | None:
    statements = _statement_dicts(case)
    actions = [p for s in statements for p in _texts(s, "Action", "NotAction")]
    resources = [p for s in statements for p in _texts(s, "Resource")]
    on_user = request.action.lower().startswith("iam:") and ":user/" in request.resource
    if rule == "not_resource_always_matches":
        return any("NotResource" in s for s in statements)
    if rule == "action_matched_as_regex":
        return any(_regex_differs(p, request.action, False) for p in actions)
    if rule == "resource_matched_as_regex":
        return any(_regex_differs(p, request.resource, True) for p in resources)
    if rule == "user_call_checked_as_star":
        return on_user
    if rule == "assume_role_trust_naming_the_account":
        return request.action.lower() == "sts:assumerole" and case.resource_policy is not None
    if rule == "moto_statement_matching":
        return on_user or any(
            _emulator_trigger(r, case, request)
            for r in ("not_resource_always_matches", "action_matched_as_regex", "resource_matched_as_regex")
        )
    if rule == "identity_policy_version_2008":
        return any(d.get("Version", "2008-10-17") == "2008-10-17" for d in _documents(case))
    if rule == "condition_value_not_a_string":
        return any(
            isinstance(v, (bool, int, float))
            for s in statements
            for keys in (s.get("Condition") or {}).values()  # type: ignore[union-attr]
            for values in (keys.values() if isinstance(keys, dict) else [])
            for v in (values if isinstance(values, list) else [values])
        )
    if rule == "s3_resource_with_region":
        named = [*resources, *(q for s in statements for q in _texts(s, "NotResource"))]
        return any(len(p.split(":")) > 3 and p.split(":")[2] == "s3" and p.split(":")[3] for p in named)
    if rule == "iam_resource_type_outside_localstack_list":
        return any(
            p.split(":")[2:3] == ["iam"]
            for p in [*resources, *(q for s in statements for q in _texts(s, "NotResource"))]
        )
    if rule.startswith("localstack_"):
        # LocalStack's placeholder reads the principal's own policies: with none, it has nothing to get wrong
        # but its "explicitDeny" for everything, which only the implicit-deny entry excuses.
        if rule == "localstack_implicit_deny_as_explicit":  # the rule is about implicit denies
            expected = _expected(msgspec.structs.replace(case, requests=[request]))
            return expected is not None and expected[0].decision == Decision.IMPLICIT_DENY
        if not case.identity_policies and case.permissions_boundary is None:
            return False
        import fnmatch

        named = [
            s
            for s in statements
            if any(fnmatch.fnmatchcase(request.action.lower(), p.lower()) for p in _texts(s, "Action"))
        ]
        if rule == "localstack_deny_ignored":
            return any(s.get("Effect") == "Deny" for s in named)
        if rule == "localstack_wildcards_not_matched":
            return any("*" in p or "?" in p for s in named for p in _texts(s, "Action", "Resource"))
        if rule == "localstack_conditions_ignored":
            return any("Condition" in s for s in named)
        if rule == "localstack_group_and_boundary_ignored":
            return case.permissions_boundary is not None or any(p.type == "group" for p in case.identity_policies)
        if rule == "localstack_crash_without_action_or_resource":
            return any("NotAction" in s or "NotResource" in s for s in statements)
        # localstack_placeholder_simulator: a statement naming the action, as IAM or as the placeholder reads it
        return bool(named) or any(
            isinstance(s.get("Action"), (str, list)) and request.action in s["Action"]  # type: ignore[operator]
            for s in statements
        )
    return None


def _answers(expected: RequestResult) -> list[RequestResult | None]:
    """Every other decision the target might have given, and no answer at all (a failure)."""
    others: list[RequestResult | None] = [
        msgspec.structs.replace(expected, decision=d) for d in Decision if d != expected.decision
    ]
    # The AWS simulator's reporting rules compare statements and keys: leave them out too.
    others.append(msgspec.structs.replace(expected, matched_statements=[], missing_context_values=[]))
    return [*others, None]


def _fires(rule: str, case: Case, request: Request, expected: RequestResult) -> list[str]:
    out = []
    for observed in _answers(expected):
        if RULES[rule](Observation(case, request, expected, observed)):
            out.append("failure" if observed is None else f"{expected.decision}->{observed.decision}")
    return out


def _expected(case: Case) -> list[RequestResult] | None:
    try:
        return evaluate_case(case, CACHE).results
    except CaseInputError:
        return None


# -- absent -------------------------------------------------------------------------------------------------


def test_every_rule_has_a_trigger_and_an_entry() -> None:
    """A rule added without its negative property (its trigger here) or without an entry fails."""
    for rule in RULES:
        trigger_anywhere(rule, Case(requests=[Request(action="s3:GetObject")]), Request(action="s3:GetObject"))
        assert RULE_ENTRIES[rule], f"rule {rule} is named by no entry: remove it"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_is_silent_where_its_trigger_is_absent(rule: str) -> None:
    seen = {"requests without trigger": 0}

    # Rules whose trigger is broad (most generated statements carry it) get more cases, so that enough
    # requests without the trigger are drawn to make their silence mean something.
    chosen = settings(NEGATIVE, max_examples=120) if rule in BROAD_TRIGGER_RULES | STUB_RULES else NEGATIVE

    @chosen
    @given(cases(max_statements=3, max_requests=3))
    def silent(case: Case) -> None:
        expected = _expected(case)
        if expected is None:
            return
        for request, result in zip(case.requests, expected, strict=True):
            if trigger_anywhere(rule, case, request):
                continue
            seen["requests without trigger"] += 1
            assert not _fires(rule, case, request, result), (rule, msgspec.json.encode(case).decode())

    silent()
    # LocalStack's stub rules trigger on any statement naming the action, which the aimed generator nearly
    # always writes: their silence is still asserted on every request without it, however few.
    least = 5 if rule in STUB_RULES else 20
    assert seen["requests without trigger"] >= least, f"the generator hardly ever leaves out {rule}'s trigger: {seen}"


STUB_RULES = frozenset({"localstack_wildcards_not_matched", "localstack_placeholder_simulator"})
BROAD_TRIGGER_RULES = frozenset({"moto_statement_matching", "localstack_crash_without_action_or_resource"})


# -- elsewhere ------------------------------------------------------------------------------------------------

OTHER_ACTION = "iamconfnegative:NotTheRequestedAction"


def _elsewhere(policy: Policy) -> Policy | None:
    """The witness's policy with every statement moved to an action no request asks for."""
    document = json.loads(policy.text())
    statements = document.get("Statement")
    listed = statements if isinstance(statements, list) else [statements]
    for s in listed:
        s.pop("NotAction", None)
        s["Action"] = OTHER_ACTION
    return Policy.of(f"elsewhere-{policy.id}", document, "user-managed")


# Rules about what an emulator's IAM API refuses when the principal is set up: it refuses the whole policy
# for any statement holding the trigger, applying to the request or not, so "elsewhere" is their trigger too.
POLICY_WIDE_RULES = frozenset(
    {
        "identity_policy_version_2008",
        "condition_value_not_a_string",
        "s3_resource_with_region",
        "iam_resource_type_outside_localstack_list",
        # iam-simulate throws on a set-operator clause reading a key given with no values in any statement,
        # its Action covering the request or not (corpus/iam-simulate/crash-on-key-without-values-action-
        # not-matched.json): "elsewhere" is its trigger too, and it explains only that failure.
        "context_key_without_values",
    }
)
STATEMENT_RULES = sorted(
    rule
    for rule, entries in RULE_ENTRIES.items()
    if entries
    and rule not in POLICY_WIDE_RULES
    and all(c.identity_policies and not (c.rcps or c.scps or c.resource_policy) for c in _load(entries[0]))
)


def test_statement_rules_are_the_condition_and_key_rules() -> None:
    assert len(STATEMENT_RULES) >= 15, STATEMENT_RULES
    assert "key_of_another_action" in STATEMENT_RULES and "plain_operator_on_multivalued_key" in STATEMENT_RULES


@pytest.mark.parametrize("rule", STATEMENT_RULES)
def test_rule_ignores_its_trigger_in_statements_that_do_not_apply(rule: str) -> None:
    witness = _load(RULE_ENTRIES[rule][0])[0]
    extra = [p for p in (_elsewhere(p) for p in witness.identity_policies) if p is not None]
    context = [e for r in witness.requests for e in r.context]

    @NEGATIVE
    @given(cases(max_statements=3, max_requests=2))
    def unchanged(case: Case) -> None:
        requests = [
            msgspec.structs.replace(r, context=[*r.context, *(e for e in context if e.key.lower() not in _carried(r))])
            for r in case.requests
        ]
        base = msgspec.structs.replace(case, requests=requests)
        with_trigger = msgspec.structs.replace(base, identity_policies=[*base.identity_policies, *extra])
        expected, expected_with = _expected(base), _expected(with_trigger)
        if expected is None or expected_with is None:
            return
        for request, result, result_with in zip(requests, expected, expected_with, strict=True):
            assert result.decision == result_with.decision  # the added statements do not apply
            fired = _fires(rule, base, request, result)
            assert _fires(rule, with_trigger, request, result_with) == fired
            # The witness's context keys are carried; unless a statement of the case reads them, they
            # explain nothing (the old single-valued rule fired on a key no policy read).
            if not trigger_anywhere(rule, base, request):
                assert not fired, (rule, msgspec.json.encode(base).decode())

    unchanged()


@pytest.mark.parametrize("rule", sorted(POLICY_WIDE_RULES))
def test_policy_wide_rules_fire_only_on_failures(rule: str) -> None:
    """A set-up refusal explains a failure, never a decision: on its own witness the rule is silent for
    every answer but a failure."""
    witness = _witness(rule)
    expected = _expected(witness)
    assert expected is not None
    for request, result in zip(witness.requests, expected, strict=True):
        assert _fires(rule, witness, request, result) in (["failure"], []), rule


# -- witness --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e.target}:{e.id}" for e in ENTRIES])
def test_rule_fires_on_its_witness(entry: KnownDivergence) -> None:
    """The positive side, offline: some request of the witness, answered in a direction the entry declares
    (for the reporting rules, with SCP statements and keys left out), is explained by the entry."""
    from conformance.compare import compare

    explained = []
    for case in _load(entry):
        expected = _expected(case)
        assert expected is not None
        for request, result in zip(case.requests, expected, strict=True):
            answers: list[RequestResult | None] = [None] if entry.failure_pattern is not None else []
            answers += [
                msgspec.structs.replace(result, decision=Decision(o))
                for e, o in entry.directions
                if e == result.decision
            ]
            answers.append(_scp_left_out(case, result))
            for observed in answers:
                if observed is None:
                    ok = RULES[entry.rule](Observation(case, request, result, None))
                else:
                    mismatches = compare(result, observed, entry.checks)
                    ok = bool(mismatches) and entry.explains(Observation(case, request, result, observed), mismatches)
                if ok:
                    explained.append(request.action)
    assert explained, f"{entry.id}: the rule does not fire on its own witness"


def _scp_left_out(case: Case, result: RequestResult) -> RequestResult:
    scp_keys = {
        k.lower()
        for slot in prepare(case, CACHE).slots
        if slot.role == "scp"
        for s in slot.compiled.statements
        for k in s.keys
    }
    return msgspec.structs.replace(
        result,
        matched_statements=[m for m in result.matched_statements if m.policy_type != "scp"],
        missing_context_values=[k for k in result.missing_context_values if k.lower() not in scp_keys],
    )


# -- rules about whole policy types: targeted negatives ---------------------------------------------------------


def _witness(rule: str) -> Case:
    return _load(RULE_ENTRIES[rule][0])[0]


def _policy(pid: str, statement: dict[str, object]) -> Policy:
    return Policy.of(pid, {"Version": "2012-10-17", "Statement": [statement]})


def _silent(rule: str, case: Case) -> None:
    expected = _expected(case)
    assert expected is not None
    for request, result in zip(case.requests, expected, strict=True):
        assert not _fires(rule, case, request, result), (rule, request.action)


def _fires_somewhere(rule: str, case: Case) -> bool:
    expected = _expected(case)
    assert expected is not None
    return any(_fires(rule, case, r, e) for r, e in zip(case.requests, expected, strict=True))


def test_kms_rule_needs_an_identity_allow_that_applies() -> None:
    case = _witness("kms_without_key_policy")
    assert _fires_somewhere("kms_without_key_policy", case)
    other = _policy("id0", {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})
    _silent("kms_without_key_policy", msgspec.structs.replace(case, identity_policies=[other]))
    key_policy = _policy(
        "key", {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}
    )
    _silent("kms_without_key_policy", msgspec.structs.replace(case, resource_policy=key_policy))


def test_assume_role_rule_needs_a_trust_policy_that_names_only_the_account() -> None:
    """moto's literal principal comparison explains a denied AssumeRole only when the trust policy lets the
    caller in through its account alone: not when it names the caller, not for a case without one."""
    rule = "assume_role_trust_naming_the_account"
    case = _witness(rule)
    assert case.resource_policy is not None and _fires_somewhere(rule, case)
    caller = _policy(
        "trust-policy",
        {"Effect": "Allow", "Principal": {"AWS": case.caller}, "Action": "sts:AssumeRole", "Resource": "*"},
    )
    _silent(rule, msgspec.structs.replace(case, resource_policy=caller))
    both = json.loads(case.resource_policy.text())
    both["Statement"][0]["Principal"]["AWS"].append(case.caller)
    _silent(rule, msgspec.structs.replace(case, resource_policy=Policy.of("trust-policy", both)))


def test_kms_entry_refuses_the_other_direction() -> None:
    """A KMS request the reference denies and the target allows is not the key-policy divergence."""
    from conformance.compare import compare
    from conformance.divergences import explain

    case = _witness("kms_without_key_policy")
    request = case.requests[0]
    expected = _expected(case)
    assert expected is not None and expected[0].decision == Decision.ALLOWED
    denied = msgspec.structs.replace(expected[0], decision=Decision.IMPLICIT_DENY)
    allowed = expected[0]
    # Swap the roles: the reference says implicitDeny, the target allowed.
    mismatches = compare(denied, allowed, frozenset(e for e in RULE_ENTRIES["kms_without_key_policy"][0].checks))
    assert explain("iam-simulate", Observation(case, request, denied, allowed), mismatches) is None


def test_session_rule_needs_a_grant_to_the_session_and_no_session_allow() -> None:
    rule = "resource_policy_grants_session_with_session_policy"
    case = _witness(rule)
    assert _fires_somewhere(rule, case)
    assert case.resource_policy is not None and case.session_policy is not None
    other_session = case.resource_policy.text().replace("assumed-role/app/s1", "assumed-role/app/other")
    _silent(rule, msgspec.structs.replace(case, resource_policy=Policy.of("resource_policy", other_session)))
    star_elsewhere = _policy(
        "resource_policy", {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}
    )
    _silent(rule, msgspec.structs.replace(case, resource_policy=star_elsewhere))
    session_allows = _policy("session_policy", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    _silent(rule, msgspec.structs.replace(case, session_policy=session_allows))


def test_rcp_level_rule_needs_a_level_without_allow_for_a_covered_service() -> None:
    rule = "rcp_level_without_allow"
    case = _witness(rule)
    assert _fires_somewhere(rule, case)
    full = _policy("full", {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    _silent(rule, msgspec.structs.replace(case, rcps=[[*level, full] for level in case.rcps]))
    uncovered = [msgspec.structs.replace(r, action="ec2:DescribeInstances", resource="*") for r in case.requests]
    identity = _policy("id0", {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"})
    _silent(rule, msgspec.structs.replace(case, requests=uncovered, identity_policies=[identity]))


def test_rcp_service_rule_needs_an_rcp_that_would_deny() -> None:
    rule = "rcp_on_unsupported_service"
    case = _witness(rule)
    assert _fires_somewhere(rule, case)
    allow_only = [[p for p in level if "Deny" not in p.text()] for level in case.rcps]
    _silent(rule, msgspec.structs.replace(case, rcps=allow_only))


def test_resource_prefix_rule_needs_a_statement_the_lower_case_resource_would_meet() -> None:
    rule = "resource_prefix_not_lower_case"
    case = _witness(rule)
    assert _fires_somewhere(rule, case)
    identity = _policy("policy", {"Effect": "Allow", "Action": "a2c:*", "Resource": "*"})
    _silent(rule, msgspec.structs.replace(case, identity_policies=[identity]))


def test_mid_segment_star_rule_needs_the_star_inside_a_segment_and_a_colon_it_would_cross() -> None:
    rule = "mid_segment_star_crosses_colons"
    case = _witness(rule)
    assert _fires_somewhere(rule, case)
    # The same '*' at the end of its segment (it may cross colons in the reference too): nothing to explain.
    final = _policy(
        "policy", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::edge-bucket/home/*"}
    )
    _silent(rule, msgspec.structs.replace(case, identity_policies=[final]))
    # The star in a statement for another action, or no colon in the key: silent.
    other = _policy(
        "policy", {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::edge-bucket/home/*.txt"}
    )
    _silent(rule, msgspec.structs.replace(case, identity_policies=[other]))
    plain = [msgspec.structs.replace(r, resource=r.resource.replace(":b", "-b")) for r in case.requests]
    _silent(rule, msgspec.structs.replace(case, requests=plain))


@pytest.mark.parametrize("rule", ["scp_statements_left_out", "scp_keys_left_out"])
def test_scp_reporting_rules_need_exactly_the_scp_parts_left_out(rule: str) -> None:
    case = _witness(rule)
    expected = _expected(case)
    assert expected is not None
    result = expected[0]
    left_out = _scp_left_out(case, result)
    assert RULES[rule](Observation(case, case.requests[0], result, left_out))
    # Nothing left out, or everything, is not this divergence.
    assert not RULES[rule](Observation(case, case.requests[0], result, result))
    emptied = msgspec.structs.replace(result, matched_statements=[], missing_context_values=[])
    if rule == "scp_statements_left_out":
        assert any(m.policy_type != "scp" for m in result.matched_statements)
        assert not RULES[rule](Observation(case, case.requests[0], result, emptied))
