"""``iamconf diff --prove`` and ``iamconf check --prove`` (reports.prove): proofs, witnesses, timeouts.

- the anchor's v1 -> v2 and v2 -> v3 diffs say "proved: no other change" in every format;
- changes that hide at a single value (a numeric, date or address range's edge, a wildcard one character
  wider) are found by the proof with the search switched off, and each witness is checked by the reference;
- a proof that would be wrong fails: a broken encoding (the new version's formula replaced by the old's)
  misses the hidden change that the real encoding finds; an encoding whose models the reference rejects is
  reported "not proved", never as changes;
- a timeout, an element outside the encoding, a bad ``--prove-timeout`` are reported as such.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
import z3
from hypothesis import Phase, event, given, note, settings

import reports.prove
from conformance.cli import main
from reference.compiled import PolicyCache
from reference.conditions import read_instant
from reference.evaluator import decide
from reference.model import Case, Decision
from reference.smt.encode import NotEncodable, RequestSpace, allowed, assignment, space_for
from reports.check import load_spec, run_check
from reports.diff import run_diff
from reports.inputs import PolicySet, PolicySource, load_policy_set
from reports.model import Change, DiffReport, Searched
from reports.prove import prove_check, prove_diff
from strategies import cases
from tests.test_smt import _with_variants

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = ROOT / "reference" / "fixtures" / "anchor"
SCHEMAS = ROOT / "reports" / "schema"
SPEC = ROOT / "reports" / "specs" / "anchor.yaml"
UNIVERSE = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "ec2:RunInstances", "iam:PassRole"]


def _schema(name: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))


def _sarif() -> jsonschema.protocols.Validator:
    return jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- the anchor's history


@cache
def _anchor_outputs(old: str, new: str) -> dict[str, str]:
    """Every format of ``iamconf diff`` (proof on by default), made once per pair."""
    out: dict[str, str] = {}
    a, b = str(ANCHOR / f"{old}.json"), str(ANCHOR / f"{new}.json")
    report = prove_diff(run_diff(load_policy_set(a), load_policy_set(b)), load_policy_set(a), load_policy_set(b))
    from reports.render import render_diff

    for fmt in ("text", "md", "html", "json", "sarif"):
        out[fmt] = render_diff(report, fmt)  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize(("old", "new"), [("v1", "v2"), ("v2", "v3")])
def test_anchor_diffs_are_proved_in_every_format(old: str, new: str) -> None:
    out = _anchor_outputs(old, new)
    for fmt in ("text", "md", "html"):
        assert out[fmt].count("proved: no other change") == 2, fmt  # one line per direction
        assert "not proved" not in out[fmt]
    data = json.loads(out["json"])
    _schema("diff.schema.json").validate(data)
    for direction in ("newly_allowed", "newly_denied"):
        assert data["proved"][direction]["status"] == "proved"
    sarif = json.loads(out["sarif"])
    _sarif().validate(sarif)
    proofs = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "IAMCONF-DIFF-PROOF"]
    assert [(r["level"], "proved: no other change" in r["message"]["text"]) for r in proofs] == [("note", True)] * 2


def test_the_cli_proves_by_default_and_no_prove_switches_it_off(tmp_path: Path) -> None:
    a, b = str(ANCHOR / "v2.json"), str(ANCHOR / "v3.json")
    on, off = tmp_path / "on.json", tmp_path / "off.json"
    common = ["--format", "json", "--explore", "0", "--fail-on", "none"]
    assert main(["diff", a, b, *common, "--out", str(on)]) == 0
    assert main(["diff", a, b, *common, "--no-prove", "--out", str(off)]) == 0
    assert json.loads(on.read_text())["proved"]["newly_allowed"]["status"] == "proved"
    assert json.loads(off.read_text())["proved"] is None


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_prove_timeout_exits_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["diff", str(ANCHOR / "v2.json"), str(ANCHOR / "v3.json"), "--prove-timeout", value])
    assert e.value.code == 2
    assert "positive number of seconds" in capsys.readouterr().err


# --------------------------------------------------------------------------- changes hidden at one value


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(resource: str = "*", **condition: dict[str, Any]) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def _proved_diff(
    tmp_path: Path, old: str, new: str, *, search: bool = False, encode: Any = None, timeout: float = 10.0
) -> DiffReport:
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(old, encoding="utf-8")
    b.write_text(new, encoding="utf-8")
    old_set, new_set = load_policy_set(str(a)), load_policy_set(str(b))
    report = run_diff(old_set, new_set, explore=0, search=search)
    return prove_diff(report, old_set, new_set, universe=UNIVERSE, encode=encode, timeout=timeout)


def _only_witness(report: DiffReport, direction: str) -> Change:
    proof = getattr(report.proved, direction)
    assert proof.status == "new_witnesses", proof
    changes = getattr(report, direction)
    assert changes and all(c.found_by == "proof" for c in changes)
    return changes[0]


def _value(change: Change, key: str) -> str:
    (entry,) = [e for e in change.context if e.key == key]
    return entry.values[0]


def _three_tags(values: list[str]) -> bool:
    return "a" in values and any(v.startswith("b") for v in values) and any(v.lower() == "c" for v in values)


HIDDEN: list[tuple[str, str, str, str, Any]] = [
    # (name, old, new, direction, what the witness must hold)
    (
        "numeric edge",
        _policy(_allow(NumericLessThan={"s3:max-keys": "10"})),
        _policy(_allow(NumericLessThanEquals={"s3:max-keys": "10"})),
        "newly_allowed",
        lambda c: float(_value(c, "s3:max-keys")) == 10,
    ),
    (
        "numeric gap between integers",
        _policy(_allow(NumericGreaterThan={"s3:max-keys": "1"})),
        _policy(_allow(NumericGreaterThanEquals={"s3:max-keys": "2"})),
        "newly_denied",
        lambda c: 1 < float(_value(c, "s3:max-keys")) < 2,
    ),
    (
        "date edge",
        _policy(_allow(DateLessThan={"aws:CurrentTime": "2024-01-01T00:00:00Z"})),
        _policy(_allow(DateLessThanEquals={"aws:CurrentTime": "2024-01-01T00:00:00Z"})),
        "newly_allowed",
        lambda c: read_instant(_value(c, "aws:CurrentTime")) == 1704067200 * 10**6,
    ),
    (
        "date edge before 1970",
        _policy(_allow(DateGreaterThan={"aws:EpochTime": "1960-01-01T00:00:00.5Z"})),
        _policy(_allow(DateGreaterThanEquals={"aws:EpochTime": "1960-01-01T00:00:00.5Z"})),
        "newly_allowed",
        lambda c: read_instant(_value(c, "aws:EpochTime")) == read_instant("1960-01-01T00:00:00.5Z"),
    ),
    (
        "one address cut out of a range",
        _policy(_allow(IpAddress={"aws:SourceIp": "10.0.0.0/24"})),
        _policy(
            _allow(IpAddress={"aws:SourceIp": "10.0.0.0/24"}),
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.7"}},
            },
        ),
        "newly_denied",
        lambda c: _value(c, "aws:SourceIp") == "10.0.0.7",
    ),
    (
        "address range one bit wider",
        _policy(_allow(IpAddress={"aws:SourceIp": "192.168.4.0/23"})),
        _policy(_allow(IpAddress={"aws:SourceIp": "192.168.4.0/22"})),
        "newly_allowed",
        lambda c: _value(c, "aws:SourceIp").startswith(("192.168.6.", "192.168.7.")),
    ),
    (
        "a set of three tag keys",
        _policy({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}),
        _policy(
            _allow(
                **{
                    "ForAnyValue:StringEquals": {"aws:TagKeys": "a"},
                    "ForAnyValue:StringLike": {"aws:TagKeys": "b*"},
                    "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": "C"},
                }
            )
        ),
        "newly_allowed",
        lambda c: _three_tags(next(e.values for e in c.context if e.key == "aws:TagKeys")),
    ),
    (
        "resource wildcard one character wider",
        _policy(_allow("arn:aws:s3:::bucket/report-1")),
        _policy(_allow("arn:aws:s3:::bucket/report-?")),
        "newly_allowed",
        lambda c: c.resource.startswith("arn:aws:s3:::bucket/report-") and c.resource != "arn:aws:s3:::bucket/report-1",
    ),
    (
        "condition wildcard one character wider",
        _policy(_allow(StringLike={"s3:prefix": "home/a"})),
        _policy(_allow(StringLike={"s3:prefix": "home/?"})),
        "newly_allowed",
        lambda c: len(_value(c, "s3:prefix")) == 6 and _value(c, "s3:prefix") != "home/a",
    ),
]


def _hidden(name: str) -> tuple[str, str, str, str, Any]:
    return next(h for h in HIDDEN if h[0] == name)


@pytest.mark.parametrize(("name", "old", "new", "direction", "holds"), HIDDEN, ids=[h[0] for h in HIDDEN])
def test_a_change_hidden_at_one_value_is_found_with_the_search_off(
    tmp_path: Path, name: str, old: str, new: str, direction: str, holds: Any
) -> None:
    report = _proved_diff(tmp_path, old, new)
    assert report.searched.requests == 0 and not report.searched.every_action
    witness = _only_witness(report, direction)
    assert holds(witness), witness
    # the reference confirms it, from scratch
    old_set = load_policy_set(str(tmp_path / "old.json"))
    new_set = load_policy_set(str(tmp_path / "new.json"))
    was = decide(old_set.prepared, witness.request()).decision == Decision.ALLOWED
    now = decide(new_set.prepared, witness.request()).decision == Decision.ALLOWED
    assert (now and not was) if direction == "newly_allowed" else (was and not now)
    other = "newly_denied" if direction == "newly_allowed" else "newly_allowed"
    assert getattr(report.proved, other).status == "proved"


def _broken(space: RequestSpace, i: int) -> z3.BoolRef:
    """A wrong encoding: both versions encoded as the old one."""
    return allowed(space, space.prepared[0])


def test_a_wrong_encoding_misses_the_hidden_change_the_real_one_finds(tmp_path: Path) -> None:
    """What the hidden-value tests above rely on: a wrong proof ("proved" while a change exists) shows."""
    _, old, new, _, _ = _hidden("numeric edge")
    wrong = _proved_diff(tmp_path, old, new, encode=_broken)
    assert wrong.proved is not None and wrong.proved.newly_allowed.status == "proved"  # wrongly
    right = _proved_diff(tmp_path, old, new)
    assert right.proved is not None and right.proved.newly_allowed.status == "new_witnesses"


def test_models_the_reference_rejects_are_not_reported_as_changes(tmp_path: Path) -> None:
    """An encoding that says the new version allows everything: its models do not change under the reference,
    so the proof is "not proved" (naming the request), and no change is invented."""
    old = _hidden("numeric edge")[1]

    def everything_new(space: RequestSpace, i: int) -> z3.BoolRef:
        return allowed(space, space.prepared[0]) if i == 0 else z3.BoolVal(True)

    report = _proved_diff(tmp_path, old, old, encode=everything_new)
    assert report.proved is not None
    proof = report.proved.newly_allowed
    assert proof.status == "not_proved"
    assert proof.reason is not None and proof.reason.startswith("the encoding and the reference disagree on {")
    assert report.newly_allowed == []


def test_the_search_and_the_proof_agree_on_what_they_both_see(tmp_path: Path) -> None:
    """With the search on, a change it reports is covered: the proof adds nothing and proves the rest."""
    _, old, new, _, _ = _hidden("resource wildcard one character wider")
    report = _proved_diff(tmp_path, old, new, search=True)
    assert [c.found_by for c in report.newly_allowed] == ["enumeration"]
    assert report.proved is not None and report.proved.newly_allowed.status == "proved"


def test_a_timeout_is_reported_as_not_proved_in_every_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports.prove, "check_sat", lambda solver: (z3.unknown, "timeout"))
    _, old, new, _, _ = _hidden("numeric edge")
    report = _proved_diff(tmp_path, old, new, timeout=0.25)
    assert report.proved is not None
    proof = report.proved.newly_allowed
    assert proof.status == "not_proved" and proof.reason is not None
    assert proof.reason.startswith("timeout after 0.25 s")
    from reports.render import render_diff

    for fmt in ("text", "md", "html"):
        assert "not proved: timeout after 0.25 s" in render_diff(report, fmt), fmt  # type: ignore[arg-type]
    data = json.loads(render_diff(report, "json"))
    _schema("diff.schema.json").validate(data)
    sarif = json.loads(render_diff(report, "sarif"))
    _sarif().validate(sarif)
    levels = {
        r["properties"]["direction"]: r["level"] for r in sarif["runs"][0]["results"] if "direction" in r["properties"]
    }
    assert levels["newly_allowed"] == "warning"


def test_a_real_tiny_timeout_is_not_reported_as_proved(tmp_path: Path) -> None:
    """A query z3 cannot finish in a microsecond-sized limit: whatever it answers, never a false proof."""
    _, old, new, _, _ = _hidden("numeric gap between integers")
    report = _proved_diff(tmp_path, old, new, timeout=1e-6)
    assert report.proved is not None
    proof = report.proved.newly_denied
    assert proof.status in ("not_proved", "new_witnesses")
    if proof.status == "not_proved":
        assert proof.reason is not None and "timeout" in proof.reason


def test_policies_outside_the_encoding_are_not_proved_with_what_they_use(tmp_path: Path) -> None:
    old = _policy(_allow(StringEqualsIgnoreCase={"s3:prefix": "${aws:username}"}))
    new = _policy(_allow())
    report = _proved_diff(tmp_path, old, new, search=True)
    assert report.proved is not None
    for proof in report.proved.directions:
        assert proof.status == "not_proved"
        assert proof.reason == "uses policy variables under StringEqualsIgnoreCase (s3:prefix)"
    from reports.render import render_diff

    assert "not proved: uses policy variables under StringEqualsIgnoreCase" in render_diff(report, "text")


# --------------------------------------------------------------------------- check --prove


@cache
def _anchor_check() -> tuple[Any, Any]:
    from reports.check import load_policies

    policies = load_policies([str(ANCHOR / "v3.json")])
    searched = run_check(policies, load_spec(str(SPEC)))
    return searched, prove_check(searched, policies)


def test_check_proves_every_claim_the_search_let_hold_and_refutes_the_broken_ones() -> None:
    searched, proved = _anchor_check()
    assert proved.proved is not None
    status = {p.claim: p.status for p in proved.proved.claims}
    for r in searched.results:
        assert status[r.claim.id] == ("proved" if r.held else "refuted"), r.claim.id
    assert [r.held for r in proved.results] == [r.held for r in searched.results]
    assert any(r.claim.expect == "deny" for r in searched.results if r.held)


def test_check_proof_in_every_format() -> None:
    from reports.render import render_check

    _, report = _anchor_check()
    data = json.loads(render_check(report, "json"))
    _schema("check.schema.json").validate(data)
    sarif = json.loads(render_check(report, "sarif"))
    _sarif().validate(sarif)
    assert any(r["ruleId"] == "IAMCONF-CHECK-PROOF" and r["level"] == "note" for r in sarif["runs"][0]["results"])
    for fmt in ("text", "md", "html"):
        assert "proved: no request in its scope breaks it" in render_check(report, fmt), fmt  # type: ignore[arg-type]


def _claims_spec(tmp_path: Path, claims: list[dict[str, Any]]) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"title": "t", "claims": claims}), encoding="utf-8")
    return str(path)


def test_check_refutes_a_must_not_allow_claim_the_search_let_hold(tmp_path: Path) -> None:
    """The search's verdict is set aside (as if it had missed the request): the proof finds the one address
    the policy lets through, and the reference confirms it."""
    from reports.check import load_policies

    policy_file = tmp_path / "p.json"
    policy_file.write_text(
        _policy(
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.1.2.3/32"}},
            }
        ),
        encoding="utf-8",
    )
    spec = load_spec(
        _claims_spec(
            tmp_path,
            [
                {"id": "no-delete", "deny": {"actions": ["s3:DeleteObject"], "resources": ["arn:aws:s3:::b/*"]}},
                {"id": "no-iam", "deny": {"actions": ["iam:PassRole"]}},
            ],
        )
    )
    policies = load_policies([str(policy_file)])
    searched = run_check(policies, spec)
    missed = msgspec.structs.replace(
        searched, results=[msgspec.structs.replace(r, held=True, counterexamples=[]) for r in searched.results]
    )
    report = prove_check(missed, policies)
    assert report.proved is not None
    assert [(p.claim, p.status) for p in report.proved.claims] == [("no-delete", "refuted"), ("no-iam", "proved")]
    broken = report.results[0]
    assert not broken.held
    (example,) = broken.counterexamples
    assert example.found_by == "proof" and example.decision == "allowed"
    assert example.request.action == "s3:DeleteObject" and example.request.resource.startswith("arn:aws:s3:::b/")
    assert [(e.key, e.values) for e in example.request.context] == [("aws:SourceIp", ["10.1.2.3"])]
    assert decide(policies.prepared, example.request).decision == Decision.ALLOWED
    assert report.results[1].held


def test_check_timeout_is_not_proved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports.prove, "check_sat", lambda solver: (z3.unknown, "canceled"))
    searched, _ = _anchor_check()
    from reports.check import load_policies

    report = prove_check(searched, load_policies([str(ANCHOR / "v3.json")]), timeout=3)
    assert report.proved is not None
    # a claim whose question simplifies to false needs no query: proved; every query asked timed out
    unproved = [p for p in report.proved.claims if p.status != "proved"]
    assert unproved and {(p.status, p.reason) for p in unproved} == {("not_proved", "timeout after 3 s")}
    assert [r.held for r in report.results] == [r.held for r in searched.results]


def test_search_none_from_the_cli_leaves_the_changes_to_the_proof(tmp_path: Path) -> None:
    _, old, new, _, _ = _hidden("date edge")
    a, b, out = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "report.json"
    a.write_text(old, encoding="utf-8")
    b.write_text(new, encoding="utf-8")
    assert main(["diff", str(a), str(b), "--search", "none", "--format", "json", "--out", str(out)]) == 1
    data = json.loads(out.read_text(encoding="utf-8"))
    _schema("diff.schema.json").validate(data)
    assert data["searched"]["requests"] == 0
    assert [(c["action"], c["found_by"]) for c in data["newly_allowed"]] == [("s3:GetObject", "proof")]
    assert data["newly_allowed"][0]["context"] == [
        {"key": "aws:CurrentTime", "type": "date", "values": ["2024-01-01T00:00:00.000000+00:00"]}
    ]
    assert data["proved"]["newly_allowed"]["status"] == "new_witnesses"
    assert data["proved"]["newly_denied"]["status"] == "proved"
    sarif = tmp_path / "report.sarif"
    main(["diff", str(a), str(b), "--search", "none", "--format", "sarif", "--out", str(sarif)])
    results = json.loads(sarif.read_text(encoding="utf-8"))["runs"][0]["results"]
    (change,) = [r for r in results if r["ruleId"] == "IAMCONF-DIFF-NEWLY-ALLOWED"]
    assert "found by the SMT proof" in change["message"]["text"] and change["properties"]["found_by"] == "proof"


def test_an_action_the_catalog_does_not_know_is_proved_over_too(tmp_path: Path) -> None:
    """A misspelt action is still a name the reference matches: the proof covers the actions the policies name."""
    old = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    new = _policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjekt"], "Resource": "*"})
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(old, encoding="utf-8")
    b.write_text(new, encoding="utf-8")
    old_set, new_set = load_policy_set(str(a)), load_policy_set(str(b))
    report = prove_diff(run_diff(old_set, new_set, explore=0, search=False), old_set, new_set)
    assert report.proved is not None and report.proved.newly_allowed.new_actions == ["s3:GetObjekt"]
    searched = run_diff(old_set, new_set, explore=0)
    assert [c.action for c in searched.newly_allowed] == ["s3:GetObjekt"]
    proved = prove_diff(searched, old_set, new_set)
    assert proved.proved is not None and proved.proved.newly_allowed.status == "proved"


def test_check_never_refutes_with_a_request_the_reference_rejects() -> None:
    """An encoding that says the policy allows everything: its models for must-not-allow claims are denied by
    the reference, so those claims are "not proved" (naming the request), never refuted or broken."""
    from reports.check import load_policies

    searched, _ = _anchor_check()
    policies = load_policies([str(ANCHOR / "v3.json")])
    report = prove_check(searched, policies, encode=lambda space, i: z3.BoolVal(True))
    assert report.proved is not None
    status = {p.claim: p for p in report.proved.claims}
    held_denies = [r.claim.id for r in searched.results if r.held and r.claim.expect == "deny"]
    assert held_denies
    for claim in held_denies:
        assert status[claim].status == "not_proved", claim
        reason = status[claim].reason
        assert reason is not None and reason.startswith("the encoding and the reference disagree on {")
    assert [r.held for r in report.results] == [r.held for r in searched.results]


def test_check_cli_proves_by_default_and_no_prove_switches_it_off(tmp_path: Path) -> None:
    on, off = tmp_path / "on.json", tmp_path / "off.json"
    v3 = str(ANCHOR / "v3.json")
    assert main(["check", v3, "--spec", str(SPEC), "--format", "json", "--out", str(on)]) == 1
    assert main(["check", v3, "--spec", str(SPEC), "--format", "json", "--no-prove", "--out", str(off)]) == 1
    proved = json.loads(on.read_text(encoding="utf-8"))["proved"]
    assert len(proved["claims"]) == 27 and {c["status"] for c in proved["claims"]} == {"proved", "refuted"}
    assert json.loads(off.read_text(encoding="utf-8"))["proved"] is None


# --------------------------------------------------------------------------- a proof never contradicts the reference


def _policy_set(label: str, case: Case) -> PolicySet:
    from reference.evaluator import case_policies, prepare

    placed = list(case_policies(case))
    return PolicySet(
        label=label,
        case=case,
        sources={p.policy.id: PolicySource(label) for p in placed},
        prepared=prepare(case, PolicyCache()),
        texts={p.policy.id: p.policy.text() for p in placed},
    )


_NOTHING_SEARCHED = Searched(
    actions=0,
    services=[],
    resource_types=0,
    resources=0,
    contexts=0,
    requests=0,
    hypothesis_examples=0,
    seed=0,
    every_action=False,
    every_resource_pattern=False,
    actions_sampled=[],
    contexts_cut=[],
    patterns_not_matched=[],
    condition_keys=[],
    keys_partly_searched=[],
)


_CHANGED_CHECKED = [0]


def _proof_agrees_with_the_reference(first: Case, second: Case, encode: Any = None) -> None:
    """Old: a generated case's policy set; new: the same with another case's identity policies.  With nothing
    reported, every generated request (and its key-absent variants) inside the encoding's domain whose
    decision the reference changes must have its action among the proof's new actions, whenever the proof
    says proved or new_witnesses."""
    new_case = msgspec.structs.replace(first, identity_policies=second.identity_policies)
    requests = _with_variants([*first.requests, *second.requests])
    universe = sorted({r.action for r in requests})
    old, new = _policy_set("old", first), _policy_set("new", new_case)
    empty = DiffReport(newly_allowed=[], newly_denied=[], searched=_NOTHING_SEARCHED, versions={}, warnings=[])
    report = prove_diff(empty, old, new, universe=universe, timeout=5, encode=encode)
    assert report.proved is not None
    try:
        space = space_for([first, new_case], universe=universe)
    except NotEncodable:
        event("not encodable")
        return
    for proof in report.proved.directions:
        event(f"{proof.direction}: {proof.status}")
        if proof.status == "not_proved":
            continue
        for request in requests:
            if assignment(space, request) is None:
                continue
            a = decide(old.prepared, request).decision == Decision.ALLOWED
            b = decide(new.prepared, request).decision == Decision.ALLOWED
            changed = (b and not a) if proof.direction == "newly_allowed" else (a and not b)
            if changed:
                _CHANGED_CHECKED[0] += 1
                note(f"request: {request}")
                assert request.action in proof.new_actions, proof


def test_a_proof_never_contradicts_the_reference_on_generated_requests() -> None:
    _CHANGED_CHECKED[0] = 0

    def right(first: Case, second: Case) -> None:
        _proof_agrees_with_the_reference(first, second)

    settings(max_examples=25, deadline=None)(given(cases(), cases())(right))()
    assert _CHANGED_CHECKED[0] >= 5, "too few generated requests changed their decision to test the proofs"


def test_the_proof_property_fails_on_a_wrong_encoding() -> None:
    """The same property with both versions encoded as the old one: it proves "no change" where the reference
    sees one, and the property fails."""

    def wrong(first: Case, second: Case) -> None:
        _proof_agrees_with_the_reference(first, second, encode=_broken)

    run = settings(max_examples=50, deadline=None, phases=[Phase.generate], database=None)(
        given(cases(), cases())(wrong)
    )
    with pytest.raises(AssertionError):
        run()
