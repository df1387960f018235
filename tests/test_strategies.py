"""The building-block strategies: actions, ARNs and names, tags, context, conditions, matchers."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import strategies as S
from reference.catalog import ConditionKey, get_catalog
from reference.compiled import ActionMatcher, compile_text
from reference.conditions import parse_operator
from reference.context import RequestContext
from reference.model import ContextEntry
from reference.patterns import glob, resource
from strategies._catalog import service_resource_types, services, services_with_resource_types
from strategies._choice import RandomChooser
from strategies._match import arn_match, glob_match, resource_match
from strategies.actions import matches_action
from strategies.arns import gen_near_miss, gen_resource_arn
from strategies.conditions import FAMILY_OF
from strategies.naming import gen_name, rule
from strategies.tags import MAX_KEY, MAX_VALUE

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
TAG_CHARS = re.compile(r"[\w\s_.:/=+\-@]*")


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    "make",
    [
        lambda: S.actions(services=["no-such-service"]),
        lambda: S.actions(services="s3 iam"),
        lambda: S.action_variants(action="s3:Get*"),
        lambda: S.action_patterns(action="s3:GetObject", matching="yes"),  # type: ignore[arg-type]
        lambda: S.resource_arns(resource_type=("s3", "no-such-type")),
        lambda: S.resource_arns(partition="aws-iso"),
        lambda: S.resource_arns(services="s3", resource_type=("s3", "bucket")),
        lambda: S.arn_near_misses(arn="arn:aws:s3:::b", kinds=["sideways"]),
        lambda: S.tag_sets(min_size=3, max_size=2),
        lambda: S.context_entries(key="nosuch:Key"),
        lambda: S.context_entries(presence=["maybe"]),
        lambda: S.boundary_values(operator="NumericLessThan", value="ten"),
        lambda: S.boundary_values(operator="StringEqualz", value="x"),
        lambda: S.boundary_values(operator="IpAddress", value="10.0.0.0/33"),
        lambda: S.condition_operators(families=["Null"], if_exists=True),
        lambda: S.condition_blocks(max_operators=0),
        lambda: S.names(service="s3", placeholder="NoSuchPlaceholder"),
    ],
)
def test_bad_arguments_fail_at_call_time(make: object) -> None:
    with pytest.raises(InvalidArgument):
        make()  # type: ignore[operator]


# --------------------------------------------------------------------------- actions


@given(S.actions())
def test_actions_are_catalog_actions(action: str) -> None:
    assert get_catalog().action(action) is not None


@given(S.actions(services=["s3", "iam"]))
def test_actions_of_given_services(action: str) -> None:
    assert action.split(":")[0] in ("s3", "iam")


@given(S.action_variants(action="sagemaker:CreateEndpointConfig"))
def test_action_variants_equal_ignoring_case(variant: str) -> None:
    assert variant.lower() == "sagemaker:createendpointconfig"
    assert ActionMatcher.of(("sagemaker:CreateEndpointConfig",), False).matches(variant.lower())


ACTIONS = (
    "s3:GetObject",
    "glue:CreateDatabase",
    "apigateway:GET",
    "sagemaker:CreateEndpointConfig",
    "ec2:RunInstances",
    "x:A",
)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("matching", [True, False])
def test_action_patterns_match_or_just_miss(action: str, matching: bool) -> None:
    @given(S.action_patterns(action=action, matching=matching))
    def check(pattern: str) -> None:
        assert "*" in pattern or "?" in pattern
        assert ActionMatcher.of((pattern,), False).matches(action.lower()) == matching
        # and it is a valid Action value
        compile_text(f'{{"Statement": {{"Effect": "Allow", "Action": "{pattern}", "Resource": "*"}}}}', "identity")

    check()


@given(S.unknown_actions(services=["s3", "lambda"]))
def test_unknown_actions_are_not_in_the_catalog(action: str) -> None:
    assert get_catalog().action(action) is None
    assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9_.-]+", action)


# --------------------------------------------------------------------------- ARNs


def test_every_resource_type_of_every_service_gives_matching_arns() -> None:
    c = RandomChooser(random.Random(3))
    checked = 0
    for service in services_with_resource_types():
        for rt in service_resource_types(service):
            for _ in range(4):
                made = gen_resource_arn(c, rt)
                assert made.template in rt.arn_templates
                assert made.template.match(made.arn) is not None, (rt, made.arn)
                checked += 1
    assert checked > 8000


@given(S.resource_arns())
def test_resource_arns_match_their_template(made: S.ResourceArn) -> None:
    values = made.template.match(made.arn)
    assert values is not None
    assert values.get("Partition", "aws") in S.PARTITIONS
    for name in ("Region", "Account"):
        assert ":" not in values.get(name, "")


@given(S.resource_arns(resource_type=("s3", "bucket")))
def test_s3_buckets_keep_empty_region_and_account(made: S.ResourceArn) -> None:
    parts = made.arn.split(":")
    assert parts[3] == "" and parts[4] == ""
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts[5])


@given(S.resource_arns(services=["lambda"], partition="aws-cn"))
def test_partition_and_region_agree(made: S.ResourceArn) -> None:
    parts = made.arn.split(":")
    assert parts[1] == "aws-cn"
    assert parts[3] in ("", "cn-north-1", "cn-northwest-1")


def test_names_follow_the_botocore_rules() -> None:
    c = RandomChooser(random.Random(5))
    checked = 0
    for service in services_with_resource_types():
        for rt in service_resource_types(service):
            for tpl in rt.arn_templates:
                for name in tpl.placeholders():
                    r = rule(service, name)
                    if r is None or not r[2] or not r[4]:
                        continue
                    lo, hi, pattern, _, samples = r
                    regex = re.compile(pattern)
                    for sample in samples:
                        assert regex.fullmatch(sample) and lo <= len(sample) <= hi, (service, name, sample)
                    head = tpl.template.count(":", 0, tpl.template.index("${" + name + "}")) < 5
                    for _ in range(5):
                        made = gen_name(c, service, name, head=head)
                        assert regex.fullmatch(made), (service, name, made)
                    checked += 1
    assert checked > 500


@given(S.names(service="iam", placeholder="RoleNameWithPath"))
def test_role_names_with_paths(name: str) -> None:
    assert name and not name.startswith("/")
    assert re.fullmatch(r"[\w+=,.@/-]+", name)


@given(S.arns(services=["s3", "logs", "apigateway", "iam", "states"]), st.sampled_from(S.NEAR_MISS_KINDS))
def test_near_misses_differ(arn: str, kind: str) -> None:
    c = RandomChooser(random.Random(len(arn)))
    assert gen_near_miss(c, arn, (kind,)) != arn


@given(S.arn_near_misses(arn="arn:aws:cloudformation:us-east-1:111122223333:stack/SC-abc/x"))
def test_near_misses_miss_the_exact_pattern(near: str) -> None:
    assert resource("arn:aws:cloudformation:us-east-1:111122223333:stack/SC-abc/x").fullmatch(near) is None


# --------------------------------------------------------------------------- tags


@given(S.tag_keys())
def test_tag_keys_follow_the_rules(key: str) -> None:
    assert 1 <= len(key) <= MAX_KEY
    assert not key.lower().startswith("aws:")
    assert TAG_CHARS.fullmatch(key)


@given(S.tag_keys(simulator_safe=True), S.tag_values(simulator_safe=True))
def test_simulator_safe_tags_stay_in_latin1(key: str, value: str) -> None:
    assert max(key) <= "\u00ff"
    assert value == "" or max(value) <= "\u00ff"


@given(S.tag_values())
def test_tag_values_follow_the_rules(value: str) -> None:
    assert 0 <= len(value) <= MAX_VALUE
    assert TAG_CHARS.fullmatch(value)


@given(S.tag_sets(min_size=1, max_size=8))
def test_tag_sets_have_case_insensitively_distinct_keys(tags: dict[str, str]) -> None:
    assert 1 <= len(tags) <= 8
    assert len({k.lower() for k in tags}) == len(tags)


@given(S.tag_key_variants(key="CostCenter"))
def test_tag_key_variants(key: str) -> None:
    assert key.lower() == "costcenter"


# --------------------------------------------------------------------------- context


@given(S.context_entries())
@SLOW
def test_context_entries_are_typed_by_their_key(entry: ContextEntry) -> None:
    key = get_catalog().condition_key(entry.key)
    assert key is not None, entry.key
    assert entry.type == key.context_type
    if not entry.type.endswith("List"):
        assert len(entry.values) == 1


@given(S.context_entries(key="aws:SourceIp", presence=["present"]))
def test_ip_entries(entry: ContextEntry) -> None:
    assert entry.type == "ip"
    assert re.fullmatch(r"[0-9a-f.:]+", entry.values[0])


@given(S.context_entries(key="aws:TagKeys", presence=["empty"]))
def test_empty_entries(entry: ContextEntry) -> None:
    assert entry.type == "stringList"
    assert all(v == "" for v in entry.values)


@given(S.contexts(max_size=6))
@SLOW
def test_contexts_have_distinct_keys(entries: list[ContextEntry]) -> None:
    assert len({e.key.lower() for e in entries}) == len(entries)


def _holds(operator: str, policy_value: str, request_value: str, ctype: str) -> bool:
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", '
        f'"Condition": {{"{operator}": {{"k:k": "{policy_value}"}}}}}}}}'
    )
    block = compile_text(text, "identity").statements[0].condition
    assert block is not None
    return block.matches(RequestContext.of([ContextEntry(key="k:k", type=ctype, values=[request_value])]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("operator", "value", "ctype"),
    [
        ("NumericLessThan", "10", "numeric"),
        ("NumericEquals", "2.5", "numeric"),
        ("DateGreaterThan", "2024-01-01T00:00:00Z", "date"),
        ("IpAddress", "203.0.113.0/24", "ip"),
        ("StringEquals", "Engineering", "string"),
        ("StringLike", "sagemaker-*", "string"),
        ("ArnLike", "arn:aws:iam::*:role/app-*", "string"),
        ("Bool", "true", "boolean"),
        ("BinaryEquals", "aGVsbG8=", "binary"),
    ],
)
def test_boundary_values_fall_on_both_sides(operator: str, value: str, ctype: str) -> None:
    strategy = S.boundary_values(operator=operator, value=value)
    outcomes: set[bool] = set()

    @given(strategy)
    @settings(max_examples=60, database=None)
    def collect(v: str) -> None:
        outcomes.add(_holds(operator, value, v, ctype))

    collect()
    assert outcomes == {True, False}


@given(S.condition_keys(services=["s3"], include_global=False))
def test_condition_keys_of_a_service(key: ConditionKey) -> None:
    assert key.service == "s3" and not key.is_global


# --------------------------------------------------------------------------- conditions


def test_operator_tables_match_the_reference() -> None:
    assert len(S.BASE_OPERATORS) == 27
    for base in S.BASE_OPERATORS:
        op = parse_operator(base)
        assert not isinstance(op, tuple), base
        assert FAMILY_OF[base] == op.spec.family
    for written in S.IF_EXISTS_OPERATORS:
        op = parse_operator(written)
        assert not isinstance(op, tuple) and op.if_exists
    for q in S.SET_OPERATORS:
        op = parse_operator(q + ":StringLike")
        assert not isinstance(op, tuple) and op.qualifier == q


@given(S.condition_operators())
def test_condition_operators_parse(written: str) -> None:
    assert not isinstance(parse_operator(written), tuple)


@given(S.condition_operators(if_exists=True, set_operators=True))
def test_forced_forms(written: str) -> None:
    op = parse_operator(written)
    assert not isinstance(op, tuple) and op.if_exists and op.qualifier is not None


@given(S.condition_blocks(services=["s3", "iam", "lambda"]))
@SLOW
def test_condition_blocks_compile(block: dict[str, object]) -> None:
    import json

    doc = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": block},
    }
    compiled = compile_text(json.dumps(doc, indent=2), "identity")
    assert compiled.statements[0].condition is not None


# --------------------------------------------------------------------------- fast matchers agree with the reference

_PIECE = st.text(alphabet="ab*?:/", max_size=9)


@given(_PIECE, st.text(alphabet="ab*:/", max_size=10))
def test_glob_match_agrees_with_reference(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == bool(glob(pattern).fullmatch(text))
    assert matches_action("s:" + pattern, "S:" + text) == bool(
        glob("s:" + pattern, ignore_case=True).fullmatch("s:" + text)
    )


@given(_PIECE, st.text(alphabet="ab*:/", max_size=10))
def test_resource_match_agrees_with_reference(pattern: str, text: str) -> None:
    assert resource_match(pattern, text) == bool(resource(pattern).fullmatch(text))


@given(st.text(alphabet="ab*?:", max_size=14), st.text(alphabet="ab:", max_size=14))
def test_arn_match_agrees_with_reference(pattern: str, value: str) -> None:
    text = (
        '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", '
        f'"Condition": {{"ArnLike": {{"k:k": "{pattern or "x"}"}}}}}}}}'
    )
    block = compile_text(text, "identity").statements[0].condition
    assert block is not None
    expected = block.matches(RequestContext.of([ContextEntry(key="k:k", type="string", values=[value])]))
    assert arn_match(pattern or "x", value) == expected


def test_catalog_action_names_fit_the_policy_grammar() -> None:
    pattern = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9_.-]+")
    for service in services()[:60]:
        for action in get_catalog().actions(service):
            assert pattern.fullmatch(action.full_name)
