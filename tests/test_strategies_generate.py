"""Bulk generation (``strategies.generate``): schema validity, reproducibility, coverage, decisions."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator

import jsonschema
import msgspec
import pytest
from hypothesis import settings
from hypothesis.errors import InvalidArgument

import strategies as S
from reference.caseio import case_schema, decode_case
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.fixtures import anchor_policy
from reference.model import Case
from strategies.bench import measure
from strategies.profiles import PROFILES, load_profile, register_profiles
from strategies.stats import anchor_resource_types, case_features

SEED = 20261127
V3 = anchor_policy("v3")


def _content(case: Case) -> bytes:
    return msgspec.json.encode(msgspec.structs.replace(case, id=msgspec.UNSET))


@pytest.fixture(scope="module")
def ten_thousand() -> list[Case]:
    return list(S.generate_cases(count=10_000, seed=SEED))


def test_ten_thousand_cases_validate_against_the_case_schema(ten_thousand: list[Case]) -> None:
    schema = case_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert len(ten_thousand) == 10_000
    for case in ten_thousand:
        line = S.encode_case(case)  # msgspec.json.encode; the round trip through JSON gives plain values
        value = json.loads(line)
        errors = list(validator.iter_errors(value))
        assert not errors, (case.id, errors[0].message)
        assert decode_case(line) == case


def test_generated_cases_are_distinct_with_stable_ids(ten_thousand: list[Case]) -> None:
    assert len({_content(c) for c in ten_thousand}) == len(ten_thousand)
    assert [c.id for c in ten_thousand[:3]] == [f"gen-{SEED}-000000", f"gen-{SEED}-000001", f"gen-{SEED}-000002"]


def test_every_generated_policy_compiles(ten_thousand: list[Case]) -> None:
    cache = PolicyCache()
    for case in ten_thousand[:2500]:
        result = evaluate_case(case, cache)  # raises CaseInputError for a policy that does not compile
        assert len(result.results) == len(case.requests)


def test_every_operator_family_if_exists_form_and_set_operator_appears_in_2000_cases(
    ten_thousand: list[Case],
) -> None:
    seen: Counter[str] = Counter()
    for case in ten_thousand[:2000]:
        seen.update(case_features(case))
    for family in S.FAMILIES:
        assert seen[f"family:{family}"] > 0, family
    for base in S.BASE_OPERATORS:
        assert seen[f"operator:{base}"] > 0, base
    for written in S.IF_EXISTS_OPERATORS:
        assert seen[f"if-exists:{written}"] > 0, written
    for q in S.SET_OPERATORS:
        assert seen[f"set-operator:{q}"] > 0, q
    for element in ("NotAction", "NotResource", "Principal", "NotPrincipal", "Sid", "variables", "variable-default"):
        assert seen[f"element:{element}"] > 0, element
    for slot in ("identity", "boundary", "session", "resource", "scp", "rcp"):
        assert seen[f"slot:{slot}"] > 0, slot


def test_cases_aimed_at_the_anchor_policy_are_both_allowed_and_denied() -> None:
    cases = list(S.generate_cases(count=1000, seed=SEED, policies=[V3]))
    shares = S.generate_stats(cases, [V3]).to_dict()["aimed_decision_shares"]
    assert shares["allowed"] >= 0.2, shares
    assert shares["explicitDeny"] + shares["implicitDeny"] >= 0.2, shares


def test_same_seed_same_output() -> None:
    def lines(seed: int, **kw: object) -> list[bytes]:
        return [S.encode_case(c) for c in S.generate_cases(count=300, seed=seed, **kw)]  # type: ignore[arg-type]

    assert lines(7) == lines(7)
    assert lines(7) != lines(8)
    assert lines(7, policies=[V3]) == lines(7, policies=[V3])
    assert lines(7, simulator_safe=True) == lines(7, simulator_safe=True)


def test_simulator_safe_generation() -> None:
    def ok(text: str) -> bool:
        return all(ch in "\t\n\r" or "\u0020" <= ch <= "\u00ff" for ch in text)

    for case in S.generate_cases(count=500, seed=SEED, simulator_safe=True):
        assert case.session_policy is None and not case.rcps
        for level in case.scps:
            assert all(ok(p.text()) for p in level)
        for p in case.identity_policies:
            assert ok(p.text())
            assert ok(json.dumps(json.loads(p.text()), ensure_ascii=False))


def test_generate_checks_arguments_when_called() -> None:
    with pytest.raises(InvalidArgument):
        S.generate_cases(count=-1, seed=0)
    with pytest.raises(InvalidArgument):
        S.generate_cases(count=1, seed=0, policies=["{not json"])
    with pytest.raises(TypeError):
        S.generate_cases(count=1, seed="0")  # type: ignore[arg-type]
    assert list(S.generate_cases(count=0, seed=0)) == []


def test_aimed_generation_takes_every_policy_in_turn() -> None:
    other = json.dumps({"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}})
    cases = list(S.generate_cases(count=10, seed=1, policies=[V3, other]))
    assert [c.identity_policies[0].text() for c in cases[:2]] == [V3, other]


def test_stats_report(ten_thousand: list[Case]) -> None:
    report = S.generate_stats(ten_thousand[:600]).to_dict()
    json.dumps(report)
    assert report["cases"] == 600
    assert set(anchor_resource_types()) == set(report["resource_types"])
    assert sum(report["resource_types"].values()) > 0
    shares = report["decision_shares"]
    assert abs(sum(shares.values()) - 1.0) < 1e-9
    assert all(v > 0 for v in shares.values())
    assert set(report["operator_families"]) == set(S.FAMILIES)


def test_write_cases_writes_json_lines(ten_thousand: list[Case]) -> None:
    out = io.BytesIO()
    assert S.write_cases(ten_thousand[:50], out) == 50
    lines = out.getvalue().splitlines()
    assert [decode_case(line) for line in lines] == ten_thousand[:50]


def test_bench_runs() -> None:
    figures = measure(count=100, repeat=1)
    assert figures["cases"]["best"] > 0 and figures["aimed_anchor_v3"]["best"] > 0


# --------------------------------------------------------------------------- profiles


@pytest.fixture
def restore_profile() -> Iterator[None]:
    saved = settings.default
    yield
    settings.register_profile("_restore", saved)
    settings.load_profile("_restore")


def test_profiles_are_registered() -> None:
    register_profiles()
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None
    assert settings.get_profile("nightly").max_examples > settings.get_profile("dev").max_examples
    assert settings.get_profile("nightly").database is not None


def test_load_profile_reads_the_environment(monkeypatch: pytest.MonkeyPatch, restore_profile: None) -> None:
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    assert load_profile() == "ci"
    assert settings.default.derandomize
    monkeypatch.delenv("HYPOTHESIS_PROFILE")
    assert load_profile() == "dev"
    with pytest.raises(ValueError, match="known"):
        load_profile("weekly")
    assert set(PROFILES) == {"dev", "ci", "nightly"}
